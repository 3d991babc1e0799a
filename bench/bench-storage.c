/*
 * bench-storage.c: how many rows per second the SQLite writer sustains.
 *
 * Two runs over poll spans (the highest-volume row type) into a fresh
 * recording in $TMPDIR (or /tmp):
 *   sustained  the producer retries when the queue is full, so the rate is
 *              what the writer commits end to end (enqueue to COMMIT);
 *   flood      the producer never waits, as the collector behaves: the rate
 *              of accepted rows, and how many were refused (unstored).
 * Usage: bench-storage [ROWS [BATCH_ROWS]]   (defaults 2000000, the storage
 * default batch). Prints numbers only.
 */
#include "storage/storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *dir, const char *name, uint64_t rows, uint32_t batch, bool retry)
{
	struct ts_storage_stats st;
	struct ts_storage *s = NULL;
	char path[512], err[256];
	struct stat sb;
	double t0, t1;
	int r;

	snprintf(path, sizeof(path), "%s/bench-%s.db", dir, name);
	unlink(path);
	struct ts_storage_options opts = { .batch_rows = batch };

	r = ts_storage_open_with(path, &opts, &s, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t0 = now_s();
	for (uint64_t i = 0; i < rows; i++) {
		struct ts_poll_span sp = { .pid = 1234, .tid = 1235 + (uint32_t)(i % 8), .task_id = i % 5000,
					   .start_ns = 1000000000u + i * 1000, .end_ns = 1000000000u + i * 1000 + 700,
					   .on_cpu_ns = (int64_t)(i % 3 ? 600 : -1), .ready = i % 10 == 0 };

		while (ts_storage_add_poll_span(s, &sp) == -ENOBUFS && retry)
			usleep(50);
	}
	r = ts_storage_flush(s);
	t1 = now_s();
	ts_storage_get_stats(s, &st);
	ts_storage_close(s);
	if (stat(path, &sb) < 0)
		sb.st_size = 0;
	/* refused: adds that met a full queue (retried in "sustained") */
	printf("%-10s rows=%llu committed=%llu refused=%llu commits=%llu seconds=%.2f rows_per_s=%.0f bytes_per_row=%.1f%s\n",
	       name, (unsigned long long)rows, (unsigned long long)st.committed,
	       (unsigned long long)st.unstored, (unsigned long long)st.commits,
	       t1 - t0, (double)st.committed / (t1 - t0),
	       st.committed ? (double)sb.st_size / (double)st.committed : 0.0, r < 0 ? " (write errors)" : "");
	unlink(path);
	return r < 0;
}

int main(int argc, char **argv)
{
	uint64_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
	uint32_t batch = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 0;
	const char *base = getenv("TMPDIR");
	char dir[512];
	int r;

	snprintf(dir, sizeof(dir), "%s/ts-bench-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	r = run(dir, "sustained", rows, batch, true);
	r |= run(dir, "flood", rows, batch, false);
	rmdir(dir);
	return r;
}
