/*
 * test-lints.c: each lint fires on its footgun sequence and stays quiet on
 * the matching healthy one, through the model (as the product runs them)
 * and as pure functions; thresholds and --allow/--deny are honoured; state
 * lints fire once per task, not on every tick; warning names, help and
 * duration formatting.
 */
#include "model-test.h"

#include <errno.h>

static struct rec R;

static struct ts_model *model_cfg(void (*tweak)(struct ts_model_config *))
{
	struct ts_model_config cfg;

	ts_model_config_default(&cfg);
	if (tweak)
		tweak(&cfg);
	return model_with(&R, &cfg);
}

/* ---- names, help, config ---- */

static void test_names_and_config(void)
{
	static const char *const names[] = {
		"long_poll", "never_yielded", "lost_waker", "self_wakes", "blocking_in_poll",
		"blocked_worker", "lock_held_across_await", "contended_lock", "loop_stall",
		"task_panicked", "events_dropped",
	};
	struct ts_lint_config cfg;
	char buf[32];

	CHECK_EQ(sizeof(names) / sizeof(names[0]), TS_WARN_KIND_COUNT);
	for (uint32_t k = 0; k < TS_WARN_KIND_COUNT; k++) {
		CHECK(strcmp(ts_warning_kind_name(k), names[k]) == 0);
		CHECK_EQ(ts_warning_kind_parse(names[k]), k);
		CHECK(ts_warning_kind_help(k) && strlen(ts_warning_kind_help(k)) > 40);
		for (uint32_t j = 0; j < k; j++)
			CHECK(strcmp(ts_warning_kind_help(k), ts_warning_kind_help(j)) != 0);
	}
	CHECK(ts_warning_kind_name(TS_WARN_KIND_COUNT) == NULL);
	CHECK(ts_warning_kind_help(TS_WARN_KIND_COUNT) == NULL);
	CHECK_EQ(ts_warning_kind_parse("long-poll"), (unsigned long long)-EINVAL);
	CHECK_EQ(ts_warning_kind_parse(NULL), (unsigned long long)-EINVAL);

	ts_lint_config_default(&cfg);
	CHECK_EQ(cfg.long_poll_ns, 10 * MS);
	CHECK_EQ(cfg.never_yielded_ns, 1 * SEC);
	CHECK_EQ(cfg.lost_waker_grace_ns, 100 * MS);
	CHECK(cfg.self_wake_ratio == 0.5);
	CHECK_EQ(cfg.self_wake_min_wakes, 10);
	CHECK_EQ(cfg.blocked_worker_ns, 100 * MS);
	for (uint32_t k = 0; k < TS_WARN_KIND_COUNT; k++)
		CHECK(cfg.enabled & (1u << k));
	CHECK(ts_lint_config_set(&cfg, "long_poll", false) == 0);
	CHECK(!(cfg.enabled & (1u << TS_WARN_LONG_POLL)));
	CHECK(cfg.enabled & (1u << TS_WARN_LOST_WAKER));
	CHECK(!ts_lint_long_poll(&cfg, 1 * SEC));
	CHECK(ts_lint_config_set(&cfg, "long_poll", true) == 0);
	CHECK(ts_lint_long_poll(&cfg, 1 * SEC));
	CHECK(ts_lint_config_set(&cfg, "no_such_lint", false) == -EINVAL);
	CHECK(ts_lint_config_set(&cfg, "all", false) == 0);
	CHECK_EQ(cfg.enabled, 0);
	CHECK(ts_lint_config_set(&cfg, "all", true) == 0);
	CHECK_EQ(cfg.enabled, (1u << TS_WARN_KIND_COUNT) - 1);

	/* thresholds are inclusive */
	CHECK(ts_lint_long_poll(&cfg, 10 * MS));
	CHECK(!ts_lint_long_poll(&cfg, 10 * MS - 1));
	CHECK(ts_lint_contended_lock(&cfg, 10 * MS));
	CHECK(!ts_lint_contended_lock(&cfg, 9 * MS));
	CHECK(ts_lint_events_dropped(&cfg, 1));
	CHECK(!ts_lint_events_dropped(&cfg, 0));

	ts_warning_format_duration(buf, sizeof(buf), 152300 * US);
	CHECK(strcmp(buf, "152.3 ms") == 0);
	ts_warning_format_duration(buf, sizeof(buf), 10 * MS);
	CHECK(strcmp(buf, "10 ms") == 0);
	ts_warning_format_duration(buf, sizeof(buf), 1500 * MS);
	CHECK(strcmp(buf, "1.5 s") == 0);
	ts_warning_format_duration(buf, sizeof(buf), 850);
	CHECK(strcmp(buf, "850 ns") == 0);
	ts_warning_format_duration(buf, sizeof(buf), 12 * US + 960);
	CHECK(strcmp(buf, "13 us") == 0);
	ts_warning_format_duration(buf, 4, 152300 * US);
	CHECK(strcmp(buf, "152") == 0);
}

/* ---- long_poll ---- */

static void one_poll(struct ts_model *m, uint64_t id, uint64_t start, uint64_t len, uint32_t kind)
{
	ev_full(m, TS_EV_SPAWN, start - 1, 2, id, 0, kind, 0, "poller", "p.c:1");
	poll_begin(m, start, 3, id);
	poll_end(m, start + len, 3, id, 1);
}

static void threshold_5ms(struct ts_model_config *cfg)
{
	cfg->lints.long_poll_ns = 5 * MS;
}

static void deny_long_poll(struct ts_model_config *cfg)
{
	ts_lint_config_set(&cfg->lints, "long_poll", false);
}

static void test_long_poll(void)
{
	struct ts_model *m = model_cfg(NULL);
	const struct ts_warning *w;

	one_poll(m, 1, 1 * SEC, 9 * MS, TS_KIND_TASK);
	CHECK_EQ(rec_count(&R, TS_WARN_LONG_POLL, 0), 0);
	one_poll(m, 2, 2 * SEC, 11 * MS, TS_KIND_TASK);
	CHECK_EQ(rec_count(&R, TS_WARN_LONG_POLL, 0), 1);
	w = rec_last(&R, TS_WARN_LONG_POLL);
	CHECK(w && w->task_id == 2 && w->tid == 3 && w->pid == PID);
	CHECK(w && w->duration_ns == 11 * MS && w->ts_ns == 2 * SEC + 11 * MS);
	CHECK(w && strcmp(w->detail, "poll took 11 ms (threshold 10 ms)") == 0);
	CHECK(ts_model_find_task(m, PID, 2)->warnings & (1u << TS_WARN_LONG_POLL));
	CHECK(!(ts_model_find_task(m, PID, 1)->warnings & (1u << TS_WARN_LONG_POLL)));
	/* an event lint: every long poll is reported */
	poll_begin(m, 3 * SEC, 3, 2);
	poll_end(m, 3 * SEC + 20 * MS, 3, 2, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LONG_POLL, 2), 2);
	CHECK_EQ(ts_model_warning_count(m, TS_WARN_LONG_POLL), 2);
	/* a blocking task's one long "poll" is its job, not a footgun */
	one_poll(m, 3, 4 * SEC, 500 * MS, TS_KIND_BLOCKING);
	CHECK_EQ(rec_count(&R, TS_WARN_LONG_POLL, 3), 0);
	ts_model_free(m);

	m = model_cfg(threshold_5ms);
	one_poll(m, 1, 1 * SEC, 4 * MS, TS_KIND_TASK);
	one_poll(m, 2, 2 * SEC, 9 * MS, TS_KIND_TASK);
	CHECK_EQ(rec_count(&R, TS_WARN_LONG_POLL, 0), 1);
	CHECK_EQ(rec_count(&R, TS_WARN_LONG_POLL, 2), 1);
	ts_model_free(m);

	m = model_cfg(deny_long_poll);
	one_poll(m, 1, 1 * SEC, 11 * MS, TS_KIND_TASK);
	CHECK_EQ(rec_count(&R, TS_WARN_LONG_POLL, 0), 0);
	CHECK_EQ(ts_model_warning_count(m, TS_WARN_LONG_POLL), 0);
	CHECK_EQ(ts_model_find_task(m, PID, 1)->warnings, 0);
	ts_model_free(m);
}

/* ---- never_yielded and blocked_worker ---- */

static void test_never_yielded_and_blocked(void)
{
	struct ts_model *m = model_cfg(NULL);
	const struct ts_warning *w;

	ev_full(m, TS_EV_THREAD, 0, 3, 0, 0, TS_ROLE_WORKER, 0, "worker-1", NULL);
	spawn(m, 0, 2, 1, "spinner");
	poll_begin(m, 1 * SEC, 3, 1);
	ts_model_tick(m, 1 * SEC + 99 * MS);
	CHECK_EQ(R.n_warnings, 0);
	ts_model_tick(m, 1 * SEC + 100 * MS);
	CHECK_EQ(rec_count(&R, TS_WARN_BLOCKED_WORKER, 1), 1);
	w = rec_last(&R, TS_WARN_BLOCKED_WORKER);
	CHECK(w && w->tid == 3 && w->duration_ns == 100 * MS);
	CHECK(w && strcmp(w->detail, "thread 3 'worker-1' stuck in one poll of task 1 'spinner' for "
				     "100 ms (threshold 100 ms)") == 0);
	ts_model_tick(m, 1 * SEC + 999 * MS);
	CHECK_EQ(rec_count(&R, TS_WARN_NEVER_YIELDED, 0), 0);
	ts_model_tick(m, 2 * SEC);
	CHECK_EQ(rec_count(&R, TS_WARN_NEVER_YIELDED, 1), 1);
	w = rec_last(&R, TS_WARN_NEVER_YIELDED);
	CHECK(w && w->tid == 3 && w->duration_ns == 1 * SEC && w->ts_ns == 2 * SEC);
	/* once, not at every tick */
	for (uint64_t i = 1; i <= 20; i++)
		ts_model_tick(m, 2 * SEC + i * 100 * MS);
	CHECK_EQ(rec_count(&R, TS_WARN_NEVER_YIELDED, 1), 1);
	CHECK_EQ(rec_count(&R, TS_WARN_BLOCKED_WORKER, 1), 1);
	poll_end(m, 5 * SEC, 3, 1, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LONG_POLL, 1), 1);
	/* blocked_worker is per poll: the next long poll on the thread is news */
	waker_clone(m, 5 * SEC, 3, 1);
	wake(m, 6 * SEC, 2, 1, 0);
	poll_begin(m, 6 * SEC, 3, 1);
	ts_model_tick(m, 6 * SEC + 150 * MS);
	CHECK_EQ(rec_count(&R, TS_WARN_BLOCKED_WORKER, 1), 2);
	poll_end(m, 6 * SEC + 151 * MS, 3, 1, 0);

	/* healthy: many short polls over a long time, on a worker */
	spawn(m, 10 * SEC, 2, 2, "healthy");
	for (uint64_t i = 0; i < 100; i++) {
		uint64_t t = 10 * SEC + i * 50 * MS;

		if (i)
			wake(m, t - 1, 2, 2, 1);
		poll_begin(m, t, 4, 2);
		poll_end(m, t + 2 * MS, 4, 2, 0);
		ts_model_tick(m, t + 1 * MS);
		ts_model_tick(m, t + 30 * MS);
	}
	CHECK_EQ(rec_count(&R, TS_WARN_NEVER_YIELDED, 2), 0);
	CHECK_EQ(rec_count(&R, TS_WARN_BLOCKED_WORKER, 2), 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LONG_POLL, 2), 0);

	/* a poll the ticks missed (between two ticks, or a collector that fell
	 * behind) is judged at its end, stamped when it crossed the threshold */
	spawn(m, 12 * SEC, 2, 4, "late");
	poll_begin(m, 15 * SEC, 4, 4);
	poll_end(m, 15 * SEC + 99 * MS, 4, 4, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_BLOCKED_WORKER, 4), 0);
	wake(m, 16 * SEC - 1, 2, 4, 1);
	poll_begin(m, 16 * SEC, 4, 4);
	poll_end(m, 16 * SEC + 150 * MS, 4, 4, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_BLOCKED_WORKER, 4), 1);
	w = rec_last(&R, TS_WARN_BLOCKED_WORKER);
	CHECK(w && w->tid == 4 && w->ts_ns == 16 * SEC + 100 * MS && w->duration_ns == 100 * MS);
	ts_model_tick(m, 17 * SEC);
	CHECK_EQ(rec_count(&R, TS_WARN_BLOCKED_WORKER, 4), 1);

	/* a blocking-pool thread is expected to block */
	ev_full(m, TS_EV_THREAD, 20 * SEC, 5, 0, 0, TS_ROLE_BLOCKING, 0, "blocking-0", NULL);
	spawn(m, 20 * SEC, 2, 3, "spawn_blocking");
	poll_begin(m, 20 * SEC, 5, 3);
	ts_model_tick(m, 23 * SEC);
	CHECK_EQ(rec_count(&R, TS_WARN_BLOCKED_WORKER, 3), 0);
	ts_model_free(m);
}

/* ---- lost_waker ---- */

static void pend(struct ts_model *m, uint64_t id, uint64_t start, bool keep_waker)
{
	poll_begin(m, start, 3, id);
	if (keep_waker)
		waker_clone(m, start + 1, 3, id);
	poll_end(m, start + 2, 3, id, 0);
}

static void test_lost_waker(void)
{
	struct ts_model *m = model_cfg(NULL);
	const struct ts_warning *w;

	spawn(m, 0, 2, 1, "lost-waker");
	pend(m, 1, 1 * MS, false);                 /* idle from 1 ms + 2 ns, no waker */
	spawn(m, 0, 2, 2, "kept-waker");
	pend(m, 2, 1 * MS, true);
	spawn(m, 0, 2, 3, "negative");             /* a lost clone event: count < 0 */
	pend(m, 3, 1 * MS, false);
	waker_drop(m, 1 * MS + 5, 3, 3);
	spawn(m, 0, 2, 4, "finished");             /* ready, waiting for its drop */
	poll_begin(m, 1 * MS, 3, 4);
	poll_end(m, 1 * MS + 2, 3, 4, 1);
	spawn(m, 0, 2, 5, "never-polled");         /* scheduled, no waker needed */

	ts_model_tick(m, 1 * MS + 2 + 99 * MS);
	CHECK_EQ(rec_count(&R, TS_WARN_LOST_WAKER, 0), 0);
	ts_model_tick(m, 1 * MS + 2 + 100 * MS);
	CHECK_EQ(rec_count(&R, TS_WARN_LOST_WAKER, 0), 1);
	CHECK_EQ(rec_count(&R, TS_WARN_LOST_WAKER, 1), 1);
	w = rec_last(&R, TS_WARN_LOST_WAKER);
	CHECK(w && w->duration_ns == 100 * MS);
	CHECK(w && strcmp(w->detail, "idle for 100 ms with no waker left (grace 100 ms): nothing can "
				     "wake it") == 0);
	for (uint64_t i = 1; i <= 50; i++)
		ts_model_tick(m, 200 * MS * i);
	CHECK_EQ(rec_count(&R, TS_WARN_LOST_WAKER, 0), 1);
	CHECK(ts_model_find_task(m, PID, 1)->warnings == 1u << TS_WARN_LOST_WAKER);

	/* the kept waker is used: woken, polled, pending again with a fresh clone */
	wake(m, 11 * SEC, 7, 2, 0);
	pend(m, 2, 11 * SEC + 10, true);
	ts_model_tick(m, 20 * SEC);
	CHECK_EQ(rec_count(&R, TS_WARN_LOST_WAKER, 0), 1);
	ts_model_free(m);

	/* a longer grace is honoured */
	{
		struct ts_model_config cfg;

		ts_model_config_default(&cfg);
		cfg.lints.lost_waker_grace_ns = 500 * MS;
		m = model_with(&R, &cfg);
		spawn(m, 0, 2, 1, "lost-waker");
		pend(m, 1, 0, false);
		ts_model_tick(m, 400 * MS);
		CHECK_EQ(rec_count(&R, TS_WARN_LOST_WAKER, 0), 0);
		ts_model_tick(m, 600 * MS);
		CHECK_EQ(rec_count(&R, TS_WARN_LOST_WAKER, 0), 1);
		ts_model_free(m);
	}
}

/* ---- self_wakes ---- */

/* `n` polls; in the first `self` of them the task wakes itself, the
 * others are woken from another thread while idle. */
static void wake_pattern(struct ts_model *m, uint64_t id, unsigned n, unsigned self)
{
	uint64_t t = id * SEC;

	spawn(m, t, 2, id, "waker-pattern");
	for (unsigned i = 0; i < n; i++, t += 10 * US) {
		poll_begin(m, t, 3, id);
		if (i < self)
			wake(m, t + 1, 3, id, 1);
		poll_end(m, t + 2, 3, id, 0);
		if (i >= self)
			wake(m, t + 5, 4, id, 1);
	}
}

static void ratio_70(struct ts_model_config *cfg)
{
	cfg->lints.self_wake_ratio = 0.7;
}

static void test_self_wakes(void)
{
	struct ts_model *m = model_cfg(NULL);
	const struct ts_warning *w;

	wake_pattern(m, 1, 10, 6);   /* 60% */
	wake_pattern(m, 2, 10, 1);   /* 10% */
	wake_pattern(m, 3, 9, 9);    /* 100%, but too few wakes to judge */
	wake_pattern(m, 4, 10, 5);   /* exactly 50%: not above */
	CHECK_EQ(ts_model_find_task(m, PID, 1)->self_wakes, 6);
	CHECK_EQ(ts_model_find_task(m, PID, 1)->wakes, 10);
	CHECK_EQ(ts_model_find_task(m, PID, 2)->self_wakes, 1);
	ts_model_tick(m, 10 * SEC);
	ts_model_tick(m, 11 * SEC);
	CHECK_EQ(rec_count(&R, TS_WARN_SELF_WAKES, 0), 1);
	CHECK_EQ(rec_count(&R, TS_WARN_SELF_WAKES, 1), 1);
	w = rec_last(&R, TS_WARN_SELF_WAKES);
	CHECK(w && strcmp(w->detail, "6 of 10 wakes (60%) were self-wakes (threshold 50%)") == 0);
	/* the 10th wake makes task 3 judgeable */
	poll_begin(m, 20 * SEC, 3, 3);
	wake(m, 20 * SEC + 1, 3, 3, 1);
	poll_end(m, 20 * SEC + 2, 3, 3, 0);
	ts_model_tick(m, 21 * SEC);
	CHECK_EQ(rec_count(&R, TS_WARN_SELF_WAKES, 3), 1);
	CHECK_EQ(rec_count(&R, TS_WARN_SELF_WAKES, 0), 2);
	ts_model_free(m);

	m = model_cfg(ratio_70);
	wake_pattern(m, 1, 10, 6);
	wake_pattern(m, 2, 10, 8);
	ts_model_tick(m, 10 * SEC);
	CHECK_EQ(rec_count(&R, TS_WARN_SELF_WAKES, 1), 0);
	CHECK_EQ(rec_count(&R, TS_WARN_SELF_WAKES, 2), 1);
	ts_model_free(m);
}

/* ---- locks ---- */

static void lock_poll(struct ts_model *m, uint64_t id, uint64_t t, bool release_first)
{
	spawn(m, t, 2, id, "locker");
	poll_begin(m, t + 10, 3, id);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, t + 20, 3, 900 + id, 0);
	if (release_first)
		lock_ev(m, TS_EV_LOCK_RELEASE, t + 30, 3, 900 + id, 0);
	waker_clone(m, t + 35, 3, id);
	poll_end(m, t + 40, 3, id, 0);
}

static void test_locks(void)
{
	struct ts_model *m = model_cfg(NULL);
	const struct ts_warning *w;

	ev_full(m, TS_EV_RESOURCE_NEW, 0, 2, 901, 0, TS_RES_MUTEX, 0, "db", "demo.c:88");
	lock_poll(m, 1, 1000, false);
	/* reported when someone waits for it (naming them), not before */
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 1), 0);
	lock_ev(m, TS_EV_LOCK_WAIT, 1100, 9, 901, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 1), 1);
	w = rec_last(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT);
	CHECK(w && strcmp(w->detail, "task 1 'locker' holds mutex 'db' (demo.c:88) across await; "
			  "waiting: thread 9") == 0);
	CHECK(w && w->duration_ns == 80 && w->tid == 3 && w->ts_ns == 1100);
	lock_ev(m, TS_EV_LOCK_RELEASE, 1150, 3, 901, 0);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 1150, 9, 901, 0);
	lock_ev(m, TS_EV_LOCK_RELEASE, 1160, 9, 901, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 0), 1);   /* once per hold */
	lock_poll(m, 2, 2000, true);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 2), 0);
	/* taken outside any poll: no task holds it across an await */
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 3000, 8, 990, 0);
	spawn(m, 3000, 2, 3, "other");
	pend(m, 3, 3100, true);
	CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 0), 1);

	/* contended_lock: a wait of 11 ms is worth a word, 9 ms is not */
	lock_ev(m, TS_EV_LOCK_WAIT, 4 * SEC, 9, 990, 0);
	lock_ev(m, TS_EV_LOCK_RELEASE, 4 * SEC + 9 * MS, 8, 990, 0);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 4 * SEC + 9 * MS, 9, 990, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_CONTENDED_LOCK, 0), 0);
	lock_ev(m, TS_EV_LOCK_WAIT, 5 * SEC, 8, 990, 0);
	lock_ev(m, TS_EV_LOCK_RELEASE, 5 * SEC + 11 * MS, 9, 990, 0);
	lock_ev(m, TS_EV_LOCK_ACQUIRED, 5 * SEC + 11 * MS, 8, 990, 0);
	CHECK_EQ(rec_count(&R, TS_WARN_CONTENDED_LOCK, 0), 1);
	w = rec_last(&R, TS_WARN_CONTENDED_LOCK);
	CHECK(w && w->tid == 8 && w->duration_ns == 11 * MS);
	CHECK(w && strcmp(w->detail, "waited 11 ms for mutex 990, last held by thread 9 (threshold 10 ms)") == 0);
	ts_model_free(m);

	{
		struct ts_model_config cfg;

		ts_model_config_default(&cfg);
		CHECK(ts_lint_config_set(&cfg.lints, "lock_held_across_await", false) == 0);
		m = model_with(&R, &cfg);
		lock_poll(m, 1, 1000, false);
		CHECK_EQ(rec_count(&R, TS_WARN_LOCK_HELD_ACROSS_AWAIT, 0), 0);
		ts_model_free(m);
	}
}

/* ---- task_panicked and events_dropped ---- */

static void test_panicked_and_dropped(void)
{
	struct ts_model *m = model_cfg(NULL);
	const struct ts_warning *w;

	one_poll(m, 1, 1 * SEC, 1 * MS, TS_KIND_TASK);
	task_drop(m, 1 * SEC + 2 * MS, 2, 1, TS_OUTCOME_OK);
	one_poll(m, 2, 2 * SEC, 1 * MS, TS_KIND_TASK);
	task_drop(m, 2 * SEC + 2 * MS, 2, 2, TS_OUTCOME_CANCELLED);
	CHECK_EQ(rec_count(&R, TS_WARN_TASK_PANICKED, 0), 0);
	one_poll(m, 3, 3 * SEC, 1 * MS, TS_KIND_TASK);
	task_drop(m, 3 * SEC + 2 * MS, 2, 3, TS_OUTCOME_PANICKED);
	CHECK_EQ(rec_count(&R, TS_WARN_TASK_PANICKED, 3), 1);
	w = rec_last(&R, TS_WARN_TASK_PANICKED);
	CHECK(w && w->ts_ns == 3 * SEC + 2 * MS && w->tid == 2);
	CHECK(w && strcmp(w->detail, "task 3 'poller' (p.c:1) panicked after 1 poll") == 0);
	CHECK(ts_lint_task_panicked(&ts_model_config(m)->lints, ts_model_find_task(m, PID, 3)));
	CHECK(!ts_lint_task_panicked(&ts_model_config(m)->lints, ts_model_find_task(m, PID, 2)));
	/* ticks do not repeat it */
	ts_model_tick(m, 4 * SEC);
	ts_model_tick(m, 5 * SEC);
	CHECK_EQ(rec_count(&R, TS_WARN_TASK_PANICKED, 0), 1);

	/* events_dropped: nothing lost, nothing said */
	ts_model_tick(m, 6 * SEC);
	CHECK_EQ(rec_count(&R, TS_WARN_EVENTS_DROPPED, 0), 0);
	ev_full(m, TS_EV_DROPPED, 6 * SEC, 3, 0, 0, 0, 17, NULL, NULL);
	ts_model_tick(m, 7 * SEC);
	ts_model_tick(m, 8 * SEC);
	CHECK_EQ(rec_count(&R, TS_WARN_EVENTS_DROPPED, 0), 1);
	ts_model_free(m);

	{
		struct ts_model_config cfg;

		ts_model_config_default(&cfg);
		CHECK(ts_lint_config_set(&cfg.lints, "task_panicked", false) == 0);
		CHECK(ts_lint_config_set(&cfg.lints, "events_dropped", false) == 0);
		m = model_with(&R, &cfg);
		one_poll(m, 3, 3 * SEC, 1 * MS, TS_KIND_TASK);
		task_drop(m, 3 * SEC + 2 * MS, 2, 3, TS_OUTCOME_PANICKED);
		ev_full(m, TS_EV_DROPPED, 6 * SEC, 3, 0, 0, 0, 17, NULL, NULL);
		ts_model_tick(m, 7 * SEC);
		CHECK_EQ(R.n_warnings, 0);
		CHECK_EQ(ts_model_dropped(m), 17); /* counted even when not warned about */
		ts_model_free(m);
	}
}

int main(void)
{
	test_names_and_config();
	test_long_poll();
	test_never_yielded_and_blocked();
	test_lost_waker();
	test_self_wakes();
	test_locks();
	test_panicked_and_dropped();
	return test_result("test-lints");
}
