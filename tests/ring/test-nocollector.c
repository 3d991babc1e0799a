/*
 * test-nocollector.c: with TASKSCOPE_SOCKET unset and nothing attached,
 * every call is a no-op: recording is off, the out-of-line functions do
 * nothing even when called directly, sites stay uninterned, nothing is
 * counted as dropped, and threads come and go without trouble.
 */
#include "agent/shim_internal.h"
#include "ring-reader.h"

#include <pthread.h>

static struct taskscope_site site = { "idle", __FILE__, __LINE__, 0, 0 };

static void everything(void)
{
	taskscope_thread_name("quiet", TASKSCOPE_ROLE_WORKER);
	taskscope_thread_name(NULL, 99);
	taskscope_task_spawn(1, 0, TASKSCOPE_KIND_TASK, &site);
	taskscope_task_spawn_ids(2, 1, TASKSCOPE_KIND_BLOCKING, 5, 6);
	taskscope_poll_begin(1);
	taskscope_poll_end(1, 1);
	taskscope_wake(1);
	taskscope_wake_by_ref(1);
	taskscope_waker_clone(1);
	taskscope_waker_drop(1);
	taskscope_task_drop(1, TASKSCOPE_OUTCOME_PANICKED);
	taskscope_resource_new(9, TASKSCOPE_RES_MUTEX, &site);
	taskscope_lock_wait(9);
	taskscope_lock_acquired(9, 0);
	taskscope_lock_release(9);
	taskscope_resource_drop(9);
	/* The out-of-line functions, bypassing the enabled check. */
	taskscope_task_spawn_(3, 0, 0, &site);
	taskscope_task_spawn_(4, 0, 0, NULL);
	taskscope_task_spawn_ids_(5, 0, 0, 1, 2);
	taskscope_poll_begin_(3);
	taskscope_poll_end_(3, 0);
	taskscope_wake_(3, 0);
	taskscope_waker_clone_(3);
	taskscope_waker_drop_(3);
	taskscope_task_drop_(3, 0);
	taskscope_resource_new_(10, 0, &site);
	taskscope_resource_drop_(10);
	taskscope_lock_wait_(10);
	taskscope_lock_acquired_(10, 1);
	taskscope_lock_release_(10);
	CHECK_EQ(taskscope_intern("nobody listens"), 0);
	CHECK_EQ(taskscope_dropped_events(), 0);
}

static void *thread_main(void *arg)
{
	(void)arg;
	everything();
	return NULL;
}

int main(void)
{
	pthread_t t[3];

	if (getenv("TASKSCOPE_SOCKET")) {
		printf("SKIP: TASKSCOPE_SOCKET is set in the test environment\n");
		return 77;
	}
	CHECK(!taskscope_enabled());
	everything();
	for (int i = 0; i < 3; i++)
		CHECK(pthread_create(&t[i], NULL, thread_main, NULL) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	CHECK(!taskscope_enabled());
	CHECK_EQ(site.name_id, 0);
	CHECK_EQ(site.loc_id, 0);
	CHECK_EQ(taskscope_dropped_events(), 0);
	printf("ok: no collector, no effect\n");
	return 0;
}
