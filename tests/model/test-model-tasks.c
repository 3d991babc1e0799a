/*
 * test-model-tasks.c: task life cycles through the model with exact
 * timestamps: states, busy/scheduled/idle time, polls, wakes, self-wakes,
 * waker counts, scheduling-delay histogram, poll spans, threads' polling
 * state, task_changed batching, out-of-order events, unknown ids, re-used
 * ids and lost events.
 */
#include "model-test.h"

static struct rec R;

static struct ts_task *find(struct ts_model *m, uint64_t id)
{
	return ts_model_find_task(m, PID, id);
}

static void test_lifecycle(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_thread *thr;
	struct ts_task *t;
	uint64_t total, busy, sched, idle;

	spawn(m, 1000, 10, 1, "alpha");
	t = find(m, 1);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(strcmp(t->name, "alpha") == 0);
	CHECK(strcmp(t->location, "test.c:1") == 0);
	CHECK_EQ(t->state, TS_TASK_SCHEDULED);
	CHECK_EQ(t->outcome, TS_OUTCOME_RUNNING);
	CHECK_EQ(t->spawned_ns, 1000);

	poll_begin(m, 1500, 11, 1);
	CHECK_EQ(t->state, TS_TASK_RUNNING);
	CHECK_EQ(t->sched_ns, 500);
	CHECK_EQ(t->sched_hist.count, 1);
	CHECK_EQ(t->sched_hist.max, 500);
	CHECK_EQ(t->poll_tid, 11);
	thr = ts_model_find_thread(m, PID, 11);
	CHECK(thr && thr->polling && thr->current_task == 1 && thr->poll_started_ns == 1500);

	waker_clone(m, 1600, 11, 1);
	CHECK_EQ(t->wakers, 1);
	CHECK_EQ(t->waker_clones, 1);

	poll_end(m, 2500, 11, 1, 0);
	CHECK_EQ(t->state, TS_TASK_IDLE);
	CHECK_EQ(t->state_since_ns, 2500);
	CHECK_EQ(t->busy_ns, 1000);
	CHECK_EQ(t->polls, 1);
	CHECK_EQ(t->max_poll_ns, 1000);
	CHECK_EQ(t->poll_hist.count, 1);
	CHECK_EQ(t->poll_tid, 0);
	CHECK(thr && !thr->polling && thr->current_task == 0 && thr->busy_ns == 1000 && thr->polls == 1);
	CHECK_EQ(R.n_polls, 1);
	CHECK_EQ(R.polls[0].pid, PID);
	CHECK_EQ(R.polls[0].tid, 11);
	CHECK_EQ(R.polls[0].task_id, 1);
	CHECK_EQ(R.polls[0].start_ns, 1500);
	CHECK_EQ(R.polls[0].end_ns, 2500);
	CHECK(R.polls[0].on_cpu_ns == -1);
	CHECK(!R.polls[0].ready);

	/* woken by value from another thread: consumes the waker */
	wake(m, 4500, 12, 1, 0);
	CHECK_EQ(t->state, TS_TASK_SCHEDULED);
	CHECK_EQ(t->wakes, 1);
	CHECK_EQ(t->self_wakes, 0);
	CHECK_EQ(t->wakers, 0);
	CHECK_EQ(t->idle_ns, 2000);
	CHECK_EQ(t->last_wake_ns, 4500);

	poll_begin(m, 5000, 12, 1);
	CHECK_EQ(t->sched_ns, 1000);
	CHECK_EQ(t->sched_hist.count, 2);
	CHECK_EQ(t->sched_hist.max, 500);
	/* wakes itself by reference while running: a self-wake, no waker consumed */
	wake(m, 5200, 12, 1, 1);
	CHECK_EQ(t->wakes, 2);
	CHECK_EQ(t->self_wakes, 1);
	CHECK_EQ(t->wakers, 0);
	CHECK_EQ(t->state, TS_TASK_RUNNING);
	poll_end(m, 6000, 12, 1, 0);
	CHECK_EQ(t->state, TS_TASK_SCHEDULED); /* woken during the poll */
	CHECK_EQ(t->state_since_ns, 6000);
	CHECK_EQ(t->busy_ns, 2000);
	CHECK_EQ(t->polls, 2);

	ts_task_times(t, 6500, &total, &busy, &sched, &idle);
	CHECK_EQ(total, 5500);
	CHECK_EQ(busy, 2000);
	CHECK_EQ(sched, 1500);
	CHECK_EQ(idle, 2000);
	/* an open RUNNING interval counts as busy */
	poll_begin(m, 7000, 11, 1);
	CHECK_EQ(t->sched_hist.count, 3);
	CHECK_EQ(t->sched_hist.max, 1000);
	ts_task_times(t, 7300, &total, &busy, &sched, &idle);
	CHECK_EQ(busy, 2300);
	CHECK_EQ(sched, 2000);
	CHECK_EQ(total, busy + sched + idle);
	poll_end(m, 7400, 11, 1, 1);
	CHECK_EQ(t->state, TS_TASK_IDLE); /* ready: waits for its drop */
	CHECK_EQ(R.n_polls, 3);
	CHECK(R.polls[2].ready);
	CHECK_EQ(R.polls[2].start_ns, 7000);
	CHECK_EQ(R.polls[2].end_ns, 7400);
	/* a wake after ready does not reschedule a finished future */
	wake(m, 7600, 12, 1, 1);
	CHECK_EQ(t->state, TS_TASK_IDLE);

	task_drop(m, 8000, 10, 1, TS_OUTCOME_OK);
	CHECK_EQ(t->state, TS_TASK_DONE);
	CHECK_EQ(t->outcome, TS_OUTCOME_OK);
	CHECK_EQ(t->dropped_ns, 8000);
	ts_task_times(t, 99999, &total, &busy, &sched, &idle);
	CHECK_EQ(total, 7000);
	CHECK_EQ(busy, 2400);
	CHECK_EQ(sched, 2000);
	CHECK_EQ(idle, 2600);
	CHECK_EQ(t->poll_hist.count, 3);
	CHECK_EQ(t->poll_hist.max, 1000);
	CHECK_EQ(R.n_warnings, 0);

	/* task_changed: once per tick for a changed task, not again when idle */
	ts_model_tick(m, 9000);
	CHECK_EQ(R.n_task_changed, 1);
	CHECK_EQ(R.last_task_changed, 1);
	CHECK_EQ(R.last_task.state, TS_TASK_DONE);
	ts_model_tick(m, 9001);
	CHECK_EQ(R.n_task_changed, 1);
	ts_model_flush(m);
	CHECK_EQ(R.n_task_changed, 2);
	CHECK_EQ(ts_model_events(m), 12);
	CHECK(strcmp(ts_task_state_name(TS_TASK_SCHEDULED), "scheduled") == 0);
	ts_model_free(m);
}

static void test_threads(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_thread *thr;
	size_t n;

	ev_full(m, TS_EV_THREAD, 100, 20, 0, 0, TS_ROLE_WORKER, 0, "worker-0", NULL);
	CHECK_EQ(R.n_thread_changed, 2); /* created, then named */
	thr = ts_model_find_thread(m, PID, 20);
	CHECK(thr && strcmp(thr->name, "worker-0") == 0 && thr->role == TS_ROLE_WORKER);
	ev_full(m, TS_EV_THREAD, 200, 20, 0, 0, TS_ROLE_WORKER, 0, "worker-0", NULL);
	CHECK_EQ(R.n_thread_changed, 2); /* nothing changed */
	ev_full(m, TS_EV_THREAD, 300, 20, 0, 0, TS_ROLE_WORKER, 0, "worker-renamed", NULL);
	CHECK_EQ(R.n_thread_changed, 3);
	/* any event creates its thread, unnamed, role other */
	spawn(m, 400, 21, 1, "x");
	thr = ts_model_find_thread(m, PID, 21);
	CHECK(thr && strcmp(thr->name, "") == 0 && thr->role == TS_ROLE_OTHER);
	CHECK_EQ(R.n_thread_changed, 4);
	ts_model_threads(m, &n);
	CHECK_EQ(n, 2);
	/* bad role from the target: counted, replaced */
	ev_full(m, TS_EV_THREAD, 500, 22, 0, 0, 77, 0, "odd", NULL);
	thr = ts_model_find_thread(m, PID, 22);
	CHECK(thr && thr->role == TS_ROLE_OTHER);
	{
		struct ts_model_stats st;

		ts_model_stats(m, &st);
		CHECK_EQ(st.bad_values, 1);
	}
	ts_model_free(m);
}

static void test_out_of_order(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_model_stats st;
	struct ts_task *t;

	/* a wake during a poll that reaches us after the poll's end */
	spawn(m, 1000, 10, 2, "ooo");
	waker_clone(m, 1000, 10, 2);
	poll_begin(m, 2000, 11, 2);
	poll_end(m, 3000, 11, 2, 0);
	wake(m, 2500, 12, 2, 0);
	t = find(m, 2);
	CHECK(t && t->state == TS_TASK_SCHEDULED && t->state_since_ns == 3000);
	CHECK(t && t->idle_ns == 0);
	poll_begin(m, 4000, 11, 2);
	CHECK(t && t->sched_ns == 2000);

	/* a poll end stamped before its start: 0, not 2^64 - 100 */
	poll_end(m, 3900, 11, 2, 0);
	CHECK(t && t->busy_ns == 1000 && t->polls == 2 && t->max_poll_ns == 1000);
	CHECK(t && t->state == TS_TASK_IDLE && t->state_since_ns == 4000);

	/* the wake a poll consumed, reported after the poll began ... */
	waker_clone(m, 4500, 11, 2);
	poll_begin(m, 5100, 11, 2);
	wake(m, 5000, 12, 2, 0);
	poll_end(m, 5500, 11, 2, 0);
	CHECK(t && t->state == TS_TASK_IDLE);
	/* ... or only after it ended: neither reschedules it */
	waker_clone(m, 5600, 11, 2);
	poll_begin(m, 6100, 11, 2);
	poll_end(m, 6500, 11, 2, 0);
	wake(m, 6000, 12, 2, 0);
	CHECK(t && t->state == TS_TASK_IDLE && t->idle_ns == 1100 + 600);
	CHECK(t && t->wakes == 3 && t->wakers == 0);

	/* a poll that overtook its spawn */
	poll_begin(m, 2000, 13, 3);
	t = find(m, 3);
	CHECK(t && t->implicit && t->wakers_unknown && strcmp(t->name, "") == 0);
	spawn(m, 1900, 10, 3, "late-spawn");
	CHECK(t && !t->implicit && !t->wakers_unknown && strcmp(t->name, "late-spawn") == 0);
	CHECK(t && t->spawned_ns == 1900 && t->state == TS_TASK_RUNNING);
	CHECK(t && t->sched_ns == 100); /* spawn to the poll we saw first */
	CHECK_EQ(ts_model_find_task(m, PID, 3), t);

	/* a whole short life drained before its spawn: the spawn still names
	 * that task (it is older than its first event), not a new one */
	poll_begin(m, 7000, 13, 4);
	poll_end(m, 7100, 13, 4, 1);
	task_drop(m, 7200, 13, 4, TS_OUTCOME_OK);
	t = find(m, 4);
	CHECK(t && t->implicit && t->state == TS_TASK_DONE);
	uint64_t life = t ? t->life : 0;
	spawn(m, 6900, 10, 4, "short-life");
	CHECK(find(m, 4) == t);
	CHECK(t && strcmp(t->name, "short-life") == 0 && t->life == life);
	CHECK(t && t->spawned_ns == 6900 && t->polls == 1 && t->outcome == TS_OUTCOME_OK);
	/* a spawn newer than a done task's life is a re-used id */
	spawn(m, 8000, 10, 4, "next-life");
	CHECK(find(m, 4) != t && strcmp(find(m, 4)->name, "next-life") == 0 && find(m, 4)->life != life);

	ts_model_stats(m, &st);
	CHECK(st.late_events >= 2);
	CHECK_EQ(st.tasks_created_implicitly, 2);
	ts_model_free(m);
}

static void test_unknown_and_lost(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_model_stats st;
	struct ts_task *t;
	size_t n;

	/* a poll end with nothing to end creates nothing */
	poll_end(m, 100, 10, 99, 1);
	CHECK(find(m, 99) == NULL);
	/* waker traffic for a task never seen: kept, count marked unknown */
	waker_drop(m, 200, 10, 50);
	t = find(m, 50);
	CHECK(t && t->wakers == -1 && t->wakers_unknown && t->waker_drops == 1);
	/* a drop for an unknown task records a done task */
	task_drop(m, 300, 10, 77, TS_OUTCOME_CANCELLED);
	t = find(m, 77);
	CHECK(t && t->state == TS_TASK_DONE && t->outcome == TS_OUTCOME_CANCELLED);
	/* a duplicate drop and a poll of a done task are stale */
	task_drop(m, 400, 10, 77, TS_OUTCOME_OK);
	poll_begin(m, 500, 10, 77);
	CHECK(t && t->state == TS_TASK_DONE && t->outcome == TS_OUTCOME_CANCELLED && t->polls == 0);
	/* an unknown event type and an out-of-range outcome */
	ev_full(m, 999, 600, 10, 1, 0, 0, 0, NULL, NULL);
	spawn(m, 700, 10, 5, "odd-outcome");
	task_drop(m, 800, 10, 5, 42);
	CHECK(find(m, 5) && find(m, 5)->outcome == TS_OUTCOME_OK);

	/* a poll begin whose previous poll's end was lost */
	spawn(m, 1000, 10, 6, "lost-end");
	poll_begin(m, 1100, 11, 6);
	poll_begin(m, 1300, 12, 6);
	t = find(m, 6);
	CHECK(t && t->polls == 1 && t->busy_ns == 200 && t->state == TS_TASK_RUNNING);
	CHECK(t && t->poll_tid == 12);
	CHECK(!ts_model_find_thread(m, PID, 11)->polling);
	CHECK(ts_model_find_thread(m, PID, 12)->polling);
	poll_end(m, 1400, 12, 6, 0);
	CHECK(t && t->polls == 2 && t->busy_ns == 300);

	/* a drop in the middle of a poll (a panic) closes the poll */
	spawn(m, 2000, 10, 7, "dies-in-poll");
	poll_begin(m, 2100, 11, 7);
	n = R.n_polls;
	task_drop(m, 2600, 11, 7, TS_OUTCOME_PANICKED);
	t = find(m, 7);
	CHECK(t && t->state == TS_TASK_DONE && t->polls == 1 && t->busy_ns == 500);
	CHECK_EQ(R.n_polls, n + 1);
	CHECK(!R.polls[n].ready && R.polls[n].end_ns == 2600);
	CHECK(!ts_model_find_thread(m, PID, 11)->polling);
	/* its late poll end is stale */
	poll_end(m, 2700, 11, 7, 0);

	ts_model_stats(m, &st);
	CHECK_EQ(st.unmatched_poll_ends, 1);
	CHECK_EQ(st.lost_poll_ends, 1);
	CHECK_EQ(st.stale_events, 3);
	CHECK_EQ(st.unknown_types, 1);
	CHECK_EQ(st.bad_values, 1);
	CHECK_EQ(st.tasks_created_implicitly, 2);
	ts_model_free(m);
}

static void test_reused_id(void)
{
	struct ts_model_config cfg;
	struct ts_model *m;
	struct ts_model_stats st;
	struct ts_task *t, *old;
	size_t n;

	ts_model_config_default(&cfg);
	cfg.retention_ns = 1 * SEC;
	m = model_with(&R, &cfg);
	spawn(m, 1000, 10, 5, "first");
	poll_begin(m, 1100, 10, 5);
	poll_end(m, 1200, 10, 5, 1);
	task_drop(m, 2000, 10, 5, TS_OUTCOME_OK);
	old = find(m, 5);
	spawn(m, 3000, 10, 5, "second");
	t = find(m, 5);
	CHECK(t && t != old && strcmp(t->name, "second") == 0 && t->state == TS_TASK_SCHEDULED);
	CHECK(t && t->polls == 0 && t->spawned_ns == 3000);
	CHECK(old && old->state == TS_TASK_DONE && old->polls == 1);
	ts_model_tasks(m, &n);
	CHECK_EQ(n, 2);

	/* a spawn for a live id means its drop was lost: the old one ends */
	spawn(m, 4000, 10, 5, "third");
	CHECK(t && t->state == TS_TASK_DONE && t->dropped_ns == 4000 && t->sched_ns == 1000);
	CHECK(strcmp(find(m, 5)->name, "third") == 0);
	ts_model_stats(m, &st);
	CHECK_EQ(st.reused_ids, 2);

	/* the old ones leave after the retention, the live one stays */
	ts_model_tick(m, 2000 + 1 * SEC);
	ts_model_tasks(m, &n);
	CHECK_EQ(n, 2);
	ts_model_tick(m, 4000 + 1 * SEC);
	ts_model_tasks(m, &n);
	CHECK_EQ(n, 1);
	CHECK(strcmp(find(m, 5)->name, "third") == 0);
	ts_model_free(m);
}

/* Every poll yields exactly one span; many interleaved tasks on a few
 * threads keep the counts and thread state straight. */
static void test_many_polls(void)
{
	struct ts_model *m = model_with(&R, NULL);
	uint64_t polls = 0, busy = 0;
	size_t n;

	for (uint64_t id = 1; id <= 64; id++)
		spawn(m, id, 1, id, "many");
	for (uint64_t round = 0; round < 10; round++) {
		for (uint64_t id = 1; id <= 64; id++) {
			uint64_t ts = 1000 + round * 100000 + id * 1000;
			uint32_t tid = 2 + (uint32_t)(id % 4);

			poll_begin(m, ts, tid, id);
			wake(m, ts + 10, tid, id, 1);
			poll_end(m, ts + 100 + id, tid, id, round == 9);
		}
	}
	CHECK_EQ(R.n_polls, 640);
	for (uint64_t id = 1; id <= 64; id++) {
		struct ts_task *t = find(m, id);

		CHECK(t && t->polls == 10 && t->self_wakes == 10 && t->wakes == 10);
		CHECK(t && t->busy_ns == 10 * (100 + id) && t->max_poll_ns == 100 + id);
		if (t) {
			polls += t->polls;
			busy += t->busy_ns;
		}
	}
	CHECK_EQ(polls, 640);
	{
		struct ts_thread *const *th = ts_model_threads(m, &n);
		uint64_t tpolls = 0, tbusy = 0;

		for (size_t i = 0; i < n; i++) {
			CHECK(!th[i]->polling);
			tpolls += th[i]->polls;
			tbusy += th[i]->busy_ns;
		}
		CHECK_EQ(tpolls, 640);
		CHECK_EQ(tbusy, busy);
	}
	for (size_t i = 0; i < R.n_polls; i++)
		CHECK(R.polls[i].end_ns - R.polls[i].start_ns == 100 + R.polls[i].task_id);
	ts_model_free(m);
}

int main(void)
{
	test_lifecycle();
	test_threads();
	test_out_of_order();
	test_unknown_and_lost();
	test_reused_id();
	test_many_polls();
	return test_result("test-model-tasks");
}
