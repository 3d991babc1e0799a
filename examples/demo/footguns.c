/*
 * footguns.c: the demo's misbehaving tasks, one per mistake taskscope
 * should catch, each under the exact name the integration tests query.
 *
 *   blocking-sleeper  sleeps 200 ms in clock_nanosleep inside a poll (every 2 s)
 *   cpu-spinner       spins 150 ms on the CPU inside a poll (every 2.5 s)
 *   lock-holder       takes "db-mutex" and returns PENDING holding it for 50 ms
 *   lock-waiter       locks "db-mutex" every 30 ms, so it waits on the holder
 *   lost-waker        returns PENDING after dropping its only waker: idle forever
 *   self-waker        wakes itself by reference on every poll (20 yields, then a nap)
 *   panicker          (in workload.c) panics on its 4th poll, respawned every 3 s
 *
 * lock-holder and lock-waiter are pinned to workers 0 and 1: a pthread
 * mutex held across PENDING must be unlocked by the thread that locked it,
 * and the waiter must never block the one worker the holder needs to
 * release it.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

struct sleeper {
	struct demo *d;
	struct minirt_timer timer;
	uint64_t deadline;
	int phase;
};

static void blocking_sleep_work(struct demo *d)
{
	struct timespec left = { .tv_sec = 0, .tv_nsec = 200 * MS };

	/* The mistake: a blocking syscall on an async worker. */
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &left, &left) == EINTR)
		;
	atomic_fetch_add(&d->blocking_sleeps, 1);
}

static void spin_work(struct demo *d)
{
	uint64_t until = minirt_now_ns() + 150 * MS;
	volatile uint32_t sink = 0;

	/* The mistake: a long computation without yielding. */
	while (minirt_now_ns() < until)
		sink = demo_tiny_work(sink);
	atomic_fetch_add(&d->spins, 1);
}

static void sleeper_drop(void *data)
{
	struct sleeper *s = data;
	minirt_timer_fini(&s->timer);
	free(s);
}

static struct sleeper *sleeper_new(struct demo *d, uint64_t first_ns)
{
	struct sleeper *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->d = d;
	s->deadline = minirt_now_ns() + first_ns;
	minirt_timer_init(d->rt, &s->timer, "sleep");
	return s;
}

/* phase 0: waiting to take the mutex; phase 1: holding it, asleep. */
static int lock_holder_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct sleeper *s = minirt_task_data(task);

	for (;;) {
		if (minirt_sleep_until(&s->timer, cx, s->deadline) == MINIRT_PENDING)
			return MINIRT_PENDING; /* in phase 1: the mistake */
		if (s->phase == 0) {
			if (minirt_mutex_lock(&s->d->db) == 0) {
				s->phase = 1;
				atomic_fetch_add(&s->d->lock_holds, 1);
			}
			s->deadline = minirt_now_ns() + 50 * MS;
		} else {
			minirt_mutex_unlock(&s->d->db);
			s->phase = 0;
			s->deadline = minirt_now_ns() + 150 * MS;
		}
	}
}

/* Runs on the holder's worker (it is pinned), so the unlock is legal. */
static void lock_holder_drop(void *data)
{
	struct sleeper *s = data;
	if (s->phase == 1)
		minirt_mutex_unlock(&s->d->db);
	sleeper_drop(s);
}

static int lock_waiter_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct sleeper *s = minirt_task_data(task);

	while (minirt_sleep_until(&s->timer, cx, s->deadline) == MINIRT_READY) {
		/* Blocks this worker while lock-holder sits on the mutex. */
		if (minirt_mutex_lock(&s->d->db) == 0) {
			(void)demo_tiny_work((uint32_t)s->deadline);
			minirt_mutex_unlock(&s->d->db);
			atomic_fetch_add(&s->d->lock_waits, 1);
		}
		s->deadline = minirt_now_ns() + 30 * MS;
	}
	return MINIRT_PENDING;
}

/* One honest sleep, then PENDING with no waker left anywhere. */
static int lost_waker_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct sleeper *s = minirt_task_data(task);
	struct minirt_waker w;

	if (s->phase == 0) {
		if (minirt_sleep_until(&s->timer, cx, s->deadline) == MINIRT_PENDING)
			return MINIRT_PENDING;
		s->phase = 1;
	}
	/* The mistake: keep a waker "for later", then drop it by accident. */
	w = minirt_waker_clone(minirt_cx_waker(cx));
	minirt_waker_drop(&w);
	atomic_fetch_add(&s->d->lost_wakers, 1);
	return MINIRT_PENDING;
}

/* phase counts yields; at 20 it naps 200 ms on the timer. */
static int self_waker_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct sleeper *s = minirt_task_data(task);

	for (;;) {
		if (s->phase > 20) {
			if (minirt_sleep_until(&s->timer, cx, s->deadline) == MINIRT_PENDING)
				return MINIRT_PENDING;
			s->phase = 0;
		}
		if (s->phase < 20) {
			s->phase++;
			atomic_fetch_add(&s->d->self_wakes, 1);
			return minirt_yield(cx); /* the mistake, as a busy loop */
		}
		s->phase = 21;
		s->deadline = minirt_now_ns() + 200 * MS;
	}
}

static int spawn_sleeper(struct demo *d, struct taskscope_site *site, int pin, uint64_t first_ns,
			 minirt_poll_fn poll, minirt_drop_fn drop)
{
	struct sleeper *s = sleeper_new(d, first_ns);
	int r;

	if (!s)
		return -ENOMEM;
	r = minirt_spawn_at(d->rt, site, pin, poll, s, drop, NULL);
	if (r < 0)
		drop(s);
	return r;
}

int demo_spawn_footguns(struct demo *d)
{
	TASKSCOPE_SITE(blocking, "blocking-sleeper");
	TASKSCOPE_SITE(spinner, "cpu-spinner");
	TASKSCOPE_SITE(holder, "lock-holder");
	TASKSCOPE_SITE(waiter, "lock-waiter");
	TASKSCOPE_SITE(lost, "lost-waker");
	TASKSCOPE_SITE(selfw, "self-waker");
	int r;

	if ((r = demo_spawn_periodic(d, &blocking, 300 * MS, 2000 * MS, blocking_sleep_work)) < 0 ||
	    (r = demo_spawn_periodic(d, &spinner, 700 * MS, 2500 * MS, spin_work)) < 0 ||
	    (r = spawn_sleeper(d, &holder, 0, 100 * MS, lock_holder_poll, lock_holder_drop)) < 0 ||
	    (r = spawn_sleeper(d, &waiter, 1, 20 * MS, lock_waiter_poll, sleeper_drop)) < 0 ||
	    (r = spawn_sleeper(d, &lost, -1, 50 * MS, lost_waker_poll, sleeper_drop)) < 0 ||
	    (r = spawn_sleeper(d, &selfw, -1, 0, self_waker_poll, sleeper_drop)) < 0)
		return r;
	return 0;
}
