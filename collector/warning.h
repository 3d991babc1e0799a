/*
 * warning.h: the warning vocabulary shared by lints, storage and console.
 *
 * Kind names are part of the SQL contract (warnings.kind).
 */
#ifndef TASKSCOPE_WARNING_H
#define TASKSCOPE_WARNING_H

#include <stddef.h>
#include <stdint.h>

enum ts_warning_kind {
	TS_WARN_LONG_POLL = 0,
	TS_WARN_NEVER_YIELDED,
	TS_WARN_LOST_WAKER,
	TS_WARN_SELF_WAKES,
	TS_WARN_BLOCKING_IN_POLL,
	TS_WARN_BLOCKED_WORKER,
	TS_WARN_LOCK_HELD_ACROSS_AWAIT,
	TS_WARN_CONTENDED_LOCK,
	TS_WARN_LOOP_STALL,
	TS_WARN_TASK_PANICKED,
	TS_WARN_EVENTS_DROPPED,
	TS_WARN_KIND_COUNT,
};

#define TS_WARNING_DETAIL_MAX 256

struct ts_warning {
	uint32_t pid;
	uint32_t tid;             /* 0 when not tied to a thread */
	uint64_t task_id;         /* 0 when not tied to a task */
	uint32_t kind;            /* enum ts_warning_kind */
	uint64_t ts_ns;           /* when it was observed */
	uint64_t duration_ns;     /* the poll, hold or stall length; 0 when none */
	char detail[TS_WARNING_DETAIL_MAX];
};

/* "long_poll", "lost_waker", ...; NULL for an unknown kind. */
const char *ts_warning_kind_name(uint32_t kind);
/* One sentence: what it means and what to do. */
const char *ts_warning_kind_help(uint32_t kind);
/* Parse a kind name; returns the kind or -EINVAL. */
int ts_warning_kind_parse(const char *name);

/* Format a duration for a warning detail or a table cell: the largest unit
 * it reaches (s, ms, us, ns) with one decimal when it is not zero, e.g.
 * "152.3 ms", "10 ms", "850 ns". Returns 0 or -EINVAL; truncates to `len`. */
int ts_warning_format_duration(char *buf, size_t len, uint64_t ns);

#endif /* TASKSCOPE_WARNING_H */
