/*
 * console.h: the live ncurses console, as the embedded collector drives it.
 *
 * The collector owns the event loop: it polls ts_console_input_fd() beside
 * its data sources, calls ts_console_handle_input() when the terminal is
 * readable (or after poll() was interrupted: that picks up resizes), and
 * ts_console_render() about ten times a second and after input that asked
 * for a redraw. The console never reads a clock and never blocks.
 */
#ifndef TASKSCOPE_CONSOLE_H
#define TASKSCOPE_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ts_model;
struct ts_console;

struct ts_console_options {
	bool no_color;            /* also implied by a non-empty NO_COLOR in the environment */
	bool ascii;               /* force ASCII; implied when the locale's codeset is not UTF-8 */
};

struct ts_console_status {
	uint64_t now_ns;          /* CLOCK_MONOTONIC now */
	const char *target;       /* e.g. "demo (pid 1234)" */
	const char *mode;         /* "live", "done" (target exited) ... */
	double events_per_s;
	uint64_t dropped;         /* events lost: target rings + collector; red when non-zero */
	uint64_t unstored;        /* rows storage could not keep; red when non-zero */
	const char *db_path;
};

/* Take over the terminal (setlocale(LC_CTYPE, ""), newterm, colors).
 * Fails with -ENOTTY when stdin/stdout is not a terminal or TERM is
 * unusable. */
int ts_console_new(const struct ts_console_options *o, struct ts_console **out);
/* The same on any stream pair, without the tty checks: for benchmarks and
 * tests that draw into a virtual terminal (e.g. /dev/null with a `term`
 * such as "xterm-256color", sized by the LINES and COLUMNS variables). */
int ts_console_new_stream(const struct ts_console_options *o, const char *term, FILE *outf, FILE *inf,
			  struct ts_console **out);
/* Restore the terminal (endwin) and free everything. NULL is fine. */
void ts_console_free(struct ts_console *c);
int ts_console_input_fd(const struct ts_console *c);

#define TS_CONSOLE_QUIT 1u
#define TS_CONSOLE_REDRAW 2u

/* Read every pending key without blocking; returns TS_CONSOLE_* flags. */
unsigned ts_console_handle_input(struct ts_console *c);
/* Refresh the displayed rows from `m` (unless paused; task times are
 * taken at st->now_ns) and draw. `m` and `st` may be NULL (nothing new to
 * show); `m` is read only when `st` is given. */
void ts_console_render(struct ts_console *c, const struct ts_model *m, const struct ts_console_status *st);

/* For a conn other than the model (replay, remote): the state the console
 * draws. Fill it as console/state.h says (skip it while state->paused),
 * call ts_state_sort(), then ts_console_render(c, NULL, st). */
struct ts_state *ts_console_state(struct ts_console *c);

/* Keys the console does not bind go to `fn` (e.g. the replay's time
 * cursor), which returns TS_CONSOLE_* flags. `help` is a NULL-terminated
 * list of "keys\tmeaning" lines for the help overlay, kept by pointer.
 * `fn` NULL removes the hook. */
typedef unsigned (*ts_console_key_fn)(void *ctx, int key);
void ts_console_set_keys(struct ts_console *c, ts_console_key_fn fn, void *ctx, const char *const *help);

#endif /* TASKSCOPE_CONSOLE_H */
