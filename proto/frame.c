/*
 * frame.c: length-prefixed protobuf frames with an optional passed fd.
 * See frame.h for the format.
 */
#include "proto/frame.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int wait_readable(int sock, uint64_t deadline_ms, int timeout_ms)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	int wait = -1;
	int r;

	if (timeout_ms >= 0) {
		uint64_t now = now_ms();

		wait = now >= deadline_ms ? 0 : (int)(deadline_ms - now);
	}
	do {
		r = poll(&pfd, 1, wait);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	return 0;
}

int ts_frame_send(int sock, const void *buf, size_t len, int pass_fd)
{
	uint8_t hdr[4] = { len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, (len >> 24) & 0xff };
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)buf, len } };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t total = sizeof(hdr) + len;
	size_t sent = 0;

	if (len > TS_FRAME_MAX)
		return -EMSGSIZE;
	if (pass_fd >= 0) {
		struct cmsghdr *cm;

		memset(&ctrl, 0, sizeof(ctrl));
		msg.msg_control = ctrl.buf;
		msg.msg_controllen = sizeof(ctrl.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	}
	while (sent < total) {
		ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		sent += (size_t)n;
		/* The fd went with the first bytes; advance the iovecs. */
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
		while (msg.msg_iovlen > 0 && (size_t)n >= msg.msg_iov[0].iov_len) {
			n -= (ssize_t)msg.msg_iov[0].iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen > 0) {
			msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + n;
			msg.msg_iov[0].iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Read exactly `want` bytes; collect a passed fd if one arrives. */
static int read_exact(int sock, void *buf, size_t want, int *fd_out, uint64_t deadline_ms, int timeout_ms)
{
	size_t got = 0;

	while (got < want) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} ctrl;
		struct iovec iov = { (char *)buf + got, want - got };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = ctrl.buf, .msg_controllen = sizeof(ctrl.buf) };
		ssize_t n;
		int r = wait_readable(sock, deadline_ms, timeout_ms);

		if (r < 0)
			return r;
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < nfds; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				/* Keep the first; a hostile peer's extras are closed. */
				if (fd_out && *fd_out < 0)
					*fd_out = fd;
				else
					close(fd);
			}
		}
		if (n == 0)
			return -ECONNRESET;
		got += (size_t)n;
	}
	return 0;
}

int ts_frame_recv(int sock, void *buf, size_t cap, size_t *len, int *fd_out, int timeout_ms)
{
	uint64_t deadline = timeout_ms >= 0 ? now_ms() + (uint64_t)timeout_ms : 0;
	uint8_t hdr[4];
	uint32_t n;
	int fd = -1;
	int r;

	r = read_exact(sock, hdr, sizeof(hdr), &fd, deadline, timeout_ms);
	if (r < 0)
		goto fail;
	n = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
	if (n > cap || n > TS_FRAME_MAX) {
		r = -EMSGSIZE;
		goto fail;
	}
	r = read_exact(sock, buf, n, &fd, deadline, timeout_ms);
	if (r < 0)
		goto fail;
	*len = n;
	if (fd_out)
		*fd_out = fd;
	else if (fd >= 0)
		close(fd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return r;
}
