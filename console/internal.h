/*
 * internal.h: what the console's files share and nobody else sees.
 *
 * struct ts_console, the semantic color enum (views ask for "alert" or
 * "selected", the theme decides what that looks like with or without
 * color), the key table's actions and the views' entry points.
 */
#ifndef TASKSCOPE_CONSOLE_INTERNAL_H
#define TASKSCOPE_CONSOLE_INTERNAL_H

#include <curses.h>
#include <stdbool.h>

#include "console/console.h"
#include "console/state.h"

enum ts_color {
	TS_C_NORMAL = 0,
	TS_C_BAR,             /* header and footer bars */
	TS_C_TITLE,           /* section titles */
	TS_C_COLHEAD,         /* table column headers */
	TS_C_SORTHEAD,        /* the sort column's header */
	TS_C_SELECTED,        /* the selected row */
	TS_C_ALERT,           /* dropped events, unstored rows: must be seen */
	TS_C_WARN,            /* warning markers and counts */
	TS_C_DIM,             /* secondary text, done tasks */
	TS_C_RUNNING,
	TS_C_SCHEDULED,
	TS_C_IDLE,
	TS_C_HELP,            /* the help overlay */
	TS_C_COUNT,
};

struct ts_console {
	SCREEN *screen;
	bool ascii;
	bool color;
	bool help;            /* the help overlay is up */
	bool need_clear;      /* repaint everything (after a resize) */
	attr_t attr[TS_C_COUNT];
	struct ts_state state;
	ts_console_key_fn key_fn;      /* keys the table does not bind (replay) */
	void *key_ctx;
	const char *const *key_help;
};

/* theme.c */
void ts_theme_init(struct ts_console *c);

/* input.c: the key table. */
enum ts_action {
	TS_ACT_NONE = 0,
	TS_ACT_QUIT,
	TS_ACT_PAUSE,
	TS_ACT_SORT_LEFT,
	TS_ACT_SORT_RIGHT,
	TS_ACT_SORT_INVERT,
	TS_ACT_UP,
	TS_ACT_DOWN,
	TS_ACT_PAGE_UP,
	TS_ACT_PAGE_DOWN,
	TS_ACT_TOP,
	TS_ACT_BOTTOM,
	TS_ACT_HELP,
	TS_ACT_CLOSE,         /* Esc: close the overlay */
	TS_ACT_RESIZE,
};

struct ts_key_binding {
	int keys[4];          /* 0-terminated */
	enum ts_action action;
	const char *label;    /* how the help names the keys (UTF-8) */
	const char *label_ascii;
	const char *help;     /* NULL: not listed */
};

const struct ts_key_binding *ts_input_bindings(size_t *count);
enum ts_action ts_input_lookup(int key);
/* Apply one action to the console's state; returns TS_CONSOLE_* flags. */
unsigned ts_input_apply(struct ts_console *c, enum ts_action a);

/* views: draw into stdscr from state only. Each returns the rows it used. */
struct ts_rect {
	int y, x, h, w;
};

void ts_view_put(struct ts_console *c, int y, int x, int maxw, enum ts_color color, const char *s);
int ts_view_header_draw(struct ts_console *c, struct ts_rect r, const struct ts_console_status *st);
int ts_view_warnings_draw(struct ts_console *c, struct ts_rect r);
void ts_view_tasks_draw(struct ts_console *c, struct ts_rect r);
void ts_view_footer_draw(struct ts_console *c, struct ts_rect r);
void ts_view_help_draw(struct ts_console *c, struct ts_rect r);

#endif /* TASKSCOPE_CONSOLE_INTERNAL_H */
