/*
 * publisher.c: the console stream server's sockets and per-console
 * buffers (publisher.h); the encoding is in publisher_encode.c.
 *
 * Each console has one output buffer holding whole frames, the first of
 * them the one being sent (sent frames are dropped from the front). Sending is
 * non-blocking: what the socket does not take stays queued and EPOLLOUT
 * wakes us to continue. A publish appends the delta to every console in
 * step; one whose queue would pass max_buffer loses everything queued
 * after the frame it is in the middle of, and gets a snapshot instead
 * (so it never sees a delta that does not follow what it has). Consoles
 * send nothing; anything they do send is read and ignored, and their
 * hang-up frees them.
 */
#include "collector/publisher.h"
#include "collector/publisher_internal.h"
#include "taskscope.pb-c.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_BUFFER (4u << 20)
#define DEFAULT_MAX_CLIENTS 16u
#define LISTEN_TAG UINT64_MAX
#define DEFAULT_DUTY_PCT 10
#define COMPACT_BYTES (256u << 10)     /* sent bytes kept before compacting */

struct client {
	int fd;
	bool needs_snapshot;
	struct ts_stream_buf out;
	size_t sent;                /* bytes of out already written */
	uint8_t in[4 + TS_STREAM_REQUEST_MAX]; /* a ConsoleRequest being read */
	size_t inlen;
	uint32_t focus_pid;         /* the task whose details it shows; 0: none */
	uint64_t focus_task;
};

struct ts_publisher {
	int listen_fd;
	int epfd;
	char addr[256];
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t max_buffer;
	uint32_t max_clients;
	unsigned duty_pct;
	struct client *clients;
	size_t nclients, cap_clients;
	struct ts_stream_encoder enc;
	struct ts_stream_buf delta, snap, detail;
	struct ts_publisher_stats stats;
	uint64_t next_publish_ns;   /* CLOCK_MONOTONIC; 0: at the next call */
};

int ts_stream_addr_parse(const char *addr, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon;
	char *end;
	unsigned long p;

	if (!addr || !*addr)
		return -EINVAL;
	colon = strrchr(addr, ':');
	if (strchr(addr, '/') || !colon)
		return strlen(addr) < sizeof(((struct sockaddr_un *)0)->sun_path) ? 1 : -EINVAL;
	if (!colon[1] || !isdigit((unsigned char)colon[1]))
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || p == 0 || p > 65535)
		return -EINVAL;
	if ((size_t)(colon - addr) >= hostlen)
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	/* [::1]:port */
	if (host[0] == '[') {
		size_t n = strlen(host);

		if (n < 2 || host[n - 1] != ']')
			return -EINVAL;
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	if (!host[0])
		snprintf(host, hostlen, "127.0.0.1");
	*port = (uint16_t)p;
	return 0;
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return false;
}

static int listen_tcp(struct ts_publisher *p, const char *host, uint16_t port, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *res = NULL;
	char ports[8];
	int one = 1, r, fd = -1;

	snprintf(ports, sizeof(ports), "%u", port);
	r = getaddrinfo(host, ports, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "--serve %s: cannot resolve '%s': %s", p->addr, host, gai_strerror(r));
		return -EINVAL;
	}
	if (!is_loopback(res->ai_addr)) {
		snprintf(err, errlen, "--serve %s: the console stream has no authentication, so it is served "
			 "only on loopback (127.0.0.1:PORT, [::1]:PORT, localhost:PORT) or a Unix socket", p->addr);
		r = -EACCES;
		goto cleanup;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "--serve %s: socket: %s", p->addr, strerror(-r));
		goto cleanup;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		r = -errno;
		snprintf(err, errlen, "--serve %s: cannot listen: %s", p->addr, strerror(-r));
		close(fd);
		goto cleanup;
	}
	p->listen_fd = fd;
	r = 0;
cleanup:
	freeaddrinfo(res);
	return r;
}

/* A stale socket file (its collector died) is replaced; a live one, or
 * any other kind of file, is not touched. */
static int listen_unix(struct ts_publisher *p, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "--serve %s: the file exists and is not a socket; choose another path", path);
			return -EEXIST;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			snprintf(err, errlen, "--serve %s: another collector is serving this socket", path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "--serve %s: socket: %s", path, strerror(-r));
		return r;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		snprintf(err, errlen, "--serve %s: cannot create the socket: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	/* the stream shows what the target does: only its user may read it */
	chmod(path, 0600);
	snprintf(p->unix_path, sizeof(p->unix_path), "%s", path);
	if (listen(fd, 16) < 0) {
		r = -errno;
		snprintf(err, errlen, "--serve %s: cannot listen: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	p->listen_fd = fd;
	return 0;
}

int ts_publisher_new(const struct ts_publisher_options *o, struct ts_publisher **out, char *err, size_t errlen)
{
	struct ts_publisher *p;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTEN_TAG };
	char host[256];
	uint16_t port = 0;
	int kind, r;

	*out = NULL;
	kind = ts_stream_addr_parse(o->addr, host, sizeof(host), &port);
	if (kind < 0) {
		snprintf(err, errlen, "--serve takes a Unix socket path or HOST:PORT on loopback, not '%s'",
			 o->addr ? o->addr : "");
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->listen_fd = -1;
	p->epfd = -1;
	snprintf(p->addr, sizeof(p->addr), "%s", o->addr);
	p->max_buffer = o->max_buffer ? o->max_buffer : DEFAULT_MAX_BUFFER;
	p->max_clients = o->max_clients ? o->max_clients : DEFAULT_MAX_CLIENTS;
	p->duty_pct = o->duty_pct && o->duty_pct <= 100 ? o->duty_pct : DEFAULT_DUTY_PCT;
	ts_stream_encoder_init(&p->enc);
	r = kind == 1 ? listen_unix(p, o->addr, err, errlen) : listen_tcp(p, host, port, err, errlen);
	if (r < 0)
		goto fail;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->listen_fd, &ev) < 0) {
		r = -errno;
		snprintf(err, errlen, "--serve %s: epoll: %s", o->addr, strerror(-r));
		goto fail;
	}
	*out = p;
	return 0;
fail:
	ts_publisher_free(p);
	return r;
}

static void client_close(struct ts_publisher *p, size_t i)
{
	struct client *c = &p->clients[i];

	epoll_ctl(p->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	ts_stream_buf_free(&c->out);
	p->clients[i] = p->clients[--p->nclients];
	/* the moved client's epoll tag is its fd, not its index: nothing to fix */
}

void ts_publisher_free(struct ts_publisher *p)
{
	if (!p)
		return;
	while (p->nclients)
		client_close(p, p->nclients - 1);
	free(p->clients);
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->unix_path[0])
		unlink(p->unix_path);
	ts_stream_encoder_fini(&p->enc);
	ts_stream_buf_free(&p->delta);
	ts_stream_buf_free(&p->snap);
	ts_stream_buf_free(&p->detail);
	free(p);
}

int ts_publisher_fd(const struct ts_publisher *p)
{
	return p->epfd;
}

const char *ts_publisher_address(const struct ts_publisher *p)
{
	return p->addr;
}

void ts_publisher_get_stats(const struct ts_publisher *p, struct ts_publisher_stats *out)
{
	*out = p->stats;
	out->clients = (uint32_t)p->nclients;
}

static struct client *find_client(struct ts_publisher *p, int fd, size_t *idx)
{
	for (size_t i = 0; i < p->nclients; i++) {
		if (p->clients[i].fd == fd) {
			*idx = i;
			return &p->clients[i];
		}
	}
	return NULL;
}

static void want_write(struct ts_publisher *p, struct client *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0), .data.u64 = (uint64_t)c->fd };

	epoll_ctl(p->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Forget the frames already sent whole, so the buffer starts at the frame
 * being sent (a console that is always a little behind would otherwise
 * keep its whole history). */
static void compact(struct client *c)
{
	size_t pos = 0;

	while (pos + 4 <= c->out.len) {
		size_t len = (size_t)c->out.data[pos] | (size_t)c->out.data[pos + 1] << 8 |
			     (size_t)c->out.data[pos + 2] << 16 | (size_t)c->out.data[pos + 3] << 24;

		if (pos + 4 + len > c->sent)
			break;
		pos += 4 + len;
	}
	if (!pos)
		return;
	memmove(c->out.data, c->out.data + pos, c->out.len - pos);
	c->out.len -= pos;
	c->sent -= pos;
}

/* Write what the socket takes. Returns -errno when the console is gone. */
static int client_flush(struct ts_publisher *p, struct client *c)
{
	while (c->sent < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->sent, c->out.len - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		c->sent += (size_t)n;
	}
	if (c->sent == c->out.len) {
		c->out.len = 0;
		c->sent = 0;
	} else if (c->sent >= COMPACT_BYTES) {
		compact(c);
	}
	want_write(p, c, c->out.len > 0);
	return 0;
}

static void accept_all(struct ts_publisher *p)
{
	for (;;) {
		int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
		struct client *c;

		if (fd < 0)
			return;
		if (p->nclients >= p->max_clients) {
			p->stats.refused++;
			close(fd);
			continue;
		}
		if (p->nclients == p->cap_clients) {
			size_t cap = p->cap_clients ? p->cap_clients * 2 : 4;
			struct client *cs = realloc(p->clients, cap * sizeof(*cs));

			if (!cs) {
				close(fd);
				continue;
			}
			p->clients = cs;
			p->cap_clients = cap;
		}
		ev.data.u64 = (uint64_t)fd;
		if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		c = &p->clients[p->nclients++];
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->needs_snapshot = true;
		p->stats.accepted++;
	}
}

/* Read what a console sent: ConsoleRequest frames. Returns false when it
 * must go (hung up, or sent something that is not a small request). */
static bool client_read(struct client *c)
{
	for (;;) {
		ssize_t got = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
		size_t pos = 0;

		if (got < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		if (got == 0)
			return false;
		c->inlen += (size_t)got;
		while (c->inlen - pos >= 4) {
			const uint8_t *h = c->in + pos;
			size_t n = (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16 | (size_t)h[3] << 24;
			Taskscope__ConsoleRequest *q;

			if (n > TS_STREAM_REQUEST_MAX)
				return false;
			if (c->inlen - pos - 4 < n)
				break;
			q = taskscope__console_request__unpack(NULL, n, h + 4);
			if (!q)
				return false;
			c->focus_pid = q->detail_task ? q->detail_pid : 0;
			c->focus_task = q->detail_task;
			taskscope__console_request__free_unpacked(q, NULL);
			pos += 4 + n;
		}
		memmove(c->in, c->in + pos, c->inlen - pos);
		c->inlen -= pos;
	}
}

void ts_publisher_handle_io(struct ts_publisher *p)
{
	struct epoll_event evs[32];
	int n;

	while ((n = epoll_wait(p->epfd, evs, 32, 0)) > 0) {
		for (int i = 0; i < n; i++) {
			struct client *c;
			size_t idx;
			bool gone = false;

			if (evs[i].data.u64 == LISTEN_TAG) {
				accept_all(p);
				continue;
			}
			c = find_client(p, (int)evs[i].data.u64, &idx);
			if (!c)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				gone = !client_read(c) || (evs[i].events & (EPOLLHUP | EPOLLERR));
			if (!gone && (evs[i].events & EPOLLOUT))
				gone = client_flush(p, c) < 0;
			if (gone)
				client_close(p, idx);
		}
		if (n < 32)
			break;
	}
}

/* Keep only the frame being written (its tail must still go out). */
static void drop_queued(struct client *c)
{
	size_t len;

	if (c->sent == 0) {
		c->out.len = 0;
		return;
	}
	/* frames start at 0; find the one holding byte `sent` */
	for (size_t pos = 0; pos + 4 <= c->out.len;) {
		len = (size_t)c->out.data[pos] | (size_t)c->out.data[pos + 1] << 8 |
		      (size_t)c->out.data[pos + 2] << 16 | (size_t)c->out.data[pos + 3] << 24;
		if (c->sent < pos + 4 + len) {
			c->out.len = pos + 4 + len;
			return;
		}
		pos += 4 + len;
	}
}

static int append(struct client *c, const struct ts_stream_buf *b)
{
	uint8_t *d;
	size_t cap;

	if (c->out.len + b->len > c->out.cap) {
		cap = c->out.cap ? c->out.cap : 4096;
		while (cap < c->out.len + b->len)
			cap *= 2;
		d = realloc(c->out.data, cap);
		if (!d)
			return -ENOMEM;
		c->out.data = d;
		c->out.cap = cap;
	}
	memcpy(c->out.data + c->out.len, b->data, b->len);
	c->out.len += b->len;
	return 0;
}

void ts_publisher_publish(struct ts_publisher *p, const struct ts_model *m,
			  const struct ts_publisher_session *sess, uint64_t now_ns)
{
	struct ts_publisher_session s = sess ? *sess : (struct ts_publisher_session){ 0 };
	bool any_synced = false, any_snapshot = false;

	struct timespec t0, t1;
	uint64_t cost;

	if (!p->nclients) {
		/* nobody watching: no work; the next console starts from a snapshot */
		ts_stream_encoder_reset(&p->enc);
		p->next_publish_ns = 0;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((uint64_t)t0.tv_sec * 1000000000ull + (uint64_t)t0.tv_nsec < p->next_publish_ns)
		return;                 /* the last encode was expensive: keep to the duty cycle */
	/* who needs what: a console that cannot take this delta resyncs */
	for (size_t i = 0; i < p->nclients; i++) {
		struct client *c = &p->clients[i];
		size_t queued = c->out.len - c->sent;

		if (!c->needs_snapshot && queued > p->max_buffer) {
			drop_queued(c);
			c->needs_snapshot = true;
			p->stats.resyncs++;
		}
		if (c->needs_snapshot && c->out.len - c->sent <= p->max_buffer)
			any_snapshot = true;
		else if (!c->needs_snapshot)
			any_synced = true;
	}
	s.consoles = (uint32_t)p->nclients;
	p->delta.len = 0;
	p->snap.len = 0;
	if (ts_stream_encode(&p->enc, m, &s, now_ns, any_synced ? &p->delta : NULL,
			     any_snapshot ? &p->snap : NULL) < 0) {
		/* out of memory: every console starts over from a snapshot */
		for (size_t i = 0; i < p->nclients; i++)
			p->clients[i].needs_snapshot = true;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cost = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
	/* after an encode that took C, wait C * (100 / duty - 1) */
	p->next_publish_ns = (uint64_t)t1.tv_sec * 1000000000ull + (uint64_t)t1.tv_nsec +
			     cost * (100 - p->duty_pct) / p->duty_pct;
	if (any_synced)
		p->stats.updates++;
	for (size_t i = 0; i < p->nclients;) {
		struct client *c = &p->clients[i];
		const struct ts_stream_buf *b = NULL;

		if (c->needs_snapshot && c->out.len - c->sent <= p->max_buffer && any_snapshot) {
			b = &p->snap;
			c->needs_snapshot = false;
			p->stats.snapshots++;
		} else if (!c->needs_snapshot) {
			b = &p->delta;
		}
		if (b && b->len) {
			if (append(c, b) < 0) {
				drop_queued(c);
				c->needs_snapshot = true;
			} else {
				p->stats.bytes += b->len;
				/* the task it shows in detail, after the update */
				if (c->focus_task) {
					p->detail.len = 0;
					if (ts_stream_encode_detail(m, c->focus_pid, c->focus_task, &p->detail) == 0 &&
					    append(c, &p->detail) == 0)
						p->stats.bytes += p->detail.len;
				}
			}
		}
		if (client_flush(p, c) < 0) {
			client_close(p, i);
			continue;
		}
		i++;
	}
}
