/*
 * tokio_state.c: Tokio's task state word, read from the target while a
 * task is idle in the default (light) mode, decoded into what the model
 * needs.
 *
 * Why a file of its own: this is the one place that knows Tokio's state
 * layout beyond a single bit (runtime/task/state.rs, stable through 1.x:
 * RUNNING 1, COMPLETE 2, NOTIFIED 4, JOIN_INTEREST 8, JOIN_WAKER 16,
 * CANCELLED 32, the reference count from bit 6 up) and which references an
 * idle task holds (docs/architecture.md, "Wakes without
 * waker probes"). The word comes from the target and may be stale or
 * garbage: anything that cannot be an idle task's is refused.
 */
#include <stdbool.h>
#include <stdint.h>

#include "bpf/tokio_internal.h"

/* More wakers than this on one task: not a state word (a freed task's
 * memory holds pointers, whose high bits make a huge count). */
#define TK_WAKERS_MAX (1ull << 24)

bool ts_tokio_state_decode(uint64_t state, bool *notified, uint64_t *wakers)
{
	uint64_t refs = state >> TK_STATE_REF_SHIFT, held;

	/* an idle task: not running (another thread polls it already), not
	 * complete, not cancelled (a cancelled task completes at its next
	 * poll) */
	if (state & (TK_STATE_RUNNING | TK_STATE_COMPLETE | TK_STATE_CANCELLED))
		return false;
	/* the owner list's reference (OwnedTasks, LocalOwnedTasks, or an
	 * UnownedTask's own for spawn_blocking), the JoinHandle's, and the
	 * queued notification's */
	held = 1 + !!(state & TK_STATE_JOIN_INTEREST) + !!(state & TK_STATE_NOTIFIED);
	if (refs < held || refs - held > TK_WAKERS_MAX)
		return false;
	*notified = state & TK_STATE_NOTIFIED;
	*wakers = refs - held;
	return true;
}
