/*
 * sched.bpf.c: scheduler and syscall context for one watched process.
 *
 * Why: a slow poll or a stalled event loop is either burning the CPU or
 * sitting off it, and when off it, usually inside one syscall. The
 * scheduler tracepoints say when each thread of the process leaves and
 * re-enters the CPU (and how long it waited runnable). Which syscall a
 * thread sleeps in is read from its saved user registers when it leaves
 * the CPU (orig_ax, with ax still -ENOSYS while the syscall runs), not
 * tracked per syscall. Event-loop iterations (generic targets only) need
 * the wait syscalls' entries (their returns follow from the scheduler: see
 * wait_enter()): the waits' own tracepoints (syscalls:sys_enter_epoll_wait
 * ..., bpf/syscall_tp.h), so no program runs for other syscalls;
 * raw_syscalls sys_enter only where tracefs is missing (fentry or kprobes
 * on the wait functions would be cheaper still; the CI VM's kernel allows
 * neither). Per-thread state stays in the kernel and only what crosses a
 * threshold is sent (see bpf/sched.h).
 *
 * Everything is filtered to targ_tgid first; the per-thread map is
 * bounded and entries are deleted at the thread's exit
 * (sched_process_exit fires for every exiting thread). Records are
 * submitted with BPF_RB_NO_WAKEUP: the collector drains every 20 ms.
 * Programs come in two flavours: tp_btf (direct reads; the run-queue delay
 * from the scheduler's sched_info, so no sched_wakeup program), and the
 * fallback raw_tp, which reads through CO-RE, notes wake-ups at
 * sched_wakeup and, lacking a task's registers, remembers each thread's
 * current syscall between sys_enter and sys_exit (slower). The loader
 * enables one set (bpf/sched_internal.h: enum sched_flavour).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpf/sched.h"
#include "bpf/syscall_tp.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_EXITING 0x00000004  /* include/linux/sched.h; not in BTF (a macro) */
#define ENOSYS 38

const volatile __u32 targ_tgid = 0;
const volatile __u64 offcpu_min_ns = 50000;
const volatile __u64 loop_stall_ns = 100000000;
const volatile __u64 cpu_sample_ns = 200000000;   /* 0: no CPU samples */
const volatile __u64 stack_interval_ns = 10000000;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SCHED_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct sched_tstate);
} threads SEC(".maps");

/* tid -> last stack sent (ns): the threads the loader samples. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SCHED_MAX_SAMPLED);
	__type(key, __u32);
	__type(value, __u64);
} sampled SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SCHED_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void *reserve(__u64 size)
{
	void *rec;

	count(SCHED_CNT_RESERVED);
	rec = bpf_ringbuf_reserve(&events, size, 0);
	if (!rec)
		count(SCHED_CNT_LOST);
	return rec;
}

static __always_inline void emit(__u32 type, __u32 tid, __u64 ts, __u64 start, __u64 a, __u64 b,
				 __s32 nr, __s32 top_nr, __u32 flags)
{
	struct sched_rec *r = reserve(sizeof(*r));

	if (!r)
		return;
	r->type = type;
	r->tid = tid;
	r->ts = ts;
	r->start = start;
	r->a = a;
	r->b = b;
	r->nr = nr;
	r->top_nr = top_nr;
	r->flags = flags;
	r->pad = 0;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

static __always_inline struct sched_tstate *tstate_get(__u32 tid)
{
	struct sched_tstate *s = bpf_map_lookup_elem(&threads, &tid);
	struct sched_tstate zero = {};

	if (s)
		return s;
	zero.sys_nr = -1;
	zero.iter_top_nr = -1;
	if (bpf_map_update_elem(&threads, &tid, &zero, BPF_NOEXIST) < 0) {
		count(SCHED_CNT_UNTRACKED);
		return NULL;
	}
	return bpf_map_lookup_elem(&threads, &tid);
}

/* The wait syscalls of an event loop (x86-64 numbers, asm/unistd_64.h). */
static __always_inline bool is_wait(long nr)
{
	switch (nr) {
	case 7:    /* poll */
	case 23:   /* select */
	case 232:  /* epoll_wait */
	case 270:  /* pselect6 */
	case 271:  /* ppoll */
	case 281:  /* epoll_pwait */
	case 426:  /* io_uring_enter */
	case 441:  /* epoll_pwait2 */
		return true;
	}
	return false;
}

/* Kernels before 5.14 name the state field `state` (a long). */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

/* Did prev leave the CPU runnable (preempted, or its time slice ended)?
 * The tracepoint's `preempt` argument is false for a slice that ends on
 * the way back to user space, so the state is what tells. */
static __always_inline bool left_runnable(struct task_struct *prev, bool preempt, bool btf)
{
	if (preempt)
		return true;
	if (btf)
		return prev->__state == 0;
	if (bpf_core_field_exists(prev->__state))
		return BPF_CORE_READ(prev, __state) == 0;
	return BPF_CORE_READ((struct task_struct___old *)prev, state) == 0;
}

/* Which syscall is `prev` in as it leaves the CPU? -1: none. Entry code
 * saves the number in orig_ax and sets ax to -ENOSYS until the syscall
 * returns; an exception or interrupt leaves a user value in ax (or a
 * negative orig_ax), so the pair tells a syscall from a page fault. */
static __always_inline int syscall_of(struct task_struct *prev)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(prev);
	long orig, ax;

	if (!regs)
		return -1;
	orig = regs->orig_ax;
	ax = regs->ax;
	return ax == -ENOSYS && orig >= 0 && orig < 1024 ? (int)orig : -1;
}

static __always_inline void iter_begin(struct sched_tstate *s, __u64 now)
{
	s->iter_start = now;
	s->iter_off = 0;
	s->iter_runq = 0;
	s->iter_top_off = 0;
	s->iter_top_nr = -1;
}

static __always_inline void switch_out(__u32 tid, bool preempt, int nr, bool btf, __u64 now)
{
	/* lookup only: an exiting thread switches out once more after
	 * sched_process_exit removed its entry */
	struct sched_tstate *s = bpf_map_lookup_elem(&threads, &tid);

	if (!s)
		return;
	if (s->on_since) {
		s->cpu_accum += now - s->on_since;
		s->on_since = 0;
	}
	s->off_since = now;
	s->off_nr = btf ? nr : s->sys_nr;
	s->preempted = preempt;
	/* asleep in the loop's wait: the iteration ended at the wait's entry,
	 * the next one begins when it runs again (the wait returns) */
	s->wait_sleep = !preempt && s->loop_seen && is_wait(s->off_nr);
	if (s->wait_sleep)
		s->iter_start = 0;
	s->wake_ts = preempt ? now : 0;  /* raw_tp only; tp_btf reads sched_info */
	if (cpu_sample_ns && now - s->last_sample >= cpu_sample_ns && s->cpu_accum) {
		emit(SCHED_REC_CPU_SAMPLE, tid, now, s->last_sample, s->cpu_accum, 0, -1, -1, 0);
		s->cpu_accum = 0;
		s->last_sample = now;
	}
}

/* tp_btf: how long `next` waited runnable, from the scheduler's own
 * bookkeeping (CONFIG_SCHED_INFO): when it was queued, on the run queue's
 * clock (reached through its CFS run queue: the per-CPU `runqueues` is not
 * in kallsyms without CONFIG_KALLSYMS_ALL). sched_switch fires before
 * sched_info_arrive() clears it, so no sched_wakeup program is needed,
 * which every wake-up on the machine would pay. -1: unknown here. */
static __always_inline __s64 runq_delay_btf(struct task_struct *next)
{
	struct cfs_rq *cfs;
	__u64 queued, clock;

	if (!bpf_core_field_exists(struct task_struct, sched_info) || !bpf_core_field_exists(struct cfs_rq, rq))
		return -1;
	queued = next->sched_info.last_queued;
	cfs = next->se.cfs_rq;
	if (!queued || !cfs || !cfs->rq)
		return 0;
	clock = cfs->rq->clock;
	return clock >= queued ? (__s64)(clock - queued) : 0;
}

/* `runq`: the run-queue delay when the caller knows it (tp_btf), else -1
 * (raw_tp: from the wake-up time sched_wakeup noted). */
static __always_inline void switch_in(__u32 tid, bool exiting, __u64 now, __s64 runq_known)
{
	struct sched_tstate *s;
	__u64 off, runq = 0;

	/* An exiting thread may sleep (and run again) after
	 * sched_process_exit removed its entry: never re-create it then. */
	if (exiting)
		s = bpf_map_lookup_elem(&threads, &tid);
	else
		s = tstate_get(tid);
	if (!s)
		return;
	s->on_since = now;
	if (!s->last_sample)
		s->last_sample = now;
	if (!s->off_since)
		return;
	off = now - s->off_since;
	if (runq_known >= 0)
		runq = (__u64)runq_known < off ? (__u64)runq_known : off;
	else if (s->wake_ts && s->wake_ts >= s->off_since && s->wake_ts <= now)
		runq = now - s->wake_ts;
	if (s->wait_sleep) {
		iter_begin(s, now);
		s->wait_sleep = 0;
	} else if (s->iter_start) {
		s->iter_off += off;
		s->iter_runq += runq;
		if (!s->preempted && s->off_nr >= 0 && off > s->iter_top_off) {
			s->iter_top_off = off;
			s->iter_top_nr = s->off_nr;
		}
	}
	if (off >= offcpu_min_ns)
		emit(SCHED_REC_OFFCPU, tid, now, s->off_since, runq, 0, s->off_nr, -1,
		     s->preempted ? SCHED_F_PREEMPTED : 0);
	s->off_since = 0;
	s->wake_ts = 0;
}

/* `btf`: a tp_btf program, whose task pointers may be read directly (a
 * load each); raw_tp reads through bpf_probe_read_kernel (CO-RE). The
 * flag is a constant, so each flavour keeps only its own reads. */
#define TASK_READ(btf, p, field) ((btf) ? (p)->field : BPF_CORE_READ(p, field))

static __always_inline int on_switch(bool preempt, struct task_struct *prev, struct task_struct *next,
				     bool btf)
{
	bool out = TASK_READ(btf, prev, tgid) == targ_tgid;
	bool in = TASK_READ(btf, next, tgid) == targ_tgid;
	__u64 now;

	/* Most switches on the machine involve neither thread: they leave
	 * before the clock is read (one helper call less per run). */
	if (!out && !in)
		return 0;
	now = bpf_ktime_get_ns();
	if (out)
		switch_out(TASK_READ(btf, prev, pid), left_runnable(prev, preempt, btf),
			   btf ? syscall_of(prev) : -1, btf, now);
	if (in)
		switch_in(TASK_READ(btf, next, pid), TASK_READ(btf, next, flags) & PF_EXITING, now,
			  btf ? runq_delay_btf(next) : -1);
	return 0;
}

static __always_inline int on_wakeup(struct task_struct *p, bool btf)
{
	__u32 tid;
	struct sched_tstate *s;

	if (TASK_READ(btf, p, tgid) != targ_tgid)
		return 0;
	tid = TASK_READ(btf, p, pid);
	s = bpf_map_lookup_elem(&threads, &tid);
	if (s && s->off_since && !s->wake_ts)
		s->wake_ts = bpf_ktime_get_ns();
	return 0;
}

/* A wait syscall (epoll_wait ...) begins: the loop iteration since the
 * previous wait's return ends here. Its return is not traced (no program
 * on the syscall's exit): a wait that sleeps returns when the thread runs
 * again (switch_in), one that does not returns within microseconds, so the
 * next iteration provisionally begins now. */
static __always_inline int wait_enter(long nr)
{
	__u64 id = bpf_get_current_pid_tgid(), now;
	struct sched_tstate *s;
	__u32 tid = (__u32)id;

	if ((__u32)(id >> 32) != targ_tgid)
		return 0;
	s = tstate_get(tid);
	if (!s)
		return 0;
	now = bpf_ktime_get_ns();
	if (!s->on_since) {
		/* first sight of a thread already running: it is on the CPU now */
		s->on_since = now;
		if (!s->last_sample)
			s->last_sample = now;
	}
	if (!s->loop_seen) {
		s->loop_seen = 1;
		emit(SCHED_REC_LOOP_THREAD, tid, now, now, 0, 0, (__s32)nr, -1, 0);
	}
	if (s->iter_start && now - s->iter_start >= loop_stall_ns)
		emit(SCHED_REC_LOOP_ITER, tid, now, s->iter_start, s->iter_off, s->iter_runq,
		     (__s32)nr, s->iter_top_nr, 0);
	iter_begin(s, now);
	return 0;
}

/* raw_tp flavour only: follow every syscall (no fentry, no registers). */
static __always_inline int on_sys_enter(long nr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sched_tstate *s;
	__u32 tid = (__u32)id;

	if ((__u32)(id >> 32) != targ_tgid)
		return 0;
	if (is_wait(nr))
		wait_enter(nr);
	s = tstate_get(tid);
	if (s)
		s->sys_nr = (__s32)nr;
	return 0;
}

static __always_inline int on_sys_exit(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sched_tstate *s;
	__u32 tid = (__u32)id;

	if ((__u32)(id >> 32) != targ_tgid)
		return 0;
	s = bpf_map_lookup_elem(&threads, &tid);
	if (s)
		s->sys_nr = -1;
	return 0;
}

static __always_inline int on_exit(struct task_struct *p, bool btf)
{
	__u32 tid;
	struct sched_tstate *s;

	if (TASK_READ(btf, p, tgid) != targ_tgid)
		return 0;
	tid = TASK_READ(btf, p, pid);
	s = bpf_map_lookup_elem(&threads, &tid);
	if (s) {
		__u64 now = bpf_ktime_get_ns();
		__u64 cpu = s->cpu_accum + (s->on_since ? now - s->on_since : 0);

		if (cpu_sample_ns && cpu)
			emit(SCHED_REC_CPU_SAMPLE, tid, now, s->last_sample, cpu, 0, -1, -1, SCHED_F_EXITED);
		bpf_map_delete_elem(&threads, &tid);
	}
	bpf_map_delete_elem(&sampled, &tid);
	return 0;
}

/* ---- tp_btf flavour ---- */

SEC("tp_btf/sched_switch")
int BPF_PROG(btf_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next, true);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(btf_exit, struct task_struct *p)
{
	return on_exit(p, true);
}

/* Every syscall of every process passes here once any program is
 * attached to raw_syscalls, so the common case leaves first: not a wait
 * syscall (a few compares), then not the watched process. The syscall a
 * thread sleeps in comes from its registers at switch-out instead. */
SEC("tp_btf/sys_enter")
int BPF_PROG(btf_sys_enter, struct pt_regs *regs, long nr)
{
	if (!is_wait(nr))
		return 0;
	return wait_enter(nr);
}

/* ---- the wait syscalls' own tracepoints (syscalls:sys_enter_epoll_wait
 * ...: sched_source.c attaches this program to each; see syscall_tp.h).
 * Other syscalls pay only the kernel's bitmap test, not a program run. ---- */

SEC("tracepoint")
int tp_wait_enter(struct ts_sys_enter_ctx *ctx)
{
	return wait_enter(ctx->nr);
}

/* ---- raw_tp flavour (same arguments, read through CO-RE) ---- */

SEC("raw_tp/sched_switch")
int BPF_PROG(raw_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next, false);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(raw_wakeup, struct task_struct *p)
{
	return on_wakeup(p, false);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(raw_exit, struct task_struct *p)
{
	return on_exit(p, false);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(raw_sys_enter, struct pt_regs *regs, long nr)
{
	return on_sys_enter(nr);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_sys_exit, struct pt_regs *regs, long ret)
{
	return on_sys_exit();
}

/* ---- stack sampling: a cpu-clock perf event per flagged thread ---- */

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u32 tid = (__u32)id;
	struct task_struct *task;
	struct sched_stack_rec *r;
	struct pt_regs *regs;
	__u64 *last, sp;
	long n;

	if ((__u32)(id >> 32) != targ_tgid)
		return 0;
	last = bpf_map_lookup_elem(&sampled, &tid);
	if (!last || (*last && now - *last < stack_interval_ns))
		return 0;
	*last = now;
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	r->h.type = SCHED_REC_STACK;
	r->h.tid = tid;
	r->h.ts = now;
	r->h.start = now;
	r->h.a = 0;
	r->h.b = 0;
	r->h.nr = -1;
	r->h.top_nr = -1;
	r->h.flags = SCHED_F_ON_CPU;
	r->h.pad = 0;
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	r->regs[0] = BPF_CORE_READ(regs, ip);
	r->regs[1] = sp = BPF_CORE_READ(regs, sp);
	r->regs[2] = BPF_CORE_READ(regs, bp);
	r->regs[3] = BPF_CORE_READ(regs, bx);
	r->regs[4] = BPF_CORE_READ(regs, r12);
	r->regs[5] = BPF_CORE_READ(regs, r13);
	r->regs[6] = BPF_CORE_READ(regs, r14);
	r->regs[7] = BPF_CORE_READ(regs, r15);
	n = bpf_get_stack(ctx, r->ips, sizeof(r->ips), BPF_F_USER_STACK);
	r->nframes = n < 0 ? (int)n : (int)(n / sizeof(r->ips[0]));
	r->stack_len = 0;
	if (bpf_probe_read_user(r->stack, SCHED_STACK_COPY, (void *)sp) == 0)
		r->stack_len = SCHED_STACK_COPY;
	else if (bpf_probe_read_user(r->stack, 1024, (void *)sp) == 0)
		r->stack_len = 1024;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}
