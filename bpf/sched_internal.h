/*
 * sched_internal.h: what sched_source.c (loading, draining, decoding) and
 * sched_stack.c (stack sampling of blocked workers) share. Not for other
 * modules: they use sched_source.h or collector/attach.h.
 */
#ifndef TASKSCOPE_BPF_SCHED_INTERNAL_H
#define TASKSCOPE_BPF_SCHED_INTERNAL_H

#include "bpf/sched.h"
#include "bpf/sched_source.h"

#define SCHED_NR_NAMES 512
#define SCHED_MAX_WAIT_LINKS 8

/* Which programs a source runs (tried in this order for generic targets;
 * targets with a runtime need no syscall programs at all). */
enum sched_flavour {
	SCHED_FLAVOUR_BTF,          /* tp_btf; waits on their own syscall tracepoints */
	SCHED_FLAVOUR_BTF_RAW_SYS,  /* tp_btf; waits through raw_syscalls (no tracefs) */
	SCHED_FLAVOUR_RAW_TP,       /* raw_tp and CO-RE reads (no tp_btf) */
};

struct sched_bpf;
struct ring_buffer;
struct bpf_link;
struct ts_symbolizer;

struct sched_sampler {
	uint32_t tid;
	bool loop;                 /* for a loop iteration (else a poll) */
	uint64_t poll_started_ns;  /* the poll, or the iteration's start, it was switched on for */
	int perf_fd;
	struct bpf_link *link;
};

struct ts_sched_source {
	struct ts_sched_config cfg;
	struct sched_bpf *skel;
	struct ring_buffer *rb;
	bool raw_tp;
	struct bpf_link *wait_links[SCHED_MAX_WAIT_LINKS];  /* syscall_tp.h */
	unsigned n_wait_links;
	bool announced;            /* the "context starts" marker was sent */
	struct ts_event_batch *batch;  /* during a drain */
	uint64_t now_ns;
	uint64_t records;
	uint64_t bad_records;
	const char *nr_names[SCHED_NR_NAMES];  /* interned syscall names */
	struct sched_sampler samplers[SCHED_MAX_SAMPLED];
	uint32_t n_samplers;
	uint32_t loop_tids[SCHED_MAX_SAMPLED];  /* event-loop threads seen (generic) */
	uint64_t loop_ahead[SCHED_MAX_SAMPLED]; /* CPU ns reported ahead of the kernel's samples */
	uint32_t n_loop_tids;
	struct ts_symbolizer *sym; /* created at the first stack; NULL without */
	bool sym_failed;
};

/* sched_source.c */
const char *ts_sched_nr_name(struct ts_sched_source *s, int nr);
/* Index of `tid` in loop_tids, or -1. */
int ts_sched_loop_index(const struct ts_sched_source *s, uint32_t tid);
void ts_sched_push(struct ts_sched_source *s, const struct ts_event *ev);

/* sched_stack.c */
/* A stack record from the ring -> one TS_EV_STACK. */
void ts_sched_stack_record(struct ts_sched_source *s, const struct sched_stack_rec *r, size_t size);
/* After each drain: sample the model's blocked workers, stop sampling the
 * others, and tell the model where off-CPU ones sleep. */
void ts_sched_stack_update(struct ts_sched_source *s);
void ts_sched_stack_fini(struct ts_sched_source *s);

#endif /* TASKSCOPE_BPF_SCHED_INTERNAL_H */
