/*
 * replay_at.c: the state of a loaded recording at time T (replay.h).
 *
 * Each answer is a binary search in an array sorted by time plus a prefix
 * sum read, so a seek costs the same at the start and at the end of a long
 * recording. Spans are half-open: a poll [start, end) is running at start
 * and over at end.
 */
#include "storage/replay.h"
#include "storage/replay_internal.h"

#include <errno.h>
#include <string.h>

#define SCAN_HOLDERS 64             /* lock spans looked at on each side of T */

/* How many of the n items (stride `size`, time at `off`) have time <= t. */
static size_t upto(const void *base, size_t n, size_t size, size_t off, uint64_t t)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t v;

		memcpy(&v, (const char *)base + mid * size + off, sizeof(v));
		if (v <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void ts_replay_bounds(const struct ts_replay *r, uint64_t *first_ns, uint64_t *last_ns)
{
	*first_ns = r->first_ns;
	*last_ns = r->last_ns;
}

const struct ts_replay_task *ts_replay_tasks(const struct ts_replay *r, size_t *count)
{
	*count = r->ntasks;
	return r->tasks;
}

const struct ts_replay_span *ts_replay_task_spans(const struct ts_replay *r, const struct ts_replay_task *t,
						  size_t *count)
{
	if (t->span0 > r->nspans || t->nspans > r->nspans - t->span0) {
		*count = 0;
		return r->spans;
	}
	*count = t->nspans;
	return r->spans + t->span0;
}

void ts_replay_task_at(const struct ts_replay *r, const struct ts_replay_task *t, uint64_t at_ns,
		       struct ts_replay_task_at *out)
{
	size_t n, k;
	const struct ts_replay_span *s = ts_replay_task_spans(r, t, &n);

	memset(out, 0, sizeof(*out));
	out->last_span = UINT32_MAX;
	out->alive = t->spawned_ns <= at_ns && at_ns < t->dropped_ns;
	k = upto(s, n, sizeof(*s), offsetof(struct ts_replay_span, start_ns), at_ns);
	out->polls = k;
	if (k == 0)
		return;
	out->last_span = (uint32_t)(k - 1);
	if (s[k - 1].end_ns > at_ns) {
		out->running = true;
		out->tid = s[k - 1].tid;
		out->poll_start_ns = s[k - 1].start_ns;
		out->busy_ns = (k >= 2 ? s[k - 2].cum_busy_ns : 0) + (at_ns - s[k - 1].start_ns);
		out->max_poll_ns = k >= 2 ? s[k - 2].cum_max_ns : 0;
	} else {
		out->busy_ns = s[k - 1].cum_busy_ns;
		out->max_poll_ns = s[k - 1].cum_max_ns;
	}
}

const struct ts_replay_task *ts_replay_find_task(const struct ts_replay *r, uint32_t pid, uint64_t id,
						 uint64_t at_ns)
{
	size_t lo = 0, hi = r->ntasks;
	const struct ts_replay_task *best = NULL;

	/* tasks are sorted by (pid, id, spawned_ns): find the first of (pid, id) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ts_replay_task *t = &r->tasks[mid];

		if (t->pid < pid || (t->pid == pid && t->id < id))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < r->ntasks && r->tasks[i].pid == pid && r->tasks[i].id == id; i++) {
		const struct ts_replay_task *t = &r->tasks[i];

		if (!best || t->spawned_ns <= at_ns)
			best = t;
		if (t->spawned_ns <= at_ns && at_ns < t->dropped_ns)
			return t;
	}
	return best;
}

size_t ts_replay_count_alive(const struct ts_replay *r, uint64_t at_ns)
{
	size_t n = 0;

	for (size_t i = 0; i < r->ntasks; i++)
		n += r->tasks[i].spawned_ns <= at_ns && at_ns < r->tasks[i].dropped_ns;
	return n;
}

const struct ts_replay_thread *ts_replay_threads(const struct ts_replay *r, size_t *count)
{
	*count = r->nthreads;
	return r->threads;
}

void ts_replay_thread_at(const struct ts_replay *r, size_t thread, uint64_t at_ns,
			 struct ts_replay_thread_at *out)
{
	const uint32_t *idx;
	const uint64_t *cum;
	size_t lo = 0, hi;

	memset(out, 0, sizeof(*out));
	if (thread >= r->nthreads)
		return;
	idx = r->tspan + r->thread_span0[thread];
	cum = r->tcum + r->thread_span0[thread];
	hi = r->thread_nspans[thread];
	/* how many of the thread's spans began by T */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->spans[idx[mid]].start_ns <= at_ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	out->polls = lo;
	if (lo == 0)
		return;
	if (r->spans[idx[lo - 1]].end_ns > at_ns) {
		const struct ts_replay_span *s = &r->spans[idx[lo - 1]];

		out->polling = true;
		out->task_id = r->tasks[s->task].id;
		out->poll_start_ns = s->start_ns;
		out->busy_ns = (lo >= 2 ? cum[lo - 2] : 0) + (at_ns - s->start_ns);
	} else {
		out->busy_ns = cum[lo - 1];
	}
}

const struct ts_replay_lock *ts_replay_locks(const struct ts_replay *r, size_t *count)
{
	*count = r->nlocks;
	return r->locks;
}

void ts_replay_lock_at(const struct ts_replay *r, size_t lock, uint64_t at_ns, struct ts_replay_lock_at *out)
{
	const struct lock_span *s;
	size_t n, k, lo, hi;
	uint64_t max = 0;

	memset(out, 0, sizeof(*out));
	if (lock >= r->nlocks)
		return;
	s = r->lspans + r->locks[lock].span0;
	n = r->locks[lock].nspans;
	k = upto(s, n, sizeof(*s), offsetof(struct lock_span, acquired_ns), at_ns);
	out->acquisitions = k;
	out->contentions = k ? s[k - 1].cum_contentions : 0;
	/* holds around T: the latest acquisitions before it (shared holds
	 * overlap); older ones are taken as released */
	lo = k > SCAN_HOLDERS ? k - SCAN_HOLDERS : 0;
	max = lo ? s[lo - 1].cum_max_hold_ns : 0;
	for (size_t j = k; j-- > lo;) {
		if (s[j].released_ns > at_ns) {
			if (!out->holders++) {
				out->holder_task = s[j].task_id;
				out->holder_tid = s[j].tid;
				out->acquired_ns = s[j].acquired_ns;
			}
		} else if (s[j].released_ns - s[j].acquired_ns > max) {
			max = s[j].released_ns - s[j].acquired_ns;
		}
	}
	out->max_hold_ns = max;
	/* waiters: acquisitions after T whose wait had begun by T */
	hi = n - k > SCAN_HOLDERS ? k + SCAN_HOLDERS : n;
	for (size_t j = k; j < hi; j++) {
		if (!s[j].wait_start_ns || s[j].wait_start_ns > at_ns)
			continue;
		if (out->waiters < TS_REPLAY_WAITERS)
			out->waiting_tasks[out->waiters] = s[j].task_id;
		out->waiters++;
	}
}

const struct ts_replay_process *ts_replay_processes(const struct ts_replay *r, size_t *count)
{
	*count = r->nprocs;
	return r->procs;
}

const struct ts_warning *ts_replay_warnings(const struct ts_replay *r, uint64_t at_ns, size_t *n)
{
	*n = upto(r->warnings, r->nwarnings, sizeof(*r->warnings), offsetof(struct ts_warning, ts_ns), at_ns);
	return r->warnings;
}

void ts_replay_warning_counts(const struct ts_replay *r, uint64_t at_ns, uint64_t counts[TS_WARN_KIND_COUNT])
{
	for (unsigned k = 0; k < TS_WARN_KIND_COUNT; k++)
		counts[k] = upto(r->kind_ts[k], r->kind_n[k], sizeof(uint64_t), 0, at_ns);
}

int ts_replay_next_warning(const struct ts_replay *r, uint64_t at_ns, int dir, uint64_t *out_ns)
{
	size_t k;

	if (dir > 0) {
		k = upto(r->warnings, r->nwarnings, sizeof(*r->warnings), offsetof(struct ts_warning, ts_ns), at_ns);
		if (k >= r->nwarnings)
			return -ENOENT;
		*out_ns = r->warnings[k].ts_ns;
		return 0;
	}
	if (at_ns == 0)
		return -ENOENT;
	k = upto(r->warnings, r->nwarnings, sizeof(*r->warnings), offsetof(struct ts_warning, ts_ns), at_ns - 1);
	if (k == 0)
		return -ENOENT;
	*out_ns = r->warnings[k - 1].ts_ns;
	return 0;
}
