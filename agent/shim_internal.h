/*
 * shim_internal.h: state shared between the shim's source files, and the
 * test hooks that let tests drive the shim in-process without a collector.
 *
 * Not installed. The shim keeps one process-wide struct (the mapped
 * region and its sizes) and one small thread-local struct (the calling
 * thread's slot). A thread's cached slot is valid only while its `epoch`
 * equals the global one: attaching, detaching and fork() bump the global
 * epoch, so every thread re-claims lazily on its next event and never
 * writes into a region that is gone. `region` tells the mappings apart:
 * when a collector attaches again to the same region, a thread keeps its
 * slot and only announces itself again.
 */
#ifndef TASKSCOPE_SHIM_INTERNAL_H
#define TASKSCOPE_SHIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The public API is the only thing the shared library exports. */
#pragma GCC visibility push(default)
#include "taskscope.h"
#pragma GCC visibility pop

#include "agent/ring_format.h"

#define TS_THREAD_NAME_MAX 64 /* bytes kept per thread, NUL included */

/* A thread whose claim failed drops this many events (the one whose claim
 * failed included) and the next event tries to claim again, so a thread
 * without a slot does not scan every slot on every event. */
#define TS_NOSLOT_RETRY 1024u

struct ts_shim_state {
	uint8_t *base;            /* the mapped region, NULL when detached */
	uint64_t size;            /* bytes mapped */
	uint32_t slots;
	uint32_t capacity;
	uint32_t arena_size;
	uint32_t epoch;           /* bumped on attach, detach and fork; never 0 while attached */
	uint32_t region;          /* bumped whenever a region is installed or dropped */
	int memfd;                /* the current region's memfd (close-on-exec, kept for the
				   * next attach), or -1 */
};

/* The calling thread's view of its slot. */
struct ts_shim_tls {
	struct ts_ring_header *hdr;  /* NULL: no slot (dropping) */
	struct ts_ring_record *recs;
	uint64_t head;               /* our copy of hdr->head (we are its only writer) */
	uint64_t tail_seen;          /* last tail read; re-read only when the ring looks full */
	uint32_t mask;               /* capacity - 1 */
	uint32_t epoch;              /* ts_shim.epoch this view belongs to; 0: none */
	uint32_t region;             /* ts_shim.region the slot hdr points into */
	uint32_t retry;              /* no-slot drops left before trying to claim again */
	uint32_t snap_wait_ms;       /* control thread in a snapshot: ms it may still wait for room */
	int role;
	int named;                   /* name[] was set by taskscope_thread_name() */
	char name[TS_THREAD_NAME_MAX];
};

extern struct ts_shim_state ts_shim;
extern __thread struct ts_shim_tls ts_shim_tls __attribute__((tls_model("initial-exec")));

static inline struct ts_shm_header *ts_shim_header(void)
{
	return (struct ts_shm_header *)ts_shim.base;
}

/* region.c: create a sealed memfd of the given geometry, map it and write
 * its header. On success base, size and memfd describe it. */
int ts_shim_region_create(uint32_t slots, uint32_t capacity, uint32_t arena,
			  uint8_t **base, uint64_t *size, int *memfd);
/* Validate a geometry: 0 or -EINVAL. */
int ts_shim_region_check(uint32_t slots, uint32_t capacity, uint32_t arena);

/* region.c: before the region goes to another collector (recording is
 * off): discard unread records, free retired slots, zero the drop
 * counters, and make every thread announce itself again. */
void ts_shim_region_rewind(void);

/* shim.c: make a created region the current one (recording stays off;
 * the caller turns it on). */
void ts_shim_install(uint8_t *base, uint64_t size, uint32_t slots, uint32_t capacity,
		     uint32_t arena);
/* shim.c: create and install the default region unless one exists.
 * Only the constructor and the control thread call it. 0 or -errno. */
int ts_shim_region_ensure(void);
/* shim.c: bump the epoch: every thread re-claims (or re-announces) on
 * its next event. */
void ts_shim_bump_epoch(void);
/* shim.c: the pthread key and the fork handler, once per process. */
void ts_shim_init_once(void);

/* ring.c: the pthread key whose destructor retires a thread's slot. */
int ts_shim_key_init(void);
/* ring.c: set the calling thread's name and role for its next claim,
 * without claiming a slot now. */
void ts_shim_thread_label(const char *name, int role);
/* ring.c: write the THREAD record for the calling thread's current name. */
void ts_shim_thread_announce(void);

/* intern.c: intern n bytes of s; 0 when detached or the arena is full. */
uint32_t ts_shim_intern_n(const char *s, size_t n);
/* intern.c: the site's ids for the current region, interning on first use. */
void ts_shim_site_ids(struct taskscope_site *site, uint32_t *name_id, uint32_t *loc_id);

/* hello.c: the shim's side of the handshake, on a connected socket in
 * either direction (we connected to TASKSCOPE_SOCKET, or a collector
 * connected to our listener): make sure the region exists, send the
 * Hello with its memfd, wait (bounded) for the HelloAck, and turn
 * recording on if the collector asks. Returns 0 when accepted, or
 * -errno; unless `quiet`, a failure prints one "taskscope: " line. */
int ts_shim_handshake(int sock, bool quiet, const char *where);
/* hello.c: register with the collector at TASKSCOPE_SOCKET. Returns the
 * control connection, or -1 (one "taskscope: " line said why). */
int ts_shim_hello(const char *path);

/* control.c: the control thread: serves `conn` (the TASKSCOPE_SOCKET
 * connection, or -1) and listens on "@taskscope/<pid>" unless
 * TASKSCOPE_ATTACH=0. Called once by the constructor. */
void ts_shim_control_start(int conn);
/* control.c: fork child: close the inherited sockets; the listener comes
 * back at the next ts_shim_control_after_fork(). */
void ts_shim_control_forked(void);
/* control.c: in a forked child, start its own listener (once). */
void ts_shim_control_after_fork(void);

/* snapshot.c: run every registered enumerator (control thread, with
 * recording on); and re-initialise its lock in a fork child. A snapshot
 * larger than a ring waits for the collector's drains, at most this long
 * in all (each record waits only while its ring is full). */
#define TS_SNAPSHOT_WAIT_MS 2000u
void ts_shim_snapshot_run(void);
void ts_shim_snapshot_forked(void);

/*
 * Test hooks. ts_shim_attach_memfd() creates and maps a region with the
 * given geometry (0 picks the default for that field) and turns recording
 * on without any collector. *memfd_out (if not NULL) gets a descriptor of
 * the region that the caller owns and closes; map it to read the rings
 * back. Returns 0, -EBUSY when a region is already attached, -EINVAL for a
 * bad geometry, or another -errno.
 *
 * ts_shim_detach() turns recording off and unmaps the region. Call it
 * only when no other thread is inside a taskscope_* call.
 */
int ts_shim_attach_memfd(uint32_t slots, uint32_t capacity, uint32_t arena, int *memfd_out);
void ts_shim_detach(void);

#endif /* TASKSCOPE_SHIM_INTERNAL_H */
