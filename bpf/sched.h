/*
 * sched.h: the records sched.bpf.c sends to its loader (sched_source.c).
 *
 * One skeleton instance watches one process (the tgid in rodata). The
 * kernel keeps per-thread state (on/off CPU, the syscall it sleeps in,
 * event-loop iteration) and sends only what crosses a threshold: off-CPU
 * intervals of at least offcpu_min_ns (with their syscall), loop
 * iterations of at least loop_stall_ns, a CPU-time sample per thread
 * every cpu_sample_ns, and user stacks of threads the loader asked to
 * sample. Plain C types only: this file is included by BPF C
 * and by user space.
 */
#ifndef TASKSCOPE_BPF_SCHED_H
#define TASKSCOPE_BPF_SCHED_H

#define SCHED_MAX_THREADS 16384   /* per watched process; more are counted, not tracked */
#define SCHED_MAX_SAMPLED 64      /* threads with stack sampling on at once */
#define SCHED_STACK_FRAMES 32     /* frame-pointer frames from bpf_get_stack */
#define SCHED_STACK_COPY 4096     /* bytes of user stack copied for CFI unwinding */

enum sched_rec_type {
	SCHED_REC_OFFCPU = 1,     /* start = switch-out, ts = switch-in, a = run-queue delay,
				   * nr = syscall in progress (-1: none), flags & SCHED_F_PREEMPTED */
	SCHED_REC_SYSCALL,        /* (not sent: OFFCPU carries the syscall) */
	SCHED_REC_LOOP_ITER,      /* start = wait return (when the thread ran again after sleeping
				   * in it; the wait's entry when it did not sleep), ts = next wait
				   * entry, nr = that wait,
				   * a = off-CPU ns in between, b = run-queue ns in between,
				   * top_nr = syscall with the most off-CPU time in it (-1: none) */
	SCHED_REC_LOOP_THREAD,    /* first wait syscall seen on a thread: nr = the wait */
	SCHED_REC_CPU_SAMPLE,     /* a = on-CPU ns since the thread's previous sample */
	SCHED_REC_STACK,          /* struct sched_stack_rec */
};

enum sched_rec_flags {
	SCHED_F_PREEMPTED = 1u << 0,
	SCHED_F_ON_CPU = 1u << 1,
	SCHED_F_EXITED = 1u << 2,  /* cpu sample: the thread's last, at its exit */
};

struct sched_rec {
	unsigned int type;
	unsigned int tid;
	unsigned long long ts;
	unsigned long long start;
	unsigned long long a;
	unsigned long long b;
	int nr;
	int top_nr;
	unsigned int flags;
	unsigned int pad;
};

struct sched_stack_rec {
	struct sched_rec h;        /* type SCHED_REC_STACK, ts, flags & SCHED_F_ON_CPU */
	unsigned long long regs[8]; /* ip, sp, bp, bx, r12, r13, r14, r15 */
	int nframes;               /* frames in ips[] (frame-pointer walk), or -errno */
	int stack_len;             /* bytes valid in stack[] (copied from regs[1]) */
	unsigned long long ips[SCHED_STACK_FRAMES];
	unsigned char stack[SCHED_STACK_COPY];
};

/* Per-thread state in the kernel (map `threads`, key tid); the loader
 * reads it to tell where a blocked worker sleeps. */
struct sched_tstate {
	unsigned long long on_since;    /* switch-in time while on the CPU, else 0 */
	unsigned long long off_since;   /* switch-out time while off the CPU, else 0 */
	unsigned long long wake_ts;     /* became runnable (woken or preempted) */
	unsigned long long cpu_accum;   /* on-CPU ns since the last CPU sample */
	unsigned long long last_sample;
	unsigned long long iter_start;  /* loop: the last wait's return (or its entry, when it did
					 * not sleep); 0 while asleep in a wait, or unknown */
	unsigned long long iter_off;
	unsigned long long iter_runq;
	unsigned long long iter_top_off;
	int sys_nr;                     /* raw_tp flavour: current syscall, -1: none */
	int off_nr;                     /* the syscall it left the CPU in, -1: none */
	int iter_top_nr;
	unsigned int preempted;
	unsigned int loop_seen;         /* a wait syscall was seen: LOOP_THREAD sent */
	unsigned int wait_sleep;        /* off the CPU asleep in a wait syscall */
	unsigned int pad;
};

/* Per-CPU counters (map `counters`, index below). */
enum sched_counter {
	SCHED_CNT_RESERVED = 0,   /* records attempted (reserve calls) */
	SCHED_CNT_LOST,           /* of those, lost because the ring was full */
	SCHED_CNT_UNTRACKED,      /* threads not tracked: the thread map was full */
	SCHED_CNT_MAX,
};

#endif /* TASKSCOPE_BPF_SCHED_H */
