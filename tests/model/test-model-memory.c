/*
 * test-model-memory.c: what the model keeps and for how long. Done tasks
 * stay for the retention and are then forgotten (after a last
 * task_changed when they changed since the last tick), so after 100k
 * spawn/drop cycles the task count is back to the live ones; stray tasks
 * are forgotten unreported; processes, dropped-event reports and the ring
 * of recent warnings.
 */
#include "model-test.h"

static struct rec R;

static size_t n_tasks(struct ts_model *m)
{
	size_t n;

	ts_model_tasks(m, &n);
	return n;
}

static void churn(struct ts_model *m, uint64_t first_id, uint64_t start, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++) {
		uint64_t id = first_id + i, ts = start + i * 1000;

		spawn(m, ts, 2, id, "short");
		poll_begin(m, ts + 100, 3, id);
		poll_end(m, ts + 200, 3, id, 1);
		task_drop(m, ts + 300, 3, id, TS_OUTCOME_OK);
	}
}

static void test_retention(void)
{
	struct ts_model_config cfg;
	struct ts_model *m;
	struct ts_model_stats st;
	const uint64_t N = 100000;
	size_t changed;

	ts_model_config_default(&cfg);
	cfg.retention_ns = 1 * SEC;
	m = model_with(&R, &cfg);
	for (uint64_t id = 1; id <= 100; id++) {
		spawn(m, 0, 2, id, "live");
		poll_begin(m, 10, 3, id);
		waker_clone(m, 20, 3, id);
		poll_end(m, 30, 3, id, 0);
	}
	churn(m, 1000, 1 * MS, N);
	CHECK_EQ(n_tasks(m), 100 + N);
	ts_model_tick(m, 200 * MS);
	CHECK_EQ(R.n_task_changed, 100 + N);
	CHECK_EQ(n_tasks(m), 100 + N); /* retained, not yet forgotten */
	CHECK(ts_model_find_task(m, PID, 1000 + N - 1) != NULL);

	/* past the retention of the last one: only the live ones remain */
	changed = R.n_task_changed;
	ts_model_tick(m, 200 * MS + 1 * SEC);
	CHECK_EQ(n_tasks(m), 100);
	CHECK_EQ(R.n_task_changed, changed); /* nothing changed since the last tick */
	for (uint64_t id = 1; id <= 100; id++)
		CHECK(ts_model_find_task(m, PID, id) != NULL);
	CHECK(ts_model_find_task(m, PID, 1000) == NULL);
	CHECK(ts_model_find_task(m, PID, 1000 + N - 1) == NULL);
	ts_model_stats(m, &st);
	CHECK_EQ(st.tasks_evicted, N);

	/* again: memory is re-used, the count comes back down again */
	churn(m, 1000 + N, 2 * SEC, N);
	CHECK_EQ(n_tasks(m), 100 + N);
	ts_model_tick(m, 2 * SEC + 100 * MS + 1 * SEC);
	CHECK_EQ(n_tasks(m), 100);
	{
		struct ts_task *const *tasks = ts_model_tasks(m, &changed);

		/* the dense array stays consistent with each task's index */
		for (size_t i = 0; i < changed; i++)
			CHECK_EQ(tasks[i]->index, i);
	}

	/* a done task that changed since the last tick is reported before it goes */
	spawn(m, 5 * SEC, 2, 777777, "quick");
	task_drop(m, 5 * SEC + 1, 2, 777777, TS_OUTCOME_CANCELLED);
	changed = R.n_task_changed;
	ts_model_tick(m, 7 * SEC);
	CHECK_EQ(R.n_task_changed, changed + 1);
	CHECK_EQ(R.last_task_changed, 777777);
	CHECK_EQ(R.last_task.outcome, TS_OUTCOME_CANCELLED);
	CHECK(ts_model_find_task(m, PID, 777777) == NULL);
	ts_model_free(m);
}

static void test_strays(void)
{
	struct ts_model_config cfg;
	struct ts_model *m;
	struct ts_model_stats st;

	ts_model_config_default(&cfg);
	cfg.retention_ns = 1 * SEC;
	m = model_with(&R, &cfg);
	/* a waker dropped for a task already forgotten */
	waker_drop(m, 10 * MS, 2, 5000);
	/* a task we attached to mid-flight, really running */
	poll_begin(m, 10 * MS, 3, 6000);
	poll_end(m, 11 * MS, 3, 6000, 0);
	CHECK_EQ(n_tasks(m), 2);
	ts_model_tick(m, 20 * MS);
	CHECK_EQ(R.n_task_changed, 1); /* only the one that was polled */
	CHECK_EQ(R.last_task_changed, 6000);
	ts_model_tick(m, 10 * MS + 1 * SEC);
	CHECK(ts_model_find_task(m, PID, 5000) == NULL);
	CHECK(ts_model_find_task(m, PID, 6000) != NULL); /* polled: a real task */
	CHECK_EQ(R.n_task_changed, 1);
	ts_model_stats(m, &st);
	CHECK_EQ(st.ghosts_evicted, 1);
	/* the attached task's waker count proves nothing: no lost_waker */
	CHECK_EQ(rec_count(&R, TS_WARN_LOST_WAKER, 0), 0);
	ts_model_free(m);
}

static void test_processes_and_drops(void)
{
	struct ts_model *m = model_with(&R, NULL);
	const struct ts_process *p;
	const struct ts_warning *w;
	struct ts_event ev = { .ts = 100, .pid = PID + 1, .tid = 9, .type = TS_EV_DROPPED, .arg = 7 };
	size_t n;

	CHECK(ts_model_process_add(m, PID, "/usr/bin/demo", "minirt", "shim", 42) == 0);
	ev_full(m, TS_EV_DROPPED, 100, 10, 0, 0, 0, 5, NULL, NULL);
	ts_model_apply(m, &ev);        /* a second, unregistered process */
	p = ts_model_processes(m, &n);
	CHECK_EQ(n, 2);
	CHECK(strcmp(p[0].exe, "/usr/bin/demo") == 0 && strcmp(p[0].runtime, "minirt") == 0);
	CHECK(strcmp(p[0].source, "shim") == 0 && p[0].started_ns == 42);
	CHECK(p[1].pid == PID + 1 && strcmp(p[1].exe, "") == 0);
	CHECK_EQ(p[0].dropped, 5);
	CHECK_EQ(p[0].events, 1);
	CHECK_EQ(ts_model_dropped(m), 12);

	ts_model_tick(m, 1000);
	CHECK_EQ(rec_count(&R, TS_WARN_EVENTS_DROPPED, 0), 2);
	w = &R.warnings[0];
	CHECK(strcmp(w->detail, "5 events dropped by the target's rings (total 5)") == 0);
	CHECK(w->pid == PID && w->ts_ns == 1000 && w->task_id == 0);
	ts_model_tick(m, 2000);
	CHECK_EQ(rec_count(&R, TS_WARN_EVENTS_DROPPED, 0), 2); /* no news, no warning */
	ev_full(m, TS_EV_DROPPED, 2500, 10, 0, 0, 0, 3, NULL, NULL);
	ev_full(m, TS_EV_DROPPED, 2600, 11, 0, 0, 0, 1, NULL, NULL);
	ts_model_tick(m, 3000);
	CHECK_EQ(rec_count(&R, TS_WARN_EVENTS_DROPPED, 0), 3); /* one per process per tick */
	w = rec_last(&R, TS_WARN_EVENTS_DROPPED);
	CHECK(w && strcmp(w->detail, "4 events dropped by the target's rings (total 9)") == 0);
	CHECK_EQ(ts_model_warning_count(m, TS_WARN_EVENTS_DROPPED), 3);

	/* an exited process's threads poll nothing any more */
	spawn(m, 4000, 10, 1, "t");
	poll_begin(m, 4100, 10, 1);
	CHECK(ts_model_find_thread(m, PID, 10)->polling);
	ts_model_process_exited(m, PID, 5000);
	p = ts_model_processes(m, &n);
	CHECK(p[0].exited && !p[1].exited);
	CHECK(!ts_model_find_thread(m, PID, 10)->polling);
	ts_model_free(m);
}

static void test_recent_ring(void)
{
	struct ts_model *m = model_with(&R, NULL);
	const struct ts_warning *out[TS_MODEL_RECENT_WARNINGS + 10];
	size_t n;

	CHECK_EQ(ts_model_recent_warnings(m, out, 10), 0);
	for (uint64_t i = 1; i <= 300; i++) {
		ev_full(m, TS_EV_DROPPED, i * 10, 10, 0, 0, 0, i, NULL, NULL);
		ts_model_tick(m, i * 10 + 5);
	}
	CHECK_EQ(ts_model_warning_count(m, TS_WARN_EVENTS_DROPPED), 300);
	n = ts_model_recent_warnings(m, out, TS_MODEL_RECENT_WARNINGS + 10);
	CHECK_EQ(n, TS_MODEL_RECENT_WARNINGS);
	/* oldest first: the 45th to the 300th */
	CHECK_EQ(out[0]->ts_ns, (300 - TS_MODEL_RECENT_WARNINGS + 1) * 10 + 5);
	CHECK_EQ(out[n - 1]->ts_ns, 300 * 10 + 5);
	for (size_t i = 1; i < n; i++)
		CHECK(out[i]->ts_ns > out[i - 1]->ts_ns);
	n = ts_model_recent_warnings(m, out, 3);
	CHECK_EQ(n, 3);
	CHECK_EQ(out[0]->ts_ns, 298 * 10 + 5);
	CHECK_EQ(out[2]->ts_ns, 300 * 10 + 5);
	CHECK_EQ(ts_model_warning_count(m, TS_WARN_LONG_POLL), 0);
	CHECK_EQ(ts_model_warning_count(m, 9999), 0);
	ts_model_free(m);
}

/* A target inventing ids cannot make the model grow without bound. */
static void test_caps(void)
{
	struct ts_model_config cfg;
	struct ts_model *m;
	struct ts_model_stats st;

	ts_model_config_default(&cfg);
	CHECK_EQ(cfg.max_objects, 2000000);
	cfg.max_objects = 10;
	m = model_with(&R, &cfg);
	for (uint64_t id = 1; id <= 20; id++) {
		spawn(m, id, 2, id, "flood");
		lock_ev(m, TS_EV_LOCK_ACQUIRED, id, 2, 1000 + id, 0);
	}
	CHECK_EQ(n_tasks(m), 10);
	{
		size_t n;

		ts_model_resources(m, &n);
		CHECK_EQ(n, 10);
	}
	ts_model_stats(m, &st);
	CHECK_EQ(st.alloc_failures, 20);
	/* room again once done tasks are forgotten */
	for (uint64_t id = 1; id <= 10; id++)
		task_drop(m, 100, 2, id, TS_OUTCOME_OK);
	ts_model_tick(m, 100 + cfg.retention_ns);
	spawn(m, 200 + cfg.retention_ns, 2, 99, "after");
	CHECK(ts_model_find_task(m, PID, 99) != NULL);
	ts_model_free(m);

	/* a zeroed config gets the default cap, not a cap of 0 */
	memset(&cfg, 0, sizeof(cfg));
	m = model_with(&R, &cfg);
	spawn(m, 1, 2, 1, "one");
	CHECK(ts_model_find_task(m, PID, 1) != NULL);
	CHECK_EQ(ts_model_config(m)->max_objects, 2000000);
	ts_model_free(m);
}

int main(void)
{
	test_caps();
	test_retention();
	test_strays();
	test_processes_and_drops();
	test_recent_ring();
	return test_result("test-model-memory");
}
