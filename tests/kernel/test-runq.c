/*
 * test-runq.c: the run-queue delay of each off-CPU interval is the time
 * the thread waited for a CPU after its wake-up. A child pins two threads
 * to CPU 0: a SCHED_FIFO one that spins 30 ms and sleeps 10 ms, SPINS
 * times, and a normal one that sleeps 1 ms in a loop. Every wake-up of the
 * sleeper during a spin waits for the spin to end, so its off-CPU
 * intervals carry delays of up to 30 ms, summing to most of the spinning
 * time. Run with each flavour of the programs: tp_btf (which reads the
 * scheduler's own sched_info, and watches the wait syscalls through their
 * own tracepoints) and raw_tp (which notes sched_wakeup).
 */
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>

#include "kernel-test.h"
#include "bpf/sched_source.h"
#include "collector/source.h"
#include "collector/strpool.h"

#define SPINS 8
#define SPIN_MS 30
#define MS 1000000ull

static int to_child[2], to_parent[2];
static volatile int spinning_done;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *spinner(void *arg)
{
	struct sched_param sp = { .sched_priority = 1 };

	if (pin_cpu0() != 0 || pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != 0) {
		spinning_done = -1;
		return NULL;
	}
	for (int i = 0; i < SPINS; i++) {
		uint64_t end = mono_ns() + SPIN_MS * MS;

		while (mono_ns() < end)
			;
		kt_sleep_ms(10);
	}
	spinning_done = 1;
	return NULL;
}

static int child(void *arg)
{
	pthread_t t;
	uint32_t tid = (uint32_t)syscall(SYS_gettid);
	char c;

	if (pin_cpu0() != 0 || write(to_parent[1], &tid, sizeof(tid)) != sizeof(tid) ||
	    read(to_child[0], &c, 1) != 1)
		return 1;
	if (pthread_create(&t, NULL, spinner, NULL) != 0)
		return 1;
	while (!spinning_done)
		kt_sleep_ms(1);
	pthread_join(t, NULL);
	if (write(to_parent[1], spinning_done > 0 ? "d" : "e", 1) != 1)
		return 1;
	return read(to_child[0], &c, 1) == 1 ? 0 : 1;
}

static void run(struct ts_strpool *pool, bool raw_tp)
{
	const char *flavour = raw_tp ? "raw_tp" : "tp_btf";
	struct ts_sched_source *s = NULL;
	struct ts_sched_config cfg;
	struct ts_sched_stats st;
	struct ts_event_batch batch;
	uint64_t runq_sum = 0, runq_max = 0, n = 0;
	uint32_t tid = 0;
	char err[256], c = 0;
	pid_t pid;
	int r;

	pid = kt_fork(child, NULL);
	CHECK(read(to_parent[0], &tid, sizeof(tid)) == sizeof(tid));
	ts_sched_config_default(&cfg, (uint32_t)pid, NULL);
	cfg.pool = pool;
	cfg.raw_tp = raw_tp;
	cfg.generic = true;  /* the wait programs too */
	r = ts_sched_source_new(&cfg, &s, err, sizeof(err));
	CHECK_MSG(r == 0, "%s", err);
	if (r < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	CHECK(ts_sched_source_stats(s, &st) == 0 && st.raw_tp == raw_tp);
	/* tp_btf: the eight wait syscalls through their own tracepoints (tracefs
	 * is mounted when it is not), never raw_syscalls; raw_tp: none */
	CHECK_MSG(raw_tp ? st.wait_tracepoints == 0 : st.wait_tracepoints == 8, "%s: %u wait tracepoints",
		  flavour, st.wait_tracepoints);
	ts_event_batch_init(&batch);
	CHECK(write(to_child[1], "g", 1) == 1);
	CHECK(read(to_parent[0], &c, 1) == 1);
	CHECK_MSG(c == 'd', "the child could not pin a SCHED_FIFO thread to CPU 0");
	ts_sched_source_ops.drain(s, &batch, ts_now_ns());
	for (size_t i = 0; i < batch.len; i++) {
		const struct ts_event *ev = &batch.events[i];

		if (ev->type != TS_EV_OFFCPU || ev->tid != tid)
			continue;
		CHECK_MSG(ev->id <= ev->ts - ev->arg, "%s: run-queue delay %llu ns in a %llu ns interval",
			  flavour, (unsigned long long)ev->id, (unsigned long long)(ev->ts - ev->arg));
		runq_sum += ev->id;
		runq_max = ev->id > runq_max ? ev->id : runq_max;
		n++;
	}
	printf("%s: %llu off-CPU intervals of the sleeper, run-queue delay %.1f ms in all, %.1f ms at most\n",
	       flavour, (unsigned long long)n, (double)runq_sum / MS, (double)runq_max / MS);
	/* each spin holds back at least one wake-up for most of the spin */
	CHECK_MSG(runq_sum >= SPINS * SPIN_MS * MS / 2, "%s: run-queue delays sum to %.1f ms, expected >= %u ms",
		  flavour, (double)runq_sum / MS, SPINS * SPIN_MS / 2);
	CHECK_MSG(runq_max >= SPIN_MS * MS / 2 && runq_max <= SPIN_MS * MS * 3 / 2,
		  "%s: longest run-queue delay %.1f ms, expected about %u ms", flavour, (double)runq_max / MS,
		  SPIN_MS);
	CHECK(write(to_child[1], "q", 1) == 1);
	CHECK(waitpid(pid, NULL, 0) == pid);
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
