/*
 * state.h: what the console shows, copied out of the data source.
 *
 * The conn (conn.h) fills a reusable array of rows with plain numbers and
 * interned string pointers, never pointers into the model's task objects,
 * which the model may free on its next tick: so a paused console (rows not
 * refreshed) can keep drawing and sorting its frozen copy. This file also
 * owns sorting and the selection (which follows the selected task across
 * refreshes). No curses and no model calls: tests/e2e/test-state.c drives
 * it with hand-made rows.
 */
#ifndef TASKSCOPE_CONSOLE_STATE_H
#define TASKSCOPE_CONSOLE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/warning.h"

enum ts_col {
	TS_COL_WARN = 0,
	TS_COL_ID,
	TS_COL_STATE,
	TS_COL_NAME,
	TS_COL_TOTAL,
	TS_COL_BUSY,
	TS_COL_SCHED,
	TS_COL_IDLE,
	TS_COL_POLLS,
	TS_COL_KIND,
	TS_COL_LOCATION,
	TS_COL_COUNT,
};

/* One task as displayed. Strings are interned (collector-lifetime). */
struct ts_row {
	uint64_t id;
	uint32_t pid;
	uint8_t state;              /* enum ts_task_state */
	uint8_t kind;               /* enum ts_task_kind */
	uint8_t nwarn;              /* distinct warning kinds raised */
	const char *name;           /* never NULL */
	const char *location;       /* never NULL */
	uint64_t total_ns, busy_ns, sched_ns, idle_ns;
	uint64_t polls;
};

#define TS_STATE_RECENT 8       /* latest warnings kept for the strip */
#define TS_STATE_NSTATES 4      /* enum ts_task_state values */

struct ts_recent_warning {
	struct ts_warning w;
	const char *task_name;      /* interned, "" when unknown */
};

struct ts_state {
	struct ts_row *rows;
	size_t nrows, cap;
	size_t by_state[TS_STATE_NSTATES];
	uint64_t warn_counts[TS_WARN_KIND_COUNT];
	struct ts_recent_warning recent[TS_STATE_RECENT]; /* oldest first */
	size_t nrecent;
	uint64_t now_ns;            /* when the rows were taken */
	bool filled;                /* refreshed at least once */
	bool paused;                /* the conn leaves the rows alone */

	unsigned sort_col;          /* enum ts_col */
	bool invert;                /* against the column's natural order */

	size_t selected;            /* row index; meaningless when nrows == 0 */
	bool have_sel;              /* sel_pid/sel_id name the selected task */
	uint32_t sel_pid;
	uint64_t sel_id;
	size_t top;                 /* first visible row */
	size_t page;                /* visible rows at the last draw (for PgUp/PgDn) */
};

void ts_state_init(struct ts_state *s);
void ts_state_fini(struct ts_state *s);
/* Make room for n rows (keeps the allocation between refreshes). */
int ts_state_reserve(struct ts_state *s, size_t n);

/* Sort the rows by the current column and find the selected task again. */
void ts_state_sort(struct ts_state *s);
/* Natural order of a column: numbers biggest first, text A to Z. */
bool ts_state_col_descending(unsigned col);
/* Move the sort column by delta (wrapping), or invert; both re-sort. */
void ts_state_sort_step(struct ts_state *s, int delta);
void ts_state_sort_invert(struct ts_state *s);
/* Compare two rows as the current sort would (<0, 0, >0). */
int ts_state_compare(const struct ts_state *s, const struct ts_row *a, const struct ts_row *b);

/* Move the selection by delta rows (clamped); INT64_MIN/MAX reach the ends. */
void ts_state_move(struct ts_state *s, int64_t delta);
/* Make the selection visible in a window of `rows` rows; sets page. */
void ts_state_scroll(struct ts_state *s, size_t rows);

#endif /* TASKSCOPE_CONSOLE_STATE_H */
