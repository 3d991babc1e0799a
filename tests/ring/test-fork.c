/*
 * test-fork.c: after fork() the child runs untraced. Its events, from the
 * forking thread and from a new thread, through the inline wrappers and
 * the out-of-line functions alike, never reach the parent's rings, and
 * the parent keeps recording into its own slot. The child inherits no
 * attach listener; its own appears when it names a thread.
 */
#include "agent/shim_internal.h"
#include "ring-reader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_MARK 0xc41d000000000000ull

static void child_events(void)
{
	TASKSCOPE_SITE(site, "child-site");

	for (uint64_t i = 0; i < 50; i++) {
		taskscope_poll_begin(CHILD_MARK | i);
		taskscope_poll_begin_(CHILD_MARK | i);
		taskscope_task_spawn_(CHILD_MARK | i, 0, 0, &site);
		taskscope_lock_acquired_(CHILD_MARK | i, 1);
	}
}

static void *child_thread(void *arg)
{
	(void)arg;
	taskscope_thread_name("child-thread", TASKSCOPE_ROLE_WORKER);
	child_events();
	return NULL;
}

/* Wait (up to 2 s) until the shim's "taskscope" thread, if any, sleeps in
 * accept4(). fork() copies a process with its other threads frozen where
 * they are; a thread caught inside the sanitizers' allocator (which has no
 * fork handlers, unlike glibc's malloc) leaves its lock held for good in
 * the child. The control thread allocates only while it starts up, so
 * forking once it waits for a collector is safe in every build. */
static void wait_control_thread_idle(void)
{
	for (int tries = 0; tries < 200; tries++) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *e;
		bool found = false, idle = false;

		while (d && (e = readdir(d))) {
			char path[300], buf[64] = "";
			FILE *f;

			snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
			if (!(f = fopen(path, "r")))
				continue;
			found = fgets(buf, sizeof(buf), f) && !strcmp(buf, "taskscope\n");
			fclose(f);
			if (!found)
				continue;
			snprintf(path, sizeof(path), "/proc/self/task/%s/syscall", e->d_name);
			if ((f = fopen(path, "r"))) {
				idle = fscanf(f, "%63s", buf) == 1 && atol(buf) == SYS_accept4;
				fclose(f);
			}
			break;
		}
		if (d)
			closedir(d);
		if (!found || idle)
			return;
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
}

/* Is "@taskscope/<pid>" (the shim's attach listener) in /proc/net/unix? */
static int listening(pid_t pid)
{
	char want[64], line[512];
	int found = 0;
	FILE *f = fopen("/proc/net/unix", "r");

	if (!f)
		return -1;
	snprintf(want, sizeof(want), " @taskscope/%d\n", (int)pid);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, want) != NULL;
	fclose(f);
	return found;
}

static int child(void)
{
	const char *attach = getenv("TASKSCOPE_ATTACH");
	int listener = !(attach && strcmp(attach, "0") == 0);
	pthread_t t;

	if (taskscope_enabled())
		return 2;
	if (taskscope_intern("child-string") != 0)
		return 3;
	/* No live attach is inherited, and no listener of our own until the
	 * runtime names a thread (then one for our pid, at once). */
	if (listening(getpid()) != 0)
		return 6;
	taskscope_thread_name("child-main", TASKSCOPE_ROLE_OTHER);
	if (listening(getpid()) != listener)
		return 7;
	if (taskscope_enabled())
		return 8;
	child_events();
	if (pthread_create(&t, NULL, child_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
		return 4;
	if (taskscope_dropped_events() != 0)
		return 5;
	return 0;
}

int main(void)
{
	struct ts_ring_record got[256];
	struct rr r;
	uint64_t head_before;
	int fd = -1, status = 0;
	pid_t pid;
	size_t n;

	CHECK(ts_shim_attach_memfd(4, 256, 4096, &fd) == 0);
	rr_open(&r, fd);
	taskscope_poll_begin(1);
	CHECK_EQ(rr_state(&r, 0), TS_SLOT_ACTIVE);
	head_before = rr_ring(&r, 0)->head;
	CHECK_EQ(head_before, 2); /* THREAD + poll_begin */
	uint64_t arena_before = rr_header(&r)->arena_used;

	fflush(NULL);
	wait_control_thread_idle();
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(child());
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	/* The parent's listener is untouched by the child closing its copy. */
	CHECK_EQ(listening(getpid()), !(getenv("TASKSCOPE_ATTACH") && !strcmp(getenv("TASKSCOPE_ATTACH"), "0")));

	/* Nothing new anywhere: no slot claimed, no string, no record. */
	CHECK_EQ(rr_ring(&r, 0)->head, head_before);
	for (uint32_t s = 1; s < r.slots; s++) {
		CHECK_EQ(rr_state(&r, s), TS_SLOT_FREE);
		CHECK_EQ(rr_ring(&r, s)->head, 0);
	}
	CHECK_EQ(rr_header(&r)->arena_used, arena_before);
	CHECK_EQ(taskscope_dropped_events(), 0);

	/* The parent goes on in its own slot. */
	CHECK(taskscope_enabled());
	taskscope_poll_end(1, 1);
	n = rr_drain(&r, 0, got, 256);
	CHECK_EQ(n, 3);
	CHECK_EQ(got[0].type, TS_REC_THREAD);
	CHECK_EQ(got[0].task, getpid()); /* the main thread */
	CHECK_EQ(got[1].type, TS_REC_POLL_BEGIN);
	CHECK_EQ(got[2].type, TS_REC_POLL_END);
	for (size_t i = 0; i < n; i++)
		CHECK((got[i].task & CHILD_MARK) != CHILD_MARK);

	rr_close(&r);
	close(fd);
	ts_shim_detach();
	printf("ok: the child's events stayed out of the parent's rings\n");
	return 0;
}
