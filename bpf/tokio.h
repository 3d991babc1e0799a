/*
 * tokio.h: the records tokio.bpf.c sends to its loader (tokio_source.c).
 *
 * One skeleton instance watches one Tokio process (the tgid in rodata).
 * Every probe sends one fixed-size record; the spawn hooks add the
 * registers and a slice of the user stack so that the loader can unwind
 * and symbolize the spawn site without stopping the target. A task is
 * named by its header pointer (Tokio's task identity: raw::poll's first
 * argument, the waker's data pointer, dealloc's argument). Plain C types
 * only: this file is included by BPF C and by user space.
 */
#ifndef TASKSCOPE_BPF_TOKIO_H
#define TASKSCOPE_BPF_TOKIO_H

#define TK_POLL_DEPTH 8           /* nested polls tracked per thread */
#define TK_STACK_CHUNK 1024       /* the spawn stack is copied in chunks ... */
#define TK_STACK_CHUNKS 8         /* ... up to 8 KiB, until one is unreadable */
#define TK_STACK_MAX (TK_STACK_CHUNK * TK_STACK_CHUNKS)

/* Tokio's task state word (runtime/task/state.rs, stable through 1.x):
 * the low six bits are flags, the reference count is the rest (from bit 6
 * up, REF_ONE = 64). */
#define TK_STATE_RUNNING (1ull << 0)
#define TK_STATE_COMPLETE (1ull << 1)
#define TK_STATE_NOTIFIED (1ull << 2)
#define TK_STATE_JOIN_INTEREST (1ull << 3)
#define TK_STATE_JOIN_WAKER (1ull << 4)
#define TK_STATE_CANCELLED (1ull << 5)
#define TK_STATE_REF_SHIFT 6

enum tk_rec_type {
	TK_REC_POLL_BEGIN = 1,    /* task, cookie = the raw::poll instance */
	TK_REC_POLL_END,          /* task, flags: TK_F_READY, TK_F_CANCELLED, TK_F_DEALLOC,
				   * TK_F_STATE (then cookie = the task's state word, read at
				   * the return of a pending poll; untrusted, see tokio_tasks.c) */
	TK_REC_WAKE,              /* task (wake_by_val: consumes the waker) */
	TK_REC_WAKE_BY_REF,       /* task */
	TK_REC_WAKER_CLONE,       /* task */
	TK_REC_WAKER_DROP,        /* task */
	TK_REC_DEALLOC,           /* task, outside its own poll */
	TK_REC_PANIC,             /* task: a panic was caught while polling it */
	TK_REC_SPAWN,             /* struct tk_spawn_rec; cookie = TK_SPAWN_* */
	TK_REC_COMPLETE,          /* task: completed outside a poll (cancelled at shutdown) */
	TK_REC_POLL,              /* struct tk_poll_rec: a whole poll (begin and end) in one record */
};

enum tk_rec_flags {
	TK_F_READY = 1u << 0,     /* poll end: the task completed in this poll */
	TK_F_CANCELLED = 1u << 1, /* poll end: ... because it was cancelled (aborted): the
				   * cancelled bit was set when it completed */
	TK_F_DEALLOC = 1u << 2,   /* poll end: it was freed inside the poll */
	TK_F_STATE = 1u << 3,     /* poll end: cookie holds the state word (light mode only) */
	TK_F_PANICKED = 1u << 4,  /* whole poll: a panic was caught inside it */
};

enum tk_spawn_kind { TK_SPAWN_TASK = 0, TK_SPAWN_BLOCKING = 1 };

/* Cookies of the probes (bpf_get_attach_cookie): the instance index for
 * raw::poll, TK_SPAWN_* for the spawn hooks. */

struct tk_rec {
	unsigned long long ts;
	unsigned long long task;
	unsigned long long cookie;
	unsigned int tid;
	unsigned short type;
	unsigned short flags;
};

/* One record per poll (raw::poll as a uprobe session): the entry keeps
 * the poll in its thread's slot, slots[tid & (TK_SLOTS - 1)] in the
 * program's .bss, and sends nothing; the return sends one tk_poll_rec and
 * frees the slot. A slot owned by another thread (two tids equal modulo
 * TK_SLOTS) or by this thread already (a nested poll) is not taken: that
 * poll sends POLL_BEGIN and POLL_END records as before. User space reads
 * the slots every drain (mmapped .bss), to report a long poll's begin
 * while it still runs: a slot is written while it is read, so the reader
 * copies it twice and uses it only when both copies agree. The entry
 * writes `begin` last; the return zeroes `begin`, then `owner`, and only
 * then submits the poll's record. */
#define TK_SLOTS 1024

struct tk_slot {
	unsigned long long owner;    /* tid of the thread whose poll this is; 0: free */
	unsigned long long hdr;      /* the task polled */
	unsigned long long begin;    /* ns (CLOCK_MONOTONIC); 0 while being taken or freed */
	unsigned long long instance; /* the raw::poll instance (attach cookie) */
	unsigned int flags;          /* TK_F_READY, _CANCELLED, _DEALLOC, _PANICKED learnt inside */
	unsigned int nested;         /* POLL_BEGIN/END polls in progress inside it, same thread */
};

struct tk_poll_rec {
	struct tk_rec h;             /* TK_REC_POLL; ts: end; cookie: the state word (TK_F_STATE) */
	unsigned long long begin;    /* the poll's begin (ns) */
	unsigned long long instance; /* the raw::poll instance (attach cookie) */
};

/* Header::vtable (Header is repr(C): state, queue_next, vtable) and
 * Vtable::dealloc (poll, schedule, dealloc, ...), stable through 1.x. */
#define TK_HDR_VTABLE_OFF 16
#define TK_VTABLE_DEALLOC_OFF 16

struct tk_spawn_rec {
	struct tk_rec h;
	unsigned long long dealloc_fn;  /* the task's vtable's dealloc (names its future type), or 0 */
	unsigned long long regs[8];  /* ip, sp, bp, bx, r12, r13, r14, r15 at the hook's return */
	unsigned int stack_len;      /* bytes valid in stack[] (copied from regs[1]) */
	unsigned int pad;
	unsigned char stack[TK_STACK_MAX];
};

#endif /* TASKSCOPE_BPF_TOKIO_H */
