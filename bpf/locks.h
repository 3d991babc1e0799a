/*
 * locks.h: the records bpf/locks.bpf.c sends to its loader (bpf/locks_source.c).
 *
 * Two ways of seeing pthread locks, chosen at attach time:
 *  - contended (default): raw_syscalls sys_enter/sys_exit, futex only, on
 *    the watched process's threads. A FUTEX_WAIT whose expected value is 2
 *    (glibc's lock slow path, __lll_lock_wait) or a FUTEX_LOCK_PI begins a
 *    wait; its return ends it; a FUTEX_WAKE / FUTEX_UNLOCK_PI on a lock
 *    seen before is a contended release. Uncontended locking never enters
 *    the kernel and costs nothing.
 *  - full: uprobes/uretprobes on libc's pthread_mutex_{lock,trylock,unlock}
 *    and pthread_rwlock_{rdlock,wrlock,tryrdlock,trywrlock,unlock}: every
 *    acquisition and release; plus the futex path for locks that are not
 *    pthread's (Rust's std Mutex), outside the probed calls.
 * In both modes uprobes on pthread_mutex_destroy / pthread_rwlock_destroy
 * forget a lock seen before (its address may be reused by another lock).
 * The first time a lock address is seen, a SITE record carries the user
 * registers and a bounded copy of the user stack, so the loader can unwind
 * it (CFI, collector/symbolize.h) and name the lock by its call site.
 *
 * Shared between BPF (types from vmlinux.h) and user space (stdint.h);
 * every field is fixed-size and naturally aligned.
 */
#ifndef TASKSCOPE_BPF_LOCKS_H
#define TASKSCOPE_BPF_LOCKS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TS_LOCKS_STACK_BYTES 1024     /* user stack copied for a call site */
#define TS_LOCKS_MAX_THREADS 16384    /* in-flight calls (LRU: dead threads age out) */
#define TS_LOCKS_MAX_SEEN 65536       /* lock addresses already named (LRU) */
#define TS_LOCKS_RINGBUF_BYTES (1u << 22)

enum ts_locks_rec_type {
	TS_LOCKS_REC_WAIT = 1,    /* tid starts waiting for addr; owner = holder's tid if known */
	TS_LOCKS_REC_ACQUIRED,    /* tid holds addr; start = its wait's start, 0 if it did not wait */
	TS_LOCKS_REC_RELEASE,     /* tid released addr */
	TS_LOCKS_REC_WAIT_END,    /* contended mode: one futex wait returned (ts); the loader
				   * decides whether it was the acquisition or a retry */
	TS_LOCKS_REC_SITE,        /* first sight of addr: struct ts_locks_site follows */
	TS_LOCKS_REC_DROP,        /* pthread_*_destroy of a lock seen before: forget addr */
};

enum ts_locks_rec_flags {
	TS_LOCKS_F_RWLOCK = 1u << 0,  /* addr is a pthread_rwlock_t (else a mutex or futex word) */
	TS_LOCKS_F_SHARED = 1u << 1,  /* a read lock */
	TS_LOCKS_F_ENTRY = 1u << 2,   /* SITE taken at a function's first instruction:
				       * stack[0..8] is the return address */
	TS_LOCKS_F_PI = 1u << 3,      /* a priority-inheritance futex (owner from the word) */
	TS_LOCKS_F_FUTEX = 1u << 4,   /* seen on the futex path (not a probed pthread call) */
};

struct ts_locks_rec {
	__u64 ts;                 /* CLOCK_MONOTONIC ns */
	__u64 addr;               /* the lock's address in the target: its identity */
	__u64 start;              /* ACQUIRED / WAIT_END: when the wait began (0: no wait) */
	__u32 pid;                /* tgid */
	__u32 tid;
	__u32 owner;              /* WAIT: holder tid read from the lock (0: unknown) */
	__u16 type;               /* enum ts_locks_rec_type */
	__u16 flags;              /* enum ts_locks_rec_flags */
};

/* x86-64 registers at the probe, enough for a CFI unwind. */
struct ts_locks_regs {
	__u64 ip, sp, bp, bx, r12, r13, r14, r15;
};

struct ts_locks_site {
	struct ts_locks_rec rec;  /* type TS_LOCKS_REC_SITE */
	struct ts_locks_regs regs;
	__u32 stack_len;          /* bytes of stack[] copied from regs.sp (0: none) */
	__u32 pad;
	__u8 stack[TS_LOCKS_STACK_BYTES];
};

#endif /* TASKSCOPE_BPF_LOCKS_H */
