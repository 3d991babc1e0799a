/*
 * internal.h: what the storage/ files share and nobody else sees.
 *
 * Rows travel from the collector thread to the writer thread as fixed-size
 * structs in a ring (struct ts_row). Strings the collector interns in its
 * string pool (task names, locations, thread and lock names) live as long
 * as the collector, so rows carry the pointers; the few strings that do
 * not (process exe and runtime, warning details, drop sources) are copied.
 */
#ifndef TASKSCOPE_STORAGE_INTERNAL_H
#define TASKSCOPE_STORAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "collector/model.h"

/* "TSCP": PRAGMA application_id of every taskscope recording. */
#define TS_STORAGE_APP_ID 0x54534350

enum ts_row_type {
	TS_ROW_PROCESS = 1,
	TS_ROW_THREAD,
	TS_ROW_TASK,
	TS_ROW_POLL,
	TS_ROW_LOCK,
	TS_ROW_WARNING,
	TS_ROW_DROPS,
	TS_ROW_TYPE_COUNT,
};

struct ts_row_process {
	uint32_t pid;
	uint64_t started_ns;
	uint64_t events;
	uint64_t dropped;
	char *exe;                  /* owned (malloc), may be NULL */
	char *runtime;              /* owned, may be NULL */
	char source[16];
};

struct ts_row_thread {
	uint32_t pid;
	uint32_t tid;
	uint32_t role;
	const char *name;           /* pool */
};

struct ts_row_task {
	uint32_t pid;
	uint32_t kind;
	uint32_t outcome;
	uint64_t id;
	uint64_t parent;
	uint64_t life;              /* ts_task.life: with the session, the row's key */
	const char *name;           /* pool */
	const char *location;       /* pool */
	uint64_t spawned_ns;
	uint64_t dropped_ns;
	uint64_t polls;
	uint64_t busy_ns;
	uint64_t sched_ns;
	uint64_t idle_ns;
	uint64_t wakes;
	uint64_t self_wakes;
	uint64_t waker_clones;
	uint64_t waker_drops;
	uint64_t max_poll_ns;
};

struct ts_row_warning {
	uint32_t pid;
	uint32_t tid;
	uint32_t kind;
	uint64_t task_id;
	uint64_t ts_ns;
	uint64_t duration_ns;
	char *detail;               /* owned, may be NULL */
};

struct ts_row_drops {
	uint32_t pid;
	uint64_t events_dropped;
	char source[16];
};

struct ts_row {
	uint32_t type;              /* enum ts_row_type */
	union {
		struct ts_row_process process;
		struct ts_row_thread thread;
		struct ts_row_task task;
		struct ts_poll_span poll;   /* as the model emitted it */
		struct ts_lock_span lock;   /* lock_name: pool */
		struct ts_row_warning warning;
		struct ts_row_drops drops;
	} u;
};

/* Frees what a row owns (process strings, warning detail). */
void ts_row_release(struct ts_row *row);

/* schema.sql, embedded at build time. */
extern const char ts_storage_schema_sql[];

/* Opens and validates (or, when writable and new, creates) a recording.
 * On failure, one line in `err` and a negative errno. */
int ts_storage_db_open(const char *path, bool readonly, sqlite3 **out, char *err, size_t errlen);

/* Maps an SQLite result code to a negative errno. */
int ts_storage_errno(int rc);

/* The writer's prepared statements and the batch it commits. */
struct ts_writer;

int ts_writer_new(sqlite3 *db, struct ts_writer **out, char *err, size_t errlen);
void ts_writer_free(struct ts_writer *w);
/* Writes rows[first..first+n) (indices mod cap) in one transaction.
 * Returns 0, or a negative errno with one line in `err`; on failure
 * nothing of the batch is kept. */
int ts_writer_commit(struct ts_writer *w, struct ts_row *rows, size_t cap, size_t first,
		     size_t n, char *err, size_t errlen);

#endif /* TASKSCOPE_STORAGE_INTERNAL_H */
