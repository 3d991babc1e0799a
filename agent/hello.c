/*
 * hello.c: the shim's side of the handshake with a collector, in both
 * directions: the constructor connects to TASKSCOPE_SOCKET (`taskscope
 * run`), and the control thread accepts `taskscope attach` on its
 * listener (control.c). Either way the same code runs on the connected
 * socket: make sure the region exists, send one Hello frame carrying the
 * memfd, and wait (bounded) for the HelloAck. On success recording
 * starts if the collector asks for it. The collector's side is one piece
 * of code too (collector/handshake.c), whichever end connected.
 *
 * Nothing the collector sends can crash the target: the answer is read
 * into a bounded buffer, parsed by protobuf-c, and its one string is made
 * printable before it is shown. On the constructor's path a failure
 * prints exactly one line starting "taskscope: " and the program runs
 * untraced; on the attach path (a peer we did not start, maybe hostile)
 * failures are silent, so a peer cannot write into the target's stderr.
 */
#include "agent/shim_internal.h"

#include "proto/frame.h"
#include "taskscope.pb-c.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define ACK_TIMEOUT_MS 2000
#define RUNTIME_ENV "TASKSCOPE_RUNTIME"

/* One line on stderr, with the collector's words (untrusted) made
 * printable and short. write(2) only: no stdio state is touched. */
static void say_off(const char *what, const char *detail, int err)
{
	char line[512];
	char clean[161];
	size_t n = 0;
	int len;

	if (detail) {
		for (; detail[n] && n < sizeof(clean) - 1; n++)
			clean[n] = detail[n] >= 0x20 && detail[n] < 0x7f ? detail[n] : '?';
	}
	clean[n] = '\0';
	if (err)
		len = snprintf(line, sizeof(line), "taskscope: %s%s%s (%s); tracing is off\n", what,
			       n ? " " : "", clean, strerror(-err));
	else
		len = snprintf(line, sizeof(line), "taskscope: %s%s%s; tracing is off\n", what,
			       n ? " " : "", clean);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(line))
		len = sizeof(line) - 1;
	if (write(STDERR_FILENO, line, (size_t)len) < 0)
		return; /* nowhere left to say it */
}

static int connect_to(const char *path, int *out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	int fd;
	int r;

	if (n >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	do {
		r = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

/* Pack our Hello into buf; returns its length or -EMSGSIZE. */
static int pack_hello(uint8_t *buf, size_t cap)
{
	Taskscope__Hello hello = TASKSCOPE__HELLO__INIT;
	char exe[PATH_MAX];
	char runtime[TS_STRING_MAX + 1];
	const char *env;
	size_t len;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	env = getenv(RUNTIME_ENV);
	snprintf(runtime, sizeof(runtime), "%s", env && *env ? env : "c-shim");
	hello.protocol_version = 1;
	hello.pid = (uint32_t)getpid();
	hello.exe = exe;
	hello.runtime = runtime;
	hello.shm_size = ts_shim.size;
	hello.slots = ts_shim.slots;
	hello.capacity = ts_shim.capacity;
	hello.record_size = TS_RING_RECORD_SIZE;
	hello.arena_size = ts_shim.arena_size;
	hello.clock_offset_ns = 0;
	len = taskscope__hello__get_packed_size(&hello);
	if (len > cap)
		return -EMSGSIZE;
	taskscope__hello__pack(&hello, buf);
	return (int)len;
}

int ts_shim_handshake(int sock, bool quiet, const char *where)
{
	Taskscope__HelloAck *ack = NULL;
	uint8_t buf[8192];
	const char *what = NULL;
	const char *detail = NULL;
	size_t len;
	int r;

	r = ts_shim_region_ensure();
	if (r < 0) {
		what = "cannot create the shared-memory rings";
		goto cleanup;
	}
	r = pack_hello(buf, sizeof(buf));
	if (r < 0) {
		what = "the registration message is too large";
		goto cleanup;
	}
	r = ts_frame_send(sock, buf, (size_t)r, ts_shim.memfd);
	if (r < 0) {
		what = "cannot register with the collector at";
		detail = where;
		goto cleanup;
	}

	/* A passed fd in the answer would be closed by ts_frame_recv. */
	r = ts_frame_recv(sock, buf, sizeof(buf), &len, NULL, ACK_TIMEOUT_MS);
	if (r < 0) {
		what = r == -ETIMEDOUT ? "the collector did not answer" : "no answer from the collector";
		goto cleanup;
	}
	ack = taskscope__hello_ack__unpack(NULL, len, buf);
	if (!ack) {
		r = -EBADMSG;
		what = "the collector's answer is malformed";
		goto cleanup;
	}
	if (!ack->accepted) {
		r = -ECONNREFUSED;
		what = "the collector refused this process:";
		detail = ack->error;
		goto cleanup;
	}
	if (ack->recording)
		__atomic_store_n(&taskscope_recording_, 1, __ATOMIC_RELEASE);
	taskscope__hello_ack__free_unpacked(ack, NULL);
	return 0;

cleanup:
	if (!quiet)
		say_off(what, detail, r == -EBADMSG || r == -ECONNREFUSED ? 0 : r);
	if (ack)
		taskscope__hello_ack__free_unpacked(ack, NULL);
	return r;
}

int ts_shim_hello(const char *path)
{
	int sock = -1;
	int r;

	r = connect_to(path, &sock);
	if (r < 0) {
		say_off("cannot connect to the collector at", path, r);
		return -1;
	}
	r = ts_shim_handshake(sock, false, path);
	if (r < 0) {
		close(sock);
		return -1;
	}
	return sock;
}
