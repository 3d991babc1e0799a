/*
 * bench-locks.c: what lock tracing costs the traced program, per lock
 * operation, in each --locks mode (docs/benchmarks.md).
 *
 * usage: bench-locks [OPS [LOCKWRAP.so]]   (root, for the BPF modes)
 * The driver runs a worker copy of itself three times per mode (unprobed,
 * contended, full; the median is kept): the worker times N lock/unlock
 * pairs on one thread (uncontended) and N pairs shared by 4 threads on
 * one mutex, each pair with work inside and outside the lock (contended),
 * and prints ns per pair (N = OPS under full mode, whose probes cost tens of microseconds
 * per call on a VM, 10 * OPS otherwise). The driver
 * attaches ts_locks_attach() in the mode to an embedded collector and
 * drains it while the worker runs, as taskscope would. Each mode's result
 * is also given as a ratio to the unprobed run. With LOCKWRAP.so, one more
 * row: the worker under the LD_PRELOAD interposer (no collector recording:
 * what an uncontended lock costs it in any case). It prints numbers; it
 * never asserts a speed.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpf/locks_source.h"
#include "collector/attach.h"
#include "collector/collector.h"

#define THREADS 4

static pthread_mutex_t bench_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long sink;
static long ops;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void work(int n)
{
	for (int i = 0; i < n; i++)
		sink += (unsigned long)i;
}

/* `hold` iterations of work under the lock (0: the bare lock cost). */
__attribute__((noinline)) static void bench_take(int hold)
{
	pthread_mutex_lock(&bench_lock);
	work(hold);
	pthread_mutex_unlock(&bench_lock);
}

/* Half the time under the lock, half outside: with more threads than
 * CPUs, most acquisitions find it taken and sleep in the kernel. */
static void *contender(void *arg)
{
	for (long i = 0; i < ops / THREADS; i++) {
		bench_take(200);
		work(200);
	}
	return arg;
}

/* The worker: "ready", wait for a byte, measure, print "ns_uncontended ns_contended". */
static int worker(void)
{
	pthread_t th[THREADS];
	double t0, unc, con;
	char go;

	printf("ready\n");
	fflush(stdout);
	if (read(0, &go, 1) != 1)
		return 1;
	t0 = now_s();
	for (long i = 0; i < ops; i++)
		bench_take(0);
	unc = (now_s() - t0) * 1e9 / (double)ops;
	t0 = now_s();
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, contender, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	con = (now_s() - t0) * 1e9 / (double)(ops / THREADS * THREADS);
	printf("%.1f %.1f\n", unc, con);
	fflush(stdout);
	return 0;
}

/* Run one worker under `mode` (TS_LOCKS_OFF: unprobed); 0 and its numbers. */
static int run_mode(const char *self, enum ts_lock_mode mode, const char *preload, long n_ops,
		    double *unc, double *con)
{
	struct ts_collector_options o = { 0 };
	struct ts_collector *c = NULL;
	char err[512] = "", line[128], n[32];
	int in[2], out[2], status = 0, r = -1;
	FILE *f = NULL;
	pid_t pid;

	if (pipe(in) < 0 || pipe(out) < 0)
		return -errno;
	snprintf(n, sizeof(n), "%ld", n_ops);
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		if (preload)
			setenv("LD_PRELOAD", preload, 1);
		execl(self, self, "--worker", n, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	f = fdopen(out[0], "r");
	if (!f || !fgets(line, sizeof(line), f))
		goto cleanup;
	ts_model_config_default(&o.model);
	if (ts_collector_new(&o, &c, err, sizeof(err)) < 0 ||
	    ts_locks_attach(c, (uint32_t)pid, mode, ts_now_ns(), err, sizeof(err)) < 0) {
		fprintf(stderr, "bench-locks: %s: %s\n", ts_lock_mode_name(mode), err);
		goto cleanup;
	}
	if (write(in[1], "g", 1) != 1)
		goto cleanup;
	for (;;) {
		struct pollfd p[2] = { { .fd = ts_collector_fd(c), .events = POLLIN },
				       { .fd = out[0], .events = POLLIN } };
		uint64_t now;

		poll(p, 2, 50);
		now = ts_now_ns();
		ts_collector_handle_io(c, now);
		ts_collector_drain(c, now);
		ts_collector_tick(c, now);
		if (p[1].revents & (POLLIN | POLLHUP))
			break;
	}
	if (fgets(line, sizeof(line), f) && sscanf(line, "%lf %lf", unc, con) == 2)
		r = 0;
cleanup:
	close(in[1]);
	if (r < 0)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (c) {
		ts_collector_finish(c, ts_now_ns());
		ts_collector_free(c);
	}
	if (f)
		fclose(f);
	else
		close(out[0]);
	return r;
}

#define RUNS 3

static double median3(double v[RUNS])
{
	double a = v[0], b = v[1], c = v[2];

	if ((a <= b && b <= c) || (c <= b && b <= a))
		return b;
	if ((b <= a && a <= c) || (c <= a && a <= b))
		return a;
	return c;
}

int main(int argc, char **argv)
{
	const char *lockwrap = argc > 2 ? argv[2] : NULL;
	const struct {
		const char *name;
		enum ts_lock_mode mode;
		const char *preload;
	} modes[] = {
		{ "unprobed", TS_LOCKS_OFF, NULL },
		{ "contended", TS_LOCKS_CONTENDED, NULL },
		{ "full", TS_LOCKS_FULL, NULL },
		{ "lockwrap", TS_LOCKS_OFF, lockwrap },
	};
	double base_unc = 0, base_con = 0;
	char err[256];
	bool bpf;

	if (argc == 3 && !strcmp(argv[1], "--worker")) {
		ops = strtol(argv[2], NULL, 10);
		return ops > 0 ? worker() : 2;
	}
	ops = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
	if (ops < THREADS)
		return 2;
	bpf = geteuid() == 0 && ts_attach_check_bpf(err, sizeof(err)) == 0;
	printf("ns per lock/unlock pair, median of %d runs: uncontended (1 thread) and contended\n"
	       "(%d threads, one mutex); %ld pairs under full mode, %ld otherwise\n", RUNS, THREADS, ops,
	       ops * 10);
	printf("%-10s %14s %8s %14s %8s\n", "mode", "uncontended", "ratio", "contended", "ratio");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		/* full mode probes every call (tens of us each on a VM): fewer ops */
		long n = modes[i].mode == TS_LOCKS_FULL ? ops : ops * 10;
		double u[RUNS], c[RUNS], unc, con;
		int ok = 0;

		if (!strcmp(modes[i].name, "lockwrap") && !lockwrap)
			continue;
		if (modes[i].mode != TS_LOCKS_OFF && !bpf) {
			printf("%-10s (needs root or CAP_BPF+CAP_PERFMON)\n", modes[i].name);
			continue;
		}
		for (int k = 0; k < RUNS; k++)
			ok += run_mode("/proc/self/exe", modes[i].mode, modes[i].preload, n, &u[ok], &c[ok]) == 0;
		if (ok < RUNS) {
			printf("%-10s failed\n", modes[i].name);
			continue;
		}
		unc = median3(u);
		con = median3(c);
		if (i == 0) {
			base_unc = unc;
			base_con = con;
		}
		printf("%-10s %11.1f ns %7.2fx %11.1f ns %7.2fx\n", modes[i].name, unc,
		       base_unc > 0 ? unc / base_unc : 0, con, base_con > 0 ? con / base_con : 0);
	}
	return 0;
}
