/*
 * replay_internal.h: the loaded recording, shared by replay.c (loading
 * and sorting) and replay_at.c (the state at T). Nobody else sees it.
 */
#ifndef TASKSCOPE_REPLAY_INTERNAL_H
#define TASKSCOPE_REPLAY_INTERNAL_H

#include <stdint.h>

#include "storage/replay.h"

struct ts_strpool;

struct lock_span {
	uint64_t task_id;
	uint64_t wait_start_ns;     /* 0: did not wait */
	uint64_t acquired_ns;
	uint64_t released_ns;
	uint64_t cum_contentions;   /* waited acquisitions up to and including this one */
	uint64_t cum_max_hold_ns;
	uint32_t pid, tid;
	uint64_t lock_id;
	const char *name;
};

struct ts_replay {
	struct ts_strpool *pool;
	struct ts_replay_task *tasks;
	size_t ntasks;
	struct ts_replay_span *spans;   /* by task, then start */
	size_t nspans;
	struct ts_replay_thread *threads;
	uint32_t *thread_span0, *thread_nspans;
	size_t nthreads;
	uint32_t *tspan;            /* spans by (pid, tid, start): indexes into spans */
	uint64_t *tcum;             /* busy time of tspan[k]'s thread up to its end */
	struct ts_replay_lock *locks;
	size_t nlocks;
	struct lock_span *lspans;
	size_t nlspans;
	struct ts_warning *warnings;
	size_t nwarnings;
	uint64_t *kind_ts[TS_WARN_KIND_COUNT]; /* each kind's warning times, sorted */
	size_t kind_n[TS_WARN_KIND_COUNT];
	struct ts_replay_process *procs;
	size_t nprocs;
	uint64_t first_ns, last_ns;
};

#endif /* TASKSCOPE_REPLAY_INTERNAL_H */
