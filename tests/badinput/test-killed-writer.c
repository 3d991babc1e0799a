/*
 * test-killed-writer.c: a target killed in the middle of writing. A forked
 * child plays two producer threads on a hand-built region, writing records
 * (and now and then a string) as fast as it can, while the parent drains
 * it; the parent then SIGKILLs the child wherever it happens to be and
 * drains what is left. Every event the parent gets must be exactly what
 * the child wrote (each record encodes its own sequence number, so ids,
 * timestamps, types, flags and names are all checkable), nothing may be
 * rejected or look corrupt, and records read plus records the child
 * dropped must add up to what the child attempted.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "collector/source_shm.h"
#include "tests/check.h"
#include "region.h"

#define CAP 256u
#define TID0 1000u
#define WANT_EVENTS 100000u
#define MAX_IDLE_DRAINS 5000000u

struct progress {
	uint64_t attempts; /* records the child has pushed or dropped */
};

static const uint16_t type_of[5] = { TS_REC_SPAWN, TS_REC_POLL_BEGIN, TS_REC_POLL_END, TS_REC_WAKE,
				     TS_REC_LOCK_ACQUIRED };
static const uint16_t ev_type_of[5] = { TS_EV_SPAWN, TS_EV_POLL_BEGIN, TS_EV_POLL_END, TS_EV_WAKE,
					TS_EV_LOCK_ACQUIRED };

static void child(const struct region *r, struct progress *p)
{
	region_claim(r, 0, TID0);
	region_claim(r, 1, TID0 + 1);
	for (uint64_t i = 1;; i++) {
		struct ts_ring_record rec = region_rec(type_of[i % 5], 0, i, i);

		if (i % 5 == 0) {
			rec.flags = (uint16_t)(i % 3);
			if (i % 64 == 0) {
				char name[32];

				snprintf(name, sizeof(name), "task-%" PRIu64, i);
				rec.a = region_string(r, name);
			}
		} else if (i % 5 != 1) {
			rec.flags = (uint16_t)(i & 1);
		}
		bool pushed = region_push(r, (uint32_t)(i & 1), &rec);

		__atomic_store_n(&p->attempts, i, __ATOMIC_RELEASE);
		/* Full: give the collector a turn, so the run mixes reads
		 * and drops instead of dropping nearly everything. */
		if (!pushed)
			sched_yield();
	}
}

struct seen {
	uint64_t events;
	uint64_t named;
	uint64_t dropped_events;
	uint64_t dropped_sum;
	uint64_t last_id[2];
};

static void check_event(const struct ts_event *ev, struct seen *s)
{
	uint32_t slot = ev->tid - TID0;
	uint64_t i = ev->id;

	CHECK_MSG(ev->tid == TID0 || ev->tid == TID0 + 1, "tid %u", ev->tid);
	if (slot > 1)
		return;
	if (ev->type == TS_EV_DROPPED) {
		CHECK(ev->arg > 0 && ev->arg <= UINT32_MAX);
		s->dropped_events++;
		s->dropped_sum += ev->arg;
		return;
	}
	s->events++;
	CHECK_MSG((i & 1) == slot, "id %" PRIu64 " came from slot %u", i, slot);
	CHECK_MSG(i > s->last_id[slot], "slot %u: id %" PRIu64 " after %" PRIu64, slot, i, s->last_id[slot]);
	s->last_id[slot] = i;
	CHECK_MSG(ev->ts == i, "id %" PRIu64 ": ts %" PRIu64, i, ev->ts);
	CHECK_MSG(ev->type == ev_type_of[i % 5], "id %" PRIu64 ": type %u", i, ev->type);
	if (ev->type == TS_EV_SPAWN) {
		CHECK(ev->kind == i % 3 && !ev->location);
		if (ev->name) {
			char want[32];

			snprintf(want, sizeof(want), "task-%" PRIu64, i);
			CHECK_MSG(i % 64 == 0 && strcmp(ev->name, want) == 0, "id %" PRIu64 ": name %s", i, ev->name);
			s->named++;
		}
	} else if (ev->type != TS_EV_POLL_BEGIN) {
		CHECK_MSG(ev->flags == ((i & 1) ? (ev->type == TS_EV_POLL_END ? TS_EVF_READY :
						    ev->type == TS_EV_WAKE ? TS_EVF_BY_REF : TS_EVF_SHARED) : 0),
			  "id %" PRIu64 ": flags %u", i, ev->flags);
	}
}

static void drain_and_check(struct ts_shm_source *src, struct ts_event_batch *b, struct seen *s)
{
	b->len = 0;
	CHECK(ts_shm_source_drain(src, b) == 0);
	for (size_t k = 0; k < b->len; k++)
		check_event(&b->events[k], s);
}

int main(void)
{
	struct ts_strpool *pool = NULL;
	struct ts_shm_source *src = NULL;
	struct ts_event_batch batch;
	struct ts_shm_stats st;
	struct seen seen = { 0 };
	struct progress *prog;
	struct region r;
	Taskscope__Hello h;
	uint64_t attempts, ring_dropped = 0, idle = 0;
	char err[256];
	int status = 0;
	pid_t pid;

	prog = mmap(NULL, sizeof(*prog), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (prog == MAP_FAILED || ts_strpool_new(1 << 20, &pool) < 0 || region_create(&r, 2, CAP, 4096, true) < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	region_hello(&r, &h);
	if (ts_shm_source_open(r.fd, &h, pool, &src, err, sizeof(err)) < 0) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	ts_event_batch_init(&batch);

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		child(&r, prog);
		_exit(0);
	}

	/* Drain alongside the child until it has produced plenty. */
	while (seen.events < WANT_EVENTS && idle < MAX_IDLE_DRAINS) {
		uint64_t before = seen.events;

		drain_and_check(src, &batch, &seen);
		if (seen.events == before) {
			idle++;
			sched_yield();
			if (idle % 1024 == 0 && waitpid(pid, &status, WNOHANG) == pid) {
				fprintf(stderr, "the child died on its own\n");
				return 1;
			}
		}
	}
	CHECK_MSG(idle < MAX_IDLE_DRAINS, "the child stopped producing");
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* What the dead target left behind. */
	drain_and_check(src, &batch, &seen);
	batch.len = 0;
	CHECK(ts_shm_source_drain(src, &batch) == 0 && batch.len == 0);

	attempts = __atomic_load_n(&prog->attempts, __ATOMIC_ACQUIRE);
	for (uint32_t slot = 0; slot < 2; slot++)
		ring_dropped += __atomic_load_n(&region_ring(&r, slot)->dropped, __ATOMIC_RELAXED);
	ts_shm_source_stats(src, &st);
	printf("child attempted %" PRIu64 ", parent read %" PRIu64 " (%" PRIu64 " named), child dropped %" PRIu64
	       " in %" PRIu64 " reports\n", attempts, st.records, seen.named, st.producer_dropped, seen.dropped_events);

	CHECK(st.rejected == 0 && st.corrupt_rings == 0 && st.lost == 0);
	CHECK(st.records == seen.events);
	CHECK(st.producer_dropped == seen.dropped_sum && ring_dropped == seen.dropped_sum);
	/* The child may have finished one more push than it counted. */
	CHECK_MSG(st.records + st.producer_dropped == attempts || st.records + st.producer_dropped == attempts + 1,
		  "%" PRIu64 " read + %" PRIu64 " dropped vs %" PRIu64 " attempted", st.records, st.producer_dropped,
		  attempts);
	CHECK(seen.named > 0);

	ts_event_batch_fini(&batch);
	ts_shm_source_free(src);
	region_destroy(&r, false);
	ts_strpool_free(pool);
	munmap(prog, sizeof(*prog));
	return check_result("test-killed-writer");
}
