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
	int in_fd;            /* the terminal's input */
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
	TS_ACT_CLOSE,         /* Esc: close the overlay, cancel, go back */
	TS_ACT_RESIZE,
	TS_ACT_ENTER,         /* open the details / jump to the task */
	TS_ACT_VIEW_TASKS,
	TS_ACT_VIEW_RESOURCES,
	TS_ACT_VIEW_WORKERS,
	TS_ACT_VIEW_WARNINGS,
	TS_ACT_FILTER,        /* `/`: type a name or location filter */
	TS_ACT_STATE_FILTER,  /* cycle the state filter */
	TS_ACT_WARN_ONLY,     /* only tasks with warnings */
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
/* A key while the filter is being typed; returns TS_CONSOLE_* flags. */
unsigned ts_input_filter_key(struct ts_console *c, int key);

/* views: draw into stdscr from state only. Each returns the rows it used. */
struct ts_rect {
	int y, x, h, w;
};

void ts_view_put(struct ts_console *c, int y, int x, int maxw, enum ts_color color, const char *s);
/* Draw `text` fitted to exactly w columns (flags: enum ts_fit_flags). */
void ts_view_cell(struct ts_console *c, int y, int x, int w, unsigned flags, enum ts_color color, const char *text);
/* Fill a line of r with the color's background. */
void ts_view_fill(struct ts_console *c, int y, struct ts_rect r, enum ts_color color);
/* Draw `s` at *x when something fits, then advance *x past it and `gap`. */
void ts_view_seg(struct ts_console *c, int y, struct ts_rect r, int *x, enum ts_color color, const char *s, int gap);
int ts_view_header_draw(struct ts_console *c, struct ts_rect r, const struct ts_console_status *st);
int ts_view_warnings_draw(struct ts_console *c, struct ts_rect r);
/* A table column for ts_view_layout: width 0 is the one flexible column
 * (takes what is left, at least flex_min); drop > 0: hidden, in increasing
 * order, while the flexible column would be narrower than flex_min. */
struct ts_colspec {
	const char *title;
	int width;
	bool right;
	int drop;
};
void ts_view_layout(const struct ts_colspec *cols, int n, int w, int flex_min, int *widths);
void ts_view_colheads(struct ts_console *c, int y, struct ts_rect r, const struct ts_colspec *cols,
		      const int *widths, int n);

/* "parent=3 panicked key=value": the Fields cell of a task. */
void ts_view_task_fields(char *buf, size_t n, const struct ts_row *row);
void ts_view_tabs_draw(struct ts_console *c, struct ts_rect r);
void ts_view_tasks_draw(struct ts_console *c, struct ts_rect r);
void ts_view_details_draw(struct ts_console *c, struct ts_rect r);
void ts_view_resources_draw(struct ts_console *c, struct ts_rect r);
void ts_view_workers_draw(struct ts_console *c, struct ts_rect r);
void ts_view_warnlist_draw(struct ts_console *c, struct ts_rect r);
void ts_view_footer_draw(struct ts_console *c, struct ts_rect r);
void ts_view_help_draw(struct ts_console *c, struct ts_rect r);

#endif /* TASKSCOPE_CONSOLE_INTERNAL_H */
