/*
 * test-views.c: every public view returns what was written.
 *
 * Writes processes, threads, tasks (all outcomes and kinds), poll spans,
 * lock spans, warnings and drop counters through the storage API (and some
 * through the model sink), closes, and reads the file back with plain
 * sqlite3 through the views named in DESIGN.md's SQL contract, column by
 * column, including the NULL conventions. Then reopens the file with
 * ts_storage_open() and checks new rows are appended, not replacing.
 */
#include "storage/storage.h"
#include "util.h"

#include <errno.h>

static const char *const OUTCOMES[] = { "ok", "cancelled", "panicked", "running" };

static void write_recording(const char *path)
{
	struct ts_storage *s = NULL;
	struct ts_model_sink sink;
	char err[256] = "";

	CHECK_EQ_INT(ts_storage_open(path, &s, err, sizeof(err)), 0);

	struct ts_process p1 = { .pid = 100, .exe = "/usr/bin/demo", .runtime = "taskscope-c",
				 .source = "shim", .started_ns = 1000, .events = 50, .dropped = 3 };
	struct ts_process p2 = { .pid = 200, .exe = "/srv/tokio-app", .runtime = "tokio",
				 .source = "tokio-bpf", .started_ns = 2000 };
	char exe[64];

	/* the exe string is copied: overwriting ours after the call must not matter */
	snprintf(exe, sizeof(exe), "/usr/bin/demo");
	p1.exe = exe;
	CHECK_EQ_INT(ts_storage_add_process(s, &p1), 0);
	snprintf(exe, sizeof(exe), "garbage");
	CHECK_EQ_INT(ts_storage_add_process(s, &p2), 0);

	struct ts_thread th[] = {
		{ .pid = 100, .tid = 101, .name = "worker-0", .role = TS_ROLE_WORKER },
		{ .pid = 100, .tid = 102, .name = "blocking-0", .role = TS_ROLE_BLOCKING },
		{ .pid = 100, .tid = 103, .name = "main", .role = TS_ROLE_OTHER },
	};
	for (size_t i = 0; i < 3; i++)
		CHECK_EQ_INT(ts_storage_add_thread(s, &th[i]), 0);

	struct ts_task tasks[] = {
		{ .pid = 100, .id = 1, .name = "accept", .location = "srv.c:10", .kind = TS_KIND_TASK,
		  .outcome = TS_OUTCOME_RUNNING, .spawned_ns = 1100, .polls = 4, .busy_ns = 400,
		  .sched_ns = 40, .idle_ns = 4000, .wakes = 4, .self_wakes = 1, .max_poll_ns = 150 },
		{ .pid = 100, .id = 2, .parent = 1, .name = "conn", .location = "srv.c:20",
		  .kind = TS_KIND_LOCAL, .outcome = TS_OUTCOME_OK, .spawned_ns = 1200,
		  .dropped_ns = 1900, .polls = 2, .busy_ns = 20, .max_poll_ns = 15 },
		{ .pid = 100, .id = 3, .name = "", .location = "", .kind = TS_KIND_TASK,
		  .outcome = TS_OUTCOME_CANCELLED, .spawned_ns = 1300, .dropped_ns = 1400 },
		{ .pid = 100, .id = 4, .name = "hash", .location = "pool.c:5", .kind = TS_KIND_BLOCKING,
		  .outcome = TS_OUTCOME_PANICKED, .spawned_ns = 1500, .dropped_ns = 1600, .polls = 1 },
	};
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ_INT(ts_storage_add_task(s, &tasks[i]), 0);

	struct ts_poll_span polls[] = {
		{ .pid = 100, .tid = 101, .task_id = 1, .start_ns = 1110, .end_ns = 1260, .on_cpu_ns = 100 },
		{ .pid = 100, .tid = 101, .task_id = 2, .start_ns = 1300, .end_ns = 1315, .on_cpu_ns = -1,
		  .ready = true },
	};
	CHECK_EQ_INT(ts_storage_add_poll_span(s, &polls[0]), 0);
	CHECK_EQ_INT(ts_storage_add_poll_span(s, &polls[1]), 0);

	struct ts_lock_span locks[] = {
		{ .pid = 100, .tid = 101, .lock_id = 0xabc, .lock_name = "db_pool", .task_id = 1,
		  .wait_start_ns = 1120, .acquired_ns = 1130, .released_ns = 1250 },
		{ .pid = 100, .tid = 103, .lock_id = 0xabc, .lock_name = "db_pool", .task_id = 0,
		  .wait_start_ns = 0, .acquired_ns = 1700, .released_ns = 1710 },
	};
	CHECK_EQ_INT(ts_storage_add_lock_span(s, &locks[0]), 0);

	struct ts_warning w1 = { .pid = 100, .tid = 101, .task_id = 1, .kind = TS_WARN_LONG_POLL,
				 .ts_ns = 1260, .duration_ns = 150 };
	struct ts_warning w2 = { .pid = 100, .kind = TS_WARN_EVENTS_DROPPED, .ts_ns = 1800 };

	snprintf(w1.detail, sizeof(w1.detail), "poll took 150 ns");
	snprintf(w2.detail, sizeof(w2.detail), "3 events dropped");
	CHECK_EQ_INT(ts_storage_add_warning(s, &w1), 0);

	/* running totals: the largest one is kept */
	CHECK_EQ_INT(ts_storage_add_drops(s, 100, "shim", 5), 0);
	CHECK_EQ_INT(ts_storage_add_drops(s, 100, "shim", 7), 0);
	CHECK_EQ_INT(ts_storage_add_drops(s, 100, "shim", 6), 0);
	CHECK_EQ_INT(ts_storage_add_drops(s, 200, "tokio-bpf", 1), 0);

	/* the rest through the model sink, as the collector wires it */
	ts_storage_sink(s, &sink);
	CHECK(sink.ctx == s && sink.poll_span && sink.lock_span && sink.task_changed &&
	      sink.thread_changed && sink.warning);
	sink.lock_span(sink.ctx, &locks[1]);
	sink.warning(sink.ctx, &w2);

	CHECK_EQ_INT(ts_storage_flush(s), 0);
	struct ts_storage_stats st;

	ts_storage_get_stats(s, &st);
	CHECK_EQ_INT(st.enqueued, 2 + 3 + 4 + 2 + 2 + 2 + 4);
	CHECK_EQ_INT(st.committed, st.enqueued);
	CHECK_EQ_INT(st.unstored, 0);
	CHECK_EQ_INT(st.queued, 0);
	CHECK_EQ_INT(st.last_error, 0);
	CHECK_EQ_STR(st.last_error_text, "");
	CHECK(st.commits >= 1);
	ts_storage_close(s);
}

static void check_recording(const char *path)
{
	sqlite3 *db = db_open_raw(path);
	sqlite3_stmt *st;

	/* identity */
	CHECK_EQ_INT(db_int(db, "PRAGMA user_version"), TS_SCHEMA_VERSION);
	CHECK_EQ_STR(db_text(db, "PRAGMA journal_mode"), "wal");
	CHECK_EQ_STR(db_text(db, "SELECT value FROM meta WHERE key = 'schema_version'"), "1");
	CHECK(strcmp(db_text(db, "SELECT value FROM meta WHERE key = 'taskscope_version'"), "(none)") != 0);
	CHECK(db_int(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'created_ns'") >
	      (int64_t)1600000000 * 1000000000);

	/* processes: exactly the contract columns are there */
	st = db_prepare(db, "SELECT pid, exe, runtime, source, started_ns FROM processes ORDER BY pid");
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_EQ_INT(sqlite3_column_int64(st, 0), 100);
	CHECK_EQ_STR((const char *)sqlite3_column_text(st, 1), "/usr/bin/demo");
	CHECK_EQ_STR((const char *)sqlite3_column_text(st, 2), "taskscope-c");
	CHECK_EQ_STR((const char *)sqlite3_column_text(st, 3), "shim");
	CHECK_EQ_INT(sqlite3_column_int64(st, 4), 1000);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_EQ_INT(sqlite3_column_int64(st, 0), 200);
	CHECK_EQ_STR((const char *)sqlite3_column_text(st, 3), "tokio-bpf");
	CHECK(sqlite3_step(st) == SQLITE_DONE);
	sqlite3_finalize(st);
	CHECK_EQ_INT(db_int(db, "SELECT events_dropped FROM processes WHERE pid = 100"), 3);

	/* threads and the role vocabulary */
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM threads"), 3);
	CHECK_EQ_STR(db_text(db, "SELECT name || '/' || role FROM threads WHERE pid = 100 AND tid = 101"),
		     "worker-0/worker");
	CHECK_EQ_STR(db_text(db, "SELECT role FROM threads WHERE tid = 102"), "blocking");
	CHECK_EQ_STR(db_text(db, "SELECT role FROM threads WHERE tid = 103"), "other");

	/* task_summary: all contract columns, each outcome once */
	st = db_prepare(db, "SELECT pid, task_id, name, location, kind, spawned_ns, dropped_ns, outcome,"
			    " polls, busy_ns, sched_ns, idle_ns, wakes, self_wakes, max_poll_ns"
			    " FROM task_summary WHERE task_id = 1");
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_EQ_INT(sqlite3_column_int64(st, 0), 100);
	CHECK_EQ_STR((const char *)sqlite3_column_text(st, 2), "accept");
	CHECK_EQ_STR((const char *)sqlite3_column_text(st, 3), "srv.c:10");
	CHECK_EQ_STR((const char *)sqlite3_column_text(st, 4), "task");
	CHECK_EQ_INT(sqlite3_column_int64(st, 5), 1100);
	CHECK_EQ_INT(sqlite3_column_type(st, 6), SQLITE_NULL);   /* alive: dropped_ns NULL */
	CHECK_EQ_STR((const char *)sqlite3_column_text(st, 7), "running");
	CHECK_EQ_INT(sqlite3_column_int64(st, 8), 4);
	CHECK_EQ_INT(sqlite3_column_int64(st, 9), 400);
	CHECK_EQ_INT(sqlite3_column_int64(st, 10), 40);
	CHECK_EQ_INT(sqlite3_column_int64(st, 11), 4000);
	CHECK_EQ_INT(sqlite3_column_int64(st, 12), 4);
	CHECK_EQ_INT(sqlite3_column_int64(st, 13), 1);
	CHECK_EQ_INT(sqlite3_column_int64(st, 14), 150);
	sqlite3_finalize(st);
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM task_summary WHERE outcome = '%s'", OUTCOMES[i]), 1);
	CHECK_EQ_STR(db_text(db, "SELECT kind FROM task_summary WHERE task_id = 2"), "local");
	CHECK_EQ_STR(db_text(db, "SELECT kind FROM task_summary WHERE task_id = 4"), "blocking");
	CHECK_EQ_INT(db_int(db, "SELECT dropped_ns FROM task_summary WHERE task_id = 2"), 1900);
	CHECK_EQ_INT(db_int(db, "SELECT parent_id FROM task_summary WHERE task_id = 2"), 1);
	CHECK_EQ_STR(db_text(db, "SELECT parent_id FROM task_summary WHERE task_id = 1"), "(null)");
	CHECK_EQ_STR(db_text(db, "SELECT name FROM task_summary WHERE task_id = 3"), "");

	/* poll_spans: on_cpu_ns NULL when unknown, ready 0/1 */
	st = db_prepare(db, "SELECT pid, task_id, tid, start_ns, end_ns, on_cpu_ns, ready, duration_ns"
			    " FROM poll_spans ORDER BY start_ns");
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_EQ_INT(sqlite3_column_int64(st, 1), 1);
	CHECK_EQ_INT(sqlite3_column_int64(st, 2), 101);
	CHECK_EQ_INT(sqlite3_column_int64(st, 3), 1110);
	CHECK_EQ_INT(sqlite3_column_int64(st, 4), 1260);
	CHECK_EQ_INT(sqlite3_column_int64(st, 5), 100);
	CHECK_EQ_INT(sqlite3_column_int64(st, 6), 0);
	CHECK_EQ_INT(sqlite3_column_int64(st, 7), 150);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_EQ_INT(sqlite3_column_int64(st, 1), 2);
	CHECK_EQ_INT(sqlite3_column_type(st, 5), SQLITE_NULL);
	CHECK_EQ_INT(sqlite3_column_int64(st, 6), 1);
	CHECK(sqlite3_step(st) == SQLITE_DONE);
	sqlite3_finalize(st);

	/* lock_spans: task_id NULL outside a poll, wait_start_ns NULL without a wait */
	st = db_prepare(db, "SELECT pid, lock_id, lock_name, task_id, tid, wait_start_ns, acquired_ns,"
			    " released_ns, wait_ns, hold_ns FROM lock_spans ORDER BY acquired_ns");
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_EQ_INT(sqlite3_column_int64(st, 1), 0xabc);
	CHECK_EQ_STR((const char *)sqlite3_column_text(st, 2), "db_pool");
	CHECK_EQ_INT(sqlite3_column_int64(st, 3), 1);
	CHECK_EQ_INT(sqlite3_column_int64(st, 4), 101);
	CHECK_EQ_INT(sqlite3_column_int64(st, 5), 1120);
	CHECK_EQ_INT(sqlite3_column_int64(st, 6), 1130);
	CHECK_EQ_INT(sqlite3_column_int64(st, 7), 1250);
	CHECK_EQ_INT(sqlite3_column_int64(st, 8), 10);
	CHECK_EQ_INT(sqlite3_column_int64(st, 9), 120);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_EQ_INT(sqlite3_column_type(st, 3), SQLITE_NULL);
	CHECK_EQ_INT(sqlite3_column_int64(st, 4), 103);
	CHECK_EQ_INT(sqlite3_column_type(st, 5), SQLITE_NULL);
	CHECK_EQ_INT(sqlite3_column_int64(st, 8), 0);
	CHECK(sqlite3_step(st) == SQLITE_DONE);
	sqlite3_finalize(st);

	/* warnings: kind names, NULL task/tid/duration when not tied */
	st = db_prepare(db, "SELECT pid, task_id, tid, kind, ts_ns, duration_ns, detail FROM warnings"
			    " ORDER BY ts_ns");
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_EQ_INT(sqlite3_column_int64(st, 1), 1);
	CHECK_EQ_INT(sqlite3_column_int64(st, 2), 101);
	CHECK_EQ_STR((const char *)sqlite3_column_text(st, 3), "long_poll");
	CHECK_EQ_INT(sqlite3_column_int64(st, 4), 1260);
	CHECK_EQ_INT(sqlite3_column_int64(st, 5), 150);
	CHECK_EQ_STR((const char *)sqlite3_column_text(st, 6), "poll took 150 ns");
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_EQ_INT(sqlite3_column_type(st, 1), SQLITE_NULL);
	CHECK_EQ_INT(sqlite3_column_type(st, 2), SQLITE_NULL);
	CHECK_EQ_STR((const char *)sqlite3_column_text(st, 3), "events_dropped");
	CHECK_EQ_INT(sqlite3_column_type(st, 5), SQLITE_NULL);
	CHECK_EQ_STR((const char *)sqlite3_column_text(st, 6), "3 events dropped");
	CHECK(sqlite3_step(st) == SQLITE_DONE);
	sqlite3_finalize(st);

	/* drops */
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM drops"), 2);
	CHECK_EQ_INT(db_int(db, "SELECT events_dropped FROM drops WHERE pid = 100 AND source = 'shim'"), 7);
	CHECK_EQ_INT(db_int(db, "SELECT events_dropped FROM drops WHERE pid = 200 AND source = 'tokio-bpf'"), 1);

	CHECK_EQ_STR(db_text(db, "PRAGMA integrity_check"), "ok");
	sqlite3_close(db);
}

/* Reopening a recording of this version appends. */
static void check_append(const char *path)
{
	struct ts_poll_span span = { .pid = 100, .tid = 101, .task_id = 1, .start_ns = 5000,
				     .end_ns = 5100, .on_cpu_ns = 90 };
	struct ts_storage *s = NULL;
	char err[256] = "";
	sqlite3 *db;

	CHECK_EQ_INT(ts_storage_open(path, &s, err, sizeof(err)), 0);
	CHECK_EQ_INT(ts_storage_add_poll_span(s, &span), 0);
	ts_storage_close(s);

	db = db_open_raw(path);
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM poll_spans"), 3);
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM task_summary"), 4);
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM meta WHERE key = 'schema_version'"), 1);
	sqlite3_close(db);
}

int main(void)
{
	char dir[256], path[512];

	tmpdir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/rec.db", dir);
	write_recording(path);
	/* closed cleanly: the WAL was checkpointed and removed */
	snprintf(path, sizeof(path), "%s/rec.db-wal", dir);
	CHECK(access(path, F_OK) != 0);
	snprintf(path, sizeof(path), "%s/rec.db", dir);
	check_recording(path);
	check_append(path);
	tmpdir_remove(dir);
	printf("ok\n");
	return 0;
}
