/*
 * tokio_attach.c: load tokio.bpf.c and attach its programs to the Tokio
 * functions tokio_elf.c found.
 *
 * Why two ways: a Tokio binary has about a hundred probe sites (one
 * raw::poll, dealloc and bind per future type). Attached one by one
 * (perf-event uprobes, the only way libbpf 1.1 knows), each removal waits
 * for an RCU grace period: about 0.1 s each here, so a detach took over
 * ten seconds. Kernels since 6.6 have uprobe_multi links: one bpf() call
 * per program and file attaches all its sites, and removing the link
 * unregisters them all behind one grace period. We load the programs for
 * uprobe_multi when the kernel accepts that, else reload them plainly and
 * fall back to one perf-event uprobe per site. Libbpf 1.1 and Debian 12's
 * uapi headers predate uprobe_multi, so the few constants are spelled
 * out here (they are kernel ABI).
 *
 * The waker functions are probed only with --waker-probes (full mode);
 * by default only wake_by_ref is (the self-wakes, tokio.bpf.c).
 *
 * Kernels with uprobe sessions (6.13+) get raw::poll as one session
 * program (entry and return, with a per-call cookie: no per-thread state
 * in BPF); older ones an entry and a return program.
 *
 * Order: the hooks (wakers, dealloc, spawn, panic) first, the poll probes
 * last, so that a poll seen has everything else live already; and the
 * poll's return before its entry, so that every poll begin seen has its
 * end seen too (a return whose entry came first is ignored in BPF). On failure
 * everything attached so far is removed by the caller (tk_links_free).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bpf/tokio.h"  /* before the skeleton: its .bss has struct tk_slot */
#include "bpf/tokio.skel.h"
#include "bpf/tokio_internal.h"

#define TK_BPF_LINK_CREATE 28            /* enum bpf_cmd */
#define TK_BPF_TRACE_UPROBE_MULTI 48     /* enum bpf_attach_type */
#define TK_BPF_TRACE_UPROBE_SESSION 57   /* Linux 6.13+ */
#define TK_BPF_F_UPROBE_MULTI_RETURN 1u

struct tk_link_create_attr {             /* union bpf_attr, link_create.uprobe_multi */
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t multi_flags;
	uint32_t pid;
	uint32_t pad;
};

#define N_PROGRAMS 8

static void programs(struct tokio_bpf *skel, struct bpf_program *p[N_PROGRAMS])
{
	p[7] = skel->progs.tk_poll_session;
	p[0] = skel->progs.tk_poll_enter;
	p[1] = skel->progs.tk_poll_exit;
	p[2] = skel->progs.tk_dealloc;
	p[3] = skel->progs.tk_waker;
	p[4] = skel->progs.tk_panic_caught;
	p[5] = skel->progs.tk_spawn_ret;
	p[6] = skel->progs.tk_complete;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

int ts_tokio_skel_load(uint32_t pid, bool waker_probes, struct tokio_bpf **out, bool *multi, char *err,
		       size_t errlen)
{
	struct bpf_program *p[N_PROGRAMS];
	struct tokio_bpf *skel;
	int r;

	libbpf_set_print(libbpf_quiet);
	/* uprobe_multi with the poll as a session, uprobe_multi, plain uprobes;
	 * TASKSCOPE_TOKIO_NO_SESSION=1 skips the first (to compare and to test
	 * the fallback on a kernel that has sessions: docs/benchmarks.md) */
	const char *no_session = getenv("TASKSCOPE_TOKIO_NO_SESSION");

	for (int attempt = no_session && *no_session == '1'; attempt < 3; attempt++) {
		bool try_multi = attempt < 2, session = attempt == 0;

		skel = tokio_bpf__open();
		if (!skel) {
			r = -errno;
			snprintf(err, errlen, "cannot open the Tokio BPF programs: %s", strerror(-r));
			return r;
		}
		skel->rodata->targ_tgid = pid;
		skel->rodata->waker_probes = waker_probes;
		bpf_program__set_autoload(skel->progs.tk_poll_session, session);
		bpf_program__set_autoload(skel->progs.tk_poll_enter, !session);
		bpf_program__set_autoload(skel->progs.tk_poll_exit, !session);
		programs(skel, p);
		for (size_t i = 0; try_multi && i < N_PROGRAMS; i++)
			bpf_program__set_expected_attach_type(p[i], (enum bpf_attach_type)
							      (p[i] == skel->progs.tk_poll_session ?
							       TK_BPF_TRACE_UPROBE_SESSION : TK_BPF_TRACE_UPROBE_MULTI));
		r = tokio_bpf__load(skel);
		if (r == 0) {
			*out = skel;
			*multi = try_multi;
			return 0;
		}
		tokio_bpf__destroy(skel);
	}
	snprintf(err, errlen, "cannot load the Tokio BPF programs: %s", strerror(-r));
	return r;
}

void ts_tokio_links_free(struct tk_links *l)
{
	/* newest first: the poll probes go before the hooks they rely on */
	for (size_t i = l->n; i-- > 0;) {
		if (l->links[i])
			bpf_link__destroy(l->links[i]);
		else if (l->fds[i] >= 0)
			close(l->fds[i]);
	}
	free(l->links);
	free(l->fds);
	memset(l, 0, sizeof(*l));
}

static int links_add(struct tk_links *l, struct bpf_link *link, int fd)
{
	struct bpf_link **nl = realloc(l->links, (l->n + 1) * sizeof(*nl));
	int *nf;

	if (!nl)
		return -ENOMEM;
	l->links = nl;
	nf = realloc(l->fds, (l->n + 1) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	l->fds = nf;
	l->links[l->n] = link;
	l->fds[l->n] = fd;
	l->n++;
	return 0;
}

static uint64_t cookie_of(const struct tk_probe *p, uint64_t poll_index)
{
	switch (p->fn) {
	case TK_FN_POLL:
		return poll_index;
	case TK_FN_CLONE_WAKER:
		return TK_REC_WAKER_CLONE;
	case TK_FN_DROP_WAKER:
		return TK_REC_WAKER_DROP;
	case TK_FN_WAKE_BY_VAL:
		return TK_REC_WAKE;
	case TK_FN_WAKE_BY_REF:
		return TK_REC_WAKE_BY_REF;
	case TK_FN_SPAWN_BLOCKING:
		return TK_SPAWN_BLOCKING;
	default:
		return TK_SPAWN_TASK;
	}
}

/* Which programs a function gets (the poll gets an entry and a return). */
static size_t programs_for(struct tokio_bpf *skel, enum tk_fn fn, struct bpf_program *out[2], bool ret[2])
{
	ret[0] = ret[1] = false;
	switch (fn) {
	case TK_FN_POLL:
		if (bpf_program__fd(skel->progs.tk_poll_session) >= 0) {
			out[0] = skel->progs.tk_poll_session;  /* entry and return */
			return 1;
		}
		out[0] = skel->progs.tk_poll_enter;
		out[1] = skel->progs.tk_poll_exit;
		ret[1] = true;
		return 2;
	case TK_FN_DEALLOC:
		out[0] = skel->progs.tk_dealloc;
		return 1;
	case TK_FN_CLONE_WAKER:
	case TK_FN_DROP_WAKER:
	case TK_FN_WAKE_BY_VAL:
		/* light mode (no --waker-probes): not probed */
		if (!skel->rodata->waker_probes)
			return 0;
		out[0] = skel->progs.tk_waker;
		return 1;
	case TK_FN_WAKE_BY_REF:
		out[0] = skel->progs.tk_waker;
		return 1;
	case TK_FN_BIND:
	case TK_FN_SPAWN_BLOCKING:
		out[0] = skel->progs.tk_spawn_ret;
		ret[0] = true;
		return 1;
	case TK_FN_PANIC_CLEANUP:
		out[0] = skel->progs.tk_panic_caught;
		return 1;
	case TK_FN_COMPLETE:
		out[0] = skel->progs.tk_complete;
		return 1;
	default:
		return 0;
	}
}

static int fail_line(uint32_t pid, int r, const char *what, const char *module, char *err, size_t errlen)
{
	if (r == -ESRCH || kill((pid_t)pid, 0) < 0) {
		snprintf(err, errlen, "pid %" PRIu32 " exited during the attach; nothing was left behind", pid);
		return -ESRCH;
	}
	snprintf(err, errlen, "cannot attach uprobes to %s in %s: %s", what, module, strerror(-r));
	return r;
}

/* One uprobe_multi link for every site of `prog` in one module. */
static int attach_multi_group(struct tk_links *l, struct tokio_bpf *skel, const struct tk_symbols *s,
			      uint32_t pid, struct bpf_program *prog, bool ret, bool polls, uint32_t module,
			      char *err, size_t errlen)
{
	uint64_t *offs = calloc(s->n_probes, sizeof(*offs)), *cookies = calloc(s->n_probes, sizeof(*cookies));
	struct tk_link_create_attr a = { 0 };
	uint64_t poll_index = 0;
	const char *what = NULL;
	uint32_t cnt = 0;
	int fd, r = 0;

	if (!offs || !cookies) {
		r = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < s->n_probes; i++) {
		const struct tk_probe *p = &s->probes[i];
		struct bpf_program *pp[2];
		bool rr[2];
		size_t n = programs_for(skel, p->fn, pp, rr);
		uint64_t idx = p->fn == TK_FN_POLL ? poll_index++ : 0;

		if ((p->fn == TK_FN_POLL) != polls || p->module != module)
			continue;
		for (size_t k = 0; k < n; k++) {
			if (pp[k] == prog && rr[k] == ret) {
				offs[cnt] = p->offset;
				cookies[cnt++] = cookie_of(p, idx);
				what = ts_tokio_fn_name(p->fn);
			}
		}
	}
	if (!cnt)
		goto cleanup;
	a.prog_fd = (uint32_t)bpf_program__fd(prog);
	a.attach_type = prog == skel->progs.tk_poll_session ? TK_BPF_TRACE_UPROBE_SESSION : TK_BPF_TRACE_UPROBE_MULTI;
	a.path = (uint64_t)(uintptr_t)s->modules[module];
	a.offsets = (uint64_t)(uintptr_t)offs;
	a.cookies = (uint64_t)(uintptr_t)cookies;
	a.cnt = cnt;
	a.multi_flags = ret ? TK_BPF_F_UPROBE_MULTI_RETURN : 0;
	a.pid = pid;
	fd = (int)syscall(__NR_bpf, TK_BPF_LINK_CREATE, &a, sizeof(a));
	if (fd < 0) {
		r = fail_line(pid, -errno, what, s->modules[module], err, errlen);
		goto cleanup;
	}
	r = links_add(l, NULL, fd);
	if (r < 0)
		close(fd);
cleanup:
	free(offs);
	free(cookies);
	return r;
}

static int attach_multi(struct tk_links *l, struct tokio_bpf *skel, const struct tk_symbols *s, uint32_t pid,
			char *err, size_t errlen)
{
	static const struct { int prog; bool ret; bool polls; } order[] = {
		{ 2, false, false }, { 3, false, false }, { 4, false, false }, { 5, true, false },
		{ 6, false, false },
		{ 1, true, true }, { 0, false, true }, { 7, false, true },
	};
	struct bpf_program *p[N_PROGRAMS];
	int r;

	programs(skel, p);
	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
		for (uint32_t m = 0; m < s->n_modules; m++) {
			r = attach_multi_group(l, skel, s, pid, p[order[o].prog], order[o].ret, order[o].polls, m,
					       err, errlen);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int attach_single(struct tk_links *l, struct tokio_bpf *skel, const struct tk_symbols *s, uint32_t pid,
			 char *err, size_t errlen)
{
	uint64_t poll_index = 0;
	int r;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < s->n_probes; i++) {
			const struct tk_probe *p = &s->probes[i];
			struct bpf_program *pp[2];
			bool rr[2];
			size_t n;
			uint64_t cookie;

			if ((p->fn == TK_FN_POLL) != (pass == 1))
				continue;
			n = programs_for(skel, p->fn, pp, rr);
			cookie = cookie_of(p, p->fn == TK_FN_POLL ? poll_index++ : 0);
			for (size_t k = n; k-- > 0;) { /* a poll's return before its entry */
				LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = cookie, .retprobe = rr[k]);
				struct bpf_link *link = bpf_program__attach_uprobe_opts(pp[k], (pid_t)pid,
									s->modules[p->module], p->offset, &o);

				if (!link)
					return fail_line(pid, -errno, ts_tokio_fn_name(p->fn), s->modules[p->module],
							 err, errlen);
				r = links_add(l, link, -1);
				if (r < 0) {
					bpf_link__destroy(link);
					return r;
				}
			}
		}
	}
	return 0;
}

int ts_tokio_links_attach(struct tk_links *l, struct tokio_bpf *skel, bool multi, const struct tk_symbols *s,
			  uint32_t pid, char *err, size_t errlen)
{
	int r = multi ? attach_multi(l, skel, s, pid, err, errlen) : attach_single(l, skel, s, pid, err, errlen);

	if (r == -ENOMEM)
		snprintf(err, errlen, "attach to pid %" PRIu32 ": out of memory", pid);
	return r;
}
