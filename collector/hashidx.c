/*
 * hashidx.c: the intrusive hash index behind the model's lookups (see
 * hashidx.h). Growth doubles the bucket array and rehashes every node once,
 * so inserts are amortised O(1); the table never shrinks below its peak,
 * which is bounded by the peak number of live plus retained objects.
 */
#include "collector/hashidx.h"

#include <errno.h>
#include <stdlib.h>

#define INITIAL_BUCKETS 64

static void **next_of(const struct ts_hashidx *ix, void *node)
{
	return (void **)((char *)node + ix->next_off);
}

int ts_hashidx_init(struct ts_hashidx *ix, size_t next_off, uint64_t (*hash_of)(const void *node))
{
	ix->buckets = calloc(INITIAL_BUCKETS, sizeof(*ix->buckets));
	if (!ix->buckets)
		return -ENOMEM;
	ix->mask = INITIAL_BUCKETS - 1;
	ix->count = 0;
	ix->next_off = next_off;
	ix->hash_of = hash_of;
	return 0;
}

void ts_hashidx_fini(struct ts_hashidx *ix)
{
	free(ix->buckets);
	ix->buckets = NULL;
	ix->count = 0;
}

static int grow(struct ts_hashidx *ix)
{
	size_t n = (ix->mask + 1) * 2;
	void **nb;

	if (n > SIZE_MAX / sizeof(*nb))
		return -ENOMEM;
	nb = calloc(n, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	for (size_t b = 0; b <= ix->mask; b++) {
		void *node = ix->buckets[b];

		while (node) {
			void *next = *next_of(ix, node);
			size_t nbk = ix->hash_of(node) & (n - 1);

			*next_of(ix, node) = nb[nbk];
			nb[nbk] = node;
			node = next;
		}
	}
	free(ix->buckets);
	ix->buckets = nb;
	ix->mask = n - 1;
	return 0;
}

int ts_hashidx_insert(struct ts_hashidx *ix, void *node)
{
	size_t b = ix->hash_of(node) & ix->mask;

	*next_of(ix, node) = ix->buckets[b];
	ix->buckets[b] = node;
	ix->count++;
	if (ix->count > ix->mask + 1)
		return grow(ix);
	return 0;
}

void ts_hashidx_remove(struct ts_hashidx *ix, void *node)
{
	void **link = &ix->buckets[ix->hash_of(node) & ix->mask];

	while (*link) {
		if (*link == node) {
			*link = *next_of(ix, node);
			*next_of(ix, node) = NULL;
			ix->count--;
			return;
		}
		link = next_of(ix, *link);
	}
}
