/*
 * view_tasks.c: the tasks table, in tokio-console's columns.
 *
 * Warn, ID, State, Name, Total, Busy, Sched, Idle, Polls, Kind, Location,
 * Fields. Columns have fixed widths except Name and Location, which share
 * what is left; when the terminal is too narrow, Fields goes first, then
 * Location, then the
 * less useful numbers (drop_rank). Only the visible rows are formatted,
 * so 100k tasks cost a copy and a sort (state.c), not 100k draws.
 */
#include "console/internal.h"

#include <stdio.h>
#include <string.h>

#include "collector/event.h"
#include "collector/model.h"
#include "console/format.h"

#define NAME_MIN 8
#define NAME_MAX 40
#define LOC_MIN 12
#define CELL_MAX 256

struct col_spec {
	const char *title;
	int width;            /* 0: Name or Location, sized at layout */
	bool right;           /* numbers are right-aligned */
	int drop_rank;        /* dropped in increasing rank when too narrow; 0: never */
};

static const struct col_spec cols[TS_COL_COUNT] = {
	[TS_COL_WARN]     = { "Warn", 4, false, 8 },
	[TS_COL_ID]       = { "ID", 0, true, 0 },
	[TS_COL_STATE]    = { "State", 5, false, 0 },
	[TS_COL_NAME]     = { "Name", 0, false, 0 },
	[TS_COL_TOTAL]    = { "Total", TS_FMT_NUM_COLS, true, 7 },
	[TS_COL_BUSY]     = { "Busy", TS_FMT_NUM_COLS, true, 0 },
	[TS_COL_SCHED]    = { "Sched", TS_FMT_NUM_COLS, true, 4 },
	[TS_COL_IDLE]     = { "Idle", TS_FMT_NUM_COLS, true, 5 },
	[TS_COL_POLLS]    = { "Polls", TS_FMT_NUM_COLS, true, 6 },
	[TS_COL_KIND]     = { "Kind", 8, false, 3 },
	[TS_COL_LOCATION] = { "Location", 0, false, 2 },
	[TS_COL_FIELDS]   = { "Fields", 16, false, 1 },
};

struct layout {
	int width[TS_COL_COUNT];  /* 0: not shown */
};

static const char *const state_glyph[TS_STATE_NSTATES] = {
	[TS_TASK_RUNNING] = "\u25b6", [TS_TASK_SCHEDULED] = "\u23eb",
	[TS_TASK_IDLE] = "\u23f8", [TS_TASK_DONE] = "\u2713",
};
static const char *const state_ascii[TS_STATE_NSTATES] = {
	[TS_TASK_RUNNING] = "R", [TS_TASK_SCHEDULED] = "S", [TS_TASK_IDLE] = "I", [TS_TASK_DONE] = "D",
};
static const enum ts_color state_color[TS_STATE_NSTATES] = {
	[TS_TASK_RUNNING] = TS_C_RUNNING, [TS_TASK_SCHEDULED] = TS_C_SCHEDULED,
	[TS_TASK_IDLE] = TS_C_IDLE, [TS_TASK_DONE] = TS_C_DIM,
};

void ts_view_task_fields(char *buf, size_t n, const struct ts_row *row)
{
	size_t len = 0;

	buf[0] = '\0';
	if (row->parent)
		len += (size_t)snprintf(buf, n, "parent=%llu ", (unsigned long long)row->parent);
	if (len < n && row->state == TS_TASK_DONE && row->outcome != TS_OUTCOME_OK &&
	    row->outcome != TS_OUTCOME_RUNNING)
		len += (size_t)snprintf(buf + len, n - len, "%s ", ts_outcome_name(row->outcome));
	if (len < n && row->fields[0])
		len += (size_t)snprintf(buf + len, n - len, "%s", row->fields);
	if (len > 0 && len <= n && buf[len - 1] == ' ')
		buf[len - 1] = '\0';
}

static int digits(uint64_t v)
{
	int n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static void layout_columns(const struct ts_console *c, int w, size_t first, size_t count, struct layout *lo)
{
	const struct ts_state *s = &c->state;
	int name_want = NAME_MIN, id_w = 2;

	for (size_t i = first; i < first + count; i++) {
		int nw = ts_fmt_width(s->rows[i].name, c->ascii);
		int dw = digits(s->rows[i].id);

		name_want = nw > name_want ? nw : name_want;
		id_w = dw > id_w ? dw : id_w;
	}
	if (name_want > NAME_MAX)
		name_want = NAME_MAX;

	for (int i = 0; i < TS_COL_COUNT; i++)
		lo->width[i] = cols[i].width;
	lo->width[TS_COL_ID] = id_w;

	for (int rank = 1;; rank++) {
		int fixed = 0, shown = 0, rest;

		for (int i = 0; i < TS_COL_COUNT; i++) {
			if (lo->width[i] < 0)
				continue;
			shown++;
			if (i != TS_COL_NAME && i != TS_COL_LOCATION)
				fixed += lo->width[i];
		}
		rest = w - fixed - (shown - 1);
		if (lo->width[TS_COL_LOCATION] >= 0 && rest >= name_want + LOC_MIN) {
			lo->width[TS_COL_NAME] = name_want;
			lo->width[TS_COL_LOCATION] = rest - name_want;
			break;
		}
		if (lo->width[TS_COL_LOCATION] < 0 && rest >= NAME_MIN) {
			lo->width[TS_COL_NAME] = rest;
			break;
		}
		/* drop the column of this rank, if any is left */
		bool dropped = false;

		for (int i = 0; i < TS_COL_COUNT; i++) {
			if (cols[i].drop_rank == rank) {
				lo->width[i] = -1;
				dropped = true;
			}
		}
		if (!dropped && rank > TS_COL_COUNT) {
			lo->width[TS_COL_NAME] = rest > 1 ? rest : 1;
			break;
		}
	}
	for (int i = 0; i < TS_COL_COUNT; i++)
		if (lo->width[i] < 0)
			lo->width[i] = 0;
}

static int clip(int w, int room)
{
	return w < room ? w : room;
}

/* Draw `text` fitted into a cell of width w. */
static void cell(struct ts_console *c, int y, int x, int w, unsigned flags, enum ts_color color, const char *text)
{
	char buf[CELL_MAX * 4 + 1];

	if (w > CELL_MAX)
		w = CELL_MAX;
	ts_fmt_fit(buf, sizeof(buf), text, w, flags, c->ascii);
	attrset(c->attr[color]);
	mvaddstr(y, x, buf);
	attrset(A_NORMAL);
}

static void draw_title(struct ts_console *c, struct ts_rect r)
{
	const struct ts_state *s = &c->state;
	static const uint8_t order[] = { TS_TASK_RUNNING, TS_TASK_SCHEDULED, TS_TASK_IDLE, TS_TASK_DONE };
	char buf[96];
	int x = r.x + 1;

	if (s->nshown == s->nrows)
		snprintf(buf, sizeof(buf), "Tasks (%zu)", s->nrows);
	else
		snprintf(buf, sizeof(buf), "Tasks (%zu of %zu)", s->nshown, s->nrows);
	ts_view_put(c, r.y, x, r.w - x, TS_C_TITLE, buf);
	x += ts_fmt_width(buf, true) + 2;
	for (size_t i = 0; i < sizeof(order) && x < r.x + r.w; i++) {
		uint8_t st = order[i];

		snprintf(buf, sizeof(buf), "%s %zu %s", c->ascii ? state_ascii[st] : state_glyph[st],
			 s->by_state[st], ts_task_state_name(st));
		ts_view_put(c, r.y, x, r.x + r.w - x, state_color[st], buf);
		x += ts_fmt_width(buf, c->ascii) + 2;
	}
	if (x < r.x + r.w) {
		bool desc = ts_state_col_descending(s->sort_col) != s->invert;

		snprintf(buf, sizeof(buf), "sort: %s %s", cols[s->sort_col].title,
			 c->ascii ? (desc ? "desc" : "asc") : (desc ? "\u25bc" : "\u25b2"));
		ts_view_put(c, r.y, x, r.x + r.w - x, TS_C_DIM, buf);
	}
}

static void draw_colheads(struct ts_console *c, int y, struct ts_rect r, const struct layout *lo)
{
	int x = r.x;

	attrset(c->attr[TS_C_COLHEAD]);
	mvhline(y, r.x, ' ', r.w);
	attrset(A_NORMAL);
	for (int i = 0; i < TS_COL_COUNT; i++) {
		if (!lo->width[i])
			continue;
		if (x >= r.x + r.w)
			break;
		cell(c, y, x, clip(lo->width[i], r.x + r.w - x), cols[i].right ? TS_FIT_RIGHT : 0,
		     (unsigned)i == c->state.sort_col ? TS_C_SORTHEAD : TS_C_COLHEAD, cols[i].title);
		x += lo->width[i] + 1;
	}
}

static void draw_row(struct ts_console *c, int y, struct ts_rect r, const struct layout *lo,
		     const struct ts_row *row, bool selected)
{
	char buf[192];
	int x = r.x;
	enum ts_color base = selected ? TS_C_SELECTED : row->state == TS_TASK_DONE ? TS_C_DIM : TS_C_NORMAL;

	if (selected) {
		attrset(c->attr[TS_C_SELECTED]);
		mvhline(y, r.x, ' ', r.w);
		attrset(A_NORMAL);
	}
	for (int i = 0; i < TS_COL_COUNT; i++) {
		enum ts_color color = base;
		unsigned flags = cols[i].right ? TS_FIT_RIGHT : 0;
		const char *text = buf;

		if (!lo->width[i])
			continue;
		if (x >= r.x + r.w)
			break;
		buf[0] = '\0';
		switch (i) {
		case TS_COL_WARN:
			if (row->nwarn)
				snprintf(buf, sizeof(buf), "%s%u", c->ascii ? "!" : "\u26a0", row->nwarn);
			if (!selected)
				color = TS_C_WARN;
			break;
		case TS_COL_ID:
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)row->id);
			break;
		case TS_COL_STATE:
			/* a conn may pass any byte: only the four states index */
			if (row->state >= TS_STATE_NSTATES) {
				text = "?";
				break;
			}
			text = c->ascii ? state_ascii[row->state] : state_glyph[row->state];
			if (!selected)
				color = state_color[row->state];
			break;
		case TS_COL_NAME:
			text = row->name;
			break;
		case TS_COL_TOTAL:
			ts_fmt_duration(buf, sizeof(buf), row->total_ns, c->ascii);
			break;
		case TS_COL_BUSY:
			ts_fmt_duration(buf, sizeof(buf), row->busy_ns, c->ascii);
			break;
		case TS_COL_SCHED:
			ts_fmt_duration(buf, sizeof(buf), row->sched_ns, c->ascii);
			break;
		case TS_COL_IDLE:
			ts_fmt_duration(buf, sizeof(buf), row->idle_ns, c->ascii);
			break;
		case TS_COL_POLLS:
			ts_fmt_count(buf, sizeof(buf), row->polls);
			break;
		case TS_COL_KIND:
			text = ts_task_kind_name(row->kind);
			break;
		case TS_COL_LOCATION:
			text = row->location;
			flags |= TS_FIT_KEEP_TAIL;
			break;
		case TS_COL_FIELDS:
			ts_view_task_fields(buf, sizeof(buf), row);
			break;
		}
		cell(c, y, x, clip(lo->width[i], r.x + r.w - x), flags, color, text);
		x += lo->width[i] + 1;
	}
}

void ts_view_tasks_draw(struct ts_console *c, struct ts_rect r)
{
	struct ts_state *s = &c->state;
	struct ts_cursor *cu = &s->cur[TS_VIEW_TASKS];
	struct layout lo;
	size_t nvis;

	if (r.h < 1)
		return;
	draw_title(c, r);
	if (r.h < 3)
		return;
	nvis = (size_t)(r.h - 2);
	ts_state_scroll(s, nvis);
	if (nvis > s->nshown - cu->top)
		nvis = s->nshown - cu->top;
	layout_columns(c, r.w, cu->top, nvis, &lo);
	draw_colheads(c, r.y + 1, r, &lo);
	for (size_t i = 0; i < nvis; i++) {
		size_t k = cu->top + i;

		draw_row(c, r.y + 2 + (int)i, r, &lo, &s->rows[k], k == cu->selected);
	}
	if (s->nshown == 0)
		ts_view_put(c, r.y + 2, r.x + 1, r.w - 2, TS_C_DIM,
			    s->filled ? "no tasks yet" : "waiting for data");
}
