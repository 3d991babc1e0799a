/*
 * test-overflow.c: a full ring loses records and counts every one. The
 * smallest ring (one page) and every off-CPU interval sent: a child
 * sleeps 2000 times (most of them leave the CPU) while nobody drains. Then, with the child gone (no
 * more records), the records read must be exactly those attempted minus
 * those counted lost, and the source's `lost` op must report that count.
 */
#include "kernel-test.h"
#include "bpf/sched_source.h"
#include "collector/strpool.h"

#define SLEEPS 2000

static int to_child[2];

static int child(void *arg)
{
	struct timespec ts = { 0, 20000 };
	char c;

	if (read(to_child[0], &c, 1) != 1)
		return 1;
	for (int i = 0; i < SLEEPS; i++)
		nanosleep(&ts, NULL);
	return 0;
}

int main(void)
{
	struct ts_sched_source *s = NULL;
	struct ts_sched_config cfg;
	struct ts_sched_stats st;
	struct ts_strpool *pool;
	struct ts_event_batch batch;
	size_t offcpu = 0;
	char err[256];
	pid_t pid;
	int r;

	kt_need_bpf();
	if (pipe(to_child) < 0 || ts_strpool_new(1 << 20, &pool) < 0)
		return 1;
	pid = kt_fork(child, NULL);
	ts_sched_config_default(&cfg, (uint32_t)pid, NULL);
	cfg.pool = pool;
	cfg.ring_bytes = 4096;
	cfg.offcpu_min_ns = 0;
	cfg.cpu_sample_ns = 0;
	r = ts_sched_source_new(&cfg, &s, err, sizeof(err));
	CHECK_MSG(r == 0, "%s", err);
	if (r < 0) {
		kill(pid, SIGKILL);
		return 1;
	}
	ts_event_batch_init(&batch);
	CHECK(write(to_child[1], "g", 1) == 1);
	CHECK(waitpid(pid, NULL, 0) == pid);
	CHECK(ts_sched_source_ops.drain(s, &batch, ts_now_ns()) == 0);
	CHECK(ts_sched_source_stats(s, &st) == 0);
	for (size_t i = 0; i < batch.len; i++)
		offcpu += batch.events[i].type == TS_EV_OFFCPU && batch.events[i].tid == (uint32_t)pid;
	fprintf(stderr, "attempted %llu, lost %llu, read %llu (%zu off-CPU)\n",
		(unsigned long long)st.reserved, (unsigned long long)st.lost,
		(unsigned long long)st.records, offcpu);
	CHECK_MSG(st.reserved >= SLEEPS / 2, "%llu attempted for %d sleeps", (unsigned long long)st.reserved, SLEEPS);
	CHECK(st.lost > 0);
	CHECK(st.records == st.reserved - st.lost);
	CHECK(ts_sched_source_ops.lost(s) == st.lost);
	/* every record read became an event (the marker is one more) */
	CHECK(batch.len == st.records + 1);
	CHECK(offcpu > 0 && offcpu <= st.records);
	ts_event_batch_fini(&batch);
	ts_sched_source_free(s);
	ts_strpool_free(pool);
	return check_failures ? 1 : 0;
}
