// test-cxx.cc: taskscope.h compiles as C++ and its inline wrappers link
// against the C library. Nothing is attached, so every call is a no-op.
#include "taskscope.h"

#include <cstdio>

int main()
{
	TASKSCOPE_SITE(site, "cxx-task");
	taskscope_thread_name("cxx", TASKSCOPE_ROLE_WORKER);
	taskscope_task_spawn(1, 0, TASKSCOPE_KIND_TASK, &site);
	taskscope_poll_begin(1);
	taskscope_poll_end(1, 1);
	taskscope_wake(1);
	taskscope_wake_by_ref(1);
	taskscope_waker_clone(1);
	taskscope_waker_drop(1);
	taskscope_task_drop(1, TASKSCOPE_OUTCOME_OK);
	taskscope_resource_new(2, TASKSCOPE_RES_RWLOCK, &site);
	taskscope_lock_wait(2);
	taskscope_lock_acquired(2, 1);
	taskscope_lock_release(2);
	taskscope_resource_drop(2);
	if (taskscope_enabled() || taskscope_intern("x") != 0 || taskscope_dropped_events() != 0) {
		std::fprintf(stderr, "unexpected state without a collector\n");
		return 1;
	}
	std::printf("ok: C++ compiles and links\n");
	return 0;
}
