/*
 * test-locks-overflow.c: a full lock ring buffer is counted exactly (root).
 *
 * usage: test-locks-overflow LOCKPOOL
 * lockpool runs one thread taking its mutex N times under --locks=full,
 * while nobody drains: the kernel's ring buffer (4 MiB, 48 bytes a record)
 * overflows. Its records are one SITE then an (acquired, released) pair
 * per iteration, in order, so what was delivered is the model's
 * acquisitions + releases + the SITE (the lock got its name); with the
 * source's loss total that must be 2N + 1 exactly, and the loss must show
 * in the drops callback under the "locks" source.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf/locks.h"
#include "bpf/locks_source.h"
#include "collector/attach.h"
#include "collector/collector.h"
#include "tests/check.h"

#define ITERS 50000L   /* 100,001 records: more than the ring's ~87,000 */

struct seen {
	uint64_t lock_id;
	uint64_t releases;
	uint64_t lost;           /* last drop total of the "locks" source */
};

static void on_span(void *ctx, const struct ts_lock_span *s)
{
	struct seen *v = ctx;

	v->releases += s->lock_id == v->lock_id;
}

static void on_drops(void *ctx, uint32_t pid, const char *source, uint64_t total)
{
	struct seen *v = ctx;

	if (pid == 0 && !strcmp(source, "locks"))
		v->lost = total;
}

int main(int argc, char **argv)
{
	struct seen v = { 0 };
	struct ts_collector_options o = { 0 };
	struct ts_collector *c = NULL;
	char err[512] = "", line[256], iters[32];
	unsigned long long addr = 0, rwaddr = 0;
	int in[2], out[2], lock_line = 0, rpid = 0, status = 0;
	FILE *f;
	pid_t pid;

	if (argc != 2) {
		fprintf(stderr, "usage: %s LOCKPOOL\n", argv[0]);
		return 2;
	}
	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return 77;
	}
	if (ts_attach_check_bpf(err, sizeof(err)) < 0) {
		printf("SKIP: %s\n", err);
		return 77;
	}
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return 1;
	snprintf(iters, sizeof(iters), "%ld", ITERS);
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(argv[1], argv[1], "1", iters, "0", "solo", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	f = fdopen(out[0], "r");
	if (!f || !fgets(line, sizeof(line), f) ||
	    sscanf(line, "ready %d %llx %d %llx", &rpid, &addr, &lock_line, &rwaddr) != 4) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fprintf(stderr, "lockpool did not start\n");
		return 1;
	}
	v.lock_id = addr;
	ts_model_config_default(&o.model);
	o.sink = (struct ts_model_sink){ .ctx = &v, .lock_span = on_span };
	o.ctx = &v;
	o.drops_changed = on_drops;
	if (ts_collector_new(&o, &c, err, sizeof(err)) < 0 ||
	    ts_locks_attach(c, (uint32_t)pid, TS_LOCKS_FULL, ts_now_ns(), err, sizeof(err)) < 0) {
		fprintf(stderr, "attach: %s\n", err);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		ts_collector_free(c);
		return 1;
	}
	/* no drain while it runs: the ring fills up */
	CHECK(write(in[1], "g", 1) == 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* its pidfd is readable now: the source is drained one last time and removed */
	for (int i = 0; i < 100; i++) {
		struct ts_collector_stats st;

		ts_collector_handle_io(c, ts_now_ns());
		ts_collector_get_stats(c, &st);
		if (v.lost)
			break;
		usleep(10000);
	}
	{
		struct ts_resource *r = ts_model_find_resource(ts_collector_model(c), (uint32_t)pid, addr);
		uint64_t acq = r ? r->acquisitions : 0, named = r && !strcmp(r->name, "pool_take");

		printf("delivered: %llu acquisitions, %llu releases, site %llu; lost %llu; sent %ld\n",
		       (unsigned long long)acq, (unsigned long long)v.releases, (unsigned long long)named,
		       (unsigned long long)v.lost, 2 * ITERS + 1);
		CHECK(r != NULL && named);
		CHECK(v.lost > 0);
		CHECK(acq + v.releases + named + v.lost == (uint64_t)(2 * ITERS + 1));
		/* records are delivered in order: a prefix of the pairs */
		CHECK(acq == v.releases || acq == v.releases + 1);
	}
	ts_collector_finish(c, ts_now_ns());
	ts_collector_free(c);
	fclose(f);
	close(in[1]);
	return check_result("test-locks-overflow");
}
