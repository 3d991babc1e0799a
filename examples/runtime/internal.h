/*
 * internal.h: minirt's private structures, shared by its source files.
 *
 * runtime.c owns tasks, workers and the run queue; timer.c the timer
 * thread; chan.c and mutex.c the resources. Nothing here is for users of
 * minirt.h.
 */
#ifndef MINIRT_INTERNAL_H
#define MINIRT_INTERNAL_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>

#include "minirt.h"

/* Task scheduling states (atomic). */
enum {
	MINIRT_T_IDLE = 0,      /* returned PENDING, not woken since */
	MINIRT_T_SCHEDULED = 1, /* in a run queue */
	MINIRT_T_RUNNING = 2,   /* being polled */
	MINIRT_T_NOTIFIED = 3,  /* being polled and woken meanwhile: poll again */
	MINIRT_T_DONE = 4,      /* finished; wakes are ignored */
};

struct minirt_task {
	_Atomic uint32_t state;
	_Atomic uint32_t refs;       /* the runtime's (until done), each waker, each handle,
				      * the run queue's while queued */
	_Atomic int cancel;
	_Atomic int64_t wakers;      /* live wakers, as taskscope counts them */
	_Atomic uint64_t polls;
	uint64_t id;
	int pin;                     /* worker index, or -1 */
	const char *name;
	struct taskscope_site *site; /* where it was spawned (for snapshots), or NULL */
	struct minirt *rt;
	minirt_poll_fn poll;
	void *data;
	minirt_drop_fn drop;
	struct minirt_task *rq_next;            /* run queue link (rt->lock) */
	int queued;                  /* linked in a run queue, which then holds a reference (rt->lock) */
	struct minirt_task *live_prev, *live_next; /* live list (rt->lock) */
	/* join state, under jlock */
	pthread_mutex_t jlock;
	pthread_cond_t jcond;
	int outcome;                 /* -1 until done */
	const char *panic_msg;
	struct minirt_waker joiner;
};

struct minirt_cx {
	struct minirt *rt;
	struct minirt_task *task;
	struct minirt_waker waker;   /* borrowed */
	unsigned worker;
	const char *panic_msg;
	jmp_buf panic_jmp;
};

struct minirt_queue {
	struct minirt_task *head, *tail;
};

struct minirt_worker {
	struct minirt *rt;
	unsigned index;
	pthread_t thread;
	int started;
	struct minirt_queue local;   /* tasks pinned here (rt->lock) */
};

struct minirt_timers {
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* CLOCK_MONOTONIC */
	struct minirt_timer *head;   /* armed timers, by deadline */
	int stop;
	int started;
	pthread_t thread;
};

struct minirt {
	pthread_mutex_t lock;        /* run queues, live list, flags */
	pthread_cond_t cond;         /* workers wait here */
	pthread_cond_t drained;      /* shutdown waits here for live_count == 0 */
	struct minirt_queue global;
	struct minirt_task *live;    /* every unfinished task */
	uint64_t live_count;
	int closing;                 /* shutdown began: no spawns, live tasks cancelled */
	int stopping;                /* workers exit */
	int shut;                    /* workers gone: nothing is queued any more */
	int snapshots;               /* our task enumerator is registered with taskscope */
	unsigned nworkers;
	struct minirt_worker *workers;
	struct minirt_timers timers;
};

/* A process-wide id for tasks and resources (never 0, never reused). */
uint64_t minirt_i_next_id(void);

/* Drop a reference; the last one frees the task. */
void minirt_i_task_unref(struct minirt_task *t);
/* A wake: queue the task if idle, mark it notified if running. */
void minirt_i_task_schedule(struct minirt_task *t);

int minirt_i_timers_start(struct minirt *rt);
void minirt_i_timers_stop(struct minirt *rt);

#endif /* MINIRT_INTERNAL_H */
