/*
 * lockwrap.c: libtaskscope-lockwrap.so, an LD_PRELOAD interposer that
 * reports the contended pthread mutex acquisitions of a program through
 * the shim's public lock API (agent/include/taskscope.h), without BPF or
 * privileges:
 *
 *   taskscope run -- env LD_PRELOAD=/path/libtaskscope-lockwrap.so CMD
 *
 * pthread_mutex_lock() first tries pthread_mutex_trylock(): when that
 * succeeds (the uncontended case) nothing is recorded, so uncontended
 * locking costs one extra call and nothing else. Only when the lock is
 * busy and a collector is recording does it report the wait, the
 * acquisition and, at unlock, the release (the thread remembers the few
 * contended holds it has open in a small thread-local list; an unlock
 * looks there only when the list is not empty). The lock's id is the
 * mutex's address; it is named once, at its first contention, by the
 * function that called pthread_mutex_lock (dladdr1: exported symbols
 * only, checked against the symbol's size; otherwise "module+0xOFF"),
 * with "module+0xOFF" as its location. pthread_mutex_destroy() drops a
 * lock that was named, so its address can name another lock later.
 *
 * Calls from inside libc do not go through the PLT and are not seen; a
 * thread-local guard keeps the wrapper from recursing into itself.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "taskscope.h"

#define HELD_MAX 8           /* contended holds one thread keeps open at once */
#define NAMED_SLOTS 4096     /* locks named so far (a lock-free open-addressed set) */

typedef int (*mutex_fn)(pthread_mutex_t *);

static mutex_fn real_lock, real_trylock, real_unlock, real_destroy;
static uintptr_t named[NAMED_SLOTS];

/* initial-exec: a plain %fs-relative load on every unlock, not a
 * __tls_get_addr call (fine for a library loaded at start-up) */
#define TLS __thread __attribute__((tls_model("initial-exec")))
static TLS uintptr_t held[HELD_MAX];
static TLS unsigned n_held;
static TLS int in_wrap;

__attribute__((constructor)) static void lockwrap_init(void)
{
	real_lock = (mutex_fn)dlsym(RTLD_NEXT, "pthread_mutex_lock");
	real_trylock = (mutex_fn)dlsym(RTLD_NEXT, "pthread_mutex_trylock");
	real_unlock = (mutex_fn)dlsym(RTLD_NEXT, "pthread_mutex_unlock");
	real_destroy = (mutex_fn)dlsym(RTLD_NEXT, "pthread_mutex_destroy");
}

static int resolve(void)
{
	if (!real_lock || !real_trylock || !real_unlock)
		lockwrap_init();
	return real_lock && real_trylock && real_unlock && real_destroy ? 0 : -ENOSYS;
}

#define GONE ((uintptr_t)1)   /* a destroyed lock's slot: reusable, not an end */

static uintptr_t *named_slot(uintptr_t id, size_t i)
{
	size_t h = (size_t)((id >> 4) * 0x9e3779b97f4a7c15ull) % NAMED_SLOTS;

	return &named[(h + i) % NAMED_SLOTS];
}

/* true the first time `id` is seen (then the caller names it) */
static int first_sight(uintptr_t id)
{
	for (size_t i = 0; i < NAMED_SLOTS; i++) {
		uintptr_t cur = __atomic_load_n(named_slot(id, i), __ATOMIC_RELAXED);

		if (cur == id)
			return 0;
		if (cur == 0)
			break;
	}
	for (size_t i = 0; i < NAMED_SLOTS; i++) {
		uintptr_t *slot = named_slot(id, i);
		uintptr_t cur = __atomic_load_n(slot, __ATOMIC_RELAXED);

		if (cur == id)
			return 0;
		if ((cur == 0 || cur == GONE) &&
		    __atomic_compare_exchange_n(slot, &cur, id, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return 1;
	}
	return 0;   /* full: the rest stay unnamed */
}

/* `id` is destroyed: true when it had been named (then it is forgotten). */
static int forget(uintptr_t id)
{
	for (size_t i = 0; i < NAMED_SLOTS; i++) {
		uintptr_t *slot = named_slot(id, i);
		uintptr_t cur = __atomic_load_n(slot, __ATOMIC_RELAXED);

		if (cur == 0)
			return 0;
		if (cur == id)
			return __atomic_compare_exchange_n(slot, &cur, GONE, false, __ATOMIC_RELAXED,
							   __ATOMIC_RELAXED);
	}
	return 0;
}

/* Name the lock by the function that called pthread_mutex_lock. */
static void announce(uintptr_t id, const void *caller)
{
	struct taskscope_site site = { 0 };
	char name[160], where[160];
	const ElfW(Sym) *sym = NULL;
	const char *module = "?", *base;
	uintptr_t pc = (uintptr_t)caller - 1;   /* inside the call instruction */
	Dl_info di;

	if (dladdr1((void *)pc, &di, (void **)&sym, RTLD_DL_SYMENT) && di.dli_fname) {
		module = di.dli_fname;
		base = strrchr(module, '/');
		module = base ? base + 1 : module;
	} else {
		memset(&di, 0, sizeof(di));
	}
	snprintf(where, sizeof(where), "%s+%#lx", module,
		 (unsigned long)(pc + 1 - (uintptr_t)di.dli_fbase));
	if (di.dli_sname && sym && pc >= (uintptr_t)di.dli_saddr &&
	    pc < (uintptr_t)di.dli_saddr + sym->st_size)
		snprintf(name, sizeof(name), "%s", di.dli_sname);
	else
		snprintf(name, sizeof(name), "%s", where);
	site.name = name;
	site.file = where;
	site.line = 0;
	taskscope_resource_new(id, TASKSCOPE_RES_MUTEX, &site);
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
	uintptr_t id = (uintptr_t)m;
	int r;

	if (resolve() < 0)
		return ENOSYS;
	r = real_trylock(m);
	if (r != EBUSY || in_wrap || !taskscope_enabled())
		return r == EBUSY ? real_lock(m) : r;
	/* contended, and recorded: the slow path */
	in_wrap = 1;
	if (first_sight(id))
		announce(id, __builtin_return_address(0));
	taskscope_lock_wait(id);
	r = real_lock(m);
	if (r == 0) {
		taskscope_lock_acquired(id, 0);
		if (n_held < HELD_MAX)
			held[n_held++] = id;
	}
	in_wrap = 0;
	return r;
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
	uintptr_t id = (uintptr_t)m;

	if (resolve() < 0)
		return ENOSYS;
	for (unsigned i = n_held; i-- > 0;) {
		if (held[i] != id)
			continue;
		held[i] = held[--n_held];
		/* before the unlock: the next holder's acquisition comes after it */
		taskscope_lock_release(id);
		break;
	}
	return real_unlock(m);
}

/* A destroyed lock that was reported is dropped: the model forgets it,
 * and its address may be another lock's next. */
int pthread_mutex_destroy(pthread_mutex_t *m)
{
	if (resolve() < 0)
		return ENOSYS;
	if (forget((uintptr_t)m))
		taskscope_resource_drop((uintptr_t)m);
	return real_destroy(m);
}
