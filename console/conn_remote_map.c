/*
 * conn_remote_map.c: the remote conn's object tables: dense arrays of
 * mirrored tasks, resources and threads, found by (pid, id) through an
 * open-addressing index (linear probing, backward-shift deletion; a
 * removal moves the last object into the hole). Bounded by each table's
 * `max`: objects past it are not mirrored.
 */
#include "console/conn_remote_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/model.h"

static uint64_t kmix(uint32_t pid, uint64_t id)
{
	uint64_t h = (id ^ ((uint64_t)pid << 32)) * 0x9e3779b97f4a7c15ull;

	return h ^ (h >> 29);
}

static int kmap_grow(struct kmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 256;
	struct kslot *s = calloc(cap, sizeof(*s)), *old = m->slots;
	size_t oldcap = m->cap;

	if (!s)
		return -ENOMEM;
	m->slots = s;
	m->cap = cap;
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].idx1)
			continue;
		for (size_t j = kmix(old[i].pid, old[i].id) & (cap - 1);; j = (j + 1) & (cap - 1)) {
			if (!s[j].idx1) {
				s[j] = old[i];
				break;
			}
		}
	}
	free(old);
	return 0;
}

struct kslot *ts_remote_kmap_slot(const struct kmap *m, uint32_t pid, uint64_t id)
{
	if (!m->cap)
		return NULL;
	for (size_t j = kmix(pid, id) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
		struct kslot *s = &m->slots[j];

		if (!s->idx1 || (s->pid == pid && s->id == id))
			return s;
	}
}

static void kmap_del(struct kmap *m, struct kslot *s)
{
	size_t i = (size_t)(s - m->slots), j = i;

	m->slots[i].idx1 = 0;
	m->n--;
	for (;;) {
		size_t home;

		j = (j + 1) & (m->cap - 1);
		if (!m->slots[j].idx1)
			return;
		home = kmix(m->slots[j].pid, m->slots[j].id) & (m->cap - 1);
		/* move j back to i when i lies cyclically in [home, j) */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			m->slots[i] = m->slots[j];
			m->slots[j].idx1 = 0;
			i = j;
		}
	}
}

/* Find or add (pid, id); *fresh tells which. NULL when full or no memory. */
void *ts_remote_obj_get(struct objs *o, uint32_t pid, uint64_t id, bool *fresh)
{
	struct kslot *s;

	*fresh = false;
	if ((o->map.n + 1) * 2 > o->map.cap && kmap_grow(&o->map) < 0)
		return NULL;
	s = ts_remote_kmap_slot(&o->map, pid, id);
	if (s->idx1)
		return obj_at(o, s->idx1 - 1);
	if (o->n >= o->max)
		return NULL;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 256;
		void *p = realloc(o->items, cap * o->size);

		if (!p)
			return NULL;
		o->items = p;
		o->cap = cap;
	}
	memset(obj_at(o, o->n), 0, o->size);
	s->pid = pid;
	s->id = id;
	s->idx1 = (uint32_t)(++o->n);
	o->map.n++;
	*fresh = true;
	return obj_at(o, o->n - 1);
}

/* Key of an object: every mirrored struct starts differently, so ask. */
void ts_remote_obj_del(struct objs *o, uint32_t pid, uint64_t id,
		    void (*key)(const void *item, uint32_t *pid, uint64_t *id))
{
	struct kslot *s = ts_remote_kmap_slot(&o->map, pid, id);
	size_t i, last;

	if (!s || !s->idx1)
		return;
	i = s->idx1 - 1;
	last = o->n - 1;
	kmap_del(&o->map, s);
	if (i != last) {
		uint32_t lp;
		uint64_t lid;
		struct kslot *ls;

		memcpy(obj_at(o, i), obj_at(o, last), o->size);
		key(obj_at(o, i), &lp, &lid);
		ls = ts_remote_kmap_slot(&o->map, lp, lid);
		if (ls && ls->idx1)
			ls->idx1 = (uint32_t)(i + 1);
	}
	o->n--;
}

void ts_remote_obj_clear(struct objs *o)
{
	o->n = 0;
	if (o->map.slots)
		memset(o->map.slots, 0, o->map.cap * sizeof(*o->map.slots));
	o->map.n = 0;
}

void ts_remote_key_task(const void *item, uint32_t *pid, uint64_t *id)
{
	const struct ts_remote_task *t = item;

	*pid = t->pid;
	*id = t->id;
}

void ts_remote_key_res(const void *item, uint32_t *pid, uint64_t *id)
{
	const struct ts_remote_res *x = item;

	*pid = x->pid;
	*id = x->id;
}

void ts_remote_key_thread(const void *item, uint32_t *pid, uint64_t *id)
{
	const struct ts_thread *t = item;

	*pid = t->pid;
	*id = t->tid;
}
