/*
 * input.c: the key table and what each action does to the state.
 *
 * Keys map to actions through one table, which the help overlay also
 * lists, so the two cannot drift apart. Actions change state and return
 * TS_CONSOLE_* flags; they never draw. KEY_RESIZE is handled here and
 * nowhere else: it asks the next render for a full repaint (curses has
 * already updated LINES/COLS, and views lay out from the window size).
 */
#include "console/internal.h"

#include <stdint.h>
#include <string.h>

#define KEY_ESC 27

#define KEY_CTRL_C 3

/* Listed in this order by the help overlay. */
static const struct ts_key_binding bindings[] = {
	{ { 't', 0 }, TS_ACT_VIEW_TASKS, "t", "t", "tasks view" },
	{ { 'r', 0 }, TS_ACT_VIEW_RESOURCES, "r", "r", "resources view (locks)" },
	{ { 'w', 0 }, TS_ACT_VIEW_WORKERS, "w", "w", "workers view (threads)" },
	{ { 'W', 0 }, TS_ACT_VIEW_WARNINGS, "W", "W", "warnings view" },
	{ { '\n', '\r', KEY_ENTER, 0 }, TS_ACT_ENTER, "Enter", "Enter", "details / jump to the task" },
	{ { KEY_ESC, KEY_BACKSPACE, 0 }, TS_ACT_CLOSE, "Esc", "Esc", "back, close the help" },
	{ { KEY_LEFT, 'h', 0 }, TS_ACT_SORT_LEFT, "\u2190 h", "Left h", "sort by the previous column" },
	{ { KEY_RIGHT, 'l', 0 }, TS_ACT_SORT_RIGHT, "\u2192 l", "Right l", "sort by the next column" },
	{ { 'i', 'I', 0 }, TS_ACT_SORT_INVERT, "i", "i", "invert the sort order" },
	{ { KEY_UP, 'k', 0 }, TS_ACT_UP, "\u2191 k", "Up k", "select the previous row" },
	{ { KEY_DOWN, 'j', 0 }, TS_ACT_DOWN, "\u2193 j", "Down j", "select the next row" },
	{ { KEY_PPAGE, 0 }, TS_ACT_PAGE_UP, "PgUp", "PgUp", "one page up" },
	{ { KEY_NPAGE, 0 }, TS_ACT_PAGE_DOWN, "PgDn", "PgDn", "one page down" },
	{ { 'g', KEY_HOME, 0 }, TS_ACT_TOP, "gg Home", "gg Home", "first row" },
	{ { 'G', KEY_END, 0 }, TS_ACT_BOTTOM, "G End", "G End", "last row" },
	{ { '/', 0 }, TS_ACT_FILTER, "/", "/", "filter tasks by name or location" },
	{ { 'f', 0 }, TS_ACT_STATE_FILTER, "f", "f", "cycle the state filter" },
	{ { '!', 0 }, TS_ACT_WARN_ONLY, "!", "!", "only tasks with warnings" },
	{ { ' ', 0 }, TS_ACT_PAUSE, "space", "space", "pause / resume (freeze the data)" },
	{ { '?', 0 }, TS_ACT_HELP, "?", "?", "show / hide this help" },
	{ { 'q', 'Q', KEY_CTRL_C, 0 }, TS_ACT_QUIT, "q ^C", "q ^C", "quit" },
	{ { KEY_RESIZE, 0 }, TS_ACT_RESIZE, NULL, NULL, NULL },
};

const struct ts_key_binding *ts_input_bindings(size_t *count)
{
	*count = sizeof(bindings) / sizeof(bindings[0]);
	return bindings;
}

enum ts_action ts_input_lookup(int key)
{
	for (size_t i = 0; i < sizeof(bindings) / sizeof(bindings[0]); i++)
		for (size_t k = 0; k < 4 && bindings[i].keys[k]; k++)
			if (bindings[i].keys[k] == key)
				return bindings[i].action;
	return TS_ACT_NONE;
}

unsigned ts_input_apply(struct ts_console *c, enum ts_action a)
{
	struct ts_state *s = &c->state;
	size_t pg = s->cur[s->view < TS_VIEW_COUNT ? s->view : 0].page;
	int64_t page = pg > 1 ? (int64_t)pg - 1 : 1;

	switch (a) {
	case TS_ACT_NONE:
		return 0;
	case TS_ACT_QUIT:
		return TS_CONSOLE_QUIT;
	case TS_ACT_PAUSE:
		s->paused = !s->paused;
		break;
	case TS_ACT_SORT_LEFT:
		ts_state_sort_step(s, -1);
		break;
	case TS_ACT_SORT_RIGHT:
		ts_state_sort_step(s, 1);
		break;
	case TS_ACT_SORT_INVERT:
		ts_state_sort_invert(s);
		break;
	case TS_ACT_UP:
		ts_state_move(s, -1);
		break;
	case TS_ACT_DOWN:
		ts_state_move(s, 1);
		break;
	case TS_ACT_PAGE_UP:
		ts_state_move(s, -page);
		break;
	case TS_ACT_PAGE_DOWN:
		ts_state_move(s, page);
		break;
	case TS_ACT_TOP:
		ts_state_move(s, INT64_MIN);
		break;
	case TS_ACT_BOTTOM:
		ts_state_move(s, INT64_MAX);
		break;
	case TS_ACT_HELP:
		c->help = !c->help;
		break;
	case TS_ACT_CLOSE:
		if (c->help)
			c->help = false;
		else if (s->view == TS_VIEW_DETAILS)
			ts_state_back(s);
		else if (s->view != TS_VIEW_TASKS)
			ts_state_set_view(s, TS_VIEW_TASKS);
		else if (s->filter[0])
			ts_state_set_filter(s, "");
		else
			return 0;
		break;
	case TS_ACT_RESIZE:
		c->need_clear = true;
		break;
	case TS_ACT_ENTER:
		if (!ts_state_enter(s))
			return 0;
		break;
	case TS_ACT_VIEW_TASKS:
		ts_state_set_view(s, TS_VIEW_TASKS);
		break;
	case TS_ACT_VIEW_RESOURCES:
		ts_state_set_view(s, TS_VIEW_RESOURCES);
		break;
	case TS_ACT_VIEW_WORKERS:
		ts_state_set_view(s, TS_VIEW_WORKERS);
		break;
	case TS_ACT_VIEW_WARNINGS:
		ts_state_set_view(s, TS_VIEW_WARNINGS);
		break;
	case TS_ACT_FILTER:
		ts_state_set_view(s, TS_VIEW_TASKS);
		s->editing_filter = true;
		break;
	case TS_ACT_STATE_FILTER:
		ts_state_cycle_state_filter(s);
		break;
	case TS_ACT_WARN_ONLY:
		ts_state_toggle_warn_only(s);
		break;
	}
	return TS_CONSOLE_REDRAW;
}

unsigned ts_input_filter_key(struct ts_console *c, int key)
{
	struct ts_state *s = &c->state;
	char buf[TS_FILTER_MAX];
	size_t n = strlen(s->filter);

	switch (key) {
	case KEY_ESC:
		s->editing_filter = false;
		ts_state_set_filter(s, "");
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
		s->editing_filter = false;
		break;
	case KEY_BACKSPACE:
	case 127:
	case 8:
		if (n == 0)
			return 0;
		memcpy(buf, s->filter, n);
		buf[n - 1] = '\0';
		ts_state_set_filter(s, buf);
		break;
	case KEY_RESIZE:
		c->need_clear = true;
		break;
	default:
		/* printable ASCII only: the filter is matched byte-wise */
		if (key < 0x20 || key > 0x7e || n + 1 >= sizeof(buf))
			return 0;
		memcpy(buf, s->filter, n);
		buf[n] = (char)key;
		buf[n + 1] = '\0';
		ts_state_set_filter(s, buf);
		break;
	}
	return TS_CONSOLE_REDRAW;
}
