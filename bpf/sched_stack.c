/*
 * sched_stack.c: where is a blocked worker stuck? Stack sampling for the
 * threads the model sees inside one long poll, and only for them.
 *
 * After each drain the source looks at the model's threads: one that has
 * been in the same poll for a quarter of the blocked-worker threshold gets a
 * software cpu-clock perf event (1 sample per ms of CPU time, cut to one
 * record per 10 ms in BPF), so by the time the model raises
 * blocked_worker it usually holds a stack; the sampler is removed when the
 * poll ends. A cpu-clock event only fires while the thread runs, so a
 * thread that sleeps gives no stack: for it the source reports where it
 * sleeps (the syscall it is in, from the kernel's per-thread state). The
 * event loops of a generic target get the same from a quarter of the
 * loop-stall threshold into an iteration, until it ends.
 *
 * Stacks: the BPF program sends both a frame-pointer walk (bpf_get_stack)
 * and a copy of the user stack with the registers. With the symbolizer
 * (collector/symbolize.h, libdwfl) the copy is unwound with CFI, which
 * works without frame pointers; otherwise the frame-pointer walk is used
 * and the text says so, since frames are missing from binaries built
 * without frame pointers.
 */
#include "bpf/sched_internal.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpf/sched.skel.h"
#include "collector/collector.h"
#include "collector/strpool.h"
#include "collector/symbolize.h"

#define STACK_TEXT_MAX 480
#define STACK_FRAMES_MAX 16
#define SAMPLE_PERIOD_NS 1000000ull


static void append(char *buf, size_t len, size_t *pos, const char *s)
{
	int n;

	if (*pos >= len)
		return;
	n = snprintf(buf + *pos, len - *pos, "%s", s);
	if (n > 0)
		*pos += (size_t)n < len - *pos ? (size_t)n : len - *pos - 1;
}

static void frame_text(struct ts_sched_source *s, uint64_t ip, char *buf, size_t len)
{
	struct ts_frame f;

	if (s->sym && ts_symbolizer_lookup(s->sym, ip, &f) == 0) {
		ts_frame_format(&f, buf, len);
		return;
	}
	snprintf(buf, len, "0x%llx", (unsigned long long)ip);
}

void ts_sched_stack_record(struct ts_sched_source *s, const struct sched_stack_rec *r, size_t size)
{
	struct ts_event ev = { .pid = s->cfg.pid, .type = TS_EV_STACK, .flags = TS_EVF_ON_CPU };
	uint64_t ips[STACK_FRAMES_MAX];
	char text[STACK_TEXT_MAX], frame[160];
	size_t pos = 0;
	int n = 0;
	bool cfi = false;

	if (size < sizeof(*r) || r->h.tid == 0) {
		s->bad_records++;
		return;
	}
	s->records++;
	ev.ts = r->h.ts;
	ev.tid = r->h.tid;
	if (!s->sym && !s->sym_failed) {
		char err[256];

		/* the process's shared one when there is a collector */
		if ((s->cfg.collector ? ts_collector_symbolizer(s->cfg.collector, s->cfg.pid, &s->sym, err, sizeof(err))
				      : ts_symbolizer_new(s->cfg.pid, &s->sym, err, sizeof(err))) < 0) {
			s->sym = NULL;
			s->sym_failed = true;
		}
	}
	if (s->sym && r->stack_len > 0 && r->stack_len <= SCHED_STACK_COPY) {
		struct ts_user_regs regs = {
			.ip = r->regs[0], .sp = r->regs[1], .bp = r->regs[2], .bx = r->regs[3],
			.r12 = r->regs[4], .r13 = r->regs[5], .r14 = r->regs[6], .r15 = r->regs[7],
		};

		n = ts_symbolizer_unwind(s->sym, &regs, r->stack, (size_t)r->stack_len, ips, STACK_FRAMES_MAX);
		cfi = n > 0;
	}
	if (!cfi) {
		/* frame-pointer walk; its first frame is the sampled ip */
		n = r->nframes > 0 ? r->nframes : 0;
		if (n > STACK_FRAMES_MAX)
			n = STACK_FRAMES_MAX;
		for (int i = 0; i < n; i++)
			ips[i] = r->ips[i];
		if (n == 0) {
			ips[0] = r->regs[0];
			n = 1;
		}
	}
	for (int i = 0; i < n; i++) {
		if (ips[i] == 0)
			break;
		frame_text(s, ips[i], frame, sizeof(frame));
		if (i)
			append(text, sizeof(text), &pos, " < ");
		append(text, sizeof(text), &pos, frame);
	}
	if (!cfi)
		append(text, sizeof(text), &pos, " (frame pointers only: frames may be missing)");
	text[pos < sizeof(text) ? pos : sizeof(text) - 1] = '\0';
	ev.name = ts_strpool_intern(s->cfg.pool, text, strlen(text));
	ts_sched_push(s, &ev);
}

static struct sched_sampler *sampler_find(struct ts_sched_source *s, uint32_t tid)
{
	for (uint32_t i = 0; i < s->n_samplers; i++)
		if (s->samplers[i].tid == tid)
			return &s->samplers[i];
	return NULL;
}

static void sampler_stop(struct ts_sched_source *s, struct sched_sampler *sp)
{
	uint32_t tid = sp->tid;

	bpf_link__destroy(sp->link);   /* closes the perf event too */
	bpf_map_delete_elem(bpf_map__fd(s->skel->maps.sampled), &tid);
	*sp = s->samplers[--s->n_samplers];
	s->samplers[s->n_samplers].perf_fd = -1;
	s->samplers[s->n_samplers].link = NULL;
}

static int sampler_start(struct ts_sched_source *s, uint32_t tid, uint64_t poll_started_ns, bool loop)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE, .size = sizeof(attr), .config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = SAMPLE_PERIOD_NS,
	};
	struct sched_sampler *sp;
	uint64_t zero = 0;
	int fd, r;

	if (s->n_samplers >= SCHED_MAX_SAMPLED)
		return -ENOSPC;
	fd = (int)syscall(SYS_perf_event_open, &attr, (pid_t)tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = bpf_map_update_elem(bpf_map__fd(s->skel->maps.sampled), &tid, &zero, BPF_ANY);
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	sp = &s->samplers[s->n_samplers];
	sp->link = bpf_program__attach_perf_event(s->skel->progs.on_sample, fd);
	if (!sp->link) {
		r = errno ? -errno : -EINVAL;
		close(fd);
		bpf_map_delete_elem(bpf_map__fd(s->skel->maps.sampled), &tid);
		return r;
	}
	sp->tid = tid;
	sp->loop = loop;
	sp->perf_fd = fd;
	sp->poll_started_ns = poll_started_ns;
	s->n_samplers++;
	return 0;
}

int ts_sched_source_sample(struct ts_sched_source *s, uint32_t tid, bool on)
{
	struct sched_sampler *sp = sampler_find(s, tid);

	if (on)
		return sp ? 0 : sampler_start(s, tid, 0, false);
	if (sp)
		sampler_stop(s, sp);
	return 0;
}

/* A sampled thread that is off the CPU now: say where it sleeps. */
static void report_sleeper(struct ts_sched_source *s, uint32_t tid)
{
	struct sched_tstate st;
	struct ts_event ev = { .ts = s->now_ns, .pid = s->cfg.pid, .tid = tid, .type = TS_EV_STACK };
	const char *sys;
	char text[96];

	/* runnable (preempted) is not asleep: its on-CPU stack says more */
	if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.threads), &tid, &st) < 0 || !st.off_since ||
	    st.preempted)
		return;
	sys = ts_sched_nr_name(s, st.off_nr);
	if (sys)
		snprintf(text, sizeof(text), "off-CPU in %s", sys);
	else
		snprintf(text, sizeof(text), "off-CPU (not in a syscall)");
	ev.name = ts_strpool_intern(s->cfg.pool, text, strlen(text));
	ts_sched_push(s, &ev);
}

/* Event loops (generic): an iteration running for a quarter of the
 * stall threshold gets a sampler until it ends, so a stall that burns the
 * CPU has a stack by the time it is reported. And CPU time: the kernel
 * counts it when a thread leaves the CPU, so a loop that keeps its core
 * (nothing else to run there) would show none until it stops; its running
 * time is reported from here meanwhile, and taken out of the kernel's next
 * sample (loop_ahead). */
static void update_loops(struct ts_sched_source *s)
{
	uint64_t flag_ns = s->cfg.loop_stall_ns / 4, period = s->cfg.cpu_sample_ns / 2;

	for (uint32_t i = 0; i < s->n_loop_tids; i++) {
		uint32_t tid = s->loop_tids[i];
		struct sched_sampler *sp = sampler_find(s, tid);
		struct sched_tstate st;
		uint64_t iter = 0;

		if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.threads), &tid, &st) == 0) {
			iter = st.iter_start;
			if (period && st.on_since && s->now_ns > st.on_since) {
				uint64_t ran = st.cpu_accum + (s->now_ns - st.on_since);

				if (ran > s->loop_ahead[i] + period) {
					struct ts_event ev = { .ts = s->now_ns, .pid = s->cfg.pid, .tid = tid,
							       .type = TS_EV_CPU_SAMPLE, .arg = ran - s->loop_ahead[i] };

					ts_sched_push(s, &ev);
					s->loop_ahead[i] = ran;
				}
			}
		}
		if (sp && sp->loop && sp->poll_started_ns != iter)
			sampler_stop(s, sp);
		else if (!sp && iter && s->now_ns >= iter + flag_ns)
			sampler_start(s, tid, iter, true);
	}
}

void ts_sched_stack_update(struct ts_sched_source *s)
{
	struct ts_model *m = ts_collector_model(s->cfg.collector);
	uint64_t flag_ns = ts_model_config(m)->lints.blocked_worker_ns / 4;
	struct ts_thread *const *threads;
	size_t n;

	for (uint32_t i = 0; i < s->n_samplers;) {
		struct sched_sampler *sp = &s->samplers[i];
		struct ts_thread *t = ts_model_find_thread(m, s->cfg.pid, sp->tid);

		if (sp->loop) {
			i++;
			continue;
		}
		if (sp->poll_started_ns && (!t || !t->polling || t->poll_started_ns != sp->poll_started_ns)) {
			sampler_stop(s, sp);
			continue;
		}
		report_sleeper(s, sp->tid);
		i++;
	}
	if (s->cfg.generic)
		update_loops(s);
	threads = ts_model_threads(m, &n);
	for (size_t i = 0; i < n; i++) {
		const struct ts_thread *t = threads[i];
		struct ts_task *task;

		if (t->pid != s->cfg.pid || !t->polling || s->now_ns < t->poll_started_ns + flag_ns ||
		    sampler_find(s, t->tid))
			continue;
		task = ts_model_find_task(m, t->pid, t->current_task);
		if (task && task->kind == TS_KIND_BLOCKING)
			continue;
		if (sampler_start(s, t->tid, t->poll_started_ns, false) == 0)
			report_sleeper(s, t->tid);
	}
}

void ts_sched_stack_fini(struct ts_sched_source *s)
{
	while (s->n_samplers)
		sampler_stop(s, &s->samplers[0]);
	if (s->sym)
		ts_symbolizer_free(s->sym);
	s->sym = NULL;
}
