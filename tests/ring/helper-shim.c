/*
 * helper-shim.c: a tiny target for test-handshake. Linked with the shared
 * libtaskscope, so it also proves the public API is exported. The shim's
 * constructor registers with the collector named by TASKSCOPE_SOCKET
 * before main runs; main then emits a fixed sequence of events and
 * reports through its exit status whether recording was on (10) or off
 * (20).
 */
#include "taskscope.h"

int main(void)
{
	TASKSCOPE_SITE(site, "helper-task");
	int on = taskscope_enabled();

	taskscope_thread_name("helper", TASKSCOPE_ROLE_WORKER);
	taskscope_task_spawn(7, 0, TASKSCOPE_KIND_TASK, &site);
	taskscope_poll_begin(7);
	taskscope_poll_end(7, 1);
	taskscope_task_drop(7, TASKSCOPE_OUTCOME_OK);
	return on ? 10 : 20;
}
