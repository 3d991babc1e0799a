/*
 * decode.c: one ring record from a target -> one ts_event.
 *
 * The record was copied out of shared memory by the caller, but every
 * field of it was written by the target and is validated here: the type,
 * the flag bits each type defines, the enum values carried in `flags`,
 * the ids that must name something, the timestamp, and the string ids.
 * Fields a type does not use are ignored rather than checked: a producer
 * reusing a ring slot may leave stale values there, and they never reach
 * the event.
 *
 * A string id is an offset into the target's arena, where the producer
 * wrote [u16 length][bytes][NUL]. The target can rewrite those bytes at
 * any moment, so they are read exactly once, into a local buffer, and
 * only that copy is validated and interned. Bounds come from the arena
 * size the collector computed, never from the region itself.
 */
#include "collector/decode.h"

#include <errno.h>
#include <string.h>

/* Per record type: the event type and the flags it may carry. Kinds that
 * ride in `flags` are checked separately. */
struct rec_rule {
	uint16_t ev_type;
	uint16_t flags_mask;   /* bits allowed when flags is a bit set */
	uint8_t flags_is_kind; /* flags is an enum value, at most kind_max */
	uint8_t kind_max;
	uint8_t has_id;        /* `task` must be non-zero */
	uint8_t has_strings;   /* a = name id, c = location id (THREAD: a only) */
};

static const struct rec_rule rules[TS_REC_TYPE_MAX + 1] = {
	[TS_REC_THREAD] = { TS_EV_THREAD, 0, 1, TS_ROLE_BLOCKING, 0, 1 },
	[TS_REC_SPAWN] = { TS_EV_SPAWN, 0, 1, TS_KIND_LOCAL, 1, 2 },
	[TS_REC_POLL_BEGIN] = { TS_EV_POLL_BEGIN, 0, 0, 0, 1, 0 },
	[TS_REC_POLL_END] = { TS_EV_POLL_END, 1, 0, 0, 1, 0 },
	[TS_REC_WAKE] = { TS_EV_WAKE, 1, 0, 0, 1, 0 },
	[TS_REC_WAKER_CLONE] = { TS_EV_WAKER_CLONE, 0, 0, 0, 1, 0 },
	[TS_REC_WAKER_DROP] = { TS_EV_WAKER_DROP, 0, 0, 0, 1, 0 },
	[TS_REC_TASK_DROP] = { TS_EV_TASK_DROP, 0, 1, TS_OUTCOME_PANICKED, 1, 0 },
	[TS_REC_RESOURCE_NEW] = { TS_EV_RESOURCE_NEW, 0, 1, TS_RES_TIMER, 1, 2 },
	[TS_REC_RESOURCE_DROP] = { TS_EV_RESOURCE_DROP, 0, 0, 0, 1, 0 },
	[TS_REC_LOCK_WAIT] = { TS_EV_LOCK_WAIT, 0, 0, 0, 1, 0 },
	[TS_REC_LOCK_ACQUIRED] = { TS_EV_LOCK_ACQUIRED, 1, 0, 0, 1, 0 },
	[TS_REC_LOCK_RELEASE] = { TS_EV_LOCK_RELEASE, 0, 0, 0, 1, 0 },
	/* flags = kind | waker-held bit: checked in decode_snapshot() */
	[TS_REC_TASK_SNAPSHOT] = { TS_EV_TASK_SNAPSHOT, 0, 0, 0, 1, 2 },
};

/* A snapshot's flags are a kind in the low byte plus one bit, and b is a
 * task state that is not "done". */
static int decode_snapshot(const struct ts_ring_record *rec, struct ts_event *out)
{
	uint16_t kind = rec->flags & 0xffu;

	if (rec->flags & ~(0xffu | TS_REC_SNAP_WAKER_HELD) || kind > TS_KIND_LOCAL)
		return -EBADMSG;
	/* 0 running, 1 scheduled, 2 idle: the model's enum ts_task_state */
	if (rec->b > 2)
		return -EBADMSG;
	out->kind = kind;
	out->flags = rec->flags & TS_REC_SNAP_WAKER_HELD ? TS_EVF_WAKER_HELD : 0;
	out->arg = rec->b;
	return 0;
}

/* The producer-side flag bit 0 means a different thing per type. */
static uint16_t event_flags(uint16_t rec_type, uint16_t flags)
{
	if (!(flags & 1u))
		return 0;
	switch (rec_type) {
	case TS_REC_POLL_END:
		return TS_EVF_READY;
	case TS_REC_WAKE:
		return TS_EVF_BY_REF;
	case TS_REC_LOCK_ACQUIRED:
		return TS_EVF_SHARED;
	default:
		return 0;
	}
}

/* Read the string at `id` once into buf (TS_STRING_MAX + 1 bytes) and
 * validate the copy. Returns its length, or -EBADMSG. */
static int read_string(const struct ts_decode_ctx *ctx, uint32_t id, char *buf)
{
	const volatile uint8_t *arena = ctx->arena;
	uint64_t end = ctx->arena_size;
	uint16_t len;

	/* Offsets 0..7 are never strings: 0 means "none" and the bump
	 * pointer starts at 8. */
	if (!arena || id < 8 || id >= end || end - id < 2)
		return -EBADMSG;
	{
		/* The prefix is a native u16, as the producer stored it. */
		uint8_t prefix[2] = { arena[id], arena[id + 1] };

		memcpy(&len, prefix, sizeof(len));
	}
	if (len > TS_STRING_MAX)
		return -EBADMSG;
	/* [u16][len bytes][NUL] must fit inside the arena. */
	if ((uint64_t)id + 2 + len + 1 > end)
		return -EBADMSG;
	for (uint32_t i = 0; i <= len; i++)
		buf[i] = (char)arena[(uint64_t)id + 2 + i];
	if (buf[len] != '\0')
		return -EBADMSG;
	for (uint32_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '\0')
			return -EBADMSG;
		/* Control characters would end up in terminals, SQL
		 * output and JSON; show them as '?' instead. */
		if (ch < 0x20 || ch == 0x7f)
			buf[i] = '?';
	}
	return len;
}

const char *ts_decode_string(const struct ts_decode_ctx *ctx, uint32_t id, int *err)
{
	char buf[TS_STRING_MAX + 1];
	int len;

	if (err)
		*err = 0;
	if (id == 0)
		return NULL;
	if (!ctx || !ctx->pool) {
		if (err)
			*err = -EINVAL;
		return NULL;
	}
	len = read_string(ctx, id, buf);
	if (len < 0) {
		if (err)
			*err = len;
		return NULL;
	}
	return ts_strpool_intern(ctx->pool, buf, (size_t)len);
}

int ts_decode_record(const struct ts_decode_ctx *ctx, const struct ts_ring_record *rec, struct ts_event *out)
{
	const struct rec_rule *rule;
	int r = 0;

	if (!ctx || !rec || !out)
		return -EINVAL;
	if (rec->type == 0 || rec->type > TS_REC_TYPE_MAX)
		return -EBADMSG;
	if (rec->ts == 0)
		return -EBADMSG;
	rule = &rules[rec->type];
	if (rule->flags_is_kind) {
		if (rec->flags > rule->kind_max)
			return -EBADMSG;
	} else if (rec->type != TS_REC_TASK_SNAPSHOT && (rec->flags & ~rule->flags_mask)) {
		return -EBADMSG; /* (a snapshot's flags: decode_snapshot) */
	}
	if (rule->has_id && rec->task == 0)
		return -EBADMSG;

	memset(out, 0, sizeof(*out));
	out->ts = rec->ts;
	out->pid = ctx->pid;
	out->tid = ctx->tid;
	out->type = rule->ev_type;
	out->flags = event_flags(rec->type, rec->flags);
	out->kind = rule->flags_is_kind ? rec->flags : 0;
	out->id = rule->has_id ? rec->task : 0;

	/* A task cannot be its own parent. Rather than lose the spawn (and
	 * with it the task), drop the nonsensical parent. */
	if (rec->type == TS_REC_SPAWN)
		out->arg = rec->b == rec->task ? 0 : rec->b;
	if (rec->type == TS_REC_TASK_SNAPSHOT && decode_snapshot(rec, out) < 0)
		return -EBADMSG;
	if (rule->has_strings >= 1) {
		out->name = ts_decode_string(ctx, rec->a, &r);
		if (r < 0)
			return -EBADMSG;
	}
	if (rule->has_strings >= 2) {
		if (rec->c > UINT32_MAX)
			return -EBADMSG;
		out->location = ts_decode_string(ctx, (uint32_t)rec->c, &r);
		if (r < 0)
			return -EBADMSG;
	}
	return 0;
}
