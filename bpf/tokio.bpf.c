/*
 * tokio.bpf.c: uprobes on an unmodified Tokio runtime's task functions.
 *
 * Why: a Tokio binary started without console-subscriber still calls the
 * same few functions for every task: raw::poll<T,S> (one instance per
 * future type; entry and return are poll begin and end), raw::dealloc (the
 * task is gone), OwnedTasks::bind and spawn_blocking (spawns; their return
 * value is the new task's header), transition_to_complete and std's
 * catch_unwind cleanup (a panic caught while a task is being polled). The
 * four waker vtable functions (wakes, waker clones and drops) are probed
 * only in full mode (attach --waker-probes); by default only wake_by_ref
 * is (rare, except in a task that wakes itself: the self-wakes), other
 * wakes are inferred from the polls and the live waker count is read by user
 * space while a task is idle (tokio_tasks.c): two traps per poll, not
 * four, and nothing but the clock read in them. Each probe sends one small
 * record; only the spawn hooks copy registers and a slice of the user
 * stack for the loader to unwind.
 *
 * The VM's uprobe trap costs 5-18 us, so the programs do as little as
 * possible. raw::poll is a uprobe session where the kernel has them, and
 * then one ring buffer record per TK_BATCH polls: the entry keeps the poll
 * (begin time, task, instance) in its thread's slot, an array in .bss
 * indexed by tid (found without a helper call; user space reads it mmapped
 * to report long polls while they run, and the polls waiting in its
 * batch), and the return appends begin and end to the slot's batch, which
 * goes to the ring buffer in one record when full. A poll that cannot have
 * its thread's slot (nested in another poll of that thread, or the slot
 * held by another tid) sends a begin and an end record instead. Without
 * sessions an entry and a return program share a per-thread stack of the
 * polls in progress (task local storage: no hashing, freed with the
 * thread; to know at a return which task ended, and whether it completed
 * or was freed inside its own poll) and send two records. Records are
 * submitted with BPF_RB_NO_WAKEUP (the collector drains on a 20 ms timer).
 * A full ring buffer drops the record and counts it in a per-CPU counter
 * the loader reports.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpf/tokio.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 targ_tgid = 0;
/* Full mode (attach --waker-probes): all four waker functions are probed.
 * Otherwise only wake_by_ref (read by the loader, tokio_attach.c). */
const volatile bool waker_probes = false;

/* Indexes into pstack.hdr are masked as well as checked: the verifier
 * needs the mask (TK_POLL_DEPTH is a power of two). */
_Static_assert((TK_POLL_DEPTH & (TK_POLL_DEPTH - 1)) == 0, "TK_POLL_DEPTH must be a power of two");

struct pstack {
	__u32 depth;
	__u32 dealloc_mask;        /* bit i: hdr[i] was freed inside its poll */
	__u32 cancel_mask;         /* bit i: hdr[i] was cancelled when its poll began */
	__u32 complete_mask;       /* bit i: hdr[i] completed inside its poll */
	__u64 hdr[TK_POLL_DEPTH];
};

/* Per-thread: task local storage, freed with the thread, no hashing. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pstack);
} polls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

static __always_inline bool ours(__u32 *tid)
{
	__u64 id = bpf_get_current_pid_tgid();

	*tid = (__u32)id;
	return (id >> 32) == targ_tgid;
}

static __always_inline void count_drops(__u64 k)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &zero);

	if (n)
		*n += k;
}

static __always_inline void count_drop(void)
{
	count_drops(1);
}

static __always_inline void emit(__u32 tid, __u16 type, __u16 flags, __u64 task, __u64 cookie)
{
	struct tk_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);

	if (!r) {
		count_drop();
		return;
	}
	r->ts = bpf_ktime_get_ns();
	r->task = task;
	r->cookie = cookie;
	r->tid = tid;
	r->type = type;
	r->flags = flags;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

static __always_inline struct pstack *thread_polls(__u32 tid, bool create)
{
	return bpf_task_storage_get(&polls, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* uprobe sessions (Linux 6.13+): one program runs at the entry and at the
 * return of the same call, with an 8-byte cookie of its own per call. */
extern bool bpf_session_is_return(void) __ksym __weak;
extern __u64 *bpf_session_cookie(void) __ksym __weak;

/* The poll slots (tokio.h): a global array, so that a slot is found
 * without a helper call, and user space reads it through the mmapped .bss. */
struct tk_slot slots[TK_SLOTS];

#define TK_COOKIE_SENT 1ull  /* session cookie: this poll sent POLL_BEGIN (no slot) */
#define compiler_barrier() asm volatile("" ::: "memory")

/* This thread's slot, when it is inside a poll kept there and not inside
 * a nested one (whose completions and panics user space matches). */
static __always_inline struct tk_slot *own_slot(__u32 tid)
{
	struct tk_slot *sl = &slots[tid & (TK_SLOTS - 1)];

	return sl->owner == tid && sl->nested == 0 ? sl : NULL;
}

/* Send the slot's full batch of polls as one record (its polls are
 * counted as lost when the ring buffer is full), then start the next. */
static __always_inline void flush_batch(struct tk_slot *sl, __u32 tid, __u64 ts)
{
	struct tk_polls_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);

	if (r) {
		r->h.ts = ts;
		r->h.task = 0;
		r->h.cookie = sl->seq;
		r->h.tid = tid;
		r->h.type = TK_REC_POLLS;
		r->h.flags = 0;
		r->slot = tid & (TK_SLOTS - 1);
		r->n = TK_BATCH;
		__builtin_memcpy(r->p, sl->pend, sizeof(r->p));
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	} else {
		count_drops(TK_BATCH);
	}
	sl->seq += TK_BATCH;
	compiler_barrier();  /* seq moves before the polls can be rewritten */
	sl->npend = 0;
}

/* raw::poll as a uprobe session, when the kernel has them: one record
 * per TK_BATCH polls. The entry takes the thread's slot (begin time,
 * task, poll instance) and sends nothing; the return appends begin and
 * end to the slot's batch and sends the batch when it is full.
 * Completions, frees and panics inside the poll mark the slot.
 * A poll that cannot have the slot (taken by another tid, or by an outer
 * poll of this thread) keeps the header in the call's cookie and sends
 * POLL_BEGIN and POLL_END; what happens inside it is matched to it in
 * user space. */
SEC("uprobe")
int BPF_KPROBE(tk_poll_session, void *hdr)
{
	__u64 *cookie = bpf_session_cookie(), old, task;
	struct tk_pend *p;
	struct tk_slot *sl;
	__u16 flags = 0;
	__u32 tid, i, n;

	if (!cookie)
		return 1;
	/* The session link is made for the target's pid: the kernel runs
	 * this only in its threads (no tgid check). The thread id is read
	 * from the task (an inlined load, not a helper call). */
	if (!bpf_session_is_return()) {
		tid = (__u32)bpf_get_current_task_btf()->pid;
		i = tid & (TK_SLOTS - 1);
		sl = &slots[i];
		old = __sync_val_compare_and_swap(&sl->owner, 0, (__u64)tid);
		if (old == 0) {
			sl->hdr = (__u64)hdr;
			sl->instance = bpf_get_attach_cookie(ctx);
			sl->flags = 0;
			sl->nested = 0;
			*cookie = (__u64)i << 1;  /* even, below any task's address */
			compiler_barrier();  /* a reader that sees begin sees the rest */
			sl->begin = bpf_ktime_get_ns();
			return 0;
		}
		if (old == tid)
			sl->nested++;
		*cookie = (__u64)hdr | TK_COOKIE_SENT;
		emit(tid, TK_REC_POLL_BEGIN, 0, (__u64)hdr, bpf_get_attach_cookie(ctx));
		return 0;
	}
	if (*cookie & TK_COOKIE_SENT) {
		task = *cookie & ~TK_COOKIE_SENT;
		tid = (__u32)bpf_get_current_task_btf()->pid;
		sl = &slots[tid & (TK_SLOTS - 1)];
		if (sl->owner == tid && sl->nested > 0)
			sl->nested--;
		emit(tid, TK_REC_POLL_END, 0, task, 0);
		return 0;
	}
	/* the slot this thread took at the entry: the cookie names it */
	sl = &slots[(*cookie >> 1) & (TK_SLOTS - 1)];
	tid = (__u32)sl->owner;
	task = sl->hdr;
	if (!tid || !task)
		return 0;  /* cannot happen: the slot is ours since the entry */
	flags = (__u16)sl->flags;
	n = sl->npend;
	p = &sl->pend[n & (TK_BATCH - 1)];
	p->end = bpf_ktime_get_ns();
	p->begin = sl->begin;
	p->task = task;
	p->tid = tid;
	p->instance = (__u32)sl->instance;
	p->flags = flags;
	compiler_barrier();  /* a reader that counts the poll sees it whole */
	if (n + 1 < TK_BATCH) {
		sl->npend = n + 1;
	} else {
		flush_batch(sl, tid, p->end);
	}
	/* free the slot last: the next owner's appends follow ours */
	sl->begin = 0;
	compiler_barrier();
	sl->owner = 0;
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(tk_poll_enter, void *hdr)
{
	struct pstack *ps;
	__u32 tid, d;

	if (!ours(&tid))
		return 0;
	ps = thread_polls(tid, true);
	if (!ps)
		return 0;
	d = ps->depth;
	if (d < TK_POLL_DEPTH) {
		ps->hdr[d & (TK_POLL_DEPTH - 1)] = (__u64)hdr;
		ps->dealloc_mask &= ~(1u << d);
		ps->complete_mask &= ~(1u << d);
		ps->cancel_mask &= ~(1u << d);
	}
	ps->depth = d + 1;
	emit(tid, TK_REC_POLL_BEGIN, 0, (__u64)hdr, bpf_get_attach_cookie(ctx));
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(tk_poll_exit)
{
	struct pstack *ps;
	__u16 flags = 0;
	__u64 hdr;
	__u32 tid, d;

	if (!ours(&tid))
		return 0;
	ps = thread_polls(tid, false);
	if (!ps || ps->depth == 0)
		return 0;  /* its entry came before the attach */
	d = --ps->depth;
	if (d >= TK_POLL_DEPTH)
		return 0;
	hdr = ps->hdr[d & (TK_POLL_DEPTH - 1)];
	/* Not the state word: another thread may free a completed task as
	 * soon as its poll returns, so completion is noted while it happens */
	if (ps->dealloc_mask & (1u << d))
		flags = TK_F_READY | TK_F_DEALLOC;
	else if (ps->complete_mask & (1u << d))
		flags = TK_F_READY;
	if (flags && (ps->cancel_mask & (1u << d)))
		flags |= TK_F_CANCELLED;
	emit(tid, TK_REC_POLL_END, flags, hdr, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(tk_dealloc, void *hdr)
{
	struct tk_slot *sl;
	struct pstack *ps;
	__u32 tid, d;

	if (!ours(&tid))
		return 0;
	sl = own_slot(tid);
	if (sl && sl->hdr == (__u64)hdr) {
		sl->flags |= TK_F_READY | TK_F_DEALLOC;  /* sent with the poll */
		return 0;
	}
	ps = thread_polls(tid, false);
	if (ps && ps->depth > 0 && ps->depth <= TK_POLL_DEPTH) {
		d = ps->depth - 1;
		if (d < TK_POLL_DEPTH && ps->hdr[d & (TK_POLL_DEPTH - 1)] == (__u64)hdr) {
			ps->dealloc_mask |= 1u << d;  /* reported with the poll's end */
			return 0;
		}
	}
	emit(tid, TK_REC_DEALLOC, 0, (__u64)hdr, 0);
	return 0;
}

/* State::transition_to_complete(&header.state): the task is done. Inside
 * its own poll it is remembered for the poll's end, with whether it was
 * cancelled (read here, once per task, rather than at every poll's entry:
 * a state read costs ~0.1 us); elsewhere (runtime shutdown cancels tasks
 * outside any poll) it is sent as is. */
SEC("uprobe")
int BPF_KPROBE(tk_complete, void *hdr)
{
	struct tk_slot *sl;
	struct pstack *ps;
	__u64 state = 0;
	__u32 tid, d;

	if (!ours(&tid))
		return 0;
	sl = own_slot(tid);
	if (sl && sl->hdr == (__u64)hdr) {
		/* the poller holds a reference: the word is the task's */
		if (bpf_probe_read_user(&state, sizeof(state), hdr) == 0 && (state & TK_STATE_CANCELLED))
			sl->flags |= TK_F_READY | TK_F_CANCELLED;
		else
			sl->flags |= TK_F_READY;
		return 0;
	}
	ps = thread_polls(tid, false);
	if (ps && ps->depth > 0 && ps->depth <= TK_POLL_DEPTH) {
		d = ps->depth - 1;
		if (d < TK_POLL_DEPTH && ps->hdr[d & (TK_POLL_DEPTH - 1)] == (__u64)hdr) {
			ps->complete_mask |= 1u << d;
			/* the poller holds a reference: the word is the task's */
			if (bpf_probe_read_user(&state, sizeof(state), hdr) == 0 && (state & TK_STATE_CANCELLED))
				ps->cancel_mask |= 1u << d;
			return 0;
		}
	}
	/* outside a poll tracked here (shutdown, or a poll-as-session without the slot) */
	emit(tid, TK_REC_COMPLETE,
	     bpf_probe_read_user(&state, sizeof(state), hdr) == 0 && (state & TK_STATE_CANCELLED) ? TK_F_CANCELLED : 0,
	     (__u64)hdr, 0);
	return 0;
}

/* clone_waker, drop_waker, wake_by_val, wake_by_ref: the cookie is the
 * record type. */
SEC("uprobe")
int BPF_KPROBE(tk_waker, void *hdr)
{
	__u32 tid;

	if (!ours(&tid))
		return 0;
	emit(tid, (__u16)bpf_get_attach_cookie(ctx), 0, (__u64)hdr, 0);
	return 0;
}

/* std's catch_unwind cleanup: a panic was just caught. Inside a poll it
 * is (almost always) Tokio's catch_unwind around the task's future. */
SEC("uprobe")
int BPF_KPROBE(tk_panic_caught)
{
	struct tk_slot *sl;
	struct pstack *ps;
	__u32 tid, d;

	if (!ours(&tid))
		return 0;
	sl = own_slot(tid);
	if (sl) {
		sl->flags |= TK_F_PANICKED;
		return 0;
	}
	ps = thread_polls(tid, false);
	if (!ps) {
		/* a poll-as-session without the slot: user space knows it */
		emit(tid, TK_REC_PANIC, 0, 0, 0);
		return 0;
	}
	if (ps->depth == 0 || ps->depth > TK_POLL_DEPTH)
		return 0;
	d = ps->depth - 1;
	if (d < TK_POLL_DEPTH)
		emit(tid, TK_REC_PANIC, 0, ps->hdr[d & (TK_POLL_DEPTH - 1)], 0);
	return 0;
}

/* Return of OwnedTasks::bind (rax:rdx = JoinHandle, Option<Notified>,
 * both the new task's header) or of spawn_blocking (rax = JoinHandle). */
SEC("uretprobe")
int BPF_KRETPROBE(tk_spawn_ret)
{
	struct tk_spawn_rec *r;
	__u64 hdr = PT_REGS_RC(ctx), sp, vt = 0;
	__u32 tid, n = 0;

	if (!ours(&tid))
		return 0;
	if (!hdr && bpf_get_attach_cookie(ctx) == TK_SPAWN_TASK)
		hdr = ctx->dx;  /* bind's (JoinHandle, Option<Notified>) in the other order */
	if (!hdr)
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	sp = PT_REGS_SP(ctx);
	r->h.ts = bpf_ktime_get_ns();
	r->h.task = hdr;
	r->h.cookie = bpf_get_attach_cookie(ctx);
	r->h.tid = tid;
	r->h.type = TK_REC_SPAWN;
	r->h.flags = 0;
	r->regs[0] = PT_REGS_IP(ctx);
	r->regs[1] = sp;
	r->regs[2] = ctx->bp;
	r->regs[3] = ctx->bx;
	r->regs[4] = ctx->r12;
	r->regs[5] = ctx->r13;
	r->regs[6] = ctx->r14;
	r->regs[7] = ctx->r15;
	r->pad = 0;
	/* the JoinHandle holds the new task: its header is alive here */
	r->dealloc_fn = 0;
	if (bpf_probe_read_user(&vt, sizeof(vt), (void *)(hdr + TK_HDR_VTABLE_OFF)) == 0 && vt &&
	    bpf_probe_read_user(&r->dealloc_fn, sizeof(r->dealloc_fn), (void *)(vt + TK_VTABLE_DEALLOC_OFF)) < 0)
		r->dealloc_fn = 0;
#pragma unroll
	for (int i = 0; i < TK_STACK_CHUNKS; i++) {
		if (bpf_probe_read_user(r->stack + i * TK_STACK_CHUNK, TK_STACK_CHUNK,
					(void *)(sp + i * TK_STACK_CHUNK)) < 0)
			break;
		n += TK_STACK_CHUNK;
	}
	r->stack_len = n;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}
