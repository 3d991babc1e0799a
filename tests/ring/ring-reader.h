/*
 * ring-reader.h: a tiny consumer of the shim's region for the ring tests.
 *
 * The real reader is the collector's (collector/source_shm.h); these tests
 * must not depend on it, so they map the memfd the way a collector would,
 * take the geometry from the shim's own header (the tests trust the shim
 * they are testing) and drain rings by the protocol in ring_format.h.
 * Everything is static inline: each test includes it once.
 */
#ifndef TASKSCOPE_TEST_RING_READER_H
#define TASKSCOPE_TEST_RING_READER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/ring_format.h"

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                     \
		}                                                                    \
	} while (0)

#define CHECK_EQ(a, b)                                                               \
	do {                                                                         \
		unsigned long long a_ = (unsigned long long)(a);                     \
		unsigned long long b_ = (unsigned long long)(b);                     \
		if (a_ != b_) {                                                      \
			fprintf(stderr, "%s:%d: %s == %llu, expected %s == %llu\n", __FILE__, \
				__LINE__, #a, a_, #b, b_);                           \
			exit(1);                                                     \
		}                                                                    \
	} while (0)

struct rr {
	uint8_t *base;
	uint64_t size;
	uint32_t slots;
	uint32_t capacity;
	uint32_t arena;
};

static inline void rr_open(struct rr *r, int memfd)
{
	struct stat st;
	struct ts_shm_header *h;

	CHECK(fstat(memfd, &st) == 0);
	r->size = (uint64_t)st.st_size;
	CHECK(r->size >= sizeof(struct ts_shm_header));
	r->base = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	CHECK(r->base != MAP_FAILED);
	h = (struct ts_shm_header *)r->base;
	CHECK(__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == TS_SHM_MAGIC);
	CHECK_EQ(h->version, TS_SHM_VERSION);
	CHECK_EQ(h->header_size, sizeof(struct ts_shm_header));
	CHECK_EQ(h->record_size, TS_RING_RECORD_SIZE);
	r->slots = h->slots;
	r->capacity = h->capacity;
	r->arena = h->arena_size;
	CHECK_EQ(ts_shm_total_size(r->slots, r->arena, r->capacity), r->size);
}

static inline void rr_close(struct rr *r)
{
	munmap(r->base, r->size);
	r->base = NULL;
}

static inline struct ts_shm_header *rr_header(struct rr *r)
{
	return (struct ts_shm_header *)r->base;
}

static inline struct ts_ring_header *rr_ring(struct rr *r, uint32_t slot)
{
	CHECK(slot < r->slots);
	return (struct ts_ring_header *)(r->base + ts_shm_ring_offset(r->arena, r->capacity, slot));
}

static inline uint32_t rr_state(struct rr *r, uint32_t slot)
{
	return __atomic_load_n(&rr_ring(r, slot)->state, __ATOMIC_ACQUIRE);
}

/* Copy up to max unread records of one ring into out and consume them. */
static inline size_t rr_drain(struct rr *r, uint32_t slot, struct ts_ring_record *out, size_t max)
{
	struct ts_ring_header *h = rr_ring(r, slot);
	struct ts_ring_record *recs = (struct ts_ring_record *)(h + 1);
	uint64_t head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
	uint64_t tail = __atomic_load_n(&h->tail, __ATOMIC_RELAXED);
	size_t n = 0;

	CHECK(head - tail <= r->capacity);
	while (tail != head && n < max) {
		out[n++] = recs[tail & (r->capacity - 1)];
		tail++;
	}
	__atomic_store_n(&h->tail, tail, __ATOMIC_RELEASE);
	return n;
}

/* Records waiting in a ring. */
static inline uint64_t rr_pending(struct rr *r, uint32_t slot)
{
	struct ts_ring_header *h = rr_ring(r, slot);

	return __atomic_load_n(&h->head, __ATOMIC_ACQUIRE) - __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
}

/* The string with this id, NUL-terminated in the arena; NULL if the id
 * or its length is out of bounds. */
static inline const char *rr_string(struct rr *r, uint32_t id)
{
	uint8_t *arena = r->base + ts_shm_arena_offset();
	uint16_t len;

	if (id < 8 || (uint64_t)id + 3 > r->arena)
		return NULL;
	memcpy(&len, arena + id, sizeof(len));
	if ((uint64_t)id + 3 + len > r->arena || arena[id + 2 + len] != '\0')
		return NULL;
	return (const char *)arena + id + 2;
}

/* The slot whose owner has this tid, or -1. */
static inline int rr_find_tid(struct rr *r, uint32_t tid)
{
	for (uint32_t i = 0; i < r->slots; i++) {
		if (rr_state(r, i) != TS_SLOT_FREE && __atomic_load_n(&rr_ring(r, i)->tid, __ATOMIC_RELAXED) == tid)
			return (int)i;
	}
	return -1;
}

#endif /* TASKSCOPE_TEST_RING_READER_H */
