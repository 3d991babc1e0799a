/*
 * bench-collector.c: what the collector's drain costs per event with and
 * without the reorder window (numbers in docs/benchmarks.md, "Collector").
 *
 * A fake source produces a given event rate on a simulated clock: each
 * 20 ms drain brings 20 ms worth of wakes of 10k tasks, with a little
 * jitter so batches are not already in order. The same stream is applied
 * with no window (each drain whole) and with the sessions' 50 ms window
 * (held events kept sorted and merged with each drain's new ones). It
 * prints CPU time per event and never asserts a speed.
 *
 * usage: bench-collector [EVENTS_PER_S] [SECONDS]   (default 1,000,000 and 10 simulated)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "collector/collector.h"

#define DRAIN_NS 20000000ull
#define PID 4242u

struct fake {
	uint64_t now;             /* simulated clock of the current drain */
	uint64_t per_drain;
	uint64_t seq;
};

static int fake_drain(void *src, struct ts_event_batch *b, uint64_t now_ns)
{
	struct fake *f = src;

	for (uint64_t i = 0; i < f->per_drain; i++, f->seq++) {
		/* stamped within the last drain interval, out of order by up to 1 ms */
		uint64_t ts = now_ns - DRAIN_NS + i * DRAIN_NS / f->per_drain;
		struct ts_event ev = { .ts = ts - (f->seq * 7919 % 1000000), .pid = PID,
				       .tid = 1 + (uint32_t)(f->seq % 4), .type = TS_EV_WAKE,
				       .id = 1 + f->seq % 10000 };

		if (ts_event_batch_push(b, &ev) < 0)
			return -12;
	}
	return 0;
}

static const struct ts_source_ops fake_ops = { .drain = fake_drain };

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(uint64_t rate, double seconds, uint64_t window_ns)
{
	struct ts_collector_options o = { .reorder_window_ns = window_ns };
	struct ts_source_desc d = { .pid = PID, .kind = "bench", .watch_fd = -1 };
	struct fake *f = calloc(1, sizeof(*f));
	struct ts_collector *c;
	char err[256];
	uint64_t drains = (uint64_t)(seconds * 1e9 / DRAIN_NS), t = 1000000000ull;
	double t0;

	ts_model_config_default(&o.model);
	if (!f || ts_collector_new(&o, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench-collector: cannot create a collector: %s\n", f ? err : "out of memory");
		exit(1);
	}
	f->per_drain = rate * DRAIN_NS / 1000000000ull;
	if (ts_collector_add_source(c, &d, &fake_ops, f, t, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench-collector: %s\n", err);
		exit(1);
	}
	t0 = cpu_s();
	for (uint64_t i = 0; i < drains; i++) {
		t += DRAIN_NS;
		ts_collector_drain(c, t);
	}
	double spent = cpu_s() - t0;
	struct ts_collector_stats st;

	ts_collector_get_stats(c, &st);
	printf("window %3llu ms: %llu events applied, %.1f ns per event, %.2f ms per drain\n",
	       (unsigned long long)(window_ns / 1000000), (unsigned long long)st.events,
	       spent * 1e9 / (double)(drains * f->per_drain), spent * 1e3 / (double)drains);
	ts_collector_free(c);   /* fake_ops has no free: the source is ours */
	free(f);
}

int main(int argc, char **argv)
{
	uint64_t rate = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	double seconds = argc > 2 ? atof(argv[2]) : 10;

	run(rate, seconds, 0);
	run(rate, seconds, TS_COLLECTOR_REORDER_NS);
	return 0;
}
