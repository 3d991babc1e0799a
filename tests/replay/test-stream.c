/*
 * test-stream.c: the console stream, encoder to decoder, without sockets.
 *
 * A model is driven with synthetic events; the publisher's encoder turns
 * it into snapshot and delta frames and the remote conn decodes them. At
 * every step the mirror must hold exactly the model's tasks (ids, names,
 * polls, busy/sched/idle at the same instant), resources, threads and
 * warning counts: after a snapshot, after deltas (tasks changing, new,
 * evicted), with bytes fed in random pieces, with a snapshot larger than
 * one frame (never shown half-received), and after the encoder is reset
 * (a resync). Then bad input:
 * every prefix of a valid stream (truncated frames) is accepted without
 * applying the cut update, an oversized length, bytes that are not an
 * Update, a stream that does not start with a snapshot, another stream
 * version, and random mutations of a valid stream: each is an error with
 * one line or a clean decode, never a crash (run under ASan in CI).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/model.h"
#include "collector/publisher_internal.h"
#include "console/conn_remote.h"
#include "taskscope.pb-c.h"
#include "tests/check.h"

#define PID 42u
#define MS 1000000ull

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? rng % n : 0;
}

static void ev(struct ts_model *m, uint16_t type, uint64_t ts, uint32_t tid, uint64_t id, uint16_t flags,
	       uint32_t kind, const char *name)
{
	struct ts_event e = { .ts = ts, .pid = PID, .tid = tid, .type = type, .flags = flags, .kind = kind,
			      .id = id, .name = name, .location = name ? "srv.c:7" : NULL };

	ts_model_apply(m, &e);
}

static const char *const NAMES[] = { "accept", "conn", "timer", "hash" };

/* Compare the mirror with the model, task by task, at `now`. */
static void check_same(const struct ts_model *m, const struct ts_conn_remote *r, uint64_t now, const char *when)
{
	size_t n;
	struct ts_task *const *tasks = ts_model_tasks(m, &n);
	size_t nth, nres;

	ts_model_threads(m, &nth);
	ts_model_resources(m, &nres);
	CHECK_MSG(ts_conn_remote_task_count(r) == n, "%s: %zu tasks mirrored, model has %zu", when,
		  ts_conn_remote_task_count(r), n);
	for (size_t i = 0; i < n; i++) {
		const struct ts_task *t = tasks[i];
		const struct ts_remote_task *c = ts_conn_remote_find_task(r, t->pid, t->id);
		uint64_t a[4], b[4];

		CHECK_MSG(c != NULL, "%s: task %" PRIu64 " missing", when, t->id);
		if (!c)
			continue;
		CHECK_STR(c->name, t->name);
		CHECK_STR(c->location, t->location);
		CHECK(c->state == t->state && c->polls == t->polls && c->kind == t->kind &&
		      c->outcome == t->outcome && c->wakes == t->wakes && c->warnings == t->warnings);
		ts_task_times(t, now, &a[0], &a[1], &a[2], &a[3]);
		ts_remote_task_times(c, now, &b[0], &b[1], &b[2], &b[3]);
		CHECK_MSG(!memcmp(a, b, sizeof(a)), "%s: task %" PRIu64 " times differ", when, t->id);
	}
	CHECK(ts_conn_remote_worker_count(r) == nth);
	CHECK(ts_conn_remote_resource_count(r) == nres);
	for (uint32_t k = 0; k < TS_WARN_KIND_COUNT; k++)
		CHECK(ts_conn_remote_warning_counts(r)[k] == ts_model_warning_count(m, k));
}

/* Feed a buffer in random pieces. */
static int feed_pieces(struct ts_conn_remote *r, const struct ts_stream_buf *b, char *err, size_t errlen)
{
	for (size_t pos = 0; pos < b->len;) {
		size_t n = 1 + rnd(pos % 3 ? 7000 : 5);
		int rc;

		n = n > b->len - pos ? b->len - pos : n;
		rc = ts_conn_remote_feed(r, b->data + pos, n, 0, err, errlen);
		if (rc < 0)
			return rc;
		pos += n;
	}
	return 0;
}

static size_t count_frames(const struct ts_stream_buf *b, size_t *more)
{
	size_t n = 0;

	*more = 0;
	for (size_t pos = 0; pos + 4 <= b->len; n++) {
		uint32_t len = (uint32_t)b->data[pos] | (uint32_t)b->data[pos + 1] << 8 |
			       (uint32_t)b->data[pos + 2] << 16 | (uint32_t)b->data[pos + 3] << 24;
		Taskscope__Update *u = taskscope__update__unpack(NULL, len, b->data + pos + 4);

		CHECK(len <= 64 * 1024 && u != NULL);
		if (u) {
			*more += u->more;
			taskscope__update__free_unpacked(u, NULL);
		}
		pos += 4 + len;
	}
	return n;
}

static void bad_input(const struct ts_stream_buf *good)
{
	struct ts_conn_remote *r = NULL;
	char err[512];
	uint8_t buf[64];
	Taskscope__Update u = TASKSCOPE__UPDATE__INIT;
	size_t len;

	/* every prefix: accepted, and nothing applied until the whole update is in */
	for (size_t cut = 0; cut < good->len; cut += 1 + cut / 3) {
		CHECK(ts_conn_remote_new(&r) == 0);
		err[0] = 0;
		CHECK_MSG(ts_conn_remote_feed(r, good->data, cut, 0, err, sizeof(err)) == 0, "cut %zu: %s", cut, err);
		CHECK(!ts_conn_remote_synced(r));
		ts_conn_remote_free(r);
	}

	/* a length over 64 KiB */
	CHECK(ts_conn_remote_new(&r) == 0);
	memcpy(buf, "\xff\xff\xff\x7fhello", 9);
	CHECK(ts_conn_remote_feed(r, buf, 9, 0, err, sizeof(err)) == -EMSGSIZE);
	CHECK_MSG(strstr(err, "frame of") && !strchr(err, '\n'), "%s", err);
	/* broken stays broken */
	CHECK(ts_conn_remote_feed(r, good->data, good->len, 0, err, sizeof(err)) < 0);
	ts_conn_remote_free(r);

	/* not protobuf: "HTTP/1.1 200 OK" with a plausible length */
	CHECK(ts_conn_remote_new(&r) == 0);
	memcpy(buf, "\x0c\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 16);
	CHECK(ts_conn_remote_feed(r, buf, 16, 0, err, sizeof(err)) == -EBADMSG);
	CHECK_MSG(strstr(err, "not an Update"), "%s", err);
	ts_conn_remote_free(r);

	/* a delta first */
	CHECK(ts_conn_remote_new(&r) == 0);
	u.now_ns = 5;
	len = taskscope__update__pack(&u, buf + 4);
	buf[0] = (uint8_t)len, buf[1] = buf[2] = buf[3] = 0;
	CHECK(ts_conn_remote_feed(r, buf, len + 4, 0, err, sizeof(err)) == -EPROTO);
	CHECK_MSG(strstr(err, "snapshot"), "%s", err);
	ts_conn_remote_free(r);

	/* another stream version */
	CHECK(ts_conn_remote_new(&r) == 0);
	u.snapshot = true;
	u.stream_version = 7;
	len = taskscope__update__pack(&u, buf + 4);
	buf[0] = (uint8_t)len;
	CHECK(ts_conn_remote_feed(r, buf, len + 4, 0, err, sizeof(err)) == -EPROTO);
	CHECK_MSG(strstr(err, "version 7"), "%s", err);
	ts_conn_remote_free(r);

	/* task details with more buckets than a histogram has, after a good snapshot */
	{
		Taskscope__Update du = TASKSCOPE__UPDATE__INIT;
		Taskscope__TaskDetail d = TASKSCOPE__TASK_DETAIL__INIT;
		Taskscope__Histogram h = TASKSCOPE__HISTOGRAM__INIT;
		uint32_t buckets[TS_HIST_BUCKETS + 1] = { 0 };
		uint8_t frame[2048];

		h.n_buckets = TS_HIST_BUCKETS + 1;
		h.buckets = buckets;
		d.pid = PID;
		d.task_id = 1;
		d.poll_hist = &h;
		du.detail = &d;
		du.detail_only = true;
		len = taskscope__update__pack(&du, frame + 4);
		frame[0] = (uint8_t)len, frame[1] = (uint8_t)(len >> 8), frame[2] = frame[3] = 0;
		CHECK(ts_conn_remote_new(&r) == 0);
		/* before any snapshot it is ignored */
		CHECK(ts_conn_remote_feed(r, frame, len + 4, 0, err, sizeof(err)) == 0);
		CHECK(ts_conn_remote_feed(r, good->data, good->len, 0, err, sizeof(err)) == 0);
		CHECK(ts_conn_remote_feed(r, frame, len + 4, 0, err, sizeof(err)) == -EBADMSG);
		CHECK_MSG(strstr(err, "task details"), "%s", err);
		ts_conn_remote_free(r);
	}

	/* mutations: an error or a clean decode, never a crash or a leak */
	for (int i = 0; i < 300; i++) {
		uint8_t *copy = malloc(good->len);

		memcpy(copy, good->data, good->len);
		for (int k = 0; k < 1 + (int)rnd(8); k++)
			copy[rnd(good->len)] ^= (uint8_t)(1 + rnd(255));
		CHECK(ts_conn_remote_new(&r) == 0);
		(void)ts_conn_remote_feed(r, copy, good->len, 0, err, sizeof(err));
		ts_conn_remote_free(r);
		free(copy);
	}
}

int main(void)
{
	struct ts_model_config cfg;
	struct ts_model *m = NULL;
	struct ts_stream_encoder enc;
	struct ts_stream_buf snap = { 0 }, delta = { 0 };
	struct ts_conn_remote *r = NULL;
	struct ts_publisher_session sess = { .target = "test (pid 42)", .mode = "live", .events_per_s = 12.5 };
	char err[512] = "";
	uint64_t now = 1000 * MS, id = 1;
	size_t frames, more;

	ts_model_config_default(&cfg);
	cfg.retention_ns = 200 * MS;
	if (ts_model_new(&cfg, NULL, &m) < 0)
		return 1;
	ts_stream_encoder_init(&enc);
	CHECK(ts_conn_remote_new(&r) == 0);

	ts_model_process_add(m, PID, "/usr/bin/server", "minirt", "shim", now);
	for (uint32_t t = 0; t < 4; t++)
		ev(m, TS_EV_THREAD, now, 10 + t, 0, 0, TS_ROLE_WORKER, "worker");
	ev(m, TS_EV_RESOURCE_NEW, now, 10, 900, 0, TS_RES_MUTEX, "db");
	for (; id <= 50; id++)
		ev(m, TS_EV_SPAWN, now + id, 10, id, 0, TS_KIND_TASK, NAMES[id % 4]);
	now += 10 * MS;
	ts_model_tick(m, now);

	/* snapshot */
	CHECK(ts_stream_encode(&enc, m, &sess, now, NULL, &snap) == 0);
	CHECK(count_frames(&snap, &more) == 1 && more == 0);
	CHECK(feed_pieces(r, &snap, err, sizeof(err)) == 0);
	CHECK(ts_conn_remote_synced(r));
	CHECK_STR(ts_conn_remote_session(r)->target, "test (pid 42)");
	check_same(m, r, now, "snapshot");
	{
		/* the console state from the mirror: rows, processes, workers */
		struct ts_state st;
		size_t n;

		ts_state_init(&st);
		CHECK(ts_conn_remote_fill(r, &st, 0) == 0);
		ts_model_tasks(m, &n);
		CHECK(st.nrows == n && st.filled);
		CHECK(st.nprocs == 1 && st.procs[0].pid == PID);
		CHECK_STR(st.procs[0].source, "shim");
		CHECK_STR(st.procs[0].exe, "/usr/bin/server");
		CHECK(st.nworkers == 4 && st.nres == 1);
		ts_state_fini(&st);
	}
	bad_input(&snap);

	/* rounds of activity, each followed by one delta */
	for (int round = 0; round < 40; round++) {
		size_t before = snap.len;

		for (int k = 0; k < 60; k++) {
			uint64_t task = 1 + rnd(id - 1);
			uint32_t tid = 10 + (uint32_t)rnd(4);

			now += rnd(3 * MS);
			switch (rnd(6)) {
			case 0:
				ev(m, TS_EV_SPAWN, now, tid, id, 0, TS_KIND_TASK, NAMES[id % 4]);
				id++;
				break;
			case 1:
				ev(m, TS_EV_POLL_BEGIN, now, tid, task, 0, 0, NULL);
				ev(m, TS_EV_POLL_END, now + rnd(20 * MS), tid, task, 0, 0, NULL);
				now += 20 * MS;
				break;
			case 2:
				ev(m, TS_EV_WAKE, now, tid, task, 0, 0, NULL);
				break;
			case 3:
				ev(m, TS_EV_TASK_DROP, now, tid, task, 0, TS_OUTCOME_OK, NULL);
				break;
			case 4:
				ev(m, TS_EV_LOCK_ACQUIRED, now, tid, 900, 0, 0, NULL);
				ev(m, TS_EV_LOCK_RELEASE, now + 1000, tid, 900, 0, 0, NULL);
				break;
			default:
				ev(m, TS_EV_POLL_BEGIN, now, tid, task, 0, 0, NULL);
				break;
			}
		}
		now += 50 * MS;
		ts_model_tick(m, now);
		(void)before;
		delta.len = 0;
		CHECK(ts_stream_encode(&enc, m, &sess, now, &delta, NULL) == 0);
		CHECK(feed_pieces(r, &delta, err, sizeof(err)) == 0);
		check_same(m, r, now, "delta");
		/* the clock runs between updates: times are still the model's */
		check_same(m, r, now + 7 * MS, "later");
	}
	CHECK(ts_conn_remote_updates(r) == 41);

	/* a snapshot larger than one frame, on a fresh conn after a reset */
	for (int k = 0; k < 3000; k++, id++)
		ev(m, TS_EV_SPAWN, now + (uint64_t)k, 10, id, 0, TS_KIND_TASK, NAMES[id % 4]);
	now += 10 * MS;
	ts_model_tick(m, now);
	snap.len = 0;
	delta.len = 0;
	CHECK(ts_stream_encode(&enc, m, &sess, now, &delta, &snap) == 0);
	frames = count_frames(&snap, &more);
	CHECK_MSG(frames > 2 && more == frames - 1, "%zu frames, %zu with more", frames, more);
	count_frames(&delta, &more);
	CHECK(more > 0);                /* 3000 new tasks do not fit one frame either */
	ts_conn_remote_reset_stream(r);
	CHECK(!ts_conn_remote_synced(r));
	{
		/* all but the last frame: applied as they come, but never shown
		 * half-done (the state keeps the previous fill) */
		struct ts_state st;
		size_t last = 0, n;
		struct ts_stream_buf head;

		for (size_t pos = 0; pos + 4 <= snap.len;) {
			last = pos;
			pos += 4 + ((size_t)snap.data[pos] | (size_t)snap.data[pos + 1] << 8 |
				    (size_t)snap.data[pos + 2] << 16 | (size_t)snap.data[pos + 3] << 24);
		}
		head = (struct ts_stream_buf){ .data = snap.data, .len = last };
		ts_state_init(&st);
		CHECK(feed_pieces(r, &head, err, sizeof(err)) == 0);
		CHECK(!ts_conn_remote_synced(r));
		CHECK(ts_conn_remote_fill(r, &st, 0) == 0 && !st.filled && st.nrows == 0);
		CHECK(ts_conn_remote_feed(r, snap.data + last, snap.len - last, 0, err, sizeof(err)) == 0);
		CHECK(ts_conn_remote_synced(r));
		CHECK(ts_conn_remote_fill(r, &st, 0) == 0 && st.filled);
		ts_model_tasks(m, &n);
		CHECK(st.nrows == n);
		ts_state_fini(&st);
	}
	check_same(m, r, now, "big snapshot");

	/* encoder reset (no console for a while): the next delta lists everything */
	ts_stream_encoder_reset(&enc);
	delta.len = 0;
	CHECK(ts_stream_encode(&enc, m, &sess, now, &delta, NULL) == 0);
	CHECK(feed_pieces(r, &delta, err, sizeof(err)) == 0);
	check_same(m, r, now, "after reset");

	/* retention evicts the done tasks: the delta removes them */
	now += 2000 * MS;
	ts_model_tick(m, now);
	delta.len = 0;
	CHECK(ts_stream_encode(&enc, m, &sess, now, &delta, NULL) == 0);
	CHECK(feed_pieces(r, &delta, err, sizeof(err)) == 0);
	check_same(m, r, now, "evicted");

	ts_conn_remote_free(r);
	ts_stream_buf_free(&snap);
	ts_stream_buf_free(&delta);
	ts_stream_encoder_fini(&enc);
	ts_model_free(m);
	return check_result("stream");
}
