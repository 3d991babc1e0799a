/*
 * test-state.c: the console's rows (console/state.c): sort orders per
 * column and inverted, ties, a selection that follows its task across
 * re-sorts and disappears cleanly, clamped movement and scrolling, and a
 * 100k-row sort checked pairwise.
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

int main(void)
{
	test_sort();
	test_selection();
	test_many();
	if (check_failures) {
		fprintf(stderr, "%d check(s) failed\n", check_failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
