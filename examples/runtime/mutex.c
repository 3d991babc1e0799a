/*
 * mutex.c: minirt's mutex, a pthread mutex reported to taskscope.
 *
 * Each lock reports, on the locking thread, "wait" (only when it could
 * not take the mutex at once), then "acquired"; each unlock reports
 * "release" just before unlocking, so the next holder's acquired always
 * follows it. From those the collector builds lock spans, sees which task
 * waits for which holder, and flags a hold that spans a PENDING return.
 * Misuse (relocking, or unlocking from a thread that does not hold it, as
 * when a task moves between workers while holding it) fails with -EDEADLK
 * or -EPERM before anything is reported, so the events stay truthful.
 */
#include <errno.h>

#include "internal.h"

/* A thread's identity: the address of a thread-local. */
static _Thread_local char tls_me;

static uintptr_t me(void)
{
	return (uintptr_t)&tls_me;
}

int minirt_mutex_init_at(struct minirt_mutex *m, struct taskscope_site *site)
{
	int r = -pthread_mutex_init(&m->m, NULL);

	if (r < 0)
		return r;
	atomic_init(&m->owner, 0);
	m->res_id = minirt_i_next_id();
	if (site)
		taskscope_resource_new(m->res_id, TASKSCOPE_RES_MUTEX, site);
	return 0;
}

void minirt_mutex_fini(struct minirt_mutex *m)
{
	taskscope_resource_drop(m->res_id);
	pthread_mutex_destroy(&m->m);
}

int minirt_mutex_lock(struct minirt_mutex *m)
{
	int r;

	if (atomic_load(&m->owner) == me())
		return -EDEADLK;
	r = pthread_mutex_trylock(&m->m);
	if (r == EBUSY) {
		taskscope_lock_wait(m->res_id);
		r = pthread_mutex_lock(&m->m);
	}
	if (r != 0)
		return -r;
	atomic_store(&m->owner, me());
	taskscope_lock_acquired(m->res_id, 0);
	return 0;
}

int minirt_mutex_trylock(struct minirt_mutex *m)
{
	int r;

	if (atomic_load(&m->owner) == me())
		return -EDEADLK;
	r = pthread_mutex_trylock(&m->m);
	if (r != 0)
		return -r;
	atomic_store(&m->owner, me());
	taskscope_lock_acquired(m->res_id, 0);
	return 0;
}

int minirt_mutex_unlock(struct minirt_mutex *m)
{
	if (atomic_load(&m->owner) != me())
		return -EPERM;
	atomic_store(&m->owner, 0);
	taskscope_lock_release(m->res_id);
	return -pthread_mutex_unlock(&m->m);
}
