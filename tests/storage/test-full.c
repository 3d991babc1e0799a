/*
 * test-full.c: a full disk costs rows, never a crash or a hang.
 *
 * The recording is capped (options.max_bytes, which SQLite enforces with
 * SQLITE_FULL exactly as on a full disk). Rows are written until a flush
 * reports -ENOSPC; then: the stats carry -ENOSPC and one line naming the
 * file, every row is either committed or counted unstored (no third fate),
 * new rows are still accepted (and counted) rather than blocking the
 * producer, close returns, and the file holds exactly the committed rows
 * and passes integrity_check.
 */
#include "storage/storage.h"
#include "util.h"

#include <errno.h>

int main(void)
{
	struct ts_storage_options opts = { .max_bytes = 96 * 1024, .batch_rows = 500 };
	struct ts_storage_stats st;
	struct ts_storage *s = NULL;
	char dir[256], path[512], err[256];
	uint64_t n = 0, committed;
	int r = 0;
	sqlite3 *db;

	tmpdir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/full.db", dir);
	CHECK_EQ_INT(ts_storage_open_with(path, &opts, &s, err, sizeof(err)), 0);
	/* 96 KiB holds a few thousand spans: 100 rounds of 500 cannot fit */
	for (int round = 0; round < 100 && r == 0; round++) {
		for (int i = 0; i < 500; i++, n++) {
			struct ts_poll_span sp = { .pid = 1, .tid = 2, .task_id = n, .start_ns = n,
						   .end_ns = n + 1, .on_cpu_ns = 1 };

			CHECK_EQ_INT(ts_storage_add_poll_span(s, &sp), 0);
		}
		r = ts_storage_flush(s);
	}
	CHECK_EQ_INT(r, -ENOSPC);
	ts_storage_get_stats(s, &st);
	CHECK_EQ_INT(st.last_error, -ENOSPC);
	CHECK(st.errors >= 1);
	CHECK(strstr(st.last_error_text, path) != NULL);
	CHECK(strstr(st.last_error_text, "full") != NULL);
	CHECK(strchr(st.last_error_text, '\n') == NULL);
	CHECK(st.committed > 0);
	CHECK(st.unstored > 0);
	CHECK_EQ_INT(st.enqueued, n);
	CHECK_EQ_INT(st.committed + st.unstored, n);
	committed = st.committed;

	/* still accepting, still counting, still not blocking (a small batch
	 * may fit in the pages the failed one gave back, or may not) */
	for (int i = 0; i < 5000; i++, n++) {
		struct ts_poll_span sp = { .pid = 1, .start_ns = n, .end_ns = n + 1 };

		CHECK_EQ_INT(ts_storage_add_poll_span(s, &sp), 0);
	}
	r = ts_storage_flush(s);
	CHECK(r == 0 || r == -ENOSPC);
	ts_storage_get_stats(s, &st);
	CHECK_EQ_INT(st.enqueued, n);
	CHECK_EQ_INT(st.committed + st.unstored, n);
	CHECK(st.committed >= committed);
	/* a flush with nothing new failing since the last one is clean */
	CHECK_EQ_INT(ts_storage_flush(s), 0);
	committed = st.committed;
	ts_storage_close(s);

	db = db_open_raw(path);
	CHECK_EQ_STR(db_text(db, "PRAGMA integrity_check"), "ok");
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM poll_spans"), committed);
	sqlite3_close(db);
	tmpdir_remove(dir);
	printf("ok\n");
	return 0;
}
