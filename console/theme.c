/*
 * theme.c: what each semantic color looks like.
 *
 * Views only name a role (enum ts_color); this maps roles to curses
 * attributes, with color pairs when the terminal has colors and the user
 * did not ask for none (NO_COLOR, --no-color), and to plain attributes
 * (reverse, bold, underline) otherwise, so every role stays distinct.
 */
#include "console/internal.h"

struct theme_entry {
	short fg, bg;         /* -1: terminal default */
	attr_t color_attr;    /* added to the pair */
	attr_t mono_attr;     /* used alone without colors */
};

static const struct theme_entry theme[TS_C_COUNT] = {
	[TS_C_NORMAL]    = { -1, -1, A_NORMAL, A_NORMAL },
	[TS_C_BAR]       = { COLOR_WHITE, COLOR_BLUE, A_BOLD, A_REVERSE },
	[TS_C_TITLE]     = { -1, -1, A_BOLD, A_BOLD },
	[TS_C_COLHEAD]   = { COLOR_BLACK, COLOR_GREEN, A_NORMAL, A_REVERSE },
	[TS_C_SORTHEAD]  = { COLOR_BLACK, COLOR_CYAN, A_BOLD, A_BOLD | A_UNDERLINE },
	[TS_C_SELECTED]  = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE | A_BOLD },
	[TS_C_ALERT]     = { COLOR_WHITE, COLOR_RED, A_BOLD, A_BOLD | A_UNDERLINE },
	[TS_C_WARN]      = { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
	[TS_C_DIM]       = { -1, -1, A_DIM, A_DIM },
	[TS_C_RUNNING]   = { COLOR_GREEN, -1, A_BOLD, A_BOLD },
	[TS_C_SCHEDULED] = { COLOR_CYAN, -1, A_NORMAL, A_NORMAL },
	[TS_C_IDLE]      = { -1, -1, A_NORMAL, A_NORMAL },
	[TS_C_HELP]      = { COLOR_WHITE, COLOR_BLUE, A_NORMAL, A_NORMAL },
};

void ts_theme_init(struct ts_console *c)
{
	bool defaults = false;

	if (c->color && has_colors() && start_color() == OK && COLOR_PAIRS >= TS_C_COUNT)
		defaults = use_default_colors() == OK;
	else
		c->color = false;

	for (int i = 0; i < TS_C_COUNT; i++) {
		const struct theme_entry *e = &theme[i];
		short fg = e->fg, bg = e->bg;

		if (!c->color) {
			c->attr[i] = e->mono_attr;
			continue;
		}
		if (fg == -1 && bg == -1) {
			c->attr[i] = e->color_attr;
			continue;
		}
		if (!defaults) {
			fg = fg == -1 ? COLOR_WHITE : fg;
			bg = bg == -1 ? COLOR_BLACK : bg;
		}
		init_pair((short)i, fg, bg);
		c->attr[i] = COLOR_PAIR(i) | e->color_attr;
	}
}
