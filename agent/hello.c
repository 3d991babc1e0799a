/*
 * hello.c: the shim's registration with a collector, run once from the
 * constructor when TASKSCOPE_SOCKET names a Unix socket.
 *
 * It creates the region, connects, sends one Hello frame carrying the
 * memfd, and waits (bounded) for the HelloAck. On success the region
 * becomes current and, if the collector asks for it, recording starts.
 * The socket stays open (close-on-exec) so the collector sees the target
 * go away; nothing reads it yet. Any failure prints exactly one line
 * starting "taskscope: " and the program runs untraced: this code never
 * aborts and never lets a collector's answer crash the target.
 */
#include "agent/shim_internal.h"

#include "proto/frame.h"
#include "taskscope.pb-c.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

void ts_shim_hello(const char *path)
{
	Taskscope__Hello hello = TASKSCOPE__HELLO__INIT;
	Taskscope__HelloAck *ack = NULL;
	uint8_t buf[8192];
	char exe[PATH_MAX];
	char runtime[TS_STRING_MAX + 1];
	const char *env;
	const char *what = NULL;
	const char *detail = NULL;
	uint8_t *base = NULL;
	uint64_t size = 0;
	size_t len;
	ssize_t n;
	int memfd = -1;
	int sock = -1;
	int r;

	r = ts_shim_region_create(TS_DEFAULT_SLOTS, TS_DEFAULT_CAPACITY, TS_DEFAULT_ARENA, &base, &size,
				  &memfd);
	if (r < 0) {
		what = "cannot create the shared-memory rings";
		goto cleanup;
	}
	r = connect_to(path, &sock);
	if (r < 0) {
		what = "cannot connect to the collector at";
		detail = path;
		goto cleanup;
	}

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	env = getenv(RUNTIME_ENV);
	snprintf(runtime, sizeof(runtime), "%s", env && *env ? env : "c-shim");
	hello.protocol_version = 1;
	hello.pid = (uint32_t)getpid();
	hello.exe = exe;
	hello.runtime = runtime;
	hello.shm_size = size;
	hello.slots = TS_DEFAULT_SLOTS;
	hello.capacity = TS_DEFAULT_CAPACITY;
	hello.record_size = TS_RING_RECORD_SIZE;
	hello.arena_size = TS_DEFAULT_ARENA;
	hello.clock_offset_ns = 0;
	len = taskscope__hello__get_packed_size(&hello);
	if (len > sizeof(buf)) {
		r = -EMSGSIZE;
		what = "the registration message is too large";
		goto cleanup;
	}
	taskscope__hello__pack(&hello, buf);
	r = ts_frame_send(sock, buf, len, memfd);
	if (r < 0) {
		what = "cannot register with the collector";
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
		r = 0;
		what = "the collector's answer is malformed";
		goto cleanup;
	}
	if (!ack->accepted) {
		r = 0;
		what = "the collector refused this process:";
		detail = ack->error;
		goto cleanup;
	}

	close(memfd);
	ts_shim_install(base, size, TS_DEFAULT_SLOTS, TS_DEFAULT_CAPACITY, TS_DEFAULT_ARENA);
	ts_shim.sock = sock;
	if (ack->recording)
		__atomic_store_n(&taskscope_recording_, 1, __ATOMIC_RELEASE);
	taskscope__hello_ack__free_unpacked(ack, NULL);
	return;

cleanup:
	say_off(what, detail, r);
	if (ack)
		taskscope__hello_ack__free_unpacked(ack, NULL);
	if (sock >= 0)
		close(sock);
	if (memfd >= 0)
		close(memfd);
	if (base)
		munmap(base, size);
}
