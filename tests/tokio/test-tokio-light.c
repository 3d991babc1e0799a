/*
 * test-tokio-light.c: the Tokio attach's default (light) mode without a
 * process: tokio.bpf.c's records, as the kernel would send them, through
 * tokio_tasks.c into the model. No root needed.
 *
 * It checks the state word decoding (Tokio 1.24's layout: RUNNING 1,
 * COMPLETE 2, NOTIFIED 4, JOIN_INTEREST 8, CANCELLED 32, REF_ONE 64);
 * the idle tasks' waker counts read from memory (this process stands in
 * for the target), once per idle period, with a word that cannot be an
 * idle task's or an unmapped task leaving the count unknown (never a
 * lost_waker); the check that the target's memory can be read at all;
 * that a wake_by_ref inside a task's poll is a self-wake, that a task
 * polled again without such a wake gets one untimed wake that records no
 * scheduling delay, that an abort's poll is no wake, and that completions
 * and frees sent inside a poll (raw::poll as a uprobe session) end the
 * poll ready. Root runs one more case (a child that becomes nobody).
 *
 * Polls kept in their thread's slot and sent in batches: each becomes a
 * begin and an end, taken once whether read from the slot or its batch,
 * in time order with the drain's other records; the slot scan reports a
 * long poll's begin while it runs (a live blocked_worker), once, and the
 * poll's end then adds only the end; a poll nested in a slot poll and a poll whose slot
 * belongs to another thread send begin and end records and are counted
 * alongside; slots that are free, too young, or inconsistent are ignored.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf/tokio_internal.h"
#include "collector/attach.h"
#include "check.h"
#include "collector/model.h"
#include "collector/strpool.h"

#define PID 4242u
#define TID 4243u
#define MS 1000000ull

#define REF 64ull
#define NOTIFIED 4ull
#define JOIN 8ull

struct fixture {
	struct ts_strpool *pool;
	struct tk_tasks *tasks;
	struct ts_model *model;
	struct ts_event_batch batch;
	int warnings[TS_WARN_KIND_COUNT];
	uint64_t seq[TK_SLOTS];  /* feed_poll: each slot's next poll number */
};

static void on_warning(void *ctx, const struct ts_warning *w)
{
	struct fixture *f = ctx;

	if (w->kind < TS_WARN_KIND_COUNT)
		f->warnings[w->kind]++;
}

static void fixture_init_pid(struct fixture *f, bool waker_probes, uint32_t pid)
{
	struct ts_model_config cfg;
	struct ts_model_sink sink = { .ctx = f, .warning = on_warning };

	memset(f, 0, sizeof(*f));
	ts_model_config_default(&cfg);
	CHECK(ts_strpool_new(1 << 20, &f->pool) == 0);
	CHECK(ts_tokio_tasks_new(pid, waker_probes, f->pool, NULL, &f->tasks) == 0);
	CHECK(ts_model_new(&cfg, &sink, &f->model) == 0);
	ts_event_batch_init(&f->batch);
}

static void fixture_init(struct fixture *f, bool waker_probes)
{
	fixture_init_pid(f, waker_probes, PID);
}

static void fixture_fini(struct fixture *f)
{
	ts_event_batch_fini(&f->batch);
	ts_model_free(f->model);
	ts_tokio_tasks_free(f->tasks);
	ts_strpool_free(f->pool);
}

/* One record through tokio_tasks.c and its events into the model. */
static void rec(struct fixture *f, uint16_t type, uint16_t flags, uint64_t ts, uint64_t task, uint64_t cookie)
{
	struct tk_rec r = { .ts = ts, .task = task, .cookie = cookie, .tid = TID, .type = type, .flags = flags };

	f->batch.len = 0;
	CHECK(ts_tokio_tasks_record(f->tasks, &r, sizeof(r), &f->batch) == 0);
	for (size_t i = 0; i < f->batch.len; i++)
		ts_model_apply(f->model, &f->batch.events[i]);
}

static void spawn(struct fixture *f, uint64_t ts, uint64_t task)
{
	struct tk_spawn_rec *s = calloc(1, sizeof(*s));

	CHECK(s != NULL);
	if (!s)
		return;
	s->h = (struct tk_rec){ .ts = ts, .task = task, .tid = TID, .type = TK_REC_SPAWN, .cookie = TK_SPAWN_TASK };
	f->batch.len = 0;
	CHECK(ts_tokio_tasks_record(f->tasks, s, sizeof(*s), &f->batch) == 0);
	for (size_t i = 0; i < f->batch.len; i++)
		ts_model_apply(f->model, &f->batch.events[i]);
	free(s);
}

static void feed(struct fixture *f, uint16_t type, uint16_t flags, uint64_t ts, uint32_t tid, uint64_t task,
		 uint64_t cookie);
static size_t count_events(const struct fixture *f, uint16_t type, uint64_t task);
static void flush(struct fixture *f);

static void decode(void)
{
	bool notified = true;
	uint64_t wakers = 99;

	/* owner + JoinHandle, nothing else: no waker */
	CHECK(ts_tokio_state_decode(2 * REF | JOIN, &notified, &wakers));
	CHECK(!notified && wakers == 0);
	/* detached (no JoinHandle), one waker */
	CHECK(ts_tokio_state_decode(2 * REF, &notified, &wakers));
	CHECK(!notified && wakers == 1);
	/* woken, not polled yet: the queued notification holds a reference too */
	CHECK(ts_tokio_state_decode(4 * REF | JOIN | NOTIFIED, &notified, &wakers));
	CHECK(notified && wakers == 1);
	/* not an idle task's word: running, complete, cancelled, too few
	 * references, a pointer's worth of them */
	CHECK(!ts_tokio_state_decode(3 * REF | JOIN | 1, &notified, &wakers));
	CHECK(!ts_tokio_state_decode(3 * REF | JOIN | 2, &notified, &wakers));
	CHECK(!ts_tokio_state_decode(3 * REF | JOIN | 32, &notified, &wakers));
	CHECK(!ts_tokio_state_decode(1 * REF | JOIN, &notified, &wakers));
	CHECK(!ts_tokio_state_decode(0, &notified, &wakers));
	CHECK(!ts_tokio_state_decode(2 * REF | JOIN | NOTIFIED, &notified, &wakers));
	CHECK(!ts_tokio_state_decode(0x00005555deadbe00ull, &notified, &wakers));
}

/* Wakes without waker probes: a wake_by_ref inside the task's own poll is
 * a self-wake (the task is rescheduled at the poll's end); a task polled
 * again after a pending poll that nobody woke with a time gets one untimed
 * wake with no scheduling delay (the wait counts as idle); a wake_by_ref
 * between two polls is a timed wake and no untimed one is added; an
 * abort's poll is no wake. */
static void wakes(void)
{
	struct fixture f;
	struct ts_task *t;

	fixture_init(&f, false);
	spawn(&f, 1 * MS, 0x1000);
	rec(&f, TK_REC_POLL_BEGIN, 0, 2 * MS, 0x1000, 0);
	rec(&f, TK_REC_WAKE_BY_REF, 0, 2 * MS + 500000, 0x1000, 0);
	rec(&f, TK_REC_POLL_END, 0, 3 * MS, 0x1000, 0);
	t = ts_model_find_task(f.model, PID, 0x1000);
	CHECK(t != NULL);
	if (!t)
		goto out;
	CHECK_EQ(t->wakes, 1);
	CHECK_EQ(t->self_wakes, 1);
	CHECK_EQ(t->state, TS_TASK_SCHEDULED);
	CHECK(t->wakers_unknown);
	CHECK_EQ(t->sched_hist.count, 1);         /* spawn -> first poll */
	/* poll 2, after the self-wake: no other wake */
	rec(&f, TK_REC_POLL_BEGIN, 0, 4 * MS, 0x1000, 0);
	CHECK_EQ(t->sched_hist.count, 2);
	rec(&f, TK_REC_POLL_END, 0, 5 * MS, 0x1000, 0);
	CHECK_EQ(t->state, TS_TASK_IDLE);
	CHECK_EQ(t->wakes, 1);
	/* polled again, woken by someone we cannot see: one untimed wake */
	rec(&f, TK_REC_POLL_BEGIN, 0, 600 * MS, 0x1000, 0);
	CHECK_EQ(t->sched_hist.count, 2);
	CHECK_EQ(t->idle_ns, 595 * MS);
	rec(&f, TK_REC_POLL_END, 0, 601 * MS, 0x1000, 0);
	CHECK_EQ(t->wakes, 2);
	CHECK_EQ(t->self_wakes, 1);
	/* a wake_by_ref from another thread between two polls: timed, no
	 * untimed one besides */
	f.batch.len = 0;
	feed(&f, TK_REC_WAKE_BY_REF, 0, 650 * MS, TID + 1, 0x1000, 0);
	feed(&f, TK_REC_POLL_BEGIN, 0, 660 * MS, TID, 0x1000, 0);
	feed(&f, TK_REC_POLL_END, 0, 661 * MS, TID, 0x1000, 0);
	flush(&f);
	CHECK_EQ(t->wakes, 3);
	CHECK_EQ(t->self_wakes, 1);
	CHECK_EQ(t->sched_hist.count, 3);
	CHECK_EQ(t->sched_ns, 1 * MS + 1 * MS + 10 * MS);  /* spawn, end of the self-woken poll, the wake */
	/* an unseen wake, then a self-wake inside the poll: both count */
	rec(&f, TK_REC_POLL_BEGIN, 0, 700 * MS, 0x1000, 0);
	rec(&f, TK_REC_WAKE_BY_REF, 0, 700 * MS + 500000, 0x1000, 0);
	rec(&f, TK_REC_POLL_END, 0, 701 * MS, 0x1000, 0);
	CHECK_EQ(t->wakes, 5);
	CHECK_EQ(t->self_wakes, 2);
	/* an abort's poll (cancelled, completes it) is no wake */
	rec(&f, TK_REC_POLL_BEGIN, 0, 800 * MS, 0x1000, 0);
	rec(&f, TK_REC_COMPLETE, TK_F_CANCELLED, 800 * MS + 10, 0x1000, 0);
	rec(&f, TK_REC_POLL_END, 0, 801 * MS, 0x1000, 0);
	CHECK_EQ(t->wakes, 5);
	CHECK_EQ(t->polls, 6);
	CHECK_EQ(t->state, TS_TASK_DONE);
	CHECK_EQ(t->outcome, TS_OUTCOME_CANCELLED);
out:
	fixture_fini(&f);
}

/* The live waker count of idle tasks, read from the target's memory (this
 * process stands in for it: the "headers" are words here): once a task
 * has been idle TK_IDLE_CHECK_NS since a pending poll, once per idle
 * period; none for a task woken since (NOTIFIED, or a wake_by_ref) or
 * polled since; an unreadable or impossible word leaves the count unknown
 * and does not stop the other reads. lost_waker follows. */
static void idle_wakers(void)
{
	/* no waker, one waker, woken (queued), garbage */
	static uint64_t words[4] = { 2 * REF | JOIN, 3 * REF | JOIN, 4 * REF | JOIN | NOTIFIED, 0x00005555deadbe00ull };
	const uint32_t pid = (uint32_t)getpid();
	uint64_t hdr[6], end = 3 * MS;
	struct ts_task *t[6];
	struct fixture f;

	for (int i = 0; i < 4; i++)
		hdr[i] = (uint64_t)(uintptr_t)&words[i];
	hdr[4] = 0x10;          /* unmapped */
	hdr[5] = (uint64_t)(uintptr_t)&words[0] + 0x40000000000ull;  /* unmapped too, far away */
	fixture_init_pid(&f, false, pid);
	for (int i = 0; i < 6; i++) {
		spawn(&f, 1 * MS, hdr[i]);
		rec(&f, TK_REC_POLL_BEGIN, 0, 2 * MS, hdr[i], 0);
		rec(&f, TK_REC_POLL_END, 0, end, hdr[i], 0);
		t[i] = ts_model_find_task(f.model, pid, hdr[i]);
		CHECK(t[i] && t[i]->state == TS_TASK_IDLE && t[i]->wakers_unknown);
		if (!t[i])
			goto out;
	}
	f.batch.len = 0;
	CHECK(ts_tokio_tasks_check_idle(f.tasks, end + TK_IDLE_CHECK_NS - 1, &f.batch) == 0);
	CHECK_EQ(f.batch.len, 0);
	CHECK(ts_tokio_tasks_check_idle(f.tasks, end + TK_IDLE_CHECK_NS, &f.batch) == 0);
	CHECK_EQ(f.batch.len, 2);
	CHECK_EQ(count_events(&f, TS_EV_WAKERS, hdr[0]), 1);
	CHECK_EQ(count_events(&f, TS_EV_WAKERS, hdr[1]), 1);
	CHECK_EQ(ts_tokio_tasks_state_unknown(f.tasks), 3);
	flush(&f);
	CHECK(!t[0]->wakers_unknown && t[0]->wakers == 0);
	CHECK(!t[1]->wakers_unknown && t[1]->wakers == 1);
	for (int i = 2; i < 6; i++)
		CHECK(t[i]->wakers_unknown);
	ts_model_tick(f.model, 200 * MS);
	CHECK_EQ(f.warnings[TS_WARN_LOST_WAKER], 1);
	CHECK(t[0]->warnings & (1u << TS_WARN_LOST_WAKER));
	/* once per idle period */
	CHECK(ts_tokio_tasks_check_idle(f.tasks, 300 * MS, &f.batch) == 0);
	CHECK_EQ(f.batch.len, 0);
	/* polled again (0 and 1), then 0 woken by a wake_by_ref, 1 polled
	 * once more before its first idle period was read: nothing for 0, one
	 * read for 1 */
	for (int i = 0; i < 2; i++) {
		rec(&f, TK_REC_POLL_BEGIN, 0, 400 * MS, hdr[i], 0);
		rec(&f, TK_REC_POLL_END, 0, 401 * MS, hdr[i], 0);
	}
	rec(&f, TK_REC_WAKE_BY_REF, 0, 402 * MS, hdr[0], 0);
	rec(&f, TK_REC_POLL_BEGIN, 0, 410 * MS, hdr[1], 0);
	rec(&f, TK_REC_POLL_END, 0, 411 * MS, hdr[1], 0);
	f.batch.len = 0;
	CHECK(ts_tokio_tasks_check_idle(f.tasks, 600 * MS, &f.batch) == 0);
	CHECK_EQ(f.batch.len, 1);
	CHECK_EQ(count_events(&f, TS_EV_WAKERS, hdr[1]), 1);
	/* a count read before a poll the model has seen since is not taken */
	rec(&f, TK_REC_POLL_BEGIN, 0, 700 * MS, hdr[1], 0);
	ts_model_apply(f.model, &(struct ts_event){ .ts = 650 * MS, .pid = pid, .type = TS_EV_WAKERS,
						    .id = hdr[1], .arg = 7 });
	CHECK(t[1]->state == TS_TASK_RUNNING && t[1]->wakers != 7);
out:
	fixture_fini(&f);
}

/* A task freed inside its own poll (sent as it happens when the poll is a
 * uprobe session) ends ready, and is not read as an idle task. Nothing
 * reaches the model as a lost waker. */
static void inside_poll(void)
{
	struct fixture f;
	struct ts_task *t;

	fixture_init(&f, false);
	spawn(&f, 1 * MS, 0x2000);
	rec(&f, TK_REC_POLL_BEGIN, 0, 2 * MS, 0x2000, 0);
	rec(&f, TK_REC_COMPLETE, 0, 2 * MS + 100, 0x2000, 0);
	rec(&f, TK_REC_DEALLOC, 0, 2 * MS + 200, 0x2000, 0);
	rec(&f, TK_REC_POLL_END, 0, 3 * MS, 0x2000, 0);
	t = ts_model_find_task(f.model, PID, 0x2000);
	CHECK(t && t->state == TS_TASK_DONE && t->outcome == TS_OUTCOME_OK && t->polls == 1);
	/* a panic caught inside a poll-as-session names no task */
	spawn(&f, 4 * MS, 0x3000);
	rec(&f, TK_REC_POLL_BEGIN, 0, 5 * MS, 0x3000, 0);
	rec(&f, TK_REC_PANIC, 0, 5 * MS + 50, 0, 0);
	rec(&f, TK_REC_COMPLETE, 0, 5 * MS + 100, 0x3000, 0);
	rec(&f, TK_REC_POLL_END, 0, 6 * MS, 0x3000, 0);
	t = ts_model_find_task(f.model, PID, 0x3000);
	CHECK(t && t->state == TS_TASK_DONE && t->outcome == TS_OUTCOME_PANICKED);
	ts_model_tick(f.model, 500 * MS);
	CHECK_EQ(f.warnings[TS_WARN_LOST_WAKER], 0);
	CHECK_EQ(f.warnings[TS_WARN_TASK_PANICKED], 1);
	fixture_fini(&f);
}

/* Full mode: wakes come from probes, none is inferred. */
static void full_mode(void)
{
	struct fixture f;
	struct ts_task *t;

	fixture_init(&f, true);
	spawn(&f, 1 * MS, 0x4000);
	rec(&f, TK_REC_POLL_BEGIN, 0, 2 * MS, 0x4000, 0);
	rec(&f, TK_REC_WAKER_CLONE, 0, 2 * MS + 10, 0x4000, 0);
	rec(&f, TK_REC_POLL_END, 0, 3 * MS, 0x4000, 0);
	rec(&f, TK_REC_WAKE, 0, 4 * MS, 0x4000, 0);
	rec(&f, TK_REC_POLL_BEGIN, 0, 5 * MS, 0x4000, 0);
	t = ts_model_find_task(f.model, PID, 0x4000);
	CHECK(t && t->wakes == 1 && t->self_wakes == 0 && t->wakers == 0 && t->waker_clones == 1);
	CHECK(t && t->sched_hist.count == 2 && t->sched_ns == 2 * MS);
	fixture_fini(&f);
}


/* Records fed without applying; flush() sorts their events by time (as
 * the collector does) and applies them. */
static void feed(struct fixture *f, uint16_t type, uint16_t flags, uint64_t ts, uint32_t tid, uint64_t task,
		 uint64_t cookie)
{
	struct tk_rec r = { .ts = ts, .task = task, .cookie = cookie, .tid = tid, .type = type, .flags = flags };

	CHECK(ts_tokio_tasks_record(f->tasks, &r, sizeof(r), &f->batch) == 0);
}

/* One poll sent as a batch of one (the kernel sends TK_BATCH). */
static void feed_poll(struct fixture *f, uint16_t flags, uint64_t begin, uint64_t end, uint32_t tid, uint64_t task)
{
	struct tk_polls_rec r = {
		.h = { .ts = end, .cookie = f->seq[tid & (TK_SLOTS - 1)]++, .tid = tid, .type = TK_REC_POLLS },
		.slot = tid & (TK_SLOTS - 1),
		.n = 1,
		.p[0] = { .end = end, .begin = begin, .task = task, .tid = tid, .flags = flags },
	};

	CHECK(ts_tokio_tasks_record(f->tasks, &r, sizeof(r), &f->batch) == 0);
}

static size_t count_events(const struct fixture *f, uint16_t type, uint64_t task)
{
	size_t n = 0;

	for (size_t i = 0; i < f->batch.len; i++)
		n += f->batch.events[i].type == type && f->batch.events[i].id == task;
	return n;
}

static void flush(struct fixture *f)
{
	ts_event_batch_sort_from(&f->batch, 0);
	for (size_t i = 0; i < f->batch.len; i++)
		ts_model_apply(f->model, &f->batch.events[i]);
	f->batch.len = 0;
}

/* A whole poll: begin and end from one batch entry, in time order with
 * what the thread sent meanwhile (a self-wake inside it); a completion,
 * free or panic learnt inside the poll in its flags. */
static void whole_poll(void)
{
	struct fixture f;
	struct ts_task *t;

	fixture_init(&f, false);
	spawn(&f, 1 * MS, 0x5000);
	f.batch.len = 0;
	feed(&f, TK_REC_WAKE_BY_REF, 0, 2 * MS + 500000, TID, 0x5000, 0);
	feed_poll(&f, 0, 2 * MS, 3 * MS, TID, 0x5000);
	CHECK_EQ(count_events(&f, TS_EV_POLL_BEGIN, 0x5000), 1);
	CHECK_EQ(count_events(&f, TS_EV_POLL_END, 0x5000), 1);
	flush(&f);
	t = ts_model_find_task(f.model, PID, 0x5000);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_EQ(t->polls, 1);
	CHECK_EQ(t->busy_ns, 1 * MS);
	CHECK_EQ(t->self_wakes, 1);
	CHECK_EQ(t->state, TS_TASK_SCHEDULED);
	feed_poll(&f, TK_F_READY | TK_F_DEALLOC, 4 * MS, 6 * MS, TID, 0x5000);
	flush(&f);
	t = ts_model_find_task(f.model, PID, 0x5000);
	CHECK(t && t->polls == 2 && t->state == TS_TASK_DONE && t->outcome == TS_OUTCOME_OK);
	/* a panic caught inside the poll */
	spawn(&f, 7 * MS, 0x6000);
	feed_poll(&f, TK_F_READY | TK_F_PANICKED, 8 * MS, 9 * MS, TID, 0x6000);
	flush(&f);
	t = ts_model_find_task(f.model, PID, 0x6000);
	CHECK(t && t->state == TS_TASK_DONE && t->outcome == TS_OUTCOME_PANICKED);
	/* a record ending before it began is refused */
	feed_poll(&f, 0, 10 * MS, 9 * MS, TID, 0x7000);
	CHECK_EQ(f.batch.len, 0);
	CHECK_EQ(ts_tokio_tasks_rejected(f.tasks), 1);
	fixture_fini(&f);
}

/* The slot scan: a poll running for 5 ms or more gets its begin while it
 * runs (blocked_worker is raised before it ends), once; its record then
 * sends only the end. */
static void slot_scan(void)
{
	struct tk_slot *slots = calloc(TK_SLOTS, sizeof(*slots));
	struct tk_slot *sl = slots ? &slots[TID & (TK_SLOTS - 1)] : NULL;
	struct fixture f;
	struct ts_task *t;

	CHECK(slots != NULL);
	if (!slots)
		return;
	fixture_init(&f, false);
	spawn(&f, 1 * MS, 0x8000);
	f.batch.len = 0;
	*sl = (struct tk_slot){ .owner = TID, .hdr = 0x8000, .begin = 10 * MS };
	CHECK(ts_tokio_tasks_scan(f.tasks, slots, TK_SLOTS, 14 * MS, &f.batch) == 0);
	CHECK_EQ(f.batch.len, 0);   /* 4 ms: its record will come in time */
	CHECK(ts_tokio_tasks_scan(f.tasks, slots, TK_SLOTS, 20 * MS, &f.batch) == 0);
	CHECK_EQ(count_events(&f, TS_EV_POLL_BEGIN, 0x8000), 1);
	CHECK(f.batch.len >= 1 && f.batch.events[f.batch.len - 1].ts == 10 * MS &&
	      f.batch.events[f.batch.len - 1].tid == TID);
	flush(&f);
	t = ts_model_find_task(f.model, PID, 0x8000);
	CHECK(t && t->state == TS_TASK_RUNNING);
	ts_model_tick(f.model, 150 * MS);
	CHECK_EQ(f.warnings[TS_WARN_BLOCKED_WORKER], 1);  /* live: the poll still runs */
	CHECK(ts_tokio_tasks_scan(f.tasks, slots, TK_SLOTS, 170 * MS, &f.batch) == 0);
	CHECK_EQ(f.batch.len, 0);   /* once */
	feed_poll(&f, 0, 10 * MS, 200 * MS, TID, 0x8000);
	CHECK_EQ(count_events(&f, TS_EV_POLL_BEGIN, 0x8000), 0);
	CHECK_EQ(count_events(&f, TS_EV_POLL_END, 0x8000), 1);
	flush(&f);
	t = ts_model_find_task(f.model, PID, 0x8000);
	CHECK(t && t->polls == 1 && t->state == TS_TASK_IDLE && t->busy_ns == 190 * MS);
	/* the slot read before the program freed it, after its record: no begin */
	CHECK(ts_tokio_tasks_scan(f.tasks, slots, TK_SLOTS, 210 * MS, &f.batch) == 0);
	CHECK_EQ(f.batch.len, 0);
	/* the next long poll of the thread is begun early again */
	*sl = (struct tk_slot){ .owner = TID, .hdr = 0x8000, .begin = 300 * MS };
	CHECK(ts_tokio_tasks_scan(f.tasks, slots, TK_SLOTS, 320 * MS, &f.batch) == 0);
	CHECK_EQ(count_events(&f, TS_EV_POLL_BEGIN, 0x8000), 1);
	flush(&f);
	/* ignored: a free slot, an owner that does not belong in this slot,
	 * no task, a begin in the future */
	*sl = (struct tk_slot){ .owner = 0, .hdr = 0x8000, .begin = 300 * MS };
	slots[5] = (struct tk_slot){ .owner = TID, .hdr = 0x9000, .begin = 300 * MS };
	slots[6] = (struct tk_slot){ .owner = 6, .hdr = 0, .begin = 300 * MS };
	slots[7] = (struct tk_slot){ .owner = 7, .hdr = 0x9000, .begin = 900 * MS };
	CHECK(ts_tokio_tasks_scan(f.tasks, slots, TK_SLOTS, 400 * MS, &f.batch) == 0);
	CHECK_EQ(f.batch.len, 0);
	fixture_fini(&f);
	free(slots);
}

/* A poll nested in a slot poll (same thread) and a poll whose slot
 * another thread holds (tids equal modulo TK_SLOTS) send begin and end
 * records, with completions matched to them in user space; the slot poll
 * around or beside them sends its one record. All are counted. */
static void nested_and_collision(void)
{
	const uint32_t other = TID + TK_SLOTS;
	struct fixture f;
	struct ts_task *outer, *inner, *b;

	fixture_init(&f, false);
	spawn(&f, 1 * MS, 0xa000);
	spawn(&f, 1 * MS, 0xb000);
	spawn(&f, 1 * MS, 0xc000);
	f.batch.len = 0;
	/* outer 0xa000 in the slot from 2 ms to 9 ms; inner 0xb000 inside it */
	feed(&f, TK_REC_POLL_BEGIN, 0, 3 * MS, TID, 0xb000, 0);
	/* meanwhile another thread, whose slot is TID's: 0xc000 */
	feed(&f, TK_REC_POLL_BEGIN, 0, 3 * MS + 10, other, 0xc000, 0);
	feed(&f, TK_REC_COMPLETE, 0, 4 * MS, TID, 0xb000, 0);
	feed(&f, TK_REC_POLL_END, 0, 5 * MS, TID, 0xb000, 0);
	feed(&f, TK_REC_DEALLOC, 0, 5 * MS + 10, other, 0xc000, 0);
	feed(&f, TK_REC_POLL_END, 0, 6 * MS, other, 0xc000, 0);
	feed_poll(&f, 0, 2 * MS, 9 * MS, TID, 0xa000);
	CHECK_EQ(count_events(&f, TS_EV_POLL_BEGIN, 0xa000), 1);
	CHECK_EQ(count_events(&f, TS_EV_POLL_BEGIN, 0xb000), 1);
	CHECK_EQ(count_events(&f, TS_EV_POLL_BEGIN, 0xc000), 1);
	flush(&f);
	outer = ts_model_find_task(f.model, PID, 0xa000);
	inner = ts_model_find_task(f.model, PID, 0xb000);
	b = ts_model_find_task(f.model, PID, 0xc000);
	CHECK(outer && outer->polls == 1 && outer->state == TS_TASK_IDLE && outer->busy_ns == 7 * MS);
	CHECK(inner && inner->polls == 1 && inner->state == TS_TASK_DONE && inner->outcome == TS_OUTCOME_OK);
	CHECK(b && b->polls == 1 && b->state == TS_TASK_DONE);
	CHECK_EQ(ts_tokio_tasks_rejected(f.tasks), 0);
	fixture_fini(&f);
}

static struct tk_pend pend(uint64_t begin, uint64_t end, uint64_t task)
{
	return (struct tk_pend){ .end = end, .begin = begin, .task = task, .tid = TID };
}

/* Polls batched in a slot: those waiting in the slot are taken at each
 * drain and not again when their batch arrives; the batch adds the rest.
 * A drain's records and slot polls become events in time order (a drop
 * read from the ring buffer before the polls that preceded it in a batch).
 * A batch that never comes (the ring buffer was full) holds the slot's
 * polls back for TK_BATCH_LOST_NS only. */
static void batches(void)
{
	const uint32_t si = TID & (TK_SLOTS - 1);
	struct tk_slot *slots = calloc(TK_SLOTS, sizeof(*slots));
	struct tk_polls_rec r = { .h = { .tid = TID, .type = TK_REC_POLLS }, .slot = si, .n = TK_BATCH };
	struct fixture f;
	struct ts_task *t;

	CHECK(slots != NULL);
	if (!slots)
		return;
	fixture_init(&f, false);
	spawn(&f, 1 * MS, 0x5000);
	spawn(&f, 1 * MS, 0x6000);
	f.batch.len = 0;
	/* drain 1: three polls of 0x5000 wait in the slot */
	for (int i = 0; i < 3; i++)
		slots[si].pend[i] = pend((2 + 2 * (uint64_t)i) * MS, (3 + 2 * (uint64_t)i) * MS, 0x5000);
	slots[si].npend = 3;
	CHECK(ts_tokio_tasks_take_slots(f.tasks, slots, TK_SLOTS, 10 * MS) == 0);
	CHECK(ts_tokio_tasks_flush(f.tasks, &f.batch) == 0);
	CHECK_EQ(count_events(&f, TS_EV_POLL_END, 0x5000), 3);
	flush(&f);
	/* drain 2: the batch of 8 arrives (its last five are new polls of
	 * 0x6000, read after the drop of 0x6000 that followed them), and the
	 * slot has started the next batch */
	for (int i = 0; i < TK_BATCH; i++)
		r.p[i] = i < 3 ? slots[si].pend[i]
			       : pend((20 + 2 * (uint64_t)i) * MS, (21 + 2 * (uint64_t)i) * MS, 0x6000);
	r.h.ts = r.p[TK_BATCH - 1].end;
	r.h.cookie = 0;
	CHECK(ts_tokio_tasks_take(f.tasks, &(struct tk_rec){ .ts = 40 * MS, .task = 0x6000, .tid = TID + 1,
							      .type = TK_REC_DEALLOC }, sizeof(struct tk_rec)) == 0);
	CHECK(ts_tokio_tasks_take(f.tasks, &r, sizeof(r)) == 0);
	slots[si].seq = TK_BATCH;
	slots[si].pend[0] = pend(50 * MS, 51 * MS, 0x5000);
	slots[si].npend = 1;
	CHECK(ts_tokio_tasks_take_slots(f.tasks, slots, TK_SLOTS, 60 * MS) == 0);
	CHECK(ts_tokio_tasks_flush(f.tasks, &f.batch) == 0);
	CHECK_EQ(count_events(&f, TS_EV_POLL_END, 0x5000), 1);
	CHECK_EQ(count_events(&f, TS_EV_POLL_END, 0x6000), 5);
	CHECK_EQ(count_events(&f, TS_EV_TASK_DROP, 0x6000), 1);
	for (size_t i = 1; i < f.batch.len; i++)
		CHECK(f.batch.events[i - 1].ts <= f.batch.events[i].ts);
	flush(&f);
	t = ts_model_find_task(f.model, PID, 0x5000);
	CHECK(t && t->polls == 4);
	t = ts_model_find_task(f.model, PID, 0x6000);  /* dropped after its polls, not alive again */
	CHECK(t && t->polls == 5 && t->state == TS_TASK_DONE);
	/* drain 3: nothing new in the slot, nothing again */
	CHECK(ts_tokio_tasks_take_slots(f.tasks, slots, TK_SLOTS, 80 * MS) == 0);
	CHECK(ts_tokio_tasks_flush(f.tasks, &f.batch) == 0);
	CHECK_EQ(f.batch.len, 0);
	/* a flush of batch 8.. that the ring buffer lost: the slot is at 16
	 * with one poll, held back until TK_BATCH_LOST_NS have passed */
	slots[si].seq = 2 * TK_BATCH;
	slots[si].pend[0] = pend(90 * MS, 91 * MS, 0x5000);
	CHECK(ts_tokio_tasks_take_slots(f.tasks, slots, TK_SLOTS, 100 * MS) == 0);
	CHECK(ts_tokio_tasks_flush(f.tasks, &f.batch) == 0);
	CHECK_EQ(f.batch.len, 0);
	CHECK(ts_tokio_tasks_take_slots(f.tasks, slots, TK_SLOTS, 100 * MS + TK_BATCH_LOST_NS) == 0);
	CHECK(ts_tokio_tasks_flush(f.tasks, &f.batch) == 0);
	CHECK_EQ(count_events(&f, TS_EV_POLL_END, 0x5000), 1);
	flush(&f);
	/* out of range: a slot index, a count */
	r.slot = TK_SLOTS;
	CHECK(ts_tokio_tasks_record(f.tasks, &r, sizeof(r), &f.batch) == 0);
	r.slot = si;
	r.n = TK_BATCH + 1;
	CHECK(ts_tokio_tasks_record(f.tasks, &r, sizeof(r), &f.batch) == 0);
	CHECK(ts_tokio_tasks_record(f.tasks, &r, sizeof(r) - 1, &f.batch) == 0);
	CHECK_EQ(f.batch.len, 0);
	CHECK_EQ(ts_tokio_tasks_rejected(f.tasks), 3);
	fixture_fini(&f);
	free(slots);
}

/* Whether the default mode can read the target's memory: it can read
 * its own; a pid that does not exist is an error; and a process of
 * another user, without CAP_SYS_PTRACE, gets one line saying what is lost
 * (checked as root: a child that becomes nobody asks about its parent). */
static void memory_check(void)
{
	char err[256] = "";
	pid_t child;
	int status = -1;

	CHECK_EQ(ts_tokio_memory_check((uint32_t)getpid(), err, sizeof(err)), 0);
	CHECK(ts_tokio_memory_check(0x3ffffff0u, err, sizeof(err)) < 0);
	if (getuid() != 0)
		return;
	child = fork();
	if (child == 0) {
		int r;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		r = ts_tokio_memory_check((uint32_t)getppid(), err, sizeof(err));
		_exit(r == -EPERM && strstr(err, "CAP_SYS_PTRACE") && strstr(err, "lost_waker") ? 0 : 1);
	}
	CHECK(child > 0);
	if (child > 0)
		waitpid(child, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	decode();
	wakes();
	idle_wakers();
	inside_poll();
	full_mode();
	whole_poll();
	slot_scan();
	nested_and_collision();
	batches();
	memory_check();
	return check_result("test-tokio-light");
}
