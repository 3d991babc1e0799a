/*
 * session.c: the recording loop behind `taskscope run` and `taskscope demo`.
 *
 * One thread polls the collector, the terminal and a signalfd: targets are
 * accepted and drained about 50 times a second, the model is ticked and
 * the console drawn 10 times a second. Storage writes on its own thread.
 * Every way out (q, Ctrl-C, SIGTERM, --duration, the target's exit) goes
 * through the same shutdown: stop the target, drain its rings one last
 * time, flush every task's state, commit, print where the recording is.
 */
#include "cli/session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpf/locks_source.h"
#include "collector/attach.h"
#include "collector/collector.h"
#include "collector/handshake.h"
#include "collector/publisher.h"
#include "console/console.h"
#include "storage/storage.h"

#define DRAIN_INTERVAL_MS 20
#define TICK_INTERVAL_NS 100000000ull
#define STOP_GRACE_NS 3000000000ull

struct session {
	const struct ts_record_options *opt;
	const char *cmd;
	const char *label;
	char db_path[4096];
	char sock_dir[64];
	char sock_path[128];
	char log_path[4200];
	struct ts_storage *storage;
	struct ts_collector *collector;
	struct ts_console *console;
	bool had_console;
	int sigfd;
	pid_t child;
	int child_status;
	bool child_exited;
	pid_t attached;            /* attach mode: the target, never signalled */
	bool target_gone;          /* attach mode: it exited while watched */
	char last_log[512];
	uint32_t context_pids[64];  /* targets given kernel context */
	size_t n_context;
	bool context_refused;      /* no privilege: tried and said so once */
	uint64_t unstored_reported;
	uint64_t unstored_said_ns;
	struct ts_publisher *publisher; /* --serve: remote consoles */
};

static void on_log(void *ctx, const char *line)
{
	struct session *s = ctx;

	snprintf(s->last_log, sizeof(s->last_log), "%s", line);
	/* Under the console, stderr belongs to the screen; lines are kept. */
	if (!s->console && strncmp(line, "attached", 8) && !strstr(line, "detached"))
		fprintf(stderr, "taskscope %s: %s\n", s->cmd, line);
}

/* Kernel context (scheduler, syscalls) for each new target of run/demo,
 * when allowed; when not, the session log says so once. */
static void add_kernel_context(struct session *s, const struct ts_process *p)
{
	char err[256] = "", line[300];

	bool locks = s->opt->context.locks != TS_LOCKS_OFF;

	if (s->attached || !(s->opt->context.kernel || locks) || p->exited || strcmp(p->source, "shim") != 0 ||
	    !s->collector || s->context_refused)
		return;
	for (size_t i = 0; i < s->n_context; i++)
		if (s->context_pids[i] == p->pid)
			return;
	if (s->n_context == sizeof(s->context_pids) / sizeof(s->context_pids[0]))
		return;
	s->context_pids[s->n_context++] = p->pid;
	if (ts_attach_check_bpf(err, sizeof(err)) < 0 ||
	    ts_kernel_context_attach(s->collector, p->pid, &s->opt->context, ts_now_ns(), err, sizeof(err)) < 0) {
		s->context_refused = true;
		snprintf(line, sizeof(line), "no kernel context (on/off CPU, syscalls): %s", err);
		on_log(s, line);
		return;
	}
	/* lock tracing (--locks), a bonus like the rest of the context */
	if (locks && ts_locks_attach(s->collector, p->pid, s->opt->context.locks, ts_now_ns(), err, sizeof(err)) < 0) {
		snprintf(line, sizeof(line), "no lock tracing: %s", err);
		on_log(s, line);
	}
}

static void on_process(void *ctx, const struct ts_process *p)
{
	struct session *s = ctx;

	ts_storage_add_process(s->storage, p);
	add_kernel_context(s, p);
}

static void on_drops(void *ctx, uint32_t pid, const char *source, uint64_t total)
{
	struct session *s = ctx;

	ts_storage_add_drops(s->storage, pid, source, total);
}

static void default_db_path(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(buf, len, "taskscope-%Y%m%d-%H%M%S.db", &tm);
}

/* Start the target with TASKSCOPE_SOCKET set. A failed exec is reported
 * through a close-on-exec pipe, so "no such command" is one clear line. */
static int start_child(struct session *s, char *const argv[], const sigset_t *blocked)
{
	int pfd[2];
	int child_errno = 0;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	s->child = fork();
	if (s->child < 0) {
		int r = -errno;

		close(pfd[0]);
		close(pfd[1]);
		return r;
	}
	if (s->child == 0) {
		int null = open("/dev/null", O_RDONLY);

		/* Its own process group, so stopping it stops what it started. */
		setpgid(0, 0);
		sigprocmask(SIG_UNBLOCK, blocked, NULL);
		setenv(TS_SOCKET_ENV, s->sock_path, 1);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		if (s->console) {
			int log = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			if (log >= 0) {
				dup2(log, STDOUT_FILENO);
				dup2(log, STDERR_FILENO);
			}
		}
		execvp(argv[0], argv);
		child_errno = errno;
		if (write(pfd[1], &child_errno, sizeof(child_errno)) < 0)
			_exit(127);
		_exit(127);
	}
	setpgid(s->child, s->child); /* also here: no window where kill(-child) misses */
	close(pfd[1]);
	do {
		n = read(pfd[0], &child_errno, sizeof(child_errno));
	} while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(child_errno)) {
		waitpid(s->child, NULL, 0);
		s->child = 0;
		return -child_errno;
	}
	return 0;
}

static void reap_child(struct session *s)
{
	int status;

	if (s->child <= 0 || s->child_exited)
		return;
	if (waitpid(s->child, &status, WNOHANG) == s->child) {
		s->child_exited = true;
		s->child_status = status;
	}
}

/* Ask the target to stop, and keep draining while it does, so that what
 * it writes on its way out is recorded too. */
static void stop_child(struct session *s)
{
	uint64_t deadline;

	reap_child(s);
	if (s->child <= 0)
		return;
	/* The group too: a shell's children are targets as well. */
	kill(-s->child, SIGTERM);
	if (s->child_exited)
		return;
	deadline = ts_now_ns() + STOP_GRACE_NS;
	while (!s->child_exited && ts_now_ns() < deadline) {
		ts_collector_handle_io(s->collector, ts_now_ns());
		ts_collector_drain(s->collector, ts_now_ns());
		poll(NULL, 0, DRAIN_INTERVAL_MS);
		reap_child(s);
	}
	if (!s->child_exited) {
		kill(-s->child, SIGKILL);
		waitpid(s->child, &s->child_status, 0);
		s->child_exited = true;
	}
}

static void describe_child_exit(const struct session *s, char *buf, size_t len)
{
	if (s->attached) {
		snprintf(buf, len, "%s", s->target_gone ? "exited" : "attached");
		return;
	}
	if (!s->child_exited)
		snprintf(buf, len, "live");
	else if (WIFEXITED(s->child_status))
		snprintf(buf, len, "exited (%d)", WEXITSTATUS(s->child_status));
	else if (WIFSIGNALED(s->child_status))
		snprintf(buf, len, "killed (%s)", strsignal(WTERMSIG(s->child_status)));
	else
		snprintf(buf, len, "exited");
}

/* Say so when storage falls behind or fails; at most every 2 seconds
 * (the console shows the count in red instead). */
static void warn_unstored(struct session *s, uint64_t now)
{
	struct ts_storage_stats st;

	ts_storage_get_stats(s->storage, &st);
	if (st.unstored > s->unstored_reported && !s->console && now - s->unstored_said_ns >= 2000000000ull) {
		fprintf(stderr, "taskscope %s: %llu rows not stored so far: %s\n", s->cmd,
			(unsigned long long)st.unstored,
			st.last_error_text[0] ? st.last_error_text : "the storage queue is full (the disk is too slow)");
		s->unstored_reported = st.unstored;
		s->unstored_said_ns = now;
	}
}

static void render(struct session *s, uint64_t now, double rate)
{
	struct ts_collector_stats cs;
	struct ts_storage_stats st;
	struct ts_console_status status;
	char target[256];
	char mode[64];

	ts_collector_get_stats(s->collector, &cs);
	ts_storage_get_stats(s->storage, &st);
	snprintf(target, sizeof(target), "%s (pid %d)", s->label, (int)(s->attached ? s->attached : s->child));
	describe_child_exit(s, mode, sizeof(mode));
	if (s->publisher) {
		struct ts_publisher_stats ps;
		size_t len = strlen(mode);

		ts_publisher_get_stats(s->publisher, &ps);
		if (ps.clients)
			snprintf(mode + len, sizeof(mode) - len, ", %u remote", ps.clients);
	}
	status = (struct ts_console_status){
		.now_ns = now, .target = target, .mode = mode, .events_per_s = rate,
		.dropped = cs.dropped, .unstored = st.unstored, .db_path = s->db_path,
	};
	ts_console_render(s->console, ts_collector_model(s->collector), &status);
}

/* --serve: send remote consoles what this console would show. */
static void publish(struct session *s, uint64_t now, double rate)
{
	struct ts_collector_stats cs;
	struct ts_storage_stats st;
	char target[256], mode[64];

	ts_collector_get_stats(s->collector, &cs);
	ts_storage_get_stats(s->storage, &st);
	snprintf(target, sizeof(target), "%s (pid %d)", s->label, (int)(s->attached ? s->attached : s->child));
	describe_child_exit(s, mode, sizeof(mode));
	ts_publisher_publish(s->publisher, ts_collector_model(s->collector), &(struct ts_publisher_session){
		.target = target, .mode = mode, .events_per_s = rate, .events = cs.events, .dropped = cs.dropped,
		.unstored = st.unstored, .db_path = s->db_path }, now);
}

static int setup(struct session *s, const sigset_t *blocked)
{
	struct ts_collector_options co = { 0 };
	struct ts_console_options cons = { .no_color = s->opt->no_color, .ascii = s->opt->ascii };
	char err[512];
	int r;

	r = ts_storage_open(s->db_path, &s->storage, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "taskscope %s: %s\n", s->cmd, err);
		return r;
	}
	snprintf(s->sock_dir, sizeof(s->sock_dir), "/tmp/taskscope-XXXXXX");
	if (!mkdtemp(s->sock_dir)) {
		r = -errno;
		fprintf(stderr, "taskscope %s: cannot create a directory in /tmp: %s\n", s->cmd, strerror(-r));
		s->sock_dir[0] = 0;
		return r;
	}
	snprintf(s->sock_path, sizeof(s->sock_path), "%s/control.sock", s->sock_dir);
	co.socket_path = s->sock_path;
	co.reorder_window_ns = TS_COLLECTOR_REORDER_NS;
	co.model = s->opt->model;
	ts_storage_sink(s->storage, &co.sink);
	co.ctx = s;
	co.process_changed = on_process;
	co.drops_changed = on_drops;
	co.log = on_log;
	r = ts_collector_new(&co, &s->collector, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "taskscope %s: %s\n", s->cmd, err);
		return r;
	}
	if (s->opt->serve) {
		r = ts_publisher_new(&(struct ts_publisher_options){ .addr = s->opt->serve }, &s->publisher,
				     err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "taskscope %s: %s\n", s->cmd, err);
			return r;
		}
		if (s->opt->headless)
			fprintf(stderr, "taskscope %s: serving consoles on %s\n", s->cmd, s->opt->serve);
	}
	s->sigfd = signalfd(-1, blocked, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sigfd < 0) {
		r = -errno;
		fprintf(stderr, "taskscope %s: signalfd: %s\n", s->cmd, strerror(-r));
		return r;
	}
	if (!s->opt->headless) {
		snprintf(s->log_path, sizeof(s->log_path), "%s.log", s->db_path);
		r = ts_console_new(&cons, &s->console);
		if (r < 0) {
			fprintf(stderr, "taskscope %s: cannot start the console: %s; use --headless\n",
				s->cmd, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Returns true when the session should stop. */
static bool handle_signals(struct session *s)
{
	struct signalfd_siginfo si;
	bool stop = false;

	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap_child(s);
		else
			stop = true;
	}
	return stop;
}

static void loop(struct session *s)
{
	uint64_t start = ts_now_ns();
	uint64_t deadline = s->opt->duration_s > 0 ? start + (uint64_t)(s->opt->duration_s * 1e9) : 0;
	uint64_t last_tick = 0, rate_t0 = start, rate_events0 = 0;
	double rate = 0;

	for (;;) {
		struct pollfd pfd[4] = {
			{ .fd = ts_collector_fd(s->collector), .events = POLLIN },
			{ .fd = s->sigfd, .events = POLLIN },
			{ .fd = s->console ? ts_console_input_fd(s->console) : -1, .events = POLLIN },
			{ .fd = s->publisher ? ts_publisher_fd(s->publisher) : -1, .events = POLLIN },
		};
		unsigned flags = 0;
		uint64_t now;

		poll(pfd, 4, DRAIN_INTERVAL_MS);
		now = ts_now_ns();
		if (handle_signals(s))
			break;
		ts_collector_handle_io(s->collector, now);
		if (s->publisher)
			ts_publisher_handle_io(s->publisher);
		ts_collector_drain(s->collector, now);
		if (s->console)
			flags = ts_console_handle_input(s->console);
		if (flags & TS_CONSOLE_QUIT)
			break;
		if (deadline && now >= deadline)
			break;
		reap_child(s);
		if (s->child_exited && !s->console) {
			ts_collector_handle_io(s->collector, now);
			break;
		}
		if (s->attached && !s->target_gone) {
			struct ts_collector_stats cs;

			ts_collector_get_stats(s->collector, &cs);
			s->target_gone = cs.targets == 0;
			if (s->target_gone && !s->console)
				break;
		}
		if (now - last_tick >= TICK_INTERVAL_NS) {
			struct ts_collector_stats cs;

			ts_collector_tick(s->collector, now);
			ts_collector_get_stats(s->collector, &cs);
			if (now - rate_t0 >= 1000000000ull) {
				rate = (double)(cs.events - rate_events0) * 1e9 / (double)(now - rate_t0);
				rate_t0 = now;
				rate_events0 = cs.events;
			}
			warn_unstored(s, now);
			if (s->publisher)
				publish(s, now, rate);
			last_tick = now;
			flags |= TS_CONSOLE_REDRAW;
		}
		if (s->console && (flags & TS_CONSOLE_REDRAW))
			render(s, now, rate);
	}
}

static void print_summary(struct session *s)
{
	struct ts_collector_stats cs;
	struct ts_storage_stats st;
	char how[64];

	ts_collector_get_stats(s->collector, &cs);
	ts_storage_get_stats(s->storage, &st);
	describe_child_exit(s, how, sizeof(how));
	if (s->last_log[0] && cs.refused)
		fprintf(stderr, "taskscope %s: %s\n", s->cmd, s->last_log);
	if (cs.targets_seen == 0 && !s->attached)
		fprintf(stderr, "taskscope %s: %s never connected: is it linked with libtaskscope?\n",
			s->cmd, s->label);
	fprintf(stderr, "taskscope %s: %s %s; %llu events, %llu dropped, %llu rows stored, %llu not stored\n",
		s->cmd, s->label, how, (unsigned long long)cs.events, (unsigned long long)cs.dropped,
		(unsigned long long)st.committed, (unsigned long long)st.unstored);
	if (st.last_error_text[0])
		fprintf(stderr, "taskscope %s: %s\n", s->cmd, st.last_error_text);
	if (s->had_console && !s->attached)
		fprintf(stderr, "taskscope %s: the target's output is in %s\n", s->cmd, s->log_path);
	printf("recording: %s\n", s->db_path);
	fflush(stdout);
}

static void remove_recording(const char *path)
{
	char aux[4200];

	unlink(path);
	snprintf(aux, sizeof(aux), "%s-wal", path);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", path);
	unlink(aux);
}

/* The body shared by run and attach: exactly one of argv and attach. */
static int session_main(const struct ts_record_options *o, char *const argv[], int pid,
			ts_session_attach_fn attach, void *attach_ctx, const char *label, const char *cmd)
{
	struct session s = { .opt = o, .cmd = cmd, .label = label, .sigfd = -1, .attached = pid };
	sigset_t blocked, old;
	int code = TS_EXIT_RUNTIME;
	char err[512] = "";
	int r;

	if (!o->headless && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		fprintf(stderr, "taskscope %s: the console needs a terminal; use --headless to record without one\n", cmd);
		return TS_EXIT_USAGE;
	}
	if (o->db_path)
		snprintf(s.db_path, sizeof(s.db_path), "%s", o->db_path);
	else
		default_db_path(s.db_path, sizeof(s.db_path));
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGCHLD);
	sigaddset(&blocked, SIGHUP);
	sigprocmask(SIG_BLOCK, &blocked, &old);
	if (setup(&s, &blocked) < 0)
		goto cleanup;
	if (attach)
		r = attach(attach_ctx, s.collector, err, sizeof(err));
	else
		r = start_child(&s, argv, &blocked);
	if (r < 0) {
		if (s.console) {
			ts_console_free(s.console);
			s.console = NULL;
		}
		if (attach)
			fprintf(stderr, "taskscope %s: %s\n", cmd, err[0] ? err : strerror(-r));
		else
			fprintf(stderr, "taskscope %s: cannot run '%s': %s\n", cmd, argv[0], strerror(-r));
		goto cleanup;
	}
	loop(&s);
	if (s.console) {
		ts_console_free(s.console);
		s.console = NULL;
		s.had_console = true;
	}
	stop_child(&s);
	ts_collector_finish(s.collector, ts_now_ns());
	ts_storage_flush(s.storage);
	print_summary(&s);
	code = TS_EXIT_OK;
cleanup:
	if (s.console)
		ts_console_free(s.console);
	ts_publisher_free(s.publisher);
	if (s.storage)
		ts_storage_close(s.storage);
	ts_collector_free(s.collector);
	if (s.sigfd >= 0)
		close(s.sigfd);
	if (s.sock_dir[0])
		rmdir(s.sock_dir);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (code != TS_EXIT_OK && attach && !o->db_path)
		remove_recording(s.db_path); /* nothing was recorded into a name we made up */
	return code;
}

int ts_session_run(const struct ts_record_options *o, char *const argv[], const char *label, const char *cmd)
{
	return session_main(o, argv, 0, NULL, NULL, label, cmd);
}

int ts_session_attach(const struct ts_record_options *o, int pid, ts_session_attach_fn attach, void *ctx,
		      const char *label, const char *cmd)
{
	return session_main(o, NULL, pid, attach, ctx, label, cmd);
}
