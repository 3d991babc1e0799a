/*
 * console-harness.c: the live console on a synthetic model, for the tmux
 * end-to-end test (test-console-tmux.sh) and for trying the console by
 * hand (`console-harness --tasks 100000` shows how it copes with many).
 *
 * It builds a model from a fixed event sequence (named tasks with
 * distinct busy times, one still inside a poll, one woken, one done, one
 * polled eleven times; a worker polling, one idle, a blocking thread that
 * waits for a lock the stuck task holds; an rwlock with contended
 * acquisitions) and
 * runs the loop the embedded collector runs: poll the terminal with a
 * 100 ms timeout, handle input, tick the model, render. `q` exits 0; the
 * --timeout (default 60 s) exits 3 so a broken test never hangs.
 *
 * Usage: console-harness [--tasks N] [--ascii] [--no-color] [--dropped N]
 *                        [--unstored N] [--timeout S]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/model.h"
#include "console/console.h"

#define PID 4242
#define TID 101
#define US 1000ull
#define MS 1000000ull
#define S 1000000000ull

struct spec {
	uint64_t id;
	const char *name;
	const char *location;
	uint64_t busy_ns;
};

/* Busy times are distinct, and their order is not the ID order. */
static const struct spec specs[] = {
	{ 1, "accept_loop", "src/server/accept.rs:42", 750 * US },
	{ 2, "db_pool", "src/db/pool.rs:118", 40 * MS },
	{ 3, "http_handler", "src/http/handler.rs:77", 7 * MS },
	{ 4, "metrics_push", "src/metrics/push.rs:12", 120 * MS },
	{ 5, "cache_evictor", "src/cache/evict.rs:230", 15 * MS },
	{ 6, "slow_render", "src/render/template.rs:9", 350 * MS },
};
#define STUCK_ID 7              /* polled since base + 8 s: the busiest */
#define HIST_ID 3               /* polled eleven times (details histogram) */
#define TID_IDLE 102            /* a worker that polls nothing */
#define TID_OTHER 103           /* a blocking-pool thread taking locks outside polls */
#define CONFIG_ID 900           /* rwlock: five acquisitions, all contended */
#define DB_LOCK_ID 901          /* mutex: held by the stuck task, thread 103 waits */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * S + (uint64_t)ts.tv_nsec;
}

static void apply_tid(struct ts_model *m, uint64_t ts, uint32_t tid, uint16_t type, uint64_t id, const char *name,
		      const char *location, uint32_t kind)
{
	struct ts_event ev = { .ts = ts, .pid = PID, .tid = tid, .type = type, .kind = kind,
			       .id = id, .name = name, .location = location };

	ts_model_apply(m, &ev);
}

static void apply(struct ts_model *m, uint64_t ts, uint16_t type, uint64_t id, const char *name,
		  const char *location, uint32_t kind)
{
	apply_tid(m, ts, TID, type, id, name, location, kind);
}

/* The fixed history: everything happened in the 10 s before `now`. */
static void build(struct ts_model *m, uint64_t now, char **bulk_names, size_t bulk)
{
	uint64_t base = now - 10 * S;
	size_t n = sizeof(specs) / sizeof(specs[0]);

	apply(m, base, TS_EV_THREAD, 0, "worker-0", NULL, TS_ROLE_WORKER);
	for (size_t i = 0; i < n; i++)
		apply(m, base + i * MS, TS_EV_SPAWN, specs[i].id, specs[i].name, specs[i].location, TS_KIND_TASK);
	apply(m, base + 7 * MS, TS_EV_SPAWN, STUCK_ID, "stuck_task", "src/jobs/compact.rs:300", TS_KIND_BLOCKING);
	for (size_t i = 0; i < bulk; i++)
		apply(m, base + 8 * MS, TS_EV_SPAWN, 1000 + i, bulk_names[i], "src/bulk.rs:1", TS_KIND_LOCAL);

	for (size_t i = 0; i < n; i++) {
		uint64_t begin = base + 100 * MS + i * S;

		if (specs[i].id == HIST_ID) {
			/* eleven polls: 100 us .. 1 ms, then 1.5 ms (7 ms in all),
			 * for the details histogram */
			for (uint64_t k = 0; k < 11; k++) {
				uint64_t t = begin + k * 10 * MS;

				apply(m, t, TS_EV_POLL_BEGIN, specs[i].id, NULL, NULL, 0);
				apply(m, t + (k < 10 ? (k + 1) * 100 * US : 1500 * US), TS_EV_POLL_END, specs[i].id,
				      NULL, NULL, 0);
			}
			continue;
		}
		apply(m, begin, TS_EV_POLL_BEGIN, specs[i].id, NULL, NULL, 0);
		apply(m, begin + specs[i].busy_ns, TS_EV_POLL_END, specs[i].id, NULL, NULL, 0);
	}
	/* a lock with a history: thread 103 took "config" five times, outside
	 * any poll, waiting 1..4 ms and once 12 ms (a contended_lock warning) */
	apply_tid(m, base, TID_OTHER, TS_EV_THREAD, 0, "blocking-0", NULL, TS_ROLE_BLOCKING);
	apply_tid(m, base, TID_IDLE, TS_EV_THREAD, 0, "worker-1", NULL, TS_ROLE_WORKER);
	apply(m, base + 2 * MS, TS_EV_RESOURCE_NEW, CONFIG_ID, "config", "src/config.rs:20", TS_RES_RWLOCK);
	apply(m, base + 2 * MS, TS_EV_RESOURCE_NEW, DB_LOCK_ID, "db_lock", "src/db/pool.rs:31", TS_RES_MUTEX);
	for (uint64_t k = 0; k < 5; k++) {
		uint64_t t = base + 200 * MS + k * 100 * MS, wait = k < 4 ? (k + 1) * MS : 12 * MS;

		apply_tid(m, t, TID_OTHER, TS_EV_LOCK_WAIT, CONFIG_ID, NULL, NULL, 0);
		apply_tid(m, t + wait, TID_OTHER, TS_EV_LOCK_ACQUIRED, CONFIG_ID, NULL, NULL, 0);
		apply_tid(m, t + wait + (k + 2) * MS, TID_OTHER, TS_EV_LOCK_RELEASE, CONFIG_ID, NULL, NULL, 0);
	}
	apply(m, base + 7 * S, TS_EV_WAKE, 3, NULL, NULL, 0);                 /* scheduled */
	apply(m, base + 7 * S + MS, TS_EV_TASK_DROP, 5, NULL, NULL, TS_OUTCOME_OK); /* done */
	apply(m, base + 8 * S, TS_EV_POLL_BEGIN, STUCK_ID, NULL, NULL, 0);      /* running */
	/* the stuck task holds db_lock; thread 103 waits for it (outside a poll) */
	apply(m, base + 8 * S + MS, TS_EV_LOCK_ACQUIRED, DB_LOCK_ID, NULL, NULL, 0);
	apply_tid(m, base + 9 * S, TID_OTHER, TS_EV_LOCK_WAIT, DB_LOCK_ID, NULL, NULL, 0);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	struct ts_console_options opts = { 0 };
	struct ts_model_config cfg;
	struct ts_model *m = NULL;
	struct ts_console *c = NULL;
	uint64_t bulk = 0, dropped = 0, unstored = 0, timeout_s = 60, start;
	char **names = NULL;
	int r, rc = 1;

	for (int i = 1; i < argc; i++) {
		uint64_t *num = NULL;

		if (!strcmp(argv[i], "--ascii"))
			opts.ascii = true;
		else if (!strcmp(argv[i], "--no-color"))
			opts.no_color = true;
		else if (!strcmp(argv[i], "--tasks"))
			num = &bulk;
		else if (!strcmp(argv[i], "--dropped"))
			num = &dropped;
		else if (!strcmp(argv[i], "--unstored"))
			num = &unstored;
		else if (!strcmp(argv[i], "--timeout"))
			num = &timeout_s;
		else
			num = NULL, i = argc + 1;
		if (i > argc || (num && (++i >= argc || parse_u64(argv[i], num) < 0))) {
			fprintf(stderr, "usage: console-harness [--tasks N] [--ascii] [--no-color] "
					"[--dropped N] [--unstored N] [--timeout S]\n");
			return 2;
		}
	}

	names = calloc(bulk ? bulk : 1, sizeof(*names));
	if (!names)
		goto cleanup;
	for (uint64_t i = 0; i < bulk; i++) {
		names[i] = malloc(32);
		if (!names[i])
			goto cleanup;
		snprintf(names[i], 32, "bulk-%llu", (unsigned long long)i);
	}

	ts_model_config_default(&cfg);
	cfg.retention_ns = 24 * 3600 * S;   /* keep the done task on screen */
	r = ts_model_new(&cfg, NULL, &m);
	if (r < 0) {
		fprintf(stderr, "console-harness: model: %s\n", strerror(-r));
		goto cleanup;
	}
	start = now_ns();
	ts_model_process_add(m, PID, "harness", "synthetic", "shim", start - 10 * S);
	build(m, start, names, bulk);

	r = ts_console_new(&opts, &c);
	if (r < 0) {
		fprintf(stderr, "console-harness: console: %s\n", strerror(-r));
		goto cleanup;
	}
	for (;;) {
		struct pollfd pfd = { .fd = ts_console_input_fd(c), .events = POLLIN };
		uint64_t now = now_ns();
		struct ts_console_status st = {
			.now_ns = now, .target = "harness (pid 4242)", .mode = "live",
			.events_per_s = (double)ts_model_events(m) / ((double)(now - start) / S + 10),
			.dropped = dropped + ts_model_dropped(m), .unstored = unstored,
			.db_path = "/tmp/harness.db",
		};

		if (now - start > timeout_s * S) {
			rc = 3;
			break;
		}
		ts_model_tick(m, now);
		ts_console_render(c, m, &st);
		/* EINTR (SIGWINCH) falls through: handle_input picks up the resize */
		poll(&pfd, 1, 100);
		if (ts_console_handle_input(c) & TS_CONSOLE_QUIT) {
			rc = 0;
			break;
		}
	}

cleanup:
	ts_console_free(c);
	ts_model_free(m);
	for (uint64_t i = 0; names && i < bulk; i++)
		free(names[i]);
	free(names);
	return rc;
}
