/*
 * main.c: taskscope-demo, the workload behind `taskscope demo`.
 *
 * Runs the demo workload on minirt with 4 workers until --duration
 * seconds pass or SIGINT/SIGTERM arrives, then shuts the runtime down
 * cleanly (every task dropped, every waker returned) and exits 0. It
 * prints nothing unless --verbose, because `taskscope demo` may share its
 * terminal with the console.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload.h"

#define DEMO_WORKERS 4

static void usage(FILE *f)
{
	fprintf(f, "usage: taskscope-demo [--duration S] [--verbose]\n"
		   "  Runs the demo async workload (minirt, %d workers) until S seconds\n"
		   "  pass (default: until SIGINT or SIGTERM). Run it under taskscope with\n"
		   "  `taskscope demo` or `taskscope run -- taskscope-demo`.\n",
		DEMO_WORKERS);
}

static int parse_duration(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 1e7)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Sleep until a signal in `set` arrives or `seconds` pass (forever when
 * negative). */
static void wait_for_end(const sigset_t *set, double seconds)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct timespec left;
		double elapsed;
		int r;

		if (seconds < 0) {
			int sig;
			if (sigwait(set, &sig) == 0)
				return;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
		if (elapsed >= seconds)
			return;
		left.tv_sec = (time_t)(seconds - elapsed);
		left.tv_nsec = (long)((seconds - elapsed - (double)left.tv_sec) * 1e9);
		r = sigtimedwait(set, NULL, &left);
		if (r > 0)
			return;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	double duration = -1;
	int verbose = 0, c, r;
	struct minirt *rt = NULL;
	struct demo *demo = NULL;
	struct demo_counters n;
	sigset_t set;

	while ((c = getopt_long(argc, argv, "d:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_duration(optarg, &duration) < 0) {
				fprintf(stderr, "taskscope-demo: --duration wants seconds >= 0, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "taskscope-demo: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	/* Block the signals before any thread starts, so only sigwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	r = minirt_new(DEMO_WORKERS, &rt);
	if (r < 0) {
		fprintf(stderr, "taskscope-demo: cannot start the runtime: %s\n", strerror(-r));
		return 1;
	}
	r = demo_workload_start(rt, &demo);
	if (r < 0) {
		fprintf(stderr, "taskscope-demo: cannot start the workload: %s\n", strerror(-r));
		minirt_free(rt);
		return 1;
	}
	wait_for_end(&set, duration);

	minirt_shutdown(rt);
	demo_workload_counters(demo, &n);
	demo_workload_free(demo);
	minirt_free(rt);
	if (verbose)
		fprintf(stderr,
			"taskscope-demo: %" PRIu64 " requests handled (%" PRIu64 " bad), %" PRIu64
			" ticks, %" PRIu64 " blocking sleeps, %" PRIu64 " spins, %" PRIu64
			" lock holds, %" PRIu64 " panics, %" PRIu64 " events dropped\n",
			n.handled, n.bad_replies, n.ticks, n.blocking_sleeps, n.spins, n.lock_holds,
			n.panics, taskscope_dropped_events());
	return 0;
}
