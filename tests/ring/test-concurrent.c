/*
 * test-concurrent.c: four writer threads, each in its own slot, while a
 * reader thread drains all rings at the same time. Every record is seen
 * exactly once, each thread's records arrive in the order written, and
 * no record is torn (its fields are checked against each other).
 *
 * Writers wait while their ring is full, so nothing is dropped and the
 * count of records seen must be exact.
 */
#include "agent/shim_internal.h"
#include "ring-reader.h"

#include <pthread.h>
#include <sched.h>

#define WRITERS 4
#define PER_WRITER 100000u
#define CAPACITY 256u
#define K 0x9e3779b97f4a7c15ull

static struct rr r;
static int writers_done;

static void *writer(void *arg)
{
	uint64_t idx = (uint64_t)(uintptr_t)arg;
	char name[32];
	int slot;

	snprintf(name, sizeof(name), "writer-%u", (unsigned)idx);
	taskscope_thread_name(name, TASKSCOPE_ROLE_WORKER);
	slot = rr_find_tid(&r, (uint32_t)gettid());
	CHECK(slot >= 0);
	for (uint32_t seq = 0; seq < PER_WRITER; seq++) {
		uint64_t task = idx << 32 | seq;

		while (rr_pending(&r, (uint32_t)slot) >= CAPACITY)
			sched_yield();
		taskscope_task_spawn_ids(task, task * K, (int)(seq % 3), seq * 7u + (uint32_t)idx, ~seq);
	}
	__atomic_fetch_add(&writers_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *reader(void *arg)
{
	static struct ts_ring_record got[CAPACITY];
	uint32_t expect[WRITERS] = { 0 };
	int owner[64];
	uint64_t total = 0;
	int quiet_after_done = 0;

	(void)arg;
	for (int i = 0; i < 64; i++)
		owner[i] = -1;
	while (quiet_after_done < 2) {
		int done = __atomic_load_n(&writers_done, __ATOMIC_ACQUIRE) == WRITERS;
		size_t pass = 0;

		for (uint32_t s = 0; s < r.slots; s++) {
			size_t n = rr_drain(&r, s, got, CAPACITY);

			pass += n;
			for (size_t i = 0; i < n; i++) {
				const struct ts_ring_record *x = &got[i];

				if (x->type == TS_REC_THREAD) {
					const char *name = rr_string(&r, x->a);
					unsigned w;

					CHECK(owner[s] < 0);
					CHECK(name && sscanf(name, "writer-%u", &w) == 1 && w < WRITERS);
					CHECK_EQ(x->flags, TASKSCOPE_ROLE_WORKER);
					owner[s] = (int)w;
					continue;
				}
				CHECK_EQ(x->type, TS_REC_SPAWN);
				CHECK(owner[s] >= 0); /* THREAD came first */
				uint64_t idx = x->task >> 32;
				uint32_t seq = (uint32_t)x->task;

				CHECK_EQ(idx, owner[s]);
				CHECK_EQ(seq, expect[idx]);
				CHECK_EQ(x->b, x->task * K);
				CHECK_EQ(x->flags, seq % 3);
				CHECK_EQ(x->a, seq * 7u + (uint32_t)idx);
				CHECK_EQ(x->c, (uint32_t)~seq);
				CHECK_EQ(x->reserved, 0);
				expect[idx]++;
				total++;
			}
		}
		if (done && pass == 0)
			quiet_after_done++;
		else if (pass == 0)
			sched_yield();
	}
	for (int w = 0; w < WRITERS; w++)
		CHECK_EQ(expect[w], PER_WRITER);
	CHECK_EQ(total, (uint64_t)WRITERS * PER_WRITER);
	return NULL;
}

int main(void)
{
	pthread_t w[WRITERS], rd;
	int fd = -1;

	CHECK(ts_shim_attach_memfd(8, CAPACITY, 4096, &fd) == 0);
	rr_open(&r, fd);
	CHECK(pthread_create(&rd, NULL, reader, NULL) == 0);
	for (uintptr_t i = 0; i < WRITERS; i++)
		CHECK(pthread_create(&w[i], NULL, writer, (void *)i) == 0);
	for (int i = 0; i < WRITERS; i++)
		CHECK(pthread_join(w[i], NULL) == 0);
	CHECK(pthread_join(rd, NULL) == 0);

	CHECK_EQ(taskscope_dropped_events(), 0);
	/* The writers have exited: their slots wait for the collector. */
	int retired = 0;

	for (uint32_t s = 0; s < r.slots; s++) {
		uint32_t st = rr_state(&r, s);

		CHECK(st == TS_SLOT_FREE || st == TS_SLOT_RETIRED);
		retired += st == TS_SLOT_RETIRED;
	}
	CHECK_EQ(retired, WRITERS);
	rr_close(&r);
	close(fd);
	ts_shim_detach();
	printf("ok: %u records from %d threads, each once, in order\n", WRITERS * PER_WRITER, WRITERS);
	return 0;
}
