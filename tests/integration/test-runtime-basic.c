/*
 * test-runtime-basic.c: minirt behaves like a runtime, in-process, with
 * the real shim linked but not recording.
 *
 * Spawned tasks run to completion, re-polled once per wake; timers fire in
 * deadline order and hold exactly one waker while armed; the channel
 * delivers everything in order through back-pressure and reports closing;
 * the oneshot carries a value across threads; the mutex excludes and
 * refuses misuse; pinned tasks stay on their worker; a panic ends the task
 * with outcome PANICKED and its message; join and cancel work; shutdown
 * drops every task (pinned ones on their own worker) and refuses spawns.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "minirt.h"
#include "tests/check.h"

#define MS (1000000ull)

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Wait until a poll has set *flag (a generous bound, not a speed check).
 * Polls set their flag last, so what they did before is visible. */
static int wait_flag(atomic_int *flag)
{
	for (int i = 0; i < 20000; i++) {
		if (atomic_load(flag))
			return 0;
		sleep_ms(1);
	}
	return -ETIMEDOUT;
}

/* ---- spawn, yield, complete --------------------------------------------- */

struct counter_task {
	int yields_left;
	atomic_int *done;
	atomic_int *dropped;
};

static int counter_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct counter_task *c = minirt_task_data(task);
	if (c->yields_left-- > 0)
		return minirt_yield(cx);
	atomic_fetch_add(c->done, 1);
	return MINIRT_READY;
}

static void counter_drop(void *data)
{
	struct counter_task *c = data;
	atomic_fetch_add(c->dropped, 1);
	free(c);
}

static void test_spawn_complete(void)
{
	enum { N = 200 };
	struct minirt *rt;
	struct minirt_task *h[N];
	atomic_int done = 0, dropped = 0;

	CHECK_EQ(minirt_new(4, &rt), 0);
	for (int i = 0; i < N; i++) {
		struct counter_task *c = calloc(1, sizeof(*c));
		c->yields_left = i % 7;
		c->done = &done;
		c->dropped = &dropped;
		CHECK_EQ(minirt_spawn(rt, "counter", counter_poll, c, counter_drop, &h[i]), 0);
	}
	uint64_t prev_id = 0;
	for (int i = 0; i < N; i++) {
		CHECK_EQ(minirt_task_wait(h[i]), TASKSCOPE_OUTCOME_OK);
		/* each self-wake re-polls exactly once */
		CHECK_EQ(minirt_task_polls(h[i]), i % 7 + 1);
		CHECK_EQ(minirt_task_wakers(h[i]), 0);
		CHECK(strcmp(minirt_task_name(h[i]), "counter") == 0);
		CHECK(minirt_task_data(h[i]) == NULL);
		CHECK(minirt_task_id(h[i]) > prev_id); /* ids are never reused */
		prev_id = minirt_task_id(h[i]);
		minirt_task_release(h[i]);
	}
	CHECK_EQ(atomic_load(&done), N);
	CHECK_EQ(atomic_load(&dropped), N);
	CHECK_EQ(minirt_live_tasks(rt), 0);
	{
		struct counter_task c = { 0 };
		CHECK_EQ(minirt_spawn_at(rt, NULL, 4, counter_poll, &c, NULL, NULL), -EINVAL);
		CHECK_EQ(minirt_spawn_at(rt, NULL, -2, counter_poll, &c, NULL, NULL), -EINVAL);
	}
	minirt_free(rt);
}

/* ---- timers --------------------------------------------------------------- */

struct sleeper {
	struct minirt_timer timer;
	uint64_t deadline;
	int slot;
	atomic_int *next_slot;
	int *order;
	atomic_int *dropped;
	atomic_int *polled;
};

static int sleeper_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct sleeper *s = minirt_task_data(task);
	if (minirt_sleep_until(&s->timer, cx, s->deadline) == MINIRT_PENDING) {
		if (s->polled)
			atomic_store(s->polled, 1);
		return MINIRT_PENDING;
	}
	if (s->order)
		s->order[atomic_fetch_add(s->next_slot, 1)] = s->slot;
	return MINIRT_READY;
}

static void sleeper_drop(void *data)
{
	struct sleeper *s = data;
	minirt_timer_fini(&s->timer);
	if (s->dropped)
		atomic_fetch_add(s->dropped, 1);
	free(s);
}

static struct sleeper *sleeper_new(struct minirt *rt, uint64_t deadline)
{
	struct sleeper *s = calloc(1, sizeof(*s));
	minirt_timer_init(rt, &s->timer, "test-sleep");
	s->deadline = deadline;
	return s;
}

static void test_timers(void)
{
	static const unsigned delays_ms[] = { 90, 15, 60, 30, 75, 45 };
	enum { N = sizeof(delays_ms) / sizeof(delays_ms[0]) };
	struct minirt *rt;
	struct minirt_task *h[N], *long_sleep;
	int order[N];
	atomic_int next_slot = 0, dropped = 0, polled = 0;
	uint64_t base = minirt_now_ns();

	CHECK_EQ(minirt_new(2, &rt), 0);
	for (int i = 0; i < N; i++) {
		struct sleeper *s = sleeper_new(rt, base + delays_ms[i] * MS);
		s->slot = i;
		s->order = order;
		s->next_slot = &next_slot;
		CHECK_EQ(minirt_spawn(rt, "sleeper", sleeper_poll, s, sleeper_drop, &h[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		CHECK_EQ(minirt_task_wait(h[i]), TASKSCOPE_OUTCOME_OK);
		CHECK_EQ(minirt_task_polls(h[i]), 2); /* pending once, woken once */
		CHECK_EQ(minirt_task_wakers(h[i]), 0);
		minirt_task_release(h[i]);
	}
	CHECK_EQ(atomic_load(&next_slot), N);
	for (int i = 1; i < N; i++)
		CHECK(delays_ms[order[i - 1]] < delays_ms[order[i]]);

	/* An armed timer holds exactly one waker; cancelling gives it back. */
	struct sleeper *s = sleeper_new(rt, minirt_now_ns() + 3600 * 1000 * MS);
	s->dropped = &dropped;
	s->polled = &polled;
	CHECK_EQ(minirt_spawn(rt, "long-sleep", sleeper_poll, s, sleeper_drop, &long_sleep), 0);
	CHECK_EQ(wait_flag(&polled), 0);
	CHECK_EQ(minirt_task_wakers(long_sleep), 1);
	CHECK_EQ(minirt_task_outcome(long_sleep), -1);
	minirt_task_cancel(long_sleep);
	CHECK_EQ(minirt_task_wait(long_sleep), TASKSCOPE_OUTCOME_CANCELLED);
	CHECK_EQ(minirt_task_wakers(long_sleep), 0);
	CHECK_EQ(minirt_task_polls(long_sleep), 1);
	CHECK_EQ(atomic_load(&dropped), 1);
	minirt_task_release(long_sleep);
	minirt_free(rt);
}

/* ---- channel and oneshot --------------------------------------------------- */

struct producer {
	struct minirt_chan *ch;
	uintptr_t next, last;
};

static int producer_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct producer *p = minirt_task_data(task);
	while (p->next <= p->last) {
		int r = minirt_chan_send(p->ch, cx, (void *)p->next);
		if (r == MINIRT_PENDING)
			return MINIRT_PENDING;
		if (r < 0)
			return MINIRT_READY;
		p->next++;
	}
	minirt_chan_close(p->ch);
	return MINIRT_READY;
}

struct consumer {
	struct minirt_chan *ch;
	uintptr_t expect, received, sum;
	int saw_epipe, out_of_order;
};

static int consumer_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct consumer *c = minirt_task_data(task);
	for (;;) {
		void *item;
		int r = minirt_chan_recv(c->ch, cx, &item);
		if (r == MINIRT_PENDING)
			return MINIRT_PENDING;
		if (r == -EPIPE) {
			c->saw_epipe = 1;
			return MINIRT_READY;
		}
		if ((uintptr_t)item != c->expect)
			c->out_of_order++;
		c->expect = (uintptr_t)item + 1;
		c->received++;
		c->sum += (uintptr_t)item;
	}
}

static void test_channel(void)
{
	enum { N = 3000, CAP = 4 };
	struct minirt *rt;
	struct minirt_chan *ch;
	struct minirt_task *hp, *hc;
	struct producer p = { .next = 1, .last = N };
	struct consumer c = { .expect = 1 };

	/* One worker: the producer fills the channel, then must wait. */
	CHECK_EQ(minirt_new(1, &rt), 0);
	CHECK_EQ(minirt_chan_new(CAP, NULL, "test-chan", &ch), 0);
	p.ch = c.ch = ch;
	CHECK_EQ(minirt_spawn(rt, "consumer", consumer_poll, &c, NULL, &hc), 0);
	CHECK_EQ(minirt_spawn(rt, "producer", producer_poll, &p, NULL, &hp), 0);
	CHECK_EQ(minirt_task_wait(hp), TASKSCOPE_OUTCOME_OK);
	CHECK_EQ(minirt_task_wait(hc), TASKSCOPE_OUTCOME_OK);
	CHECK_EQ(c.received, N);
	CHECK_EQ(c.sum, (uintptr_t)N * (N + 1) / 2);
	CHECK_EQ(c.out_of_order, 0);
	CHECK_EQ(c.saw_epipe, 1);
	/* back-pressure: at most CAP items per producer poll */
	CHECK(minirt_task_polls(hp) >= N / CAP);
	CHECK_EQ(minirt_task_wakers(hp), 0);
	CHECK_EQ(minirt_task_wakers(hc), 0);
	CHECK_EQ(minirt_chan_try_send(ch, (void *)1), -EPIPE);
	minirt_task_release(hp);
	minirt_task_release(hc);
	minirt_chan_free(ch);

	/* try_send from a plain thread: fills, then -EAGAIN. */
	CHECK_EQ(minirt_chan_new(2, NULL, "test-chan-2", &ch), 0);
	CHECK_EQ(minirt_chan_try_send(ch, (void *)1), 0);
	CHECK_EQ(minirt_chan_try_send(ch, (void *)2), 0);
	CHECK_EQ(minirt_chan_try_send(ch, (void *)3), -EAGAIN);
	CHECK_EQ(minirt_chan_len(ch), 2);
	minirt_chan_free(ch);
	minirt_free(rt);
}

struct os_waiter {
	struct minirt_oneshot os;
	void *got;
	int result;
	atomic_int polled;
};

static int os_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct os_waiter *w = minirt_task_data(task);
	int r = minirt_oneshot_recv(&w->os, cx, &w->got);
	if (r == MINIRT_PENDING) {
		atomic_store(&w->polled, 1);
		return MINIRT_PENDING;
	}
	w->result = r;
	return MINIRT_READY;
}

static void test_oneshot(void)
{
	struct minirt *rt;
	struct minirt_task *h;
	struct os_waiter w = { .result = 99 };

	CHECK_EQ(minirt_new(2, &rt), 0);
	minirt_oneshot_init(&w.os);
	CHECK_EQ(minirt_spawn(rt, "oneshot-waiter", os_poll, &w, NULL, &h), 0);
	CHECK_EQ(wait_flag(&w.polled), 0);
	CHECK_EQ(minirt_task_wakers(h), 1);
	CHECK_EQ(minirt_oneshot_send(&w.os, (void *)0x5eed), 0);
	CHECK_EQ(minirt_oneshot_send(&w.os, (void *)0xbad), -EALREADY);
	CHECK_EQ(minirt_task_wait(h), TASKSCOPE_OUTCOME_OK);
	CHECK_EQ(w.result, MINIRT_READY);
	CHECK(w.got == (void *)0x5eed);
	CHECK_EQ(minirt_task_wakers(h), 0);
	minirt_task_release(h);
	minirt_oneshot_fini(&w.os);

	/* the sender gives up: the receiver sees -EPIPE */
	w.result = 99;
	minirt_oneshot_init(&w.os);
	CHECK_EQ(minirt_spawn(rt, "oneshot-waiter", os_poll, &w, NULL, &h), 0);
	minirt_oneshot_close(&w.os);
	CHECK_EQ(minirt_task_wait(h), TASKSCOPE_OUTCOME_OK);
	CHECK_EQ(w.result, -EPIPE);
	minirt_task_release(h);
	minirt_oneshot_fini(&w.os);
	minirt_free(rt);
}

/* ---- mutex ------------------------------------------------------------------ */

struct locker {
	struct minirt_mutex *m;
	atomic_int *inside;
	atomic_int *overlaps;
	long *counter;
	int rounds;
};

static int locker_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct locker *l = minirt_task_data(task);

	if (minirt_mutex_lock(l->m) != 0)
		return MINIRT_READY;
	if (atomic_fetch_add(l->inside, 1) != 0)
		atomic_fetch_add(l->overlaps, 1);
	long v = *l->counter; /* a deliberately racy read-modify-write */
	for (volatile int i = 0; i < 50; i++)
		;
	*l->counter = v + 1;
	atomic_fetch_sub(l->inside, 1);
	minirt_mutex_unlock(l->m);
	return --l->rounds > 0 ? minirt_yield(cx) : MINIRT_READY;
}

struct misuse {
	struct minirt_mutex *m;
	int trylock, unlock;
};

static int misuse_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct misuse *u = minirt_task_data(task);
	u->trylock = minirt_mutex_trylock(u->m); /* the test thread holds it */
	u->unlock = minirt_mutex_unlock(u->m);   /* and we do not */
	return MINIRT_READY;
}

static void test_mutex(void)
{
	enum { TASKS = 8, ROUNDS = 400 };
	struct minirt *rt;
	struct minirt_mutex m;
	struct minirt_task *h[TASKS];
	struct locker l[TASKS];
	atomic_int inside = 0, overlaps = 0;
	long counter = 0;

	CHECK_EQ(minirt_new(4, &rt), 0);
	CHECK_EQ(minirt_mutex_init(&m, "test-mutex"), 0);
	for (int i = 0; i < TASKS; i++) {
		l[i] = (struct locker){ &m, &inside, &overlaps, &counter, ROUNDS };
		CHECK_EQ(minirt_spawn(rt, "locker", locker_poll, &l[i], NULL, &h[i]), 0);
	}
	for (int i = 0; i < TASKS; i++) {
		CHECK_EQ(minirt_task_wait(h[i]), TASKSCOPE_OUTCOME_OK);
		minirt_task_release(h[i]);
	}
	CHECK_EQ(atomic_load(&overlaps), 0);
	CHECK_EQ(counter, TASKS * ROUNDS);

	/* misuse is refused, not reported */
	CHECK_EQ(minirt_mutex_lock(&m), 0);
	CHECK_EQ(minirt_mutex_lock(&m), -EDEADLK);
	CHECK_EQ(minirt_mutex_trylock(&m), -EDEADLK);
	struct misuse u = { &m, 1, 1 };
	struct minirt_task *hu;
	CHECK_EQ(minirt_spawn(rt, "misuse", misuse_poll, &u, NULL, &hu), 0);
	CHECK_EQ(minirt_task_wait(hu), TASKSCOPE_OUTCOME_OK);
	minirt_task_release(hu);
	CHECK_EQ(u.trylock, -EBUSY);
	CHECK_EQ(u.unlock, -EPERM);
	CHECK_EQ(minirt_mutex_unlock(&m), 0);
	CHECK_EQ(minirt_mutex_unlock(&m), -EPERM);
	CHECK_EQ(minirt_mutex_trylock(&m), 0);
	CHECK_EQ(minirt_mutex_unlock(&m), 0);
	minirt_free(rt);
	minirt_mutex_fini(&m);
}

/* ---- pinning, panics, join ---------------------------------------------------- */

struct pinned {
	int rounds;
	unsigned want;
	int elsewhere;
};

static int pinned_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct pinned *p = minirt_task_data(task);
	if (minirt_cx_worker(cx) != p->want)
		p->elsewhere++;
	return --p->rounds > 0 ? minirt_yield(cx) : MINIRT_READY;
}

struct panicky {
	int polls_before;
	int bad_return;
	atomic_int *dropped;
};

static int panicky_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct panicky *p = minirt_task_data(task);
	if (p->polls_before-- > 0)
		return minirt_yield(cx);
	if (p->bad_return)
		return 7;
	minirt_panic(cx, "boom");
}

static void panicky_drop(void *data)
{
	struct panicky *p = data;
	atomic_fetch_add(p->dropped, 1);
}

struct parent {
	struct minirt_task *child;
	struct panicky child_state;
	int child_outcome;
	int spawn_result;
};

static int parent_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct parent *p = minirt_task_data(task);
	if (!p->child) {
		p->spawn_result = minirt_spawn(minirt_cx_runtime(cx), "child", panicky_poll, &p->child_state,
					       panicky_drop, &p->child);
		if (p->spawn_result < 0)
			return MINIRT_READY;
	}
	if (minirt_join_poll(p->child, cx, &p->child_outcome) == MINIRT_PENDING)
		return MINIRT_PENDING;
	minirt_task_release(p->child);
	return MINIRT_READY;
}

static void test_pin_panic_join(void)
{
	struct minirt *rt;
	struct minirt_task *h;
	atomic_int dropped = 0;

	CHECK_EQ(minirt_new(3, &rt), 0);

	struct pinned pin = { .rounds = 60, .want = 2 };
	CHECK_EQ(minirt_spawn_local(rt, 2, "pinned", pinned_poll, &pin, NULL, &h), 0);
	CHECK_EQ(minirt_task_wait(h), TASKSCOPE_OUTCOME_OK);
	CHECK_EQ(pin.elsewhere, 0);
	CHECK_EQ(minirt_task_polls(h), 60);
	minirt_task_release(h);

	struct panicky pk = { .polls_before = 2, .dropped = &dropped };
	CHECK_EQ(minirt_spawn(rt, "panicky", panicky_poll, &pk, panicky_drop, &h), 0);
	CHECK_EQ(minirt_task_wait(h), TASKSCOPE_OUTCOME_PANICKED);
	CHECK(minirt_task_panic_message(h) && strcmp(minirt_task_panic_message(h), "boom") == 0);
	CHECK_EQ(minirt_task_polls(h), 3);
	CHECK_EQ(atomic_load(&dropped), 1);
	minirt_task_release(h);

	struct panicky bad = { .bad_return = 1, .dropped = &dropped };
	CHECK_EQ(minirt_spawn(rt, "bad-return", panicky_poll, &bad, panicky_drop, &h), 0);
	CHECK_EQ(minirt_task_wait(h), TASKSCOPE_OUTCOME_PANICKED);
	CHECK(minirt_task_panic_message(h) != NULL);
	CHECK_EQ(atomic_load(&dropped), 2);
	minirt_task_release(h);

	/* A task joins a panicking child it spawned. */
	struct parent par = { .child_state = { .polls_before = 3, .dropped = &dropped }, .child_outcome = -1 };
	CHECK_EQ(minirt_spawn(rt, "parent", parent_poll, &par, NULL, &h), 0);
	CHECK_EQ(minirt_task_wait(h), TASKSCOPE_OUTCOME_OK);
	CHECK_EQ(par.spawn_result, 0);
	CHECK_EQ(par.child_outcome, TASKSCOPE_OUTCOME_PANICKED);
	CHECK_EQ(minirt_task_wakers(h), 0);
	CHECK_EQ(atomic_load(&dropped), 3);
	minirt_task_release(h);
	minirt_free(rt);
}

/* ---- shutdown ------------------------------------------------------------------- */

struct forever {
	int kind; /* 0 no waker, 1 yield, 2 channel recv, 3 hold a mutex across PENDING */
	struct minirt_chan *ch;
	struct minirt_mutex *m;
	int holding;
	int unlock_result;
	unsigned worker;
	atomic_int *dropped;
	atomic_int polled;
};

static int forever_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct forever *f = minirt_task_data(task);
	void *item;
	int r = MINIRT_PENDING;

	f->worker = minirt_cx_worker(cx);
	if (f->kind == 1) {
		r = minirt_yield(cx);
	} else if (f->kind == 2) {
		if (minirt_chan_recv(f->ch, cx, &item) != MINIRT_PENDING)
			r = MINIRT_READY;
	} else if (f->kind == 3) {
		if (!f->holding && minirt_mutex_lock(f->m) == 0)
			f->holding = 1;
	}
	atomic_store(&f->polled, 1);
	return r;
}

static void forever_drop(void *data)
{
	struct forever *f = data;
	if (f->holding)
		f->unlock_result = minirt_mutex_unlock(f->m);
	atomic_fetch_add(f->dropped, 1);
}

static void test_shutdown(void)
{
	struct minirt *rt;
	struct minirt_chan *ch;
	struct minirt_mutex m;
	struct minirt_task *h[5];
	struct forever f[4];
	atomic_int dropped = 0, polled = 0;
	struct counter_task later = { 0 };

	CHECK_EQ(minirt_new(3, &rt), 0);
	CHECK_EQ(minirt_chan_new(4, NULL, "test-chan", &ch), 0);
	CHECK_EQ(minirt_mutex_init(&m, "test-mutex"), 0);
	for (int i = 0; i < 4; i++) {
		f[i] = (struct forever){ .kind = i, .ch = ch, .m = &m, .unlock_result = 1, .dropped = &dropped };
		if (i == 3)
			CHECK_EQ(minirt_spawn_local(rt, 1, "holder", forever_poll, &f[i], forever_drop, &h[i]), 0);
		else
			CHECK_EQ(minirt_spawn(rt, "forever", forever_poll, &f[i], forever_drop, &h[i]), 0);
	}
	struct sleeper *s = sleeper_new(rt, minirt_now_ns() + 3600 * 1000 * MS);
	s->dropped = &dropped;
	s->polled = &polled;
	CHECK_EQ(minirt_spawn(rt, "long-sleep", sleeper_poll, s, sleeper_drop, &h[4]), 0);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(wait_flag(&f[i].polled), 0);
	CHECK_EQ(wait_flag(&polled), 0);
	CHECK_EQ(minirt_live_tasks(rt), 5);
	CHECK_EQ(minirt_task_wakers(h[0]), 0); /* the lost-waker shape */
	CHECK_EQ(minirt_task_wakers(h[2]), 1); /* registered in the channel */
	CHECK_EQ(minirt_task_wakers(h[4]), 1); /* registered in the timer */
	CHECK_EQ(minirt_mutex_trylock(&m), -EBUSY);

	minirt_shutdown(rt);
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(minirt_task_outcome(h[i]), TASKSCOPE_OUTCOME_CANCELLED);
		CHECK(i == 2 || minirt_task_wakers(h[i]) == 0);
	}
	CHECK_EQ(atomic_load(&dropped), 5);
	CHECK_EQ(minirt_live_tasks(rt), 0);
	/* dropped on its own worker, so the unlock was legal */
	CHECK_EQ(f[3].worker, 1);
	CHECK_EQ(f[3].unlock_result, 0);
	CHECK_EQ(minirt_mutex_trylock(&m), 0);
	CHECK_EQ(minirt_mutex_unlock(&m), 0);
	CHECK_EQ(minirt_spawn(rt, "too-late", counter_poll, &later, NULL, NULL), -ESHUTDOWN);
	minirt_shutdown(rt); /* idempotent */

	/* the channel still holds the receiver's waker until it goes */
	CHECK_EQ(minirt_task_wakers(h[2]), 1);
	minirt_chan_free(ch);
	CHECK_EQ(minirt_task_wakers(h[2]), 0);
	for (int i = 0; i < 5; i++)
		minirt_task_release(h[i]);
	minirt_mutex_fini(&m);
	minirt_free(rt);
}

int main(void)
{
	setvbuf(stderr, NULL, _IONBF, 0);
	if (taskscope_enabled())
		fprintf(stderr, "note: a collector is attached; running anyway\n");
	test_spawn_complete();
	test_timers();
	test_channel();
	test_oneshot();
	test_mutex();
	test_pin_panic_join();
	test_shutdown();
	return check_result("runtime-basic");
}
