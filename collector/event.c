/*
 * event.c: the names of the event vocabulary's enums, as they appear in
 * SQL, the console and protobuf messages.
 */
#include "collector/event.h"

#include <stddef.h>

#define NAME_OF(table, i) ((i) < sizeof(table) / sizeof((table)[0]) && (table)[i] ? (table)[i] : "unknown")

const char *ts_task_kind_name(uint32_t kind)
{
	static const char *const names[] = { "task", "blocking", "local" };

	return NAME_OF(names, kind);
}

const char *ts_outcome_name(uint32_t outcome)
{
	static const char *const names[] = { "ok", "cancelled", "panicked", "running" };

	return NAME_OF(names, outcome);
}

const char *ts_resource_kind_name(uint32_t kind)
{
	static const char *const names[] = { "mutex", "rwlock", "semaphore", "channel", "timer" };

	return NAME_OF(names, kind);
}

const char *ts_thread_role_name(uint32_t role)
{
	static const char *const names[] = { "other", "worker", "blocking" };

	return NAME_OF(names, role);
}

const char *ts_event_type_name(uint32_t type)
{
	static const char *const names[] = {
		[TS_EV_THREAD] = "thread", [TS_EV_SPAWN] = "spawn", [TS_EV_POLL_BEGIN] = "poll_begin",
		[TS_EV_POLL_END] = "poll_end", [TS_EV_WAKE] = "wake", [TS_EV_WAKER_CLONE] = "waker_clone",
		[TS_EV_WAKER_DROP] = "waker_drop", [TS_EV_TASK_DROP] = "task_drop",
		[TS_EV_RESOURCE_NEW] = "resource_new", [TS_EV_RESOURCE_DROP] = "resource_drop",
		[TS_EV_LOCK_WAIT] = "lock_wait", [TS_EV_LOCK_ACQUIRED] = "lock_acquired",
		[TS_EV_LOCK_RELEASE] = "lock_release", [TS_EV_DROPPED] = "dropped",
		[TS_EV_TASK_SNAPSHOT] = "task_snapshot", [TS_EV_OFFCPU] = "offcpu",
		[TS_EV_SYSCALL] = "syscall", [TS_EV_LOOP_ITER] = "loop_iter", [TS_EV_STACK] = "stack",
		[TS_EV_CPU_SAMPLE] = "cpu_sample", [TS_EV_WAKERS] = "wakers",
	};

	return NAME_OF(names, type);
}
