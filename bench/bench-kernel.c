/*
 * bench-kernel.c: what scheduler + syscall context costs a busy server.
 *
 * A single-threaded epoll echo server (a forked child) answers 64-byte
 * requests from CONNS connections over loopback, each a ping-pong, so
 * every request is a wake-up, a context switch and four syscalls on the
 * server's side: the worst case for per-switch and per-syscall probes.
 * The client measures requests/s in alternating phases, without context
 * and with the server under what `taskscope attach --mode generic` adds
 * by default (sched.bpf.c, locks.bpf.c in contended mode, a collector
 * draining every 20 ms and ticking its model as in a session), and prints
 * the median of the per-round ratios (and the ratio of the sums), all in
 * one run so the machine is the same.
 * A second target, one thread calling getppid() in a loop, gives the cost
 * added to every syscall (ns per call) the same way: with the default
 * programs (the wait and futex syscalls' own tracepoints), then with the
 * fallback that watches waits through raw_syscalls.
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

#define CONNS 4
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

/* Requests answered in `ms`, CONNS ping-pongs in flight. */
static double phase(const int *fds, unsigned ms)
{
	uint64_t start = now_ns(), end = start + (uint64_t)ms * 1000000ull, done = 0;
	char buf[MSG];

	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < CONNS; i++)
		if (write(fds[i], buf, MSG) != MSG)
			return -1;
	while (now_ns() < end) {
		for (int i = 0; i < CONNS; i++) {
			if (read(fds[i], buf, MSG) != MSG || write(fds[i], buf, MSG) != MSG)
				return -1;
			done++;
		}
	}
	for (int i = 0; i < CONNS; i++)
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

/* What `taskscope attach --mode generic PID` adds by default: scheduler
 * and syscall context, and locks in contended mode (futex waits). With
 * `raw_syscalls`, the fallback without syscall tracepoints (no locks). */
static int attach_context(struct ts_collector *c, pid_t pid, bool raw_syscalls, char *err, size_t errlen)
{
	struct ts_context_options opt = { .kernel = true, .locks = TS_LOCKS_CONTENDED,
					  .raw_syscalls = raw_syscalls };
	int r = ts_generic_attach(c, (uint32_t)pid, &opt, ts_now_ns(), err, errlen);

	if (r == 0 && !raw_syscalls)
		r = ts_locks_attach(c, (uint32_t)pid, TS_LOCKS_CONTENDED, ts_now_ns(), err, errlen);
	return r;
}

/* ns added to each syscall of a watched thread: median over rounds. */
static void print_syscall_cost(unsigned ms, unsigned rounds, const struct ts_collector_options *co,
			       bool raw_syscalls)
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
		    attach_context(d.c, pid, raw_syscalls, err, sizeof(err)) < 0)
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
	printf("syscall loop (getppid): %.0f ns per call without context, +%.0f ns with it%s (median of %u)\n",
	       base, added[rounds / 2], raw_syscalls ? " through raw_syscalls (the fallback)" : "", rounds);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	munmap((void *)count, 4096);
}

int main(int argc, char **argv)
{
	unsigned ms = argc > 1 ? (unsigned)atoi(argv[1]) : 1000, rounds = argc > 2 ? (unsigned)atoi(argv[2]) : 5;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct ts_collector_options co = { 0 };
	double off = 0, on = 0, ratios[64];
	int fds[CONNS], lfd, one = 1;
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
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		server(lfd);
		_exit(0);
	}
	close(lfd);
	for (int i = 0; i < CONNS; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0)
			return 1;
	}
	ts_model_config_default(&co.model);
	phase(fds, 200); /* warm up */
	for (unsigned r = 0; r < rounds; r++) {
		struct drainer d = { 0 };
		pthread_t th;
		double x, y;

		x = phase(fds, ms);
		if (ts_collector_new(&co, &d.c, err, sizeof(err)) < 0 ||
		    attach_context(d.c, pid, false, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench-kernel: %s\n", err);
			kill(pid, SIGKILL);
			return 1;
		}
		pthread_create(&th, NULL, drain_loop, &d);
		y = phase(fds, ms);
		atomic_store(&d.stop, true);
		pthread_join(th, NULL);
		ts_collector_finish(d.c, ts_now_ns());
		ts_collector_free(d.c);
		printf("round %u: %.0f req/s without context, %.0f req/s with it (%.3f)\n", r + 1, x, y, y / x);
		off += x;
		on += y;
		ratios[r] = y / x;
	}
	for (unsigned i = 1; i < rounds; i++)   /* insertion sort: a handful */
		for (unsigned j = i; j > 0 && ratios[j] < ratios[j - 1]; j--) {
			double t = ratios[j];

			ratios[j] = ratios[j - 1];
			ratios[j - 1] = t;
		}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	print_syscall_cost(ms, rounds, &co, false);
	print_syscall_cost(ms, rounds, &co, true);
	printf("busy epoll server, %d ping-pong connections: with/without scheduler+syscall context and "
	       "contended locks: "
	       "median %.3f (%.1f%% loss), sums %.3f\n", CONNS, ratios[rounds / 2],
	       100.0 * (1.0 - ratios[rounds / 2]), on / off);
	return 0;
}
