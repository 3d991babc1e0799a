/*
 * view_help.c: the footer's key hints and the `?` overlay.
 *
 * The overlay lists the key table of input.c, so what the help says is
 * what the keys do, plus the legend of the State column.
 */
#include "console/internal.h"

#include <stdio.h>

#include "console/format.h"

void ts_view_footer_draw(struct ts_console *c, struct ts_rect r)
{
	const char *hints = c->ascii
		? "q quit  ? help  space pause  Left/Right sort  i invert  j/k select  g/G top/bottom"
		: "q quit  ? help  space pause  \u2190/\u2192 sort  i invert  \u2191/\u2193 select  g/G top/bottom";

	attrset(c->attr[TS_C_BAR]);
	mvhline(r.y, r.x, ' ', r.w);
	attrset(A_NORMAL);
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

void ts_view_help_draw(struct ts_console *c, struct ts_rect r)
{
	size_t n, listed = 0;
	const struct ts_key_binding *kb = ts_input_bindings(&n);
	struct ts_rect b;
	char line[160];
	int y;

	for (size_t i = 0; i < n; i++)
		listed += kb[i].help != NULL;
	b.w = r.w - 4 < 64 ? r.w - 4 : 64;
	b.h = (int)listed + 4;     /* frame, a blank line, the legend */
	if (b.h > r.h)
		b.h = r.h;
	if (b.w < 20 || b.h < 4)
		return;
	b.x = r.x + (r.w - b.w) / 2;
	b.y = r.y + (r.h - b.h) / 2;
	frame(c, b);
	ts_view_put(c, b.y, b.x + 2, b.w - 4, TS_C_HELP, " Keys (? or Esc closes) ");
	y = b.y + 1;
	for (size_t i = 0; i < n && y < b.y + b.h - 1; i++) {
		char label[32];

		if (!kb[i].help)
			continue;
		ts_fmt_fit(label, sizeof(label), c->ascii ? kb[i].label_ascii : kb[i].label, 7, 0, c->ascii);
		snprintf(line, sizeof(line), "%s  %s", label, kb[i].help);
		ts_view_put(c, y++, b.x + 2, b.w - 4, TS_C_HELP, line);
	}
	if (y < b.y + b.h - 2) {
		y++;
		ts_view_put(c, y++, b.x + 2, b.w - 4, TS_C_HELP,
			    c->ascii ? "State: R running  S scheduled  I idle  D done"
				     : "State: \u25b6 running  \u23eb scheduled  \u23f8 idle  \u2713 done");
	}
}
