/*
 * test-decode-fuzz.c: the decoder against garbage, with a fixed seed so a
 * failure reproduces. 200k records, some fully random and most of them
 * small mutations of valid records (so the fuzz reaches every validation
 * step, not just the type check), against an arena of random bytes with
 * some valid strings planted in it. Every record must either decode to an
 * event that satisfies the vocabulary's invariants or be refused with
 * -EBADMSG; nothing may be read outside the arena (run under ASan).
 *
 * Then a race: a second thread rewrites a string's length prefix and
 * bytes while the decoder reads it. The decoder reads the bytes once, so
 * whatever it sees, it never reads past the arena and never returns a
 * string longer than TS_STRING_MAX. (The race is best effort: a decoder
 * that re-read the prefix would be caught by ASan on some runs, not all.)
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "collector/decode.h"
#include "tests/check.h"

#define ARENA (64u * 1024u)
#define RECORDS 200000
#define PLANTED 64

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint32_t planted[PLANTED];

static void plant_strings(uint8_t *arena)
{
	uint32_t at = 8;

	for (int i = 0; i < PLANTED; i++) {
		uint16_t len = (uint16_t)(rnd() % 40);

		memcpy(arena + at, &len, 2);
		for (uint16_t j = 0; j < len; j++)
			arena[at + 2 + j] = (uint8_t)(' ' + rnd() % 95);
		arena[at + 2 + len] = 0;
		planted[i] = at;
		at += 2u + len + 1u + (uint32_t)(rnd() % 16);
	}
}

static uint8_t *fuzz_arena;

/* A string in the arena's last 20 bytes whose length either fits exactly
 * (17) or needs one byte more than there is (18). */
static uint32_t string_at_end(void)
{
	uint32_t id = ARENA - 20;
	uint16_t len = (uint16_t)(17 + rnd() % 2);

	memcpy(fuzz_arena + id, &len, 2);
	memset(fuzz_arena + id + 2, 'e', 17);
	fuzz_arena[ARENA - 1] = 0;
	return id;
}

static uint32_t pick_string_id(void)
{
	switch (rnd() % 7) {
	case 6:
		return string_at_end();
	case 0:
		return 0;
	case 1:
	case 2:
	case 3:
		return planted[rnd() % PLANTED];
	case 4:
		return (uint32_t)(rnd() % (ARENA + 64));
	default:
		return ARENA - (uint32_t)(rnd() % 8);
	}
}

static struct ts_ring_record random_record(void)
{
	struct ts_ring_record r;

	if (rnd() % 4 == 0) {
		/* Pure garbage. */
		uint64_t words[6];

		for (int i = 0; i < 6; i++)
			words[i] = rnd();
		memcpy(&r, words, sizeof(r));
		return r;
	}
	memset(&r, 0, sizeof(r));
	r.ts = rnd() % 64 ? rnd() : 0;
	r.type = (uint16_t)(rnd() % (TS_REC_TYPE_MAX + 2));
	r.flags = (uint16_t)(rnd() % 8 ? rnd() % 6 : rnd());
	r.task = rnd() % 16 ? rnd() % 1000 : 0;
	r.b = rnd() % 4 ? rnd() % 1000 : r.task;
	r.a = pick_string_id();
	r.c = rnd() % 32 ? pick_string_id() : rnd();
	r.reserved = rnd();
	return r;
}

static bool string_ok(const char *s)
{
	return !s || strlen(s) <= TS_STRING_MAX;
}

static bool event_ok(const struct ts_event *ev, const struct ts_decode_ctx *ctx)
{
	if (ev->ts == 0 || ev->type < TS_EV_THREAD || ev->type > TS_EV_TASK_SNAPSHOT || ev->type == TS_EV_DROPPED)
		return false;
	if (ev->pid != ctx->pid || ev->tid != ctx->tid)
		return false;
	if (ev->flags & ~(unsigned)(TS_EVF_READY | TS_EVF_BY_REF | TS_EVF_SHARED | TS_EVF_WAKER_HELD))
		return false;
	if ((ev->flags & TS_EVF_WAKER_HELD) && ev->type != TS_EV_TASK_SNAPSHOT)
		return false;
	switch (ev->type) {
	case TS_EV_TASK_SNAPSHOT:
		return ev->kind <= TS_KIND_LOCAL && ev->id && ev->arg <= 2 && string_ok(ev->name) &&
		       string_ok(ev->location);
	case TS_EV_THREAD:
		return ev->kind <= TS_ROLE_BLOCKING && string_ok(ev->name) && !ev->location;
	case TS_EV_SPAWN:
		return ev->kind <= TS_KIND_LOCAL && ev->id && ev->arg != ev->id && string_ok(ev->name) &&
		       string_ok(ev->location);
	case TS_EV_TASK_DROP:
		return ev->kind <= TS_OUTCOME_PANICKED && ev->id;
	case TS_EV_RESOURCE_NEW:
		return ev->kind <= TS_RES_TIMER && ev->id && string_ok(ev->name) && string_ok(ev->location);
	default:
		return ev->kind == 0 && ev->id && !ev->name && !ev->location;
	}
}

static void fuzz_records(struct ts_strpool *pool, uint8_t *arena)
{
	struct ts_decode_ctx ctx = { .pid = 99, .tid = 7, .arena = arena, .arena_size = ARENA, .pool = pool };
	unsigned accepted = 0, rejected = 0, named = 0;

	for (int i = 0; i < RECORDS; i++) {
		struct ts_ring_record r = random_record();
		struct ts_event ev;
		int rc = ts_decode_record(&ctx, &r, &ev);

		if (rc == 0) {
			accepted++;
			if (ev.name)
				named++;
			CHECK_MSG(event_ok(&ev, &ctx), "record %d (type %u flags %u) decoded to a bad event",
				  i, r.type, r.flags);
		} else {
			rejected++;
			CHECK_MSG(rc == -EBADMSG, "record %d: rc %d", i, rc);
		}
	}
	printf("fuzz: %u accepted (%u named), %u rejected\n", accepted, named, rejected);
	/* The generator must reach both outcomes and the string path. */
	CHECK(accepted > RECORDS / 20 && rejected > RECORDS / 20 && named > 1000);
}

struct race {
	uint8_t *arena;
	uint32_t id;
	int stop;
};

static void *mutator(void *arg)
{
	struct race *rc = arg;
	uint64_t n = 0;

	while (!__atomic_load_n(&rc->stop, __ATOMIC_RELAXED)) {
		/* Flip as fast as possible between a valid 5-byte string and
		 * a prefix that would run far past the arena's end; now and
		 * then scribble on the bytes and the high prefix byte. */
		for (int i = 0; i < 64; i++) {
			__atomic_store_n(&rc->arena[rc->id], 5, __ATOMIC_RELAXED);
			__atomic_store_n(&rc->arena[rc->id], 0xff, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&rc->arena[rc->id], 5, __ATOMIC_RELAXED);
		__atomic_store_n(&rc->arena[rc->id + 1], (n & 8) ? 0xff : 0, __ATOMIC_RELAXED);
		__atomic_store_n(&rc->arena[rc->id + 1], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&rc->arena[rc->id + 2 + (n % 6)], (uint8_t)((n & 4) ? 0 : 'a' + n % 26),
				 __ATOMIC_RELAXED);
		n++;
	}
	return NULL;
}

static void race_string(struct ts_strpool *pool)
{
	uint32_t size = 64;
	uint8_t *arena = calloc(1, size);
	struct race rc = { .arena = arena, .id = size - 8, .stop = 0 };
	struct ts_decode_ctx ctx = { .pid = 1, .tid = 1, .arena = arena, .arena_size = size, .pool = pool };
	unsigned ok = 0, bad = 0;
	pthread_t t;

	memcpy(arena + rc.id, "\5\0hello", 8);
	if (pthread_create(&t, NULL, mutator, &rc) != 0) {
		fprintf(stderr, "race: cannot start a thread, skipping the race part\n");
		free(arena);
		return;
	}
	for (int i = 0; i < 500000; i++) {
		int err;
		const char *s = ts_decode_string(&ctx, rc.id, &err);

		if (err == 0) {
			ok++;
			CHECK(s && strlen(s) <= 5);
		} else {
			bad++;
			CHECK(!s && err == -EBADMSG);
		}
	}
	__atomic_store_n(&rc.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	printf("race: %u strings read, %u refused\n", ok, bad);
	free(arena);
}

int main(void)
{
	struct ts_strpool *pool = NULL;
	uint8_t *arena = malloc(ARENA);

	if (!arena || ts_strpool_new(4u << 20, &pool) < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	for (uint32_t i = 0; i < ARENA; i++)
		arena[i] = (uint8_t)rnd();
	plant_strings(arena);
	fuzz_arena = arena;

	fuzz_records(pool, arena);
	race_string(pool);

	ts_strpool_free(pool);
	free(arena);
	return check_result("test-decode-fuzz");
}
