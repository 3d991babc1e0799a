/*
 * writer.c: turns queued rows into SQL, one transaction per batch.
 *
 * One prepared statement per row type, bound and stepped for each row
 * between BEGIN IMMEDIATE and COMMIT: with WAL and synchronous=NORMAL that
 * is the cheapest way SQLite offers to store many small rows. Tasks,
 * threads, processes and drop counters are upserts, so the latest state
 * wins; spans and warnings are appends. A batch is all or nothing: on any
 * error it is rolled back and the caller counts its rows as unstored.
 */
#include "storage/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/event.h"
#include "collector/warning.h"

struct ts_writer {
	sqlite3 *db;
	sqlite3_stmt *begin;
	sqlite3_stmt *commit;
	sqlite3_stmt *rollback;
	sqlite3_stmt *insert[TS_ROW_TYPE_COUNT];
	uint64_t session;             /* this open's wall-clock ns: part of a task row's key */
};

static const char *const insert_sql[TS_ROW_TYPE_COUNT] = {
	[TS_ROW_PROCESS] =
		"INSERT INTO t_processes (pid, started_ns, exe, runtime, source, events, events_dropped)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		" ON CONFLICT (pid, started_ns) DO UPDATE SET exe = excluded.exe,"
		" runtime = excluded.runtime, source = excluded.source, events = excluded.events,"
		" events_dropped = excluded.events_dropped",
	[TS_ROW_THREAD] =
		"INSERT INTO t_threads (pid, tid, name, role) VALUES (?1, ?2, ?3, ?4)"
		" ON CONFLICT (pid, tid) DO UPDATE SET name = excluded.name, role = excluded.role",
	[TS_ROW_TASK] =
		"INSERT INTO t_tasks (pid, task_id, spawned_ns, parent_id, name, location, kind,"
		" dropped_ns, outcome, polls, busy_ns, sched_ns, idle_ns, wakes, self_wakes,"
		" waker_clones, waker_drops, max_poll_ns, session, life)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
		" ?19, ?20)"
		" ON CONFLICT (pid, task_id, session, life) DO UPDATE SET spawned_ns = excluded.spawned_ns,"
		" parent_id = excluded.parent_id,"
		" name = excluded.name, location = excluded.location, kind = excluded.kind,"
		" dropped_ns = excluded.dropped_ns, outcome = excluded.outcome, polls = excluded.polls,"
		" busy_ns = excluded.busy_ns, sched_ns = excluded.sched_ns, idle_ns = excluded.idle_ns,"
		" wakes = excluded.wakes, self_wakes = excluded.self_wakes,"
		" waker_clones = excluded.waker_clones, waker_drops = excluded.waker_drops,"
		" max_poll_ns = excluded.max_poll_ns",
	[TS_ROW_POLL] =
		"INSERT INTO t_poll_spans (pid, task_id, tid, start_ns, end_ns, on_cpu_ns, ready)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[TS_ROW_LOCK] =
		"INSERT INTO t_lock_spans (pid, lock_id, lock_name, task_id, tid, wait_start_ns,"
		" acquired_ns, released_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[TS_ROW_WARNING] =
		"INSERT INTO t_warnings (pid, task_id, tid, kind, ts_ns, duration_ns, detail)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	/* Drop counters are running totals: keep the largest one seen. */
	[TS_ROW_DROPS] =
		"INSERT INTO t_drops (pid, source, events_dropped) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (pid, source) DO UPDATE SET"
		" events_dropped = max(events_dropped, excluded.events_dropped)",
};

void ts_row_release(struct ts_row *row)
{
	switch (row->type) {
	case TS_ROW_PROCESS:
		free(row->u.process.exe);
		free(row->u.process.runtime);
		row->u.process.exe = row->u.process.runtime = NULL;
		break;
	case TS_ROW_WARNING:
		free(row->u.warning.detail);
		row->u.warning.detail = NULL;
		break;
	default:
		break;
	}
}

void ts_writer_free(struct ts_writer *w)
{
	if (!w)
		return;
	sqlite3_finalize(w->begin);
	sqlite3_finalize(w->commit);
	sqlite3_finalize(w->rollback);
	for (size_t i = 0; i < TS_ROW_TYPE_COUNT; i++)
		sqlite3_finalize(w->insert[i]);
	free(w);
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
	int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);

	if (rc != SQLITE_OK && err && errlen)
		snprintf(err, errlen, "storage: cannot prepare a statement: %s", sqlite3_errmsg(db));
	return rc == SQLITE_OK ? 0 : ts_storage_errno(rc);
}

/* A number that differs between two opens of one recording. */
static uint64_t session_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int ts_writer_new(sqlite3 *db, struct ts_writer **out, char *err, size_t errlen)
{
	struct ts_writer *w;
	int r;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->db = db;
	w->session = session_now();
	r = prepare(db, "BEGIN IMMEDIATE", &w->begin, err, errlen);
	if (r == 0)
		r = prepare(db, "COMMIT", &w->commit, err, errlen);
	if (r == 0)
		r = prepare(db, "ROLLBACK", &w->rollback, err, errlen);
	for (size_t i = 1; r == 0 && i < TS_ROW_TYPE_COUNT; i++)
		r = prepare(db, insert_sql[i], &w->insert[i], err, errlen);
	if (r < 0)
		goto cleanup;
	*out = w;
	w = NULL;
cleanup:
	ts_writer_free(w);
	return r;
}

/* SQLite integers are signed 64-bit; counters and timestamps beyond that
 * (only a hostile target sends them) are clamped rather than wrapped. */
static sqlite3_int64 u64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

static void bind_u64_or_null(sqlite3_stmt *st, int i, uint64_t v)
{
	if (v)
		sqlite3_bind_int64(st, i, u64(v));
	else
		sqlite3_bind_null(st, i);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void bind_row(sqlite3_stmt *st, const struct ts_row *row, uint64_t session)
{
	const struct ts_row_process *p = &row->u.process;
	const struct ts_row_task *t = &row->u.task;
	const struct ts_row_warning *w = &row->u.warning;
	const char *name;

	switch (row->type) {
	case TS_ROW_PROCESS:
		sqlite3_bind_int64(st, 1, p->pid);
		sqlite3_bind_int64(st, 2, u64(p->started_ns));
		bind_text(st, 3, p->exe);
		bind_text(st, 4, p->runtime);
		bind_text(st, 5, p->source);
		sqlite3_bind_int64(st, 6, u64(p->events));
		sqlite3_bind_int64(st, 7, u64(p->dropped));
		break;
	case TS_ROW_THREAD:
		sqlite3_bind_int64(st, 1, row->u.thread.pid);
		sqlite3_bind_int64(st, 2, row->u.thread.tid);
		bind_text(st, 3, row->u.thread.name ? row->u.thread.name : "");
		bind_text(st, 4, ts_thread_role_name(row->u.thread.role));
		break;
	case TS_ROW_TASK:
		sqlite3_bind_int64(st, 1, t->pid);
		sqlite3_bind_int64(st, 2, u64(t->id));
		sqlite3_bind_int64(st, 3, u64(t->spawned_ns));
		bind_u64_or_null(st, 4, t->parent);
		bind_text(st, 5, t->name ? t->name : "");
		bind_text(st, 6, t->location ? t->location : "");
		bind_text(st, 7, ts_task_kind_name(t->kind));
		bind_u64_or_null(st, 8, t->dropped_ns);
		bind_text(st, 9, ts_outcome_name(t->outcome));
		sqlite3_bind_int64(st, 10, u64(t->polls));
		sqlite3_bind_int64(st, 11, u64(t->busy_ns));
		sqlite3_bind_int64(st, 12, u64(t->sched_ns));
		sqlite3_bind_int64(st, 13, u64(t->idle_ns));
		sqlite3_bind_int64(st, 14, u64(t->wakes));
		sqlite3_bind_int64(st, 15, u64(t->self_wakes));
		sqlite3_bind_int64(st, 16, u64(t->waker_clones));
		sqlite3_bind_int64(st, 17, u64(t->waker_drops));
		sqlite3_bind_int64(st, 18, u64(t->max_poll_ns));
		sqlite3_bind_int64(st, 19, u64(session));
		sqlite3_bind_int64(st, 20, u64(t->life));
		break;
	case TS_ROW_POLL:
		sqlite3_bind_int64(st, 1, row->u.poll.pid);
		sqlite3_bind_int64(st, 2, u64(row->u.poll.task_id));
		sqlite3_bind_int64(st, 3, row->u.poll.tid);
		sqlite3_bind_int64(st, 4, u64(row->u.poll.start_ns));
		sqlite3_bind_int64(st, 5, u64(row->u.poll.end_ns));
		if (row->u.poll.on_cpu_ns >= 0)
			sqlite3_bind_int64(st, 6, row->u.poll.on_cpu_ns);
		else
			sqlite3_bind_null(st, 6);
		sqlite3_bind_int(st, 7, row->u.poll.ready ? 1 : 0);
		break;
	case TS_ROW_LOCK:
		sqlite3_bind_int64(st, 1, row->u.lock.pid);
		sqlite3_bind_int64(st, 2, u64(row->u.lock.lock_id));
		bind_text(st, 3, row->u.lock.lock_name ? row->u.lock.lock_name : "");
		bind_u64_or_null(st, 4, row->u.lock.task_id);
		sqlite3_bind_int64(st, 5, row->u.lock.tid);
		bind_u64_or_null(st, 6, row->u.lock.wait_start_ns);
		sqlite3_bind_int64(st, 7, u64(row->u.lock.acquired_ns));
		sqlite3_bind_int64(st, 8, u64(row->u.lock.released_ns));
		break;
	case TS_ROW_WARNING:
		name = ts_warning_kind_name(w->kind);
		sqlite3_bind_int64(st, 1, w->pid);
		bind_u64_or_null(st, 2, w->task_id);
		bind_u64_or_null(st, 3, w->tid);
		bind_text(st, 4, name ? name : "unknown");
		sqlite3_bind_int64(st, 5, u64(w->ts_ns));
		bind_u64_or_null(st, 6, w->duration_ns);
		bind_text(st, 7, w->detail ? w->detail : "");
		break;
	case TS_ROW_DROPS:
		sqlite3_bind_int64(st, 1, row->u.drops.pid);
		bind_text(st, 2, row->u.drops.source);
		sqlite3_bind_int64(st, 3, u64(row->u.drops.events_dropped));
		break;
	default:
		break;
	}
}

static int step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

int ts_writer_commit(struct ts_writer *w, struct ts_row *rows, size_t cap, size_t first,
		     size_t n, char *err, size_t errlen)
{
	const char *msg = NULL;
	struct ts_row *row;
	sqlite3_stmt *st;
	int rc;

	rc = step(w->begin);
	if (rc != SQLITE_OK)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		row = &rows[(first + i) % cap];
		if (row->type == 0 || row->type >= TS_ROW_TYPE_COUNT)
			continue;
		st = w->insert[row->type];
		bind_row(st, row, w->session);
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE && err && errlen) {
			/* keep SQLite's own words before reset and rollback replace them */
			snprintf(err, errlen, "%s", sqlite3_errmsg(w->db));
			msg = err;
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_DONE)
			goto cleanup;
	}
	rc = step(w->commit);
cleanup:
	if (rc != SQLITE_OK && !sqlite3_get_autocommit(w->db))
		step(w->rollback);
	if (rc != SQLITE_OK && !msg && err && errlen)
		snprintf(err, errlen, "%s", sqlite3_errstr(rc));
	return rc == SQLITE_OK ? 0 : ts_storage_errno(rc);
}
