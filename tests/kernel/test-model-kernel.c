/*
 * test-model-kernel.c: the model's use of kernel context
 * (collector/model_kernel.c), with synthetic events: no kernel, no root.
 * on_cpu_ns from off-CPU intervals (unknown without context or for a poll
 * begun before it), blocking_in_poll from a syscall sleep but not from
 * preemption nor in a blocking task, loop_stall and its attribution, CPU
 * samples as busy time of loop threads, and a sampled stack in the
 * blocked_worker detail.
 */
#include "model-test.h"

#define TID 7u
#define SYS_NANOSLEEP 230u  /* clock_nanosleep on x86-64; only a label here */

static void context_on(struct ts_model *m, uint64_t ts)
{
	ev_full(m, TS_EV_CPU_SAMPLE, ts, 0, 0, 0, 0, 0, NULL, NULL);
}

static void offcpu(struct ts_model *m, uint64_t from, uint64_t to, uint32_t nr_plus1, const char *name,
		   bool preempted)
{
	ev_full(m, TS_EV_OFFCPU, to, TID, 0, preempted ? TS_EVF_PREEMPTED : 0, nr_plus1, from, name, NULL);
}

static void test_on_cpu(void)
{
	struct rec *r = calloc(1, sizeof(*r));
	struct ts_model *m = model_with(r, NULL);

	/* before the context: unknown */
	spawn(m, 1 * MS, TID, 1, "a");
	poll_begin(m, 2 * MS, TID, 1);
	context_on(m, 3 * MS);
	offcpu(m, 4 * MS, 5 * MS, 0, NULL, true);
	poll_end(m, 6 * MS, TID, 1, 0);
	CHECK_EQ(r->n_polls, 1);
	CHECK(r->polls[0].on_cpu_ns == -1);

	/* a poll after it: 10 ms with 3 ms off (two intervals), one interval before it ignored */
	offcpu(m, 8 * MS, 9 * MS, 0, NULL, false);
	poll_begin(m, 10 * MS, TID, 1);
	offcpu(m, 11 * MS, 12 * MS, 0, NULL, true);
	offcpu(m, 13 * MS, 15 * MS, 0, NULL, true);
	poll_end(m, 20 * MS, TID, 1, 0);
	CHECK_EQ(r->n_polls, 2);
	CHECK_EQ(r->polls[1].on_cpu_ns, 7 * MS);
	/* preemption is not blocking */
	CHECK_EQ(rec_count(r, TS_WARN_BLOCKING_IN_POLL, 0), 0);

	/* the next poll starts from zero; none off: all on */
	poll_begin(m, 30 * MS, TID, 1);
	poll_end(m, 32 * MS, TID, 1, 0);
	CHECK_EQ(r->polls[2].on_cpu_ns, 2 * MS);

	/* a poll end read late, after intervals that follow it: those do not
	 * count, and a sleep after the poll is not blamed on it */
	poll_begin(m, 40 * MS, TID, 1);
	offcpu(m, 41 * MS, 43 * MS, 0, NULL, true);
	offcpu(m, 44 * MS, 46 * MS, SYS_NANOSLEEP + 1, "clock_nanosleep", false);   /* straddles the end */
	offcpu(m, 51 * MS, 60 * MS, 202 + 1, "futex", false);
	poll_end(m, 45 * MS, TID, 1, 0);
	CHECK_EQ(r->n_polls, 4);
	CHECK_EQ(r->polls[3].on_cpu_ns, 5 * MS - 2 * MS - 1 * MS);
	CHECK_EQ(rec_count(r, TS_WARN_BLOCKING_IN_POLL, 0), 1);
	if (rec_last(r, TS_WARN_BLOCKING_IN_POLL)) {
		CHECK(strncmp(rec_last(r, TS_WARN_BLOCKING_IN_POLL)->detail, "clock_nanosleep", 15) == 0);
		CHECK_EQ(rec_last(r, TS_WARN_BLOCKING_IN_POLL)->duration_ns, 1 * MS);
	}

	/* more late intervals than are kept: unknown rather than wrong */
	poll_begin(m, 100 * MS, TID, 1);
	for (int i = 0; i < TS_THREAD_OFFCPU_RING + 1; i++)
		offcpu(m, (200 + 2 * i) * MS, (201 + 2 * i) * MS, 0, NULL, true);
	poll_end(m, 150 * MS, TID, 1, 0);
	CHECK(r->polls[4].on_cpu_ns == -1);
	ts_model_free(m);
	free(r);
}

static void test_blocking(void)
{
	struct rec *r = calloc(1, sizeof(*r));
	struct ts_model *m = model_with(r, NULL);
	const struct ts_warning *w;

	context_on(m, 0);
	spawn(m, 1 * MS, TID, 1, "sleeper");
	poll_begin(m, 10 * MS, TID, 1);
	offcpu(m, 11 * MS, 11 * MS + 900 * US, SYS_NANOSLEEP + 1, "clock_nanosleep", false); /* < 1 ms */
	CHECK_EQ(rec_count(r, TS_WARN_BLOCKING_IN_POLL, 0), 0);
	offcpu(m, 12 * MS, 212 * MS, SYS_NANOSLEEP + 1, "clock_nanosleep", false);
	offcpu(m, 213 * MS, 313 * MS, SYS_NANOSLEEP + 1, "clock_nanosleep", false); /* once per poll */
	poll_end(m, 320 * MS, TID, 1, 0);
	CHECK_EQ(rec_count(r, TS_WARN_BLOCKING_IN_POLL, 1), 1);
	w = rec_last(r, TS_WARN_BLOCKING_IN_POLL);
	if (w) {
		CHECK(strncmp(w->detail, "clock_nanosleep ", 16) == 0);
		CHECK(strstr(w->detail, "'sleeper'") != NULL);
		CHECK_EQ(w->duration_ns, 200 * MS);
		CHECK_EQ(w->tid, TID);
	}
	CHECK_EQ(r->polls[0].on_cpu_ns, 310 * MS - 200 * MS - 100 * MS - 900 * US);
	/* the next poll may warn again: a 2 ms read */
	poll_begin(m, 400 * MS, TID, 1);
	offcpu(m, 401 * MS, 403 * MS, 0 + 1, "read", false);
	poll_end(m, 404 * MS, TID, 1, 0);
	CHECK_EQ(rec_count(r, TS_WARN_BLOCKING_IN_POLL, 1), 2);
	/* a futex sleep is a lock wait: judged against --contended-lock (10 ms);
	 * a shorter one does not hide a shorter blocking read of the same poll */
	poll_begin(m, 410 * MS, TID, 1);
	offcpu(m, 411 * MS, 416 * MS, 202 + 1, "futex", false);
	offcpu(m, 417 * MS, 419 * MS, 0 + 1, "read", false);
	poll_end(m, 420 * MS, TID, 1, 0);
	CHECK_EQ(rec_count(r, TS_WARN_BLOCKING_IN_POLL, 1), 3);
	if (rec_last(r, TS_WARN_BLOCKING_IN_POLL))
		CHECK(strncmp(rec_last(r, TS_WARN_BLOCKING_IN_POLL)->detail, "read ", 5) == 0);
	poll_begin(m, 421 * MS, TID, 1);
	offcpu(m, 422 * MS, 427 * MS, 202 + 1, "futex", false);
	poll_end(m, 428 * MS, TID, 1, 0);
	CHECK_EQ(rec_count(r, TS_WARN_BLOCKING_IN_POLL, 1), 3);
	poll_begin(m, 430 * MS, TID, 1);
	offcpu(m, 431 * MS, 443 * MS, 202 + 1, "futex", false);
	poll_end(m, 444 * MS, TID, 1, 0);
	CHECK_EQ(rec_count(r, TS_WARN_BLOCKING_IN_POLL, 1), 4);
	/* 3 ms off in read, 2.5 ms of it waiting for a CPU after the wake-up:
	 * slept 0.5 ms, not blocking */
	poll_begin(m, 450 * MS, TID, 1);
	ev_full(m, TS_EV_OFFCPU, 454 * MS, TID, 2500 * US, 0, 0 + 1, 451 * MS, "read", NULL);
	poll_end(m, 455 * MS, TID, 1, 0);
	CHECK_EQ(rec_count(r, TS_WARN_BLOCKING_IN_POLL, 1), 4);
	/* a blocking task is exempt; so is a sleep outside any poll */
	ev_full(m, TS_EV_SPAWN, 500 * MS, TID, 2, 0, TS_KIND_BLOCKING, 0, "blk", "x.c:1");
	poll_begin(m, 501 * MS, TID, 2);
	offcpu(m, 502 * MS, 600 * MS, SYS_NANOSLEEP + 1, "clock_nanosleep", false);
	poll_end(m, 601 * MS, TID, 2, 1);
	offcpu(m, 700 * MS, 900 * MS, SYS_NANOSLEEP + 1, "clock_nanosleep", false);
	CHECK_EQ(rec_count(r, TS_WARN_BLOCKING_IN_POLL, 0), 4);
	ts_model_free(m);
	free(r);
}

static void test_loop(void)
{
	struct rec *r = calloc(1, sizeof(*r));
	struct ts_model *m = model_with(r, NULL);
	const struct ts_warning *w;
	struct ts_thread *t;

	context_on(m, 0);
	ev_full(m, TS_EV_THREAD, 1 * MS, TID, 0, 0, TS_ROLE_WORKER, 0, "loop", NULL);
	/* 50 ms: under the threshold */
	ev_full(m, TS_EV_LOOP_ITER, 60 * MS, TID, 0, 0, 0, 10 * MS, "epoll_wait", NULL);
	CHECK_EQ(rec_count(r, TS_WARN_LOOP_STALL, 0), 0);
	/* 300 ms, 299 ms off in clock_nanosleep; a stack from before it is not its */
	ev_full(m, TS_EV_STACK, 90 * MS, TID, 0, TS_EVF_ON_CPU, 0, 0, "old (o.c:1)", NULL);
	ev_full(m, TS_EV_LOOP_ITER, 400 * MS, TID, 299 * MS, 0, SYS_NANOSLEEP + 1, 100 * MS, "epoll_wait",
		"clock_nanosleep");
	w = rec_last(r, TS_WARN_LOOP_STALL);
	CHECK(w != NULL);
	if (w) {
		CHECK(strstr(w->detail, "; on-CPU: ") == NULL);
		CHECK_EQ(w->duration_ns, 300 * MS);
		CHECK(w->task_id == 0 && w->tid == TID);
		CHECK(strstr(w->detail, "between epoll_wait calls: off-CPU 299 ms in clock_nanosleep") != NULL);
	}
	/* 300 ms on the CPU, with a stack sampled during it (one from before
	 * the iteration would not count) */
	ev_full(m, TS_EV_STACK, 600 * MS, TID, 0, TS_EVF_ON_CPU, 0, 0, "hot (h.c:1) < handler (h.c:9)", NULL);
	ev_full(m, TS_EV_LOOP_ITER, 800 * MS, TID, 1 * MS, 0, 0, 500 * MS, "epoll_wait", NULL);
	w = rec_last(r, TS_WARN_LOOP_STALL);
	if (w) {
		CHECK(strstr(w->detail, ": on-CPU 299 ms") != NULL);
		CHECK(strstr(w->detail, "; on-CPU: hot < handler") != NULL);
	}
	CHECK_EQ(rec_count(r, TS_WARN_LOOP_STALL, 0), 2);
	/* CPU samples: busy time of a thread that never polls */
	ev_full(m, TS_EV_CPU_SAMPLE, 900 * MS, TID, 0, 0, 0, 120 * MS, NULL, NULL);
	ev_full(m, TS_EV_CPU_SAMPLE, 1100 * MS, TID, 0, 0, 0, 80 * MS, NULL, NULL);
	t = ts_model_find_thread(m, PID, TID);
	CHECK(t && t->cpu_ns == 200 * MS && t->busy_ns == 200 * MS);
	ts_model_free(m);
	free(r);
}

static void test_blocked_stack(void)
{
	struct rec *r = calloc(1, sizeof(*r));
	struct ts_model *m = model_with(r, NULL);
	const struct ts_warning *w;
	struct ts_thread *t;

	context_on(m, 0);
	spawn(m, 1 * MS, TID, 1, "spinner");
	poll_begin(m, 10 * MS, TID, 1);
	/* a stack from before the poll does not count */
	ev_full(m, TS_EV_STACK, 5 * MS, TID, 0, TS_EVF_ON_CPU, 0, 0, "old (a.c:1)", NULL);
	ts_model_tick(m, 50 * MS);
	ev_full(m, TS_EV_STACK, 60 * MS, TID, 0, TS_EVF_ON_CPU, 0, 0,
		"leaf (w.c:3) < spin_work (f.c:44) < main (m.c:9)", NULL);
	ts_model_tick(m, 120 * MS);
	w = rec_last(r, TS_WARN_BLOCKED_WORKER);
	CHECK(w != NULL);
	if (w)
		CHECK(strstr(w->detail, "; on-CPU: leaf < spin_work < main") != NULL);
	poll_end(m, 150 * MS, TID, 1, 0);
	/* asleep: where */
	poll_begin(m, 200 * MS, TID, 1);
	ev_full(m, TS_EV_STACK, 260 * MS, TID, 0, 0, 0, 0, "off-CPU in clock_nanosleep", NULL);
	ts_model_tick(m, 310 * MS);
	w = rec_last(r, TS_WARN_BLOCKED_WORKER);
	if (w)
		CHECK(strstr(w->detail, "; off-CPU in clock_nanosleep") != NULL);
	CHECK_EQ(rec_count(r, TS_WARN_BLOCKED_WORKER, 0), 2);
	t = ts_model_find_thread(m, PID, TID);
	CHECK(t && t->stack && !t->stack_on_cpu);
	ts_model_free(m);
	free(r);
}

int main(void)
{
	test_on_cpu();
	test_blocking();
	test_loop();
	test_blocked_stack();
	return test_result("test-model-kernel");
}
