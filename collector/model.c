/*
 * model.c: the live model's bookkeeping: processes, threads, warnings,
 * event dispatch, the tick and the accessors. Task life cycle is in
 * model_tasks.c, resources and locks in model_locks.c.
 *
 * Semantics (what the numbers mean):
 *
 * Tasks are keyed by (pid, id). SPAWN creates a task SCHEDULED since its
 * spawn. A task first seen through another event (attach to a running
 * process, or a batch that overtook its spawn) is created on the fly with an
 * empty name and its waker count marked unknown; a later SPAWN fills in its
 * name and makes the count trustworthy again. A SPAWN for an id whose task
 * is done starts a new task; the old one stays in memory, unfindable, until
 * its retention ends.
 *
 * States: SCHEDULED (spawned or woken, waiting for a poll), RUNNING (inside
 * a poll), IDLE (returned pending and not woken since, or returned ready and
 * waiting for its drop), DONE (dropped). Each state's time goes to one
 * counter when the state ends: RUNNING -> busy_ns, SCHEDULED -> sched_ns,
 * IDLE -> idle_ns; ts_task_times() adds the open interval.
 *
 * POLL_BEGIN closes the current state; coming from SCHEDULED it records the
 * scheduling delay (poll start - the moment the task became SCHEDULED: its
 * spawn, its wake, or the end of the poll it was woken in) in sched_hist.
 * POLL_END adds the poll to busy_ns, polls, poll_hist and max_poll_ns,
 * emits a poll span and judges long_poll; then ready -> IDLE until the
 * drop, pending -> IDLE or, when the task was woken during the poll,
 * SCHEDULED; a pending poll that leaves a lock taken in it still held
 * raises lock_held_across_await. A drop in the middle of a poll closes the
 * poll (not ready). A POLL_END without a running poll is counted and
 * ignored.
 *
 * WAKE: wakes++; a self-wake when the waking thread is polling this very
 * task; by value it consumes a waker (wakers--). IDLE -> SCHEDULED; while
 * RUNNING it marks "woken during poll". WAKER_CLONE/WAKER_DROP move wakers
 * up/down. Nothing is clamped: wakers < 0 means events were lost, and
 * lost_waker never judges a task whose count is negative or unknown.
 *
 * Sources that cannot see every waker operation (tokio-bpf without waker
 * probes) send instead: WAKERS, the live waker count the runtime holds,
 * read while the task is idle: an idle task's wakers becomes that value and
 * is known from then on (their SPAWN has TS_EVF_WAKERS_UNKNOWN: unknown
 * until then); and an UNTIMED WAKE for a
 * wake whose time is unknown (tokio-bpf: a task polled again after a
 * pending poll it was not woken in; sent with that next poll's end). An untimed wake only counts (wakes++): it is never a
 * self-wake, it moves no waker count and no state, so the task stays IDLE
 * until the poll begins; the whole wait counts as idle_ns and no
 * scheduling delay is recorded (sched_ns and sched_hist hold measured
 * delays only: spawn to first poll, and wakes with a time).
 *
 * Time: events of one thread arrive in order, threads' batches may overlap a
 * little. An event older than the state it ends is applied as if it
 * happened when that state began (the interval counts 0, late_events++),
 * so durations never underflow and a wake that raced a poll's end still
 * reschedules the task. A wake older than the running poll's start is the
 * wake that poll consumed and does not reschedule it.
 *
 * Threads are keyed by (pid, tid); any event creates its thread (name "",
 * role other); thread_changed is sent on creation and on a name or role
 * change. Processes are created on the fly too. TS_EV_DROPPED adds to the
 * process's lost-event count; the tick raises one events_dropped warning
 * per process per tick when it grew.
 *
 * ts_model_tick(now): state lints (never_yielded, lost_waker, self_wakes:
 * once per task; blocked_worker: once per poll), drop reports, then done
 * tasks older than the retention are forgotten (after a last task_changed),
 * as are tasks seen only through stray events that were never polled and
 * heard nothing for a retention period, then task_changed for every task
 * changed since the last tick. Such never-polled stray tasks are not
 * reported through task_changed until they are polled or dropped.
 *
 * Memory is O(live + retained) objects: hash indexes with power-of-two
 * buckets and dense arrays with swap-remove; O(1) per event, tick O(objects).
 */
#include "collector/model_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ts_model_vec_reserve(void ***arr, size_t n, size_t *cap)
{
	void **grown;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	if (ncap > SIZE_MAX / sizeof(void *))
		return -ENOMEM;
	grown = realloc(*arr, ncap * sizeof(void *));
	if (!grown)
		return -ENOMEM;
	*arr = grown;
	*cap = ncap;
	return 0;
}

static uint64_t task_hash(const void *node)
{
	const struct ts_task *t = node;

	return ts_hashidx_hash(t->pid, t->id);
}

static uint64_t thread_hash(const void *node)
{
	const struct ts_thread *t = node;

	return ts_hashidx_hash(t->pid, t->tid);
}

static uint64_t res_hash(const void *node)
{
	const struct ts_resource *r = node;

	return ts_hashidx_hash(r->pid, r->id);
}

void ts_model_config_default(struct ts_model_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	ts_lint_config_default(&cfg->lints);
	cfg->retention_ns = 10ull * 1000000000ull;
	cfg->max_objects = TS_MODEL_MAX_OBJECTS;
}

int ts_model_new(const struct ts_model_config *cfg, const struct ts_model_sink *sink, struct ts_model **out)
{
	struct ts_model *m;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (cfg)
		m->cfg = *cfg;
	else
		ts_model_config_default(&m->cfg);
	if (m->cfg.max_objects == 0)
		m->cfg.max_objects = TS_MODEL_MAX_OBJECTS;
	if (sink)
		m->sink = *sink;
	r = ts_hashidx_init(&m->task_ix, offsetof(struct ts_task, hash_next), task_hash);
	if (r < 0)
		goto cleanup;
	r = ts_hashidx_init(&m->thread_ix, offsetof(struct ts_thread, hash_next), thread_hash);
	if (r < 0)
		goto cleanup;
	r = ts_hashidx_init(&m->res_ix, offsetof(struct ts_resource, hash_next), res_hash);
	if (r < 0)
		goto cleanup;
	*out = m;
	return 0;
cleanup:
	ts_model_free(m);
	return r;
}

static void process_free_strings(struct ts_process *p)
{
	free((char *)p->exe);
	free((char *)p->runtime);
	free((char *)p->source);
}

void ts_model_free(struct ts_model *m)
{
	if (!m)
		return;
	ts_model_tasks_free(m);
	ts_model_locks_free(m);
	ts_model_recent_free(m);
	for (size_t i = 0; i < m->n_threads; i++) {
		free(m->threads[i]->kernel);  /* model_kernel.c */
		free(m->threads[i]);
	}
	free(m->threads);
	for (size_t i = 0; i < m->n_procs; i++)
		process_free_strings(&m->procs[i]);
	free(m->procs);
	ts_hashidx_fini(&m->task_ix);
	ts_hashidx_fini(&m->thread_ix);
	ts_hashidx_fini(&m->res_ix);
	free(m);
}

/* ---- processes ---- */

static struct ts_process *process_find(struct ts_model *m, uint32_t pid)
{
	if (m->last_proc < m->n_procs && m->procs[m->last_proc].pid == pid)
		return &m->procs[m->last_proc];
	for (size_t i = 0; i < m->n_procs; i++) {
		if (m->procs[i].pid == pid) {
			m->last_proc = i;
			return &m->procs[i];
		}
	}
	return NULL;
}

static int set_string(const char **dst, const char *src)
{
	char *copy = strdup(src ? src : "");

	if (!copy)
		return -ENOMEM;
	free((char *)*dst);
	*dst = copy;
	return 0;
}

static struct ts_process *process_get(struct ts_model *m, uint32_t pid)
{
	struct ts_process *p = process_find(m, pid), *grown;

	if (p)
		return p;
	if (m->n_procs >= TS_MODEL_MAX_PROCS)
		return NULL;
	if (m->n_procs == m->cap_procs) {
		size_t ncap = m->cap_procs ? m->cap_procs * 2 : 4;

		grown = realloc(m->procs, ncap * sizeof(*grown));
		if (!grown)
			return NULL;
		m->procs = grown;
		m->cap_procs = ncap;
	}
	p = &m->procs[m->n_procs];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	if (set_string(&p->exe, "") < 0 || set_string(&p->runtime, "") < 0 ||
	    set_string(&p->source, "") < 0) {
		process_free_strings(p);
		return NULL;
	}
	m->last_proc = m->n_procs++;
	return p;
}

int ts_model_process_add(struct ts_model *m, uint32_t pid, const char *exe, const char *runtime,
			 const char *source, uint64_t started_ns)
{
	struct ts_process *p = process_get(m, pid);
	int r;

	if (!p)
		return -ENOMEM;
	r = set_string(&p->exe, exe);
	if (r == 0)
		r = set_string(&p->runtime, runtime);
	if (r == 0)
		r = set_string(&p->source, source);
	p->started_ns = started_ns;
	p->exited = false;
	return r;
}

void ts_model_process_exited(struct ts_model *m, uint32_t pid, uint64_t now_ns)
{
	struct ts_process *p = process_find(m, pid);

	if (p)
		p->exited = true;
	/* Its threads poll nothing any more; the tasks keep their last state
	 * (they are history now, and storage has them). */
	for (size_t i = 0; i < m->n_threads; i++) {
		struct ts_thread *t = m->threads[i];

		if (t->pid == pid && t->polling) {
			t->polling = false;
			t->current_task = 0;
			t->last_event_ns = now_ns > t->last_event_ns ? now_ns : t->last_event_ns;
			if (m->sink.thread_changed)
				m->sink.thread_changed(m->sink.ctx, t);
		}
	}
}

/* ---- threads ---- */

struct ts_thread *ts_model_find_thread(const struct ts_model *m, uint32_t pid, uint32_t tid)
{
	struct ts_thread *t = ts_hashidx_bucket(&m->thread_ix, ts_hashidx_hash(pid, tid));

	while (t && !(t->pid == pid && t->tid == tid))
		t = t->hash_next;
	return t;
}

struct ts_thread *ts_model_thread_get(struct ts_model *m, uint32_t pid, uint32_t tid)
{
	struct ts_thread *t = ts_model_find_thread(m, pid, tid);

	if (t)
		return t;
	if (m->n_threads >= TS_MODEL_MAX_THREADS ||
	    ts_model_vec_reserve((void ***)&m->threads, m->n_threads, &m->cap_threads) < 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->pid = pid;
	t->tid = tid;
	t->name = "";
	t->role = TS_ROLE_OTHER;
	t->index = (uint32_t)m->n_threads;
	m->threads[m->n_threads++] = t;
	(void)ts_hashidx_insert(&m->thread_ix, t); /* a failed growth only slows lookups */
	if (m->sink.thread_changed)
		m->sink.thread_changed(m->sink.ctx, t);
	return t;
}

static void thread_apply(struct ts_model *m, const struct ts_event *ev, struct ts_thread *t)
{
	uint32_t role = ev->kind;
	bool changed = false;

	if (role > TS_ROLE_BLOCKING) {
		m->stats.bad_values++;
		role = TS_ROLE_OTHER;
	}
	if (ev->name && strcmp(ev->name, t->name) != 0) {
		t->name = ev->name;  /* interned by the collector's strpool */
		changed = true;
	}
	if (role != t->role) {
		t->role = role;
		changed = true;
	}
	if (changed && m->sink.thread_changed)
		m->sink.thread_changed(m->sink.ctx, t);
}

/* ---- warnings ---- */

void ts_model_warn(struct ts_model *m, uint32_t kind, uint32_t pid, uint32_t tid,
		   struct ts_task *task, uint64_t ts_ns, uint64_t duration_ns, const char *fmt, ...)
{
	struct ts_warning *w;
	va_list ap;

	if (kind >= TS_WARN_KIND_COUNT || !(m->cfg.lints.enabled & (1u << kind)))
		return;
	w = &m->recent[m->recent_next];
	memset(w, 0, sizeof(*w));
	w->pid = pid;
	w->tid = tid;
	w->task_id = task ? task->id : 0;
	w->kind = kind;
	w->ts_ns = ts_ns;
	w->duration_ns = duration_ns;
	va_start(ap, fmt);
	vsnprintf(w->detail, sizeof(w->detail), fmt, ap);
	va_end(ap);
	m->recent_next = (m->recent_next + 1) % TS_MODEL_RECENT_WARNINGS;
	if (m->recent_count < TS_MODEL_RECENT_WARNINGS)
		m->recent_count++;
	m->warn_count[kind]++;
	if (task) {
		task->warnings |= 1u << kind;
		task->dirty = true;
	}
	if (m->sink.warning)
		m->sink.warning(m->sink.ctx, w);
}

/* ---- events ---- */

void ts_model_apply(struct ts_model *m, const struct ts_event *ev)
{
	struct ts_process *p;
	struct ts_thread *thr = NULL;

	m->stats.events++;
	p = process_get(m, ev->pid);
	if (!p) {
		m->stats.alloc_failures++;
		return;
	}
	p->events++;
	if (ev->type == 0 || ev->type > TS_EV_TYPE_MAX) {
		m->stats.unknown_types++;
		return;
	}
	if (ev->tid != 0) {
		thr = ts_model_thread_get(m, ev->pid, ev->tid);
		if (!thr) {
			m->stats.alloc_failures++;
			return;
		}
		if (ev->ts > thr->last_event_ns)
			thr->last_event_ns = ev->ts;
	}
	switch (ev->type) {
	case TS_EV_THREAD:
		if (thr)
			thread_apply(m, ev, thr);
		break;
	case TS_EV_SPAWN:
	case TS_EV_POLL_BEGIN:
	case TS_EV_POLL_END:
	case TS_EV_WAKE:
	case TS_EV_WAKER_CLONE:
	case TS_EV_WAKER_DROP:
	case TS_EV_TASK_DROP:
	case TS_EV_WAKERS:
		ts_model_task_apply(m, ev, thr);
		break;
	case TS_EV_RESOURCE_NEW:
	case TS_EV_RESOURCE_DROP:
	case TS_EV_LOCK_WAIT:
	case TS_EV_LOCK_ACQUIRED:
	case TS_EV_LOCK_RELEASE:
		ts_model_lock_apply(m, ev, thr);
		break;
	case TS_EV_DROPPED:
		p->dropped = p->dropped + ev->arg < p->dropped ? UINT64_MAX : p->dropped + ev->arg;
		m->dropped = m->dropped + ev->arg < m->dropped ? UINT64_MAX : m->dropped + ev->arg;
		break;
	case TS_EV_TASK_SNAPSHOT:
		ts_model_task_apply(m, ev, thr);
		break;
	case TS_EV_OFFCPU:
	case TS_EV_SYSCALL:
	case TS_EV_LOOP_ITER:
	case TS_EV_STACK:
	case TS_EV_CPU_SAMPLE:
		ts_model_kernel_apply(m, ev, thr);   /* model_kernel.c */
		break;
	}
}

void ts_model_blocked_check(struct ts_model *m, struct ts_thread *t, uint64_t now_ns, uint64_t until_ns)
{
	struct ts_task *task;
	char took[32], limit[32], state[TS_WARNING_DETAIL_MAX];

	if (t->blocked_warned || !ts_lint_blocked_worker(&m->cfg.lints, t, now_ns))
		return;
	task = ts_model_find_task(m, t->pid, t->current_task);
	if (task && task->kind == TS_KIND_BLOCKING)
		return; /* a blocking task is expected to block its thread */
	t->blocked_warned = true;
	ts_warning_format_duration(took, sizeof(took), now_ns - t->poll_started_ns);
	ts_warning_format_duration(limit, sizeof(limit), m->cfg.lints.blocked_worker_ns);
	/* with kernel context: on/off CPU and the sampled stack, in
	 * place of the threshold (the detail is short) */
	ts_model_kernel_thread_state(m, t, until_ns, state, sizeof(state));
	ts_model_warn(m, TS_WARN_BLOCKED_WORKER, t->pid, t->tid, task, now_ns,
		      now_ns - t->poll_started_ns,
		      "thread %u '%s' stuck in one poll of task %llu '%s' for %s%s%s%s",
		      t->tid, t->name, (unsigned long long)t->current_task,
		      task ? task->name : "", took, state[0] ? "" : " (threshold ",
		      state[0] ? state : limit, state[0] ? "" : ")");
}

static void threads_tick(struct ts_model *m, uint64_t now_ns)
{
	for (size_t i = 0; i < m->n_threads; i++)
		ts_model_blocked_check(m, m->threads[i], now_ns, UINT64_MAX);
}

static void drops_tick(struct ts_model *m, uint64_t now_ns)
{
	for (size_t i = 0; i < m->n_procs; i++) {
		struct ts_process *p = &m->procs[i];
		uint64_t fresh;

		if (p->dropped <= p->dropped_reported)
			continue;
		fresh = p->dropped - p->dropped_reported;
		p->dropped_reported = p->dropped;
		if (ts_lint_events_dropped(&m->cfg.lints, fresh))
			ts_model_warn(m, TS_WARN_EVENTS_DROPPED, p->pid, 0, NULL, now_ns, 0,
				      "%llu events dropped by the target's rings (total %llu)",
				      (unsigned long long)fresh, (unsigned long long)p->dropped);
	}
}

void ts_model_tick(struct ts_model *m, uint64_t now_ns)
{
	threads_tick(m, now_ns);
	drops_tick(m, now_ns);
	ts_model_tasks_tick(m, now_ns);
}

void ts_model_flush(struct ts_model *m)
{
	for (size_t i = 0; i < m->n_tasks; i++) {
		struct ts_task *t = m->tasks[i];

		if (m->sink.task_changed)
			m->sink.task_changed(m->sink.ctx, t);
		t->dirty = false;
	}
}

/* ---- accessors ---- */

struct ts_task *const *ts_model_tasks(const struct ts_model *m, size_t *count)
{
	*count = m->n_tasks;
	return m->tasks;
}

struct ts_thread *const *ts_model_threads(const struct ts_model *m, size_t *count)
{
	*count = m->n_threads;
	return m->threads;
}

struct ts_resource *const *ts_model_resources(const struct ts_model *m, size_t *count)
{
	*count = m->n_res;
	return m->res;
}

const struct ts_process *ts_model_processes(const struct ts_model *m, size_t *count)
{
	*count = m->n_procs;
	return m->procs;
}

size_t ts_model_recent_warnings(const struct ts_model *m, const struct ts_warning **out, size_t max)
{
	size_t n = m->recent_count < max ? m->recent_count : max;
	/* the oldest of the n most recent */
	size_t start = (m->recent_next + TS_MODEL_RECENT_WARNINGS - n) % TS_MODEL_RECENT_WARNINGS;

	for (size_t i = 0; i < n; i++)
		out[i] = &m->recent[(start + i) % TS_MODEL_RECENT_WARNINGS];
	return n;
}

uint64_t ts_model_warning_count(const struct ts_model *m, uint32_t kind)
{
	return kind < TS_WARN_KIND_COUNT ? m->warn_count[kind] : 0;
}

uint64_t ts_model_events(const struct ts_model *m)
{
	return m->stats.events;
}

uint64_t ts_model_dropped(const struct ts_model *m)
{
	return m->dropped;
}

void ts_model_stats(const struct ts_model *m, struct ts_model_stats *out)
{
	*out = m->stats;
}

const struct ts_model_config *ts_model_config(const struct ts_model *m)
{
	return &m->cfg;
}
