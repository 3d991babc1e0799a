/*
 * lints.h: the lints, as pure functions of model state.
 *
 * Each takes the thresholds and the object it judges and answers whether
 * the warning applies; the model decides when to call them and emits the
 * warnings (state lints once per task, event lints once per event;
 * blocked_worker once per poll). The model does not ask long_poll,
 * never_yielded or blocked_worker about tasks of kind "blocking": blocking
 * the thread is their job. Thresholds are inclusive.
 */
#ifndef TASKSCOPE_LINTS_H
#define TASKSCOPE_LINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ts_task;
struct ts_thread;
struct ts_resource;

struct ts_lint_config {
	uint64_t long_poll_ns;        /* default 10 ms */
	uint64_t never_yielded_ns;    /* default 1 s: one poll still running after this */
	uint64_t lost_waker_grace_ns; /* default 100 ms idle with no waker */
	double self_wake_ratio;       /* default 0.5: self-wakes / wakes above this */
	uint64_t self_wake_min_wakes; /* default 10: fewer wakes are never judged */
	uint32_t enabled;             /* bit (1u << ts_warning_kind) per enabled lint; default all */
	uint64_t blocked_worker_ns;   /* default 100 ms: a worker still inside one poll after this */
	uint64_t contended_lock_ns;   /* default 10 ms: a lock acquisition that waited this long */
	uint64_t blocking_syscall_ns; /* default 1 ms: one syscall inside a poll, off the CPU this long */
	uint64_t loop_stall_ns;       /* default 100 ms: an event loop iteration this long */
};

void ts_lint_config_default(struct ts_lint_config *cfg);

/* Apply "--allow kind" / "--deny kind" (enable or disable a lint by name;
 * "all" names every kind). Returns 0 or -EINVAL for an unknown name. */
int ts_lint_config_set(struct ts_lint_config *cfg, const char *kind_name, bool enabled);

/* Event lints. */
bool ts_lint_long_poll(const struct ts_lint_config *cfg, uint64_t poll_ns);
/* A poll of `task` returned pending while it holds `res`, taken in that poll. */
bool ts_lint_lock_held_across_await(const struct ts_lint_config *cfg, const struct ts_task *task,
				    const struct ts_resource *res, bool poll_ready);
bool ts_lint_task_panicked(const struct ts_lint_config *cfg, const struct ts_task *task);
/* An acquisition of a lock waited `wait_ns` before it got it. */
bool ts_lint_contended_lock(const struct ts_lint_config *cfg, uint64_t wait_ns);
/* One syscall (`syscall`, may be NULL) inside a poll kept the thread
 * asleep `offcpu_ns`. A futex sleep is a lock or condition wait: it is
 * judged against contended_lock_ns when that is longer, as short lock waits
 * are ordinary contention (contended_lock's business), not a blocking call. */
bool ts_lint_blocking_in_poll(const struct ts_lint_config *cfg, const char *syscall, uint64_t offcpu_ns);
/* An event loop iteration (a wait's return to the next wait's entry) took `iter_ns`. */
bool ts_lint_loop_stall(const struct ts_lint_config *cfg, uint64_t iter_ns);
/* `new_drops` more events were lost since the last report. */
bool ts_lint_events_dropped(const struct ts_lint_config *cfg, uint64_t new_drops);

/* State lints at `now`. */
bool ts_lint_never_yielded(const struct ts_lint_config *cfg, const struct ts_task *task, uint64_t now_ns);
bool ts_lint_lost_waker(const struct ts_lint_config *cfg, const struct ts_task *task, uint64_t now_ns);
bool ts_lint_self_wakes(const struct ts_lint_config *cfg, const struct ts_task *task);
/* A worker thread that has been inside one poll for at least blocked_worker_ns. */
bool ts_lint_blocked_worker(const struct ts_lint_config *cfg, const struct ts_thread *thread,
			    uint64_t now_ns);

#endif /* TASKSCOPE_LINTS_H */
