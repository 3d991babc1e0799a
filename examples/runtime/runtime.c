/*
 * runtime.c: minirt's workers, run queues and task lifecycle.
 *
 * This is the part of a runtime that taskscope most wants to see: where a
 * task is spawned (with the caller's site), where each poll begins and
 * ends, and how it ends (ok, cancelled, panicked); task.c reports who
 * wakes it and how many wakers it has out. Each of those points calls one
 * taskscope.h function; nothing else here knows taskscope exists.
 *
 * Scheduling is deliberately plain: one global FIFO plus one FIFO per
 * worker for pinned tasks, all under one mutex, with a condvar for idle
 * workers. A task's state word (idle, scheduled, running, notified, done)
 * makes a wake that races with a poll re-run the task instead of losing it.
 * A run queue owns a reference on each task linked in it (taken at push,
 * handed to the worker that pops it, dropped after the run), and a task is
 * linked at most once: so whatever else drops its references meanwhile (a
 * timer waking it by value, its handle, its own finish), a queued task is
 * never freed under the queue's feet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

enum { POLL_PANICKED = 2 };

/* The context of the poll running on this thread, if any (for parents). */
static _Thread_local struct minirt_cx *tls_cx;

uint64_t minirt_i_next_id(void)
{
	static _Atomic uint64_t next = 1;
	return atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
}

uint64_t minirt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* With rt->lock held: link the task, with a reference for the queue. */
static void queue_push(struct minirt_queue *q, struct minirt_task *t)
{
	atomic_fetch_add(&t->refs, 1);
	t->queued = 1;
	t->rq_next = NULL;
	if (q->tail)
		q->tail->rq_next = t;
	else
		q->head = t;
	q->tail = t;
}

/* With rt->lock held: unlink the first task; the caller gets the queue's
 * reference and drops it with minirt_i_task_unref() when done with it. */
static struct minirt_task *queue_pop(struct minirt_queue *q)
{
	struct minirt_task *t = q->head;
	if (!t)
		return NULL;
	q->head = t->rq_next;
	if (!q->head)
		q->tail = NULL;
	t->rq_next = NULL;
	t->queued = 0;
	return t;
}

/* With rt->lock held: queue a scheduled task where it may run. Linking it
 * twice would corrupt the queue, so a task already queued stays where it
 * is: that entry runs it. */
static void enqueue_locked(struct minirt *rt, struct minirt_task *t)
{
	if (rt->shut)
		return; /* shutdown drops it through the live list */
	if (t->queued)
		return;
	if (t->pin >= 0) {
		queue_push(&rt->workers[t->pin].local, t);
		pthread_cond_broadcast(&rt->cond); /* make sure its worker hears */
	} else {
		queue_push(&rt->global, t);
		pthread_cond_signal(&rt->cond);
	}
}

static void enqueue(struct minirt *rt, struct minirt_task *t)
{
	pthread_mutex_lock(&rt->lock);
	enqueue_locked(rt, t);
	pthread_mutex_unlock(&rt->lock);
}

void minirt_i_task_unref(struct minirt_task *t)
{
	if (atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&t->jlock);
	pthread_cond_destroy(&t->jcond);
	free(t);
}

/* A wake: idle -> scheduled (returns 1: the caller queues it), running ->
 * notified (the worker queues it after the poll), else nothing to do. */
static int task_mark_scheduled(struct minirt_task *t)
{
	uint32_t s = atomic_load(&t->state);
	for (;;) {
		uint32_t next;
		if (s == MINIRT_T_IDLE)
			next = MINIRT_T_SCHEDULED;
		else if (s == MINIRT_T_RUNNING)
			next = MINIRT_T_NOTIFIED;
		else
			return 0;
		if (atomic_compare_exchange_weak(&t->state, &s, next))
			return next == MINIRT_T_SCHEDULED;
	}
}

void minirt_i_task_schedule(struct minirt_task *t)
{
	if (task_mark_scheduled(t))
		enqueue(t->rt, t);
}

/* The task is over: free its data (its own timers and registrations go
 * with it, so their waker drops are reported while it is alive), report
 * the drop, wake whoever joins it, and give up the runtime's reference. */
static void task_finish(struct minirt_task *t, int outcome, const char *panic_msg)
{
	struct minirt *rt = t->rt;
	struct minirt_waker joiner;
	void *data = t->data;

	atomic_store(&t->state, MINIRT_T_DONE);
	t->data = NULL;
	if (t->drop)
		t->drop(data);
	taskscope_task_drop(t->id, outcome);

	/* Not live any more before anyone can see the outcome. */
	pthread_mutex_lock(&rt->lock);
	if (t->live_prev)
		t->live_prev->live_next = t->live_next;
	else
		rt->live = t->live_next;
	if (t->live_next)
		t->live_next->live_prev = t->live_prev;
	t->live_prev = t->live_next = NULL;
	rt->live_count--;
	if (rt->closing && rt->live_count == 0)
		pthread_cond_broadcast(&rt->drained);
	pthread_mutex_unlock(&rt->lock);

	pthread_mutex_lock(&t->jlock);
	t->outcome = outcome;
	t->panic_msg = panic_msg;
	joiner = t->joiner;
	t->joiner.task = NULL;
	pthread_cond_broadcast(&t->jcond);
	pthread_mutex_unlock(&t->jlock);
	minirt_waker_wake(&joiner);
	minirt_i_task_unref(t);
}

/* Why a separate function: setjmp must live in a frame that is still
 * active when minirt_panic() longjmps, and nothing here is touched after
 * the jump, so no local can be clobbered. */
static __attribute__((noinline)) int poll_guarded(struct minirt_task *t, struct minirt_cx *cx)
{
	if (setjmp(cx->panic_jmp) != 0)
		return POLL_PANICKED;
	return t->poll(t, cx);
}

static void run_task(struct minirt_worker *w, struct minirt_task *t)
{
	uint32_t s = MINIRT_T_SCHEDULED;
	struct minirt_cx cx;
	int r;

	/* Only a worker that dequeued it runs it; a task that is not
	 * SCHEDULED here (finished meanwhile) is left alone, and the queue's
	 * reference, which the caller drops, kept it valid until now. */
	if (!atomic_compare_exchange_strong(&t->state, &s, MINIRT_T_RUNNING))
		return;
	if (atomic_load(&t->cancel)) {
		task_finish(t, TASKSCOPE_OUTCOME_CANCELLED, NULL);
		return;
	}
	memset(&cx, 0, sizeof(cx));
	cx.rt = w->rt;
	cx.task = t;
	cx.waker.task = t;
	cx.worker = w->index;
	atomic_fetch_add(&t->polls, 1);

	tls_cx = &cx;
	taskscope_poll_begin(t->id);
	r = poll_guarded(t, &cx);
	taskscope_poll_end(t->id, r == MINIRT_READY);
	tls_cx = NULL;

	if (r == MINIRT_READY) {
		task_finish(t, TASKSCOPE_OUTCOME_OK, NULL);
	} else if (r == MINIRT_PENDING) {
		s = MINIRT_T_RUNNING;
		if (atomic_compare_exchange_strong(&t->state, &s, MINIRT_T_IDLE))
			return;
		/* woken during the poll: run it again */
		atomic_store(&t->state, MINIRT_T_SCHEDULED);
		enqueue(w->rt, t);
	} else {
		task_finish(t, TASKSCOPE_OUTCOME_PANICKED,
			    r == POLL_PANICKED ? cx.panic_msg : "poll returned an invalid value");
	}
}

static void *worker_main(void *arg)
{
	struct minirt_worker *w = arg;
	struct minirt *rt = w->rt;
	char name[32];

	snprintf(name, sizeof(name), "minirt-worker-%u", w->index);
	(void)pthread_setname_np(pthread_self(), name); /* fails (harmlessly) past 15 chars */
	taskscope_thread_name(name, TASKSCOPE_ROLE_WORKER);

	pthread_mutex_lock(&rt->lock);
	for (;;) {
		struct minirt_task *t;
		if (rt->stopping)
			break;
		t = queue_pop(&w->local);
		if (!t)
			t = queue_pop(&rt->global);
		if (!t) {
			pthread_cond_wait(&rt->cond, &rt->lock);
			continue;
		}
		pthread_mutex_unlock(&rt->lock);
		run_task(w, t);
		minirt_i_task_unref(t); /* the queue's reference, taken at push */
		pthread_mutex_lock(&rt->lock);
	}
	pthread_mutex_unlock(&rt->lock);
	return NULL;
}

/* taskscope's task enumerator (see "Snapshots" in taskscope.h): called
 * on the shim's thread when a collector attaches. The live list and the
 * spawn report are both under rt->lock, so a task is either in this walk
 * or reports its spawn afterwards (or both, which the collector counts
 * once). A task already DONE has reported its drop: left out. */
static void snapshot_tasks(void *ctx)
{
	struct minirt *rt = ctx;

	pthread_mutex_lock(&rt->lock);
	for (struct minirt_task *t = rt->live; t; t = t->live_next) {
		uint32_t s = atomic_load(&t->state);
		int state = s == MINIRT_T_IDLE ? TASKSCOPE_STATE_IDLE
			  : s == MINIRT_T_SCHEDULED ? TASKSCOPE_STATE_SCHEDULED
			  : TASKSCOPE_STATE_RUNNING;

		if (s == MINIRT_T_DONE)
			continue;
		taskscope_task_snapshot(t->id, t->pin >= 0 ? TASKSCOPE_KIND_LOCAL : TASKSCOPE_KIND_TASK, state,
					atomic_load(&t->wakers) > 0, t->site);
	}
	pthread_mutex_unlock(&rt->lock);
}

int minirt_new(unsigned workers, struct minirt **out)
{
	struct minirt *rt;
	int r = 0;

	if (!out || workers == 0 || workers > 256)
		return -EINVAL;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->workers = calloc(workers, sizeof(*rt->workers));
	if (!rt->workers) {
		free(rt);
		return -ENOMEM;
	}
	rt->nworkers = workers;
	pthread_mutex_init(&rt->lock, NULL);
	pthread_cond_init(&rt->cond, NULL);
	pthread_cond_init(&rt->drained, NULL);

	r = minirt_i_timers_start(rt);
	if (r < 0)
		goto cleanup;
	/* Without it (8 runtimes registered already) an attach just misses
	 * the tasks spawned before it. */
	rt->snapshots = taskscope_task_enumerator_add(snapshot_tasks, rt) == 0;
	for (unsigned i = 0; i < workers; i++) {
		struct minirt_worker *w = &rt->workers[i];
		w->rt = rt;
		w->index = i;
		r = -pthread_create(&w->thread, NULL, worker_main, w);
		if (r < 0)
			goto cleanup;
		w->started = 1;
	}
	*out = rt;
	return 0;

cleanup:
	minirt_free(rt);
	return r;
}

void minirt_shutdown(struct minirt *rt)
{
	int workers_up = 0;

	if (!rt)
		return;
	pthread_mutex_lock(&rt->lock);
	if (rt->closing) {
		pthread_mutex_unlock(&rt->lock);
		return;
	}
	rt->closing = 1;
	for (unsigned i = 0; i < rt->nworkers; i++)
		workers_up |= rt->workers[i].started;
	pthread_mutex_unlock(&rt->lock);

	/* No timer fires from here on, so no wake is in flight while tasks
	 * are dropped: each drop function gets its timers' wakers back. */
	minirt_i_timers_stop(rt);

	/* Cancel everything while the workers still run, so each task is
	 * dropped where it may run (pinned ones on their own worker). */
	pthread_mutex_lock(&rt->lock);
	for (struct minirt_task *t = rt->live; t; t = t->live_next) {
		atomic_store(&t->cancel, 1);
		if (task_mark_scheduled(t))
			enqueue_locked(rt, t);
	}
	while (workers_up && rt->live_count > 0)
		pthread_cond_wait(&rt->drained, &rt->lock);
	rt->stopping = 1;
	pthread_cond_broadcast(&rt->cond);
	pthread_mutex_unlock(&rt->lock);

	for (unsigned i = 0; i < rt->nworkers; i++) {
		if (rt->workers[i].started)
			pthread_join(rt->workers[i].thread, NULL);
		rt->workers[i].started = 0;
	}

	/* Nothing runs what is still queued (only when there were no
	 * workers): unlink it and give the queues' references back. */
	pthread_mutex_lock(&rt->lock);
	rt->shut = 1;
	for (unsigned i = 0; i <= rt->nworkers; i++) {
		struct minirt_queue *q = i < rt->nworkers ? &rt->workers[i].local : &rt->global;
		struct minirt_task *t;
		while ((t = queue_pop(q)) != NULL)
			minirt_i_task_unref(t); /* a live task keeps the runtime's */
	}
	pthread_mutex_unlock(&rt->lock);

	/* Only when there were no workers: drop what is left, here. */
	for (;;) {
		struct minirt_task *t;
		pthread_mutex_lock(&rt->lock);
		t = rt->live;
		pthread_mutex_unlock(&rt->lock);
		if (!t)
			break;
		task_finish(t, TASKSCOPE_OUTCOME_CANCELLED, NULL);
	}
}

void minirt_free(struct minirt *rt)
{
	if (!rt)
		return;
	if (rt->snapshots)
		taskscope_task_enumerator_remove(snapshot_tasks, rt);
	minirt_shutdown(rt);
	pthread_cond_destroy(&rt->drained);
	pthread_cond_destroy(&rt->cond);
	pthread_mutex_destroy(&rt->lock);
	free(rt->workers);
	free(rt);
}

unsigned minirt_workers(const struct minirt *rt)
{
	return rt->nworkers;
}

uint64_t minirt_live_tasks(struct minirt *rt)
{
	uint64_t n;
	pthread_mutex_lock(&rt->lock);
	n = rt->live_count;
	pthread_mutex_unlock(&rt->lock);
	return n;
}

int minirt_spawn_at(struct minirt *rt, struct taskscope_site *site, int pin, minirt_poll_fn poll,
		    void *data, minirt_drop_fn drop, struct minirt_task **handle)
{
	struct minirt_task *t;
	uint64_t parent = tls_cx ? tls_cx->task->id : 0;
	int kind = pin >= 0 ? TASKSCOPE_KIND_LOCAL : TASKSCOPE_KIND_TASK;

	if (!rt || !poll || pin < -1 || pin >= (int)rt->nworkers)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	atomic_init(&t->state, MINIRT_T_SCHEDULED);
	atomic_init(&t->refs, handle ? 2 : 1);
	t->id = minirt_i_next_id();
	t->pin = pin;
	t->name = site && site->name ? site->name : "";
	t->site = site;
	t->rt = rt;
	t->poll = poll;
	t->data = data;
	t->drop = drop;
	t->outcome = -1;
	pthread_mutex_init(&t->jlock, NULL);
	pthread_cond_init(&t->jcond, NULL);

	pthread_mutex_lock(&rt->lock);
	if (rt->closing) {
		pthread_mutex_unlock(&rt->lock);
		pthread_mutex_destroy(&t->jlock);
		pthread_cond_destroy(&t->jcond);
		free(t);
		return -ESHUTDOWN;
	}
	t->live_next = rt->live;
	if (rt->live)
		rt->live->live_prev = t;
	rt->live = t;
	rt->live_count++;
	/* Reported before it is queued, so no poll can precede its spawn. */
	if (site)
		taskscope_task_spawn(t->id, parent, kind, site);
	else
		taskscope_task_spawn_ids(t->id, parent, kind, 0, 0);
	enqueue_locked(rt, t);
	pthread_mutex_unlock(&rt->lock);

	if (handle)
		*handle = t;
	return 0;
}
