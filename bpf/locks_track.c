/*
 * locks_track.c: bpf/locks.h records in, model lock events out (the rules
 * are in locks_track.h).
 *
 * Two small tables: the locks seen (their last known holder, whether they
 * are locks at all) and the threads whose futex wait returned but whose
 * acquisition is held back to merge a re-wait. Both are bounded; when the
 * lock table is full, locks nobody holds are forgotten (the model keeps
 * their names and statistics; only our holder bookkeeping restarts).
 */
#include "bpf/locks_track.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/hashidx.h"
#include "collector/strpool.h"

struct lk {
	uint64_t addr;
	uint32_t holder;          /* tid of the exclusive holder we know of, 0: none/unknown */
	uint32_t holder_pid;      /* its process */
	bool futex_hold;          /* the holder is known from the futex path (its release may go unseen) */
	uint64_t last_ns;         /* its latest record */
	uint32_t checked_out;     /* the holder ts_locks_track_check_holders released, and when: */
	uint64_t checked_out_ns;  /* a waiter's record from before then names the same hold */
	uint32_t index;
	uint64_t acquisitions;    /* seen by us (full mode) */
	bool ignored;             /* not a lock (a condvar's futex) */
	bool adopted;             /* holder came from a waiter's record (adopt_holder) */
	bool announced;           /* RESOURCE_NEW sent */
	bool named;               /* ... with a name from its SITE (or the namer failed) */
	struct lk *hash_next;
};

struct pending {
	uint32_t tid;
	uint32_t pid;
	uint32_t index;
	uint64_t addr;
	uint64_t end;             /* when its futex wait returned */
	struct pending *hash_next;
};

struct queued {
	struct ts_locks_rec rec;
	uint64_t seq;             /* arrival: ties keep it */
	int64_t site;             /* index in sites[], -1: a small record */
};

struct ts_locks_track {
	struct ts_strpool *pool;
	enum ts_lock_mode mode;
	ts_locks_name_fn name;
	void *name_ctx;
	struct ts_hashidx lock_ix, pend_ix;
	struct lk **locks;
	size_t n_locks;
	struct pending **pend;
	size_t n_pend;
	uint64_t lost;
	struct queued *q;         /* records waiting for process(), in arrival order */
	size_t n_q, cap_q;
	struct ts_locks_site *sites;
	size_t n_sites, cap_sites;
	uint64_t seq;
	ts_locks_owner_fn owner_ok;
	void *owner_ctx;
	struct ts_locks_site site;  /* copy of the record being named */
};

static uint64_t lock_hash(const void *node)
{
	return ts_hashidx_hash(0, ((const struct lk *)node)->addr);
}

static uint64_t pend_hash(const void *node)
{
	return ts_hashidx_hash(0, ((const struct pending *)node)->tid);
}

int ts_locks_track_new(struct ts_strpool *pool, enum ts_lock_mode mode, ts_locks_name_fn name,
		       void *name_ctx, struct ts_locks_track **out)
{
	struct ts_locks_track *t = calloc(1, sizeof(*t));
	int r = -ENOMEM;

	if (!t)
		return -ENOMEM;
	t->pool = pool;
	t->mode = mode;
	t->name = name;
	t->name_ctx = name_ctx;
	t->locks = calloc(TS_LOCKS_TRACK_MAX, sizeof(*t->locks));
	t->pend = calloc(TS_LOCKS_TRACK_MAX, sizeof(*t->pend));
	if (!t->locks || !t->pend)
		goto cleanup;
	r = ts_hashidx_init(&t->lock_ix, offsetof(struct lk, hash_next), lock_hash);
	if (r < 0)
		goto cleanup;
	r = ts_hashidx_init(&t->pend_ix, offsetof(struct pending, hash_next), pend_hash);
	if (r < 0) {
		ts_hashidx_fini(&t->lock_ix);
		goto cleanup;
	}
	*out = t;
	return 0;
cleanup:
	free(t->locks);
	free(t->pend);
	free(t);
	return r;
}

void ts_locks_track_free(struct ts_locks_track *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_locks; i++)
		free(t->locks[i]);
	for (size_t i = 0; i < t->n_pend; i++)
		free(t->pend[i]);
	ts_hashidx_fini(&t->lock_ix);
	ts_hashidx_fini(&t->pend_ix);
	free(t->q);
	free(t->sites);
	free(t->locks);
	free(t->pend);
	free(t);
}

void ts_locks_track_set_owner_check(struct ts_locks_track *t, ts_locks_owner_fn fn, void *ctx)
{
	t->owner_ok = fn;
	t->owner_ctx = ctx;
}

uint64_t ts_locks_track_lost(const struct ts_locks_track *t)
{
	return t->lost;
}

static struct lk *lock_find(struct ts_locks_track *t, uint64_t addr)
{
	struct lk *l = ts_hashidx_bucket(&t->lock_ix, ts_hashidx_hash(0, addr));

	while (l && l->addr != addr)
		l = l->hash_next;
	return l;
}

static void lock_remove(struct ts_locks_track *t, struct lk *l)
{
	struct lk *last = t->locks[--t->n_locks];

	ts_hashidx_remove(&t->lock_ix, l);
	t->locks[l->index] = last;
	last->index = l->index;
	free(l);
}

/* Full table: forget the locks nobody holds, except the non-locks (their
 * verdict needs a SITE record the BPF side will not send again). */
static void lock_sweep(struct ts_locks_track *t)
{
	for (size_t i = t->n_locks; i-- > 0;) {
		struct lk *l = t->locks[i];

		if (!l->holder && !l->ignored)
			lock_remove(t, l);
	}
}

static struct lk *lock_get(struct ts_locks_track *t, uint64_t addr)
{
	struct lk *l = lock_find(t, addr);

	if (l)
		return l;
	if (t->n_locks == TS_LOCKS_TRACK_MAX)
		lock_sweep(t);
	if (t->n_locks == TS_LOCKS_TRACK_MAX)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->addr = addr;
	l->index = (uint32_t)t->n_locks;
	t->locks[t->n_locks++] = l;
	(void)ts_hashidx_insert(&t->lock_ix, l); /* a failed growth only slows lookups */
	return l;
}

static struct pending *pend_find(struct ts_locks_track *t, uint32_t tid)
{
	struct pending *p = ts_hashidx_bucket(&t->pend_ix, ts_hashidx_hash(0, tid));

	while (p && p->tid != tid)
		p = p->hash_next;
	return p;
}

static void pend_remove(struct ts_locks_track *t, struct pending *p)
{
	struct pending *last = t->pend[--t->n_pend];

	ts_hashidx_remove(&t->pend_ix, p);
	t->pend[p->index] = last;
	last->index = p->index;
	free(p);
}

static void push(struct ts_locks_track *t, struct ts_event_batch *out, uint16_t type, uint32_t pid,
		 uint32_t tid, uint64_t ts, uint64_t addr, uint16_t flags)
{
	struct ts_event ev = {
		.ts = ts, .pid = pid, .tid = tid, .type = type, .flags = flags, .id = addr,
	};

	if (ts_event_batch_push(out, &ev) < 0)
		t->lost++;
}

/* The held-back acquisition of `p` happened: emit it. */
static void pend_flush(struct ts_locks_track *t, struct pending *p, struct ts_event_batch *out)
{
	struct lk *l = lock_find(t, p->addr);

	push(t, out, TS_EV_LOCK_ACQUIRED, p->pid, p->tid, p->end, p->addr, TS_EVF_PARTIAL);
	if (l) {
		l->holder = p->tid;
		l->holder_pid = p->pid;
		l->adopted = false;
		l->futex_hold = true;
	}
	pend_remove(t, p);
}

void ts_locks_track_flush(struct ts_locks_track *t, uint64_t now_ns, bool all, struct ts_event_batch *out)
{
	for (size_t i = t->n_pend; i-- > 0;) {
		struct pending *p = t->pend[i];

		if (all || p->end + TS_LOCKS_MERGE_NS < now_ns)
			pend_flush(t, p, out);
	}
}

static void announce(struct ts_locks_track *t, struct lk *l, const struct ts_locks_rec *rec,
		     const struct ts_locks_name *n, struct ts_event_batch *out)
{
	struct ts_event ev = {
		.ts = rec->ts, .pid = rec->pid, .tid = rec->tid, .type = TS_EV_RESOURCE_NEW,
		.id = l->addr, .kind = rec->flags & TS_LOCKS_F_RWLOCK ? TS_RES_RWLOCK : TS_RES_MUTEX,
	};

	if (n) {
		ev.kind = n->kind;
		if (n->name[0])
			ev.name = ts_strpool_intern(t->pool, n->name, strnlen(n->name, sizeof(n->name)));
		if (n->location[0])
			ev.location = ts_strpool_intern(t->pool, n->location,
							strnlen(n->location, sizeof(n->location)));
	}
	l->announced = true;
	if (ts_event_batch_push(out, &ev) < 0)
		t->lost++;
}

static void on_site(struct ts_locks_track *t, struct lk *l, const void *data, size_t len,
		    struct ts_event_batch *out)
{
	struct ts_locks_name n;

	if (l->named || l->ignored)
		return;   /* (a lock first seen without its SITE is named when the SITE comes) */
	if (len < sizeof(t->site)) {
		t->lost++;
		return;
	}
	memcpy(&t->site, data, sizeof(t->site));
	if (t->site.stack_len > TS_LOCKS_STACK_BYTES)
		t->site.stack_len = 0;  /* impossible: do not trust the copy */
	memset(&n, 0, sizeof(n));
	n.kind = t->site.rec.flags & TS_LOCKS_F_RWLOCK ? TS_RES_RWLOCK : TS_RES_MUTEX;
	l->named = true;
	if (!t->name || t->name(t->name_ctx, &t->site, &n) < 0) {
		if (!l->announced)
			announce(t, l, &t->site.rec, NULL, out);
		return;
	}
	n.name[sizeof(n.name) - 1] = '\0';
	n.location[sizeof(n.location) - 1] = '\0';
	if (n.kind > TS_RES_TIMER)
		n.kind = TS_RES_MUTEX;
	if (n.not_a_lock) {
		l->ignored = true;
		return;
	}
	announce(t, l, &t->site.rec, &n, out);
}

/* A waiter saw `owner` holding the lock: report a hold we could not see
 * begin (contended mode; in full mode only one that began before attach). */
static void adopt_holder(struct ts_locks_track *t, struct lk *l, const struct ts_locks_rec *rec,
			 struct ts_event_batch *out)
{
	uint32_t owner = rec->owner;
	struct pending *p;

	if (!owner || owner == rec->tid || l->holder == owner)
		return;
	if (owner == l->checked_out && rec->ts <= l->checked_out_ns)
		return;   /* a late record about the hold the lock check already ended */
	p = pend_find(t, owner);
	if (p && p->addr == l->addr) {
		/* the owner's held-back wait did end in the acquisition */
		pend_flush(t, p, out);
		return;
	}
	if (t->mode == TS_LOCKS_FULL && !(rec->flags & TS_LOCKS_F_FUTEX) && (l->acquisitions || l->holder))
		return;   /* full mode sees every pthread hold begin */
	if (t->owner_ok && !t->owner_ok(t->owner_ctx, rec->pid, owner))
		return;   /* not a thread of the process: not a holder */
	if (l->holder)   /* its release went unseen: it no longer holds the lock */
		push(t, out, TS_EV_LOCK_RELEASE, rec->pid, l->holder, rec->ts, l->addr, 0);
	push(t, out, TS_EV_LOCK_ACQUIRED, rec->pid, owner, rec->ts, l->addr, TS_EVF_PARTIAL);
	l->holder = owner;
	l->holder_pid = rec->pid;
	l->futex_hold = true;
	l->adopted = true;
}

static void on_wait(struct ts_locks_track *t, struct lk *l, const struct ts_locks_rec *rec,
		    struct ts_event_batch *out)
{
	struct pending *p = pend_find(t, rec->tid);
	bool continues = false;

	if (p) {
		continues = p->addr == rec->addr && rec->ts >= p->end &&
			    rec->ts - p->end <= TS_LOCKS_MERGE_NS;
		if (continues)
			pend_remove(t, p);   /* woken, lost the race, sleeps again */
		else
			pend_flush(t, p, out);
	}
	adopt_holder(t, l, rec, out);
	if (!continues)
		push(t, out, TS_EV_LOCK_WAIT, rec->pid, rec->tid, rec->ts, l->addr, 0);
}

static void on_wait_end(struct ts_locks_track *t, struct lk *l, const struct ts_locks_rec *rec,
			struct ts_event_batch *out)
{
	struct pending *p = pend_find(t, rec->tid);

	if (p)
		pend_flush(t, p, out);
	if (t->n_pend == TS_LOCKS_TRACK_MAX) {
		t->lost++;
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		t->lost++;
		return;
	}
	p->tid = rec->tid;
	p->pid = rec->pid;
	p->addr = l->addr;
	p->end = rec->ts;
	p->index = (uint32_t)t->n_pend;
	t->pend[t->n_pend++] = p;
	(void)ts_hashidx_insert(&t->pend_ix, p);
}

static void on_acquired(struct ts_locks_track *t, struct lk *l, const struct ts_locks_rec *rec,
			struct ts_event_batch *out)
{
	bool shared = rec->flags & TS_LOCKS_F_SHARED;
	bool same_hold = !shared && l->adopted && l->holder == rec->tid;

	/* A hold adopted from a waiter's record whose own ACQUIRED comes
	 * after it (stamped later than the wait, or drained late): the same
	 * hold, already reported; its release has not been seen. */
	if (!same_hold)
		push(t, out, TS_EV_LOCK_ACQUIRED, rec->pid, rec->tid, rec->ts, l->addr,
		     (shared ? TS_EVF_SHARED : 0) |
		     (t->mode != TS_LOCKS_FULL || (rec->flags & TS_LOCKS_F_FUTEX) ? TS_EVF_PARTIAL : 0));
	l->acquisitions++;
	l->adopted = false;
	if (!shared) {
		l->holder = rec->tid;
		l->holder_pid = rec->pid;
		l->futex_hold = rec->flags & TS_LOCKS_F_FUTEX;
	}
}

static void on_release(struct ts_locks_track *t, struct lk *l, const struct ts_locks_rec *rec,
		       struct ts_event_batch *out)
{
	struct pending *p = pend_find(t, rec->tid);

	if (p)
		pend_flush(t, p, out);  /* it acquired before it released */
	if (t->mode == TS_LOCKS_FULL && !(rec->flags & TS_LOCKS_F_FUTEX)) {
		push(t, out, TS_EV_LOCK_RELEASE, rec->pid, rec->tid, rec->ts, l->addr, 0);
		if (l->holder == rec->tid) {
			l->holder = 0;
			l->adopted = false;
		}
		return;
	}
	/* the futex path (contended mode; full mode for locks that are not
	 * pthread's): only a release by the holder we know of is news; another
	 * one means a hold we never saw begin (no waiter saw it) */
	if (l->holder != rec->tid)
		return;
	push(t, out, TS_EV_LOCK_RELEASE, rec->pid, rec->tid, rec->ts, l->addr, 0);
	l->holder = 0;
	l->adopted = false;
}

int ts_locks_track_record(struct ts_locks_track *t, const void *data, size_t len,
			  struct ts_event_batch *out)
{
	struct ts_locks_rec rec;
	struct lk *l;

	if (len < sizeof(rec)) {
		t->lost++;
		return -EINVAL;
	}
	memcpy(&rec, data, sizeof(rec));
	if (rec.type < TS_LOCKS_REC_WAIT || rec.type > TS_LOCKS_REC_DROP || !rec.addr || !rec.tid) {
		t->lost++;
		return -EINVAL;
	}
	if (rec.type == TS_LOCKS_REC_DROP) {
		l = lock_find(t, rec.addr);
		if (l) {
			if (l->announced)
				push(t, out, TS_EV_RESOURCE_DROP, rec.pid, rec.tid, rec.ts, l->addr, 0);
			lock_remove(t, l);
		}
		return 0;
	}
	l = lock_get(t, rec.addr);
	if (!l) {
		t->lost++;
		return 0;
	}
	if (rec.type == TS_LOCKS_REC_SITE) {
		on_site(t, l, data, len, out);
		return 0;
	}
	if (l->ignored)
		return 0;
	if (rec.ts > l->last_ns)
		l->last_ns = rec.ts;
	if (!l->announced)
		announce(t, l, &rec, NULL, out);  /* its SITE was lost: unnamed */
	switch (rec.type) {
	case TS_LOCKS_REC_WAIT:
		on_wait(t, l, &rec, out);
		break;
	case TS_LOCKS_REC_WAIT_END:
		on_wait_end(t, l, &rec, out);
		break;
	case TS_LOCKS_REC_ACQUIRED:
		on_acquired(t, l, &rec, out);
		break;
	case TS_LOCKS_REC_RELEASE:
		on_release(t, l, &rec, out);
		break;
	}
	return 0;
}

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

int ts_locks_track_push(struct ts_locks_track *t, const void *data, size_t len)
{
	struct queued *e;
	bool site;

	if (len < sizeof(struct ts_locks_rec)) {
		t->lost++;
		return -EINVAL;
	}
	site = ((const struct ts_locks_rec *)data)->type == TS_LOCKS_REC_SITE &&
	       len >= sizeof(struct ts_locks_site);
	if (t->n_q >= TS_LOCKS_QUEUE_MAX ||
	    grow((void **)&t->q, &t->cap_q, t->n_q + 1, sizeof(*t->q)) < 0 ||
	    (site && grow((void **)&t->sites, &t->cap_sites, t->n_sites + 1, sizeof(*t->sites)) < 0)) {
		t->lost++;
		return -ENOSPC;
	}
	e = &t->q[t->n_q++];
	memcpy(&e->rec, data, sizeof(e->rec));
	e->seq = t->seq++;
	e->site = -1;
	if (site) {
		memcpy(&t->sites[t->n_sites], data, sizeof(t->sites[0]));
		e->site = (int64_t)t->n_sites++;
	}
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const struct queued *x = a, *y = b;

	if (x->rec.ts != y->rec.ts)
		return x->rec.ts < y->rec.ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Keep the stack copies of the records still queued, packed at the front
 * (moved in index order, so none is overwritten before it moves). */
static void pack_sites(struct ts_locks_track *t)
{
	int64_t *owner = malloc(t->n_sites * sizeof(*owner) + 1);
	size_t kept = 0;

	if (!owner) {   /* out of memory: the kept records lose their names */
		for (size_t i = 0; i < t->n_q; i++)
			t->q[i].site = -1;
		t->n_sites = 0;
		return;
	}
	for (size_t i = 0; i < t->n_sites; i++)
		owner[i] = -1;
	for (size_t i = 0; i < t->n_q; i++)
		if (t->q[i].site >= 0)
			owner[t->q[i].site] = (int64_t)i;
	for (size_t i = 0; i < t->n_sites; i++) {
		if (owner[i] < 0)
			continue;
		if (i != kept)
			memcpy(&t->sites[kept], &t->sites[i], sizeof(t->sites[0]));
		t->q[owner[i]].site = (int64_t)kept++;
	}
	t->n_sites = kept;
	free(owner);
}

void ts_locks_track_check_holders(struct ts_locks_track *t, uint64_t ts, ts_locks_held_fn held, void *ctx,
				  struct ts_event_batch *out)
{
	for (size_t i = 0; i < t->n_locks; i++) {
		struct lk *l = t->locks[i];

		/* full mode sees a pthread lock's every release */
		if (!l->holder || l->ignored || !l->futex_hold)
			continue;
		/* only a quiet lock: records of a busy one may still be on
		 * their way (stamped before ts, read at the next drain), and
		 * judging its holder from the lock's newer state counted
		 * holds twice */
		if (held && (ts < l->last_ns + TS_LOCKS_CHECK_QUIET_NS || held(ctx, l->holder_pid, l->addr, l->holder)))
			continue;
		push(t, out, TS_EV_LOCK_RELEASE, l->holder_pid, l->holder, ts, l->addr, 0);
		l->checked_out = l->holder;
		l->checked_out_ns = ts;
		l->holder = 0;
		l->adopted = false;
	}
}

void ts_locks_track_process(struct ts_locks_track *t, uint64_t cutoff_ns, bool all, struct ts_event_batch *out)
{
	size_t kept = 0;

	if (t->n_q)
		qsort(t->q, t->n_q, sizeof(*t->q), by_time);
	for (size_t i = 0; i < t->n_q; i++) {
		struct queued *e = &t->q[i];

		if (!all && e->rec.ts > cutoff_ns) {
			t->q[kept++] = *e;   /* younger than the cutoff: next time */
			continue;
		}
		if (e->site >= 0)
			ts_locks_track_record(t, &t->sites[e->site], sizeof(t->sites[0]), out);
		else
			ts_locks_track_record(t, &e->rec, sizeof(e->rec), out);
	}
	t->n_q = kept;
	pack_sites(t);
	ts_locks_track_flush(t, cutoff_ns, all, out);
}
