/*
 * handshake.h: the collector's side of the control socket.
 *
 * A target started by `taskscope run` finds the socket path in
 * TASKSCOPE_SOCKET, connects, and sends one Hello frame with its memfd.
 * The collector answers with HelloAck. `taskscope attach` connects to a
 * shim's own listener instead, and the same exchange follows on that
 * connection: the functions below serve both directions. Malformed frames
 * are rejected with one line in `err`; the listening socket keeps
 * serving other targets.
 */
#ifndef TASKSCOPE_HANDSHAKE_H
#define TASKSCOPE_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "taskscope.pb-c.h"

#define TS_SOCKET_ENV "TASKSCOPE_SOCKET"

/* A shim started without TASKSCOPE_SOCKET listens on this abstract Unix
 * socket name ("@taskscope/<pid>" in /proc/net/unix) for `taskscope
 * attach`; the attacher connects, and the handshake runs the other way
 * round: the shim still sends the Hello, the collector still answers. */
#define TS_ATTACH_ENV "TASKSCOPE_ATTACH"   /* "0": no listener */
#define TS_ATTACH_NAME_FMT "taskscope/%u"

/* Fill in the abstract address of pid's listener (shared by the shim and
 * the collector so both spell it the same way). Returns its length. */
static inline socklen_t ts_handshake_attach_addr(uint32_t pid, struct sockaddr_un *addr)
{
	int n;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	/* sun_path[0] stays '\0': the abstract namespace, no file. */
	n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, TS_ATTACH_NAME_FMT, pid);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* Create a listening Unix stream socket at `path` (unlinked first). */
int ts_handshake_listen(const char *path, int *out_fd);

/* Read the Hello (and its fd) from a new connection, waiting at most
 * timeout_ms. On success *hello must be freed with
 * taskscope__hello__free_unpacked(hello, NULL) and *memfd closed by the
 * caller. */
int ts_handshake_recv_hello(int conn, int timeout_ms, Taskscope__Hello **hello, int *memfd,
			    char *err, size_t errlen);

int ts_handshake_send_ack(int conn, bool accepted, const char *error, bool recording);

struct ts_strpool;
struct ts_shm_source;

/* The whole collector side short of registering the target, for both
 * directions (a target that connected to our socket, or a shim we
 * connected to for attach): read and check the Hello, check that it
 * names `expect_pid` (0: any), and open its rings. On failure the peer
 * has been sent a refusal carrying the same line as `err`, and nothing
 * is left open but conn. On success the caller owns *hello (free with
 * taskscope__hello__free_unpacked) and *src, registers the target and
 * answers with ts_handshake_send_ack(conn, true, NULL, true). */
int ts_handshake_take_target(int conn, int timeout_ms, uint32_t expect_pid, struct ts_strpool *pool,
			     Taskscope__Hello **hello, struct ts_shm_source **src, char *err, size_t errlen);

#endif /* TASKSCOPE_HANDSHAKE_H */
