/*
 * locks_track.h: turning bpf/locks.h records into model events.
 *
 * The BPF side reports raw facts (a futex wait began, a futex wait
 * returned, a lock call returned, an unlock); this tracker turns them into
 * the model's vocabulary (TS_EV_RESOURCE_NEW, LOCK_WAIT, LOCK_ACQUIRED,
 * LOCK_RELEASE). It is plain user-space code with no BPF in it, so the
 * rules are unit-tested with synthetic records (tests/locks/test-track.c):
 *
 *  - naming: a SITE record is handed to a callback (the symbolizer in
 *    bpf/locks_source.c) that names the lock by its call site, or says the
 *    futex is not a lock at all (a condition variable); such addresses are
 *    ignored from then on;
 *  - the futex path (contended mode, and full mode for locks that are not
 *    pthread's): one acquisition may take several futex waits (a woken
 *    waiter can lose the lock to a thread that never slept, and sleeps
 *    again). A wait's return is held back for TS_LOCKS_MERGE_NS: a new wait
 *    of the same thread on the same lock within it continues the same
 *    wait; otherwise the return was the acquisition;
 *  - the holder: a waiter's record carries the holder's tid (read from the
 *    lock), so a hold that began without contention, which the contended
 *    mode cannot see, is reported from the first wait that saw it (its
 *    acquired_ns is then "held at least since"). In full mode only a
 *    lock's first holder can be reported so (one that took it before the
 *    attach), and the holder's own ACQUIRED may still come after the
 *    waiter's record (stamped later: a waiter reads the holder after it
 *    stamped its wait; or drained later): until that holder's release, its
 *    ACQUIRED for the lock is the same hold, not a second acquisition.
 */
#ifndef TASKSCOPE_BPF_LOCKS_TRACK_H
#define TASKSCOPE_BPF_LOCKS_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/locks.h"
#include "collector/attach.h"
#include "collector/source.h"

/* A re-wait within this continues the wait: a waiter that lost the race
 * sleeps again within microseconds of its wake-up, more on a slow or
 * loaded machine (ASan runs split such waits at 60 us). It can also merge
 * a thread's new acquisition after a release that woke nobody (unseen):
 * that undercounts acquisitions, and the model ends such a wait with the
 * thread's acquisition even across a poll's start or end. */
#define TS_LOCKS_MERGE_NS 200000ull
#define TS_LOCKS_TRACK_MAX 65536     /* locks and threads tracked, each */
#define TS_LOCKS_QUEUE_MAX (1u << 20) /* records waiting to be processed in time order */

struct ts_strpool;

/* What a call site says about a lock. */
struct ts_locks_name {
	char name[128];             /* the caller's function ("" when unknown) */
	char location[160];         /* "file:line" ("" when unknown) */
	uint32_t kind;              /* enum ts_resource_kind */
	bool not_a_lock;            /* the futex belongs to a condvar, semaphore, ...: ignore it */
};

/* Name the lock a SITE record shows being taken. Returns 0 (out filled),
 * or -errno (the lock stays unnamed). */
typedef int (*ts_locks_name_fn)(void *ctx, const struct ts_locks_site *site, struct ts_locks_name *out);

struct ts_locks_track;

int ts_locks_track_new(struct ts_strpool *pool, enum ts_lock_mode mode, ts_locks_name_fn name,
		       void *name_ctx, struct ts_locks_track **out);
void ts_locks_track_free(struct ts_locks_track *t);

/* One ring buffer record (`len` bytes, untrusted length); events go to
 * `out`. Returns 0, or -EINVAL for a malformed record (counted). */
int ts_locks_track_record(struct ts_locks_track *t, const void *data, size_t len,
			  struct ts_event_batch *out);

/* Emit held-back acquisitions older than now - TS_LOCKS_MERGE_NS (all of
 * them when `all`). */
void ts_locks_track_flush(struct ts_locks_track *t, uint64_t now_ns, bool all, struct ts_event_batch *out);

/* The ring buffer's order is the order records were reserved, not the
 * order of their timestamps: a waiter's record (stamped before it copied
 * its stack) can come after the holder's release. So the source queues
 * records (push) and processes them in time order (process): every queued
 * record stamped at or before `cutoff` (all of them when `all`), then
 * ts_locks_track_flush(cutoff). Records younger than the cutoff wait for
 * the next call. push returns 0, or -EINVAL / -ENOSPC (counted as lost). */
int ts_locks_track_push(struct ts_locks_track *t, const void *data, size_t len);
void ts_locks_track_process(struct ts_locks_track *t, uint64_t cutoff_ns, bool all, struct ts_event_batch *out);

/* Is `tid` a thread of `pid`? The holder a waiter read from a lock is
 * only believed when it is (a futex that is not a mutex has no owner
 * field). Without a check every non-zero tid is believed. */
typedef bool (*ts_locks_owner_fn)(void *ctx, uint32_t pid, uint32_t tid);
void ts_locks_track_set_owner_check(struct ts_locks_track *t, ts_locks_owner_fn fn, void *ctx);

/* Does `tid` still hold the lock at `addr`? (Read from the lock itself.) */
typedef bool (*ts_locks_held_fn)(void *ctx, uint32_t pid, uint64_t addr, uint32_t tid);
/* The futex path sees a release only when it wakes a waiter: the last
 * holder of a burst of contention lets go unseen. After each process(),
 * the source asks `held` about every holder known from that path whose
 * lock had no record for TS_LOCKS_CHECK_QUIET_NS; one that no longer
 * holds its lock is released at `ts` (the cutoff: "by then"). held NULL:
 * the process is gone, every such holder is released. */
#define TS_LOCKS_CHECK_QUIET_NS 100000000ull
void ts_locks_track_check_holders(struct ts_locks_track *t, uint64_t ts, ts_locks_held_fn held, void *ctx,
				  struct ts_event_batch *out);

/* Records that could not be used: malformed, or tables full. */
uint64_t ts_locks_track_lost(const struct ts_locks_track *t);

#endif /* TASKSCOPE_BPF_LOCKS_TRACK_H */
