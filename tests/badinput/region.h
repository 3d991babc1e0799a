/*
 * region.h: build a target's shared-memory region by hand, for the
 * badinput tests. It follows agent/ring_format.h directly instead of
 * using the shim, so the tests can produce exactly the good and bad
 * regions they need (unsealed, truncated, corrupt indices, garbage
 * records) and do not depend on the agent's code.
 */
#ifndef TASKSCOPE_TESTS_REGION_H
#define TASKSCOPE_TESTS_REGION_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/ring_format.h"
#include "taskscope.pb-c.h"

struct region {
	int fd;
	uint8_t *base;
	size_t size;
	uint32_t slots;
	uint32_t capacity;
	uint32_t arena_size;
};

/* A memfd laid out per ring_format.h; sealed against shrink and grow
 * unless `seal` is false. Returns 0 or -errno. */
static inline int region_create(struct region *r, uint32_t slots, uint32_t capacity, uint32_t arena_size, bool seal)
{
	struct ts_shm_header *h;

	memset(r, 0, sizeof(*r));
	r->slots = slots;
	r->capacity = capacity;
	r->arena_size = arena_size;
	r->size = (size_t)ts_shm_total_size(slots, arena_size, capacity);
	r->fd = memfd_create("taskscope-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (r->fd < 0)
		return -errno;
	if (ftruncate(r->fd, (off_t)r->size) < 0)
		return -errno;
	r->base = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->base == MAP_FAILED)
		return -errno;
	h = (struct ts_shm_header *)r->base;
	h->magic = TS_SHM_MAGIC;
	h->version = TS_SHM_VERSION;
	h->header_size = sizeof(*h);
	h->slots = slots;
	h->capacity = capacity;
	h->record_size = TS_RING_RECORD_SIZE;
	h->arena_size = arena_size;
	h->arena_used = 8;
	h->pid = (uint32_t)getpid();
	if (seal && fcntl(r->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	return 0;
}

/* Unmap; close the fd unless the source took it (pass false then). */
static inline void region_destroy(struct region *r, bool close_fd)
{
	if (r->base && r->base != MAP_FAILED)
		munmap(r->base, r->size);
	if (close_fd && r->fd >= 0)
		close(r->fd);
	r->base = NULL;
	r->fd = -1;
}

static inline void region_hello(const struct region *r, Taskscope__Hello *h)
{
	Taskscope__Hello init = TASKSCOPE__HELLO__INIT;

	*h = init;
	h->protocol_version = 1;
	h->pid = (uint32_t)getpid();
	h->exe = (char *)"/usr/bin/test-target";
	h->runtime = (char *)"test-runtime";
	h->shm_size = r->size;
	h->slots = r->slots;
	h->capacity = r->capacity;
	h->record_size = TS_RING_RECORD_SIZE;
	h->arena_size = r->arena_size;
}

static inline struct ts_shm_header *region_header(const struct region *r)
{
	return (struct ts_shm_header *)r->base;
}

static inline struct ts_ring_header *region_ring(const struct region *r, uint32_t slot)
{
	return (struct ts_ring_header *)(r->base + ts_shm_ring_offset(r->arena_size, r->capacity, slot));
}

static inline struct ts_ring_record *region_records(const struct region *r, uint32_t slot)
{
	return (struct ts_ring_record *)(region_ring(r, slot) + 1);
}

/* Intern a string the way the shim does; 0 when the arena is full. */
static inline uint32_t region_string(const struct region *r, const char *s)
{
	struct ts_shm_header *h = region_header(r);
	uint16_t len = (uint16_t)strlen(s);
	uint64_t need = 2u + len + 1u;
	uint64_t at = __atomic_fetch_add(&h->arena_used, need, __ATOMIC_RELAXED);
	uint8_t *arena = r->base + ts_shm_arena_offset();

	if (at + need > r->arena_size)
		return 0;
	memcpy(arena + at, &len, 2);
	memcpy(arena + at + 2, s, len + 1u);
	return (uint32_t)at;
}

/* Claim a slot as a new thread would. */
static inline void region_claim(const struct region *r, uint32_t slot, uint32_t tid)
{
	struct ts_ring_header *ring = region_ring(r, slot);

	ring->tid = tid;
	__atomic_fetch_add(&ring->generation, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&ring->state, TS_SLOT_ACTIVE, __ATOMIC_RELEASE);
}

/* The producer protocol: false (and dropped++) when the ring is full. */
static inline bool region_push(const struct region *r, uint32_t slot, const struct ts_ring_record *rec)
{
	struct ts_ring_header *ring = region_ring(r, slot);
	uint64_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	uint64_t head = __atomic_load_n(&ring->head, __ATOMIC_RELAXED);

	if (head - tail >= r->capacity) {
		__atomic_fetch_add(&ring->dropped, 1, __ATOMIC_RELAXED);
		return false;
	}
	memcpy(&region_records(r, slot)[head & (r->capacity - 1)], rec, sizeof(*rec));
	__atomic_store_n(&ring->head, head + 1, __ATOMIC_RELEASE);
	return true;
}

static inline struct ts_ring_record region_rec(uint16_t type, uint16_t flags, uint64_t task, uint64_t ts)
{
	struct ts_ring_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = type;
	rec.flags = flags;
	rec.task = task;
	rec.ts = ts;
	return rec;
}

#endif /* TASKSCOPE_TESTS_REGION_H */
