/*
 * storage.h: the SQLite sink.
 *
 * ts_storage_open() creates (or opens) a recording in WAL mode and starts a
 * writer thread. The enqueue calls copy their argument into a bounded
 * queue and never block the caller: when the queue is full the row is
 * counted as unstored (and reported in the stats), never silently lost.
 * The writer commits in batched transactions with prepared statements.
 * ts_storage_close() drains the queue and commits before it returns.
 *
 * The SQL surface users query is the set of views in schema.sql,
 * documented in docs/schema.md. Reading a recording (taskscope query, a
 * replaying console) goes through storage/query.h.
 *
 * Strings: task names and locations, thread names and lock names are
 * pointers into the collector's string pool and are stored by pointer (they
 * must stay valid until ts_storage_close() returns); process exe, runtime
 * and source, drop sources and warning details are copied.
 */
#ifndef TASKSCOPE_STORAGE_H
#define TASKSCOPE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/model.h"

#define TS_SCHEMA_VERSION 1

struct ts_storage;

struct ts_storage_stats {
	uint64_t enqueued;        /* rows accepted into the queue */
	uint64_t committed;       /* rows committed to the database */
	uint64_t unstored;        /* rows refused because the queue was full or a write failed */
	uint64_t commits;         /* transactions committed */
	uint64_t queued;          /* rows waiting now */
	int last_error;           /* -errno of the last failure, 0 when none */
	uint64_t errors;          /* failed transactions (each counted its rows as unstored) */
	char last_error_text[256]; /* one line for the user when last_error != 0, else "" */
};

/* Tuning; zero fields take the defaults. */
struct ts_storage_options {
	size_t queue_rows;        /* queue capacity in rows; default 262144 */
	uint32_t batch_rows;      /* commit when this many rows wait; default 10000 */
	uint32_t batch_ms;        /* or when the oldest waiting row is this old; default 50 */
	uint64_t max_bytes;       /* cap on the database size; past it writes fail with
				   * -ENOSPC like a full disk; default 0: no cap */
};

/* Opens `path` (created when missing). Fails with a negative errno and, in
 * `err` (may be NULL), one line saying what to do. */
int ts_storage_open(const char *path, struct ts_storage **out, char *err, size_t errlen);
int ts_storage_open_with(const char *path, const struct ts_storage_options *opts,
			 struct ts_storage **out, char *err, size_t errlen);
/* Drain, commit, stop the writer, close. */
void ts_storage_close(struct ts_storage *s);

int ts_storage_add_process(struct ts_storage *s, const struct ts_process *p);
/* `events_dropped` is the running total for (pid, source); the stored row
 * keeps the largest total reported. */
int ts_storage_add_drops(struct ts_storage *s, uint32_t pid, const char *source, uint64_t events_dropped);
int ts_storage_add_thread(struct ts_storage *s, const struct ts_thread *t);
int ts_storage_add_task(struct ts_storage *s, const struct ts_task *t);        /* insert or update */
int ts_storage_add_poll_span(struct ts_storage *s, const struct ts_poll_span *span);
int ts_storage_add_lock_span(struct ts_storage *s, const struct ts_lock_span *span);
int ts_storage_add_warning(struct ts_storage *s, const struct ts_warning *w);

/* The add calls return 0, or -ENOBUFS when the queue is full (the row is
 * counted in stats.unstored), or -ENOMEM. They never wait for I/O. */

/* Block until every row enqueued before the call is committed (or failed).
 * Returns 0, or the last write error (-ENOSPC, -EROFS, -EIO, ...) when rows
 * enqueued since the previous flush could not be stored. */
int ts_storage_flush(struct ts_storage *s);
/* Stop (true) or resume (false) the writer taking rows from the queue;
 * rows keep queueing up to the capacity. A flush still drains. */
void ts_storage_pause(struct ts_storage *s, bool paused);
void ts_storage_get_stats(struct ts_storage *s, struct ts_storage_stats *out);

/* A sink that forwards the model's output into `s`. */
void ts_storage_sink(struct ts_storage *s, struct ts_model_sink *out);

#endif /* TASKSCOPE_STORAGE_H */
