/*
 * bench-shim.c: what one instrumented call costs the target, in ns per
 * event, with recording off (the one-branch path) and on (a record into
 * a thread-local ring), plus the full-ring drop path and a spawn through
 * a call site whose strings are already interned.
 *
 * The rings are consumed between timed batches (by this thread, outside
 * the timed region), so "on" measures the producer alone. Numbers belong
 * in docs/benchmarks.md; nothing here asserts a speed.
 *
 * usage: bench-shim [EVENTS]   (default 20000000)
 */
#include "agent/shim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BATCH 4096u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Mark everything written so far as consumed, as a collector would. */
static void consume_all(uint8_t *base, struct ts_shm_header *h)
{
	for (uint32_t s = 0; s < h->slots; s++) {
		struct ts_ring_header *r =
			(struct ts_ring_header *)(base + ts_shm_ring_offset(h->arena_size, h->capacity, s));

		__atomic_store_n(&r->tail, __atomic_load_n(&r->head, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
	}
}

enum what { POLL, SPAWN_SITE };

/* Time `events` calls in batches; consume between batches when asked. */
static double run(enum what what, uint64_t events, uint8_t *base, int consume)
{
	TASKSCOPE_SITE(site, "bench-task");
	uint64_t spent = 0;
	uint64_t done = 0;

	while (done < events) {
		uint64_t t0 = now_ns();

		for (uint32_t i = 0; i < BATCH; i++) {
			if (what == POLL)
				taskscope_poll_begin(done + i);
			else
				taskscope_task_spawn(done + i, 1, TASKSCOPE_KIND_TASK, &site);
		}
		spent += now_ns() - t0;
		done += BATCH;
		if (consume && base)
			consume_all(base, (struct ts_shm_header *)base);
	}
	return (double)spent / (double)done;
}

/* The clock read alone: most of the "on" cost, for comparison. */
static double clock_cost(uint64_t events)
{
	uint64_t t0 = now_ns(), sink = 0;

	for (uint64_t i = 0; i < events; i++)
		sink += now_ns();
	if (sink == 42)
		printf("(unlikely)\n");
	return (double)(now_ns() - t0) / (double)events;
}

int main(int argc, char **argv)
{
	uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000000ull;
	struct ts_shm_header *h;
	uint8_t *base;
	double off, on, spawn, full, clk;
	int fd = -1;
	int r;

	if (events < BATCH)
		events = BATCH;
	off = run(POLL, events, NULL, 0);
	clk = clock_cost(events);

	r = ts_shim_attach_memfd(4, TS_DEFAULT_CAPACITY, TS_DEFAULT_ARENA, &fd);
	if (r < 0) {
		fprintf(stderr, "bench-shim: cannot attach a region (%d)\n", r);
		return 1;
	}
	h = mmap(NULL, ts_shm_total_size(4, TS_DEFAULT_ARENA, TS_DEFAULT_CAPACITY), PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		perror("bench-shim: mmap");
		return 1;
	}
	base = (uint8_t *)h;
	taskscope_thread_name("bench", TASKSCOPE_ROLE_WORKER); /* claim outside the timing */
	on = run(POLL, events, base, 1);
	spawn = run(SPAWN_SITE, events, base, 1);
	full = run(POLL, events, NULL, 0);

	printf("events per case:            %llu\n", (unsigned long long)events);
	printf("clock_gettime alone:        %6.2f ns/call\n", clk);
	printf("recording off:              %6.2f ns/event\n", off);
	printf("recording on (poll_begin):  %6.2f ns/event\n", on);
	printf("recording on (spawn, site): %6.2f ns/event\n", spawn);
	printf("ring full (dropped):        %6.2f ns/event\n", full);
	printf("dropped (expected > 0):     %llu\n", (unsigned long long)taskscope_dropped_events());

	munmap(h, ts_shm_total_size(4, TS_DEFAULT_ARENA, TS_DEFAULT_CAPACITY));
	close(fd);
	ts_shim_detach();
	return 0;
}
