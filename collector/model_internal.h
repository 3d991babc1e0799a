/*
 * model_internal.h: what model.c, model_tasks.c and model_locks.c share.
 *
 * Not for other modules: they use model.h. The model is split by concern
 * (bookkeeping and ticking; task life cycle; resources and locks) and these
 * are the seams between the three files.
 */
#ifndef TASKSCOPE_MODEL_INTERNAL_H
#define TASKSCOPE_MODEL_INTERNAL_H

#include "collector/hashidx.h"
#include "collector/model.h"

#define TS_MODEL_FREE_TASKS_MAX 4096  /* task structs kept for re-use */
#define TS_MODEL_MAX_OBJECTS 2000000  /* default cap on tasks, and on resources */
#define TS_MODEL_MAX_THREADS 65536    /* a hostile target's made-up tids stop here */
#define TS_MODEL_MAX_PROCS 4096       /* processes are looked up by a linear scan */

struct ts_model {
	struct ts_model_config cfg;
	struct ts_model_sink sink;

	struct ts_task **tasks;          /* dense; t->index is the position */
	size_t n_tasks, cap_tasks;
	struct ts_hashidx task_ix;
	struct ts_task *free_tasks;      /* chained through hash_next */
	size_t n_free_tasks;

	struct ts_thread **threads;
	size_t n_threads, cap_threads;
	struct ts_hashidx thread_ix;

	struct ts_resource **res;
	size_t n_res, cap_res;
	struct ts_hashidx res_ix;

	struct ts_process *procs;
	size_t n_procs, cap_procs;
	size_t last_proc;                /* cache: events come in runs per pid */

	struct ts_warning recent[TS_MODEL_RECENT_WARNINGS];
	size_t recent_next, recent_count;
	uint64_t warn_count[TS_WARN_KIND_COUNT];

	uint64_t dropped;
	uint64_t lives;                  /* last ts_task.life handed out */
	struct ts_model_stats stats;

	struct ts_poll_span *poll_ring;  /* model_recent.c: the latest poll spans */
	size_t poll_ring_next, poll_ring_count;
	bool poll_ring_failed;
};

/* Grow a dense pointer array to hold one more; 0 or -ENOMEM. */
int ts_model_vec_reserve(void ***arr, size_t n, size_t *cap);

/* model.c */
struct ts_thread *ts_model_thread_get(struct ts_model *m, uint32_t pid, uint32_t tid);
/* Raise a warning (if its kind is enabled): sink, ring, counters and the
 * task's warning bits. `task` may be NULL. */
/* blocked_worker for thread t at now_ns, if due and not raised for its
 * current poll yet (model.c): each tick, and at the end of a poll the
 * ticks missed. Kernel context reported after until_ns (the poll's end,
 * or UINT64_MAX while it runs) is not about this poll. */
void ts_model_blocked_check(struct ts_model *m, struct ts_thread *t, uint64_t now_ns, uint64_t until_ns);
void ts_model_warn(struct ts_model *m, uint32_t kind, uint32_t pid, uint32_t tid,
		   struct ts_task *task, uint64_t ts_ns, uint64_t duration_ns, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

/* model_tasks.c */
void ts_model_task_apply(struct ts_model *m, const struct ts_event *ev, struct ts_thread *thr);
void ts_model_tasks_tick(struct ts_model *m, uint64_t now_ns);
void ts_model_tasks_free(struct ts_model *m);

/* model_locks.c */
void ts_model_lock_apply(struct ts_model *m, const struct ts_event *ev, struct ts_thread *thr);
/* A poll of `task` on thread `tid` ended at `end_ns`: if it returned
 * pending, warn about locks taken in it and still held. */
void ts_model_locks_check_await(struct ts_model *m, struct ts_task *task, uint32_t tid,
				uint64_t end_ns, bool ready);
/* `task` is done: it no longer waits for any lock. */
void ts_model_locks_task_done(struct ts_model *m, struct ts_task *task);
void ts_model_locks_free(struct ts_model *m);

/* model_recent.c */
void ts_model_recent_poll_add(struct ts_model *m, const struct ts_poll_span *span);
void ts_model_recent_free(struct ts_model *m);

/* model_kernel.c: kernel context (on/off CPU, syscalls, loops, stacks) */
void ts_model_kernel_apply(struct ts_model *m, const struct ts_event *ev, struct ts_thread *thr);
/* A poll begins on `thr`: its off-CPU accounting starts from zero. */
void ts_model_kernel_poll_begin(struct ts_model *m, struct ts_thread *thr);
/* The poll [start, end] of `task` on `thr` (may be NULL) ends: judge
 * blocking_in_poll and return its on_cpu_ns, -1 when unknown (no kernel
 * context for all of it). */
int64_t ts_model_kernel_poll_end(struct ts_model *m, struct ts_task *task, struct ts_thread *thr,
				 uint64_t start_ns, uint64_t end_ns);
/* "; on-CPU: f1 < f2" or "; off-CPU in clock_nanosleep" for a blocked
 * worker's warning, "" when nothing is known; only what was reported by
 * until_ns counts. */
void ts_model_kernel_thread_state(const struct ts_model *m, const struct ts_thread *thr, uint64_t until_ns,
				  char *buf, size_t len);

static inline uint64_t ts_model_since(uint64_t start, uint64_t end)
{
	return end > start ? end - start : 0;
}

#endif /* TASKSCOPE_MODEL_INTERNAL_H */
