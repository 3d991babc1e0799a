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
