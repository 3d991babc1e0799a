/*
 * test-slots.c: the life of a slot. A thread claims a FREE slot on its
 * first event and announces itself; at exit its slot turns RETIRED; while
 * no slot is free other threads' events are dropped and counted; once the
 * reader sets the slot FREE, a new thread reuses it (new tid, generation
 * bumped, its own THREAD record first, named from the kernel's comm when
 * the program gave no name), and a thread that had no slot gets one after
 * TS_NOSLOT_RETRY dropped events.
 */
#include "agent/shim_internal.h"
#include "ring-reader.h"

#include <pthread.h>
#include <semaphore.h>

static struct rr r;
static uint32_t last_tid;

static void *alpha(void *arg)
{
	(void)arg;
	last_tid = (uint32_t)gettid();
	taskscope_thread_name("alpha", TASKSCOPE_ROLE_BLOCKING);
	for (uint64_t i = 0; i < 3; i++)
		taskscope_waker_clone(10 + i);
	return NULL;
}

static void *beta(void *arg)
{
	(void)arg;
	last_tid = (uint32_t)gettid();
	for (uint64_t i = 0; i < 5; i++)
		taskscope_waker_drop(20 + i);
	return NULL;
}

static void *gamma_thread(void *arg)
{
	(void)arg;
	last_tid = (uint32_t)gettid();
	pthread_setname_np(pthread_self(), "gamma-comm");
	taskscope_resource_drop(30);
	taskscope_resource_drop(31);
	return NULL;
}

/* Drops 1000 events while slot 0 is taken, waits for main to free it,
 * then writes 100 more. */
static sem_t delta_go, delta_dropped;

static void *delta(void *arg)
{
	(void)arg;
	last_tid = (uint32_t)gettid();
	for (uint64_t i = 0; i < 1000; i++)
		taskscope_lock_wait(40 + i);
	sem_post(&delta_dropped);
	while (sem_wait(&delta_go) != 0)
		;
	for (uint64_t i = 1000; i < 1100; i++)
		taskscope_lock_wait(40 + i);
	return NULL;
}

static void run(void *(*fn)(void *))
{
	pthread_t t;

	CHECK(pthread_create(&t, NULL, fn, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
}

int main(void)
{
	struct ts_ring_record got[128];
	struct ts_ring_header *h;
	uint32_t alpha_tid;
	pthread_t d;
	int fd = -1;
	size_t n;

	CHECK(ts_shim_attach_memfd(1, 128, 4096, &fd) == 0);
	rr_open(&r, fd);
	h = rr_ring(&r, 0);
	CHECK_EQ(rr_state(&r, 0), TS_SLOT_FREE);

	/* alpha claims the only slot and retires it at exit. */
	run(alpha);
	alpha_tid = last_tid;
	CHECK_EQ(rr_state(&r, 0), TS_SLOT_RETIRED);
	CHECK_EQ(h->tid, alpha_tid);
	CHECK_EQ(h->generation, 1);

	/* beta finds no free slot: all 5 events dropped and counted. */
	run(beta);
	CHECK_EQ(rr_header(&r)->noslot_dropped, 5);
	CHECK_EQ(taskscope_dropped_events(), 5);
	CHECK_EQ(h->tid, alpha_tid);

	/* The reader drains alpha's ring, then frees the slot. */
	n = rr_drain(&r, 0, got, 128);
	CHECK_EQ(n, 4);
	CHECK_EQ(got[0].type, TS_REC_THREAD);
	CHECK_EQ(got[0].task, alpha_tid);
	CHECK_EQ(got[0].b, 1);
	CHECK_EQ(got[0].flags, TASKSCOPE_ROLE_BLOCKING);
	CHECK(strcmp(rr_string(&r, got[0].a), "alpha") == 0);
	for (size_t i = 1; i < 4; i++) {
		CHECK_EQ(got[i].type, TS_REC_WAKER_CLONE);
		CHECK_EQ(got[i].task, 10 + i - 1);
	}
	__atomic_store_n(&h->state, TS_SLOT_FREE, __ATOMIC_RELEASE);

	/* gamma reuses the slot. */
	run(gamma_thread);
	CHECK_EQ(rr_state(&r, 0), TS_SLOT_RETIRED);
	CHECK_EQ(h->tid, last_tid);
	CHECK(last_tid != alpha_tid);
	CHECK_EQ(h->generation, 2);
	n = rr_drain(&r, 0, got, 128);
	CHECK_EQ(n, 3);
	CHECK_EQ(got[0].type, TS_REC_THREAD);
	CHECK_EQ(got[0].task, last_tid);
	CHECK_EQ(got[0].b, 2);
	CHECK_EQ(got[0].flags, TASKSCOPE_ROLE_OTHER);
	CHECK(strcmp(rr_string(&r, got[0].a), "gamma-comm") == 0);
	CHECK_EQ(got[1].type, TS_REC_RESOURCE_DROP);
	CHECK_EQ(got[1].task, 30);
	CHECK_EQ(got[2].task, 31);
	CHECK_EQ(taskscope_dropped_events(), 5);

	/* delta starts while the slot is RETIRED, then gets it. */
	CHECK(sem_init(&delta_go, 0, 0) == 0 && sem_init(&delta_dropped, 0, 0) == 0);
	CHECK(pthread_create(&d, NULL, delta, NULL) == 0);
	while (sem_wait(&delta_dropped) != 0)
		;
	CHECK_EQ(rr_header(&r)->noslot_dropped, 5 + 1000);
	__atomic_store_n(&h->state, TS_SLOT_FREE, __ATOMIC_RELEASE);
	sem_post(&delta_go);
	CHECK(pthread_join(d, NULL) == 0);
	/* Events 1001..TS_NOSLOT_RETRY still waited; the next one claimed. */
	CHECK_EQ(rr_header(&r)->noslot_dropped, 5 + TS_NOSLOT_RETRY);
	CHECK_EQ(h->generation, 3);
	CHECK_EQ(h->tid, last_tid);
	n = rr_drain(&r, 0, got, 128);
	CHECK_EQ(n, 1 + 1100 - TS_NOSLOT_RETRY);
	CHECK_EQ(got[0].type, TS_REC_THREAD);
	for (size_t i = 1; i < n; i++) {
		CHECK_EQ(got[i].type, TS_REC_LOCK_WAIT);
		CHECK_EQ(got[i].task, 40 + TS_NOSLOT_RETRY + i - 1);
	}
	CHECK_EQ(taskscope_dropped_events(), 5 + TS_NOSLOT_RETRY);
	CHECK_EQ(rr_state(&r, 0), TS_SLOT_RETIRED);

	sem_destroy(&delta_go);
	sem_destroy(&delta_dropped);
	rr_close(&r);
	close(fd);
	ts_shim_detach();
	printf("ok: slot claimed, retired, refused, freed, reused\n");
	return 0;
}
