/*
 * test-state.c: the console's rows (console/state.c): sort orders per
 * column and inverted, ties, a selection that follows its task across
 * re-sorts and disappears cleanly, clamped movement and scrolling, a
 * 100k-row sort checked pairwise; filters (text on name or location, case
 * folded; state; warned only) with the selection kept and hidden rows
 * recovered; views and Enter (task, resource holder, warning's task);
 * warnings grouped by kind; worker rows carried between fills; the
 * histogram outlier count.
 */
#include <stdint.h>
#include <stdlib.h>

#include "collector/model.h"
#include "console/state.h"
#include "tests/check.h"

static void add(struct ts_state *s, uint64_t id, const char *name, uint64_t busy, uint8_t state)
{
	struct ts_row *r;

	CHECK(ts_state_reserve(s, s->nrows + 1) == 0);
	r = &s->rows[s->nrows++];
	*r = (struct ts_row){ .id = id, .pid = 1, .name = name, .location = "", .fields = "", .busy_ns = busy,
			      .total_ns = busy * 2, .state = state, .polls = id * 10 };
}

static uint64_t ids(const struct ts_state *s)
{
	uint64_t v = 0;

	for (size_t i = 0; i < s->nrows; i++)
		v = v * 10 + s->rows[i].id;
	return v;
}

static void test_sort(void)
{
	struct ts_state s;

	ts_state_init(&s);
	add(&s, 3, "charlie", 500, TS_TASK_RUNNING);
	add(&s, 1, "alpha", 100, TS_TASK_IDLE);
	add(&s, 4, "bravo", 900, TS_TASK_SCHEDULED);
	add(&s, 2, "delta", 300, TS_TASK_DONE);
	ts_state_sort(&s);
	CHECK(s.sort_col == TS_COL_ID);
	CHECK(ids(&s) == 1234);

	ts_state_sort_step(&s, 1);                /* State */
	CHECK(s.sort_col == TS_COL_STATE);
	CHECK(ids(&s) == 3412);                   /* running, scheduled, idle, done */
	ts_state_sort_step(&s, 1);                /* Name */
	CHECK(ids(&s) == 1432);
	ts_state_sort_step(&s, 2);                /* Busy: biggest first */
	CHECK(s.sort_col == TS_COL_BUSY);
	CHECK(ids(&s) == 4321);
	ts_state_sort_invert(&s);
	CHECK(ids(&s) == 1234);
	ts_state_sort_invert(&s);
	CHECK(ids(&s) == 4321);

	ts_state_sort_step(&s, -7);               /* wraps: Busy - 7 = Location */
	CHECK(s.sort_col == TS_COL_LOCATION);
	CHECK(!s.invert);
	CHECK(ids(&s) == 1234);                   /* all equal: ties by id */
	ts_state_sort_step(&s, 2);                /* Fields, then wraps to Warn */
	CHECK(s.sort_col == TS_COL_WARN);
	ts_state_fini(&s);
}

static void test_selection(void)
{
	struct ts_state s;

	ts_state_init(&s);
	for (uint64_t id = 1; id <= 9; id++)
		add(&s, id, "t", id * 100, TS_TASK_IDLE);
	ts_state_sort(&s);
	ts_state_move(&s, 2);
	CHECK(s.cur[TS_VIEW_TASKS].selected == 2 && s.rows[2].id == 3);
	ts_state_sort_step(&s, TS_COL_BUSY - TS_COL_ID); /* biggest first: id 3 moves to index 6 */
	CHECK(s.sort_col == TS_COL_BUSY);
	CHECK(s.rows[s.cur[TS_VIEW_TASKS].selected].id == 3);
	CHECK(s.cur[TS_VIEW_TASKS].selected == 6);

	ts_state_move(&s, INT64_MAX);
	CHECK(s.cur[TS_VIEW_TASKS].selected == 8);
	ts_state_move(&s, 1);
	CHECK(s.cur[TS_VIEW_TASKS].selected == 8);
	ts_state_move(&s, INT64_MIN);
	CHECK(s.cur[TS_VIEW_TASKS].selected == 0);
	ts_state_move(&s, -1);
	CHECK(s.cur[TS_VIEW_TASKS].selected == 0);

	/* scrolling keeps the selection in a 4-row window */
	ts_state_move(&s, 6);
	ts_state_scroll(&s, 4);
	CHECK(s.cur[TS_VIEW_TASKS].page == 4);
	CHECK(s.cur[TS_VIEW_TASKS].top <= s.cur[TS_VIEW_TASKS].selected && s.cur[TS_VIEW_TASKS].selected < s.cur[TS_VIEW_TASKS].top + 4);
	CHECK(s.cur[TS_VIEW_TASKS].top == 3);
	ts_state_move(&s, -5);
	ts_state_scroll(&s, 4);
	CHECK(s.cur[TS_VIEW_TASKS].top == 1);

	/* the selected task vanishes (a refresh without it): index clamps */
	ts_state_move(&s, INT64_MAX);
	s.nrows = 5;                              /* the last four are gone */
	ts_state_sort(&s);
	CHECK(s.cur[TS_VIEW_TASKS].selected == 4);
	ts_state_scroll(&s, 4);
	CHECK(s.cur[TS_VIEW_TASKS].top == 1);
	s.nrows = 0;
	ts_state_sort(&s);
	ts_state_move(&s, 1);
	ts_state_scroll(&s, 4);
	CHECK(s.cur[TS_VIEW_TASKS].top == 0);
	ts_state_fini(&s);
}

static void test_many(void)
{
	struct ts_state s;
	unsigned seed = 7;
	const size_t n = 100000;

	ts_state_init(&s);
	CHECK(ts_state_reserve(&s, n) == 0);
	for (size_t i = 0; i < n; i++)
		s.rows[i] = (struct ts_row){ .id = i + 1, .pid = 1, .name = "x", .location = "", .fields = "",
					     .busy_ns = (uint64_t)(rand_r(&seed) % 1000) };
	s.nrows = n;
	ts_state_sort_step(&s, TS_COL_BUSY - TS_COL_ID);
	for (size_t i = 1; i < n; i++) {
		CHECK(ts_state_compare(&s, &s.rows[i - 1], &s.rows[i]) < 0);
		CHECK(s.rows[i - 1].busy_ns >= s.rows[i].busy_ns);
		if (check_failures)
			break;
	}
	ts_state_fini(&s);
}

static size_t shown_ids(const struct ts_state *s, uint64_t *out, size_t max)
{
	size_t n = s->nshown < max ? s->nshown : max;

	for (size_t i = 0; i < n; i++)
		out[i] = s->rows[i].id;
	return n;
}

static void test_filters(void)
{
	struct ts_state s;
	uint64_t ids_out[8];

	ts_state_init(&s);
	add(&s, 1, "Accept_Loop", 10, TS_TASK_IDLE);
	add(&s, 2, "db_pool", 20, TS_TASK_RUNNING);
	add(&s, 3, "http", 30, TS_TASK_IDLE);
	add(&s, 4, "worker", 40, TS_TASK_DONE);
	s.rows[2].location = "src/db/http.rs:3";
	s.rows[3].location = "src/ACCEPT/x.rs:1";
	s.rows[1].nwarn = 1;
	s.rows[3].nwarn = 2;
	ts_state_sort(&s);
	CHECK(s.nshown == 4);
	CHECK(s.by_state[TS_TASK_IDLE] == 2 && s.by_state[TS_TASK_RUNNING] == 1 && s.by_state[TS_TASK_DONE] == 1);

	ts_state_move(&s, 2);                     /* select id 3 */
	ts_state_set_filter(&s, "accept");        /* name (case folded) or location */
	CHECK(s.nshown == 2);
	CHECK(shown_ids(&s, ids_out, 8) == 2 && ids_out[0] == 1 && ids_out[1] == 4);
	CHECK(s.nrows == 4);                      /* hidden rows are kept */
	CHECK(s.by_state[TS_TASK_IDLE] == 2);     /* counts are over all rows */
	ts_state_set_filter(&s, "HTTP");
	CHECK(s.nshown == 1 && s.rows[0].id == 3);
	CHECK(ts_state_selected_row(&s) && ts_state_selected_row(&s)->id == 3);
	ts_state_set_filter(&s, "nothing matches");
	CHECK(s.nshown == 0 && ts_state_selected_row(&s) == NULL);
	ts_state_move(&s, 1);                     /* harmless on an empty list */
	ts_state_set_filter(&s, "");
	CHECK(s.nshown == 4);

	ts_state_cycle_state_filter(&s);          /* running */
	CHECK(s.state_filter == TS_FILTER_RUNNING && s.nshown == 1 && s.rows[0].id == 2);
	ts_state_cycle_state_filter(&s);          /* scheduled: none */
	CHECK(s.nshown == 0);
	ts_state_cycle_state_filter(&s);          /* idle */
	CHECK(s.nshown == 2);
	ts_state_cycle_state_filter(&s);          /* done */
	CHECK(s.nshown == 1 && s.rows[0].id == 4);
	ts_state_cycle_state_filter(&s);          /* all again */
	CHECK(s.state_filter == TS_FILTER_ALL && s.nshown == 4);

	ts_state_toggle_warn_only(&s);
	CHECK(s.nshown == 2 && s.rows[0].id == 2 && s.rows[1].id == 4);
	/* a refresh (the conn refills every row) keeps the filter */
	ts_state_sort(&s);
	CHECK(s.nshown == 2);

	/* opening a task the filter hides clears the filters, selects it */
	ts_state_open_task(&s, 1, 3);
	CHECK(s.view == TS_VIEW_DETAILS && s.detail_id == 3 && s.detail_pid == 1);
	CHECK(!s.warn_only && s.nshown == 4);
	CHECK(ts_state_selected_row(&s)->id == 3);
	ts_state_back(&s);
	CHECK(s.view == TS_VIEW_TASKS);
	ts_state_fini(&s);
}

static void test_views(void)
{
	struct ts_state s;

	ts_state_init(&s);
	add(&s, 7, "holder", 10, TS_TASK_RUNNING);
	add(&s, 8, "other", 20, TS_TASK_IDLE);
	CHECK(ts_state_reserve_resources(&s, 2) == 0);
	s.resources[0] = (struct ts_res_row){ .id = 100, .pid = 1, .name = "free", .location = "" };
	s.resources[1] = (struct ts_res_row){ .id = 101, .pid = 1, .name = "busy", .location = "",
					      .holder_task = 7, .holder_tid = 5, .holders = 1, .waiters = 1 };
	s.nres = 2;
	s.nwarnings = 3;
	s.warnings[0] = (struct ts_recent_warning){ .w = { .pid = 1, .task_id = 8, .kind = TS_WARN_LOST_WAKER,
							   .ts_ns = 1 }, .task_name = "other" };
	s.warnings[1] = (struct ts_recent_warning){ .w = { .pid = 1, .task_id = 7, .kind = TS_WARN_LONG_POLL,
							   .ts_ns = 2 }, .task_name = "holder" };
	s.warnings[2] = (struct ts_recent_warning){ .w = { .pid = 1, .tid = 5, .kind = TS_WARN_LONG_POLL,
							   .ts_ns = 3 }, .task_name = "" };
	ts_state_sort(&s);

	/* resources: waiters first; Enter opens the holder */
	CHECK(s.resources[0].id == 101);
	ts_state_set_view(&s, TS_VIEW_RESOURCES);
	CHECK(ts_state_count(&s, TS_VIEW_RESOURCES) == 2);
	CHECK(ts_state_enter(&s));
	CHECK(s.view == TS_VIEW_DETAILS && s.detail_id == 7);
	ts_state_back(&s);
	CHECK(s.view == TS_VIEW_RESOURCES);       /* Esc returns where Enter came from */
	ts_state_move(&s, 1);                     /* the free lock: nothing to open */
	CHECK(ts_state_selected_resource(&s)->id == 100);
	CHECK(!ts_state_enter(&s) && s.view == TS_VIEW_RESOURCES);
	/* the selection follows its resource when the order changes */
	s.resources[0].waiters = 0;
	s.resources[1].waiters = 3;               /* "free" now has waiters: sorts first */
	ts_state_sort(&s);
	CHECK(ts_state_selected_resource(&s)->id == 100 && s.cur[TS_VIEW_RESOURCES].selected == 0);

	/* warnings: grouped by kind in kind order, newest first in a kind */
	ts_state_set_view(&s, TS_VIEW_WARNINGS);
	CHECK(s.worder[0] == 2 && s.worder[1] == 1 && s.worder[2] == 0);
	CHECK(!ts_state_enter(&s));               /* newest long_poll has no task */
	ts_state_move(&s, 1);
	CHECK(ts_state_selected_warning(&s)->w.task_id == 7);
	CHECK(ts_state_enter(&s) && s.detail_id == 7);
	ts_state_back(&s);
	ts_state_move(&s, INT64_MAX);
	CHECK(ts_state_selected_warning(&s)->w.kind == TS_WARN_LOST_WAKER);
	ts_state_fini(&s);
}

static void test_workers(void)
{
	struct ts_state s;
	const struct ts_worker_row *prev;

	ts_state_init(&s);
	CHECK(ts_state_reserve_workers(&s, 2) == 0);
	s.workers[0] = (struct ts_worker_row){ .pid = 1, .tid = 11, .role = TS_ROLE_OTHER, .name = "main" };
	s.workers[1] = (struct ts_worker_row){ .pid = 1, .tid = 12, .role = TS_ROLE_WORKER, .name = "w0" };
	ts_state_worker_push(&s.workers[1], 40);
	ts_state_worker_push(&s.workers[1], 250);  /* clamped */
	s.nworkers = 2;
	ts_state_sort(&s);
	CHECK(s.workers[0].tid == 12);           /* workers first */
	CHECK(s.workers[0].nbusy == 2 && s.workers[0].busy_pct[TS_SPARK_LEN - 1] == 100 &&
	      s.workers[0].busy_pct[TS_SPARK_LEN - 2] == 40);

	/* the next fill sees the last one's rows */
	CHECK(ts_state_reserve_workers(&s, 3) == 0);
	CHECK(s.nworkers == 0 && s.nprev_workers == 2);
	prev = ts_state_prev_worker(&s, 0, 1, 12);
	CHECK(prev && prev->nbusy == 2);
	CHECK(ts_state_prev_worker(&s, 5, 1, 11) && ts_state_prev_worker(&s, 5, 1, 11)->tid == 11);
	CHECK(ts_state_prev_worker(&s, 0, 2, 12) == NULL);
	s.workers[0] = *prev;                     /* carried forward, then 19 more samples */
	for (int i = 0; i < TS_SPARK_LEN + 3; i++)
		ts_state_worker_push(&s.workers[0], (uint8_t)i);
	CHECK(s.workers[0].nbusy == TS_SPARK_LEN && s.workers[0].busy_pct[TS_SPARK_LEN - 1] == TS_SPARK_LEN + 2);
	ts_state_fini(&s);
}

static void test_outliers(void)
{
	struct ts_histogram h;

	ts_histogram_init(&h);
	CHECK(ts_state_hist_outliers(&h) == 0);
	for (int i = 0; i < 100; i++)
		ts_histogram_record(&h, 100000 + (uint64_t)i * 1000);  /* 100..199 us */
	CHECK(ts_state_hist_outliers(&h) == 0);
	ts_histogram_record(&h, 50000000);        /* 50 ms: far past p75 + 1.5 IQR */
	ts_histogram_record(&h, 80000000);
	CHECK(ts_state_hist_outliers(&h) == 2);
}

int main(void)
{
	test_sort();
	test_selection();
	test_many();
	test_filters();
	test_views();
	test_workers();
	test_outliers();
	if (check_failures) {
		fprintf(stderr, "%d check(s) failed\n", check_failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
