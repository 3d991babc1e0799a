/*
 * test-shm-drain.c: draining a hand-built region whose producer misbehaves.
 * Good records come out in ring order with the ring's thread; garbage
 * records are rejected and counted while the good records after them
 * are still decoded; corrupt indices (head behind tail, head more than a
 * ring ahead) resynchronise that ring and count the loss, and later
 * records are read; a target scribbling on the shared tail cannot make
 * us re-read records; drop counters become TS_EV_DROPPED events, and a
 * counter that runs backwards or leaps is treated as corruption (per ring
 * and for the header's no-free-slot counter); retired
 * slots are freed once drained, and a new owner carries on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/source_shm.h"
#include "tests/check.h"
#include "region.h"

#define CAP 16u

static struct ts_strpool *pool;

static size_t drain(struct ts_shm_source *src, struct ts_event_batch *b)
{
	b->len = 0;
	CHECK(ts_shm_source_drain(src, b) == 0);
	return b->len;
}

static struct ts_shm_stats stats_of(const struct ts_shm_source *src)
{
	struct ts_shm_stats st;

	ts_shm_source_stats(src, &st);
	return st;
}

static void push(const struct region *r, uint32_t slot, struct ts_ring_record rec)
{
	CHECK(region_push(r, slot, &rec));
}

static uint64_t shared_tail(const struct region *r, uint32_t slot)
{
	return __atomic_load_n(&region_ring(r, slot)->tail, __ATOMIC_ACQUIRE);
}

static uint64_t shared_head(const struct region *r, uint32_t slot)
{
	return __atomic_load_n(&region_ring(r, slot)->head, __ATOMIC_ACQUIRE);
}

static void test_good_records(const struct region *r, struct ts_shm_source *src, struct ts_event_batch *b)
{
	struct ts_ring_record rec;

	region_claim(r, 0, 100);
	region_claim(r, 1, 200);
	rec = region_rec(TS_REC_THREAD, TS_ROLE_WORKER, 100, 10);
	rec.a = region_string(r, "worker-0");
	push(r, 0, rec);
	rec = region_rec(TS_REC_SPAWN, TS_KIND_TASK, 1, 20);
	rec.a = region_string(r, "t1");
	rec.c = region_string(r, "a.c:1");
	push(r, 0, rec);
	push(r, 0, region_rec(TS_REC_POLL_BEGIN, 0, 1, 40));
	push(r, 1, region_rec(TS_REC_THREAD, TS_ROLE_BLOCKING, 200, 15));
	push(r, 1, region_rec(TS_REC_POLL_BEGIN, 0, 2, 30));

	CHECK(drain(src, b) == 5);
	/* Ring order first... */
	CHECK(b->events[0].type == TS_EV_THREAD && b->events[0].tid == 100);
	CHECK(b->events[0].name && strcmp(b->events[0].name, "worker-0") == 0);
	CHECK(b->events[1].type == TS_EV_SPAWN && b->events[1].id == 1);
	CHECK(b->events[1].name && strcmp(b->events[1].name, "t1") == 0);
	CHECK(b->events[1].location && strcmp(b->events[1].location, "a.c:1") == 0);
	CHECK(b->events[3].tid == 200 && b->events[3].kind == TS_ROLE_BLOCKING);
	for (size_t i = 0; i < b->len; i++)
		CHECK(b->events[i].pid == (uint32_t)getpid());
	/* ...then one timeline. */
	ts_event_batch_sort(b);
	CHECK(b->events[0].ts == 10 && b->events[1].ts == 15 && b->events[2].ts == 20);
	CHECK(b->events[3].ts == 30 && b->events[3].tid == 200 && b->events[4].ts == 40);
	/* Tails published for the producer. */
	CHECK(shared_tail(r, 0) == 3 && shared_tail(r, 1) == 2);
	CHECK(drain(src, b) == 0);
	CHECK(stats_of(src).records == 5 && stats_of(src).rejected == 0);
}

static void test_garbage_records(const struct region *r, struct ts_shm_source *src, struct ts_event_batch *b)
{
	struct ts_ring_record junk;
	uint64_t words[6] = { 0x1111111111111111ull, 0xfffffffffffffffull, 3, 4, 5, 6 };
	struct ts_shm_stats before = stats_of(src);

	push(r, 0, region_rec(TS_REC_POLL_END, 1, 1, 50));
	push(r, 0, region_rec(99, 0, 1, 51));                    /* unknown type */
	push(r, 0, region_rec(TS_REC_WAKE, 0, 1, 0));           /* ts 0 */
	junk = region_rec(TS_REC_SPAWN, 0, 3, 52);
	junk.a = r->arena_size - 1;                              /* string past the end */
	push(r, 0, junk);
	memcpy(&junk, words, sizeof(junk));                      /* random bytes */
	push(r, 0, junk);
	push(r, 0, region_rec(TS_REC_WAKE, 1, 1, 53));
	push(r, 0, region_rec(TS_REC_POLL_BEGIN, 0, 1, 54));

	CHECK(drain(src, b) == 3);
	CHECK(b->events[0].type == TS_EV_POLL_END && b->events[0].flags == TS_EVF_READY);
	CHECK(b->events[1].type == TS_EV_WAKE && b->events[1].ts == 53 && b->events[1].flags == TS_EVF_BY_REF);
	CHECK(b->events[2].type == TS_EV_POLL_BEGIN && b->events[2].ts == 54);
	CHECK(stats_of(src).rejected == before.rejected + 4);
	CHECK(stats_of(src).records == before.records + 7);
	CHECK(stats_of(src).corrupt_rings == before.corrupt_rings);
}

static void test_corrupt_indices(const struct region *r, struct ts_shm_source *src, struct ts_event_batch *b)
{
	struct ts_ring_header *ring = region_ring(r, 0);
	struct ts_shm_stats before = stats_of(src);
	uint64_t head = shared_head(r, 0);

	/* Head behind tail. */
	__atomic_store_n(&ring->head, head - 5, __ATOMIC_RELEASE);
	CHECK(drain(src, b) == 0);
	CHECK(stats_of(src).corrupt_rings == before.corrupt_rings + 1);
	CHECK(stats_of(src).lost == before.lost + 5);
	CHECK(shared_tail(r, 0) == head - 5);
	/* The producer carries on from there, and we read it. */
	push(r, 0, region_rec(TS_REC_POLL_END, 0, 1, 60));
	push(r, 0, region_rec(TS_REC_POLL_BEGIN, 0, 1, 61));
	CHECK(drain(src, b) == 2 && b->events[0].ts == 60 && b->events[1].ts == 61);

	/* Head far ahead: at most a ring's worth counts as lost. */
	head = shared_head(r, 0);
	__atomic_store_n(&ring->head, head + CAP + 1000, __ATOMIC_RELEASE);
	CHECK(drain(src, b) == 0);
	CHECK(stats_of(src).corrupt_rings == before.corrupt_rings + 2);
	CHECK(stats_of(src).lost == before.lost + 5 + CAP);
	push(r, 0, region_rec(TS_REC_POLL_END, 0, 1, 62));
	CHECK(drain(src, b) == 1 && b->events[0].ts == 62);

	/* Head exactly a ring ahead is legal: a full ring. */
	for (uint32_t i = 0; i < CAP; i++)
		push(r, 0, region_rec(TS_REC_WAKE, 0, 1, 100 + i));
	CHECK(drain(src, b) == CAP && b->events[CAP - 1].ts == 100 + CAP - 1);
	CHECK(stats_of(src).corrupt_rings == before.corrupt_rings + 2);

	/* A target rewinding the shared tail cannot make us re-read. */
	head = shared_head(r, 0);
	__atomic_store_n(&ring->tail, head - 3, __ATOMIC_RELEASE);
	push(r, 0, region_rec(TS_REC_WAKE, 0, 1, 70));
	CHECK(drain(src, b) == 1 && b->events[0].ts == 70);
	CHECK(shared_tail(r, 0) == head + 1);
	/* Nor can one pushing it forward make us skip. */
	push(r, 0, region_rec(TS_REC_WAKE, 0, 1, 71));
	push(r, 0, region_rec(TS_REC_WAKE, 0, 1, 72));
	__atomic_store_n(&ring->tail, shared_head(r, 0), __ATOMIC_RELEASE);
	CHECK(drain(src, b) == 2 && b->events[0].ts == 71 && b->events[1].ts == 72);
	CHECK(stats_of(src).corrupt_rings == before.corrupt_rings + 2);
}

static void test_drops(const struct region *r, struct ts_shm_source *src, struct ts_event_batch *b)
{
	struct ts_ring_header *ring = region_ring(r, 0);
	struct ts_shm_stats before = stats_of(src);
	struct ts_ring_record rec = region_rec(TS_REC_WAKE, 0, 1, 80);
	uint64_t dropped;
	size_t n;

	/* Fill the ring and overflow it by 5. */
	for (uint32_t i = 0; i < CAP; i++)
		push(r, 0, rec);
	for (int i = 0; i < 5; i++)
		CHECK(!region_push(r, 0, &rec));
	n = drain(src, b);
	CHECK(n == CAP + 1);
	CHECK(b->events[CAP].type == TS_EV_DROPPED && b->events[CAP].arg == 5 && b->events[CAP].tid == 100);
	CHECK(b->events[CAP].ts != 0 && b->events[CAP].pid == (uint32_t)getpid());
	CHECK(stats_of(src).producer_dropped == before.producer_dropped + 5);
	/* Reported once. */
	CHECK(drain(src, b) == 0);

	/* Backwards: corruption, no event; the new value is the baseline. */
	dropped = __atomic_load_n(&ring->dropped, __ATOMIC_RELAXED);
	__atomic_store_n(&ring->dropped, dropped - 3, __ATOMIC_RELAXED);
	CHECK(drain(src, b) == 0);
	CHECK(stats_of(src).corrupt_rings == before.corrupt_rings + 1);
	/* An absurd leap: the same. */
	__atomic_store_n(&ring->dropped, dropped + (1ull << 41), __ATOMIC_RELAXED);
	CHECK(drain(src, b) == 0);
	CHECK(stats_of(src).corrupt_rings == before.corrupt_rings + 2);
	CHECK(stats_of(src).producer_dropped == before.producer_dropped + 5);
	/* Honest growth after that is reported again. */
	__atomic_fetch_add(&ring->dropped, 2, __ATOMIC_RELAXED);
	CHECK(drain(src, b) == 1 && b->events[0].type == TS_EV_DROPPED && b->events[0].arg == 2);
	CHECK(stats_of(src).producer_dropped == before.producer_dropped + 7);

	/* Threads that found no free slot: one report with tid 0. */
	__atomic_fetch_add(&region_header(r)->noslot_dropped, 3, __ATOMIC_RELAXED);
	CHECK(drain(src, b) == 1 && b->events[0].type == TS_EV_DROPPED && b->events[0].arg == 3 &&
	      b->events[0].tid == 0);
	CHECK(drain(src, b) == 0);
	CHECK(stats_of(src).producer_dropped == before.producer_dropped + 10);
	__atomic_store_n(&region_header(r)->noslot_dropped, 1, __ATOMIC_RELAXED);
	CHECK(drain(src, b) == 0);
	CHECK(stats_of(src).corrupt_rings == before.corrupt_rings + 3);
}

static void test_retire(const struct region *r, struct ts_shm_source *src, struct ts_event_batch *b)
{
	struct ts_ring_header *ring = region_ring(r, 1);
	struct ts_shm_stats before = stats_of(src);
	uint64_t head;
	uint32_t gen;

	/* Thread 200 drops one record, writes two more, exits. */
	for (uint32_t i = 0; i < CAP - 2; i++)
		push(r, 1, region_rec(TS_REC_WAKE, 0, 2, 90));
	CHECK(drain(src, b) == CAP - 2);
	__atomic_fetch_add(&ring->dropped, 1, __ATOMIC_RELAXED);
	push(r, 1, region_rec(TS_REC_WAKE, 0, 2, 91));
	push(r, 1, region_rec(TS_REC_POLL_END, 1, 2, 92));
	__atomic_store_n(&ring->state, TS_SLOT_RETIRED, __ATOMIC_RELEASE);
	CHECK(drain(src, b) == 3);
	CHECK(b->events[0].ts == 91 && b->events[1].ts == 92 && b->events[2].type == TS_EV_DROPPED &&
	      b->events[2].arg == 1);
	CHECK(__atomic_load_n(&ring->state, __ATOMIC_ACQUIRE) == TS_SLOT_FREE);

	/* A FREE slot is not read, whatever its indices say. */
	head = shared_head(r, 1);
	__atomic_store_n(&ring->head, head + 12345, __ATOMIC_RELEASE);
	CHECK(drain(src, b) == 0);
	__atomic_store_n(&ring->state, 7, __ATOMIC_RELEASE); /* no such state */
	CHECK(drain(src, b) == 0);
	CHECK(stats_of(src).corrupt_rings == before.corrupt_rings);
	__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
	__atomic_store_n(&ring->state, TS_SLOT_FREE, __ATOMIC_RELEASE);

	/* A new owner carries on from head and tail; its drops count on
	 * from the old owner's total, and only the increase is reported. */
	gen = ring->generation;
	region_claim(r, 1, 300);
	CHECK(ring->generation == gen + 1);
	push(r, 1, region_rec(TS_REC_THREAD, 0, 300, 95));
	__atomic_fetch_add(&ring->dropped, 4, __ATOMIC_RELAXED);
	CHECK(drain(src, b) == 2);
	CHECK(b->events[0].type == TS_EV_THREAD && b->events[0].tid == 300);
	CHECK(b->events[1].type == TS_EV_DROPPED && b->events[1].arg == 4 && b->events[1].tid == 300);
	CHECK(stats_of(src).corrupt_rings == before.corrupt_rings);
}

static void test_clock_offset(void)
{
	struct ts_event_batch b;
	struct ts_shm_source *src = NULL;
	struct region r;
	Taskscope__Hello h;
	char err[256];

	ts_event_batch_init(&b);
	CHECK(region_create(&r, 1, CAP, 64, true) == 0);
	region_hello(&r, &h);
	h.clock_offset_ns = 1000;
	CHECK_MSG(ts_shm_source_open(r.fd, &h, pool, &src, err, sizeof(err)) == 0, "%s", err);
	region_claim(&r, 0, 5);
	push(&r, 0, region_rec(TS_REC_POLL_BEGIN, 0, 1, 1));
	push(&r, 0, region_rec(TS_REC_POLL_BEGIN, 0, 1, UINT64_MAX - 10)); /* would wrap */
	CHECK(drain(src, &b) == 1 && b.events[0].ts == 1001);
	CHECK(stats_of(src).rejected == 1);
	/* A 64-byte arena has room for one short string only. */
	CHECK(region_string(&r, "0123456789") == 8);
	CHECK(region_string(&r, "0123456789012345678901234567890123456789012345678901234") == 0);
	ts_shm_source_free(src);
	region_destroy(&r, false);
	ts_event_batch_fini(&b);
}

int main(void)
{
	struct ts_event_batch b;
	struct ts_shm_source *src = NULL;
	struct region r;
	Taskscope__Hello h;
	char err[256];

	if (ts_strpool_new(1 << 20, &pool) < 0 || region_create(&r, 2, CAP, 4096, true) < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	region_hello(&r, &h);
	if (ts_shm_source_open(r.fd, &h, pool, &src, err, sizeof(err)) < 0) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	ts_event_batch_init(&b);

	test_good_records(&r, src, &b);
	test_garbage_records(&r, src, &b);
	test_corrupt_indices(&r, src, &b);
	test_drops(&r, src, &b);
	test_retire(&r, src, &b);
	test_clock_offset();

	ts_event_batch_fini(&b);
	ts_shm_source_free(src);
	region_destroy(&r, false);
	ts_strpool_free(pool);
	return check_result("test-shm-drain");
}
