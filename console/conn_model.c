/*
 * conn_model.c: fill the console state from the in-process model.
 *
 * Only numbers and strings that outlive the model's objects are copied
 * (interned names, the model's process strings): the model's task objects
 * may be freed by its next tick, so nothing here keeps a struct ts_task
 * pointer. Times are taken at the caller's `now` so running tasks keep
 * growing between events. Worker sparklines are carried from the previous
 * fill (state.h: ts_state_prev_worker) and sampled once per second.
 */
#include "console/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/model.h"


static unsigned popcount32(uint32_t v)
{
	unsigned n = 0;

	for (; v; v &= v - 1)
		n++;
	return n;
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

static void fill_row(struct ts_row *row, const struct ts_task *t, uint64_t now_ns)
{
	row->id = t->id;
	row->pid = t->pid;
	row->state = t->state < TS_STATE_NSTATES ? (uint8_t)t->state : TS_TASK_DONE;
	row->kind = t->kind > 0xff ? 0xff : (uint8_t)t->kind;
	row->outcome = t->outcome > 0xff ? 0xff : (uint8_t)t->outcome;
	row->warn_bits = t->warnings;
	row->nwarn = (uint8_t)popcount32(t->warnings);
	row->parent = t->parent;
	row->name = str_or_empty(t->name);
	row->location = str_or_empty(t->location);
	row->fields = "";
	ts_task_times(t, now_ns, &row->total_ns, &row->busy_ns, &row->sched_ns, &row->idle_ns);
	row->polls = t->polls;
}

static const char *task_name(const struct ts_model *m, uint32_t pid, uint64_t id)
{
	const struct ts_task *t = id ? ts_model_find_task(m, pid, id) : NULL;

	return t ? str_or_empty(t->name) : "";
}

static void copy_warnings(struct ts_state *s, const struct ts_model *m)
{
	const struct ts_warning *recent[TS_STATE_WARNINGS];
	size_t n;

	for (uint32_t k = 0; k < TS_WARN_KIND_COUNT; k++)
		s->warn_counts[k] = ts_model_warning_count(m, k);
	n = ts_model_recent_warnings(m, recent, TS_STATE_WARNINGS);
	if (n > TS_STATE_WARNINGS)
		n = TS_STATE_WARNINGS;
	s->nwarnings = 0;
	for (size_t i = 0; i < n; i++) {
		struct ts_recent_warning *r = &s->warnings[s->nwarnings];

		if (!recent[i])
			continue;
		r->w = *recent[i];
		r->w.detail[TS_WARNING_DETAIL_MAX - 1] = '\0';
		r->task_name = task_name(m, r->w.pid, r->w.task_id);
		s->nwarnings++;
	}
}

static void copy_processes(struct ts_state *s, const struct ts_model *m)
{
	const struct ts_process *p;
	size_t n = 0;

	p = ts_model_processes(m, &n);
	if (!p)
		n = 0;
	s->nprocs_total = n;
	s->nprocs = 0;
	for (size_t i = 0; i < n && s->nprocs < TS_STATE_PROCS; i++) {
		struct ts_proc_row *r = &s->procs[s->nprocs++];

		r->pid = p[i].pid;
		r->exited = p[i].exited;
		r->exe = str_or_empty(p[i].exe);
		r->runtime = str_or_empty(p[i].runtime);
		r->source = str_or_empty(p[i].source);
		r->events = p[i].events;
		r->dropped = p[i].dropped;
	}
}

static uint64_t p99_or_unknown(const struct ts_histogram *h)
{
	return h->count ? ts_histogram_quantile(h, 0.99) : TS_UNKNOWN;
}

static int copy_resources(struct ts_state *s, const struct ts_model *m, uint64_t now_ns)
{
	struct ts_resource *const *res;
	size_t n = 0;
	int r;

	res = ts_model_resources(m, &n);
	if (!res)
		n = 0;
	r = ts_state_reserve_resources(s, n);
	if (r < 0)
		return r;
	s->nres = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ts_resource *x = res[i];
		struct ts_res_row *row;
		uint32_t nw;

		if (!x)
			continue;
		row = &s->resources[s->nres++];
		memset(row, 0, sizeof(*row));
		row->id = x->id;
		row->pid = x->pid;
		row->kind = x->kind > 0xff ? 0xff : (uint8_t)x->kind;
		row->dropped = x->dropped;
		row->name = str_or_empty(x->name);
		row->location = str_or_empty(x->location);
		row->holder_task = x->holder_task;
		row->holder_tid = x->holder_tid;
		row->holders = x->holders;
		if (x->holder_tid || x->holders)
			row->held_ns = now_ns > x->acquired_ns ? now_ns - x->acquired_ns : 0;
		row->waiters = x->waiters;
		nw = x->waiters < TS_RES_WAITERS_SHOWN ? x->waiters : TS_RES_WAITERS_SHOWN;
		for (uint32_t k = 0; k < nw && k < TS_RESOURCE_WAITERS_MAX; k++)
			row->waiting_tasks[k] = x->waiting_tasks[k];
		row->acquisitions = x->acquisitions;
		row->contentions = x->contentions;
		row->wait_p99_ns = p99_or_unknown(&x->wait_hist);
		row->hold_p99_ns = p99_or_unknown(&x->hold_hist);
		/* the longest hold so far includes the one still going on */
		row->max_hold_ns = x->max_hold_ns > row->held_ns ? x->max_hold_ns : row->held_ns;
	}
	return 0;
}

/* Threads with a stall (loop_stall, blocked_worker) reported lately: one
 * pass over the warnings per refresh, not one per thread. */
#define STALLED_MAX 64
struct stalled {
	uint32_t pid[STALLED_MAX];
	uint32_t tid[STALLED_MAX];
	size_t n;
};

static void find_stalled(const struct ts_state *s, uint64_t now_ns, struct stalled *out)
{
	out->n = 0;
	for (size_t i = s->nwarnings; i-- > 0 && out->n < STALLED_MAX;) {
		const struct ts_warning *w = &s->warnings[i].w;

		if (w->ts_ns + TS_STALL_RECENT_NS < now_ns)
			break;                  /* oldest first: the rest are older */
		if (w->tid && (w->kind == TS_WARN_LOOP_STALL || w->kind == TS_WARN_BLOCKED_WORKER)) {
			out->pid[out->n] = w->pid;
			out->tid[out->n++] = w->tid;
		}
	}
}

static bool is_stalled(const struct stalled *st, uint32_t pid, uint32_t tid)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->tid[i] == tid && st->pid[i] == pid)
			return true;
	return false;
}

static int copy_workers(struct ts_state *s, const struct ts_model *m, uint64_t now_ns)
{
	const struct ts_model_config *cfg = ts_model_config(m);
	struct ts_thread *const *th;
	struct stalled stalled;
	size_t n = 0;
	int r;

	th = ts_model_threads(m, &n);
	if (!th)
		n = 0;
	r = ts_state_reserve_workers(s, n);
	if (r < 0)
		return r;
	find_stalled(s, now_ns, &stalled);
	for (size_t i = 0; i < n; i++) {
		const struct ts_thread *t = th[i];
		struct ts_worker_row *row;
		uint64_t busy_now;

		if (!t)
			continue;
		row = &s->workers[s->nworkers];
		memset(row, 0, sizeof(*row));
		row->pid = t->pid;
		row->tid = t->tid;
		row->role = t->role > 0xff ? 0xff : (uint8_t)t->role;
		row->name = str_or_empty(t->name);
		row->polls = t->polls;
		row->current_name = "";
		busy_now = t->busy_ns;
		if (t->polling) {
			row->state = TS_WORKER_POLLING;
			row->current_task = t->current_task;
			row->current_name = task_name(m, t->pid, t->current_task);
			row->in_poll_ns = now_ns > t->poll_started_ns ? now_ns - t->poll_started_ns : 0;
			busy_now += row->in_poll_ns;
			if (cfg && cfg->lints.blocked_worker_ns && row->in_poll_ns >= cfg->lints.blocked_worker_ns)
				row->state = TS_WORKER_BLOCKED;
		} else {
			row->state = t->waiting ? TS_WORKER_BLOCKED : TS_WORKER_IDLE;
		}
		row->stalled = is_stalled(&stalled, t->pid, t->tid);
		if (t->stack && t->stack[0]) {
			row->stack = t->stack;
			row->stack_on_cpu = t->stack_on_cpu;
			row->stack_age_ns = now_ns > t->stack_ns ? now_ns - t->stack_ns : 0;
		}
		ts_state_worker_sample(row, ts_state_prev_worker(s, s->nworkers, t->pid, t->tid), busy_now,
				       t->cpu_ns, now_ns);
		/* idle and off the CPU for a whole sample: parked (kernel context) */
		if (row->state == TS_WORKER_IDLE && row->sample_off_cpu)
			row->state = TS_WORKER_PARKED;
		s->nworkers++;
	}
	return 0;
}

static void detail_locks(struct ts_task_detail *d, const struct ts_model *m, const struct ts_task *t,
			 uint64_t now_ns)
{
	struct ts_resource *const *res;
	size_t n = 0;

	d->nlocks = 0;
	res = ts_model_resources(m, &n);
	if (!res)
		return;
	for (size_t i = 0; i < n && d->nlocks < TS_DETAIL_LOCKS; i++) {
		const struct ts_resource *x = res[i];
		struct ts_detail_lock *l;
		uint64_t since = 0;
		bool holds, waits = false;

		if (!x || x->pid != t->pid)
			continue;
		holds = x->holder_task == t->id && (x->holder_tid || x->holders);
		if (!holds) {
			waits = t->waiting && t->wait_res == x->id;
			for (uint32_t k = 0; !waits && k < x->waiters && k < TS_RESOURCE_WAITERS_MAX; k++) {
				if (x->waiting_tasks[k] == t->id) {
					waits = true;
					since = x->waiting_since[k];
				}
			}
			if (!waits)
				continue;
		} else {
			since = x->acquired_ns;
		}
		l = &d->locks[d->nlocks++];
		l->id = x->id;
		l->kind = x->kind > 0xff ? 0xff : (uint8_t)x->kind;
		l->waits = waits;
		l->name = str_or_empty(x->name);
		l->location = str_or_empty(x->location);
		l->since_ns = since && since <= now_ns ? now_ns - since : TS_UNKNOWN;
	}
}

static void fill_detail(struct ts_state *s, const struct ts_model *m, uint64_t now_ns)
{
	struct ts_task_detail *d = &s->detail;
	const struct ts_task *t = ts_model_find_task(m, s->detail_pid, s->detail_id);
	struct ts_poll_span spans[TS_DETAIL_POLLS];
	size_t n;

	if (!t) {
		/* forgotten by the model (retention): keep the last copy */
		return;
	}
	memset(d, 0, sizeof(*d));
	d->valid = true;
	fill_row(&d->row, t, now_ns);
	d->spawned_ns = t->spawned_ns;
	d->dropped_ns = t->dropped_ns;
	d->state_since_ns = t->state_since_ns;
	d->last_wake_ns = t->last_wake_ns;
	d->wakes = t->wakes;
	d->self_wakes = t->self_wakes;
	d->waker_clones = t->waker_clones;
	d->waker_drops = t->waker_drops;
	d->wakers = t->wakers;
	d->wakers_unknown = t->wakers_unknown;
	d->max_poll_ns = t->max_poll_ns;
	d->poll_tid = t->poll_tid;
	d->have_hists = true;
	d->poll_hist = t->poll_hist;
	d->sched_hist = t->sched_hist;

	n = ts_model_recent_polls(m, t->pid, t->id, spans, TS_DETAIL_POLLS);
	if (n > TS_DETAIL_POLLS)
		n = TS_DETAIL_POLLS;
	/* room for the running poll at the end */
	if (t->state == TS_TASK_RUNNING && n == TS_DETAIL_POLLS) {
		memmove(spans, spans + 1, (n - 1) * sizeof(spans[0]));
		n--;
	}
	for (size_t i = 0; i < n; i++) {
		struct ts_detail_poll *p = &d->polls[d->npolls++];

		p->start_ns = spans[i].start_ns;
		p->end_ns = spans[i].end_ns;
		p->on_cpu_ns = spans[i].on_cpu_ns;
		p->tid = spans[i].tid;
		p->ready = spans[i].ready;
	}
	if (t->state == TS_TASK_RUNNING) {
		struct ts_detail_poll *p = &d->polls[d->npolls++];

		p->start_ns = t->state_since_ns;
		p->end_ns = now_ns > t->state_since_ns ? now_ns : t->state_since_ns;
		p->on_cpu_ns = -1;
		p->tid = t->poll_tid;
		p->running = true;
	}

	ts_detail_collect_warnings(d, s, t->pid, t->id, 0);
	detail_locks(d, m, t, now_ns);
}

/* Where a task's row was after the last sort, by the model's position of
 * the task (state.h: conn_index). */
struct slot {
	uint64_t id;
	uint32_t pid;
	uint32_t pos;               /* last row + 1; 0: none */
};

/* Copy the tasks so that each lands where its row was after the last
 * sort: the sort that follows then finds the rows nearly in order and
 * costs about one pass instead of n log n (a third of a frame at 100k
 * tasks). The model is read in its own order (sequential; reading it in
 * the rows' order is a cache miss per task), rows go to their old places
 * in the spare buffer, gaps (gone tasks) are closed and new tasks
 * appended. Without memory for this, the model's order is used. */
static int copy_tasks(struct ts_state *s, const struct ts_model *m, uint64_t now_ns)
{
	struct ts_task *const *tasks;
	size_t n = 0, nprev = s->nrows, nnew = 0, j = 0, need;
	struct ts_row *out;
	struct slot *slots;
	uint32_t *fresh;
	uint8_t *used;
	int r;

	tasks = ts_model_tasks(m, &n);
	if (!tasks)
		n = 0;
	if (n >= UINT32_MAX)
		return -ENOMEM;
	r = ts_state_reserve(s, n);
	if (r < 0)
		return r;
	need = n * (sizeof(*slots) + sizeof(*fresh)) + nprev / 8 + 1;
	if (need > s->cap_conn_scratch) {
		void *p = realloc(s->conn_scratch, need);

		if (p) {
			s->conn_scratch = p;
			s->cap_conn_scratch = need;
		}
	}
	out = ts_state_spare_rows(s, n > nprev ? n : nprev);
	if (!out || need > s->cap_conn_scratch) {
		s->nrows = 0;
		for (size_t i = 0; i < n; i++) {
			if (tasks[i]) {
				fill_row(&s->rows[s->nrows], tasks[i], now_ns);
				s->rows[s->nrows++].conn_index = (uint32_t)i;
			}
		}
		return 0;
	}
	slots = s->conn_scratch;
	fresh = (uint32_t *)(slots + n);
	used = (uint8_t *)(fresh + n);
	memset(slots, 0, n * sizeof(*slots));
	memset(used, 0, nprev / 8 + 1);
	for (size_t i = 0; i < nprev; i++) {
		uint32_t x = s->rows[i].conn_index;

		if (x < n)
			slots[x] = (struct slot){ s->rows[i].id, s->rows[i].pid, (uint32_t)i + 1 };
	}
	for (size_t x = 0; x < n; x++) {
		const struct ts_task *t = tasks[x];
		const struct slot *sl = &slots[x];
		size_t p;

		if (!t)
			continue;
		if (!sl->pos || sl->id != t->id || sl->pid != t->pid) {
			fresh[nnew++] = (uint32_t)x;
			continue;
		}
		p = sl->pos - 1;
		fill_row(&out[p], t, now_ns);
		out[p].conn_index = (uint32_t)x;
		used[p / 8] |= (uint8_t)(1u << (p % 8));
	}
	for (size_t p = 0; p < nprev; p++) {
		if (!(used[p / 8] & (1u << (p % 8))))
			continue;
		if (j != p)
			out[j] = out[p];
		j++;
	}
	for (size_t k = 0; k < nnew; k++) {
		fill_row(&out[j], tasks[fresh[k]], now_ns);
		out[j++].conn_index = fresh[k];
	}
	ts_state_swap_rows(s);
	s->nrows = j;
	return 0;
}

int ts_conn_model_refresh(struct ts_state *s, const struct ts_model *m, uint64_t now_ns)
{
	int r;

	if (s->paused && s->filled)
		return 0;
	r = copy_tasks(s, m, now_ns);
	if (r < 0)
		return r;
	copy_warnings(s, m);
	copy_processes(s, m);
	r = copy_resources(s, m, now_ns);
	if (r == 0)
		r = copy_workers(s, m, now_ns);
	if (s->view == TS_VIEW_DETAILS)
		fill_detail(s, m, now_ns);
	s->now_ns = now_ns;
	s->filled = true;
	ts_state_sort(s);
	return r;
}
