/*
 * view_warnlist.c: the warnings view, grouped by kind.
 *
 * For each kind raised: a heading with its count since start and the
 * one-line explanation (collector/warning.h), then its latest warnings,
 * newest first, each with its age, task and detail. The selectable items
 * are the warnings (state.c orders them, worder[]); headings are drawn
 * between them. Enter (state.c) opens the warned task's details.
 */
#include "console/internal.h"

#include <stdio.h>

#include "console/format.h"

/* A screen line: a kind heading, or a warning (index into worder). */
struct wline {
	int kind;                   /* heading of this kind, or -1 */
	int item;                   /* index into worder, or -1 */
};

#define WLINES_MAX (TS_STATE_WARNINGS + TS_WARN_KIND_COUNT + 1)

static size_t build_lines(const struct ts_state *s, struct wline *out)
{
	size_t n = 0, k = 0;

	for (uint32_t kind = 0; kind <= TS_WARN_KIND_COUNT; kind++) {
		bool heading = kind < TS_WARN_KIND_COUNT && s->warn_counts[kind];

		/* a kind with warnings kept gets a heading even if its count is 0
		 * (a source that keeps no counts) */
		if (!heading && k < s->nwarnings && s->warnings[s->worder[k]].w.kind == kind)
			heading = true;
		if (heading)
			out[n++] = (struct wline){ (int)kind, -1 };
		while (k < s->nwarnings && s->worder[k] < s->nwarnings &&
		       (s->warnings[s->worder[k]].w.kind == kind ||
			(kind == TS_WARN_KIND_COUNT && s->warnings[s->worder[k]].w.kind >= TS_WARN_KIND_COUNT)))
			out[n++] = (struct wline){ -1, (int)k++ };
	}
	return n;
}

static void draw_heading(struct ts_console *c, int y, struct ts_rect r, int kind)
{
	const struct ts_state *s = &c->state;
	const char *name = kind < TS_WARN_KIND_COUNT ? ts_warning_kind_name((uint32_t)kind) : NULL;
	const char *help = kind < TS_WARN_KIND_COUNT ? ts_warning_kind_help((uint32_t)kind) : NULL;
	char buf[64], num[32];
	int x = r.x + 1;

	ts_fmt_count(num, sizeof(num), kind < TS_WARN_KIND_COUNT ? s->warn_counts[kind] : 0);
	snprintf(buf, sizeof(buf), "%s %s", name ? name : "other", num);
	ts_view_seg(c, y, r, &x, TS_C_WARN, buf, 2);
	ts_view_seg(c, y, r, &x, TS_C_DIM, help ? help : "", 0);
}

static void draw_item(struct ts_console *c, int y, struct ts_rect r, const struct ts_recent_warning *rw, bool selected)
{
	const struct ts_state *s = &c->state;
	enum ts_color base = selected ? TS_C_SELECTED : TS_C_NORMAL;
	char age[32], buf[160], dur[32];
	int x = r.x + 3;

	if (selected)
		ts_view_fill(c, y, r, TS_C_SELECTED);
	ts_fmt_duration(age, sizeof(age), s->now_ns > rw->w.ts_ns ? s->now_ns - rw->w.ts_ns : 0, c->ascii);
	snprintf(buf, sizeof(buf), "%7s ago", age);
	ts_view_seg(c, y, r, &x, selected ? base : TS_C_DIM, buf, 2);
	if (rw->w.task_id) {
		snprintf(buf, sizeof(buf), "task %llu %s", (unsigned long long)rw->w.task_id, rw->task_name);
	} else if (rw->w.tid) {
		snprintf(buf, sizeof(buf), "thread %u", rw->w.tid);
	} else {
		snprintf(buf, sizeof(buf), "pid %u", rw->w.pid);
	}
	ts_view_seg(c, y, r, &x, selected ? base : TS_C_TITLE, buf, 2);
	if (rw->w.duration_ns) {
		ts_fmt_duration(dur, sizeof(dur), rw->w.duration_ns, c->ascii);
		ts_view_seg(c, y, r, &x, base, dur, 2);
	}
	ts_view_seg(c, y, r, &x, base, rw->w.detail, 0);
}

void ts_view_warnlist_draw(struct ts_console *c, struct ts_rect r)
{
	struct ts_state *s = &c->state;
	struct ts_cursor *cu = &s->cur[TS_VIEW_WARNINGS];
	struct wline lines[WLINES_MAX];
	size_t n, sel_line = 0, top, h;
	uint64_t total = 0;
	char buf[96];

	if (r.h < 1)
		return;
	for (uint32_t k = 0; k < TS_WARN_KIND_COUNT; k++)
		total += s->warn_counts[k];
	snprintf(buf, sizeof(buf), "Warnings (%llu raised, latest %zu kept)", (unsigned long long)total,
		 s->nwarnings);
	ts_view_put(c, r.y, r.x + 1, r.w - 2, TS_C_TITLE, buf);
	if (r.h < 2)
		return;
	h = (size_t)(r.h - 1);
	cu->page = h;
	n = build_lines(s, lines);
	if (n == 0) {
		ts_view_put(c, r.y + 1, r.x + 1, r.w - 2, TS_C_DIM, s->filled ? "none raised" : "waiting for data");
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (lines[i].item >= 0 && (size_t)lines[i].item == cu->selected)
			sel_line = i;
	/* keep the selection (and its heading when it is the first) in view */
	top = cu->top;
	if (sel_line < top + 1)
		top = sel_line > 0 && lines[sel_line - 1].kind >= 0 ? sel_line - 1 : sel_line;
	if (sel_line >= top + h)
		top = sel_line - h + 1;
	if (top + h > n)
		top = n > h ? n - h : 0;
	cu->top = top;
	for (size_t i = 0; i < h && top + i < n; i++) {
		const struct wline *l = &lines[top + i];
		int y = r.y + 1 + (int)i;

		if (l->kind >= 0)
			draw_heading(c, y, r, l->kind);
		else
			draw_item(c, y, r, &s->warnings[s->worder[l->item]], (size_t)l->item == cu->selected);
	}
}
