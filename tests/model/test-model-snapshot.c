/*
 * test-model-snapshot.c: TS_EV_TASK_SNAPSHOT, the tasks a shim reports
 * when a collector attaches to a program that is already running, mixed
 * with the real events of the same tasks in every order the collector can
 * see them: snapshot then events, spawn then snapshot, events then
 * snapshot, snapshot then a late spawn, a snapshot of a running task
 * followed by its poll's end or by a new poll, duplicates and bad values.
 * The rules are at the top of collector/model_tasks.c.
 */
#include "model-test.h"

static struct rec R;

static struct ts_task *find(struct ts_model *m, uint64_t id)
{
	return ts_model_find_task(m, PID, id);
}

static size_t n_tasks(struct ts_model *m)
{
	size_t n = 0;

	(void)ts_model_tasks(m, &n);
	return n;
}

static void snap(struct ts_model *m, uint64_t ts, uint64_t id, const char *name, const char *loc,
		 uint32_t kind, uint32_t state, bool waker_held)
{
	ev_full(m, TS_EV_TASK_SNAPSHOT, ts, 99, id, waker_held ? TS_EVF_WAKER_HELD : 0, kind, state,
		name, loc);
}

/* A task known only from the snapshot, then its life goes on. */
static void test_snapshot_then_events(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_model_stats st;
	struct ts_task *t;

	snap(m, 1000, 1, "server", "srv.c:10", TS_KIND_LOCAL, TS_TASK_IDLE, true);
	t = find(m, 1);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(strcmp(t->name, "server") == 0 && strcmp(t->location, "srv.c:10") == 0);
	CHECK_EQ(t->kind, TS_KIND_LOCAL);
	CHECK_EQ(t->state, TS_TASK_IDLE);
	CHECK_EQ(t->spawned_ns, 1000);
	CHECK_EQ(t->polls, 0);
	CHECK(t->wakers_unknown); /* held: how many is not known */
	CHECK(!t->implicit);

	/* Reported even before its first poll (it is not a stray). */
	ts_model_tick(m, 1500);
	CHECK(R.n_task_changed >= 1 && R.last_task_changed == 1);

	wake(m, 2000, 12, 1, 0);
	CHECK_EQ(t->state, TS_TASK_SCHEDULED);
	CHECK_EQ(t->idle_ns, 1000);
	poll_begin(m, 2500, 11, 1);
	poll_end(m, 3000, 11, 1, 1);
	CHECK_EQ(t->polls, 1);
	CHECK_EQ(t->busy_ns, 500);
	CHECK_EQ(t->sched_ns, 500);
	task_drop(m, 3100, 11, 1, TS_OUTCOME_OK);
	CHECK_EQ(t->state, TS_TASK_DONE);
	CHECK_EQ(t->outcome, TS_OUTCOME_OK);
	CHECK_EQ(n_tasks(m), 1);
	ts_model_stats(m, &st);
	CHECK_EQ(st.tasks_created_implicitly, 0);
	CHECK_EQ(st.reused_ids, 0);
	ts_model_free(m);
}

/* An idle task without a waker is a lost waker, snapshot or not. */
static void test_snapshot_lost_waker(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_task *t;

	snap(m, 1000, 2, "forgotten", "x.c:2", TS_KIND_TASK, TS_TASK_IDLE, false);
	snap(m, 1000, 3, "waiting", "x.c:3", TS_KIND_TASK, TS_TASK_IDLE, true);
	t = find(m, 2);
	CHECK(t && !t->wakers_unknown && t->wakers == 0);
	ts_model_tick(m, 1000 + 500 * MS);
	CHECK_EQ(rec_count(&R, TS_WARN_LOST_WAKER, 2), 1);
	CHECK_EQ(rec_count(&R, TS_WARN_LOST_WAKER, 3), 0);
	ts_model_free(m);
}

/* A task known from its spawn keeps what the spawn said. */
static void test_spawn_then_snapshot(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_task *t;

	spawn(m, 1000, 10, 4, "real");
	poll_begin(m, 1200, 11, 4);
	poll_end(m, 1300, 11, 4, 0);
	waker_clone(m, 1250, 11, 4);
	snap(m, 2000, 4, "other", "other.c:9", TS_KIND_BLOCKING, TS_TASK_RUNNING, false);
	t = find(m, 4);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(strcmp(t->name, "real") == 0 && strcmp(t->location, "test.c:1") == 0);
	CHECK_EQ(t->kind, TS_KIND_TASK);
	CHECK_EQ(t->state, TS_TASK_IDLE);
	CHECK_EQ(t->spawned_ns, 1000);
	CHECK_EQ(t->polls, 1);
	CHECK_EQ(t->wakers, 1);
	CHECK_EQ(n_tasks(m), 1);

	/* Only what is missing gets filled in. */
	ev_full(m, TS_EV_SPAWN, 3000, 10, 5, 0, TS_KIND_TASK, 0, NULL, NULL);
	snap(m, 3100, 5, "named-late", "late.c:5", TS_KIND_LOCAL, TS_TASK_IDLE, false);
	t = find(m, 5);
	CHECK(t && strcmp(t->name, "named-late") == 0 && strcmp(t->location, "late.c:5") == 0);
	CHECK(t && t->kind == TS_KIND_TASK && t->state == TS_TASK_SCHEDULED);
	CHECK_EQ(n_tasks(m), 2);
	ts_model_free(m);
}

/* Events since the attach created the task; the snapshot names it. */
static void test_events_then_snapshot(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_model_stats st;
	struct ts_task *t;

	poll_begin(m, 1000, 11, 6);
	snap(m, 1100, 6, "busy", "b.c:6", TS_KIND_LOCAL, TS_TASK_RUNNING, true);
	t = find(m, 6);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(strcmp(t->name, "busy") == 0 && t->kind == TS_KIND_LOCAL);
	CHECK_EQ(t->state, TS_TASK_RUNNING);
	CHECK_EQ(t->poll_tid, 11);
	CHECK(t->wakers_unknown);
	poll_end(m, 1500, 11, 6, 0);
	CHECK_EQ(t->polls, 1);
	CHECK_EQ(t->busy_ns, 500);
	ts_model_stats(m, &st);
	CHECK_EQ(st.lost_poll_ends, 0);
	CHECK_EQ(n_tasks(m), 1);
	ts_model_free(m);
}

/* The runtime reported the spawn while its snapshot ran: one task. */
static void test_snapshot_then_spawn(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_model_stats st;
	struct ts_task *t;

	snap(m, 1000, 7, "fresh", "f.c:7", TS_KIND_TASK, TS_TASK_SCHEDULED, false);
	spawn(m, 900, 10, 7, "fresh");        /* older: drained in a later batch */
	snap(m, 1000, 8, "newer", "n.c:8", TS_KIND_TASK, TS_TASK_SCHEDULED, false);
	spawn(m, 1050, 10, 8, "newer");       /* newer: the spawn report came after the walk */
	t = find(m, 7);
	CHECK(t && t->spawned_ns == 900 && !t->snapshot && !t->implicit);
	CHECK(t && t->state == TS_TASK_SCHEDULED && t->polls == 0);
	t = find(m, 8);
	CHECK(t && t->spawned_ns == 1000 && !t->snapshot);
	CHECK_EQ(n_tasks(m), 2);
	ts_model_stats(m, &st);
	CHECK_EQ(st.reused_ids, 0);

	/* After it, a spawn of the same id is a new life again. */
	task_drop(m, 2000, 10, 8, TS_OUTCOME_OK);
	spawn(m, 3000, 10, 8, "again");
	ts_model_stats(m, &st);
	CHECK_EQ(st.reused_ids, 1);
	ts_model_free(m);
}

/* Running at the snapshot, thread unknown: its poll's end, or a new poll. */
static void test_snapshot_running(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_model_stats st;
	struct ts_task *t;

	snap(m, 1000, 9, "spinner", "s.c:9", TS_KIND_TASK, TS_TASK_RUNNING, false);
	t = find(m, 9);
	CHECK(t && t->state == TS_TASK_RUNNING && t->poll_tid == 0);
	poll_end(m, 1400, 12, 9, 0);
	CHECK(t && t->polls == 1 && t->busy_ns == 400 && t->state == TS_TASK_IDLE);
	CHECK_EQ(R.n_polls, 1);
	CHECK_EQ(R.polls[0].tid, 12);
	CHECK_EQ(R.polls[0].start_ns, 1000);

	/* The poll the snapshot saw ended before the snapshot was taken:
	 * the next thing we hear is a new poll. Counted once. */
	snap(m, 2000, 10, "racer", "r.c:10", TS_KIND_TASK, TS_TASK_RUNNING, false);
	poll_begin(m, 2300, 13, 10);
	poll_end(m, 2600, 13, 10, 1);
	t = find(m, 10);
	CHECK(t && t->polls == 1 && t->busy_ns == 600);
	ts_model_stats(m, &st);
	CHECK_EQ(st.lost_poll_ends, 0);
	CHECK_EQ(st.unmatched_poll_ends, 0);
	ts_model_free(m);
}

/* The same snapshot twice and nonsense values. */
static void test_duplicates_and_bad_values(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_model_stats st;
	struct ts_task *t;

	snap(m, 1000, 11, "once", "o.c:1", TS_KIND_TASK, TS_TASK_IDLE, true);
	snap(m, 1001, 11, "twice", "o.c:2", TS_KIND_BLOCKING, TS_TASK_RUNNING, false);
	t = find(m, 11);
	CHECK(t && strcmp(t->name, "once") == 0 && t->state == TS_TASK_IDLE && t->kind == TS_KIND_TASK);
	CHECK(t && t->wakers_unknown);
	CHECK_EQ(n_tasks(m), 1);

	snap(m, 1100, 12, "odd", "o.c:3", 9, 7, false);
	t = find(m, 12);
	CHECK(t && t->kind == TS_KIND_TASK && t->state == TS_TASK_SCHEDULED);
	ts_model_stats(m, &st);
	CHECK_EQ(st.bad_values, 2);
	ts_model_free(m);
}

int main(void)
{
	test_snapshot_then_events();
	test_snapshot_lost_waker();
	test_spawn_then_snapshot();
	test_events_then_snapshot();
	test_snapshot_then_spawn();
	test_snapshot_running();
	test_duplicates_and_bad_values();
	return test_result("test-model-snapshot");
}
