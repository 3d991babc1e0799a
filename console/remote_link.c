/*
 * remote_link.c: the remote console's socket (conn_remote.h): connect to
 * a collector's --serve address, read what it sends into the conn, and
 * after a hang-up reconnect with backoff (100 ms doubling to 5 s), each
 * new connection starting from a fresh snapshot.
 *
 * The first connection is made before the terminal is taken over, so
 * "nothing listens there" is one plain line on stderr.
 */
#include "console/conn_remote.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "collector/publisher.h"
#include "collector/publisher_internal.h"
#include "taskscope.pb-c.h"

#define BACKOFF_MIN_NS 100000000ull
#define BACKOFF_MAX_NS 5000000000ull
#define READ_CHUNK 65536
#define READS_PER_CALL 64                 /* then let the loop draw and read keys */

struct ts_remote_link {
	char addr[256];
	int fd;
	uint64_t backoff_ns;
	uint64_t retry_at;
	uint8_t *buf;
	/* the ConsoleRequest: what was asked on this connection, and the
	 * bytes of it not written yet */
	bool asked;
	uint32_t asked_pid;
	uint64_t asked_task;
	uint8_t out[4 + TS_STREAM_REQUEST_MAX];
	size_t outlen, outsent;
};

/* A non-blocking connect, waited for at most timeout_ms. */
static int dial(const char *addr, int timeout_ms, int *out, char *err, size_t errlen)
{
	char host[256];
	uint16_t port = 0;
	struct sockaddr_storage ss;
	socklen_t sl;
	int kind = ts_stream_addr_parse(addr, host, sizeof(host), &port);
	int fd = -1, r, soerr = 0;
	socklen_t elen = sizeof(soerr);
	struct pollfd pfd;

	*out = -1;
	if (kind < 0) {
		snprintf(err, errlen, "--connect takes a Unix socket path or HOST:PORT, not '%s'", addr);
		return -EINVAL;
	}
	memset(&ss, 0, sizeof(ss));
	if (kind == 1) {
		struct sockaddr_un *sa = (struct sockaddr_un *)&ss;

		sa->sun_family = AF_UNIX;
		snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", addr);
		sl = sizeof(*sa);
	} else {
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
					  .ai_flags = AI_NUMERICSERV };
		struct addrinfo *res = NULL;
		char ports[8];

		snprintf(ports, sizeof(ports), "%u", port);
		r = getaddrinfo(host, ports, &hints, &res);
		if (r != 0) {
			snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(r));
			return -EINVAL;
		}
		memcpy(&ss, res->ai_addr, res->ai_addrlen);
		sl = res->ai_addrlen;
		freeaddrinfo(res);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot connect to %s: %s", addr, strerror(-r));
		return r;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			r = -errno;
			goto fail;
		}
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		do {
			r = poll(&pfd, 1, timeout_ms);
		} while (r < 0 && errno == EINTR);
		if (r == 0) {
			r = -ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0 || soerr) {
			r = -(soerr ? soerr : errno);
			goto fail;
		}
	}
	*out = fd;
	return 0;
fail:
	snprintf(err, errlen, "cannot connect to %s: %s; is a collector serving it "
		 "(taskscope demo/run/attach --serve %s)?", addr, strerror(-r), addr);
	close(fd);
	return r;
}

int ts_remote_link_new(const char *addr, int timeout_ms, struct ts_remote_link **out, char *err, size_t errlen)
{
	struct ts_remote_link *l;
	int r;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->buf = malloc(READ_CHUNK);
	if (!l->buf) {
		free(l);
		return -ENOMEM;
	}
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	l->backoff_ns = BACKOFF_MIN_NS;
	r = dial(addr, timeout_ms, &l->fd, err, errlen);
	if (r < 0) {
		ts_remote_link_free(l);
		return r;
	}
	*out = l;
	return 0;
}

void ts_remote_link_free(struct ts_remote_link *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l->buf);
	free(l);
}

int ts_remote_link_fd(const struct ts_remote_link *l)
{
	return l->fd;
}

bool ts_remote_link_connected(const struct ts_remote_link *l)
{
	return l->fd >= 0;
}

static void hang_up(struct ts_remote_link *l, uint64_t now_ns)
{
	close(l->fd);
	l->fd = -1;
	l->retry_at = now_ns + l->backoff_ns;
	l->asked = false;
	l->outlen = l->outsent = 0;
}

/* Write what is left of the request; false when the collector is gone. */
static bool flush_request(struct ts_remote_link *l)
{
	while (l->outsent < l->outlen) {
		ssize_t n = send(l->fd, l->out + l->outsent, l->outlen - l->outsent, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		l->outsent += (size_t)n;
	}
	l->outlen = l->outsent = 0;
	return true;
}

int ts_remote_link_focus(struct ts_remote_link *l, uint32_t pid, uint64_t task_id, uint64_t now_ns)
{
	Taskscope__ConsoleRequest q = TASKSCOPE__CONSOLE_REQUEST__INIT;
	size_t len;

	if (l->fd < 0)
		return 0;
	if (!flush_request(l)) {
		hang_up(l, now_ns);
		return -ECONNRESET;
	}
	if (l->outlen || (l->asked && l->asked_pid == pid && l->asked_task == task_id))
		return 0;               /* still writing, or already asked */
	q.detail_pid = pid;
	q.detail_task = task_id;
	len = taskscope__console_request__pack(&q, l->out + 4);
	l->out[0] = (uint8_t)len;
	l->out[1] = l->out[2] = l->out[3] = 0;
	l->outlen = len + 4;
	l->outsent = 0;
	l->asked = true;
	l->asked_pid = pid;
	l->asked_task = task_id;
	if (!flush_request(l)) {
		hang_up(l, now_ns);
		return -ECONNRESET;
	}
	return 0;
}

int ts_remote_link_read(struct ts_remote_link *l, struct ts_conn_remote *r, uint64_t now_ns, char *err,
			size_t errlen)
{
	if (l->fd < 0)
		return 0;
	for (int i = 0; i < READS_PER_CALL; i++) {
		ssize_t n = recv(l->fd, l->buf, READ_CHUNK, MSG_DONTWAIT);
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			hang_up(l, now_ns);
			return -ECONNRESET;
		}
		rc = ts_conn_remote_feed(r, l->buf, (size_t)n, now_ns, err, errlen);
		if (rc < 0) {
			close(l->fd);
			l->fd = -1;
			return rc;
		}
		/* a good snapshot: the next hang-up starts the backoff again */
		if (ts_conn_remote_synced(r))
			l->backoff_ns = BACKOFF_MIN_NS;
	}
	return 0;
}

bool ts_remote_link_retry(struct ts_remote_link *l, struct ts_conn_remote *r, uint64_t now_ns)
{
	char err[512];

	if (l->fd >= 0)
		return true;
	if (now_ns < l->retry_at)
		return false;
	if (dial(l->addr, 200, &l->fd, err, sizeof(err)) < 0) {
		l->backoff_ns = l->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : l->backoff_ns * 2;
		l->retry_at = now_ns + l->backoff_ns;
		return false;
	}
	ts_conn_remote_reset_stream(r);
	l->asked = false;
	l->outlen = l->outsent = 0;
	return true;
}

int ts_remote_link_wait_ms(const struct ts_remote_link *l, uint64_t now_ns)
{
	if (l->fd >= 0)
		return -1;
	return now_ns >= l->retry_at ? 0 : (int)((l->retry_at - now_ns) / 1000000u) + 1;
}
