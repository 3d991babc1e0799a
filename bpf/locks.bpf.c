/*
 * locks.bpf.c: pthread lock waits and holds of one watched process.
 *
 * Two program sets (bpf/locks_source.c loads the first, or both):
 *  - contended (locks_switch/locks_waking on the scheduler's tracepoints,
 *    or locks_sys_enter/exit on raw_syscalls where tp_btf does not load):
 *    the futex wait path only.
 *    Uncontended locking stays in user space and is never seen, so it
 *    costs nothing; a contended wait already costs a syscall and a context
 *    switch, next to which the probe is small.
 *  - full (the uprobes): every lock, trylock and unlock call of libc; the
 *    futex programs then only see locks that are not pthread's.
 * lock_destroy (pthread_*_destroy) is loaded in both modes.
 * Records go to one ring buffer (bpf/locks.h); a record that does not fit
 * is counted in `lost`, never waited for. Per-thread state lives in LRU
 * maps, so threads that die mid-call age out instead of leaking.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpf/locks.h"

char LICENSE[] SEC("license") = "GPL";

#define NR_FUTEX 202            /* x86-64 */
#define ENOSYS 38
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_LOCK_PI 6
#define FUTEX_UNLOCK_PI 7
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_LOCK_PI2 13
#define FUTEX_CMD_MASK 127      /* without FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME */
#define FUTEX_TID_MASK 0x3fffffff
#define LLL_LOCK_WAIT_VALUE 2   /* glibc's "locked, with waiters" */

/* glibc x86-64 layouts read for the holder and for contention (full mode):
 * pthread_mutex_t { int __lock; unsigned __count; int __owner; ... },
 * pthread_rwlock_t { unsigned __readers; ...; int __cur_writer at 24 }. */
#define MUTEX_OWNER_OFF 8
#define RWLOCK_CUR_WRITER_OFF 24
#define RW_WRLOCKED 2u
#define RW_READER_SHIFT 3

const volatile __u32 targ_tgid = 0;
const volatile bool full_mode = false;

/* `seen` values: how a lock was first seen */
#define SEEN_PTHREAD 1   /* by a uprobe on a pthread function (full mode) */
#define SEEN_FUTEX 2     /* on the futex path */

struct inflight {
	__u64 addr;
	__u64 start;
	__u16 flags;
	__u16 waited;
	__u32 from_futex;     /* a futex wait (sys_exit ends it), not a probed call */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TS_LOCKS_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TS_LOCKS_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TS_LOCKS_MAX_SEEN);
	__type(key, __u64);
	__type(value, __u8);
} seen SEC(".maps");

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* The calling thread's tid when it belongs to the watched process, else 0. */
static __always_inline __u32 watched_tid(void)
{
	__u64 pt = bpf_get_current_pid_tgid();

	if ((__u32)(pt >> 32) != targ_tgid)
		return 0;
	return (__u32)pt;
}

static __always_inline void emit(__u16 type, __u32 tid, __u64 addr, __u64 ts, __u64 start,
				 __u32 owner, __u16 flags)
{
	struct ts_locks_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);

	if (!r) {
		count_lost();
		return;
	}
	r->ts = ts;
	r->addr = addr;
	r->start = start;
	r->pid = targ_tgid;
	r->tid = tid;
	r->owner = owner;
	r->type = type;
	r->flags = flags;
	bpf_ringbuf_submit(r, 0);
}

/* First sight of `addr`: registers and a slice of the stack, for the
 * loader to unwind and name the lock by its call site. */
static __always_inline void emit_site(__u32 tid, __u64 addr, __u64 ts, __u16 flags,
				      const struct ts_locks_regs *regs, __u8 how)
{
	struct ts_locks_site *s;

	if (bpf_map_lookup_elem(&seen, &addr))
		return;
	if (bpf_map_update_elem(&seen, &addr, &how, BPF_NOEXIST))
		return;
	s = bpf_ringbuf_reserve(&events, sizeof(*s), 0);
	if (!s) {
		count_lost();
		bpf_map_delete_elem(&seen, &addr); /* try again next time */
		return;
	}
	s->rec.ts = ts;
	s->rec.addr = addr;
	s->rec.start = 0;
	s->rec.pid = targ_tgid;
	s->rec.tid = tid;
	s->rec.owner = 0;
	s->rec.type = TS_LOCKS_REC_SITE;
	s->rec.flags = flags;
	s->regs = *regs;
	s->pad = 0;
	s->stack_len = TS_LOCKS_STACK_BYTES;
	if (bpf_probe_read_user(s->stack, TS_LOCKS_STACK_BYTES, (void *)regs->sp)) {
		/* near the top of a mapping: take less */
		s->stack_len = 256;
		if (bpf_probe_read_user(s->stack, 256, (void *)regs->sp))
			s->stack_len = 0;
	}
	bpf_ringbuf_submit(s, 0);
}

static __always_inline __u32 read_u32(__u64 uaddr)
{
	__u32 v = 0;

	if (bpf_probe_read_user(&v, sizeof(v), (void *)uaddr))
		return 0;
	return v;
}

/* ---- contended mode: the futex wait path ---- */

/* A watched thread waits on the futex at uaddr (op and val as passed);
 * `regs` are its user registers. Only lock waits are kept: glibc's
 * "locked, with waiters" value, or a PI lock. */
static __always_inline void futex_wait(__u32 tid, struct pt_regs *regs, __u64 uaddr, __u32 op, __u32 val,
				       __u64 now)
{
	struct ts_locks_regs ur;
	struct inflight f = {};
	__u32 owner = 0;
	__u16 flags = TS_LOCKS_F_FUTEX;
	__u8 *how;

	/* full mode: inside a probed pthread call, the uprobes tell it all */
	if (full_mode && bpf_map_lookup_elem(&inflight, &tid))
		return;
	how = bpf_map_lookup_elem(&seen, &uaddr);
	if (full_mode && how && *how == SEEN_PTHREAD)
		return;
	switch (op & FUTEX_CMD_MASK) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		if (val != LLL_LOCK_WAIT_VALUE)
			return;   /* condition variables, semaphores, joins: not a lock */
		owner = read_u32(uaddr + MUTEX_OWNER_OFF);
		break;
	case FUTEX_LOCK_PI:
	case FUTEX_LOCK_PI2:
		owner = read_u32(uaddr) & FUTEX_TID_MASK;
		flags |= TS_LOCKS_F_PI;
		break;
	default:
		return;
	}
	ur.ip = BPF_CORE_READ(regs, ip);
	ur.sp = BPF_CORE_READ(regs, sp);
	ur.bp = BPF_CORE_READ(regs, bp);
	ur.bx = BPF_CORE_READ(regs, bx);
	ur.r12 = BPF_CORE_READ(regs, r12);
	ur.r13 = BPF_CORE_READ(regs, r13);
	ur.r14 = BPF_CORE_READ(regs, r14);
	ur.r15 = BPF_CORE_READ(regs, r15);
	emit_site(tid, uaddr, now, flags, &ur, SEEN_FUTEX);
	emit(TS_LOCKS_REC_WAIT, tid, uaddr, now, 0, owner, flags);
	f.addr = uaddr;
	f.start = now;
	f.flags = flags;
	f.waited = 1;
	f.from_futex = 1;
	bpf_map_update_elem(&inflight, &tid, &f, BPF_ANY);
}

/* The futex wait of `tid` is over (it runs again, or its syscall returned). */
static __always_inline void futex_wait_end(__u32 tid, __u64 now)
{
	struct inflight *f = bpf_map_lookup_elem(&inflight, &tid);

	if (!f || !f->from_futex)
		return;   /* none, or a probed pthread call's (full mode) */
	emit(TS_LOCKS_REC_WAIT_END, tid, f->addr, now, f->start, 0, f->flags);
	bpf_map_delete_elem(&inflight, &tid);
}

/* The scheduler's view (tp_btf; the loader's first choice): no program
 * runs per syscall, so uncontended code and every other process pay
 * nothing but these two programs' tgid test per switch and per wake-up.
 *  - A watched thread that goes to sleep inside futex() (its saved
 *    registers say so: orig_ax = futex, ax = -ENOSYS while it runs) waits
 *    for the lock in di (op in si, value in dx); sched_switch fires while
 *    it is still current, so its user stack can be copied for the site.
 *  - It runs again: the wait is over.
 *  - sched_waking, in the waker's context: a watched thread waking a lock
 *    waiter released that lock (what FUTEX_WAKE / FUTEX_UNLOCK_PI meant).
 * A futex wait that returns without sleeping (the lock word changed
 * first) is not seen: it waited for nothing worth a span. */
SEC("tp_btf/sched_switch")
int BPF_PROG(locks_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	if (prev->tgid == targ_tgid && !preempt && prev->__state != 0) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(prev);

		if (regs && regs->orig_ax == NR_FUTEX && regs->ax == -ENOSYS)
			futex_wait((__u32)prev->pid, regs, regs->di, (__u32)regs->si, (__u32)regs->dx,
				   bpf_ktime_get_ns());
	}
	if (next->tgid == targ_tgid)
		futex_wait_end((__u32)next->pid, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/sched_waking")
int BPF_PROG(locks_waking, struct task_struct *p)
{
	struct inflight *f;
	__u32 waker, tid;

	if (p->tgid != targ_tgid)
		return 0;
	tid = (__u32)p->pid;
	f = bpf_map_lookup_elem(&inflight, &tid);
	if (!f || !f->from_futex)
		return 0;
	waker = watched_tid();
	if (waker && waker != tid)
		emit(TS_LOCKS_REC_RELEASE, waker, f->addr, bpf_ktime_get_ns(), 0, 0, TS_LOCKS_F_FUTEX);
	return 0;
}

/* raw_syscalls: the fallback where tp_btf does not load; runs for every
 * syscall on the machine. */
SEC("raw_tracepoint/sys_enter")
int locks_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs;
	__u64 uaddr;
	__u32 tid, op;

	if (ctx->args[1] != NR_FUTEX)
		return 0;
	tid = watched_tid();
	if (!tid)
		return 0;
	regs = (struct pt_regs *)ctx->args[0];
	uaddr = BPF_CORE_READ(regs, di);
	op = (__u32)BPF_CORE_READ(regs, si) & FUTEX_CMD_MASK;
	if (op == FUTEX_WAKE || op == FUTEX_WAKE_BITSET || op == FUTEX_UNLOCK_PI) {
		__u8 *how = bpf_map_lookup_elem(&seen, &uaddr);

		/* a release is only news for a lock some thread waited for;
		 * full mode: a pthread lock's unlock uprobe reports it */
		if (how && !(full_mode && *how == SEEN_PTHREAD) && !(full_mode && bpf_map_lookup_elem(&inflight, &tid)))
			emit(TS_LOCKS_REC_RELEASE, tid, uaddr, bpf_ktime_get_ns(), 0, 0, TS_LOCKS_F_FUTEX);
		return 0;
	}
	futex_wait(tid, regs, uaddr, op, (__u32)BPF_CORE_READ(regs, dx), bpf_ktime_get_ns());
	return 0;
}

SEC("raw_tracepoint/sys_exit")
int locks_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tid = watched_tid();

	if (tid)
		futex_wait_end(tid, bpf_ktime_get_ns());
	return 0;
}

/* ---- full mode: uprobes on libc's lock functions ---- */

static __always_inline void user_regs(struct pt_regs *ctx, struct ts_locks_regs *ur)
{
	ur->ip = PT_REGS_IP(ctx);
	ur->sp = PT_REGS_SP(ctx);
	ur->bp = ctx->bp;
	ur->bx = ctx->bx;
	ur->r12 = ctx->r12;
	ur->r13 = ctx->r13;
	ur->r14 = ctx->r14;
	ur->r15 = ctx->r15;
}

/* Would this lock call have to wait? Read from the lock itself at entry:
 * exact enough (a racing release may make a "wait" very short). */
static __always_inline int would_wait(__u64 addr, __u16 flags, __u32 *owner)
{
	__u32 word = read_u32(addr);

	if (!(flags & TS_LOCKS_F_RWLOCK)) {
		if (!word)
			return 0;
		*owner = read_u32(addr + MUTEX_OWNER_OFF);
		return 1;
	}
	if (word & RW_WRLOCKED) {
		*owner = read_u32(addr + RWLOCK_CUR_WRITER_OFF);
		return 1;
	}
	/* readers hold it: only a writer waits */
	return !(flags & TS_LOCKS_F_SHARED) && (word >> RW_READER_SHIFT) != 0;
}

/* Is `owner` still inside its own probed call taking `addr` (its
 * uretprobe has not run)? Then its own ACQUIRED record is coming, stamped
 * after this wait began, and tells when that hold began: the waiter names
 * no holder. (An owner that returned just before this check also has its
 * ACQUIRED stamped after the wait's start: locks_track.c counts that hold
 * once.) */
static __always_inline bool still_acquiring(__u32 owner, __u64 addr)
{
	struct inflight *o = bpf_map_lookup_elem(&inflight, &owner);

	return o && o->addr == addr && !o->from_futex;
}

static __always_inline int lock_enter(struct pt_regs *ctx, __u64 addr, __u16 flags, int check)
{
	struct ts_locks_regs ur;
	struct inflight f = {};
	__u32 tid = watched_tid(), owner = 0;
	__u64 now;

	if (!tid || !addr)
		return 0;
	now = bpf_ktime_get_ns();
	user_regs(ctx, &ur);
	emit_site(tid, addr, now, flags | TS_LOCKS_F_ENTRY, &ur, SEEN_PTHREAD);
	f.addr = addr;
	f.start = now;
	f.flags = flags;
	f.waited = check && would_wait(addr, flags, &owner);
	if (owner && still_acquiring(owner, addr))
		owner = 0;
	if (f.waited)
		emit(TS_LOCKS_REC_WAIT, tid, addr, now, 0, owner, flags);
	bpf_map_update_elem(&inflight, &tid, &f, BPF_ANY);
	return 0;
}

static __always_inline int lock_return(int ret)
{
	struct inflight *f;
	__u32 tid = watched_tid();

	if (!tid)
		return 0;
	f = bpf_map_lookup_elem(&inflight, &tid);
	if (!f || f->from_futex)
		return 0;
	if (ret == 0)
		emit(TS_LOCKS_REC_ACQUIRED, tid, f->addr, bpf_ktime_get_ns(), f->waited ? f->start : 0, 0,
		     f->flags);
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

static __always_inline int unlock_enter(__u64 addr, __u16 flags)
{
	__u32 tid = watched_tid();

	if (tid && addr)
		emit(TS_LOCKS_REC_RELEASE, tid, addr, bpf_ktime_get_ns(), 0, 0, flags);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mutex_lock, void *m)
{
	return lock_enter(ctx, (__u64)m, 0, 1);
}

SEC("uprobe")
int BPF_KPROBE(mutex_trylock, void *m)
{
	return lock_enter(ctx, (__u64)m, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(mutex_unlock, void *m)
{
	return unlock_enter((__u64)m, 0);
}

SEC("uprobe")
int BPF_KPROBE(rwlock_rdlock, void *l)
{
	return lock_enter(ctx, (__u64)l, TS_LOCKS_F_RWLOCK | TS_LOCKS_F_SHARED, 1);
}

SEC("uprobe")
int BPF_KPROBE(rwlock_tryrdlock, void *l)
{
	return lock_enter(ctx, (__u64)l, TS_LOCKS_F_RWLOCK | TS_LOCKS_F_SHARED, 0);
}

SEC("uprobe")
int BPF_KPROBE(rwlock_wrlock, void *l)
{
	return lock_enter(ctx, (__u64)l, TS_LOCKS_F_RWLOCK, 1);
}

SEC("uprobe")
int BPF_KPROBE(rwlock_trywrlock, void *l)
{
	return lock_enter(ctx, (__u64)l, TS_LOCKS_F_RWLOCK, 0);
}

SEC("uprobe")
int BPF_KPROBE(rwlock_unlock, void *l)
{
	return unlock_enter((__u64)l, TS_LOCKS_F_RWLOCK);
}

/* pthread_cond_wait(c, m) and timedwait release m inside libc (through
 * functions that are not exported) and take it back before returning:
 * without these two, a condition wait would look like one long hold. */
SEC("uprobe")
int BPF_KPROBE(cond_wait, void *c, void *m)
{
	struct inflight f = {};
	__u32 tid = watched_tid();

	if (!tid || !m)
		return 0;
	f.addr = (__u64)m;
	f.start = bpf_ktime_get_ns();
	emit(TS_LOCKS_REC_RELEASE, tid, f.addr, f.start, 0, 0, 0);
	bpf_map_update_elem(&inflight, &tid, &f, BPF_ANY);
	return 0;
}

/* lock, trylock and cond_wait returns: all end the thread's in-flight call */
SEC("uretprobe")
int BPF_KRETPROBE(lock_ret, int ret)
{
	return lock_return(ret);
}

/* pthread_mutex_destroy / pthread_rwlock_destroy (both modes): a lock we
 * saw is gone, and its address may soon be another lock's. */
SEC("uprobe")
int BPF_KPROBE(lock_destroy, void *l)
{
	__u32 tid = watched_tid();
	__u64 addr = (__u64)l;

	if (!tid || !addr || !bpf_map_lookup_elem(&seen, &addr))
		return 0;
	bpf_map_delete_elem(&seen, &addr);
	emit(TS_LOCKS_REC_DROP, tid, addr, bpf_ktime_get_ns(), 0, 0, 0);
	return 0;
}

/* a condition wait returns holding its mutex, also when it timed out */
SEC("uretprobe")
int BPF_KRETPROBE(cond_ret, int ret)
{
	return lock_return(0);
}
