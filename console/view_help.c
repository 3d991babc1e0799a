/*
 * view_help.c: the footer's key hints and the `?` overlay.
 *
 * The overlay lists the key table of input.c, so what the help says is
 * what the keys do, plus the legend of the State column.
 */
#include "console/internal.h"

#include <stdio.h>
#include <string.h>

#include "collector/model.h"

#include "console/format.h"

static const char *const view_names[TS_VIEW_COUNT] = {
	[TS_VIEW_TASKS] = "Tasks", [TS_VIEW_DETAILS] = "Details", [TS_VIEW_RESOURCES] = "Resources",
	[TS_VIEW_WORKERS] = "Workers", [TS_VIEW_WARNINGS] = "Warnings",
};

/* " [t] Tasks 12  [r] Resources 3  [w] Workers 4  [W] Warnings 7 " and the
 * active filters on the right. */
void ts_view_tabs_draw(struct ts_console *c, struct ts_rect r)
{
	static const struct { unsigned view; const char *key; } tabs[] = {
		{ TS_VIEW_TASKS, "t" }, { TS_VIEW_RESOURCES, "r" }, { TS_VIEW_WORKERS, "w" },
		{ TS_VIEW_WARNINGS, "W" },
	};
	const struct ts_state *s = &c->state;
	char buf[96];
	int x = r.x + 1;
	uint64_t nwarn = 0;

	for (uint32_t k = 0; k < TS_WARN_KIND_COUNT; k++)
		nwarn += s->warn_counts[k];
	for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++) {
		unsigned v = tabs[i].view;
		bool active = s->view == v || (v == TS_VIEW_TASKS && s->view == TS_VIEW_DETAILS);
		unsigned long long n = v == TS_VIEW_TASKS ? s->nrows : v == TS_VIEW_RESOURCES ? s->nres
				     : v == TS_VIEW_WORKERS ? s->nworkers : nwarn;

		snprintf(buf, sizeof(buf), "[%s] %s %llu", tabs[i].key, view_names[v], n);
		ts_view_seg(c, r.y, r, &x, active ? TS_C_SORTHEAD : TS_C_DIM, buf, 2);
	}
	if (s->view == TS_VIEW_DETAILS)
		ts_view_seg(c, r.y, r, &x, TS_C_TITLE, "> Details", 2);
	if (s->filter[0] || s->editing_filter) {
		snprintf(buf, sizeof(buf), "filter: %s%s", s->filter, s->editing_filter ? "_" : "");
		ts_view_seg(c, r.y, r, &x, TS_C_WARN, buf, 2);
	}
	if (s->state_filter != TS_FILTER_ALL) {
		snprintf(buf, sizeof(buf), "state: %s", ts_task_state_name(s->state_filter - 1));
		ts_view_seg(c, r.y, r, &x, TS_C_WARN, buf, 2);
	}
	if (s->warn_only)
		ts_view_seg(c, r.y, r, &x, TS_C_WARN, "warned only", 2);
}

void ts_view_footer_draw(struct ts_console *c, struct ts_rect r)
{
	const struct ts_state *s = &c->state;
	const char *hints;

	if (s->editing_filter)
		hints = "type a name or location  Enter keep  Esc clear  Backspace delete";
	else if (s->view == TS_VIEW_DETAILS)
		hints = c->ascii ? "Esc back  j/k scroll  t/r/w/W views  space pause  ? help  q quit"
				 : "Esc back  \u2191/\u2193 scroll  t/r/w/W views  space pause  ? help  q quit";
	else if (s->view == TS_VIEW_TASKS)
		hints = c->ascii ? "q quit  ? help  Enter details  Left/Right sort  i invert  / filter  f state  ! warned"
				 : "q quit  ? help  Enter details  \u2190/\u2192 sort  i invert  / filter  f state  ! warned";
	else if (s->view == TS_VIEW_WORKERS)
		hints = "q quit  ? help  j/k select  t tasks  r resources  W warnings  space pause";
	else
		hints = "q quit  ? help  Enter go to task  j/k select  Esc back  space pause";
	ts_view_fill(c, r.y, r, TS_C_BAR);
	ts_view_put(c, r.y, r.x + 1, r.w - 2, TS_C_BAR, hints);
}

static void frame(struct ts_console *c, struct ts_rect b)
{
	const char *h = c->ascii ? "-" : "\u2500", *v = c->ascii ? "|" : "\u2502";
	const char *corner[4] = { "+", "+", "+", "+" };

	if (!c->ascii) {
		corner[0] = "\u250c", corner[1] = "\u2510";
		corner[2] = "\u2514", corner[3] = "\u2518";
	}
	attrset(c->attr[TS_C_HELP]);
	for (int y = b.y; y < b.y + b.h; y++)
		mvhline(y, b.x, ' ', b.w);
	for (int x = b.x + 1; x < b.x + b.w - 1; x++) {
		mvaddstr(b.y, x, h);
		mvaddstr(b.y + b.h - 1, x, h);
	}
	for (int y = b.y + 1; y < b.y + b.h - 1; y++) {
		mvaddstr(y, b.x, v);
		mvaddstr(y, b.x + b.w - 1, v);
	}
	mvaddstr(b.y, b.x, corner[0]);
	mvaddstr(b.y, b.x + b.w - 1, corner[1]);
	mvaddstr(b.y + b.h - 1, b.x, corner[2]);
	mvaddstr(b.y + b.h - 1, b.x + b.w - 1, corner[3]);
	attrset(A_NORMAL);
}

static void help_line(struct ts_console *c, int y, int x, int w, const char *keys, const char *what)
{
	char label[64], line[192];

	ts_fmt_fit(label, sizeof(label), keys, 8, 0, c->ascii);
	snprintf(line, sizeof(line), "%s %s", label, what);
	ts_view_put(c, y, x, w, TS_C_HELP, line);
}

void ts_view_help_draw(struct ts_console *c, struct ts_rect r)
{
	size_t n, listed = 0, extra = 0, per_col;
	const struct ts_key_binding *kb = ts_input_bindings(&n);
	struct ts_rect b;
	int ncols = 1, colw, y, col = 0;

	for (size_t i = 0; i < n; i++)
		listed += kb[i].help != NULL;
	for (size_t i = 0; c->key_help && c->key_help[i]; i++)
		extra++;
	listed += extra;
	/* frame, a blank line, the legend; two columns when one is too tall */
	if ((int)listed + 4 > r.h && r.w >= 78)
		ncols = 2;
	per_col = (listed + (size_t)ncols - 1) / (size_t)ncols;
	b.w = ncols == 2 ? (r.w < 100 ? r.w : 100) : (r.w - 4 < 64 ? r.w - 4 : 64);
	b.h = (int)per_col + 4;
	if (b.h > r.h)
		b.h = r.h;
	if (b.w < 20 || b.h < 4)
		return;
	colw = (b.w - 4) / ncols;
	b.x = r.x + (r.w - b.w) / 2;
	b.y = r.y + (r.h - b.h) / 2;
	frame(c, b);
	ts_view_put(c, b.y, b.x + 2, b.w - 4, TS_C_HELP, " Keys (? or Esc closes) ");
	y = b.y + 1;
	for (size_t i = 0, k = 0; i < n + extra; i++) {
		const char *keys, *what;
		char tmp[64];

		if (i < n) {
			if (!kb[i].help)
				continue;
			keys = c->ascii ? kb[i].label_ascii : kb[i].label;
			what = kb[i].help;
		} else {
			/* "keys\tmeaning" from the conn (ts_console_set_keys) */
			const char *line = c->key_help[i - n], *tab = strchr(line, '\t');
			size_t kl = tab ? (size_t)(tab - line) : 0;

			if (kl >= sizeof(tmp))
				kl = sizeof(tmp) - 1;
			memcpy(tmp, line, kl);
			tmp[kl] = '\0';
			keys = tmp;
			what = tab ? tab + 1 : line;
		}
		if (k == per_col) {
			col++;
			y = b.y + 1;
			k = 0;
		}
		if (y < b.y + b.h - 1)
			help_line(c, y, b.x + 2 + col * colw, colw - 1, keys, what);
		y++;
		k++;
	}
	y = b.y + 1 + (int)per_col;
	if (y < b.y + b.h - 2) {
		y++;
		ts_view_put(c, y++, b.x + 2, b.w - 4, TS_C_HELP,
			    c->ascii ? "State: R running  S scheduled  I idle  D done"
				     : "State: \u25b6 running  \u23eb scheduled  \u23f8 idle  \u2713 done");
	}
}
