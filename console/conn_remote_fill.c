/*
 * conn_remote_fill.c: the console state from the remote conn's mirror
 * (conn_remote.h).
 *
 * The same rows the live conn makes: task times by ts_task_times()'s rules
 * (ts_remote_task_times) at the collector's time, estimated as the last
 * update's now plus the local time since it arrived (the collector is on
 * this machine: a Unix socket or loopback, one CLOCK_MONOTONIC). The
 * details' histograms and recent polls come only for the task this console
 * asked for (ts_remote_link_focus), a moment after the details open.
 */
#include "console/conn_remote.h"
#include "console/conn_remote_internal.h"

#include <string.h>

#include "collector/event.h"
#include "collector/model.h"

#define BLOCKED_WORKER_NS 100000000ull

static unsigned popcount32(uint32_t v)
{
	unsigned n = 0;

	for (; v; v &= v - 1)
		n++;
	return n;
}

static void fill_row(struct ts_row *row, const struct ts_remote_task *t, uint64_t now)
{
	memset(row, 0, sizeof(*row));
	row->id = t->id;
	row->pid = t->pid;
	row->state = t->state < TS_STATE_NSTATES ? (uint8_t)t->state : TS_TASK_DONE;
	row->kind = (uint8_t)t->kind;
	row->outcome = (uint8_t)t->outcome;
	row->warn_bits = t->warnings;
	row->nwarn = (uint8_t)popcount32(t->warnings);
	row->parent = t->parent;
	row->name = t->name ? t->name : "";
	row->location = t->location ? t->location : "";
	row->fields = "";
	ts_remote_task_times(t, now, &row->total_ns, &row->busy_ns, &row->sched_ns, &row->idle_ns);
	row->polls = t->polls;
}

static const char *task_name(const struct ts_conn_remote *r, uint32_t pid, uint64_t id)
{
	const struct ts_remote_task *t = id ? ts_conn_remote_find_task(r, pid, id) : NULL;

	return t && t->name ? t->name : "";
}

static int fill_workers(struct ts_conn_remote *r, struct ts_state *s, uint64_t now)
{
	int rc = ts_state_reserve_workers(s, r->threads.n);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < r->threads.n; i++) {
		const struct ts_thread *t = obj_at(&r->threads, i);
		struct ts_worker_row *row = &s->workers[s->nworkers];
		uint64_t busy = t->busy_ns;

		memset(row, 0, sizeof(*row));
		row->pid = t->pid;
		row->tid = t->tid;
		row->role = (uint8_t)t->role;
		row->name = t->name ? t->name : "";
		row->polls = t->polls;
		row->current_name = "";
		row->state = TS_WORKER_IDLE;
		if (t->polling) {
			row->state = TS_WORKER_POLLING;
			row->current_task = t->current_task;
			row->current_name = task_name(r, t->pid, t->current_task);
			row->in_poll_ns = now > t->poll_started_ns ? now - t->poll_started_ns : 0;
			busy += row->in_poll_ns;
			if (row->in_poll_ns >= BLOCKED_WORKER_NS)
				row->state = TS_WORKER_BLOCKED;
		}
		row->stalled = ts_state_worker_stalled(s, t->pid, t->tid, now);
		ts_state_worker_sample(row, ts_state_prev_worker(s, s->nworkers, t->pid, t->tid), busy, 0, now);
		s->nworkers++;
	}
	return 0;
}

static int fill_resources(struct ts_conn_remote *r, struct ts_state *s, uint64_t now)
{
	int rc = ts_state_reserve_resources(s, r->res.n);

	if (rc < 0)
		return rc;
	s->nres = 0;
	for (size_t i = 0; i < r->res.n; i++) {
		const struct ts_remote_res *x = obj_at(&r->res, i);
		struct ts_res_row *row = &s->resources[s->nres++];

		memset(row, 0, sizeof(*row));
		row->id = x->id;
		row->pid = x->pid;
		row->kind = (uint8_t)x->kind;
		row->name = x->name ? x->name : "";
		row->location = x->location ? x->location : "";
		row->holder_task = x->holder_task;
		row->holder_tid = x->holder_tid;
		row->holders = x->holders;
		if (x->holder_tid || x->holders)
			row->held_ns = now > x->acquired_ns ? now - x->acquired_ns : 0;
		row->waiters = x->waiters;
		for (uint32_t k = 0; k < x->waiters && k < TS_RES_WAITERS_SHOWN; k++)
			row->waiting_tasks[k] = x->waiting_tasks[k];
		row->acquisitions = x->acquisitions;
		row->contentions = x->contentions;
		row->wait_p99_ns = x->wait_p99_ns ? x->wait_p99_ns : TS_UNKNOWN;
		row->hold_p99_ns = x->hold_p99_ns ? x->hold_p99_ns : TS_UNKNOWN;
		row->max_hold_ns = x->max_hold_ns;
	}
	return 0;
}

static void fill_detail(struct ts_conn_remote *r, struct ts_state *s, uint64_t now)
{
	struct ts_task_detail *d = &s->detail;
	const struct ts_remote_task *t = ts_conn_remote_find_task(r, s->detail_pid, s->detail_id);

	if (!t)
		return;                 /* gone from the collector: keep the last copy */
	memset(d, 0, sizeof(*d));
	d->valid = true;
	fill_row(&d->row, t, now);
	d->spawned_ns = t->spawned_ns;
	d->dropped_ns = t->dropped_ns;
	d->state_since_ns = t->state_since_ns;
	d->last_wake_ns = t->last_wake_ns;
	d->wakes = t->wakes;
	d->self_wakes = t->self_wakes;
	d->waker_clones = t->waker_clones;
	d->waker_drops = t->waker_drops;
	d->wakers = t->wakers;
	d->max_poll_ns = t->max_poll_ns;
	d->poll_tid = t->poll_tid;
	d->have_hists = false;
	if (r->detail.valid && r->detail.pid == t->pid && r->detail.id == t->id) {
		/* the collector sent them for this task (ts_conn_remote_focus) */
		d->have_hists = true;
		d->poll_hist = r->detail.poll_hist;
		d->sched_hist = r->detail.sched_hist;
		memcpy(d->polls, r->detail.polls, r->detail.npolls * sizeof(d->polls[0]));
		d->npolls = r->detail.npolls;
		if (t->state == TS_TASK_RUNNING && d->npolls < TS_DETAIL_POLLS) {
			struct ts_detail_poll *p = &d->polls[d->npolls++];

			memset(p, 0, sizeof(*p));
			p->start_ns = t->state_since_ns;
			p->end_ns = now > t->state_since_ns ? now : t->state_since_ns;
			p->on_cpu_ns = -1;
			p->tid = t->poll_tid;
			p->running = true;
		}
	}
	ts_detail_collect_warnings(d, s, t->pid, t->id, 0);
	for (size_t i = 0; i < r->res.n && d->nlocks < TS_DETAIL_LOCKS; i++) {
		const struct ts_remote_res *x = obj_at(&r->res, i);
		bool holds = x->pid == t->pid && x->holder_task == t->id && (x->holder_tid || x->holders);
		bool waits = false;
		struct ts_detail_lock *l;

		for (uint32_t k = 0; !holds && x->pid == t->pid && k < x->waiters && k < TS_RES_WAITERS_SHOWN; k++)
			waits |= x->waiting_tasks[k] == t->id;
		if (!holds && !waits)
			continue;
		l = &d->locks[d->nlocks++];
		l->id = x->id;
		l->kind = (uint8_t)x->kind;
		l->waits = waits;
		l->name = x->name ? x->name : "";
		l->location = x->location ? x->location : "";
		l->since_ns = holds && now > x->acquired_ns ? now - x->acquired_ns : TS_UNKNOWN;
	}
}

int ts_conn_remote_fill(struct ts_conn_remote *r, struct ts_state *s, uint64_t local_ns)
{
	uint64_t now = r->server_now + (local_ns > r->local_at ? local_ns - r->local_at : 0);
	int rc;

	if (s->paused && s->filled)
		return 0;
	if (!r->updates || r->in_update || r->assembling)
		return 0;                /* nothing whole yet: keep what is shown */
	rc = ts_state_reserve(s, r->tasks.n);
	if (rc < 0)
		return rc;
	s->nrows = 0;
	for (size_t i = 0; i < r->tasks.n; i++)
		fill_row(&s->rows[s->nrows++], obj_at(&r->tasks, i), now);
	memcpy(s->warn_counts, r->counts, sizeof(s->warn_counts));
	s->nwarnings = 0;
	for (size_t i = 0; i < r->nwarn; i++)
		s->warnings[s->nwarnings++] = r->warnings[(r->wstart + i) % TS_STATE_WARNINGS];
	memcpy(s->procs, r->procs, sizeof(s->procs));
	s->nprocs = r->nprocs;
	s->nprocs_total = r->nprocs_total;
	rc = fill_resources(r, s, now);
	if (rc == 0)
		rc = fill_workers(r, s, now);
	if (s->view == TS_VIEW_DETAILS)
		fill_detail(r, s, now);
	s->now_ns = now;
	s->filled = true;
	ts_state_sort(s);
	return rc;
}
