/*
 * sched_source.h: the scheduler/syscall source below the attach entry
 * points (ts_generic_attach, ts_kernel_context_attach in
 * collector/attach.h), for the tests and benchmarks that need to open,
 * drain and inspect one without a whole collector.
 *
 * One source = one loaded sched.bpf.c instance filtered to one process,
 * one BPF ring buffer (the rings are sharded per watched process), and the
 * stack samplers it has switched on for blocked workers.
 */
#ifndef TASKSCOPE_BPF_SCHED_SOURCE_H
#define TASKSCOPE_BPF_SCHED_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/source.h"

struct ts_collector;
struct ts_strpool;

struct ts_sched_config {
	uint32_t pid;
	bool generic;              /* report loop threads as workers (generic attach) */
	uint64_t offcpu_min_ns;    /* shortest off-CPU interval sent (default 50 us) */
	uint64_t blocking_ns;      /* the blocking_in_poll threshold: off-CPU intervals this long
				    * are always sent, also when shorter than offcpu_min_ns */
	uint64_t loop_stall_ns;    /* loop iterations this long are sent (lints) */
	uint64_t cpu_sample_ns;    /* per-thread CPU sample period; 0: none (default 200 ms) */
	uint32_t ring_bytes;       /* BPF ring size, a power of two >= 4096 (default 4 MiB) */
	bool raw_tp;               /* load the raw_tp flavour directly (it is otherwise the
				    * fallback when tp_btf does not load); for tests */
	bool raw_syscalls;         /* tp_btf, but event-loop waits through raw_syscalls (the
				    * fallback without syscall tracepoints); for tests and benchmarks */
	struct ts_strpool *pool;   /* where event strings are interned (required) */
	/* The collector whose model names the blocked workers to sample
	 * (NULL: no stack sampling). */
	struct ts_collector *collector;
};

/* Defaults for `pid`, thresholds from the collector's lint config when
 * `c` is given. */
void ts_sched_config_default(struct ts_sched_config *cfg, uint32_t pid, struct ts_collector *c);

struct ts_sched_source;

/* Load and attach; 0 or -errno with one line in err. Nothing stays
 * attached on failure. */
int ts_sched_source_new(const struct ts_sched_config *cfg, struct ts_sched_source **out,
			char *err, size_t errlen);
void ts_sched_source_free(struct ts_sched_source *s);

/* The collector-facing ops (drain, lost, free); `src` is the source. */
extern const struct ts_source_ops ts_sched_source_ops;

struct ts_sched_stats {
	uint64_t reserved;         /* records the kernel tried to send */
	uint64_t lost;             /* of those, lost to a full ring */
	uint64_t untracked;        /* thread-map insertions refused (map full) */
	uint64_t records;          /* records read by the loader */
	uint64_t thread_entries;   /* entries in the per-thread map now */
	uint64_t sampled_entries;  /* entries in the stack-sampling map now */
	uint32_t samplers;         /* perf events open now */
	bool raw_tp;               /* the raw_tp fallback is in use */
	uint32_t wait_tracepoints; /* wait syscalls watched through their own tracepoints
				    * (0: through raw_syscalls, or no loops watched) */
};
int ts_sched_source_stats(struct ts_sched_source *s, struct ts_sched_stats *out);

/* Switch stack sampling for one thread on or off (the drain does this
 * itself for blocked workers of the collector's model). */
int ts_sched_source_sample(struct ts_sched_source *s, uint32_t tid, bool on);

/* "clock_nanosleep" for 230; NULL when unknown. */
const char *ts_sched_syscall_name(int nr);

#endif /* TASKSCOPE_BPF_SCHED_SOURCE_H */
