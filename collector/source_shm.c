/*
 * source_shm.c: one target's shared-memory rings, read by the collector.
 *
 * The target hands us a memfd and a Hello describing it. Nothing in
 * either is trusted: open() checks the Hello's geometry against the
 * limits in ring_format.h, the memfd's real size (fstat) against the
 * Hello, and its seals, before mapping it; then the region's header
 * against the Hello. Because the memfd is sealed against shrinking, the
 * mapping can never lose pages under us (no SIGBUS); an unsealed memfd is
 * refused before mmap.
 *
 * Drain walks every slot that is ACTIVE or RETIRED. The consumer keeps
 * its own copy of each ring's tail and never reads the shared one back
 * (except once when a new owner claims the slot), so a target scribbling
 * on `tail` cannot steer our reads. Each record is copied out with one
 * memcpy and decoded from the copy. Corrupt indices cost that ring its
 * unread records: they are counted and the ring resynchronised at head.
 * Producer drops (a full ring, or a thread that found no free slot)
 * become TS_EV_DROPPED events carrying the increase since the last drain.
 */
#include "collector/source_shm.h"
#include "collector/errline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/ring_format.h"
#include "collector/decode.h"

/* A drop counter that grows by more than this between two drains was
 * not incremented one record at a time: treat it as corruption. */
#define DROP_JUMP_MAX (1ull << 40)

struct slot_book {
	bool valid;            /* false: take tail and generation afresh on next sight */
	uint32_t generation;
	uint64_t tail;         /* our copy; the shared tail is written, not trusted */
	uint64_t last_dropped; /* the producer's `dropped` at the last report */
};

struct ts_shm_source {
	int fd;
	uint8_t *base;
	size_t size;
	uint32_t pid;
	uint32_t slots;
	uint32_t capacity;
	uint32_t arena_size;
	uint64_t clock_offset;
	struct ts_strpool *pool;
	struct slot_book *book;
	uint64_t last_noslot;  /* the header's noslot_dropped at the last report */
	struct ts_shm_stats stats;
};

/* ---- open ---- */


static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

int ts_shm_source_check_hello(const Taskscope__Hello *h, char *err, size_t errlen)
{
	const char *hint = "not a taskscope target, or a mismatched libtaskscope";
	uint64_t total;

	if (!h) {
		ts_errf(err, errlen, "no Hello");
		return -EINVAL;
	}
	if (h->slots == 0 || h->slots > TS_MAX_SLOTS) {
		ts_errf(err, errlen, "target %u: Hello says %u ring slots, expected 1..%u: %s",
			h->pid, h->slots, TS_MAX_SLOTS, hint);
		return -EINVAL;
	}
	if (!is_pow2(h->capacity) || h->capacity > TS_MAX_CAPACITY) {
		ts_errf(err, errlen, "target %u: Hello says %u records per ring, expected a power of two up to %u: %s",
			h->pid, h->capacity, TS_MAX_CAPACITY, hint);
		return -EINVAL;
	}
	if (h->record_size != TS_RING_RECORD_SIZE) {
		ts_errf(err, errlen, "target %u: Hello says records are %u bytes, this collector reads %u: %s",
			h->pid, h->record_size, TS_RING_RECORD_SIZE, hint);
		return -EINVAL;
	}
	if (h->arena_size < 64 || h->arena_size > TS_MAX_ARENA || h->arena_size % 64) {
		ts_errf(err, errlen, "target %u: Hello says the string arena is %u bytes, expected a multiple of 64 in 64..%u: %s",
			h->pid, h->arena_size, TS_MAX_ARENA, hint);
		return -EINVAL;
	}
	total = ts_shm_total_size(h->slots, h->arena_size, h->capacity);
	if (total > TS_MAX_SHM_SIZE) {
		ts_errf(err, errlen, "target %u: Hello describes %llu bytes of shared memory, the limit is %llu: %s",
			h->pid, (unsigned long long)total, (unsigned long long)TS_MAX_SHM_SIZE, hint);
		return -EINVAL;
	}
	if (h->shm_size != total) {
		ts_errf(err, errlen, "target %u: Hello says shared memory is %llu bytes but its geometry needs %llu: %s",
			h->pid, (unsigned long long)h->shm_size, (unsigned long long)total, hint);
		return -EINVAL;
	}
	return 0;
}

/* The region's header must say what the Hello said. */
static int check_header(const struct ts_shm_source *src, const Taskscope__Hello *h, char *err, size_t errlen)
{
	struct ts_shm_header hdr;

	memcpy(&hdr, src->base, sizeof(hdr));
	if (hdr.magic != TS_SHM_MAGIC) {
		ts_errf(err, errlen, "target %u: shared memory has no taskscope header (bad magic); "
			"is the target linked with a matching libtaskscope?", h->pid);
		return -EBADMSG;
	}
	if (hdr.version != TS_SHM_VERSION || hdr.header_size != sizeof(hdr)) {
		ts_errf(err, errlen, "target %u: shared memory format %u (header %u bytes), this collector reads "
			"format %u; use matching taskscope and libtaskscope versions",
			h->pid, hdr.version, hdr.header_size, TS_SHM_VERSION);
		return -EBADMSG;
	}
	if (hdr.slots != h->slots || hdr.capacity != h->capacity || hdr.record_size != h->record_size ||
	    hdr.arena_size != h->arena_size || hdr.pid != h->pid) {
		ts_errf(err, errlen, "target %u: shared memory header (pid %u, %u slots x %u records of %u bytes, "
			"arena %u) disagrees with its Hello; restart the target",
			h->pid, hdr.pid, hdr.slots, hdr.capacity, hdr.record_size, hdr.arena_size);
		return -EBADMSG;
	}
	return 0;
}

int ts_shm_source_open(int memfd, const Taskscope__Hello *hello, struct ts_strpool *pool,
		       struct ts_shm_source **out, char *err, size_t errlen)
{
	struct ts_shm_source *src = NULL;
	struct stat st;
	int seals;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (memfd < 0 || !hello || !pool || !out) {
		ts_errf(err, errlen, "internal error: bad arguments to ts_shm_source_open");
		return -EINVAL;
	}
	r = ts_shm_source_check_hello(hello, err, errlen);
	if (r < 0)
		return r;
	if (fstat(memfd, &st) < 0) {
		r = -errno;
		ts_errf(err, errlen, "target %u: cannot stat its shared memory: %s", hello->pid, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != hello->shm_size) {
		ts_errf(err, errlen, "target %u: shared memory is %lld bytes, Hello says %llu: "
			"truncated or wrong memfd; restart the target",
			hello->pid, (long long)st.st_size, (unsigned long long)hello->shm_size);
		return -EINVAL;
	}
	seals = fcntl(memfd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK) || !(seals & F_SEAL_GROW)) {
		ts_errf(err, errlen, "target %u: the target's shared memory is not sealed against shrinking "
			"and growing, so mapping it is unsafe; use a libtaskscope that seals its memfd", hello->pid);
		return -EPERM;
	}

	src = calloc(1, sizeof(*src));
	if (!src) {
		ts_errf(err, errlen, "target %u: out of memory", hello->pid);
		return -ENOMEM;
	}
	src->book = calloc(hello->slots, sizeof(*src->book));
	if (!src->book) {
		r = -ENOMEM;
		ts_errf(err, errlen, "target %u: out of memory", hello->pid);
		goto cleanup;
	}
	src->size = (size_t)hello->shm_size;
	src->base = mmap(NULL, src->size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (src->base == MAP_FAILED) {
		r = -errno;
		src->base = NULL;
		ts_errf(err, errlen, "target %u: cannot map its shared memory: %s", hello->pid, strerror(-r));
		goto cleanup;
	}
	r = check_header(src, hello, err, errlen);
	if (r < 0)
		goto cleanup;

	src->fd = memfd;
	src->pid = hello->pid;
	src->slots = hello->slots;
	src->capacity = hello->capacity;
	src->arena_size = hello->arena_size;
	src->clock_offset = hello->clock_offset_ns;
	src->pool = pool;
	*out = src;
	return 0;

cleanup:
	if (src->base)
		munmap(src->base, src->size);
	free(src->book);
	free(src);
	return r;
}

void ts_shm_source_free(struct ts_shm_source *src)
{
	if (!src)
		return;
	munmap(src->base, src->size);
	close(src->fd);
	free(src->book);
	free(src);
}

/* ---- drain ---- */

static struct ts_ring_header *ring_at(const struct ts_shm_source *src, uint32_t slot)
{
	return (struct ts_ring_header *)(src->base + ts_shm_ring_offset(src->arena_size, src->capacity, slot));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Compare a producer's drop counter (a ring's `dropped`, or the header's
 * `noslot_dropped` with tid 0) with the last value seen and report the
 * increase. A counter that goes backwards or leaps is corruption. */
static int report_drops(struct ts_shm_source *src, uint64_t *counter, uint64_t *last, uint32_t tid,
			struct ts_event_batch *batch)
{
	uint64_t dropped = __atomic_load_n(counter, __ATOMIC_RELAXED);
	uint64_t delta;
	struct ts_event ev;
	int r;

	if (dropped == *last)
		return 0;
	if (dropped < *last || dropped - *last > DROP_JUMP_MAX) {
		src->stats.corrupt_rings++;
		*last = dropped;
		return 0;
	}
	delta = dropped - *last;
	memset(&ev, 0, sizeof(ev));
	ev.ts = now_ns();
	ev.pid = src->pid;
	ev.tid = tid;
	ev.type = TS_EV_DROPPED;
	ev.arg = delta;
	r = ts_event_batch_push(batch, &ev);
	if (r < 0)
		return r;
	*last = dropped;
	src->stats.producer_dropped += delta;
	return 0;
}

static int drain_slot(struct ts_shm_source *src, uint32_t slot, struct ts_event_batch *batch)
{
	struct ts_ring_header *ring = ring_at(src, slot);
	const struct ts_ring_record *records = (const struct ts_ring_record *)(ring + 1);
	struct slot_book *b = &src->book[slot];
	uint64_t mask = src->capacity - 1;
	struct ts_decode_ctx ctx;
	uint32_t state, gen, tid;
	uint64_t head;
	int r;

	state = __atomic_load_n(&ring->state, __ATOMIC_ACQUIRE);
	if (state != TS_SLOT_ACTIVE && state != TS_SLOT_RETIRED)
		return 0;
	gen = __atomic_load_n(&ring->generation, __ATOMIC_ACQUIRE);
	if (!b->valid || b->generation != gen) {
		/* A new owner carries on from the ring's head and tail: take
		 * the shared tail once as our starting point. `dropped` keeps
		 * counting across owners, so last_dropped is kept. */
		b->valid = true;
		b->generation = gen;
		b->tail = __atomic_load_n(&ring->tail, __ATOMIC_RELAXED);
	}
	tid = __atomic_load_n(&ring->tid, __ATOMIC_RELAXED);
	head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);

	if (head < b->tail || head - b->tail > src->capacity) {
		uint64_t gap = head < b->tail ? b->tail - head : head - b->tail;

		/* At most a ring's worth of records can have been unread. */
		src->stats.lost += gap < src->capacity ? gap : src->capacity;
		src->stats.corrupt_rings++;
		b->tail = head;
		__atomic_store_n(&ring->tail, head, __ATOMIC_RELEASE);
	}

	ctx = (struct ts_decode_ctx){
		.pid = src->pid,
		.tid = tid,
		.arena = src->base + ts_shm_arena_offset(),
		.arena_size = src->arena_size,
		.pool = src->pool,
	};
	for (uint64_t seq = b->tail; seq != head; seq++) {
		struct ts_ring_record rec;
		struct ts_event ev;

		memcpy(&rec, &records[seq & mask], sizeof(rec));
		src->stats.records++;
		if (ts_decode_record(&ctx, &rec, &ev) < 0 || ev.ts > UINT64_MAX - src->clock_offset) {
			src->stats.rejected++;
			continue;
		}
		ev.ts += src->clock_offset;
		r = ts_event_batch_push(batch, &ev);
		if (r < 0) {
			/* Leave this record for the next drain. */
			src->stats.records--;
			b->tail = seq;
			__atomic_store_n(&ring->tail, seq, __ATOMIC_RELEASE);
			return r;
		}
	}
	b->tail = head;
	__atomic_store_n(&ring->tail, head, __ATOMIC_RELEASE);

	r = report_drops(src, &ring->dropped, &b->last_dropped, tid, batch);
	if (r < 0)
		return r;

	/* The owner stored RETIRED after its last record (release) and we
	 * loaded the state (acquire) before head, so head was final. */
	if (state == TS_SLOT_RETIRED) {
		uint32_t expected = TS_SLOT_RETIRED;

		/* Forget the ring's tail and generation; the drop baseline
		 * stays, as the next owner's counter starts from it. */
		if (__atomic_compare_exchange_n(&ring->state, &expected, TS_SLOT_FREE, false,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			b->valid = false;
	}
	return 0;
}

int ts_shm_source_drain(struct ts_shm_source *src, struct ts_event_batch *batch)
{
	if (!src || !batch)
		return -EINVAL;
	for (uint32_t slot = 0; slot < src->slots; slot++) {
		int r = drain_slot(src, slot, batch);

		if (r < 0)
			return r;
	}
	/* Events of threads that found every slot taken. */
	return report_drops(src, &((struct ts_shm_header *)src->base)->noslot_dropped, &src->last_noslot, 0,
			    batch);
}

void ts_shm_source_stats(const struct ts_shm_source *src, struct ts_shm_stats *out)
{
	if (!out)
		return;
	if (!src) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = src->stats;
}

uint32_t ts_shm_source_pid(const struct ts_shm_source *src)
{
	return src ? src->pid : 0;
}

static int shm_drain(void *src, struct ts_event_batch *batch, uint64_t now_ns)
{
	(void)now_ns;
	return ts_shm_source_drain(src, batch);
}

static uint64_t shm_lost(void *src)
{
	struct ts_shm_stats st;

	ts_shm_source_stats(src, &st);
	return st.rejected + st.lost;
}

static void shm_free(void *src)
{
	ts_shm_source_free(src);
}

const struct ts_source_ops ts_shm_source_ops = {
	.drain = shm_drain,
	.lost = shm_lost,
	.free = shm_free,
};
