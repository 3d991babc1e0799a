/*
 * view_workers.c: one row per thread of the watched processes.
 *
 * Runtime workers first. Each row: what it does now (polling, idle,
 * parked, blocked), the task it polls and for how long, its busy % over
 * the last seconds as a sparkline (one sample a second, see conn_model.c),
 * and polls per second. Blocked or recently stalled threads are drawn in
 * the alert color: those are the ones stalling the runtime. Below the
 * table, the selected thread's latest sampled stack (kernel context), one
 * frame a line: where a blocked worker is stuck.
 */
#include "console/internal.h"

#include <stdio.h>
#include <string.h>

#include "collector/event.h"
#include "console/format.h"

enum { WC_TID, WC_NAME, WC_ROLE, WC_STATE, WC_TASK, WC_INPOLL, WC_SPARK, WC_BUSY, WC_RATE, WC_POLLS, WC_N };

static const struct ts_colspec cols[WC_N] = {
	[WC_TID]    = { "TID", 7, true, 0 },
	[WC_NAME]   = { "Name", 0, false, 0 },
	[WC_ROLE]   = { "Role", 8, false, 1 },
	[WC_STATE]  = { "State", 8, false, 0 },
	[WC_TASK]   = { "Task", 16, false, 0 },
	[WC_INPOLL] = { "In poll", 7, true, 0 },
	[WC_SPARK]  = { "Busy (last 16s)", TS_SPARK_LEN, false, 0 },
	[WC_BUSY]   = { "Busy", 4, true, 0 },
	[WC_RATE]   = { "Polls/s", 7, true, 0 },
	[WC_POLLS]  = { "Polls", 6, true, 2 },
};

static const char *const state_names[TS_WORKER_NSTATES] = {
	[TS_WORKER_UNKNOWN] = "?", [TS_WORKER_POLLING] = "polling", [TS_WORKER_IDLE] = "idle",
	[TS_WORKER_PARKED] = "parked", [TS_WORKER_BLOCKED] = "BLOCKED",
};

static void spark(struct ts_console *c, int y, int x, int w, const struct ts_worker_row *t, enum ts_color color)
{
	static const char *const blocks[] = { "\u2581", "\u2582", "\u2583", "\u2584",
					      "\u2585", "\u2586", "\u2587", "\u2588" };
	static const char ascii_blocks[] = "_.:-=+*#";

	attrset(c->attr[color]);
	for (int i = 0; i < w && i < TS_SPARK_LEN; i++) {
		uint8_t v = t->busy_pct[i];
		bool valid = i >= TS_SPARK_LEN - t->nbusy && v != TS_BUSY_UNKNOWN;
		int level = valid ? (v >= 100 ? 7 : v * 8 / 100) : -1;

		if (level < 0) {
			mvaddstr(y, x + i, " ");
		} else if (c->ascii) {
			char one[2] = { ascii_blocks[level], 0 };

			mvaddstr(y, x + i, one);
		} else {
			mvaddstr(y, x + i, blocks[level]);
		}
	}
	attrset(A_NORMAL);
}

static void draw_row(struct ts_console *c, int y, struct ts_rect r, const int *wd, const struct ts_worker_row *t,
		     bool selected)
{
	bool alert = t->state == TS_WORKER_BLOCKED || t->stalled;
	enum ts_color color = selected ? TS_C_SELECTED : alert ? TS_C_ALERT
				: t->state == TS_WORKER_POLLING ? TS_C_RUNNING : TS_C_NORMAL;
	char buf[160];
	int cx = r.x;

	if (selected || alert)
		ts_view_fill(c, y, r, color);
	for (int i = 0; i < WC_N; i++) {
		const char *text = buf;
		unsigned flags = cols[i].right ? TS_FIT_RIGHT : 0;
		int w;

		if (!wd[i])
			continue;
		if (cx >= r.x + r.w)
			break;
		w = wd[i] < r.x + r.w - cx ? wd[i] : r.x + r.w - cx;
		buf[0] = '\0';
		switch (i) {
		case WC_TID:
			snprintf(buf, sizeof(buf), "%u", t->tid);
			break;
		case WC_NAME:
			text = t->name[0] ? t->name : "-";
			break;
		case WC_ROLE:
			text = ts_thread_role_name(t->role);
			break;
		case WC_STATE:
			text = t->state < TS_WORKER_NSTATES ? state_names[t->state] : "?";
			if (t->stalled && t->state != TS_WORKER_BLOCKED)
				text = "STALLED";
			break;
		case WC_TASK:
			if (t->current_task)
				snprintf(buf, sizeof(buf), "%llu %s", (unsigned long long)t->current_task,
					 t->current_name);
			else
				snprintf(buf, sizeof(buf), "-");
			break;
		case WC_INPOLL:
			if (t->current_task)
				ts_fmt_duration(buf, sizeof(buf), t->in_poll_ns, c->ascii);
			else
				snprintf(buf, sizeof(buf), "-");
			break;
		case WC_SPARK:
			spark(c, y, cx, w, t, color);
			cx += wd[i] + 1;
			continue;
		case WC_BUSY:
			if (t->nbusy && t->busy_pct[TS_SPARK_LEN - 1] != TS_BUSY_UNKNOWN)
				snprintf(buf, sizeof(buf), "%u%%", t->busy_pct[TS_SPARK_LEN - 1]);
			else
				snprintf(buf, sizeof(buf), "-");
			break;
		case WC_RATE:
			if (t->polls_per_s >= 0)
				ts_fmt_rate(buf, sizeof(buf), t->polls_per_s);
			else
				snprintf(buf, sizeof(buf), "-");
			break;
		case WC_POLLS:
			ts_fmt_count(buf, sizeof(buf), t->polls);
			break;
		}
		ts_view_cell(c, y, cx, w, flags, color, text);
		cx += wd[i] + 1;
	}
}

/* The selected thread's stack in the lines left under the table; returns
 * the lines it took (0 when it has none or there is no room). */
static int draw_stack(struct ts_console *c, struct ts_rect r, const struct ts_worker_row *t)
{
	char buf[256], age[32];
	const char *p;
	int y = r.y + r.h - 1, lines = 0, room = r.h;

	if (!t || !t->stack || !t->stack[0] || room < 3)
		return 0;
	/* count the frames: one line each, at most the room left */
	for (p = t->stack, lines = 1; (p = strstr(p, " < ")) != NULL; p += 3)
		lines++;
	if (lines > room - 1)
		lines = room - 1;
	y = r.y + r.h - lines - 1;
	ts_fmt_duration(age, sizeof(age), t->stack_age_ns, c->ascii);
	snprintf(buf, sizeof(buf), "Stack of %u %s (%s, %s ago), innermost first", t->tid, t->name,
		 t->stack_on_cpu ? "on the CPU" : "off the CPU", age);
	ts_view_put(c, y++, r.x + 1, r.w - 2, TS_C_TITLE, buf);
	p = t->stack;
	for (int i = 0; i < lines && *p; i++) {
		const char *end = strstr(p, " < ");
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n >= sizeof(buf))
			n = sizeof(buf) - 1;
		memcpy(buf, p, n);
		buf[n] = '\0';
		ts_view_put(c, y++, r.x + 3, r.w - 4, TS_C_NORMAL, buf);
		p = end ? end + 3 : p + n;
	}
	return lines + 1;
}

void ts_view_workers_draw(struct ts_console *c, struct ts_rect r)
{
	struct ts_state *s = &c->state;
	struct ts_cursor *cu = &s->cur[TS_VIEW_WORKERS];
	size_t counts[TS_WORKER_NSTATES] = { 0 }, stalled = 0, nvis;
	int wd[WC_N];
	char buf[160];

	if (r.h < 1)
		return;
	for (size_t i = 0; i < s->nworkers; i++) {
		if (s->workers[i].state < TS_WORKER_NSTATES)
			counts[s->workers[i].state]++;
		stalled += s->workers[i].stalled;
	}
	snprintf(buf, sizeof(buf), "Threads (%zu)  %zu polling  %zu idle  %zu parked  %zu blocked  %zu stalled",
		 s->nworkers, counts[TS_WORKER_POLLING], counts[TS_WORKER_IDLE], counts[TS_WORKER_PARKED],
		 counts[TS_WORKER_BLOCKED], stalled);
	ts_view_put(c, r.y, r.x + 1, r.w - 2, counts[TS_WORKER_BLOCKED] || stalled ? TS_C_ALERT : TS_C_TITLE, buf);
	if (r.h < 3)
		return;
	ts_view_layout(cols, WC_N, r.w, 8, wd);
	ts_view_colheads(c, r.y + 1, r, cols, wd, WC_N);
	nvis = (size_t)(r.h - 2);
	{
		/* the stack takes what the rows leave, at most half the view */
		int rows = s->nworkers < nvis ? (int)s->nworkers : (int)nvis;
		int left = r.h - 2 - rows, half = (r.h - 2) / 2;
		struct ts_rect below = { r.y + r.h - (left > half ? left : half), r.x, 0, r.w };

		below.h = r.y + r.h - below.y;
		if (below.h >= 3)
			nvis = (size_t)(r.h - 2 - draw_stack(c, below, ts_state_selected_worker(s)));
	}
	ts_state_scroll(s, nvis);
	for (size_t i = 0; i < nvis && cu->top + i < s->nworkers; i++) {
		size_t k = cu->top + i;

		draw_row(c, r.y + 2 + (int)i, r, wd, &s->workers[k], k == cu->selected);
	}
	if (s->nworkers == 0)
		ts_view_put(c, r.y + 2, r.x + 1, r.w - 2, TS_C_DIM, s->filled ? "no threads seen yet" : "waiting for data");
}
