/*
 * test-locks-bpf.c: lock tracing on a real process (needs root).
 *
 * usage: test-locks-bpf LOCKPOOL contended|contended-raw|full|full-rw|full-fresh
 * Starts lockpool (a worker pool fighting over one pthread mutex), attaches
 * ts_locks_attach() in the given mode to an embedded collector, lets the
 * pool run to its end and checks what the model made of it: the lock named
 * by its call site (pool_take at lockpool.c:LINE, found through the CFI
 * unwinder: lockpool has no frame pointers), waits and holds in lock
 * spans, contention counted, contended_lock raised; in full mode every
 * hold. full-rw: the pool over a pthread_rwlock_t (readers and writers):
 * every read and write acquisition, the lock an rwlock named pool_rw.
 * full-fresh: two threads take each of many never-taken mutexes at the
 * same instant; each is counted with exactly its two holds (a waiter may
 * read its holder before the holder's own lock call is reported: still
 * one hold). contended-raw: contended mode through raw_syscalls, the
 * fallback where the scheduler's tp_btf programs do not load.
 * The target exits while the probes are attached: the source must go away
 * with it, leaving no BPF program open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf/locks_source.h"
#include "collector/attach.h"
#include "collector/collector.h"
#include "tests/check.h"

#define THREADS 4
#define ITERS 25
#define HOLD_US 2000

struct seen {
	size_t spans, waited_spans, bad_spans;
	uint64_t lock_id;
	uint64_t fresh_lo, fresh_hi;   /* full-fresh: the mutex array */
	size_t fresh_spans, fresh_bad;
	struct { uint64_t id; size_t n; } per_lock[16];   /* spans of every lock */
	size_t n_locks;
	uint32_t tids[THREADS + 2];
	size_t n_tids;
	size_t contended_warnings;
	char warning[256];
};

static void on_span(void *ctx, const struct ts_lock_span *s)
{
	struct seen *v = ctx;
	bool known = false;
	size_t k = 0;

	while (k < v->n_locks && v->per_lock[k].id != s->lock_id)
		k++;
	if (k == v->n_locks && k < 16)
		v->per_lock[v->n_locks++].id = s->lock_id;
	if (k < 16)
		v->per_lock[k].n++;
	if (s->lock_id >= v->fresh_lo && s->lock_id < v->fresh_hi) {
		v->fresh_spans++;
		v->fresh_bad += !s->tid || s->acquired_ns > s->released_ns ||
				(s->wait_start_ns && s->wait_start_ns > s->acquired_ns);
	}
	if (s->lock_id != v->lock_id)
		return;
	v->spans++;
	v->waited_spans += s->wait_start_ns != 0;
	if (!s->tid || s->acquired_ns > s->released_ns ||
	    (s->wait_start_ns && s->wait_start_ns > s->acquired_ns))
		v->bad_spans++;
	for (size_t i = 0; i < v->n_tids; i++)
		known |= v->tids[i] == s->tid;
	if (!known && v->n_tids < THREADS + 2)
		v->tids[v->n_tids++] = s->tid;
}

static void on_warning(void *ctx, const struct ts_warning *w)
{
	struct seen *v = ctx;

	if (w->kind != TS_WARN_CONTENDED_LOCK)
		return;
	if (!v->contended_warnings++)
		snprintf(v->warning, sizeof(v->warning), "%s", w->detail);
}

/* BPF programs and links this process holds open. */
static int bpf_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], link[64];
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		n += strstr(link, "bpf-prog") || strstr(link, "bpf_link") || strstr(link, "bpf-link");
	}
	closedir(d);
	return n;
}

/* full-fresh: every mutex of the array held exactly twice, each hold one
 * span, nothing left held or waiting. */
static void check_fresh(struct ts_model *m, uint32_t pid, const struct seen *v)
{
	size_t n = (size_t)((v->fresh_hi - v->fresh_lo) / sizeof(pthread_mutex_t)), wrong = 0, waited = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t id = v->fresh_lo + i * sizeof(pthread_mutex_t);
		struct ts_resource *r = ts_model_find_resource(m, pid, id);

		if (r && r->acquisitions == 2 && r->holders == 0 && r->waiters == 0 && r->contentions <= 1) {
			waited += r->contentions;
			continue;
		}
		if (!wrong++)
			fprintf(stderr, "fresh mutex %zu (%#llx): %s, %llu acquisitions, %llu contended\n", i,
				(unsigned long long)id, r ? "seen" : "not seen",
				r ? (unsigned long long)r->acquisitions : 0ull,
				r ? (unsigned long long)r->contentions : 0ull);
	}
	printf("full-fresh: %zu mutexes, %zu spans, %zu contended, %zu wrong\n", n, v->fresh_spans, waited,
	       wrong);
	CHECK(n > 0);
	CHECK_MSG(wrong == 0, "%zu of %zu fresh mutexes not held exactly twice", wrong, n);
	CHECK(v->fresh_spans == 2 * n);
	CHECK(v->fresh_bad == 0);
	/* (how many were contended is up to the scheduler: none when the two
	 * threads end up sharing a core under load) */
}

static pid_t spawn_pool(const char *exe, const char *extra, int *go_fd, FILE **out)
{
	int in[2], o[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char threads[16], iters[16], hold[16];

		dup2(in[0], 0);
		dup2(o[1], 1);
		snprintf(threads, sizeof(threads), "%d", THREADS);
		snprintf(iters, sizeof(iters), "%d", ITERS);
		snprintf(hold, sizeof(hold), "%d", HOLD_US);
		execl(exe, exe, threads, iters, hold, extra, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	*go_fd = in[1];
	*out = fdopen(o[0], "r");
	return pid;
}

int main(int argc, char **argv)
{
	struct seen v = { 0 };
	struct ts_collector_options o = { 0 };
	struct ts_collector *c = NULL;
	enum ts_lock_mode mode;
	char err[512] = "", line[256];
	unsigned long long addr = 0, rwaddr = 0, tmpaddr = 0;
	bool rw, fresh;
	int lock_line = 0, rpid = 0, go_fd = -1, status = 0, fds_before;
	FILE *out = NULL;
	pid_t pid;
	bool exited = false;

	if (argc != 3) {
		fprintf(stderr, "usage: %s LOCKPOOL contended|contended-raw|full|full-rw|full-fresh\n", argv[0]);
		return 2;
	}
	rw = !strcmp(argv[2], "full-rw");
	fresh = !strcmp(argv[2], "full-fresh");
	mode = !strncmp(argv[2], "full", 4) ? TS_LOCKS_FULL : TS_LOCKS_CONTENDED;
	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return 77;
	}
	if (ts_attach_check_bpf(err, sizeof(err)) < 0) {
		printf("SKIP: %s\n", err);
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	pid = spawn_pool(argv[1], rw ? "rw" : fresh ? "fresh" : NULL, &go_fd, &out);
	if (pid < 0 || !out || !fgets(line, sizeof(line), out) ||
	    sscanf(line, "ready %d %llx %d %llx", &rpid, &addr, &lock_line, &rwaddr) != 4 || rpid != pid) {
		fprintf(stderr, "lockpool did not start\n");
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return 1;
	}
	if (rw)
		addr = rwaddr;
	if (fresh) {
		v.fresh_lo = addr;
		v.fresh_hi = rwaddr;
	}
	v.lock_id = addr;
	ts_model_config_default(&o.model);
	o.model.lints.contended_lock_ns = 1000000;   /* 1 ms; holds are 2 ms */
	o.sink = (struct ts_model_sink){ .ctx = &v, .lock_span = on_span, .warning = on_warning };
	fds_before = bpf_fds();
	if (ts_collector_new(&o, &c, err, sizeof(err)) < 0 ||
	    ts_locks_attach_flavour(c, (uint32_t)pid, mode, !strcmp(argv[2], "contended-raw"), ts_now_ns(), err,
				    sizeof(err)) < 0) {
		fprintf(stderr, "attach: %s\n", err);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		ts_collector_free(c);
		return 1;
	}
	CHECK(bpf_fds() > fds_before);
	CHECK(write(go_fd, "g", 1) == 1);
	/* run until the target has exited and its source is gone (the pidfd) */
	for (int i = 0; i < 600; i++) {
		struct pollfd p = { .fd = ts_collector_fd(c), .events = POLLIN };
		uint64_t now;

		poll(&p, 1, 20);
		now = ts_now_ns();
		ts_collector_handle_io(c, now);
		ts_collector_drain(c, now);
		ts_collector_tick(c, now);
		if (!exited && waitpid(pid, &status, WNOHANG) == pid)
			exited = true;
		if (exited && bpf_fds() == fds_before)
			break;
	}
	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	CHECK_MSG(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0, "lockpool status %#x", status);
	{
		long count = 0;

		CHECK(fgets(line, sizeof(line), out) && sscanf(line, "done %ld %llx", &count, &tmpaddr) == 2);
		if (fresh)
			CHECK(count == (long)((rwaddr - addr) / sizeof(pthread_mutex_t)) * 2 + 1);
		else
			CHECK(count == THREADS * ITERS + 1);
	}
	CHECK_MSG(bpf_fds() == fds_before, "BPF fds left open after the target exited: %d (before: %d)",
		  bpf_fds(), fds_before);

	if (fresh)
		check_fresh(ts_collector_model(c), (uint32_t)pid, &v);
	else {
		struct ts_model *m = ts_collector_model(c);
		struct ts_resource *r = ts_model_find_resource(m, (uint32_t)pid, addr);
		char want[64];

		snprintf(want, sizeof(want), "lockpool.c:%d", lock_line);
		CHECK_MSG(r != NULL, "no resource for the pool's mutex %#llx", addr);
		if (r) {
			size_t ll = strlen(r->location), wl = strlen(want);

			printf("%s: lock '%s' at %s: %llu acquisitions, %llu contended, %zu spans "
			       "(%zu waited) on %zu threads\n", argv[2], r->name, r->location,
			       (unsigned long long)r->acquisitions, (unsigned long long)r->contentions,
			       v.spans, v.waited_spans, v.n_tids);
			CHECK_STR(r->name, rw ? "pool_rw" : "pool_take");
			if (!rw)
				CHECK_MSG(ll >= wl && !strcmp(r->location + ll - wl, want),
					  "location %s, want ...%s", r->location, want);
			else
				CHECK_MSG(strstr(r->location, "lockpool.c:") != NULL, "location %s", r->location);
			CHECK(r->kind == (rw ? TS_RES_RWLOCK : TS_RES_MUTEX));
			CHECK(r->contentions > 0);
			CHECK(r->holders == 0 && r->waiters == 0);
			CHECK(r->wait_hist.count == r->contentions);
			if (rw) {
				/* every acquisition; shared holds overlap into fewer spans */
				CHECK(r->acquisitions == THREADS * ITERS);
				CHECK(v.spans <= THREADS * ITERS);
			} else if (mode == TS_LOCKS_FULL) {
				/* every hold, exactly */
				CHECK(r->acquisitions == THREADS * ITERS);
				CHECK(v.spans == THREADS * ITERS);
			} else {
				CHECK(r->acquisitions <= THREADS * ITERS);
				CHECK(v.spans <= THREADS * ITERS);
			}
		}
		/* the short-lived mutex: in full mode its one hold was recorded,
		 * then its destroy made the model forget it */
		CHECK(tmpaddr != 0 && ts_model_find_resource(m, (uint32_t)pid, tmpaddr) == NULL);
		if (mode == TS_LOCKS_FULL) {
			size_t tmp_spans = 0;

			for (size_t k = 0; k < v.n_locks; k++)
				tmp_spans += v.per_lock[k].id == tmpaddr ? v.per_lock[k].n : 0;
			CHECK_MSG(tmp_spans == 1, "%zu spans of the destroyed mutex", tmp_spans);
		}
		CHECK(v.spans > 0 && v.waited_spans > 0);
		CHECK(v.bad_spans == 0);
		CHECK(v.n_tids >= 2);   /* more than one worker held it */
		CHECK(v.contended_warnings > 0);
		CHECK_MSG(strstr(v.warning, rw ? "rwlock 'pool_rw'" : "mutex 'pool_take'") != NULL, "warning: %s",
			  v.warning);
	}
	ts_collector_finish(c, ts_now_ns());
	ts_collector_free(c);
	fclose(out);
	close(go_fd);
	return check_result(argv[2]);
}
