/*
 * storage.c: the queue between the collector thread and the writer thread.
 *
 * The collector must never wait for the disk, so each add call copies one
 * fixed-size row into a bounded ring under a short mutex and returns; a full
 * ring refuses the row at once (-ENOBUFS, counted as unstored). The writer
 * thread waits until a batch is worth a transaction (batch_rows rows, or
 * the oldest row is batch_ms old, or someone flushes), writes the rows in
 * place (the slots stay reserved until their commit, so a slow disk fills
 * the ring and pushes back instead of growing memory), then frees them.
 * Sequence numbers (rows accepted, rows done) let ts_storage_flush() wait
 * for exactly the rows enqueued before it.
 */
#include "storage/storage.h"
#include "storage/internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_QUEUE_ROWS 262144
#define DEFAULT_BATCH_ROWS 10000
#define DEFAULT_BATCH_MS 50

struct ts_storage {
	char *path;
	sqlite3 *db;
	struct ts_writer *writer;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;
	pthread_cond_t wake;          /* writer: rows, a flush, or stop */
	pthread_cond_t done;          /* flushers: a batch finished */
	struct ts_row *rows;
	size_t cap;
	size_t head;                  /* oldest row */
	size_t count;                 /* rows in the ring, including the batch being written */
	size_t batch_rows;
	uint64_t batch_ns;
	uint64_t seq_enqueued;        /* rows accepted since open */
	uint64_t seq_done;            /* rows committed or failed since open */
	uint64_t flush_target;        /* a flusher waits for seq_done >= this */
	uint64_t failed_upto;         /* seq_done after the last failed batch */
	uint64_t flush_checked;       /* seq_done seen by the last flush */
	bool stop;
	bool paused;
	struct ts_storage_stats stats;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void deadline_ts(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
}

/* Whether the writer has something to do right now. */
static bool writer_has_work(const struct ts_storage *s)
{
	if (s->count == 0)
		return false;
	return s->stop || !s->paused || s->flush_target > s->seq_done;
}

/* Whether the rows waiting should go to disk without waiting longer. */
static bool batch_ready(const struct ts_storage *s)
{
	return s->stop || s->count >= s->batch_rows || s->flush_target > s->seq_done;
}

static void record_failure(struct ts_storage *s, int r, const char *msg, size_t n)
{
	s->stats.unstored += n;
	s->stats.errors++;
	s->failed_upto = s->seq_done;
	if (s->stats.last_error != r)
		snprintf(s->stats.last_error_text, sizeof(s->stats.last_error_text),
			 "storage: cannot write %s: %s; new rows are not being stored", s->path,
			 msg && *msg ? msg : strerror(-r));
	s->stats.last_error = r;
}

static void *writer_main(void *arg)
{
	struct ts_storage *s = arg;
	struct timespec until;
	size_t first, n;
	char msg[200];
	int r;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!writer_has_work(s) && !(s->stop && s->count == 0))
			pthread_cond_wait(&s->wake, &s->lock);
		if (s->count == 0)
			break;   /* stopping and drained */
		deadline_ts(now_ns() + s->batch_ns, &until);
		while (!batch_ready(s) && !s->paused)
			if (pthread_cond_timedwait(&s->wake, &s->lock, &until) == ETIMEDOUT)
				break;
		if (!writer_has_work(s))
			continue;   /* paused while gathering */
		first = s->head;
		n = s->count < s->batch_rows ? s->count : s->batch_rows;
		pthread_mutex_unlock(&s->lock);

		r = ts_writer_commit(s->writer, s->rows, s->cap, first, n, msg, sizeof(msg));
		for (size_t i = 0; i < n; i++)
			ts_row_release(&s->rows[(first + i) % s->cap]);

		pthread_mutex_lock(&s->lock);
		s->head = (s->head + n) % s->cap;
		s->count -= n;
		/* Empty: start over at slot 0, so a writer that keeps up only
		 * ever touches the first pages of the ring (RSS stays at the
		 * peak backlog, not the capacity). */
		if (s->count == 0)
			s->head = 0;
		s->seq_done += n;
		if (r == 0) {
			s->stats.committed += n;
			s->stats.commits++;
		} else {
			record_failure(s, r, msg, n);
		}
		pthread_cond_broadcast(&s->done);
	}
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* The writer runs with every signal blocked: signals belong to the
 * collector's main loop, and SQLite must not be interrupted mid-write. */
static int start_writer(struct ts_storage *s)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&s->thread, NULL, writer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	s->thread_started = r == 0;
	return r;
}

static int apply_max_bytes(sqlite3 *db, uint64_t max_bytes)
{
	char sql[96];
	int64_t pages;

	if (!max_bytes)
		return 0;
	pages = (int64_t)(max_bytes / 4096u);
	snprintf(sql, sizeof(sql), "PRAGMA page_size = 4096; PRAGMA max_page_count = %lld",
		 (long long)(pages > 1 ? pages : 1));
	return ts_storage_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static int cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t attr;
	int r;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	r = -pthread_cond_init(c, &attr);
	pthread_condattr_destroy(&attr);
	return r;
}

int ts_storage_open_with(const char *path, const struct ts_storage_options *opts,
			 struct ts_storage **out, char *err, size_t errlen)
{
	struct ts_storage_options o = { 0 };
	struct ts_storage *s;
	int r;

	*out = NULL;
	if (opts)
		o = *opts;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = cond_init_monotonic(&s->wake);
	if (r < 0) {
		free(s);
		return r;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->done, NULL);
	s->cap = o.queue_rows ? o.queue_rows : DEFAULT_QUEUE_ROWS;
	s->batch_rows = o.batch_rows ? o.batch_rows : DEFAULT_BATCH_ROWS;
	if (s->batch_rows > s->cap / 2)   /* a full batch must not need a full queue */
		s->batch_rows = s->cap / 2 ? s->cap / 2 : 1;
	s->batch_ns = (uint64_t)(o.batch_ms ? o.batch_ms : DEFAULT_BATCH_MS) * 1000000u;
	s->path = strdup(path ? path : "");
	s->rows = calloc(s->cap, sizeof(*s->rows));
	if (!s->path || !s->rows) {
		r = -ENOMEM;
		goto cleanup;
	}
	r = ts_storage_db_open(path, false, &s->db, err, errlen);
	if (r < 0)
		goto cleanup;
	r = apply_max_bytes(s->db, o.max_bytes);
	if (r == 0)
		r = ts_writer_new(s->db, &s->writer, err, errlen);
	if (r == 0)
		r = start_writer(s);
	if (r < 0) {
		if (err && errlen && !*err)
			snprintf(err, errlen, "cannot start storage on %s: %s", path, strerror(-r));
		goto cleanup;
	}
	*out = s;
	return 0;
cleanup:
	pthread_cond_destroy(&s->wake);
	ts_writer_free(s->writer);
	sqlite3_close(s->db);
	pthread_cond_destroy(&s->done);
	pthread_mutex_destroy(&s->lock);
	free(s->rows);
	free(s->path);
	free(s);
	return r;
}

int ts_storage_open(const char *path, struct ts_storage **out, char *err, size_t errlen)
{
	return ts_storage_open_with(path, NULL, out, err, errlen);
}

void ts_storage_close(struct ts_storage *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	ts_writer_free(s->writer);
	sqlite3_close(s->db);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->done);
	pthread_mutex_destroy(&s->lock);
	free(s->rows);
	free(s->path);
	free(s);
}

/* Copies `row` into the ring, or refuses it when the ring is full. On
 * refusal the row's owned strings are freed here. */
static int enqueue(struct ts_storage *s, struct ts_row *row)
{
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (s->count == s->cap || s->stop) {
		s->stats.unstored++;
		r = -ENOBUFS;
		goto cleanup;
	}
	s->rows[(s->head + s->count) % s->cap] = *row;
	s->count++;
	s->seq_enqueued++;
	s->stats.enqueued++;
	/* Wake the writer only when it can act: the first row starts its
	 * batch timer, a full batch ends it. */
	if (s->count == 1 || s->count == s->batch_rows)
		pthread_cond_signal(&s->wake);
cleanup:
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		ts_row_release(row);
	return r;
}

static int refuse_nomem(struct ts_storage *s, struct ts_row *row)
{
	ts_row_release(row);
	pthread_mutex_lock(&s->lock);
	s->stats.unstored++;
	pthread_mutex_unlock(&s->lock);
	return -ENOMEM;
}

static void copy_name(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

int ts_storage_add_process(struct ts_storage *s, const struct ts_process *p)
{
	struct ts_row row = { .type = TS_ROW_PROCESS };

	row.u.process.pid = p->pid;
	row.u.process.started_ns = p->started_ns;
	row.u.process.events = p->events;
	row.u.process.dropped = p->dropped;
	copy_name(row.u.process.source, sizeof(row.u.process.source), p->source ? p->source : "generic");
	row.u.process.exe = p->exe ? strdup(p->exe) : NULL;
	row.u.process.runtime = p->runtime ? strdup(p->runtime) : NULL;
	if ((p->exe && !row.u.process.exe) || (p->runtime && !row.u.process.runtime))
		return refuse_nomem(s, &row);
	return enqueue(s, &row);
}

int ts_storage_add_drops(struct ts_storage *s, uint32_t pid, const char *source, uint64_t events_dropped)
{
	struct ts_row row = { .type = TS_ROW_DROPS };

	row.u.drops.pid = pid;
	row.u.drops.events_dropped = events_dropped;
	copy_name(row.u.drops.source, sizeof(row.u.drops.source), source ? source : "generic");
	return enqueue(s, &row);
}

int ts_storage_add_thread(struct ts_storage *s, const struct ts_thread *t)
{
	struct ts_row row = { .type = TS_ROW_THREAD };

	row.u.thread.pid = t->pid;
	row.u.thread.tid = t->tid;
	row.u.thread.role = t->role;
	row.u.thread.name = t->name;
	return enqueue(s, &row);
}

int ts_storage_add_task(struct ts_storage *s, const struct ts_task *t)
{
	struct ts_row row = { .type = TS_ROW_TASK };
	struct ts_row_task *r = &row.u.task;

	r->pid = t->pid;
	r->kind = t->kind;
	r->outcome = t->outcome;
	r->id = t->id;
	r->parent = t->parent;
	r->life = t->life;
	r->name = t->name;
	r->location = t->location;
	r->spawned_ns = t->spawned_ns;
	r->dropped_ns = t->dropped_ns;
	r->polls = t->polls;
	r->busy_ns = t->busy_ns;
	r->sched_ns = t->sched_ns;
	r->idle_ns = t->idle_ns;
	r->wakes = t->wakes;
	r->self_wakes = t->self_wakes;
	r->waker_clones = t->waker_clones;
	r->waker_drops = t->waker_drops;
	r->max_poll_ns = t->max_poll_ns;
	return enqueue(s, &row);
}

int ts_storage_add_poll_span(struct ts_storage *s, const struct ts_poll_span *span)
{
	struct ts_row row = { .type = TS_ROW_POLL, .u.poll = *span };

	return enqueue(s, &row);
}

int ts_storage_add_lock_span(struct ts_storage *s, const struct ts_lock_span *span)
{
	struct ts_row row = { .type = TS_ROW_LOCK, .u.lock = *span };

	return enqueue(s, &row);
}

int ts_storage_add_warning(struct ts_storage *s, const struct ts_warning *w)
{
	struct ts_row row = { .type = TS_ROW_WARNING };

	row.u.warning.pid = w->pid;
	row.u.warning.tid = w->tid;
	row.u.warning.kind = w->kind;
	row.u.warning.task_id = w->task_id;
	row.u.warning.ts_ns = w->ts_ns;
	row.u.warning.duration_ns = w->duration_ns;
	/* bounded: a detail that lost its NUL is cut at the array's end */
	row.u.warning.detail = strndup(w->detail, sizeof(w->detail));
	if (!row.u.warning.detail)
		return refuse_nomem(s, &row);
	return enqueue(s, &row);
}

int ts_storage_flush(struct ts_storage *s)
{
	uint64_t target;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	target = s->seq_enqueued;
	if (target > s->flush_target) {
		s->flush_target = target;
		pthread_cond_signal(&s->wake);
	}
	while (s->seq_done < target)
		pthread_cond_wait(&s->done, &s->lock);
	if (s->failed_upto > s->flush_checked)
		r = s->stats.last_error;
	if (s->seq_done > s->flush_checked)
		s->flush_checked = s->seq_done;
	pthread_mutex_unlock(&s->lock);
	return r;
}

void ts_storage_pause(struct ts_storage *s, bool paused)
{
	pthread_mutex_lock(&s->lock);
	s->paused = paused;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

void ts_storage_get_stats(struct ts_storage *s, struct ts_storage_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	out->queued = s->count;
	pthread_mutex_unlock(&s->lock);
}

static void sink_poll_span(void *ctx, const struct ts_poll_span *span)
{
	ts_storage_add_poll_span(ctx, span);
}

static void sink_lock_span(void *ctx, const struct ts_lock_span *span)
{
	ts_storage_add_lock_span(ctx, span);
}

static void sink_task(void *ctx, const struct ts_task *task)
{
	ts_storage_add_task(ctx, task);
}

static void sink_thread(void *ctx, const struct ts_thread *thread)
{
	ts_storage_add_thread(ctx, thread);
}

static void sink_warning(void *ctx, const struct ts_warning *warning)
{
	ts_storage_add_warning(ctx, warning);
}

void ts_storage_sink(struct ts_storage *s, struct ts_model_sink *out)
{
	*out = (struct ts_model_sink){
		.ctx = s,
		.poll_span = sink_poll_span,
		.lock_span = sink_lock_span,
		.task_changed = sink_task,
		.thread_changed = sink_thread,
		.warning = sink_warning,
	};
}
