/*
 * handshake.h: the collector's side of the control socket.
 *
 * A target started by `taskscope run` finds the socket path in
 * TASKSCOPE_SOCKET, connects, and sends one Hello frame with its memfd.
 * The collector answers with HelloAck. Malformed frames are rejected with
 * one line in `err`; the listening socket keeps serving other targets.
 */
#ifndef TASKSCOPE_HANDSHAKE_H
#define TASKSCOPE_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "taskscope.pb-c.h"

#define TS_SOCKET_ENV "TASKSCOPE_SOCKET"

/* Create a listening Unix stream socket at `path` (unlinked first). */
int ts_handshake_listen(const char *path, int *out_fd);

/* Read the Hello (and its fd) from a new connection, waiting at most
 * timeout_ms. On success *hello must be freed with
 * taskscope__hello__free_unpacked(hello, NULL) and *memfd closed by the
 * caller. */
int ts_handshake_recv_hello(int conn, int timeout_ms, Taskscope__Hello **hello, int *memfd,
			    char *err, size_t errlen);

int ts_handshake_send_ack(int conn, bool accepted, const char *error, bool recording);

#endif /* TASKSCOPE_HANDSHAKE_H */
