/*
 * conn_remote.h: the remote conn: a live collector's Update stream
 * (collector/publisher.h) mirrored into the console state.
 *
 * ts_conn_remote_feed() takes the bytes as they come off the socket, in
 * any pieces; it cuts them into frames and decodes and applies each frame
 * as it comes (one decoded frame in memory at a time); the state is filled
 * only between whole updates (Update.more), never from half a snapshot.
 * Everything is untrusted: a frame longer than TS_FRAME_MAX, a message
 * protobuf-c cannot decode, or a first update that is not a snapshot of a
 * known stream version is an error with one line saying so. Memory is
 * bounded: at most TS_REMOTE_MAX_OBJECTS tasks and resources and
 * TS_REMOTE_MAX_THREADS threads, strings in a bounded pool, the latest
 * TS_STATE_WARNINGS warnings.
 *
 * remote_link.c (ts_remote_link_*) owns the socket: connecting to a Unix
 * path or a loopback TCP port, reconnecting with backoff, and the one
 * message a console sends (ConsoleRequest: the task whose details it
 * shows, whose histograms and recent polls then follow each update).
 */
#ifndef TASKSCOPE_CONSOLE_CONN_REMOTE_H
#define TASKSCOPE_CONSOLE_CONN_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "console/state.h"

#define TS_REMOTE_MAX_OBJECTS 2000000u
#define TS_REMOTE_MAX_THREADS 65536u

struct ts_conn_remote;

/* A mirrored task: the model's task fields the stream carries (a compact
 * copy: struct ts_task also holds two histograms the stream does not). */
struct ts_remote_task {
	uint32_t pid;
	uint32_t kind;              /* enum ts_task_kind */
	uint32_t state;             /* enum ts_task_state */
	uint32_t outcome;           /* enum ts_outcome */
	uint64_t id;
	uint64_t parent;
	const char *name;           /* never NULL; interned by the conn */
	const char *location;
	uint64_t spawned_ns, dropped_ns, state_since_ns, last_wake_ns;
	uint64_t polls, busy_ns, sched_ns, idle_ns;   /* closed intervals */
	uint64_t wakes, self_wakes, waker_clones, waker_drops;
	int64_t wakers;
	uint64_t max_poll_ns;
	uint32_t poll_tid;
	uint32_t warnings;          /* bit (1u << kind) per warning kind */
};

/* Its times at `now` (as ts_task_times() computes them for the model). */
void ts_remote_task_times(const struct ts_remote_task *t, uint64_t now_ns, uint64_t *total, uint64_t *busy,
			  uint64_t *sched, uint64_t *idle);

int ts_conn_remote_new(struct ts_conn_remote **out);
void ts_conn_remote_free(struct ts_conn_remote *r);

/* A new connection: forget any partial frame or update (what is shown is
 * kept until the new snapshot replaces it). */
void ts_conn_remote_reset_stream(struct ts_conn_remote *r);

/* Take `len` bytes received at local time `local_ns` (CLOCK_MONOTONIC).
 * Returns 0, or -EBADMSG / -EMSGSIZE / -EPROTO / -ENOMEM with one line in
 * `err`; after an error the stream is unusable until a reset. */
int ts_conn_remote_feed(struct ts_conn_remote *r, const void *buf, size_t len, uint64_t local_ns,
			char *err, size_t errlen);

/* A snapshot has been applied since the last reset. */
bool ts_conn_remote_synced(const struct ts_conn_remote *r);
/* Updates applied (snapshots included) since creation. */
uint64_t ts_conn_remote_updates(const struct ts_conn_remote *r);

/* Mirrored tasks (state per the stream's model fields), for tests. */
size_t ts_conn_remote_task_count(const struct ts_conn_remote *r);
const struct ts_remote_task *ts_conn_remote_task_at(const struct ts_conn_remote *r, size_t i);
const struct ts_remote_task *ts_conn_remote_find_task(const struct ts_conn_remote *r, uint32_t pid, uint64_t id);
size_t ts_conn_remote_resource_count(const struct ts_conn_remote *r);
size_t ts_conn_remote_worker_count(const struct ts_conn_remote *r);
const uint64_t *ts_conn_remote_warning_counts(const struct ts_conn_remote *r);

/* Fill `s` at local time `local_ns` (the collector's time is estimated
 * from the last update). Does nothing while s->paused (once filled). */
int ts_conn_remote_fill(struct ts_conn_remote *r, struct ts_state *s, uint64_t local_ns);

/* The collector's header fields from the last update. */
struct ts_remote_session {
	char target[256];
	char mode[64];
	char db_path[512];
	double events_per_s;
	uint64_t events, dropped, unstored;
	uint32_t consoles;
};
const struct ts_remote_session *ts_conn_remote_session(const struct ts_conn_remote *r);

/* ---- remote_link.c: the socket ---- */

struct ts_remote_link;

/* Connect to ADDR (a Unix socket path, or HOST:PORT on loopback) once,
 * waiting at most timeout_ms. -errno and one line in `err`. */
int ts_remote_link_new(const char *addr, int timeout_ms, struct ts_remote_link **out, char *err, size_t errlen);
void ts_remote_link_free(struct ts_remote_link *l);
/* The socket to poll for input, or -1 while disconnected. */
int ts_remote_link_fd(const struct ts_remote_link *l);
/* Read what is there into r. Returns 0 (maybe nothing), -ECONNRESET when
 * the collector went away (the link then retries with backoff), or the
 * feed's error (a broken stream: give up, with the line in `err`). */
int ts_remote_link_read(struct ts_remote_link *l, struct ts_conn_remote *r, uint64_t now_ns, char *err,
			size_t errlen);
/* While disconnected: try again when the backoff has passed (100 ms,
 * doubling up to 5 s). Returns true when connected (again). */
bool ts_remote_link_retry(struct ts_remote_link *l, struct ts_conn_remote *r, uint64_t now_ns);
/* Ask the collector for the details (histograms, recent polls) of task
 * (pid, task_id), or of none (task_id 0): they then follow each update.
 * Sends only when the wish changed or after a reconnect; call it every
 * pass. 0, or -ECONNRESET (then retried like a hang-up). */
int ts_remote_link_focus(struct ts_remote_link *l, uint32_t pid, uint64_t task_id, uint64_t now_ns);
/* ms until the next retry (for poll), -1 when connected. */
int ts_remote_link_wait_ms(const struct ts_remote_link *l, uint64_t now_ns);
bool ts_remote_link_connected(const struct ts_remote_link *l);

#endif /* TASKSCOPE_CONSOLE_CONN_REMOTE_H */
