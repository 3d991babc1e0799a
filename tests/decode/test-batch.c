/*
 * test-batch.c: the event batch the shm source fills. Pushing grows it
 * without losing events; sorting orders by timestamp and is stable, so
 * events of one ring with equal timestamps keep their ring order.
 */
#include <stdlib.h>
#include <string.h>

#include "collector/source_shm.h"
#include "tests/check.h"

static uint64_t rng_state = 12345;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void sort_and_check(size_t n, uint64_t ts_range)
{
	struct ts_event_batch b;
	uint64_t id_sum = 0, sorted_sum = 0;

	ts_event_batch_init(&b);
	for (size_t i = 0; i < n; i++) {
		struct ts_event ev = { .ts = 1 + rnd() % ts_range, .id = i, .type = TS_EV_WAKE };

		CHECK(ts_event_batch_push(&b, &ev) == 0);
		id_sum += i;
	}
	CHECK(b.len == n && b.cap >= n);
	ts_event_batch_sort(&b);
	CHECK(b.len == n);
	for (size_t i = 0; i < b.len; i++) {
		sorted_sum += b.events[i].id;
		if (i == 0)
			continue;
		CHECK_MSG(b.events[i - 1].ts <= b.events[i].ts, "n=%zu: not sorted at %zu", n, i);
		if (b.events[i - 1].ts == b.events[i].ts)
			CHECK_MSG(b.events[i - 1].id < b.events[i].id, "n=%zu: not stable at %zu", n, i);
	}
	CHECK(sorted_sum == id_sum);
	ts_event_batch_fini(&b);
	CHECK(b.len == 0 && b.events == NULL);
}

/* A sorted prefix (events held back from the last drain) plus new events:
 * sort_from must give exactly what a full stable sort gives. */
static void sort_from_and_check(size_t held, size_t fresh, uint64_t ts_range)
{
	struct ts_event_batch a, b;

	ts_event_batch_init(&a);
	ts_event_batch_init(&b);
	for (size_t i = 0; i < held + fresh; i++) {
		struct ts_event ev = { .ts = 1 + rnd() % ts_range, .id = i, .type = TS_EV_WAKE };

		CHECK(ts_event_batch_push(&a, &ev) == 0);
	}
	/* the prefix is in order, as the collector keeps it */
	struct ts_event_batch prefix = { .events = a.events, .len = held, .cap = held };
	ts_event_batch_sort(&prefix);
	for (size_t i = 0; i < a.len; i++)
		CHECK(ts_event_batch_push(&b, &a.events[i]) == 0);
	ts_event_batch_sort_from(&a, held);
	ts_event_batch_sort(&b);
	CHECK(a.len == b.len);
	for (size_t i = 0; i < a.len && i < b.len; i++)
		CHECK_MSG(a.events[i].ts == b.events[i].ts && a.events[i].id == b.events[i].id,
			  "held=%zu fresh=%zu: differs at %zu", held, fresh, i);
	ts_event_batch_fini(&a);
	ts_event_batch_fini(&b);
}

int main(void)
{
	struct ts_event_batch b;

	/* Empty and one-element batches. */
	ts_event_batch_init(&b);
	ts_event_batch_sort(&b);
	CHECK(b.len == 0);
	ts_event_batch_fini(&b);

	sort_and_check(1, 10);
	sort_and_check(2, 2);
	sort_and_check(3, 2);
	sort_and_check(257, 20);        /* crosses the first growth */
	sort_and_check(10000, 50);      /* many ties: stability matters */
	sort_and_check(10001, 1u << 30); /* odd length, few ties */

	/* An already sorted batch stays as it is. */
	ts_event_batch_init(&b);
	for (uint64_t i = 0; i < 100; i++) {
		struct ts_event ev = { .ts = 100 + i / 3, .id = i };

		ts_event_batch_push(&b, &ev);
	}
	ts_event_batch_sort(&b);
	for (uint64_t i = 0; i < 100; i++)
		CHECK(b.events[i].id == i);
	ts_event_batch_fini(&b);

	sort_from_and_check(0, 100, 30);
	sort_from_and_check(100, 0, 30);
	sort_from_and_check(1, 1, 2);
	sort_from_and_check(500, 300, 40);      /* overlapping ranges, many ties */
	sort_from_and_check(5000, 2000, 1u << 30);

	return check_result("test-batch");
}
