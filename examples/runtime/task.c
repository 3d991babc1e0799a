/*
 * task.c: what code outside the worker loop does with a task: wakers,
 * join handles, cancellation, panics, and the poll context's accessors.
 *
 * The waker functions are where minirt keeps taskscope's live-waker count
 * honest: a clone reports +1, a drop -1, a wake by value -1 (reported
 * before the task is queued, so before the poll it causes), a wake by
 * reference nothing. Each waker also holds a reference on the task, so a
 * waker that outlives its task (a timer firing during a cancel) is still
 * safe to wake or drop.
 */
#include <errno.h>
#include <setjmp.h>

#include "internal.h"

void *minirt_task_data(struct minirt_task *task)
{
	return task->data;
}

uint64_t minirt_task_id(const struct minirt_task *task)
{
	return task->id;
}

const char *minirt_task_name(const struct minirt_task *task)
{
	return task->name;
}

int64_t minirt_task_wakers(const struct minirt_task *task)
{
	return atomic_load(&((struct minirt_task *)task)->wakers);
}

uint64_t minirt_task_polls(const struct minirt_task *task)
{
	return atomic_load(&((struct minirt_task *)task)->polls);
}

void minirt_task_release(struct minirt_task *handle)
{
	struct minirt_waker joiner;

	if (!handle)
		return;
	/* Nobody can join through it any more: give the joiner's waker back
	 * now, not when the task happens to finish. */
	pthread_mutex_lock(&handle->jlock);
	joiner = handle->joiner;
	handle->joiner.task = NULL;
	pthread_mutex_unlock(&handle->jlock);
	minirt_waker_drop(&joiner);
	minirt_i_task_unref(handle);
}

void minirt_task_cancel(struct minirt_task *handle)
{
	atomic_store(&handle->cancel, 1);
	minirt_i_task_schedule(handle); /* not a waker wake: nothing to report */
}

int minirt_task_outcome(struct minirt_task *handle)
{
	int o;
	pthread_mutex_lock(&handle->jlock);
	o = handle->outcome;
	pthread_mutex_unlock(&handle->jlock);
	return o;
}

const char *minirt_task_panic_message(struct minirt_task *handle)
{
	const char *m;
	pthread_mutex_lock(&handle->jlock);
	m = handle->panic_msg;
	pthread_mutex_unlock(&handle->jlock);
	return m;
}

int minirt_join_poll(struct minirt_task *handle, struct minirt_cx *cx, int *outcome)
{
	struct minirt_waker old = { NULL };

	pthread_mutex_lock(&handle->jlock);
	if (handle->outcome >= 0) {
		*outcome = handle->outcome;
		pthread_mutex_unlock(&handle->jlock);
		return MINIRT_READY;
	}
	if (!minirt_waker_will_wake(&handle->joiner, &cx->waker)) {
		old = handle->joiner;
		handle->joiner = minirt_waker_clone(&cx->waker);
	}
	pthread_mutex_unlock(&handle->jlock);
	minirt_waker_drop(&old);
	return MINIRT_PENDING;
}

int minirt_task_wait(struct minirt_task *handle)
{
	int o;
	pthread_mutex_lock(&handle->jlock);
	while (handle->outcome < 0)
		pthread_cond_wait(&handle->jcond, &handle->jlock);
	o = handle->outcome;
	pthread_mutex_unlock(&handle->jlock);
	return o;
}

const struct minirt_waker *minirt_cx_waker(struct minirt_cx *cx)
{
	return &cx->waker;
}

struct minirt_task *minirt_cx_task(struct minirt_cx *cx)
{
	return cx->task;
}

struct minirt *minirt_cx_runtime(struct minirt_cx *cx)
{
	return cx->rt;
}

unsigned minirt_cx_worker(const struct minirt_cx *cx)
{
	return cx->worker;
}

_Noreturn void minirt_panic(struct minirt_cx *cx, const char *msg)
{
	cx->panic_msg = msg;
	longjmp(cx->panic_jmp, 1);
}

int minirt_yield(struct minirt_cx *cx)
{
	minirt_waker_wake_by_ref(&cx->waker);
	return MINIRT_PENDING;
}

struct minirt_waker minirt_waker_clone(const struct minirt_waker *w)
{
	struct minirt_waker c = { NULL };

	if (!w || !w->task)
		return c;
	atomic_fetch_add(&w->task->refs, 1);
	atomic_fetch_add(&w->task->wakers, 1);
	taskscope_waker_clone(w->task->id);
	c.task = w->task;
	return c;
}

void minirt_waker_wake(struct minirt_waker *w)
{
	struct minirt_task *t = w->task;

	if (!t)
		return;
	w->task = NULL;
	atomic_fetch_sub(&t->wakers, 1);
	taskscope_wake(t->id); /* before it is queued, so before its next poll */
	minirt_i_task_schedule(t);
	minirt_i_task_unref(t);
}

void minirt_waker_wake_by_ref(const struct minirt_waker *w)
{
	if (!w->task)
		return;
	taskscope_wake_by_ref(w->task->id);
	minirt_i_task_schedule(w->task);
}

void minirt_waker_drop(struct minirt_waker *w)
{
	struct minirt_task *t = w->task;

	if (!t)
		return;
	w->task = NULL;
	atomic_fetch_sub(&t->wakers, 1);
	taskscope_waker_drop(t->id);
	minirt_i_task_unref(t);
}

int minirt_waker_will_wake(const struct minirt_waker *a, const struct minirt_waker *b)
{
	return a->task != NULL && a->task == b->task;
}
