/*
 * test-threads.c: the per-thread map stays bounded. A child creates 100
 * threads that wait together (each tracked: the map must hold them), then
 * 1000 more short-lived ones in batches; once they are joined, only the
 * child's main thread may still have an entry, and none once the child
 * exits. Nothing may have been refused for lack of room. Run with each
 * flavour of the programs: tp_btf, and raw_tp (the fallback for kernels
 * where tp_btf does not load).
 */
#include <pthread.h>

#include "kernel-test.h"
#include "bpf/sched_source.h"
#include "collector/strpool.h"

#define HELD 100
#define CHURN 1000
#define BATCH 50

static int to_child[2], to_parent[2];
static pthread_barrier_t barrier;

static void *held_thread(void *arg)
{
	kt_sleep_ms(1);              /* off and on the CPU: tracked */
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
	return NULL;
}

static void *short_thread(void *arg)
{
	kt_sleep_ms(1);
	return NULL;
}

static int child(void *arg)
{
	pthread_t t[HELD];
	char c;

	if (read(to_child[0], &c, 1) != 1)
		return 1;
	pthread_barrier_init(&barrier, NULL, HELD + 1);
	for (int i = 0; i < HELD; i++)
		if (pthread_create(&t[i], NULL, held_thread, NULL) != 0)
			return 1;
	pthread_barrier_wait(&barrier);
	if (write(to_parent[1], "h", 1) != 1 || read(to_child[0], &c, 1) != 1)
		return 1;
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < HELD; i++)
		pthread_join(t[i], NULL);
	for (int done = 0; done < CHURN; done += BATCH) {
		for (int i = 0; i < BATCH; i++)
			if (pthread_create(&t[i], NULL, short_thread, NULL) != 0)
				return 1;
		for (int i = 0; i < BATCH; i++)
			pthread_join(t[i], NULL);
	}
	if (write(to_parent[1], "d", 1) != 1)
		return 1;
	return read(to_child[0], &c, 1) == 1 ? 0 : 1;   /* until told (or killed) */
}

/* One run of the child under one flavour of the programs. */
static void run(struct ts_strpool *pool, bool raw_tp)
{
	struct ts_sched_source *s = NULL;
	struct ts_sched_config cfg;
	struct ts_sched_stats st;
	struct ts_event_batch batch;
	char err[256], c;
	pid_t pid;
	int r;

	pid = kt_fork(child, NULL);
	ts_sched_config_default(&cfg, (uint32_t)pid, NULL);
	cfg.pool = pool;
	cfg.raw_tp = raw_tp;
	r = ts_sched_source_new(&cfg, &s, err, sizeof(err));
	CHECK_MSG(r == 0, "%s", err);
	if (r < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	ts_event_batch_init(&batch);
	CHECK(write(to_child[1], "g", 1) == 1);
	CHECK(read(to_parent[0], &c, 1) == 1 && c == 'h');
	CHECK(ts_sched_source_stats(s, &st) == 0);
	CHECK_MSG(st.thread_entries >= HELD, "%s: %llu entries with %d threads alive",
		  raw_tp ? "raw_tp" : "tp_btf", (unsigned long long)st.thread_entries, HELD);
	CHECK(write(to_child[1], "g", 1) == 1);
	CHECK(read(to_parent[0], &c, 1) == 1 && c == 'd');
	ts_sched_source_ops.drain(s, &batch, ts_now_ns());
	CHECK(ts_sched_source_stats(s, &st) == 0);
	CHECK_MSG(st.thread_entries <= 1, "%s: %llu entries left with only the main thread alive",
		  raw_tp ? "raw_tp" : "tp_btf", (unsigned long long)st.thread_entries);
	CHECK(st.untracked == 0);
	CHECK(st.raw_tp == raw_tp);
	CHECK(write(to_child[1], "q", 1) == 1);
	CHECK(waitpid(pid, NULL, 0) == pid);
	CHECK(ts_sched_source_stats(s, &st) == 0);
	CHECK_MSG(st.thread_entries == 0, "%s: %llu entries after the process exited",
		  raw_tp ? "raw_tp" : "tp_btf", (unsigned long long)st.thread_entries);
	CHECK(st.sampled_entries == 0);
	ts_event_batch_fini(&batch);
	ts_sched_source_free(s);
}

int main(void)
{
	kt_need_bpf();
	if (pipe(to_child) < 0 || pipe(to_parent) < 0)
		return 1;
	return kt_each_flavour(run);
}
