/*
 * test-drops.c: a full ring never overwrites. With capacity 16 and 100
 * records written without consuming, the first 16 are stored and exactly
 * 84 are counted in the ring's `dropped` and in taskscope_dropped_events();
 * once drained, the ring takes records again and the count stays put.
 */
#include "agent/shim_internal.h"
#include "ring-reader.h"

int main(void)
{
	struct ts_ring_record got[16];
	struct rr r;
	int fd = -1;
	size_t n;

	CHECK(ts_shim_attach_memfd(2, 16, 4096, &fd) == 0);
	rr_open(&r, fd);

	/* Claim the slot and consume its THREAD record first. */
	taskscope_thread_name("dropper", TASKSCOPE_ROLE_OTHER);
	CHECK_EQ(rr_drain(&r, 0, got, 16), 1);
	CHECK_EQ(got[0].type, TS_REC_THREAD);

	for (uint64_t i = 0; i < 100; i++)
		taskscope_task_drop(1000 + i, TASKSCOPE_OUTCOME_CANCELLED);
	CHECK_EQ(rr_pending(&r, 0), 16);
	CHECK_EQ(rr_ring(&r, 0)->dropped, 84);
	CHECK_EQ(taskscope_dropped_events(), 84);
	CHECK_EQ(rr_header(&r)->noslot_dropped, 0);

	/* The stored ones are the first 16: nothing was overwritten. */
	n = rr_drain(&r, 0, got, 16);
	CHECK_EQ(n, 16);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(got[i].type, TS_REC_TASK_DROP);
		CHECK_EQ(got[i].task, 1000 + i);
		CHECK_EQ(got[i].flags, TASKSCOPE_OUTCOME_CANCELLED);
	}

	/* Room again: new records are stored, the drop count does not move. */
	for (uint64_t i = 0; i < 10; i++)
		taskscope_lock_release(2000 + i);
	n = rr_drain(&r, 0, got, 16);
	CHECK_EQ(n, 10);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(got[i].type, TS_REC_LOCK_RELEASE);
		CHECK_EQ(got[i].task, 2000 + i);
	}
	CHECK_EQ(taskscope_dropped_events(), 84);

	/* A full ring again: drops keep counting from where they were. */
	for (uint64_t i = 0; i < 20; i++)
		taskscope_lock_wait(3000 + i);
	CHECK_EQ(rr_ring(&r, 0)->dropped, 88);
	CHECK_EQ(taskscope_dropped_events(), 88);

	rr_close(&r);
	close(fd);
	ts_shim_detach();
	CHECK_EQ(taskscope_dropped_events(), 0); /* nothing attached */
	printf("ok: 16 stored, 84 then 88 dropped\n");
	return 0;
}
