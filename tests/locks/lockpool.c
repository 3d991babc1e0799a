/*
 * lockpool.c: the target the lock tests attach to: a pool of worker
 * threads fighting over one pthread mutex, each holding it for a while.
 *
 * usage: lockpool THREADS ITERATIONS HOLD_US [go] [rw] [solo] [fresh]
 * It prints "ready PID ADDR LINE RWADDR" (the mutex's address, the source
 * line of the pthread_mutex_lock call that takes it, the rwlock's address),
 * waits for one byte on stdin (the test attaches its probes meanwhile; not
 * with "go"), runs (with "rw": over a pthread_rwlock_t instead, even
 * threads reading, odd threads writing), then takes and destroys a
 * short-lived mutex, prints "done COUNT TMPADDR" and exits 0. With "solo"
 * one thread (the main one) takes the mutex, and nothing else is locked.
 * With "fresh" two threads meet at each of FRESH_LOCKS mutexes never
 * taken before and take it at the same instant (the first contention of
 * a lock, where a waiter may read its holder before the holder's own
 * lock call has been reported); "ready" then gives the first one's address
 * for ADDR and the end of the array for RWADDR, and "done" prints
 * TMPADDR 0. Built with frame pointers omitted on
 * purpose: the call site must come from the CFI unwinder, not from a
 * frame chain. pool_take is exported (-rdynamic) so that the preload
 * interposer, which only has dladdr, can name it too.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t pool_rwlock = PTHREAD_RWLOCK_INITIALIZER;
#define FRESH_LOCKS 2000
static pthread_mutex_t fresh_locks[FRESH_LOCKS];
static int fresh_arrived[FRESH_LOCKS];
static long iterations, hold_us;
static int use_rw, solo, fresh;
static long counter;
static int lock_line;

static void hold_for(long us)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = us * 1000 };

	if (us)
		nanosleep(&ts, NULL);
}

/* Take the pool's lock, do the "work" under it, let it go. */
__attribute__((noinline)) void pool_take(void);
__attribute__((noinline)) void pool_take(void)
{
	lock_line = __LINE__; pthread_mutex_lock(&pool_lock);
	counter++;
	hold_for(hold_us);
	pthread_mutex_unlock(&pool_lock);
}

/* The same over the rwlock: readers share it, writers wait for them. */
__attribute__((noinline)) void pool_rw(int write);
__attribute__((noinline)) void pool_rw(int write)
{
	if (write)
		pthread_rwlock_wrlock(&pool_rwlock);
	else
		pthread_rwlock_rdlock(&pool_rwlock);
	__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
	hold_for(hold_us);
	pthread_rwlock_unlock(&pool_rwlock);
}

/* Both "fresh" threads arrive at lock i, then take it, one of them a
 * little later each time (0 to a few tens of microseconds, about what a
 * uprobe costs here): its lock call finds the other on its way in, holding
 * it, or on its way out. */
static void *fresh_worker(void *arg)
{
	int me = (int)(intptr_t)arg;

	for (int i = 0; i < FRESH_LOCKS; i++) {
		__atomic_fetch_add(&fresh_arrived[i], 1, __ATOMIC_SEQ_CST);
		for (int spin = 0; __atomic_load_n(&fresh_arrived[i], __ATOMIC_SEQ_CST) < 2; spin++)
			if (spin > 1000)
				sched_yield();   /* sharing a core: do not spin out a time slice */
		if ((i & 1) == me)
			for (volatile int k = 0; k < (i % 64) * 300; k++)
				;
		pthread_mutex_lock(&fresh_locks[i]);
		counter++;
		for (volatile int k = 0; k < 2000; k++)
			;
		pthread_mutex_unlock(&fresh_locks[i]);
	}
	return NULL;
}

static void *worker(void *arg)
{
	int write = (int)(intptr_t)arg & 1;

	for (long i = 0; i < iterations; i++) {
		if (use_rw)
			pool_rw(write);
		else
			pool_take();
		hold_for(hold_us / 4);  /* a short gap: the others get their turn */
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[64];
	long n;
	char go;

	int wait_go = 1;

	if (argc < 4)
		return 2;
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "go"))
			wait_go = 0;
		else if (!strcmp(argv[i], "rw"))
			use_rw = 1;
		else if (!strcmp(argv[i], "solo"))
			solo = 1;
		else if (!strcmp(argv[i], "fresh"))
			fresh = 1;
		else
			return 2;
	}
	n = strtol(argv[1], NULL, 10);
	iterations = strtol(argv[2], NULL, 10);
	hold_us = strtol(argv[3], NULL, 10);
	if (n < 1 || n > 64 || iterations < 0 || hold_us < 0 || hold_us > 999999)
		return 2;
	pool_take();   /* sets lock_line; counted */
	for (int i = 0; fresh && i < FRESH_LOCKS; i++)
		pthread_mutex_init(&fresh_locks[i], NULL);
	if (fresh)
		printf("ready %d %#" PRIxPTR " %d %#" PRIxPTR "\n", (int)getpid(), (uintptr_t)&fresh_locks[0],
		       lock_line, (uintptr_t)&fresh_locks[FRESH_LOCKS]);
	else
		printf("ready %d %#" PRIxPTR " %d %#" PRIxPTR "\n", (int)getpid(), (uintptr_t)&pool_lock,
		       lock_line, (uintptr_t)&pool_rwlock);
	fflush(stdout);
	if (wait_go && read(0, &go, 1) != 1)
		return 1;
	if (fresh) {
		pthread_create(&th[0], NULL, fresh_worker, (void *)(intptr_t)0);
		pthread_create(&th[1], NULL, fresh_worker, (void *)(intptr_t)1);
		pthread_join(th[0], NULL);
		pthread_join(th[1], NULL);
		printf("done %ld 0\n", counter);
		fflush(stdout);
		return 0;
	}
	if (solo) {
		/* nothing but the pool's pairs: on this thread (creating one takes
		 * a lock in libc), and _exit (exit handlers take one too) */
		worker(NULL);
		printf("done %ld 0\n", counter);
		fflush(stdout);
		_exit(0);
	}
	for (long i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
	for (long i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	{
		/* a lock that lives briefly: taken once, then destroyed */
		pthread_mutex_t tmp;

		pthread_mutex_init(&tmp, NULL);
		pthread_mutex_lock(&tmp);
		pthread_mutex_unlock(&tmp);
		pthread_mutex_destroy(&tmp);
		printf("done %ld %#" PRIxPTR "\n", counter, (uintptr_t)&tmp);
	}
	fflush(stdout);
	return 0;
}
