/*
 * test-shim-peers.c: who may talk to a shim's attach listener, and what
 * happens to the target when they do (suite 'shimattach').
 *
 * Starts the demo (minirt + the shim) on its own, then plays every peer
 * against its "@taskscope/<pid>" listener: a peer that answers the Hello
 * with garbage, with a refusal, with nothing at all, or with a good answer
 * followed by Control frames (recording off, on, then garbage); another
 * user (as root: a child that setuid()s to nobody); a second collector
 * while one is attached. Each must cost the peer its connection and leave
 * the target running, and a real collector must still attach afterwards
 * and see the tasks spawned before it. A snapshot of 20000 tasks (more
 * than a ring) arrives whole. On the collector's side: a
 * process without the shim is not mistaken for one, and a listener
 * squatting on another pid's name is refused. The demo must still exit 0
 * on SIGTERM at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/ring_format.h"
#include "collector/attach.h"
#include "collector/collector.h"
#include "collector/handshake.h"
#include "proto/frame.h"
#include "taskscope.pb-c.h"
#include "tests/check.h"

static pid_t demo = -1;
static pid_t sleeper = -1;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void kill_children(void)
{
	if (demo > 0)
		kill(demo, SIGKILL);
	if (sleeper > 0)
		kill(sleeper, SIGKILL);
}

static pid_t start(char *const argv[], bool unset_socket)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* Dies with the test, also when the test is killed. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unset_socket)
			unsetenv(TS_SOCKET_ENV);
		unsetenv(TS_ATTACH_ENV);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static bool alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0 && kill(pid, 0) == 0;
}

static int raw_connect(pid_t pid)
{
	struct sockaddr_un addr;
	socklen_t len = ts_handshake_attach_addr((uint32_t)pid, &addr);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, len) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Read the shim's Hello: 0 with its pid, size and memfd, or -errno. */
static int read_hello(int fd, uint32_t *pid, uint64_t *size, uint32_t *slots, uint32_t *cap, uint32_t *arena,
		      int *memfd)
{
	static uint8_t buf[TS_FRAME_MAX];
	Taskscope__Hello *h;
	size_t len;
	int r;

	r = ts_frame_recv(fd, buf, sizeof(buf), &len, memfd, 3000);
	if (r < 0)
		return r;
	h = taskscope__hello__unpack(NULL, len, buf);
	if (!h)
		return -EBADMSG;
	*pid = h->pid;
	*size = h->shm_size;
	*slots = h->slots;
	*cap = h->capacity;
	*arena = h->arena_size;
	taskscope__hello__free_unpacked(h, NULL);
	return 0;
}

/* 1: the peer hung up without sending anything (more); 0: it sent data;
 * -1: still open after timeout_ms. */
static int hung_up(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return 1;
	return n > 0 ? 0 : -1;
}

static int send_ack(int fd, bool accepted, bool recording)
{
	Taskscope__HelloAck ack = TASKSCOPE__HELLO_ACK__INIT;
	uint8_t buf[64];

	ack.accepted = accepted;
	ack.recording = recording;
	ack.error = accepted ? "" : "no thanks";
	return ts_frame_send(fd, buf, taskscope__hello_ack__pack(&ack, buf), -1);
}

static int send_control(int fd, bool recording)
{
	Taskscope__Control c = TASKSCOPE__CONTROL__INIT;
	uint8_t buf[16];

	c.recording = recording;
	return ts_frame_send(fd, buf, taskscope__control__pack(&c, buf), -1);
}

/* Records published so far in every ring of a mapped region. */
static uint64_t heads(const uint8_t *base, uint32_t slots, uint32_t cap, uint32_t arena)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < slots; i++) {
		const struct ts_ring_header *h =
			(const void *)(base + ts_shm_ring_offset(arena, cap, i));

		sum += __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
	}
	return sum;
}

/* Peers that answer the Hello badly: each is hung up on. */
static void test_bad_answers(pid_t pid)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0x7f, 1, 2, 3 };
	static const uint8_t not_proto[] = { 5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint64_t size;
	uint32_t hpid, slots, cap, arena;
	int memfd = -1;

	for (int i = 0; i < 4; i++) {
		int fd = raw_connect(pid);
		int r;

		CHECK_MSG(fd >= 0, "case %d: cannot connect", i);
		if (fd < 0)
			continue;
		r = read_hello(fd, &hpid, &size, &slots, &cap, &arena, &memfd);
		CHECK_MSG(r == 0 && hpid == (uint32_t)pid && memfd >= 0, "case %d: Hello r=%d", i, r);
		if (memfd >= 0)
			close(memfd);
		memfd = -1;
		switch (i) {
		case 0: /* an absurd frame length */
			CHECK(write(fd, garbage, sizeof(garbage)) == (ssize_t)sizeof(garbage));
			break;
		case 1: /* a frame that is no protobuf */
			CHECK(write(fd, not_proto, sizeof(not_proto)) == (ssize_t)sizeof(not_proto));
			break;
		case 2: /* a refusal */
			CHECK(send_ack(fd, false, false) == 0);
			break;
		case 3: /* half a frame, then silence: the shim's answer timeout */
			CHECK(write(fd, not_proto, 2) == 2);
			break;
		}
		CHECK_MSG(hung_up(fd, 5000) == 1, "case %d: the shim did not hang up", i);
		close(fd);
		CHECK_MSG(alive(pid), "case %d: the target died", i);
	}
}

/* A peer of another user is hung up on before the Hello (root only). */
static void test_other_user(pid_t pid)
{
	pid_t child;
	int status = 0;

	if (geteuid() != 0) {
		printf("note: not root, the other-user case is skipped\n");
		return;
	}
	child = fork();
	if (child == 0) {
		int fd;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		fd = raw_connect(pid);
		if (fd < 0)
			_exit(2);
		_exit(hung_up(fd, 3000) == 1 ? 0 : 1);
	}
	CHECK(waitpid(child, &status, 0) == child);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "another user was not refused (child status %d)", status);
	CHECK(alive(pid));
}

/* A good answer, then Control frames: recording follows them, and a
 * garbage Control frame ends the connection. */
static void test_control(pid_t pid)
{
	uint64_t size, a, b, c;
	uint32_t hpid, slots, cap, arena;
	uint8_t *base = MAP_FAILED;
	int memfd = -1;
	int fd = raw_connect(pid);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(read_hello(fd, &hpid, &size, &slots, &cap, &arena, &memfd) == 0 && memfd >= 0);
	if (memfd >= 0)
		base = mmap(NULL, size, PROT_READ, MAP_SHARED, memfd, 0);
	CHECK(base != MAP_FAILED);
	if (base == MAP_FAILED)
		goto cleanup;
	CHECK(send_ack(fd, true, true) == 0);
	a = heads(base, slots, cap, arena);
	sleep_ms(300);
	b = heads(base, slots, cap, arena);
	CHECK_MSG(b > a, "recording did not start (%llu -> %llu)", (unsigned long long)a, (unsigned long long)b);

	CHECK(send_control(fd, false) == 0);
	sleep_ms(100); /* records already under way land */
	a = heads(base, slots, cap, arena);
	sleep_ms(300);
	b = heads(base, slots, cap, arena);
	CHECK_MSG(a == b, "recording did not stop (%llu -> %llu)", (unsigned long long)a, (unsigned long long)b);

	CHECK(send_control(fd, true) == 0);
	sleep_ms(300);
	c = heads(base, slots, cap, arena);
	CHECK_MSG(c > b, "recording did not restart (%llu -> %llu)", (unsigned long long)b, (unsigned long long)c);

	CHECK(write(fd, "\xff\xff\xff\xff", 4) == 4);
	CHECK_MSG(hung_up(fd, 3000) == 1, "garbage Control frame: no hang-up");
	sleep_ms(100);
	a = heads(base, slots, cap, arena);
	sleep_ms(300);
	b = heads(base, slots, cap, arena);
	CHECK_MSG(a == b, "recording went on after the hang-up (%llu -> %llu)", (unsigned long long)a,
		  (unsigned long long)b);
	CHECK(alive(pid));
cleanup:
	if (base != MAP_FAILED)
		munmap(base, size);
	if (memfd >= 0)
		close(memfd);
	close(fd);
}

static struct ts_collector *collector(void)
{
	struct ts_collector_options o = { 0 };
	struct ts_collector *c = NULL;
	char err[256];

	ts_model_config_default(&o.model);
	if (ts_collector_new(&o, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "ts_collector_new: %s\n", err);
		exit(1);
	}
	return c;
}

static const struct ts_task *find_named(struct ts_collector *c, uint32_t pid, const char *name)
{
	size_t n;
	struct ts_task *const *tasks = ts_model_tasks(ts_collector_model(c), &n);

	for (size_t i = 0; i < n; i++)
		if (tasks[i]->pid == pid && strcmp(tasks[i]->name, name) == 0)
			return tasks[i];
	return NULL;
}

/* A real attach: the snapshot names tasks spawned long before it; a
 * second collector meanwhile is hung up on. Returns after detaching. */
static void test_attach(pid_t pid, int round)
{
	struct ts_collector *c = collector();
	const struct ts_task *t = NULL;
	const struct ts_process *ps;
	char err[512] = "";
	size_t n;
	int fd, r;

	r = ts_shim_attach(c, (uint32_t)pid, ts_now_ns(), err, sizeof(err));
	CHECK_MSG(r == 0, "round %d: attach failed: %s", round, err);
	for (int i = 0; r == 0 && i < 300 && !(t && find_named(c, (uint32_t)pid, "ticker")); i++) {
		ts_collector_handle_io(c, ts_now_ns());
		ts_collector_drain(c, ts_now_ns());
		t = find_named(c, (uint32_t)pid, "backend");
		sleep_ms(10);
	}
	CHECK_MSG(t != NULL, "round %d: the snapshot did not name 'backend'", round);
	CHECK_MSG(t && strstr(t->location, "workload.c:"), "round %d: backend's location is '%s'", round,
		  t ? t->location : "");
	CHECK_MSG(find_named(c, (uint32_t)pid, "ticker") != NULL, "round %d: no 'ticker'", round);
	ps = ts_model_processes(ts_collector_model(c), &n);
	CHECK(n == 1 && ps[0].pid == (uint32_t)pid && strcmp(ps[0].source, "shim") == 0);

	fd = raw_connect(pid);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_MSG(hung_up(fd, 3000) == 1, "round %d: a second collector was not refused", round);
		close(fd);
	}
	ts_collector_finish(c, ts_now_ns());
	ts_collector_free(c);
	CHECK(alive(pid));
}

/* A snapshot larger than a ring: the shim waits for our drains instead
 * of dropping it. */
static void test_big_snapshot(char *helper)
{
	char *argv[] = { helper, NULL };
	struct ts_collector *c = collector();
	char err[512] = "";
	size_t seen = 0;
	pid_t pid;
	int i, r, status = 0;

	pid = start(argv, true);
	for (i = 0; i < 500 && ts_shim_attach_probe((uint32_t)pid) != 1; i++)
		sleep_ms(10);
	CHECK_MSG(i < 500, "the helper's listener never appeared");
	r = ts_shim_attach(c, (uint32_t)pid, ts_now_ns(), err, sizeof(err));
	CHECK_MSG(r == 0, "attach to the helper failed: %s", err);
	for (i = 0; r == 0 && i < 500 && seen < 20000; i++) {
		size_t n;
		struct ts_task *const *tasks;

		ts_collector_drain(c, ts_now_ns());
		tasks = ts_model_tasks(ts_collector_model(c), &n);
		seen = 0;
		for (size_t k = 0; k < n; k++)
			seen += tasks[k]->pid == (uint32_t)pid && strcmp(tasks[k]->name, "many") == 0 &&
				tasks[k]->state == TS_TASK_IDLE;
		sleep_ms(10);
	}
	CHECK_MSG(seen == 20000, "the snapshot of 20000 tasks arrived as %zu", seen);
	{
		size_t n;
		const struct ts_process *ps = ts_model_processes(ts_collector_model(c), &n);

		CHECK_MSG(n == 1 && ps[0].dropped == 0, "events dropped: %llu",
			  n ? (unsigned long long)ps[0].dropped : 0ull);
	}
	ts_collector_finish(c, ts_now_ns());
	ts_collector_free(c);
	CHECK(kill(pid, SIGTERM) == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the helper ended with status %d", status);
}

/* The collector's side: no shim, and a squatter on a pid's name. */
static void test_collector_refuses(void)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	struct ts_collector *c = collector();
	struct sockaddr_un addr;
	socklen_t len;
	char err[512] = "";
	int fd, r;

	sleeper = start(argv, true);
	CHECK(sleeper > 0);
	CHECK(ts_shim_attach_probe((uint32_t)sleeper) == 0);
	CHECK(ts_shim_attach_probe((uint32_t)getpid()) == 0);
	r = ts_shim_attach(c, (uint32_t)sleeper, ts_now_ns(), err, sizeof(err));
	CHECK_MSG(r < 0 && strstr(err, "no taskscope shim"), "no shim: r=%d err='%s'", r, err);

	/* We listen under the sleeper's name: the probe sees a name, the
	 * attach sees who listens and refuses it. */
	len = ts_handshake_attach_addr((uint32_t)sleeper, &addr);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&addr, len) == 0 && listen(fd, 1) == 0);
	CHECK(ts_shim_attach_probe((uint32_t)sleeper) == 1);
	err[0] = '\0';
	r = ts_shim_attach(c, (uint32_t)sleeper, ts_now_ns(), err, sizeof(err));
	CHECK_MSG(r == -EPERM && strstr(err, "belongs to pid"), "squatter: r=%d err='%s'", r, err);
	close(fd);
	ts_collector_free(c);
	kill(sleeper, SIGKILL);
	waitpid(sleeper, NULL, 0);
	sleeper = -1;
}

int main(int argc, char **argv)
{
	char *demo_argv[] = { argc > 2 ? argv[1] : "taskscope-demo", "--duration", "60", NULL };
	int status = 0;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: test-shim-peers TASKSCOPE-DEMO HELPER-MANY\n");
		return 2;
	}
	atexit(kill_children);
	signal(SIGPIPE, SIG_IGN);
	demo = start(demo_argv, true);
	CHECK(demo > 0);
	for (i = 0; i < 500 && ts_shim_attach_probe((uint32_t)demo) != 1; i++)
		sleep_ms(10);
	CHECK_MSG(i < 500, "the demo's listener never appeared");
	if (i == 500)
		return check_result("test-shim-peers");
	sleep_ms(200); /* its long-lived tasks are spawned */

	test_bad_answers(demo);
	test_other_user(demo);
	test_control(demo);
	test_attach(demo, 1);
	test_attach(demo, 2);
	test_collector_refuses();
	test_big_snapshot(argv[2]);

	CHECK(kill(demo, SIGTERM) == 0);
	CHECK(waitpid(demo, &status, 0) == demo);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the demo ended with status %d", status);
	demo = -1;
	return check_result("test-shim-peers");
}
