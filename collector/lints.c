/*
 * lints.c: the lints as pure functions of model state (see lints.h).
 *
 * Each answers "does this warning apply now?" and nothing else: the model
 * decides when to ask (state lints at each tick, once per task; event lints
 * on the event), formats the detail and emits. Thresholds are inclusive: a
 * poll of exactly the long-poll threshold is long. A disabled kind never
 * applies.
 */
#include "collector/lints.h"

#include <errno.h>
#include <string.h>

#include "collector/model.h"
#include "collector/warning.h"

#define MS 1000000ull

void ts_lint_config_default(struct ts_lint_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->long_poll_ns = 10 * MS;
	cfg->never_yielded_ns = 1000 * MS;
	cfg->lost_waker_grace_ns = 100 * MS;
	cfg->self_wake_ratio = 0.5;
	cfg->self_wake_min_wakes = 10;
	cfg->enabled = (1u << TS_WARN_KIND_COUNT) - 1;
	cfg->blocked_worker_ns = 100 * MS;
	cfg->contended_lock_ns = 10 * MS;
	cfg->blocking_syscall_ns = 1 * MS;
	cfg->loop_stall_ns = 100 * MS;
}

int ts_lint_config_set(struct ts_lint_config *cfg, const char *kind_name, bool enabled)
{
	uint32_t bits;
	int kind;

	if (kind_name && strcmp(kind_name, "all") == 0) {
		bits = (1u << TS_WARN_KIND_COUNT) - 1;
	} else {
		kind = ts_warning_kind_parse(kind_name);
		if (kind < 0)
			return -EINVAL;
		bits = 1u << kind;
	}
	if (enabled)
		cfg->enabled |= bits;
	else
		cfg->enabled &= ~bits;
	return 0;
}

static bool on(const struct ts_lint_config *cfg, uint32_t kind)
{
	return cfg->enabled & (1u << kind);
}

bool ts_lint_long_poll(const struct ts_lint_config *cfg, uint64_t poll_ns)
{
	return on(cfg, TS_WARN_LONG_POLL) && poll_ns >= cfg->long_poll_ns;
}

bool ts_lint_lock_held_across_await(const struct ts_lint_config *cfg, const struct ts_task *task,
				    const struct ts_resource *res, bool poll_ready)
{
	return on(cfg, TS_WARN_LOCK_HELD_ACROSS_AWAIT) && !poll_ready && task->id != 0 &&
	       res->pid == task->pid && res->holders > 0 && res->held_in_poll &&
	       res->holder_task == task->id;
}

bool ts_lint_task_panicked(const struct ts_lint_config *cfg, const struct ts_task *task)
{
	return on(cfg, TS_WARN_TASK_PANICKED) && task->state == TS_TASK_DONE &&
	       task->outcome == TS_OUTCOME_PANICKED;
}

bool ts_lint_contended_lock(const struct ts_lint_config *cfg, uint64_t wait_ns)
{
	return on(cfg, TS_WARN_CONTENDED_LOCK) && wait_ns >= cfg->contended_lock_ns;
}

bool ts_lint_blocking_in_poll(const struct ts_lint_config *cfg, const char *syscall, uint64_t offcpu_ns)
{
	uint64_t limit = cfg->blocking_syscall_ns;

	if (syscall && !strcmp(syscall, "futex") && cfg->contended_lock_ns > limit)
		limit = cfg->contended_lock_ns;
	return on(cfg, TS_WARN_BLOCKING_IN_POLL) && offcpu_ns >= limit;
}

bool ts_lint_loop_stall(const struct ts_lint_config *cfg, uint64_t iter_ns)
{
	return on(cfg, TS_WARN_LOOP_STALL) && iter_ns >= cfg->loop_stall_ns;
}

bool ts_lint_events_dropped(const struct ts_lint_config *cfg, uint64_t new_drops)
{
	return on(cfg, TS_WARN_EVENTS_DROPPED) && new_drops > 0;
}

bool ts_lint_never_yielded(const struct ts_lint_config *cfg, const struct ts_task *task, uint64_t now_ns)
{
	return on(cfg, TS_WARN_NEVER_YIELDED) && task->state == TS_TASK_RUNNING &&
	       now_ns >= task->state_since_ns && now_ns - task->state_since_ns >= cfg->never_yielded_ns;
}

/* Idle, not finished, and nothing holds a waker: nobody can wake it. A
 * negative count (lost events) or one that missed the task's spawn proves
 * nothing, so those are never judged. */
bool ts_lint_lost_waker(const struct ts_lint_config *cfg, const struct ts_task *task, uint64_t now_ns)
{
	return on(cfg, TS_WARN_LOST_WAKER) && task->state == TS_TASK_IDLE && !task->completed &&
	       !task->wakers_unknown && task->wakers == 0 && now_ns >= task->state_since_ns &&
	       now_ns - task->state_since_ns >= cfg->lost_waker_grace_ns;
}

bool ts_lint_self_wakes(const struct ts_lint_config *cfg, const struct ts_task *task)
{
	return on(cfg, TS_WARN_SELF_WAKES) && task->wakes > 0 &&
	       task->wakes >= cfg->self_wake_min_wakes &&
	       (double)task->self_wakes > cfg->self_wake_ratio * (double)task->wakes;
}

bool ts_lint_blocked_worker(const struct ts_lint_config *cfg, const struct ts_thread *thread,
			    uint64_t now_ns)
{
	return on(cfg, TS_WARN_BLOCKED_WORKER) && thread->polling &&
	       thread->role != TS_ROLE_BLOCKING && now_ns >= thread->poll_started_ns &&
	       now_ns - thread->poll_started_ns >= cfg->blocked_worker_ns;
}
