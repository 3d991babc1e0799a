/*
 * test-loop-stall.c: generic attach to a plain epoll server
 * (loop-server.c), made to stall 300 ms once off the CPU (clock_nanosleep)
 * and once on it (a spin). Each stall must raise exactly one loop_stall
 * with its duration within 20% and the right attribution (the spin: on
 * the CPU, or waiting for one when the machine is loaded, never asleep
 * in a syscall) and, for the spin, the function it spun in from a stack
 * sampled during the stall; the loop thread
 * is a worker with CPU time; the server exiting while attached ends the
 * source cleanly. With "raw_syscalls" as its second argument, the waits
 * are watched through the fallback (raw_syscalls instead of the wait
 * syscalls' own tracepoints).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel-test.h"
#include "collector/model.h"

#define MS 1000000ull

static int ask(int fd, const char *cmd)
{
	return write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd) ? 0 : -1;
}

static int answer(int fd)
{
	char buf[64];

	return read(fd, buf, sizeof(buf) - 1) > 0 ? 0 : -1;
}

static int talk(int fd, const char *cmd)
{
	return ask(fd, cmd) == 0 ? answer(fd) : -1;
}

static bool no_targets(struct ts_collector *c)
{
	struct ts_collector_stats st;

	ts_collector_get_stats(c, &st);
	return st.targets == 0;
}

/* The loop_stall warnings whose detail has (or, with want = false, has
 * not) `needle`; returns the last, *count says how many. */
static const struct ts_warning *find_stall(struct ts_model *m, const char *needle, bool want, size_t *count)
{
	const struct ts_warning *w[TS_MODEL_RECENT_WARNINGS], *found = NULL;
	size_t n = ts_model_recent_warnings(m, w, TS_MODEL_RECENT_WARNINGS);

	*count = 0;
	for (size_t i = 0; i < n; i++) {
		if (w[i]->kind != TS_WARN_LOOP_STALL || (strstr(w[i]->detail, needle) != NULL) != want)
			continue;
		found = w[i];
		(*count)++;
	}
	return found;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct ts_context_options opt = { .kernel = true };
	const struct ts_warning *off, *on;
	struct ts_collector *c;
	struct ts_model *m;
	struct ts_thread *thr;
	char port[16] = "", err[256];
	size_t n_off, n_on;
	pid_t pid;
	int out = -1, fd, r;
	ssize_t n;

	if (argc < 2 || (argc > 2 && strcmp(argv[2], "raw_syscalls") != 0)) {
		fprintf(stderr, "usage: test-loop-stall LOOP-SERVER [raw_syscalls]\n");
		return 2;
	}
	opt.raw_syscalls = argc > 2;
	kt_need_bpf();
	pid = kt_spawn((char *[]){ argv[1], NULL }, &out);
	n = read(out, port, sizeof(port) - 1);
	CHECK(pid > 0 && n > 0);
	if (pid <= 0 || n <= 0)
		return 1;
	c = kt_collector();
	m = ts_collector_model(c);
	r = ts_generic_attach(c, (uint32_t)pid, &opt, ts_now_ns(), err, sizeof(err));
	CHECK_MSG(r == 0, "%s", err);
	if (r < 0) {
		kill(pid, SIGKILL);
		return 1;
	}
	a.sin_port = htons((uint16_t)atoi(port));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	for (int i = 0; i < 5; i++) {
		CHECK(talk(fd, "ping\n") == 0);
		kt_run(c, 40, NULL);
	}
	/* the collector keeps draining while the server stalls, as in a session */
	CHECK(ask(fd, "sleep\n") == 0);
	kt_run(c, 500, NULL);
	CHECK(answer(fd) == 0);
	CHECK(ask(fd, "spin\n") == 0);
	kt_run(c, 250, NULL);
	/* while it spins its CPU time shows, even if it never leaves the CPU */
	thr = ts_model_find_thread(m, (uint32_t)pid, (uint32_t)pid);
	CHECK_MSG(thr && thr->cpu_ns >= 30 * MS, "cpu %llu ns 250 ms into the spin",
		  thr ? (unsigned long long)thr->cpu_ns : 0ull);
	kt_run(c, 250, NULL);
	CHECK(answer(fd) == 0);
	CHECK(talk(fd, "ping\n") == 0);  /* the loop waits again: the stall is complete */
	kt_run(c, 300, NULL);

	off = find_stall(m, "clock_nanosleep", true, &n_off);
	on = find_stall(m, "clock_nanosleep", false, &n_on);
	CHECK_MSG(n_off == 1, "%zu stalls in clock_nanosleep", n_off);
	CHECK_MSG(n_on == 1, "%zu other stalls", n_on);
	if (n_off != 1 || n_on != 1) {
		const struct ts_warning *w[TS_MODEL_RECENT_WARNINGS];
		size_t n = ts_model_recent_warnings(m, w, TS_MODEL_RECENT_WARNINGS);

		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "warning %s: %s\n", ts_warning_kind_name(w[i]->kind), w[i]->detail);
	}
	if (off) {
		fprintf(stderr, "sleep: %s\n", off->detail);
		CHECK_MSG(off->duration_ns >= 240 * MS && off->duration_ns <= 360 * MS, "%llu ns",
			  (unsigned long long)off->duration_ns);
		CHECK(strstr(off->detail, ": off-CPU") != NULL);
		CHECK(strstr(off->detail, "in clock_nanosleep") != NULL);
		CHECK(strstr(off->detail, "between epoll_wait calls") != NULL);
		CHECK(off->tid == (uint32_t)pid);
	}
	if (on) {
		fprintf(stderr, "spin: %s\n", on->detail);
		CHECK_MSG(on->duration_ns >= 240 * MS && on->duration_ns <= 360 * MS, "%llu ns",
			  (unsigned long long)on->duration_ns);
		/* on the CPU, or (on a loaded machine) waiting for one: never
		 * asleep in a syscall */
		CHECK(strstr(on->detail, ": on-CPU") != NULL ||
		      (strstr(on->detail, "off-CPU") && strstr(on->detail, "waiting for a CPU")));
		CHECK(strstr(on->detail, " in ") == NULL);
		/* sampled while it spun: the function it spun in */
		CHECK(strstr(on->detail, "on-CPU: ") && strstr(on->detail, "stall_spin"));
	}
	thr = ts_model_find_thread(m, (uint32_t)pid, (uint32_t)pid);
	CHECK(thr != NULL);
	if (thr) {
		CHECK_MSG(thr->role == TS_ROLE_WORKER, "role %u", thr->role);
		CHECK_STR(thr->name, "loop-server");
	}

	/* the target exits while attached: the source goes, the process is marked */
	CHECK(write(fd, "quit\n", 5) == 5);
	CHECK(waitpid(pid, NULL, 0) == pid);
	kt_run(c, 3000, no_targets);
	CHECK(no_targets(c));
	{
		size_t np;
		const struct ts_process *ps = ts_model_processes(m, &np);
		bool exited = false;

		for (size_t i = 0; i < np; i++)
			if (ps[i].pid == (uint32_t)pid)
				exited = ps[i].exited && !strcmp(ps[i].source, "generic");
		CHECK(exited);
	}
	/* the spin is 300 ms of wall time, on the CPU when one is free (a
	 * loaded machine may take some); the last sample comes at the exit */
	thr = ts_model_find_thread(m, (uint32_t)pid, (uint32_t)pid);
	if (thr) {
		CHECK_MSG(thr->cpu_ns >= 50 * MS, "cpu %llu", (unsigned long long)thr->cpu_ns);
		CHECK(thr->busy_ns == thr->cpu_ns);
	}
	close(fd);
	ts_collector_finish(c, ts_now_ns());
	ts_collector_free(c);
	return check_failures ? 1 : 0;
}
