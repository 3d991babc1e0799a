/*
 * minirt.h: a small multi-threaded async runtime in C, instrumented with
 * taskscope.
 *
 * minirt exists to show how a real runtime wires the taskscope shim in,
 * and to give the demo workload something honest to run on. It has the
 * parts of a Tokio-like runtime that matter to an observer: N worker
 * threads draining a run queue, tasks written as C state machines that
 * return READY or PENDING, reference-counted wakers, a timer thread, an
 * async channel and oneshot, a mutex built on a pthread mutex, join,
 * cancel and panics. Every one of those reports to taskscope.h; when no
 * collector is attached each report costs one branch.
 *
 * Waker rules (the collector's lost_waker lint counts live wakers: clone
 * +1, drop -1, wake by value -1): the waker in a context is borrowed and
 * not counted; anything that keeps a waker past the poll (a timer, a
 * channel, a join handle) keeps a clone, and gives it back by waking it
 * by value or dropping it. A task that returns PENDING must leave at
 * least one clone registered somewhere, or nothing will ever wake it.
 *
 * Poll functions return MINIRT_READY or MINIRT_PENDING. The poll-style
 * helpers below (sleep, recv, join...) return the same two values, or a
 * negative errno.
 */
#ifndef MINIRT_H
#define MINIRT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "taskscope.h"

enum { MINIRT_READY = 0, MINIRT_PENDING = 1 };

struct minirt;
struct minirt_task;
struct minirt_cx;

typedef int (*minirt_poll_fn)(struct minirt_task *task, struct minirt_cx *cx);
/* Frees a task's data once the task is finished (ok, cancelled, panicked). */
typedef void (*minirt_drop_fn)(void *data);

/* A waker: a counted reference to a task. {NULL} is "no waker". */
struct minirt_waker {
	struct minirt_task *task;
};

/* --- runtime ------------------------------------------------------------ */

/* Start `workers` worker threads ("minirt-worker-N") and a timer thread. */
int minirt_new(unsigned workers, struct minirt **out);
/* Cancel every live task and let the workers drop them (outcome CANCELLED;
 * a pinned task is dropped on its own worker, so it can release what it
 * holds), then stop the workers and the timer thread. New spawns fail with
 * -ESHUTDOWN from the start. Waits for polls in progress: a poll that never
 * returns hangs it. Not from a worker thread. Idempotent. */
void minirt_shutdown(struct minirt *rt);
/* Shut down if needed and free the runtime. Free channels, oneshots and
 * mutexes that tasks used after minirt_shutdown(), before or after this. */
void minirt_free(struct minirt *rt);
unsigned minirt_workers(const struct minirt *rt);
/* Tasks spawned and not yet finished. */
uint64_t minirt_live_tasks(struct minirt *rt);

/* CLOCK_MONOTONIC in ns, the clock taskscope uses too. */
uint64_t minirt_now_ns(void);

/* --- tasks -------------------------------------------------------------- */

/*
 * Spawn a task that polls `poll` with `data`; `drop` (may be NULL) frees
 * `data` when the task finishes. `pin` is a worker index for a task that
 * must always run on one worker (a "local" task: one that holds a pthread
 * mutex across PENDING must be unlocked by the thread that locked it), or
 * -1. When `handle` is not NULL it receives a join handle that must be
 * released with minirt_task_release(). On failure the caller keeps `data`.
 * Use the minirt_spawn() macros: they put the spawn site (the caller's
 * file:line) into taskscope.
 */
int minirt_spawn_at(struct minirt *rt, struct taskscope_site *site, int pin, minirt_poll_fn poll,
		    void *data, minirt_drop_fn drop, struct minirt_task **handle);

#define minirt_spawn(rt, name, poll, data, drop, handle) __extension__({ \
	TASKSCOPE_SITE(minirt_site_, name); \
	minirt_spawn_at((rt), &minirt_site_, -1, (poll), (data), (drop), (handle)); })

#define minirt_spawn_local(rt, worker, name, poll, data, drop, handle) __extension__({ \
	TASKSCOPE_SITE(minirt_site_, name); \
	minirt_spawn_at((rt), &minirt_site_, (int)(worker), (poll), (data), (drop), (handle)); })

void *minirt_task_data(struct minirt_task *task);
uint64_t minirt_task_id(const struct minirt_task *task);
const char *minirt_task_name(const struct minirt_task *task);
/* Live wakers of the task (clones not yet dropped or woken by value): the
 * number the collector's lost_waker lint watches. */
int64_t minirt_task_wakers(const struct minirt_task *task);
/* Polls run so far. */
uint64_t minirt_task_polls(const struct minirt_task *task);

/* Release a join handle (it does not cancel the task); a waker registered
 * by minirt_join_poll() through it is dropped. */
void minirt_task_release(struct minirt_task *handle);
/* Ask the task to stop: it is dropped with outcome CANCELLED before its
 * next poll (after the current one if it is running). */
void minirt_task_cancel(struct minirt_task *handle);
/* The outcome (TASKSCOPE_OUTCOME_*) once finished, -1 while alive. */
int minirt_task_outcome(struct minirt_task *handle);
/* The message given to minirt_panic(), or NULL. */
const char *minirt_task_panic_message(struct minirt_task *handle);
/* Await the task from inside another task: READY with *outcome set. */
int minirt_join_poll(struct minirt_task *handle, struct minirt_cx *cx, int *outcome);
/* Block the calling (non-worker) thread until the task finishes. */
int minirt_task_wait(struct minirt_task *handle);

/* --- inside a poll ------------------------------------------------------- */

/* The current task's waker, borrowed: clone it to keep it. */
const struct minirt_waker *minirt_cx_waker(struct minirt_cx *cx);
struct minirt_task *minirt_cx_task(struct minirt_cx *cx);
struct minirt *minirt_cx_runtime(struct minirt_cx *cx);
unsigned minirt_cx_worker(const struct minirt_cx *cx);
/* Abandon the current poll like a Rust panic: the runtime catches it and
 * drops the task with outcome PANICKED. `msg` must outlive the task (a
 * literal). Do not call it while holding a lock. */
_Noreturn void minirt_panic(struct minirt_cx *cx, const char *msg);
/* yield_now: wake ourselves by reference and let the caller return PENDING. */
int minirt_yield(struct minirt_cx *cx);

/* --- wakers --------------------------------------------------------------- */

struct minirt_waker minirt_waker_clone(const struct minirt_waker *w);
/* Wake and consume the waker (*w becomes {NULL}). */
void minirt_waker_wake(struct minirt_waker *w);
void minirt_waker_wake_by_ref(const struct minirt_waker *w);
void minirt_waker_drop(struct minirt_waker *w);
/* Whether both wake the same task (then a registration need not change). */
int minirt_waker_will_wake(const struct minirt_waker *a, const struct minirt_waker *b);

/* --- timers --------------------------------------------------------------- */

/* A sleep registration, a taskscope resource of kind TIMER. Embed one per
 * task that sleeps and reuse it; the timer thread holds a cloned waker
 * while it is armed and wakes it by value at the deadline. */
struct minirt_timer {
	struct minirt *rt;
	uint64_t res_id;
	uint64_t deadline_ns;
	struct minirt_waker waker;
	int armed;
	struct minirt_timer *prev, *next;
};

int minirt_timer_init_at(struct minirt *rt, struct minirt_timer *t, struct taskscope_site *site);
#define minirt_timer_init(rt, t, name) __extension__({ \
	TASKSCOPE_SITE(minirt_site_, name); \
	minirt_timer_init_at((rt), (t), &minirt_site_); })
/* Disarm (dropping the waker) and report the resource dropped. */
void minirt_timer_fini(struct minirt_timer *t);
/* READY once CLOCK_MONOTONIC >= deadline_ns; otherwise arm and PENDING. */
int minirt_sleep_until(struct minirt_timer *t, struct minirt_cx *cx, uint64_t deadline_ns);

/* --- channel -------------------------------------------------------------- */

/* A bounded multi-producer single-consumer channel of pointers, a
 * taskscope resource of kind CHANNEL. */
struct minirt_chan;
typedef void (*minirt_item_drop_fn)(void *item);

int minirt_chan_new_at(size_t capacity, minirt_item_drop_fn item_drop, struct taskscope_site *site,
		       struct minirt_chan **out);
#define minirt_chan_new(capacity, item_drop, name, out) __extension__({ \
	TASKSCOPE_SITE(minirt_site_, name); \
	minirt_chan_new_at((capacity), (item_drop), &minirt_site_, (out)); })
/* Drops queued items with item_drop and every registered waker. */
void minirt_chan_free(struct minirt_chan *ch);
/* READY when queued, PENDING when full (waker registered), -EPIPE when closed. */
int minirt_chan_send(struct minirt_chan *ch, struct minirt_cx *cx, void *item);
/* From outside a task: 0, -EAGAIN when full, -EPIPE when closed. */
int minirt_chan_try_send(struct minirt_chan *ch, void *item);
/* READY with *item, PENDING when empty (waker registered), -EPIPE when
 * closed and drained. */
int minirt_chan_recv(struct minirt_chan *ch, struct minirt_cx *cx, void **item);
/* No more sends; wakes every waiter. */
void minirt_chan_close(struct minirt_chan *ch);
size_t minirt_chan_len(struct minirt_chan *ch);

/* --- oneshot -------------------------------------------------------------- */

/* One value from any thread to one task (a reply slot; not a resource). */
struct minirt_oneshot {
	pthread_mutex_t lock;
	int state;
	void *value;
	struct minirt_waker waker;
};

void minirt_oneshot_init(struct minirt_oneshot *os);
void minirt_oneshot_fini(struct minirt_oneshot *os);
/* 0, or -EALREADY when a value was already sent or the slot closed. */
int minirt_oneshot_send(struct minirt_oneshot *os, void *value);
/* The sender gives up: the receiver gets -EPIPE. */
void minirt_oneshot_close(struct minirt_oneshot *os);
/* READY with *value, PENDING (waker registered), or -EPIPE. */
int minirt_oneshot_recv(struct minirt_oneshot *os, struct minirt_cx *cx, void **value);
/* The receiver stops waiting (it is being dropped): drop its waker. */
void minirt_oneshot_forget(struct minirt_oneshot *os);

/* --- mutex ---------------------------------------------------------------- */

/*
 * A mutex built on a pthread mutex, a taskscope resource
 * of kind MUTEX reporting lock wait, acquired and release. Locking blocks
 * the worker when contended, like std::sync::Mutex in async Rust: fine for
 * a short critical section inside one poll. Returning PENDING while holding
 * it is the footgun the lock_held_across_await lint flags; a task that does
 * it anyway must be pinned, since only the locking thread may unlock.
 */
struct minirt_mutex {
	pthread_mutex_t m;
	uint64_t res_id;
	_Atomic uintptr_t owner; /* the holding thread's identity, 0 when free */
};

int minirt_mutex_init_at(struct minirt_mutex *m, struct taskscope_site *site);
#define minirt_mutex_init(m, name) __extension__({ \
	TASKSCOPE_SITE(minirt_site_, name); \
	minirt_mutex_init_at((m), &minirt_site_); })
void minirt_mutex_fini(struct minirt_mutex *m);
/* 0 (waited if needed), or -errno (e.g. -EDEADLK on relock). */
int minirt_mutex_lock(struct minirt_mutex *m);
/* 0, -EBUSY when held elsewhere. */
int minirt_mutex_trylock(struct minirt_mutex *m);
/* 0, or -EPERM when the calling thread does not hold it. */
int minirt_mutex_unlock(struct minirt_mutex *m);

#endif /* MINIRT_H */
