/*
 * workload.h: the demo workload that `taskscope demo` shows.
 *
 * A mix of healthy tasks (periodic tickers, an acceptor spawning hundreds
 * of short request handlers a second, a backend answering them over a
 * channel, a supervisor) and one task for each mistake taskscope should
 * catch, each with a fixed name the integration tests look up:
 * "blocking-sleeper", "cpu-spinner", "lock-holder", "lock-waiter",
 * "lost-waker", "self-waker", "panicker". Kept apart from main() so tests
 * can run it in-process.
 */
#ifndef DEMO_WORKLOAD_H
#define DEMO_WORKLOAD_H

#include <stdint.h>

#include "minirt.h"

struct demo;

struct demo_counters {
	uint64_t ticks;          /* ticker, heartbeat and metrics-flush rounds */
	uint64_t accepted;       /* request handlers spawned */
	uint64_t handled;        /* handlers that got their reply */
	uint64_t bad_replies;    /* replies that did not match the request */
	uint64_t blocking_sleeps;
	uint64_t spins;
	uint64_t lock_holds;     /* lock-holder holding db-mutex across PENDING */
	uint64_t lock_waits;     /* lock-waiter rounds */
	uint64_t lost_wakers;
	uint64_t self_wakes;
	uint64_t panics;         /* panickers the supervisor saw panic */
};

/* Spawn the workload on `rt` (needs at least 2 workers: lock-holder is
 * pinned to worker 0 and lock-waiter to worker 1). On failure after some
 * tasks were spawned, `rt` has been shut down (those tasks used the state
 * being freed). */
int demo_workload_start(struct minirt *rt, struct demo **out);
void demo_workload_counters(struct demo *d, struct demo_counters *out);
/* After minirt_shutdown(): free the channel and mutexes the tasks shared. */
void demo_workload_free(struct demo *d);

#endif /* DEMO_WORKLOAD_H */
