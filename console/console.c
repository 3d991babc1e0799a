/*
 * console.c: the console's lifecycle and the glue the collector's loop
 * calls (console.h).
 *
 * ts_console_render() is the only place that refreshes state from the
 * data source and the only place that lays the screen out: header,
 * warnings strip, tasks table, footer, and the help overlay on top. It
 * redraws into curses' virtual screen every time; curses then sends only
 * the cells that changed.
 */
#include "console/console.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console/conn.h"
#include "console/internal.h"

#define MIN_ROWS 10
#define MIN_COLS 40
#define TABLE_MIN_ROWS 7        /* title, column heads and five tasks */
#define RECENT_MAX_LINES 3

static bool env_no_color(void)
{
	const char *v = getenv("NO_COLOR");

	return v && v[0];
}

int ts_console_new_stream(const struct ts_console_options *o, const char *term, FILE *outf, FILE *inf,
			  struct ts_console **out)
{
	struct ts_console *c = NULL;
	const char *codeset;
	int r;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	ts_state_init(&c->state);

	/* LC_CTYPE only: curses needs the character set, but LC_NUMERIC
	 * would turn "%.2f" into "1,23" for every module of the process
	 * (warning details, SQL, JSON). */
	setlocale(LC_CTYPE, "");
	codeset = nl_langinfo(CODESET);
	c->ascii = (o && o->ascii) || !codeset || strcmp(codeset, "UTF-8") != 0;
	c->color = !(o && o->no_color) && !env_no_color();

	c->in_fd = fileno(inf);
	c->screen = newterm(term, outf, inf);
	if (!c->screen) {
		r = -ENOTTY;
		goto cleanup;
	}
	set_term(c->screen);
	cbreak();
	noecho();
	nonl();
	intrflush(stdscr, FALSE);
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	ts_theme_init(c);
	*out = c;
	return 0;

cleanup:
	ts_console_free(c);
	return r;
}

int ts_console_new(const struct ts_console_options *o, struct ts_console **out)
{
	*out = NULL;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return -ENOTTY;
	return ts_console_new_stream(o, NULL, stdout, stdin, out);
}

void ts_console_free(struct ts_console *c)
{
	if (!c)
		return;
	if (c->screen) {
		set_term(c->screen);
		endwin();
		delscreen(c->screen);
	}
	ts_state_fini(&c->state);
	free(c);
}

int ts_console_input_fd(const struct ts_console *c)
{
	return c->in_fd;
}

struct ts_state *ts_console_state(struct ts_console *c)
{
	return &c->state;
}

void ts_console_set_keys(struct ts_console *c, ts_console_key_fn fn, void *ctx, const char *const *help)
{
	c->key_fn = fn;
	c->key_ctx = ctx;
	c->key_help = fn ? help : NULL;
}

unsigned ts_console_handle_input(struct ts_console *c)
{
	unsigned flags = 0;
	int ch;

	while (!(flags & TS_CONSOLE_QUIT) && (ch = wgetch(stdscr)) != ERR) {
		enum ts_action a;

		if (c->state.editing_filter) {
			flags |= ts_input_filter_key(c, ch);
			continue;
		}
		a = ts_input_lookup(ch);

		if (a == TS_ACT_NONE && c->key_fn)
			flags |= c->key_fn(c->key_ctx, ch);
		else
			flags |= ts_input_apply(c, a);
	}
	return flags;
}

void ts_console_render(struct ts_console *c, const struct ts_model *m, const struct ts_console_status *st)
{
	struct ts_state *s = &c->state;
	int h, w, y = 0, warn_h;
	struct ts_rect body;

	/* without a status there is no `now` to take the task times at */
	if (m && st)
		ts_conn_model_refresh(s, m, st->now_ns);
	getmaxyx(stdscr, h, w);
	if (c->need_clear) {
		clearok(curscr, TRUE);
		c->need_clear = false;
	}
	werase(stdscr);
	if (h < MIN_ROWS || w < MIN_COLS) {
		ts_view_put(c, 0, 0, w, TS_C_ALERT, "terminal too small");
		goto out;
	}
	y += ts_view_header_draw(c, (struct ts_rect){ y, 0, 1, w }, st);
	ts_view_tabs_draw(c, (struct ts_rect){ y, 0, 1, w });
	y++;
	if (s->view == TS_VIEW_TASKS) {
		/* the strip gets its counts line and up to three warnings,
		 * never squeezing the table below TABLE_MIN_ROWS */
		warn_h = h - 1 - y - TABLE_MIN_ROWS;
		if (warn_h > 1 + RECENT_MAX_LINES)
			warn_h = 1 + RECENT_MAX_LINES;
		if (warn_h > 0)
			y += ts_view_warnings_draw(c, (struct ts_rect){ y, 0, warn_h, w });
	}
	body = (struct ts_rect){ y, 0, h - 1 - y, w };
	switch (s->view) {
	case TS_VIEW_DETAILS:
		ts_view_details_draw(c, body);
		break;
	case TS_VIEW_RESOURCES:
		ts_view_resources_draw(c, body);
		break;
	case TS_VIEW_WORKERS:
		ts_view_workers_draw(c, body);
		break;
	case TS_VIEW_WARNINGS:
		ts_view_warnlist_draw(c, body);
		break;
	default:
		ts_view_tasks_draw(c, body);
		break;
	}
	ts_view_footer_draw(c, (struct ts_rect){ h - 1, 0, 1, w });
	if (c->help)
		ts_view_help_draw(c, (struct ts_rect){ 0, 0, h, w });
out:
	wnoutrefresh(stdscr);
	doupdate();
}
