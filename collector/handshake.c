/*
 * handshake.c: the collector's side of the control socket.
 *
 * A target connects to the Unix socket named by TASKSCOPE_SOCKET (or we
 * connect to a shim's attach listener, collector/attach_shim.c) and it
 * sends one Hello frame (proto/frame.h) with its memfd attached; we answer
 * with a HelloAck. Everything after the connect is the same code for both
 * directions (ts_handshake_take_target). The peer is untrusted: a frame that is too large, cut
 * short, not a protobuf message, without its fd, of another protocol
 * version, or with absurd sizes is refused with one line in `err` and
 * costs only that connection: the listening socket is untouched.
 *
 * The socket is created 0600, so only the collector's user (and root) can
 * register a target with it.
 */
#include "collector/handshake.h"
#include "collector/errline.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/ring_format.h"
#include "collector/source_shm.h"
#include "proto/frame.h"

#define TS_PROTOCOL_VERSION 1u
#define LISTEN_BACKLOG 16


int ts_handshake_listen(const char *path, int *out_fd)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_mask;
	int fd = -1;
	int r;

	if (!path || !out_fd || !path[0])
		return -EINVAL;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);

	/* A stale socket from an earlier run is removed; anything else at
	 * that path is not ours to delete. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Create the socket file 0600 from the start, so there is no window
	 * in which another user could connect. */
	old_mask = umask(0177);
	r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	if (r < 0)
		r = -errno;
	umask(old_mask);
	if (r < 0)
		goto cleanup;
	if (chmod(path, 0600) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		r = -errno;
		unlink(path);
		goto cleanup;
	}
	*out_fd = fd;
	return 0;

cleanup:
	close(fd);
	return r;
}

/* The peer's pid from the kernel, for error messages before the Hello
 * (which carries a pid of its own) can be trusted to exist. */
static int peer_pid(int conn)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred) || cred.pid <= 0)
		return -1;
	return cred.pid;
}

static void describe_pid(int conn, char *buf, size_t len)
{
	int pid = peer_pid(conn);

	if (pid > 0)
		snprintf(buf, len, "%d", pid);
	else
		snprintf(buf, len, "?");
}

/* Sizes and strings no libtaskscope would send. */
static int check_hello(const Taskscope__Hello *h, const char *who, char *err, size_t errlen)
{
	/* Nothing else in a Hello of another version means anything yet,
	 * so name the peer by the kernel's pid. */
	if (h->protocol_version != TS_PROTOCOL_VERSION) {
		ts_errf(err, errlen, "pid %s speaks control protocol version %u, this collector speaks %u; "
			"use matching taskscope and libtaskscope versions",
			who, h->protocol_version, TS_PROTOCOL_VERSION);
		return -EPROTO;
	}
	if (h->pid == 0 || h->pid > INT_MAX) {
		ts_errf(err, errlen, "Hello names pid %u, which cannot be a process; "
			"is the target linked with a matching libtaskscope?", h->pid);
		return -EPROTO;
	}
	if ((h->exe && strlen(h->exe) >= PATH_MAX) || (h->runtime && strlen(h->runtime) > TS_STRING_MAX)) {
		ts_errf(err, errlen, "target %u: Hello carries an executable path or runtime name that is too long; "
			"is the target linked with a matching libtaskscope?", h->pid);
		return -EPROTO;
	}
	return ts_shm_source_check_hello(h, err, errlen);
}

int ts_handshake_recv_hello(int conn, int timeout_ms, Taskscope__Hello **hello, int *memfd,
			    char *err, size_t errlen)
{
	Taskscope__Hello *h = NULL;
	char who[16];
	uint8_t *buf;
	size_t len = 0;
	int fd = -1;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (conn < 0 || !hello || !memfd) {
		ts_errf(err, errlen, "internal error: bad arguments to ts_handshake_recv_hello");
		return -EINVAL;
	}
	*hello = NULL;
	*memfd = -1;
	buf = malloc(TS_FRAME_MAX);
	if (!buf) {
		ts_errf(err, errlen, "out of memory reading a Hello");
		return -ENOMEM;
	}
	describe_pid(conn, who, sizeof(who));

	r = ts_frame_recv(conn, buf, TS_FRAME_MAX, &len, &fd, timeout_ms);
	if (r == -ETIMEDOUT) {
		ts_errf(err, errlen, "no Hello from pid %s within %d ms; is the target linked with a matching libtaskscope?",
			who, timeout_ms);
		goto cleanup;
	} else if (r == -ECONNRESET) {
		ts_errf(err, errlen, "pid %s closed the control connection before sending a whole Hello; "
			"did the target exit or crash?", who);
		goto cleanup;
	} else if (r == -EMSGSIZE) {
		ts_errf(err, errlen, "Hello frame from pid %s is larger than %u bytes: not a taskscope target "
			"or a mismatched libtaskscope", who, TS_FRAME_MAX);
		goto cleanup;
	} else if (r < 0) {
		ts_errf(err, errlen, "cannot read a Hello from pid %s: %s", who, strerror(-r));
		goto cleanup;
	}

	h = taskscope__hello__unpack(NULL, len, buf);
	if (!h) {
		r = -EBADMSG;
		ts_errf(err, errlen, "malformed Hello from pid %s: not a protobuf message; "
			"is the target linked with a matching libtaskscope?", who);
		goto cleanup;
	}
	r = check_hello(h, who, err, errlen);
	if (r < 0)
		goto cleanup;
	if (fd < 0) {
		r = -EBADMSG;
		ts_errf(err, errlen, "target %u: Hello came without its shared-memory fd; "
			"is the target linked with a matching libtaskscope?", h->pid);
		goto cleanup;
	}
	*hello = h;
	*memfd = fd;
	free(buf);
	return 0;

cleanup:
	if (h)
		taskscope__hello__free_unpacked(h, NULL);
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

int ts_handshake_send_ack(int conn, bool accepted, const char *error, bool recording)
{
	Taskscope__HelloAck ack = TASKSCOPE__HELLO_ACK__INIT;
	uint8_t *buf;
	size_t len;
	int r;

	ack.accepted = accepted;
	ack.recording = recording;
	ack.error = (char *)(error ? error : "");
	len = taskscope__hello_ack__get_packed_size(&ack);
	if (len > TS_FRAME_MAX)
		return -EMSGSIZE;
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	taskscope__hello_ack__pack(&ack, buf);
	r = ts_frame_send(conn, buf, len, -1);
	free(buf);
	return r;
}

int ts_handshake_take_target(int conn, int timeout_ms, uint32_t expect_pid, struct ts_strpool *pool,
			     Taskscope__Hello **hello, struct ts_shm_source **src, char *err, size_t errlen)
{
	Taskscope__Hello *h = NULL;
	int memfd = -1;
	int r;

	*hello = NULL;
	*src = NULL;
	r = ts_handshake_recv_hello(conn, timeout_ms, &h, &memfd, err, errlen);
	if (r < 0)
		goto refuse;
	if (expect_pid && h->pid != expect_pid) {
		r = -EPROTO;
		ts_errf(err, errlen, "the shim of pid %u sent a Hello naming pid %u; refusing it", expect_pid, h->pid);
		goto refuse;
	}
	r = ts_shm_source_open(memfd, h, pool, src, err, errlen);
	if (r < 0)
		goto refuse;
	*hello = h;
	return 0;

refuse:
	(void)ts_handshake_send_ack(conn, false, err, false);
	if (memfd >= 0)
		close(memfd);
	if (h)
		taskscope__hello__free_unpacked(h, NULL);
	return r;
}
