/*
 * event.h: the one event vocabulary of the collector.
 *
 * Every source (the shim's shared-memory rings today, BPF ring buffers
 * later) decodes into struct ts_event; the model never knows which source
 * an event came from. Timestamps are CLOCK_MONOTONIC nanoseconds. Strings
 * are interned in a ts_strpool owned by the collector and live as long as
 * it does, so events and model state may keep the pointers.
 */
#ifndef TASKSCOPE_EVENT_H
#define TASKSCOPE_EVENT_H

#include <stdint.h>

enum ts_event_type {
	TS_EV_THREAD = 1,        /* name, kind = role */
	TS_EV_SPAWN,             /* id = task, arg = parent, name, location, kind = task kind,
				  * flags & TS_EVF_WAKERS_UNKNOWN */
	TS_EV_POLL_BEGIN,        /* id = task */
	TS_EV_POLL_END,          /* id = task, flags & TS_EVF_READY */
	TS_EV_WAKE,              /* id = task, flags & TS_EVF_BY_REF, TS_EVF_UNTIMED */
	TS_EV_WAKER_CLONE,       /* id = task */
	TS_EV_WAKER_DROP,        /* id = task */
	TS_EV_TASK_DROP,         /* id = task, kind = outcome */
	TS_EV_RESOURCE_NEW,      /* id = resource, name, location, kind = resource kind */
	TS_EV_RESOURCE_DROP,     /* id = resource */
	TS_EV_LOCK_WAIT,         /* id = resource */
	TS_EV_LOCK_ACQUIRED,     /* id = resource, flags & TS_EVF_SHARED */
	TS_EV_LOCK_RELEASE,      /* id = resource */
	TS_EV_DROPPED,           /* arg = events lost since the last report (tid: the ring's thread) */
	/* A task alive when the collector attached (the shim's snapshot):
	 * id = task, name, location, kind = task kind, arg = enum ts_task_state
	 * (running, scheduled or idle), flags & TS_EVF_WAKER_HELD. */
	TS_EV_TASK_SNAPSHOT,
	/* Kernel context (bpf/, issue 4). All carry the thread in tid. */
	TS_EV_OFFCPU,            /* the thread was off the CPU: arg = when it left, ts = when it ran
				  * again; id = run-queue delay (woken -> running, ns); kind = the
				  * syscall number it blocked in + 1 (0: none); name = that syscall;
				  * flags & TS_EVF_PREEMPTED when it left runnable. Only intervals of
				  * at least the source's minimum (bpf/sched: 50 us) are sent. */
	TS_EV_SYSCALL,           /* a slow syscall: arg = entry, ts = exit, kind = number, name;
				  * id = ns it spent off the CPU (bpf/sched does not send it: its
				  * TS_EV_OFFCPU names the syscall of each interval) */
	TS_EV_LOOP_ITER,         /* generic event loop: one iteration, arg = the wait's return,
				  * ts = the next wait's entry; name = the wait syscall; id = ns off
				  * the CPU in between; kind = the syscall with the most off-CPU
				  * time in it + 1 (0: none), location = its name; flags &
				  * TS_EVF_PREEMPTED: the off-CPU time was mostly run-queue wait.
				  * Sent only for iterations of at least loop_stall_ns. */
	TS_EV_STACK,             /* a sampled user stack of tid, symbolized, innermost first:
				  * name = "f1 (file:line) < f2 < ..."; flags & TS_EVF_ON_CPU. Without
				  * TS_EVF_ON_CPU: the thread is off the CPU now, name = where it
				  * sleeps (e.g. "clock_nanosleep") */
	TS_EV_CPU_SAMPLE,        /* per-thread CPU accounting: arg = on-CPU ns since the thread's
				  * previous CPU_SAMPLE (for busy % without a poll). With tid 0:
				  * kernel context starts for pid at ts (arg 0): polls that begin
				  * from then on get on_cpu_ns. */
	TS_EV_WAKERS,            /* id = task, arg = the live waker count its runtime holds, read
				  * while the task was idle (tokio-bpf without waker probes) */
	TS_EV_TYPE_MAX = TS_EV_WAKERS,
};

enum ts_event_flags {
	TS_EVF_READY = 1u << 0,
	TS_EVF_BY_REF = 1u << 1,
	TS_EVF_SHARED = 1u << 2,
	TS_EVF_WAKER_HELD = 1u << 3, /* snapshot: the task has a live waker */
	TS_EVF_PREEMPTED = 1u << 4,  /* offcpu: it left the CPU runnable (involuntary) */
	TS_EVF_ON_CPU = 1u << 5,     /* stack: sampled on the CPU (else: where it sleeps) */
	/* lock_acquired: the source may not see this hold begin or end
	 * (contended-mode BPF sees a lock only through futex waits and wakes,
	 * and a hold inferred from a waiter has no known start). The model
	 * keeps its span and statistics but does not judge
	 * lock_held_across_await on it: that needs the hold's real bounds. */
	TS_EVF_PARTIAL = 1u << 6,
	/* wake: it happened at an unknown time before ts (the source saw only
	 * that the task was polled again: tokio-bpf without waker probes).
	 * The model counts it but records no scheduling delay for it. */
	TS_EVF_UNTIMED = 1u << 7,
	/* spawn: the source does not see every waker operation (tokio-bpf
	 * without waker probes): the task's waker count is unknown until a
	 * TS_EV_WAKERS tells it. Other sources leave it clear. */
	TS_EVF_WAKERS_UNKNOWN = 1u << 8,
};

/* Values of `kind` mirror the public enums in agent/include/taskscope.h. */
enum ts_task_kind { TS_KIND_TASK = 0, TS_KIND_BLOCKING = 1, TS_KIND_LOCAL = 2 };
enum ts_outcome { TS_OUTCOME_OK = 0, TS_OUTCOME_CANCELLED = 1, TS_OUTCOME_PANICKED = 2,
		  TS_OUTCOME_RUNNING = 3 /* not dropped yet; never in an event */ };
enum ts_resource_kind { TS_RES_MUTEX = 0, TS_RES_RWLOCK, TS_RES_SEMAPHORE, TS_RES_CHANNEL, TS_RES_TIMER };
enum ts_thread_role { TS_ROLE_OTHER = 0, TS_ROLE_WORKER = 1, TS_ROLE_BLOCKING = 2 };

struct ts_event {
	uint64_t ts;
	uint32_t pid;
	uint32_t tid;
	uint16_t type;            /* enum ts_event_type */
	uint16_t flags;           /* enum ts_event_flags */
	uint32_t kind;            /* task kind, outcome, resource kind or thread role */
	uint64_t id;              /* task id, or resource id for resource and lock events */
	uint64_t arg;             /* parent task (spawn), lost events (dropped) */
	const char *name;         /* NULL when not given */
	const char *location;     /* NULL when not given */
};

/* Short lowercase names used in SQL, the console and protobuf. */
const char *ts_task_kind_name(uint32_t kind);
const char *ts_outcome_name(uint32_t outcome);
const char *ts_resource_kind_name(uint32_t kind);
const char *ts_thread_role_name(uint32_t role);
const char *ts_event_type_name(uint32_t type);

#endif /* TASKSCOPE_EVENT_H */
