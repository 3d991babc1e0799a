/*
 * hashidx.h: an intrusive hash index with power-of-two buckets that grows.
 *
 * The model keeps tasks, threads and resources in dense arrays (for
 * iteration) and finds them by key through one of these. Nodes carry their
 * own chain pointer (at `next_off`), so the index allocates only its bucket
 * array; lookups walk a bucket directly with the node's typed hash_next.
 * Keys are (pid, 64-bit id); ts_hashidx_hash() mixes them.
 */
#ifndef TASKSCOPE_HASHIDX_H
#define TASKSCOPE_HASHIDX_H

#include <stddef.h>
#include <stdint.h>

struct ts_hashidx {
	void **buckets;
	size_t mask;                       /* bucket count - 1 */
	size_t count;
	size_t next_off;                   /* offsetof(node, hash_next) */
	uint64_t (*hash_of)(const void *node);
};

static inline uint64_t ts_hashidx_hash(uint32_t pid, uint64_t id)
{
	/* splitmix64's finalizer: cheap and spreads sequential ids well */
	uint64_t x = id ^ ((uint64_t)pid << 32 | pid) * 0x9e3779b97f4a7c15ull;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

int ts_hashidx_init(struct ts_hashidx *ix, size_t next_off, uint64_t (*hash_of)(const void *node));
void ts_hashidx_fini(struct ts_hashidx *ix);
/* The first node of the bucket for `hash` (walk on with the node's hash_next). */
static inline void *ts_hashidx_bucket(const struct ts_hashidx *ix, uint64_t hash)
{
	return ix->buckets[hash & ix->mask];
}
/* Insert a node (not already present); grows the table at load 1. 0 or -ENOMEM
 * (the node is still inserted when only growing failed). */
int ts_hashidx_insert(struct ts_hashidx *ix, void *node);
/* Remove a node that is present; a node that is not is left alone. */
void ts_hashidx_remove(struct ts_hashidx *ix, void *node);

#endif /* TASKSCOPE_HASHIDX_H */
