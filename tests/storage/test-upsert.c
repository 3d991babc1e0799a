/*
 * test-upsert.c: a task's life is one row holding its last state.
 *
 * Spawn, update, drop of one task (some in one batch, some across flushes)
 * must leave one task_summary row with the final values; a re-used task id
 * (a new life in the model) is a second row; a spawn that arrives after the
 * task's first events (it moves spawned_ns earlier) keeps one row; a thread
 * renamed keeps one row.
 */
#include "storage/storage.h"
#include "util.h"

static struct ts_task task(uint64_t id, uint64_t life, uint64_t spawned, uint64_t polls, uint32_t outcome,
			   uint64_t dropped)
{
	return (struct ts_task){ .pid = 7, .id = id, .life = life, .name = "worker", .location = "a.c:1",
				 .kind = TS_KIND_TASK, .outcome = outcome, .spawned_ns = spawned,
				 .dropped_ns = dropped, .polls = polls, .busy_ns = polls * 100,
				 .max_poll_ns = polls * 10 };
}

int main(void)
{
	struct ts_storage_options opts = { .batch_rows = 2 };   /* several batches */
	struct ts_storage *s = NULL;
	char dir[256], path[512], err[256];
	struct ts_task t;
	sqlite3 *db;

	tmpdir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/upsert.db", dir);
	CHECK_EQ_INT(ts_storage_open_with(path, &opts, &s, err, sizeof(err)), 0);

	/* spawn, then two updates in the same batch as the spawn */
	t = task(42, 1, 1500, 0, TS_OUTCOME_RUNNING, 0);
	CHECK_EQ_INT(ts_storage_add_task(s, &t), 0);
	/* its spawn arrived late: spawned_ns moves earlier, same life */
	t = task(42, 1, 1000, 3, TS_OUTCOME_RUNNING, 0);
	CHECK_EQ_INT(ts_storage_add_task(s, &t), 0);
	t.name = "worker-renamed";
	CHECK_EQ_INT(ts_storage_add_task(s, &t), 0);
	CHECK_EQ_INT(ts_storage_flush(s), 0);

	/* a reader between updates sees the committed state */
	db = db_open_raw(path);
	CHECK_EQ_INT(db_int(db, "SELECT polls FROM task_summary WHERE task_id = 42"), 3);
	CHECK_EQ_STR(db_text(db, "SELECT outcome FROM task_summary WHERE task_id = 42"), "running");
	sqlite3_close(db);

	/* then the drop, in a later transaction */
	t = task(42, 1, 1000, 5, TS_OUTCOME_CANCELLED, 9000);
	t.name = "worker-renamed";
	CHECK_EQ_INT(ts_storage_add_task(s, &t), 0);

	/* id 42 re-used by a new task */
	t = task(42, 2, 20000, 1, TS_OUTCOME_RUNNING, 0);
	CHECK_EQ_INT(ts_storage_add_task(s, &t), 0);

	/* the same id in another process is another task */
	t = task(42, 3, 1000, 8, TS_OUTCOME_OK, 3000);
	t.pid = 8;
	CHECK_EQ_INT(ts_storage_add_task(s, &t), 0);

	struct ts_thread th = { .pid = 7, .tid = 70, .name = "tokio-runtime-w", .role = TS_ROLE_OTHER };

	CHECK_EQ_INT(ts_storage_add_thread(s, &th), 0);
	th.name = "worker-3";
	th.role = TS_ROLE_WORKER;
	CHECK_EQ_INT(ts_storage_add_thread(s, &th), 0);
	ts_storage_close(s);

	db = db_open_raw(path);
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM task_summary"), 3);
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM task_summary WHERE pid = 7 AND task_id = 42"), 2);
	CHECK_EQ_INT(db_int(db, "SELECT polls FROM task_summary WHERE pid = 7 AND spawned_ns = 1000"), 5);
	CHECK_EQ_INT(db_int(db, "SELECT busy_ns FROM task_summary WHERE pid = 7 AND spawned_ns = 1000"), 500);
	CHECK_EQ_INT(db_int(db, "SELECT max_poll_ns FROM task_summary WHERE pid = 7 AND spawned_ns = 1000"), 50);
	CHECK_EQ_INT(db_int(db, "SELECT dropped_ns FROM task_summary WHERE pid = 7 AND spawned_ns = 1000"), 9000);
	CHECK_EQ_STR(db_text(db, "SELECT outcome FROM task_summary WHERE pid = 7 AND spawned_ns = 1000"),
		     "cancelled");
	CHECK_EQ_STR(db_text(db, "SELECT name FROM task_summary WHERE pid = 7 AND spawned_ns = 1000"),
		     "worker-renamed");
	CHECK_EQ_STR(db_text(db, "SELECT outcome FROM task_summary WHERE pid = 7 AND spawned_ns = 20000"),
		     "running");
	CHECK_EQ_STR(db_text(db, "SELECT dropped_ns FROM task_summary WHERE pid = 7 AND spawned_ns = 20000"),
		     "(null)");
	CHECK_EQ_INT(db_int(db, "SELECT polls FROM task_summary WHERE pid = 8"), 8);
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM threads"), 1);
	CHECK_EQ_STR(db_text(db, "SELECT name || '/' || role FROM threads"), "worker-3/worker");
	sqlite3_close(db);
	tmpdir_remove(dir);
	printf("ok\n");
	return 0;
}
