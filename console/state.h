/*
 * state.h: what the console shows, copied out of the data source.
 *
 * A conn fills this struct with plain numbers and strings that outlive the
 * copy (interned by the collector, or owned by the conn until its next
 * fill), never pointers into the model's objects, which the model may free
 * on its next tick: so a paused console (not refreshed) keeps drawing and
 * sorting its frozen copy, and a conn without a model (a recording, a
 * protobuf stream) fills the very same fields. The conns:
 *   - console/conn_model.c: the in-process model (conn.h);
 *   - the replay and remote conns fill it from SQLite or an Update stream.
 *
 * What a conn fills, each time it refreshes (unless `paused`):
 *   rows/nrows           every task it knows (reserve with ts_state_reserve)
 *   resources/nres       every resource (ts_state_reserve_resources)
 *   workers/nworkers     every thread (ts_state_reserve_workers); the busy
 *                        sparkline history is the conn's to carry forward
 *                        (ts_state_prev_worker finds last refresh's row)
 *   warnings/nwarnings   the latest warnings, oldest first; warn_counts
 *   procs/nprocs         the watched processes (header)
 *   detail               the task named by detail_pid/detail_id, when
 *                        `view == TS_VIEW_DETAILS` (set detail.valid)
 *   now_ns, filled       then it calls ts_state_sort()
 * Everything else (view, sort, filters, selection, scrolling) belongs to
 * state.c and the input; a conn leaves it alone.
 *
 * Missing values: a number a source does not know is TS_UNKNOWN (or -1
 * where signed); strings are "" when unknown, never NULL.
 *
 * No curses and no model calls here: tests/e2e/test-state.c drives it with
 * hand-made rows.
 */
#ifndef TASKSCOPE_CONSOLE_STATE_H
#define TASKSCOPE_CONSOLE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/histogram.h"
#include "collector/warning.h"

struct ts_state_sort_key;

#define TS_UNKNOWN UINT64_MAX   /* a number the source does not know */

enum ts_view {
	TS_VIEW_TASKS = 0,
	TS_VIEW_DETAILS,            /* one task: detail_pid/detail_id */
	TS_VIEW_RESOURCES,
	TS_VIEW_WORKERS,
	TS_VIEW_WARNINGS,
	TS_VIEW_COUNT,
};

/* Tasks table columns, left to right. */
enum ts_col {
	TS_COL_WARN = 0,
	TS_COL_ID,
	TS_COL_STATE,
	TS_COL_NAME,
	TS_COL_TOTAL,
	TS_COL_BUSY,
	TS_COL_SCHED,
	TS_COL_IDLE,
	TS_COL_POLLS,
	TS_COL_KIND,
	TS_COL_LOCATION,
	TS_COL_FIELDS,
	TS_COL_COUNT,
};

/* One task as displayed. */
struct ts_row {
	uint64_t id;
	uint32_t pid;
	uint8_t state;              /* enum ts_task_state (collector/model.h) */
	uint8_t kind;               /* enum ts_task_kind */
	uint8_t outcome;            /* enum ts_outcome; TS_OUTCOME_RUNNING while alive */
	uint8_t nwarn;              /* distinct warning kinds raised */
	uint32_t warn_bits;         /* bit (1u << kind) per warning kind raised */
	uint64_t parent;            /* 0 when none or unknown */
	const char *name;           /* never NULL */
	const char *location;       /* never NULL */
	const char *fields;         /* extra "key=value ..." text; never NULL, "" when none */
	uint64_t total_ns, busy_ns, sched_ns, idle_ns;
	uint64_t polls;
	uint32_t conn_index;        /* the conn's own (conn_model: where the model keeps it) */
};

/* A resource (lock, semaphore, channel, timer). */
#define TS_RES_WAITERS_SHOWN 4
struct ts_res_row {
	uint64_t id;
	uint32_t pid;
	uint8_t kind;               /* enum ts_resource_kind */
	bool dropped;
	const char *name;           /* never NULL */
	const char *location;       /* never NULL */
	uint64_t holder_task;       /* 0: free, or held outside a poll (see holder_tid) */
	uint32_t holder_tid;        /* 0 when free */
	uint32_t holders;           /* > 1 for shared holds; 0 when free */
	uint64_t held_ns;           /* how long the current hold has lasted; 0 when free */
	uint32_t waiters;           /* waiting now */
	uint64_t waiting_tasks[TS_RES_WAITERS_SHOWN]; /* first waiters (0: a thread outside a poll) */
	uint64_t acquisitions;
	uint64_t contentions;       /* acquisitions that had to wait */
	uint64_t wait_p99_ns;       /* TS_UNKNOWN when not known */
	uint64_t hold_p99_ns;
	uint64_t max_hold_ns;
};

enum ts_worker_state {
	TS_WORKER_UNKNOWN = 0,
	TS_WORKER_POLLING,          /* inside a task's poll */
	TS_WORKER_IDLE,             /* between polls */
	TS_WORKER_PARKED,           /* off the CPU waiting for work (kernel context) */
	TS_WORKER_BLOCKED,          /* a poll past the blocked-worker threshold, or waits for a lock */
	TS_WORKER_NSTATES,
};

/* Busy % samples for the sparkline, one per TS_WORKER_SAMPLE_NS. */
#define TS_SPARK_LEN 16
#define TS_WORKER_SAMPLE_NS 1000000000ull
#define TS_BUSY_UNKNOWN 255

/* A thread of a watched process (workers first when sorted). */
struct ts_worker_row {
	uint32_t pid;
	uint32_t tid;
	uint8_t role;               /* enum ts_thread_role */
	uint8_t state;              /* enum ts_worker_state */
	bool stalled;               /* a loop stall or blocked-worker warning in the last seconds */
	const char *name;           /* never NULL */
	uint64_t current_task;      /* 0 when not polling */
	const char *current_name;   /* never NULL */
	uint64_t in_poll_ns;        /* how long the current poll has lasted */
	uint64_t polls;             /* since start */
	double polls_per_s;         /* over the last sample; < 0 unknown */
	const char *stack;          /* latest sampled user stack, "f1 (file:line) < f2 < ...",
				     * innermost first; NULL or "" when none (kernel context) */
	bool stack_on_cpu;          /* sampled running (else: where it sleeps) */
	uint64_t stack_age_ns;      /* how long ago it was taken */
	uint8_t busy_pct[TS_SPARK_LEN]; /* oldest first; TS_BUSY_UNKNOWN where unknown */
	uint8_t nbusy;              /* valid samples (the newest nbusy of busy_pct) */
	/* the conn's bookkeeping for the next sample (carried forward) */
	uint64_t sample_start_ns;
	uint64_t sample_busy_ns;
	uint64_t sample_polls;
	uint64_t sample_cpu_ns;
	bool sample_off_cpu;        /* no CPU time at all over the last sample */
};

struct ts_recent_warning {
	struct ts_warning w;
	const char *task_name;      /* never NULL, "" when unknown */
};

#define TS_STATE_PROCS 8
struct ts_proc_row {
	uint32_t pid;
	bool exited;
	const char *exe;            /* never NULL */
	const char *runtime;        /* never NULL */
	const char *source;         /* processes.source: "shim", "tokio-bpf", "generic"; never NULL */
	uint64_t events;
	uint64_t dropped;
};

/* One poll of the task in the details view. */
struct ts_detail_poll {
	uint64_t start_ns;
	uint64_t end_ns;            /* == start while still running */
	int64_t on_cpu_ns;          /* -1 when unknown */
	uint32_t tid;
	bool ready;
	bool running;               /* the current, unfinished poll */
};

/* A lock the task holds or waits for. */
struct ts_detail_lock {
	uint64_t id;
	uint8_t kind;               /* enum ts_resource_kind */
	bool waits;                 /* false: holds it */
	const char *name;           /* never NULL */
	const char *location;       /* never NULL */
	uint64_t since_ns;          /* for how long (held or waited), TS_UNKNOWN when unknown */
};

#define TS_DETAIL_POLLS 64
#define TS_DETAIL_WARNINGS 16
#define TS_DETAIL_LOCKS 8

struct ts_task_detail {
	bool valid;                 /* the conn found the task */
	struct ts_row row;
	uint64_t spawned_ns;
	uint64_t dropped_ns;        /* 0 while alive */
	uint64_t state_since_ns;
	uint64_t last_wake_ns;      /* 0: never woken */
	uint64_t wakes;
	uint64_t self_wakes;
	uint64_t waker_clones;
	uint64_t waker_drops;
	int64_t wakers;             /* live wakers now */
	bool wakers_unknown;        /* wakers is not a full count */
	uint64_t max_poll_ns;
	uint32_t poll_tid;          /* polling thread, 0 when not running */
	bool have_hists;            /* the histograms below are filled */
	struct ts_histogram poll_hist;
	struct ts_histogram sched_hist;
	struct ts_detail_poll polls[TS_DETAIL_POLLS]; /* oldest first */
	size_t npolls;
	struct ts_recent_warning warnings[TS_DETAIL_WARNINGS]; /* oldest first */
	size_t nwarnings;
	struct ts_detail_lock locks[TS_DETAIL_LOCKS];
	size_t nlocks;
};

struct ts_state;

/* Copy into d->warnings the latest recent warnings (s->warnings) of task
 * (pid, id) raised at or after `since_ns` (its spawn: a re-used id's
 * older warnings are not its), keeping the newest TS_DETAIL_WARNINGS. */
void ts_detail_collect_warnings(struct ts_task_detail *d, const struct ts_state *s, uint32_t pid,
				uint64_t id, uint64_t since_ns);

/* A scrolling list's cursor. */
struct ts_cursor {
	size_t selected;            /* index into the shown items */
	size_t top;                 /* first visible */
	size_t page;                /* visible rows at the last draw (PgUp/PgDn) */
};

#define TS_STATE_NSTATES 4      /* enum ts_task_state values */
#define TS_STATE_WARNINGS 256   /* latest warnings kept */
#define TS_FILTER_MAX 64

/* f cycles: all, then each state */
enum ts_state_filter {
	TS_FILTER_ALL = 0,
	TS_FILTER_RUNNING,          /* 1 + enum ts_task_state */
	TS_FILTER_SCHEDULED,
	TS_FILTER_IDLE,
	TS_FILTER_DONE,
	TS_FILTER_COUNT,
};

struct ts_state {
	/* ---- filled by the conn ---- */
	struct ts_row *rows;        /* all tasks; after ts_state_sort the shown ones
				     * come first (rows[0..nshown)), sorted. The sort
				     * may swap this buffer for another: take the
				     * pointer after ts_state_reserve, not before */
	size_t nrows, cap;
	struct ts_res_row *resources;
	size_t nres, cap_res;
	struct ts_worker_row *workers;
	size_t nworkers, cap_workers;
	struct ts_worker_row *prev_workers; /* the previous fill (ts_state_reserve_workers) */
	size_t nprev_workers, cap_prev_workers;
	struct ts_recent_warning warnings[TS_STATE_WARNINGS]; /* oldest first */
	size_t nwarnings;
	uint64_t warn_counts[TS_WARN_KIND_COUNT]; /* raised since start, per kind */
	struct ts_proc_row procs[TS_STATE_PROCS];
	size_t nprocs;              /* in procs[] */
	size_t nprocs_total;        /* all of them (may exceed TS_STATE_PROCS) */
	struct ts_task_detail detail;
	uint64_t now_ns;            /* when it was taken (replay: the time cursor) */
	bool filled;                /* refreshed at least once */
	bool paused;                /* the conn leaves everything alone */

	/* ---- derived by ts_state_sort ---- */
	struct ts_row *sort_rows;   /* the other row buffer (state.c) */
	size_t cap_sort_rows;
	struct ts_state_sort_key *sort_keys;
	size_t cap_sort_keys;
	void *conn_scratch;         /* the conn's, freed by ts_state_fini */
	size_t cap_conn_scratch;
	size_t by_state[TS_STATE_NSTATES]; /* over all rows */
	size_t nshown;              /* rows passing the filters */
	uint16_t worder[TS_STATE_WARNINGS]; /* warnings grouped by kind, newest first within */

	/* ---- the console's own ---- */
	unsigned view;              /* enum ts_view */
	unsigned back_view;         /* where Esc goes from the details */
	unsigned sort_col;          /* enum ts_col */
	bool invert;                /* against the column's natural order */
	char filter[TS_FILTER_MAX]; /* substring of name or location; "" none */
	bool editing_filter;        /* `/` typed: keys go into filter */
	unsigned state_filter;      /* enum ts_state_filter */
	bool warn_only;             /* only tasks with warnings */
	uint32_t detail_pid;        /* the task the details view shows */
	uint64_t detail_id;

	struct ts_cursor cur[TS_VIEW_COUNT]; /* per view (details: scroll only) */
	bool have_sel;              /* sel_pid/sel_id name the selected task */
	uint32_t sel_pid;
	uint64_t sel_id;
	uint32_t sel_res_pid;       /* the selected resource / worker, followed across refreshes */
	uint64_t sel_res_id;
	uint32_t sel_worker_pid;
	uint32_t sel_worker_tid;
};

void ts_state_init(struct ts_state *s);
void ts_state_fini(struct ts_state *s);
/* Make room for n rows / resources (kept between refreshes). 0 or -ENOMEM. */
int ts_state_reserve(struct ts_state *s, size_t n);
int ts_state_reserve_resources(struct ts_state *s, size_t n);
/* Start a new fill of the workers: the current rows become the previous
 * ones (ts_state_prev_worker finds them, to carry a sparkline forward),
 * nworkers becomes 0 and there is room for n. 0 or -ENOMEM (then the
 * current rows are kept and nothing moved). */
int ts_state_reserve_workers(struct ts_state *s, size_t n);

/* A conn may fill rows into the spare row buffer (room for n; NULL when
 * out of memory) and then make it the rows with ts_state_swap_rows(). */
struct ts_row *ts_state_spare_rows(struct ts_state *s, size_t n);
void ts_state_swap_rows(struct ts_state *s);

/* Apply the filters, sort every list and find each selection again.
 * Call after every fill and after changing sort or filters. */
void ts_state_sort(struct ts_state *s);
/* Does a task pass the filters (text, state, warnings-only)? */
bool ts_state_row_matches(const struct ts_state *s, const struct ts_row *r);

/* Natural order of a column: numbers biggest first, text A to Z. */
bool ts_state_col_descending(unsigned col);
/* Move the sort column by delta (wrapping), or invert; both re-sort. */
void ts_state_sort_step(struct ts_state *s, int delta);
void ts_state_sort_invert(struct ts_state *s);
/* Compare two rows as the current sort would (<0, 0, >0). */
int ts_state_compare(const struct ts_state *s, const struct ts_row *a, const struct ts_row *b);

/* Filters; each re-sorts. */
void ts_state_set_filter(struct ts_state *s, const char *text);
void ts_state_cycle_state_filter(struct ts_state *s);
void ts_state_toggle_warn_only(struct ts_state *s);

/* Items in a view's list (tasks: nshown; warnings: nwarnings; ...). */
size_t ts_state_count(const struct ts_state *s, unsigned view);
/* Move the current view's selection by delta (clamped); INT64_MIN/MAX
 * reach the ends. In the details view it scrolls. */
void ts_state_move(struct ts_state *s, int64_t delta);
/* Make the current view's selection visible in `rows` rows; sets page. */
void ts_state_scroll(struct ts_state *s, size_t rows);

/* The selected task / resource / worker / warning, or NULL. */
const struct ts_row *ts_state_selected_row(const struct ts_state *s);
const struct ts_res_row *ts_state_selected_resource(const struct ts_state *s);
const struct ts_worker_row *ts_state_selected_worker(const struct ts_state *s);
const struct ts_recent_warning *ts_state_selected_warning(const struct ts_state *s);

/* Switch view (t, r, w, W). Esc from the details goes back. */
void ts_state_set_view(struct ts_state *s, unsigned view);
void ts_state_back(struct ts_state *s);
/* Enter: tasks -> details of the selected task; resources -> the holder's
 * details; warnings -> the warned task's details. Returns false when
 * there is nothing to open (free lock, warning without a task). */
bool ts_state_enter(struct ts_state *s);
/* Open the details of a task and select it in the tasks view, clearing
 * filters that would hide it. */
void ts_state_open_task(struct ts_state *s, uint32_t pid, uint64_t id);

/* The previous fill's row of a thread, or NULL; `hint` is where it
 * probably is (its index in this fill: the order rarely changes). */
const struct ts_worker_row *ts_state_prev_worker(const struct ts_state *s, size_t hint, uint32_t pid,
						 uint32_t tid);
/* Samples of a histogram past the upper outlier fence (Tukey: above
 * p75 + 1.5 x (p75 - p25)), counted by whole buckets whose lower bound is
 * past the fence. */
uint64_t ts_state_hist_outliers(const struct ts_histogram *h);

/* Push one busy % sample (0..100, or TS_BUSY_UNKNOWN) onto a row's sparkline. */
void ts_state_worker_push(struct ts_worker_row *w, uint8_t pct);

/* A worker stays red this long after a loop_stall or blocked_worker. */
#define TS_STALL_RECENT_NS 5000000000ull

/* Was thread (pid, tid) named by a loop_stall or blocked_worker warning
 * in the last TS_STALL_RECENT_NS before now_ns (s->warnings, oldest first)? */
bool ts_state_worker_stalled(const struct ts_state *s, uint32_t pid, uint32_t tid, uint64_t now_ns);

/* Carry a worker's sparkline and sample window from its previous fill's
 * row (`prev`, NULL for a new worker) and take one busy % sample a second
 * (TS_WORKER_SAMPLE_NS). `busy_now` is its busy time so far; `cpu_ns` its
 * on-CPU time from kernel context (0 without it): a thread that got none
 * over a whole sample is off the CPU (row->sample_off_cpu), which tells
 * parked from idle. Every conn fills workers through this. */
void ts_state_worker_sample(struct ts_worker_row *row, const struct ts_worker_row *prev, uint64_t busy_now,
			    uint64_t cpu_ns, uint64_t now_ns);

#endif /* TASKSCOPE_CONSOLE_STATE_H */
