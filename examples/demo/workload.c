/*
 * workload.c: the demo's healthy tasks and its start and teardown.
 *
 * Healthy here means what taskscope's lints must stay quiet about: every
 * poll is a few microseconds, every PENDING return leaves a cloned waker
 * registered (a timer, a channel, a oneshot, a join handle), and nothing
 * wakes itself. The request path gives the console a lot of short-lived
 * tasks: "acceptor" spawns three "request-handler" tasks every 10 ms;
 * each hashes its input, sends it to "backend" over the "requests"
 * channel and awaits the reply on a oneshot.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

struct periodic {
	struct demo *d;
	struct minirt_timer timer;
	uint64_t next, period;
	void (*work)(struct demo *d);
};

/* A request in flight: shared by its handler and, once sent, the backend. */
struct request {
	_Atomic int refs;
	uint32_t input;
	struct minirt_oneshot reply;
};

struct handler {
	struct demo *d;
	struct request *req;
	int sent;
	uint32_t input;
};

struct acceptor {
	struct demo *d;
	struct minirt_timer timer;
	uint64_t next;
	uint32_t seq;
};

struct supervisor {
	struct demo *d;
	struct minirt_timer timer;
	uint64_t next;
	struct minirt_task *child;
};

struct panicker {
	struct minirt_timer timer;
	uint64_t deadline;
	int rounds;
};

uint32_t demo_tiny_work(uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;
	for (int i = 0; i < 256; i++)
		h = (h ^ (uint32_t)i) * 16777619u;
	return h;
}

static int periodic_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct periodic *p = minirt_task_data(task);

	while (minirt_sleep_until(&p->timer, cx, p->next) == MINIRT_READY) {
		uint64_t now;
		p->work(p->d);
		now = minirt_now_ns();
		p->next += p->period;
		if (p->next <= now) /* fell behind: skip the missed rounds */
			p->next = now + p->period;
	}
	return MINIRT_PENDING;
}

static void periodic_drop(void *data)
{
	struct periodic *p = data;
	minirt_timer_fini(&p->timer);
	free(p);
}

int demo_spawn_periodic(struct demo *d, struct taskscope_site *site, uint64_t first_ns,
			uint64_t period_ns, void (*work)(struct demo *d))
{
	struct periodic *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->d = d;
	p->period = period_ns;
	p->next = minirt_now_ns() + first_ns;
	p->work = work;
	minirt_timer_init(d->rt, &p->timer, "sleep");
	r = minirt_spawn_at(d->rt, site, -1, periodic_poll, p, periodic_drop, NULL);
	if (r < 0)
		periodic_drop(p);
	return r;
}

static void tick_work(struct demo *d)
{
	(void)demo_tiny_work((uint32_t)atomic_fetch_add(&d->ticks, 1));
}

static void flush_work(struct demo *d)
{
	if (minirt_mutex_lock(&d->metrics) == 0) {
		(void)demo_tiny_work((uint32_t)atomic_load(&d->handled));
		minirt_mutex_unlock(&d->metrics);
	}
	atomic_fetch_add(&d->ticks, 1);
}

static void request_unref(void *item)
{
	struct request *req = item;
	if (atomic_fetch_sub(&req->refs, 1) != 1)
		return;
	minirt_oneshot_fini(&req->reply);
	free(req);
}

static int handler_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct handler *h = minirt_task_data(task);
	struct demo *d = h->d;
	void *reply;
	int r;

	if (!h->req) {
		h->req = calloc(1, sizeof(*h->req));
		if (!h->req)
			return MINIRT_READY;
		atomic_init(&h->req->refs, 1);
		h->req->input = demo_tiny_work(h->input);
		minirt_oneshot_init(&h->req->reply);
	}
	if (!h->sent) {
		atomic_fetch_add(&h->req->refs, 1); /* the backend's, once queued */
		r = minirt_chan_send(d->requests, cx, h->req);
		if (r != MINIRT_READY) {
			atomic_fetch_sub(&h->req->refs, 1);
			return r == MINIRT_PENDING ? MINIRT_PENDING : MINIRT_READY;
		}
		h->sent = 1;
	}
	r = minirt_oneshot_recv(&h->req->reply, cx, &reply);
	if (r == MINIRT_PENDING)
		return MINIRT_PENDING;
	if (r == MINIRT_READY) {
		atomic_fetch_add(&d->handled, 1);
		if ((uint32_t)(uintptr_t)reply != demo_tiny_work(h->req->input))
			atomic_fetch_add(&d->bad_replies, 1);
	}
	return MINIRT_READY;
}

static void handler_drop(void *data)
{
	struct handler *h = data;
	if (h->req) {
		minirt_oneshot_forget(&h->req->reply);
		request_unref(h->req);
	}
	free(h);
}

static int acceptor_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct acceptor *a = minirt_task_data(task);

	while (minirt_sleep_until(&a->timer, cx, a->next) == MINIRT_READY) {
		for (int i = 0; i < 3; i++) {
			struct handler *h = calloc(1, sizeof(*h));
			if (!h)
				break;
			h->d = a->d;
			h->input = a->seq++;
			if (minirt_spawn(a->d->rt, "request-handler", handler_poll, h, handler_drop, NULL) < 0) {
				free(h);
				break;
			}
			atomic_fetch_add(&a->d->accepted, 1);
		}
		a->next += 10 * MS;
		if (a->next <= minirt_now_ns())
			a->next = minirt_now_ns() + 10 * MS;
	}
	return MINIRT_PENDING;
}

static void acceptor_drop(void *data)
{
	struct acceptor *a = data;
	minirt_timer_fini(&a->timer);
	free(a);
}

/* Answers every queued request; a bounded batch keeps each poll short. */
static int backend_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct demo *d = minirt_task_data(task);

	for (int n = 0; n < 256; n++) {
		void *item;
		int r = minirt_chan_recv(d->requests, cx, &item);
		if (r == MINIRT_PENDING)
			return MINIRT_PENDING;
		if (r < 0)
			return MINIRT_READY; /* closed */
		struct request *req = item;
		minirt_oneshot_send(&req->reply, (void *)(uintptr_t)demo_tiny_work(req->input));
		request_unref(req);
	}
	return minirt_yield(cx);
}

static void backend_drop(void *data)
{
	struct demo *d = data;
	minirt_chan_close(d->requests); /* waiting handlers see -EPIPE */
}

static int panicker_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct panicker *p = minirt_task_data(task);

	for (;;) {
		if (p->deadline && minirt_sleep_until(&p->timer, cx, p->deadline) == MINIRT_PENDING)
			return MINIRT_PENDING;
		if (++p->rounds > 3)
			minirt_panic(cx, "panicker: invariant broken after 3 rounds");
		p->deadline = minirt_now_ns() + 20 * MS;
	}
}

static void panicker_drop(void *data)
{
	struct panicker *p = data;
	minirt_timer_fini(&p->timer);
	free(p);
}

/* Spawns a "panicker" every 3 s and joins it: the join sees PANICKED. */
static int supervisor_poll(struct minirt_task *task, struct minirt_cx *cx)
{
	struct supervisor *s = minirt_task_data(task);

	for (;;) {
		if (s->child) {
			int outcome;
			if (minirt_join_poll(s->child, cx, &outcome) == MINIRT_PENDING)
				return MINIRT_PENDING;
			if (outcome == TASKSCOPE_OUTCOME_PANICKED)
				atomic_fetch_add(&s->d->panics, 1);
			minirt_task_release(s->child);
			s->child = NULL;
			s->next = minirt_now_ns() + 3000 * MS;
		}
		if (minirt_sleep_until(&s->timer, cx, s->next) == MINIRT_PENDING)
			return MINIRT_PENDING;
		struct panicker *p = calloc(1, sizeof(*p));
		if (!p)
			return MINIRT_READY; /* nothing would wake us: stop instead */
		minirt_timer_init(s->d->rt, &p->timer, "sleep");
		if (minirt_spawn(s->d->rt, "panicker", panicker_poll, p, panicker_drop, &s->child) < 0) {
			panicker_drop(p);
			return MINIRT_READY;
		}
	}
}

static void supervisor_drop(void *data)
{
	struct supervisor *s = data;
	minirt_task_release(s->child);
	minirt_timer_fini(&s->timer);
	free(s);
}

static int spawn_healthy(struct demo *d)
{
	struct acceptor *a;
	struct supervisor *s;
	int r;

	r = minirt_spawn(d->rt, "backend", backend_poll, d, backend_drop, NULL);
	if (r < 0)
		return r;
	TASKSCOPE_SITE(ticker, "ticker");
	TASKSCOPE_SITE(heartbeat, "heartbeat");
	TASKSCOPE_SITE(flush, "metrics-flush");
	if ((r = demo_spawn_periodic(d, &ticker, 20 * MS, 20 * MS, tick_work)) < 0 ||
	    (r = demo_spawn_periodic(d, &heartbeat, 50 * MS, 50 * MS, tick_work)) < 0 ||
	    (r = demo_spawn_periodic(d, &flush, 100 * MS, 100 * MS, flush_work)) < 0)
		return r;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->d = d;
	a->next = minirt_now_ns();
	minirt_timer_init(d->rt, &a->timer, "sleep");
	r = minirt_spawn(d->rt, "acceptor", acceptor_poll, a, acceptor_drop, NULL);
	if (r < 0) {
		acceptor_drop(a);
		return r;
	}

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	minirt_timer_init(d->rt, &s->timer, "sleep");
	r = minirt_spawn(d->rt, "supervisor", supervisor_poll, s, supervisor_drop, NULL);
	if (r < 0)
		supervisor_drop(s);
	return r;
}

int demo_workload_start(struct minirt *rt, struct demo **out)
{
	struct demo *d;
	int r;

	if (!rt || !out || minirt_workers(rt) < 2)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->rt = rt;
	r = minirt_chan_new(64, request_unref, "requests", &d->requests);
	if (r < 0)
		goto cleanup;
	r = minirt_mutex_init(&d->db, "db-mutex");
	if (r < 0)
		goto cleanup;
	d->db_ready = 1;
	r = minirt_mutex_init(&d->metrics, "metrics");
	if (r < 0)
		goto cleanup;
	d->metrics_ready = 1;
	r = spawn_healthy(d);
	if (r < 0)
		goto cleanup;
	r = demo_spawn_footguns(d);
	if (r < 0)
		goto cleanup;
	*out = d;
	return 0;

cleanup:
	/* Tasks already spawned hold `d`: stop them before freeing it. */
	minirt_shutdown(rt);
	demo_workload_free(d);
	return r;
}

void demo_workload_counters(struct demo *d, struct demo_counters *out)
{
	out->ticks = atomic_load(&d->ticks);
	out->accepted = atomic_load(&d->accepted);
	out->handled = atomic_load(&d->handled);
	out->bad_replies = atomic_load(&d->bad_replies);
	out->blocking_sleeps = atomic_load(&d->blocking_sleeps);
	out->spins = atomic_load(&d->spins);
	out->lock_holds = atomic_load(&d->lock_holds);
	out->lock_waits = atomic_load(&d->lock_waits);
	out->lost_wakers = atomic_load(&d->lost_wakers);
	out->self_wakes = atomic_load(&d->self_wakes);
	out->panics = atomic_load(&d->panics);
}

void demo_workload_free(struct demo *d)
{
	if (!d)
		return;
	minirt_chan_free(d->requests);
	if (d->db_ready)
		minirt_mutex_fini(&d->db);
	if (d->metrics_ready)
		minirt_mutex_fini(&d->metrics);
	free(d);
}
