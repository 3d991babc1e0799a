/*
 * region.c: the shared-memory region the shim writes and the collector
 * reads: one memfd, sized once, sealed so neither side can shrink or grow
 * it under the other, holding the header, the string arena and the rings
 * laid out as agent/ring_format.h says.
 *
 * Only the shim's handshake and the test hooks create a region, and it
 * lives as long as the process (or until fork / a test hook drops it).
 * Between two collectors the shim rewinds it. Nothing here runs on the
 * hot path.
 */
#include "agent/shim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

int ts_shim_region_check(uint32_t slots, uint32_t capacity, uint32_t arena)
{
	if (slots == 0 || slots > TS_MAX_SLOTS)
		return -EINVAL;
	if (capacity < 2 || capacity > TS_MAX_CAPACITY || (capacity & (capacity - 1)) != 0)
		return -EINVAL;
	/* The arena must hold its 8-byte "no string" prefix and one entry. */
	if (arena < 16 || arena > TS_MAX_ARENA)
		return -EINVAL;
	if (ts_shm_total_size(slots, arena, capacity) > TS_MAX_SHM_SIZE)
		return -EINVAL;
	return 0;
}

static void write_header(uint8_t *base, uint32_t slots, uint32_t capacity, uint32_t arena)
{
	struct ts_shm_header *h = (struct ts_shm_header *)base;

	/* A fresh memfd reads as zeros: every slot starts FREE, empty. */
	h->version = TS_SHM_VERSION;
	h->header_size = sizeof(*h);
	h->slots = slots;
	h->capacity = capacity;
	h->record_size = TS_RING_RECORD_SIZE;
	h->arena_size = arena;
	h->arena_used = 8;
	h->pid = (uint32_t)getpid();
	/* Magic last: a reader that sees it sees a complete header. */
	__atomic_store_n(&h->magic, TS_SHM_MAGIC, __ATOMIC_RELEASE);
}

int ts_shim_region_create(uint32_t slots, uint32_t capacity, uint32_t arena,
			  uint8_t **base, uint64_t *size, int *memfd)
{
	uint64_t total;
	void *map = MAP_FAILED;
	int fd = -1;
	int r;

	r = ts_shim_region_check(slots, capacity, arena);
	if (r < 0)
		return r;
	total = ts_shm_total_size(slots, arena, capacity);

	fd = memfd_create("taskscope", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto cleanup;
	}
	if (ftruncate(fd, (off_t)total) < 0) {
		r = -errno;
		goto cleanup;
	}
	map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		r = -errno;
		goto cleanup;
	}
	/* Sealing after mapping: F_SEAL_WRITE is not wanted (we write), and
	 * the size seals only forbid resizing, which a live mapping allows. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		r = -errno;
		goto cleanup;
	}
	write_header(map, slots, capacity, arena);
	*base = map;
	*size = total;
	*memfd = fd;
	return 0;

cleanup:
	if (map != MAP_FAILED)
		munmap(map, total);
	if (fd >= 0)
		close(fd);
	return r;
}

/* Why this is safe with threads running: recording is off, so producers
 * do not write (one that tested the flag just before it went off may
 * publish one last record, which is then delivered or discarded, never
 * torn: head is published after the record). The shim is the only
 * consumer while no collector is attached, so moving tail and freeing
 * retired slots is the consumer's job done by us. The counters restart
 * at 0 because the next collector starts its baseline at 0. */
void ts_shim_region_rewind(void)
{
	struct ts_shm_header *h = ts_shim_header();

	if (!h)
		return;
	for (uint32_t i = 0; i < ts_shim.slots; i++) {
		uint64_t off = ts_shm_ring_offset(ts_shim.arena_size, ts_shim.capacity, i);
		struct ts_ring_header *r = (struct ts_ring_header *)(ts_shim.base + off);
		uint32_t retired = TS_SLOT_RETIRED;

		__atomic_store_n(&r->tail, __atomic_load_n(&r->head, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
		__atomic_store_n(&r->dropped, 0, __ATOMIC_RELAXED);
		(void)__atomic_compare_exchange_n(&r->state, &retired, TS_SLOT_FREE, 0, __ATOMIC_ACQ_REL,
						  __ATOMIC_RELAXED);
	}
	__atomic_store_n(&h->noslot_dropped, 0, __ATOMIC_RELAXED);
	/* Every thread re-sends its THREAD record for the new collector. */
	ts_shim_bump_epoch();
}
