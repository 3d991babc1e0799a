/*
 * model.h: the live state of every watched process, built from events.
 *
 * The model is pure: ts_model_apply() takes one event, ts_model_tick()
 * advances time; state comes out through the accessors below and through
 * a sink of callbacks (poll spans, lock spans, task and thread changes,
 * warnings) that storage and the console consume. No I/O, no clock reads,
 * no threads: it is unit-tested with synthetic event sequences.
 *
 * Memory is O(live tasks + tasks completed within the retention window):
 * ts_model_tick() forgets completed tasks older than the retention (after a
 * final task_changed callback, so storage has their last state).
 */
#ifndef TASKSCOPE_MODEL_H
#define TASKSCOPE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/event.h"
#include "collector/histogram.h"
#include "collector/lints.h"
#include "collector/warning.h"

enum ts_task_state {
	TS_TASK_RUNNING = 0,   /* inside a poll */
	TS_TASK_SCHEDULED = 1, /* woken (or just spawned), waiting to be polled */
	TS_TASK_IDLE = 2,      /* returned pending, not woken since */
	TS_TASK_DONE = 3,      /* dropped */
};

#define TS_TASK_POLL_LOCKS_MAX 4

struct ts_task {
	uint32_t pid;
	uint64_t id;
	uint64_t parent;
	uint64_t life;               /* unique per task life in this model: a re-used id gets a new one */
	const char *name;           /* never NULL: "" when unnamed */
	const char *location;       /* never NULL: "" when unknown */
	uint32_t kind;              /* enum ts_task_kind */
	uint32_t state;             /* enum ts_task_state */
	uint32_t outcome;           /* enum ts_outcome; TS_OUTCOME_RUNNING until dropped */
	uint64_t spawned_ns;
	uint64_t dropped_ns;        /* 0 while alive */
	uint64_t state_since_ns;    /* when the current state began */
	uint64_t last_wake_ns;
	uint64_t polls;
	uint64_t busy_ns;           /* closed intervals only; see ts_task_times() */
	uint64_t sched_ns;
	uint64_t idle_ns;
	uint64_t wakes;
	uint64_t self_wakes;
	uint64_t waker_clones;
	uint64_t waker_drops;
	int64_t wakers;             /* live wakers: clones - drops - wakes by value */
	uint64_t max_poll_ns;
	uint32_t poll_tid;          /* thread polling it now, 0 when not running */
	uint32_t warnings;          /* bit (1u << kind) for each warning raised */
	struct ts_histogram poll_hist;   /* poll durations */
	struct ts_histogram sched_hist;  /* wake (or spawn) to poll start */
	/* model-private below */
	uint32_t index;             /* position in the dense task array */
	bool dirty;                 /* changed since the last task_changed callback */
	bool hashed;                /* findable; false for a done task whose id was re-used */
	bool implicit;              /* first seen through an event other than its spawn */
	bool snapshot;              /* created or named by an attach snapshot; its spawn was not seen */
	bool wakers_unknown;        /* wakers is not a full count (we missed its spawn) */
	bool completed;             /* a poll returned ready; waits for its drop */
	bool woken_in_poll;         /* woken while RUNNING: SCHEDULED at poll end */
	bool waiting;               /* waits for lock wait_res (see model_locks.c) */
	uint64_t wait_res;
	bool outer_waiting;         /* ... inside an outer wait for outer_wait_res (a runtime's */
	uint64_t outer_wait_res;    /* lock and the pthread mutex under it, seen by BPF) */
	uint64_t last_event_ns;
	uint64_t poll_start_ns;     /* start of the current or last poll */
	uint32_t n_poll_locks;      /* locks taken in the current poll (first ones) */
	uint64_t poll_locks[TS_TASK_POLL_LOCKS_MAX];
	struct ts_task *hash_next;
};

/* Off-CPU intervals of the current poll the model keeps per thread (kernel
 * context, model_kernel.c): the latest this many. */
#define TS_THREAD_OFFCPU_RING 64

struct ts_thread_kernel;

struct ts_thread {
	uint32_t pid;
	uint32_t tid;
	const char *name;           /* never NULL */
	uint32_t role;              /* enum ts_thread_role */
	bool polling;
	uint64_t current_task;      /* 0 when not polling */
	uint64_t poll_started_ns;
	uint64_t busy_ns;           /* closed polls only; for a thread that never polled (an
				     * event loop under generic attach): its on-CPU time (cpu_ns) */
	uint64_t polls;
	uint64_t last_event_ns;
	/* Kernel context (model_kernel.c; 0/NULL without it). */
	uint64_t cpu_ns;            /* on-CPU ns reported by TS_EV_CPU_SAMPLE */
	const char *stack;          /* latest TS_EV_STACK text, NULL when none */
	uint64_t stack_ns;          /* when it was taken */
	bool stack_on_cpu;          /* a sampled user stack (else: where it sleeps) */
	/* model-private below */
	uint32_t index;
	bool blocked_warned;        /* blocked_worker raised for the current poll */
	struct ts_thread_kernel *kernel; /* model_kernel.c: NULL until its first kernel event */
	bool waiting;               /* waits (outside a poll) for lock wait_res */
	uint64_t wait_res;
	bool outer_waiting;         /* as in ts_task */
	uint64_t outer_wait_res;
	struct ts_thread *hash_next;
};

#define TS_RESOURCE_WAITERS_MAX 8

struct ts_lock_waiter {
	uint64_t task;              /* 0: a thread waiting outside a poll */
	uint32_t tid;
	uint64_t since_ns;
};

struct ts_resource {
	uint32_t pid;
	uint64_t id;
	uint32_t kind;              /* enum ts_resource_kind */
	const char *name;           /* never NULL */
	const char *location;       /* never NULL */
	uint64_t holder_task;       /* 0 when free or held outside a poll */
	uint32_t holder_tid;        /* 0 when free */
	uint32_t holders;           /* > 1 for shared (read) holds */
	uint64_t acquired_ns;       /* of the current hold */
	uint64_t wait_start_ns;     /* of the current hold's wait, 0 when it did not wait */
	uint32_t waiters;           /* how many threads wait now */
	uint64_t waiting_tasks[TS_RESOURCE_WAITERS_MAX]; /* first waiters' tasks (0: outside a poll) */
	uint32_t waiting_tids[TS_RESOURCE_WAITERS_MAX];
	uint64_t waiting_since[TS_RESOURCE_WAITERS_MAX];
	uint64_t acquisitions;
	uint64_t contentions;       /* acquisitions that had to wait */
	uint64_t max_hold_ns;
	struct ts_histogram wait_hist;
	struct ts_histogram hold_hist;
	/* model-private below */
	uint32_t index;
	bool held_in_poll;          /* acquired while holder_task was being polled */
	bool dropped;
	uint64_t last_holder_task;  /* holder of the last completed hold (0: outside a poll) */
	uint32_t last_holder_tid;
	uint64_t await_task;        /* held across an await of this task, not reported yet */
	uint32_t await_tid;         /* ... the thread whose poll returned pending */
	struct ts_lock_waiter *wait_list; /* every recorded waiter, oldest first */
	uint32_t wait_len;
	uint32_t wait_cap;
	struct ts_resource *hash_next;
};

struct ts_process {
	uint32_t pid;
	const char *exe;
	const char *runtime;
	const char *source;         /* "shim", "tokio-bpf", "generic" */
	uint64_t started_ns;
	uint64_t events;
	uint64_t dropped;
	uint64_t dropped_reported;  /* part of `dropped` already warned about */
	uint64_t kernel_since_ns;   /* kernel context (on/off CPU) since; 0: none */
	bool exited;
};

struct ts_poll_span {
	uint32_t pid;
	uint32_t tid;
	uint64_t task_id;
	uint64_t start_ns;
	uint64_t end_ns;
	int64_t on_cpu_ns;          /* -1 when unknown */
	bool ready;
};

struct ts_lock_span {
	uint32_t pid;
	uint32_t tid;
	uint64_t lock_id;
	const char *lock_name;
	uint64_t task_id;           /* 0 when taken outside a poll */
	uint64_t wait_start_ns;     /* 0 when it did not wait */
	uint64_t acquired_ns;
	uint64_t released_ns;
};

/* Where the model's output goes. Any callback may be NULL. */
struct ts_model_sink {
	void *ctx;
	void (*poll_span)(void *ctx, const struct ts_poll_span *span);
	void (*lock_span)(void *ctx, const struct ts_lock_span *span);
	void (*task_changed)(void *ctx, const struct ts_task *task);
	void (*thread_changed)(void *ctx, const struct ts_thread *thread);
	void (*warning)(void *ctx, const struct ts_warning *warning);
};

struct ts_model_config {
	struct ts_lint_config lints;
	uint64_t retention_ns;      /* how long completed tasks stay in memory; default 10 s */
	uint64_t max_objects;       /* cap on tasks and on resources in memory (live + retained);
				     * default (and when 0) 2,000,000; threads: at most 65,536.
				     * Past it, events creating new ones are refused and counted. */
};

#define TS_MODEL_RECENT_WARNINGS 256

struct ts_model;

void ts_model_config_default(struct ts_model_config *cfg);
int ts_model_new(const struct ts_model_config *cfg, const struct ts_model_sink *sink, struct ts_model **out);
void ts_model_free(struct ts_model *m);

/* Register a process before its events arrive; strings are copied. */
int ts_model_process_add(struct ts_model *m, uint32_t pid, const char *exe, const char *runtime,
			 const char *source, uint64_t started_ns);
void ts_model_process_exited(struct ts_model *m, uint32_t pid, uint64_t now_ns);

/* Apply one event. Events of one thread arrive in order; events of
 * different threads may arrive slightly out of order and are tolerated. */
void ts_model_apply(struct ts_model *m, const struct ts_event *ev);

/* Advance to `now`: run the state lints, report new drops, forget
 * completed tasks past the retention, and send task_changed for every
 * dirty task. Call it a few times a second. */
void ts_model_tick(struct ts_model *m, uint64_t now_ns);

/* Send task_changed for every live task (used before exit). */
void ts_model_flush(struct ts_model *m);

/* Accessors. Arrays are dense and valid until the next apply/tick. */
struct ts_task *const *ts_model_tasks(const struct ts_model *m, size_t *count);
struct ts_thread *const *ts_model_threads(const struct ts_model *m, size_t *count);
struct ts_resource *const *ts_model_resources(const struct ts_model *m, size_t *count);
const struct ts_process *ts_model_processes(const struct ts_model *m, size_t *count);
struct ts_task *ts_model_find_task(const struct ts_model *m, uint32_t pid, uint64_t id);
struct ts_thread *ts_model_find_thread(const struct ts_model *m, uint32_t pid, uint32_t tid);
struct ts_resource *ts_model_find_resource(const struct ts_model *m, uint32_t pid, uint64_t id);

/* The most recent warnings, oldest first (at most TS_MODEL_RECENT_WARNINGS),
 * and the number raised since start per kind. */
size_t ts_model_recent_warnings(const struct ts_model *m, const struct ts_warning **out, size_t max);
uint64_t ts_model_warning_count(const struct ts_model *m, uint32_t kind);
/* The latest poll spans of one task, oldest first (at most max): the
 * model keeps the last TS_MODEL_RECENT_POLLS spans of all tasks together,
 * so a rarely polled task may have fewer than it had (model_recent.c). */
#define TS_MODEL_RECENT_POLLS 65536
size_t ts_model_recent_polls(const struct ts_model *m, uint32_t pid, uint64_t task_id, struct ts_poll_span *out,
			     size_t max);
uint64_t ts_model_events(const struct ts_model *m);
uint64_t ts_model_dropped(const struct ts_model *m);

/* What the model could not use as given. Events are never rejected
 * silently: each oddity of the input bumps one of these. */
struct ts_model_stats {
	uint64_t events;            /* applied, all kinds */
	uint64_t unknown_types;     /* event type outside the vocabulary */
	uint64_t unmatched_poll_ends; /* POLL_END of a task not running */
	uint64_t lost_poll_ends;    /* POLL_BEGIN of a task already running */
	uint64_t unmatched_releases;  /* LOCK_RELEASE of a lock not held */
	uint64_t stale_events;      /* for a task already done (polls, duplicate drops), or a
				     * RESOURCE_DROP of an unknown resource */
	uint64_t late_events;       /* older than the state they close (clamped to 0) */
	uint64_t bad_values;        /* out-of-range kind/outcome/role, replaced by a default */
	uint64_t reused_ids;        /* SPAWN for an id still in memory */
	uint64_t tasks_created_implicitly; /* first seen through a non-spawn event */
	uint64_t tasks_evicted;     /* done tasks forgotten after the retention */
	uint64_t ghosts_evicted;    /* never-polled tasks seen only via stray events, forgotten */
	uint64_t alloc_failures;    /* events lost because memory ran out or max_objects was hit */
};
void ts_model_stats(const struct ts_model *m, struct ts_model_stats *out);
const struct ts_model_config *ts_model_config(const struct ts_model *m);

/* A task's times at `now`, including the interval of its current state. */
void ts_task_times(const struct ts_task *t, uint64_t now_ns, uint64_t *total, uint64_t *busy,
		   uint64_t *sched, uint64_t *idle);
const char *ts_task_state_name(uint32_t state);

#endif /* TASKSCOPE_MODEL_H */
