/*
 * frame.h: length-prefixed protobuf frames on a Unix stream socket.
 *
 * A frame is a 4-byte little-endian length followed by that many bytes of
 * one serialized protobuf message. A file descriptor may ride along with
 * a frame (SCM_RIGHTS). Both the shim and the collector use this; the
 * receiver treats the length and the bytes as untrusted.
 */
#ifndef TASKSCOPE_FRAME_H
#define TASKSCOPE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define TS_FRAME_MAX (64u * 1024u)

/* Send one frame; pass_fd >= 0 is sent with it. Returns 0 or -errno. */
int ts_frame_send(int sock, const void *buf, size_t len, int pass_fd);

/* Receive one frame into buf (cap bytes), waiting at most timeout_ms
 * (-1: forever). *len gets its length; *fd_out (may be NULL) a passed fd
 * or -1. Returns 0, -ETIMEDOUT, -ECONNRESET on EOF, -EMSGSIZE when the
 * frame is larger than cap or TS_FRAME_MAX, or another -errno. */
int ts_frame_recv(int sock, void *buf, size_t cap, size_t *len, int *fd_out, int timeout_ms);

#endif /* TASKSCOPE_FRAME_H */
