/*
 * sched_source.c: load sched.bpf.c for one process, drain its ring buffer
 * into ts_events, and the two attach entry points built on it.
 *
 * Why a source of its own: scheduler and syscall context is the same for
 * every way of watching a process (shim, tokio-bpf, or nothing but the
 * kernel), so it is one collector source, added beside the others
 * (ts_kernel_context_attach, pid 0 in the processes list) or alone
 * (ts_generic_attach: the process's only source, "generic"). The kernel
 * sends only records above thresholds (bpf/sched.h); this file turns them
 * into TS_EV_OFFCPU (naming the syscall slept in), TS_EV_LOOP_ITER, TS_EV_CPU_SAMPLE,
 * TS_EV_THREAD (loop threads are workers) and, through sched_stack.c,
 * TS_EV_STACK. Losses are counted in the kernel, per CPU, and reported
 * through the `lost` op.
 */
#include "bpf/sched_internal.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpf/sched.skel.h"
#include "bpf/syscall_tp.h"
#include "collector/attach.h"
#include "collector/collector.h"
#include "collector/strpool.h"

#define MS 1000000ull

void ts_sched_config_default(struct ts_sched_config *cfg, uint32_t pid, struct ts_collector *c)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->pid = pid;
	cfg->offcpu_min_ns = 50000;
	cfg->blocking_ns = 1 * MS;
	cfg->loop_stall_ns = 100 * MS;
	cfg->cpu_sample_ns = 200 * MS;
	cfg->ring_bytes = 1u << 22;
	cfg->collector = c;
	if (c) {
		const struct ts_lint_config *l = &ts_model_config(ts_collector_model(c))->lints;

		cfg->blocking_ns = l->blocking_syscall_ns;
		cfg->loop_stall_ns = l->loop_stall_ns;
		cfg->pool = ts_collector_strpool(c);
	}
}

const char *ts_sched_nr_name(struct ts_sched_source *s, int nr)
{
	const char *name;
	char buf[32];

	if (nr < 0)
		return NULL;
	if (nr < SCHED_NR_NAMES && s->nr_names[nr])
		return s->nr_names[nr];
	name = ts_sched_syscall_name(nr);
	if (!name) {
		snprintf(buf, sizeof(buf), "syscall_%d", nr);
		name = buf;
	}
	name = ts_strpool_intern(s->cfg.pool, name, strlen(name));
	if (nr < SCHED_NR_NAMES)
		s->nr_names[nr] = name;
	return name;
}

void ts_sched_push(struct ts_sched_source *s, const struct ts_event *ev)
{
	if (s->batch)
		ts_event_batch_push(s->batch, ev);
}

/* A loop thread of a generic target: a worker, named by its comm. */
static void push_loop_thread(struct ts_sched_source *s, uint32_t tid, uint64_t ts)
{
	char path[64], comm[32] = "";
	struct ts_event ev = { .ts = ts, .pid = s->cfg.pid, .tid = tid, .type = TS_EV_THREAD,
			       .kind = TS_ROLE_WORKER };
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", s->cfg.pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (n > 0) {
			comm[n] = '\0';
			comm[strcspn(comm, "\n")] = '\0';
			ev.name = ts_strpool_intern(s->cfg.pool, comm, strlen(comm));
		}
	}
	ts_sched_push(s, &ev);
}

int ts_sched_loop_index(const struct ts_sched_source *s, uint32_t tid)
{
	for (uint32_t i = 0; i < s->n_loop_tids; i++)
		if (s->loop_tids[i] == tid)
			return (int)i;
	return -1;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct ts_sched_source *s = ctx;
	const struct sched_rec *r = data;
	struct ts_event ev = { 0 };

	if (size < sizeof(*r) || r->tid == 0) {
		s->bad_records++;
		return 0;
	}
	s->records++;
	ev.ts = r->ts;
	ev.pid = s->cfg.pid;
	ev.tid = r->tid;
	switch (r->type) {
	case SCHED_REC_OFFCPU:
		ev.type = TS_EV_OFFCPU;
		ev.arg = r->start;
		ev.id = r->a;
		ev.kind = r->nr >= 0 ? (uint32_t)r->nr + 1 : 0;
		ev.name = ts_sched_nr_name(s, r->nr);
		ev.flags = (r->flags & SCHED_F_PREEMPTED) ? TS_EVF_PREEMPTED : 0;
		break;
	case SCHED_REC_LOOP_ITER:
		ev.type = TS_EV_LOOP_ITER;
		ev.arg = r->start;
		ev.id = r->a;
		ev.name = ts_sched_nr_name(s, r->nr);
		ev.kind = r->top_nr >= 0 ? (uint32_t)r->top_nr + 1 : 0;
		ev.location = ts_sched_nr_name(s, r->top_nr);
		ev.flags = r->a && r->b * 2 > r->a ? TS_EVF_PREEMPTED : 0;
		break;
	case SCHED_REC_LOOP_THREAD:
		if (s->cfg.generic) {
			push_loop_thread(s, r->tid, r->ts);
			if (s->n_loop_tids < SCHED_MAX_SAMPLED && ts_sched_loop_index(s, r->tid) < 0) {
				s->loop_ahead[s->n_loop_tids] = 0;
				s->loop_tids[s->n_loop_tids++] = r->tid;
			}
		}
		return 0;
	case SCHED_REC_CPU_SAMPLE: {
		int li = ts_sched_loop_index(s, r->tid);

		ev.type = TS_EV_CPU_SAMPLE;
		ev.arg = r->a;
		if (li >= 0) {
			/* part of it was reported already (sched_stack.c) */
			uint64_t *ahead = &s->loop_ahead[li], done = *ahead < r->a ? *ahead : r->a;

			ev.arg -= done;
			*ahead -= done;
		}
		break;
	}
	case SCHED_REC_STACK:
		ts_sched_stack_record(s, data, size);
		return 0;
	default:
		s->bad_records++;
		return 0;
	}
	ts_sched_push(s, &ev);
	return 0;
}

static int sum_counter(struct ts_sched_source *s, uint32_t which, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	int r;

	*out = 0;
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	r = bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.counters), &which, vals);
	if (r < 0)
		r = -errno;
	else
		for (int i = 0; i < ncpu; i++)
			*out += vals[i];
	free(vals);
	return r;
}

static uint64_t count_entries(int map_fd)
{
	uint32_t key, next;
	uint64_t n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(map_fd, prev, &next) == 0 && n < (1u << 20)) {
		n++;
		key = next;
		prev = &key;
	}
	return n;
}

int ts_sched_source_stats(struct ts_sched_source *s, struct ts_sched_stats *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	r = sum_counter(s, SCHED_CNT_RESERVED, &out->reserved);
	if (r == 0)
		r = sum_counter(s, SCHED_CNT_LOST, &out->lost);
	if (r == 0)
		r = sum_counter(s, SCHED_CNT_UNTRACKED, &out->untracked);
	out->records = s->records;
	out->thread_entries = count_entries(bpf_map__fd(s->skel->maps.threads));
	out->sampled_entries = count_entries(bpf_map__fd(s->skel->maps.sampled));
	out->samplers = s->n_samplers;
	out->raw_tp = s->raw_tp;
	out->wait_tracepoints = s->n_wait_links;
	return r;
}

static int drain(void *src, struct ts_event_batch *batch, uint64_t now_ns)
{
	struct ts_sched_source *s = src;
	int r;

	s->batch = batch;
	s->now_ns = now_ns;
	if (!s->announced) {
		struct ts_event ev = { .ts = now_ns, .pid = s->cfg.pid, .type = TS_EV_CPU_SAMPLE };

		ts_sched_push(s, &ev);
		s->announced = true;
	}
	r = ring_buffer__consume(s->rb);
	if (s->cfg.collector)
		ts_sched_stack_update(s);
	s->batch = NULL;
	return r < 0 ? r : 0;
}

static uint64_t lost(void *src)
{
	struct ts_sched_source *s = src;
	uint64_t n = 0;

	sum_counter(s, SCHED_CNT_LOST, &n);
	return n;
}

static void source_free(void *src)
{
	ts_sched_source_free(src);
}

const struct ts_source_ops ts_sched_source_ops = {
	.drain = drain,
	.lost = lost,
	.free = source_free,
};

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Enable one flavour's programs (sched_internal.h). The perf_event
 * program is loaded in all. Event-loop waits are watched for generic
 * targets only: a runtime's workers are judged by their polls, and their
 * sleeping syscall is read at switch-out. The raw_tp flavour follows
 * every syscall in any case (it has no registers to read). */
static void set_flavour(struct sched_bpf *skel, enum sched_flavour f, bool generic)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		const char *sec = bpf_program__section_name(prog);
		bool on, sys = strstr(sec, "/sys_") != NULL;

		if (starts(sec, "perf_event"))
			on = true;
		else if (f == SCHED_FLAVOUR_RAW_TP)
			on = starts(sec, "raw_tp/");
		else if (strcmp(sec, "tracepoint") == 0)
			on = f == SCHED_FLAVOUR_BTF && generic;
		else
			on = starts(sec, "tp_btf/") && (!sys || (f == SCHED_FLAVOUR_BTF_RAW_SYS && generic));
		bpf_program__set_autoload(prog, on);
		/* attached one tracepoint at a time (syscall_tp.c) */
		if (strcmp(sec, "tracepoint") == 0)
			bpf_program__set_autoattach(prog, false);
	}
}

/* The wait syscalls of an event loop (sched.bpf.c's is_wait() by number). */
static const char *const wait_syscalls[] = {
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6", "io_uring_enter",
};

_Static_assert(sizeof(wait_syscalls) / sizeof(wait_syscalls[0]) <= SCHED_MAX_WAIT_LINKS,
	       "a link per wait syscall");

static int load(struct ts_sched_source *s, enum sched_flavour f)
{
	const struct ts_sched_config *cfg = &s->cfg;
	struct sched_bpf *skel = sched_bpf__open();
	int r;

	if (!skel)
		return errno ? -errno : -ENOMEM;
	skel->rodata->targ_tgid = cfg->pid;
	/* intervals long enough to block a poll are always sent */
	skel->rodata->offcpu_min_ns = cfg->offcpu_min_ns < cfg->blocking_ns ? cfg->offcpu_min_ns : cfg->blocking_ns;
	/* loop iterations only for generic targets: the workers of a shim or
	 * Tokio runtime are judged by their polls */
	skel->rodata->loop_stall_ns = cfg->generic ? cfg->loop_stall_ns : UINT64_MAX;
	skel->rodata->cpu_sample_ns = cfg->cpu_sample_ns;
	set_flavour(skel, f, cfg->generic);
	r = bpf_map__set_max_entries(skel->maps.events, cfg->ring_bytes);
	if (r == 0)
		r = sched_bpf__load(skel);
	if (r == 0)
		r = sched_bpf__attach(skel);
	s->skel = skel;
	if (r == 0 && f == SCHED_FLAVOUR_BTF && cfg->generic) {
		r = ts_syscall_tp_attach(skel->progs.tp_wait_enter, wait_syscalls,
					 sizeof(wait_syscalls) / sizeof(wait_syscalls[0]), s->wait_links,
					 &s->n_wait_links);
		r = r > 0 ? 0 : r;
	}
	if (r < 0) {
		s->skel = NULL;
		sched_bpf__destroy(skel);
		return r;
	}
	s->raw_tp = f == SCHED_FLAVOUR_RAW_TP;
	return 0;
}

int ts_sched_source_new(const struct ts_sched_config *cfg, struct ts_sched_source **out,
			char *err, size_t errlen)
{
	struct ts_sched_source *s;
	int r;

	if (!cfg->pool || !cfg->pid || cfg->ring_bytes < 4096 || (cfg->ring_bytes & (cfg->ring_bytes - 1))) {
		snprintf(err, errlen, "scheduler context: bad configuration (pid, string pool, ring size)");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	for (uint32_t i = 0; i < SCHED_MAX_SAMPLED; i++)
		s->samplers[i].perf_fd = -1;
	r = -ENOTSUP;
	if (!cfg->raw_tp && !cfg->raw_syscalls)
		r = load(s, SCHED_FLAVOUR_BTF);
	/* without tracefs or syscall tracepoints, and only then, the waits
	 * come from raw_syscalls (needless for a target with a runtime) */
	if (r < 0 && !cfg->raw_tp && (cfg->generic || cfg->raw_syscalls))
		r = load(s, SCHED_FLAVOUR_BTF_RAW_SYS);
	if (r < 0)
		r = load(s, SCHED_FLAVOUR_RAW_TP);
	if (r < 0) {
		snprintf(err, errlen, "cannot load the scheduler/syscall probes: %s", strerror(-r));
		goto cleanup;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_record, s, NULL);
	if (!s->rb) {
		r = errno ? -errno : -ENOMEM;
		snprintf(err, errlen, "cannot read the scheduler ring buffer: %s", strerror(-r));
		goto cleanup;
	}
	*out = s;
	return 0;
cleanup:
	ts_sched_source_free(s);
	return r;
}

void ts_sched_source_free(struct ts_sched_source *s)
{
	if (!s)
		return;
	ts_sched_stack_fini(s);
	while (s->n_wait_links > 0)
		bpf_link__destroy(s->wait_links[--s->n_wait_links]);
	ring_buffer__free(s->rb);
	sched_bpf__destroy(s->skel);
	free(s);
}

/* ---- attach entry points (collector/attach.h) ---- */

static int open_pidfd(uint32_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);

	return fd < 0 ? -errno : fd;
}

static int attach(struct ts_collector *c, uint32_t pid, bool generic, const struct ts_context_options *o,
		  uint64_t now_ns, char *err, size_t errlen)
{
	struct ts_source_desc d = { .pid = generic ? pid : 0, .kind = generic ? "generic" : "kernel",
				    .watch_is_pidfd = true };
	struct ts_sched_config cfg;
	struct ts_sched_source *s = NULL;
	char exe[4096] = "", path[64];
	ssize_t n;
	int r, fd;

	fd = open_pidfd(pid);
	if (fd < 0) {
		snprintf(err, errlen, "cannot watch pid %u: %s", pid, strerror(-fd));
		return fd;
	}
	ts_sched_config_default(&cfg, pid, c);
	cfg.generic = generic;
	cfg.raw_syscalls = o && o->raw_syscalls;
	r = ts_sched_source_new(&cfg, &s, err, errlen);
	if (r < 0) {
		close(fd);
		return r;
	}
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	d.exe = exe;
	d.watch_fd = fd;
	/* the collector owns fd and s from here, also on failure */
	return ts_collector_add_source(c, &d, &ts_sched_source_ops, s, now_ns, err, errlen);
}

int ts_generic_attach(struct ts_collector *c, uint32_t pid, const struct ts_context_options *o,
		      uint64_t now_ns, char *err, size_t errlen)
{
	return attach(c, pid, true, o, now_ns, err, errlen);
}

int ts_kernel_context_attach(struct ts_collector *c, uint32_t pid, const struct ts_context_options *o,
			     uint64_t now_ns, char *err, size_t errlen)
{
	if (o && !o->kernel)
		return 0;
	return attach(c, pid, false, o, now_ns, err, errlen);
}
