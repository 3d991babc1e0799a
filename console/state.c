/*
 * state.c: the console's lists: filters, sorting, selection, views. See
 * state.h.
 *
 * Filtering partitions the rows (shown ones first) instead of copying
 * them, so a paused console can change its filter and get hidden rows
 * back. Sorting 100k rows with qsort_r takes a few milliseconds, cheap
 * enough to redo on every refresh; ties are broken by (pid, id) so equal
 * rows never swap places between frames. Each list's selection follows
 * its item (task, resource, thread) across refreshes.
 */
#include "console/state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/model.h"

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

static int grow(void **arr, size_t *cap, size_t n, size_t size)
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
	return grow((void **)&s->rows, &s->cap, n, sizeof(*s->rows));
}

struct ts_row *ts_state_spare_rows(struct ts_state *s, size_t n)
{
	return grow((void **)&s->sort_rows, &s->cap_sort_rows, n, sizeof(*s->sort_rows)) < 0 ? NULL : s->sort_rows;
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
	return grow((void **)&s->resources, &s->cap_res, n, sizeof(*s->resources));
}

int ts_state_reserve_workers(struct ts_state *s, size_t n)
{
	struct ts_worker_row *tmp;
	size_t cap;
	int r;

	/* the previous buffer must hold n too, since it becomes the next
	 * fill's buffer: grow it before anything moves */
	r = grow((void **)&s->prev_workers, &s->cap_prev_workers, n, sizeof(*s->prev_workers));
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

/* ---- tasks: filters and sort ---- */

bool ts_state_col_descending(unsigned col)
{
	switch (col) {
	case TS_COL_WARN:
	case TS_COL_TOTAL:
	case TS_COL_BUSY:
	case TS_COL_SCHED:
	case TS_COL_IDLE:
	case TS_COL_POLLS:
		return true;
	default:
		return false;
	}
}

#define CMP(x, y) ((x) < (y) ? -1 : (x) > (y) ? 1 : 0)

static int compare_col(unsigned col, const struct ts_row *a, const struct ts_row *b)
{
	switch (col) {
	case TS_COL_WARN:
		return CMP(a->nwarn, b->nwarn);
	case TS_COL_STATE:
		return CMP(a->state, b->state);
	case TS_COL_NAME:
		return strcmp(a->name, b->name);
	case TS_COL_TOTAL:
		return CMP(a->total_ns, b->total_ns);
	case TS_COL_BUSY:
		return CMP(a->busy_ns, b->busy_ns);
	case TS_COL_SCHED:
		return CMP(a->sched_ns, b->sched_ns);
	case TS_COL_IDLE:
		return CMP(a->idle_ns, b->idle_ns);
	case TS_COL_POLLS:
		return CMP(a->polls, b->polls);
	case TS_COL_KIND:
		return CMP(a->kind, b->kind);
	case TS_COL_LOCATION:
		return strcmp(a->location, b->location);
	case TS_COL_FIELDS:
		return strcmp(a->fields, b->fields);
	case TS_COL_ID:
	default:
		return 0;           /* the (pid, id) tie-break is the ID order */
	}
}

int ts_state_compare(const struct ts_state *s, const struct ts_row *a, const struct ts_row *b)
{
	bool desc = ts_state_col_descending(s->sort_col) != s->invert;
	int r = compare_col(s->sort_col, a, b);

	if (r == 0)
		r = CMP(a->pid, b->pid);
	if (r == 0)
		r = CMP(a->id, b->id);
	return desc ? -r : r;
}

static int compare_qsort(const void *a, const void *b, void *ctx)
{
	return ts_state_compare(ctx, a, b);
}

/* ASCII case-insensitive substring: names come from the target and are
 * not trusted to be valid UTF-8, so no locale-aware folding. */
static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return true;
	for (; *hay; hay++) {
		size_t i = 0;

		while (i < n && hay[i]) {
			char a = hay[i], b = needle[i];

			if (a >= 'A' && a <= 'Z')
				a = (char)(a - 'A' + 'a');
			if (b >= 'A' && b <= 'Z')
				b = (char)(b - 'A' + 'a');
			if (a != b)
				break;
			i++;
		}
		if (i == n)
			return true;
	}
	return false;
}

bool ts_state_row_matches(const struct ts_state *s, const struct ts_row *r)
{
	if (s->state_filter != TS_FILTER_ALL && r->state != s->state_filter - 1)
		return false;
	if (s->warn_only && !r->nwarn)
		return false;
	if (s->filter[0] && !contains_nocase(r->name, s->filter) && !contains_nocase(r->location, s->filter))
		return false;
	return true;
}

/* Remember which task is selected so the selection survives a re-sort. */
static void remember_task(struct ts_state *s)
{
	struct ts_cursor *c = &s->cur[TS_VIEW_TASKS];

	s->have_sel = s->nshown > 0;
	if (!s->have_sel)
		return;
	if (c->selected >= s->nshown)
		c->selected = s->nshown - 1;
	s->sel_pid = s->rows[c->selected].pid;
	s->sel_id = s->rows[c->selected].id;
}

/* The task sort. qsort_r over 96-byte rows with an indirect comparator
 * took ~30 ms a frame at 100k tasks; instead each shown row gets a small
 * key (the column's value, or the first 8 bytes of its text, in an order
 * where smaller sorts first) and a merge sort with the comparison inlined
 * orders the keys; the rows are then permuted once into a second buffer. */
struct ts_state_sort_key {
	uint64_t k;                 /* primary: value, or big-endian text prefix */
	uint64_t id;
	uint32_t pid;
	uint32_t idx;               /* the row */
};

static const char *col_text(unsigned col, const struct ts_row *r)
{
	return col == TS_COL_NAME ? r->name : col == TS_COL_LOCATION ? r->location
	     : col == TS_COL_FIELDS ? r->fields : NULL;
}

static uint64_t text_prefix(const char *t)
{
	uint64_t k = 0;
	size_t i = 0;

	for (; i < 8 && t[i]; i++)
		k = k << 8 | (uint8_t)t[i];
	return k << (8 * (8 - i));
}

static uint64_t col_key(unsigned col, const struct ts_row *r)
{
	switch (col) {
	case TS_COL_WARN:
		return r->nwarn;
	case TS_COL_STATE:
		return r->state;
	case TS_COL_TOTAL:
		return r->total_ns;
	case TS_COL_BUSY:
		return r->busy_ns;
	case TS_COL_SCHED:
		return r->sched_ns;
	case TS_COL_IDLE:
		return r->idle_ns;
	case TS_COL_POLLS:
		return r->polls;
	case TS_COL_KIND:
		return r->kind;
	case TS_COL_NAME:
	case TS_COL_LOCATION:
	case TS_COL_FIELDS:
		return text_prefix(col_text(col, r));
	default:
		return 0;           /* ID: the tie-break is the order */
	}
}

struct sorter {
	const struct ts_row *rows;
	unsigned col;
	bool text;
	bool desc;
};

/* Ascending (key, text, pid, id), reversed as a whole when descending: the
 * order ts_state_compare defines. */
static inline bool key_before(const struct sorter *so, const struct ts_state_sort_key *a, const struct ts_state_sort_key *b)
{
	int r = CMP(a->k, b->k);

	if (r == 0 && so->text) {
		const char *x = col_text(so->col, &so->rows[a->idx]), *y = col_text(so->col, &so->rows[b->idx]);

		if (x != y)
			r = strcmp(x, y);
	}
	if (r == 0)
		r = CMP(a->pid, b->pid);
	if (r == 0)
		r = CMP(a->id, b->id);
	return so->desc ? r > 0 : r < 0;
}

static void merge_sort(const struct sorter *so, struct ts_state_sort_key *a, struct ts_state_sort_key *tmp, size_t n)
{
	size_t mid, i, j, k;

	if (n <= 16) {
		for (i = 1; i < n; i++) {
			struct ts_state_sort_key v = a[i];

			for (j = i; j > 0 && key_before(so, &v, &a[j - 1]); j--)
				a[j] = a[j - 1];
			a[j] = v;
		}
		return;
	}
	mid = n / 2;
	merge_sort(so, a, tmp, mid);
	merge_sort(so, a + mid, tmp, n - mid);
	if (!key_before(so, &a[mid], &a[mid - 1]))
		return;             /* already in order (common between frames) */
	memcpy(tmp, a, mid * sizeof(*a));
	for (i = 0, j = mid, k = 0; i < mid && j < n;)
		a[k++] = key_before(so, &a[j], &tmp[i]) ? a[j++] : tmp[i++];
	while (i < mid)
		a[k++] = tmp[i++];
}

/* Sort rows[0..n) with the keys; falls back to qsort_r without memory. */
static void sort_rows(struct ts_state *s, size_t n)
{
	struct sorter so = { s->rows, s->sort_col, col_text(s->sort_col, &s->rows[0]) != NULL,
			     ts_state_col_descending(s->sort_col) != s->invert };
	struct ts_state_sort_key *keys = NULL;
	struct ts_row *out = NULL;

	if (grow((void **)&s->sort_keys, &s->cap_sort_keys, n * 3 / 2 + 1, sizeof(*keys)) < 0 ||
	    !(out = ts_state_spare_rows(s, s->nrows))) {
		qsort_r(s->rows, n, sizeof(*s->rows), compare_qsort, s);
		return;
	}
	keys = s->sort_keys;
	for (size_t i = 0; i < n; i++)
		keys[i] = (struct ts_state_sort_key){ col_key(s->sort_col, &s->rows[i]), s->rows[i].id, s->rows[i].pid,
					     (uint32_t)i };
	merge_sort(&so, keys, keys + n, n);
	{
		size_t first = 0;

		/* rows already in order (the conn keeps last frame's order) stay */
		while (first < n && keys[first].idx == first)
			first++;
		if (first == n)
			return;
		memcpy(out, s->rows, first * sizeof(*out));
		for (size_t i = first; i < n; i++)
			out[i] = s->rows[keys[i].idx];
	}
	/* the hidden rows keep their places after the shown ones */
	memcpy(out + n, s->rows + n, (s->nrows - n) * sizeof(*out));
	ts_state_swap_rows(s);
}

static void sort_tasks(struct ts_state *s)
{
	struct ts_cursor *c = &s->cur[TS_VIEW_TASKS];
	size_t k = 0;

	for (size_t i = 0; i < TS_STATE_NSTATES; i++)
		s->by_state[i] = 0;
	/* partition: shown rows to the front (order is restored by the sort) */
	for (size_t i = 0; i < s->nrows; i++) {
		if (s->rows[i].state < TS_STATE_NSTATES)
			s->by_state[s->rows[i].state]++;
		if (ts_state_row_matches(s, &s->rows[i])) {
			if (i != k) {
				struct ts_row t = s->rows[k];

				s->rows[k] = s->rows[i];
				s->rows[i] = t;
			}
			k++;
		}
	}
	s->nshown = k;
	if (k > 1 && k <= UINT32_MAX)
		sort_rows(s, k);
	if (s->have_sel) {
		for (size_t i = 0; i < k; i++) {
			if (s->rows[i].id == s->sel_id && s->rows[i].pid == s->sel_pid) {
				c->selected = i;
				return;
			}
		}
	}
	/* the selected task is gone (or hidden): keep the index, clamped */
	remember_task(s);
}

/* ---- resources: most contended first; workers: workers first ---- */

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
	sort_tasks(s);
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
	remember_task(s);
	ts_state_sort(s);
}

void ts_state_sort_invert(struct ts_state *s)
{
	s->invert = !s->invert;
	remember_task(s);
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

/* ---- selection and views ---- */

size_t ts_state_count(const struct ts_state *s, unsigned view)
{
	switch (view) {
	case TS_VIEW_TASKS:
		return s->nshown;
	case TS_VIEW_RESOURCES:
		return s->nres;
	case TS_VIEW_WORKERS:
		return s->nworkers;
	case TS_VIEW_WARNINGS:
		return s->nwarnings;
	default:
		return 0;
	}
}

static void remember(struct ts_state *s)
{
	switch (s->view) {
	case TS_VIEW_TASKS:
		remember_task(s);
		break;
	case TS_VIEW_RESOURCES:
		if (s->cur[s->view].selected < s->nres) {
			s->sel_res_pid = s->resources[s->cur[s->view].selected].pid;
			s->sel_res_id = s->resources[s->cur[s->view].selected].id;
		}
		break;
	case TS_VIEW_WORKERS:
		if (s->cur[s->view].selected < s->nworkers) {
			s->sel_worker_pid = s->workers[s->cur[s->view].selected].pid;
			s->sel_worker_tid = s->workers[s->cur[s->view].selected].tid;
		}
		break;
	default:
		break;
	}
}

void ts_state_move(struct ts_state *s, int64_t delta)
{
	struct ts_cursor *c = &s->cur[s->view < TS_VIEW_COUNT ? s->view : 0];
	size_t n = ts_state_count(s, s->view);
	int64_t last, cur = (int64_t)c->selected;

	if (s->view == TS_VIEW_DETAILS) {
		/* the details scroll; the view clamps top when it draws */
		cur = (int64_t)c->top;
		if (delta < 0)
			c->top = delta <= -cur ? 0 : (size_t)(cur + delta);
		else
			c->top = delta >= 1000 ? 1000 : (size_t)(cur + delta);
		return;
	}
	if (n == 0)
		return;
	last = (int64_t)n - 1;
	if (cur > last)
		cur = last;
	if (delta < 0)
		cur = delta <= -cur ? 0 : cur + delta;
	else
		cur = delta >= last - cur ? last : cur + delta;
	c->selected = (size_t)cur;
	remember(s);
}

void ts_state_scroll(struct ts_state *s, size_t rows)
{
	struct ts_cursor *c = &s->cur[s->view < TS_VIEW_COUNT ? s->view : 0];
	size_t n = ts_state_count(s, s->view);

	c->page = rows;
	if (s->view == TS_VIEW_DETAILS)
		return;
	if (n == 0 || rows == 0) {
		c->top = 0;
		return;
	}
	if (c->selected >= n)
		c->selected = n - 1;
	if (c->selected < c->top)
		c->top = c->selected;
	else if (c->selected >= c->top + rows)
		c->top = c->selected - rows + 1;
	/* no empty space below the last row when the list shrank */
	if (c->top + rows > n)
		c->top = n > rows ? n - rows : 0;
}

const struct ts_row *ts_state_selected_row(const struct ts_state *s)
{
	size_t i = s->cur[TS_VIEW_TASKS].selected;

	return i < s->nshown ? &s->rows[i] : NULL;
}

const struct ts_res_row *ts_state_selected_resource(const struct ts_state *s)
{
	size_t i = s->cur[TS_VIEW_RESOURCES].selected;

	return i < s->nres ? &s->resources[i] : NULL;
}

const struct ts_worker_row *ts_state_selected_worker(const struct ts_state *s)
{
	size_t i = s->cur[TS_VIEW_WORKERS].selected;

	return i < s->nworkers ? &s->workers[i] : NULL;
}

const struct ts_recent_warning *ts_state_selected_warning(const struct ts_state *s)
{
	size_t i = s->cur[TS_VIEW_WARNINGS].selected;

	if (i >= s->nwarnings || s->worder[i] >= s->nwarnings)
		return NULL;
	return &s->warnings[s->worder[i]];
}

void ts_state_set_view(struct ts_state *s, unsigned view)
{
	if (view >= TS_VIEW_COUNT || view == s->view)
		return;
	if (view == TS_VIEW_DETAILS)
		s->back_view = s->view == TS_VIEW_DETAILS ? TS_VIEW_TASKS : s->view;
	s->view = view;
}

void ts_state_back(struct ts_state *s)
{
	if (s->view == TS_VIEW_DETAILS)
		s->view = s->back_view < TS_VIEW_COUNT && s->back_view != TS_VIEW_DETAILS ? s->back_view
											 : TS_VIEW_TASKS;
}

void ts_state_open_task(struct ts_state *s, uint32_t pid, uint64_t id)
{
	bool found = false;

	s->detail_pid = pid;
	s->detail_id = id;
	s->detail.valid = false;            /* until the conn fills it */
	s->cur[TS_VIEW_DETAILS].top = 0;
	s->have_sel = true;
	s->sel_pid = pid;
	s->sel_id = id;
	for (size_t i = 0; i < s->nrows && !found; i++)
		found = s->rows[i].pid == pid && s->rows[i].id == id;
	/* select it in the tasks view too, showing it if a filter hides it */
	if (found) {
		for (size_t i = 0; i < s->nrows; i++) {
			if (s->rows[i].pid == pid && s->rows[i].id == id) {
				if (!ts_state_row_matches(s, &s->rows[i])) {
					s->filter[0] = '\0';
					s->state_filter = TS_FILTER_ALL;
					s->warn_only = false;
				}
				break;
			}
		}
		ts_state_sort(s);
	}
	ts_state_set_view(s, TS_VIEW_DETAILS);
}

bool ts_state_enter(struct ts_state *s)
{
	switch (s->view) {
	case TS_VIEW_TASKS: {
		const struct ts_row *r = ts_state_selected_row(s);

		if (!r)
			return false;
		ts_state_open_task(s, r->pid, r->id);
		return true;
	}
	case TS_VIEW_RESOURCES: {
		const struct ts_res_row *r = ts_state_selected_resource(s);
		uint64_t task = r ? r->holder_task : 0;

		if (!task && r && r->waiters && r->waiting_tasks[0])
			task = r->waiting_tasks[0];
		if (!task)
			return false;
		ts_state_open_task(s, r->pid, task);
		return true;
	}
	case TS_VIEW_WARNINGS: {
		const struct ts_recent_warning *w = ts_state_selected_warning(s);

		if (!w || !w->w.task_id)
			return false;
		ts_state_open_task(s, w->w.pid, w->w.task_id);
		return true;
	}
	default:
		return false;
	}
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
