/*
 * view_header.c: the top of the screen.
 *
 * One status line (target, live/paused, event rate, dropped events and
 * unstored rows in the alert color when non-zero, the database) and the
 * warnings strip: counts per warning kind and the latest few warnings
 * with the task they concern.
 */
#include "console/internal.h"

#include <stdio.h>
#include <string.h>

#include "collector/warning.h"
#include "console/format.h"

/* Draw `s` at *x when something fits, then leave a gap of `gap` columns. */
static void put_at(struct ts_console *c, struct ts_rect r, int *x, enum ts_color color, const char *s, int gap)
{
	int room = r.x + r.w - *x;

	if (room <= 0)
		return;
	ts_view_put(c, r.y, *x, room, color, s);
	*x += ts_fmt_width(s, c->ascii) + gap;
}

static void segment(struct ts_console *c, struct ts_rect r, int *x, enum ts_color color, const char *s)
{
	put_at(c, r, x, color, s, 2);
}

/* "via shim", "via shim+tokio-bpf", "3 processes via shim" */
static void source_segment(struct ts_console *c, struct ts_rect r, int *x)
{
	const struct ts_state *s = &c->state;
	char buf[128];
	size_t len = 0;

	if (s->nprocs == 0)
		return;
	buf[0] = '\0';
	if (s->nprocs_total > 1)
		len += (size_t)snprintf(buf, sizeof(buf), "%zu processes ", s->nprocs_total);
	for (size_t i = 0; i < s->nprocs && len < sizeof(buf); i++) {
		bool seen = false;

		if (!s->procs[i].source[0])
			continue;
		for (size_t k = 0; k < i; k++)
			seen = seen || strcmp(s->procs[k].source, s->procs[i].source) == 0;
		if (seen)
			continue;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", strstr(buf, "via ") ? "+" : "via ",
					s->procs[i].source);
	}
	if (buf[0])
		segment(c, r, x, TS_C_BAR, buf);
}

int ts_view_header_draw(struct ts_console *c, struct ts_rect r, const struct ts_console_status *st)
{
	char buf[128], num[32];
	int x = r.x + 1;

	if (r.h < 1)
		return 0;
	attrset(c->attr[TS_C_BAR]);
	mvhline(r.y, r.x, ' ', r.w);
	attrset(A_NORMAL);

	segment(c, r, &x, TS_C_BAR, "taskscope");
	if (!st) {
		segment(c, r, &x, TS_C_BAR, "waiting for data");
		return 1;
	}
	segment(c, r, &x, TS_C_BAR, st->target ? st->target : "-");
	segment(c, r, &x, TS_C_BAR, st->mode ? st->mode : "live");
	if (c->state.paused)
		segment(c, r, &x, TS_C_ALERT, "PAUSED");
	source_segment(c, r, &x);
	ts_fmt_rate(num, sizeof(num), st->events_per_s);
	snprintf(buf, sizeof(buf), "%s ev/s", num);
	segment(c, r, &x, TS_C_BAR, buf);
	ts_fmt_count(num, sizeof(num), st->dropped);
	snprintf(buf, sizeof(buf), "dropped %s", num);
	segment(c, r, &x, st->dropped ? TS_C_ALERT : TS_C_BAR, buf);
	if (st->unstored) {
		ts_fmt_count(num, sizeof(num), st->unstored);
		snprintf(buf, sizeof(buf), "unstored %s", num);
		segment(c, r, &x, TS_C_ALERT, buf);
	}
	if (st->db_path && st->db_path[0]) {
		put_at(c, r, &x, TS_C_BAR, "db", 1);
		segment(c, r, &x, TS_C_BAR, st->db_path);
	}
	return 1;
}

static int draw_counts(struct ts_console *c, struct ts_rect r)
{
	const struct ts_state *s = &c->state;
	char buf[64], num[32];
	int x = r.x + 1;
	bool any = false;

	ts_view_put(c, r.y, x, r.w - 1, TS_C_TITLE, "Warnings:");
	x += 11;
	for (uint32_t k = 0; k < TS_WARN_KIND_COUNT; k++) {
		const char *name = ts_warning_kind_name(k);

		if (!s->warn_counts[k])
			continue;
		ts_fmt_count(num, sizeof(num), s->warn_counts[k]);
		snprintf(buf, sizeof(buf), "%s %s", name ? name : "?", num);
		segment(c, r, &x, TS_C_WARN, buf);
		any = true;
	}
	if (!any)
		segment(c, r, &x, TS_C_DIM, "none");
	return 1;
}

/* "  1.23s ago  long_poll  task 17 accept_loop  poll took 45.6ms" */
static void draw_recent(struct ts_console *c, int y, struct ts_rect r, const struct ts_recent_warning *rw)
{
	const struct ts_state *s = &c->state;
	const char *kind = ts_warning_kind_name(rw->w.kind);
	char age[32], task[96], dur[32], buf[64];
	int x = r.x + 3;
	struct ts_rect line = { y, r.x, 1, r.w };

	ts_fmt_duration(age, sizeof(age), s->now_ns > rw->w.ts_ns ? s->now_ns - rw->w.ts_ns : 0, c->ascii);
	snprintf(buf, sizeof(buf), "%s ago", age);
	segment(c, line, &x, TS_C_DIM, buf);
	segment(c, line, &x, TS_C_WARN, kind ? kind : "unknown");
	if (rw->w.task_id) {
		snprintf(task, sizeof(task), "task %llu", (unsigned long long)rw->w.task_id);
		put_at(c, line, &x, TS_C_NORMAL, task, rw->task_name[0] ? 1 : 2);
		if (rw->task_name[0])
			segment(c, line, &x, TS_C_TITLE, rw->task_name);
	} else if (rw->w.tid) {
		snprintf(task, sizeof(task), "thread %u", rw->w.tid);
		segment(c, line, &x, TS_C_NORMAL, task);
	}
	if (rw->w.duration_ns) {
		ts_fmt_duration(dur, sizeof(dur), rw->w.duration_ns, c->ascii);
		segment(c, line, &x, TS_C_NORMAL, dur);
	}
	segment(c, line, &x, TS_C_DIM, rw->w.detail);
}

int ts_view_warnings_draw(struct ts_console *c, struct ts_rect r)
{
	const struct ts_state *s = &c->state;
	int used, n;

	if (r.h < 1)
		return 0;
	used = draw_counts(c, r);
	n = r.h - used;
	if ((size_t)n > s->nwarnings)
		n = (int)s->nwarnings;
	/* newest first */
	for (int i = 0; i < n; i++)
		draw_recent(c, r.y + used + i, r, &s->warnings[s->nwarnings - 1 - (size_t)i]);
	return used + n;
}
