/*
 * bench-stream.c: the console stream's cost to the collector: encoding a
 * snapshot and a delta of a model with many live tasks (what one publish
 * costs the session loop when a console is connected), and the bytes on
 * the wire. Prints numbers, asserts nothing.
 *
 *   bench-stream [TASKS]     (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "collector/model.h"
#include "collector/publisher_internal.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void ev(struct ts_model *m, uint16_t type, uint64_t ts, uint64_t id)
{
	struct ts_event e = { .ts = ts, .pid = 1, .tid = 2, .type = type, .id = id,
			      .name = type == TS_EV_SPAWN ? "task" : NULL,
			      .location = type == TS_EV_SPAWN ? "b.c:1" : NULL };

	ts_model_apply(m, &e);
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000, now = 1000000000ull;
	struct ts_model *m = NULL;
	struct ts_stream_encoder enc;
	struct ts_stream_buf snap = { 0 }, delta = { 0 };
	double t0, t1;

	if (ts_model_new(NULL, NULL, &m) < 0)
		return 1;
	for (uint64_t id = 1; id <= n; id++)
		ev(m, TS_EV_SPAWN, now + id, id);
	now += n + 1000;
	ts_model_tick(m, now);
	ts_stream_encoder_init(&enc);

	t0 = now_s();
	ts_stream_encode(&enc, m, NULL, now, NULL, &snap);
	t1 = now_s();
	printf("snapshot of %llu tasks: %.1f ms, %.1f MiB (%.0f bytes per task)\n", (unsigned long long)n,
	       (t1 - t0) * 1e3, (double)snap.len / 1048576, (double)snap.len / (double)n);

	for (int pct = 0; pct <= 10; pct += 10) {
		double best = 1e9;

		for (int rep = 0; rep < 5; rep++) {
			for (uint64_t id = 1; id <= n * (uint64_t)pct / 100; id++) {
				ev(m, TS_EV_POLL_BEGIN, now, id);
				ev(m, TS_EV_POLL_END, now + 500, id);
			}
			now += 100000000ull;
			ts_model_tick(m, now);
			delta.len = 0;
			t0 = now_s();
			ts_stream_encode(&enc, m, NULL, now, &delta, NULL);
			t1 = now_s();
			best = t1 - t0 < best ? t1 - t0 : best;
		}
		printf("delta with %d%% of the tasks changed: %.1f ms, %.1f KiB\n", pct, best * 1e3,
		       (double)delta.len / 1024);
	}
	ts_stream_buf_free(&snap);
	ts_stream_buf_free(&delta);
	ts_stream_encoder_fini(&enc);
	ts_model_free(m);
	return 0;
}
