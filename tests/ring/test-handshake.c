/*
 * test-handshake.c: the shim's registration, with this test playing the
 * collector on a temporary Unix socket and tests/ring/helper-shim (linked
 * with the shared library) as the target, started with TASKSCOPE_SOCKET.
 *
 * Accepted: the Hello frame carries the helper's pid, exe and runtime and
 * the region's geometry; the passed memfd is sealed against shrinking and
 * growing and has the announced size; after the HelloAck the helper
 * records, and its records and strings are read back from the memfd.
 * Refused, no collector, a hang-up and a garbled answer: the helper runs
 * untraced and says so in exactly one "taskscope: " line on stderr.
 */
#include "ring-reader.h"
#include "proto/frame.h"
#include "taskscope.pb-c.h"
#include "taskscope.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static const char *helper;
static char dir[] = "/tmp/ts-ring-XXXXXX";
static char sock_path[PATH_MAX];

static int listen_at(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	CHECK(strlen(path) < sizeof(addr.sun_path));
	strcpy(addr.sun_path, path);
	unlink(path);
	CHECK(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	CHECK(listen(fd, 4) == 0);
	return fd;
}

static int accept_one(int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int c;

	CHECK(poll(&p, 1, 10000) == 1);
	c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(c >= 0);
	return c;
}

/* Start the helper with its stderr on a pipe; *err_rd reads it. */
static pid_t start_helper(const char *path, int *err_rd)
{
	int p[2];
	pid_t pid;

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		setenv("TASKSCOPE_SOCKET", path, 1);
		setenv("TASKSCOPE_RUNTIME", "ring-test", 1);
		execl(helper, helper, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*err_rd = p[0];
	return pid;
}

/* Wait for the helper; return its exit status and its stderr in buf. */
static int finish_helper(pid_t pid, int err_rd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;
	int status;

	while (got < cap - 1 && (n = read(err_rd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(err_rd);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* stderr must be exactly one line "taskscope: ...<needle>...; tracing is off". */
static void check_one_line(const char *err, const char *needle)
{
	size_t n = strlen(err);

	if (strncmp(err, "taskscope: ", 11) != 0 || n == 0 || err[n - 1] != '\n' ||
	    strchr(err, '\n') != err + n - 1 || !strstr(err, needle) || !strstr(err, "tracing is off")) {
		fprintf(stderr, "unexpected helper stderr (want one line with \"%s\"): [%s]\n", needle, err);
		exit(1);
	}
}

static void send_ack(int conn, int accepted, const char *error, int recording)
{
	Taskscope__HelloAck ack = TASKSCOPE__HELLO_ACK__INIT;
	uint8_t buf[256];
	size_t len;

	ack.accepted = accepted;
	ack.error = (char *)(error ? error : "");
	ack.recording = recording;
	len = taskscope__hello_ack__get_packed_size(&ack);
	CHECK(len <= sizeof(buf));
	taskscope__hello_ack__pack(&ack, buf);
	CHECK(ts_frame_send(conn, buf, len, -1) == 0);
}

/* Receive and check the Hello; returns the memfd. */
static int recv_hello(int conn, pid_t pid)
{
	static uint8_t buf[TS_FRAME_MAX];
	char exe[PATH_MAX];
	Taskscope__Hello *h;
	struct stat st;
	size_t len = 0;
	int memfd = -1;
	int seals;

	CHECK(ts_frame_recv(conn, buf, sizeof(buf), &len, &memfd, 10000) == 0);
	CHECK(memfd >= 0);
	h = taskscope__hello__unpack(NULL, len, buf);
	CHECK(h);
	CHECK_EQ(h->protocol_version, 1);
	CHECK_EQ(h->pid, pid);
	CHECK(realpath(helper, exe));
	CHECK(h->exe && strcmp(h->exe, exe) == 0);
	CHECK(h->runtime && strcmp(h->runtime, "ring-test") == 0);
	CHECK_EQ(h->record_size, TS_RING_RECORD_SIZE);
	CHECK_EQ(h->slots, TS_DEFAULT_SLOTS);
	CHECK_EQ(h->capacity, TS_DEFAULT_CAPACITY);
	CHECK_EQ(h->arena_size, TS_DEFAULT_ARENA);
	CHECK_EQ(h->clock_offset_ns, 0);
	CHECK_EQ(h->shm_size, ts_shm_total_size(h->slots, h->arena_size, h->capacity));
	CHECK(fstat(memfd, &st) == 0);
	CHECK_EQ(st.st_size, h->shm_size);
	seals = fcntl(memfd, F_GET_SEALS);
	CHECK(seals >= 0);
	CHECK_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	CHECK((seals & F_SEAL_WRITE) == 0);
	CHECK(ftruncate(memfd, (off_t)h->shm_size / 2) < 0 && errno == EPERM);
	CHECK(ftruncate(memfd, (off_t)h->shm_size * 2) < 0 && errno == EPERM);
	taskscope__hello__free_unpacked(h, NULL);
	return memfd;
}

static void case_accepted(void)
{
	struct ts_ring_record got[16];
	char err[1024];
	struct rr r;
	int lfd = listen_at(sock_path), conn, memfd, err_rd, slot;
	pid_t pid = start_helper(sock_path, &err_rd);

	conn = accept_one(lfd);
	memfd = recv_hello(conn, pid);
	send_ack(conn, 1, NULL, 1);
	CHECK_EQ(finish_helper(pid, err_rd, err, sizeof(err)), 10);
	CHECK_EQ(strlen(err), 0);

	rr_open(&r, memfd);
	CHECK_EQ(rr_header(&r)->pid, pid);
	slot = rr_find_tid(&r, (uint32_t)pid);
	CHECK(slot >= 0);
	CHECK_EQ(rr_drain(&r, (uint32_t)slot, got, 16), 5);
	CHECK_EQ(got[0].type, TS_REC_THREAD);
	CHECK_EQ(got[0].flags, TASKSCOPE_ROLE_WORKER);
	CHECK(strcmp(rr_string(&r, got[0].a), "helper") == 0);
	CHECK_EQ(got[1].type, TS_REC_SPAWN);
	CHECK_EQ(got[1].task, 7);
	CHECK(strcmp(rr_string(&r, got[1].a), "helper-task") == 0);
	CHECK(rr_string(&r, (uint32_t)got[1].c) && strstr(rr_string(&r, (uint32_t)got[1].c), "helper-shim.c:"));
	CHECK_EQ(got[2].type, TS_REC_POLL_BEGIN);
	CHECK_EQ(got[3].type, TS_REC_POLL_END);
	CHECK_EQ(got[3].flags, 1);
	CHECK_EQ(got[4].type, TS_REC_TASK_DROP);
	CHECK_EQ(got[4].flags, TASKSCOPE_OUTCOME_OK);
	for (int i = 1; i < 5; i++)
		CHECK(got[i].ts >= got[i - 1].ts);
	rr_close(&r);
	close(memfd);
	close(conn);
	close(lfd);
	printf("ok: accepted, helper recorded\n");
}

/* The collector answers badly (how: 0 refuse, 1 hang up, 2 garbage). */
static void case_bad_answer(int how, const char *needle)
{
	char err[1024];
	int lfd = listen_at(sock_path), conn, memfd, err_rd;
	pid_t pid = start_helper(sock_path, &err_rd);

	conn = accept_one(lfd);
	memfd = recv_hello(conn, pid);
	if (how == 0) {
		send_ack(conn, 0, "not today\x07 thanks", 1);
	} else if (how == 2) {
		static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02 };

		CHECK(ts_frame_send(conn, junk, sizeof(junk), -1) == 0);
	}
	close(conn);
	CHECK_EQ(finish_helper(pid, err_rd, err, sizeof(err)), 20);
	check_one_line(err, needle);
	close(memfd);
	close(lfd);
	printf("ok: %s -> %s", needle, err);
}

static void case_no_collector(void)
{
	char err[1024];
	int err_rd;
	pid_t pid;

	unlink(sock_path);
	pid = start_helper(sock_path, &err_rd);
	CHECK_EQ(finish_helper(pid, err_rd, err, sizeof(err)), 20);
	check_one_line(err, "cannot connect to the collector");
	CHECK(strstr(err, sock_path));
	printf("ok: no collector -> %s", err);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s HELPER\n", argv[0]);
		return 2;
	}
	helper = argv[1];
	signal(SIGPIPE, SIG_IGN);
	CHECK(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/collector.sock", dir);

	case_accepted();
	case_bad_answer(0, "refused this process: not today? thanks");
	case_bad_answer(1, "no answer from the collector");
	case_bad_answer(2, "malformed");
	case_no_collector();

	unlink(sock_path);
	rmdir(dir);
	return 0;
}
