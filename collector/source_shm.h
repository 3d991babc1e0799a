/*
 * source_shm.h: one target's shared-memory rings, seen from the collector.
 *
 * ts_shm_source_open() validates a memfd received from a target against
 * the Hello that came with it (size from fstat, seals, header fields,
 * geometry limits in ring_format.h) and maps it read-write. Drain copies
 * every published record out of every ring, validates and decodes it into
 * ts_events appended to a batch, and advances the rings' tails. A corrupt
 * ring (head behind tail, or more than a ring's capacity ahead) costs that
 * ring's data only: it is resynchronised and the loss counted.
 */
#ifndef TASKSCOPE_SOURCE_SHM_H
#define TASKSCOPE_SOURCE_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "collector/event.h"
#include "collector/source.h"
#include "collector/strpool.h"
#include "taskscope.pb-c.h"

struct ts_shm_stats {
	uint64_t records;          /* records read */
	uint64_t rejected;         /* records that failed validation */
	uint64_t corrupt_rings;    /* times a ring's indices were found corrupt */
	uint64_t lost;             /* records lost to corruption */
	uint64_t producer_dropped; /* records the target dropped (ring full), summed over rings */
};

struct ts_shm_source;

/* On success the source owns memfd. On failure memfd is left open for the
 * caller, and `err` gets one line saying what is wrong. */
int ts_shm_source_open(int memfd, const Taskscope__Hello *hello, struct ts_strpool *pool,
		       struct ts_shm_source **out, char *err, size_t errlen);
void ts_shm_source_free(struct ts_shm_source *src);

/* Append decoded events to `batch`: records in order per ring, plus one
 * TS_EV_DROPPED event per ring whose producer drop counter grew (tid: the
 * ring's thread), and one with tid 0 when the header's noslot_dropped
 * grew (threads that found no free slot). */
int ts_shm_source_drain(struct ts_shm_source *src, struct ts_event_batch *batch);
void ts_shm_source_stats(const struct ts_shm_source *src, struct ts_shm_stats *out);
uint32_t ts_shm_source_pid(const struct ts_shm_source *src);

/* The shm source as a generic source (source.h): drain, and losses from
 * rejected records and corrupt rings (target-side drops are reported by
 * drain itself as TS_EV_DROPPED). */
extern const struct ts_source_ops ts_shm_source_ops;

/* Check a Hello's geometry (slots, capacity, record size, arena size and
 * total size) against the limits in ring_format.h, without any memfd.
 * Returns 0 or -EINVAL with one line in `err`. ts_shm_source_open() and
 * the handshake both call it. */
int ts_shm_source_check_hello(const Taskscope__Hello *hello, char *err, size_t errlen);

#endif /* TASKSCOPE_SOURCE_SHM_H */
