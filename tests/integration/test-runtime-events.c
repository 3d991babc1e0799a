/*
 * test-runtime-events.c: minirt and the demo workload tell taskscope the
 * truth, checked event by event.
 *
 * This test links minirt and the demo workload without the shim and
 * defines the shim's entry points itself, recording every call in order
 * (under a mutex, so the order respects every happens-before the runtime
 * creates). It runs the demo for a moment, shuts it down and replays the
 * record the way the collector's model would: every task is spawned
 * before anything else happens to it and dropped exactly once, with every
 * waker it gave out returned in the end; polls nest properly; the live-waker count (clone +1, drop
 * -1, wake by value -1) never goes negative; healthy tasks never go idle
 * without a waker, never wake themselves and never hold a lock across
 * PENDING; and each footgun task shows its mistake.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "taskscope.h"
#include "workload.h"

#define MS (1000000ull)
#define RUN_MS 1500

/* ---- the fake shim -------------------------------------------------------- */

enum { E_THREAD = 1, E_SPAWN, E_POLL_BEGIN, E_POLL_END, E_WAKE, E_CLONE, E_WDROP, E_TDROP,
       E_RNEW, E_RDROP, E_LWAIT, E_LACQ, E_LREL };

struct rec {
	uint64_t ts;
	uint64_t id;
	uint64_t arg;
	const char *name;
	const char *file;
	uint32_t line;
	uint32_t tid;
	int type;
	int val; /* kind, outcome, role, ready, by_ref */
};

int taskscope_recording_ = 1;

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec *recs;
static size_t nrecs, caprecs;
static int rec_oom;

static void record(int type, uint64_t id, uint64_t arg, int val, const char *name, const char *file,
		   uint32_t line)
{
	struct timespec ts;
	struct rec r = { .id = id, .arg = arg, .name = name, .file = file, .line = line, .type = type, .val = val };

	r.tid = (uint32_t)syscall(SYS_gettid);
	pthread_mutex_lock(&rec_lock);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r.ts = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (nrecs == caprecs) {
		size_t ncap = caprecs ? caprecs * 2 : 65536;
		struct rec *n = realloc(recs, ncap * sizeof(*n));
		if (!n) {
			rec_oom = 1;
			pthread_mutex_unlock(&rec_lock);
			return;
		}
		recs = n;
		caprecs = ncap;
	}
	recs[nrecs++] = r;
	pthread_mutex_unlock(&rec_lock);
}

void taskscope_task_spawn_(uint64_t task, uint64_t parent, int kind, struct taskscope_site *site)
{
	record(E_SPAWN, task, parent, kind, site->name, site->file, site->line);
}

void taskscope_task_spawn_ids_(uint64_t task, uint64_t parent, int kind, uint32_t name_id, uint32_t loc_id)
{
	record(E_SPAWN, task, parent, kind, NULL, NULL, 0);
}

void taskscope_poll_begin_(uint64_t task) { record(E_POLL_BEGIN, task, 0, 0, NULL, NULL, 0); }
void taskscope_poll_end_(uint64_t task, int ready) { record(E_POLL_END, task, 0, ready, NULL, NULL, 0); }
void taskscope_wake_(uint64_t task, int by_ref) { record(E_WAKE, task, 0, by_ref, NULL, NULL, 0); }
void taskscope_waker_clone_(uint64_t task) { record(E_CLONE, task, 0, 0, NULL, NULL, 0); }
void taskscope_waker_drop_(uint64_t task) { record(E_WDROP, task, 0, 0, NULL, NULL, 0); }
void taskscope_task_drop_(uint64_t task, int outcome) { record(E_TDROP, task, 0, outcome, NULL, NULL, 0); }
void taskscope_resource_drop_(uint64_t res) { record(E_RDROP, res, 0, 0, NULL, NULL, 0); }
void taskscope_lock_wait_(uint64_t res) { record(E_LWAIT, res, 0, 0, NULL, NULL, 0); }
void taskscope_lock_acquired_(uint64_t res, int shared) { record(E_LACQ, res, 0, shared, NULL, NULL, 0); }
void taskscope_lock_release_(uint64_t res) { record(E_LREL, res, 0, 0, NULL, NULL, 0); }

void taskscope_resource_new_(uint64_t res, int kind, struct taskscope_site *site)
{
	record(E_RNEW, res, 0, kind, site->name, site->file, site->line);
}

uint32_t taskscope_intern(const char *s)
{
	return 0;
}

void taskscope_thread_name(const char *name, int role)
{
	record(E_THREAD, 0, 0, role, strdup(name), NULL, 0); /* the caller's buffer may go */
}

uint64_t taskscope_dropped_events(void)
{
	return 0;
}

/* Snapshots only happen when a collector attaches later: never here. */
int taskscope_task_enumerator_add(taskscope_enumerate_fn fn, void *ctx)
{
	(void)fn;
	(void)ctx;
	return 0;
}

void taskscope_task_enumerator_remove(taskscope_enumerate_fn fn, void *ctx)
{
	(void)fn;
	(void)ctx;
}

void taskscope_task_snapshot(uint64_t task, int kind, int state, int waker_held, struct taskscope_site *site)
{
	(void)task;
	(void)kind;
	(void)state;
	(void)waker_held;
	(void)site;
}

/* ---- the replay --------------------------------------------------------------- */

struct task {
	const char *name, *file;
	uint32_t line;
	uint64_t parent;
	int kind, spawned, drops, outcome;
	uint32_t running_tid;
	int woken_in_poll;
	int64_t wakers;
	uint64_t wakes, self_wakes, polls, poll_start, max_poll;
	int idle_without_waker, held_across_pending, waited_for_lock;
};

struct res {
	const char *name;
	int kind, created, dropped;
	uint32_t holder_tid, waiting_tid;
	uint64_t holder_task; /* the task being polled when acquired, or 0 */
};

struct thread {
	uint32_t tid;
	const char *name;
	int named; /* name is ours to free */
	int role;
	uint64_t polling; /* task id, 0 when not in a poll */
};

static int failures;

#define CHECK(cond, ...)                                                         \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                            \
			fputc('\n', stderr);                                     \
			failures++;                                              \
		}                                                                \
	} while (0)

/* Cap the noise from one broken invariant. */
#define VIOLATION(...)                                                           \
	do {                                                                     \
		if (violations++ < 20) {                                         \
			fprintf(stderr, "event %zu: ", i);                      \
			fprintf(stderr, __VA_ARGS__);                            \
			fputc('\n', stderr);                                     \
		}                                                                \
	} while (0)

static struct thread threads[64];
static size_t nthreads;

static struct thread *thread_get(uint32_t tid)
{
	for (size_t i = 0; i < nthreads; i++)
		if (threads[i].tid == tid)
			return &threads[i];
	if (nthreads == sizeof(threads) / sizeof(threads[0]))
		return NULL;
	threads[nthreads] = (struct thread){ .tid = tid, .name = "" };
	return &threads[nthreads++];
}

static const char *const healthy[] = { "ticker", "heartbeat", "metrics-flush", "acceptor",
				       "backend", "supervisor", "request-handler" };

static int is_healthy(const char *name)
{
	for (size_t i = 0; i < sizeof(healthy) / sizeof(healthy[0]); i++)
		if (name && strcmp(name, healthy[i]) == 0)
			return 1;
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

int main(void)
{
	struct minirt *rt;
	struct demo *demo;
	struct demo_counters n;
	struct timespec run = { .tv_sec = RUN_MS / 1000, .tv_nsec = (RUN_MS % 1000) * 1000000L };
	uint64_t max_id = 0;
	struct task *tasks;
	struct res *res;
	unsigned long violations = 0;
	size_t i;

	setvbuf(stderr, NULL, _IONBF, 0);
	if (minirt_new(4, &rt) < 0 || demo_workload_start(rt, &demo) < 0) {
		fprintf(stderr, "cannot start the demo\n");
		return 1;
	}
	nanosleep(&run, NULL);
	minirt_shutdown(rt);
	demo_workload_counters(demo, &n);
	demo_workload_free(demo);
	minirt_free(rt);
	__atomic_store_n(&taskscope_recording_, 0, __ATOMIC_RELAXED);

	CHECK(!rec_oom, "the record ran out of memory");
	CHECK(n.handled > 0 && n.bad_replies == 0, "%lu handled, %lu bad replies",
	      (unsigned long)n.handled, (unsigned long)n.bad_replies);

	for (i = 0; i < nrecs; i++)
		if (recs[i].type != E_THREAD && recs[i].id > max_id)
			max_id = recs[i].id;
	tasks = calloc(max_id + 1, sizeof(*tasks));
	res = calloc(max_id + 1, sizeof(*res));
	if (!tasks || !res)
		return 1;

	for (i = 0; i < nrecs; i++) {
		const struct rec *e = &recs[i];
		struct thread *th = thread_get(e->tid);
		struct task *t = &tasks[e->id];
		struct res *r = &res[e->id];

		if (!th)
			return 1;
		switch (e->type) {
		case E_THREAD:
			if (th->named)
				free((char *)th->name);
			th->name = e->name ? e->name : "";
			th->named = e->name != NULL;
			th->role = e->val;
			continue;
		case E_SPAWN:
			if (t->spawned)
				VIOLATION("task %lu spawned twice", (unsigned long)e->id);
			*t = (struct task){ .name = e->name, .file = e->file, .line = e->line,
					    .parent = e->arg, .kind = e->val, .spawned = 1, .outcome = -1 };
			continue;
		case E_RNEW:
			*r = (struct res){ .name = e->name, .kind = e->val, .created = 1 };
			continue;
		case E_RDROP:
			if (!r->created || r->dropped)
				VIOLATION("resource %lu dropped without being live", (unsigned long)e->id);
			if (r->holder_tid)
				VIOLATION("resource '%s' dropped while held", r->name);
			r->dropped = 1;
			continue;
		case E_LWAIT:
		case E_LACQ:
		case E_LREL:
			if (!r->created || r->dropped) {
				VIOLATION("lock event on resource %lu that is not live", (unsigned long)e->id);
				continue;
			}
			if (e->type == E_LWAIT) {
				r->waiting_tid = e->tid;
			} else if (e->type == E_LACQ) {
				if (r->holder_tid)
					VIOLATION("'%s' acquired while held", r->name);
				if (r->waiting_tid == e->tid && th->polling)
					tasks[th->polling].waited_for_lock++;
				if (r->waiting_tid == e->tid)
					r->waiting_tid = 0;
				r->holder_tid = e->tid;
				r->holder_task = th->polling;
			} else {
				if (r->holder_tid != e->tid)
					VIOLATION("'%s' released by a thread that does not hold it", r->name);
				r->holder_tid = 0;
				r->holder_task = 0;
			}
			continue;
		}

		/* task events */
		if (!t->spawned) {
			VIOLATION("event %d for task %lu before its spawn", e->type, (unsigned long)e->id);
			continue;
		}
		/* A waker may outlive its task (a wake racing a cancel): it may
		 * still be woken or dropped, nothing else. */
		if (t->drops && e->type != E_WAKE && e->type != E_WDROP) {
			VIOLATION("event %d for task %lu '%s' after its drop", e->type, (unsigned long)e->id, t->name);
			continue;
		}
		switch (e->type) {
		case E_POLL_BEGIN:
			if (t->running_tid || th->polling)
				VIOLATION("nested poll of '%s'", t->name);
			t->running_tid = e->tid;
			t->woken_in_poll = 0;
			t->poll_start = e->ts;
			t->polls++;
			th->polling = e->id;
			break;
		case E_POLL_END:
			if (t->running_tid != e->tid || th->polling != e->id)
				VIOLATION("poll end of '%s' on the wrong thread", t->name);
			if (e->ts - t->poll_start > t->max_poll)
				t->max_poll = e->ts - t->poll_start;
			if (!e->val && t->wakers == 0 && !t->woken_in_poll)
				t->idle_without_waker++;
			if (!e->val)
				for (uint64_t k = 1; k <= max_id; k++)
					if (res[k].holder_tid == e->tid && res[k].holder_task == e->id)
						t->held_across_pending++;
			t->running_tid = 0;
			th->polling = 0;
			break;
		case E_WAKE:
			t->wakes++;
			if (th->polling == e->id)
				t->self_wakes++;
			if (t->running_tid)
				t->woken_in_poll = 1;
			if (!e->val && --t->wakers < 0)
				VIOLATION("'%s' woken by value with no waker", t->name);
			break;
		case E_CLONE:
			t->wakers++;
			break;
		case E_WDROP:
			if (--t->wakers < 0)
				VIOLATION("'%s' waker dropped with none live", t->name);
			break;
		case E_TDROP:
			if (t->running_tid)
				VIOLATION("'%s' dropped inside its poll", t->name);
			t->drops++;
			t->outcome = e->val;
			break;
		}
	}
	CHECK(violations == 0, "%lu event-order violations", violations);

	/* Per task, then per name. */
	uint64_t handlers_ok = 0, panicked = 0, acceptor = 0, supervisor = 0;
	int found[7] = { 0 };
	static const char *const footguns[7] = { "blocking-sleeper", "cpu-spinner", "lock-holder",
						 "lock-waiter", "lost-waker", "self-waker", "panicker" };
	for (uint64_t id = 1; id <= max_id; id++) {
		struct task *t = &tasks[id];
		if (!t->spawned)
			continue;
		if (strcmp(t->name, "acceptor") == 0)
			acceptor = id;
		if (strcmp(t->name, "supervisor") == 0)
			supervisor = id;
	}
	for (uint64_t id = 1; id <= max_id; id++) {
		struct task *t = &tasks[id];
		if (!t->spawned)
			continue;
		CHECK(t->drops == 1, "'%s' dropped %d times", t->name, t->drops);
		CHECK(t->wakers == 0, "'%s' leaked %ld wakers", t->name, (long)t->wakers);
		CHECK(t->name && t->line > 0 && (ends_with(t->file, ".c")), "task %lu has no site",
		      (unsigned long)id);
		if (is_healthy(t->name)) {
			CHECK(t->idle_without_waker == 0, "healthy '%s' went idle with no waker", t->name);
			CHECK(t->self_wakes == 0, "healthy '%s' woke itself", t->name);
			CHECK(t->held_across_pending == 0, "healthy '%s' held a lock across PENDING", t->name);
		}
		if (strcmp(t->name, "request-handler") == 0) {
			handlers_ok += t->outcome == TASKSCOPE_OUTCOME_OK;
			CHECK(t->parent == acceptor, "request-handler's parent is %lu", (unsigned long)t->parent);
		}
		for (int k = 0; k < 7; k++) {
			if (strcmp(t->name, footguns[k]) != 0)
				continue;
			switch (k) {
			case 0:
			case 1:
				found[k] |= t->max_poll >= 150 * MS;
				break;
			case 2:
				found[k] |= t->held_across_pending > 0 && t->kind == TASKSCOPE_KIND_LOCAL;
				break;
			case 3:
				found[k] |= t->waited_for_lock > 0;
				break;
			case 4:
				found[k] |= t->idle_without_waker > 0;
				break;
			case 5:
				found[k] |= t->self_wakes >= 10 && t->self_wakes * 2 > t->wakes;
				break;
			case 6:
				if (t->outcome == TASKSCOPE_OUTCOME_PANICKED) {
					panicked++;
					found[k] |= t->parent == supervisor;
				}
				break;
			}
		}
	}
	CHECK(handlers_ok >= 100, "only %lu request handlers completed", (unsigned long)handlers_ok);
	CHECK(panicked >= 1 && n.panics >= 1, "no panicker panicked");
	for (int k = 0; k < 7; k++)
		CHECK(found[k], "'%s' did not show its mistake", footguns[k]);

	/* Threads and resources. */
	int workers = 0, timer = 0, db = 0, chan = 0, sleeps = 0;
	for (size_t k = 0; k < nthreads; k++) {
		if (strncmp(threads[k].name, "minirt-worker-", 14) == 0 && threads[k].role == TASKSCOPE_ROLE_WORKER)
			workers++;
		if (strcmp(threads[k].name, "minirt-timer") == 0 && threads[k].role == TASKSCOPE_ROLE_OTHER)
			timer++;
	}
	CHECK(workers == 4, "%d named worker threads", workers);
	CHECK(timer == 1, "%d timer threads", timer);
	for (uint64_t id = 1; id <= max_id; id++) {
		struct res *r = &res[id];
		if (!r->created)
			continue;
		CHECK(r->dropped, "resource '%s' never dropped", r->name);
		db += strcmp(r->name, "db-mutex") == 0 && r->kind == TASKSCOPE_RES_MUTEX;
		chan += strcmp(r->name, "requests") == 0 && r->kind == TASKSCOPE_RES_CHANNEL;
		sleeps += strcmp(r->name, "sleep") == 0 && r->kind == TASKSCOPE_RES_TIMER;
	}
	CHECK(db == 1 && chan == 1 && sleeps >= 10, "resources: %d db-mutex, %d requests, %d sleep", db,
	      chan, sleeps);

	for (size_t k = 0; k < nthreads; k++)
		if (threads[k].named)
			free((char *)threads[k].name);
	free(tasks);
	free(res);
	free(recs);
	if (failures) {
		fprintf(stderr, "%d check(s) failed (%zu events)\n", failures, nrecs);
		return 1;
	}
	printf("ok: runtime-events (%zu events)\n", nrecs);
	return 0;
}
