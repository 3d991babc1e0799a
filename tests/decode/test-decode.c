/*
 * test-decode.c: ts_decode_record() and ts_decode_string() on hand-made
 * records. Every record type must become the right event with the right
 * fields; every kind of corrupt record must be refused with -EBADMSG and
 * never read outside the arena. The arena is a heap block of exactly
 * arena_size bytes, so an overread shows up under ASan.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/decode.h"
#include "tests/check.h"

#define ARENA 1024u

struct arena {
	uint8_t *bytes;
	uint32_t used;
};

/* Append [u16 len][bytes][NUL] the way the shim does; returns the id. */
static uint32_t put_string(struct arena *a, const char *s)
{
	uint16_t len = (uint16_t)strlen(s);
	uint32_t id = a->used;

	memcpy(a->bytes + id, &len, 2);
	memcpy(a->bytes + id + 2, s, len + 1u);
	a->used += 2u + len + 1u;
	return id;
}

/* Write a raw prefix at `id` (for malformed strings). */
static void put_prefix(struct arena *a, uint32_t id, uint16_t len)
{
	memcpy(a->bytes + id, &len, 2);
}

static struct ts_ring_record rec_of(uint16_t type, uint16_t flags, uint64_t task)
{
	struct ts_ring_record r;

	memset(&r, 0, sizeof(r));
	r.ts = 1000;
	r.type = type;
	r.flags = flags;
	r.task = task;
	return r;
}

static int decode(const struct ts_decode_ctx *ctx, struct ts_ring_record r, struct ts_event *ev)
{
	return ts_decode_record(ctx, &r, ev);
}

static void test_every_type(const struct ts_decode_ctx *ctx, struct arena *a)
{
	uint32_t worker = put_string(a, "worker-0");
	uint32_t name = put_string(a, "accept_loop");
	uint32_t loc = put_string(a, "server.c:42");
	uint32_t name_again = put_string(a, "accept_loop");
	struct ts_ring_record r;
	struct ts_event ev;

	r = rec_of(TS_REC_THREAD, TS_ROLE_WORKER, 0);
	r.a = worker;
	r.ts = 77;
	CHECK(decode(ctx, r, &ev) == 0);
	CHECK(ev.type == TS_EV_THREAD && ev.kind == TS_ROLE_WORKER && ev.ts == 77);
	CHECK(ev.pid == 4242 && ev.tid == 17);
	CHECK(ev.name && strcmp(ev.name, "worker-0") == 0 && !ev.location);
	CHECK(ev.flags == 0 && ev.id == 0);

	r = rec_of(TS_REC_SPAWN, TS_KIND_LOCAL, 42);
	r.b = 7;
	r.a = name;
	r.c = loc;
	CHECK(decode(ctx, r, &ev) == 0);
	CHECK(ev.type == TS_EV_SPAWN && ev.id == 42 && ev.arg == 7 && ev.kind == TS_KIND_LOCAL);
	CHECK(ev.name && strcmp(ev.name, "accept_loop") == 0);
	CHECK(ev.location && strcmp(ev.location, "server.c:42") == 0);
	{
		/* Same id twice, and another id with the same bytes: one
		 * interned copy. */
		const char *first = ev.name;

		CHECK(decode(ctx, r, &ev) == 0 && ev.name == first);
		r.a = name_again;
		CHECK(decode(ctx, r, &ev) == 0 && ev.name == first);
	}

	/* String ids 0 are allowed: no name, no location. */
	r = rec_of(TS_REC_SPAWN, TS_KIND_BLOCKING, 43);
	CHECK(decode(ctx, r, &ev) == 0);
	CHECK(ev.type == TS_EV_SPAWN && !ev.name && !ev.location && ev.kind == TS_KIND_BLOCKING && ev.arg == 0);

	r = rec_of(TS_REC_POLL_BEGIN, 0, 42);
	CHECK(decode(ctx, r, &ev) == 0 && ev.type == TS_EV_POLL_BEGIN && ev.id == 42 && ev.flags == 0);

	r = rec_of(TS_REC_POLL_END, 1, 42);
	CHECK(decode(ctx, r, &ev) == 0 && ev.type == TS_EV_POLL_END && ev.flags == TS_EVF_READY);
	r.flags = 0;
	CHECK(decode(ctx, r, &ev) == 0 && ev.flags == 0);

	r = rec_of(TS_REC_WAKE, 1, 42);
	CHECK(decode(ctx, r, &ev) == 0 && ev.type == TS_EV_WAKE && ev.flags == TS_EVF_BY_REF && ev.id == 42);
	r.flags = 0;
	CHECK(decode(ctx, r, &ev) == 0 && ev.flags == 0);

	r = rec_of(TS_REC_WAKER_CLONE, 0, 42);
	CHECK(decode(ctx, r, &ev) == 0 && ev.type == TS_EV_WAKER_CLONE && ev.id == 42);
	r = rec_of(TS_REC_WAKER_DROP, 0, 42);
	CHECK(decode(ctx, r, &ev) == 0 && ev.type == TS_EV_WAKER_DROP && ev.id == 42);

	r = rec_of(TS_REC_TASK_DROP, TS_OUTCOME_PANICKED, 42);
	CHECK(decode(ctx, r, &ev) == 0 && ev.type == TS_EV_TASK_DROP && ev.kind == TS_OUTCOME_PANICKED);
	r.flags = TS_OUTCOME_CANCELLED;
	CHECK(decode(ctx, r, &ev) == 0 && ev.kind == TS_OUTCOME_CANCELLED);

	r = rec_of(TS_REC_RESOURCE_NEW, TS_RES_TIMER, 0xdeadbeefcafeull);
	r.a = name;
	r.c = loc;
	CHECK(decode(ctx, r, &ev) == 0);
	CHECK(ev.type == TS_EV_RESOURCE_NEW && ev.id == 0xdeadbeefcafeull && ev.kind == TS_RES_TIMER);
	CHECK(ev.name && strcmp(ev.name, "accept_loop") == 0 && ev.location && strcmp(ev.location, "server.c:42") == 0);

	r = rec_of(TS_REC_RESOURCE_DROP, 0, 9);
	CHECK(decode(ctx, r, &ev) == 0 && ev.type == TS_EV_RESOURCE_DROP && ev.id == 9);
	r = rec_of(TS_REC_LOCK_WAIT, 0, 9);
	CHECK(decode(ctx, r, &ev) == 0 && ev.type == TS_EV_LOCK_WAIT && ev.id == 9);
	r = rec_of(TS_REC_LOCK_ACQUIRED, 1, 9);
	CHECK(decode(ctx, r, &ev) == 0 && ev.type == TS_EV_LOCK_ACQUIRED && ev.flags == TS_EVF_SHARED);
	r.flags = 0;
	CHECK(decode(ctx, r, &ev) == 0 && ev.flags == 0);
	r = rec_of(TS_REC_LOCK_RELEASE, 0, 9);
	CHECK(decode(ctx, r, &ev) == 0 && ev.type == TS_EV_LOCK_RELEASE && ev.id == 9);

	/* A snapshot: kind in the low byte of flags, the waker bit, state in b. */
	r = rec_of(TS_REC_TASK_SNAPSHOT, TS_KIND_LOCAL | TS_REC_SNAP_WAKER_HELD, 44);
	r.a = name;
	r.c = loc;
	r.b = 2;
	CHECK(decode(ctx, r, &ev) == 0);
	CHECK(ev.type == TS_EV_TASK_SNAPSHOT && ev.id == 44 && ev.kind == TS_KIND_LOCAL && ev.arg == 2);
	CHECK(ev.flags == TS_EVF_WAKER_HELD);
	CHECK(ev.name && strcmp(ev.name, "accept_loop") == 0);
	CHECK(ev.location && strcmp(ev.location, "server.c:42") == 0);
	r.flags = TS_KIND_TASK;
	r.b = 0;
	CHECK(decode(ctx, r, &ev) == 0 && ev.flags == 0 && ev.kind == TS_KIND_TASK && ev.arg == 0);
	r.b = 3; /* "done" is no state for a live task */
	CHECK(decode(ctx, r, &ev) == -EBADMSG);
	r.b = 1;
	r.flags = 3; /* no such kind */
	CHECK(decode(ctx, r, &ev) == -EBADMSG);
	r.flags = 0x200; /* undefined bit */
	CHECK(decode(ctx, r, &ev) == -EBADMSG);
	r.flags = 0;
	r.task = 0;
	CHECK(decode(ctx, r, &ev) == -EBADMSG);

	/* Fields a type does not use are ignored, not copied. */
	r = rec_of(TS_REC_POLL_BEGIN, 0, 42);
	r.a = 0xffffffffu;
	r.b = 5;
	r.c = 6;
	r.reserved = 7;
	CHECK(decode(ctx, r, &ev) == 0 && ev.arg == 0 && !ev.name && !ev.location);
}

static void test_bad_records(const struct ts_decode_ctx *ctx)
{
	struct ts_ring_record r;
	struct ts_event ev;

	/* Type out of range. */
	CHECK(decode(ctx, rec_of(0, 0, 1), &ev) == -EBADMSG);
	CHECK(decode(ctx, rec_of(TS_REC_TYPE_MAX + 1, 0, 1), &ev) == -EBADMSG);
	CHECK(decode(ctx, rec_of(0xffff, 0, 1), &ev) == -EBADMSG);

	/* Timestamp 0. */
	r = rec_of(TS_REC_POLL_BEGIN, 0, 1);
	r.ts = 0;
	CHECK(decode(ctx, r, &ev) == -EBADMSG);

	/* Flags a type does not define. */
	CHECK(decode(ctx, rec_of(TS_REC_POLL_BEGIN, 1, 1), &ev) == -EBADMSG);
	CHECK(decode(ctx, rec_of(TS_REC_POLL_END, 2, 1), &ev) == -EBADMSG);
	CHECK(decode(ctx, rec_of(TS_REC_WAKE, 0x8000, 1), &ev) == -EBADMSG);
	CHECK(decode(ctx, rec_of(TS_REC_LOCK_ACQUIRED, 3, 1), &ev) == -EBADMSG);
	CHECK(decode(ctx, rec_of(TS_REC_LOCK_RELEASE, 1, 1), &ev) == -EBADMSG);
	CHECK(decode(ctx, rec_of(TS_REC_WAKER_DROP, 4, 1), &ev) == -EBADMSG);

	/* Kinds out of range. */
	CHECK(decode(ctx, rec_of(TS_REC_THREAD, 3, 0), &ev) == -EBADMSG);
	CHECK(decode(ctx, rec_of(TS_REC_SPAWN, 3, 1), &ev) == -EBADMSG);
	CHECK(decode(ctx, rec_of(TS_REC_TASK_DROP, 3, 1), &ev) == -EBADMSG);
	CHECK(decode(ctx, rec_of(TS_REC_RESOURCE_NEW, 5, 1), &ev) == -EBADMSG);
	CHECK(decode(ctx, rec_of(TS_REC_RESOURCE_NEW, 0xffff, 1), &ev) == -EBADMSG);
	/* ...and the largest valid ones pass. */
	CHECK(decode(ctx, rec_of(TS_REC_THREAD, 2, 0), &ev) == 0);
	CHECK(decode(ctx, rec_of(TS_REC_RESOURCE_NEW, 4, 1), &ev) == 0);

	/* An id of 0 where the type names a task or resource. */
	CHECK(decode(ctx, rec_of(TS_REC_POLL_BEGIN, 0, 0), &ev) == -EBADMSG);
	CHECK(decode(ctx, rec_of(TS_REC_SPAWN, 0, 0), &ev) == -EBADMSG);
	CHECK(decode(ctx, rec_of(TS_REC_LOCK_WAIT, 0, 0), &ev) == -EBADMSG);

	/* A task that is its own parent keeps the spawn, loses the parent. */
	r = rec_of(TS_REC_SPAWN, 0, 5);
	r.b = 5;
	CHECK(decode(ctx, r, &ev) == 0 && ev.id == 5 && ev.arg == 0);

	/* A location id wider than 32 bits. */
	r = rec_of(TS_REC_SPAWN, 0, 5);
	r.c = 1ull << 32;
	CHECK(decode(ctx, r, &ev) == -EBADMSG);
}

static void test_bad_strings(const struct ts_decode_ctx *ctx, struct arena *a)
{
	struct ts_ring_record r = rec_of(TS_REC_THREAD, 0, 0);
	struct ts_event ev;
	uint32_t id;
	int err;

	/* Ids below 8, at or past the arena's end. */
	for (uint32_t bad = 1; bad < 8; bad++) {
		r.a = bad;
		CHECK_MSG(decode(ctx, r, &ev) == -EBADMSG, "id %u", bad);
	}
	r.a = ARENA;
	CHECK(decode(ctx, r, &ev) == -EBADMSG);
	r.a = 0xffffffffu;
	CHECK(decode(ctx, r, &ev) == -EBADMSG);

	/* Length prefix crossing the end: only one byte of it inside. */
	r.a = ARENA - 1;
	a->bytes[ARENA - 1] = 0;
	CHECK(decode(ctx, r, &ev) == -EBADMSG);

	/* Prefix inside, NUL would be outside. */
	put_prefix(a, ARENA - 2, 0);
	r.a = ARENA - 2;
	CHECK(decode(ctx, r, &ev) == -EBADMSG);

	/* The tightest fit at the very end is fine: [0][0][NUL]. */
	put_prefix(a, ARENA - 3, 0);
	a->bytes[ARENA - 1] = '\0';
	r.a = ARENA - 3;
	CHECK(decode(ctx, r, &ev) == 0 && ev.name && ev.name[0] == '\0');

	/* Bytes crossing the end. */
	put_prefix(a, ARENA - 10, 20);
	r.a = ARENA - 10;
	CHECK(decode(ctx, r, &ev) == -EBADMSG);

	/* Longer than TS_STRING_MAX (256 bytes, NUL-terminated, in bounds),
	 * while exactly TS_STRING_MAX is accepted. */
	id = a->used;
	put_prefix(a, id, TS_STRING_MAX + 1);
	memset(a->bytes + id + 2, 'x', TS_STRING_MAX + 1);
	a->bytes[id + 2 + TS_STRING_MAX + 1] = '\0';
	r.a = id;
	CHECK(decode(ctx, r, &ev) == -EBADMSG);
	put_prefix(a, id, TS_STRING_MAX);
	a->bytes[id + 2 + TS_STRING_MAX] = '\0';
	CHECK(decode(ctx, r, &ev) == 0 && ev.name && strlen(ev.name) == TS_STRING_MAX);
	a->used += 2 + TS_STRING_MAX + 2;

	/* Missing NUL. */
	id = put_string(a, "abcd");
	a->bytes[id + 2 + 4] = 'X';
	r.a = id;
	CHECK(decode(ctx, r, &ev) == -EBADMSG);

	/* A NUL inside the counted bytes. */
	id = put_string(a, "ab_d");
	a->bytes[id + 2 + 2] = '\0';
	r.a = id;
	CHECK(decode(ctx, r, &ev) == -EBADMSG);

	/* Control characters survive as '?'. */
	id = put_string(a, "a\033[2Jb\n");
	r.a = id;
	CHECK(decode(ctx, r, &ev) == 0 && ev.name && strcmp(ev.name, "a?[2Jb?") == 0);

	/* A bad location fails the whole record. */
	r = rec_of(TS_REC_RESOURCE_NEW, 0, 3);
	r.a = put_string(a, "ok");
	r.c = 3;
	CHECK(decode(ctx, r, &ev) == -EBADMSG);

	/* ts_decode_string directly. */
	CHECK(ts_decode_string(ctx, 0, &err) == NULL && err == 0);
	CHECK(ts_decode_string(ctx, ARENA + 5, &err) == NULL && err == -EBADMSG);
	id = put_string(a, "direct");
	CHECK(strcmp(ts_decode_string(ctx, id, &err), "direct") == 0 && err == 0);
}

/* A context without an arena refuses every string id but id 0. */
static void test_no_arena(struct ts_strpool *pool)
{
	struct ts_decode_ctx ctx = { .pid = 1, .tid = 1, .arena = NULL, .arena_size = 0, .pool = pool };
	struct ts_ring_record r = rec_of(TS_REC_THREAD, 0, 0);
	struct ts_event ev;

	CHECK(decode(&ctx, r, &ev) == 0 && !ev.name);
	r.a = 8;
	CHECK(decode(&ctx, r, &ev) == -EBADMSG);
	CHECK(ts_decode_record(&ctx, NULL, &ev) == -EINVAL);
}

int main(void)
{
	struct ts_strpool *pool = NULL;
	struct arena a = { .bytes = calloc(1, ARENA), .used = 8 };
	struct ts_decode_ctx ctx;

	if (!a.bytes || ts_strpool_new(1 << 20, &pool) < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	ctx = (struct ts_decode_ctx){ .pid = 4242, .tid = 17, .arena = a.bytes, .arena_size = ARENA, .pool = pool };

	test_every_type(&ctx, &a);
	test_bad_records(&ctx);
	test_bad_strings(&ctx, &a);
	test_no_arena(pool);

	ts_strpool_free(pool);
	free(a.bytes);
	return check_result("test-decode");
}
