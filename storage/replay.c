/*
 * replay.c: load a recording into sorted arrays with prefix sums, then
 * answer "what was true at T" by binary search (see replay.h for why and
 * for the rules of state at T).
 *
 * Everything comes from the documented SQL views, so a recording made by
 * any writer of this schema version replays. Values are checked as they
 * are read (a NULL, a negative time or an unknown kind name becomes a
 * default) although the file is the user's own: a damaged recording costs
 * its own accuracy, never a crash.
 */
#include "storage/replay.h"
#include "storage/replay_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "collector/event.h"
#include "collector/strpool.h"
#include "storage/query.h"

#define STRPOOL_BYTES (64u << 20)
#define MAX_ROWS 50000000u          /* per table: far above any sane recording */

static uint64_t col_u64(sqlite3_stmt *st, int col, uint64_t dflt)
{
	sqlite3_int64 v;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return dflt;
	v = sqlite3_column_int64(st, col);
	return v < 0 ? dflt : (uint64_t)v;
}

static const char *col_str(struct ts_replay *r, sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);
	int n = sqlite3_column_bytes(st, col);

	return ts_strpool_intern(r->pool, s ? s : "", s && n > 0 ? (size_t)n : 0);
}

static uint8_t name_index(const char *s, const char *(*name_of)(uint32_t), uint8_t n, uint8_t dflt)
{
	for (uint8_t i = 0; s && i < n; i++) {
		const char *k = name_of(i);

		if (k && !strcmp(k, s))
			return i;
	}
	return dflt;
}

/* Grow *arr (of `size`-byte items) to hold one more than *n. */
static int grow(void *arr, size_t *cap, size_t n, size_t size)
{
	void **p = arr;
	size_t ncap;
	void *q;

	if (n < *cap)
		return 0;
	if (n >= MAX_ROWS)
		return -EFBIG;
	ncap = *cap ? *cap * 2 : 1024;
	q = realloc(*p, ncap * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = ncap;
	return 0;
}

static void note_time(struct ts_replay *r, uint64_t t)
{
	if (t == TS_REPLAY_NEVER || t == 0)
		return;
	if (!r->first_ns || t < r->first_ns)
		r->first_ns = t;
	if (t > r->last_ns)
		r->last_ns = t;
}

/* Loading: the arrays' capacities and the spans before they are sorted. */
struct raw_span {
	uint32_t pid;
	uint64_t task_id;
	struct ts_replay_span s;
};

struct loader {
	struct ts_replay *r;
	size_t tasks_cap, spans_cap, threads_cap, lspans_cap, warn_cap, procs_cap;
	struct raw_span *raw;
};

/* Run `sql` and hand each row to `row`; stops at the first error. */
static int each_row(sqlite3 *db, const char *sql, struct loader *l,
		    int (*row)(struct loader *l, sqlite3_stmt *st), char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot read the recording: %s", sqlite3_errmsg(db));
		return -EINVAL;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = row(l, st);
		if (ret < 0) {
			snprintf(err, errlen, "cannot load the recording: %s", strerror(-ret));
			goto cleanup;
		}
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "cannot read the recording: %s", sqlite3_errmsg(db));
		ret = -EIO;
	}
cleanup:
	sqlite3_finalize(st);
	return ret;
}

static int row_task(struct loader *l, sqlite3_stmt *st)
{
	struct ts_replay *r = l->r;
	struct ts_replay_task *t;
	int rc = grow(&r->tasks, &l->tasks_cap, r->ntasks, sizeof(*t));

	if (rc < 0)
		return rc;
	t = &r->tasks[r->ntasks++];
	memset(t, 0, sizeof(*t));
	t->pid = (uint32_t)col_u64(st, 0, 0);
	t->id = col_u64(st, 1, 0);
	t->parent = col_u64(st, 2, 0);
	t->name = col_str(r, st, 3);
	t->location = col_str(r, st, 4);
	t->kind = name_index((const char *)sqlite3_column_text(st, 5), ts_task_kind_name, 3, TS_KIND_TASK);
	t->spawned_ns = col_u64(st, 6, 0);
	t->dropped_ns = col_u64(st, 7, TS_REPLAY_NEVER);
	t->outcome = name_index((const char *)sqlite3_column_text(st, 8), ts_outcome_name, 4,
				TS_OUTCOME_RUNNING);
	t->wakes = col_u64(st, 9, 0);
	t->self_wakes = col_u64(st, 10, 0);
	t->waker_clones = col_u64(st, 11, 0);
	t->waker_drops = col_u64(st, 12, 0);
	if (t->dropped_ns < t->spawned_ns)
		t->dropped_ns = t->spawned_ns;
	note_time(r, t->spawned_ns);
	note_time(r, t->dropped_ns);
	return 0;
}

static int row_span(struct loader *l, sqlite3_stmt *st)
{
	struct raw_span *s;
	int rc = grow(&l->raw, &l->spans_cap, l->r->nspans, sizeof(*s));

	if (rc < 0)
		return rc;
	s = &l->raw[l->r->nspans++];
	memset(s, 0, sizeof(*s));
	s->pid = (uint32_t)col_u64(st, 0, 0);
	s->task_id = col_u64(st, 1, 0);
	s->s.tid = (uint32_t)col_u64(st, 2, 0);
	s->s.start_ns = col_u64(st, 3, 0);
	s->s.end_ns = col_u64(st, 4, 0);
	if (s->s.end_ns < s->s.start_ns)
		s->s.end_ns = s->s.start_ns;
	s->s.on_cpu_ns = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : (int64_t)col_u64(st, 5, 0);
	s->s.ready = col_u64(st, 6, 0) != 0;
	note_time(l->r, s->s.start_ns);
	note_time(l->r, s->s.end_ns);
	return 0;
}

static int row_thread(struct loader *l, sqlite3_stmt *st)
{
	struct ts_replay *r = l->r;
	struct ts_replay_thread *t;
	int rc = grow(&r->threads, &l->threads_cap, r->nthreads, sizeof(*t));

	if (rc < 0)
		return rc;
	t = &r->threads[r->nthreads++];
	t->pid = (uint32_t)col_u64(st, 0, 0);
	t->tid = (uint32_t)col_u64(st, 1, 0);
	t->name = col_str(r, st, 2);
	t->role = name_index((const char *)sqlite3_column_text(st, 3), ts_thread_role_name, 3, TS_ROLE_OTHER);
	return 0;
}

static int row_lock(struct loader *l, sqlite3_stmt *st)
{
	struct ts_replay *r = l->r;
	struct lock_span *s;
	int rc = grow(&r->lspans, &l->lspans_cap, r->nlspans, sizeof(*s));

	if (rc < 0)
		return rc;
	s = &r->lspans[r->nlspans++];
	memset(s, 0, sizeof(*s));
	s->pid = (uint32_t)col_u64(st, 0, 0);
	s->lock_id = col_u64(st, 1, 0);
	s->name = col_str(r, st, 2);
	s->task_id = col_u64(st, 3, 0);
	s->tid = (uint32_t)col_u64(st, 4, 0);
	s->wait_start_ns = col_u64(st, 5, 0);
	s->acquired_ns = col_u64(st, 6, 0);
	s->released_ns = col_u64(st, 7, 0);
	if (s->released_ns < s->acquired_ns)
		s->released_ns = s->acquired_ns;
	if (s->wait_start_ns > s->acquired_ns)
		s->wait_start_ns = s->acquired_ns;
	note_time(r, s->wait_start_ns);
	note_time(r, s->acquired_ns);
	note_time(r, s->released_ns);
	return 0;
}

static int row_warning(struct loader *l, sqlite3_stmt *st)
{
	struct ts_replay *r = l->r;
	struct ts_warning *w;
	const char *d;
	int kind, rc = grow(&r->warnings, &l->warn_cap, r->nwarnings, sizeof(*w));

	if (rc < 0)
		return rc;
	kind = ts_warning_kind_parse((const char *)sqlite3_column_text(st, 3) ?: "");
	if (kind < 0)
		return 0; /* a kind this taskscope does not know: not shown */
	w = &r->warnings[r->nwarnings++];
	memset(w, 0, sizeof(*w));
	w->pid = (uint32_t)col_u64(st, 0, 0);
	w->task_id = col_u64(st, 1, 0);
	w->tid = (uint32_t)col_u64(st, 2, 0);
	w->kind = (uint32_t)kind;
	w->ts_ns = col_u64(st, 4, 0);
	w->duration_ns = col_u64(st, 5, 0);
	d = (const char *)sqlite3_column_text(st, 6);
	snprintf(w->detail, sizeof(w->detail), "%s", d ? d : "");
	note_time(r, w->ts_ns);
	return 0;
}

static int row_process(struct loader *l, sqlite3_stmt *st)
{
	struct ts_replay *r = l->r;
	struct ts_replay_process *p;
	int rc = grow(&r->procs, &l->procs_cap, r->nprocs, sizeof(*p));

	if (rc < 0)
		return rc;
	p = &r->procs[r->nprocs++];
	p->pid = (uint32_t)col_u64(st, 0, 0);
	p->exe = col_str(r, st, 1);
	p->runtime = col_str(r, st, 2);
	p->source = col_str(r, st, 3);
	p->started_ns = col_u64(st, 4, 0);
	p->events = col_u64(st, 5, 0);
	p->dropped = col_u64(st, 6, 0);
	note_time(r, p->started_ns);
	return 0;
}

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

/* qsort, which must not be given a NULL array even when it is empty. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static int cmp_task(const void *a, const void *b)
{
	const struct ts_replay_task *x = a, *y = b;

	if (x->pid != y->pid)
		return CMP(x->pid, y->pid);
	if (x->id != y->id)
		return CMP(x->id, y->id);
	return CMP(x->spawned_ns, y->spawned_ns);
}

static int cmp_raw_span(const void *a, const void *b)
{
	const struct raw_span *x = a, *y = b;

	if (x->pid != y->pid)
		return CMP(x->pid, y->pid);
	if (x->task_id != y->task_id)
		return CMP(x->task_id, y->task_id);
	return CMP(x->s.start_ns, y->s.start_ns);
}

static int cmp_thread(const void *a, const void *b)
{
	const struct ts_replay_thread *x = a, *y = b;

	return x->pid != y->pid ? CMP(x->pid, y->pid) : CMP(x->tid, y->tid);
}

static int cmp_lspan(const void *a, const void *b)
{
	const struct lock_span *x = a, *y = b;

	if (x->pid != y->pid)
		return CMP(x->pid, y->pid);
	if (x->lock_id != y->lock_id)
		return CMP(x->lock_id, y->lock_id);
	return CMP(x->acquired_ns, y->acquired_ns);
}

static int cmp_warning(const void *a, const void *b)
{
	const struct ts_warning *x = a, *y = b;

	return CMP(x->ts_ns, y->ts_ns);
}

static int cmp_u64(const void *a, const void *b)
{
	return CMP(*(const uint64_t *)a, *(const uint64_t *)b);
}

/* Give every span to the task life it belongs to: tasks and spans are both
 * sorted by (pid, id), and a span goes to the latest life of its id spawned
 * at or before it (a re-used id is a new life). Spans of no known task are
 * dropped. The loading copy is freed as soon as the spans are placed. */
static int index_spans(struct loader *l)
{
	struct ts_replay *r = l->r;
	size_t i = 0, n = 0;

	sort(r->tasks, r->ntasks, sizeof(*r->tasks), cmp_task);
	sort(l->raw, r->nspans, sizeof(*l->raw), cmp_raw_span);
	r->spans = calloc(r->nspans ? r->nspans : 1, sizeof(*r->spans));
	if (!r->spans)
		return -ENOMEM;
	for (size_t t = 0; t < r->ntasks; t++) {
		struct ts_replay_task *task = &r->tasks[t];
		const struct ts_replay_task *next = t + 1 < r->ntasks ? &r->tasks[t + 1] : NULL;
		bool same_next = next && next->pid == task->pid && next->id == task->id;
		uint64_t busy = 0, max = 0;

		/* skip spans of ids before this one */
		while (i < r->nspans && (l->raw[i].pid < task->pid ||
					 (l->raw[i].pid == task->pid && l->raw[i].task_id < task->id)))
			i++;
		task->span0 = (uint32_t)n;
		while (i < r->nspans && l->raw[i].pid == task->pid && l->raw[i].task_id == task->id &&
		       !(same_next && l->raw[i].s.start_ns >= next->spawned_ns)) {
			struct ts_replay_span *s = &r->spans[n++];
			uint64_t d;

			*s = l->raw[i++].s;
			d = s->end_ns - s->start_ns;
			busy += d;
			max = d > max ? d : max;
			s->cum_busy_ns = busy;
			s->cum_max_ns = max;
			s->task = (uint32_t)t;
		}
		task->nspans = (uint32_t)(n - task->span0);
	}
	r->nspans = n;
	free(l->raw);
	l->raw = NULL;
	return 0;
}

/* Thread order of the spans: (pid, tid, start). */
static int cmp_tspan(const void *a, const void *b, void *ctx)
{
	const struct ts_replay *r = ctx;
	const struct ts_replay_span *x = &r->spans[*(const uint32_t *)a], *y = &r->spans[*(const uint32_t *)b];
	uint32_t px = r->tasks[x->task].pid, py = r->tasks[y->task].pid;

	if (px != py)
		return CMP(px, py);
	if (x->tid != y->tid)
		return CMP(x->tid, y->tid);
	return CMP(x->start_ns, y->start_ns);
}

/* Threads: the threads view plus every (pid, tid) that polled, each with
 * its spans in time order (indexes into spans) and their running busy sum. */
static int index_threads(struct loader *l)
{
	struct ts_replay *r = l->r;
	uint64_t busy = 0;
	size_t nlisted = r->nthreads;
	uint32_t ppid = 0, ptid = 0;

	r->tspan = malloc((r->nspans ? r->nspans : 1) * sizeof(*r->tspan));
	r->tcum = malloc((r->nspans ? r->nspans : 1) * sizeof(*r->tcum));
	if (!r->tspan || !r->tcum)
		return -ENOMEM;
	for (size_t k = 0; k < r->nspans; k++)
		r->tspan[k] = (uint32_t)k;
	if (r->nspans > 1)
		qsort_r(r->tspan, r->nspans, sizeof(*r->tspan), cmp_tspan, r);
	sort(r->threads, nlisted, sizeof(*r->threads), cmp_thread);
	for (size_t k = 0; k < r->nspans; k++) {
		const struct ts_replay_span *s = &r->spans[r->tspan[k]];
		struct ts_replay_thread key = { .pid = r->tasks[s->task].pid, .tid = s->tid };

		if (k == 0 || key.pid != ppid || key.tid != ptid) {
			busy = 0;
			ppid = key.pid;
			ptid = key.tid;
			if (!nlisted || !bsearch(&key, r->threads, nlisted, sizeof(key), cmp_thread)) {
				int rc = grow(&r->threads, &l->threads_cap, r->nthreads, sizeof(key));

				if (rc < 0)
					return rc;
				key.name = "";
				key.role = TS_ROLE_OTHER;
				r->threads[r->nthreads++] = key;
			}
		}
		busy += s->end_ns - s->start_ns;
		r->tcum[k] = busy;
	}
	sort(r->threads, r->nthreads, sizeof(*r->threads), cmp_thread);
	r->thread_span0 = calloc(r->nthreads + 1, sizeof(uint32_t));
	r->thread_nspans = calloc(r->nthreads + 1, sizeof(uint32_t));
	if (!r->thread_span0 || !r->thread_nspans)
		return -ENOMEM;
	for (size_t t = 0, k = 0; t < r->nthreads; t++) {
		const struct ts_replay_thread *th = &r->threads[t];

		while (k < r->nspans && cmp_thread(&(struct ts_replay_thread){
				.pid = r->tasks[r->spans[r->tspan[k]].task].pid,
				.tid = r->spans[r->tspan[k]].tid }, th) < 0)
			k++;
		r->thread_span0[t] = (uint32_t)k;
		while (k < r->nspans && r->tasks[r->spans[r->tspan[k]].task].pid == th->pid &&
		       r->spans[r->tspan[k]].tid == th->tid)
			k++;
		r->thread_nspans[t] = (uint32_t)(k - r->thread_span0[t]);
	}
	return 0;
}

static int index_locks(struct loader *l)
{
	struct ts_replay *r = l->r;
	uint64_t cont = 0, max = 0;
	size_t cap = 0;

	sort(r->lspans, r->nlspans, sizeof(*r->lspans), cmp_lspan);
	for (size_t k = 0; k < r->nlspans; k++) {
		struct lock_span *s = &r->lspans[k];
		uint64_t hold = s->released_ns - s->acquired_ns;

		if (k == 0 || s->pid != s[-1].pid || s->lock_id != s[-1].lock_id) {
			int rc = grow(&r->locks, &cap, r->nlocks, sizeof(*r->locks));

			if (rc < 0)
				return rc;
			r->locks[r->nlocks++] = (struct ts_replay_lock){ s->pid, s->lock_id, s->name, (uint32_t)k, 0 };
			cont = max = 0;
		}
		cont += s->wait_start_ns != 0 && s->wait_start_ns < s->acquired_ns;
		max = hold > max ? hold : max;
		s->cum_contentions = cont;
		s->cum_max_hold_ns = max;
		r->locks[r->nlocks - 1].nspans++;
	}
	return 0;
}

static int index_warnings(struct ts_replay *r)
{
	size_t pos[TS_WARN_KIND_COUNT] = { 0 };

	sort(r->warnings, r->nwarnings, sizeof(*r->warnings), cmp_warning);
	for (size_t i = 0; i < r->nwarnings; i++)
		r->kind_n[r->warnings[i].kind]++;
	for (unsigned k = 0; k < TS_WARN_KIND_COUNT; k++) {
		r->kind_ts[k] = malloc((r->kind_n[k] ? r->kind_n[k] : 1) * sizeof(uint64_t));
		if (!r->kind_ts[k])
			return -ENOMEM;
	}
	for (size_t i = 0; i < r->nwarnings; i++) {
		const struct ts_warning *w = &r->warnings[i];

		r->kind_ts[w->kind][pos[w->kind]++] = w->ts_ns;
	}
	for (unsigned k = 0; k < TS_WARN_KIND_COUNT; k++)
		sort(r->kind_ts[k], r->kind_n[k], sizeof(uint64_t), cmp_u64);
	return 0;
}

int ts_replay_open(const char *path, struct ts_replay **out, char *err, size_t errlen)
{
	struct loader l = { 0 };
	sqlite3 *db = NULL;
	int r;

	*out = NULL;
	l.r = calloc(1, sizeof(*l.r));
	if (!l.r)
		return -ENOMEM;
	r = ts_strpool_new(STRPOOL_BYTES, &l.r->pool);
	if (r < 0)
		goto cleanup;
	r = ts_query_open(path, &db, err, errlen);
	if (r < 0)
		goto cleanup;
	r = each_row(db, "SELECT pid, task_id, parent_id, name, location, kind, spawned_ns, dropped_ns, outcome,"
		     " wakes, self_wakes, waker_clones, waker_drops FROM task_summary", &l, row_task, err, errlen);
	if (r == 0)
		r = each_row(db, "SELECT pid, task_id, tid, start_ns, end_ns, on_cpu_ns, ready FROM poll_spans",
			     &l, row_span, err, errlen);
	if (r == 0)
		r = each_row(db, "SELECT pid, tid, name, role FROM threads", &l, row_thread, err, errlen);
	if (r == 0)
		r = each_row(db, "SELECT pid, lock_id, lock_name, task_id, tid, wait_start_ns, acquired_ns,"
			     " released_ns FROM lock_spans", &l, row_lock, err, errlen);
	if (r == 0)
		r = each_row(db, "SELECT pid, task_id, tid, kind, ts_ns, duration_ns, detail FROM warnings",
			     &l, row_warning, err, errlen);
	if (r == 0)
		r = each_row(db, "SELECT pid, exe, runtime, source, started_ns, events, events_dropped"
			     " FROM processes ORDER BY started_ns", &l, row_process, err, errlen);
	if (r < 0)
		goto cleanup;
	r = index_spans(&l);
	if (r == 0)
		r = index_threads(&l);
	if (r == 0)
		r = index_locks(&l);
	if (r == 0)
		r = index_warnings(l.r);
	if (r < 0) {
		snprintf(err, errlen, "cannot load %s: %s", path, strerror(-r));
		goto cleanup;
	}
	if (l.r->last_ns < l.r->first_ns)
		l.r->last_ns = l.r->first_ns;
	*out = l.r;
	l.r = NULL;
cleanup:
	if (db)
		sqlite3_close(db);
	free(l.raw);
	ts_replay_free(l.r);
	return r;
}

void ts_replay_free(struct ts_replay *r)
{
	if (!r)
		return;
	free(r->tasks);
	free(r->spans);
	free(r->threads);
	free(r->thread_span0);
	free(r->thread_nspans);
	free(r->tspan);
	free(r->tcum);
	free(r->locks);
	free(r->lspans);
	free(r->warnings);
	for (unsigned k = 0; k < TS_WARN_KIND_COUNT; k++)
		free(r->kind_ts[k]);
	free(r->procs);
	ts_strpool_free(r->pool);
	free(r);
}
