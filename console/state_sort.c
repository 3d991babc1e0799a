/*
 * state_sort.c: the task table's filters and order. See state.h.
 *
 * Filtering partitions the rows (shown ones first) instead of copying
 * them, so a paused console can change its filter and get hidden rows
 * back. Ties are broken by (pid, id), so equal rows never swap places
 * between frames. With 100k tasks the sort runs every frame: it sorts
 * small keys with the comparison inlined (see sort_rows) and costs about
 * one pass when the conn hands the rows over in last frame's order.
 */
#include <stdlib.h>
#include <string.h>

#include "console/state.h"
#include "console/state_internal.h"

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
void ts_state_remember_task(struct ts_state *s)
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
	return i ? k << (8 * (8 - i)) : 0; /* a shift by 64 is undefined */
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

	if (ts_state_grow((void **)&s->sort_keys, &s->cap_sort_keys, n * 3 / 2 + 1, sizeof(*keys)) < 0 ||
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

void ts_state_sort_tasks(struct ts_state *s)
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
	ts_state_remember_task(s);
}
