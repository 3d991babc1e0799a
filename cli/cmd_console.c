/*
 * cmd_console.c: `taskscope console --db FILE` (replay a recording) and
 * `taskscope console --connect ADDR` (a console on a live collector in
 * another process).
 *
 * Everything that can fail for a reason the user can fix (not a
 * recording, another schema version, nothing listening at ADDR, a stream
 * that is not taskscope's) is found before the terminal is taken over, or,
 * when it happens later (a corrupt stream), the terminal is restored first
 * and then one line says what went wrong. Signals (SIGINT, SIGTERM,
 * SIGHUP) come through a signalfd, so every exit restores the terminal.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "console/conn_db.h"
#include "console/conn_remote.h"
#include "console/console.h"
#include "console/state.h"

#define LOOP_MS 50
#define REDRAW_NS 100000000ull
#define CONNECT_TIMEOUT_MS 2000
#define FIRST_SNAPSHOT_MS 5000

struct console_opts {
	const char *db;
	const char *connect;
	bool no_color, ascii;
};

static void usage(FILE *out)
{
	fputs("usage: taskscope console (--db FILE | --connect ADDR) [--no-color] [--ascii]\n"
	      "Open the console on a recording (replay with a time cursor) or on a live collector\n"
	      "started elsewhere with --serve ADDR (taskscope demo/run/attach).\n\n"
	      "options:\n"
	      "  --db FILE        replay FILE: space plays/pauses (at the end: from the start),\n"
	      "                   , . step, [ ] seek 1 s,\n"
	      "                   { } seek a tenth, 0 $ start/end, n N next/previous warning,\n"
	      "                   + - speed\n"
	      "  --connect ADDR   a Unix socket path, or HOST:PORT on the loopback interface\n"
	      "  --no-color       no colours (also when NO_COLOR is set)\n"
	      "  --ascii          ASCII only, even in a UTF-8 locale\n", out);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse(int argc, char **argv, struct console_opts *o)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 1;
		} else if (!strcmp(a, "--no-color")) {
			o->no_color = true;
		} else if (!strcmp(a, "--ascii")) {
			o->ascii = true;
		} else if (!strcmp(a, "--db") || !strcmp(a, "--connect")) {
			if (i + 1 >= argc || !argv[i + 1][0]) {
				fprintf(stderr, "taskscope console: %s needs a value; see 'taskscope console --help'\n", a);
				return -EINVAL;
			}
			*(a[2] == 'd' ? &o->db : &o->connect) = argv[++i];
		} else if (!strncmp(a, "--db=", 5)) {
			o->db = a + 5;
		} else if (!strncmp(a, "--connect=", 10)) {
			o->connect = a + 10;
		} else {
			fprintf(stderr, "taskscope console: unknown argument '%s'; see 'taskscope console --help'\n", a);
			return -EINVAL;
		}
	}
	if (!o->db == !o->connect) {
		fprintf(stderr, "taskscope console: give either --db FILE or --connect ADDR\n");
		return -EINVAL;
	}
	return 0;
}

/* SIGINT/SIGTERM/SIGHUP as an fd: the loop quits cleanly on them. */
static int block_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, old);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int replay(const struct console_opts *o)
{
	struct ts_console_options co = { .no_color = o->no_color, .ascii = o->ascii };
	struct ts_console *c = NULL;
	struct ts_conn_db *d = NULL;
	char err[1024] = "", mode[96], target[256];
	uint64_t last, last_draw = 0, first_ns, last_ns;
	sigset_t old;
	int sfd = -1, r, code = TS_EXIT_RUNTIME;

	r = ts_conn_db_open(o->db, &d, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "taskscope console: %s\n", err[0] ? err : strerror(-r));
		return TS_EXIT_RUNTIME;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "taskscope console: the console needs a terminal; to read %s without one use "
			"'taskscope query'\n", o->db);
		ts_conn_db_free(d);
		return TS_EXIT_USAGE;
	}
	ts_conn_db_target(d, target, sizeof(target));
	sfd = block_signals(&old);
	r = ts_console_new(&co, &c);
	if (r < 0) {
		fprintf(stderr, "taskscope console: cannot start the console: %s\n", strerror(-r));
		goto cleanup;
	}
	ts_console_set_keys(c, ts_conn_db_key, d, ts_conn_db_help);
	ts_console_state(c)->paused = true;     /* start at the beginning, paused */
	ts_conn_db_bounds(d, &first_ns, &last_ns);
	last = now_ns();
	for (bool dirty = true, was_paused = true;;) {
		struct pollfd pfd[2] = { { .fd = ts_console_input_fd(c), .events = POLLIN },
					 { .fd = sfd, .events = POLLIN } };
		struct ts_state *s = ts_console_state(c);
		struct ts_console_status st;
		struct signalfd_siginfo si;
		unsigned flags;
		uint64_t now;
		bool at_end;

		poll(pfd, 2, LOOP_MS);
		if (sfd >= 0 && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			break;
		flags = ts_console_handle_input(c);
		if (flags & TS_CONSOLE_QUIT)
			break;
		now = now_ns();
		if (!s->paused && was_paused && ts_conn_db_cursor(d) == last_ns) {
			ts_conn_db_seek(d, first_ns);   /* play at the end: from the start again */
			dirty = true;
		}
		if (!s->paused) {
			dirty |= ts_conn_db_play(d, now - last, &at_end);
			if (at_end) {
				s->paused = true;       /* stop at the end */
				dirty = true;
			}
		}
		was_paused = s->paused;         /* as the next keys will find it */
		last = now;
		/* keys redraw at once; playback at most every REDRAW_NS */
		if (!(flags & TS_CONSOLE_REDRAW) && now - last_draw < REDRAW_NS)
			continue;
		dirty |= (flags & TS_CONSOLE_REDRAW) != 0;
		if (dirty && ts_conn_db_fill(d, s) < 0) {
			ts_console_free(c);
			c = NULL;
			fprintf(stderr, "taskscope console: out of memory while replaying %s\n", o->db);
			goto cleanup;
		}
		ts_conn_db_mode(d, mode, sizeof(mode));
		st = (struct ts_console_status){ .now_ns = ts_conn_db_cursor(d), .target = target, .mode = mode,
						 .dropped = ts_conn_db_dropped(d), .db_path = o->db };
		ts_console_render(c, NULL, &st);
		last_draw = now;
		dirty = false;
	}
	code = TS_EXIT_OK;
cleanup:
	ts_console_free(c);
	ts_conn_db_free(d);
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return code;
}

/* Before the terminal is ours: connect and read up to the first snapshot,
 * so a wrong address or a stream that is not taskscope's is one line. */
static int remote_start(const char *addr, struct ts_remote_link **link, struct ts_conn_remote *r, char *err,
			size_t errlen)
{
	uint64_t deadline;
	int rc;

	rc = ts_remote_link_new(addr, CONNECT_TIMEOUT_MS, link, err, errlen);
	if (rc < 0)
		return rc;
	deadline = now_ns() + FIRST_SNAPSHOT_MS * 1000000ull;
	while (!ts_conn_remote_synced(r)) {
		struct pollfd pfd = { .fd = ts_remote_link_fd(*link), .events = POLLIN };
		uint64_t now = now_ns();

		if (now >= deadline) {
			snprintf(err, errlen, "%s sent no snapshot within %d s: is it a taskscope collector (--serve)?",
				 addr, FIRST_SNAPSHOT_MS / 1000);
			return -ETIMEDOUT;
		}
		poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1);
		rc = ts_remote_link_read(*link, r, now_ns(), err, errlen);
		if (rc == -ECONNRESET) {
			snprintf(err, errlen, "%s closed the connection before a complete snapshot: "
				 "is it a taskscope collector (--serve)?", addr);
			return rc;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int remote(const struct console_opts *o)
{
	struct ts_console_options co = { .no_color = o->no_color, .ascii = o->ascii };
	struct ts_console *c = NULL;
	struct ts_conn_remote *r = NULL;
	struct ts_remote_link *link = NULL;
	char err[1024] = "", mode[128];
	uint64_t last_draw = 0;
	sigset_t old;
	int sfd = -1, rc, code = TS_EXIT_RUNTIME;
	bool blocked = false;

	if (ts_conn_remote_new(&r) < 0) {
		fprintf(stderr, "taskscope console: out of memory\n");
		return TS_EXIT_RUNTIME;
	}
	rc = remote_start(o->connect, &link, r, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "taskscope console: %s\n", err[0] ? err : strerror(-rc));
		goto cleanup;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "taskscope console: the console needs a terminal\n");
		code = TS_EXIT_USAGE;
		goto cleanup;
	}
	sfd = block_signals(&old);
	blocked = true;
	rc = ts_console_new(&co, &c);
	if (rc < 0) {
		fprintf(stderr, "taskscope console: cannot start the console: %s\n", strerror(-rc));
		goto cleanup;
	}
	for (;;) {
		struct pollfd pfd[3] = { { .fd = ts_console_input_fd(c), .events = POLLIN },
					 { .fd = sfd, .events = POLLIN },
					 { .fd = ts_remote_link_fd(link), .events = POLLIN } };
		const struct ts_remote_session *rs = ts_conn_remote_session(r);
		struct ts_console_status st;
		struct signalfd_siginfo si;
		unsigned flags;
		uint64_t now = now_ns();
		int wait = ts_remote_link_wait_ms(link, now);
		uint64_t before = ts_conn_remote_updates(r);

		poll(pfd, 3, wait >= 0 && wait < LOOP_MS ? wait : LOOP_MS);
		if (sfd >= 0 && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			break;
		flags = ts_console_handle_input(c);
		if (flags & TS_CONSOLE_QUIT)
			break;
		now = now_ns();
		rc = ts_remote_link_read(link, r, now, err, sizeof(err));
		if (rc < 0 && rc != -ECONNRESET) {
			/* a broken stream: the terminal first, then the line */
			ts_console_free(c);
			c = NULL;
			fprintf(stderr, "taskscope console: %s\n", err);
			goto cleanup;
		}
		if (!ts_remote_link_connected(link))
			ts_remote_link_retry(link, r, now);
		{
			/* the task in the details view: its histograms and polls */
			const struct ts_state *s = ts_console_state(c);
			bool details = s->view == TS_VIEW_DETAILS && s->detail_id;

			ts_remote_link_focus(link, details ? s->detail_pid : 0, details ? s->detail_id : 0, now);
		}
		if (!(flags & TS_CONSOLE_REDRAW) && ts_conn_remote_updates(r) == before && now - last_draw < REDRAW_NS)
			continue;
		if (ts_conn_remote_fill(r, ts_console_state(c), now) < 0) {
			ts_console_free(c);
			c = NULL;
			fprintf(stderr, "taskscope console: out of memory\n");
			goto cleanup;
		}
		if (ts_remote_link_connected(link) && ts_conn_remote_synced(r))
			snprintf(mode, sizeof(mode), "remote %s", rs->mode[0] ? rs->mode : "live");
		else
			snprintf(mode, sizeof(mode), "remote: %s unreachable, retrying", o->connect);
		st = (struct ts_console_status){ .now_ns = ts_console_state(c)->now_ns, .target = rs->target,
						 .mode = mode, .events_per_s = rs->events_per_s,
						 .dropped = rs->dropped, .unstored = rs->unstored,
						 .db_path = rs->db_path };
		ts_console_render(c, NULL, &st);
		last_draw = now;
	}
	code = TS_EXIT_OK;
cleanup:
	ts_console_free(c);
	ts_remote_link_free(link);
	ts_conn_remote_free(r);
	if (sfd >= 0)
		close(sfd);
	if (blocked)
		sigprocmask(SIG_SETMASK, &old, NULL);
	return code;
}

int ts_cmd_console(int argc, char **argv)
{
	struct console_opts o = { 0 };
	int r = parse(argc, argv, &o);

	if (r == 1)
		return TS_EXIT_OK;
	if (r < 0)
		return TS_EXIT_USAGE;
	return o.db ? replay(&o) : remote(&o);
}
