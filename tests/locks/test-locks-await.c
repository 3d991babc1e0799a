/*
 * test-locks-await.c: lock_held_across_await as the lock sources feed it
 * (pthread holds seen by BPF, waits by other workers' tasks): the warning
 * names the holder task and every task waiting, comes once per hold, at
 * the first wait (live) or at the release when nobody waited, and its
 * duration is the hold so far, not the poll's length. A wait for a
 * runtime's lock and the pthread mutex under it nest instead of one
 * cancelling the other.
 */
#include "model-test.h"

static struct rec R;

#define LOCK 0x5000u

int main(void)
{
	struct ts_model *m = model_with(&R, NULL);
	const struct ts_warning *w;

	ev_full(m, TS_EV_RESOURCE_NEW, 0, 11, LOCK, 0, TS_RES_MUTEX, 0, "lock_holder_poll", "footguns.c:80");
	spawn(m, 0, 11, 1, "lock-holder");
	spawn(m, 0, 12, 2, "lock-waiter");
	spawn(m, 0, 13, 3, "reporter");

	/* hold 1: taken 100 us into a 1 ms poll that returns pending */
	poll_begin(m, 1 * MS, 11, 1);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 1 * MS + 100 * US, 11, LOCK, 0);
	poll_end(m, 2 * MS, 11, 1, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 0), 0);   /* nobody hurt yet */
	/* two tasks on other workers block on it */
	poll_begin(m, 10 * MS, 12, 2);
	lock_ev(m, TS_EV_LOCK_WAIT, 10 * MS, 12, LOCK, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 1), 1);
	w = rec_last(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT);
	CHECK(w && w->tid == 11 && w->ts_ns == 10 * MS);
	CHECK(w && w->duration_ns == 8 * MS + 900 * US);   /* the hold so far, not the 1 ms poll */
	CHECK(w && !strcmp(w->detail, "task 1 'lock-holder' holds mutex 'lock_holder_poll' (footguns.c:80) "
				      "across await; waiting: task 2 'lock-waiter'"));
	poll_begin(m, 11 * MS, 13, 3);
	lock_ev(m, TS_EV_LOCK_WAIT, 11 * MS, 13, LOCK, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 0), 1);   /* once per hold */
	/* the holder's next poll releases it; the waiters get it in turn */
	poll_begin(m, 50 * MS, 11, 1);
	lock_ev(m, TS_EV_LOCK_RELEASE, 50 * MS + 10 * US, 11, LOCK, 0);
	poll_end(m, 50 * MS + 20 * US, 11, 1, 0);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 50 * MS + 30 * US, 12, LOCK, 0);
	lock_ev(m, TS_EV_LOCK_RELEASE, 50 * MS + 40 * US, 12, LOCK, 0);
	poll_end(m, 50 * MS + 50 * US, 12, 2, 0);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 50 * MS + 60 * US, 13, LOCK, 0);
	lock_ev(m, TS_EV_LOCK_RELEASE, 50 * MS + 70 * US, 13, LOCK, 0);
	poll_end(m, 50 * MS + 80 * US, 13, 3, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 0), 1);   /* released in a poll: fine */
	CHECK_EQ(R.n_locks, 3);
	CHECK(R.n_locks == 3 && R.locks[0].task_id == 1 && R.locks[1].task_id == 2 && R.locks[2].task_id == 3);
	CHECK(R.n_locks == 3 && R.locks[1].wait_start_ns == 10 * MS && R.locks[2].wait_start_ns == 11 * MS);

	/* hold 2: across an await again, but nobody waits: reported at the release */
	poll_begin(m, 100 * MS, 11, 1);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 100 * MS, 11, LOCK, 0);
	poll_end(m, 101 * MS, 11, 1, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 0), 1);
	poll_begin(m, 130 * MS, 11, 1);
	lock_ev(m, TS_EV_LOCK_RELEASE, 130 * MS, 11, LOCK, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 0), 2);
	w = rec_last(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT);
	CHECK(w && w->duration_ns == 30 * MS && w->ts_ns == 130 * MS && w->task_id == 1);
	CHECK(w && strstr(w->detail, "task 1 'lock-holder' held mutex") && strstr(w->detail, "nobody waited"));

	/* hold 3: a waiter already there when the poll returns: reported at once */
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 131 * MS, 11, LOCK, 0);
	lock_ev(m, TS_EV_LOCK_WAIT, 132 * MS, 14, LOCK, 0);      /* a thread outside any poll */
	poll_end(m, 133 * MS, 11, 1, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 0), 3);
	w = rec_last(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT);
	CHECK(w && w->ts_ns == 133 * MS && w->duration_ns == 2 * MS && strstr(w->detail, "waiting: thread 14"));
	/* a fresh hold by someone else forgets the old report */
	lock_ev(m, TS_EV_LOCK_RELEASE, 134 * MS, 11, LOCK, 0);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 134 * MS, 14, LOCK, 0);
	lock_ev(m, TS_EV_LOCK_RELEASE, 135 * MS, 14, LOCK, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 0), 3);

	/* a runtime's lock (shim, id 0x6000) over the pthread mutex it blocks in
	 * (BPF, LOCK): both waits end in their acquisitions, both spans waited */
	ev_full(m, TS_EV_RESOURCE_NEW, 200 * MS, 12, 0x6000, 0, TS_RES_MUTEX, 0, "db-mutex", "workload.c:9");
	poll_begin(m, 200 * MS, 12, 2);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 200 * MS, 13, LOCK, 0);       /* thread 13 holds the mutex */
	lock_ev(m, TS_EV_LOCK_WAIT, 201 * MS, 12, 0x6000, 0);
	lock_ev(m, TS_EV_LOCK_WAIT, 201 * MS + 1 * US, 12, LOCK, 0);
	CHECK(ts_model_find_resource(m, PID, 0x6000)->waiters == 1);
	CHECK(ts_model_find_resource(m, PID, LOCK)->waiters == 1);
	lock_ev(m, TS_EV_LOCK_RELEASE, 205 * MS, 13, LOCK, 0);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 205 * MS + 10 * US, 12, LOCK, 0);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 205 * MS + 11 * US, 12, 0x6000, 0);
	lock_ev(m, TS_EV_LOCK_RELEASE, 206 * MS, 12, LOCK, 0);
	lock_ev(m, TS_EV_LOCK_RELEASE, 206 * MS + 1 * US, 12, 0x6000, 0);
	CHECK(R.n_locks >= 2);
	if (R.n_locks >= 2) {
		const struct ts_lock_span *a = &R.locks[R.n_locks - 2], *b = &R.locks[R.n_locks - 1];

		CHECK(a->lock_id == LOCK && a->task_id == 2 && a->wait_start_ns == 201 * MS + 1 * US);
		CHECK(b->lock_id == 0x6000 && b->task_id == 2 && b->wait_start_ns == 201 * MS);
	}
	ts_model_free(m);
	return test_result("test-locks-await");
}
