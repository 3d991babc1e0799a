/*
 * control.c: the shim's control thread, the one piece of the shim that
 * waits for a collector instead of being called by the runtime.
 *
 * Why a thread blocked in accept() on an abstract socket: recording must
 * cost nothing until someone attaches (no polling, no timer, no signal
 * handler stolen from the program), yet an attach must get an answer
 * within milliseconds and must be able to run the runtime's task
 * enumerators on a thread of the target. A thread asleep in the kernel
 * costs a stack and nothing else. The socket is named from the pid
 * ("@taskscope/<pid>", collector/handshake.h), so `taskscope attach PID`
 * finds it without root and without scanning /proc/PID/fd; abstract names
 * leave no file behind when the process dies.
 *
 * Who may attach: the kernel's SO_PEERCRED must say root or our own
 * effective uid; anyone else is hung up on before a byte is sent. While
 * one collector is attached, other connections are refused the same way.
 * A peer that is let in gets exactly what a collector gets (the Hello and
 * the memfd) and whatever it answers is bounded and parsed (hello.c,
 * frame.c): garbage costs it the connection, never the target.
 *
 * One connection at a time, whichever way it came (the constructor's
 * TASKSCOPE_SOCKET connection for `taskscope run`, or an accepted
 * attach): after the handshake the thread reads Control frames
 * (recording on/off) until the collector hangs up, then recording goes
 * off and the listener takes the next attach. Each time recording turns
 * on here, the registered task enumerators run (snapshot.c).
 *
 * fork(): the thread does not exist in the child; the atfork handler
 * closes the inherited sockets, and the child's own listener (for its
 * own pid) starts at its next taskscope_thread_name() or
 * taskscope_task_enumerator_add(), never from inside the fork handler.
 */
#include "agent/shim_internal.h"
#include "collector/handshake.h"
#include "proto/frame.h"
#include "taskscope.pb-c.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4
#define CONTROL_FRAME_MAX 256
#define CONTROL_TIMEOUT_MS 1000  /* a frame started must be finished within this */
#define THREAD_STACK (256u * 1024u)

static int listen_fd = -1;     /* our listener, or -1 */
static int live_conn = -1;     /* the collector's connection, or -1 (for the fork handler) */
static int need_listener;      /* a fork child that should start its own */

static bool attach_enabled(void)
{
	const char *v = getenv(TS_ATTACH_ENV);

	return !(v && strcmp(v, "0") == 0);
}

static int make_listener(void)
{
	struct sockaddr_un addr;
	socklen_t len = ts_handshake_attach_addr((uint32_t)getpid(), &addr);
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* EADDRINUSE: someone holds our name (a squatter); the collector
	 * would refuse it anyway (it checks the listener's pid), we just
	 * cannot be attached. */
	if (bind(fd, (struct sockaddr *)&addr, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Block until an allowed peer connects; -1 when the listener is unusable. */
static int accept_collector(void)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EBADF || errno == EINVAL || errno == ENOTSOCK)
				return -1;
			pause_ms(100); /* EMFILE and friends: do not spin */
			continue;
		}
		if (peer_allowed(fd))
			return fd;
		close(fd);
	}
}

static void recording_on(void)
{
	if (__atomic_exchange_n(&taskscope_recording_, 1, __ATOMIC_ACQ_REL))
		return;
	ts_shim_snapshot_run();
}

/* One Control frame, or the end of the connection (returns -1). */
static int read_control(int conn)
{
	Taskscope__Control *msg;
	uint8_t buf[CONTROL_FRAME_MAX];
	size_t len;
	int r;

	r = ts_frame_recv(conn, buf, sizeof(buf), &len, NULL, CONTROL_TIMEOUT_MS);
	if (r < 0)
		return -1; /* hang-up, garbage length, or a frame left unfinished */
	msg = taskscope__control__unpack(NULL, len, buf);
	if (!msg)
		return -1;
	if (msg->recording)
		recording_on();
	else
		__atomic_store_n(&taskscope_recording_, 0, __ATOMIC_RELEASE);
	taskscope__control__free_unpacked(msg, NULL);
	return 0;
}

/* Serve the attached collector until it goes; refuse other comers. */
static void serve(int conn)
{
	struct pollfd p[2] = { { .fd = conn, .events = POLLIN }, { .fd = listen_fd, .events = POLLIN } };
	nfds_t n = listen_fd >= 0 ? 2 : 1;

	for (;;) {
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		/* The attached collector first: when it has just hung up, a
		 * newcomer (a re-attach right after a detach) is the next
		 * collector, left in the backlog for accept_collector(). */
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
			if (read_control(conn) < 0)
				return;
		}
		if (n == 2 && (p[1].revents & POLLIN)) {
			int other = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (other >= 0)
				close(other); /* busy: one collector at a time */
		}
	}
}

static void *control_main(void *arg)
{
	int conn = (int)(intptr_t)arg;

	(void)pthread_setname_np(pthread_self(), "taskscope");
	/* Named for the collector, but no slot until a snapshot needs one. */
	ts_shim_thread_label("taskscope", TASKSCOPE_ROLE_OTHER);
	for (;;) {
		if (conn >= 0) {
			__atomic_store_n(&live_conn, conn, __ATOMIC_RELEASE);
			serve(conn);
			/* The collector is gone: nobody drains the rings. */
			__atomic_store_n(&taskscope_recording_, 0, __ATOMIC_RELEASE);
			__atomic_store_n(&live_conn, -1, __ATOMIC_RELEASE);
			close(conn);
			conn = -1;
		}
		if (listen_fd < 0)
			return NULL;
		conn = accept_collector();
		if (conn < 0)
			return NULL;
		__atomic_store_n(&live_conn, conn, __ATOMIC_RELEASE);
		ts_shim_region_rewind();
		if (ts_shim_handshake(conn, true, NULL) < 0) {
			close(conn);
			conn = -1;
			continue;
		}
		if (taskscope_enabled())
			ts_shim_snapshot_run();
	}
}

/* Start the thread with every signal blocked, so it never takes a signal
 * meant for the program's own threads. Returns 0 or -errno. */
static int start_thread(int conn)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int r;

	if (pthread_attr_init(&attr) != 0)
		return -ENOMEM;
	(void)pthread_attr_setstacksize(&attr, THREAD_STACK);
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&tid, &attr, control_main, (void *)(intptr_t)conn);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return -r;
}

void ts_shim_control_start(int conn)
{
	if (attach_enabled())
		listen_fd = make_listener();
	if (conn < 0 && listen_fd < 0)
		return;
	if (start_thread(conn) == 0)
		return;
	/* No thread: no attach. A TASKSCOPE_SOCKET connection stays open
	 * (recording as the collector asked) so the collector still sees
	 * this process go away. */
	if (listen_fd >= 0) {
		close(listen_fd);
		listen_fd = -1;
	}
	live_conn = conn;
}

void ts_shim_control_forked(void)
{
	bool had = listen_fd >= 0;

	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
	if (live_conn >= 0)
		close(live_conn);
	live_conn = -1;
	__atomic_store_n(&need_listener, had ? 1 : 0, __ATOMIC_RELEASE);
}

void ts_shim_control_after_fork(void)
{
	if (!__atomic_load_n(&need_listener, __ATOMIC_ACQUIRE) ||
	    !__atomic_exchange_n(&need_listener, 0, __ATOMIC_ACQ_REL))
		return;
	ts_shim_control_start(-1);
}
