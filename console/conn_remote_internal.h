/*
 * conn_remote_internal.h: the remote conn's mirror, shared by
 * conn_remote.c (decoding, applying) and conn_remote_fill.c (the state).
 */
#ifndef TASKSCOPE_CONSOLE_CONN_REMOTE_INTERNAL_H
#define TASKSCOPE_CONSOLE_CONN_REMOTE_INTERNAL_H

#include "console/conn_remote.h"
#include "taskscope.pb-c.h"

/* (pid, id) -> index into a dense array; linear probing, backward-shift delete. */
struct kslot {
	uint64_t id;
	uint32_t pid;
	uint32_t idx1;              /* index + 1; 0: empty */
};

struct kmap {
	struct kslot *slots;
	size_t cap, n;
};

struct objs {
	void *items;                /* dense array of `size`-byte structs */
	size_t n, cap, size;
	size_t max;                 /* more are not mirrored */
	struct kmap map;
};

/* A mirrored resource: what the stream carries of it. */
struct ts_remote_res {
	uint32_t pid;
	uint32_t kind;              /* enum ts_resource_kind */
	uint64_t id;
	const char *name, *location;
	uint64_t holder_task;
	uint32_t holder_tid, holders, waiters;
	uint64_t acquired_ns;
	uint64_t waiting_tasks[TS_RES_WAITERS_SHOWN];
	uint64_t acquisitions, contentions, max_hold_ns;
	uint64_t wait_p99_ns, hold_p99_ns;  /* 0: unknown */
};

/* The task details the collector sent for this console's request. */
struct ts_remote_detail {
	bool valid;
	uint32_t pid;
	uint64_t id;
	struct ts_histogram poll_hist, sched_hist;
	struct ts_detail_poll polls[TS_DETAIL_POLLS];
	size_t npolls;
};

struct ts_conn_remote {
	struct ts_strpool *pool;
	struct objs tasks, res, threads;
	struct ts_recent_warning warnings[TS_STATE_WARNINGS]; /* ring */
	size_t wstart, nwarn;
	uint64_t counts[TS_WARN_KIND_COUNT];
	struct ts_proc_row procs[TS_STATE_PROCS];
	size_t nprocs, nprocs_total;
	struct ts_remote_session sess;
	uint64_t server_now, local_at;
	uint64_t updates;
	bool synced;                /* a snapshot applied since the reset */
	bool broken;
	/* input */
	uint8_t *in;
	size_t inlen;
	struct ts_remote_detail detail;
	bool assembling;            /* between a snapshot's first and last frames */
	bool in_update;             /* between any update's first and last frames */
};

/* conn_remote_map.c */
struct kslot *ts_remote_kmap_slot(const struct kmap *m, uint32_t pid, uint64_t id);
/* Find or add (pid, id); *fresh tells which. NULL when full or no memory. */
void *ts_remote_obj_get(struct objs *o, uint32_t pid, uint64_t id, bool *fresh);
void ts_remote_obj_del(struct objs *o, uint32_t pid, uint64_t id,
		       void (*key)(const void *item, uint32_t *pid, uint64_t *id));
void ts_remote_obj_clear(struct objs *o);
void ts_remote_key_task(const void *item, uint32_t *pid, uint64_t *id);
void ts_remote_key_res(const void *item, uint32_t *pid, uint64_t *id);
void ts_remote_key_thread(const void *item, uint32_t *pid, uint64_t *id);

static inline void *obj_at(const struct objs *o, size_t i)
{
	return (char *)o->items + i * o->size;
}

#endif /* TASKSCOPE_CONSOLE_CONN_REMOTE_INTERNAL_H */
