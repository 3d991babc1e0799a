/*
 * decode.h: one ring record -> one ts_event, validating everything.
 *
 * The record comes from an untrusted target: the type, flags, kinds and
 * string ids are all checked. String ids are offsets into the target's
 * arena; the string is bounds-checked against the arena size the
 * collector computed, copied, and interned into the collector's pool.
 */
#ifndef TASKSCOPE_DECODE_H
#define TASKSCOPE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/ring_format.h"
#include "collector/event.h"
#include "collector/strpool.h"

struct ts_decode_ctx {
	uint32_t pid;
	uint32_t tid;                   /* the ring owner's thread */
	const volatile uint8_t *arena;  /* the target's string arena (shared memory) */
	uint32_t arena_size;
	struct ts_strpool *pool;
};

/* Returns 0, or -EBADMSG for a record that fails validation (out is then
 * unspecified). Never reads outside the arena. */
int ts_decode_record(const struct ts_decode_ctx *ctx, const struct ts_ring_record *rec, struct ts_event *out);

/* Resolve a string id; returns NULL for id 0 and -EBADMSG-worthy ids
 * (out of bounds, no terminator within TS_STRING_MAX). */
const char *ts_decode_string(const struct ts_decode_ctx *ctx, uint32_t id, int *err);

#endif /* TASKSCOPE_DECODE_H */
