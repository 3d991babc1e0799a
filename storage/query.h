/*
 * query.h: reading a recording after the fact (`taskscope query`, a console
 * replaying a file).
 *
 * Everything here opens the database read-only and refuses files that are
 * not taskscope recordings of this schema version, with the same one-line
 * errors as ts_storage_open(). Output goes to a FILE: aligned text columns
 * for people, or JSON (an array of objects, one per row) for programs.
 */
#ifndef TASKSCOPE_QUERY_H
#define TASKSCOPE_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct sqlite3;

/* Opens `path` read-only after checking it is a recording this taskscope
 * reads. The caller closes it with sqlite3_close(). */
int ts_query_open(const char *path, struct sqlite3 **out, char *err, size_t errlen);

/* Runs `sql` (one statement, or several separated by ';') on the recording
 * at `db` and prints each result: text columns, or one JSON array of
 * objects per statement that returns columns. An SQL error gives SQLite's
 * message as one line in `err` and -EINVAL; a bad file, the open error. */
int ts_query_run(const char *db, const char *sql, bool json, FILE *out, char *err, size_t errlen);

/* The same, on an open connection. */
int ts_query_exec(struct sqlite3 *db, const char *sql, bool json, FILE *out, char *err, size_t errlen);

/* Named reports (docs/schema.md lists them): "summary", "slow-polls",
 * "warnings", "tasks", "locks". An unknown name gives -EINVAL and a line
 * listing the known ones. */
int ts_query_report(const char *db, const char *name, bool json, FILE *out, char *err, size_t errlen);

struct ts_query_report_info {
	const char *name;
	const char *help;     /* one line */
	const char *sql;
};

/* The report table, for --help and docs. */
const struct ts_query_report_info *ts_query_reports(size_t *count);

#endif /* TASKSCOPE_QUERY_H */
