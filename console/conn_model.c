/*
 * conn_model.c: fill the console state from the in-process model.
 *
 * Only numbers and interned strings are copied: the model's task objects
 * may be freed by its next tick, so nothing here keeps a struct ts_task
 * pointer. Task times are taken at the caller's `now` so running tasks
 * keep growing between events.
 */
#include "console/conn.h"

#include "collector/model.h"

static unsigned popcount32(uint32_t v)
{
	unsigned n = 0;

	for (; v; v &= v - 1)
		n++;
	return n;
}

static void copy_warnings(struct ts_state *s, const struct ts_model *m)
{
	const struct ts_warning *recent[TS_STATE_RECENT];
	size_t n;

	for (uint32_t k = 0; k < TS_WARN_KIND_COUNT; k++)
		s->warn_counts[k] = ts_model_warning_count(m, k);

	/* the TS_STATE_RECENT most recent, oldest first */
	n = ts_model_recent_warnings(m, recent, TS_STATE_RECENT);
	if (n > TS_STATE_RECENT)
		n = TS_STATE_RECENT;
	s->nrecent = 0;
	for (size_t i = 0; i < n; i++) {
		struct ts_recent_warning *r = &s->recent[s->nrecent];
		const struct ts_task *t;

		if (!recent[i])
			continue;
		r->w = *recent[i];
		r->w.detail[TS_WARNING_DETAIL_MAX - 1] = '\0';
		t = r->w.task_id ? ts_model_find_task(m, r->w.pid, r->w.task_id) : NULL;
		r->task_name = t && t->name ? t->name : "";
		s->nrecent++;
	}
}

int ts_conn_model_refresh(struct ts_state *s, const struct ts_model *m, uint64_t now_ns)
{
	struct ts_task *const *tasks;
	size_t n = 0;
	int r;

	if (s->paused && s->filled)
		return 0;
	tasks = ts_model_tasks(m, &n);
	if (!tasks)
		n = 0;
	r = ts_state_reserve(s, n);
	if (r < 0)
		return r;

	for (size_t k = 0; k < TS_STATE_NSTATES; k++)
		s->by_state[k] = 0;
	s->nrows = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ts_task *t = tasks[i];
		struct ts_row *row = &s->rows[s->nrows];

		if (!t)
			continue;
		row->id = t->id;
		row->pid = t->pid;
		row->state = t->state < TS_STATE_NSTATES ? (uint8_t)t->state : TS_TASK_DONE;
		row->kind = t->kind > 0xff ? 0xff : (uint8_t)t->kind;
		row->nwarn = (uint8_t)popcount32(t->warnings);
		row->name = t->name ? t->name : "";
		row->location = t->location ? t->location : "";
		ts_task_times(t, now_ns, &row->total_ns, &row->busy_ns, &row->sched_ns, &row->idle_ns);
		row->polls = t->polls;
		s->by_state[row->state]++;
		s->nrows++;
	}
	copy_warnings(s, m);
	s->now_ns = now_ns;
	s->filled = true;
	ts_state_sort(s);
	return 0;
}
