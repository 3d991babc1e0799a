/*
 * test-handshake.c: the control socket against bad clients. One listening
 * socket serves, in turn: random bytes, bytes that are not a protobuf
 * message, an oversized length prefix, a connection closed mid-frame, a
 * Hello without its fd, a Hello of another protocol version, a Hello with
 * absurd sizes, and a client that sends nothing. Each is refused with one
 * clear line and leaks no fd; afterwards the same listening socket
 * accepts a good client whose Hello and memfd open as a source, which
 * gets its HelloAck, and whose records are drained.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "collector/handshake.h"
#include "collector/source_shm.h"
#include "proto/frame.h"
#include "tests/check.h"
#include "region.h"

static char sock_path[108];

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int connect_client(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(addr.sun_path, sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("connect");
		exit(1);
	}
	return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len) {
		perror("write");
		exit(1);
	}
}

static size_t pack_hello(const Taskscope__Hello *h, uint8_t *buf)
{
	size_t len = taskscope__hello__get_packed_size(h);

	if (len > TS_FRAME_MAX)
		exit(1);
	taskscope__hello__pack(h, buf);
	return len;
}

/* The server side of one bad client: accept, expect a refusal that
 * mentions `want`, close. */
static void expect_refused(int listen_fd, int timeout_ms, const char *want, int line)
{
	Taskscope__Hello *h = (Taskscope__Hello *)1;
	int memfd = 1234;
	char err[256];
	int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	int rc;

	CHECK_MSG(conn >= 0, "line %d: accept failed", line);
	if (conn < 0)
		return;
	memset(err, 'Z', sizeof(err));
	rc = ts_handshake_recv_hello(conn, timeout_ms, &h, &memfd, err, sizeof(err));
	CHECK_MSG(rc < 0 && h == NULL && memfd == -1, "line %d: rc %d", line, rc);
	CHECK_MSG(memchr(err, '\0', sizeof(err)) && strlen(err) > 10 && !strchr(err, '\n'),
		  "line %d: error is not one line", line);
	CHECK_MSG(strstr(err, want), "line %d: \"%s\" does not say \"%s\"", line, err, want);
	printf("refused as expected: %s\n", err);
	close(conn);
}

static void bad_clients(int listen_fd, const struct region *r)
{
	uint8_t buf[512];
	Taskscope__Hello h;
	size_t len;
	int c;

	/* A length prefix and random bytes, with a memfd riding along:
	 * whatever they parse as, they are no acceptable Hello. */
	srand(7);
	for (int round = 0; round < 8; round++) {
		for (size_t i = 0; i < 200; i++)
			buf[i] = (uint8_t)rand();
		c = connect_client();
		CHECK(ts_frame_send(c, buf, 200, r->fd) == 0);
		expect_refused(listen_fd, 2000, "", __LINE__);
		close(c);
	}

	/* Field 1 with wire type 7, which does not exist. */
	buf[0] = 0x0f;
	c = connect_client();
	CHECK(ts_frame_send(c, buf, 200, r->fd) == 0);
	expect_refused(listen_fd, 2000, "malformed Hello from pid ", __LINE__);
	close(c);

	/* Valid wire format but no Hello: an empty message is all defaults. */
	c = connect_client();
	CHECK(ts_frame_send(c, buf, 0, r->fd) == 0);
	expect_refused(listen_fd, 2000, "protocol version 0", __LINE__);
	close(c);

	/* A length prefix of 4 GiB - 1. */
	c = connect_client();
	write_all(c, "\xff\xff\xff\xff", 4);
	expect_refused(listen_fd, 2000, "larger than", __LINE__);
	close(c);

	/* Closed mid-frame: says 100 bytes, sends 10. */
	c = connect_client();
	write_all(c, "\x64\x00\x00\x00" "0123456789", 14);
	close(c);
	expect_refused(listen_fd, 2000, "closed the control connection", __LINE__);

	/* Closed mid-prefix. */
	c = connect_client();
	write_all(c, "\x64\x00", 2);
	close(c);
	expect_refused(listen_fd, 2000, "closed the control connection", __LINE__);

	/* A good Hello without its fd. */
	region_hello(r, &h);
	len = pack_hello(&h, buf);
	c = connect_client();
	CHECK(ts_frame_send(c, buf, len, -1) == 0);
	expect_refused(listen_fd, 2000, "without its shared-memory fd", __LINE__);
	close(c);

	/* Another protocol version. */
	region_hello(r, &h);
	h.protocol_version = 2;
	len = pack_hello(&h, buf);
	c = connect_client();
	CHECK(ts_frame_send(c, buf, len, r->fd) == 0);
	expect_refused(listen_fd, 2000, "protocol version 2", __LINE__);
	close(c);

	/* Absurd sizes. */
	region_hello(r, &h);
	h.slots = 1u << 30;
	len = pack_hello(&h, buf);
	c = connect_client();
	CHECK(ts_frame_send(c, buf, len, r->fd) == 0);
	expect_refused(listen_fd, 2000, "ring slots", __LINE__);
	close(c);

	region_hello(r, &h);
	h.shm_size = 1ull << 40;
	len = pack_hello(&h, buf);
	c = connect_client();
	CHECK(ts_frame_send(c, buf, len, r->fd) == 0);
	expect_refused(listen_fd, 2000, "geometry needs", __LINE__);
	close(c);

	/* An over-long runtime name. */
	{
		char runtime[400];

		memset(runtime, 'r', sizeof(runtime) - 1);
		runtime[sizeof(runtime) - 1] = '\0';
		region_hello(r, &h);
		h.runtime = runtime;
		len = pack_hello(&h, buf);
		c = connect_client();
		CHECK(ts_frame_send(c, buf, len, r->fd) == 0);
		expect_refused(listen_fd, 2000, "too long", __LINE__);
		close(c);
	}

	/* Connected, silent. */
	c = connect_client();
	expect_refused(listen_fd, 50, "no Hello", __LINE__);
	close(c);
}

static void good_client(int listen_fd, const struct region *r, struct ts_strpool *pool)
{
	Taskscope__Hello h;
	Taskscope__Hello *got = NULL;
	Taskscope__HelloAck *ack;
	struct ts_shm_source *src = NULL;
	struct ts_event_batch batch;
	struct ts_ring_record rec;
	uint8_t buf[512];
	char err[256] = "";
	size_t len;
	int memfd = -1;
	int c, conn, ack_fd = -1;

	region_hello(r, &h);
	len = pack_hello(&h, buf);
	c = connect_client();
	CHECK(ts_frame_send(c, buf, len, r->fd) == 0);
	conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(conn >= 0);
	CHECK_MSG(ts_handshake_recv_hello(conn, 2000, &got, &memfd, err, sizeof(err)) == 0, "%s", err);
	if (!got)
		return;
	CHECK(memfd >= 0 && memfd != r->fd);
	CHECK(got->pid == (uint32_t)getpid() && strcmp(got->runtime, "test-runtime") == 0);
	CHECK(strcmp(got->exe, "/usr/bin/test-target") == 0 && got->slots == r->slots);

	CHECK_MSG(ts_shm_source_open(memfd, got, pool, &src, err, sizeof(err)) == 0, "%s", err);
	CHECK(ts_handshake_send_ack(conn, true, NULL, true) == 0);
	taskscope__hello__free_unpacked(got, NULL);

	/* The client reads its HelloAck. */
	CHECK(ts_frame_recv(c, buf, sizeof(buf), &len, &ack_fd, 2000) == 0 && ack_fd == -1);
	ack = taskscope__hello_ack__unpack(NULL, len, buf);
	CHECK(ack && ack->accepted && ack->recording && strcmp(ack->error, "") == 0);
	taskscope__hello_ack__free_unpacked(ack, NULL);

	/* The mapping is the client's region: records flow. */
	region_claim(r, 0, 11);
	rec = region_rec(TS_REC_SPAWN, TS_KIND_TASK, 5, 1000);
	rec.a = region_string(r, "after the bad ones");
	CHECK(region_push(r, 0, &rec));
	ts_event_batch_init(&batch);
	CHECK(src && ts_shm_source_drain(src, &batch) == 0);
	CHECK(batch.len == 1 && batch.events[0].id == 5 && batch.events[0].name &&
	      strcmp(batch.events[0].name, "after the bad ones") == 0);
	ts_event_batch_fini(&batch);
	ts_shm_source_free(src);

	/* A refusal travels too. */
	CHECK(ts_handshake_send_ack(conn, false, "target 1: no", false) == 0);
	CHECK(ts_frame_recv(c, buf, sizeof(buf), &len, NULL, 2000) == 0);
	ack = taskscope__hello_ack__unpack(NULL, len, buf);
	CHECK(ack && !ack->accepted && strcmp(ack->error, "target 1: no") == 0);
	taskscope__hello_ack__free_unpacked(ack, NULL);
	close(conn);
	close(c);
}

static void test_listen_path(void)
{
	struct stat st;
	char path[160];
	int fd = -1, fd2 = -1;
	FILE *f;

	/* 0600, a stale socket replaced, anything else left alone. */
	CHECK(ts_handshake_listen(sock_path, &fd) == 0);
	CHECK(stat(sock_path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	close(fd);
	CHECK(ts_handshake_listen(sock_path, &fd2) == 0);
	close(fd2);

	snprintf(path, sizeof(path), "%s.file", sock_path);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK(ts_handshake_listen(path, &fd) == -EEXIST);
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
	unlink(path);

	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	CHECK(ts_handshake_listen(path, &fd) == -ENAMETOOLONG);
	CHECK(ts_handshake_listen("", &fd) == -EINVAL);
}

int main(void)
{
	char dir[] = "/tmp/taskscope-hs-XXXXXX";
	struct ts_strpool *pool = NULL;
	struct region r;
	int listen_fd = -1;
	int fds_before, fds_after;

	if (!mkdtemp(dir) || ts_strpool_new(1 << 20, &pool) < 0 || region_create(&r, 2, 64, 4096, true) < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", dir);
	test_listen_path();

	CHECK(ts_handshake_listen(sock_path, &listen_fd) == 0);
	fds_before = count_fds();
	bad_clients(listen_fd, &r);
	fds_after = count_fds();
	/* Every fd that rode along with a refused Hello was closed. */
	CHECK_MSG(fds_before == fds_after, "%d fds before, %d after", fds_before, fds_after);

	good_client(listen_fd, &r, pool);

	close(listen_fd);
	unlink(sock_path);
	rmdir(dir);
	region_destroy(&r, true);
	ts_strpool_free(pool);
	return check_result("test-handshake");
}
