/*
 * attach.h: watching a process that is already running.
 *
 * `taskscope attach PID` picks one of three ways in, in this order:
 *  - shim: the process links libtaskscope and its shim waits for a
 *    collector (collector/attach_shim.c): no privileges beyond the
 *    process's own user; a snapshot of the live tasks comes first;
 *  - tokio-bpf: an unmodified Tokio binary, through uprobes on Tokio's
 *    task functions (bpf/tokio_source.c); needs root or CAP_BPF+CAP_PERFMON;
 *  - generic: any event loop, through scheduler and syscall tracepoints
 *    (bpf/sched_source.c).
 * Kernel context (scheduler, syscalls, contended locks) is added beside
 * the first two when allowed (ts_kernel_context_attach).
 *
 * Each function adds its source(s) to the collector and returns 0, or
 * -errno with one line in `err` that says what to do; on failure nothing
 * is left attached and the target is untouched.
 */
#ifndef TASKSCOPE_ATTACH_H
#define TASKSCOPE_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ts_collector;

enum ts_lock_mode {
	TS_LOCKS_CONTENDED = 0,   /* default: only contended waits (futex wait path) */
	TS_LOCKS_FULL,            /* uprobes on pthread mutex/rwlock lock and unlock */
	TS_LOCKS_OFF,
};

/* Kernel context for any source; thresholds for what leaves the kernel
 * come from the model's lint config (blocking_in_poll, loop_stall). */
struct ts_context_options {
	bool kernel;              /* scheduler + syscall context (default on when allowed) */
	enum ts_lock_mode locks;
	bool raw_syscalls;        /* watch event-loop waits through raw_syscalls, the fallback
				   * without syscall tracepoints (benchmarks, tests) */
};

/* shim (collector/attach_shim.c). Probe: 1 when pid's shim waits for a
 * collector, 0 when it has none, -errno on error. */
int ts_shim_attach_probe(uint32_t pid);
int ts_shim_attach(struct ts_collector *c, uint32_t pid, uint64_t now_ns, char *err, size_t errlen);

/* tokio-bpf (bpf/tokio_source.c). Probe: 1 when pid runs Tokio (its task
 * functions were found), 0 when it does not (err says what was looked
 * for), -errno when it cannot be told (err: e.g. "no symbols: ..."). */
int ts_tokio_probe(uint32_t pid, char *err, size_t errlen);
struct ts_tokio_options {
	/* Full mode (`attach --waker-probes`): uprobes on clone_waker,
	 * drop_waker, wake_by_val and wake_by_ref as well, for exact wake
	 * times (scheduled time), waker clones and drops. Default (false):
	 * raw::poll's entry and return trap per poll, and wake_by_ref (the
	 * self-wakes); other wakes are counted untimed at the next poll, and
	 * the live waker count of idle tasks is read from their state words
	 * in the target's memory (docs/architecture.md, "Tokio attach"). */
	bool waker_probes;
};
/* Can the default mode read pid's memory (the idle tasks' waker counts)?
 * 0, or -errno with one line in err that says what is lost. */
int ts_tokio_memory_check(uint32_t pid, char *err, size_t errlen);
/* `o` may be NULL: the defaults. */
int ts_tokio_attach(struct ts_collector *c, uint32_t pid, const struct ts_tokio_options *o, uint64_t now_ns,
		    char *err, size_t errlen);

/* generic event loop (bpf/sched_source.c). */
int ts_generic_attach(struct ts_collector *c, uint32_t pid, const struct ts_context_options *o,
		      uint64_t now_ns, char *err, size_t errlen);
/* Kernel context for a process another source watches (bpf/sched_source.c,
 * locks in bpf/locks_source.c). */
int ts_kernel_context_attach(struct ts_collector *c, uint32_t pid, const struct ts_context_options *o,
			     uint64_t now_ns, char *err, size_t errlen);

/* Can this process load BPF programs? 0, or -EPERM with the line
 * "needs root or CAP_BPF+CAP_PERFMON", or -ENOENT when the kernel has no
 * BTF (collector/attach_check.c). */
int ts_attach_check_bpf(char *err, size_t errlen);

#endif /* TASKSCOPE_ATTACH_H */
