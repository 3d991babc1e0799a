/*
 * model-test.h: what the model and lints tests share: a CHECK macro that
 * reports and counts failures, one-line event builders, and a sink that
 * records everything the model emits so tests can assert on it.
 */
#ifndef TASKSCOPE_TESTS_MODEL_TEST_H
#define TASKSCOPE_TESTS_MODEL_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/model.h"

static int test_failures;

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			test_failures++;                                                \
		}                                                                       \
	} while (0)

#define CHECK_EQ(a, b)                                                                  \
	do {                                                                            \
		unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
		if (a_ != b_) {                                                         \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %llu, expected %s == %llu\n", \
				__FILE__, __LINE__, #a, a_, #b, b_);                    \
			test_failures++;                                                \
		}                                                                       \
	} while (0)

#define MS 1000000ull
#define US 1000ull
#define SEC 1000000000ull
#define PID 100u

/* ---- a sink that keeps copies of everything ---- */

#define REC_MAX 4096

struct rec {
	struct ts_poll_span polls[REC_MAX];
	size_t n_polls;
	struct ts_lock_span locks[REC_MAX];
	size_t n_locks;
	struct ts_warning warnings[REC_MAX];
	size_t n_warnings;
	size_t n_task_changed;
	uint64_t last_task_changed;   /* id */
	struct ts_task last_task;     /* copy of the last task_changed */
	size_t n_thread_changed;
};

static inline void rec_poll(void *ctx, const struct ts_poll_span *s)
{
	struct rec *r = ctx;

	if (r->n_polls < REC_MAX)
		r->polls[r->n_polls++] = *s;
}

static inline void rec_lock(void *ctx, const struct ts_lock_span *s)
{
	struct rec *r = ctx;

	if (r->n_locks < REC_MAX)
		r->locks[r->n_locks++] = *s;
}

static inline void rec_warning(void *ctx, const struct ts_warning *w)
{
	struct rec *r = ctx;

	if (r->n_warnings < REC_MAX)
		r->warnings[r->n_warnings++] = *w;
}

static inline void rec_task(void *ctx, const struct ts_task *t)
{
	struct rec *r = ctx;

	r->n_task_changed++;
	r->last_task_changed = t->id;
	r->last_task = *t;
}

static inline void rec_thread(void *ctx, const struct ts_thread *t)
{
	struct rec *r = ctx;

	(void)t;
	r->n_thread_changed++;
}

static inline struct ts_model_sink rec_sink(struct rec *r)
{
	return (struct ts_model_sink){
		.ctx = r, .poll_span = rec_poll, .lock_span = rec_lock, .task_changed = rec_task,
		.thread_changed = rec_thread, .warning = rec_warning,
	};
}

/* Warnings of one kind recorded so far (for task `task_id`, or any when 0). */
static inline size_t rec_count(const struct rec *r, uint32_t kind, uint64_t task_id)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_warnings; i++)
		if (r->warnings[i].kind == kind && (!task_id || r->warnings[i].task_id == task_id))
			n++;
	return n;
}

static inline const struct ts_warning *rec_last(const struct rec *r, uint32_t kind)
{
	for (size_t i = r->n_warnings; i-- > 0;)
		if (r->warnings[i].kind == kind)
			return &r->warnings[i];
	return NULL;
}

/* A model with default config (or `cfg`) recording into `r`. */
static inline struct ts_model *model_with(struct rec *r, const struct ts_model_config *cfg)
{
	struct ts_model_sink sink = rec_sink(r);
	struct ts_model *m = NULL;

	memset(r, 0, sizeof(*r));
	sink = rec_sink(r);
	if (ts_model_new(cfg, &sink, &m) < 0) {
		fprintf(stderr, "ts_model_new failed\n");
		exit(1);
	}
	return m;
}

/* ---- event builders: one call per event ---- */

static inline void ev_full(struct ts_model *m, uint16_t type, uint64_t ts, uint32_t tid, uint64_t id,
			   uint16_t flags, uint32_t kind, uint64_t arg, const char *name,
			   const char *location)
{
	struct ts_event e = {
		.ts = ts, .pid = PID, .tid = tid, .type = type, .flags = flags, .kind = kind,
		.id = id, .arg = arg, .name = name, .location = location,
	};

	ts_model_apply(m, &e);
}

static inline void spawn(struct ts_model *m, uint64_t ts, uint32_t tid, uint64_t id, const char *name)
{
	ev_full(m, TS_EV_SPAWN, ts, tid, id, 0, TS_KIND_TASK, 0, name, "test.c:1");
}

static inline void poll_begin(struct ts_model *m, uint64_t ts, uint32_t tid, uint64_t id)
{
	ev_full(m, TS_EV_POLL_BEGIN, ts, tid, id, 0, 0, 0, NULL, NULL);
}

static inline void poll_end(struct ts_model *m, uint64_t ts, uint32_t tid, uint64_t id, int ready)
{
	ev_full(m, TS_EV_POLL_END, ts, tid, id, ready ? TS_EVF_READY : 0, 0, 0, NULL, NULL);
}

static inline void wake(struct ts_model *m, uint64_t ts, uint32_t tid, uint64_t id, int by_ref)
{
	ev_full(m, TS_EV_WAKE, ts, tid, id, by_ref ? TS_EVF_BY_REF : 0, 0, 0, NULL, NULL);
}

static inline void waker_clone(struct ts_model *m, uint64_t ts, uint32_t tid, uint64_t id)
{
	ev_full(m, TS_EV_WAKER_CLONE, ts, tid, id, 0, 0, 0, NULL, NULL);
}

static inline void waker_drop(struct ts_model *m, uint64_t ts, uint32_t tid, uint64_t id)
{
	ev_full(m, TS_EV_WAKER_DROP, ts, tid, id, 0, 0, 0, NULL, NULL);
}

static inline void task_drop(struct ts_model *m, uint64_t ts, uint32_t tid, uint64_t id, uint32_t outcome)
{
	ev_full(m, TS_EV_TASK_DROP, ts, tid, id, 0, outcome, 0, NULL, NULL);
}

static inline void lock_ev(struct ts_model *m, uint16_t type, uint64_t ts, uint32_t tid, uint64_t lock,
			   uint16_t flags)
{
	ev_full(m, type, ts, tid, lock, flags, 0, 0, NULL, NULL);
}

static inline int test_result(const char *name)
{
	if (test_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

#endif /* TASKSCOPE_TESTS_MODEL_TEST_H */
