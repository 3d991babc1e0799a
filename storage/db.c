/*
 * db.c: opening a recording, and refusing what is not one.
 *
 * A --db path can be anything a user typed: a new file, a recording of this
 * schema version (appended to), a recording of another version, some other
 * SQLite database, a text file, a directory, or a place nobody may write.
 * Each case gets one line that names the path and says what to do, and a
 * negative errno; nothing foreign is ever modified. A new file gets the
 * schema, application_id, user_version and the meta table in one
 * transaction.
 */
#include "storage/internal.h"
#include "storage/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef TS_VERSION_STRING
#define TS_VERSION_STRING "unknown"
#endif

#define BUSY_TIMEOUT_MS 5000
#define WAL_SIZE_LIMIT (64 * 1024 * 1024)

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int ts_storage_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
	case SQLITE_ERROR:
	case SQLITE_MISMATCH:
	case SQLITE_CONSTRAINT:
	case SQLITE_RANGE:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* The cause of an SQLite failure in words: the OS error when there is one
 * (it says "Permission denied" where SQLite says "unable to open"). */
static const char *why(sqlite3 *db, int rc)
{
	int sys = db ? sqlite3_system_errno(db) : 0;

	if (sys > 0 && ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_IOERR ||
			(rc & 0xff) == SQLITE_READONLY))
		return strerror(sys);
	return db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
}

/* Checks the file itself before SQLite sees it: SQLite would happily turn
 * an empty path into a temporary database, and reports a directory or a
 * text file only at the first query, in words that do not name the path. */
static int check_path(const char *path, bool readonly, bool *created, char *err, size_t errlen)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	struct stat st;
	ssize_t n;
	int fd, r;

	*created = false;
	if (!path || !*path)
		return fail(err, errlen, -EINVAL, "no database path given; pass --db FILE");
	if (stat(path, &st) < 0) {
		r = -errno;
		if (r != -ENOENT || readonly)
			return fail(err, errlen, r, "cannot open %s: %s%s", path, strerror(-r),
				    readonly ? "" : "; choose a writable --db path");
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			r = -errno;
			if (r == -EEXIST)   /* someone else just created it: look again */
				return check_path(path, readonly, created, err, errlen);
			return fail(err, errlen, r, "cannot create %s: %s; choose a writable --db path",
				    path, strerror(-r));
		}
		close(fd);
		*created = true;
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return fail(err, errlen, -EISDIR, "cannot %s %s: %s; %s", readonly ? "open" : "create",
			    path, strerror(EISDIR),
			    readonly ? "give the recording's file path" : "choose a file path for --db");
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, -EINVAL, "%s is not a taskscope recording", path);
	fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		return fail(err, errlen, r, "cannot open %s: %s%s", path, strerror(-r),
			    readonly ? "" : "; choose a writable --db path");
	}
	n = st.st_size > 0 ? read(fd, head, sizeof(head)) : 0;
	r = -errno;
	close(fd);
	if (n < 0)
		return fail(err, errlen, r, "cannot read %s: %s", path, strerror(-r));
	if (n == 0 && readonly)
		return fail(err, errlen, -EINVAL, "%s is not a taskscope recording (empty file)", path);
	if (n > 0 && (n != (ssize_t)sizeof(head) || memcmp(head, magic, sizeof(magic)) != 0))
		return fail(err, errlen, -EINVAL, "%s is not a taskscope recording", path);
	return 0;
}

static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto cleanup;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
cleanup:
	sqlite3_finalize(st);
	return rc;
}

/* What the file holds: 1 a recording of our version, 0 an empty database
 * (ours to initialise), or a negative errno with the line in `err`. */
static int classify(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int64_t app = 0, version = 0, objects = 0, has_meta = 0;
	int rc;

	rc = query_int(db, "PRAGMA application_id", &app);
	if (rc == SQLITE_OK)
		rc = query_int(db, "PRAGMA user_version", &version);
	if (rc == SQLITE_OK)
		rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &objects);
	if (rc == SQLITE_OK)
		rc = query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'",
			       &has_meta);
	if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT)
		return fail(err, errlen, -EINVAL, "%s is not a taskscope recording", path);
	if (rc != SQLITE_OK)
		return fail(err, errlen, ts_storage_errno(rc), "cannot read %s: %s", path, why(db, rc));
	if (app == 0 && version == 0 && objects == 0)
		return 0;
	if (app != TS_STORAGE_APP_ID)
		return fail(err, errlen, -EINVAL, "%s is not a taskscope recording", path);
	if (version != TS_SCHEMA_VERSION)
		return fail(err, errlen, -EINVAL,
			    "%s was written by schema version %" PRId64 "; this taskscope reads version %d",
			    path, version, TS_SCHEMA_VERSION);
	if (!has_meta)
		return fail(err, errlen, -EINVAL, "%s is not a taskscope recording (no meta table)", path);
	return 1;
}

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The schema, the identity pragmas and the meta rows, all or nothing. */
static int create_schema(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	char sql[768];
	char *msg = NULL;
	int rc;

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		goto cleanup;
	rc = sqlite3_exec(db, ts_storage_schema_sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		goto rollback;
	snprintf(sql, sizeof(sql),
		 "PRAGMA application_id = %d; PRAGMA user_version = %d;"
		 "INSERT OR IGNORE INTO meta (key, value) VALUES"
		 " ('schema_version', '%d'), ('taskscope_version', '%s'),"
		 " ('created_ns', '%" PRIu64 "'), ('created_monotonic_ns', '%" PRIu64 "');",
		 TS_STORAGE_APP_ID, TS_SCHEMA_VERSION, TS_SCHEMA_VERSION, TS_VERSION_STRING,
		 clock_ns(CLOCK_REALTIME), clock_ns(CLOCK_MONOTONIC));
	rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		goto rollback;
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		goto cleanup;
rollback:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
cleanup:
	if (rc != SQLITE_OK)
		fail(err, errlen, ts_storage_errno(rc), "cannot write %s: %s; choose a writable --db path",
		     path, msg ? msg : why(db, rc));
	sqlite3_free(msg);
	return rc == SQLITE_OK ? 0 : ts_storage_errno(rc);
}

static int configure(sqlite3 *db, bool readonly, const char *path, char *err, size_t errlen)
{
	char sql[256];
	char *msg = NULL;
	int rc;

	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db, 1);
	if (readonly)
		return 0;
	/* WAL: a commit is one append to the -wal file, readers (a console
	 * replaying, `taskscope query`) never block the writer. NORMAL: no
	 * fsync per commit; a killed collector loses nothing committed, a
	 * power cut may lose the last transactions (docs/schema.md). */
	snprintf(sql, sizeof(sql),
		 "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
		 " PRAGMA journal_size_limit = %d; PRAGMA foreign_keys = OFF;", WAL_SIZE_LIMIT);
	rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fail(err, errlen, ts_storage_errno(rc), "cannot write %s: %s; choose a writable --db path",
		     path, msg ? msg : why(db, rc));
	sqlite3_free(msg);
	return rc == SQLITE_OK ? 0 : ts_storage_errno(rc);
}

int ts_storage_db_open(const char *path, bool readonly, sqlite3 **out, char *err, size_t errlen)
{
	int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	sqlite3 *db = NULL;
	bool created = false;
	int r, rc, kind;

	*out = NULL;
	r = check_path(path, readonly, &created, err, errlen);
	if (r < 0)
		return r;
	flags |= readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		r = fail(err, errlen, ts_storage_errno(rc), "cannot open %s: %s%s", path, why(db, rc),
			 readonly ? "" : "; choose a writable --db path");
		goto cleanup;
	}
	if (!readonly && sqlite3_db_readonly(db, "main") == 1) {
		r = fail(err, errlen, -EROFS, "cannot write %s: %s; choose a writable --db path", path,
			 strerror(EACCES));
		goto cleanup;
	}
	r = configure(db, true, path, err, errlen);
	if (r < 0)
		goto cleanup;
	kind = classify(db, path, err, errlen);
	if (kind < 0) {
		r = kind;
		goto cleanup;
	}
	if (kind == 0 && readonly) {
		r = fail(err, errlen, -EINVAL, "%s is not a taskscope recording (empty database)", path);
		goto cleanup;
	}
	r = configure(db, readonly, path, err, errlen);
	if (r < 0)
		goto cleanup;
	if (kind == 0) {
		r = create_schema(db, path, err, errlen);
		if (r < 0)
			goto cleanup;
	}
	*out = db;
	db = NULL;
	r = 0;
cleanup:
	sqlite3_close(db);
	if (r < 0 && created)
		unlink(path);
	return r;
}
