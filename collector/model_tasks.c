/*
 * model_tasks.c: the task life cycle (spawn, polls, wakes, wakers, drop),
 * the per-task state lints and the retention of done tasks. The semantics
 * are written down at the top of model.c; this file implements them.
 *
 * Snapshots (TS_EV_TASK_SNAPSHOT: a task alive when a collector attached
 * to a running shim) have their own rules, because the same task can also
 * reach us through its spawn and other events, in either order:
 *  - an unknown id creates the task in the snapshot's state (running,
 *    scheduled or idle), spawned at the snapshot's time, with its name,
 *    location and kind; its live-waker count is 0 when the snapshot says
 *    no waker is held (so lost_waker can judge it) and unknown otherwise;
 *  - a task known from its spawn is never changed, except that an empty
 *    name or location is filled in;
 *  - a task created on the fly by events since the attach gets its name,
 *    location and kind; its state, counters and waker count stay what the
 *    events made them;
 *  - a spawn that arrives after the snapshot for a live snapshot task is
 *    that task's spawn (the runtime reported it while the snapshot ran):
 *    it fills the task in, it does not start a second one;
 *  - a task the snapshot saw running (thread unknown) whose next event is
 *    a poll begin: that poll is the one the snapshot saw or a later one;
 *    the time since the snapshot counts as busy, no poll is counted twice.
 */
#include "collector/model_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ts_task *ts_model_find_task(const struct ts_model *m, uint32_t pid, uint64_t id)
{
	struct ts_task *t = ts_hashidx_bucket(&m->task_ix, ts_hashidx_hash(pid, id));

	while (t && !(t->pid == pid && t->id == id))
		t = t->hash_next;
	return t;
}

static struct ts_task *task_new(struct ts_model *m, uint32_t pid, uint64_t id, uint64_t ts)
{
	struct ts_task *t;

	if (m->n_tasks >= m->cfg.max_objects ||
	    ts_model_vec_reserve((void ***)&m->tasks, m->n_tasks, &m->cap_tasks) < 0)
		return NULL;
	if (m->free_tasks) {
		t = m->free_tasks;
		m->free_tasks = t->hash_next;
		m->n_free_tasks--;
		memset(t, 0, sizeof(*t));
	} else {
		t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
	}
	/* calloc/memset left the histograms, counters and flags at zero */
	t->pid = pid;
	t->id = id;
	t->life = ++m->lives;
	t->name = "";
	t->location = "";
	t->kind = TS_KIND_TASK;
	t->state = TS_TASK_SCHEDULED;
	t->outcome = TS_OUTCOME_RUNNING;
	t->spawned_ns = ts;
	t->state_since_ns = ts;
	t->last_event_ns = ts;
	t->dirty = true;
	t->hashed = true;
	t->index = (uint32_t)m->n_tasks;
	m->tasks[m->n_tasks++] = t;
	(void)ts_hashidx_insert(&m->task_ix, t); /* a failed growth only slows lookups */
	return t;
}

static void task_unhash(struct ts_model *m, struct ts_task *t)
{
	if (t->hashed) {
		ts_hashidx_remove(&m->task_ix, t);
		t->hashed = false;
	}
}

static void task_remove(struct ts_model *m, struct ts_task *t)
{
	struct ts_task *last = m->tasks[m->n_tasks - 1];

	task_unhash(m, t);
	m->tasks[t->index] = last;
	last->index = t->index;
	m->n_tasks--;
	if (m->n_free_tasks < TS_MODEL_FREE_TASKS_MAX) {
		t->hash_next = m->free_tasks;
		m->free_tasks = t;
		m->n_free_tasks++;
	} else {
		free(t);
	}
}

void ts_model_tasks_free(struct ts_model *m)
{
	for (size_t i = 0; i < m->n_tasks; i++)
		free(m->tasks[i]);
	free(m->tasks);
	m->tasks = NULL;
	m->n_tasks = m->cap_tasks = 0;
	while (m->free_tasks) {
		struct ts_task *next = m->free_tasks->hash_next;

		free(m->free_tasks);
		m->free_tasks = next;
	}
	m->n_free_tasks = 0;
}

/* The effective time of an event that ends the task's current state: never
 * before that state began (see "Time" in model.c). */
static uint64_t effective(struct ts_model *m, const struct ts_task *t, uint64_t ts)
{
	if (ts >= t->state_since_ns)
		return ts;
	m->stats.late_events++;
	return t->state_since_ns;
}

/* Close the open SCHEDULED or IDLE interval at `end` (>= state_since). */
static void close_waiting(struct ts_task *t, uint64_t end, bool record_sched)
{
	uint64_t d = end - t->state_since_ns;

	if (t->state == TS_TASK_SCHEDULED) {
		t->sched_ns += d;
		if (record_sched)
			ts_histogram_record(&t->sched_hist, d);
	} else if (t->state == TS_TASK_IDLE) {
		t->idle_ns += d;
	}
}

/* End the running poll at `ts`: account it, emit its span, judge it.
 * Returns the effective end. The caller sets the next state. */
static uint64_t poll_close(struct ts_model *m, struct ts_task *t, uint64_t ts, bool ready)
{
	uint64_t end = effective(m, t, ts), dur = end - t->state_since_ns;
	struct ts_thread *thr = t->poll_tid ? ts_model_find_thread(m, t->pid, t->poll_tid) : NULL;

	t->busy_ns += dur;
	t->polls++;
	ts_histogram_record(&t->poll_hist, dur);
	if (dur > t->max_poll_ns)
		t->max_poll_ns = dur;
	if (thr && thr->polling && thr->current_task == t->id) {
		/* A poll that outlasted the blocked-worker threshold between two
		 * ticks, or while the collector fell behind (a drain that loaded
		 * a large binary's DWARF for a stack took 100+ ms): judged now,
		 * stamped when it crossed the threshold. */
		uint64_t limit = m->cfg.lints.blocked_worker_ns;

		if (!thr->blocked_warned && end >= thr->poll_started_ns && end - thr->poll_started_ns >= limit)
			ts_model_blocked_check(m, thr, thr->poll_started_ns + limit, end);
		thr->polling = false;
		thr->current_task = 0;
		thr->busy_ns += dur;
		thr->polls++;
		thr->blocked_warned = false;
	}
	{
		struct ts_poll_span span = {
			.pid = t->pid, .tid = t->poll_tid, .task_id = t->id,
			.start_ns = t->state_since_ns, .end_ns = end, .ready = ready,
			.on_cpu_ns = ts_model_kernel_poll_end(m, t, thr, t->state_since_ns, end),
		};

		ts_model_recent_poll_add(m, &span);
		if (m->sink.poll_span)
			m->sink.poll_span(m->sink.ctx, &span);
	}
	if (t->kind != TS_KIND_BLOCKING && ts_lint_long_poll(&m->cfg.lints, dur)) {
		char took[32], limit[32];

		ts_warning_format_duration(took, sizeof(took), dur);
		ts_warning_format_duration(limit, sizeof(limit), m->cfg.lints.long_poll_ns);
		ts_model_warn(m, TS_WARN_LONG_POLL, t->pid, t->poll_tid, t, end, dur,
			      "poll took %s (threshold %s)", took, limit);
	}
	t->poll_tid = 0;
	t->state_since_ns = end;
	return end;
}

static uint32_t valid_or(struct ts_model *m, uint32_t v, uint32_t max, uint32_t fallback)
{
	if (v <= max)
		return v;
	m->stats.bad_values++;
	return fallback;
}

/* Mark a task done at `end` (its current interval already closed). */
static void task_finish(struct ts_model *m, struct ts_task *t, uint64_t end, uint32_t outcome)
{
	t->state = TS_TASK_DONE;
	t->state_since_ns = end;
	t->dropped_ns = end;
	t->outcome = outcome;
	t->poll_tid = 0;
	t->woken_in_poll = false;
	t->n_poll_locks = 0;
	ts_model_locks_task_done(m, t);
}

/* End a task's life at `ts`: close its open poll or waiting interval, then
 * mark it done. Returns the end time actually used. */
static uint64_t task_end(struct ts_model *m, struct ts_task *t, uint64_t ts, uint32_t outcome)
{
	uint64_t end;

	if (t->state == TS_TASK_RUNNING) {
		end = poll_close(m, t, ts, false);
	} else {
		end = effective(m, t, ts);
		close_waiting(t, end, false);
	}
	task_finish(m, t, end, outcome);
	return end;
}

static void spawn(struct ts_model *m, const struct ts_event *ev)
{
	struct ts_task *t = ts_model_find_task(m, ev->pid, ev->id);
	uint32_t kind = valid_or(m, ev->kind, TS_KIND_LOCAL, TS_KIND_TASK);

	/* It overtook its spawn (or we attached mid-flight): fill it in. A
	 * done implicit task is this spawn's task too when the spawn is older
	 * than its first event: its whole life was drained before its spawn. */
	if (t && (t->implicit || t->snapshot) && (t->state != TS_TASK_DONE || ev->ts <= t->spawned_ns)) {
		/* A snapshot's waker count stays as it was: what it said plus the
		 * events since, unknown if it was. */
		if (!t->snapshot)
			t->wakers_unknown = false;
		t->implicit = false;
		t->snapshot = false;
		if (ev->ts < t->spawned_ns) {
			/* it was scheduled from its spawn to the first event we
			 * saw; keep busy + sched + idle == its lifetime */
			if (t->state == TS_TASK_SCHEDULED && t->polls == 0 && t->sched_ns == 0)
				t->state_since_ns = ev->ts;
			else
				t->sched_ns += t->spawned_ns - ev->ts;
			t->spawned_ns = ev->ts;
		}
		goto fill;
	}
	if (t) {
		m->stats.reused_ids++;
		if (t->state != TS_TASK_DONE) {
			/* its drop was lost: it ended some time before this spawn */
			task_end(m, t, ev->ts, TS_OUTCOME_RUNNING);
			t->dirty = true;
		}
		task_unhash(m, t);
	}
	t = task_new(m, ev->pid, ev->id, ev->ts);
	if (!t) {
		m->stats.alloc_failures++;
		return;
	}
fill:
	if (ev->flags & TS_EVF_WAKERS_UNKNOWN)
		t->wakers_unknown = true;  /* until the source reads it (model.c) */
	t->parent = ev->arg;
	t->kind = kind;
	if (ev->name)
		t->name = ev->name;
	if (ev->location)
		t->location = ev->location;
	t->dirty = true;
}

/* A task that exists from a snapshot (or whose spawn came in after it). */
static void snapshot(struct ts_model *m, const struct ts_event *ev)
{
	struct ts_task *t = ts_model_find_task(m, ev->pid, ev->id);
	uint32_t kind = valid_or(m, ev->kind, TS_KIND_LOCAL, TS_KIND_TASK);
	uint32_t state = valid_or(m, ev->arg > TS_TASK_IDLE ? UINT32_MAX : (uint32_t)ev->arg, TS_TASK_IDLE,
				  TS_TASK_SCHEDULED);

	if (t) {
		if (t->implicit) {
			t->implicit = false;
			t->snapshot = true;
			t->kind = kind;
		}
		if (!t->name[0] && ev->name)
			t->name = ev->name;
		if (!t->location[0] && ev->location)
			t->location = ev->location;
		t->dirty = true;
		return;
	}
	t = task_new(m, ev->pid, ev->id, ev->ts);
	if (!t) {
		m->stats.alloc_failures++;
		return;
	}
	t->snapshot = true;
	t->kind = kind;
	if (ev->name)
		t->name = ev->name;
	if (ev->location)
		t->location = ev->location;
	t->state = state;
	if (state == TS_TASK_RUNNING)
		t->poll_start_ns = ev->ts; /* poll_tid stays 0: the thread is unknown */
	t->wakers = ev->flags & TS_EVF_WAKER_HELD ? 1 : 0;
	t->wakers_unknown = ev->flags & TS_EVF_WAKER_HELD;
}

static void poll_begin(struct ts_model *m, const struct ts_event *ev, struct ts_task *t,
		       struct ts_thread *thr)
{
	uint64_t start;

	if (t->state == TS_TASK_RUNNING && t->snapshot && t->poll_tid == 0) {
		/* the snapshot saw it running somewhere: see the top of the file */
		start = effective(m, t, ev->ts);
		t->busy_ns += start - t->state_since_ns;
		t->state = TS_TASK_IDLE;
		t->state_since_ns = start;
	}
	if (t->state == TS_TASK_RUNNING) {
		/* the previous poll's end was lost; it ends where this one starts */
		m->stats.lost_poll_ends++;
		poll_close(m, t, ev->ts, false);
		t->state = TS_TASK_IDLE;
	}
	start = effective(m, t, ev->ts);
	close_waiting(t, start, true);
	t->state = TS_TASK_RUNNING;
	t->state_since_ns = start;
	t->poll_start_ns = start;
	t->poll_tid = ev->tid;
	t->woken_in_poll = false;
	t->completed = false;
	t->n_poll_locks = 0;
	if (thr) {
		thr->polling = true;
		thr->current_task = t->id;
		thr->poll_started_ns = start;
		thr->blocked_warned = false;
		ts_model_kernel_poll_begin(m, thr);
	}
}

static void poll_end(struct ts_model *m, const struct ts_event *ev, struct ts_task *t)
{
	bool ready = ev->flags & TS_EVF_READY;
	uint32_t tid = t->poll_tid;
	uint64_t end;

	if (t->state != TS_TASK_RUNNING) {
		m->stats.unmatched_poll_ends++;
		return;
	}
	if (tid == 0)
		t->poll_tid = tid = ev->tid; /* a poll the snapshot saw: now we know where */
	end = poll_close(m, t, ev->ts, ready);
	if (ready) {
		t->state = TS_TASK_IDLE;
		t->completed = true;
	} else {
		t->state = t->woken_in_poll ? TS_TASK_SCHEDULED : TS_TASK_IDLE;
	}
	t->woken_in_poll = false;
	ts_model_locks_check_await(m, t, tid, end, ready);
	t->n_poll_locks = 0;
}

static void wake(struct ts_model *m, const struct ts_event *ev, struct ts_task *t,
		 struct ts_thread *thr)
{
	uint64_t at;

	t->wakes++;
	if (ev->flags & TS_EVF_UNTIMED)
		return; /* counted only: when it happened is unknown (see model.c) */
	if (thr && thr->polling && thr->current_task == t->id)
		t->self_wakes++;
	if (!(ev->flags & TS_EVF_BY_REF))
		t->wakers--;
	if (ev->ts > t->last_wake_ns)
		t->last_wake_ns = ev->ts;
	switch (t->state) {
	case TS_TASK_RUNNING:
		/* a wake older than this poll is the one the poll consumed */
		if (ev->ts >= t->state_since_ns)
			t->woken_in_poll = true;
		break;
	case TS_TASK_IDLE:
		if (t->completed)
			break;
		if (t->polls > 0 && ev->ts < t->poll_start_ns)
			break; /* consumed by the last poll, reported late */
		/* A wake during the last poll that reached us after its end
		 * lands at the end of that poll. */
		at = effective(m, t, ev->ts);
		close_waiting(t, at, false);
		t->state = TS_TASK_SCHEDULED;
		t->state_since_ns = at;
		break;
	default:
		break;
	}
}

static void task_drop(struct ts_model *m, const struct ts_event *ev, struct ts_task *t)
{
	uint32_t outcome = valid_or(m, ev->kind, TS_OUTCOME_PANICKED, TS_OUTCOME_OK);
	uint64_t end = task_end(m, t, ev->ts, outcome);

	if (ts_lint_task_panicked(&m->cfg.lints, t))
		ts_model_warn(m, TS_WARN_TASK_PANICKED, t->pid, ev->tid, t, end, 0,
			      "task %llu '%s' (%s) panicked after %llu poll%s",
			      (unsigned long long)t->id, t->name, t->location,
			      (unsigned long long)t->polls, t->polls == 1 ? "" : "s");
}

void ts_model_task_apply(struct ts_model *m, const struct ts_event *ev, struct ts_thread *thr)
{
	struct ts_task *t;

	if (ev->type == TS_EV_SPAWN) {
		spawn(m, ev);
		return;
	}
	if (ev->type == TS_EV_TASK_SNAPSHOT) {
		snapshot(m, ev);
		return;
	}
	t = ts_model_find_task(m, ev->pid, ev->id);
	if (ev->type == TS_EV_WAKERS) {
		/* the runtime's own count, read while the task was idle (model.c) */
		if (t && t->state == TS_TASK_IDLE && !t->completed) {
			t->wakers = ev->arg > INT64_MAX ? INT64_MAX : (int64_t)ev->arg;
			t->wakers_unknown = false;
			t->dirty = true;
		}
		return;
	}
	if (!t && ev->type == TS_EV_POLL_END) {
		m->stats.unmatched_poll_ends++;  /* no poll to end: nothing to learn */
		return;
	}
	if (!t) {
		t = task_new(m, ev->pid, ev->id, ev->ts);
		if (!t) {
			m->stats.alloc_failures++;
			return;
		}
		t->implicit = true;
		t->wakers_unknown = true;
		m->stats.tasks_created_implicitly++;
	}
	if (ev->ts > t->last_event_ns)
		t->last_event_ns = ev->ts;
	t->dirty = true;
	switch (ev->type) {
	case TS_EV_WAKE:
		wake(m, ev, t, thr);
		return;
	case TS_EV_WAKER_CLONE:
		t->wakers++;
		t->waker_clones++;
		return;
	case TS_EV_WAKER_DROP:
		t->wakers--;
		t->waker_drops++;
		return;
	default:
		break;
	}
	if (t->state == TS_TASK_DONE) {
		m->stats.stale_events++;
		return;
	}
	if (ev->type == TS_EV_POLL_BEGIN)
		poll_begin(m, ev, t, thr);
	else if (ev->type == TS_EV_POLL_END)
		poll_end(m, ev, t);
	else if (ev->type == TS_EV_TASK_DROP)
		task_drop(m, ev, t);
}

/* A task seen only through stray events (a waker dropped after its task
 * was forgotten, say) that was never polled: not worth reporting. */
static bool is_stray(const struct ts_task *t)
{
	return t->implicit && t->polls == 0 && t->state != TS_TASK_RUNNING &&
	       t->state != TS_TASK_DONE;
}

static void state_lints(struct ts_model *m, struct ts_task *t, uint64_t now)
{
	const struct ts_lint_config *cfg = &m->cfg.lints;
	char a[32], b[32];

	if (!(t->warnings & (1u << TS_WARN_NEVER_YIELDED)) && t->kind != TS_KIND_BLOCKING &&
	    ts_lint_never_yielded(cfg, t, now)) {
		ts_warning_format_duration(a, sizeof(a), now - t->state_since_ns);
		ts_warning_format_duration(b, sizeof(b), cfg->never_yielded_ns);
		ts_model_warn(m, TS_WARN_NEVER_YIELDED, t->pid, t->poll_tid, t, now,
			      now - t->state_since_ns,
			      "one poll has been running for %s without yielding (threshold %s)", a, b);
	}
	if (!(t->warnings & (1u << TS_WARN_LOST_WAKER)) && ts_lint_lost_waker(cfg, t, now)) {
		ts_warning_format_duration(a, sizeof(a), now - t->state_since_ns);
		ts_warning_format_duration(b, sizeof(b), cfg->lost_waker_grace_ns);
		ts_model_warn(m, TS_WARN_LOST_WAKER, t->pid, 0, t, now, now - t->state_since_ns,
			      "idle for %s with no waker left (grace %s): nothing can wake it", a, b);
	}
	if (!(t->warnings & (1u << TS_WARN_SELF_WAKES)) && ts_lint_self_wakes(cfg, t)) {
		ts_model_warn(m, TS_WARN_SELF_WAKES, t->pid, 0, t, now, 0,
			      "%llu of %llu wakes (%.0f%%) were self-wakes (threshold %.0f%%)",
			      (unsigned long long)t->self_wakes, (unsigned long long)t->wakes,
			      100.0 * (double)t->self_wakes / (double)t->wakes,
			      100.0 * cfg->self_wake_ratio);
	}
}

void ts_model_tasks_tick(struct ts_model *m, uint64_t now)
{
	uint64_t keep = m->cfg.retention_ns;
	size_t i = 0;

	while (i < m->n_tasks) {
		struct ts_task *t = m->tasks[i];

		if (t->state != TS_TASK_DONE) {
			state_lints(m, t, now);
			if (is_stray(t) && ts_model_since(t->last_event_ns, now) >= keep) {
				m->stats.ghosts_evicted++;
				task_remove(m, t);   /* never reported: nothing to finish */
				continue;            /* the last task moved into slot i */
			}
		} else if (ts_model_since(t->dropped_ns, now) >= keep) {
			if (t->dirty && m->sink.task_changed)
				m->sink.task_changed(m->sink.ctx, t);
			m->stats.tasks_evicted++;
			task_remove(m, t);
			continue;
		}
		if (t->dirty && !is_stray(t)) {
			if (m->sink.task_changed)
				m->sink.task_changed(m->sink.ctx, t);
			t->dirty = false;
		}
		i++;
	}
}

void ts_task_times(const struct ts_task *t, uint64_t now_ns, uint64_t *total, uint64_t *busy,
		   uint64_t *sched, uint64_t *idle)
{
	uint64_t end = t->state == TS_TASK_DONE ? t->dropped_ns : now_ns;
	uint64_t open = t->state == TS_TASK_DONE ? 0 : ts_model_since(t->state_since_ns, end);

	if (total)
		*total = ts_model_since(t->spawned_ns, end);
	if (busy)
		*busy = t->busy_ns + (t->state == TS_TASK_RUNNING ? open : 0);
	if (sched)
		*sched = t->sched_ns + (t->state == TS_TASK_SCHEDULED ? open : 0);
	if (idle)
		*idle = t->idle_ns + (t->state == TS_TASK_IDLE ? open : 0);
}

const char *ts_task_state_name(uint32_t state)
{
	static const char *const names[] = { "running", "scheduled", "idle", "done" };

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}
