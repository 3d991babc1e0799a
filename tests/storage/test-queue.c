/*
 * test-queue.c: a full queue refuses rows at once and counts them exactly.
 *
 * With the writer paused, a queue of CAP rows takes CAP rows; every further
 * add (of any row type, including ones that carry copied strings) returns
 * -ENOBUFS and bumps stats.unstored by one. After resuming, the CAP queued
 * rows are all committed: nothing accepted is lost. Also: a flush makes
 * rows visible to another reader while storage stays open, a flush drains
 * even while paused, and batching turns many rows into few transactions.
 */
#include "storage/storage.h"
#include "util.h"

#include <errno.h>

#define CAP 64
#define EXTRA 10

static struct ts_poll_span span(uint64_t i)
{
	return (struct ts_poll_span){ .pid = 1, .tid = 2, .task_id = 3, .start_ns = i,
				      .end_ns = i + 1, .on_cpu_ns = -1 };
}

int main(void)
{
	struct ts_storage_options opts = { .queue_rows = CAP, .batch_rows = 16, .batch_ms = 1000 };
	struct ts_process proc = { .pid = 1, .exe = "/bin/x", .runtime = "r", .source = "shim" };
	struct ts_warning warn = { .pid = 1, .kind = TS_WARN_LONG_POLL, .ts_ns = 5 };
	struct ts_storage_stats st;
	struct ts_storage *s = NULL;
	char dir[256], path[512], err[256];
	struct ts_poll_span sp;
	sqlite3 *db;

	tmpdir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/queue.db", dir);
	CHECK_EQ_INT(ts_storage_open_with(path, &opts, &s, err, sizeof(err)), 0);

	ts_storage_pause(s, true);
	for (uint64_t i = 0; i < CAP; i++) {
		sp = span(i);
		CHECK_EQ_INT(ts_storage_add_poll_span(s, &sp), 0);
	}
	ts_storage_get_stats(s, &st);
	CHECK_EQ_INT(st.queued, CAP);
	CHECK_EQ_INT(st.committed, 0);

	for (uint64_t i = 0; i < EXTRA - 2; i++) {
		sp = span(1000 + i);
		CHECK_EQ_INT(ts_storage_add_poll_span(s, &sp), -ENOBUFS);
	}
	/* rows with owned copies are refused too (and freed: ASan checks) */
	CHECK_EQ_INT(ts_storage_add_process(s, &proc), -ENOBUFS);
	CHECK_EQ_INT(ts_storage_add_warning(s, &warn), -ENOBUFS);

	ts_storage_get_stats(s, &st);
	CHECK_EQ_INT(st.enqueued, CAP);
	CHECK_EQ_INT(st.unstored, EXTRA);
	CHECK_EQ_INT(st.queued, CAP);
	CHECK_EQ_INT(st.committed, 0);

	/* a flush drains even while paused, and returns only after the commit */
	CHECK_EQ_INT(ts_storage_flush(s), 0);
	ts_storage_get_stats(s, &st);
	CHECK_EQ_INT(st.committed, CAP);
	CHECK_EQ_INT(st.queued, 0);
	/* 64 rows in batches of at most 16 */
	CHECK(st.commits >= CAP / 16);
	db = db_open_raw(path);
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM poll_spans"), CAP);
	sqlite3_close(db);

	/* room again: accepted */
	ts_storage_pause(s, false);
	sp = span(CAP);
	CHECK_EQ_INT(ts_storage_add_poll_span(s, &sp), 0);
	CHECK_EQ_INT(ts_storage_add_process(s, &proc), 0);
	CHECK_EQ_INT(ts_storage_flush(s), 0);
	ts_storage_get_stats(s, &st);
	CHECK_EQ_INT(st.enqueued, CAP + 2);
	CHECK_EQ_INT(st.committed, CAP + 2);
	CHECK_EQ_INT(st.unstored, EXTRA);
	ts_storage_close(s);

	/* exactly the accepted rows are stored: 0..CAP, none of the refused */
	db = db_open_raw(path);
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM poll_spans"), CAP + 1);
	CHECK_EQ_INT(db_int(db, "SELECT count(DISTINCT start_ns) FROM poll_spans WHERE start_ns <= %d", CAP),
		     CAP + 1);
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM poll_spans WHERE start_ns >= 1000"), 0);
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM warnings"), 0);
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM processes"), 1);
	sqlite3_close(db);

	/* a large batch_ms: rows still reach the disk when a batch fills up,
	 * without any flush (the writer is woken by the batch_rows-th row) */
	opts = (struct ts_storage_options){ .batch_rows = 8, .batch_ms = 60000 };
	CHECK_EQ_INT(ts_storage_open_with(path, &opts, &s, err, sizeof(err)), 0);
	for (uint64_t i = 0; i < 8; i++) {
		sp = span(5000 + i);
		CHECK_EQ_INT(ts_storage_add_poll_span(s, &sp), 0);
	}
	for (int tries = 0; tries < 20000; tries++) {
		ts_storage_get_stats(s, &st);
		if (st.committed == 8)
			break;
		usleep(500);
	}
	CHECK_EQ_INT(st.committed, 8);
	ts_storage_close(s);

	tmpdir_remove(dir);
	printf("ok\n");
	return 0;
}
