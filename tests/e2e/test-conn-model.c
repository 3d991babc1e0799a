/*
 * test-conn-model.c: the live model's conn (console/conn_model.c) against
 * the model it copies.
 *
 *  - rows: over seeded random rounds of spawns, polls, wakes, drops and
 *    evictions, every live task is copied exactly once with the model's
 *    values at `now`, and the rows are in the sort's order (the conn puts
 *    rows back where they were last frame; that must never change the
 *    result);
 *  - details: recent polls oldest first with the running poll last, the
 *    histograms, the task's warnings and the lock it holds;
 *  - workers: the busy % sample once a second, polls/s, BLOCKED past the
 *    blocked-worker threshold or waiting for a lock, PARKED when kernel
 *    context saw no CPU time for a whole sample;
 *  - resources: holder, how long held, waiters, p99 unknown before any
 *    hold completed;
 *  - a paused state is left alone.
 */
#include <stdint.h>
#include <stdlib.h>

#include "collector/model.h"
#include "console/conn.h"
#include "console/state.h"
#include "tests/check.h"

#define PID 7
#define MS 1000000ull
#define S 1000000000ull

static void ev(struct ts_model *m, uint16_t type, uint64_t ts, uint32_t tid, uint64_t id, uint32_t kind,
	       const char *name)
{
	struct ts_event e = { .ts = ts, .pid = PID, .tid = tid, .type = type, .kind = kind, .id = id,
			      .name = name, .location = name ? "t.c:1" : NULL };

	ts_model_apply(m, &e);
}

static struct ts_model *model(uint64_t retention)
{
	struct ts_model_config cfg;
	struct ts_model *m = NULL;

	ts_model_config_default(&cfg);
	cfg.retention_ns = retention;
	CHECK(ts_model_new(&cfg, NULL, &m) == 0);
	return m;
}

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every model task once, with its values; rows in sort order. */
static void check_rows(const struct ts_state *s, const struct ts_model *m, uint64_t now)
{
	struct ts_task *const *tasks;
	size_t n = 0;
	uint64_t *got, *want;

	tasks = ts_model_tasks(m, &n);
	CHECK_MSG(s->nrows == n, "%zu rows, %zu tasks", s->nrows, n);
	CHECK(s->nshown == s->nrows);
	got = calloc(s->nrows + 1, sizeof(*got));
	want = calloc(n + 1, sizeof(*want));
	if (!got || !want)
		abort();
	for (size_t i = 0; i < s->nrows; i++) {
		const struct ts_row *r = &s->rows[i];
		const struct ts_task *t = ts_model_find_task(m, r->pid, r->id);
		uint64_t tot, busy, sched, idle;

		got[i] = r->id;
		if (i > 0)
			CHECK_MSG(ts_state_compare(s, &s->rows[i - 1], r) < 0, "rows %zu and %zu out of order", i - 1, i);
		CHECK_MSG(t != NULL, "row for task %llu, not in the model", (unsigned long long)r->id);
		if (!t)
			continue;
		ts_task_times(t, now, &tot, &busy, &sched, &idle);
		CHECK(r->busy_ns == busy && r->total_ns == tot && r->idle_ns == idle && r->sched_ns == sched);
		CHECK(r->polls == t->polls && r->state == t->state);
	}
	for (size_t i = 0; i < n; i++)
		want[i] = tasks[i]->id;
	qsort(got, s->nrows, sizeof(*got), cmp_id);
	qsort(want, n, sizeof(*want), cmp_id);
	for (size_t i = 0; i < n && i < s->nrows; i++)
		CHECK(got[i] == want[i]);
	free(got);
	free(want);
}

static void test_rows(void)
{
	struct ts_model *m = model(0);
	struct ts_state s;
	unsigned seed = 12345;
	uint64_t now = S, next_id = 1;
	static const unsigned cols[] = { TS_COL_BUSY, TS_COL_ID, TS_COL_NAME, TS_COL_POLLS, TS_COL_STATE };

	ts_state_init(&s);
	ev(m, TS_EV_THREAD, now, 1, 0, TS_ROLE_WORKER, "w");
	for (int round = 0; round < 40; round++) {
		size_t n = 0;
		struct ts_task *const *tasks = ts_model_tasks(m, &n);
		int spawns = (int)(rand_r(&seed) % 40);

		/* polls, wakes and drops of random live tasks, then new ones */
		for (size_t k = 0; k < n / 3 && n > 0; k++) {
			const struct ts_task *t = tasks[(size_t)rand_r(&seed) % n];
			uint64_t id = t->id;
			unsigned op = (unsigned)rand_r(&seed) % 4;

			if (t->state == TS_TASK_DONE || t->state == TS_TASK_RUNNING)
				continue;
			now += 1000;
			if (op == 0) {
				ev(m, TS_EV_TASK_DROP, now, 1, id, TS_OUTCOME_OK, NULL);
			} else if (op == 1) {
				ev(m, TS_EV_WAKE, now, 1, id, 0, NULL);
			} else {
				ev(m, TS_EV_POLL_BEGIN, now, 1, id, 0, NULL);
				now += 1000 + (uint64_t)(rand_r(&seed) % 100000);
				ev(m, TS_EV_POLL_END, now, 1, id, 0, NULL);
			}
			tasks = ts_model_tasks(m, &n);
		}
		for (int k = 0; k < spawns; k++) {
			static const char *const names[] = { "alpha", "beta", "gamma", "delta" };

			ev(m, TS_EV_SPAWN, now, 1, next_id, TS_KIND_TASK, names[next_id % 4]);
			next_id++;
		}
		now += MS;
		ts_model_tick(m, now);              /* evicts the dropped ones */
		if (round % 8 == 0) {
			s.sort_col = cols[(round / 8) % 5];
			s.invert = round % 16 == 8;
		}
		CHECK(ts_conn_model_refresh(&s, m, now) == 0);
		check_rows(&s, m, now);
		if (check_failures)
			break;
	}
	/* paused: left alone */
	s.paused = true;
	ev(m, TS_EV_SPAWN, now, 1, next_id, TS_KIND_TASK, "late");
	{
		size_t before = s.nrows;

		CHECK(ts_conn_model_refresh(&s, m, now + MS) == 0);
		CHECK(s.nrows == before && s.now_ns == now);
	}
	ts_state_fini(&s);
	ts_model_free(m);
}

static void test_details(void)
{
	struct ts_model *m = model(10 * S);
	struct ts_state s;
	uint64_t t = S;

	ts_state_init(&s);
	ev(m, TS_EV_THREAD, t, 1, 0, TS_ROLE_WORKER, "w");
	ev(m, TS_EV_SPAWN, t, 1, 5, TS_KIND_TASK, "five");
	ev(m, TS_EV_SPAWN, t, 1, 6, TS_KIND_TASK, "six");
	ev(m, TS_EV_RESOURCE_NEW, t, 1, 900, TS_RES_MUTEX, "m");
	for (uint64_t k = 1; k <= 3; k++) {
		t += 10 * MS;
		ev(m, TS_EV_POLL_BEGIN, t, 1, 5, 0, NULL);
		ev(m, TS_EV_POLL_BEGIN, t, 1, 6, 0, NULL);     /* interleaved: the ring holds both */
		ev(m, TS_EV_POLL_END, t + k * MS, 1, 6, 0, NULL);
		ev(m, TS_EV_POLL_BEGIN, t + k * MS, 1, 5, 0, NULL);
		ev(m, TS_EV_POLL_END, t + 2 * k * MS, 1, 5, 0, NULL);
	}
	t += 10 * MS;
	ev(m, TS_EV_POLL_BEGIN, t, 1, 5, 0, NULL);             /* running, holding the mutex */
	ev(m, TS_EV_LOCK_ACQUIRED, t + MS, 1, 900, 0, NULL);

	ts_state_open_task(&s, PID, 5);
	CHECK(ts_conn_model_refresh(&s, m, t + 5 * MS) == 0);
	CHECK(s.detail.valid && s.detail.row.id == 5);
	CHECK(s.detail.poll_hist.count == s.detail.row.polls);
	CHECK_MSG(s.detail.npolls == s.detail.row.polls + 1, "%zu polls kept", s.detail.npolls);
	for (size_t i = 1; i < s.detail.npolls; i++)
		CHECK(s.detail.polls[i - 1].start_ns <= s.detail.polls[i].start_ns);
	CHECK(s.detail.npolls > 0 && s.detail.polls[s.detail.npolls - 1].running);
	CHECK(s.detail.npolls > 0 && s.detail.polls[s.detail.npolls - 1].end_ns == t + 5 * MS);
	CHECK(s.detail.nlocks == 1 && !s.detail.locks[0].waits && s.detail.locks[0].id == 900);
	CHECK(s.detail.nlocks == 1 && s.detail.locks[0].since_ns == 4 * MS);

	/* resources: held for 4 ms by task 5, no hold completed yet */
	CHECK(s.nres == 1);
	CHECK(s.resources[0].holder_task == 5 && s.resources[0].held_ns == 4 * MS);
	CHECK(s.resources[0].hold_p99_ns == TS_UNKNOWN && s.resources[0].max_hold_ns == 4 * MS);

	/* a task the model forgot: the details keep their last copy, marked by id */
	ts_state_open_task(&s, PID, 77);
	CHECK(ts_conn_model_refresh(&s, m, t + 6 * MS) == 0);
	CHECK(s.detail.row.id != 77 || !s.detail.valid);
	ts_state_fini(&s);
	ts_model_free(m);
}

static void test_workers(void)
{
	struct ts_model *m = model(10 * S);
	struct ts_state s;
	uint64_t t0 = 10 * S;

	ts_state_init(&s);
	ev(m, TS_EV_THREAD, t0, 3, 0, TS_ROLE_WORKER, "w3");
	ev(m, TS_EV_SPAWN, t0, 3, 1, TS_KIND_TASK, "one");
	CHECK(ts_conn_model_refresh(&s, m, t0) == 0);
	CHECK(s.nworkers == 1 && s.workers[0].nbusy == 0 && s.workers[0].polls_per_s < 0);
	/* 250 ms busy in 5 polls within the next second */
	for (int k = 0; k < 5; k++) {
		uint64_t b = t0 + (uint64_t)k * 100 * MS;

		ev(m, TS_EV_POLL_BEGIN, b, 3, 1, 0, NULL);
		ev(m, TS_EV_POLL_END, b + 50 * MS, 3, 1, 0, NULL);
	}
	CHECK(ts_conn_model_refresh(&s, m, t0 + 600 * MS) == 0);
	CHECK(s.workers[0].nbusy == 0);            /* under a second: no sample yet */
	CHECK(ts_conn_model_refresh(&s, m, t0 + S) == 0);
	CHECK(s.workers[0].nbusy == 1 && s.workers[0].busy_pct[TS_SPARK_LEN - 1] == 25);
	CHECK(s.workers[0].polls_per_s > 4.99 && s.workers[0].polls_per_s < 5.01);
	CHECK(s.workers[0].state == TS_WORKER_IDLE);
	/* a poll past the blocked-worker threshold (100 ms) */
	ev(m, TS_EV_POLL_BEGIN, t0 + S, 3, 1, 0, NULL);
	CHECK(ts_conn_model_refresh(&s, m, t0 + S + 50 * MS) == 0);
	CHECK(s.workers[0].state == TS_WORKER_POLLING && s.workers[0].current_task == 1);
	CHECK(s.workers[0].in_poll_ns == 50 * MS);
	CHECK(ts_conn_model_refresh(&s, m, t0 + 2 * S) == 0);
	CHECK(s.workers[0].state == TS_WORKER_BLOCKED);
	CHECK(s.workers[0].nbusy == 2 && s.workers[0].busy_pct[TS_SPARK_LEN - 1] == 100);

	/* a thread waiting for a lock outside any poll is blocked too */
	ev(m, TS_EV_THREAD, t0, 4, 0, TS_ROLE_BLOCKING, "b4");
	ev(m, TS_EV_RESOURCE_NEW, t0, 4, 901, TS_RES_MUTEX, "m");
	ev(m, TS_EV_LOCK_ACQUIRED, t0 + S, 3, 901, 0, NULL);   /* task 1 (polled on 3) holds it */
	ev(m, TS_EV_LOCK_WAIT, t0 + S + MS, 4, 901, 0, NULL);
	CHECK(ts_conn_model_refresh(&s, m, t0 + 2 * S + MS) == 0);
	CHECK(s.nworkers == 2);
	for (size_t i = 0; i < s.nworkers; i++)
		if (s.workers[i].tid == 4)
			CHECK_MSG(s.workers[i].state == TS_WORKER_BLOCKED, "state %u", s.workers[i].state);

	/* kernel context: an idle thread with CPU time is idle; with none for a
	 * whole sample, parked; without kernel context never parked */
	ev(m, TS_EV_THREAD, t0, 5, 0, TS_ROLE_WORKER, "w5");
	{
		struct ts_event cs = { .ts = t0 + 2 * S, .pid = PID, .tid = 5, .type = TS_EV_CPU_SAMPLE, .arg = 3 * MS };

		ts_model_apply(m, &cs);
	}
	CHECK(ts_conn_model_refresh(&s, m, t0 + 3 * S) == 0);     /* first sight of w5 */
	CHECK(ts_conn_model_refresh(&s, m, t0 + 4 * S) == 0);     /* a whole second, no CPU */
	for (size_t i = 0; i < s.nworkers; i++) {
		if (s.workers[i].tid == 5)
			CHECK_MSG(s.workers[i].state == TS_WORKER_PARKED, "w5 state %u", s.workers[i].state);
		if (s.workers[i].tid == 3)
			CHECK_MSG(s.workers[i].state != TS_WORKER_PARKED, "w3 (no kernel context) parked");
	}
	{
		struct ts_event cs = { .ts = t0 + 4 * S + MS, .pid = PID, .tid = 5, .type = TS_EV_CPU_SAMPLE, .arg = MS };

		ts_model_apply(m, &cs);
	}
	CHECK(ts_conn_model_refresh(&s, m, t0 + 5 * S) == 0);
	for (size_t i = 0; i < s.nworkers; i++)
		if (s.workers[i].tid == 5)
			CHECK_MSG(s.workers[i].state == TS_WORKER_IDLE, "w5 with CPU time: state %u", s.workers[i].state);
	ts_state_fini(&s);
	ts_model_free(m);
}

int main(void)
{
	test_rows();
	test_details();
	test_workers();
	return check_result("test-conn-model");
}
