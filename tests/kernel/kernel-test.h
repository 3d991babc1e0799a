/*
 * kernel-test.h: what the kernel-context tests share: the root/BPF skip,
 * a forked or exec'd target that dies with the test (PR_SET_PDEATHSIG, so
 * a failed test leaves no process behind; probes go with the source), and
 * a small collector loop like the session's (drain every 20 ms, tick
 * every 100 ms).
 */
#ifndef TASKSCOPE_TESTS_KERNEL_TEST_H
#define TASKSCOPE_TESTS_KERNEL_TEST_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "collector/attach.h"
#include "collector/collector.h"
#include "collector/strpool.h"

static inline void kt_need_bpf(void)
{
	char err[256];

	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		exit(77);
	}
	if (ts_attach_check_bpf(err, sizeof(err)) < 0) {
		printf("SKIP: %s\n", err);
		exit(77);
	}
}

static inline void kt_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Fork a child that dies with us; it runs fn(arg) and exits with its result. */
static inline pid_t kt_fork(int (*fn)(void *), void *arg)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		_exit(fn(arg));
	}
	return pid;
}

/* Start argv with its stdout on a pipe; returns the pid, *out the read end. */
static inline pid_t kt_spawn(char *const argv[], int *out)
{
	pid_t parent = getpid(), pid;
	int p[2];

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	*out = p[0];
	return pid;
}

static inline struct ts_collector *kt_collector(void)
{
	struct ts_collector_options o = { 0 };
	struct ts_collector *c = NULL;
	char err[256];

	ts_model_config_default(&o.model);
	if (ts_collector_new(&o, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "collector: %s\n", err);
		exit(1);
	}
	return c;
}

/* Run the collector loop for `ms` (or until `stop` returns true). */
static inline void kt_run(struct ts_collector *c, unsigned ms, bool (*stop)(struct ts_collector *))
{
	uint64_t end = ts_now_ns() + (uint64_t)ms * 1000000ull, next_tick = 0;

	while (ts_now_ns() < end) {
		uint64_t now = ts_now_ns();

		ts_collector_handle_io(c, now);
		ts_collector_drain(c, now);
		if (now >= next_tick) {
			ts_collector_tick(c, now);
			next_tick = now + 100000000ull;
		}
		if (stop && stop(c))
			return;
		kt_sleep_ms(20);
	}
}

/* Run `run` once per flavour of the scheduler programs: tp_btf, then
 * raw_tp (the fallback for kernels where tp_btf does not load), with one
 * string pool; the test's exit status. */
static inline int kt_each_flavour(void (*run)(struct ts_strpool *pool, bool raw_tp))
{
	struct ts_strpool *pool;

	if (ts_strpool_new(1 << 20, &pool) < 0)
		return 1;
	run(pool, false);
	run(pool, true);
	ts_strpool_free(pool);
	return check_failures ? 1 : 0;
}

#endif /* TASKSCOPE_TESTS_KERNEL_TEST_H */
