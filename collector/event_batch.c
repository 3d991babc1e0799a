/*
 * event_batch.c: a growable array of events and its stable sort by time.
 *
 * Every source appends to one batch per drain; sorting it interleaves the
 * threads (and sources) of a drain before the model sees them.
 */
#include "collector/source.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void ts_event_batch_init(struct ts_event_batch *b)
{
	b->events = NULL;
	b->len = 0;
	b->cap = 0;
}

void ts_event_batch_fini(struct ts_event_batch *b)
{
	free(b->events);
	ts_event_batch_init(b);
}

int ts_event_batch_push(struct ts_event_batch *b, const struct ts_event *ev)
{
	if (b->len == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct ts_event *events;

		if (cap < b->cap || cap > SIZE_MAX / sizeof(*events))
			return -ENOMEM;
		events = realloc(b->events, cap * sizeof(*events));
		if (!events)
			return -ENOMEM;
		b->events = events;
		b->cap = cap;
	}
	b->events[b->len++] = *ev;
	return 0;
}

/* Stable: on equal timestamps the left run (earlier in the batch) wins. */
static void merge_runs(const struct ts_event *src, struct ts_event *dst, size_t lo, size_t mid, size_t hi)
{
	size_t i = lo, j = mid, k = lo;

	while (i < mid && j < hi)
		dst[k++] = src[j].ts < src[i].ts ? src[j++] : src[i++];
	while (i < mid)
		dst[k++] = src[i++];
	while (j < hi)
		dst[k++] = src[j++];
}

static void insertion_sort(struct ts_event *ev, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct ts_event key = ev[i];
		size_t j = i;

		while (j > 0 && ev[j - 1].ts > key.ts) {
			ev[j] = ev[j - 1];
			j--;
		}
		ev[j] = key;
	}
}

void ts_event_batch_sort(struct ts_event_batch *b)
{
	struct ts_event *a = b->events;
	struct ts_event *tmp;
	size_t n = b->len;
	bool sorted = true;

	for (size_t i = 1; i < n && sorted; i++)
		sorted = a[i - 1].ts <= a[i].ts;
	if (sorted)
		return;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp) {
		/* Slow but stable and allocation-free. */
		insertion_sort(a, n);
		return;
	}
	/* Bottom-up merge sort, ping-ponging between the two buffers. */
	for (size_t width = 1; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;

			merge_runs(a, tmp, lo, mid, hi);
		}
		struct ts_event *t = a;
		a = tmp;
		tmp = t;
	}
	if (a != b->events) {
		memcpy(b->events, a, n * sizeof(*a));
		tmp = a;
	}
	free(tmp);
}

void ts_event_batch_sort_from(struct ts_event_batch *b, size_t sorted)
{
	struct ts_event_batch tail;
	struct ts_event *tmp;
	size_t i = 0, j, k = 0;

	if (sorted >= b->len || sorted == 0) {
		ts_event_batch_sort(b);
		return;
	}
	tail = (struct ts_event_batch){ .events = b->events + sorted, .len = b->len - sorted,
					.cap = b->len - sorted };
	ts_event_batch_sort(&tail);
	if (b->events[sorted - 1].ts <= tail.events[0].ts)
		return;
	tmp = malloc(b->len * sizeof(*tmp));
	if (!tmp) {
		ts_event_batch_sort(b);
		return;
	}
	/* Merge; on equal times the older part first, as a stable sort would. */
	for (j = sorted; i < sorted && j < b->len;)
		tmp[k++] = b->events[j].ts < b->events[i].ts ? b->events[j++] : b->events[i++];
	while (i < sorted)
		tmp[k++] = b->events[i++];
	while (j < b->len)
		tmp[k++] = b->events[j++];
	memcpy(b->events, tmp, b->len * sizeof(*tmp));
	free(tmp);
}
