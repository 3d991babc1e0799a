/*
 * model_kernel.c: what the model makes of kernel context (bpf/sched).
 *
 * Why: a long poll is half an answer; the kernel says whether the thread
 * burned the CPU or sat off it, and in which syscall. The events
 * (collector/event.h) are applied here:
 *
 *  - TS_EV_CPU_SAMPLE with tid 0 marks the start of kernel context for a
 *    process (ts_process.kernel_since_ns). Polls that begin after it get
 *    on_cpu_ns = duration - the off-CPU intervals inside the poll (the
 *    kernel sends intervals of at least 50 us; shorter gaps count as on
 *    the CPU). Without kernel context on_cpu_ns stays -1 (NULL in SQL).
 *  - TS_EV_OFFCPU inside the current poll of its thread adds to the poll's
 *    off-CPU and run-queue time. A thread is never off the CPU across a
 *    poll's start (it writes the start while running), so an interval that
 *    began before the poll belongs to an earlier one and is ignored. The
 *    poll's end may be read after intervals that follow it (see
 *    ts_model_kernel_poll_end), so the poll is judged when it ends: its
 *    longest sleep in one syscall (not preemption, and not the wait for a
 *    CPU after the wake-up) of at least
 *    blocking_syscall_ns raises blocking_in_poll; so does a TS_EV_SYSCALL
 *    whose off-CPU time reaches it (once per poll; blocking tasks are
 *    exempt: blocking is their job).
 *  - TS_EV_LOOP_ITER of at least loop_stall_ns raises loop_stall with
 *    the on/off-CPU split, the syscall it blocked in, and the loop thread's
 *    stack when one was sampled on the CPU during the iteration.
 *  - TS_EV_CPU_SAMPLE adds to the thread's cpu_ns, and to busy_ns for a
 *    thread that never polled (an event loop's busy time).
 *  - TS_EV_STACK is kept as the thread's latest stack; a blocked_worker
 *    warning quotes it when it was taken during the stuck poll.
 */
#include "collector/model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct ts_process *process_of(const struct ts_model *m, uint32_t pid)
{
	for (size_t i = 0; i < m->n_procs; i++)
		if (m->procs[i].pid == pid)
			return &m->procs[i];
	return NULL;
}

/* An off-CPU interval of a thread, kept for the poll it falls in. */
struct offcpu_interval {
	uint64_t start, stop;
	uint64_t runq;              /* of which waiting for a CPU after the wake-up */
	const char *name;           /* the syscall slept in; NULL when none */
	uint32_t syscall;           /* its number + 1; 0: none */
	bool preempted;
};

#define STACK_SAMPLES 16

struct stack_sample {
	const char *text;           /* interned */
	uint64_t ts;
};

/* A thread's kernel-context state, allocated at its first kernel event. */
struct ts_thread_kernel {
	uint64_t poll_offcpu_ns;    /* off-CPU ns in the current poll */
	uint64_t poll_runq_ns;      /* of which run-queue delay */
	bool blocking_warned;       /* blocking_in_poll raised for the current poll */
	struct offcpu_interval ring[TS_THREAD_OFFCPU_RING]; /* the latest of the poll */
	uint32_t len, next;
	bool evicted;               /* older intervals of this poll were pushed out */
	struct offcpu_interval best; /* longest syscall sleep pushed out */
	struct stack_sample stacks[STACK_SAMPLES]; /* the latest on-CPU stacks */
	uint32_t n_stacks, next_stack;
};

static struct ts_thread_kernel *kernel_of(struct ts_model *m, struct ts_thread *thr)
{
	if (!thr->kernel) {
		thr->kernel = calloc(1, sizeof(*thr->kernel));
		if (!thr->kernel)
			m->stats.alloc_failures++;
	}
	return thr->kernel;
}

void ts_model_kernel_poll_begin(struct ts_model *m, struct ts_thread *thr)
{
	struct ts_thread_kernel *k = thr->kernel;

	if (!k)
		return;
	k->poll_offcpu_ns = 0;
	k->poll_runq_ns = 0;
	k->blocking_warned = false;
	k->len = 0;
	k->next = 0;
	k->evicted = false;
	memset(&k->best, 0, sizeof(k->best));
}

static bool in_poll(const struct ts_thread *thr, uint64_t since_ns)
{
	return thr->polling && since_ns >= thr->poll_started_ns;
}

/* How long the interval slept in its syscall before `end_ns`: not the
 * wait for a CPU after its wake-up (on a loaded machine that can be
 * milliseconds; it is not the syscall blocking). */
static uint64_t sleep_ns(const struct offcpu_interval *iv, uint64_t end_ns)
{
	uint64_t stop = iv->stop - (iv->runq < iv->stop - iv->start ? iv->runq : iv->stop - iv->start);

	if (!iv->syscall || iv->preempted || iv->start >= end_ns)
		return 0;
	return (stop < end_ns ? stop : end_ns) - iv->start;
}

/* Is `iv` a blocking sleep, longer than `than` (may be NULL)? */
static bool better(const struct ts_model *m, const struct offcpu_interval *iv,
		   const struct offcpu_interval *than, uint64_t end_ns)
{
	uint64_t ns = sleep_ns(iv, end_ns);

	return ns && ts_lint_blocking_in_poll(&m->cfg.lints, iv->name, ns) &&
	       (!than || ns > sleep_ns(than, end_ns));
}

/* One syscall kept the polling thread off the CPU `off_ns`. */
static void blocking(struct ts_model *m, struct ts_thread *thr, struct ts_task *task, const char *sys,
		     uint64_t off_ns, uint64_t ts, uint64_t poll_start)
{
	char took[32], into[32];

	struct ts_thread_kernel *k = kernel_of(m, thr);

	if (!k || k->blocking_warned || !ts_lint_blocking_in_poll(&m->cfg.lints, sys, off_ns))
		return;
	if (task && task->kind == TS_KIND_BLOCKING)
		return;
	k->blocking_warned = true;
	ts_warning_format_duration(took, sizeof(took), off_ns);
	ts_warning_format_duration(into, sizeof(into), ts_model_since(poll_start, ts));
	ts_model_warn(m, TS_WARN_BLOCKING_IN_POLL, thr->pid, thr->tid, task, ts, off_ns,
		      "%s blocked thread %u off the CPU for %s inside a poll of task %llu '%s' "
		      "(%s into the poll)",
		      sys ? sys : "a syscall", thr->tid, took,
		      (unsigned long long)(task ? task->id : 0), task ? task->name : "", into);
}

/*
 * Off-CPU intervals are summed as they come, and the latest few are kept:
 * the poll's end may be read after intervals that follow it (another
 * source's ring can lag the scheduler's), and those must not count. At
 * the end the kept intervals past it are taken back out; when too many
 * came after it to tell, on_cpu_ns is unknown. blocking_in_poll is judged
 * here too, from the longest syscall sleep inside the poll.
 */
int64_t ts_model_kernel_poll_end(struct ts_model *m, struct ts_task *task, struct ts_thread *thr,
				 uint64_t start_ns, uint64_t end_ns)
{
	const struct ts_process *p = task ? process_of(m, task->pid) : NULL;
	uint64_t dur = ts_model_since(start_ns, end_ns), late = 0, oldest = UINT64_MAX, off;
	const struct offcpu_interval *best = NULL;
	struct ts_thread_kernel *k;

	if (!p || !p->kernel_since_ns || start_ns < p->kernel_since_ns || !thr ||
	    thr->poll_started_ns != start_ns)
		return -1;
	k = thr->kernel;
	if (!k)
		return (int64_t)dur;  /* never off the CPU since the context began */
	for (uint32_t i = 0; i < k->len; i++) {
		const struct offcpu_interval *iv = &k->ring[i];

		if (iv->start < oldest)
			oldest = iv->start;
		if (iv->start >= end_ns)
			late += iv->stop - iv->start;
		else if (iv->stop > end_ns)
			late += iv->stop - end_ns;
		if (better(m, iv, best, end_ns))
			best = iv;
	}
	if (k->evicted && oldest >= end_ns)
		return -1;  /* intervals of the poll itself were pushed out by later ones */
	if (k->evicted && better(m, &k->best, best, end_ns))
		best = &k->best;
	if (best)
		blocking(m, thr, task, best->name, sleep_ns(best, end_ns),
			 best->start + sleep_ns(best, end_ns), start_ns);
	off = k->poll_offcpu_ns > late ? k->poll_offcpu_ns - late : 0;
	return (int64_t)(dur - (off < dur ? off : dur));
}

static void offcpu(struct ts_model *m, const struct ts_event *ev, struct ts_thread *thr)
{
	struct offcpu_interval iv = {
		.start = ev->arg, .stop = ev->ts, .runq = ev->id, .name = ev->name, .syscall = ev->kind,
		.preempted = ev->flags & TS_EVF_PREEMPTED,
	};
	struct ts_thread_kernel *k;
	uint64_t off;

	if (!in_poll(thr, ev->arg) || ev->ts < ev->arg)
		return;
	k = kernel_of(m, thr);
	if (!k)
		return;
	off = ev->ts - ev->arg;
	k->poll_offcpu_ns += off;
	k->poll_runq_ns += ev->id < off ? ev->id : off;
	if (k->len == TS_THREAD_OFFCPU_RING) {
		const struct offcpu_interval *old = &k->ring[k->next];

		if (better(m, old, &k->best, UINT64_MAX))
			k->best = *old;
		k->evicted = true;
	} else {
		k->len++;
	}
	k->ring[k->next] = iv;
	k->next = (k->next + 1) % TS_THREAD_OFFCPU_RING;
}

/* A source that reports whole syscalls (TS_EV_SYSCALL): judged at once. */
static void syscall_done(struct ts_model *m, const struct ts_event *ev, struct ts_thread *thr)
{
	if (in_poll(thr, ev->arg))
		blocking(m, thr, ts_model_find_task(m, thr->pid, thr->current_task), ev->name, ev->id,
			 ev->ts, thr->poll_started_ns);
}

/* Copy a stack text without the "(file:line)" parts: the warning detail is
 * short, the function names are what matter there. */
static void compact_stack(const char *in, char *out, size_t len)
{
	size_t o = 0;
	int depth = 0;

	for (; *in && o + 1 < len; in++) {
		if (*in == '(')
			depth++;
		else if (*in == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !(*in == ' ' && o > 0 && out[o - 1] == ' '))
			out[o++] = *in;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* The stack sampled on the CPU most often in [from, to] (function names
 * only; ties: the latest), into `out`. false when none was. */
static bool dominant_stack(const struct ts_thread *thr, uint64_t from, uint64_t to, char *out, size_t len)
{
	const struct ts_thread_kernel *k = thr->kernel;
	char texts[STACK_SAMPLES][TS_WARNING_DETAIL_MAX - 16];
	uint32_t n = 0, best = 0, best_count = 0;

	if (!k)
		return false;
	for (uint32_t i = 0; i < k->n_stacks; i++) {
		/* oldest first, so that a tie goes to the latest */
		const struct stack_sample *sm = &k->stacks[(k->next_stack + STACK_SAMPLES - k->n_stacks + i) % STACK_SAMPLES];

		if (sm->ts >= from && sm->ts <= to)
			compact_stack(sm->text, texts[n++], sizeof(texts[0]));
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t count = 0;

		for (uint32_t j = 0; j < n; j++)
			count += strcmp(texts[i], texts[j]) == 0;
		if (count >= best_count) {
			best_count = count;
			best = i;
		}
	}
	if (!n)
		return false;
	snprintf(out, len, "%s", texts[best]);
	return true;
}

static void loop_iter(struct ts_model *m, const struct ts_event *ev, struct ts_thread *thr)
{
	uint64_t dur = ts_model_since(ev->arg, ev->ts), off = ev->id < dur ? ev->id : dur;
	char took[32], offs[32], ons[32], why[96], stack[TS_WARNING_DETAIL_MAX] = "";
	char frames[TS_WARNING_DETAIL_MAX - 16];
	const char *wait = ev->name ? ev->name : "wait";

	if (!ts_lint_loop_stall(&m->cfg.lints, dur))
		return;
	/* the stack sampled on the CPU most during this iteration says where it went */
	if (dominant_stack(thr, ev->arg, ev->ts, frames, sizeof(frames)))
		snprintf(stack, sizeof(stack), "; on-CPU: %s", frames);
	ts_warning_format_duration(took, sizeof(took), dur);
	ts_warning_format_duration(offs, sizeof(offs), off);
	ts_warning_format_duration(ons, sizeof(ons), dur - off);
	if (ev->flags & TS_EVF_PREEMPTED)
		snprintf(why, sizeof(why), "waiting for a CPU (run queue)");
	else if (ev->location)
		snprintf(why, sizeof(why), "in %s", ev->location);
	else
		snprintf(why, sizeof(why), "outside syscalls");
	if (off * 2 > dur)
		ts_model_warn(m, TS_WARN_LOOP_STALL, thr->pid, thr->tid, NULL, ev->ts, dur,
			      "event loop on thread %u '%s' stalled %s between %s calls: off-CPU %s %s "
			      "(on-CPU %s)%s", thr->tid, thr->name, took, wait, offs, why, ons, stack);
	else
		ts_model_warn(m, TS_WARN_LOOP_STALL, thr->pid, thr->tid, NULL, ev->ts, dur,
			      "event loop on thread %u '%s' stalled %s between %s calls: on-CPU %s "
			      "(off-CPU %s %s)%s", thr->tid, thr->name, took, wait, ons, offs, why, stack);
}

void ts_model_kernel_apply(struct ts_model *m, const struct ts_event *ev, struct ts_thread *thr)
{
	if (ev->type == TS_EV_CPU_SAMPLE && !thr) {
		struct ts_process *p = (struct ts_process *)process_of(m, ev->pid);

		if (p && !p->kernel_since_ns)
			p->kernel_since_ns = ev->ts ? ev->ts : 1;
		return;
	}
	if (!thr)
		return;
	switch (ev->type) {
	case TS_EV_OFFCPU:
		offcpu(m, ev, thr);
		break;
	case TS_EV_SYSCALL:
		syscall_done(m, ev, thr);
		break;
	case TS_EV_LOOP_ITER:
		loop_iter(m, ev, thr);
		break;
	case TS_EV_STACK:
		if (ev->name) {
			thr->stack = ev->name;
			thr->stack_ns = ev->ts;
			thr->stack_on_cpu = ev->flags & TS_EVF_ON_CPU;
		}
		if (ev->name && (ev->flags & TS_EVF_ON_CPU)) {
			struct ts_thread_kernel *k = kernel_of(m, thr);

			if (k) {
				k->stacks[k->next_stack] = (struct stack_sample){ .text = ev->name, .ts = ev->ts };
				k->next_stack = (k->next_stack + 1) % STACK_SAMPLES;
				if (k->n_stacks < STACK_SAMPLES)
					k->n_stacks++;
			}
		}
		break;
	case TS_EV_CPU_SAMPLE:
		thr->cpu_ns += ev->arg;
		if (thr->polls == 0 && !thr->polling)
			thr->busy_ns += ev->arg;
		break;
	}
}

void ts_model_kernel_thread_state(const struct ts_model *m, const struct ts_thread *thr, uint64_t until_ns,
				  char *buf, size_t len)
{
	const struct ts_process *p = process_of(m, thr->pid);
	char frames[TS_WARNING_DETAIL_MAX - 16];

	buf[0] = '\0';
	if (thr->stack && thr->polling && thr->stack_ns >= thr->poll_started_ns && thr->stack_ns <= until_ns) {
		/* on the CPU now (its latest report): where it ran most this poll */
		if (thr->stack_on_cpu && dominant_stack(thr, thr->poll_started_ns, until_ns, frames, sizeof(frames)))
			snprintf(buf, len, "; on-CPU: %s", frames);
		else
			snprintf(buf, len, "; %s", thr->stack);
	} else if (p && p->kernel_since_ns) {
		snprintf(buf, len, "; no stack sampled yet");
	}
}
