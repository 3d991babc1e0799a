/*
 * locks_source.h: pthread lock waits and holds of an attached process, as
 * a collector source (kind "locks", pid 0: it adds lock events to a
 * process another source watches).
 *
 * Called by kernel context (ts_kernel_context_attach) and by the session
 * for `taskscope run`; see docs/architecture.md ("Locks") for what each
 * mode sees and costs.
 */
#ifndef TASKSCOPE_BPF_LOCKS_SOURCE_H
#define TASKSCOPE_BPF_LOCKS_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "collector/attach.h"

struct ts_collector;

/* Start tracing the locks of `pid` in `mode` and add the source to `c`.
 * TS_LOCKS_OFF does nothing and returns 0. The source goes away (every
 * probe removed) when the process exits or the collector is freed.
 * Returns 0, or -errno with one line in `err` (nothing left attached). */
int ts_locks_attach(struct ts_collector *c, uint32_t pid, enum ts_lock_mode mode, uint64_t now_ns,
		    char *err, size_t errlen);
/* The same, choosing how futex waits are seen: the scheduler's
 * tracepoints (false: the default), or raw_syscalls (true: the fallback
 * where tp_btf does not load; for tests and benchmarks). */
int ts_locks_attach_flavour(struct ts_collector *c, uint32_t pid, enum ts_lock_mode mode, bool raw_syscalls,
			    uint64_t now_ns, char *err, size_t errlen);

/* "contended", "full" or "off". */
const char *ts_lock_mode_name(enum ts_lock_mode mode);

#endif /* TASKSCOPE_BPF_LOCKS_SOURCE_H */
