/*
 * collector.c: the embedded collector: control socket, targets, drain.
 *
 * Targets connect to the control socket and hand over their memfd with a
 * Hello. Each accepted target becomes a shm source; its control connection
 * stays open only so that its hang-up tells us it exited. Other sources
 * (attach: BPF, a shim found later, kernel context) are added with
 * ts_collector_add_source() and watched through a pidfd. Draining copies
 * every source's events into one batch, sorts it by time (events of
 * different threads interleave correctly within a batch) and applies it to
 * the model. Losses of every kind (full rings in the target, records that
 * fail validation, corrupt ring indices) reach the model as TS_EV_DROPPED,
 * so they show up in the same counters and warnings.
 */
#include "collector/collector.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collector/handshake.h"
#include "collector/source_shm.h"
#include "collector/strpool.h"
#include "collector/symbolize.h"

#define HELLO_TIMEOUT_MS 500
#define STRPOOL_BYTES (64u << 20)

struct target {
	int watch_fd;              /* -1: lives until the end */
	bool watch_is_pidfd;
	uint32_t pid;              /* 0: a context-only source */
	char *kind;
	const struct ts_source_ops *ops;
	void *src;
	uint64_t lost_reported;    /* rejected + corrupt losses already sent to the model */
	uint64_t dropped_reported; /* total last passed to drops_changed */
	struct target *next;
};

struct ts_collector {
	struct ts_collector_options opt;
	int listen_fd;
	int epoll_fd;
	struct ts_strpool *pool;
	struct ts_model *model;
	struct target *targets;
	struct ts_event_batch batch;
	size_t held;                 /* events at the front of batch held back, in order */
	struct ts_collector_stats stats;
	struct shared_sym *syms;     /* one symbolizer per process, shared by its sources */
};

struct shared_sym {
	uint32_t pid;
	struct ts_symbolizer *sym;
	struct shared_sym *next;
};

uint64_t ts_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void logf_(struct ts_collector *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(struct ts_collector *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!c->opt.log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->opt.log(c->opt.ctx, line);
}

int ts_collector_new(const struct ts_collector_options *o, struct ts_collector **out, char *err, size_t errlen)
{
	struct ts_collector *c;
	struct epoll_event ev = { .events = EPOLLIN };
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->opt = *o;
	c->listen_fd = -1;
	ts_event_batch_init(&c->batch);
	c->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epoll_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create an epoll instance: %s", strerror(-r));
		goto fail;
	}
	r = ts_strpool_new(STRPOOL_BYTES, &c->pool);
	if (r < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	r = ts_model_new(&o->model, &o->sink, &c->model);
	if (r < 0) {
		snprintf(err, errlen, "cannot create the model: %s", strerror(-r));
		goto fail;
	}
	if (o->socket_path) {
		r = ts_handshake_listen(o->socket_path, &c->listen_fd);
		if (r < 0) {
			snprintf(err, errlen, "cannot listen on %s: %s", o->socket_path, strerror(-r));
			goto fail;
		}
		ev.data.ptr = NULL; /* NULL: the listening socket */
		if (epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, c->listen_fd, &ev) < 0) {
			r = -errno;
			snprintf(err, errlen, "epoll_ctl: %s", strerror(-r));
			goto fail;
		}
	}
	*out = c;
	return 0;
fail:
	ts_collector_free(c);
	return r;
}

static void target_free(struct target *t)
{
	if (t->watch_fd >= 0)
		close(t->watch_fd);
	if (t->src && t->ops->free)
		t->ops->free(t->src);
	free(t->kind);
	free(t);
}

int ts_collector_symbolizer(struct ts_collector *c, uint32_t pid, struct ts_symbolizer **out, char *err,
			    size_t errlen)
{
	struct shared_sym *e;
	int r;

	for (e = c->syms; e; e = e->next) {
		if (e->pid == pid) {
			ts_symbolizer_ref(e->sym);
			*out = e->sym;
			return 0;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = ts_symbolizer_new(pid, &e->sym, err, errlen);
	if (r < 0) {
		free(e);
		return r;
	}
	e->pid = pid;
	e->next = c->syms;
	c->syms = e;
	ts_symbolizer_ref(e->sym);
	*out = e->sym;
	return 0;
}

/* The collector's own reference to pid's symbolizer (its sources keep theirs). */
static void drop_symbolizer(struct ts_collector *c, uint32_t pid)
{
	for (struct shared_sym **pp = &c->syms; *pp; pp = &(*pp)->next) {
		struct shared_sym *e = *pp;

		if (e->pid == pid) {
			*pp = e->next;
			ts_symbolizer_free(e->sym);
			free(e);
			return;
		}
	}
}

void ts_collector_free(struct ts_collector *c)
{
	if (!c)
		return;
	while (c->targets) {
		struct target *t = c->targets;

		c->targets = t->next;
		target_free(t);
	}
	while (c->syms)
		drop_symbolizer(c, c->syms->pid);
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(c->opt.socket_path);
	}
	if (c->epoll_fd >= 0)
		close(c->epoll_fd);
	ts_event_batch_fini(&c->batch);
	ts_model_free(c->model);
	ts_strpool_free(c->pool);
	free(c);
}

int ts_collector_fd(const struct ts_collector *c)
{
	return c->epoll_fd;
}

static void process_changed(struct ts_collector *c, uint32_t pid)
{
	size_t n;
	const struct ts_process *ps = ts_model_processes(c->model, &n);

	if (!c->opt.process_changed)
		return;
	for (size_t i = 0; i < n; i++)
		if (ps[i].pid == pid)
			c->opt.process_changed(c->opt.ctx, &ps[i]);
}

/* Register a source whose process (if any) is already in the model. */
static int link_target(struct ts_collector *c, const struct ts_source_desc *d,
		       const struct ts_source_ops *ops, void *src, struct target **out)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct target *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->kind = strdup(d->kind ? d->kind : "?");
	if (!t->kind) {
		free(t);
		return -ENOMEM;
	}
	t->watch_fd = d->watch_fd;
	t->watch_is_pidfd = d->watch_is_pidfd;
	t->pid = d->pid;
	t->ops = ops;
	t->src = src;
	if (t->watch_fd >= 0) {
		ev.data.ptr = t;
		if (epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, t->watch_fd, &ev) < 0) {
			int r = -errno;

			t->watch_fd = -1; /* the caller still owns it */
			t->src = NULL;
			target_free(t);
			return r;
		}
	}
	t->next = c->targets;
	c->targets = t;
	if (t->pid) {
		c->stats.targets++;
		c->stats.targets_seen++;
	}
	*out = t;
	return 0;
}

int ts_collector_add_source(struct ts_collector *c, const struct ts_source_desc *d,
			    const struct ts_source_ops *ops, void *src, uint64_t now_ns,
			    char *err, size_t errlen)
{
	struct target *t;
	int r = 0;

	if (d->pid) {
		r = ts_model_process_add(c->model, d->pid, d->exe, d->runtime, d->kind, now_ns);
		if (r < 0)
			snprintf(err, errlen, "cannot register pid %u: %s", d->pid, strerror(-r));
	}
	if (r == 0) {
		r = link_target(c, d, ops, src, &t);
		if (r < 0)
			snprintf(err, errlen, "cannot watch pid %u: %s", d->pid, strerror(-r));
	}
	if (r < 0) {
		if (d->watch_fd >= 0)
			close(d->watch_fd);
		if (src && ops->free)
			ops->free(src);
		return r;
	}
	if (d->pid) {
		process_changed(c, d->pid);
		logf_(c, "attached to pid %u (%s, %s)", d->pid, d->exe ? d->exe : "?", d->kind);
	}
	return 0;
}

/* Validate a new target's Hello and memfd; answer it either way. */
static void accept_target(struct ts_collector *c, int conn, uint64_t now_ns)
{
	Taskscope__Hello *hello = NULL;
	struct ts_shm_source *src = NULL;
	struct ts_source_desc d = { .kind = "shim", .watch_fd = conn };
	struct target *t;
	char err[256] = "";
	int r;

	r = ts_handshake_take_target(conn, HELLO_TIMEOUT_MS, 0, c->pool, &hello, &src, err, sizeof(err));
	if (r < 0) {
		/* already answered with the refusal */
		c->stats.refused++;
		logf_(c, "refused a target: %s", err);
		close(conn);
		return;
	}
	r = ts_model_process_add(c->model, hello->pid, hello->exe, hello->runtime, "shim", now_ns);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot register pid %u: %s", hello->pid, strerror(-r));
		goto refuse;
	}
	d.pid = hello->pid;
	r = link_target(c, &d, &ts_shm_source_ops, src, &t);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot watch pid %u: %s", hello->pid, strerror(-r));
		goto refuse;
	}
	src = NULL;
	if (ts_handshake_send_ack(conn, true, NULL, true) < 0) {
		/* It hung up: the next handle_io notices and removes it. */
		logf_(c, "pid %u hung up during the handshake", hello->pid);
	}
	process_changed(c, hello->pid);
	logf_(c, "attached to pid %u (%s)", hello->pid, hello->exe ? hello->exe : "?");
	taskscope__hello__free_unpacked(hello, NULL);
	return;
refuse:
	c->stats.refused++;
	logf_(c, "refused a target: %s", err);
	ts_handshake_send_ack(conn, false, err, false);
	ts_shm_source_free(src);
	if (hello)
		taskscope__hello__free_unpacked(hello, NULL);
	close(conn);
}

static void report_drops(struct ts_collector *c, struct target *t)
{
	size_t n;
	const struct ts_process *ps;

	if (!c->opt.drops_changed)
		return;
	if (!t->pid) {
		/* A context-only source: its own losses, under pid 0. */
		if (t->lost_reported != t->dropped_reported) {
			t->dropped_reported = t->lost_reported;
			c->opt.drops_changed(c->opt.ctx, 0, t->kind, t->lost_reported);
		}
		return;
	}
	ps = ts_model_processes(c->model, &n);
	for (size_t i = 0; i < n; i++) {
		if (ps[i].pid != t->pid || ps[i].dropped == t->dropped_reported)
			continue;
		t->dropped_reported = ps[i].dropped;
		c->opt.drops_changed(c->opt.ctx, t->pid, t->kind, ps[i].dropped);
	}
}

/* Pull one source's events into the batch; losses become DROPPED events
 * (or, for a context-only source, a drop total of its own). */
static void drain_target(struct ts_collector *c, struct target *t, uint64_t now_ns)
{
	uint64_t lost;
	int r;

	r = t->ops->drain(t->src, &c->batch, now_ns);
	if (r < 0 && r != -EAGAIN)
		logf_(c, "reading %s events of pid %u failed: %s", t->kind, t->pid, strerror(-r));
	lost = t->ops->lost ? t->ops->lost(t->src) : 0;
	if (lost <= t->lost_reported)
		return;
	if (t->pid) {
		struct ts_event ev = { .ts = now_ns, .pid = t->pid, .type = TS_EV_DROPPED,
				       .arg = lost - t->lost_reported };

		ts_event_batch_push(&c->batch, &ev);
	} else {
		c->stats.dropped += lost - t->lost_reported;
	}
	t->lost_reported = lost;
}

/* The instant the model has seen everything up to: now, less the reorder
 * window (UINT64_MAX without one: apply everything at once). */
static uint64_t model_now(const struct ts_collector *c, uint64_t now_ns)
{
	if (!c->opt.reorder_window_ns)
		return UINT64_MAX;
	return now_ns > c->opt.reorder_window_ns ? now_ns - c->opt.reorder_window_ns : 0;
}

/* Apply the batch, in time order, up to `cutoff`; keep younger events
 * for the next drain (sorted in with what it brings). Sources are read
 * one after another and a record can be stamped well before it becomes
 * readable (a preempted writer, a BPF record reserved but not yet
 * submitted), so an event of one source may arrive a drain later than
 * the events of another that followed it. Holding the youngest
 * reorder_window_ns back lets those stragglers sort into place. Events
 * stamped more than a second in the future (a target's clock cannot be
 * trusted) are not kept: they would pile up. */
static void apply_batch(struct ts_collector *c, uint64_t cutoff)
{
	struct ts_event_batch *b = &c->batch;
	uint64_t future = cutoff + c->opt.reorder_window_ns + 1000000000ull;
	size_t keep_from = b->len, keep_to = b->len, applied = 0;

	ts_event_batch_sort_from(b, c->held);
	for (size_t i = 0; i < b->len; i++) {
		const struct ts_event *ev = &b->events[i];

		if (ev->ts > cutoff && ev->ts <= future) {
			if (keep_from == b->len)
				keep_from = i;
			keep_to = i + 1;
			continue;
		}
		if (ev->type == TS_EV_DROPPED)
			c->stats.dropped += ev->arg;
		ts_model_apply(c->model, ev);
		applied++;
	}
	c->stats.events += applied;
	if (keep_from < keep_to)
		memmove(b->events, b->events + keep_from, (keep_to - keep_from) * sizeof(*b->events));
	b->len = keep_from < keep_to ? keep_to - keep_from : 0;
	c->held = b->len;
}

static void remove_target(struct ts_collector *c, struct target *t, uint64_t now_ns)
{
	struct target **pp;

	drain_target(c, t, now_ns);
	apply_batch(c, UINT64_MAX);
	if (t->pid)
		ts_model_process_exited(c->model, t->pid, now_ns);
	report_drops(c, t);
	if (t->pid)
		process_changed(c, t->pid);
	if (t->watch_fd >= 0)
		epoll_ctl(c->epoll_fd, EPOLL_CTL_DEL, t->watch_fd, NULL);
	for (pp = &c->targets; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	if (t->pid) {
		c->stats.targets--;
		logf_(c, "pid %u detached", t->pid);
		drop_symbolizer(c, t->pid);
	}
	target_free(t);
}

/* Is the process behind `t` gone? A pidfd is readable once it exited; a
 * target never sends on its control connection after its Hello, so there
 * readable means EOF (or junk we discard). */
static bool target_gone(struct target *t, uint32_t events)
{
	char junk[256];
	ssize_t got;

	if (t->watch_is_pidfd)
		return true;
	got = recv(t->watch_fd, junk, sizeof(junk), MSG_DONTWAIT);
	return got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR) ||
	       (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR));
}

int ts_collector_handle_io(struct ts_collector *c, uint64_t now_ns)
{
	struct epoll_event evs[16];
	int n;

	n = epoll_wait(c->epoll_fd, evs, 16, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct target *t = evs[i].data.ptr;

		if (!t) {
			int conn = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (conn >= 0)
				accept_target(c, conn, now_ns);
			continue;
		}
		if (target_gone(t, evs[i].events))
			remove_target(c, t, now_ns);
	}
	return 0;
}

int ts_collector_drain(struct ts_collector *c, uint64_t now_ns)
{
	uint64_t before = c->stats.events;

	/* Context sources (pid 0) after the watched processes' own: a poll
	 * end read from a target was written after the kernel queued the
	 * off-CPU intervals inside that poll, so they are in this batch too. */
	for (struct target *t = c->targets; t; t = t->next)
		if (t->pid)
			drain_target(c, t, now_ns);
	for (struct target *t = c->targets; t; t = t->next)
		if (!t->pid)
			drain_target(c, t, now_ns);
	apply_batch(c, model_now(c, now_ns));
	return (int)(c->stats.events - before);
}

void ts_collector_tick(struct ts_collector *c, uint64_t now_ns)
{
	uint64_t seen = model_now(c, now_ns);

	/* State lints judge the model at the instant it is complete up to:
	 * a poll that ended inside the window is not "still running". */
	ts_model_tick(c->model, seen == UINT64_MAX ? now_ns : seen);
	for (struct target *t = c->targets; t; t = t->next)
		report_drops(c, t);
}

void ts_collector_finish(struct ts_collector *c, uint64_t now_ns)
{
	ts_collector_drain(c, now_ns);
	apply_batch(c, UINT64_MAX);
	ts_model_tick(c->model, now_ns);
	for (struct target *t = c->targets; t; t = t->next)
		report_drops(c, t);
	/* Watched processes first, context sources (pid 0) last: they may
	 * hold events of the others until their final drain. */
	for (;;) {
		struct target *t = c->targets;

		while (t && !t->pid && t->next)
			t = t->next;
		if (!t)
			break;
		remove_target(c, t, now_ns);
	}
	ts_model_flush(c->model);
}

struct ts_strpool *ts_collector_strpool(struct ts_collector *c)
{
	return c->pool;
}

struct ts_model *ts_collector_model(struct ts_collector *c)
{
	return c->model;
}

void ts_collector_get_stats(const struct ts_collector *c, struct ts_collector_stats *out)
{
	*out = c->stats;
}
