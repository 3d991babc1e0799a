/*
 * source.h: what the collector needs from a source of events.
 *
 * A source is one way of seeing one watched process: its shim's rings
 * ("shim"), BPF uprobes on its Tokio runtime ("tokio-bpf"), or the
 * scheduler and syscall tracepoints of an event loop ("generic"). Kernel
 * context (sched_switch, syscalls, locks) is a source too, one that adds
 * events to processes another source already watches (pid 0: it is not a
 * target of its own).
 *
 * The collector drains every source into one batch, sorts it by time and
 * applies it to the model, so the model never knows where an event came
 * from. A source reports its losses as a running total; the collector
 * turns growth into TS_EV_DROPPED events and the `drops` rows.
 */
#ifndef TASKSCOPE_SOURCE_H
#define TASKSCOPE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/event.h"

struct ts_event_batch {
	struct ts_event *events;
	size_t len;
	size_t cap;
};

void ts_event_batch_init(struct ts_event_batch *b);
void ts_event_batch_fini(struct ts_event_batch *b);
int ts_event_batch_push(struct ts_event_batch *b, const struct ts_event *ev);
/* Stable sort by timestamp, so events of different threads interleave. */
void ts_event_batch_sort(struct ts_event_batch *b);
/* The same when the first `sorted` events are already in order (events
 * held back from the last drain): sort the rest, then merge, O(n) more. */
void ts_event_batch_sort_from(struct ts_event_batch *b, size_t sorted);

struct ts_source_ops {
	/* Append every event available now to `batch`. Returns 0 or -errno
	 * (an error is logged; the source stays until its watch fd hangs up). */
	int (*drain)(void *src, struct ts_event_batch *batch, uint64_t now_ns);
	/* Events lost so far by this source (a running total), beyond those
	 * it already reported itself as TS_EV_DROPPED events. May be NULL. */
	uint64_t (*lost)(void *src);
	/* Called once after the last drain, when the source is removed. */
	void (*free)(void *src);
};

/* How a source is registered (ts_collector_add_source in collector.h). */
struct ts_source_desc {
	uint32_t pid;             /* the watched process; 0 for a context-only source */
	const char *kind;         /* "shim", "tokio-bpf", "generic", "kernel"; copied */
	const char *exe;          /* for the processes row; may be NULL; copied */
	const char *runtime;      /* e.g. "tokio", "minirt"; may be NULL; copied */
	/* An fd that hangs up (or becomes readable with EOF) when the watched
	 * process is gone: a pidfd, or the target's control connection. The
	 * collector owns it from then on. -1: the source lives until the end. */
	int watch_fd;
	/* true when watch_fd is a pidfd (readable means exited), false when
	 * it is a socket (readable with EOF means gone). */
	bool watch_is_pidfd;
};

#endif /* TASKSCOPE_SOURCE_H */
