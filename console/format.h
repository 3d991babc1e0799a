/*
 * format.h: the console's text formatting, with no curses in sight.
 *
 * Durations and counts become short fixed-precision strings ("1.23s",
 * "45.6ms", "789µs"); untrusted strings (task names and locations come from
 * the target) are cleaned of control bytes and invalid UTF-8 and fitted to
 * an exact number of terminal columns, with an ellipsis when truncated.
 * Everything here is pure, so tests/e2e/test-format.c checks it directly.
 */
#ifndef TASKSCOPE_CONSOLE_FORMAT_H
#define TASKSCOPE_CONSOLE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Widest output of ts_fmt_duration / ts_fmt_count, in columns. */
#define TS_FMT_NUM_COLS 6

/* "123ns", "1.23µs" ("1.23us" in ASCII), "45.6ms", "789ms", "1.23s",
 * "59.9s", "1.00m", "2.50h". At most TS_FMT_NUM_COLS columns below 1000
 * hours.
 * Returns the bytes written (like snprintf, truncated to n). */
int ts_fmt_duration(char *buf, size_t n, uint64_t ns, bool ascii);
/* "999999", then "1.23M", "45.6G", ... */
int ts_fmt_count(char *buf, size_t n, uint64_t v);
/* "950", "12.3k", "4.56M" (per second rates). */
int ts_fmt_rate(char *buf, size_t n, double v);

enum ts_fit_flags {
	TS_FIT_RIGHT = 1u << 0,     /* pad on the left (numbers) */
	TS_FIT_KEEP_TAIL = 1u << 1, /* truncate at the front: "…rc/main.c:12" */
};

/* Columns `s` takes once cleaned (control bytes, invalid UTF-8 and, in
 * ASCII mode, every non-ASCII character count as one '?'). */
int ts_fmt_width(const char *s, bool ascii);
/* Write `s` cleaned and fitted to exactly `cols` columns into `out`
 * (always NUL-terminated; `out` needs at most cols * 4 + 1 bytes).
 * Truncation keeps as much as fits beside the ellipsis ("…", "~" in ASCII).
 * Returns the bytes written. */
size_t ts_fmt_fit(char *out, size_t outsz, const char *s, int cols, unsigned flags, bool ascii);

#endif /* TASKSCOPE_CONSOLE_FORMAT_H */
