/*
 * view_details.c: one task, everything the console knows about it.
 *
 * Identity and times with their share of the lifetime, wakers, the
 * poll-time and scheduled-delay histograms (sparkline, percentiles,
 * outliers), the recent polls as a timeline strip (on/off CPU where the
 * kernel context says), the task's warnings with what they mean and what
 * to do, and the locks it holds or waits for. The page is taller than an
 * 80x24 screen: it scrolls (state cursor `top`), lines above it are
 * skipped rather than drawn off-screen.
 */
#include "console/internal.h"

#include <stdio.h>
#include <string.h>

#include "collector/event.h"
#include "collector/model.h"
#include "console/format.h"

#define CHART_MAX 72
#define POLL_LIST_MAX 8

/* A page of lines: logical line `line`, shown when within the window. */
struct page {
	struct ts_console *c;
	struct ts_rect r;
	int line;
	int top;
};

/* Screen row of the next logical line, or -1 when scrolled out. */
static int next_line(struct page *p)
{
	int l = p->line++;

	if (l < p->top || l - p->top >= p->r.h)
		return -1;
	return p->r.y + (l - p->top);
}

static void text_line(struct page *p, enum ts_color color, const char *s)
{
	int y = next_line(p);

	if (y >= 0)
		ts_view_put(p->c, y, p->r.x + 1, p->r.w - 2, color, s);
}

/* Word-wrap `s` over lines of the page, indented by `indent`. */
static void wrapped(struct page *p, int indent, enum ts_color color, const char *s)
{
	int w = p->r.w - 2 - indent;
	char buf[256];

	if (w < 10)
		w = 10;
	while (*s) {
		size_t n = strlen(s), cut = n;
		int y;

		if ((int)n > w) {
			cut = (size_t)w;
			while (cut > 0 && s[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = (size_t)w;
		}
		if (cut >= sizeof(buf))
			cut = sizeof(buf) - 1;
		memcpy(buf, s, cut);
		buf[cut] = '\0';
		y = next_line(p);
		if (y >= 0)
			ts_view_put(p->c, y, p->r.x + 1 + indent, w, color, buf);
		s += cut;
		while (*s == ' ')
			s++;
	}
}

static void pct_of(char *buf, size_t n, uint64_t part, uint64_t whole, bool ascii)
{
	char d[32];

	ts_fmt_duration(d, sizeof(d), part, ascii);
	if (whole)
		snprintf(buf, n, "%s %.1f%%", d, (double)part * 100.0 / (double)whole);
	else
		snprintf(buf, n, "%s", d);
}

static void draw_identity(struct page *p, const struct ts_task_detail *d, uint64_t now)
{
	const struct ts_row *row = &d->row;
	char buf[512], tot[48], busy[48], sched[48], idle[48], since[32], fields[192];
	int y;

	y = next_line(p);
	if (y >= 0) {
		int x = p->r.x + 1;

		snprintf(buf, sizeof(buf), "Task %llu", (unsigned long long)row->id);
		ts_view_seg(p->c, y, p->r, &x, TS_C_TITLE, buf, 2);
		ts_view_seg(p->c, y, p->r, &x, TS_C_TITLE, row->name[0] ? row->name : "(unnamed)", 2);
		snprintf(buf, sizeof(buf), "pid %u", row->pid);
		ts_view_seg(p->c, y, p->r, &x, TS_C_DIM, buf, 2);
	}
	ts_fmt_duration(since, sizeof(since), now > d->state_since_ns ? now - d->state_since_ns : 0,
			p->c->ascii);
	ts_view_task_fields(fields, sizeof(fields), row);
	snprintf(buf, sizeof(buf), "State %s for %s   Kind %s   %s", ts_task_state_name(row->state), since,
		 ts_task_kind_name(row->kind), fields);
	text_line(p, TS_C_NORMAL, buf);
	snprintf(buf, sizeof(buf), "Location %s", row->location[0] ? row->location : "unknown");
	text_line(p, TS_C_NORMAL, buf);
	ts_fmt_duration(tot, sizeof(tot), row->total_ns, p->c->ascii);
	pct_of(busy, sizeof(busy), row->busy_ns, row->total_ns, p->c->ascii);
	pct_of(sched, sizeof(sched), row->sched_ns, row->total_ns, p->c->ascii);
	pct_of(idle, sizeof(idle), row->idle_ns, row->total_ns, p->c->ascii);
	snprintf(buf, sizeof(buf), "Total %s  Busy %s  Sched %s  Idle %s  Polls %llu", tot, busy, sched, idle,
		 (unsigned long long)row->polls);
	text_line(p, TS_C_NORMAL, buf);
}

static void draw_wakers(struct page *p, const struct ts_task_detail *d, uint64_t now)
{
	char buf[320], last[48], cur[32], self[48];

	if (d->last_wake_ns && now >= d->last_wake_ns) {
		char age[32];

		ts_fmt_duration(age, sizeof(age), now - d->last_wake_ns, p->c->ascii);
		snprintf(last, sizeof(last), "%s ago", age);
	} else {
		snprintf(last, sizeof(last), "never");
	}
	/* negative: more wakes by value or drops than clones seen (we
	 * missed some): the count means nothing */
	if (d->wakers_unknown || d->wakers < 0)
		snprintf(cur, sizeof(cur), "unknown");
	else
		snprintf(cur, sizeof(cur), "%lld", (long long)d->wakers);
	if (d->wakes)
		snprintf(self, sizeof(self), "%llu (%.0f%%)", (unsigned long long)d->self_wakes,
			 (double)d->self_wakes * 100.0 / (double)d->wakes);
	else
		snprintf(self, sizeof(self), "0");
	snprintf(buf, sizeof(buf), "Wakers  current %s  clones %llu  drops %llu", cur,
		 (unsigned long long)d->waker_clones, (unsigned long long)d->waker_drops);
	text_line(p, TS_C_NORMAL, buf);
	snprintf(buf, sizeof(buf), "Wakes   %llu  last woken %s  self-wakes %s", (unsigned long long)d->wakes, last,
		 self);
	text_line(p, TS_C_NORMAL, buf);
}

/* One line of block characters, one column per bucket range between the
 * smallest and the largest non-empty bucket. */
static void draw_chart(struct page *p, const struct ts_histogram *h)
{
	static const char *const blocks[] = { " ", "\u2581", "\u2582", "\u2583", "\u2584",
					      "\u2585", "\u2586", "\u2587", "\u2588" };
	static const char ascii_blocks[] = " .:-=+*#@";
	unsigned lo = TS_HIST_BUCKETS, hi = 0;
	uint32_t maxc = 0;
	int w = p->r.w - 4, y;
	char lo_s[32], hi_s[32], axis[CHART_MAX + 64];
	uint64_t lo_ns, hi_ns, dummy;

	if (w > CHART_MAX)
		w = CHART_MAX;
	for (unsigned b = 0; b < TS_HIST_BUCKETS; b++) {
		if (!h->buckets[b])
			continue;
		lo = b < lo ? b : lo;
		hi = b;
		maxc = h->buckets[b] > maxc ? h->buckets[b] : maxc;
	}
	if (lo > hi || w < 10)
		return;
	/* at most three columns per bucket: a narrow spread stays narrow */
	if ((unsigned)w > (hi - lo + 1) * 3)
		w = (int)(hi - lo + 1) * 3 < 24 ? 24 : (int)(hi - lo + 1) * 3;
	y = next_line(p);
	if (y >= 0) {
		unsigned nb = hi - lo + 1;

		attrset(p->c->attr[TS_C_RUNNING]);
		for (int i = 0; i < w; i++) {
			/* the columns of a bucket range; several buckets in one
			 * column show the tallest */
			unsigned b0 = lo + (unsigned)((uint64_t)i * nb / (unsigned)w);
			unsigned b1 = lo + (unsigned)((uint64_t)(i + 1) * nb / (unsigned)w);
			uint32_t cnt = 0;
			int level;

			if (b1 <= b0)
				b1 = b0 + 1;
			for (unsigned b = b0; b < b1 && b <= hi; b++)
				cnt = h->buckets[b] > cnt ? h->buckets[b] : cnt;
			level = cnt ? 1 + (int)((uint64_t)cnt * 7 / maxc) : 0;
			if (p->c->ascii) {
				char one[2] = { ascii_blocks[level], 0 };

				mvaddstr(y, p->r.x + 2 + i, one);
			} else {
				mvaddstr(y, p->r.x + 2 + i, blocks[level]);
			}
		}
		attrset(A_NORMAL);
	}
	ts_histogram_bucket_range(lo, &lo_ns, &dummy);
	ts_fmt_duration(lo_s, sizeof(lo_s), lo_ns > h->min ? lo_ns : h->min, p->c->ascii);
	ts_histogram_bucket_range(hi, &dummy, &hi_ns);
	ts_fmt_duration(hi_s, sizeof(hi_s), h->max < hi_ns ? h->max : hi_ns, p->c->ascii);
	y = next_line(p);
	if (y >= 0) {
		int pad = w - ts_fmt_width(lo_s, true) - ts_fmt_width(hi_s, p->c->ascii);

		snprintf(axis, sizeof(axis), "%s%*s%s", lo_s, pad > 1 ? pad : 1, "", hi_s);
		ts_view_put(p->c, y, p->r.x + 2, p->r.w - 3, TS_C_DIM, axis);
	}
}

static void draw_histogram(struct page *p, const char *title, const struct ts_histogram *h)
{
	static const struct { const char *name; double q; } qs[] = {
		{ "p50", 0.50 }, { "p75", 0.75 }, { "p90", 0.90 }, { "p95", 0.95 }, { "p99", 0.99 },
	};
	char buf[384], v[32];
	size_t len;

	if (!h->count) {
		snprintf(buf, sizeof(buf), "%s", title);
		text_line(p, TS_C_TITLE, buf);
		text_line(p, TS_C_DIM, "  no samples yet");
		return;
	}
	ts_fmt_duration(v, sizeof(v), h->max, p->c->ascii);
	snprintf(buf, sizeof(buf), "%s (%llu, max %s, %llu outliers)", title, (unsigned long long)h->count, v,
		 (unsigned long long)ts_state_hist_outliers(h));
	text_line(p, TS_C_TITLE, buf);
	draw_chart(p, h);
	len = (size_t)snprintf(buf, sizeof(buf), " ");
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]) && len < sizeof(buf); i++) {
		ts_fmt_duration(v, sizeof(v), ts_histogram_quantile(h, qs[i].q), p->c->ascii);
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s %s  ", qs[i].name, v);
	}
	text_line(p, TS_C_NORMAL, buf);
}

/* The recent polls on a time line: one column per slice of time from the
 * first poll kept to now. */
static void draw_polls(struct page *p, const struct ts_task_detail *d, uint64_t now)
{
	const char *on = p->c->ascii ? "#" : "\u2588", *off = p->c->ascii ? "=" : "\u2592";
	const char *none = p->c->ascii ? "." : "\u00b7";
	int w = p->r.w - 4, y;
	uint64_t t0, t1, span;
	char buf[256], a[32], b[32], when[32];
	bool any_cpu = false;

	snprintf(buf, sizeof(buf), "Recent polls (%zu kept)", d->npolls);
	text_line(p, TS_C_TITLE, buf);
	if (!d->npolls) {
		text_line(p, TS_C_DIM, "  none kept (never polled, or scrolled out of the model's recent polls)");
		return;
	}
	if (w > CHART_MAX)
		w = CHART_MAX;
	t0 = d->polls[0].start_ns;
	t1 = now > d->polls[d->npolls - 1].end_ns ? now : d->polls[d->npolls - 1].end_ns;
	span = t1 > t0 ? t1 - t0 : 1;
	y = next_line(p);
	for (int i = 0; y >= 0 && i < w; i++) {
		uint64_t c0 = t0 + span * (uint64_t)i / (uint64_t)w;
		uint64_t c1 = t0 + span * (uint64_t)(i + 1) / (uint64_t)w;
		const char *g = none;
		enum ts_color color = TS_C_DIM;

		for (size_t k = 0; k < d->npolls; k++) {
			const struct ts_detail_poll *pl = &d->polls[k];
			uint64_t dur = pl->end_ns - pl->start_ns;

			if (pl->end_ns < c0 || pl->start_ns >= c1)
				continue;
			if (pl->on_cpu_ns >= 0 && (uint64_t)pl->on_cpu_ns * 2 < dur) {
				if (g == none) {
					g = off;
					color = TS_C_WARN;
				}
			} else {
				g = on;
				color = TS_C_RUNNING;
			}
		}
		attrset(p->c->attr[color]);
		mvaddstr(y, p->r.x + 2 + i, g);
		attrset(A_NORMAL);
	}
	for (size_t k = 0; k < d->npolls; k++)
		any_cpu = any_cpu || d->polls[k].on_cpu_ns >= 0;
	ts_fmt_duration(a, sizeof(a), span, p->c->ascii);
	snprintf(buf, sizeof(buf), "  last %s: %s polled%s  %s off-CPU in a poll  %s not polled", a, on,
		 any_cpu ? " on-CPU" : " (on/off CPU unknown)", off, none);
	text_line(p, TS_C_DIM, buf);
	/* the newest few, newest first */
	for (size_t k = d->npolls, shown = 0; k-- > 0 && shown < POLL_LIST_MAX; shown++) {
		const struct ts_detail_poll *pl = &d->polls[k];

		ts_fmt_duration(when, sizeof(when), now > pl->start_ns ? now - pl->start_ns : 0, p->c->ascii);
		ts_fmt_duration(a, sizeof(a), pl->end_ns - pl->start_ns, p->c->ascii);
		if (pl->on_cpu_ns >= 0)
			ts_fmt_duration(b, sizeof(b), (uint64_t)pl->on_cpu_ns, p->c->ascii);
		else
			snprintf(b, sizeof(b), "?");
		snprintf(buf, sizeof(buf), "  %8s ago  took %-7s on-CPU %-7s tid %-7u %s", when, a, b, pl->tid,
			 pl->running ? "running" : pl->ready ? "ready" : "pending");
		text_line(p, pl->running ? TS_C_RUNNING : TS_C_NORMAL, buf);
	}
}

static void draw_warnings(struct page *p, const struct ts_task_detail *d, uint64_t now)
{
	char buf[320], age[32];

	snprintf(buf, sizeof(buf), "Warnings (%zu)", d->nwarnings);
	text_line(p, TS_C_TITLE, buf);
	if (!d->nwarnings) {
		text_line(p, TS_C_DIM, d->row.nwarn ? "  raised earlier; no longer among the latest warnings"
						    : "  none");
		return;
	}
	for (size_t i = d->nwarnings; i-- > 0;) {
		const struct ts_recent_warning *w = &d->warnings[i];
		const char *kind = ts_warning_kind_name(w->w.kind), *help = ts_warning_kind_help(w->w.kind);

		ts_fmt_duration(age, sizeof(age), now > w->w.ts_ns ? now - w->w.ts_ns : 0, p->c->ascii);
		snprintf(buf, sizeof(buf), "  %s  %s ago  %s", kind ? kind : "unknown", age, w->w.detail);
		text_line(p, TS_C_WARN, buf);
		if (help)
			wrapped(p, 4, TS_C_DIM, help);
	}
}

static void draw_locks(struct page *p, const struct ts_task_detail *d)
{
	char buf[320], since[32];

	snprintf(buf, sizeof(buf), "Locks (%zu)", d->nlocks);
	text_line(p, TS_C_TITLE, buf);
	if (!d->nlocks) {
		text_line(p, TS_C_DIM, "  holds or waits for none");
		return;
	}
	for (size_t i = 0; i < d->nlocks; i++) {
		const struct ts_detail_lock *l = &d->locks[i];

		if (l->since_ns == TS_UNKNOWN)
			snprintf(since, sizeof(since), "?");
		else
			ts_fmt_duration(since, sizeof(since), l->since_ns, p->c->ascii);
		snprintf(buf, sizeof(buf), "  %s %s %s (id %llu) %s for %s", l->waits ? "waits for" : "holds",
			 ts_resource_kind_name(l->kind), l->name[0] ? l->name : "(unnamed)",
			 (unsigned long long)l->id, l->location, since);
		text_line(p, l->waits ? TS_C_ALERT : TS_C_NORMAL, buf);
	}
}

void ts_view_details_draw(struct ts_console *c, struct ts_rect r)
{
	struct ts_state *s = &c->state;
	const struct ts_task_detail *d = &s->detail;
	struct ts_cursor *cu = &s->cur[TS_VIEW_DETAILS];
	struct page p = { c, r, 0, 0 };
	char buf[128];
	int total;

	if (r.h < 1)
		return;
	cu->page = (size_t)r.h;
	if (!d->valid || d->row.id != s->detail_id || d->row.pid != s->detail_pid) {
		snprintf(buf, sizeof(buf), "Task %llu: %s", (unsigned long long)s->detail_id,
			 s->filled ? "not known (gone, or forgotten after the retention)" : "waiting for data");
		ts_view_put(c, r.y, r.x + 1, r.w - 2, TS_C_DIM, buf);
		return;
	}
	/* a dry run counts the lines, so scrolling stops at the end */
	for (int pass = 0; pass < 2; pass++) {
		p.line = 0;
		p.top = pass == 0 ? 1 << 30 : (int)cu->top;
		draw_identity(&p, d, s->now_ns);
		draw_wakers(&p, d, s->now_ns);
		next_line(&p);
		if (d->have_hists) {
			draw_histogram(&p, "Poll times", &d->poll_hist);
			draw_histogram(&p, "Scheduled delays", &d->sched_hist);
		} else {
			char mx[32];

			ts_fmt_duration(mx, sizeof(mx), d->max_poll_ns, c->ascii);
			snprintf(buf, sizeof(buf), "Poll times: longest %s (no histograms from this source)", mx);
			text_line(&p, TS_C_TITLE, buf);
		}
		next_line(&p);
		draw_polls(&p, d, s->now_ns);
		next_line(&p);
		draw_warnings(&p, d, s->now_ns);
		next_line(&p);
		draw_locks(&p, d);
		total = p.line;
		if (pass == 0 && cu->top + (size_t)r.h > (size_t)total)
			cu->top = total > r.h ? (size_t)(total - r.h) : 0;
	}
}
