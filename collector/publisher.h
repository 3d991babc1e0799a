/*
 * publisher.h: the live collector's console stream server (--serve ADDR).
 *
 * Remote consoles (`taskscope console --connect ADDR`) connect to a Unix
 * socket or a TCP port on the loopback interface. Each gets a snapshot of
 * the model (every task, resource and thread, the latest warnings and the
 * warning counts), then, at every ts_publisher_publish(), an Update with
 * only what changed since the previous publish: tasks, resources and
 * threads whose fields changed, those that are gone, and new warnings.
 * Every byte is protobuf (proto/taskscope.proto, message Update) in
 * length-prefixed frames (proto/frame.h); an Update larger than a frame is
 * split (Update.more).
 *
 * The publisher never blocks the collector: sockets are non-blocking and
 * each console has a bounded output buffer. When a console does not read
 * fast enough, the deltas it cannot take are dropped (the frame being sent
 * is finished, the ones after it are discarded) and it is sent a fresh
 * snapshot instead: a slow console sees fewer updates, never a wrong state.
 * The work per publish is one pass over the model's objects (a fingerprint
 * per object), and nothing at all while no console is connected; with a
 * very large model, publishes are spaced so that they take at most
 * duty_pct of the time (updates then come less often than every tick).
 */
#ifndef TASKSCOPE_PUBLISHER_H
#define TASKSCOPE_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>

struct ts_model;
struct ts_publisher;

#define TS_STREAM_VERSION 1

struct ts_publisher_options {
	const char *addr;          /* a path (contains '/' or ends in .sock), or HOST:PORT / :PORT on loopback */
	size_t max_buffer;         /* per console, unsent bytes before deltas are dropped; default 4 MiB */
	uint32_t max_clients;      /* default 16; more are refused (closed at once) */
	unsigned duty_pct;         /* share of the caller's time publishing may take: after an
				    * encode that took C, publishes are skipped for
				    * C * (100 / duty_pct - 1). Default 10; 100: every call */
};

/* What the console header shows, sent with every update. */
struct ts_publisher_session {
	const char *target;
	const char *mode;
	double events_per_s;
	uint64_t events;
	uint64_t dropped;
	uint64_t unstored;
	const char *db_path;
	uint32_t consoles;         /* filled by the publisher */
};

struct ts_publisher_stats {
	uint32_t clients;          /* connected now */
	uint64_t accepted;         /* ever */
	uint64_t refused;          /* over max_clients */
	uint64_t snapshots;        /* snapshots sent (first ones and resyncs) */
	uint64_t resyncs;          /* deltas dropped for a slow console, replaced by a snapshot */
	uint64_t updates;          /* delta updates queued */
	uint64_t bytes;            /* queued to consoles */
};

/* Listen on o->addr. A Unix socket path is created (an existing socket
 * file with nobody listening is replaced; any other file is refused) and
 * removed by ts_publisher_free(). TCP binds only to a loopback address.
 * Fails with -errno and one line in `err`. */
int ts_publisher_new(const struct ts_publisher_options *o, struct ts_publisher **out, char *err, size_t errlen);
void ts_publisher_free(struct ts_publisher *p);

/* An fd (epoll) that is readable when a console connects, hangs up or can
 * take more bytes: poll it and call ts_publisher_handle_io(). */
int ts_publisher_fd(const struct ts_publisher *p);
void ts_publisher_handle_io(struct ts_publisher *p);

/* Send every console what changed in `m` since the last publish (a
 * snapshot to new and resyncing consoles). Call it at each model tick. */
void ts_publisher_publish(struct ts_publisher *p, const struct ts_model *m,
			  const struct ts_publisher_session *sess, uint64_t now_ns);

void ts_publisher_get_stats(const struct ts_publisher *p, struct ts_publisher_stats *out);
/* The address as given (for the console header). */
const char *ts_publisher_address(const struct ts_publisher *p);

/* Parse ADDR as the publisher and the remote console do: 1 for a Unix
 * path, 0 for TCP (host and port filled), -EINVAL otherwise. Exposed for
 * the client and the tests. */
int ts_stream_addr_parse(const char *addr, char *host, size_t hostlen, uint16_t *port);

#endif /* TASKSCOPE_PUBLISHER_H */
