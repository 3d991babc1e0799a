/*
 * test-model-random.c: the model under a seeded stream of arbitrary events
 * (any type, including invalid ones; colliding ids; lost and reordered
 * events; bad kinds; missing names) must never crash and must keep its
 * invariants: dense arrays consistent with each object's index, findable
 * objects found, every task's busy + sched + idle equal to its lifetime,
 * spans that end after they start, waiter lists matching their counts.
 * Run it under ASan/UBSan too (CI does).
 */
#include "model-test.h"

static struct rec R;
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t polls_seen, locks_seen;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void check_invariants(struct ts_model *m, uint64_t now)
{
	struct ts_task *const *tasks;
	struct ts_thread *const *threads;
	struct ts_resource *const *res;
	size_t n;

	tasks = ts_model_tasks(m, &n);
	for (size_t i = 0; i < n; i++) {
		const struct ts_task *t = tasks[i];
		uint64_t total, busy, sched, idle;

		CHECK_EQ(t->index, i);
		CHECK(t->state <= TS_TASK_DONE);
		CHECK(t->name && t->location);
		CHECK(t->warnings < (1u << TS_WARN_KIND_COUNT));
		if (t->hashed)
			CHECK(ts_model_find_task(m, t->pid, t->id) == t);
		CHECK(t->state_since_ns <= now);
		ts_task_times(t, now, &total, &busy, &sched, &idle);
		if (busy + sched + idle != total) {
			fprintf(stderr, "task %llu state %u: busy %llu + sched %llu + idle %llu != total %llu\n",
				(unsigned long long)t->id, t->state, (unsigned long long)busy,
				(unsigned long long)sched, (unsigned long long)idle,
				(unsigned long long)total);
			test_failures++;
		}
		CHECK(t->poll_hist.count == t->polls);
		CHECK(t->state == TS_TASK_RUNNING || t->poll_tid == 0);
	}
	threads = ts_model_threads(m, &n);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(threads[i]->index, i);
		CHECK(ts_model_find_thread(m, threads[i]->pid, threads[i]->tid) == threads[i]);
		CHECK(threads[i]->polling || threads[i]->current_task == 0);
	}
	res = ts_model_resources(m, &n);
	for (size_t i = 0; i < n; i++) {
		const struct ts_resource *r = res[i];

		CHECK_EQ(r->index, i);
		CHECK(ts_model_find_resource(m, r->pid, r->id) == r);
		CHECK_EQ(r->waiters, r->wait_len);
		CHECK(r->wait_len <= r->wait_cap);
		CHECK(r->holders > 0 || (r->holder_task == 0 && r->holder_tid == 0));
		CHECK(r->contentions <= r->acquisitions);
	}
	for (size_t i = 0; i < R.n_polls; i++)
		CHECK(R.polls[i].end_ns >= R.polls[i].start_ns);
	for (size_t i = 0; i < R.n_locks; i++) {
		CHECK(R.locks[i].released_ns >= R.locks[i].acquired_ns);
		CHECK(R.locks[i].wait_start_ns <= R.locks[i].acquired_ns);
	}
	polls_seen += R.n_polls;
	locks_seen += R.n_locks;
	R.n_polls = R.n_locks = 0;
}

int main(void)
{
	static const char *const names[] = { NULL, "", "a", "worker-1", "db", "x.c:12" };
	struct ts_model_config cfg;
	struct ts_model *m;
	struct ts_model_stats st;
	uint64_t base = 1000000, max_ts = 0;

	ts_model_config_default(&cfg);
	cfg.retention_ns = 200 * US;
	cfg.lints.long_poll_ns = 2 * US;
	cfg.lints.lost_waker_grace_ns = 5 * US;
	cfg.lints.never_yielded_ns = 20 * US;
	cfg.lints.blocked_worker_ns = 10 * US;
	cfg.lints.contended_lock_ns = 1 * US;
	cfg.lints.self_wake_min_wakes = 3;
	m = model_with(&R, &cfg);
	for (int i = 0; i < 300000; i++) {
		uint64_t x = next(), y = next();
		struct ts_event ev = {
			.pid = PID + (uint32_t)(x % 97 == 0),
			.tid = (uint32_t)(y % 9),                 /* 0: no thread */
			.type = (uint16_t)(x % 100 < 97 ? 1 + (x >> 8) % TS_EV_TYPE_MAX : (x >> 8) % 1000),
			.flags = (uint16_t)((y >> 8) & 7),
			.kind = (uint32_t)((y >> 16) % 6),
			.id = 1 + (y >> 24) % 48,
			.arg = (x >> 32) % 4,
			.name = names[(x >> 20) % 6],
			.location = names[(y >> 40) % 6],
		};

		base += 50;
		/* mostly in order, sometimes up to 3 us early */
		ev.ts = base - ((x >> 40) % 8 == 0 ? (y >> 48) % 3000 : 0);
		if (ev.ts > max_ts)
			max_ts = ev.ts;
		ts_model_apply(m, &ev);
		if (i % 1000 == 999) {
			ts_model_tick(m, max_ts);
			check_invariants(m, max_ts);
			R.n_warnings = 0;
			if (test_failures > 20)
				break;
		}
	}
	ts_model_stats(m, &st);
	printf("events %llu, late %llu, unmatched poll ends %llu, stale %llu, reused %llu, evicted %llu, "
	       "ghosts %llu, poll spans %llu, lock spans %llu\n",
	       (unsigned long long)st.events, (unsigned long long)st.late_events,
	       (unsigned long long)st.unmatched_poll_ends, (unsigned long long)st.stale_events,
	       (unsigned long long)st.reused_ids, (unsigned long long)st.tasks_evicted,
	       (unsigned long long)st.ghosts_evicted, (unsigned long long)polls_seen,
	       (unsigned long long)locks_seen);
	/* the stream really exercised the model */
	CHECK(st.late_events > 0 && st.reused_ids > 0 && st.tasks_evicted > 0);
	CHECK(polls_seen > 1000 && locks_seen > 100 && st.unknown_types > 0 && st.bad_values > 0);
	for (uint32_t k = 0; k < TS_WARN_KIND_COUNT; k++)
		if (ts_model_warning_count(m, k))
			printf("  %s: %llu\n", ts_warning_kind_name(k),
			       (unsigned long long)ts_model_warning_count(m, k));
	ts_model_flush(m);
	ts_model_free(m);
	return test_result("test-model-random");
}
