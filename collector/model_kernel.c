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
 *    began before the poll belongs to an earlier one and is ignored. One
 *    that slept in a syscall (not preempted) for at least
 *    blocking_syscall_ns raises blocking_in_poll, as does a TS_EV_SYSCALL
 *    whose off-CPU time reaches it (once per poll; blocking tasks are
 *    exempt: blocking is their job).
 *  - TS_EV_LOOP_ITER of at least loop_stall_ns raises loop_stall with
 *    the on/off-CPU split and the syscall it blocked in.
 *  - TS_EV_CPU_SAMPLE adds to the thread's cpu_ns, and to busy_ns for a
 *    thread that never polled (an event loop's busy time).
 *  - TS_EV_STACK is kept as the thread's latest stack; a blocked_worker
 *    warning quotes it when it was taken during the stuck poll.
 */
#include "collector/model_internal.h"

#include <stdio.h>
#include <string.h>

static const struct ts_process *process_of(const struct ts_model *m, uint32_t pid)
{
	for (size_t i = 0; i < m->n_procs; i++)
		if (m->procs[i].pid == pid)
			return &m->procs[i];
	return NULL;
}

void ts_model_kernel_poll_begin(struct ts_model *m, struct ts_thread *thr)
{
	thr->poll_offcpu_ns = 0;
	thr->poll_runq_ns = 0;
	thr->blocking_warned = false;
}

int64_t ts_model_kernel_poll_on_cpu(struct ts_model *m, uint32_t pid, const struct ts_thread *thr,
				    uint64_t start_ns, uint64_t end_ns)
{
	const struct ts_process *p = process_of(m, pid);
	uint64_t dur = ts_model_since(start_ns, end_ns);

	if (!p || !p->kernel_since_ns || start_ns < p->kernel_since_ns || !thr ||
	    thr->poll_started_ns != start_ns)
		return -1;
	return (int64_t)(dur - (thr->poll_offcpu_ns < dur ? thr->poll_offcpu_ns : dur));
}

static bool in_poll(const struct ts_thread *thr, uint64_t since_ns)
{
	return thr->polling && since_ns >= thr->poll_started_ns;
}

/* One syscall kept the polling thread off the CPU `off_ns`, ending at ts. */
static void blocking(struct ts_model *m, struct ts_thread *thr, const char *sys, uint64_t off_ns,
		     uint64_t ts)
{
	struct ts_task *task;
	char took[32], poll[32];

	if (thr->blocking_warned || !ts_lint_blocking_in_poll(&m->cfg.lints, off_ns))
		return;
	task = ts_model_find_task(m, thr->pid, thr->current_task);
	if (task && task->kind == TS_KIND_BLOCKING)
		return;
	thr->blocking_warned = true;
	ts_warning_format_duration(took, sizeof(took), off_ns);
	ts_warning_format_duration(poll, sizeof(poll), ts_model_since(thr->poll_started_ns, ts));
	ts_model_warn(m, TS_WARN_BLOCKING_IN_POLL, thr->pid, thr->tid, task, ts, off_ns,
		      "%s blocked thread %u off the CPU for %s inside a poll of task %llu '%s' "
		      "(%s into the poll)",
		      sys ? sys : "a syscall", thr->tid, took,
		      (unsigned long long)thr->current_task, task ? task->name : "", poll);
}

static void offcpu(struct ts_model *m, const struct ts_event *ev, struct ts_thread *thr)
{
	uint64_t off;

	if (!in_poll(thr, ev->arg) || ev->ts < ev->arg)
		return;
	off = ev->ts - ev->arg;
	thr->poll_offcpu_ns += off;
	thr->poll_runq_ns += ev->id < off ? ev->id : off;
	/* asleep in a syscall (not waiting for a CPU): a blocking call */
	if (ev->kind != 0 && !(ev->flags & TS_EVF_PREEMPTED))
		blocking(m, thr, ev->name, off, ev->ts);
}

static void syscall_done(struct ts_model *m, const struct ts_event *ev, struct ts_thread *thr)
{
	if (in_poll(thr, ev->arg))
		blocking(m, thr, ev->name, ev->id, ev->ts);
}

static void loop_iter(struct ts_model *m, const struct ts_event *ev, struct ts_thread *thr)
{
	uint64_t dur = ts_model_since(ev->arg, ev->ts), off = ev->id < dur ? ev->id : dur;
	char took[32], offs[32], ons[32], why[96];
	const char *wait = ev->name ? ev->name : "wait";

	if (!ts_lint_loop_stall(&m->cfg.lints, dur))
		return;
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
			      "(on-CPU %s)", thr->tid, thr->name, took, wait, offs, why, ons);
	else
		ts_model_warn(m, TS_WARN_LOOP_STALL, thr->pid, thr->tid, NULL, ev->ts, dur,
			      "event loop on thread %u '%s' stalled %s between %s calls: on-CPU %s "
			      "(off-CPU %s %s)", thr->tid, thr->name, took, wait, ons, offs, why);
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
		break;
	case TS_EV_CPU_SAMPLE:
		thr->cpu_ns += ev->arg;
		if (thr->polls == 0 && !thr->polling)
			thr->busy_ns += ev->arg;
		break;
	}
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

void ts_model_kernel_thread_state(const struct ts_model *m, const struct ts_thread *thr,
				  char *buf, size_t len)
{
	const struct ts_process *p = process_of(m, thr->pid);
	char frames[TS_WARNING_DETAIL_MAX];

	buf[0] = '\0';
	if (thr->stack && thr->polling && thr->stack_ns >= thr->poll_started_ns) {
		if (thr->stack_on_cpu) {
			compact_stack(thr->stack, frames, sizeof(frames));
			snprintf(buf, len, "; on-CPU: %s", frames);
		} else {
			snprintf(buf, len, "; %s", thr->stack);
		}
	} else if (p && p->kernel_since_ns) {
		snprintf(buf, len, "; no stack sampled yet");
	}
}
