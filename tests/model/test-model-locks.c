/*
 * test-model-locks.c: resources and locks through the model: holder and
 * holder thread, waiters in arrival order (beyond the public array too),
 * contention and wait/hold histograms, lock spans with the right fields,
 * async waits that span polls, shared holds, cancelled waiters, resource
 * drop and lock events for unknown resources.
 */
#include "model-test.h"

static struct rec R;

static void resource(struct ts_model *m, uint64_t ts, uint64_t id, const char *name, const char *loc,
		     uint32_t kind)
{
	ev_full(m, TS_EV_RESOURCE_NEW, ts, 10, id, 0, kind, 0, name, loc);
}

static struct ts_resource *res(struct ts_model *m, uint64_t id)
{
	return ts_model_find_resource(m, PID, id);
}

static void test_mutex_in_polls(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_resource *r;
	const struct ts_warning *w;

	resource(m, 100, 500, "db", "demo.c:88", TS_RES_MUTEX);
	spawn(m, 200, 10, 1, "holder");
	spawn(m, 200, 10, 2, "waiter");
	r = res(m, 500);
	CHECK(r && strcmp(r->name, "db") == 0 && strcmp(r->location, "demo.c:88") == 0);
	if (!r)
		return;

	poll_begin(m, 1000, 11, 1);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 1100, 11, 500, 0);
	CHECK_EQ(r->holder_task, 1);
	CHECK_EQ(r->holder_tid, 11);
	CHECK_EQ(r->holders, 1);
	CHECK_EQ(r->acquisitions, 1);
	CHECK_EQ(r->contentions, 0);
	CHECK_EQ(r->acquired_ns, 1100);

	poll_begin(m, 1200, 12, 2);
	lock_ev(m, TS_EV_LOCK_WAIT, 1300, 12, 500, 0);
	CHECK_EQ(r->waiters, 1);
	CHECK_EQ(r->waiting_tasks[0], 2);
	CHECK_EQ(r->waiting_tids[0], 12);
	CHECK_EQ(r->waiting_since[0], 1300);

	/* task 1 returns pending holding the lock it took in this poll */
	poll_end(m, 1500, 11, 1, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 1), 1);
	w = rec_last(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT);
	CHECK(w && w->pid == PID && w->tid == 11 && w->ts_ns == 1500 && w->duration_ns == 400);
	CHECK(w && strcmp(w->detail, "task 1 'holder' holds mutex 'db' (demo.c:88) across await; waiting: task 2 'waiter'") == 0);
	if (w)
		printf("detail: %s\n", w->detail);

	poll_begin(m, 2000, 11, 1);
	lock_ev(m, TS_EV_LOCK_RELEASE, 2100, 11, 500, 0);
	CHECK_EQ(R.n_locks, 1);
	CHECK_EQ(R.locks[0].pid, PID);
	CHECK_EQ(R.locks[0].tid, 11);
	CHECK_EQ(R.locks[0].lock_id, 500);
	CHECK(R.locks[0].lock_name && strcmp(R.locks[0].lock_name, "db") == 0);
	CHECK_EQ(R.locks[0].task_id, 1);
	CHECK_EQ(R.locks[0].wait_start_ns, 0);
	CHECK_EQ(R.locks[0].acquired_ns, 1100);
	CHECK_EQ(R.locks[0].released_ns, 2100);
	CHECK_EQ(r->holders, 0);
	CHECK_EQ(r->holder_task, 0);
	CHECK_EQ(r->holder_tid, 0);
	CHECK_EQ(r->hold_hist.count, 1);
	CHECK_EQ(r->max_hold_ns, 1000);

	/* the waiter gets it: contention, its wait measured */
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 2200, 12, 500, 0);
	CHECK_EQ(r->holder_task, 2);
	CHECK_EQ(r->waiters, 0);
	CHECK_EQ(r->waiting_tasks[0], 0);
	CHECK_EQ(r->contentions, 1);
	CHECK_EQ(r->acquisitions, 2);
	CHECK_EQ(r->wait_hist.count, 1);
	CHECK_EQ(r->wait_hist.max, 900);
	CHECK_EQ(r->wait_start_ns, 1300);
	poll_end(m, 2300, 11, 1, 0); /* task 1 holds nothing now */
	lock_ev(m, TS_EV_LOCK_RELEASE, 2400, 12, 500, 0);
	poll_end(m, 2500, 12, 2, 1);
	CHECK_EQ(R.n_locks, 2);
	CHECK_EQ(R.locks[1].task_id, 2);
	CHECK_EQ(R.locks[1].tid, 12);
	CHECK_EQ(R.locks[1].wait_start_ns, 1300);
	CHECK_EQ(R.locks[1].acquired_ns, 2200);
	CHECK_EQ(R.locks[1].released_ns, 2400);
	CHECK_EQ(r->max_hold_ns, 1000);
	CHECK_EQ(r->hold_hist.count, 2);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 0), 1);
	CHECK_EQ(rec_count(&R, TS_WARN_CONTENDED_LOCK, 0), 0); /* 900 ns is no contention worth a word */
	ts_model_free(m);
}

static void test_outside_poll_and_async(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_resource *r;

	/* a plain thread, no task */
	lock_ev(m, TS_EV_LOCK_WAIT, 100, 30, 600, 0);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 200, 30, 600, 0);
	r = res(m, 600);
	CHECK(r && r->holder_task == 0 && r->holder_tid == 30 && r->contentions == 1);
	lock_ev(m, TS_EV_LOCK_RELEASE, 300, 30, 600, 0);
	CHECK_EQ(R.n_locks, 1);
	CHECK_EQ(R.locks[0].task_id, 0);
	CHECK_EQ(R.locks[0].wait_start_ns, 100);
	CHECK_EQ(R.locks[0].released_ns, 300);

	/* an async wait: starts in one poll, acquired in a later poll on
	 * another thread; the wait is the task's */
	spawn(m, 900, 10, 3, "async");
	poll_begin(m, 1000, 11, 3);
	lock_ev(m, TS_EV_LOCK_WAIT, 1010, 11, 700, 0);
	poll_end(m, 1100, 11, 3, 0);
	r = res(m, 700);
	CHECK(r && r->waiters == 1 && r->waiting_tasks[0] == 3 && r->waiting_tids[0] == 11);
	poll_begin(m, 2000, 12, 3);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 2050, 12, 700, 0);
	CHECK(r && r->waiters == 0 && r->contentions == 1 && r->wait_start_ns == 1010);
	CHECK(r && r->holder_task == 3 && r->holder_tid == 12);
	CHECK(r && r->wait_hist.max == 1040);
	/* released in the same poll: no warning */
	lock_ev(m, TS_EV_LOCK_RELEASE, 2060, 12, 700, 0);
	poll_end(m, 2100, 12, 3, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 0), 0);

	/* a waiting task that is cancelled stops waiting */
	spawn(m, 3000, 10, 4, "cancelled-waiter");
	poll_begin(m, 3100, 11, 4);
	lock_ev(m, TS_EV_LOCK_WAIT, 3110, 11, 700, 0);
	poll_end(m, 3200, 11, 4, 0);
	CHECK(r && r->waiters == 1);
	task_drop(m, 3300, 10, 4, TS_OUTCOME_CANCELLED);
	CHECK(r && r->waiters == 0 && r->waiting_tasks[0] == 0);

	/* a wait inside a wait nests (a runtime's lock, the pthread mutex under it) */
	lock_ev(m, TS_EV_LOCK_WAIT, 4000, 31, 600, 0);
	lock_ev(m, TS_EV_LOCK_WAIT, 4100, 31, 700, 0);
	CHECK(res(m, 600)->waiters == 1 && r && r->waiters == 1 && r->waiting_tids[0] == 31);
	/* a repeated wait keeps the first start */
	lock_ev(m, TS_EV_LOCK_WAIT, 4200, 31, 700, 0);
	CHECK(r && r->waiters == 1 && r->waiting_since[0] == 4100);
	/* a third lock: the oldest wait's end was lost, it is given up */
	lock_ev(m, TS_EV_LOCK_WAIT, 4300, 31, 800, 0);
	CHECK(res(m, 600)->waiters == 0 && r && r->waiters == 1 && res(m, 800)->waiters == 1);
	ts_model_free(m);
}

static void test_shared_and_lifecycle(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_model_stats st;
	struct ts_resource *r;
	size_t n;

	resource(m, 10, 800, "cfg", "cfg.c:1", TS_RES_RWLOCK);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 100, 40, 800, TS_EVF_SHARED);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 150, 41, 800, TS_EVF_SHARED);
	r = res(m, 800);
	CHECK(r && r->kind == TS_RES_RWLOCK && r->holders == 2 && r->holder_tid == 40);
	CHECK(r && r->acquisitions == 2);
	lock_ev(m, TS_EV_LOCK_RELEASE, 200, 40, 800, 0);
	CHECK(r && r->holders == 1);
	CHECK_EQ(R.n_locks, 0);
	lock_ev(m, TS_EV_LOCK_RELEASE, 300, 41, 800, 0);
	CHECK(r && r->holders == 0);
	CHECK_EQ(R.n_locks, 1);
	CHECK_EQ(R.locks[0].acquired_ns, 100);
	CHECK_EQ(R.locks[0].released_ns, 300);

	/* a release of a lock nobody holds; one of a lock never seen */
	lock_ev(m, TS_EV_LOCK_RELEASE, 400, 40, 800, 0);
	lock_ev(m, TS_EV_LOCK_RELEASE, 400, 40, 900, 0);
	CHECK(res(m, 900) != NULL && res(m, 900)->holders == 0);
	/* a release stamped before its acquisition holds for 0, not 2^64 */
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 1000, 40, 800, 0);
	lock_ev(m, TS_EV_LOCK_RELEASE, 990, 40, 800, 0);
	CHECK(r && r->max_hold_ns == 200);
	CHECK_EQ(R.locks[R.n_locks - 1].released_ns, 1000);

	ts_model_resources(m, &n);
	CHECK_EQ(n, 2);
	ev_full(m, TS_EV_RESOURCE_DROP, 2000, 10, 800, 0, 0, 0, NULL, NULL);
	CHECK(res(m, 800) == NULL);
	CHECK(res(m, 900) != NULL);
	ts_model_resources(m, &n);
	CHECK_EQ(n, 1);
	ev_full(m, TS_EV_RESOURCE_DROP, 2100, 10, 800, 0, 0, 0, NULL, NULL);
	/* a bad kind is replaced */
	resource(m, 2200, 901, "odd", NULL, 1234);
	CHECK(res(m, 901) && res(m, 901)->kind == TS_RES_MUTEX && strcmp(res(m, 901)->location, "") == 0);

	ts_model_stats(m, &st);
	CHECK_EQ(st.unmatched_releases, 2);
	CHECK_EQ(st.stale_events, 1);
	CHECK_EQ(st.bad_values, 1);
	ts_model_free(m);
}

/* More waiters than the public array holds: order kept, every wait found. */
static void test_many_waiters(void)
{
	struct ts_model *m = model_with(&R, NULL);
	struct ts_resource *r;

	lock_ev(m, TS_EV_LOCK_ACQUIRED, 10, 100, 1000, 0);
	for (uint32_t i = 0; i < 20; i++)
		lock_ev(m, TS_EV_LOCK_WAIT, 100 + i, 200 + i, 1000, 0);
	r = res(m, 1000);
	CHECK(r && r->waiters == 20);
	for (uint32_t i = 0; r && i < TS_RESOURCE_WAITERS_MAX; i++) {
		CHECK_EQ(r->waiting_tids[i], 200 + i);
		CHECK_EQ(r->waiting_since[i], 100 + i);
		CHECK_EQ(r->waiting_tasks[i], 0);
	}
	/* the third waiter and then the fifteenth (not in the array) get it */
	lock_ev(m, TS_EV_LOCK_RELEASE, 1000, 100, 1000, 0);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 1001, 202, 1000, 0);
	CHECK(r && r->waiters == 19 && r->waiting_tids[2] == 203 && r->waiting_tids[7] == 208);
	CHECK(r && r->wait_start_ns == 102);
	lock_ev(m, TS_EV_LOCK_RELEASE, 1100, 202, 1000, 0);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 1101, 215, 1000, 0);
	CHECK(r && r->waiters == 18 && r->wait_start_ns == 115 && r->contentions == 2);
	CHECK(r && r->wait_hist.max == 1101 - 115);
	ts_model_free(m);
}

int main(void)
{
	test_mutex_in_polls();
	test_outside_poll_and_async();
	test_shared_and_lifecycle();
	test_many_waiters();
	return test_result("test-model-locks");
}
