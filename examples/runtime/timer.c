/*
 * timer.c: minirt's timer thread and sleep registrations.
 *
 * Armed timers sit in one list sorted by deadline; a single thread
 * ("minirt-timer") sleeps on a CLOCK_MONOTONIC condvar until the earliest
 * deadline, unlinks the timer, takes its waker and wakes it by value. An
 * armed timer owns exactly one cloned waker, so a task asleep on a timer
 * always shows one live waker to taskscope, and firing or disarming gives
 * it back (wake by value or drop) — the accounting the lost_waker lint
 * relies on. Each minirt_timer is reported as a TIMER resource.
 */
#include <errno.h>
#include <time.h>

#include "internal.h"

/* With the timers lock held. */
static void timer_unlink(struct minirt_timers *ts, struct minirt_timer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		ts->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	t->armed = 0;
}

/* With the timers lock held; returns whether it became the earliest. */
static int timer_insert(struct minirt_timers *ts, struct minirt_timer *t)
{
	struct minirt_timer *prev = NULL, *cur = ts->head;

	while (cur && cur->deadline_ns <= t->deadline_ns) {
		prev = cur;
		cur = cur->next;
	}
	t->prev = prev;
	t->next = cur;
	if (prev)
		prev->next = t;
	else
		ts->head = t;
	if (cur)
		cur->prev = t;
	t->armed = 1;
	return prev == NULL;
}

static void *timer_main(void *arg)
{
	struct minirt *rt = arg;
	struct minirt_timers *ts = &rt->timers;

	(void)pthread_setname_np(pthread_self(), "minirt-timer");
	taskscope_thread_name("minirt-timer", TASKSCOPE_ROLE_OTHER);

	pthread_mutex_lock(&ts->lock);
	while (!ts->stop) {
		struct minirt_timer *t = ts->head;
		uint64_t now;

		if (!t) {
			pthread_cond_wait(&ts->cond, &ts->lock);
			continue;
		}
		now = minirt_now_ns();
		if (t->deadline_ns <= now) {
			struct minirt_waker w = t->waker;
			t->waker.task = NULL;
			timer_unlink(ts, t);
			/* Wake without the lock: the task may re-arm at once. */
			pthread_mutex_unlock(&ts->lock);
			minirt_waker_wake(&w);
			pthread_mutex_lock(&ts->lock);
			continue;
		}
		struct timespec until = {
			.tv_sec = (time_t)(t->deadline_ns / 1000000000ull),
			.tv_nsec = (long)(t->deadline_ns % 1000000000ull),
		};
		pthread_cond_timedwait(&ts->cond, &ts->lock, &until);
	}
	pthread_mutex_unlock(&ts->lock);
	return NULL;
}

int minirt_i_timers_start(struct minirt *rt)
{
	struct minirt_timers *ts = &rt->timers;
	pthread_condattr_t attr;
	int r;

	pthread_mutex_init(&ts->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&ts->cond, &attr);
	pthread_condattr_destroy(&attr);
	r = -pthread_create(&ts->thread, NULL, timer_main, rt);
	if (r < 0)
		return r;
	ts->started = 1;
	return 0;
}

/* Stop the thread. Armed timers stay armed (their owners disarm them with
 * minirt_timer_fini, which still works); nothing fires any more. */
void minirt_i_timers_stop(struct minirt *rt)
{
	struct minirt_timers *ts = &rt->timers;

	if (!ts->started)
		return;
	pthread_mutex_lock(&ts->lock);
	ts->stop = 1;
	pthread_cond_signal(&ts->cond);
	pthread_mutex_unlock(&ts->lock);
	pthread_join(ts->thread, NULL);
	ts->started = 0;
}

int minirt_timer_init_at(struct minirt *rt, struct minirt_timer *t, struct taskscope_site *site)
{
	if (!rt || !t)
		return -EINVAL;
	*t = (struct minirt_timer){ .rt = rt, .res_id = minirt_i_next_id() };
	if (site)
		taskscope_resource_new(t->res_id, TASKSCOPE_RES_TIMER, site);
	return 0;
}

void minirt_timer_fini(struct minirt_timer *t)
{
	struct minirt_timers *ts;
	struct minirt_waker w = { NULL };

	if (!t || !t->rt)
		return;
	ts = &t->rt->timers;
	pthread_mutex_lock(&ts->lock);
	if (t->armed)
		timer_unlink(ts, t);
	w = t->waker;
	t->waker.task = NULL;
	pthread_mutex_unlock(&ts->lock);
	minirt_waker_drop(&w);
	taskscope_resource_drop(t->res_id);
	t->rt = NULL;
}

int minirt_sleep_until(struct minirt_timer *t, struct minirt_cx *cx, uint64_t deadline_ns)
{
	struct minirt_timers *ts = &t->rt->timers;
	struct minirt_waker old = { NULL };

	pthread_mutex_lock(&ts->lock);
	if (minirt_now_ns() >= deadline_ns) {
		/* Due: a registration left over from a spurious wake goes. */
		if (t->armed)
			timer_unlink(ts, t);
		old = t->waker;
		t->waker.task = NULL;
		pthread_mutex_unlock(&ts->lock);
		minirt_waker_drop(&old);
		return MINIRT_READY;
	}
	if (t->armed && t->deadline_ns == deadline_ns && minirt_waker_will_wake(&t->waker, &cx->waker)) {
		pthread_mutex_unlock(&ts->lock);
		return MINIRT_PENDING; /* already armed for us */
	}
	if (t->armed)
		timer_unlink(ts, t);
	if (!minirt_waker_will_wake(&t->waker, &cx->waker)) {
		old = t->waker;
		t->waker = minirt_waker_clone(&cx->waker);
	}
	t->deadline_ns = deadline_ns;
	if (timer_insert(ts, t))
		pthread_cond_signal(&ts->cond);
	pthread_mutex_unlock(&ts->lock);
	minirt_waker_drop(&old);
	return MINIRT_PENDING;
}
