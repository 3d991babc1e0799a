/*
 * snapshot.c: the task enumerators a runtime registers, so that a
 * collector attaching to a program that is already running learns the
 * tasks spawned before it came (taskscope_task_snapshot in ring.c writes
 * the records).
 *
 * A small fixed table under one mutex. The control thread holds the
 * mutex while it runs the enumerators, which is what lets
 * taskscope_task_enumerator_remove() promise that no call is running when
 * it returns. None of this is on the hot path.
 */
#include "agent/shim_internal.h"

#include <errno.h>
#include <pthread.h>

#define ENUMERATORS_MAX 8

struct enumerator {
	taskscope_enumerate_fn fn;
	void *ctx;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct enumerator table[ENUMERATORS_MAX];

int taskscope_task_enumerator_add(taskscope_enumerate_fn fn, void *ctx)
{
	int r = -ENOSPC;

	if (!fn)
		return -EINVAL;
	ts_shim_control_after_fork();
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < ENUMERATORS_MAX; i++) {
		if (!table[i].fn) {
			table[i].fn = fn;
			table[i].ctx = ctx;
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	return r;
}

void taskscope_task_enumerator_remove(taskscope_enumerate_fn fn, void *ctx)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < ENUMERATORS_MAX; i++) {
		if (table[i].fn == fn && table[i].ctx == ctx) {
			table[i].fn = NULL;
			table[i].ctx = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

void ts_shim_snapshot_run(void)
{
	ts_shim_tls.snap_wait_ms = TS_SNAPSHOT_WAIT_MS;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < ENUMERATORS_MAX && taskscope_enabled(); i++) {
		if (table[i].fn)
			table[i].fn(table[i].ctx);
	}
	pthread_mutex_unlock(&lock);
	ts_shim_tls.snap_wait_ms = 0;
}

/* The fork child has one thread; the control thread that may have held
 * the lock at fork() does not exist there, so the lock starts afresh.
 * The table itself stays: the runtime's enumerators are the child's too
 * (it inherited the runtime's memory). */
void ts_shim_snapshot_forked(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

	lock = fresh;
}
