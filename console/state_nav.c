/*
 * state_nav.c: moving around: each view's selection and scrolling, view
 * switches, Enter (open a task's details from any list) and Esc. See
 * state.h. No drawing: the views call ts_state_scroll with their height.
 */
#include <stdint.h>

#include "console/state.h"
#include "console/state_internal.h"

size_t ts_state_count(const struct ts_state *s, unsigned view)
{
	switch (view) {
	case TS_VIEW_TASKS:
		return s->nshown;
	case TS_VIEW_RESOURCES:
		return s->nres;
	case TS_VIEW_WORKERS:
		return s->nworkers;
	case TS_VIEW_WARNINGS:
		return s->nwarnings;
	default:
		return 0;
	}
}

static void remember(struct ts_state *s)
{
	switch (s->view) {
	case TS_VIEW_TASKS:
		ts_state_remember_task(s);
		break;
	case TS_VIEW_RESOURCES:
		if (s->cur[s->view].selected < s->nres) {
			s->sel_res_pid = s->resources[s->cur[s->view].selected].pid;
			s->sel_res_id = s->resources[s->cur[s->view].selected].id;
		}
		break;
	case TS_VIEW_WORKERS:
		if (s->cur[s->view].selected < s->nworkers) {
			s->sel_worker_pid = s->workers[s->cur[s->view].selected].pid;
			s->sel_worker_tid = s->workers[s->cur[s->view].selected].tid;
		}
		break;
	default:
		break;
	}
}

void ts_state_move(struct ts_state *s, int64_t delta)
{
	struct ts_cursor *c = &s->cur[s->view < TS_VIEW_COUNT ? s->view : 0];
	size_t n = ts_state_count(s, s->view);
	int64_t last, cur = (int64_t)c->selected;

	if (s->view == TS_VIEW_DETAILS) {
		/* the details scroll; the view clamps top when it draws */
		cur = (int64_t)c->top;
		if (delta < 0)
			c->top = delta <= -cur ? 0 : (size_t)(cur + delta);
		else
			c->top = delta >= 1000 ? 1000 : (size_t)(cur + delta);
		return;
	}
	if (n == 0)
		return;
	last = (int64_t)n - 1;
	if (cur > last)
		cur = last;
	if (delta < 0)
		cur = delta <= -cur ? 0 : cur + delta;
	else
		cur = delta >= last - cur ? last : cur + delta;
	c->selected = (size_t)cur;
	remember(s);
}

void ts_state_scroll(struct ts_state *s, size_t rows)
{
	struct ts_cursor *c = &s->cur[s->view < TS_VIEW_COUNT ? s->view : 0];
	size_t n = ts_state_count(s, s->view);

	c->page = rows;
	if (s->view == TS_VIEW_DETAILS)
		return;
	if (n == 0 || rows == 0) {
		c->top = 0;
		return;
	}
	if (c->selected >= n)
		c->selected = n - 1;
	if (c->selected < c->top)
		c->top = c->selected;
	else if (c->selected >= c->top + rows)
		c->top = c->selected - rows + 1;
	/* no empty space below the last row when the list shrank */
	if (c->top + rows > n)
		c->top = n > rows ? n - rows : 0;
}

const struct ts_row *ts_state_selected_row(const struct ts_state *s)
{
	size_t i = s->cur[TS_VIEW_TASKS].selected;

	return i < s->nshown ? &s->rows[i] : NULL;
}

const struct ts_res_row *ts_state_selected_resource(const struct ts_state *s)
{
	size_t i = s->cur[TS_VIEW_RESOURCES].selected;

	return i < s->nres ? &s->resources[i] : NULL;
}

const struct ts_worker_row *ts_state_selected_worker(const struct ts_state *s)
{
	size_t i = s->cur[TS_VIEW_WORKERS].selected;

	return i < s->nworkers ? &s->workers[i] : NULL;
}

const struct ts_recent_warning *ts_state_selected_warning(const struct ts_state *s)
{
	size_t i = s->cur[TS_VIEW_WARNINGS].selected;

	if (i >= s->nwarnings || s->worder[i] >= s->nwarnings)
		return NULL;
	return &s->warnings[s->worder[i]];
}

void ts_state_set_view(struct ts_state *s, unsigned view)
{
	if (view >= TS_VIEW_COUNT || view == s->view)
		return;
	if (view == TS_VIEW_DETAILS)
		s->back_view = s->view == TS_VIEW_DETAILS ? TS_VIEW_TASKS : s->view;
	s->view = view;
}

void ts_state_back(struct ts_state *s)
{
	if (s->view == TS_VIEW_DETAILS)
		s->view = s->back_view < TS_VIEW_COUNT && s->back_view != TS_VIEW_DETAILS ? s->back_view
											 : TS_VIEW_TASKS;
}

void ts_state_open_task(struct ts_state *s, uint32_t pid, uint64_t id)
{
	bool found = false;

	s->detail_pid = pid;
	s->detail_id = id;
	s->detail.valid = false;            /* until the conn fills it */
	s->cur[TS_VIEW_DETAILS].top = 0;
	s->have_sel = true;
	s->sel_pid = pid;
	s->sel_id = id;
	for (size_t i = 0; i < s->nrows && !found; i++)
		found = s->rows[i].pid == pid && s->rows[i].id == id;
	/* select it in the tasks view too, showing it if a filter hides it */
	if (found) {
		for (size_t i = 0; i < s->nrows; i++) {
			if (s->rows[i].pid == pid && s->rows[i].id == id) {
				if (!ts_state_row_matches(s, &s->rows[i])) {
					s->filter[0] = '\0';
					s->state_filter = TS_FILTER_ALL;
					s->warn_only = false;
				}
				break;
			}
		}
		ts_state_sort(s);
	}
	ts_state_set_view(s, TS_VIEW_DETAILS);
}

bool ts_state_enter(struct ts_state *s)
{
	switch (s->view) {
	case TS_VIEW_TASKS: {
		const struct ts_row *r = ts_state_selected_row(s);

		if (!r)
			return false;
		ts_state_open_task(s, r->pid, r->id);
		return true;
	}
	case TS_VIEW_RESOURCES: {
		const struct ts_res_row *r = ts_state_selected_resource(s);
		uint64_t task = r ? r->holder_task : 0;

		if (!task && r && r->waiters && r->waiting_tasks[0])
			task = r->waiting_tasks[0];
		if (!task)
			return false;
		ts_state_open_task(s, r->pid, task);
		return true;
	}
	case TS_VIEW_WARNINGS: {
		const struct ts_recent_warning *w = ts_state_selected_warning(s);

		if (!w || !w->w.task_id)
			return false;
		ts_state_open_task(s, w->w.pid, w->w.task_id);
		return true;
	}
	default:
		return false;
	}
}
