/*
 * test-query.c: `taskscope query` output, errors and reports.
 *
 * Builds a small recording, then checks: a SELECT prints aligned text
 * columns and a JSON array of objects; hostile strings from a target are
 * neutralised in both; a bad statement gives SQLite's message on one line;
 * the read-only connection refuses writes; every named report runs in both
 * formats and says what the data says; an unknown report lists the known
 * ones; and every ```sql example in docs/schema.md (argv[1]) runs and
 * returns rows.
 */
#include "storage/query.h"
#include "storage/storage.h"
#include "util.h"

#include <errno.h>

static char err[512];

static void build(const char *path)
{
	struct ts_storage *s = NULL;

	CHECK_EQ_INT(ts_storage_open(path, &s, err, sizeof(err)), 0);
	struct ts_process p = { .pid = 10, .exe = "/bin/demo", .runtime = "taskscope-c", .source = "shim",
				.started_ns = 1 };
	struct ts_thread th = { .pid = 10, .tid = 11, .name = "worker-0", .role = TS_ROLE_WORKER };
	struct ts_task t1 = { .pid = 10, .id = 1, .name = "accept", .location = "srv.c:1",
			      .outcome = TS_OUTCOME_RUNNING, .spawned_ns = 100, .polls = 4, .busy_ns = 900 };
	struct ts_task t2 = { .pid = 10, .id = 2, .name = "conn", .location = "srv.c:2",
			      .outcome = TS_OUTCOME_OK, .spawned_ns = 200, .dropped_ns = 30000000, .polls = 12,
			      .busy_ns = 300 };
	struct ts_task t3 = { .pid = 10, .id = 3, .name = "evil\x1b[2J\xff", .location = "",
			      .outcome = TS_OUTCOME_PANICKED, .spawned_ns = 300, .dropped_ns = 400 };
	struct ts_poll_span sp[] = {
		{ .pid = 10, .tid = 11, .task_id = 1, .start_ns = 1000000, .end_ns = 1100000, .on_cpu_ns = -1 },
		{ .pid = 10, .tid = 11, .task_id = 2, .start_ns = 2000000, .end_ns = 17000000,
		  .on_cpu_ns = 2000000 },
		{ .pid = 10, .tid = 11, .task_id = 1, .start_ns = 20000000, .end_ns = 20050000, .on_cpu_ns = 50000,
		  .ready = true },
	};
	struct ts_lock_span lk = { .pid = 10, .tid = 11, .lock_id = 9, .lock_name = "pool", .task_id = 2,
				   .wait_start_ns = 2100000, .acquired_ns = 2400000, .released_ns = 16800000 };
	struct ts_warning w = { .pid = 10, .tid = 11, .task_id = 2, .kind = TS_WARN_LONG_POLL,
				.ts_ns = 17000000, .duration_ns = 15000000 };
	struct ts_warning w2 = { .pid = 10, .task_id = 1, .kind = TS_WARN_LOST_WAKER, .ts_ns = 21000000 };

	snprintf(w.detail, sizeof(w.detail), "poll of 15 ms");
	CHECK_EQ_INT(ts_storage_add_process(s, &p), 0);
	CHECK_EQ_INT(ts_storage_add_thread(s, &th), 0);
	CHECK_EQ_INT(ts_storage_add_task(s, &t1), 0);
	CHECK_EQ_INT(ts_storage_add_task(s, &t2), 0);
	CHECK_EQ_INT(ts_storage_add_task(s, &t3), 0);
	for (size_t i = 0; i < 3; i++)
		CHECK_EQ_INT(ts_storage_add_poll_span(s, &sp[i]), 0);
	CHECK_EQ_INT(ts_storage_add_lock_span(s, &lk), 0);
	CHECK_EQ_INT(ts_storage_add_warning(s, &w), 0);
	CHECK_EQ_INT(ts_storage_add_warning(s, &w2), 0);
	CHECK_EQ_INT(ts_storage_add_drops(s, 10, "shim", 17), 0);
	ts_storage_close(s);
}

/* Runs `sql` (or report `report`) and returns the output (malloc'd). */
static char *run(const char *path, const char *sql, const char *report, bool json, int want)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	int r;

	CHECK(out != NULL);
	err[0] = '\0';
	r = report ? ts_query_report(path, report, json, out, err, sizeof(err))
		   : ts_query_run(path, sql, json, out, err, sizeof(err));
	fclose(out);
	if (r != want) {
		fprintf(stderr, "query %s: returned %d (want %d): %s\n", report ? report : sql, r, want, err);
		exit(1);
	}
	return buf;
}

static void expect_output(char *got, const char *want)
{
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "output:\n%s---\nexpected:\n%s---\n", got, want);
		exit(1);
	}
	free(got);
}

static void expect_contains(char *got, const char *needle, bool free_it)
{
	if (!strstr(got, needle)) {
		fprintf(stderr, "output lacks '%s':\n%s\n", needle, got);
		exit(1);
	}
	if (free_it)
		free(got);
}

static void check_sql_error(const char *path, const char *sql, int want, const char *needle)
{
	free(run(path, sql, NULL, false, want));
	CHECK(strncmp(err, "SQL error: ", 11) == 0);
	CHECK(strchr(err, '\n') == NULL);
	if (!strstr(err, needle)) {
		fprintf(stderr, "error '%s' lacks '%s'\n", err, needle);
		exit(1);
	}
}

static void check_reports(const char *path)
{
	const struct ts_query_report_info *reps;
	size_t n;
	char *out;

	reps = ts_query_reports(&n);
	CHECK(n >= 3);
	for (size_t i = 0; i < n; i++) {
		CHECK(reps[i].name && reps[i].help && reps[i].sql);
		out = run(path, NULL, reps[i].name, false, 0);
		CHECK(strlen(out) > 0);
		free(out);
		out = run(path, NULL, reps[i].name, true, 0);
		CHECK(out[0] == '[');
		free(out);
	}
	out = run(path, NULL, "summary", true, 0);
	expect_contains(out, "{\"item\": \"tasks\", \"count\": 3}", false);
	expect_contains(out, "{\"item\": \"poll_spans\", \"count\": 3}", false);
	expect_contains(out, "{\"item\": \"events_dropped\", \"count\": 17}", false);
	expect_contains(out, "{\"item\": \"warnings.long_poll\", \"count\": 1}", false);
	expect_contains(out, "{\"item\": \"warnings.lost_waker\", \"count\": 1}", true);

	/* longest poll first, named */
	out = run(path, NULL, "slow-polls", true, 0);
	CHECK(strstr(out, "\"task_name\": \"conn\"") != NULL);
	CHECK(strstr(out, "\"task_name\": \"conn\"") < strstr(out, "\"task_name\": \"accept\""));
	expect_contains(out, "\"thread_name\": \"worker-0\", \"start_ns\": 2000000, \"duration_ns\": 15000000", true);

	out = run(path, NULL, "warnings", false, 0);
	expect_contains(out, "long_poll", false);
	expect_contains(out, "poll of 15 ms", false);
	CHECK(strstr(out, "conn") != NULL && strstr(out, "accept") != NULL);
	CHECK(strstr(out, "long_poll") < strstr(out, "lost_waker"));
	free(out);

	out = run(path, NULL, "locks", true, 0);
	expect_contains(out, "\"lock_name\": \"pool\", \"acquisitions\": 1, \"waited\": 1, \"wait_ns\": 300000", true);

	out = run(path, NULL, "no-such-report", false, -EINVAL);
	free(out);
	CHECK(strstr(err, "unknown report 'no-such-report'") != NULL);
	for (size_t i = 0; i < n; i++)
		CHECK(strstr(err, reps[i].name) != NULL);
}

/* Each ```sql block of docs/schema.md must run and return at least a row. */
static void check_doc_examples(const char *path, const char *doc)
{
	char line[1024], sql[8192];
	bool in = false;
	int examples = 0;
	size_t used = 0;
	FILE *f = fopen(doc, "r");

	if (!f) {
		fprintf(stderr, "cannot read %s\n", doc);
		exit(1);
	}
	while (fgets(line, sizeof(line), f)) {
		if (!in && strncmp(line, "```sql", 6) == 0) {
			in = true;
			used = 0;
			sql[0] = '\0';
		} else if (in && strncmp(line, "```", 3) == 0) {
			char *out = run(path, sql, NULL, false, 0);
			int lines = 0;

			for (char *p = out; *p; p++)
				lines += *p == '\n';
			if (lines < 3) {
				fprintf(stderr, "docs example returned no rows:\n%s\n%s", sql, out);
				exit(1);
			}
			free(out);
			in = false;
			examples++;
		} else if (in) {
			CHECK(used + strlen(line) < sizeof(sql));
			memcpy(sql + used, line, strlen(line) + 1);
			used += strlen(line);
		}
	}
	fclose(f);
	CHECK(examples >= 3);
	printf("%d docs/schema.md examples ran\n", examples);
}

int main(int argc, char **argv)
{
	char dir[256], path[512], other[600];

	tmpdir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/q.db", dir);
	build(path);

	expect_output(run(path, "SELECT task_id, name, polls FROM task_summary WHERE task_id < 3"
				" ORDER BY task_id", NULL, false, 0),
		      "task_id  name    polls\n"
		      "-------  ------  -----\n"
		      "      1  accept      4\n"
		      "      2  conn       12\n");
	expect_output(run(path, "SELECT task_id, name, dropped_ns FROM task_summary WHERE task_id < 3"
				" ORDER BY task_id", NULL, true, 0),
		      "[\n"
		      "  {\"task_id\": 1, \"name\": \"accept\", \"dropped_ns\": null},\n"
		      "  {\"task_id\": 2, \"name\": \"conn\", \"dropped_ns\": 30000000}\n"
		      "]\n");
	/* no rows: header only / empty array */
	expect_output(run(path, "SELECT pid, tid FROM threads WHERE 0", NULL, false, 0),
		      "pid  tid\n---  ---\n");
	expect_output(run(path, "SELECT pid FROM threads WHERE 0", NULL, true, 0), "[]\n");

	/* a target's escape sequence and invalid UTF-8 cannot reach the terminal */
	expect_output(run(path, "SELECT name FROM task_summary WHERE task_id = 3", NULL, false, 0),
		      "name\n---------\nevil?[2J?\n");
	expect_output(run(path, "SELECT name, 'é' AS e FROM task_summary WHERE task_id = 3", NULL, true, 0),
		      "[\n  {\"name\": \"evil\\u001b[2J\\ufffd\", \"e\": \"é\"}\n]\n");

	check_sql_error(path, "SELEC 1", -EINVAL, "syntax error");
	check_sql_error(path, "SELECT * FROM nope", -EINVAL, "no such table: nope");
	/* the recording is opened read-only: a query cannot damage it */
	check_sql_error(path, "DELETE FROM t_poll_spans", -EROFS, "readonly");
	{
		char *out = run(path, "", NULL, false, -EINVAL);

		free(out);
	}

	/* the query path refuses what is not a recording, with the open error */
	snprintf(other, sizeof(other), "%s/missing.db", dir);
	free(run(other, "SELECT 1", NULL, false, -ENOENT));
	CHECK(strstr(err, "No such file or directory") != NULL);

	check_reports(path);
	if (argc > 1)
		check_doc_examples(path, argv[1]);

	tmpdir_remove(dir);
	printf("ok\n");
	return 0;
}
