/*
 * publisher_fp.c: what the publisher remembers of its last publish: a
 * 64-bit fingerprint of each object's streamed fields, in a hash map per
 * kind keyed by (pid, id) and stamped with the publish that last saw the
 * object (publisher_internal.h). An object whose fingerprint changed is
 * sent again; one whose stamp is old is gone.
 */
#include "collector/publisher_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/model.h"

/* ---- fingerprints ---- */

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

uint64_t ts_fp_task(const struct ts_task *t)
{
	uint64_t v[] = { t->state, t->state_since_ns, t->busy_ns, t->sched_ns, t->idle_ns, t->polls, t->wakes,
			 t->self_wakes, (uint64_t)t->wakers, t->max_poll_ns, t->warnings, (uintptr_t)t->name,
			 (uintptr_t)t->location, t->kind, t->outcome, t->dropped_ns, t->spawned_ns, t->parent,
			 t->poll_tid, t->waker_clones, t->waker_drops, t->last_wake_ns };
	uint64_t h = 1;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		h = mix(h, v[i]);
	return h;
}

uint64_t ts_fp_resource(const struct ts_resource *x)
{
	uint64_t h = 2;
	uint64_t v[] = { x->kind, (uintptr_t)x->name, (uintptr_t)x->location, x->holder_task, x->holder_tid,
			 x->holders, x->acquired_ns, x->waiters, x->acquisitions, x->contentions, x->max_hold_ns,
			 x->wait_hist.count, x->hold_hist.count };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		h = mix(h, v[i]);
	for (uint32_t k = 0; k < x->waiters && k < TS_RESOURCE_WAITERS_MAX; k++)
		h = mix(h, x->waiting_tasks[k]);
	return h;
}

uint64_t ts_fp_thread(const struct ts_thread *t)
{
	uint64_t v[] = { (uintptr_t)t->name, t->role, t->polling, t->current_task, t->poll_started_ns,
			 t->busy_ns, t->polls };
	uint64_t h = 3;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		h = mix(h, v[i]);
	return h;
}

/* ---- the maps ---- */

void ts_fp_map_clear(struct ts_fp_map *m)
{
	if (m->slots)
		memset(m->slots, 0, m->cap * sizeof(*m->slots));
	m->n = 0;
}

static size_t slot_of(const struct ts_fp_map *m, uint32_t pid, uint64_t id)
{
	return (size_t)(mix(pid, id) & (m->cap - 1));
}

/* Room for `want` entries at most half full; rehashes when it grows. */
int ts_fp_map_reserve(struct ts_fp_map *m, size_t want)
{
	struct ts_fp_entry *old = m->slots, *s;
	size_t cap = m->cap ? m->cap : 64, oldcap = m->cap;

	while (cap < want * 2)
		cap *= 2;
	if (cap == m->cap)
		return 0;
	s = calloc(cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	m->slots = s;
	m->cap = cap;
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].gen)
			continue;
		for (size_t j = slot_of(m, old[i].pid, old[i].id);; j = (j + 1) & (cap - 1)) {
			if (!s[j].gen) {
				s[j] = old[i];
				break;
			}
		}
	}
	free(old);
	return 0;
}

/* The entry of (pid, id), or the empty slot where it goes. */
struct ts_fp_entry *ts_fp_map_slot(struct ts_fp_map *m, uint32_t pid, uint64_t id)
{
	for (size_t i = slot_of(m, pid, id);; i = (i + 1) & (m->cap - 1)) {
		struct ts_fp_entry *e = &m->slots[i];

		if (!e->gen || (e->pid == pid && e->id == id))
			return e;
	}
}

/* Delete slot i, shifting back the entries of its probe run. */
void ts_fp_map_del(struct ts_fp_map *m, size_t i)
{
	size_t j = i;

	m->slots[i].gen = 0;
	m->n--;
	for (;;) {
		size_t home;

		j = (j + 1) & (m->cap - 1);
		if (!m->slots[j].gen)
			return;
		home = slot_of(m, m->slots[j].pid, m->slots[j].id);
		/* move j back to i when i lies cyclically in [home, j) */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			m->slots[i] = m->slots[j];
			m->slots[j].gen = 0;
			i = j;
		}
	}
}
