/*
 * bench-replay.c: the replaying console on a large recording: time to load
 * it (storage/replay.c), memory it takes, and time to fill the console
 * state at a cursor (console/conn_db.c), which is what each seek and each
 * frame of playback costs. Prints numbers, asserts nothing.
 *
 *   bench-replay [TASKS [SPANS_PER_TASK]]     (default 100000 x 10)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "console/conn_db.h"
#include "console/state.h"
#include "storage/storage.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, res = 0;

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char **argv)
{
	uint64_t ntasks = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
	uint64_t per = argc > 2 ? strtoull(argv[2], NULL, 10) : 10;
	char dir[] = "/tmp/ts-bench-replay-XXXXXX", path[256], aux[300], err[512] = "";
	struct ts_storage *s = NULL;
	struct ts_conn_db *d = NULL;
	struct ts_state st;
	uint64_t first, last, base = 1000000000ull;
	double t0, t1, worst = 0, sum = 0;
	size_t mid = 0;
	long rss0;
	int n = 0;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/big.db", dir);
	if (ts_storage_open(path, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t0 = now_s();
	/* tasks spawned over 100 s, each living 1..20 s, polled `per` times */
	for (uint64_t i = 0; i < ntasks; i++) {
		struct ts_task t = { .pid = 1, .id = i + 1, .life = i + 1, .name = "worker-task", .location = "b.c:1",
				     .outcome = TS_OUTCOME_OK };

		t.spawned_ns = base + i * (100000000000ull / ntasks);
		t.dropped_ns = t.spawned_ns + 1000000000ull + (i * 7919 % 19) * 1000000000ull;
		for (uint64_t k = 0; k < per; k++) {
			struct ts_poll_span sp = { .pid = 1, .tid = 10 + (uint32_t)(i % 4), .task_id = t.id,
						   .on_cpu_ns = -1 };

			sp.start_ns = t.spawned_ns + k * ((t.dropped_ns - t.spawned_ns) / per);
			sp.end_ns = sp.start_ns + 20000 + (i + k) % 50000;
			while (ts_storage_add_poll_span(s, &sp) == -ENOBUFS)
				ts_storage_flush(s);
		}
		while (ts_storage_add_task(s, &t) == -ENOBUFS)
			ts_storage_flush(s);
	}
	ts_storage_close(s);
	t1 = now_s();
	printf("recording: %llu tasks, %llu poll spans, written in %.1f s\n", (unsigned long long)ntasks,
	       (unsigned long long)(ntasks * per), t1 - t0);

	rss0 = rss_kb();
	t0 = now_s();
	if (ts_conn_db_open(path, &d, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t1 = now_s();
	printf("load: %.2f s, %.1f MiB resident (%.0f bytes per poll span)\n", t1 - t0,
	       (double)(rss_kb() - rss0) / 1024, (double)(rss_kb() - rss0) * 1024 / (double)(ntasks * per));

	ts_state_init(&st);
	ts_conn_db_bounds(d, &first, &last);
	for (int i = 0; i <= 20; i++, n++) {
		ts_conn_db_seek(d, first + (last - first) / 20 * (uint64_t)i);
		t0 = now_s();
		ts_conn_db_fill(d, &st);
		t1 = now_s();
		sum += t1 - t0;
		worst = t1 - t0 > worst ? t1 - t0 : worst;
		if (i == 10)
			mid = st.nrows;
	}
	printf("seek + fill at 21 cursors: mean %.2f ms, worst %.2f ms (tasks alive mid-way: %zu)\n",
	       sum / n * 1e3, worst * 1e3, mid);
	ts_state_fini(&st);
	ts_conn_db_free(d);
	unlink(path);
	snprintf(aux, sizeof(aux), "%s-wal", path);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", path);
	unlink(aux);
	rmdir(dir);
	return 0;
}
