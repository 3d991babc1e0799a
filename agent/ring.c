/*
 * ring.c: the producer side of the per-thread rings, and every public
 * record function.
 *
 * The hot path (emit) is: compare the thread's cached epoch with the
 * global one, check for room (re-reading the consumer's tail only when
 * the ring looks full), read the clock through the vDSO, copy 48 bytes
 * into the slot, and publish them with one release store of head. No syscalls, locks,
 * allocation or formatting. A full ring bumps its `dropped` counter; a
 * thread that found no free slot bumps the header's `noslot_dropped`.
 *
 * The slow path (claim) runs once per thread per region: a CAS on a FREE
 * slot, gettid() and prctl(PR_GET_NAME) once, a pthread key whose
 * destructor marks the slot RETIRED at thread exit, and the slot's first
 * record, TS_REC_THREAD.
 */
#include "agent/shim_internal.h"

#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* initial-exec: a plain %fs-relative access, no __tls_get_addr call on the
 * hot path. Fine for a library linked at start-up or LD_PRELOADed; one
 * dlopen()ed later draws its ~100 bytes from glibc's static TLS surplus. */
__thread struct ts_shim_tls ts_shim_tls __attribute__((tls_model("initial-exec")));

static pthread_key_t retire_key;
static int retire_key_ok;

/* Thread exit: hand the slot to the collector to drain. Only if the slot
 * still belongs to the current region (not one detached or inherited
 * across fork()), even if the thread has not re-announced itself since
 * the last attach. */
static void retire_slot(void *arg)
{
	struct ts_shim_tls *t = &ts_shim_tls;

	(void)arg;
	if (t->hdr && t->region == __atomic_load_n(&ts_shim.region, __ATOMIC_ACQUIRE))
		__atomic_store_n(&t->hdr->state, TS_SLOT_RETIRED, __ATOMIC_RELEASE);
	t->hdr = NULL;
	t->recs = NULL;
	t->epoch = 0;
	t->region = 0;
}

int ts_shim_key_init(void)
{
	int r = pthread_key_create(&retire_key, retire_slot);

	if (r != 0)
		return -r;
	retire_key_ok = 1;
	return 0;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void count_noslot(void)
{
	struct ts_shm_header *h = ts_shim_header();

	if (h)
		__atomic_fetch_add(&h->noslot_dropped, 1, __ATOMIC_RELAXED);
}

/* Room for one more record in the calling thread's ring (t->hdr valid)?
 * If not, count the drop. Checked before the clock is read, so a full
 * ring costs the target as little as possible. */
static inline int reserve(struct ts_shim_tls *t)
{
	struct ts_ring_header *h = t->hdr;
	uint64_t head = t->head;
	uint64_t tail;

	if (__builtin_expect(head - t->tail_seen <= t->mask, 1))
		return 1;
	/* Looks full: see how far the consumer got. The tail is the
	 * collector's to write; a value ahead of head is nonsense and is
	 * treated as "nothing consumed". Indexes come from our own head,
	 * so no tail value can make us write out of bounds. */
	tail = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
	if (tail > head)
		tail = head - t->mask - 1;
	t->tail_seen = tail;
	if (head - tail <= t->mask)
		return 1;
	__atomic_store_n(&h->dropped, __atomic_load_n(&h->dropped, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
	return 0;
}

/* Write one record at head and publish it. reserve() said yes. */
static inline void publish(struct ts_shim_tls *t, const struct ts_ring_record *rec)
{
	uint64_t head = t->head;

	t->recs[head & t->mask] = *rec;
	t->head = head + 1;
	__atomic_store_n(&t->hdr->head, head + 1, __ATOMIC_RELEASE);
}

/* A collector attached again to the region this thread already has a
 * slot in: keep the slot (the shim rewound it, our head is still ours)
 * and announce the thread to the new collector. */
static int reclaim_slot(struct ts_shim_tls *t, uint32_t epoch)
{
	struct ts_ring_header *h = t->hdr;

	if (__atomic_load_n(&h->state, __ATOMIC_ACQUIRE) != TS_SLOT_ACTIVE ||
	    __atomic_load_n(&h->tid, __ATOMIC_RELAXED) != (uint32_t)gettid())
		return -1;
	t->epoch = epoch;
	t->retry = TS_NOSLOT_RETRY;
	t->tail_seen = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
	if (t->tail_seen > t->head)
		t->tail_seen = t->head - t->mask - 1; /* nonsense: assume full, re-read later */
	ts_shim_thread_announce();
	return 0;
}

static int claim_slot(struct ts_shim_tls *t, uint32_t epoch)
{
	uint8_t *base = __atomic_load_n(&ts_shim.base, __ATOMIC_ACQUIRE);
	uint32_t region = __atomic_load_n(&ts_shim.region, __ATOMIC_ACQUIRE);

	if (t->hdr && t->region == region && reclaim_slot(t, epoch) == 0)
		return 0;
	t->hdr = NULL;
	t->recs = NULL;
	t->epoch = epoch;
	t->region = region;
	t->retry = TS_NOSLOT_RETRY;
	if (!base)
		return -1;
	for (uint32_t i = 0; i < ts_shim.slots; i++) {
		uint64_t off = ts_shm_ring_offset(ts_shim.arena_size, ts_shim.capacity, i);
		struct ts_ring_header *h = (struct ts_ring_header *)(base + off);
		uint32_t expect = TS_SLOT_FREE;

		if (__atomic_load_n(&h->state, __ATOMIC_RELAXED) != TS_SLOT_FREE)
			continue;
		if (!__atomic_compare_exchange_n(&h->state, &expect, TS_SLOT_ACTIVE, 0,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		__atomic_store_n(&h->tid, (uint32_t)gettid(), __ATOMIC_RELAXED);
		__atomic_store_n(&h->generation, __atomic_load_n(&h->generation, __ATOMIC_RELAXED) + 1,
				 __ATOMIC_RELAXED);
		t->hdr = h;
		t->recs = (struct ts_ring_record *)(h + 1);
		t->mask = ts_shim.capacity - 1;
		/* Carry on from where the previous owner stopped. */
		t->head = __atomic_load_n(&h->head, __ATOMIC_RELAXED);
		t->tail_seen = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
		if (t->tail_seen > t->head)
			t->tail_seen = t->head;
		if (retire_key_ok)
			pthread_setspecific(retire_key, t);
		ts_shim_thread_announce();
		return 0;
	}
	return -1;
}

/* Make sure the calling thread has a slot in the current region.
 * Returns the thread state, or NULL when the event must be dropped. */
static inline struct ts_shim_tls *slot(void)
{
	struct ts_shim_tls *t = &ts_shim_tls;
	uint32_t epoch = __atomic_load_n(&ts_shim.epoch, __ATOMIC_ACQUIRE);

	if (__builtin_expect(t->epoch != epoch, 0)) {
		if (claim_slot(t, epoch) < 0) {
			count_noslot();
			return NULL;
		}
	}
	if (__builtin_expect(t->hdr == NULL, 0)) {
		if (--t->retry == 0 && claim_slot(t, epoch) == 0)
			return t;
		count_noslot();
		return NULL;
	}
	return t;
}

/* Stamp and publish one record; slot() and reserve() said yes. */
static inline void write_record(struct ts_shim_tls *t, uint16_t type, uint16_t flags, uint32_t a,
				uint64_t task, uint64_t b, uint64_t c)
{
	struct ts_ring_record rec;

	rec.ts = now_ns();
	rec.type = type;
	rec.flags = flags;
	rec.a = a;
	rec.task = task;
	rec.b = b;
	rec.c = c;
	rec.reserved = 0;
	publish(t, &rec);
}

static inline void emit(uint16_t type, uint16_t flags, uint32_t a, uint64_t task, uint64_t b, uint64_t c)
{
	struct ts_shim_tls *t = slot();

	if (!t || !reserve(t))
		return;
	write_record(t, type, flags, a, task, b, c);
}

void ts_shim_thread_announce(void)
{
	struct ts_shim_tls *t = &ts_shim_tls;
	struct ts_ring_record rec = { 0 };
	uint32_t name_id;

	if (!t->hdr)
		return;
	if (!t->named) {
		/* Once per claim: the kernel's name for the thread. */
		char comm[17] = { 0 };

		if (prctl(PR_GET_NAME, comm, 0, 0, 0) == 0)
			memcpy(t->name, comm, sizeof(comm));
		t->role = TASKSCOPE_ROLE_OTHER;
	}
	name_id = ts_shim_intern_n(t->name, strnlen(t->name, sizeof(t->name)));
	rec.ts = now_ns();
	rec.type = TS_REC_THREAD;
	rec.flags = (uint16_t)t->role;
	rec.a = name_id;
	rec.task = __atomic_load_n(&t->hdr->tid, __ATOMIC_RELAXED);
	rec.b = __atomic_load_n(&t->hdr->generation, __ATOMIC_RELAXED);
	if (reserve(t))
		publish(t, &rec);
}

void ts_shim_thread_label(const char *name, int role)
{
	struct ts_shim_tls *t = &ts_shim_tls;
	size_t n;

	if (!name)
		name = "";
	n = strnlen(name, sizeof(t->name) - 1);
	memcpy(t->name, name, n);
	t->name[n] = '\0';
	t->role = role >= TASKSCOPE_ROLE_OTHER && role <= TASKSCOPE_ROLE_BLOCKING ? role : TASKSCOPE_ROLE_OTHER;
	t->named = 1;
}

void taskscope_thread_name(const char *name, int role)
{
	struct ts_shim_tls *t = &ts_shim_tls;
	uint32_t epoch;

	ts_shim_thread_label(name, role);
	ts_shim_control_after_fork();
	if (!taskscope_enabled())
		return; /* sent at claim time, when recording starts */
	epoch = __atomic_load_n(&ts_shim.epoch, __ATOMIC_ACQUIRE);
	if (t->epoch != epoch)
		(void)claim_slot(t, epoch); /* claiming announces the name */
	else if (t->hdr)
		ts_shim_thread_announce(); /* renamed after claiming: say so */
}

uint64_t taskscope_dropped_events(void)
{
	struct ts_shm_header *sh = ts_shim_header();
	uint64_t total;

	if (!sh)
		return 0;
	total = __atomic_load_n(&sh->noslot_dropped, __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < ts_shim.slots; i++) {
		uint64_t off = ts_shm_ring_offset(ts_shim.arena_size, ts_shim.capacity, i);
		struct ts_ring_header *h = (struct ts_ring_header *)(ts_shim.base + off);

		total += __atomic_load_n(&h->dropped, __ATOMIC_RELAXED);
	}
	return total;
}

void taskscope_task_spawn_(uint64_t task, uint64_t parent, int kind, struct taskscope_site *site)
{
	uint32_t name_id, loc_id;

	ts_shim_site_ids(site, &name_id, &loc_id);
	emit(TS_REC_SPAWN, (uint16_t)kind, name_id, task, parent, loc_id);
}

void taskscope_task_spawn_ids_(uint64_t task, uint64_t parent, int kind, uint32_t name_id, uint32_t loc_id)
{
	emit(TS_REC_SPAWN, (uint16_t)kind, name_id, task, parent, loc_id);
}

void taskscope_poll_begin_(uint64_t task)
{
	emit(TS_REC_POLL_BEGIN, 0, 0, task, 0, 0);
}

void taskscope_poll_end_(uint64_t task, int ready)
{
	emit(TS_REC_POLL_END, ready ? 1 : 0, 0, task, 0, 0);
}

void taskscope_wake_(uint64_t task, int by_ref)
{
	emit(TS_REC_WAKE, by_ref ? 1 : 0, 0, task, 0, 0);
}

void taskscope_waker_clone_(uint64_t task)
{
	emit(TS_REC_WAKER_CLONE, 0, 0, task, 0, 0);
}

void taskscope_waker_drop_(uint64_t task)
{
	emit(TS_REC_WAKER_DROP, 0, 0, task, 0, 0);
}

void taskscope_task_drop_(uint64_t task, int outcome)
{
	emit(TS_REC_TASK_DROP, (uint16_t)outcome, 0, task, 0, 0);
}

void taskscope_resource_new_(uint64_t res, int kind, struct taskscope_site *site)
{
	uint32_t name_id, loc_id;

	ts_shim_site_ids(site, &name_id, &loc_id);
	emit(TS_REC_RESOURCE_NEW, (uint16_t)kind, name_id, res, 0, loc_id);
}

void taskscope_resource_drop_(uint64_t res)
{
	emit(TS_REC_RESOURCE_DROP, 0, 0, res, 0, 0);
}

void taskscope_lock_wait_(uint64_t res)
{
	emit(TS_REC_LOCK_WAIT, 0, 0, res, 0, 0);
}

void taskscope_lock_acquired_(uint64_t res, int shared)
{
	emit(TS_REC_LOCK_ACQUIRED, shared ? 1 : 0, 0, res, 0, 0);
}

void taskscope_lock_release_(uint64_t res)
{
	emit(TS_REC_LOCK_RELEASE, 0, 0, res, 0, 0);
}

/* Why snapshot records may wait: a runtime with more live tasks than a
 * ring holds would otherwise lose most of its snapshot in one burst. On
 * the control thread, during a snapshot, a full ring is waited out (the
 * collector drains every few tens of ms) within a budget for the whole
 * snapshot; elsewhere, or once the budget is spent, the record is dropped
 * and counted like any other. */
static void emit_snapshot(uint16_t flags, uint32_t a, uint64_t task, uint64_t b, uint64_t c)
{
	struct ts_shim_tls *t = slot();
	struct timespec ms = { 0, 1000000L };

	if (!t)
		return; /* counted by slot() */
	while (t->snap_wait_ms > 0 && taskscope_enabled()) {
		uint64_t tail = __atomic_load_n(&t->hdr->tail, __ATOMIC_ACQUIRE);

		if (tail <= t->head && t->head - tail <= t->mask)
			break;
		t->snap_wait_ms--;
		nanosleep(&ms, NULL);
	}
	if (reserve(t))
		write_record(t, TS_REC_TASK_SNAPSHOT, flags, a, task, b, c);
}

/* Snapshot records: not on the hot path (an enumerator calls them once
 * per live task when a collector attaches), so they check the flag here. */
void taskscope_task_snapshot_ids(uint64_t task, int kind, int state, int waker_held,
				 uint32_t name_id, uint32_t loc_id)
{
	uint16_t flags;

	if (!taskscope_enabled() || task == 0)
		return;
	if (kind < TASKSCOPE_KIND_TASK || kind > TASKSCOPE_KIND_LOCAL)
		kind = TASKSCOPE_KIND_TASK;
	if (state < TASKSCOPE_STATE_RUNNING || state > TASKSCOPE_STATE_IDLE)
		state = TASKSCOPE_STATE_SCHEDULED;
	flags = (uint16_t)((unsigned)kind | (waker_held ? TS_REC_SNAP_WAKER_HELD : 0u));
	emit_snapshot(flags, name_id, task, (uint64_t)state, loc_id);
}

void taskscope_task_snapshot(uint64_t task, int kind, int state, int waker_held,
			     struct taskscope_site *site)
{
	uint32_t name_id, loc_id;

	if (!taskscope_enabled())
		return;
	ts_shim_site_ids(site, &name_id, &loc_id);
	taskscope_task_snapshot_ids(task, kind, state, waker_held, name_id, loc_id);
}
