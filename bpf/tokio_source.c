/*
 * tokio_source.c: `taskscope attach` for an unmodified Tokio binary.
 *
 * Probe: are Tokio's task functions in the process's ELF files
 * (tokio_elf.c)? Attach: load tokio.bpf.c for this one process (its tgid
 * in rodata), attach a uprobe to every instance found (cookies tell the
 * programs which function a hit is), and register a collector source
 * whose drain empties the BPF ring buffer into events (tokio_tasks.c).
 * The waker functions are probed only in full mode (--waker-probes, struct
 * ts_tokio_options): by default only wake_by_ref is, a poll costs two
 * traps, other wakes are inferred, and the waker counts of idle tasks
 * come from their state words, read from the target's memory (see
 * tokio_tasks.c; ts_tokio_memory_check says beforehand whether it can be).
 *
 * Every probe is removed (links and skeleton destroyed) when the source
 * is freed, at detach or when any step fails, so a refusal leaves the
 * target untouched (tokio_attach.c attaches; the poll probes go last). A
 * process that exits during the attach makes the attach fail with ESRCH:
 * that is reported as such.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bpf/tokio.h"  /* before the skeleton: its .bss has struct tk_slot */
#include "bpf/tokio.skel.h"
#include "bpf/tokio_internal.h"
#include "collector/attach.h"
#include "collector/collector.h"
#include "collector/symbolize.h"

struct tk_source {
	uint32_t pid;
	struct tokio_bpf *skel;
	struct tk_links links;
	struct ring_buffer *rb;
	struct ts_symbolizer *sym;
	struct tk_tasks *tasks;
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
	ts_tokio_links_free(&s->links);
	tokio_bpf__destroy(s->skel);
	ts_tokio_tasks_free(s->tasks);
	ts_symbolizer_free(s->sym);
	free(s);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct tk_source *s = ctx;
	int r = ts_tokio_tasks_take(s->tasks, data, size);

	if (r < 0 && !s->cb_err)
		s->cb_err = r;
	return 0;
}

static int source_drain(void *p, struct ts_event_batch *batch, uint64_t now_ns)
{
	struct tk_source *s = p;
	int r;

	s->cb_err = 0;
	r = ring_buffer__consume(s->rb);
	if (r < 0)
		return r;
	if (s->cb_err)
		return s->cb_err;
	/* after the records: a batch whose record was read is not in a slot
	 * any more, nor a poll whose end was */
	if (s->skel->bss) {
		r = ts_tokio_tasks_take_slots(s->tasks, s->skel->bss->slots, TK_SLOTS, now_ns);
		if (r < 0)
			return r;
	}
	r = ts_tokio_tasks_flush(s->tasks, batch);
	if (r == 0)
		r = ts_tokio_tasks_check_idle(s->tasks, now_ns, batch);
	if (r < 0 || !s->skel->bss)
		return r;
	return ts_tokio_tasks_scan(s->tasks, s->skel->bss->slots, TK_SLOTS, now_ns, batch);
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

int ts_tokio_memory_check(uint32_t pid, char *err, size_t errlen)
{
	uint64_t word;
	struct iovec local = { &word, sizeof(word) };
	/* The permission is checked before any address is: a page nothing
	 * maps answers EFAULT when reading is allowed, EPERM when not. */
	struct iovec remote = { (void *)(uintptr_t)4096, sizeof(word) };
	int r;

	if (process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0) >= 0 || errno == EFAULT)
		return 0;
	r = -errno;
	snprintf(err, errlen, "cannot read pid %" PRIu32 "'s memory (%s; needs CAP_SYS_PTRACE): "
		 "waker counts stay unknown, so no lost_waker for its tasks", pid, strerror(-r));
	return r;
}

int ts_tokio_attach(struct ts_collector *c, uint32_t pid, const struct ts_tokio_options *o, uint64_t now_ns,
		    char *err, size_t errlen)
{
	bool waker_probes = o && o->waker_probes;
	struct ts_source_desc d = { .pid = pid, .kind = "tokio-bpf", .runtime = "tokio", .watch_fd = -1,
				    .watch_is_pidfd = true };
	struct tk_symbols *syms = NULL;
	struct tk_source *s = NULL;
	char exe[4096] = "", path[64];
	bool multi = false;
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
	r = ts_collector_symbolizer(c, pid, &s->sym, err, errlen);
	if (r < 0)
		goto fail;
	r = ts_tokio_tasks_new(pid, waker_probes, ts_collector_strpool(c), s->sym, &s->tasks);
	if (r < 0)
		goto nomem;
	ts_tokio_tasks_set_glue_shared(s->tasks, syms->glue_shared, syms->n_glue_shared);
	syms->glue_shared = NULL;
	r = ts_tokio_skel_load(pid, waker_probes, &s->skel, &multi, err, errlen);
	if (r < 0)
		goto fail;
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_record, s, NULL);
	if (!s->rb) {
		r = -errno;
		snprintf(err, errlen, "cannot open the Tokio ring buffer: %s", strerror(-r));
		goto fail;
	}
	r = ts_tokio_links_attach(&s->links, s->skel, multi, syms, pid, err, errlen);
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
