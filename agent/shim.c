/*
 * shim.c: the shim's process-wide state and its life cycle: the
 * constructor (register with the collector at TASKSCOPE_SOCKET if set,
 * start the control thread that waits for `taskscope attach`), the
 * region that is created on the first handshake and kept for the
 * process's life, the fork handler, and the test hooks that attach a
 * region without a collector.
 *
 * The recording flag lives here (not in ring.c) on purpose: every
 * instrumented call site references it, so a program linked with the
 * static library always pulls in this object and with it the constructor.
 *
 * Why the region is never unmapped while the process runs: threads may be
 * inside a record function when recording goes off, so a region can only
 * go away when no other thread exists (fork child, test hooks). A
 * collector that detaches leaves the region in place; the next attach
 * rewinds it (region.c) and hands the same memfd over again.
 *
 * fork(): the child inherits the parent's MAP_SHARED region, and writing
 * into it would interleave the child's events with the parent's in the
 * parent's rings. The atfork child handler therefore turns recording off,
 * forgets the forking thread's slot, unmaps the region and closes the
 * control sockets in the child (the control thread does not exist
 * there). The child runs untraced until it starts a listener of its own
 * (control.c); a child that exec()s a program linked with the shim starts
 * afresh.
 */
#include "agent/shim_internal.h"
#include "collector/handshake.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int taskscope_recording_;
struct ts_shim_state ts_shim = { .memfd = -1 };

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

void ts_shim_bump_epoch(void)
{
	uint32_t e = ts_shim.epoch + 1;

	if (e == 0)
		e = 1; /* 0 means "no slot" in every thread's cache */
	__atomic_store_n(&ts_shim.epoch, e, __ATOMIC_RELEASE);
}

static void forget_thread(void)
{
	struct ts_shim_tls *t = &ts_shim_tls;

	t->hdr = NULL;
	t->recs = NULL;
	t->epoch = 0;
	t->region = 0;
}

/* Drop the current region, if any. Recording must already be off and no
 * other thread may be inside a record function. */
static void drop_region(void)
{
	uint8_t *base = ts_shim.base;

	__atomic_store_n(&ts_shim.region, ts_shim.region + 1, __ATOMIC_RELEASE);
	ts_shim_bump_epoch();
	forget_thread();
	__atomic_store_n(&ts_shim.base, NULL, __ATOMIC_RELEASE);
	if (base)
		munmap(base, ts_shim.size);
	ts_shim.size = 0;
	if (ts_shim.memfd >= 0) {
		close(ts_shim.memfd);
		ts_shim.memfd = -1;
	}
}

static void atfork_child(void)
{
	__atomic_store_n(&taskscope_recording_, 0, __ATOMIC_RELAXED);
	drop_region();
	ts_shim_control_forked();
	ts_shim_snapshot_forked();
}

static void init(void)
{
	/* Without the key, exiting threads leave their slots ACTIVE; events
	 * still flow, so this is not worth refusing to run for. */
	(void)ts_shim_key_init();
	(void)pthread_atfork(NULL, NULL, atfork_child);
}

void ts_shim_init_once(void)
{
	pthread_once(&init_once, init);
}

void ts_shim_install(uint8_t *base, uint64_t size, uint32_t slots, uint32_t capacity,
		     uint32_t arena)
{
	ts_shim.size = size;
	ts_shim.slots = slots;
	ts_shim.capacity = capacity;
	ts_shim.arena_size = arena;
	__atomic_store_n(&ts_shim.region, ts_shim.region + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&ts_shim.base, base, __ATOMIC_RELEASE);
	/* Publishes the fields above to threads that see the new epoch. */
	ts_shim_bump_epoch();
}

int ts_shim_region_ensure(void)
{
	uint8_t *base;
	uint64_t size;
	int fd;
	int r;

	if (__atomic_load_n(&ts_shim.base, __ATOMIC_ACQUIRE))
		return ts_shim.memfd >= 0 ? 0 : -EBUSY; /* a test hook's region */
	r = ts_shim_region_create(TS_DEFAULT_SLOTS, TS_DEFAULT_CAPACITY, TS_DEFAULT_ARENA, &base, &size, &fd);
	if (r < 0)
		return r;
	ts_shim.memfd = fd;
	ts_shim_install(base, size, TS_DEFAULT_SLOTS, TS_DEFAULT_CAPACITY, TS_DEFAULT_ARENA);
	return 0;
}

/* Idempotent: a program that somehow runs it twice registers once. */
__attribute__((constructor)) static void taskscope_ctor(void)
{
	static int done;
	const char *path;
	int conn = -1;

	if (__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
		return;
	ts_shim_init_once();
	path = getenv(TS_SOCKET_ENV);
	if (path && *path)
		conn = ts_shim_hello(path);
	ts_shim_control_start(conn);
}

int ts_shim_attach_memfd(uint32_t slots, uint32_t capacity, uint32_t arena, int *memfd_out)
{
	uint8_t *base;
	uint64_t size;
	int fd;
	int r;

	ts_shim_init_once();
	if (__atomic_load_n(&ts_shim.base, __ATOMIC_ACQUIRE))
		return -EBUSY;
	slots = slots ? slots : TS_DEFAULT_SLOTS;
	capacity = capacity ? capacity : TS_DEFAULT_CAPACITY;
	arena = arena ? arena : TS_DEFAULT_ARENA;
	r = ts_shim_region_create(slots, capacity, arena, &base, &size, &fd);
	if (r < 0)
		return r;
	ts_shim_install(base, size, slots, capacity, arena);
	if (memfd_out)
		*memfd_out = fd;
	else
		close(fd);
	__atomic_store_n(&taskscope_recording_, 1, __ATOMIC_RELEASE);
	return 0;
}

void ts_shim_detach(void)
{
	__atomic_store_n(&taskscope_recording_, 0, __ATOMIC_RELEASE);
	drop_region();
}
