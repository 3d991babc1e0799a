/*
 * replay.h: a recording, loaded once, asked "what was true at time T".
 *
 * `taskscope console --db FILE` moves a time cursor over a recording.
 * The recording has no secondary indexes (the writer keeps inserts to one
 * b-tree append) and is opened read-only, so instead of asking SQLite at
 * every seek, ts_replay_open() reads the SQL views once (task_summary,
 * poll_spans, lock_spans, warnings, threads, processes), sorts them in
 * memory and keeps prefix sums. A seek is then a binary search per task,
 * thread and lock: O(objects x log spans), independent of the recording's
 * length. Memory is about 70 bytes per poll span (spans of no known task
 * are left out).
 *
 * State at T, from the SQL surface:
 *   a task is alive when spawned_ns <= T < dropped_ns (NULL: never dropped);
 *   its polls are the poll_spans with start_ns <= T, its busy time their
 *   length clipped at T; it is running when a span holds T;
 *   a lock is held when acquired_ns <= T < released_ns and waited for when
 *   wait_start_ns <= T < acquired_ns;
 *   warnings count when ts_ns <= T.
 * Scheduled time is not recorded per instant, so a task's time before T
 * that is not busy counts as idle.
 */
#ifndef TASKSCOPE_REPLAY_H
#define TASKSCOPE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/warning.h"

#define TS_REPLAY_NEVER UINT64_MAX

struct ts_replay;

struct ts_replay_task {
	uint32_t pid;
	uint8_t kind;               /* enum ts_task_kind */
	uint8_t outcome;            /* enum ts_outcome (final) */
	uint64_t id;
	uint64_t parent;
	const char *name;           /* never NULL; owned by the replay */
	const char *location;
	uint64_t spawned_ns;
	uint64_t dropped_ns;        /* TS_REPLAY_NEVER while never dropped */
	/* final totals (known only for the whole life) */
	uint64_t wakes, self_wakes, waker_clones, waker_drops;
	/* its poll spans: spans[span0 .. span0 + nspans), by start */
	uint32_t span0, nspans;
};

struct ts_replay_span {
	uint64_t start_ns;
	uint64_t end_ns;
	uint64_t cum_busy_ns;       /* this task's busy time up to this span's end, inclusive */
	uint64_t cum_max_ns;        /* its longest poll up to and including this one */
	int64_t on_cpu_ns;          /* -1 when unknown */
	uint32_t tid;
	uint32_t task;              /* index into ts_replay_tasks() */
	bool ready;
};

/* A task at T (valid only when alive). */
struct ts_replay_task_at {
	bool alive;
	bool running;               /* a poll holds T */
	uint32_t tid;               /* the polling thread when running */
	uint64_t polls;             /* polls begun by T */
	uint64_t busy_ns;           /* poll time up to T */
	uint64_t max_poll_ns;       /* longest poll ended by T */
	uint64_t poll_start_ns;     /* of the running poll */
	uint32_t last_span;         /* index (into the task's spans) of the latest poll begun, or UINT32_MAX */
};

struct ts_replay_thread {
	uint32_t pid;
	uint32_t tid;
	uint8_t role;               /* enum ts_thread_role */
	const char *name;
};

struct ts_replay_thread_at {
	bool polling;
	uint64_t task_id;           /* polled now */
	uint64_t poll_start_ns;
	uint64_t polls;             /* begun by T */
	uint64_t busy_ns;           /* poll time up to T */
};

struct ts_replay_lock {
	uint32_t pid;
	uint64_t id;
	const char *name;
	uint32_t span0, nspans;     /* private: its lock spans, by acquisition */
};

#define TS_REPLAY_WAITERS 4
struct ts_replay_lock_at {
	uint64_t holder_task;       /* 0: free or held outside a poll */
	uint32_t holder_tid;        /* 0: free */
	uint32_t holders;
	uint64_t acquired_ns;
	uint32_t waiters;
	uint64_t waiting_tasks[TS_REPLAY_WAITERS];
	uint64_t acquisitions;      /* by T */
	uint64_t contentions;       /* acquisitions by T that waited */
	uint64_t max_hold_ns;       /* longest hold released by T */
};

struct ts_replay_process {
	uint32_t pid;
	const char *exe, *runtime, *source;
	uint64_t started_ns;
	uint64_t events, dropped;
};

/* Open and load `path` (ts_query_open's checks: not a recording, other
 * schema version, unreadable: -errno and one line in `err`). */
int ts_replay_open(const char *path, struct ts_replay **out, char *err, size_t errlen);
void ts_replay_free(struct ts_replay *r);

/* The recording's first and last instants (first <= last). */
void ts_replay_bounds(const struct ts_replay *r, uint64_t *first_ns, uint64_t *last_ns);

const struct ts_replay_task *ts_replay_tasks(const struct ts_replay *r, size_t *count);
const struct ts_replay_span *ts_replay_task_spans(const struct ts_replay *r, const struct ts_replay_task *t,
						  size_t *count);
void ts_replay_task_at(const struct ts_replay *r, const struct ts_replay_task *t, uint64_t at_ns,
		       struct ts_replay_task_at *out);
/* The life of task (pid, id) to show at T: the one alive at T, else the
 * latest spawned by T, else the first; NULL when the id is unknown. */
const struct ts_replay_task *ts_replay_find_task(const struct ts_replay *r, uint32_t pid, uint64_t id,
						 uint64_t at_ns);
/* Tasks alive at T. */
size_t ts_replay_count_alive(const struct ts_replay *r, uint64_t at_ns);

const struct ts_replay_thread *ts_replay_threads(const struct ts_replay *r, size_t *count);
void ts_replay_thread_at(const struct ts_replay *r, size_t thread, uint64_t at_ns,
			 struct ts_replay_thread_at *out);

const struct ts_replay_lock *ts_replay_locks(const struct ts_replay *r, size_t *count);
void ts_replay_lock_at(const struct ts_replay *r, size_t lock, uint64_t at_ns, struct ts_replay_lock_at *out);

const struct ts_replay_process *ts_replay_processes(const struct ts_replay *r, size_t *count);

/* All warnings, by time; *upto gets how many have ts_ns <= T. */
const struct ts_warning *ts_replay_warnings(const struct ts_replay *r, uint64_t at_ns, size_t *upto);
/* Warnings per kind with ts_ns <= T. */
void ts_replay_warning_counts(const struct ts_replay *r, uint64_t at_ns, uint64_t counts[TS_WARN_KIND_COUNT]);
/* The first warning strictly after T (dir > 0) or strictly before T
 * (dir < 0): 0 and its time, or -ENOENT. */
int ts_replay_next_warning(const struct ts_replay *r, uint64_t at_ns, int dir, uint64_t *out_ns);

#endif /* TASKSCOPE_REPLAY_H */
