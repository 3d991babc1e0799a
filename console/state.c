/*
 * state.c: the console's rows: sorting and selection. See state.h.
 *
 * Sorting 100k rows with qsort_r takes a few milliseconds, cheap enough to
 * redo on every refresh; ties are broken by (pid, id) so equal rows never
 * swap places between frames.
 */
#include "console/state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ts_state_init(struct ts_state *s)
{
	memset(s, 0, sizeof(*s));
	s->sort_col = TS_COL_ID;
}

void ts_state_fini(struct ts_state *s)
{
	free(s->rows);
	memset(s, 0, sizeof(*s));
}

int ts_state_reserve(struct ts_state *s, size_t n)
{
	struct ts_row *rows;
	size_t cap;

	if (n <= s->cap)
		return 0;
	cap = s->cap ? s->cap : 64;
	while (cap < n) {
		if (cap > SIZE_MAX / 2 / sizeof(*rows))
			return -ENOMEM;
		cap *= 2;
	}
	rows = realloc(s->rows, cap * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	s->rows = rows;
	s->cap = cap;
	return 0;
}

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

/* Remember which task is selected so the selection survives a re-sort. */
static void remember_selection(struct ts_state *s)
{
	s->have_sel = s->nrows > 0;
	if (!s->have_sel)
		return;
	if (s->selected >= s->nrows)
		s->selected = s->nrows - 1;
	s->sel_pid = s->rows[s->selected].pid;
	s->sel_id = s->rows[s->selected].id;
}

void ts_state_sort(struct ts_state *s)
{
	if (s->nrows > 1)
		qsort_r(s->rows, s->nrows, sizeof(*s->rows), compare_qsort, s);
	if (s->have_sel) {
		for (size_t i = 0; i < s->nrows; i++) {
			if (s->rows[i].id == s->sel_id && s->rows[i].pid == s->sel_pid) {
				s->selected = i;
				return;
			}
		}
	}
	/* the selected task is gone: keep the index, clamped */
	remember_selection(s);
}

void ts_state_sort_step(struct ts_state *s, int delta)
{
	int col = ((int)s->sort_col + delta) % TS_COL_COUNT;

	if (col < 0)
		col += TS_COL_COUNT;
	s->sort_col = (unsigned)col;
	s->invert = false;
	remember_selection(s);
	ts_state_sort(s);
}

void ts_state_sort_invert(struct ts_state *s)
{
	s->invert = !s->invert;
	remember_selection(s);
	ts_state_sort(s);
}

void ts_state_move(struct ts_state *s, int64_t delta)
{
	int64_t last = (int64_t)s->nrows - 1;
	int64_t cur = (int64_t)s->selected;

	if (s->nrows == 0)
		return;
	if (delta < 0)
		cur = delta <= -cur ? 0 : cur + delta;
	else
		cur = delta >= last - cur ? last : cur + delta;
	s->selected = (size_t)cur;
	remember_selection(s);
}

void ts_state_scroll(struct ts_state *s, size_t rows)
{
	s->page = rows;
	if (s->nrows == 0 || rows == 0) {
		s->top = 0;
		return;
	}
	if (s->selected >= s->nrows)
		s->selected = s->nrows - 1;
	if (s->selected < s->top)
		s->top = s->selected;
	else if (s->selected >= s->top + rows)
		s->top = s->selected - rows + 1;
	/* no empty space below the last row when the list shrank */
	if (s->top + rows > s->nrows)
		s->top = s->nrows > rows ? s->nrows - rows : 0;
}
