/*
 * test-wrap.c: a ring of 8 records written and consumed many times over
 * keeps every record, in order, with its contents intact, across many
 * wrap-arounds of the free-running head and tail.
 */
#include "agent/shim_internal.h"
#include "ring-reader.h"

#include <unistd.h>

int main(void)
{
	struct ts_ring_record got[8];
	struct rr r;
	uint64_t next = 1, seen = 1, last_ts = 0;
	int fd = -1;
	size_t n;

	CHECK(ts_shim_attach_memfd(4, 8, 4096, &fd) == 0);
	rr_open(&r, fd);
	CHECK_EQ(r.capacity, 8);
	CHECK(taskscope_enabled());

	taskscope_thread_name("wrapper", TASKSCOPE_ROLE_WORKER);
	CHECK_EQ(rr_state(&r, 0), TS_SLOT_ACTIVE);
	CHECK_EQ(rr_ring(&r, 0)->tid, gettid());
	CHECK_EQ(rr_ring(&r, 0)->generation, 1);
	n = rr_drain(&r, 0, got, 8);
	CHECK_EQ(n, 1);
	CHECK_EQ(got[0].type, TS_REC_THREAD);
	CHECK_EQ(got[0].flags, TASKSCOPE_ROLE_WORKER);
	CHECK_EQ(got[0].task, gettid());
	CHECK(rr_string(&r, got[0].a) && strcmp(rr_string(&r, got[0].a), "wrapper") == 0);
	last_ts = got[0].ts;

	/* Batches of 1..8 records: head and tail wrap the 8 slots ~1100 times. */
	for (int round = 0; round < 2000; round++) {
		int batch = 1 + round % 8;

		for (int i = 0; i < batch; i++) {
			switch (next % 3) {
			case 0:
				taskscope_poll_begin(next);
				break;
			case 1:
				taskscope_poll_end(next, (int)(next & 4));
				break;
			default:
				taskscope_wake_by_ref(next);
				break;
			}
			next++;
		}
		n = rr_drain(&r, 0, got, 8);
		CHECK_EQ(n, batch);
		for (size_t i = 0; i < n; i++, seen++) {
			CHECK_EQ(got[i].task, seen);
			CHECK(got[i].ts >= last_ts);
			last_ts = got[i].ts;
			CHECK_EQ(got[i].reserved, 0);
			CHECK_EQ(got[i].a, 0);
			switch (seen % 3) {
			case 0:
				CHECK_EQ(got[i].type, TS_REC_POLL_BEGIN);
				CHECK_EQ(got[i].flags, 0);
				break;
			case 1:
				CHECK_EQ(got[i].type, TS_REC_POLL_END);
				CHECK_EQ(got[i].flags, (seen & 4) ? 1 : 0);
				break;
			default:
				CHECK_EQ(got[i].type, TS_REC_WAKE);
				CHECK_EQ(got[i].flags, 1);
				break;
			}
		}
	}
	CHECK_EQ(seen, next);
	CHECK(next > 8 * 1000);
	CHECK_EQ(rr_ring(&r, 0)->head, next); /* THREAD record + next-1 events */
	CHECK_EQ(rr_ring(&r, 0)->dropped, 0);
	CHECK_EQ(taskscope_dropped_events(), 0);
	/* Only this thread wrote. */
	for (uint32_t i = 1; i < r.slots; i++)
		CHECK_EQ(rr_state(&r, i), TS_SLOT_FREE);

	rr_close(&r);
	close(fd);
	ts_shim_detach();
	CHECK(!taskscope_enabled());
	printf("ok: %llu records through a ring of 8\n", (unsigned long long)next);
	return 0;
}
