/*
 * state.c: the console's state: its buffers, the order of resources,
 * threads and warnings, the filters, and what ties the lists together
 * (ts_state_sort). See state.h. The task table's filter and sort live in
 * state_sort.c, selection and views in state_nav.c.
 *
 * Each list's selection follows its item (task, resource, thread) across
 * refreshes.
 */
#include "console/state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/model.h"
#include "console/state_internal.h"

void ts_state_init(struct ts_state *s)
{
	memset(s, 0, sizeof(*s));
	s->sort_col = TS_COL_ID;
	s->view = TS_VIEW_TASKS;
	s->back_view = TS_VIEW_TASKS;
}

void ts_state_fini(struct ts_state *s)
{
	free(s->rows);
	free(s->sort_rows);
	free(s->sort_keys);
	free(s->conn_scratch);
	free(s->resources);
	free(s->workers);
	free(s->prev_workers);
	memset(s, 0, sizeof(*s));
}

int ts_state_grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t c;

	if (n <= *cap)
		return 0;
	c = *cap ? *cap : 64;
	while (c < n) {
		if (c > SIZE_MAX / 2 / size)
			return -ENOMEM;
		c *= 2;
	}
	p = realloc(*arr, c * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

int ts_state_reserve(struct ts_state *s, size_t n)
{
	return ts_state_grow((void **)&s->rows, &s->cap, n, sizeof(*s->rows));
}

struct ts_row *ts_state_spare_rows(struct ts_state *s, size_t n)
{
	return ts_state_grow((void **)&s->sort_rows, &s->cap_sort_rows, n, sizeof(*s->sort_rows)) < 0 ? NULL : s->sort_rows;
}

void ts_state_swap_rows(struct ts_state *s)
{
	struct ts_row *r = s->rows;
	size_t c = s->cap;

	s->rows = s->sort_rows;
	s->cap = s->cap_sort_rows;
	s->sort_rows = r;
	s->cap_sort_rows = c;
}

int ts_state_reserve_resources(struct ts_state *s, size_t n)
{
	return ts_state_grow((void **)&s->resources, &s->cap_res, n, sizeof(*s->resources));
}

int ts_state_reserve_workers(struct ts_state *s, size_t n)
{
	struct ts_worker_row *tmp;
	size_t cap;
	int r;

	/* the previous buffer must hold n too, since it becomes the next
	 * fill's buffer: grow it before anything moves */
	r = ts_state_grow((void **)&s->prev_workers, &s->cap_prev_workers, n, sizeof(*s->prev_workers));
	if (r < 0)
		return r;
	tmp = s->prev_workers;
	cap = s->cap_prev_workers;
	s->prev_workers = s->workers;
	s->cap_prev_workers = s->cap_workers;
	s->nprev_workers = s->nworkers;
	s->workers = tmp;
	s->cap_workers = cap;
	s->nworkers = 0;
	return 0;
}

const struct ts_worker_row *ts_state_prev_worker(const struct ts_state *s, size_t hint, uint32_t pid,
						 uint32_t tid)
{
	if (hint < s->nprev_workers && s->prev_workers[hint].pid == pid && s->prev_workers[hint].tid == tid)
		return &s->prev_workers[hint];
	for (size_t i = 0; i < s->nprev_workers; i++)
		if (s->prev_workers[i].pid == pid && s->prev_workers[i].tid == tid)
			return &s->prev_workers[i];
	return NULL;
}

void ts_state_worker_push(struct ts_worker_row *w, uint8_t pct)
{
	if (pct > 100 && pct != TS_BUSY_UNKNOWN)
		pct = 100;
	memmove(w->busy_pct, w->busy_pct + 1, TS_SPARK_LEN - 1);
	w->busy_pct[TS_SPARK_LEN - 1] = pct;
	w->nbusy = w->nbusy < TS_SPARK_LEN ? w->nbusy + 1 : TS_SPARK_LEN;
}

/* One busy % sample a second. `cpu_ns` is the thread's on-CPU time from
 * kernel context (0 without it): a thread that got none over a whole
 * sample is off the CPU, which tells parked from idle. */
void ts_state_worker_sample(struct ts_worker_row *row, const struct ts_worker_row *prev, uint64_t busy_now,
			    uint64_t cpu_ns, uint64_t now_ns)
{
	uint64_t dt;

	if (!prev || now_ns < prev->sample_start_ns) {
		row->nbusy = 0;
		memset(row->busy_pct, TS_BUSY_UNKNOWN, sizeof(row->busy_pct));
		row->sample_start_ns = now_ns;
		row->sample_busy_ns = busy_now;
		row->sample_polls = row->polls;
		row->sample_cpu_ns = cpu_ns;
		row->sample_off_cpu = false;
		row->polls_per_s = -1;
		return;
	}
	memcpy(row->busy_pct, prev->busy_pct, sizeof(row->busy_pct));
	row->nbusy = prev->nbusy;
	row->sample_start_ns = prev->sample_start_ns;
	row->sample_busy_ns = prev->sample_busy_ns;
	row->sample_polls = prev->sample_polls;
	row->sample_cpu_ns = prev->sample_cpu_ns;
	row->sample_off_cpu = prev->sample_off_cpu;
	row->polls_per_s = prev->polls_per_s;
	dt = now_ns - prev->sample_start_ns;
	if (dt < TS_WORKER_SAMPLE_NS)
		return;
	{
		uint64_t busy = busy_now > row->sample_busy_ns ? busy_now - row->sample_busy_ns : 0;
		uint64_t polls = row->polls > row->sample_polls ? row->polls - row->sample_polls : 0;
		uint64_t pct = busy >= dt ? 100 : busy * 100 / dt;

		ts_state_worker_push(row, (uint8_t)pct);
		row->polls_per_s = (double)polls * 1e9 / (double)dt;
	}
	row->sample_off_cpu = cpu_ns > 0 && cpu_ns == row->sample_cpu_ns;
	row->sample_start_ns = now_ns;
	row->sample_busy_ns = busy_now;
	row->sample_polls = row->polls;
	row->sample_cpu_ns = cpu_ns;
}

bool ts_state_worker_stalled(const struct ts_state *s, uint32_t pid, uint32_t tid, uint64_t now_ns)
{
	for (size_t i = s->nwarnings; i-- > 0;) {
		const struct ts_warning *w = &s->warnings[i].w;

		if (w->ts_ns + TS_STALL_RECENT_NS < now_ns)
			break;
		if (w->pid == pid && w->tid == tid &&
		    (w->kind == TS_WARN_LOOP_STALL || w->kind == TS_WARN_BLOCKED_WORKER))
			return true;
	}
	return false;
}

void ts_detail_collect_warnings(struct ts_task_detail *d, const struct ts_state *s, uint32_t pid,
				uint64_t id, uint64_t since_ns)
{
	for (size_t i = 0; i < s->nwarnings; i++) {
		const struct ts_recent_warning *w = &s->warnings[i];

		if (w->w.pid != pid || w->w.task_id != id || w->w.ts_ns < since_ns)
			continue;
		if (d->nwarnings == TS_DETAIL_WARNINGS) {
			memmove(d->warnings, d->warnings + 1, (TS_DETAIL_WARNINGS - 1) * sizeof(d->warnings[0]));
			d->nwarnings--;
		}
		d->warnings[d->nwarnings++] = *w;
	}
}

/* ---- resources: most contended first; workers: workers first ---- */

#define CMP(x, y) ((x) < (y) ? -1 : (x) > (y) ? 1 : 0)

static int compare_res(const void *pa, const void *pb)
{
	const struct ts_res_row *a = pa, *b = pb;
	int r = -CMP(a->waiters, b->waiters);

	if (r == 0)
		r = -CMP(a->contentions, b->contentions);
	if (r == 0)
		r = CMP(a->pid, b->pid);
	if (r == 0)
		r = CMP(a->id, b->id);
	return r;
}

static int role_rank(uint8_t role)
{
	return role == TS_ROLE_WORKER ? 0 : role == TS_ROLE_BLOCKING ? 1 : 2;
}

static int compare_worker(const void *pa, const void *pb)
{
	const struct ts_worker_row *a = pa, *b = pb;
	int r = CMP(role_rank(a->role), role_rank(b->role));

	if (r == 0)
		r = CMP(a->pid, b->pid);
	if (r == 0)
		r = CMP(a->tid, b->tid);
	return r;
}

static void sort_resources(struct ts_state *s)
{
	struct ts_cursor *c = &s->cur[TS_VIEW_RESOURCES];
	bool had = c->selected < s->nres && s->sel_res_id;

	if (s->nres > 1)
		qsort(s->resources, s->nres, sizeof(*s->resources), compare_res);
	if (had) {
		for (size_t i = 0; i < s->nres; i++) {
			if (s->resources[i].id == s->sel_res_id && s->resources[i].pid == s->sel_res_pid) {
				c->selected = i;
				return;
			}
		}
	}
	if (c->selected >= s->nres)
		c->selected = s->nres ? s->nres - 1 : 0;
	s->sel_res_pid = s->nres ? s->resources[c->selected].pid : 0;
	s->sel_res_id = s->nres ? s->resources[c->selected].id : 0;
}

static void sort_workers(struct ts_state *s)
{
	struct ts_cursor *c = &s->cur[TS_VIEW_WORKERS];

	if (s->nworkers > 1)
		qsort(s->workers, s->nworkers, sizeof(*s->workers), compare_worker);
	if (s->sel_worker_tid) {
		for (size_t i = 0; i < s->nworkers; i++) {
			if (s->workers[i].tid == s->sel_worker_tid && s->workers[i].pid == s->sel_worker_pid) {
				c->selected = i;
				return;
			}
		}
	}
	if (c->selected >= s->nworkers)
		c->selected = s->nworkers ? s->nworkers - 1 : 0;
	s->sel_worker_pid = s->nworkers ? s->workers[c->selected].pid : 0;
	s->sel_worker_tid = s->nworkers ? s->workers[c->selected].tid : 0;
}

/* Warnings grouped by kind (in kind order), newest first within a kind. */
static void order_warnings(struct ts_state *s)
{
	size_t k = 0;

	if (s->nwarnings > TS_STATE_WARNINGS)
		s->nwarnings = TS_STATE_WARNINGS;
	for (uint32_t kind = 0; kind < TS_WARN_KIND_COUNT; kind++)
		for (size_t i = s->nwarnings; i-- > 0;)
			if (s->warnings[i].w.kind == kind)
				s->worder[k++] = (uint16_t)i;
	/* unknown kinds last, so every warning stays reachable */
	for (size_t i = s->nwarnings; i-- > 0;)
		if (s->warnings[i].w.kind >= TS_WARN_KIND_COUNT)
			s->worder[k++] = (uint16_t)i;
	if (s->cur[TS_VIEW_WARNINGS].selected >= k)
		s->cur[TS_VIEW_WARNINGS].selected = k ? k - 1 : 0;
}

void ts_state_sort(struct ts_state *s)
{
	ts_state_sort_tasks(s);
	sort_resources(s);
	sort_workers(s);
	order_warnings(s);
}

void ts_state_sort_step(struct ts_state *s, int delta)
{
	int col = ((int)s->sort_col + delta) % TS_COL_COUNT;

	if (col < 0)
		col += TS_COL_COUNT;
	s->sort_col = (unsigned)col;
	s->invert = false;
	ts_state_remember_task(s);
	ts_state_sort(s);
}

void ts_state_sort_invert(struct ts_state *s)
{
	s->invert = !s->invert;
	ts_state_remember_task(s);
	ts_state_sort(s);
}

void ts_state_set_filter(struct ts_state *s, const char *text)
{
	size_t n = strlen(text);

	if (n >= sizeof(s->filter))
		n = sizeof(s->filter) - 1;
	memcpy(s->filter, text, n);
	s->filter[n] = '\0';
	ts_state_sort(s);
}

void ts_state_cycle_state_filter(struct ts_state *s)
{
	s->state_filter = (s->state_filter + 1) % TS_FILTER_COUNT;
	ts_state_sort(s);
}

void ts_state_toggle_warn_only(struct ts_state *s)
{
	s->warn_only = !s->warn_only;
	ts_state_sort(s);
}

uint64_t ts_state_hist_outliers(const struct ts_histogram *h)
{
	uint64_t q1, q3, fence, n = 0;

	if (!h->count)
		return 0;
	q1 = ts_histogram_quantile(h, 0.25);
	q3 = ts_histogram_quantile(h, 0.75);
	fence = q3 + (q3 - q1) + (q3 - q1) / 2;
	for (unsigned b = 0; b < TS_HIST_BUCKETS; b++) {
		uint64_t lo, hi;

		ts_histogram_bucket_range(b, &lo, &hi);
		if (lo > fence)
			n += h->buckets[b];
	}
	return n;
}
