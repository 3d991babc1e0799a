/*
 * model_recent.c: the latest poll spans, for the console's task details.
 *
 * One ring of the last TS_MODEL_RECENT_POLLS spans of all tasks, not one
 * per task: memory stays fixed however many tasks there are (100k live
 * tasks cost nothing here), and finding one task's polls is a scan of the
 * ring, done only for the one task a details view shows. A task polled
 * rarely among busy ones may have scrolled out: the console then shows
 * fewer polls, never wrong ones. The ring is allocated at the first span.
 */
#include <stdlib.h>

#include "collector/model_internal.h"

void ts_model_recent_poll_add(struct ts_model *m, const struct ts_poll_span *span)
{
	if (!m->poll_ring) {
		if (m->poll_ring_failed)
			return;
		m->poll_ring = calloc(TS_MODEL_RECENT_POLLS, sizeof(*m->poll_ring));
		if (!m->poll_ring) {
			m->poll_ring_failed = true;  /* details show no polls; nothing else changes */
			return;
		}
	}
	m->poll_ring[m->poll_ring_next] = *span;
	m->poll_ring_next = (m->poll_ring_next + 1) % TS_MODEL_RECENT_POLLS;
	if (m->poll_ring_count < TS_MODEL_RECENT_POLLS)
		m->poll_ring_count++;
}

void ts_model_recent_free(struct ts_model *m)
{
	free(m->poll_ring);
	m->poll_ring = NULL;
}

size_t ts_model_recent_polls(const struct ts_model *m, uint32_t pid, uint64_t task_id, struct ts_poll_span *out,
			     size_t max)
{
	size_t n = 0, i = m->poll_ring_next;

	if (!m->poll_ring || max == 0)
		return 0;
	/* newest first into out[], then reversed: oldest first */
	for (size_t k = 0; k < m->poll_ring_count && n < max; k++) {
		const struct ts_poll_span *sp;

		i = i ? i - 1 : TS_MODEL_RECENT_POLLS - 1;
		sp = &m->poll_ring[i];
		if (sp->task_id == task_id && sp->pid == pid)
			out[n++] = *sp;
	}
	for (size_t a = 0, b = n; a + 1 < b; a++, b--) {
		struct ts_poll_span t = out[a];

		out[a] = out[b - 1];
		out[b - 1] = t;
	}
	return n;
}
