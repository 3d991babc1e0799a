/*
 * test-replay-index.c: the replay's state at T equals what SQL says.
 *
 * Writes a seeded random recording through storage/ (tasks with re-used
 * ids, poll spans on several threads, lock spans with waits, warnings),
 * loads it with ts_replay_open() and, at many instants T, compares every
 * answer of replay.h with the same question asked of the SQL views
 * directly: tasks alive, each task's polls and busy time up to T, each
 * thread's current task, each lock's holder and waiters, warnings per
 * kind. Also: a file that is not a recording, and a recording of another
 * schema version, are refused with one line.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "console/conn_db.h"
#include "console/console.h"
#include "storage/replay.h"
#include "storage/storage.h"
#include "tests/check.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? rng % n : 0;
}

#define NTASKS 300
#define NTHREADS 4

/* what the instants covered: each must be seen at least once */
static unsigned seen_alive, seen_running, seen_polling, seen_held, seen_waiting, seen_reused;

static void write_recording(const char *path)
{
	struct ts_storage *s = NULL;
	char err[256] = "";
	static const char *const names[] = { "accept", "conn", "timer", "hash" };
	uint64_t thread_free[NTHREADS] = { 0 };

	if (ts_storage_open(path, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "cannot create %s: %s\n", path, err);
		exit(1);
	}
	struct ts_process p = { .pid = 7, .exe = "/bin/x", .runtime = "rt", .source = "shim", .started_ns = 1000 };
	ts_storage_add_process(s, &p);
	for (uint32_t t = 0; t < NTHREADS; t++) {
		struct ts_thread th = { .pid = 7, .tid = 100 + t, .name = "worker", .role = TS_ROLE_WORKER };
		ts_storage_add_thread(s, &th);
	}
	for (uint64_t i = 0; i < NTASKS; i++) {
		struct ts_task t = { .pid = 7, .id = 1 + i % 250, .life = i + 1, .name = names[i % 4],
				     .location = "x.c:1", .kind = (uint32_t)(i % 3), .outcome = TS_OUTCOME_OK };
		uint64_t at;

		/* ids 1..50 are re-used: their second life starts after the first */
		t.spawned_ns = (i < 250 ? 2000 : 200000) + rnd(100000);
		t.dropped_ns = rnd(4) ? t.spawned_ns + 1000 + rnd(200000) : 0;
		t.outcome = t.dropped_ns ? TS_OUTCOME_OK : TS_OUTCOME_RUNNING;
		if (i < 50)
			t.dropped_ns = t.spawned_ns + 1000 + rnd(5000) < 200000 ? t.spawned_ns + 1000 + rnd(5000) : 199000;
		at = t.spawned_ns;
		for (int k = 0; k < 8; k++) {
			uint32_t th = (uint32_t)rnd(NTHREADS);
			struct ts_poll_span sp = { .pid = 7, .tid = 100 + th, .task_id = t.id };

			at += 1 + rnd(3000);
			if (at < thread_free[th])
				at = thread_free[th];
			sp.start_ns = at;
			sp.end_ns = at + rnd(2000);
			if (t.dropped_ns && sp.end_ns >= t.dropped_ns)
				break;
			sp.on_cpu_ns = -1;
			thread_free[th] = sp.end_ns + 1;
			at = sp.end_ns;
			ts_storage_add_poll_span(s, &sp);
		}
		ts_storage_add_task(s, &t);
		if (rnd(3) == 0) {
			struct ts_warning w = { .pid = 7, .task_id = t.id, .kind = (uint32_t)rnd(TS_WARN_KIND_COUNT),
						.ts_ns = t.spawned_ns + rnd(5000) };
			snprintf(w.detail, sizeof(w.detail), "w%" PRIu64, i);
			ts_storage_add_warning(s, &w);
		}
	}
	for (uint64_t lock = 1; lock <= 3; lock++) {
		uint64_t at = 2000;

		for (int k = 0; k < 40; k++) {
			struct ts_lock_span l = { .pid = 7, .tid = 100 + (uint32_t)rnd(NTHREADS), .lock_id = lock,
						  .lock_name = "db", .task_id = rnd(3) ? 1 + rnd(250) : 0 };

			at += rnd(4000);
			l.wait_start_ns = rnd(2) ? at : 0;
			l.acquired_ns = at + (l.wait_start_ns ? rnd(3000) : 0);
			l.released_ns = l.acquired_ns + rnd(3000);
			/* the next waits while this one holds: its wait starts before our release */
			at = l.released_ns;
			ts_storage_add_lock_span(s, &l);
			if (l.wait_start_ns && k + 1 < 40)
				at = l.released_ns; /* keep acquisitions ordered */
		}
	}
	ts_storage_close(s);
}

static int64_t sql_int(sqlite3 *db, const char *fmt, ...)
{
	char sql[1024];
	va_list ap;
	sqlite3_stmt *st;
	int64_t v = -1;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "bad SQL %s: %s\n", sql, sqlite3_errmsg(db));
		exit(1);
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void check_at(struct ts_replay *r, sqlite3 *db, uint64_t T)
{
	size_t n, alive = 0;
	const struct ts_replay_task *tasks = ts_replay_tasks(r, &n);
	uint64_t counts[TS_WARN_KIND_COUNT];
	size_t nw;

	for (size_t i = 0; i < n; i++) {
		struct ts_replay_task_at at;
		const struct ts_replay_task *t = &tasks[i];
		uint64_t next_spawn;

		ts_replay_task_at(r, t, T, &at);
		if (!at.alive)
			continue;
		alive++;
		seen_running += at.running;
		seen_reused += t->id <= 50 && t->spawned_ns >= 200000 && at.polls > 0;
		/* this life's spans: from its spawn to the next life's spawn */
		next_spawn = (uint64_t)sql_int(db, "SELECT coalesce(min(spawned_ns), 9223372036854775807) FROM "
					       "task_summary WHERE pid = 7 AND task_id = %" PRIu64 " AND spawned_ns > %" PRIu64,
					       t->id, t->spawned_ns);
		CHECK_MSG(at.polls == (uint64_t)sql_int(db, "SELECT count(*) FROM poll_spans WHERE task_id = %" PRIu64
			 " AND start_ns >= %" PRIu64 " AND start_ns < %" PRIu64 " AND start_ns <= %" PRIu64,
			 t->id, t->spawned_ns, next_spawn, T), "task %" PRIu64 " polls at %" PRIu64, t->id, T);
		CHECK_MSG(at.busy_ns == (uint64_t)sql_int(db, "SELECT sum(min(end_ns, %" PRIu64 ") - start_ns) FROM "
			 "poll_spans WHERE task_id = %" PRIu64 " AND start_ns >= %" PRIu64 " AND start_ns < %" PRIu64
			 " AND start_ns <= %" PRIu64, T, t->id, t->spawned_ns, next_spawn, T),
			 "task %" PRIu64 " busy at %" PRIu64, t->id, T);
		CHECK(at.running == (sql_int(db, "SELECT count(*) FROM poll_spans WHERE task_id = %" PRIu64
			 " AND start_ns >= %" PRIu64 " AND start_ns <= %" PRIu64 " AND end_ns > %" PRIu64,
			 t->id, t->spawned_ns, T, T) > 0));
	}
	CHECK_MSG(alive == (size_t)sql_int(db, "SELECT count(*) FROM task_summary WHERE spawned_ns <= %" PRIu64
		  " AND (dropped_ns IS NULL OR %" PRIu64 " < dropped_ns)", T, T), "alive at %" PRIu64, T);
	CHECK(alive == ts_replay_count_alive(r, T));
	seen_alive += alive > 0;

	const struct ts_replay_thread *th = ts_replay_threads(r, &n);
	CHECK(n == NTHREADS);
	for (size_t i = 0; i < n; i++) {
		struct ts_replay_thread_at at;

		ts_replay_thread_at(r, i, T, &at);
		seen_polling += at.polling;
		CHECK(at.polls == (uint64_t)sql_int(db, "SELECT count(*) FROM poll_spans WHERE tid = %u AND start_ns <= %"
			 PRIu64, th[i].tid, T));
		CHECK(at.task_id == (uint64_t)(at.polling ? sql_int(db, "SELECT task_id FROM poll_spans WHERE tid = %u"
			 " AND start_ns <= %" PRIu64 " AND end_ns > %" PRIu64, th[i].tid, T, T) : 0));
	}

	const struct ts_replay_lock *locks = ts_replay_locks(r, &n);
	CHECK(n == 3);
	for (size_t i = 0; i < n; i++) {
		struct ts_replay_lock_at at;

		ts_replay_lock_at(r, i, T, &at);
		seen_held += at.holders > 0;
		seen_waiting += at.waiters > 0;
		CHECK(at.holders == (uint32_t)sql_int(db, "SELECT count(*) FROM lock_spans WHERE lock_id = %" PRIu64
			 " AND acquired_ns <= %" PRIu64 " AND %" PRIu64 " < released_ns", locks[i].id, T, T));
		CHECK(at.waiters == (uint32_t)sql_int(db, "SELECT count(*) FROM lock_spans WHERE lock_id = %" PRIu64
			 " AND wait_start_ns <= %" PRIu64 " AND %" PRIu64 " < acquired_ns", locks[i].id, T, T));
		CHECK(at.acquisitions == (uint64_t)sql_int(db, "SELECT count(*) FROM lock_spans WHERE lock_id = %"
			 PRIu64 " AND acquired_ns <= %" PRIu64, locks[i].id, T));
		CHECK(at.contentions == (uint64_t)sql_int(db, "SELECT count(*) FROM lock_spans WHERE lock_id = %"
			 PRIu64 " AND acquired_ns <= %" PRIu64 " AND wait_ns > 0", locks[i].id, T));
		if (at.holders)
			CHECK(at.holder_task == (uint64_t)sql_int(db, "SELECT coalesce(task_id, 0) FROM lock_spans WHERE "
				 "lock_id = %" PRIu64 " AND acquired_ns <= %" PRIu64 " AND %" PRIu64 " < released_ns",
				 locks[i].id, T, T));
	}

	ts_replay_warnings(r, T, &nw);
	CHECK(nw == (size_t)sql_int(db, "SELECT count(*) FROM warnings WHERE ts_ns <= %" PRIu64, T));
	ts_replay_warning_counts(r, T, counts);
	for (unsigned k = 0; k < TS_WARN_KIND_COUNT; k++)
		CHECK(counts[k] == (uint64_t)sql_int(db, "SELECT count(*) FROM warnings WHERE ts_ns <= %" PRIu64
			 " AND kind = '%s'", T, ts_warning_kind_name(k)));
}

int main(void)
{
	char dir[] = "/tmp/ts-replay-XXXXXX", path[256], bad[256];
	struct ts_replay *r = NULL;
	sqlite3 *db = NULL;
	char err[512] = "";
	uint64_t first, last, t, prev;
	FILE *f;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/rec.db", dir);
	write_recording(path);
	CHECK(ts_replay_open(path, &r, err, sizeof(err)) == 0);
	if (!r) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	ts_replay_bounds(r, &first, &last);
	CHECK(first == 1000);
	CHECK(first < last);
	for (int i = 0; i <= 40; i++)
		check_at(r, db, first + (last - first) * (uint64_t)i / 40 + (uint64_t)i);
	check_at(r, db, first);
	check_at(r, db, last);
	for (int i = 0; i < 150; i++)
		check_at(r, db, first + rnd(last - first + 1));
	CHECK(seen_alive && seen_running && seen_polling && seen_held && seen_waiting && seen_reused);

	/* next/previous warning walk the warnings in time order */
	t = first;
	prev = 0;
	for (int steps = 0; ts_replay_next_warning(r, t, 1, &t) == 0; steps++) {
		CHECK(t > prev);
		prev = t;
		CHECK(steps < 1000);
	}
	CHECK(prev == (uint64_t)sql_int(db, "SELECT max(ts_ns) FROM warnings"));
	CHECK(ts_replay_next_warning(r, prev, -1, &t) == 0 && t < prev);
	CHECK(ts_replay_next_warning(r, 0, -1, &t) == -ENOENT);
	ts_replay_free(r);

	/* the console conn on the same file: rows, locks, threads and one
	 * task's details at several cursors */
	{
		struct ts_conn_db *d = NULL;
		struct ts_state st;

		CHECK(ts_conn_db_open(path, &d, err, sizeof(err)) == 0);
		ts_state_init(&st);
		for (int i = 0; d && i <= 10; i++) {
			uint64_t T = first + (last - first) / 10 * (uint64_t)i;
			size_t alive;
			bool running;

			ts_conn_db_seek(d, T);
			CHECK(ts_conn_db_cursor(d) == T);
			CHECK(ts_conn_db_fill(d, &st) == 0);
			alive = (size_t)sql_int(db, "SELECT count(*) FROM task_summary WHERE spawned_ns <= %" PRIu64
						" AND (dropped_ns IS NULL OR %" PRIu64 " < dropped_ns)", T, T);
			CHECK_MSG(st.nrows == alive, "conn at %" PRIu64 ": %zu rows, %zu alive", T, st.nrows, alive);
			CHECK(st.nworkers == NTHREADS && st.now_ns == T);
			CHECK(st.nres == (size_t)sql_int(db, "SELECT count(DISTINCT lock_id) FROM lock_spans WHERE "
							  "acquired_ns <= %" PRIu64 " OR wait_start_ns <= %" PRIu64, T, T));
			if (st.nrows) {
				/* details of the first row: its polls up to T */
				st.view = TS_VIEW_DETAILS;
				st.detail_pid = st.rows[0].pid;
				st.detail_id = st.rows[0].id;
				CHECK(ts_conn_db_fill(d, &st) == 0);
				CHECK(st.detail.valid && st.detail.row.id == st.detail_id);
				running = st.detail.npolls && st.detail.polls[st.detail.npolls - 1].running;
				/* every poll begun by T: ended ones in the histogram, plus the running one */
				CHECK(st.detail.poll_hist.count + running == st.detail.row.polls);
				CHECK(st.detail.npolls == st.detail.row.polls);
				st.view = TS_VIEW_TASKS;
			}
		}
		/* seeking clamps to the recording */
		ts_conn_db_seek(d, 0);
		CHECK(ts_conn_db_cursor(d) == first);
		ts_conn_db_seek(d, UINT64_MAX);
		CHECK(ts_conn_db_cursor(d) == last);
		ts_state_fini(&st);
		ts_conn_db_free(d);
	}
	sqlite3_close(db);

	/* an empty recording (nothing was ever written): one instant, no rows */
	{
		char empty[200];
		struct ts_storage *es = NULL;
		struct ts_conn_db *d = NULL;
		struct ts_state st;
		uint64_t a, b;

		snprintf(empty, sizeof(empty), "%s/empty.db", dir);
		CHECK(ts_storage_open(empty, &es, err, sizeof(err)) == 0);
		ts_storage_close(es);
		CHECK(ts_conn_db_open(empty, &d, err, sizeof(err)) == 0);
		if (d) {
			ts_conn_db_bounds(d, &a, &b);
			CHECK(a == b);
			ts_state_init(&st);
			CHECK(ts_conn_db_key(d, 'n') == TS_CONSOLE_REDRAW && ts_conn_db_key(d, '}') == TS_CONSOLE_REDRAW);
			CHECK(ts_conn_db_key(d, 'x') == 0);
			CHECK(ts_conn_db_fill(d, &st) == 0 && st.nrows == 0 && st.nworkers == 0 && st.filled);
			ts_state_fini(&st);
			ts_conn_db_free(d);
		}
		unlink(empty);
		snprintf(bad, sizeof(bad), "%s-wal", empty);
		unlink(bad);
		snprintf(bad, sizeof(bad), "%s-shm", empty);
		unlink(bad);
	}

	/* not a recording; another schema version */
	snprintf(bad, sizeof(bad), "%s/notes.txt", dir);
	f = fopen(bad, "w");
	fputs("this is not a database\n", f);
	fclose(f);
	CHECK(ts_replay_open(bad, &r, err, sizeof(err)) < 0 && !r);
	CHECK_MSG(strstr(err, "not a taskscope recording") && !strchr(err, '\n'), "%s", err);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CHECK(ts_replay_open(path, &r, err, sizeof(err)) < 0 && !r);
	CHECK_MSG(strstr(err, "schema version 99"), "%s", err);

	unlink(bad);
	unlink(path);
	snprintf(bad, sizeof(bad), "%s/rec.db-wal", dir);
	unlink(bad);
	snprintf(bad, sizeof(bad), "%s/rec.db-shm", dir);
	unlink(bad);
	rmdir(dir);
	return check_result("replay-index");
}
