/*
 * ring_format.h: the layout of the shared-memory region between the shim
 * (producer, in the target) and the collector (consumer).
 *
 * This is the one binary contract that does not go through protobuf: a
 * sealed memfd of fixed size holding a header, a string arena, and an
 * array of single-producer/single-consumer rings, one per thread slot.
 * Everything in it is written by the target and therefore untrusted by
 * the collector: every offset, index and length must be bounds-checked
 * against the sizes the collector itself computed from the Hello message
 * and fstat(), never against values read from the region alone.
 *
 *   [ts_shm_header][string arena (arena_size bytes)][ring 0][ring 1]...
 *   ring i = [ts_ring_header][capacity x ts_ring_record]
 *
 * Producer protocol (one thread owns a slot): read tail (acquire); if
 * head - tail == capacity, bump `dropped` and return; else write the
 * record at head % capacity, then store head + 1 (release).
 * Consumer protocol: read head (acquire), copy records tail..head, then
 * store tail (release). head and tail are free-running 64-bit counters.
 *
 * Slots: a thread claims a FREE slot with a CAS to ACTIVE, stores tid and
 * bumps generation, and publishes a TS_REC_THREAD record first. At thread
 * exit the shim stores RETIRED; the consumer drains the ring and then
 * stores FREE. A new owner carries on from the ring's current head and
 * tail (they are never reset), and `dropped` keeps counting across owners.
 *
 * Between collectors (the shim listens for `taskscope attach` and keeps its
 * region for the next one), the shim is the only consumer: before it
 * hands the memfd to the next collector it discards unread records
 * (tail = head), frees RETIRED slots and zeroes the drop counters, so a
 * new collector starts from a clean baseline. Slots stay with their
 * threads, and every thread re-sends TS_REC_THREAD on its next event.
 *
 * Strings: a producer reserves space with an atomic fetch-add on
 * arena_used, writes [u16 length][bytes][NUL] at that offset, and uses the
 * offset as the string's id (0 = no string). A record that names a string
 * is published after the string's bytes, so the consumer that has
 * acquired the record sees them.
 */
#ifndef TASKSCOPE_RING_FORMAT_H
#define TASKSCOPE_RING_FORMAT_H

#include <stdint.h>

#define TS_SHM_MAGIC 0x5453434f50450001ull /* "TSCOPE" + format 1 */
#define TS_SHM_VERSION 1u

#define TS_RING_RECORD_SIZE 48u
#define TS_STRING_MAX 255u /* longest string the collector accepts */

/* Defaults the shim uses; the collector accepts any values within the
 * limits below that match the Hello message and the memfd's size. */
#define TS_DEFAULT_SLOTS 64u
#define TS_DEFAULT_CAPACITY 8192u /* records per ring, power of two */
#define TS_DEFAULT_ARENA (256u * 1024u)

#define TS_MAX_SLOTS 1024u
#define TS_MAX_CAPACITY (1u << 20)
#define TS_MAX_ARENA (16u * 1024u * 1024u)
#define TS_MAX_SHM_SIZE (1ull << 31)

enum ts_slot_state {
	TS_SLOT_FREE = 0,     /* no thread owns it; the collector has drained it */
	TS_SLOT_ACTIVE = 1,   /* owned by a live thread */
	TS_SLOT_RETIRED = 2,  /* its thread exited; drain, then set FREE */
};

enum ts_record_type {
	TS_REC_THREAD = 1,        /* a = name id, flags = role; sent first by every slot owner
	                           * (the shim also puts tid in task, slot generation in b;
	                           * it may send another one when the thread is renamed) */
	TS_REC_SPAWN = 2,         /* task, b = parent, a = name id, c = location id, flags = kind */
	TS_REC_POLL_BEGIN = 3,    /* task */
	TS_REC_POLL_END = 4,      /* task, flags = 1 when ready */
	TS_REC_WAKE = 5,          /* task, flags = 1 when by reference */
	TS_REC_WAKER_CLONE = 6,   /* task */
	TS_REC_WAKER_DROP = 7,    /* task */
	TS_REC_TASK_DROP = 8,     /* task, flags = outcome */
	TS_REC_RESOURCE_NEW = 9,  /* task = resource id, a = name id, c = location id, flags = kind */
	TS_REC_RESOURCE_DROP = 10,/* task = resource id */
	TS_REC_LOCK_WAIT = 11,    /* task = resource id */
	TS_REC_LOCK_ACQUIRED = 12,/* task = resource id, flags = 1 when shared */
	TS_REC_LOCK_RELEASE = 13, /* task = resource id */
	TS_REC_TASK_SNAPSHOT = 14,/* a task alive when a collector attached: task, a = name id,
	                           * c = location id, b = state (0 running, 1 scheduled, 2 idle),
	                           * flags = kind | TS_REC_SNAP_WAKER_HELD when it has a live waker */
	TS_REC_TYPE_MAX = 14,
};

#define TS_REC_SNAP_WAKER_HELD 0x100u

struct ts_ring_record {
	uint64_t ts;    /* CLOCK_MONOTONIC ns */
	uint16_t type;  /* enum ts_record_type */
	uint16_t flags;
	uint32_t a;     /* a string id, per type */
	uint64_t task;  /* task or resource id */
	uint64_t b;
	uint64_t c;
	uint64_t reserved;
};
_Static_assert(sizeof(struct ts_ring_record) == TS_RING_RECORD_SIZE, "record size is ABI");

struct ts_ring_header {
	uint64_t head;          /* producer: next record to write */
	uint8_t pad0[56];
	uint64_t tail;          /* consumer: next record to read */
	uint8_t pad1[56];
	uint64_t dropped;       /* producer: records dropped because the ring was full */
	uint32_t state;         /* enum ts_slot_state; CAS by producers, FREE by the consumer */
	uint32_t tid;           /* owner's kernel thread id */
	uint32_t generation;    /* bumped each time a thread claims the slot */
	uint8_t pad2[44];
};
_Static_assert(sizeof(struct ts_ring_header) == 192, "ring header size is ABI");

struct ts_shm_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;   /* sizeof(struct ts_shm_header) */
	uint32_t slots;
	uint32_t capacity;      /* records per ring, power of two */
	uint32_t record_size;
	uint32_t arena_size;
	uint64_t arena_used;    /* atomic bump pointer into the arena; starts at 8 so 0 means "none" */
	uint64_t arena_full;    /* strings refused because the arena was full */
	uint32_t pid;
	uint32_t reserved0;
	uint64_t noslot_dropped;/* events dropped because every slot was taken (added in
				 * place of padding; 0 from a producer that predates it) */
	uint8_t pad[64];
};
_Static_assert(sizeof(struct ts_shm_header) == 128, "shm header size is ABI");

/* Byte offsets, from the region's start, computed from trusted sizes. */
static inline uint64_t ts_shm_arena_offset(void)
{
	return sizeof(struct ts_shm_header);
}

static inline uint64_t ts_shm_ring_offset(uint32_t arena_size, uint32_t capacity, uint32_t slot)
{
	uint64_t ring_bytes = sizeof(struct ts_ring_header) + (uint64_t)capacity * TS_RING_RECORD_SIZE;
	return sizeof(struct ts_shm_header) + arena_size + (uint64_t)slot * ring_bytes;
}

static inline uint64_t ts_shm_total_size(uint32_t slots, uint32_t arena_size, uint32_t capacity)
{
	return ts_shm_ring_offset(arena_size, capacity, slots);
}

#endif /* TASKSCOPE_RING_FORMAT_H */
