/*
 * tokio_tasks.c: tokio.bpf.c's records, turned into the collector's events.
 *
 * Why a table on this side: the kernel programs stay minimal, and what
 * needs memory lives here. Per task (keyed by its header address): its
 * kind (a spawn_blocking task is "blocking"), whether a panic was caught
 * while polling it or it completed cancelled (its outcome at the drop),
 * whether its spawn was reported. Per thread: the role last reported
 * (a thread that polls blocking tasks is "blocking", one that polls
 * ordinary tasks a "worker") with its name from /proc/PID/task/TID/comm.
 * Per raw::poll instance: whether it polls blocking tasks (so a blocking
 * task that existed before the attach is still recognised).
 *
 * Spawn sites: the spawn record carries the registers and a slice of the
 * user stack at the return of OwnedTasks::bind / spawn_blocking, resolved
 * in tokio_sites.c. The task's name is its future's type where the
 * symbols tell (tokio_names.c), else that function. A task first seen at
 * a poll (alive before the attach) is named from its header in memory.
 *
 * Polls: where raw::poll is a uprobe session a poll is one record
 * (TK_REC_POLL: begin and end) when it had its thread's slot (tokio.h),
 * else a POLL_BEGIN and a POLL_END record with what happened inside it
 * matched to the thread's innermost poll here. Each drain also scans the
 * slots (ts_tokio_tasks_scan): a poll running for 5 ms or more gets its
 * begin then, so that live lints and the console see it while it runs;
 * the thread remembers that begin, and the poll's record adds only the
 * end.
 *
 * Wakes in light mode (no waker probes, the default): the poll's return
 * sends Tokio's state word read after transition_to_idle. NOTIFIED set:
 * the task was woken while it was polled, reported as a wake from the
 * polling thread at the poll's end (a self-wake for the model; a wake
 * from another thread in the same microseconds looks the same). The
 * references it holds beyond the owner list's, the JoinHandle's (while
 * JOIN_INTEREST) and the queued notification's (while NOTIFIED) are
 * wakers' (or AbortHandles', which can only hide a lost waker, never
 * invent one): sent with the poll end as the live waker count. A task
 * whose pending poll was not woken inside it and that is polled again was
 * woken in between by someone at an unknown time: an untimed wake, sent
 * with that poll's end, where it is known whether the poll only cancelled
 * an aborted task (an abort is no wake: none is counted then). The word
 * is untrusted (the task may have been woken, run or freed by another
 * thread since): a word that cannot be an idle task's leaves the waker
 * count unknown (ts_tokio_state_decode).
 *
 * Records come from the kernel but describe the target's memory: sizes
 * are checked, and nothing here dereferences a target address.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bpf/tokio_internal.h"
#include "collector/hashidx.h"
#include "collector/strpool.h"
#include "collector/symbolize.h"

#define MAX_INSTANCES 65536
#define RECENT 256               /* dropped tasks remembered for late spawns */

struct tk_task {
	uint64_t hdr;
	uint64_t first_ts;
	uint32_t kind;
	uint32_t spawn_tid;
	bool spawned;
	bool panicked;
	bool cancelled;
	/* light mode: */
	bool unwoken;            /* its last poll returned pending, not woken inside */
	bool name_read;          /* first seen at a poll: its name was looked up in memory */
	bool queued;             /* light mode: in the idle queue (once, whatever its polls) */
	uint64_t begin_ts;       /* its last poll's begin */
	uint64_t end_ts;         /* its last pending poll's end (0: none, or it ran since) */
	uint64_t wake_ts;        /* its last wake with a time (a wake_by_ref) */
	uint64_t first_wake;     /* its first wake with a time after end_ts (0: none) */
	struct tk_task *hash_next;
};

/* A record of the drain, or one poll of a slot's batch, waiting to be
 * sorted: small records are copied in, a spawn record is allocated. */
struct tk_item {
	uint64_t ts;
	uint64_t order;          /* arrival: equal times keep it */
	int what;                /* ITEM_POLL, ITEM_REC, ITEM_BIG */
	size_t size;
	union {
		struct tk_pend poll;
		struct tk_rec rec;
		void *big;
	} u;
};

enum { ITEM_POLL, ITEM_REC, ITEM_BIG };

/* How far the polls of a slot's batches were taken: all below next_seq,
 * and `taken` of the batch that starts there (read from the slot before
 * the batch was flushed). gap_since: when the slot was first found past
 * next_seq (its flushed batch not read yet). */
struct tk_slot_read {
	uint64_t next_seq;
	uint64_t gap_since;
	uint32_t taken;
};

struct tk_idle {
	uint64_t hdr;
	uint64_t end_ts;
};

struct tk_thread {
	uint64_t tid;
	int role;                /* -1: not reported yet */
	/* Polls in progress on it, as its records tell (innermost last), and
	 * the TK_F_* flags learnt inside each: when raw::poll is a uprobe
	 * session, completions and frees are sent as they happen and matched
	 * to the thread's poll here, not in BPF. */
	uint32_t depth;
	uint64_t poll[TK_POLL_DEPTH];
	uint16_t poll_flags[TK_POLL_DEPTH];
	/* Its poll kept in a slot (one record per poll): the begin time of
	 * the one whose POLL_BEGIN the slot scan sent early (0: none), and of
	 * the last one whose record arrived (the scan must not begin it). */
	uint64_t early_begin, early_hdr, ended_begin;
	struct tk_thread *hash_next;
};

struct tk_tasks {
	uint32_t pid;
	bool waker_probes;              /* full mode: wakes come from probes */
	uint64_t state_unknown;         /* light mode: idle tasks whose state word was unusable */
	/* light mode: tasks to read the state word of once idle long enough
	 * (by the end of the pending poll that made them idle), oldest first */
	struct tk_idle *idle;
	size_t idle_head, idle_len, idle_cap;
	bool idle_read_failed;          /* process_vm_readv refused: no more tries */
	struct ts_strpool *pool;
	struct ts_symbolizer *sym;
	struct ts_hashidx task_ix;
	struct ts_hashidx thread_ix;
	uint8_t *instance_blocking;     /* per raw::poll cookie: 1 = polls blocking tasks */
	size_t n_instances;
	struct { uint64_t hdr, first_ts; } recent[RECENT];
	size_t recent_next;
	uint64_t rejected;
	struct tk_site sites[TK_SITES]; /* spawn sites already resolved */
	struct tk_names names;          /* future types by vtable */
	/* The drain's records, turned into events in time order (a slot's
	 * polls reach us later than the records sent after them) */
	struct tk_item *items;
	size_t n_items, cap_items;
	uint64_t next_order;
	struct tk_slot_read slot_read[TK_SLOTS];
};

static uint64_t task_hash(const void *node)
{
	return ts_hashidx_hash(0, ((const struct tk_task *)node)->hdr);
}

static uint64_t thread_hash(const void *node)
{
	return ts_hashidx_hash(0, ((const struct tk_thread *)node)->tid);
}

int ts_tokio_tasks_new(uint32_t pid, bool waker_probes, struct ts_strpool *pool, struct ts_symbolizer *sym,
		       struct tk_tasks **out)
{
	struct tk_tasks *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->pid = pid;
	t->waker_probes = waker_probes;
	t->pool = pool;
	t->sym = sym;
	r = ts_hashidx_init(&t->task_ix, offsetof(struct tk_task, hash_next), task_hash);
	if (r == 0)
		r = ts_hashidx_init(&t->thread_ix, offsetof(struct tk_thread, hash_next), thread_hash);
	if (r < 0) {
		ts_tokio_tasks_free(t);
		return r;
	}
	*out = t;
	return 0;
}

static void free_chain_all(struct ts_hashidx *ix, size_t next_off)
{
	for (size_t b = 0; ix->buckets && b <= ix->mask; b++) {
		void *n = ix->buckets[b];

		while (n) {
			void *next = *(void **)((char *)n + next_off);

			free(n);
			n = next;
		}
		ix->buckets[b] = NULL;
	}
}

void ts_tokio_tasks_free(struct tk_tasks *t)
{
	if (!t)
		return;
	free_chain_all(&t->task_ix, offsetof(struct tk_task, hash_next));
	free_chain_all(&t->thread_ix, offsetof(struct tk_thread, hash_next));
	ts_hashidx_fini(&t->task_ix);
	ts_hashidx_fini(&t->thread_ix);
	for (size_t i = 0; i < t->n_items; i++)
		if (t->items[i].what == ITEM_BIG)
			free(t->items[i].u.big);
	free(t->items);
	free(t->idle);
	free(t->instance_blocking);
	free((void *)t->names.shared);
	free(t);
}

void ts_tokio_tasks_set_glue_shared(struct tk_tasks *t, uint64_t *addrs, size_t n)
{
	free((void *)t->names.shared);
	t->names.shared = addrs;
	t->names.n_shared = n;
}

uint64_t ts_tokio_tasks_rejected(const struct tk_tasks *t)
{
	return t->rejected;
}

uint64_t ts_tokio_tasks_state_unknown(const struct tk_tasks *t)
{
	return t->state_unknown;
}

static struct tk_task *find_task(struct tk_tasks *t, uint64_t hdr)
{
	struct tk_task *k = ts_hashidx_bucket(&t->task_ix, ts_hashidx_hash(0, hdr));

	while (k && k->hdr != hdr)
		k = k->hash_next;
	return k;
}

static struct tk_task *get_task(struct tk_tasks *t, uint64_t hdr, uint64_t ts)
{
	struct tk_task *k = find_task(t, hdr);

	if (k)
		return k;
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->hdr = hdr;
	k->first_ts = ts;
	k->kind = TS_KIND_TASK;
	(void)ts_hashidx_insert(&t->task_ix, k); /* a failed growth only slows lookups */
	return k;
}

static void forget_task(struct tk_tasks *t, struct tk_task *k)
{
	t->recent[t->recent_next % RECENT].hdr = k->hdr;
	t->recent[t->recent_next % RECENT].first_ts = k->first_ts;
	t->recent_next++;
	ts_hashidx_remove(&t->task_ix, k);
	free(k);
}

static int push(struct ts_event_batch *b, const struct ts_event *ev)
{
	return ts_event_batch_push(b, ev);
}

static struct tk_thread *find_thread(struct tk_tasks *t, uint32_t tid)
{
	struct tk_thread *th = ts_hashidx_bucket(&t->thread_ix, ts_hashidx_hash(0, tid));

	while (th && th->tid != tid)
		th = th->hash_next;
	return th;
}

/* Report a thread the first time it is seen and whenever its role changes;
 * *out: its entry. */
static int see_thread(struct tk_tasks *t, uint32_t tid, uint64_t ts, int role, struct ts_event_batch *b,
		      struct tk_thread **out)
{
	struct tk_thread *th = find_thread(t, tid);
	char path[64], comm[32] = "";
	ssize_t n;
	int fd;

	if (!th) {
		th = calloc(1, sizeof(*th));
		if (!th)
			return -ENOMEM;
		th->tid = tid;
		th->role = -1;
		(void)ts_hashidx_insert(&t->thread_ix, th);
	}
	*out = th;
	if (role < 0)
		role = th->role >= 0 ? th->role : TS_ROLE_OTHER;
	if (th->role == role)
		return 0;
	th->role = role;
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/task/%" PRIu32 "/comm", t->pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		comm[n > 0 ? n : 0] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
	}
	return push(b, &(struct ts_event){
		.ts = ts, .pid = t->pid, .tid = tid, .type = TS_EV_THREAD, .kind = (uint32_t)role,
		.name = comm[0] ? ts_strpool_intern(t->pool, comm, strlen(comm)) : NULL,
	});
}

static void poll_push(struct tk_thread *th, uint64_t hdr)
{
	if (th->depth < TK_POLL_DEPTH) {
		th->poll[th->depth] = hdr;
		th->poll_flags[th->depth] = 0;
	}
	if (th->depth < UINT32_MAX)
		th->depth++;
}

/* The thread's innermost poll when it polls `hdr`, or NULL. */
static uint16_t *poll_top(struct tk_thread *th, uint64_t hdr)
{
	if (th->depth == 0 || th->depth > TK_POLL_DEPTH || th->poll[th->depth - 1] != hdr)
		return NULL;
	return &th->poll_flags[th->depth - 1];
}

/* The poll of `hdr` ended: pop it (and inner polls whose ends were lost);
 * returns the flags learnt inside it. An end whose begin was lost pops
 * nothing. */
static uint16_t poll_pop(struct tk_thread *th, uint64_t hdr)
{
	if (th->depth > TK_POLL_DEPTH) {
		th->depth--;
		return 0;
	}
	for (uint32_t i = th->depth; i-- > 0;) {
		if (th->poll[i] == hdr) {
			th->depth = i;
			return th->poll_flags[i];
		}
	}
	return 0;
}

static bool instance_blocking(const struct tk_tasks *t, uint64_t cookie)
{
	return cookie < t->n_instances && t->instance_blocking[cookie];
}

static void learn_instance(struct tk_tasks *t, uint64_t cookie)
{
	uint8_t *p;
	size_t n;

	if (cookie >= MAX_INSTANCES)
		return;
	if (cookie >= t->n_instances) {
		n = (size_t)cookie + 16;
		p = realloc(t->instance_blocking, n);
		if (!p)
			return;
		memset(p + t->n_instances, 0, n - t->n_instances);
		t->instance_blocking = p;
		t->n_instances = n;
	}
	t->instance_blocking[cookie] = 1;
}

static int on_spawn(struct tk_tasks *t, const struct tk_spawn_rec *r, struct ts_event_batch *b)
{
	struct tk_task *k = find_task(t, r->h.task);
	bool blocking = r->h.cookie == TK_SPAWN_BLOCKING;
	uint64_t ts = r->h.ts;
	const char *name, *loc, *future;

	if (k && k->spawned) {
		if (blocking && k->spawn_tid == r->h.tid)
			return 0; /* a nested spawn_blocking hook reported it already */
		/* the header was freed and reused, and we missed that task's end:
		 * the model ends it at this spawn (a reused id) */
		forget_task(t, k);
		k = NULL;
	}
	if (k) {
		k->spawned = true;
		k->spawn_tid = r->h.tid;
		if (blocking)
			k->kind = TS_KIND_BLOCKING;
		if (k->first_ts < ts)
			ts = k->first_ts; /* it was polled before its spawner returned */
	} else if (blocking) {
		/* a blocking task may have run and gone before its spawner
		 * returned: the spawn is then dated at its first poll */
		for (size_t i = 0; i < RECENT; i++) {
			if (t->recent[i].hdr == r->h.task) {
				ts = t->recent[i].first_ts < ts ? t->recent[i].first_ts : ts;
				t->recent[i].hdr = 0;
				goto report;
			}
		}
	}
	if (!k) {
		k = get_task(t, r->h.task, ts);
		if (!k)
			return -ENOMEM;
		k->spawned = true;
		k->spawn_tid = r->h.tid;
		k->kind = blocking ? TS_KIND_BLOCKING : TS_KIND_TASK;
	}
report:
	ts_tokio_spawn_site(t->sym, t->pool, t->sites, r, &name, &loc);
	/* the future's type names the task better than the function that spawned it */
	future = ts_tokio_future_name(&t->names, t->pid, t->sym, t->pool, r->dealloc_fn);
	if (future)
		name = future;
	return push(b, &(struct ts_event){
		.ts = ts, .pid = t->pid, .tid = r->h.tid, .type = TS_EV_SPAWN, .id = r->h.task,
		.kind = blocking ? TS_KIND_BLOCKING : TS_KIND_TASK, .name = name, .location = loc,
		.flags = t->waker_probes ? 0 : TS_EVF_WAKERS_UNKNOWN,
	});
}

static uint32_t outcome(const struct tk_task *k)
{
	if (k && k->panicked)
		return TS_OUTCOME_PANICKED;
	if (k && k->cancelled)
		return TS_OUTCOME_CANCELLED;
	return TS_OUTCOME_OK;
}

static int on_drop(struct tk_tasks *t, const struct tk_rec *r, struct ts_event_batch *b)
{
	struct tk_task *k = find_task(t, r->task);
	uint32_t out = outcome(k);

	if (k)
		forget_task(t, k);
	return push(b, &(struct ts_event){
		.ts = r->ts, .pid = t->pid, .tid = r->tid, .type = TS_EV_TASK_DROP, .id = r->task, .kind = out,
	});
}

/* Queue task `hdr`, idle since `end`, for its waker count. */
static int idle_push(struct tk_tasks *t, uint64_t hdr, uint64_t end)
{
	struct tk_idle *q;

	if (t->idle_len == t->idle_cap) {
		size_t cap = t->idle_cap ? t->idle_cap * 2 : 256;

		q = malloc(cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		for (size_t i = 0; i < t->idle_len; i++)
			q[i] = t->idle[(t->idle_head + i) % t->idle_cap];
		free(t->idle);
		t->idle = q;
		t->idle_cap = cap;
		t->idle_head = 0;
	}
	t->idle[(t->idle_head + t->idle_len++) % t->idle_cap] = (struct tk_idle){ hdr, end };
	return 0;
}

/* Light mode, a pending poll's end: whether a wake_by_ref came inside
 * the poll (then the task is rescheduled and its next poll needs no
 * other wake), and the task's place in the queue of idle tasks whose
 * live waker count user space reads (ts_tokio_tasks_check_idle). A task
 * is queued once: polled again meanwhile, it moves to the back when its
 * entry comes up, so the queue holds tasks, not polls. */
static int light_poll_end(struct tk_tasks *t, struct tk_task *k, uint64_t end)
{
	int rc;

	if (!k)
		return 0;
	k->unwoken = k->wake_ts < k->begin_ts;
	k->end_ts = end;
	if (t->idle_read_failed || k->queued)
		return 0;  /* the target's memory cannot be read; queued already */
	rc = idle_push(t, k->hdr, end);
	if (rc == 0)
		k->queued = true;
	return rc;
}

/* A task first seen at a poll (alive before the attach, as a rule): its
 * future's type from the vtable in its header, sent as the name of the
 * task the model already has (a snapshot of a known task only fills in
 * its name; a spawn that comes after all is still its spawn). No site:
 * its spawner's stack is long gone. */
static int name_unspawned(struct tk_tasks *t, struct tk_task *k, uint32_t tid, struct ts_event_batch *b)
{
	const char *name;

	k->name_read = true;
	name = ts_tokio_future_name(&t->names, t->pid, t->sym, t->pool, ts_tokio_task_dealloc(t->pid, k->hdr));
	if (!name)
		return 0;
	return push(b, &(struct ts_event){
		.ts = k->first_ts, .pid = t->pid, .tid = tid, .type = TS_EV_TASK_SNAPSHOT, .id = k->hdr,
		.kind = k->kind, .name = name, .arg = 0,  /* running: what it is, were the task new */
	});
}

/* A poll began: the task's kind tells the thread's role (a thread that
 * polls blocking tasks is "blocking"); the poll instance remembers
 * whether it polls blocking tasks. *th: the thread's entry. */
static int poll_begin(struct tk_tasks *t, uint32_t tid, uint64_t ts, uint64_t hdr, uint64_t instance,
		      struct ts_event_batch *b, struct tk_thread **th)
{
	struct tk_task *k = get_task(t, hdr, ts);
	int role, rc;

	if (!k)
		return -ENOMEM;
	k->begin_ts = ts;
	if (k->kind == TS_KIND_BLOCKING)
		learn_instance(t, instance);
	else if (instance_blocking(t, instance))
		k->kind = TS_KIND_BLOCKING;
	role = k->kind == TS_KIND_BLOCKING ? TS_ROLE_BLOCKING : TS_ROLE_WORKER;
	rc = see_thread(t, tid, ts, role, b, th);
	if (rc < 0)
		return rc;
	rc = push(b, &(struct ts_event){
		.ts = ts, .pid = t->pid, .tid = tid, .type = TS_EV_POLL_BEGIN, .id = hdr,
	});
	if (rc < 0 || k->spawned || k->name_read)
		return rc;
	return name_unspawned(t, k, tid, b);
}

/* A poll of r->task ended with `flags` (TK_F_*, what was learnt inside
 * it included). */
static int poll_end(struct tk_tasks *t, const struct tk_rec *r, uint16_t flags, struct ts_event_batch *b)
{
	struct ts_event ev = { .ts = r->ts, .pid = t->pid, .tid = r->tid, .id = r->task, .type = TS_EV_POLL_END };
	struct tk_task *k = find_task(t, r->task);
	int rc;

	if (k && (flags & TK_F_CANCELLED))
		k->cancelled = true;
	if (k && (flags & TK_F_PANICKED))
		k->panicked = true;
	if (k && k->unwoken && !(k->first_wake && k->first_wake < k->begin_ts) && !(flags & TK_F_CANCELLED)) {
		/* light mode: it was woken between its last poll and this
		 * one, not by a wake_by_ref (that one has its time), when is
		 * unknown (a poll that only cancels an aborted task was no
		 * wake's) */
		rc = push(b, &(struct ts_event){
			.ts = r->ts, .pid = t->pid, .tid = r->tid, .type = TS_EV_WAKE, .id = r->task,
			.flags = TS_EVF_BY_REF | TS_EVF_UNTIMED,
		});
		if (rc < 0)
			return rc;
	}
	if (k) {
		k->unwoken = false;
		k->end_ts = 0;
		k->first_wake = 0;
	}
	ev.flags = (flags & TK_F_READY) ? TS_EVF_READY : 0;
	if (!t->waker_probes && !(flags & TK_F_READY)) {
		rc = light_poll_end(t, k, r->ts);
		if (rc < 0)
			return rc;
	}
	rc = push(b, &ev);
	/* A task that completed never runs again: its life ends here,
	 * whenever its JoinHandle lets the memory go. */
	if (rc < 0 || !(flags & TK_F_READY))
		return rc;
	return on_drop(t, r, b);
}

/* A whole poll (it had its thread's slot): its begin, unless the slot
 * scan sent that already, and its end. */
static int on_whole_poll(struct tk_tasks *t, const struct tk_pend *p, struct ts_event_batch *b)
{
	struct tk_rec end = { .ts = p->end, .task = p->task, .tid = p->tid,
			      .type = TK_REC_POLL_END, .flags = (uint16_t)p->flags };
	struct tk_thread *th = NULL;
	int rc;

	if (p->begin == 0 || p->begin > p->end || !p->task || !p->tid) {
		t->rejected++;
		return 0;
	}
	th = find_thread(t, p->tid);
	if (th && th->early_begin == p->begin && th->early_hdr == p->task) {
		th->early_begin = 0;  /* begun by the scan */
	} else {
		rc = poll_begin(t, p->tid, p->begin, p->task, p->instance, b, &th);
		if (rc < 0)
			return rc;
	}
	th->ended_begin = p->begin;
	return poll_end(t, &end, (uint16_t)p->flags, b);
}

int ts_tokio_tasks_scan(struct tk_tasks *t, const struct tk_slot *slots, size_t n, uint64_t now_ns,
			struct ts_event_batch *b)
{
	struct tk_thread *th;
	int rc;

	for (size_t i = 0; i < n; i++) {
		const struct tk_slot *sl = &slots[i];
		uint64_t begin, owner, hdr, instance;

		/* begin is written last at a poll's entry and cleared first at
		 * its return: the same nonzero begin before and after the other
		 * fields means they belong to it (a seqlock with begin as the
		 * sequence; the clock never repeats a value) */
		begin = __atomic_load_n(&sl->begin, __ATOMIC_ACQUIRE);
		if (begin == 0 || begin > now_ns || now_ns - begin < TK_EARLY_BEGIN_NS)
			continue;
		owner = __atomic_load_n(&sl->owner, __ATOMIC_ACQUIRE);
		hdr = __atomic_load_n(&sl->hdr, __ATOMIC_ACQUIRE);
		instance = __atomic_load_n(&sl->instance, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&sl->begin, __ATOMIC_ACQUIRE) != begin)
			continue;
		if (owner == 0 || owner > UINT32_MAX || (owner & (TK_SLOTS - 1)) != (i & (TK_SLOTS - 1)) || !hdr)
			continue;
		th = find_thread(t, (uint32_t)owner);
		if (th && (th->early_begin == begin || th->ended_begin == begin))
			continue;  /* sent already, or its record was read */
		rc = poll_begin(t, (uint32_t)owner, begin, hdr, instance, b, &th);
		if (rc < 0)
			return rc;
		th->early_begin = begin;
		th->early_hdr = hdr;
	}
	return 0;
}

/* One record (not a batch of polls) into events. */
static int apply_record(struct tk_tasks *t, const void *data, size_t size, struct ts_event_batch *b)
{
	static const uint16_t waker_events[] = {
		[TK_REC_WAKE] = TS_EV_WAKE, [TK_REC_WAKE_BY_REF] = TS_EV_WAKE,
		[TK_REC_WAKER_CLONE] = TS_EV_WAKER_CLONE, [TK_REC_WAKER_DROP] = TS_EV_WAKER_DROP,
	};
	const struct tk_rec *r = data;
	struct ts_event ev = { 0 };
	struct tk_thread *th = NULL;
	struct tk_task *k;
	uint16_t *inside;
	int rc;

	/* (a panic caught inside a poll-as-session names no task: the
	 * thread's poll is the task) */
	if (size < sizeof(*r) || (!r->task && r->type != TK_REC_PANIC) || r->tid == 0) {
		t->rejected++;
		return 0;
	}
	ev.ts = r->ts;
	ev.pid = t->pid;
	ev.tid = r->tid;
	ev.id = r->task;
	/* every thread that does anything is named once (pollers get their role below) */
	if (r->type != TK_REC_POLL_BEGIN) {
		rc = see_thread(t, r->tid, r->ts, -1, b, &th);
		if (rc < 0)
			return rc;
	}
	switch (r->type) {
	case TK_REC_SPAWN:
		if (size < sizeof(struct tk_spawn_rec)) {
			t->rejected++;
			return 0;
		}
		return on_spawn(t, data, b);
	case TK_REC_POLL_BEGIN:
		rc = poll_begin(t, r->tid, r->ts, r->task, r->cookie, b, &th);
		if (rc == 0)
			poll_push(th, r->task);
		return rc;
	case TK_REC_POLL_END:
		return poll_end(t, r, r->flags | poll_pop(th, r->task), b);
	case TK_REC_COMPLETE:
		inside = poll_top(th, r->task);
		if (inside) {
			/* inside its own poll (polls as sessions): for its end */
			*inside |= TK_F_READY | (r->flags & TK_F_CANCELLED);
			return 0;
		}
		/* completed outside any poll: cancelled by the runtime's shutdown */
		k = find_task(t, r->task);
		if (!k)
			return 0;
		k->cancelled = true;
		return on_drop(t, r, b);
	case TK_REC_DEALLOC:
		inside = poll_top(th, r->task);
		if (inside) {
			*inside |= TK_F_READY | TK_F_DEALLOC;
			return 0;
		}
		/* freed without completing in a poll we saw (runtime shutdown);
		 * unknown: completed already, or never seen since the attach */
		if (!find_task(t, r->task))
			return 0;
		return on_drop(t, r, b);
	case TK_REC_PANIC:
		if (!r->task) {
			if (th->depth == 0 || th->depth > TK_POLL_DEPTH)
				return 0;  /* outside any poll we know of */
			k = get_task(t, th->poll[th->depth - 1], r->ts);
			if (k)
				k->panicked = true;
			return 0;
		}
		k = get_task(t, r->task, r->ts);
		if (k)
			k->panicked = true;
		return 0;
	case TK_REC_WAKE:
	case TK_REC_WAKE_BY_REF:
	case TK_REC_WAKER_CLONE:
	case TK_REC_WAKER_DROP:
		ev.type = waker_events[r->type];
		ev.flags = r->type == TK_REC_WAKE_BY_REF ? TS_EVF_BY_REF : 0;
		if (r->type == TK_REC_WAKE_BY_REF && (k = find_task(t, r->task))) {
			/* light mode: a wake with its time, no untimed one for it */
			if (r->ts > k->wake_ts)
				k->wake_ts = r->ts;
			if (r->ts > k->end_ts && !k->first_wake)
				k->first_wake = r->ts;
		}
		return push(b, &ev);
	default:
		t->rejected++;
		return 0;
	}
}

static struct tk_item *new_item(struct tk_tasks *t, uint64_t ts, int what)
{
	struct tk_item *it;

	if (t->n_items == t->cap_items) {
		size_t cap = t->cap_items ? t->cap_items * 2 : 1024;

		it = realloc(t->items, cap * sizeof(*it));
		if (!it)
			return NULL;
		t->items = it;
		t->cap_items = cap;
	}
	it = &t->items[t->n_items++];
	it->ts = ts;
	it->order = t->next_order++;
	it->what = what;
	it->size = 0;
	return it;
}

static int take_poll(struct tk_tasks *t, const struct tk_pend *p)
{
	struct tk_item *it = new_item(t, p->end, ITEM_POLL);

	if (!it)
		return -ENOMEM;
	it->u.poll = *p;
	return 0;
}

/* A flushed batch: the polls not taken from the slot already. */
static int take_batch(struct tk_tasks *t, const struct tk_polls_rec *r)
{
	struct tk_slot_read *sr;
	uint64_t seq = r->h.cookie;
	uint32_t from;
	int rc;

	if (r->slot >= TK_SLOTS || r->n == 0 || r->n > TK_BATCH || seq > UINT64_MAX - TK_BATCH) {
		t->rejected++;
		return 0;
	}
	sr = &t->slot_read[r->slot];
	if (seq + r->n <= sr->next_seq)
		return 0;  /* taken already */
	if (seq == sr->next_seq)
		from = sr->taken;
	else if (seq > sr->next_seq)
		from = 0;  /* the batches before it were lost (counted by the kernel) */
	else
		from = (uint32_t)(sr->next_seq - seq);
	for (uint32_t i = from; i < r->n; i++) {
		rc = take_poll(t, &r->p[i]);
		if (rc < 0)
			return rc;
	}
	sr->next_seq = seq + r->n;
	sr->taken = 0;
	sr->gap_since = 0;
	return 0;
}

int ts_tokio_tasks_take(struct tk_tasks *t, const void *data, size_t size)
{
	const struct tk_rec *r = data;
	struct tk_item *it;

	if (size < sizeof(*r)) {
		t->rejected++;
		return 0;
	}
	if (r->type == TK_REC_POLLS) {
		if (size < sizeof(struct tk_polls_rec)) {
			t->rejected++;
			return 0;
		}
		return take_batch(t, data);
	}
	it = new_item(t, r->ts, size > sizeof(*r) ? ITEM_BIG : ITEM_REC);
	if (!it)
		return -ENOMEM;
	it->size = size;
	if (it->what == ITEM_REC) {
		it->u.rec = *r;
		return 0;
	}
	it->u.big = malloc(size);
	if (!it->u.big) {
		t->n_items--;
		return -ENOMEM;
	}
	memcpy(it->u.big, data, size);
	return 0;
}

int ts_tokio_tasks_take_slots(struct tk_tasks *t, const struct tk_slot *slots, size_t n, uint64_t now_ns)
{
	struct tk_pend copy[TK_BATCH];
	int rc;

	for (size_t i = 0; i < n && i < TK_SLOTS; i++) {
		const struct tk_slot *sl = &slots[i];
		struct tk_slot_read *sr = &t->slot_read[i];
		uint64_t seq = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
		uint32_t np = __atomic_load_n(&sl->npend, __ATOMIC_ACQUIRE);

		if (np == 0 || np > TK_BATCH)
			continue;
		memcpy(copy, (const void *)sl->pend, np * sizeof(copy[0]));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE) != seq)
			continue;  /* flushed while copied: its record brings them */
		if (seq > sr->next_seq) {
			/* the batch before is on its way in the ring buffer,
			 * unless it was lost */
			if (!sr->gap_since || now_ns - sr->gap_since < TK_BATCH_LOST_NS) {
				if (!sr->gap_since)
					sr->gap_since = now_ns ? now_ns : 1;
				continue;
			}
			sr->next_seq = seq;
			sr->taken = 0;
			sr->gap_since = 0;
		}
		if (seq != sr->next_seq)
			continue;  /* behind what was read: the program was reloaded? */
		for (uint32_t j = sr->taken; j < np; j++) {
			rc = take_poll(t, &copy[j]);
			if (rc < 0)
				return rc;
		}
		if (np > sr->taken)
			sr->taken = np;
	}
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	const struct tk_item *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

int ts_tokio_tasks_flush(struct tk_tasks *t, struct ts_event_batch *b)
{
	int rc = 0, r;

	if (t->n_items > 1)
		qsort(t->items, t->n_items, sizeof(*t->items), item_cmp);
	for (size_t i = 0; i < t->n_items; i++) {
		struct tk_item *it = &t->items[i];

		if (rc == 0) {
			if (it->what == ITEM_POLL)
				r = on_whole_poll(t, &it->u.poll, b);
			else if (it->what == ITEM_REC)
				r = apply_record(t, &it->u.rec, it->size, b);
			else
				r = apply_record(t, it->u.big, it->size, b);
			if (r < 0)
				rc = r;
		}
		if (it->what == ITEM_BIG)
			free(it->u.big);
	}
	t->n_items = 0;
	return rc;
}

int ts_tokio_tasks_record(struct tk_tasks *t, const void *data, size_t size, struct ts_event_batch *b)
{
	int rc = ts_tokio_tasks_take(t, data, size);

	if (rc < 0)
		return rc;
	return ts_tokio_tasks_flush(t, b);
}

/* Up to n tasks' state words from the target in one process_vm_readv
 * (a freed task's memory may be unmapped: the call stops at the first
 * word it cannot read, which is skipped). */
static int read_idle(struct tk_tasks *t, struct tk_task **ks, size_t n, uint64_t now_ns, struct ts_event_batch *b)
{
	struct iovec local[TK_IDLE_READ_MAX], remote[TK_IDLE_READ_MAX];
	uint64_t words[TK_IDLE_READ_MAX], wakers;
	bool notified;
	size_t i = 0, got;
	ssize_t r;
	int rc;

	for (size_t j = 0; j < n; j++) {
		local[j] = (struct iovec){ &words[j], sizeof(words[j]) };
		remote[j] = (struct iovec){ (void *)(uintptr_t)ks[j]->hdr, sizeof(words[j]) };
	}
	while (i < n) {
		r = process_vm_readv((pid_t)t->pid, local + i, n - i, remote + i, n - i, 0);
		if (r < 0 && errno != EFAULT) {
			if (errno != ESRCH)
				t->idle_read_failed = true;  /* no permission: counts stay unknown */
			return 0;
		}
		got = r < 0 ? 0 : (size_t)r / sizeof(words[0]);
		for (size_t j = i; j < i + got; j++) {
			if (!ts_tokio_state_decode(words[j], &notified, &wakers)) {
				t->state_unknown++;
				continue;
			}
			if (notified)
				continue;  /* woken since: its next poll tells */
			rc = push(b, &(struct ts_event){
				.ts = now_ns, .pid = t->pid, .type = TS_EV_WAKERS, .id = ks[j]->hdr, .arg = wakers,
			});
			if (rc < 0)
				return rc;
		}
		i += got;
		if (i < n) {
			t->state_unknown++;  /* unreadable: freed and unmapped */
			i++;
		}
	}
	return 0;
}

int ts_tokio_tasks_check_idle(struct tk_tasks *t, uint64_t now_ns, struct ts_event_batch *b)
{
	struct tk_task *ks[TK_IDLE_READ_MAX];
	size_t n = 0;
	int rc;

	while (t->idle_len) {
		struct tk_idle e = t->idle[t->idle_head];
		struct tk_task *k;

		if (e.end_ts > now_ns || now_ns - e.end_ts < TK_IDLE_CHECK_NS)
			break;
		t->idle_head = (t->idle_head + 1) % t->idle_cap;
		t->idle_len--;
		if (t->idle_read_failed)
			continue;
		k = find_task(t, e.hdr);
		if (!k || !k->queued)
			continue;  /* gone (a new task at that address queues itself) */
		k->queued = false;
		/* idle now (a pending poll ended), not woken by a wake_by_ref */
		if (!k->end_ts || k->first_wake)
			continue;
		if (k->end_ts != e.end_ts) {
			/* polled again since: idle since its last poll, and
			 * checked once that is old enough */
			rc = idle_push(t, k->hdr, k->end_ts);
			if (rc < 0)
				return rc;
			k->queued = true;
			continue;
		}
		ks[n++] = k;  /* once: a task has one entry */
		if (n == TK_IDLE_READ_MAX) {
			rc = read_idle(t, ks, n, now_ns, b);
			if (rc < 0)
				return rc;
			n = 0;
		}
	}
	return n ? read_idle(t, ks, n, now_ns, b) : 0;
}
