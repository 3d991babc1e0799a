/*
 * bench-kernel.c: what scheduler + syscall context costs a busy server.
 *
 * A single-threaded epoll echo server (a forked child) answers 64-byte
 * requests over loopback, one in flight per connection, in two patterns:
 * 4 connections (ping-pong: the server sleeps between requests, so each
 * request is a wake-up, a context switch and 3-4 syscalls: the worst case
 * for per-switch and per-syscall probes) and 64 connections (the server
 * always has requests waiting: a busy server, 2 syscalls per request plus
 * a shared wait). The client measures requests/s in alternating phases,
 * without context and with what taskscope attaches (see attach_context:
 * generic attach's defaults, and a runtime target's), a collector
 * draining every 20 ms and ticking its model as in a session, and prints
 * the median of the per-round ratios (and the ratio of the sums), all in
 * one run so the machine is the same.
 * A second target, one thread calling getppid() in a loop, gives the cost
 * added to every syscall on the machine (ns per call) the same way, for
 * each context and for the raw_syscalls fallback.
 * Needs root; prints "SKIP" otherwise. Never asserts a speed.
 *
 * usage: bench-kernel [PHASE_MS] [ROUNDS]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpf/locks_source.h"
#include "collector/attach.h"
#include "collector/collector.h"

#define PINGPONG_CONNS 4   /* the server sleeps between requests: a switch each */
#define BUSY_CONNS 64      /* the server always has requests waiting */
#define MSG 64

static void server(int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[32];
	int ep = epoll_create1(0);
	char buf[MSG];

	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 32, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				int c = accept(lfd, NULL, NULL), one = 1;

				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				ev.data.fd = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
			} else if (read(fd, buf, MSG) <= 0 || write(fd, buf, MSG) != MSG) {
				close(fd);
			}
		}
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Requests answered in `ms`, one in flight on each of `conns` connections. */
static double phase(const int *fds, int conns, unsigned ms)
{
	uint64_t start = now_ns(), end = start + (uint64_t)ms * 1000000ull, done = 0;
	char buf[MSG];

	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < conns; i++)
		if (write(fds[i], buf, MSG) != MSG)
			return -1;
	while (now_ns() < end) {
		for (int i = 0; i < conns; i++) {
			if (read(fds[i], buf, MSG) != MSG || write(fds[i], buf, MSG) != MSG)
				return -1;
			done++;
		}
	}
	for (int i = 0; i < conns; i++)
		if (read(fds[i], buf, MSG) != MSG)
			return -1;
	return (double)done * 1e9 / (double)(now_ns() - start);
}

/* The syscall target: counts getppid() calls in shared memory. */
static void syscaller(_Atomic uint64_t *count)
{
	for (;;) {
		getppid();
		atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
	}
}

static double calls_per_s(_Atomic uint64_t *count, unsigned ms)
{
	uint64_t t0 = now_ns(), c0 = atomic_load(count), t1, c1;
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	t1 = now_ns();
	c1 = atomic_load(count);
	return (double)(c1 - c0) * 1e9 / (double)(t1 - t0);
}

struct drainer {
	struct ts_collector *c;
	atomic_bool stop;
};

static void *drain_loop(void *arg)
{
	struct drainer *d = arg;
	uint64_t next_tick = 0;

	while (!atomic_load(&d->stop)) {
		struct timespec ts = { 0, 20000000 };
		uint64_t now = ts_now_ns();

		ts_collector_handle_io(d->c, now);
		ts_collector_drain(d->c, now);
		if (now >= next_tick) {
			ts_collector_tick(d->c, now);
			next_tick = now + 100000000ull;
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* What is attached to the server:
 *  - CTX_GENERIC: what `taskscope attach PID` adds by default to a process
 *    with neither shim nor Tokio: scheduler context with event-loop waits
 *    (the wait syscalls' tracepoints) and locks in contended mode;
 *  - CTX_RUNTIME: what it adds beside a shim or Tokio source: scheduler
 *    context without loops (no syscall tracepoint) and contended locks;
 *  - CTX_RAW_SYSCALLS: generic context with the waits watched through
 *    raw_syscalls, the fallback without tracefs (no locks). */
enum context { CTX_GENERIC, CTX_RUNTIME, CTX_RAW_SYSCALLS };

static const char *const context_name[] = {
	[CTX_GENERIC] = "generic attach's context (scheduler, loop waits, contended locks)",
	[CTX_RUNTIME] = "a runtime target's context (scheduler, contended locks)",
	[CTX_RAW_SYSCALLS] = "generic context through raw_syscalls (the fallback; no locks)",
};

static int attach_context(struct ts_collector *c, pid_t pid, enum context what, char *err, size_t errlen)
{
	struct ts_context_options opt = { .kernel = true, .locks = TS_LOCKS_CONTENDED,
					  .raw_syscalls = what == CTX_RAW_SYSCALLS };
	int r = what == CTX_RUNTIME ? ts_kernel_context_attach(c, (uint32_t)pid, &opt, ts_now_ns(), err, errlen)
				    : ts_generic_attach(c, (uint32_t)pid, &opt, ts_now_ns(), err, errlen);

	if (r == 0 && what != CTX_RAW_SYSCALLS)
		r = ts_locks_attach(c, (uint32_t)pid, TS_LOCKS_CONTENDED, ts_now_ns(), err, errlen);
	return r;
}

/* ns added to each syscall of a watched thread: median over rounds. */
static void print_syscall_cost(unsigned ms, unsigned rounds, const struct ts_collector_options *co,
			       enum context what)
{
	_Atomic uint64_t *count = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double added[64], base = 0;
	char err[256];
	pid_t pid;

	if (count == MAP_FAILED)
		return;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		syscaller(count);
		_exit(0);
	}
	for (unsigned r = 0; r < rounds; r++) {
		struct drainer d = { 0 };
		pthread_t th;
		double x, y;

		x = calls_per_s(count, ms);
		if (ts_collector_new(co, &d.c, err, sizeof(err)) < 0 ||
		    attach_context(d.c, pid, what, err, sizeof(err)) < 0)
			break;
		pthread_create(&th, NULL, drain_loop, &d);
		y = calls_per_s(count, ms);
		atomic_store(&d.stop, true);
		pthread_join(th, NULL);
		ts_collector_finish(d.c, ts_now_ns());
		ts_collector_free(d.c);
		added[r] = 1e9 / y - 1e9 / x;
		base += 1e9 / x / rounds;
	}
	qsort(added, rounds, sizeof(added[0]), cmp_double);
	printf("syscall loop (getppid): %.0f ns per call without, +%.0f ns with %s (median of %u)\n",
	       base, added[rounds / 2], context_name[what], rounds);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	munmap((void *)count, 4096);
}

/* Rounds of a phase without and a phase with context; prints the median
 * of the per-round ratios and the ratio of the sums. */
static int series(pid_t server_pid, const int *fds, int conns, enum context what, unsigned ms, unsigned rounds,
		  const struct ts_collector_options *co)
{
	double off = 0, on = 0, ratios[64];
	char err[256];

	phase(fds, conns, 200); /* warm up */
	for (unsigned r = 0; r < rounds; r++) {
		struct drainer d = { 0 };
		pthread_t th;
		double x, y;

		x = phase(fds, conns, ms);
		if (ts_collector_new(co, &d.c, err, sizeof(err)) < 0 ||
		    attach_context(d.c, server_pid, what, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench-kernel: %s\n", err);
			return -1;
		}
		pthread_create(&th, NULL, drain_loop, &d);
		y = phase(fds, conns, ms);
		atomic_store(&d.stop, true);
		pthread_join(th, NULL);
		ts_collector_finish(d.c, ts_now_ns());
		ts_collector_free(d.c);
		printf("  round %u: %.0f req/s without, %.0f req/s with (%.3f)\n", r + 1, x, y, y / x);
		off += x;
		on += y;
		ratios[r] = y / x;
	}
	qsort(ratios, rounds, sizeof(ratios[0]), cmp_double);
	printf("epoll server, %d connection%s, one request in flight on each, with/without %s: "
	       "median %.3f (%.1f%% loss), sums %.3f\n", conns, conns == 1 ? "" : "s", context_name[what],
	       ratios[rounds / 2], 100.0 * (1.0 - ratios[rounds / 2]), on / off);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned ms = argc > 1 ? (unsigned)atoi(argv[1]) : 1000, rounds = argc > 2 ? (unsigned)atoi(argv[2]) : 5;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct ts_collector_options co = { 0 };
	int fds[BUSY_CONNS], lfd, one = 1, r = 0;
	socklen_t alen = sizeof(a);
	char err[256];
	pid_t pid;

	if (rounds < 1 || rounds > 64 || ms < 10) {
		fprintf(stderr, "usage: bench-kernel [PHASE_MS >= 10] [ROUNDS 1..64]\n");
		return 2;
	}
	if (ts_attach_check_bpf(err, sizeof(err)) < 0) {
		printf("SKIP: %s\n", err);
		return 77;
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, BUSY_CONNS) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		server(lfd);
		_exit(0);
	}
	close(lfd);
	for (int i = 0; i < BUSY_CONNS; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0)
			return 1;
	}
	ts_model_config_default(&co.model);
	for (enum context what = CTX_GENERIC; what <= CTX_RUNTIME && r == 0; what++) {
		r = series(pid, fds, PINGPONG_CONNS, what, ms, rounds, &co);
		if (r == 0)
			r = series(pid, fds, BUSY_CONNS, what, ms, rounds, &co);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (r < 0)
		return 1;
	print_syscall_cost(ms, rounds, &co, CTX_GENERIC);
	print_syscall_cost(ms, rounds, &co, CTX_RUNTIME);
	print_syscall_cost(ms, rounds, &co, CTX_RAW_SYSCALLS);
	return 0;
}
