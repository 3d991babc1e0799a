/*
 * locks_source.c: the loader of bpf/locks.bpf.c, a collector source.
 *
 * It loads the futex programs (contended mode) and, in full mode, the
 * uprobes on the process's libc lock functions too; drains the ring
 * buffer through the tracker (locks_track.c) into the collector's batch,
 * and names each lock by the call site that took it: the SITE record's
 * registers and stack slice are unwound with libdwfl's CFI unwinder
 * (collector/symbolize.h), libc's own frames are skipped, and the first
 * frame of the program names the lock. The same frames tell a mutex from
 * a condition variable's futex (which is not a lock and is ignored).
 */
#include "bpf/locks_source.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bpf/locks.h"
#include "bpf/locks_elf.h"
#include "bpf/locks.skel.h"
#include "bpf/locks_track.h"
#include "collector/collector.h"
#include "collector/symbolize.h"

#define MAX_LINKS 24
#define UNWIND_FRAMES 24

struct locks_src {
	uint32_t pid;
	enum ts_lock_mode mode;
	struct locks_bpf *skel;
	bool raw_syscalls;         /* futex waits through raw_syscalls (the fallback) */
	struct bpf_link *links[MAX_LINKS];
	size_t n_links;
	struct ring_buffer *rb;
	struct ts_locks_track *track;
	struct ts_symbolizer *sym;
	int pidfd;                    /* ours, to see the exit (the collector owns its own) */
};

const char *ts_lock_mode_name(enum ts_lock_mode mode)
{
	switch (mode) {
	case TS_LOCKS_CONTENDED:
		return "contended";
	case TS_LOCKS_FULL:
		return "full";
	default:
		return "off";
	}
}

static void src_free(void *p)
{
	struct locks_src *s = p;

	if (!s)
		return;
	ring_buffer__free(s->rb);
	for (size_t i = 0; i < s->n_links; i++)
		bpf_link__destroy(s->links[i]);
	locks_bpf__destroy(s->skel);
	ts_locks_track_free(s->track);
	if (s->pidfd >= 0)
		close(s->pidfd);
	if (s->sym)
		ts_symbolizer_free(s->sym);
	free(s);
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct locks_src *s = ctx;

	ts_locks_track_push(s->track, data, len);   /* a refusal is counted as lost */
	return 0;
}

/* Does `tid` still hold the lock at `addr`? A free lock (word 0: glibc's
 * mutexes, Rust's futex mutex) is held by nobody. glibc's
 * pthread_mutex_t keeps the holder's tid in __owner (after the word and
 * __count), a PI futex in its word: another thread of the process named
 * there holds it now. Anything else (an unreadable lock, a lock without an
 * owner field, like Rust's) is taken as still held: better a hold reported
 * too long than one cut short. */
static bool owner_ok(void *ctx, uint32_t pid, uint32_t tid);

static bool still_held(void *ctx, uint32_t pid, uint64_t addr, uint32_t tid)
{
	uint32_t word[3], other;
	struct iovec local = { .iov_base = word, .iov_len = sizeof(word) };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = sizeof(word) };

	if (process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(word))
		return true;
	if (word[0] == 0)
		return false;
	if ((word[0] & 0x3fffffffu) == tid || word[2] == tid)
		return true;
	other = word[2] ? word[2] : word[0] & 0x3fffffffu;
	return !(other && other != tid && owner_ok(ctx, pid, other));
}

static bool exited(struct locks_src *s)
{
	struct pollfd p = { .fd = s->pidfd, .events = POLLIN };

	return s->pidfd >= 0 && poll(&p, 1, 0) == 1;
}

/* The drain's `now` was read before the collector read any source, so
 * every shim event stamped at or before it is in this batch: lock records
 * up to `now` join them, younger ones wait for the next drain. A margin
 * here would put lock events behind the shim's (a poll would end before
 * the release inside it); none would put them ahead (a lock before the
 * poll it happened in). Records are processed in time order
 * (locks_track.h); one that reaches the ring buffer after the next drain
 * began is processed late. */
static int src_drain(void *p, struct ts_event_batch *batch, uint64_t now_ns)
{
	struct locks_src *s = p;
	bool gone = exited(s);   /* before the last read: then everything is in */
	int r = ring_buffer__consume(s->rb);

	ts_locks_track_process(s->track, now_ns, gone, batch);
	ts_locks_track_check_holders(s->track, now_ns, gone ? NULL : still_held, s, batch);
	return r < 0 ? r : 0;
}

static uint64_t src_lost(void *p)
{
	struct locks_src *s = p;
	int ncpu = libbpf_num_possible_cpus();
	uint64_t total = ts_locks_track_lost(s->track);
	uint32_t zero = 0;
	uint64_t *vals;

	if (ncpu <= 0)
		return total;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return total;
	if (bpf_map__lookup_elem(s->skel->maps.lost, &zero, sizeof(zero), vals,
				 (size_t)ncpu * sizeof(*vals), 0) == 0) {
		for (int i = 0; i < ncpu; i++)
			total += vals[i];
	}
	free(vals);
	return total;
}

/* A holder tid read from a lock is believed only if the process has
 * such a thread (checked once per new holder, on the contended path). */
static bool owner_ok(void *ctx, uint32_t pid, uint32_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%u/task/%u", pid, tid);
	return access(path, F_OK) == 0;
}

static const struct ts_source_ops locks_ops = {
	.drain = src_drain,
	.lost = src_lost,
	.free = src_free,
};

/* libc, libpthread and the dynamic loader: the frames a lock passes
 * through before it reaches the program's own code. */
static bool is_libc(const char *module)
{
	const char *base = module ? strrchr(module, '/') : NULL;

	base = base ? base + 1 : module;
	if (!base)
		return false;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5) ||
	       !strncmp(base, "libpthread", 10) || !strncmp(base, "ld-linux", 8);
}

/* What libc's own frames say the futex is, innermost first: 1 a lock,
 * 0 not a lock, -1 cannot tell. */
static int classify(const char *fn, uint32_t *kind)
{
	if (!fn)
		return -1;
	if (strstr(fn, "rwlock")) {
		*kind = TS_RES_RWLOCK;
		return 1;
	}
	if (strstr(fn, "lll_lock") || strstr(fn, "mutex"))
		return 1;
	if (strstr(fn, "cond") || strstr(fn, "sem_") || strstr(fn, "join") || strstr(fn, "barrier") ||
	    strstr(fn, "once"))
		return 0;
	return -1;
}

/* A language runtime's own lock code, between libc's futex call and the
 * program: Rust's std futex mutex (it calls futex directly, with the same
 * "locked, with waiters" value 2 as glibc) and the common lock crates.
 * Skipped like libc's frames; they too say what the futex is. */
static bool is_lock_library(const char *fn, uint32_t *kind, bool *not_a_lock)
{
	static const char *const prefixes[] = {
		"std::sys::", "std::sync::", "parking_lot::", "parking_lot_core::", "lock_api::",
	};

	if (!fn)
		return false;
	while (*fn == '<' || *fn == '&')   /* "<std::sys::...::Mutex>::lock_contended" */
		fn++;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (strncmp(fn, prefixes[i], strlen(prefixes[i])))
			continue;
		if (strstr(fn, "Condvar") || strstr(fn, "condvar") || strstr(fn, "Once") ||
		    strstr(fn, "thread::") || strstr(fn, "park"))
			*not_a_lock = !strstr(fn, "mutex") && !strstr(fn, "Mutex") && !strstr(fn, "rwlock") &&
				      !strstr(fn, "RwLock");
		else if (strstr(fn, "rwlock") || strstr(fn, "RwLock"))
			*kind = TS_RES_RWLOCK;
		return true;
	}
	return false;
}

static void name_from_frame(const struct ts_frame *f, struct ts_locks_name *out)
{
	if (f->function)
		snprintf(out->name, sizeof(out->name), "%s", f->function);
	else
		ts_frame_format(f, out->name, sizeof(out->name));
	if (f->file && f->line)
		snprintf(out->location, sizeof(out->location), "%s:%u", f->file, f->line);
}

static int lookup(struct locks_src *s, uint64_t ip, struct ts_frame *f)
{
	int r = ts_symbolizer_lookup(s->sym, ip, f);

	if (r == -ENOENT && ts_symbolizer_refresh(s->sym) == 0)
		r = ts_symbolizer_lookup(s->sym, ip, f);
	return r;
}

static int name_site(void *ctx, const struct ts_locks_site *site, struct ts_locks_name *out)
{
	struct locks_src *s = ctx;
	struct ts_user_regs regs = {
		.ip = site->regs.ip, .sp = site->regs.sp, .bp = site->regs.bp, .bx = site->regs.bx,
		.r12 = site->regs.r12, .r13 = site->regs.r13, .r14 = site->regs.r14, .r15 = site->regs.r15,
	};
	uint64_t ips[UNWIND_FRAMES];
	bool verdict = false;
	int n;

	if (!s->sym)
		return -ENOENT;
	n = ts_symbolizer_unwind(s->sym, &regs, site->stack, site->stack_len, ips, UNWIND_FRAMES);
	if (n < 2 && (site->rec.flags & TS_LOCKS_F_ENTRY) && site->stack_len >= 8) {
		/* at a function's first instruction the return address is at sp */
		memcpy(&ips[1], site->stack, sizeof(ips[1]));
		ips[0] = regs.ip;
		n = 2;
	}
	for (int i = 0; i < n; i++) {
		struct ts_frame f;
		/* a return address points after its call: look up the call */
		uint64_t ip = i ? ips[i] - 1 : ips[i];

		if (lookup(s, ip, &f) < 0)
			continue;
		if (is_libc(f.module)) {
			if (!verdict) {
				int c = classify(f.function, &out->kind);

				if (c == 0) {
					out->not_a_lock = true;
					return 0;
				}
				verdict = c == 1;
			}
			continue;
		}
		if (is_lock_library(f.function, &out->kind, &out->not_a_lock)) {
			if (out->not_a_lock)
				return 0;
			continue;
		}
		name_from_frame(&f, out);
		return 0;
	}
	return n < 0 ? n : -ENOENT;
}

/* The path of the libc `pid` runs, through /proc/PID/root so that a
 * process in another mount namespace is probed in its own file. */
static int find_libc(uint32_t pid, char *out, size_t len)
{
	char path[64], line[4096];
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *file = strchr(line, '/');
		char *base;

		if (!file)
			continue;
		file[strcspn(file, "\n")] = '\0';
		base = strrchr(file, '/') + 1;
		if (strncmp(base, "libc.so", 7) && strncmp(base, "libc-", 5))
			continue;
		snprintf(out, len, "/proc/%u/root%s", pid, file);
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

static int add_link(struct locks_src *s, struct bpf_link *l)
{
	if (!l)
		return -errno ? -errno : -EINVAL;
	if (s->n_links == MAX_LINKS) {
		bpf_link__destroy(l);
		return -ENOSPC;
	}
	s->links[s->n_links++] = l;
	return 0;
}

static int uprobe(struct locks_src *s, struct bpf_program *prog, const char *libc, const char *fn,
		  bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = ret);
	uint64_t off;
	int r = ts_locks_elf_func_offset(libc, fn, &off);

	if (r < 0)
		return r;
	return add_link(s, bpf_program__attach_uprobe_opts(prog, (pid_t)s->pid, libc, (size_t)off, &o));
}

static int attach_full(struct locks_src *s, char *err, size_t errlen)
{
	struct locks_bpf *k = s->skel;
	struct {
		const char *fn;
		struct bpf_program *entry, *ret;
	} probes[] = {
		{ "pthread_mutex_lock", k->progs.mutex_lock, k->progs.lock_ret },
		{ "pthread_mutex_trylock", k->progs.mutex_trylock, k->progs.lock_ret },
		{ "pthread_mutex_unlock", k->progs.mutex_unlock, NULL },
		{ "pthread_rwlock_rdlock", k->progs.rwlock_rdlock, k->progs.lock_ret },
		{ "pthread_rwlock_tryrdlock", k->progs.rwlock_tryrdlock, k->progs.lock_ret },
		{ "pthread_rwlock_wrlock", k->progs.rwlock_wrlock, k->progs.lock_ret },
		{ "pthread_rwlock_trywrlock", k->progs.rwlock_trywrlock, k->progs.lock_ret },
		{ "pthread_rwlock_unlock", k->progs.rwlock_unlock, NULL },
		{ "pthread_cond_wait", k->progs.cond_wait, k->progs.cond_ret },
		{ "pthread_cond_timedwait", k->progs.cond_wait, k->progs.cond_ret },
	};
	char libc[512];
	int r = find_libc(s->pid, libc, sizeof(libc));

	if (r < 0) {
		snprintf(err, errlen, "--locks=full: pid %u maps no shared libc (static binary?); "
			 "use --locks=contended", s->pid);
		return r;
	}
	/* every return probe before any entry probe: a call that enters while
	 * we attach is seen whole or not at all (an entry seen without its
	 * return would leave the thread's in-flight call behind: the futex
	 * path skips it, and its waiters would not name it as the holder) */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			bool ret = pass == 0;

			if (ret && !probes[i].ret)
				continue;
			r = uprobe(s, ret ? probes[i].ret : probes[i].entry, libc, probes[i].fn, ret);
			if (r < 0) {
				snprintf(err, errlen, "--locks=full: cannot probe %s in %s: %s", probes[i].fn, libc,
					 strerror(-r));
				return r;
			}
		}
	}
	return 0;
}

static int attach_contended(struct locks_src *s, char *err, size_t errlen)
{
	char libc[512];
	int r;

	if (s->raw_syscalls) {
		r = add_link(s, bpf_program__attach(s->skel->progs.locks_sys_enter));
		if (r == 0)
			r = add_link(s, bpf_program__attach(s->skel->progs.locks_sys_exit));
	} else {
		r = add_link(s, bpf_program__attach(s->skel->progs.locks_switch));
		if (r == 0)
			r = add_link(s, bpf_program__attach(s->skel->progs.locks_waking));
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot attach the futex wait programs: %s", strerror(-r));
		return r;
	}
	/* Forgetting destroyed locks (one uprobe hit per destroy, none per
	 * lock operation). Without them (a static libc) the model keeps every
	 * lock it saw contended until the end: memory, not correctness. */
	if (find_libc(s->pid, libc, sizeof(libc)) == 0 &&
	    uprobe(s, s->skel->progs.lock_destroy, libc, "pthread_mutex_destroy", false) == 0)
		(void)uprobe(s, s->skel->progs.lock_destroy, libc, "pthread_rwlock_destroy", false);
	return 0;
}

/* Load the programs `mode` uses: futex waits seen by the scheduler's
 * tracepoints (tp_btf), or, where those do not load, through raw_syscalls
 * (every syscall on the machine then runs a program). */
static int load_flavour(struct locks_src *s, bool raw_syscalls)
{
	struct bpf_program *prog;
	bool full = s->mode == TS_LOCKS_FULL;
	int r;

	s->skel = locks_bpf__open();
	if (!s->skel)
		return errno ? -errno : -ENOMEM;
	s->skel->rodata->targ_tgid = s->pid;
	s->skel->rodata->full_mode = full;
	/* contended: the futex path (and destroy); full: everything, the futex
	 * path then only for locks that are not pthread's */
	bpf_object__for_each_program(prog, s->skel->obj) {
		bool is_raw = prog == s->skel->progs.locks_sys_enter || prog == s->skel->progs.locks_sys_exit;
		bool is_sched = prog == s->skel->progs.locks_switch || prog == s->skel->progs.locks_waking;
		bool on;

		if (is_raw || is_sched)
			on = is_raw == raw_syscalls;
		else
			on = full || prog == s->skel->progs.lock_destroy;
		bpf_program__set_autoload(prog, on);
	}
	r = locks_bpf__load(s->skel);
	if (r < 0) {
		locks_bpf__destroy(s->skel);
		s->skel = NULL;
		return r;
	}
	s->raw_syscalls = raw_syscalls;
	return 0;
}

static int load(struct locks_src *s, bool raw_syscalls, char *err, size_t errlen)
{
	int r = raw_syscalls ? -ENOTSUP : load_flavour(s, false);

	if (r < 0)
		r = load_flavour(s, true);
	if (r < 0)
		snprintf(err, errlen, "cannot load the lock programs: %s", strerror(-r));
	return r;
}

int ts_locks_attach(struct ts_collector *c, uint32_t pid, enum ts_lock_mode mode, uint64_t now_ns,
		    char *err, size_t errlen)
{
	return ts_locks_attach_flavour(c, pid, mode, false, now_ns, err, errlen);
}

int ts_locks_attach_flavour(struct ts_collector *c, uint32_t pid, enum ts_lock_mode mode, bool raw_syscalls,
			    uint64_t now_ns, char *err, size_t errlen)
{
	struct ts_source_desc d = { .pid = 0, .kind = "locks", .watch_fd = -1, .watch_is_pidfd = true };
	struct locks_src *s;
	char symerr[256];
	int r;

	if (mode == TS_LOCKS_OFF)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->pid = pid;
	s->mode = mode;
	s->pidfd = -1;
	/* Without symbols the locks are still traced, only unnamed. */
	if (ts_collector_symbolizer(c, pid, &s->sym, symerr, sizeof(symerr)) < 0)
		s->sym = NULL;
	r = ts_locks_track_new(ts_collector_strpool(c), mode, name_site, s, &s->track);
	if (r < 0) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	ts_locks_track_set_owner_check(s->track, owner_ok, s);
	r = load(s, raw_syscalls, err, errlen);
	if (r < 0)
		goto cleanup;
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_record, s, NULL);
	if (!s->rb) {
		r = -errno;
		snprintf(err, errlen, "cannot open the lock ring buffer: %s", strerror(-r));
		goto cleanup;
	}
	r = attach_contended(s, err, errlen);
	if (r == 0 && mode == TS_LOCKS_FULL)
		r = attach_full(s, err, errlen);
	if (r < 0)
		goto cleanup;
	s->pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	d.watch_fd = s->pidfd < 0 ? -1 : fcntl(s->pidfd, F_DUPFD_CLOEXEC, 0);
	if (d.watch_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "pid %u: %s", pid, strerror(-r));
		goto cleanup;
	}
	/* from here the collector owns s and the pidfd, also on failure */
	return ts_collector_add_source(c, &d, &locks_ops, s, now_ns, err, errlen);
cleanup:
	src_free(s);
	return r;
}
