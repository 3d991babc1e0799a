/*
 * test-kill.c: nothing acknowledged as stored is lost to SIGKILL.
 *
 * A child opens storage and writes poll spans numbered 0, 1, 2, ...
 * continuously; after each ts_storage_flush() returns it reports, through a
 * pipe, how many rows are committed so far, then keeps writing. The parent
 * SIGKILLs it mid-stream (after a different number of acknowledgements
 * each round, so the kill lands at different points of a batch), reopens
 * the file: PRAGMA integrity_check says ok and every acknowledged row is
 * there. Each round appends to the file the previous round left behind,
 * so recovery from a killed writer is followed by a clean reopen.
 */
#include "storage/query.h"
#include "storage/storage.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#define ROUNDS 3
#define ROWS_PER_FLUSH 1500

static void child(const char *path, uint32_t round, int fd)
{
	struct ts_storage *s = NULL;
	char err[256];
	uint64_t n = 0;

	if (ts_storage_open(path, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "child: %s\n", err);
		_exit(2);
	}
	for (;;) {
		for (int i = 0; i < ROWS_PER_FLUSH; i++, n++) {
			struct ts_poll_span sp = { .pid = round, .tid = 1, .task_id = n % 7,
						   .start_ns = n, .end_ns = n + 5, .on_cpu_ns = 3 };

			/* the queue may be full: retry, never count a refused row */
			while (ts_storage_add_poll_span(s, &sp) == -ENOBUFS)
				usleep(100);
		}
		if (ts_storage_flush(s) < 0)
			_exit(3);
		if (write(fd, &n, sizeof(n)) != sizeof(n))
			_exit(4);
	}
}

static void round_trip(const char *path, uint32_t round, int acks_before_kill)
{
	uint64_t acked = 0, v;
	int fds[2], status, got = 0;
	char sql[128], want[128], err[256], *out = NULL;
	size_t outlen = 0;
	FILE *f;
	sqlite3 *db;
	pid_t pid;

	CHECK(pipe(fds) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child(path, round, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	while (got < acks_before_kill && read(fds[0], &v, sizeof(v)) == sizeof(v)) {
		acked = v;
		got++;
	}
	CHECK_EQ_INT(got, acks_before_kill);
	kill(pid, SIGKILL);
	/* acknowledgements already in the pipe were sent after their commit */
	while (read(fds[0], &v, sizeof(v)) == sizeof(v))
		acked = v;
	close(fds[0]);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(acked > 0);

	/* first reader after the crash: the read-only query path (it must
	 * recover the WAL the killed writer left) */
	snprintf(sql, sizeof(sql), "SELECT count(*) AS n FROM poll_spans WHERE pid = %u AND start_ns < %llu",
		 round, (unsigned long long)acked);
	f = open_memstream(&out, &outlen);
	CHECK(f != NULL);
	CHECK_EQ_INT(ts_query_run(path, sql, true, f, err, sizeof(err)), 0);
	fclose(f);
	snprintf(want, sizeof(want), "[\n  {\"n\": %llu}\n]\n", (unsigned long long)acked);
	CHECK_EQ_STR(out, want);
	free(out);

	db = db_open_raw(path);
	CHECK_EQ_STR(db_text(db, "PRAGMA integrity_check"), "ok");
	CHECK_EQ_INT(db_int(db, "SELECT count(*) FROM poll_spans WHERE pid = %u AND start_ns < %llu",
			    round, (unsigned long long)acked), acked);
	CHECK_EQ_INT(db_int(db, "SELECT count(DISTINCT start_ns) FROM poll_spans WHERE pid = %u", round),
		     db_int(db, "SELECT count(*) FROM poll_spans WHERE pid = %u", round));
	CHECK(db_int(db, "SELECT count(*) FROM poll_spans WHERE pid = %u", round) >= (int64_t)acked);
	sqlite3_close(db);
	printf("round %u: killed after %llu acknowledged rows: all there\n", round,
	       (unsigned long long)acked);
}

int main(void)
{
	char dir[256], path[512];
	sqlite3 *db;

	tmpdir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/kill.db", dir);
	for (uint32_t r = 1; r <= ROUNDS; r++)
		round_trip(path, r, 2 + 3 * (int)r);

	/* rounds did not disturb each other's rows */
	db = db_open_raw(path);
	CHECK_EQ_INT(db_int(db, "SELECT count(DISTINCT pid) FROM poll_spans"), ROUNDS);
	sqlite3_close(db);
	tmpdir_remove(dir);
	printf("ok\n");
	return 0;
}
