/*
 * conn_remote.c: mirror a collector's Update stream and fill the console
 * state from the mirror (conn_remote.h).
 *
 * The mirror keeps compact copies of what the stream carries (struct
 * ts_remote_task, ts_remote_res; threads as struct ts_thread), so a task
 * costs ~180 bytes here, and task times are computed as the live console
 * computes them (ts_remote_task_times mirrors ts_task_times, at the
 * collector's estimated now). Strings are interned in a bounded pool owned by the
 * conn, so rows handed to the state outlive the next update.
 */
#include "console/conn_remote.h"
#include "console/conn_remote_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/event.h"
#include "collector/model.h"
#include "collector/strpool.h"
#include "proto/frame.h"
#include "taskscope.pb-c.h"

#define STRPOOL_BYTES (32u << 20)

int ts_conn_remote_new(struct ts_conn_remote **out)
{
	struct ts_conn_remote *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->tasks.size = sizeof(struct ts_remote_task);
	r->res.size = sizeof(struct ts_remote_res);
	r->threads.size = sizeof(struct ts_thread);
	r->tasks.max = TS_REMOTE_MAX_OBJECTS;
	r->res.max = TS_REMOTE_MAX_OBJECTS;
	r->threads.max = TS_REMOTE_MAX_THREADS;
	r->in = malloc(TS_FRAME_MAX + 4);
	if (!r->in || ts_strpool_new(STRPOOL_BYTES, &r->pool) < 0) {
		ts_conn_remote_free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}


void ts_conn_remote_free(struct ts_conn_remote *r)
{
	if (!r)
		return;
	free(r->in);
	free(r->tasks.items);
	free(r->tasks.map.slots);
	free(r->res.items);
	free(r->res.map.slots);
	free(r->threads.items);
	free(r->threads.map.slots);
	ts_strpool_free(r->pool);
	free(r);
}

void ts_conn_remote_reset_stream(struct ts_conn_remote *r)
{
	r->assembling = false;
	r->in_update = false;
	r->inlen = 0;
	r->synced = false;
	r->broken = false;
}

bool ts_conn_remote_synced(const struct ts_conn_remote *r)
{
	return r->synced;
}

static uint64_t since(uint64_t from, uint64_t to)
{
	return to > from ? to - from : 0;
}

void ts_remote_task_times(const struct ts_remote_task *t, uint64_t now_ns, uint64_t *total, uint64_t *busy,
			  uint64_t *sched, uint64_t *idle)
{
	uint64_t end = t->state == TS_TASK_DONE ? t->dropped_ns : now_ns;
	uint64_t open = t->state == TS_TASK_DONE ? 0 : since(t->state_since_ns, end);

	*total = since(t->spawned_ns, end);
	*busy = t->busy_ns + (t->state == TS_TASK_RUNNING ? open : 0);
	*sched = t->sched_ns + (t->state == TS_TASK_SCHEDULED ? open : 0);
	*idle = t->idle_ns + (t->state == TS_TASK_IDLE ? open : 0);
}

uint64_t ts_conn_remote_updates(const struct ts_conn_remote *r)
{
	return r->updates;
}

size_t ts_conn_remote_task_count(const struct ts_conn_remote *r)
{
	return r->tasks.n;
}

const struct ts_remote_task *ts_conn_remote_task_at(const struct ts_conn_remote *r, size_t i)
{
	return i < r->tasks.n ? obj_at(&r->tasks, i) : NULL;
}

const struct ts_remote_task *ts_conn_remote_find_task(const struct ts_conn_remote *r, uint32_t pid, uint64_t id)
{
	struct kslot *s = ts_remote_kmap_slot(&r->tasks.map, pid, id);

	return s && s->idx1 ? obj_at(&r->tasks, s->idx1 - 1) : NULL;
}

size_t ts_conn_remote_resource_count(const struct ts_conn_remote *r)
{
	return r->res.n;
}

size_t ts_conn_remote_worker_count(const struct ts_conn_remote *r)
{
	return r->threads.n;
}

const uint64_t *ts_conn_remote_warning_counts(const struct ts_conn_remote *r)
{
	return r->counts;
}

const struct ts_remote_session *ts_conn_remote_session(const struct ts_conn_remote *r)
{
	return &r->sess;
}

/* ---- applying updates ---- */

static const char *intern(struct ts_conn_remote *r, const char *s)
{
	return s ? ts_strpool_intern(r->pool, s, strnlen(s, 4096)) : "";
}

static uint32_t name_index(const char *s, const char *(*name_of)(uint32_t), uint32_t n, uint32_t dflt)
{
	for (uint32_t i = 0; s && i < n; i++) {
		const char *k = name_of(i);

		if (k && !strcmp(k, s))
			return i;
	}
	return dflt;
}

static void apply_task(struct ts_conn_remote *r, const Taskscope__Task *m)
{
	bool fresh;
	struct ts_remote_task *t = ts_remote_obj_get(&r->tasks, m->pid, m->task_id, &fresh);

	if (!t)
		return;                 /* over the cap: not shown */
	t->pid = m->pid;
	t->id = m->task_id;
	t->parent = m->parent_id;
	t->name = intern(r, m->name);
	t->location = intern(r, m->location);
	t->kind = name_index(m->kind, ts_task_kind_name, 3, TS_KIND_TASK);
	t->state = m->state >= 1 && m->state <= 4 ? (uint32_t)m->state - 1 : TS_TASK_IDLE;
	t->outcome = name_index(m->outcome, ts_outcome_name, 4, TS_OUTCOME_RUNNING);
	t->spawned_ns = m->spawned_ns;
	t->dropped_ns = m->dropped_ns;
	t->state_since_ns = m->state_since_ns;
	t->last_wake_ns = m->last_wake_ns;
	t->polls = m->polls;
	t->busy_ns = m->busy_ns;
	t->sched_ns = m->sched_ns;
	t->idle_ns = m->idle_ns;
	t->wakes = m->wakes;
	t->self_wakes = m->self_wakes;
	t->waker_clones = m->waker_clones;
	t->waker_drops = m->waker_drops;
	t->wakers = m->wakers;
	t->max_poll_ns = m->max_poll_ns;
	t->poll_tid = m->poll_tid;
	t->warnings = m->warnings;
}

static void apply_resource(struct ts_conn_remote *r, const Taskscope__Resource *m)
{
	bool fresh;
	struct ts_remote_res *x = ts_remote_obj_get(&r->res, m->pid, m->resource_id, &fresh);

	if (!x)
		return;
	x->pid = m->pid;
	x->id = m->resource_id;
	x->kind = name_index(m->kind, ts_resource_kind_name, 5, TS_RES_MUTEX);
	x->name = intern(r, m->name);
	x->location = intern(r, m->location);
	x->holder_task = m->holder_task;
	x->holder_tid = m->holder_tid;
	x->holders = m->holders;
	x->acquired_ns = m->acquired_ns;
	x->waiters = m->waiters;
	memset(x->waiting_tasks, 0, sizeof(x->waiting_tasks));
	for (size_t k = 0; k < m->n_waiting_tasks && k < TS_RES_WAITERS_SHOWN; k++)
		x->waiting_tasks[k] = m->waiting_tasks[k];
	x->acquisitions = m->acquisitions;
	x->contentions = m->contentions;
	x->max_hold_ns = m->max_hold_ns;
	x->wait_p99_ns = m->wait_p99_ns;
	x->hold_p99_ns = m->hold_p99_ns;
}

static void apply_worker(struct ts_conn_remote *r, const Taskscope__Worker *m)
{
	bool fresh;
	struct ts_thread *t = ts_remote_obj_get(&r->threads, m->pid, m->tid, &fresh);

	if (!t)
		return;
	t->pid = m->pid;
	t->tid = m->tid;
	t->name = intern(r, m->name);
	t->role = name_index(m->role, ts_thread_role_name, 3, TS_ROLE_OTHER);
	t->polling = m->polling;
	t->current_task = m->current_task;
	t->poll_started_ns = m->poll_started_ns;
	t->busy_ns = m->busy_ns;
	t->polls = m->polls;
	t->last_event_ns = m->last_event_ns;
}

static void apply_warning(struct ts_conn_remote *r, const Taskscope__Warning *m)
{
	int kind = ts_warning_kind_parse(m->kind ? m->kind : "");
	struct ts_recent_warning *w;
	const struct ts_remote_task *t;

	if (kind < 0)
		return;                 /* a kind this console does not know */
	if (r->nwarn == TS_STATE_WARNINGS) {
		r->wstart = (r->wstart + 1) % TS_STATE_WARNINGS;
		r->nwarn--;
	}
	w = &r->warnings[(r->wstart + r->nwarn++) % TS_STATE_WARNINGS];
	memset(w, 0, sizeof(*w));
	w->w.pid = m->pid;
	w->w.task_id = m->task_id;
	w->w.tid = m->tid;
	w->w.kind = (uint32_t)kind;
	w->w.ts_ns = m->ts_ns;
	w->w.duration_ns = m->duration_ns;
	snprintf(w->w.detail, sizeof(w->w.detail), "%s", m->detail ? m->detail : "");
	t = m->task_id ? ts_conn_remote_find_task(r, m->pid, m->task_id) : NULL;
	w->task_name = t ? t->name : "";
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static void apply_one(struct ts_conn_remote *r, const Taskscope__Update *u)
{
	for (size_t i = 0; i < u->n_removed; i++)
		if (u->removed[i])
			ts_remote_obj_del(&r->tasks, u->removed[i]->pid, u->removed[i]->task_id, ts_remote_key_task);
	for (size_t i = 0; i < u->n_removed_resources; i++)
		if (u->removed_resources[i])
			ts_remote_obj_del(&r->res, u->removed_resources[i]->pid, u->removed_resources[i]->resource_id, ts_remote_key_res);
	for (size_t i = 0; i < u->n_removed_workers; i++)
		if (u->removed_workers[i])
			ts_remote_obj_del(&r->threads, u->removed_workers[i]->pid, u->removed_workers[i]->tid, ts_remote_key_thread);
	for (size_t i = 0; i < u->n_tasks; i++)
		if (u->tasks[i])
			apply_task(r, u->tasks[i]);
	for (size_t i = 0; i < u->n_resources; i++)
		if (u->resources[i])
			apply_resource(r, u->resources[i]);
	for (size_t i = 0; i < u->n_workers; i++)
		if (u->workers[i])
			apply_worker(r, u->workers[i]);
	for (size_t i = 0; i < u->n_warnings; i++)
		if (u->warnings[i])
			apply_warning(r, u->warnings[i]);
}

/* The last frame of an update: its header fields, and the update counts. */
static void finish_update(struct ts_conn_remote *r, const Taskscope__Update *last, uint64_t local_ns)
{
	memset(r->counts, 0, sizeof(r->counts));
	for (size_t k = 0; k < last->n_warning_counts && k < TS_WARN_KIND_COUNT; k++)
		r->counts[k] = last->warning_counts[k];
	r->server_now = last->now_ns;
	r->local_at = local_ns;
	r->sess.events = last->events_total;
	r->sess.dropped = last->events_dropped;
	if (last->session) {
		copy_str(r->sess.target, sizeof(r->sess.target), last->session->target);
		copy_str(r->sess.mode, sizeof(r->sess.mode), last->session->mode);
		copy_str(r->sess.db_path, sizeof(r->sess.db_path), last->session->db_path);
		r->sess.events_per_s = last->session->events_per_s;
		r->sess.unstored = last->session->unstored;
		r->sess.consoles = last->session->consoles;
	}
	r->nprocs = 0;
	r->nprocs_total = last->n_processes;
	for (size_t i = 0; i < last->n_processes && r->nprocs < TS_STATE_PROCS; i++) {
		const Taskscope__ProcessInfo *p = last->processes[i];
		struct ts_proc_row *row = &r->procs[r->nprocs];

		if (!p)
			continue;
		memset(row, 0, sizeof(*row));
		row->pid = p->pid;
		row->exited = p->exited;
		row->exe = intern(r, p->exe);
		row->runtime = intern(r, p->runtime);
		row->source = intern(r, p->source);
		row->events = p->events;
		row->dropped = p->dropped;
		r->nprocs++;
	}
	if (r->assembling)
		r->synced = true;       /* a whole snapshot is in */
	r->assembling = false;
	r->in_update = false;
	r->updates++;
}

static int fail(struct ts_conn_remote *r, int code, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(struct ts_conn_remote *r, int code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	r->broken = true;
	return code;
}

/* A histogram from the wire: buckets past ours are refused (not ours). */
static bool hist_from(struct ts_histogram *h, const Taskscope__Histogram *m)
{
	ts_histogram_init(h);
	if (!m)
		return true;
	if (m->n_buckets > TS_HIST_BUCKETS)
		return false;
	h->count = m->count;
	h->sum = m->sum;
	h->max = m->max;
	h->min = m->min;
	for (size_t i = 0; i < m->n_buckets; i++)
		h->buckets[i] = m->buckets[i];
	return true;
}

static int take_detail(struct ts_conn_remote *r, const Taskscope__TaskDetail *d, char *err, size_t errlen)
{
	struct ts_remote_detail *x = &r->detail;

	x->valid = false;
	if (!d)
		return 0;
	if (!hist_from(&x->poll_hist, d->poll_hist) || !hist_from(&x->sched_hist, d->sched_hist) ||
	    d->n_polls > TS_DETAIL_POLLS)
		return fail(r, -EBADMSG, err, errlen, "the stream sent task details this taskscope cannot read "
			    "(a histogram or a poll list too long)");
	x->npolls = 0;
	for (size_t i = 0; i < d->n_polls; i++) {
		const Taskscope__PollSpan *p = d->polls[i];
		struct ts_detail_poll *q = &x->polls[x->npolls];

		if (!p)
			continue;
		memset(q, 0, sizeof(*q));
		q->start_ns = p->start_ns;
		q->end_ns = p->end_ns < p->start_ns ? p->start_ns : p->end_ns;
		q->on_cpu_ns = p->on_cpu_ns < -1 ? -1 : p->on_cpu_ns;
		q->tid = p->tid;
		q->ready = p->ready;
		x->npolls++;
	}
	x->pid = d->pid;
	x->id = d->task_id;
	x->valid = true;
	return 0;
}

/* One frame: applied at once, so memory holds one decoded frame at most
 * (a frame of 64 KiB can decode to megabytes). A snapshot clears the
 * mirror at its first frame; until its last frame the conn does not fill
 * the state (the console keeps showing the previous copy). A delta cut
 * short by the collector (a console too slow) is followed by a snapshot,
 * which replaces whatever part of it was applied. */
static int take_frame(struct ts_conn_remote *r, const uint8_t *data, size_t len, uint64_t local_ns, char *err,
		      size_t errlen)
{
	Taskscope__Update *u = taskscope__update__unpack(NULL, len, data);

	if (!u)
		return fail(r, -EBADMSG, err, errlen, "the stream sent a frame of %lu bytes that is not an Update "
			    "message: is this a taskscope collector (--serve)?", (unsigned long)len);
	if (u->detail_only) {
		/* not an update: the details this console asked for */
		int rc = r->synced && !r->in_update ? take_detail(r, u->detail, err, errlen) : 0;

		taskscope__update__free_unpacked(u, NULL);
		return rc;
	}
	if (u->snapshot) {
		if (u->stream_version != 1) {
			unsigned long v = u->stream_version;

			taskscope__update__free_unpacked(u, NULL);
			return fail(r, -EPROTO, err, errlen, "the collector speaks console stream version %lu; "
				    "this taskscope speaks version 1", v);
		}
		ts_remote_obj_clear(&r->tasks);
		ts_remote_obj_clear(&r->res);
		ts_remote_obj_clear(&r->threads);
		r->nwarn = 0;
		r->wstart = 0;
		r->assembling = true;
	} else if (!r->synced && !r->assembling) {
		taskscope__update__free_unpacked(u, NULL);
		return fail(r, -EPROTO, err, errlen, "the stream did not start with a snapshot: "
			    "is this a taskscope collector (--serve)?");
	}
	r->in_update = u->more;
	apply_one(r, u);
	if (!u->more)
		finish_update(r, u, local_ns);
	taskscope__update__free_unpacked(u, NULL);
	return 0;
}

int ts_conn_remote_feed(struct ts_conn_remote *r, const void *buf, size_t len, uint64_t local_ns,
			char *err, size_t errlen)
{
	const uint8_t *p = buf;

	if (r->broken)
		return fail(r, -EPROTO, err, errlen, "the stream is broken");
	while (len > 0) {
		size_t room = TS_FRAME_MAX + 4 - r->inlen, take = len < room ? len : room;
		size_t pos = 0;

		memcpy(r->in + r->inlen, p, take);
		r->inlen += take;
		p += take;
		len -= take;
		/* every whole frame in the buffer */
		while (r->inlen - pos >= 4) {
			const uint8_t *h = r->in + pos;
			uint32_t n = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
			int rc;

			if (n > TS_FRAME_MAX)
				return fail(r, -EMSGSIZE, err, errlen, "the stream announced a frame of %lu bytes "
					    "(at most 65536): is this a taskscope collector (--serve)?", (unsigned long)n);
			if (r->inlen - pos - 4 < n)
				break;
			rc = take_frame(r, h + 4, n, local_ns, err, errlen);
			if (rc < 0)
				return rc;
			pos += 4 + n;
		}
		memmove(r->in, r->in + pos, r->inlen - pos);
		r->inlen -= pos;
	}
	return 0;
}
