/*
 * bench-console.c: what the console costs with 100k live tasks (numbers in
 * docs/benchmarks.md, "Console").
 *
 * A model gets 100k live tasks (spawned, each polled a few times; four
 * running, a third scheduled, the rest idle), four worker threads and 64
 * locks; a console draws it into a virtual
 * terminal: ncurses on /dev/null ("xterm-256color", LINES x COLUMNS,
 * default 50 x 200), so the whole frame is built, laid out and diffed as
 * on a real screen, only the bytes go nowhere. Cases:
 *  - frame: one ts_console_render() (copy 100k rows from the model, filter,
 *    sort, draw the visible ones), sorted by ID, by Busy, by Name; each
 *    frame at a later `now`, so running tasks' times and the order change;
 *  - details: the same with the details view open (histograms, recent
 *    polls scanned from the model's ring);
 *  - 10 Hz: render every 100 ms for 3 s and report the process CPU time
 *    over that wall time (the console's share of one core);
 *  - memory: heap bytes the console's state holds per live task.
 * It prints numbers and never asserts a speed.
 *
 * usage: bench-console [TASKS] [FRAMES]   (default 100000, 50)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "collector/model.h"
#include "console/conn.h"
#include "console/console.h"
#include "console/state.h"

#define PID 4242u
#define WORKERS 4u
#define LOCKS 64u

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static void apply(struct ts_model *m, uint16_t type, uint64_t ts, uint32_t tid, uint64_t id, uint32_t kind,
		  const char *name, const char *loc)
{
	struct ts_event ev = { .ts = ts, .pid = PID, .tid = tid, .type = type, .kind = kind, .id = id,
			       .name = name, .location = loc };

	ts_model_apply(m, &ev);
}

/* 100k tasks with 64 distinct names, polled 1..4 times; the last four
 * are left running, one per worker; every 3rd is woken again (scheduled),
 * the rest idle: every task's times change with `now`. */
static int build(struct ts_model *m, size_t ntasks, uint64_t t0, char names[][32])
{
	uint64_t ts = t0;

	for (uint32_t w = 0; w < WORKERS; w++)
		apply(m, TS_EV_THREAD, ts, 100 + w, 0, TS_ROLE_WORKER, "worker", NULL);
	for (uint32_t l = 0; l < LOCKS; l++)
		apply(m, TS_EV_RESOURCE_NEW, ts, 100, 5000000 + l, TS_RES_MUTEX, "lock", "bench.c:9");
	for (size_t i = 0; i < ntasks; i++) {
		uint64_t id = i + 1;
		uint32_t tid = 100 + (uint32_t)(i % WORKERS);

		apply(m, TS_EV_SPAWN, ts, tid, id, TS_KIND_TASK, names[i % 64], "src/bench/console.rs:42");
		for (unsigned k = 0; k < 1 + i % 4; k++) {
			if (k)
				apply(m, TS_EV_WAKE, ts, tid, id, 0, NULL, NULL);
			ts += 100;
			apply(m, TS_EV_POLL_BEGIN, ts, tid, id, 0, NULL, NULL);
			ts += 1000 + (i * 7919 + k * 104729) % 200000;
			apply(m, TS_EV_POLL_END, ts, tid, id, 0, NULL, NULL);
		}
		if (i + WORKERS >= ntasks)
			apply(m, TS_EV_POLL_BEGIN, ts, tid, id, 0, NULL, NULL);
		else if (i % 3 == 0)
			apply(m, TS_EV_WAKE, ts, tid, id, 0, NULL, NULL);
	}
	return 0;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* malloc's bytes in use, the big (mmapped) blocks included */
static size_t heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Render `frames` frames; print the CPU time of a frame (mean, p50, p99,
 * max: what the frame costs, whatever else the machine runs) and the wall
 * time's median (what a user waits on this machine now). */
static void frames_case(const char *label, struct ts_console *c, struct ts_model *m, uint64_t *now,
			unsigned frames)
{
	uint64_t *t = calloc(frames, sizeof(*t)), *w = calloc(frames, sizeof(*w)), sum = 0;

	if (!t || !w)
		goto out;
	for (unsigned f = 0; f < frames; f++) {
		struct ts_console_status st = { .target = "bench (pid 4242)", .mode = "live" };
		uint64_t a, b;

		*now += 100000000ull;  /* 100 ms later: running tasks grow */
		st.now_ns = *now;
		a = thread_cpu_ns();
		b = mono_ns();
		ts_console_render(c, m, &st);
		t[f] = thread_cpu_ns() - a;
		w[f] = mono_ns() - b;
		sum += t[f];
	}
	qsort(t, frames, sizeof(*t), cmp_u64);
	qsort(w, frames, sizeof(*w), cmp_u64);
	printf("%-24s CPU mean %6.2f ms  p50 %6.2f  p99 %6.2f  max %6.2f   wall p50 %6.2f ms\n", label,
	       (double)sum / frames / 1e6, (double)t[frames / 2] / 1e6, (double)t[frames * 99 / 100] / 1e6,
	       (double)t[frames - 1] / 1e6, (double)w[frames / 2] / 1e6);
out:
	free(t);
	free(w);
}

int main(int argc, char **argv)
{
	size_t ntasks = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	unsigned frames = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 50;
	static char names[64][32];
	struct ts_console_options opts = { 0 };
	struct ts_model_config cfg;
	struct ts_model *m = NULL;
	struct ts_console *c = NULL;
	struct ts_state *s;
	FILE *out = NULL, *in = NULL;
	uint64_t t0 = 1000000000ull, now;
	size_t heap0, heap1;
	double cpu0, wall0, cpu1, wall1;
	int rc = 1;

	if (ntasks == 0 || frames == 0) {
		fprintf(stderr, "usage: bench-console [TASKS] [FRAMES]\n");
		return 2;
	}
	for (int i = 0; i < 64; i++)
		snprintf(names[i], sizeof(names[i]), "task-%02d-%c", (i * 37) % 64, 'a' + i % 26);
	ts_model_config_default(&cfg);
	if (ts_model_new(&cfg, NULL, &m) < 0)
		goto cleanup;
	ts_model_process_add(m, PID, "bench", "bench", "shim", t0);
	build(m, ntasks, t0, names);
	now = t0 + 60000000000ull;
	ts_model_tick(m, now);

	/* a virtual terminal: the size from the environment */
	setenv("LINES", getenv("LINES") ? getenv("LINES") : "50", 1);
	setenv("COLUMNS", getenv("COLUMNS") ? getenv("COLUMNS") : "200", 1);
	out = fopen("/dev/null", "w");
	in = fopen("/dev/null", "r");
	if (!out || !in)
		goto cleanup;
	heap0 = heap_bytes();
	if (ts_console_new_stream(&opts, "xterm-256color", out, in, &c) < 0) {
		fprintf(stderr, "bench-console: no terminal description for xterm-256color\n");
		rc = 77;
		goto cleanup;
	}
	s = ts_console_state(c);
	printf("console: %zu live tasks, %s x %s virtual terminal, %u frames per case\n", ntasks,
	       getenv("COLUMNS"), getenv("LINES"), frames);

	frames_case("frame, sorted by ID", c, m, &now, frames);
	{
		/* the two halves of a frame: the conn's copy and sort, then the
		 * drawing alone (render without a model redraws the copy) */
		uint64_t a = thread_cpu_ns(), b, d;
		struct ts_console_status st = { .target = "bench (pid 4242)", .mode = "live", .now_ns = now };

		for (unsigned f = 0; f < frames; f++)
			ts_conn_model_refresh(s, m, now);
		b = thread_cpu_ns();
		for (unsigned f = 0; f < frames; f++)
			ts_console_render(c, NULL, &st);
		d = thread_cpu_ns();
		printf("%-24s CPU mean %6.2f ms (copy + filter + sort), draw alone %6.2f ms\n", "  of which", 
		       (double)(b - a) / frames / 1e6, (double)(d - b) / frames / 1e6);
	}
	heap1 = heap_bytes();
	s->sort_col = TS_COL_BUSY;
	frames_case("frame, sorted by Busy", c, m, &now, frames);
	s->sort_col = TS_COL_NAME;
	frames_case("frame, sorted by Name", c, m, &now, frames);
	s->sort_col = TS_COL_BUSY;
	ts_state_open_task(s, PID, 1);
	frames_case("frame, details view", c, m, &now, frames);
	ts_state_back(s);

	/* 10 Hz for 3 s */
	cpu0 = cpu_s();
	wall0 = (double)mono_ns() / 1e9;
	for (int f = 0; f < 30; f++) {
		struct ts_console_status st = { .target = "bench (pid 4242)", .mode = "live" };
		struct timespec tick = { 0, 100000000 };

		now += 100000000ull;
		st.now_ns = now;
		ts_console_render(c, m, &st);
		nanosleep(&tick, NULL);
	}
	cpu1 = cpu_s();
	wall1 = (double)mono_ns() / 1e9;
	printf("10 Hz console, 3 s:           %.1f%% of one core\n", (cpu1 - cpu0) * 100.0 / (wall1 - wall0));
	printf("memory: struct ts_row %zu B; the console's heap after its first frames %.0f B per live task "
	       "(two row buffers, sort keys, the conn's scratch; capacities round up to powers of two)\n",
	       sizeof(struct ts_row), heap1 > heap0 ? (double)(heap1 - heap0) / (double)ntasks : 0.0);
	rc = 0;

cleanup:
	ts_console_free(c);
	if (out)
		fclose(out);
	if (in)
		fclose(in);
	ts_model_free(m);
	return rc;
}
