/*
 * conn_db.c: fill the console state from a recording at the time cursor
 * (conn_db.h).
 *
 * The recording is loaded once (storage/replay.h); each fill asks it for
 * the state at the cursor, so seeking anywhere costs the same. Strings
 * point into the replay's pool, which lives as long as the conn. What a
 * recording does not hold per instant is shown as a source without that
 * knowledge would: scheduled time (not recorded per instant) is 0 and the
 * time that was not busy counts as idle; p99s of locks are unknown.
 * Worker sparklines are exact: busy time over each of the last seconds
 * before the cursor, from the same prefix sums.
 */
#include "console/conn_db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/event.h"
#include "collector/model.h"
#include "console/console.h"
#include "storage/replay.h"

#define STEP_NS 100000000ull            /* , and . */
#define SEEK_NS 1000000000ull           /* [ and ] */
#define SPEED_MIN 0.125
#define SPEED_MAX 64.0
#define DETAIL_HIST_SPANS 200000        /* a details histogram looks at this many polls at most */

struct ts_conn_db {
	struct ts_replay *r;
	char path[1024];
	uint64_t first_ns, last_ns;
	uint64_t cursor;
	double speed;
	double carry_ns;                /* playback time not yet applied (sub-ns) */
};

const char *const ts_conn_db_help[] = {
	"space\tplay / pause the replay",
	", .\tstep 0.1 s back / forward",
	"[ ]\tseek 1 s back / forward",
	"{ }\tseek a tenth of the recording",
	"0 $\tstart / end of the recording",
	"n N\tnext / previous warning",
	"+ -\tplay faster / slower",
	NULL,
};

int ts_conn_db_open(const char *path, struct ts_conn_db **out, char *err, size_t errlen)
{
	struct ts_conn_db *d;
	int r;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	r = ts_replay_open(path, &d->r, err, errlen);
	if (r < 0) {
		free(d);
		return r;
	}
	snprintf(d->path, sizeof(d->path), "%s", path);
	ts_replay_bounds(d->r, &d->first_ns, &d->last_ns);
	d->cursor = d->first_ns;
	d->speed = 1.0;
	*out = d;
	return 0;
}

void ts_conn_db_free(struct ts_conn_db *d)
{
	if (!d)
		return;
	ts_replay_free(d->r);
	free(d);
}

void ts_conn_db_bounds(const struct ts_conn_db *d, uint64_t *first_ns, uint64_t *last_ns)
{
	*first_ns = d->first_ns;
	*last_ns = d->last_ns;
}

uint64_t ts_conn_db_cursor(const struct ts_conn_db *d)
{
	return d->cursor;
}

void ts_conn_db_seek(struct ts_conn_db *d, uint64_t at_ns)
{
	d->cursor = at_ns < d->first_ns ? d->first_ns : at_ns > d->last_ns ? d->last_ns : at_ns;
	d->carry_ns = 0;
}

/* Seek by a signed offset without wrapping. */
static void seek_by(struct ts_conn_db *d, int64_t delta)
{
	uint64_t t = d->cursor;

	if (delta < 0)
		t = (uint64_t)-delta > t ? 0 : t - (uint64_t)-delta;
	else
		t = UINT64_MAX - t < (uint64_t)delta ? UINT64_MAX : t + (uint64_t)delta;
	ts_conn_db_seek(d, t);
}

bool ts_conn_db_play(struct ts_conn_db *d, uint64_t elapsed_ns, bool *at_end)
{
	uint64_t before = d->cursor;
	double adv = (double)elapsed_ns * d->speed + d->carry_ns;
	uint64_t step = adv >= 1.8e19 ? UINT64_MAX : (uint64_t)adv;

	d->carry_ns = adv - (double)step;
	if (d->last_ns - d->cursor <= step) {
		d->cursor = d->last_ns;
		d->carry_ns = 0;
	} else {
		d->cursor += step;
	}
	*at_end = d->cursor == d->last_ns;
	return d->cursor != before;
}

unsigned ts_conn_db_key(void *ctx, int key)
{
	struct ts_conn_db *d = ctx;
	uint64_t t;
	int64_t tenth = (int64_t)((d->last_ns - d->first_ns) / 10);

	switch (key) {
	case '.': seek_by(d, (int64_t)STEP_NS); break;
	case ',': seek_by(d, -(int64_t)STEP_NS); break;
	case ']': seek_by(d, (int64_t)SEEK_NS); break;
	case '[': seek_by(d, -(int64_t)SEEK_NS); break;
	case '}': seek_by(d, tenth ? tenth : 1); break;
	case '{': seek_by(d, tenth ? -tenth : -1); break;
	case '0': ts_conn_db_seek(d, d->first_ns); break;
	case '$': ts_conn_db_seek(d, d->last_ns); break;
	case 'n':
		if (ts_replay_next_warning(d->r, d->cursor, 1, &t) == 0)
			ts_conn_db_seek(d, t);
		break;
	case 'N':
		if (ts_replay_next_warning(d->r, d->cursor, -1, &t) == 0)
			ts_conn_db_seek(d, t);
		break;
	case '+': d->speed = d->speed * 2 > SPEED_MAX ? SPEED_MAX : d->speed * 2; break;
	case '-': d->speed = d->speed / 2 < SPEED_MIN ? SPEED_MIN : d->speed / 2; break;
	default:
		return 0;
	}
	return TS_CONSOLE_REDRAW;
}

static const char *task_name(const struct ts_conn_db *d, uint32_t pid, uint64_t id)
{
	const struct ts_replay_task *t = id ? ts_replay_find_task(d->r, pid, id, d->cursor) : NULL;

	return t ? t->name : "";
}

static unsigned popcount32(uint32_t v)
{
	unsigned n = 0;

	for (; v; v &= v - 1)
		n++;
	return n;
}

static void fill_row(struct ts_row *row, const struct ts_replay_task *t, const struct ts_replay_task_at *at,
		     uint32_t warn_bits, uint64_t now)
{
	memset(row, 0, sizeof(*row));
	row->id = t->id;
	row->pid = t->pid;
	row->state = at->running ? TS_TASK_RUNNING : TS_TASK_IDLE;
	row->kind = t->kind;
	row->outcome = TS_OUTCOME_RUNNING;
	row->warn_bits = warn_bits;
	row->nwarn = (uint8_t)popcount32(warn_bits);
	row->parent = t->parent;
	row->name = t->name;
	row->location = t->location;
	row->fields = "";
	row->total_ns = now - t->spawned_ns;
	row->busy_ns = at->busy_ns;
	row->sched_ns = 0;
	row->idle_ns = row->total_ns > at->busy_ns ? row->total_ns - at->busy_ns : 0;
	row->polls = at->polls;
}

/* Rows are filled in the replay's task order, (pid, id): binary search. */
static struct ts_row *find_row(struct ts_state *s, uint32_t pid, uint64_t id)
{
	size_t lo = 0, hi = s->nrows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ts_row *row = &s->rows[mid];

		if (row->pid < pid || (row->pid == pid && row->id < id))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nrows && s->rows[lo].pid == pid && s->rows[lo].id == id ? &s->rows[lo] : NULL;
}

static int fill_tasks(struct ts_conn_db *d, struct ts_state *s, const struct ts_warning *w, size_t nw)
{
	size_t n, alive = ts_replay_count_alive(d->r, d->cursor);
	const struct ts_replay_task *tasks = ts_replay_tasks(d->r, &n);
	int r = ts_state_reserve(s, alive);

	if (r < 0)
		return r;
	s->nrows = 0;
	for (size_t i = 0; i < n && s->nrows < alive; i++) {
		struct ts_replay_task_at at;

		ts_replay_task_at(d->r, &tasks[i], d->cursor, &at);
		if (at.alive)
			fill_row(&s->rows[s->nrows++], &tasks[i], &at, 0, d->cursor);
	}
	/* each warning raised by T marks the life of its task alive now, when
	 * it was raised during that life */
	for (size_t i = 0; i < nw; i++) {
		struct ts_row *row = w[i].task_id ? find_row(s, w[i].pid, w[i].task_id) : NULL;
		const struct ts_replay_task *t;

		if (!row)
			continue;
		t = ts_replay_find_task(d->r, row->pid, row->id, d->cursor);
		if (!t || w[i].ts_ns < t->spawned_ns)
			continue;
		row->warn_bits |= 1u << w[i].kind;
		row->nwarn = (uint8_t)popcount32(row->warn_bits);
	}
	return 0;
}

static void fill_warnings(struct ts_conn_db *d, struct ts_state *s, const struct ts_warning *w, size_t nw)
{
	size_t from = nw > TS_STATE_WARNINGS ? nw - TS_STATE_WARNINGS : 0;

	ts_replay_warning_counts(d->r, d->cursor, s->warn_counts);
	s->nwarnings = 0;
	for (size_t i = from; i < nw; i++) {
		struct ts_recent_warning *rw = &s->warnings[s->nwarnings++];

		rw->w = w[i];
		rw->w.detail[TS_WARNING_DETAIL_MAX - 1] = '\0';
		rw->task_name = task_name(d, w[i].pid, w[i].task_id);
	}
}

static void fill_procs(struct ts_conn_db *d, struct ts_state *s)
{
	size_t n;
	const struct ts_replay_process *p = ts_replay_processes(d->r, &n);

	s->nprocs_total = n;
	s->nprocs = 0;
	for (size_t i = 0; i < n && s->nprocs < TS_STATE_PROCS; i++) {
		struct ts_proc_row *row = &s->procs[s->nprocs++];

		memset(row, 0, sizeof(*row));
		row->pid = p[i].pid;
		row->exited = true;
		row->exe = p[i].exe;
		row->runtime = p[i].runtime;
		row->source = p[i].source;
		row->events = p[i].events;
		row->dropped = p[i].dropped;
	}
}

static int fill_resources(struct ts_conn_db *d, struct ts_state *s)
{
	size_t n;
	const struct ts_replay_lock *locks = ts_replay_locks(d->r, &n);
	int r = ts_state_reserve_resources(s, n);

	if (r < 0)
		return r;
	s->nres = 0;
	for (size_t i = 0; i < n; i++) {
		struct ts_replay_lock_at at;
		struct ts_res_row *row;

		ts_replay_lock_at(d->r, i, d->cursor, &at);
		if (!at.acquisitions && !at.waiters)
			continue;               /* not seen yet at T */
		row = &s->resources[s->nres++];
		memset(row, 0, sizeof(*row));
		row->id = locks[i].id;
		row->pid = locks[i].pid;
		row->kind = TS_RES_MUTEX;      /* lock_spans does not say */
		row->name = locks[i].name;
		row->location = "";
		row->holder_task = at.holder_task;
		row->holder_tid = at.holder_tid;
		row->holders = at.holders;
		row->held_ns = at.holders ? d->cursor - at.acquired_ns : 0;
		row->waiters = at.waiters;
		for (uint32_t k = 0; k < at.waiters && k < TS_RES_WAITERS_SHOWN && k < TS_REPLAY_WAITERS; k++)
			row->waiting_tasks[k] = at.waiting_tasks[k];
		row->acquisitions = at.acquisitions;
		row->contentions = at.contentions;
		row->wait_p99_ns = TS_UNKNOWN;
		row->hold_p99_ns = TS_UNKNOWN;
		row->max_hold_ns = at.max_hold_ns;
	}
	return 0;
}

/* The sparkline: busy % over each whole second before the cursor. */
static void fill_spark(struct ts_conn_db *d, size_t thread, struct ts_worker_row *row)
{
	struct ts_replay_thread_at a, b;
	uint64_t t = d->cursor;

	memset(row->busy_pct, TS_BUSY_UNKNOWN, sizeof(row->busy_pct));
	row->nbusy = 0;
	row->polls_per_s = -1;
	ts_replay_thread_at(d->r, thread, t, &b);
	for (unsigned k = 0; k < TS_SPARK_LEN && t >= d->first_ns + TS_WORKER_SAMPLE_NS; k++) {
		uint64_t busy;

		ts_replay_thread_at(d->r, thread, t - TS_WORKER_SAMPLE_NS, &a);
		busy = b.busy_ns > a.busy_ns ? b.busy_ns - a.busy_ns : 0;
		row->busy_pct[TS_SPARK_LEN - 1 - k] = (uint8_t)(busy >= TS_WORKER_SAMPLE_NS ? 100 :
								 busy * 100 / TS_WORKER_SAMPLE_NS);
		row->nbusy++;
		if (k == 0)
			row->polls_per_s = (double)(b.polls - a.polls);
		t -= TS_WORKER_SAMPLE_NS;
		b = a;
	}
}

static int fill_workers(struct ts_conn_db *d, struct ts_state *s)
{
	size_t n;
	const struct ts_replay_thread *th = ts_replay_threads(d->r, &n);
	int r = ts_state_reserve_workers(s, n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct ts_worker_row *row = &s->workers[s->nworkers++];
		struct ts_replay_thread_at at;

		ts_replay_thread_at(d->r, i, d->cursor, &at);
		memset(row, 0, sizeof(*row));
		row->pid = th[i].pid;
		row->tid = th[i].tid;
		row->role = th[i].role;
		row->name = th[i].name;
		row->polls = at.polls;
		row->current_name = "";
		row->state = at.polling ? TS_WORKER_POLLING : TS_WORKER_IDLE;
		if (at.polling) {
			row->current_task = at.task_id;
			row->current_name = task_name(d, th[i].pid, at.task_id);
			row->in_poll_ns = d->cursor - at.poll_start_ns;
		}
		row->stalled = ts_state_worker_stalled(s, th[i].pid, th[i].tid, d->cursor);
		if (row->stalled && at.polling)
			row->state = TS_WORKER_BLOCKED;
		fill_spark(d, i, row);
	}
	return 0;
}

static void detail_locks(struct ts_conn_db *d, struct ts_task_detail *det, const struct ts_replay_task *t)
{
	size_t n;
	const struct ts_replay_lock *locks = ts_replay_locks(d->r, &n);

	for (size_t i = 0; i < n && det->nlocks < TS_DETAIL_LOCKS; i++) {
		struct ts_replay_lock_at at;
		bool holds, waits = false;
		struct ts_detail_lock *l;

		if (locks[i].pid != t->pid)
			continue;
		ts_replay_lock_at(d->r, i, d->cursor, &at);
		holds = at.holders && at.holder_task == t->id;
		for (uint32_t k = 0; !holds && k < at.waiters && k < TS_REPLAY_WAITERS; k++)
			waits |= at.waiting_tasks[k] == t->id;
		if (!holds && !waits)
			continue;
		l = &det->locks[det->nlocks++];
		l->id = locks[i].id;
		l->kind = TS_RES_MUTEX;
		l->waits = waits;
		l->name = locks[i].name;
		l->location = "";
		l->since_ns = holds ? d->cursor - at.acquired_ns : TS_UNKNOWN;
	}
}

static void fill_detail(struct ts_conn_db *d, struct ts_state *s)
{
	struct ts_task_detail *det = &s->detail;
	const struct ts_replay_task *t = ts_replay_find_task(d->r, s->detail_pid, s->detail_id, d->cursor);
	const struct ts_replay_span *spans;
	struct ts_replay_task_at at;
	size_t n, from;

	memset(det, 0, sizeof(*det));
	if (!t || t->spawned_ns > d->cursor)
		return;                         /* not spawned yet at the cursor */
	ts_replay_task_at(d->r, t, d->cursor, &at);
	det->valid = true;
	fill_row(&det->row, t, &at, 0, d->cursor);
	if (!at.alive) {
		det->row.state = TS_TASK_DONE;
		det->row.outcome = t->outcome;
		det->row.total_ns = t->dropped_ns - t->spawned_ns;
		det->row.idle_ns = det->row.total_ns > at.busy_ns ? det->row.total_ns - at.busy_ns : 0;
		det->dropped_ns = t->dropped_ns;
		/* the final counts are the recording's */
		det->wakes = t->wakes;
		det->self_wakes = t->self_wakes;
		det->waker_clones = t->waker_clones;
		det->waker_drops = t->waker_drops;
	}
	det->spawned_ns = t->spawned_ns;
	det->wakers_unknown = true;
	det->max_poll_ns = at.max_poll_ns;
	det->poll_tid = at.running ? at.tid : 0;
	det->state_since_ns = at.running ? at.poll_start_ns : d->cursor;
	spans = ts_replay_task_spans(d->r, t, &n);
	n = at.polls < n ? at.polls : n;       /* begun by the cursor */
	det->have_hists = true;
	ts_histogram_init(&det->poll_hist);
	ts_histogram_init(&det->sched_hist);
	from = n > DETAIL_HIST_SPANS ? n - DETAIL_HIST_SPANS : 0;
	for (size_t i = from; i < n; i++)
		if (spans[i].end_ns <= d->cursor)
			ts_histogram_record(&det->poll_hist, spans[i].end_ns - spans[i].start_ns);
	from = n > TS_DETAIL_POLLS ? n - TS_DETAIL_POLLS : 0;
	for (size_t i = from; i < n; i++) {
		struct ts_detail_poll *p = &det->polls[det->npolls++];

		p->start_ns = spans[i].start_ns;
		p->running = spans[i].end_ns > d->cursor;
		p->end_ns = p->running ? d->cursor : spans[i].end_ns;
		p->on_cpu_ns = p->running ? -1 : spans[i].on_cpu_ns;
		p->tid = spans[i].tid;
		p->ready = !p->running && spans[i].ready;
	}
	ts_detail_collect_warnings(det, s, t->pid, t->id, t->spawned_ns);
	detail_locks(d, det, t);
}

int ts_conn_db_fill(struct ts_conn_db *d, struct ts_state *s)
{
	size_t nw;
	const struct ts_warning *w = ts_replay_warnings(d->r, d->cursor, &nw);
	int r;

	fill_warnings(d, s, w, nw);
	fill_procs(d, s);
	r = fill_tasks(d, s, w, nw);
	if (r == 0)
		r = fill_resources(d, s);
	if (r == 0)
		r = fill_workers(d, s);
	if (s->view == TS_VIEW_DETAILS)
		fill_detail(d, s);
	s->now_ns = d->cursor;
	s->filled = true;
	ts_state_sort(s);
	return r;
}

static void fmt_secs(char *buf, size_t len, uint64_t ns)
{
	snprintf(buf, len, "%llu.%03llu s", (unsigned long long)(ns / 1000000000ull),
		 (unsigned long long)(ns / 1000000ull % 1000));
}

void ts_conn_db_mode(const struct ts_conn_db *d, char *buf, size_t len)
{
	char at[32], total[32], speed[16];

	fmt_secs(at, sizeof(at), d->cursor - d->first_ns);
	fmt_secs(total, sizeof(total), d->last_ns - d->first_ns);
	if (d->speed >= 1)
		snprintf(speed, sizeof(speed), "x%g", d->speed);
	else
		snprintf(speed, sizeof(speed), "x1/%g", 1 / d->speed);
	snprintf(buf, len, "replay %s / %s %s", at, total, speed);
}

void ts_conn_db_target(const struct ts_conn_db *d, char *buf, size_t len)
{
	size_t n;
	const struct ts_replay_process *p = ts_replay_processes(d->r, &n);
	const char *exe, *slash;

	if (n == 0) {
		snprintf(buf, len, "no process");
		return;
	}
	exe = p[0].exe && p[0].exe[0] ? p[0].exe : "?";
	slash = strrchr(exe, '/');
	if (n == 1)
		snprintf(buf, len, "%s (pid %u)", slash ? slash + 1 : exe, p[0].pid);
	else
		snprintf(buf, len, "%s (pid %u) +%zu", slash ? slash + 1 : exe, p[0].pid, n - 1);
}

uint64_t ts_conn_db_dropped(const struct ts_conn_db *d)
{
	size_t n;
	const struct ts_replay_process *p = ts_replay_processes(d->r, &n);
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += p[i].dropped;
	return sum;
}
