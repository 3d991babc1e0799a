/*
 * util.h: helpers shared by the storage tests: a private temporary
 * directory, assertions that say where they failed, and one-value SQL
 * lookups on a raw sqlite3 connection (the tests read recordings the way a
 * user would, through the views, not through storage/ code).
 */
#ifndef TASKSCOPE_TESTS_STORAGE_UTIL_H
#define TASKSCOPE_TESTS_STORAGE_UTIL_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		exit(1); \
	} \
} while (0)

#define CHECK_EQ_INT(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { \
		fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, \
			#a, a_, #b, b_); \
		exit(1); \
	} \
} while (0)

#define CHECK_EQ_STR(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (!a_ || !b_ || strcmp(a_, b_) != 0) { \
		fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
			#a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
		exit(1); \
	} \
} while (0)

/* A fresh directory under $TMPDIR (or /tmp); removed by tmpdir_remove(). */
static inline void tmpdir_make(char *buf, size_t size)
{
	const char *base = getenv("TMPDIR");

	snprintf(buf, size, "%s/ts-storage-XXXXXX", base && *base ? base : "/tmp");
	CHECK(mkdtemp(buf) != NULL);
}

static inline void tmpdir_remove(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", dir);
}

static inline sqlite3 *db_open_raw(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fprintf(stderr, "cannot open %s: %s\n", path, db ? sqlite3_errmsg(db) : "?");
		exit(1);
	}
	return db;
}

static inline sqlite3_stmt *db_prepare(sqlite3 *db, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	char sql[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "SQL error in '%s': %s\n", sql, sqlite3_errmsg(db));
		exit(1);
	}
	return st;
}

/* The first column of the first row as an integer; -999 when no row. */
static inline int64_t db_int(sqlite3 *db, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	char sql[2048];
	int64_t v = -999;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	st = db_prepare(db, "%s", sql);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The first column of the first row as text (static buffer); "(none)"
 * when no row, "(null)" for NULL. */
static inline const char *db_text(sqlite3 *db, const char *fmt, ...)
{
	static char buf[1024];
	sqlite3_stmt *st = NULL;
	char sql[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	st = db_prepare(db, "%s", sql);
	snprintf(buf, sizeof(buf), "(none)");
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		snprintf(buf, sizeof(buf), "%s", t ? (const char *)t : "(null)");
	}
	sqlite3_finalize(st);
	return buf;
}

#endif /* TASKSCOPE_TESTS_STORAGE_UTIL_H */
