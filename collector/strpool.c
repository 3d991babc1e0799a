/*
 * strpool.c: the collector's interned strings.
 *
 * Task names and locations arrive from untrusted targets, over and over:
 * every spawn at the same call site names the same string. The pool keeps
 * one copy of each distinct string, so events and model state can hold a
 * plain `const char *` that stays valid until the pool is freed, and
 * comparing two interned strings from the same pool is a pointer compare.
 *
 * It is an open-addressing hash set (linear probing, power-of-two table)
 * over entries that point into large append-only chunks. The hash is
 * seeded per pool, so a hostile target cannot precompute colliding names.
 * Memory is bounded by `max_bytes`, counted as string bytes + NUL + one
 * table entry; past the budget a new string is refused: intern returns
 * "?" and the refusal is counted. Strings already in the pool are still
 * found after the budget is reached.
 *
 * Not thread-safe for interning: one thread (the collector's) interns;
 * any thread may read the returned strings.
 */
#include "collector/strpool.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define CHUNK_BYTES (64u * 1024u)
#define TABLE_MIN 64u

struct entry {
	uint64_t hash;
	const char *str;   /* NULL: empty bucket */
	size_t len;
};

struct chunk {
	struct chunk *next;
	size_t used;
	size_t cap;
	char data[];
};

struct ts_strpool {
	struct entry *table;
	size_t table_size;   /* power of two */
	size_t count;
	size_t bytes;        /* charged against max_bytes */
	size_t max_bytes;
	uint64_t refused;
	uint64_t seed;
	struct chunk *chunks;
};

static const char refused_str[] = "?";

static uint64_t random_seed(void)
{
	uint64_t seed = 0;
	struct timespec ts;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
		return seed;
	/* Good enough to spoil precomputed collisions. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&seed;
}

/* FNV-1a over the bytes, started from the seed, then a 64-bit finaliser
 * so that the low bits used for the bucket index depend on every byte. */
static uint64_t hash_bytes(uint64_t seed, const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

int ts_strpool_new(size_t max_bytes, struct ts_strpool **out)
{
	struct ts_strpool *p;

	if (!out)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->table = calloc(TABLE_MIN, sizeof(*p->table));
	if (!p->table) {
		free(p);
		return -ENOMEM;
	}
	p->table_size = TABLE_MIN;
	p->max_bytes = max_bytes;
	p->seed = random_seed();
	*out = p;
	return 0;
}

void ts_strpool_free(struct ts_strpool *p)
{
	struct chunk *c;

	if (!p)
		return;
	c = p->chunks;
	while (c) {
		struct chunk *next = c->next;

		free(c);
		c = next;
	}
	free(p->table);
	free(p);
}

uint64_t ts_strpool_refused(const struct ts_strpool *p)
{
	return p ? p->refused : 0;
}

/* Index of the bucket holding (hash, s, len), or of the empty bucket
 * where it would go. The table always has an empty bucket (load <= 1/2). */
static size_t find_slot(const struct ts_strpool *p, uint64_t hash, const char *s, size_t len)
{
	size_t mask = p->table_size - 1;
	size_t i = (size_t)hash & mask;

	for (;;) {
		const struct entry *e = &p->table[i];

		if (!e->str)
			return i;
		if (e->hash == hash && e->len == len && memcmp(e->str, s, len) == 0)
			return i;
		i = (i + 1) & mask;
	}
}

static int grow_table(struct ts_strpool *p)
{
	size_t new_size = p->table_size * 2;
	struct entry *old = p->table;
	size_t old_size = p->table_size;
	struct entry *table;

	if (new_size > SIZE_MAX / sizeof(*table))
		return -ENOMEM;
	table = calloc(new_size, sizeof(*table));
	if (!table)
		return -ENOMEM;
	p->table = table;
	p->table_size = new_size;
	for (size_t i = 0; i < old_size; i++) {
		if (old[i].str)
			p->table[find_slot(p, old[i].hash, old[i].str, old[i].len)] = old[i];
	}
	free(old);
	return 0;
}

/* Copy len bytes + NUL into chunk storage; NULL when out of memory. */
static char *store_bytes(struct ts_strpool *p, const char *s, size_t len)
{
	struct chunk *c = p->chunks;
	char *dst;

	if (!c || c->cap - c->used < len + 1) {
		size_t cap = len + 1 > CHUNK_BYTES ? len + 1 : CHUNK_BYTES;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		/* A big one-off string gets its own chunk behind the current
		 * one, so the current chunk's free space is not wasted. */
		if (p->chunks && cap > CHUNK_BYTES) {
			c->next = p->chunks->next;
			p->chunks->next = c;
		} else {
			c->next = p->chunks;
			p->chunks = c;
		}
	}
	dst = c->data + c->used;
	memcpy(dst, s, len);
	dst[len] = '\0';
	c->used += len + 1;
	return dst;
}

const char *ts_strpool_intern(struct ts_strpool *p, const char *s, size_t len)
{
	uint64_t hash;
	size_t slot;
	size_t cost;
	char *copy;

	if (!p || (!s && len))
		return refused_str;
	if (!s)
		s = "";
	hash = hash_bytes(p->seed, s, len);
	slot = find_slot(p, hash, s, len);
	if (p->table[slot].str)
		return p->table[slot].str;

	/* p->bytes <= p->max_bytes always holds; check len first so that
	 * `cost` cannot overflow. */
	if (len > p->max_bytes) {
		p->refused++;
		return refused_str;
	}
	cost = len + 1 + sizeof(struct entry);
	if (cost > p->max_bytes - p->bytes) {
		p->refused++;
		return refused_str;
	}
	/* Keep the load factor at or below 1/2. */
	if ((p->count + 1) * 2 > p->table_size) {
		if (grow_table(p) < 0) {
			p->refused++;
			return refused_str;
		}
		slot = find_slot(p, hash, s, len);
	}
	copy = store_bytes(p, s, len);
	if (!copy) {
		p->refused++;
		return refused_str;
	}
	p->table[slot] = (struct entry){ .hash = hash, .str = copy, .len = len };
	p->count++;
	p->bytes += cost;
	return copy;
}
