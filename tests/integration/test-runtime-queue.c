/*
 * test-runtime-queue.c: a task in a minirt run queue stays valid and
 * linked once, whoever drops its other references meanwhile.
 *
 * An ASan report against the demo showed queue_pop() reading a task that
 * the timer thread had just freed (its wake by value dropped the last
 * reference): the task was still linked in a run queue. Two parts:
 *
 * - requeue (white-box, includes the runtime's internal.h): a wake reaches
 *   a task that is still linked in a run queue while its state word says
 *   idle. The state word is forced here: no public call sequence was found
 *   that gets there, but short of a reference dropped twice it is the one
 *   way the old code could free a task that a queue still linked (a second
 *   link of the same task; the runtime's own reference otherwise lasts
 *   until a worker has popped and finished it). Before the run queue held its own reference and refused
 *   a second link, the queue then pointed at itself through the task, the
 *   worker ran it, freed it and popped it again: ASan's heap-use-after-free
 *   in queue_pop, as in the report. Now the task runs once and is dropped
 *   once, from the global and from a worker-local queue.
 * - stress (black-box): the paths the report pointed at, hammered: tasks
 *   woken by the timer thread that finish at once (ok or panic) while
 *   their join handles are released by a joining task, cancels racing
 *   with timer wakes, self-wakes re-queued after the poll, pinned tasks,
 *   and shutdown with tasks asleep or queued. Every task must be dropped
 *   exactly once with a consistent outcome and every waker returned, with
 *   ASan watching each queue operation.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "minirt.h"
#include "tests/check.h"

#define US (1000ull)
#define MS (1000000ull)

static void sleep_us(unsigned us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000L };
	nanosleep(&ts, NULL);
}

/* Wait until *v reaches want (a generous bound, not a speed check). */
static int wait_at_least(atomic_int *v, int want)
{
	for (int i = 0; i < 20000; i++) {
		if (atomic_load(v) >= want)
			return 0;
		sleep_us(1000);
	}
	return -ETIMEDOUT;
}

/* ---- requeue: a wake that finds the task still queued ------------------- */

/* Holds the runtime's only worker until the test opens the gate, so what
 * is spawned meanwhile stays in a run queue. */
struct gate {
	atomic_int entered, open;
};

static int gate_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct gate *g = minirt_task_data(task);
	(void)cx;
	atomic_store(&g->entered, 1);
	while (!atomic_load(&g->open))
		sleep_us(500);
	return MINIRT_READY;
}

struct once {
	atomic_int polls, drops;
};

static int once_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct once *o = minirt_task_data(task);
	(void)cx;
	atomic_fetch_add(&o->polls, 1);
	return MINIRT_READY;
}

static void once_drop(void *data)
{
	struct once *o = data;
	atomic_fetch_add(&o->drops, 1);
}

static void test_requeue(int pin)
{
	struct minirt *rt;
	struct minirt_task *h;
	struct gate g = { 0 };
	struct once o = { 0 };

	CHECK_EQ(minirt_new(1, &rt), 0);
	CHECK_EQ(minirt_spawn(rt, "gate", gate_poll, &g, NULL, NULL), 0);
	CHECK_EQ(wait_at_least(&g.entered, 1), 0);

	/* Queued behind the gate (pin 0: in the worker's own queue). */
	CHECK_EQ(minirt_spawn_local(rt, pin, "queued", once_poll, &o, once_drop, &h), 0);
	CHECK_EQ(atomic_load(&h->state), MINIRT_T_SCHEDULED);
	/* A wake arrives while it is linked, with the state word saying idle:
	 * it must not be linked a second time. */
	atomic_store(&h->state, MINIRT_T_IDLE);
	struct minirt_waker w = { h };
	minirt_waker_wake_by_ref(&w);
	CHECK_EQ(atomic_load(&h->state), MINIRT_T_SCHEDULED);
	/* From here only the runtime (and its queue) hold the task: it is
	 * freed right after it finishes. */
	minirt_task_release(h);

	atomic_store(&g.open, 1);
	CHECK_EQ(wait_at_least(&o.drops, 1), 0);
	minirt_free(rt); /* the worker pops whatever is left before it exits */
	CHECK_EQ(atomic_load(&o.polls), 1);
	CHECK_EQ(atomic_load(&o.drops), 1);
}

/* ---- stress: finishes, joins, cancels and shutdown around timer wakes ---- */

enum { MODE_OK = 0, MODE_PANIC = 1, MODE_FOREVER = 2 };

struct racer {
	struct minirt_timer timer;
	uint64_t deadline;
	int rounds, limit, mode;
	atomic_int *drops;
};

static int racer_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct racer *r = minirt_task_data(task);

	for (;;) {
		if (r->mode == MODE_FOREVER)
			r->deadline = minirt_now_ns() + 3600 * 1000 * MS;
		else if (r->rounds % 4 == 3) {
			r->rounds++;
			return minirt_yield(cx); /* re-queued after this poll */
		}
		if (minirt_sleep_until(&r->timer, cx, r->deadline) == MINIRT_PENDING)
			return MINIRT_PENDING;
		if (++r->rounds >= r->limit) {
			if (r->mode == MODE_PANIC)
				minirt_panic(cx, "racer");
			return MINIRT_READY;
		}
		/* due at once or within a few tens of microseconds: the timer
		 * thread wakes it while workers are busy with its neighbours */
		r->deadline = minirt_now_ns() + (uint64_t)(r->rounds % 3) * 20 * US;
	}
}

static void racer_drop(void *data)
{
	struct racer *r = data;
	minirt_timer_fini(&r->timer);
	atomic_fetch_add(r->drops, 1);
	free(r);
}

static int spawn_racer(struct minirt *rt, int pin, int mode, int limit, atomic_int *drops,
		       struct minirt_task **h)
{
	struct racer *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	minirt_timer_init(rt, &r->timer, "racer-sleep");
	r->mode = mode;
	r->limit = limit;
	r->drops = drops;
	r->deadline = minirt_now_ns() + (uint64_t)(limit % 3) * 10 * US;
	rc = minirt_spawn_local(rt, pin, "racer", racer_poll, r, racer_drop, h);
	if (rc < 0)
		racer_drop(r); /* counts it: the caller counts spawn failures too */
	return rc;
}

/* Spawns its children, joins each and releases its handle at once, so the
 * timer thread's wake is often the last reference to a child. */
enum { CHILDREN = 24 };

struct joiner {
	struct minirt_task *child[CHILDREN];
	int mode[CHILDREN];
	int outcome[CHILDREN];
	int spawned, joined, bad;
	atomic_int *drops;
	atomic_int *done;
};

static int joiner_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct joiner *j = minirt_task_data(task);
	struct minirt *rt = minirt_cx_runtime(cx);

	for (; j->spawned < CHILDREN; j->spawned++) {
		int i = j->spawned;
		int pin = i % 5 == 0 ? (int)(i % minirt_workers(rt)) : -1;
		j->mode[i] = i % 3 == 0 ? MODE_PANIC : MODE_OK;
		if (spawn_racer(rt, pin, j->mode[i], 2 + i % 7, j->drops, &j->child[i]) < 0) {
			j->bad++;
			j->child[i] = NULL;
		}
	}
	for (; j->joined < CHILDREN; j->joined++) {
		int i = j->joined;
		if (!j->child[i])
			continue;
		if (minirt_join_poll(j->child[i], cx, &j->outcome[i]) == MINIRT_PENDING)
			return MINIRT_PENDING;
		if (minirt_task_wakers(j->child[i]) != 0)
			j->bad++;
		minirt_task_release(j->child[i]);
		j->child[i] = NULL;
	}
	atomic_fetch_add(j->done, 1);
	return MINIRT_READY;
}

static void test_stress(void)
{
	enum { JOINERS = 8, DIRECT = 96, FOREVER = 12, ROUNDS = 10 };

	for (int round = 0; round < ROUNDS; round++) {
		struct minirt *rt;
		struct joiner j[JOINERS];
		struct minirt_task *jh[JOINERS], *dh[DIRECT];
		atomic_int drops = 0, joiners_done = 0;
		int spawned = 0;

		CHECK_EQ(minirt_new(3, &rt), 0);
		memset(j, 0, sizeof(j));
		for (int k = 0; k < JOINERS; k++) {
			j[k].drops = &drops;
			j[k].done = &joiners_done;
			CHECK_EQ(minirt_spawn(rt, "joiner", joiner_poll, &j[k], NULL, &jh[k]), 0);
		}
		/* Direct children of this thread, cancelled at staggered moments
		 * while the timer thread keeps waking them. */
		for (int i = 0; i < DIRECT; i++) {
			int pin = i % 4 == 0 ? i % 3 : -1;
			CHECK_EQ(spawn_racer(rt, pin, i % 3 == 0 ? MODE_PANIC : MODE_OK, 4 + i % 9, &drops, &dh[i]), 0);
			spawned++;
		}
		for (int i = 0; i < DIRECT; i += 2) {
			minirt_task_cancel(dh[i]);
			if (i % 6 == 0)
				sleep_us(50);
		}
		for (int i = 0; i < DIRECT; i++) {
			int o = minirt_task_wait(dh[i]);
			int natural = i % 3 == 0 ? TASKSCOPE_OUTCOME_PANICKED : TASKSCOPE_OUTCOME_OK;
			if (i % 2 == 0)
				CHECK(o == TASKSCOPE_OUTCOME_CANCELLED || o == natural);
			else
				CHECK_EQ(o, natural);
			CHECK_EQ(minirt_task_wakers(dh[i]), 0);
			minirt_task_release(dh[i]);
		}
		CHECK_EQ(wait_at_least(&joiners_done, JOINERS), 0);
		for (int k = 0; k < JOINERS; k++) {
			CHECK_EQ(minirt_task_wait(jh[k]), TASKSCOPE_OUTCOME_OK);
			CHECK_EQ(j[k].bad, 0);
			for (int i = 0; i < CHILDREN; i++)
				CHECK_EQ(j[k].outcome[i], j[k].mode[i] == MODE_PANIC ? TASKSCOPE_OUTCOME_PANICKED
										      : TASKSCOPE_OUTCOME_OK);
			minirt_task_release(jh[k]);
			spawned += CHILDREN;
		}

		/* Shutdown with tasks asleep on timers, and others still going
		 * (woken, queued or running) when it starts. */
		for (int i = 0; i < FOREVER; i++) {
			CHECK_EQ(spawn_racer(rt, i % 3 == 0 ? i % 3 : -1, MODE_FOREVER, 1, &drops, NULL), 0);
			CHECK_EQ(spawn_racer(rt, -1, MODE_OK, 1000, &drops, NULL), 0);
			spawned += 2;
		}
		minirt_shutdown(rt);
		CHECK_EQ(minirt_live_tasks(rt), 0);
		CHECK_EQ(atomic_load(&drops), spawned);
		minirt_free(rt);
	}
}

int main(void)
{
	setvbuf(stderr, NULL, _IONBF, 0);
	test_requeue(-1);
	test_requeue(0);
	test_stress();
	return check_result("runtime-queue");
}
