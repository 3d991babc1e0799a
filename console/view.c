/*
 * view.c: drawing helpers the views share.
 *
 * Every string a view draws goes through ts_view_put(), which cleans and
 * fits it (format.c) before curses sees it: untrusted task names can hold
 * escape sequences, and curses must never be asked to draw past a
 * view's rectangle.
 */
#include "console/internal.h"

#include "console/format.h"

#define PUT_MAX_COLS 1024

void ts_view_put(struct ts_console *c, int y, int x, int maxw, enum ts_color color, const char *s)
{
	char buf[PUT_MAX_COLS * 4 + 1];
	int cols;

	if (maxw <= 0 || !s)
		return;
	if (maxw > PUT_MAX_COLS)
		maxw = PUT_MAX_COLS;
	cols = ts_fmt_width(s, c->ascii);
	ts_fmt_fit(buf, sizeof(buf), s, cols < maxw ? cols : maxw, 0, c->ascii);
	attrset(c->attr[color]);
	mvaddstr(y, x, buf);
	attrset(A_NORMAL);
}

void ts_view_cell(struct ts_console *c, int y, int x, int w, unsigned flags, enum ts_color color, const char *text)
{
	char buf[PUT_MAX_COLS * 4 + 1];

	if (w <= 0)
		return;
	if (w > PUT_MAX_COLS)
		w = PUT_MAX_COLS;
	ts_fmt_fit(buf, sizeof(buf), text ? text : "", w, flags, c->ascii);
	attrset(c->attr[color]);
	mvaddstr(y, x, buf);
	attrset(A_NORMAL);
}

void ts_view_fill(struct ts_console *c, int y, struct ts_rect r, enum ts_color color)
{
	attrset(c->attr[color]);
	mvhline(y, r.x, ' ', r.w);
	attrset(A_NORMAL);
}

void ts_view_seg(struct ts_console *c, int y, struct ts_rect r, int *x, enum ts_color color, const char *s, int gap)
{
	int room = r.x + r.w - *x;

	if (room <= 0 || !s)
		return;
	ts_view_put(c, y, *x, room, color, s);
	*x += ts_fmt_width(s, c->ascii) + gap;
}

void ts_view_layout(const struct ts_colspec *cols, int n, int w, int flex_min, int *widths)
{
	for (int rank = 0;; rank++) {
		int fixed = 0, shown = 0, flex = -1;

		for (int i = 0; i < n; i++) {
			if (cols[i].drop && cols[i].drop <= rank) {
				widths[i] = 0;
				continue;
			}
			widths[i] = cols[i].width;
			shown++;
			if (cols[i].width)
				fixed += cols[i].width;
			else
				flex = i;
		}
		if (flex >= 0 && (w - fixed - (shown - 1) >= flex_min || rank > n)) {
			int rest = w - fixed - (shown - 1);

			widths[flex] = rest > 1 ? rest : 1;
			return;
		}
		if (flex < 0 && (fixed + shown - 1 <= w || rank > n))
			return;
	}
}

void ts_view_colheads(struct ts_console *c, int y, struct ts_rect r, const struct ts_colspec *cols,
		      const int *widths, int n)
{
	int x = r.x;

	ts_view_fill(c, y, r, TS_C_COLHEAD);
	for (int i = 0; i < n; i++) {
		if (!widths[i])
			continue;
		if (x >= r.x + r.w)
			break;
		ts_view_cell(c, y, x, widths[i] < r.x + r.w - x ? widths[i] : r.x + r.w - x,
			     cols[i].right ? TS_FIT_RIGHT : 0, TS_C_COLHEAD, cols[i].title);
		x += widths[i] + 1;
	}
}
