/*
 * model_locks.c: resources and lock events: who holds a lock, who waits for
 * it, how long waits and holds take, and the lock spans storage records.
 *
 * A waiter is a task when it waits inside a poll (an async mutex's wait may
 * span polls on different threads), else a thread. Waiters are kept in
 * arrival order in a per-lock list, so acquisitions find their wait exactly
 * however many there are; the public waiting_* arrays mirror its head. A
 * task or thread waits for one lock at a time: a new wait replaces an older
 * one whose end was lost, and a task that is dropped stops waiting.
 *
 * Shared (read) holds are counted in `holders`; the lock is tracked as one
 * hold from the first shared acquisition to the last release, attributed
 * to the first holder, and emits one lock span then. Resources are
 * forgotten at RESOURCE_DROP; events for unknown resources create them.
 */
#include "collector/model_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAITERS_CAP 65536   /* per lock; more is a hostile or broken target */

static uint64_t since(struct ts_model *m, uint64_t start, uint64_t end)
{
	if (end >= start)
		return end - start;
	m->stats.late_events++;
	return 0;
}

struct ts_resource *ts_model_find_resource(const struct ts_model *m, uint32_t pid, uint64_t id)
{
	struct ts_resource *r = ts_hashidx_bucket(&m->res_ix, ts_hashidx_hash(pid, id));

	while (r && !(r->pid == pid && r->id == id))
		r = r->hash_next;
	return r;
}

static struct ts_resource *resource_get(struct ts_model *m, uint32_t pid, uint64_t id)
{
	struct ts_resource *r = ts_model_find_resource(m, pid, id);

	if (r)
		return r;
	if (m->n_res >= m->cfg.max_objects ||
	    ts_model_vec_reserve((void ***)&m->res, m->n_res, &m->cap_res) < 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->pid = pid;
	r->id = id;
	r->kind = TS_RES_MUTEX;
	r->name = "";
	r->location = "";
	r->index = (uint32_t)m->n_res;
	m->res[m->n_res++] = r;
	(void)ts_hashidx_insert(&m->res_ix, r); /* a failed growth only slows lookups */
	return r;
}

static void resource_remove(struct ts_model *m, struct ts_resource *r)
{
	struct ts_resource *last = m->res[m->n_res - 1];

	ts_hashidx_remove(&m->res_ix, r);
	m->res[r->index] = last;
	last->index = r->index;
	m->n_res--;
	free(r->wait_list);
	free(r);
}

void ts_model_locks_free(struct ts_model *m)
{
	for (size_t i = 0; i < m->n_res; i++) {
		free(m->res[i]->wait_list);
		free(m->res[i]);
	}
	free(m->res);
	m->res = NULL;
	m->n_res = m->cap_res = 0;
}

/* Refresh the public view of the waiters from the list's head. */
static void waiters_sync(struct ts_resource *r)
{
	r->waiters = r->wait_len;
	for (uint32_t i = 0; i < TS_RESOURCE_WAITERS_MAX; i++) {
		bool set = i < r->wait_len;

		r->waiting_tasks[i] = set ? r->wait_list[i].task : 0;
		r->waiting_tids[i] = set ? r->wait_list[i].tid : 0;
		r->waiting_since[i] = set ? r->wait_list[i].since_ns : 0;
	}
}

static bool waiter_is(const struct ts_lock_waiter *w, uint64_t task, uint32_t tid)
{
	return task ? w->task == task : (w->task == 0 && w->tid == tid);
}

/* Remove the waiter (task, or thread tid when task is 0); true and its
 * start in *since_ns when it was there. */
static bool waiter_remove(struct ts_resource *r, uint64_t task, uint32_t tid, uint64_t *since_ns)
{
	for (uint32_t i = 0; i < r->wait_len; i++) {
		if (!waiter_is(&r->wait_list[i], task, tid))
			continue;
		if (since_ns)
			*since_ns = r->wait_list[i].since_ns;
		memmove(&r->wait_list[i], &r->wait_list[i + 1],
			(r->wait_len - i - 1) * sizeof(r->wait_list[0]));
		r->wait_len--;
		waiters_sync(r);
		return true;
	}
	return false;
}

/* Remove the first waiter on thread tid, whatever its task; true, its
 * task (0: the thread itself) and its start when there was one. */
static bool waiter_remove_tid(struct ts_resource *r, uint32_t tid, uint64_t *task, uint64_t *since_ns)
{
	for (uint32_t i = 0; i < r->wait_len; i++) {
		if (r->wait_list[i].tid != tid)
			continue;
		*task = r->wait_list[i].task;
		return waiter_remove(r, *task, tid, since_ns);
	}
	return false;
}

static int waiter_add(struct ts_resource *r, uint64_t task, uint32_t tid, uint64_t ts)
{
	if (r->wait_len == r->wait_cap) {
		uint32_t ncap = r->wait_cap ? r->wait_cap * 2 : 4;
		struct ts_lock_waiter *grown;

		if (ncap > WAITERS_CAP)
			return -ENOSPC;
		grown = realloc(r->wait_list, ncap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		r->wait_list = grown;
		r->wait_cap = ncap;
	}
	r->wait_list[r->wait_len++] = (struct ts_lock_waiter){ .task = task, .tid = tid, .since_ns = ts };
	waiters_sync(r);
	return 0;
}

/* "mutex 'db' (demo.c:88)", or "mutex 42" when the target never named it. */
static void describe(const struct ts_resource *r, char *buf, size_t len)
{
	const char *kind = ts_resource_kind_name(r->kind);

	if (!r->name[0])
		snprintf(buf, len, "%s %llu", kind, (unsigned long long)r->id);
	else if (!r->location[0])
		snprintf(buf, len, "%s '%s'", kind, r->name);
	else
		snprintf(buf, len, "%s '%s' (%s)", kind, r->name, r->location);
}

/* Where a waiter's "I wait for lock X" note lives: the task in a poll,
 * else the thread. */
struct who {
	uint64_t task_id;
	struct ts_task *task;     /* NULL when outside a poll (or unknown) */
	struct ts_thread *thr;
	uint32_t tid;
};

static struct who who_of(struct ts_model *m, const struct ts_event *ev, struct ts_thread *thr)
{
	struct who w = { .thr = thr, .tid = ev->tid };

	if (thr && thr->polling) {
		w.task_id = thr->current_task;
		w.task = ts_model_find_task(m, ev->pid, w.task_id);
	}
	return w;
}

/* A waiter's wait notes: the current wait and, when it began inside
 * another, the outer one. */
struct wait_slot {
	bool *waiting, *outer;
	uint64_t *res, *outer_res;
};

static bool who_slot(struct who *w, struct wait_slot *s)
{
	if (w->task_id) {
		if (!w->task)
			return false;
		*s = (struct wait_slot){ &w->task->waiting, &w->task->outer_waiting, &w->task->wait_res,
					 &w->task->outer_wait_res };
		return true;
	}
	if (!w->thr)
		return false;
	*s = (struct wait_slot){ &w->thr->waiting, &w->thr->outer_waiting, &w->thr->wait_res,
				 &w->thr->outer_wait_res };
	return true;
}

static void report_await(struct ts_model *m, struct ts_resource *r, uint64_t ts_ns, bool released);

/* A waiter waits for one lock at a time, except that one wait may sit
 * inside another: a runtime's own lock reported through the shim and the
 * pthread mutex it blocks in, seen by the BPF lock source. A third wait
 * means the oldest one's end was lost: it is dropped. */
static void lock_wait(struct ts_model *m, const struct ts_event *ev, struct ts_resource *r,
		      struct who *w)
{
	struct wait_slot s;
	bool have = who_slot(w, &s);

	if (have && *s.waiting) {
		if (*s.res == r->id || (*s.outer && *s.outer_res == r->id))
			return;   /* still waiting; the first wait's start stands */
		if (*s.outer) {
			struct ts_resource *old = ts_model_find_resource(m, ev->pid, *s.outer_res);

			if (old)
				waiter_remove(old, w->task_id, w->tid, NULL);
		}
		*s.outer = true;
		*s.outer_res = *s.res;
	}
	if (waiter_add(r, w->task_id, w->tid, ev->ts) < 0) {
		m->stats.alloc_failures++;
		return;
	}
	if (have) {
		*s.waiting = true;
		*s.res = r->id;
	}
	if (r->await_task && r->holders > 0)
		report_await(m, r, ev->ts, false);   /* the first victim of a lock held across await */
}

/* The wait for `res` ended: the outer wait, if any, is current again. */
static void wait_done(struct wait_slot *s, uint64_t res)
{
	if (*s->waiting && *s->res == res) {
		*s->waiting = *s->outer;
		*s->res = *s->outer_res;
		*s->outer = false;
	} else if (*s->outer && *s->outer_res == res) {
		*s->outer = false;
	}
}

static void lock_acquired(struct ts_model *m, const struct ts_event *ev, struct ts_resource *r,
			  struct who *w)
{
	uint64_t wait_start = 0, wait_ns = 0;
	struct wait_slot s;
	bool waited = waiter_remove(r, w->task_id, w->tid, &wait_start);

	if (!waited && (ev->flags & TS_EVF_PARTIAL)) {
		/* BPF's futex path may merge two of a thread's waits across the
		 * start or end of a poll (the release in between woke nobody,
		 * so it was not seen): the wait was noted for the thread and
		 * ends inside a task's poll, or the other way round. A pthread
		 * wait cannot outlive its thread's poll: same thread, same
		 * lock, same wait. */
		uint64_t task = 0;

		waited = waiter_remove_tid(r, w->tid, &task, &wait_start);
		if (waited) {
			struct who other = { .task_id = task, .thr = w->thr, .tid = w->tid,
					     .task = task ? ts_model_find_task(m, ev->pid, task) : NULL };

			if (who_slot(&other, &s))
				wait_done(&s, r->id);
		}
	}
	if (who_slot(w, &s))
		wait_done(&s, r->id);
	if (waited && wait_start > ev->ts) {
		m->stats.late_events++;  /* the wait was reported after its end */
		wait_start = ev->ts;
	}
	if (!(ev->flags & TS_EVF_SHARED && r->holders > 0)) {
		/* a fresh hold (an exclusive one over a hold whose release was
		 * lost replaces it) */
		r->holders = 0;
		r->holder_task = w->task_id;
		r->holder_tid = w->tid;
		r->acquired_ns = ev->ts;
		r->wait_start_ns = waited ? wait_start : 0;
		r->held_in_poll = w->task_id != 0;
		r->await_task = 0;
	}
	r->holders++;
	r->acquisitions++;
	if (waited) {
		wait_ns = ev->ts - wait_start;
		r->contentions++;
		ts_histogram_record(&r->wait_hist, wait_ns);
	}
	if (w->task && w->task->n_poll_locks < TS_TASK_POLL_LOCKS_MAX && !(ev->flags & TS_EVF_PARTIAL)) {
		bool known = false;

		for (uint32_t i = 0; i < w->task->n_poll_locks; i++)
			known |= w->task->poll_locks[i] == r->id;
		if (!known)
			w->task->poll_locks[w->task->n_poll_locks++] = r->id;
	}
	if (waited && ts_lint_contended_lock(&m->cfg.lints, wait_ns)) {
		char took[32], limit[32], what[96], holder[48] = "";

		ts_warning_format_duration(took, sizeof(took), wait_ns);
		ts_warning_format_duration(limit, sizeof(limit), m->cfg.lints.contended_lock_ns);
		describe(r, what, sizeof(what));
		if (r->last_holder_task)
			snprintf(holder, sizeof(holder), ", last held by task %llu",
				 (unsigned long long)r->last_holder_task);
		else if (r->last_holder_tid)
			snprintf(holder, sizeof(holder), ", last held by thread %u", r->last_holder_tid);
		ts_model_warn(m, TS_WARN_CONTENDED_LOCK, ev->pid, ev->tid, w->task, ev->ts, wait_ns,
			      "waited %s for %s%s (threshold %s)", took, what, holder, limit);
	}
}

static void lock_release(struct ts_model *m, const struct ts_event *ev, struct ts_resource *r)
{
	uint64_t released, hold;

	if (r->holders == 0) {
		m->stats.unmatched_releases++;
		return;
	}
	if (--r->holders > 0)
		return;   /* other shared holders remain */
	hold = since(m, r->acquired_ns, ev->ts);
	released = r->acquired_ns + hold;
	if (r->await_task)
		report_await(m, r, released, true);  /* held across await, nobody waited */
	ts_histogram_record(&r->hold_hist, hold);
	if (hold > r->max_hold_ns)
		r->max_hold_ns = hold;
	if (m->sink.lock_span) {
		struct ts_lock_span span = {
			.pid = r->pid, .tid = r->holder_tid, .lock_id = r->id, .lock_name = r->name,
			.task_id = r->holder_task, .wait_start_ns = r->wait_start_ns,
			.acquired_ns = r->acquired_ns, .released_ns = released,
		};

		m->sink.lock_span(m->sink.ctx, &span);
	}
	r->last_holder_task = r->holder_task;
	r->last_holder_tid = r->holder_tid;
	r->holder_task = 0;
	r->holder_tid = 0;
	r->acquired_ns = 0;
	r->wait_start_ns = 0;
	r->held_in_poll = false;
}

static void resource_new(struct ts_model *m, const struct ts_event *ev, struct ts_resource *r)
{
	if (ev->kind <= TS_RES_TIMER) {
		r->kind = ev->kind;
	} else {
		m->stats.bad_values++;
		r->kind = TS_RES_MUTEX;
	}
	if (ev->name)
		r->name = ev->name;
	if (ev->location)
		r->location = ev->location;
}

void ts_model_lock_apply(struct ts_model *m, const struct ts_event *ev, struct ts_thread *thr)
{
	struct ts_resource *r;
	struct who w;

	if (ev->type == TS_EV_RESOURCE_DROP) {
		r = ts_model_find_resource(m, ev->pid, ev->id);
		if (r)
			resource_remove(m, r);
		else
			m->stats.stale_events++;
		return;
	}
	r = resource_get(m, ev->pid, ev->id);
	if (!r) {
		m->stats.alloc_failures++;
		return;
	}
	w = who_of(m, ev, thr);
	switch (ev->type) {
	case TS_EV_RESOURCE_NEW:
		resource_new(m, ev, r);
		break;
	case TS_EV_LOCK_WAIT:
		lock_wait(m, ev, r, &w);
		break;
	case TS_EV_LOCK_ACQUIRED:
		lock_acquired(m, ev, r, &w);
		break;
	case TS_EV_LOCK_RELEASE:
		lock_release(m, ev, r);
		break;
	default:
		break;
	}
}

/* "task 17 'fetch', task 18 'store', thread 4242" for the first waiters of
 * `r`: the tasks (named, when the model knows them) and the threads that
 * wait outside a poll. */
static void format_waiters(struct ts_model *m, const struct ts_resource *r, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < r->wait_len && i < TS_RESOURCE_WAITERS_MAX && used < len; i++) {
		const struct ts_lock_waiter *w = &r->wait_list[i];
		const struct ts_task *t = w->task ? ts_model_find_task(m, r->pid, w->task) : NULL;
		int n;

		if (t && t->name[0])
			n = snprintf(buf + used, len - used, "%stask %llu '%s'", i ? ", " : "",
				     (unsigned long long)w->task, t->name);
		else if (w->task)
			n = snprintf(buf + used, len - used, "%stask %llu", i ? ", " : "",
				     (unsigned long long)w->task);
		else
			n = snprintf(buf + used, len - used, "%sthread %u", i ? ", " : "", w->tid);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (r->wait_len > TS_RESOURCE_WAITERS_MAX && used < len)
		snprintf(buf + used, len - used, " and %u more",
			 (unsigned)(r->wait_len - TS_RESOURCE_WAITERS_MAX));
}

/* Raise lock_held_across_await for the hold of `r` that a task kept
 * across an await: it names the holder task and the tasks waiting now;
 * its duration is the hold so far (or the whole hold when `released`). */
static void report_await(struct ts_model *m, struct ts_resource *r, uint64_t ts_ns, bool released)
{
	struct ts_task *task = ts_model_find_task(m, r->pid, r->await_task);
	char waiting[112], what[96], holder[64];

	format_waiters(m, r, waiting, sizeof(waiting));
	describe(r, what, sizeof(what));
	if (task && task->name[0])
		snprintf(holder, sizeof(holder), "task %llu '%s'", (unsigned long long)r->await_task,
			 task->name);
	else
		snprintf(holder, sizeof(holder), "task %llu", (unsigned long long)r->await_task);
	ts_model_warn(m, TS_WARN_LOCK_HELD_ACROSS_AWAIT, r->pid, r->await_tid, task, ts_ns,
		      ts_model_since(r->acquired_ns, ts_ns), "%s %s %s across await%s%s", holder, released ? "held" : "holds", what,
		      waiting[0] ? "; waiting: " : released ? "; nobody waited" : "", waiting);
	r->await_task = 0;
}

/* A poll returned pending holding a lock it took: that is reported as
 * soon as someone waits for the lock (naming them), or at its release
 * when nobody did; at once when tasks wait already. */
void ts_model_locks_check_await(struct ts_model *m, struct ts_task *task, uint32_t tid,
				uint64_t end_ns, bool ready)
{
	for (uint32_t i = 0; i < task->n_poll_locks; i++) {
		struct ts_resource *r = ts_model_find_resource(m, task->pid, task->poll_locks[i]);

		if (!r || !ts_lint_lock_held_across_await(&m->cfg.lints, task, r, ready))
			continue;
		r->await_task = task->id;
		r->await_tid = tid;
		if (r->wait_len)
			report_await(m, r, end_ns, false);
	}
}

void ts_model_locks_task_done(struct ts_model *m, struct ts_task *task)
{
	struct ts_resource *r;

	if (task->outer_waiting) {
		task->outer_waiting = false;
		r = ts_model_find_resource(m, task->pid, task->outer_wait_res);
		if (r)
			waiter_remove(r, task->id, 0, NULL);
	}
	if (!task->waiting)
		return;
	task->waiting = false;
	r = ts_model_find_resource(m, task->pid, task->wait_res);
	if (r)
		waiter_remove(r, task->id, 0, NULL);
}
