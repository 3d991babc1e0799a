/*
 * test-badpath.c: every bad --db path is one clear line, never a crash,
 * and never modifies what it refuses.
 *
 * Covered: a directory nobody may write (as root, checked in a child that
 * drops to an unprivileged uid, since root writes anywhere), a missing
 * parent directory, a directory given as the file, a text file, a file with
 * SQLite's magic but garbage after it, a foreign SQLite database, a
 * recording of another schema version, and the read-only opener's cases.
 * An empty file is fine: it becomes a recording.
 */
#include "storage/query.h"
#include "storage/storage.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char err[512];

static void check_one_line(void)
{
	CHECK(err[0] != '\0');
	CHECK(strchr(err, '\n') == NULL);
}

/* Opens for writing, expects `want` and an error line starting with
 * `prefix` and containing `also` (may be NULL). */
static void expect_fail(const char *path, int want, const char *prefix, const char *also)
{
	struct ts_storage *s = (struct ts_storage *)0x1;

	err[0] = '\0';
	CHECK_EQ_INT(ts_storage_open(path, &s, err, sizeof(err)), want);
	CHECK(s == NULL);
	check_one_line();
	if (strncmp(err, prefix, strlen(prefix)) != 0 || (also && !strstr(err, also))) {
		fprintf(stderr, "unexpected error line: '%s'\n(wanted '%s...%s')\n", err, prefix,
			also ? also : "");
		exit(1);
	}
}

static void expect_readonly_fail(const char *path, int want, const char *needle)
{
	sqlite3 *db = (sqlite3 *)0x1;

	err[0] = '\0';
	CHECK_EQ_INT(ts_query_open(path, &db, err, sizeof(err)), want);
	CHECK(db == NULL);
	check_one_line();
	if (!strstr(err, needle)) {
		fprintf(stderr, "unexpected error line: '%s' (wanted '%s')\n", err, needle);
		exit(1);
	}
}

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	CHECK(f != NULL);
	CHECK(fwrite(data, 1, n, f) == n);
	fclose(f);
}

static void check_unwritable_dir(const char *dir)
{
	char sub[512], path[600], want[700];
	int status;
	pid_t pid;

	snprintf(sub, sizeof(sub), "%s/ro", dir);
	CHECK(mkdir(sub, 0555) == 0);
	CHECK(chmod(dir, 0755) == 0);
	snprintf(path, sizeof(path), "%s/x.db", sub);
	snprintf(want, sizeof(want), "cannot create %s: Permission denied; choose a writable --db path",
		 path);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
			fprintf(stderr, "cannot drop privileges\n");
			_exit(1);
		}
		expect_fail(path, -EACCES, want, NULL);
		CHECK_EQ_STR(err, want);
		CHECK(access(path, F_OK) != 0);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A recording the current user cannot write (checked unprivileged). */
static void check_readonly_file(const char *dir)
{
	char path[600];
	struct ts_storage *s = NULL;
	int status;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/ro.db", dir);
	CHECK_EQ_INT(ts_storage_open(path, &s, err, sizeof(err)), 0);
	ts_storage_close(s);
	CHECK(chmod(path, 0444) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(1);
		expect_fail(path, -EACCES, "cannot open ", "Permission denied; choose a writable --db path");
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	char dir[256], path[512], want[700];
	static const char text[] = "this is a text file, not a database\n";
	struct ts_storage *s = NULL;
	unsigned char garbage[8192];
	struct stat st;
	sqlite3 *db;

	tmpdir_make(dir, sizeof(dir));

	check_unwritable_dir(dir);
	check_readonly_file(dir);

	/* a missing parent */
	snprintf(path, sizeof(path), "%s/no/such/dir/x.db", dir);
	snprintf(want, sizeof(want), "cannot create %s: No such file or directory; choose a writable --db path",
		 path);
	expect_fail(path, -ENOENT, want, NULL);

	/* no path at all */
	expect_fail("", -EINVAL, "no database path given", NULL);

	/* a directory */
	expect_fail(dir, -EISDIR, "cannot create ", "Is a directory");
	expect_readonly_fail(dir, -EISDIR, "Is a directory");

	/* a text file: refused and left as it was */
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	write_file(path, text, sizeof(text) - 1);
	snprintf(want, sizeof(want), "%s is not a taskscope recording", path);
	expect_fail(path, -EINVAL, want, NULL);
	CHECK_EQ_STR(err, want);
	CHECK(stat(path, &st) == 0 && st.st_size == (off_t)sizeof(text) - 1);
	expect_readonly_fail(path, -EINVAL, "is not a taskscope recording");

	/* SQLite's magic, then garbage */
	memcpy(garbage, "SQLite format 3", 16);
	for (size_t i = 16; i < sizeof(garbage); i++)
		garbage[i] = (unsigned char)(i * 131 + 7);
	snprintf(path, sizeof(path), "%s/corrupt.db", dir);
	write_file(path, garbage, sizeof(garbage));
	expect_fail(path, -EINVAL, path, "is not a taskscope recording");

	/* a foreign SQLite database: refused, untouched (not even switched to WAL) */
	snprintf(path, sizeof(path), "%s/foreign.db", dir);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "CREATE TABLE customers (id INTEGER, name TEXT);"
			       "INSERT INTO customers VALUES (1, 'a');", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	snprintf(want, sizeof(want), "%s is not a taskscope recording", path);
	expect_fail(path, -EINVAL, want, NULL);
	CHECK_EQ_STR(err, want);
	expect_readonly_fail(path, -EINVAL, "is not a taskscope recording");
	db = db_open_raw(path);
	CHECK_EQ_STR(db_text(db, "PRAGMA journal_mode"), "delete");
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM sqlite_schema"), 1);
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM customers"), 1);
	sqlite3_close(db);

	/* another schema version */
	snprintf(path, sizeof(path), "%s/v2.db", dir);
	CHECK_EQ_INT(ts_storage_open(path, &s, err, sizeof(err)), 0);
	ts_storage_close(s);
	db = db_open_raw(path);
	CHECK(sqlite3_exec(db, "PRAGMA user_version = 2", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	snprintf(want, sizeof(want), "%s was written by schema version 2; this taskscope reads version 1",
		 path);
	expect_fail(path, -EINVAL, want, NULL);
	CHECK_EQ_STR(err, want);
	expect_readonly_fail(path, -EINVAL, "was written by schema version 2");
	db = db_open_raw(path);
	CHECK_EQ_INT(db_int(db, "PRAGMA user_version"), 2);
	sqlite3_close(db);

	/* read-only opener: missing file, empty file */
	snprintf(path, sizeof(path), "%s/missing.db", dir);
	expect_readonly_fail(path, -ENOENT, "No such file or directory");
	CHECK(access(path, F_OK) != 0);
	snprintf(path, sizeof(path), "%s/empty.db", dir);
	write_file(path, "", 0);
	expect_readonly_fail(path, -EINVAL, "is not a taskscope recording");

	/* ...but an empty file is a fine place to start a recording */
	CHECK_EQ_INT(ts_storage_open(path, &s, err, sizeof(err)), 0);
	ts_storage_close(s);
	CHECK_EQ_INT(ts_query_open(path, &db, err, sizeof(err)), 0);
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM task_summary"), 0);
	sqlite3_close(db);

	tmpdir_remove(dir);
	printf("ok\n");
	return 0;
}
