/*
 * tokio_source.c: `taskscope attach` for an unmodified Tokio binary.
 *
 * Probe: are Tokio's task functions in the process's ELF files
 * (tokio_elf.c)? Attach: load tokio.bpf.c for this one process (its tgid
 * in rodata), attach a uprobe to every instance found (cookies tell the
 * programs which function a hit is), and register a collector source
 * whose drain empties the BPF ring buffer into events (tokio_tasks.c).
 *
 * Order matters twice. The poll probes are attached last, so a poll seen
 * has its waker and spawn hooks already live; and every probe is removed
 * (skeleton and links destroyed) when the source is freed, at detach or
 * when any step fails, so a refusal leaves the target untouched. A
 * process that exits during the attach makes perf_event_open fail with
 * ESRCH: that is reported as such.
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

#include "bpf/tokio.skel.h"
#include "bpf/tokio_internal.h"
#include "collector/attach.h"
#include "collector/collector.h"
#include "collector/symbolize.h"

struct tk_source {
	uint32_t pid;
	struct tokio_bpf *skel;
	struct bpf_link **links;
	size_t n_links;
	struct ring_buffer *rb;
	struct ts_symbolizer *sym;
	struct tk_tasks *tasks;
	struct ts_event_batch *batch;   /* set during a drain */
	int cb_err;
};

int ts_tokio_probe(uint32_t pid, char *err, size_t errlen)
{
	struct tk_symbols *s = NULL;
	int r = ts_tokio_elf_scan(pid, &s, err, errlen);

	if (r < 0)
		return r;
	r = s->count[TK_FN_POLL] > 0;
	ts_tokio_symbols_free(s);
	return r;
}

static void source_free(void *p)
{
	struct tk_source *s = p;

	if (!s)
		return;
	ring_buffer__free(s->rb);
	/* links first, newest first: the poll probes go before the hooks they rely on */
	for (size_t i = s->n_links; i-- > 0;)
		bpf_link__destroy(s->links[i]);
	free(s->links);
	tokio_bpf__destroy(s->skel);
	ts_tokio_tasks_free(s->tasks);
	ts_symbolizer_free(s->sym);
	free(s);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct tk_source *s = ctx;
	int r = ts_tokio_tasks_record(s->tasks, data, size, s->batch);

	if (r < 0 && !s->cb_err)
		s->cb_err = r;
	return 0;
}

static int source_drain(void *p, struct ts_event_batch *batch, uint64_t now_ns)
{
	struct tk_source *s = p;
	int r;

	s->batch = batch;
	s->cb_err = 0;
	r = ring_buffer__consume(s->rb);
	s->batch = NULL;
	if (r < 0)
		return r;
	return s->cb_err;
}

static uint64_t source_lost(void *p)
{
	struct tk_source *s = p;
	int ncpu = libbpf_num_possible_cpus();
	uint64_t total = ts_tokio_tasks_rejected(s->tasks);
	uint32_t zero = 0;
	uint64_t *vals;

	if (ncpu <= 0 || !(vals = calloc((size_t)ncpu, sizeof(*vals))))
		return total;
	if (bpf_map__lookup_elem(s->skel->maps.drops, &zero, sizeof(zero), vals,
				 (size_t)ncpu * sizeof(*vals), 0) == 0) {
		for (int i = 0; i < ncpu; i++)
			total += vals[i];
	}
	free(vals);
	return total;
}

static const struct ts_source_ops tokio_ops = {
	.drain = source_drain,
	.lost = source_lost,
	.free = source_free,
};

static int attach_one(struct tk_source *s, const struct tk_symbols *syms, const struct tk_probe *p,
		      uint64_t cookie, char *err, size_t errlen)
{
	struct bpf_program *progs[2] = { NULL, NULL };
	struct bpf_link **links;
	int n = 1;

	switch (p->fn) {
	case TK_FN_POLL:
		progs[0] = s->skel->progs.tk_poll_enter;
		progs[1] = s->skel->progs.tk_poll_exit;
		n = 2;
		break;
	case TK_FN_DEALLOC:
		progs[0] = s->skel->progs.tk_dealloc;
		break;
	case TK_FN_CLONE_WAKER:
	case TK_FN_DROP_WAKER:
	case TK_FN_WAKE_BY_VAL:
	case TK_FN_WAKE_BY_REF:
		progs[0] = s->skel->progs.tk_waker;
		break;
	case TK_FN_BIND:
	case TK_FN_SPAWN_BLOCKING:
		progs[0] = s->skel->progs.tk_spawn_ret;
		break;
	case TK_FN_PANIC_CLEANUP:
		progs[0] = s->skel->progs.tk_panic_caught;
		break;
	default:
		return 0;
	}
	links = realloc(s->links, (s->n_links + 2) * sizeof(*links));
	if (!links)
		return -ENOMEM;
	s->links = links;
	for (int i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = cookie,
			    .retprobe = progs[i] == s->skel->progs.tk_poll_exit ||
					progs[i] == s->skel->progs.tk_spawn_ret);
		struct bpf_link *l = bpf_program__attach_uprobe_opts(progs[i], (pid_t)s->pid,
								      syms->modules[p->module], p->offset, &o);
		int r = l ? 0 : -errno;

		if (r < 0) {
			if (r == -ESRCH || kill((pid_t)s->pid, 0) < 0)
				snprintf(err, errlen, "pid %" PRIu32 " exited during the attach; nothing was left behind",
					 s->pid);
			else
				snprintf(err, errlen, "cannot attach a uprobe to %s in %s at 0x%" PRIx64 ": %s",
					 ts_tokio_fn_name(p->fn), syms->modules[p->module], p->offset, strerror(-r));
			return r == -ENOENT ? -ESRCH : r;
		}
		s->links[s->n_links++] = l;
	}
	return 0;
}

static uint64_t cookie_of(const struct tk_probe *p, uint64_t *poll_index)
{
	switch (p->fn) {
	case TK_FN_POLL:
		return (*poll_index)++;
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

static int attach_all(struct tk_source *s, const struct tk_symbols *syms, char *err, size_t errlen)
{
	uint64_t poll_index = 0;
	int r;

	/* hooks first, polls last (see the top of the file) */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < syms->n_probes; i++) {
			const struct tk_probe *p = &syms->probes[i];

			if ((p->fn == TK_FN_POLL) != (pass == 1))
				continue;
			r = attach_one(s, syms, p, cookie_of(p, &poll_index), err, errlen);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

int ts_tokio_attach(struct ts_collector *c, uint32_t pid, uint64_t now_ns, char *err, size_t errlen)
{
	struct ts_source_desc d = { .pid = pid, .kind = "tokio-bpf", .runtime = "tokio", .watch_fd = -1,
				    .watch_is_pidfd = true };
	struct tk_symbols *syms = NULL;
	struct tk_source *s = NULL;
	char exe[4096] = "", path[64];
	ssize_t n;
	int r;

	d.watch_fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (d.watch_fd < 0) {
		r = -errno;
		snprintf(err, errlen, r == -ESRCH ? "pid %" PRIu32 " exited before the attach" :
			 "cannot watch pid %" PRIu32 ": %s", pid, strerror(-r));
		return r;
	}
	r = ts_tokio_elf_scan(pid, &syms, err, errlen);
	if (r < 0)
		goto fail;
	if (syms->count[TK_FN_POLL] == 0) {
		r = -ENOENT;
		goto fail;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		r = -ENOMEM;
		goto nomem;
	}
	s->pid = pid;
	r = ts_symbolizer_new(pid, &s->sym, err, errlen);
	if (r < 0)
		goto fail;
	r = ts_tokio_tasks_new(pid, ts_collector_strpool(c), s->sym, &s->tasks);
	if (r < 0)
		goto nomem;
	libbpf_set_print(libbpf_quiet);
	s->skel = tokio_bpf__open();
	if (!s->skel) {
		r = -errno;
		snprintf(err, errlen, "cannot open the Tokio BPF programs: %s", strerror(-r));
		goto fail;
	}
	s->skel->rodata->targ_tgid = pid;
	r = tokio_bpf__load(s->skel);
	if (r < 0) {
		snprintf(err, errlen, "cannot load the Tokio BPF programs: %s", strerror(-r));
		goto fail;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_record, s, NULL);
	if (!s->rb) {
		r = -errno;
		snprintf(err, errlen, "cannot open the Tokio ring buffer: %s", strerror(-r));
		goto fail;
	}
	r = attach_all(s, syms, err, errlen);
	if (r < 0)
		goto fail;
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	d.exe = exe[0] ? exe : NULL;
	ts_tokio_symbols_free(syms);
	/* the collector owns s and the pidfd from here on, also on failure */
	return ts_collector_add_source(c, &d, &tokio_ops, s, now_ns, err, errlen);
nomem:
	snprintf(err, errlen, "attach to pid %" PRIu32 ": out of memory", pid);
fail:
	source_free(s);
	ts_tokio_symbols_free(syms);
	close(d.watch_fd);
	return r;
}
