/*
 * internal.h: what the demo's source files share: the workload state and
 * the helpers healthy and misbehaving tasks both use.
 */
#ifndef DEMO_INTERNAL_H
#define DEMO_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "workload.h"

#define MS (1000000ull)

struct demo {
	struct minirt *rt;
	struct minirt_chan *requests; /* request-handler -> backend */
	struct minirt_mutex db;       /* "db-mutex": the lock-holder's footgun */
	struct minirt_mutex metrics;  /* taken briefly by metrics-flush */
	int db_ready, metrics_ready;
	_Atomic uint64_t ticks, accepted, handled, bad_replies, blocking_sleeps, spins;
	_Atomic uint64_t lock_holds, lock_waits, lost_wakers, self_wakes, panics;
};

/* A few microseconds of real work, deterministic in its input. */
uint32_t demo_tiny_work(uint32_t seed);

/* A task that runs `work` every `period_ns`, first at `first_ns` from now,
 * sleeping on a timer in between. */
int demo_spawn_periodic(struct demo *d, struct taskscope_site *site, uint64_t first_ns,
			uint64_t period_ns, void (*work)(struct demo *d));

int demo_spawn_footguns(struct demo *d);

#endif /* DEMO_INTERNAL_H */
