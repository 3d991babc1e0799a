/*
 * bench-model.c: how many events per second ts_model_apply() takes, with
 * 100k live tasks in the model (numbers in docs/benchmarks.md, "Model").
 *
 * Cases:
 *  - steady: 100k live tasks woken, polled and returning pending in a
 *    pseudo-random order across 4 worker threads (wake, poll_begin,
 *    waker_clone, poll_end: the events of a busy server), poll spans going
 *    to a counting sink;
 *  - churn: short-lived tasks spawned, polled, dropped, with a tick every
 *    10k tasks evicting the ones past a 10 ms retention;
 *  - tick: one ts_model_tick() over 100k live tasks (the state lints).
 * It prints numbers and never asserts a speed.
 *
 * usage: bench-model [EVENTS]   (default 8,000,000 per case)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "collector/model.h"

#define LIVE 100000u
#define PID 4242u

static uint64_t spans;

static void count_span(void *ctx, const struct ts_poll_span *s)
{
	(void)ctx;
	(void)s;
	spans++;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void apply(struct ts_model *m, uint16_t type, uint64_t ts, uint32_t tid, uint64_t id,
		  uint16_t flags, const char *name)
{
	struct ts_event ev = { .ts = ts, .pid = PID, .tid = tid, .type = type, .flags = flags, .id = id,
			       .name = name, .location = name ? "bench.c:1" : NULL };

	ts_model_apply(m, &ev);
}

static struct ts_model *model_new(uint64_t retention_ns)
{
	struct ts_model_sink sink = { .poll_span = count_span };
	struct ts_model_config cfg;
	struct ts_model *m;

	ts_model_config_default(&cfg);
	cfg.retention_ns = retention_ns;
	if (ts_model_new(&cfg, &sink, &m) < 0) {
		fprintf(stderr, "bench-model: out of memory\n");
		exit(1);
	}
	return m;
}

static void report(const char *name, uint64_t events, double secs)
{
	printf("%-8s %10llu events in %6.3f s: %6.2f M events/s, %6.1f ns/event\n", name,
	       (unsigned long long)events, secs, (double)events / secs / 1e6, secs * 1e9 / (double)events);
}

static void steady(uint64_t events)
{
	struct ts_model *m = model_new(10ull * 1000000000ull);
	uint64_t ts = 1000, x = 88172645463325252ull, done = 0;
	double t0, t1;
	size_t n;

	for (uint64_t id = 1; id <= LIVE; id++) {
		apply(m, TS_EV_SPAWN, ts++, 1, id, 0, "bench-task");
		apply(m, TS_EV_POLL_BEGIN, ts++, 2, id, 0, NULL);
		apply(m, TS_EV_WAKER_CLONE, ts++, 2, id, 0, NULL);
		apply(m, TS_EV_POLL_END, ts++, 2, id, 0, NULL);
	}
	ts_model_tick(m, ts);
	t0 = now_s();
	while (done < events) {
		uint64_t id;
		uint32_t tid;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		id = 1 + x % LIVE;
		tid = 2 + (uint32_t)(x >> 32) % 4;
		apply(m, TS_EV_WAKE, ts, 1, id, 0, NULL);
		apply(m, TS_EV_POLL_BEGIN, ts + 100, tid, id, 0, NULL);
		apply(m, TS_EV_WAKER_CLONE, ts + 200, tid, id, 0, NULL);
		apply(m, TS_EV_POLL_END, ts + 300, tid, id, 0, NULL);
		ts += 400;
		done += 4;
	}
	t1 = now_s();
	ts_model_tasks(m, &n);
	report("steady", done, t1 - t0);
	printf("         (%zu tasks in the model, %llu poll spans)\n", n, (unsigned long long)spans);

	t0 = now_s();
	ts_model_tick(m, ts);
	t1 = now_s();
	printf("tick     %10zu tasks in %6.3f ms: %6.1f ns/task\n", n, (t1 - t0) * 1e3,
	       (t1 - t0) * 1e9 / (double)n);
	ts_model_free(m);
}

static void churn(uint64_t events)
{
	struct ts_model *m = model_new(10ull * 1000000ull);
	uint64_t ts = 1000, done = 0, id = 1;
	double t0, t1;
	size_t n;

	t0 = now_s();
	while (done < events) {
		apply(m, TS_EV_SPAWN, ts, 1, id, 0, "short-lived");
		apply(m, TS_EV_POLL_BEGIN, ts + 100, 2 + (uint32_t)(id % 4), id, 0, NULL);
		apply(m, TS_EV_POLL_END, ts + 200, 2 + (uint32_t)(id % 4), id, TS_EVF_READY, NULL);
		apply(m, TS_EV_TASK_DROP, ts + 300, 1, id, 0, NULL);
		ts += 1000;
		done += 4;
		if (id++ % 10000 == 0)
			ts_model_tick(m, ts);
	}
	t1 = now_s();
	ts_model_tasks(m, &n);
	report("churn", done, t1 - t0);
	printf("         (%llu tasks spawned and dropped, %zu still retained)\n",
	       (unsigned long long)(id - 1), n);
	ts_model_free(m);
}

int main(int argc, char **argv)
{
	uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : 8000000ull;

	if (events == 0) {
		fprintf(stderr, "usage: bench-model [EVENTS]\n");
		return 2;
	}
	steady(events);
	churn(events);
	return 0;
}
