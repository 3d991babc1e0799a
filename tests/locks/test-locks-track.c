/*
 * test-locks-track.c: the rules that turn BPF lock records into model
 * events (bpf/locks_track.c), with synthetic records and a real model
 * behind them: naming from the call site, a condition variable's futex
 * ignored, a hold the contended mode could not see begin reported from
 * its first waiter, a futex re-wait merged into one wait, full mode's
 * holds passed through (a holder named by a waiter before its own record
 * came counted once), malformed records counted. No kernel needed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/locks_track.h"
#include "collector/model.h"
#include "collector/strpool.h"
#include "tests/check.h"

#define PID 4242u
#define LOCK 0x7f0000001000ull
#define CONDVAR 0x7f0000002000ull
#define US 1000ull
#define MS 1000000ull

struct spans {
	struct ts_lock_span s[64];
	size_t n;
};

static void on_span(void *ctx, const struct ts_lock_span *span)
{
	struct spans *sp = ctx;

	if (sp->n < 64)
		sp->s[sp->n++] = *span;
}

/* The fake symbolizer: the lock's site is "take_lock" at pool.c:42; the
 * condition variable's site says it is not a lock. */
static int fake_name(void *ctx, const struct ts_locks_site *site, struct ts_locks_name *out)
{
	int *calls = ctx;

	(*calls)++;
	if (site->rec.addr == CONDVAR) {
		out->not_a_lock = true;
		return 0;
	}
	strcpy(out->name, "take_lock");
	strcpy(out->location, "pool.c:42");
	return 0;
}

static bool only_small_tids(void *ctx, uint32_t pid, uint32_t tid)
{
	return pid == PID && tid < 100;
}

static struct ts_locks_rec rec(uint16_t type, uint32_t tid, uint64_t addr, uint64_t ts, uint32_t owner)
{
	return (struct ts_locks_rec){ .ts = ts, .addr = addr, .pid = PID, .tid = tid, .owner = owner,
				      .type = type };
}

static void feed(struct ts_locks_track *t, struct ts_event_batch *b, struct ts_locks_rec r)
{
	CHECK(ts_locks_track_record(t, &r, sizeof(r), b) == 0);
}

static void site(struct ts_locks_track *t, struct ts_event_batch *b, uint32_t tid, uint64_t addr, uint64_t ts)
{
	struct ts_locks_site s;

	memset(&s, 0, sizeof(s));
	s.rec = rec(TS_LOCKS_REC_SITE, tid, addr, ts, 0);
	CHECK(ts_locks_track_record(t, &s, sizeof(s), b) == 0);
}

static size_t count(const struct ts_event_batch *b, uint16_t type, uint32_t tid)
{
	size_t n = 0;

	for (size_t i = 0; i < b->len; i++)
		n += b->events[i].type == type && (!tid || b->events[i].tid == tid);
	return n;
}

static void apply(struct ts_model *m, struct ts_event_batch *b)
{
	ts_event_batch_sort(b);
	for (size_t i = 0; i < b->len; i++)
		ts_model_apply(m, &b->events[i]);
	b->len = 0;
}

static void test_contended(void)
{
	struct ts_strpool *pool;
	struct ts_locks_track *t;
	struct ts_model *m;
	struct ts_model_config cfg;
	struct spans sp = { .n = 0 };
	struct ts_model_sink sink = { .ctx = &sp, .lock_span = on_span };
	struct ts_event_batch b;
	struct ts_resource *r;
	int calls = 0;

	ts_event_batch_init(&b);
	CHECK(ts_strpool_new(1 << 20, &pool) == 0);
	CHECK(ts_locks_track_new(pool, TS_LOCKS_CONTENDED, fake_name, &calls, &t) == 0);
	ts_model_config_default(&cfg);
	cfg.lints.contended_lock_ns = 1 * MS;
	CHECK(ts_model_new(&cfg, &sink, &m) == 0);

	/* thread 2 waits at 1 ms for the lock thread 1 took unseen */
	site(t, &b, 2, LOCK, 1 * MS);
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 2, LOCK, 1 * MS, 1));
	CHECK(count(&b, TS_EV_RESOURCE_NEW, 0) == 1);
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 1) == 1);   /* the holder, from the waiter's record */
	CHECK(count(&b, TS_EV_LOCK_WAIT, 2) == 1);
	CHECK(calls == 1);
	apply(m, &b);
	r = ts_model_find_resource(m, PID, LOCK);
	CHECK(r && !strcmp(r->name, "take_lock") && !strcmp(r->location, "pool.c:42"));
	CHECK(r && r->holder_tid == 1 && r->waiters == 1 && r->waiting_tids[0] == 2);

	/* thread 1 releases (futex wake) at 4 ms; thread 2's wait returns at 4.1 ms */
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 1, LOCK, 4 * MS, 0));
	feed(t, &b, rec(TS_LOCKS_REC_WAIT_END, 2, LOCK, 4 * MS + 100 * US, 0));
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 2) == 0);   /* held back: it may sleep again */
	ts_locks_track_flush(t, 4 * MS + 150 * US, false, &b);
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 2) == 0);
	ts_locks_track_flush(t, 5 * MS, false, &b);
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 2) == 1);
	apply(m, &b);
	CHECK(sp.n == 1 && sp.s[0].tid == 1 && sp.s[0].acquired_ns == 1 * MS && sp.s[0].released_ns == 4 * MS);
	CHECK(r->holder_tid == 2 && r->waiters == 0 && r->contentions == 1);
	CHECK(ts_model_warning_count(m, TS_WARN_CONTENDED_LOCK) == 1);   /* waited 3.1 ms > 1 ms */

	/* thread 3 waits; 2 releases; 3 is woken but 4 steals the lock, so 3
	 * sleeps again 50 us later: one wait, not two */
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 3, LOCK, 6 * MS, 2));
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 2, LOCK, 7 * MS, 0));
	feed(t, &b, rec(TS_LOCKS_REC_WAIT_END, 3, LOCK, 7 * MS + 10 * US, 0));
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 3, LOCK, 7 * MS + 60 * US, 4));
	CHECK(count(&b, TS_EV_LOCK_WAIT, 3) == 1);
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 3) == 0);
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 4) == 1);   /* the thief, seen by the re-wait */
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 4, LOCK, 8 * MS, 0));
	feed(t, &b, rec(TS_LOCKS_REC_WAIT_END, 3, LOCK, 8 * MS + 20 * US, 0));
	/* its own release proves the acquisition without waiting for the flush */
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 3, LOCK, 9 * MS, 0));
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 3) == 1);
	apply(m, &b);
	CHECK(r->contentions == 2);
	CHECK(r->acquisitions == 4);   /* 1, 2, 4, 3 */
	CHECK(sp.n == 4);
	CHECK(sp.n == 4 && sp.s[3].tid == 3 && sp.s[3].wait_start_ns == 6 * MS &&
	      sp.s[3].acquired_ns == 8 * MS + 20 * US && sp.s[3].released_ns == 9 * MS);
	CHECK(r->holders == 0);

	/* a holder tid that is no thread of the process (a futex without an
	 * owner field) is not believed */
	ts_locks_track_set_owner_check(t, only_small_tids, NULL);
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 5, LOCK, 9 * MS + 100, 123456));
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 123456) == 0 && count(&b, TS_EV_LOCK_WAIT, 5) == 1);
	feed(t, &b, rec(TS_LOCKS_REC_WAIT_END, 5, LOCK, 9 * MS + 200, 0));
	ts_locks_track_flush(t, 10 * MS, true, &b);
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 5, LOCK, 9 * MS + 300, 0));
	apply(m, &b);
	ts_locks_track_set_owner_check(t, NULL, NULL);

	/* a release nobody was seen to hold is not invented */
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 9, LOCK, 10 * MS, 0));
	CHECK(b.len == 0);

	/* a condition variable's futex: named once, then ignored */
	site(t, &b, 5, CONDVAR, 11 * MS);
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 5, CONDVAR, 11 * MS, 0));
	feed(t, &b, rec(TS_LOCKS_REC_WAIT_END, 5, CONDVAR, 12 * MS, 0));
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 6, CONDVAR, 12 * MS, 0));
	ts_locks_track_flush(t, 20 * MS, true, &b);
	CHECK(b.len == 0);
	CHECK(calls == 2);

	/* malformed records are refused and counted */
	{
		struct ts_locks_rec bad = rec(99, 1, LOCK, 13 * MS, 0);
		char shortrec[8] = { 0 };

		CHECK(ts_locks_track_record(t, &bad, sizeof(bad), &b) == -EINVAL);
		CHECK(ts_locks_track_record(t, shortrec, sizeof(shortrec), &b) == -EINVAL);
		bad = rec(TS_LOCKS_REC_SITE, 1, LOCK + 64, 13 * MS, 0);
		CHECK(ts_locks_track_record(t, &bad, sizeof(bad), &b) == 0); /* truncated SITE */
		CHECK(ts_locks_track_lost(t) == 3);
		CHECK(b.len == 0);
	}
	ts_model_free(m);
	ts_locks_track_free(t);
	ts_strpool_free(pool);
	ts_event_batch_fini(&b);
}

static void test_full(void)
{
	struct ts_strpool *pool;
	struct ts_locks_track *t;
	struct ts_event_batch b;
	struct ts_locks_rec a;

	ts_event_batch_init(&b);
	CHECK(ts_strpool_new(1 << 20, &pool) == 0);
	CHECK(ts_locks_track_new(pool, TS_LOCKS_FULL, NULL, NULL, &t) == 0);
	/* attached while thread 1 held it: the first waiter names the holder */
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 2, LOCK, 1 * MS, 1));
	CHECK(count(&b, TS_EV_RESOURCE_NEW, 0) == 1);   /* unnamed: no SITE */
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 1) == 1);
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 1, LOCK, 2 * MS, 0));
	a = rec(TS_LOCKS_REC_ACQUIRED, 2, LOCK, 2 * MS + 5 * US, 0);
	a.start = 1 * MS;
	feed(t, &b, a);
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 2, LOCK, 3 * MS, 0));
	/* from now on every hold is seen: a waiter's owner adds nothing */
	feed(t, &b, rec(TS_LOCKS_REC_ACQUIRED, 3, LOCK, 4 * MS, 0));
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 5, LOCK, 4 * MS + 1, 7));
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 7) == 0);
	/* a lock that is not pthread's, seen on the futex path in full mode:
	 * the futex rules (a wake by a thread not known to hold it is no hold) */
	{
		struct ts_locks_rec w = rec(TS_LOCKS_REC_RELEASE, 9, LOCK + 256, 4 * MS + 10, 0);
		size_t before = b.len;

		w.flags = TS_LOCKS_F_FUTEX;
		feed(t, &b, w);
		CHECK(count(&b, TS_EV_LOCK_RELEASE, 9) == 0 && b.len == before + 1);   /* announced only */
	}
	/* a shared read lock passes its flag through */
	a = rec(TS_LOCKS_REC_ACQUIRED, 6, LOCK + 128, 5 * MS, 0);
	a.flags = TS_LOCKS_F_RWLOCK | TS_LOCKS_F_SHARED;
	feed(t, &b, a);
	CHECK(b.len > 0 && b.events[b.len - 1].type == TS_EV_LOCK_ACQUIRED &&
	      (b.events[b.len - 1].flags & TS_EVF_SHARED));
	CHECK(count(&b, TS_EV_RESOURCE_NEW, 0) == 3 && b.events[b.len - 2].kind == TS_RES_RWLOCK);
	CHECK(count(&b, TS_EV_LOCK_RELEASE, 0) == 2);
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 0) == 4);
	ts_locks_track_free(t);
	ts_strpool_free(pool);
	ts_event_batch_fini(&b);
}

/* Full mode: the holder a waiter read from a fresh lock may still be on
 * its way out of its lock call, its own ACQUIRED stamped after the
 * waiter's WAIT (or drained after it). The waiter's record names it first;
 * its own record must not make that hold a second acquisition (lockpool
 * saw 101 acquisitions for 100 holds). A hold that really began before the
 * attach is still reported from its first waiter. */
static void test_full_late_owner(void)
{
	struct ts_strpool *pool;
	struct ts_locks_track *t;
	struct ts_model *m;
	struct ts_model_config cfg;
	struct spans sp = { .n = 0 };
	struct ts_model_sink sink = { .ctx = &sp, .lock_span = on_span };
	struct ts_event_batch b;
	struct ts_locks_rec a;
	struct ts_resource *r;
	const uint64_t lock2 = LOCK + 512, lock3 = LOCK + 1024;

	ts_event_batch_init(&b);
	CHECK(ts_strpool_new(1 << 20, &pool) == 0);
	CHECK(ts_locks_track_new(pool, TS_LOCKS_FULL, NULL, NULL, &t) == 0);
	ts_model_config_default(&cfg);
	CHECK(ts_model_new(&cfg, &sink, &m) == 0);

	/* in one drain: 2 waits at 1 ms naming 1, whose ACQUIRED says 1.01 ms */
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 2, LOCK, 1 * MS, 1));
	feed(t, &b, rec(TS_LOCKS_REC_ACQUIRED, 1, LOCK, 1 * MS + 10 * US, 0));
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 1) == 1);
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 1, LOCK, 3 * MS, 0));
	a = rec(TS_LOCKS_REC_ACQUIRED, 2, LOCK, 3 * MS + 5 * US, 0);
	a.start = 1 * MS;
	feed(t, &b, a);
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 2, LOCK, 4 * MS, 0));
	/* 1 again, later: a new hold, counted */
	feed(t, &b, rec(TS_LOCKS_REC_ACQUIRED, 1, LOCK, 5 * MS, 0));
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 1, LOCK, 6 * MS, 0));
	apply(m, &b);
	r = ts_model_find_resource(m, PID, LOCK);
	CHECK(r && r->acquisitions == 3 && r->contentions == 1 && r->holders == 0);
	CHECK(sp.n == 3 && sp.s[0].tid == 1 && sp.s[1].tid == 2 && sp.s[1].wait_start_ns == 1 * MS &&
	      sp.s[2].tid == 1 && sp.s[2].acquired_ns == 5 * MS);

	/* across drains: the owner's ACQUIRED reaches the ring buffer after
	 * the drain that processed the wait (stamped before its cutoff) */
	a = rec(TS_LOCKS_REC_WAIT, 4, lock2, 10 * MS, 3);
	CHECK(ts_locks_track_push(t, &a, sizeof(a)) == 0);
	ts_locks_track_process(t, 11 * MS, false, &b);
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 3) == 1);
	a = rec(TS_LOCKS_REC_ACQUIRED, 3, lock2, 10 * MS + 20 * US, 0);
	CHECK(ts_locks_track_push(t, &a, sizeof(a)) == 0);
	a = rec(TS_LOCKS_REC_RELEASE, 3, lock2, 12 * MS, 0);
	CHECK(ts_locks_track_push(t, &a, sizeof(a)) == 0);
	a = rec(TS_LOCKS_REC_ACQUIRED, 4, lock2, 12 * MS + 5 * US, 0);
	a.start = 10 * MS;
	CHECK(ts_locks_track_push(t, &a, sizeof(a)) == 0);
	a = rec(TS_LOCKS_REC_RELEASE, 4, lock2, 13 * MS, 0);
	CHECK(ts_locks_track_push(t, &a, sizeof(a)) == 0);
	ts_locks_track_process(t, 20 * MS, false, &b);
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 3) == 1);
	apply(m, &b);
	r = ts_model_find_resource(m, PID, lock2);
	CHECK(r && r->acquisitions == 2 && r->holders == 0);
	CHECK(sp.n == 5 && sp.s[3].tid == 3 && sp.s[4].tid == 4 && sp.s[4].wait_start_ns == 10 * MS);

	/* held since before the attach: only its release is seen; the waiter
	 * reports the hold, and its holder's next hold is a new one */
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 6, lock3, 21 * MS, 5));
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 5, lock3, 22 * MS, 0));
	a = rec(TS_LOCKS_REC_ACQUIRED, 6, lock3, 22 * MS + 5 * US, 0);
	a.start = 21 * MS;
	feed(t, &b, a);
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 6, lock3, 23 * MS, 0));
	feed(t, &b, rec(TS_LOCKS_REC_ACQUIRED, 5, lock3, 24 * MS, 0));
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 5, lock3, 25 * MS, 0));
	apply(m, &b);
	r = ts_model_find_resource(m, PID, lock3);
	CHECK(r && r->acquisitions == 3 && r->holders == 0);
	CHECK(sp.n == 8 && sp.s[5].tid == 5 && sp.s[5].acquired_ns == 21 * MS && sp.s[6].tid == 6 &&
	      sp.s[7].tid == 5 && sp.s[7].acquired_ns == 24 * MS);
	ts_model_free(m);
	ts_locks_track_free(t);
	ts_strpool_free(pool);
	ts_event_batch_fini(&b);
}

/* A lock first seen without its SITE (a condition wait's return after the
 * attach) is named when its SITE comes, once. */
static void test_late_site(void)
{
	struct ts_strpool *pool;
	struct ts_locks_track *t;
	struct ts_event_batch b;
	struct ts_locks_site st;
	int calls = 0;

	ts_event_batch_init(&b);
	CHECK(ts_strpool_new(1 << 20, &pool) == 0);
	CHECK(ts_locks_track_new(pool, TS_LOCKS_FULL, fake_name, &calls, &t) == 0);
	feed(t, &b, rec(TS_LOCKS_REC_ACQUIRED, 8, LOCK, 1 * MS, 0));
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 8, LOCK, 2 * MS, 0));
	memset(&st, 0, sizeof(st));
	st.rec = rec(TS_LOCKS_REC_SITE, 8, LOCK, 3 * MS, 0);
	CHECK(ts_locks_track_record(t, &st, sizeof(st), &b) == 0);
	CHECK(ts_locks_track_record(t, &st, sizeof(st), &b) == 0);
	CHECK(calls == 1 && count(&b, TS_EV_RESOURCE_NEW, 0) == 2);
	CHECK(b.len == 4 && b.events[3].name && !strcmp(b.events[3].name, "take_lock"));
	ts_locks_track_free(t);
	ts_strpool_free(pool);
	ts_event_batch_fini(&b);
}

/* Records are processed in time order, not ring order: a waiter's record
 * that arrives after the holder's release (it was stamped before) still
 * names the holder, and the release closes that hold. Records younger than
 * the cutoff wait, stack copies included. */
static void test_reorder(void)
{
	struct ts_strpool *pool;
	struct ts_locks_track *t;
	struct ts_event_batch b;
	struct ts_locks_rec r1, r2;
	struct ts_locks_site st;
	int calls = 0;

	ts_event_batch_init(&b);
	CHECK(ts_strpool_new(1 << 20, &pool) == 0);
	CHECK(ts_locks_track_new(pool, TS_LOCKS_CONTENDED, fake_name, &calls, &t) == 0);
	/* a site younger than the first cutoff, pushed first */
	memset(&st, 0, sizeof(st));
	st.rec = rec(TS_LOCKS_REC_SITE, 7, LOCK + 64, 30 * MS, 0);
	CHECK(ts_locks_track_push(t, &st, sizeof(st)) == 0);
	r1 = rec(TS_LOCKS_REC_RELEASE, 1, LOCK, 5 * MS, 0);
	r2 = rec(TS_LOCKS_REC_WAIT, 2, LOCK, 4 * MS, 1);
	CHECK(ts_locks_track_push(t, &r1, sizeof(r1)) == 0);
	CHECK(ts_locks_track_push(t, &r2, sizeof(r2)) == 0);
	r1 = rec(TS_LOCKS_REC_WAIT_END, 2, LOCK, 20 * MS, 0);
	CHECK(ts_locks_track_push(t, &r1, sizeof(r1)) == 0);
	CHECK(b.len == 0);
	ts_locks_track_process(t, 10 * MS, false, &b);
	CHECK(b.len == 4);   /* RESOURCE_NEW, ACQUIRED(1), WAIT(2), RELEASE(1) */
	CHECK(b.len == 4 && b.events[1].type == TS_EV_LOCK_ACQUIRED && b.events[1].tid == 1 &&
	      b.events[1].ts == 4 * MS);
	CHECK(b.len == 4 && b.events[2].type == TS_EV_LOCK_WAIT && b.events[2].tid == 2);
	CHECK(b.len == 4 && b.events[3].type == TS_EV_LOCK_RELEASE && b.events[3].tid == 1 &&
	      b.events[3].ts == 5 * MS);
	b.len = 0;
	r1 = rec(TS_LOCKS_REC_WAIT, 7, LOCK + 64, 30 * MS, 0);
	CHECK(ts_locks_track_push(t, &r1, sizeof(r1)) == 0);
	ts_locks_track_process(t, 25 * MS, false, &b);   /* the wait's return, then its acquisition */
	CHECK(b.len == 1 && b.events[0].type == TS_EV_LOCK_ACQUIRED && b.events[0].tid == 2 &&
	      b.events[0].ts == 20 * MS);
	b.len = 0;
	ts_locks_track_process(t, 0, true, &b);   /* the site kept its stack copy: named */
	CHECK(calls == 1 && b.len == 2 && b.events[0].type == TS_EV_RESOURCE_NEW && b.events[0].name &&
	      !strcmp(b.events[0].name, "take_lock"));
	CHECK(ts_locks_track_push(t, &r1, 4) == -EINVAL && ts_locks_track_lost(t) == 1);
	/* a destroyed lock is forgotten; its address is a new lock next time */
	b.len = 0;
	r1 = rec(TS_LOCKS_REC_DROP, 7, LOCK + 64, 40 * MS, 0);
	CHECK(ts_locks_track_record(t, &r1, sizeof(r1), &b) == 0);
	CHECK(b.len == 1 && b.events[0].type == TS_EV_RESOURCE_DROP && b.events[0].id == LOCK + 64);
	r1 = rec(TS_LOCKS_REC_DROP, 7, LOCK + 64, 41 * MS, 0);   /* unknown by now: nothing */
	CHECK(ts_locks_track_record(t, &r1, sizeof(r1), &b) == 0 && b.len == 1);
	st.rec = rec(TS_LOCKS_REC_SITE, 7, LOCK + 64, 42 * MS, 0);
	CHECK(ts_locks_track_record(t, &st, sizeof(st), &b) == 0);
	CHECK(calls == 2 && b.len == 2 && b.events[1].type == TS_EV_RESOURCE_NEW);
	ts_locks_track_free(t);
	ts_strpool_free(pool);
	ts_event_batch_fini(&b);
}

static bool held_always(void *ctx, uint32_t pid, uint64_t addr, uint32_t tid)
{
	return true;
}

static bool held_never(void *ctx, uint32_t pid, uint64_t addr, uint32_t tid)
{
	int *asked = ctx;

	(*asked)++;
	return false;
}

/* Contended mode sees a release only when it wakes a waiter: the last
 * holder's is found by asking the lock (ts_locks_track_check_holders). */
static void test_unseen_release(void)
{
	struct ts_strpool *pool;
	struct ts_locks_track *t;
	struct ts_model *m;
	struct ts_model_config cfg;
	struct spans sp = { .n = 0 };
	struct ts_model_sink sink = { .ctx = &sp, .lock_span = on_span };
	struct ts_event_batch b;
	struct ts_resource *r;
	int calls = 0, asked = 0;

	ts_event_batch_init(&b);
	CHECK(ts_strpool_new(1 << 20, &pool) == 0);
	CHECK(ts_locks_track_new(pool, TS_LOCKS_CONTENDED, fake_name, &calls, &t) == 0);
	ts_model_config_default(&cfg);
	CHECK(ts_model_new(&cfg, &sink, &m) == 0);

	/* 2 waits for 1's lock; 1 wakes it at 2 ms; 2 holds it from 2.1 ms */
	site(t, &b, 2, LOCK, 1 * MS);
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 2, LOCK, 1 * MS, 1));
	feed(t, &b, rec(TS_LOCKS_REC_RELEASE, 1, LOCK, 2 * MS, 0));
	feed(t, &b, rec(TS_LOCKS_REC_WAIT_END, 2, LOCK, 2 * MS + 100 * US, 0));
	ts_locks_track_flush(t, 3 * MS, false, &b);
	apply(m, &b);
	r = ts_model_find_resource(m, PID, LOCK);
	CHECK(r && r->holder_tid == 2 && r->holders == 1);

	/* still held: nothing happens */
	ts_locks_track_check_holders(t, 200 * MS, held_always, NULL, &b);
	CHECK(b.len == 0);
	/* a lock with recent records is not asked about yet */
	ts_locks_track_check_holders(t, 50 * MS, held_never, &asked, &b);
	CHECK(asked == 0 && b.len == 0);
	/* 2 let go with nobody waiting: released "by" the time asked */
	ts_locks_track_check_holders(t, 300 * MS, held_never, &asked, &b);
	CHECK(asked == 1);
	CHECK(count(&b, TS_EV_LOCK_RELEASE, 2) == 1 && b.len == 1);
	apply(m, &b);
	CHECK(r && r->holders == 0 && r->holder_tid == 0);
	CHECK(sp.n == 2 && sp.s[1].tid == 2 && sp.s[1].acquired_ns == 2 * MS + 100 * US &&
	      sp.s[1].released_ns == 300 * MS);
	/* nobody holds it now: nobody is asked about */
	ts_locks_track_check_holders(t, 400 * MS, held_never, &asked, &b);
	CHECK(asked == 1 && b.len == 0);
	/* a waiter's record from before the check, drained late, names the
	 * hold the check ended: not a second hold */
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 3, LOCK, 4 * MS, 2));
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 2) == 0 && count(&b, TS_EV_LOCK_WAIT, 3) == 1);
	/* one from after it names a new hold */
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 4, LOCK, 350 * MS, 2));
	CHECK(count(&b, TS_EV_LOCK_ACQUIRED, 2) == 1);
	apply(m, &b);

	ts_model_free(m);
	ts_locks_track_free(t);
	ts_strpool_free(pool);
	ts_event_batch_fini(&b);
}

/* A thread's wait that began outside any poll and, merged with a re-wait
 * (the release between them woke nobody), ends inside a task's poll is
 * still that thread's wait: it ends, the lock has no waiter left. */
static void test_wait_across_poll(void)
{
	struct ts_strpool *pool;
	struct ts_locks_track *t;
	struct ts_model *m;
	struct ts_model_config cfg;
	struct ts_event_batch b;
	struct ts_resource *r;
	int calls = 0;

	ts_event_batch_init(&b);
	CHECK(ts_strpool_new(1 << 20, &pool) == 0);
	CHECK(ts_locks_track_new(pool, TS_LOCKS_CONTENDED, fake_name, &calls, &t) == 0);
	ts_model_config_default(&cfg);
	CHECK(ts_model_new(&cfg, NULL, &m) == 0);

	site(t, &b, 7, LOCK, 1 * MS);
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 7, LOCK, 1 * MS, 1));
	feed(t, &b, rec(TS_LOCKS_REC_WAIT_END, 7, LOCK, 1 * MS + 2 * US, 0));
	CHECK(ts_event_batch_push(&b, &(struct ts_event){ .ts = 1 * MS + 3 * US, .pid = PID, .tid = 7,
				  .type = TS_EV_SPAWN, .id = 9, .name = "t", .location = "" }) == 0);
	CHECK(ts_event_batch_push(&b, &(struct ts_event){ .ts = 1 * MS + 5 * US, .pid = PID, .tid = 7,
				  .type = TS_EV_POLL_BEGIN, .id = 9 }) == 0);
	feed(t, &b, rec(TS_LOCKS_REC_WAIT, 7, LOCK, 1 * MS + 12 * US, 1));   /* merged */
	feed(t, &b, rec(TS_LOCKS_REC_WAIT_END, 7, LOCK, 1 * MS + 50 * US, 0));
	ts_locks_track_flush(t, 2 * MS, true, &b);
	apply(m, &b);
	r = ts_model_find_resource(m, PID, LOCK);
	CHECK(r && r->waiters == 0 && r->holder_tid == 7 && r->contentions == 1);

	ts_model_free(m);
	ts_locks_track_free(t);
	ts_strpool_free(pool);
	ts_event_batch_fini(&b);
}

int main(void)
{
	test_wait_across_poll();
	test_unseen_release();
	test_reorder();
	test_contended();
	test_full();
	test_full_late_owner();
	test_late_site();
	return check_result("test-locks-track");
}
