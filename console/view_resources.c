/*
 * view_resources.c: locks and other resources, most contended first.
 *
 * Kind, name, location, who holds it now (a task, or a thread outside any
 * poll), who waits, how often acquisitions had to wait, the wait and hold
 * p99 and the longest hold. Resources with waiters are drawn in the warning
 * color. Enter (state.c) opens the holder's details.
 */
#include "console/internal.h"

#include <stdio.h>

#include "collector/event.h"
#include "console/format.h"

enum { RC_KIND, RC_ID, RC_NAME, RC_LOC, RC_HOLDER, RC_WAITING, RC_CONT, RC_WAIT99, RC_HOLD99, RC_LONGEST, RC_N };

static const struct ts_colspec cols[RC_N] = {
	[RC_KIND]    = { "Kind", 9, false, 0 },
	[RC_ID]      = { "ID", 8, true, 1 },
	[RC_NAME]    = { "Name", 0, false, 0 },
	[RC_LOC]     = { "Location", 22, false, 2 },
	[RC_HOLDER]  = { "Holder", 11, false, 0 },
	[RC_WAITING] = { "Waiting", 10, false, 0 },
	[RC_CONT]    = { "Cont.", 6, true, 0 },
	[RC_WAIT99]  = { "Wait p99", 8, true, 0 },
	[RC_HOLD99]  = { "Hold p99", 8, true, 0 },
	[RC_LONGEST] = { "Longest", 7, true, 0 },
};

static void dur_or_dash(char *buf, size_t n, uint64_t ns, bool ascii)
{
	if (ns == TS_UNKNOWN)
		snprintf(buf, n, "-");
	else
		ts_fmt_duration(buf, n, ns, ascii);
}

static void draw_row(struct ts_console *c, int y, struct ts_rect r, const int *wd, const struct ts_res_row *x,
		     bool selected)
{
	enum ts_color color = selected ? TS_C_SELECTED : x->waiters ? TS_C_WARN : x->dropped ? TS_C_DIM
											  : TS_C_NORMAL;
	char buf[128];
	int cx = r.x;

	if (selected)
		ts_view_fill(c, y, r, TS_C_SELECTED);
	for (int i = 0; i < RC_N; i++) {
		const char *text = buf;
		unsigned flags = cols[i].right ? TS_FIT_RIGHT : 0;

		if (!wd[i])
			continue;
		if (cx >= r.x + r.w)
			break;
		buf[0] = '\0';
		switch (i) {
		case RC_KIND:
			text = ts_resource_kind_name(x->kind);
			break;
		case RC_ID:
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)x->id);
			break;
		case RC_NAME:
			text = x->name[0] ? x->name : "(unnamed)";
			break;
		case RC_LOC:
			text = x->location;
			flags |= TS_FIT_KEEP_TAIL;
			break;
		case RC_HOLDER:
			if (x->holders > 1)
				snprintf(buf, sizeof(buf), "%u shared", x->holders);
			else if (x->holder_task)
				snprintf(buf, sizeof(buf), "task %llu", (unsigned long long)x->holder_task);
			else if (x->holder_tid)
				snprintf(buf, sizeof(buf), "tid %u", x->holder_tid);
			else
				snprintf(buf, sizeof(buf), "-");
			break;
		case RC_WAITING:
			if (!x->waiters)
				snprintf(buf, sizeof(buf), "-");
			else if (x->waiting_tasks[0])
				snprintf(buf, sizeof(buf), "%u: t%llu", x->waiters,
					 (unsigned long long)x->waiting_tasks[0]);
			else
				snprintf(buf, sizeof(buf), "%u", x->waiters);
			break;
		case RC_CONT:
			ts_fmt_count(buf, sizeof(buf), x->contentions);
			break;
		case RC_WAIT99:
			dur_or_dash(buf, sizeof(buf), x->wait_p99_ns, c->ascii);
			break;
		case RC_HOLD99:
			dur_or_dash(buf, sizeof(buf), x->hold_p99_ns, c->ascii);
			break;
		case RC_LONGEST:
			dur_or_dash(buf, sizeof(buf), x->acquisitions ? x->max_hold_ns : TS_UNKNOWN, c->ascii);
			break;
		}
		ts_view_cell(c, y, cx, wd[i] < r.x + r.w - cx ? wd[i] : r.x + r.w - cx, flags, color, text);
		cx += wd[i] + 1;
	}
}

void ts_view_resources_draw(struct ts_console *c, struct ts_rect r)
{
	struct ts_state *s = &c->state;
	struct ts_cursor *cu = &s->cur[TS_VIEW_RESOURCES];
	int wd[RC_N];
	size_t nvis, waiting = 0, held = 0;
	char buf[128];

	if (r.h < 1)
		return;
	for (size_t i = 0; i < s->nres; i++) {
		waiting += s->resources[i].waiters > 0;
		held += s->resources[i].holder_tid || s->resources[i].holders;
	}
	snprintf(buf, sizeof(buf), "Resources (%zu)  %zu held  %zu with waiters", s->nres, held, waiting);
	ts_view_put(c, r.y, r.x + 1, r.w - 2, TS_C_TITLE, buf);
	if (r.h < 3)
		return;
	ts_view_layout(cols, RC_N, r.w, 10, wd);
	ts_view_colheads(c, r.y + 1, r, cols, wd, RC_N);
	nvis = (size_t)(r.h - 2);
	ts_state_scroll(s, nvis);
	for (size_t i = 0; i < nvis && cu->top + i < s->nres; i++) {
		size_t k = cu->top + i;

		draw_row(c, r.y + 2 + (int)i, r, wd, &s->resources[k], k == cu->selected);
	}
	if (s->nres == 0)
		ts_view_put(c, r.y + 2, r.x + 1, r.w - 2, TS_C_DIM,
			    s->filled ? "no resources (no lock instrumented or seen yet)" : "waiting for data");
}
