/*
 * taskscope.h: the in-process shim's public API.
 *
 * A runtime calls these at the points where its tasks are spawned, polled,
 * woken and dropped, where its resources (locks, channels, timers) are
 * created and used, and when its threads start. When no collector is
 * attached every call costs one predictable branch on a global flag; when
 * one is attached a call is a handful of stores into a thread-local ring in
 * shared memory. Nothing here allocates, locks, formats or makes a syscall
 * on the hot path, and nothing here ever aborts the program.
 *
 * Names and locations are interned once per call site: declare a
 * `struct taskscope_site` with TASKSCOPE_SITE(...) (a static) and pass it;
 * its string ids are filled on first use. For names built at run time use
 * taskscope_intern() and the *_ids variants, and cache the ids yourself.
 *
 * Usable from C and C++. Task and resource ids are any 64-bit values unique
 * among live objects of one process (a pointer is fine); 0 means "none".
 *
 * Enabling: the library's constructor registers with a collector when the
 * environment variable TASKSCOPE_SOCKET names its socket (`taskscope run`
 * sets it); TASKSCOPE_RUNTIME names the runtime (default "c-shim"). If
 * that fails the program runs untraced after one "taskscope: " line on
 * stderr.
 *
 * Attaching later: the constructor also starts one thread ("taskscope")
 * blocked in accept() on the abstract Unix socket "@taskscope/<pid>", so
 * `taskscope attach PID` can turn recording on in a program started on
 * its own (only root or the program's own user may). Until then nothing
 * is recorded and no memory is shared. On attach the thread runs the task
 * enumerators registered below, so the collector learns the tasks that
 * already exist; when the collector hangs up recording stops and the
 * next attach works the same way. TASKSCOPE_ATTACH=0 in the environment
 * turns the listener (and its thread) off.
 *
 * After fork() the child runs untraced: it never writes into the
 * parent's rings, and no attach is live in it. Its own listener starts
 * when it next calls taskscope_thread_name() or
 * taskscope_task_enumerator_add() (a runtime does both when it starts);
 * a child that execs a shim-linked program starts one anew.
 */
#ifndef TASKSCOPE_H
#define TASKSCOPE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum taskscope_task_kind {
	TASKSCOPE_KIND_TASK = 0,     /* an ordinary async task */
	TASKSCOPE_KIND_BLOCKING = 1, /* work run on a blocking pool */
	TASKSCOPE_KIND_LOCAL = 2,    /* a task pinned to one thread */
};

enum taskscope_outcome {
	TASKSCOPE_OUTCOME_OK = 0,
	TASKSCOPE_OUTCOME_CANCELLED = 1,
	TASKSCOPE_OUTCOME_PANICKED = 2,
};

enum taskscope_resource_kind {
	TASKSCOPE_RES_MUTEX = 0,
	TASKSCOPE_RES_RWLOCK = 1,
	TASKSCOPE_RES_SEMAPHORE = 2,
	TASKSCOPE_RES_CHANNEL = 3,
	TASKSCOPE_RES_TIMER = 4,
};

/* A task's state in a snapshot (taskscope_task_snapshot). */
enum taskscope_task_state {
	TASKSCOPE_STATE_RUNNING = 0,   /* being polled now */
	TASKSCOPE_STATE_SCHEDULED = 1, /* woken or new, waiting for a poll */
	TASKSCOPE_STATE_IDLE = 2,      /* returned pending, not woken since */
};

enum taskscope_thread_role {
	TASKSCOPE_ROLE_OTHER = 0,
	TASKSCOPE_ROLE_WORKER = 1,
	TASKSCOPE_ROLE_BLOCKING = 2,
};

/* A call site: a name and a source location, interned on first use.
 * The id fields belong to the shim (their encoding is private to it);
 * initialise them to zero. */
struct taskscope_site {
	const char *name;
	const char *file;
	uint32_t line;
	uint32_t name_id; /* 0 until interned */
	uint32_t loc_id;  /* 0 until interned */
};

/* A static site for the current source line. */
#define TASKSCOPE_SITE(var, name_literal) \
	static struct taskscope_site var = { (name_literal), __FILE__, __LINE__, 0, 0 }

/* Non-zero while a collector is attached and recording. */
extern int taskscope_recording_;

static inline int taskscope_enabled(void)
{
	return __builtin_expect(__atomic_load_n(&taskscope_recording_, __ATOMIC_RELAXED), 0);
}

/* Out-of-line implementations; call the inline wrappers below. */
void taskscope_task_spawn_(uint64_t task, uint64_t parent, int kind, struct taskscope_site *site);
void taskscope_task_spawn_ids_(uint64_t task, uint64_t parent, int kind, uint32_t name_id, uint32_t loc_id);
void taskscope_poll_begin_(uint64_t task);
void taskscope_poll_end_(uint64_t task, int ready);
void taskscope_wake_(uint64_t task, int by_ref);
void taskscope_waker_clone_(uint64_t task);
void taskscope_waker_drop_(uint64_t task);
void taskscope_task_drop_(uint64_t task, int outcome);
void taskscope_resource_new_(uint64_t res, int kind, struct taskscope_site *site);
void taskscope_resource_drop_(uint64_t res);
void taskscope_lock_wait_(uint64_t res);
void taskscope_lock_acquired_(uint64_t res, int shared);
void taskscope_lock_release_(uint64_t res);

/* Intern a string (copied into shared memory once). Returns its id, or 0
 * when no collector is attached or the string table is full. Not for the
 * hot path: call once and cache the id. */
uint32_t taskscope_intern(const char *s);

/* Name the calling thread and give it a role. Safe to call before a
 * collector attaches: the name is sent when recording starts. */
void taskscope_thread_name(const char *name, int role);

/* Events this process dropped because its rings were full. */
uint64_t taskscope_dropped_events(void);

/*
 * Snapshots: the shim does not know a runtime's tasks, so a runtime that
 * wants `taskscope attach` to show the tasks spawned before the attach
 * registers an enumerator. When a collector attaches, the shim's own
 * thread calls each enumerator once, right after recording starts; the
 * enumerator calls taskscope_task_snapshot() for every task alive.
 *
 * Locking duty of the runtime: the enumerator runs on the shim's thread
 * while the runtime's threads keep running, so it must walk its task
 * registry under whatever lock guards it (spawns and drops report to
 * taskscope under that lock too, or the model copes: a task seen both in
 * the snapshot and through its spawn is counted once). It must not block
 * for long and must not call taskscope_task_enumerator_remove().
 *
 * taskscope_task_enumerator_add() returns 0, or -ENOSPC when 8 are
 * registered already (-EINVAL for a NULL fn). taskscope_task_enumerator_remove()
 * returns only once no call of that enumerator is running, so ctx may be
 * freed afterwards; do not call it while holding a lock the enumerator
 * takes.
 */
typedef void (*taskscope_enumerate_fn)(void *ctx);
int taskscope_task_enumerator_add(taskscope_enumerate_fn fn, void *ctx);
void taskscope_task_enumerator_remove(taskscope_enumerate_fn fn, void *ctx);

/* One live task, from an enumerator: its kind (enum taskscope_task_kind),
 * state (enum taskscope_task_state), whether it has a live waker out
 * (a clone kept by a timer, channel, join handle...), and the site it was
 * spawned at (NULL: no name or location). A no-op when not recording. */
void taskscope_task_snapshot(uint64_t task, int kind, int state, int waker_held,
			     struct taskscope_site *site);
void taskscope_task_snapshot_ids(uint64_t task, int kind, int state, int waker_held,
				 uint32_t name_id, uint32_t loc_id);

static inline void taskscope_task_spawn(uint64_t task, uint64_t parent, int kind, struct taskscope_site *site)
{
	if (taskscope_enabled())
		taskscope_task_spawn_(task, parent, kind, site);
}

static inline void taskscope_task_spawn_ids(uint64_t task, uint64_t parent, int kind, uint32_t name_id, uint32_t loc_id)
{
	if (taskscope_enabled())
		taskscope_task_spawn_ids_(task, parent, kind, name_id, loc_id);
}

static inline void taskscope_poll_begin(uint64_t task)
{
	if (taskscope_enabled())
		taskscope_poll_begin_(task);
}

/* ready: non-zero when the poll completed the task's future. */
static inline void taskscope_poll_end(uint64_t task, int ready)
{
	if (taskscope_enabled())
		taskscope_poll_end_(task, ready);
}

/* A wake that consumes the waker (by value). */
static inline void taskscope_wake(uint64_t task)
{
	if (taskscope_enabled())
		taskscope_wake_(task, 0);
}

/* A wake through a borrowed waker; the waker stays alive. */
static inline void taskscope_wake_by_ref(uint64_t task)
{
	if (taskscope_enabled())
		taskscope_wake_(task, 1);
}

static inline void taskscope_waker_clone(uint64_t task)
{
	if (taskscope_enabled())
		taskscope_waker_clone_(task);
}

static inline void taskscope_waker_drop(uint64_t task)
{
	if (taskscope_enabled())
		taskscope_waker_drop_(task);
}

static inline void taskscope_task_drop(uint64_t task, int outcome)
{
	if (taskscope_enabled())
		taskscope_task_drop_(task, outcome);
}

static inline void taskscope_resource_new(uint64_t res, int kind, struct taskscope_site *site)
{
	if (taskscope_enabled())
		taskscope_resource_new_(res, kind, site);
}

static inline void taskscope_resource_drop(uint64_t res)
{
	if (taskscope_enabled())
		taskscope_resource_drop_(res);
}

/* The calling thread starts waiting for lock `res`. */
static inline void taskscope_lock_wait(uint64_t res)
{
	if (taskscope_enabled())
		taskscope_lock_wait_(res);
}

/* The calling thread now holds `res` (shared: a read lock). A lock taken
 * without waiting may report acquired without a prior wait. */
static inline void taskscope_lock_acquired(uint64_t res, int shared)
{
	if (taskscope_enabled())
		taskscope_lock_acquired_(res, shared);
}

static inline void taskscope_lock_release(uint64_t res)
{
	if (taskscope_enabled())
		taskscope_lock_release_(res);
}

#ifdef __cplusplus
}
#endif

#endif /* TASKSCOPE_H */
