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

#define KEY_ESC 27

static const struct ts_key_binding bindings[] = {
	{ { KEY_LEFT, 'h', 0 }, TS_ACT_SORT_LEFT, "\u2190 h", "Left h", "sort by the previous column" },
	{ { KEY_RIGHT, 'l', 0 }, TS_ACT_SORT_RIGHT, "\u2192 l", "Right l", "sort by the next column" },
	{ { 'i', 'I', 0 }, TS_ACT_SORT_INVERT, "i", "i", "invert the sort order" },
	{ { KEY_UP, 'k', 0 }, TS_ACT_UP, "\u2191 k", "Up k", "select the previous task" },
	{ { KEY_DOWN, 'j', 0 }, TS_ACT_DOWN, "\u2193 j", "Down j", "select the next task" },
	{ { KEY_PPAGE, 0 }, TS_ACT_PAGE_UP, "PgUp", "PgUp", "one page up" },
	{ { KEY_NPAGE, 0 }, TS_ACT_PAGE_DOWN, "PgDn", "PgDn", "one page down" },
	{ { 'g', KEY_HOME, 0 }, TS_ACT_TOP, "g Home", "g Home", "first task" },
	{ { 'G', KEY_END, 0 }, TS_ACT_BOTTOM, "G End", "G End", "last task" },
	{ { ' ', 0 }, TS_ACT_PAUSE, "space", "space", "pause / resume (freeze the table)" },
	{ { '?', 0 }, TS_ACT_HELP, "?", "?", "show / hide this help" },
	{ { KEY_ESC, 0 }, TS_ACT_CLOSE, "Esc", "Esc", "close the help" },
	{ { 'q', 'Q', 0 }, TS_ACT_QUIT, "q", "q", "quit" },
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
		if (!c->help)
			return 0;
		c->help = false;
		break;
	case TS_ACT_RESIZE:
		c->need_clear = true;
		break;
	}
	return TS_CONSOLE_REDRAW;
}
