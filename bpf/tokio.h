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
	TK_REC_POLL_END,          /* task, flags: TK_F_READY, TK_F_CANCELLED, TK_F_DEALLOC */
	TK_REC_WAKE,              /* task (wake_by_val: consumes the waker) */
	TK_REC_WAKE_BY_REF,       /* task */
	TK_REC_WAKER_CLONE,       /* task */
	TK_REC_WAKER_DROP,        /* task */
	TK_REC_DEALLOC,           /* task, outside its own poll */
	TK_REC_PANIC,             /* task: a panic was caught while polling it */
	TK_REC_SPAWN,             /* struct tk_spawn_rec; cookie = TK_SPAWN_* */
	TK_REC_COMPLETE,          /* task: completed outside a poll (cancelled at shutdown) */
	TK_REC_POLLS,             /* struct tk_polls_rec: whole polls (begin and end) kept in a slot */
};

enum tk_rec_flags {
	TK_F_READY = 1u << 0,     /* poll end: the task completed in this poll */
	TK_F_CANCELLED = 1u << 1, /* poll end: ... because it was cancelled (aborted): the
				   * cancelled bit was set when it completed */
	TK_F_DEALLOC = 1u << 2,   /* poll end: it was freed inside the poll */
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

/* Polls as uprobe sessions: the entry keeps the poll in its thread's
 * slot, slots[tid & (TK_SLOTS - 1)] in the program's .bss, and sends
 * nothing; the return appends the whole poll (begin and end) to the
 * slot's batch and frees the slot. A full batch (TK_BATCH polls) goes to
 * the ring buffer as one tk_polls_rec: one reservation per TK_BATCH polls,
 * not one per poll (a reservation costs about as much as the rest of the
 * program). A slot owned by another thread (two tids equal modulo
 * TK_SLOTS) or by this thread already (a nested poll) is not taken: that
 * poll sends POLL_BEGIN and POLL_END records as before.
 *
 * User space reads the slots every drain (mmapped .bss), written while it
 * reads them: the begin of a poll in progress (to report a long poll
 * while it runs: the entry writes `begin` last, the return zeroes it
 * first; a copy is used when `begin` is the same before and after), and
 * the polls waiting in the batch, so that none waits for its thread's
 * next polls. Each poll in a batch has a sequence number, `seq` + its
 * index: the return writes the poll, then `npend`; a flush submits the
 * batch, then advances `seq`, then zeroes `npend`, so a reader that finds
 * `seq` unchanged around its copy of the first `npend` polls has them
 * whole. User space remembers per slot how far it has read, and skips a
 * flushed batch's polls it took from the slot already. */
#define TK_SLOTS 1024
#define TK_BATCH 8

struct tk_pend {
	unsigned long long end;      /* ns (CLOCK_MONOTONIC) */
	unsigned long long begin;
	unsigned long long task;
	unsigned int tid;
	unsigned int instance;       /* the raw::poll instance (attach cookie) */
	unsigned int flags;          /* TK_F_* */
	unsigned int pad;
};

struct tk_slot {
	unsigned long long owner;    /* tid of the thread whose poll this is; 0: free */
	unsigned long long hdr;      /* the task polled */
	unsigned long long begin;    /* ns (CLOCK_MONOTONIC); 0 while being taken or freed */
	unsigned long long instance; /* the raw::poll instance (attach cookie) */
	unsigned int flags;          /* TK_F_READY, _CANCELLED, _DEALLOC, _PANICKED learnt inside */
	unsigned int nested;         /* POLL_BEGIN/END polls in progress inside it, same thread */
	unsigned long long seq;      /* sequence number of pend[0] */
	unsigned int npend;          /* polls in pend[] */
	unsigned int pad;
	struct tk_pend pend[TK_BATCH];
};

struct tk_polls_rec {
	struct tk_rec h;             /* TK_REC_POLLS; ts: the last poll's end; tid: the flushing thread;
				      * task: 0; cookie: the sequence number of p[0] */
	unsigned int slot;           /* the slot the polls were kept in */
	unsigned int n;              /* polls in p[] (TK_BATCH from the kernel) */
	struct tk_pend p[TK_BATCH];
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
