/*
 * publisher_encode.c: the model as Update frames: a snapshot, or the delta
 * since the last publish (publisher_internal.h).
 *
 * Change detection is a 64-bit fingerprint per object over the fields the
 * stream carries, kept in two hash maps (last publish, this publish): an
 * object is sent when it is new or its fingerprint changed, and listed as
 * removed when it is no longer in the model. Tasks carry their closed
 * busy/sched/idle intervals and the start of the current state, so a task
 * changes on the wire only when an event touched it, not at every tick;
 * the console adds the open interval itself.
 *
 * An Update that would exceed TS_STREAM_FRAME_BUDGET is cut into several
 * frames with Update.more set on all but the last; the header fields
 * (counts, session) ride on the last one.
 */
#include "collector/publisher_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/event.h"
#include "collector/model.h"
#include "taskscope.pb-c.h"

enum { K_TASK, K_RES, K_WORKER, K_WARN, K_RTASK, K_RRES, K_RWORKER, K_COUNT };

struct batch {
	struct ts_stream_buf *out;
	bool snapshot;              /* the next frame is a snapshot's first */
	void **items[K_COUNT];
	size_t n[K_COUNT], cap[K_COUNT];
	char **owned;               /* strings cut to TS_STREAM_STR_MAX */
	size_t nowned, cap_owned;
	size_t size;
	int err;
};

void ts_stream_encoder_init(struct ts_stream_encoder *e)
{
	memset(e, 0, sizeof(*e));
}

void ts_stream_encoder_fini(struct ts_stream_encoder *e)
{
	for (int k = 0; k < 3; k++)
		free(e->maps[k].slots);
	memset(e, 0, sizeof(*e));
}

void ts_stream_encoder_reset(struct ts_stream_encoder *e)
{
	for (int k = 0; k < 3; k++)
		ts_fp_map_clear(&e->maps[k]);
	e->warn_total = 0;
	e->primed = false;
}

void ts_stream_buf_free(struct ts_stream_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- frames ---- */

static int buf_reserve(struct ts_stream_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	uint8_t *d;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	d = realloc(b->data, cap);
	if (!d)
		return -ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

static void batch_free_items(struct batch *b)
{
	for (int k = 0; k < K_COUNT; k++) {
		for (size_t i = 0; i < b->n[k]; i++)
			free(b->items[k][i]);
		b->n[k] = 0;
	}
	for (size_t i = 0; i < b->nowned; i++)
		free(b->owned[i]);
	b->nowned = 0;
	b->size = 0;
}

static void batch_fini(struct batch *b)
{
	batch_free_items(b);
	for (int k = 0; k < K_COUNT; k++)
		free(b->items[k]);
	free(b->owned);
}

/* Pack the items gathered so far as one frame. `last` frames carry the
 * header fields; `fill` sets them. */
static void batch_flush(struct batch *b, bool more, void (*fill)(Taskscope__Update *, void *), void *ctx)
{
	Taskscope__Update up = TASKSCOPE__UPDATE__INIT;
	size_t len;

	if (b->err)
		goto out;
	up.snapshot = b->snapshot;
	up.stream_version = b->snapshot ? TS_STREAM_VERSION : 0;
	up.more = more;
	up.n_tasks = b->n[K_TASK];
	up.tasks = (Taskscope__Task **)b->items[K_TASK];
	up.n_resources = b->n[K_RES];
	up.resources = (Taskscope__Resource **)b->items[K_RES];
	up.n_workers = b->n[K_WORKER];
	up.workers = (Taskscope__Worker **)b->items[K_WORKER];
	up.n_warnings = b->n[K_WARN];
	up.warnings = (Taskscope__Warning **)b->items[K_WARN];
	up.n_removed = b->n[K_RTASK];
	up.removed = (Taskscope__TaskRef **)b->items[K_RTASK];
	up.n_removed_resources = b->n[K_RRES];
	up.removed_resources = (Taskscope__ResourceRef **)b->items[K_RRES];
	up.n_removed_workers = b->n[K_RWORKER];
	up.removed_workers = (Taskscope__WorkerRef **)b->items[K_RWORKER];
	if (fill)
		fill(&up, ctx);
	len = taskscope__update__get_packed_size(&up);
	if (buf_reserve(b->out, len + 4) < 0) {
		b->err = -ENOMEM;
		goto out;
	}
	b->out->data[b->out->len++] = (uint8_t)(len & 0xff);
	b->out->data[b->out->len++] = (uint8_t)((len >> 8) & 0xff);
	b->out->data[b->out->len++] = (uint8_t)((len >> 16) & 0xff);
	b->out->data[b->out->len++] = (uint8_t)((len >> 24) & 0xff);
	b->out->len += taskscope__update__pack(&up, b->out->data + b->out->len);
	b->snapshot = false;            /* later frames continue it */
out:
	batch_free_items(b);
}

/* Add one item (malloc'd message) of kind k whose packed size is `sz`. */
static void batch_add(struct batch *b, int k, void *item, size_t sz)
{
	if (!item || b->err) {
		free(item);
		b->err = b->err ? b->err : -ENOMEM;
		return;
	}
	if (b->size && b->size + sz + 8 > TS_STREAM_FRAME_BUDGET)
		batch_flush(b, true, NULL, NULL);
	if (b->n[k] == b->cap[k]) {
		size_t cap = b->cap[k] ? b->cap[k] * 2 : 256;
		void **p = realloc(b->items[k], cap * sizeof(*p));

		if (!p) {
			free(item);
			b->err = -ENOMEM;
			return;
		}
		b->items[k] = p;
		b->cap[k] = cap;
	}
	b->items[k][b->n[k]++] = item;
	b->size += sz + 8;
}

/* A string for a message: the model's own, or a copy cut to the limit. */
static char *str_for(struct batch *b, const char *s)
{
	size_t n;
	char *c, **o;

	if (!s)
		return (char *)"";
	n = strnlen(s, TS_STREAM_STR_MAX + 1);
	if (n <= TS_STREAM_STR_MAX)
		return (char *)s;
	c = strndup(s, TS_STREAM_STR_MAX);
	if (c && b->nowned == b->cap_owned) {
		size_t cap = b->cap_owned ? b->cap_owned * 2 : 16;

		o = realloc(b->owned, cap * sizeof(*o));
		if (!o) {
			free(c);
			return (char *)"";
		}
		b->owned = o;
		b->cap_owned = cap;
	}
	if (!c)
		return (char *)"";
	b->owned[b->nowned++] = c;
	return c;
}

static void add_task(struct batch *b, const struct ts_task *t)
{
	Taskscope__Task *m = malloc(sizeof(*m));

	if (m) {
		taskscope__task__init(m);
		m->pid = t->pid;
		m->task_id = t->id;
		m->name = str_for(b, t->name);
		m->location = str_for(b, t->location);
		m->kind = (char *)(ts_task_kind_name(t->kind) ?: "task");
		m->state = t->state <= TS_TASK_DONE ? (Taskscope__TaskState)(t->state + 1) :
			TASKSCOPE__TASK_STATE__TASK_STATE_UNKNOWN;
		m->outcome = (char *)(ts_outcome_name(t->outcome) ?: "running");
		m->spawned_ns = t->spawned_ns;
		m->dropped_ns = t->dropped_ns;
		m->polls = t->polls;
		m->busy_ns = t->busy_ns;
		m->sched_ns = t->sched_ns;
		m->idle_ns = t->idle_ns;
		m->wakes = t->wakes;
		m->self_wakes = t->self_wakes;
		m->wakers = t->wakers;
		m->max_poll_ns = t->max_poll_ns;
		m->warnings = t->warnings;
		m->state_since_ns = t->state_since_ns;
		m->parent_id = t->parent;
		m->poll_tid = t->poll_tid;
		m->waker_clones = t->waker_clones;
		m->waker_drops = t->waker_drops;
		m->last_wake_ns = t->last_wake_ns;
	}
	batch_add(b, K_TASK, m, m ? taskscope__task__get_packed_size(m) : 0);
}

static void add_resource(struct batch *b, const struct ts_resource *x)
{
	Taskscope__Resource *m = malloc(sizeof(*m));

	if (m) {
		taskscope__resource__init(m);
		m->pid = x->pid;
		m->resource_id = x->id;
		m->kind = (char *)(ts_resource_kind_name(x->kind) ?: "mutex");
		m->name = str_for(b, x->name);
		m->location = str_for(b, x->location);
		m->holder_task = x->holder_task;
		m->n_waiting_tasks = x->waiters < TS_RESOURCE_WAITERS_MAX ? x->waiters : TS_RESOURCE_WAITERS_MAX;
		m->waiting_tasks = (uint64_t *)x->waiting_tasks;
		m->contentions = x->contentions;
		m->wait_p99_ns = x->wait_hist.count ? ts_histogram_quantile(&x->wait_hist, 0.99) : 0;
		m->hold_p99_ns = x->hold_hist.count ? ts_histogram_quantile(&x->hold_hist, 0.99) : 0;
		m->max_hold_ns = x->max_hold_ns;
		m->holder_tid = x->holder_tid;
		m->holders = x->holders;
		m->acquired_ns = x->acquired_ns;
		m->waiters = x->waiters;
		m->acquisitions = x->acquisitions;
	}
	batch_add(b, K_RES, m, m ? taskscope__resource__get_packed_size(m) : 0);
}

static void add_worker(struct batch *b, const struct ts_thread *t)
{
	Taskscope__Worker *m = malloc(sizeof(*m));

	if (m) {
		taskscope__worker__init(m);
		m->pid = t->pid;
		m->tid = t->tid;
		m->name = str_for(b, t->name);
		m->role = (char *)(ts_thread_role_name(t->role) ?: "other");
		m->polling = t->polling;
		m->current_task = t->current_task;
		m->poll_started_ns = t->poll_started_ns;
		m->busy_ns = t->busy_ns;
		m->polls = t->polls;
		m->last_event_ns = t->last_event_ns;
	}
	batch_add(b, K_WORKER, m, m ? taskscope__worker__get_packed_size(m) : 0);
}

static void add_warning(struct batch *b, const struct ts_warning *w)
{
	Taskscope__Warning *m = malloc(sizeof(*m) + TS_WARNING_DETAIL_MAX);

	if (m) {
		char *detail = (char *)(m + 1);

		taskscope__warning__init(m);
		m->pid = w->pid;
		m->task_id = w->task_id;
		m->tid = w->tid;
		m->kind = (char *)(ts_warning_kind_name(w->kind) ?: "");
		m->ts_ns = w->ts_ns;
		m->duration_ns = w->duration_ns;
		memcpy(detail, w->detail, TS_WARNING_DETAIL_MAX);
		detail[TS_WARNING_DETAIL_MAX - 1] = '\0';
		m->detail = detail;
	}
	batch_add(b, K_WARN, m, m ? taskscope__warning__get_packed_size(m) : 0);
}

static void add_removed(struct batch *b, int k, uint32_t pid, uint64_t id)
{
	void *item = NULL;
	size_t sz = 0;

	if (k == K_RTASK) {
		Taskscope__TaskRef *m = malloc(sizeof(*m));

		if (m) {
			taskscope__task_ref__init(m);
			m->pid = pid;
			m->task_id = id;
			sz = taskscope__task_ref__get_packed_size(m);
		}
		item = m;
	} else if (k == K_RRES) {
		Taskscope__ResourceRef *m = malloc(sizeof(*m));

		if (m) {
			taskscope__resource_ref__init(m);
			m->pid = pid;
			m->resource_id = id;
			sz = taskscope__resource_ref__get_packed_size(m);
		}
		item = m;
	} else {
		Taskscope__WorkerRef *m = malloc(sizeof(*m));

		if (m) {
			taskscope__worker_ref__init(m);
			m->pid = pid;
			m->tid = (uint32_t)id;
			sz = taskscope__worker_ref__get_packed_size(m);
		}
		item = m;
	}
	batch_add(b, k, item, sz);
}

/* ---- one publish ---- */

#define HEADER_PROCS 64

struct header {
	Taskscope__ProcessInfo procs[HEADER_PROCS];
	Taskscope__ProcessInfo *pprocs[HEADER_PROCS];
	const struct ts_model *m;
	const struct ts_publisher_session *sess;
	uint64_t now_ns;
	uint64_t counts[TS_WARN_KIND_COUNT];
	Taskscope__StreamSession ss;
};

/* A process string for the header: too long ones are left out. */
static char *short_str(const char *s)
{
	return s && strnlen(s, TS_STREAM_STR_MAX + 1) <= TS_STREAM_STR_MAX ? (char *)s : (char *)"";
}

static void fill_header(Taskscope__Update *up, void *ctx)
{
	struct header *h = ctx;

	up->now_ns = h->now_ns;
	up->events_total = h->sess && h->sess->events ? h->sess->events : ts_model_events(h->m);
	up->events_dropped = h->sess && h->sess->dropped ? h->sess->dropped : ts_model_dropped(h->m);
	up->n_warning_counts = TS_WARN_KIND_COUNT;
	up->warning_counts = h->counts;
	up->session = &h->ss;
	up->n_processes = 0;
	up->processes = h->pprocs;
	{
		size_t n = 0;
		const struct ts_process *p = ts_model_processes(h->m, &n);

		for (size_t i = 0; p && i < n && i < HEADER_PROCS; i++) {
			Taskscope__ProcessInfo *x = &h->procs[up->n_processes];

			taskscope__process_info__init(x);
			x->pid = p[i].pid;
			x->exe = short_str(p[i].exe);
			x->runtime = short_str(p[i].runtime);
			x->source = short_str(p[i].source);
			x->events = p[i].events;
			x->dropped = p[i].dropped;
			x->exited = p[i].exited;
			h->pprocs[up->n_processes++] = x;
		}
	}
}

/* Objects not seen in this publish are gone: list them (when a delta is
 * wanted) and forget them. */
static void sweep_removed(struct ts_stream_encoder *e, struct batch *d, int kind, int k)
{
	struct ts_fp_map *m = &e->maps[kind];

	for (size_t i = 0; i < m->cap;) {
		struct ts_fp_entry *x = &m->slots[i];

		if (!x->gen || x->gen == e->gen) {
			i++;
			continue;
		}
		if (d->out)
			add_removed(d, k, x->pid, x->id);
		ts_fp_map_del(m, i);          /* slot i may now hold a later entry: look again */
	}
}

/* Compare one object with the last publish and remember it. */
static bool changed(struct ts_stream_encoder *e, int kind, uint32_t pid, uint64_t id, uint64_t fp)
{
	struct ts_fp_map *m = &e->maps[kind];
	struct ts_fp_entry *x = ts_fp_map_slot(m, pid, id);
	bool fresh = !x->gen;
	bool diff = fresh || x->fp != fp || !e->primed;

	if (fresh) {
		*x = (struct ts_fp_entry){ .id = id, .pid = pid };
		m->n++;
	}
	x->fp = fp;
	x->gen = e->gen;
	return diff;
}

int ts_stream_encode(struct ts_stream_encoder *e, const struct ts_model *m, const struct ts_publisher_session *sess,
		     uint64_t now_ns, struct ts_stream_buf *delta, struct ts_stream_buf *snap)
{
	struct batch d = { .out = delta }, s = { .out = snap, .snapshot = true };
	const struct ts_warning *recent[TS_STREAM_SNAPSHOT_WARNINGS];
	struct header h = { .m = m, .sess = sess, .now_ns = now_ns };
	struct ts_task *const *tasks;
	struct ts_resource *const *res;
	struct ts_thread *const *threads;
	size_t nt = 0, nr = 0, nth = 0, nw, total = 0, fresh;
	int r = 0;

	tasks = ts_model_tasks(m, &nt);
	res = ts_model_resources(m, &nr);
	threads = ts_model_threads(m, &nth);
	/* room for every object of this publish beside the last one's */
	if (ts_fp_map_reserve(&e->maps[0], e->maps[0].n + nt) < 0 || ts_fp_map_reserve(&e->maps[1], e->maps[1].n + nr) < 0 ||
	    ts_fp_map_reserve(&e->maps[2], e->maps[2].n + nth) < 0) {
		ts_stream_encoder_reset(e);
		return -ENOMEM;
	}
	if (++e->gen == 0) {
		/* wrapped: every stamp is ambiguous now, start over */
		ts_stream_encoder_reset(e);
		e->gen = 1;
	}
	for (size_t i = 0; tasks && i < nt; i++) {
		const struct ts_task *t = tasks[i];

		if (!t)
			continue;
		if (changed(e, 0, t->pid, t->id, ts_fp_task(t)) && delta)
			add_task(&d, t);
		if (snap)
			add_task(&s, t);
	}
	for (size_t i = 0; res && i < nr; i++) {
		const struct ts_resource *x = res[i];

		if (!x)
			continue;
		if (changed(e, 1, x->pid, x->id, ts_fp_resource(x)) && delta)
			add_resource(&d, x);
		if (snap)
			add_resource(&s, x);
	}
	for (size_t i = 0; threads && i < nth; i++) {
		const struct ts_thread *t = threads[i];

		if (!t)
			continue;
		if (changed(e, 2, t->pid, t->tid, ts_fp_thread(t)) && delta)
			add_worker(&d, t);
		if (snap)
			add_worker(&s, t);
	}
	sweep_removed(e, &d, 0, K_RTASK);
	sweep_removed(e, &d, 1, K_RRES);
	sweep_removed(e, &d, 2, K_RWORKER);

	/* warnings: the new ones since the last publish (at most the model's
	 * recent ring), and the latest ones in a snapshot */
	for (uint32_t k = 0; k < TS_WARN_KIND_COUNT; k++) {
		h.counts[k] = ts_model_warning_count(m, k);
		total += h.counts[k];
	}
	nw = ts_model_recent_warnings(m, recent, TS_STREAM_SNAPSHOT_WARNINGS);
	nw = nw > TS_STREAM_SNAPSHOT_WARNINGS ? TS_STREAM_SNAPSHOT_WARNINGS : nw;
	fresh = !e->primed ? nw : total - e->warn_total < nw ? total - e->warn_total : nw;
	for (size_t i = nw - fresh; delta && i < nw; i++)
		if (recent[i])
			add_warning(&d, recent[i]);
	for (size_t i = 0; snap && i < nw; i++)
		if (recent[i])
			add_warning(&s, recent[i]);
	e->warn_total = total;
	e->primed = true;

	if (sess) {
		h.ss = (Taskscope__StreamSession)TASKSCOPE__STREAM_SESSION__INIT;
		h.ss.target = (char *)(sess->target ?: "");
		h.ss.mode = (char *)(sess->mode ?: "");
		h.ss.events_per_s = sess->events_per_s;
		h.ss.unstored = sess->unstored;
		h.ss.db_path = (char *)(sess->db_path ?: "");
		h.ss.consoles = sess->consoles;
	} else {
		h.ss = (Taskscope__StreamSession)TASKSCOPE__STREAM_SESSION__INIT;
	}
	if (delta)
		batch_flush(&d, false, fill_header, &h);
	if (snap)
		batch_flush(&s, false, fill_header, &h);
	r = d.err ? d.err : s.err;
	batch_fini(&d);
	batch_fini(&s);
	return r;
}

/* ---- a console's task details ---- */

static void hist_msg(Taskscope__Histogram *m, uint32_t *buckets, const struct ts_histogram *h)
{
	size_t n = TS_HIST_BUCKETS;

	taskscope__histogram__init(m);
	m->count = h->count;
	m->sum = h->sum;
	m->max = h->max;
	m->min = h->min;
	while (n > 0 && !h->buckets[n - 1])
		n--;                    /* trailing empty buckets are implied */
	memcpy(buckets, h->buckets, n * sizeof(*buckets));
	m->n_buckets = n;
	m->buckets = buckets;
}

int ts_stream_encode_detail(const struct ts_model *m, uint32_t pid, uint64_t id, struct ts_stream_buf *out)
{
	struct ts_task *t = ts_model_find_task(m, pid, id);
	struct ts_poll_span spans[TS_STREAM_DETAIL_POLLS];
	Taskscope__PollSpan pm[TS_STREAM_DETAIL_POLLS], *pp[TS_STREAM_DETAIL_POLLS];
	uint32_t pb[TS_HIST_BUCKETS], sb[TS_HIST_BUCKETS];
	Taskscope__Histogram ph, sh;
	Taskscope__TaskDetail d = TASKSCOPE__TASK_DETAIL__INIT;
	Taskscope__Update up = TASKSCOPE__UPDATE__INIT;
	size_t n, len;

	if (!t)
		return -ENOENT;
	hist_msg(&ph, pb, &t->poll_hist);
	hist_msg(&sh, sb, &t->sched_hist);
	n = ts_model_recent_polls(m, pid, id, spans, TS_STREAM_DETAIL_POLLS);
	n = n > TS_STREAM_DETAIL_POLLS ? TS_STREAM_DETAIL_POLLS : n;
	for (size_t i = 0; i < n; i++) {
		taskscope__poll_span__init(&pm[i]);
		pm[i].start_ns = spans[i].start_ns;
		pm[i].end_ns = spans[i].end_ns;
		pm[i].on_cpu_ns = spans[i].on_cpu_ns;
		pm[i].tid = spans[i].tid;
		pm[i].ready = spans[i].ready;
		pp[i] = &pm[i];
	}
	d.pid = pid;
	d.task_id = id;
	d.poll_hist = &ph;
	d.sched_hist = &sh;
	d.n_polls = n;
	d.polls = pp;
	up.detail = &d;
	up.detail_only = true;
	len = taskscope__update__get_packed_size(&up);
	if (buf_reserve(out, len + 4) < 0)
		return -ENOMEM;
	out->data[out->len++] = (uint8_t)(len & 0xff);
	out->data[out->len++] = (uint8_t)((len >> 8) & 0xff);
	out->data[out->len++] = (uint8_t)((len >> 16) & 0xff);
	out->data[out->len++] = (uint8_t)((len >> 24) & 0xff);
	out->len += taskscope__update__pack(&up, out->data + out->len);
	return 0;
}
