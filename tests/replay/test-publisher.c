/*
 * test-publisher.c: the publisher's sockets, with real consoles.
 *
 * Three remote conns connect to a publisher on a Unix socket with a small
 * per-console buffer. One reads everything after every publish; one reads
 * only 8 KiB per publish (always a little behind: its buffer is compacted
 * and it is resynced over and over); one does not read at all while every
 * task changes at every publish. The publisher must keep going (the test
 * would hang otherwise), drop the slow consoles' deltas and resync them
 * with snapshots (stats.resyncs), and once they read again they must
 * converge to the model exactly, like the fast one.
 * One console asks for a task's details (ConsoleRequest) and gets its
 * histograms and recent polls with its updates; the others do not. Also:
 * a console sending a frame that is not a small request is closed; a
 * fourth console over max_clients is refused; a second publisher
 * on the same live socket, or on a path that is a regular file, fails
 * with one line; --serve off loopback is refused; the socket file is
 * removed at the end.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/model.h"
#include "collector/publisher.h"
#include "console/conn_remote.h"
#include "tests/check.h"

#define PID 7u
#define NTASKS 2000
#define MS 1000000ull

static void ev(struct ts_model *m, uint16_t type, uint64_t ts, uint64_t id, uint16_t flags)
{
	struct ts_event e = { .ts = ts, .pid = PID, .tid = 11, .type = type, .flags = flags, .id = id,
			      .name = type == TS_EV_SPAWN ? "task" : NULL,
			      .location = type == TS_EV_SPAWN ? "t.c:1" : NULL };

	ts_model_apply(m, &e);
}

static bool same(const struct ts_model *m, const struct ts_conn_remote *r)
{
	size_t n;
	struct ts_task *const *tasks = ts_model_tasks(m, &n);

	if (ts_conn_remote_task_count(r) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct ts_remote_task *c = ts_conn_remote_find_task(r, tasks[i]->pid, tasks[i]->id);

		if (!c || c->polls != tasks[i]->polls || c->busy_ns != tasks[i]->busy_ns || c->state != tasks[i]->state)
			return false;
	}
	return true;
}

static int drain(struct ts_remote_link *l, struct ts_conn_remote *r)
{
	char err[512] = "";
	int rc = ts_remote_link_read(l, r, 0, err, sizeof(err));

	if (rc < 0)
		fprintf(stderr, "read: %d %s\n", rc, err);
	return rc;
}

int main(void)
{
	char dir[] = "/tmp/ts-pub-XXXXXX", path[256], err[512] = "";
	struct ts_publisher *p = NULL, *p2 = NULL;
	struct ts_publisher_stats st;
	struct ts_model *m = NULL;
	struct ts_remote_link *link[4] = { 0 };
	struct ts_conn_remote *conn[3] = { 0 };
	uint64_t now = 1000 * MS;
	FILE *f;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/serve.sock", dir);
	CHECK(ts_model_new(NULL, NULL, &m) == 0);
	for (uint64_t id = 1; id <= NTASKS; id++)
		ev(m, TS_EV_SPAWN, now + id, id, 0);
	ts_model_tick(m, now);

	CHECK(ts_publisher_new(&(struct ts_publisher_options){ .addr = path, .max_buffer = 64 * 1024,
							       .max_clients = 3, .duty_pct = 100 }, &p, err, sizeof(err)) == 0);
	if (!p) {
		fprintf(stderr, "publisher: %s\n", err);
		return 1;
	}
	{
		struct stat sb;

		CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	}
	/* a second collector on the same live socket */
	CHECK(ts_publisher_new(&(struct ts_publisher_options){ .addr = path }, &p2, err, sizeof(err)) == -EADDRINUSE);
	CHECK_MSG(strstr(err, "another collector") && !strchr(err, '\n'), "%s", err);
	CHECK(ts_publisher_new(&(struct ts_publisher_options){ .addr = "0.0.0.0:4567" }, &p2, err, sizeof(err)) < 0);
	CHECK_MSG(strstr(err, "only on loopback"), "%s", err);

	/* the second publisher's probe connected and left: forget it */
	for (int k = 0; k < 200; k++) {
		ts_publisher_handle_io(p);
		ts_publisher_get_stats(p, &st);
		if (st.accepted == 1 && st.clients == 0)
			break;
		poll(NULL, 0, 2);
	}
	CHECK(st.accepted == 1 && st.clients == 0);

	for (int i = 0; i < 4; i++) {
		CHECK(ts_remote_link_new(path, 1000, &link[i], err, sizeof(err)) == 0);
		if (i < 3)
			CHECK(ts_conn_remote_new(&conn[i]) == 0);
	}
	ts_publisher_handle_io(p);
	ts_publisher_get_stats(p, &st);
	CHECK_MSG(st.clients == 3 && st.accepted == 4 && st.refused == 1, "clients %u accepted %" PRIu64
		  " refused %" PRIu64, st.clients, st.accepted, st.refused);

	/* console 0 shows task 5 in detail */
	CHECK(ts_remote_link_focus(link[0], PID, 5, 0) == 0);

	/* 60 publishes; every task polled between two of them; console 2 sleeps */
	for (int round = 0; round < 60; round++) {
		for (uint64_t id = 1; id <= NTASKS; id++) {
			ev(m, TS_EV_POLL_BEGIN, now, id, 0);
			ev(m, TS_EV_POLL_END, now + 1000 + id, id, 0);
		}
		now += 20 * MS;
		ts_model_tick(m, now);
		ts_publisher_publish(p, m, &(struct ts_publisher_session){ .target = "t", .mode = "live" }, now);
		for (int k = 0; k < 50; k++) {
			ts_publisher_handle_io(p);
			CHECK(drain(link[0], conn[0]) == 0);
		}
		{
			static uint8_t bit[8192];
			ssize_t got = recv(ts_remote_link_fd(link[1]), bit, sizeof(bit), MSG_DONTWAIT);

			if (got > 0)
				CHECK_MSG(ts_conn_remote_feed(conn[1], bit, (size_t)got, 0, err, sizeof(err)) == 0,
					  "trickle: %s", err);
		}
	}
	ts_publisher_get_stats(p, &st);
	CHECK_MSG(st.resyncs >= 2, "resyncs %" PRIu64, st.resyncs);
	CHECK(st.snapshots >= 3 + st.resyncs - 1);

	/* everyone reads until they match the model (no more changes now) */
	for (int k = 0; k < 2000 && !(same(m, conn[0]) && same(m, conn[1]) && same(m, conn[2])); k++) {
		if (k % 100 == 0)
			ts_publisher_publish(p, m, NULL, now);
		ts_publisher_handle_io(p);
		for (int i = 0; i < 3; i++)
			CHECK(drain(link[i], conn[i]) == 0);
		poll(NULL, 0, 1);
	}
	for (int i = 0; i < 3; i++) {
		CHECK_MSG(ts_conn_remote_synced(conn[i]), "console %d never synced", i);
		CHECK_MSG(same(m, conn[i]), "console %d differs from the model", i);
	}
	CHECK(ts_conn_remote_updates(conn[0]) >= 60);
	{
		/* the details it asked for came with its updates */
		const struct ts_task *t5 = ts_model_find_task(m, PID, 5);
		struct ts_state st;

		ts_state_init(&st);
		st.view = TS_VIEW_DETAILS;
		st.detail_pid = PID;
		st.detail_id = 5;
		CHECK(ts_conn_remote_fill(conn[0], &st, 0) == 0);
		CHECK(st.detail.valid && st.detail.have_hists);
		CHECK(t5 && st.detail.poll_hist.count == t5->poll_hist.count && t5->poll_hist.count >= 60);
		CHECK(t5 && st.detail.poll_hist.max == t5->poll_hist.max);
		CHECK(st.detail.npolls > 0 && st.detail.polls[st.detail.npolls - 1].tid == 11);
		/* the others did not ask */
		CHECK(ts_conn_remote_fill(conn[1], &st, 0) == 0);
		CHECK(st.detail.valid && !st.detail.have_hists);
		ts_state_fini(&st);
	}
	CHECK(ts_conn_remote_updates(conn[2]) < ts_conn_remote_updates(conn[0]));
	CHECK(ts_conn_remote_updates(conn[1]) < ts_conn_remote_updates(conn[0]));

	/* a console leaving is noticed */
	ts_remote_link_free(link[0]);
	link[0] = NULL;
	for (int k = 0; k < 100; k++) {
		ts_publisher_handle_io(p);
		ts_publisher_get_stats(p, &st);
		if (st.clients == 2)
			break;
		poll(NULL, 0, 2);
	}
	CHECK(st.clients == 2);

	/* a console that sends something other than a small request is closed */
	{
		struct ts_remote_link *bad = NULL;
		const uint8_t big[8] = { 0xe8, 0x03, 0, 0, 1, 2, 3, 4 };

		CHECK(ts_remote_link_new(path, 1000, &bad, err, sizeof(err)) == 0);
		for (int k = 0; k < 100 && st.clients != 3; k++) {
			ts_publisher_handle_io(p);
			ts_publisher_get_stats(p, &st);
			poll(NULL, 0, 2);
		}
		CHECK(st.clients == 3);
		CHECK(bad && send(ts_remote_link_fd(bad), big, sizeof(big), MSG_NOSIGNAL) == (ssize_t)sizeof(big));
		for (int k = 0; k < 100 && st.clients != 2; k++) {
			ts_publisher_handle_io(p);
			ts_publisher_get_stats(p, &st);
			poll(NULL, 0, 2);
		}
		CHECK_MSG(st.clients == 2, "a console sending a 1000-byte frame was kept");
		ts_remote_link_free(bad);
	}

	for (int i = 0; i < 4; i++)
		ts_remote_link_free(link[i]);
	for (int i = 0; i < 3; i++)
		ts_conn_remote_free(conn[i]);
	ts_publisher_free(p);
	CHECK(access(path, F_OK) != 0);

	/* a path that is some other file is not replaced */
	f = fopen(path, "w");
	fputs("keep me\n", f);
	fclose(f);
	CHECK(ts_publisher_new(&(struct ts_publisher_options){ .addr = path }, &p2, err, sizeof(err)) == -EEXIST);
	CHECK(access(path, F_OK) == 0);
	unlink(path);
	rmdir(dir);
	ts_model_free(m);
	return check_result("publisher");
}
