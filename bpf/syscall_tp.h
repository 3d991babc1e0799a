/*
 * syscall_tp.h: attach a BPF program to chosen syscalls' own entry
 * tracepoints (syscalls:sys_enter_NAME) instead of raw_syscalls.
 *
 * A program on raw_syscalls runs for every syscall of every process on
 * the machine; on the 6.18 VM a sys_enter/sys_exit pair of them took
 * getppid() from ~170 to ~300-450 ns. With per-syscall tracepoints a
 * program runs only for the syscalls named; the others pay the kernel's
 * slow syscall path and a bitmap test. Used by the scheduler source for
 * event-loop waits (bpf/sched_source.c).
 */
#ifndef TASKSCOPE_BPF_SYSCALL_TP_H
#define TASKSCOPE_BPF_SYSCALL_TP_H

#ifndef __bpf__
#include <stddef.h>

struct bpf_program;
struct bpf_link;
#endif

/* The tracepoint context of sys_enter_NAME (tracefs format: common
 * fields, the syscall number as an int at offset 8, then 8-byte slots).
 * Also included by BPF C. */
struct ts_sys_enter_ctx {
	unsigned long long common;
	int nr;
	int pad;
	unsigned long long args[6];
};

#ifndef __bpf__
/* Attach `prog` (loaded, with autoattach off) to the entry tracepoint of
 * each of `names`, appending the links to links[*n_links] (room for n).
 * A syscall this kernel lacks is skipped. Mounts tracefs at
 * /sys/kernel/tracing when it is mounted nowhere. Returns the number of
 * syscalls attached (> 0), or -errno (nothing left attached by this
 * call): the caller then falls back to raw_syscalls. */
int ts_syscall_tp_attach(struct bpf_program *prog, const char *const *names, size_t n, struct bpf_link **links,
			 unsigned *n_links);
#endif

#endif /* TASKSCOPE_BPF_SYSCALL_TP_H */
