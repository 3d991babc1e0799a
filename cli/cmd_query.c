/*
 * cmd_query.c: `taskscope query --db FILE [--json] (SQL | --report NAME)`:
 * post-mortem SQL over a recording, or one of the named reports.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "storage/query.h"

static void usage(FILE *out)
{
	fputs("usage: taskscope query --db FILE [--json] (SQL | --report NAME)\n"
	      "Query a recording. SQL runs read-only against the views documented in docs/schema.md\n"
	      "(processes, threads, task_summary, poll_spans, lock_spans, warnings, drops).\n\n"
	      "options:\n"
	      "  --db FILE        the recording\n"
	      "  --json           print rows as a JSON array of objects\n"
	      "  --report NAME    a named report instead of SQL (below)\n\n"
	      "reports:\n", out);
	size_t n;
	const struct ts_query_report_info *reports = ts_query_reports(&n);

	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %-12s %s\n", reports[i].name, reports[i].help);
	fputs("\nexample: taskscope query --db rec.db \"SELECT kind, count(*) FROM warnings GROUP BY kind\"\n", out);
}

int ts_cmd_query(int argc, char **argv)
{
	const char *db = NULL, *sql = NULL, *report = NULL;
	bool json = false;
	char err[512] = "";
	int r;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return TS_EXIT_OK;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--db") || !strcmp(a, "--report")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "taskscope query: %s needs a value; see 'taskscope query --help'\n", a);
				return TS_EXIT_USAGE;
			}
			*(a[2] == 'd' ? &db : &report) = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "taskscope query: unknown option '%s'; see 'taskscope query --help'\n", a);
			return TS_EXIT_USAGE;
		} else if (!sql) {
			sql = a;
		} else {
			fprintf(stderr, "taskscope query: give the SQL as one argument (quote it)\n");
			return TS_EXIT_USAGE;
		}
	}
	if (!db) {
		fprintf(stderr, "taskscope query: --db FILE is required\n");
		return TS_EXIT_USAGE;
	}
	if (!sql == !report) {
		fprintf(stderr, "taskscope query: give either an SQL statement or --report NAME\n");
		return TS_EXIT_USAGE;
	}
	if (sql)
		r = ts_query_run(db, sql, json, stdout, err, sizeof(err));
	else
		r = ts_query_report(db, report, json, stdout, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "taskscope query: %s\n", err[0] ? err : "failed");
		return TS_EXIT_RUNTIME;
	}
	return TS_EXIT_OK;
}
