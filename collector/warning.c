/*
 * warning.c: the names and one-line help of the warning kinds.
 *
 * The names are part of the SQL contract (warnings.kind) and of the CLI
 * (--allow/--deny KIND); the help sentences are what the console and
 * `taskscope query --report warnings` show next to a warning. Also the
 * one duration formatter every warning detail uses, so "152.3 ms" reads the
 * same everywhere.
 */
#include "collector/warning.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[TS_WARN_KIND_COUNT] = {
	[TS_WARN_LONG_POLL] = "long_poll",
	[TS_WARN_NEVER_YIELDED] = "never_yielded",
	[TS_WARN_LOST_WAKER] = "lost_waker",
	[TS_WARN_SELF_WAKES] = "self_wakes",
	[TS_WARN_BLOCKING_IN_POLL] = "blocking_in_poll",
	[TS_WARN_BLOCKED_WORKER] = "blocked_worker",
	[TS_WARN_LOCK_HELD_ACROSS_AWAIT] = "lock_held_across_await",
	[TS_WARN_CONTENDED_LOCK] = "contended_lock",
	[TS_WARN_LOOP_STALL] = "loop_stall",
	[TS_WARN_TASK_PANICKED] = "task_panicked",
	[TS_WARN_EVENTS_DROPPED] = "events_dropped",
};

static const char *const kind_help[TS_WARN_KIND_COUNT] = {
	[TS_WARN_LONG_POLL] =
		"One poll ran longer than the threshold and held its worker hostage; move the heavy "
		"work to a blocking pool or split it with explicit yields.",
	[TS_WARN_NEVER_YIELDED] =
		"A poll has been running for longer than the threshold without returning; the task "
		"is stuck in CPU work or a blocking call, so find the loop or call and make it yield.",
	[TS_WARN_LOST_WAKER] =
		"The task is idle and nothing holds its waker, so nothing can ever wake it again; "
		"whatever it awaits dropped the waker without waking, so fix that future.",
	[TS_WARN_SELF_WAKES] =
		"Most of the task's wakes came from itself while it was running (yield-style busy "
		"looping); wait on a real event instead of re-scheduling itself.",
	[TS_WARN_BLOCKING_IN_POLL] =
		"A poll made a blocking system call (named in the detail) on a worker thread; use "
		"the async equivalent or move the call to a blocking pool.",
	[TS_WARN_BLOCKED_WORKER] =
		"A worker thread is stuck in one poll right now and runs no other task; look at the "
		"named task for blocking calls or long CPU work.",
	[TS_WARN_LOCK_HELD_ACROSS_AWAIT] =
		"The task returned pending while holding a lock it took in that poll, so every other "
		"user of the lock waits for it to be woken; release the lock before awaiting.",
	[TS_WARN_CONTENDED_LOCK] =
		"Acquiring the lock waited longer than the threshold; shorten the critical section "
		"or look at the holder named in the detail.",
	[TS_WARN_LOOP_STALL] =
		"The event loop did not come back to wait for events for longer than the threshold; "
		"a callback blocked it, so find the slow handler.",
	[TS_WARN_TASK_PANICKED] =
		"The task ended with a panic; its work was lost, so read the target's log for the "
		"panic message.",
	[TS_WARN_EVENTS_DROPPED] =
		"The target's rings were full and events were lost, so the numbers are incomplete; "
		"drain faster or give the target larger rings.",
};

const char *ts_warning_kind_name(uint32_t kind)
{
	return kind < TS_WARN_KIND_COUNT ? kind_names[kind] : NULL;
}

const char *ts_warning_kind_help(uint32_t kind)
{
	return kind < TS_WARN_KIND_COUNT ? kind_help[kind] : NULL;
}

int ts_warning_kind_parse(const char *name)
{
	if (!name)
		return -EINVAL;
	for (uint32_t k = 0; k < TS_WARN_KIND_COUNT; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return (int)k;
	return -EINVAL;
}

/* Pick the largest unit the value reaches and print one decimal, dropped
 * when it is zero ("10 ms", "152.3 ms"). Integer arithmetic only, so the
 * text is exact and the same on every machine. */
int ts_warning_format_duration(char *buf, size_t len, uint64_t ns)
{
	static const struct { uint64_t scale; const char *unit; } units[] = {
		{ 1000000000ull, "s" }, { 1000000ull, "ms" }, { 1000ull, "us" },
	};
	int n = -1;

	if (!buf || len == 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && n < 0; i++) {
		uint64_t scale = units[i].scale, tenths;

		if (ns < scale)
			continue;
		/* round to the nearest tenth without overflowing */
		tenths = ns / (scale / 10) + (ns % (scale / 10) >= scale / 20 ? 1 : 0);
		if (tenths % 10 == 0)
			n = snprintf(buf, len, "%" PRIu64 " %s", tenths / 10, units[i].unit);
		else
			n = snprintf(buf, len, "%" PRIu64 ".%" PRIu64 " %s", tenths / 10, tenths % 10,
				     units[i].unit);
	}
	if (n < 0)
		n = snprintf(buf, len, "%" PRIu64 " ns", ns);
	return n < 0 ? -EINVAL : 0;
}
