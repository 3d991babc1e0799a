/*
 * helper-many.c: a shim-linked program with more live tasks than one ring
 * holds (HELPER_TASKS, default 20000), known to taskscope only through its
 * task enumerator, for the big-snapshot case of test-shim-peers. It
 * spawns nothing and polls nothing: it waits for SIGTERM and exits 0.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

#include "taskscope.h"

#define HELPER_TASKS 20000u

static void enumerate(void *ctx)
{
	TASKSCOPE_SITE(site, "many");
	uint32_t n = *(uint32_t *)ctx;

	for (uint32_t i = 1; i <= n; i++)
		taskscope_task_snapshot(i, TASKSCOPE_KIND_TASK, TASKSCOPE_STATE_IDLE, 1, &site);
}

int main(void)
{
	static uint32_t n = HELPER_TASKS;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (taskscope_task_enumerator_add(enumerate, &n) < 0)
		return 1;
	sigwait(&set, &sig);
	taskscope_task_enumerator_remove(enumerate, &n);
	return 0;
}
