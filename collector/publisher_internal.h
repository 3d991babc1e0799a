/*
 * publisher_internal.h: the publisher's encoder, apart from its sockets so
 * the tests can drive it with a model and decode what it produced.
 *
 * The encoder remembers a fingerprint of every object it last published;
 * ts_stream_encode() compares the model with them and writes the delta
 * (and, when asked, a full snapshot) as complete frames into byte buffers.
 */
#ifndef TASKSCOPE_PUBLISHER_INTERNAL_H
#define TASKSCOPE_PUBLISHER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/publisher.h"

/* Frames are cut well below TS_FRAME_MAX; one object never gets near it
 * (strings are cut to TS_STREAM_STR_MAX bytes). */
#define TS_STREAM_FRAME_BUDGET (48u * 1024u)
#define TS_STREAM_STR_MAX 1024u
#define TS_STREAM_SNAPSHOT_WARNINGS 256

struct ts_stream_buf {
	uint8_t *data;
	size_t len, cap;
};

/* What was last published of one object. gen 0: an empty slot. */
struct ts_fp_entry {
	uint64_t id;
	uint64_t fp;
	uint32_t pid;
	uint32_t gen;              /* the publish that last saw it */
};

/* Linear probing, backward-shift deletion; at most half full. */
struct ts_fp_map {
	struct ts_fp_entry *slots;
	size_t cap, n;             /* cap is a power of two */
};

struct ts_stream_encoder {
	struct ts_fp_map maps[3];  /* tasks, resources, threads */
	uint32_t gen;              /* this publish */
	uint64_t warn_total;       /* warnings counted at the last publish */
	bool primed;               /* prev holds the last publish */
};

void ts_stream_encoder_init(struct ts_stream_encoder *e);
void ts_stream_encoder_fini(struct ts_stream_encoder *e);
/* Forget the last publish: the next delta lists every object. */
void ts_stream_encoder_reset(struct ts_stream_encoder *e);

/* Append the delta since the last call to `delta` (frames; NULL: compute
 * and remember only) and, when `snap` is not NULL, a full snapshot to it.
 * 0 or -ENOMEM (the buffers then hold only whole frames, maybe fewer). */
int ts_stream_encode(struct ts_stream_encoder *e, const struct ts_model *m, const struct ts_publisher_session *sess,
		     uint64_t now_ns, struct ts_stream_buf *delta, struct ts_stream_buf *snap);

void ts_stream_buf_free(struct ts_stream_buf *b);

/* Append one frame (Update.detail_only) with the details of task (pid, id)
 * for the console that asked for them: its two histograms and latest
 * polls. 0, -ENOENT (no such task in the model) or -ENOMEM. */
#define TS_STREAM_DETAIL_POLLS 64
#define TS_STREAM_REQUEST_MAX 256   /* a console's frames are at most this long */
int ts_stream_encode_detail(const struct ts_model *m, uint32_t pid, uint64_t id, struct ts_stream_buf *out);

/* publisher_fp.c: fingerprints and their maps. */
struct ts_task;
struct ts_resource;
struct ts_thread;
uint64_t ts_fp_task(const struct ts_task *t);
uint64_t ts_fp_resource(const struct ts_resource *x);
uint64_t ts_fp_thread(const struct ts_thread *t);
void ts_fp_map_clear(struct ts_fp_map *m);
/* Room for `want` entries at most half full (rehashes when it grows). */
int ts_fp_map_reserve(struct ts_fp_map *m, size_t want);
/* The entry of (pid, id), or the empty slot (gen 0) where it goes. */
struct ts_fp_entry *ts_fp_map_slot(struct ts_fp_map *m, uint32_t pid, uint64_t id);
/* Delete slot i; a later entry of its probe run may move into slot i. */
void ts_fp_map_del(struct ts_fp_map *m, size_t i);

#endif /* TASKSCOPE_PUBLISHER_INTERNAL_H */
