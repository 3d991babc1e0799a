/*
 * conn_db.h: the replaying conn: a recording and a time cursor.
 *
 * `taskscope console --db FILE` shows the recording at one instant, the
 * cursor, with the same views as the live console. The cursor starts at
 * the recording's first instant, paused; space (the console's pause)
 * plays it at the chosen speed, and the keys of ts_conn_db_key() step,
 * seek and jump between warnings. What is shown at T is storage/replay.h's
 * state at T (tasks alive at T, their polls and busy time up to T, locks
 * held and waited for at T, warnings raised by T).
 */
#ifndef TASKSCOPE_CONSOLE_CONN_DB_H
#define TASKSCOPE_CONSOLE_CONN_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "console/state.h"

struct ts_conn_db;

/* Load `path` (one line in `err` when it is not a recording this taskscope
 * reads). */
int ts_conn_db_open(const char *path, struct ts_conn_db **out, char *err, size_t errlen);
void ts_conn_db_free(struct ts_conn_db *d);

void ts_conn_db_bounds(const struct ts_conn_db *d, uint64_t *first_ns, uint64_t *last_ns);
uint64_t ts_conn_db_cursor(const struct ts_conn_db *d);
/* Move the cursor (clamped to the bounds). */
void ts_conn_db_seek(struct ts_conn_db *d, uint64_t at_ns);

/* Fill `s` with the state at the cursor and sort it. Unlike the live
 * conn it fills also while s->paused: in a replay, pause stops the cursor,
 * and a seek must still show the new instant. 0 or -ENOMEM. */
int ts_conn_db_fill(struct ts_conn_db *d, struct ts_state *s);

/* Playing (the console not paused): advance the cursor by `elapsed_ns`
 * of wall time times the speed. Returns true when the cursor moved; at
 * the end it stops and sets *at_end. */
bool ts_conn_db_play(struct ts_conn_db *d, uint64_t elapsed_ns, bool *at_end);

/* The console's key hook (console.h ts_console_set_keys) with ctx = the
 * conn: , . step, [ ] seek 1 s, { } seek a tenth, 0 $ start/end, n N next
 * and previous warning, + - speed. Returns TS_CONSOLE_REDRAW when it used
 * the key. */
unsigned ts_conn_db_key(void *ctx, int key);
/* Those keys for the help overlay (NULL-terminated "keys\tmeaning"). */
extern const char *const ts_conn_db_help[];

/* The header's mode ("replay 1.250 s / 3.004 s x1") and target
 * ("demo (pid 123)"). */
void ts_conn_db_mode(const struct ts_conn_db *d, char *buf, size_t len);
void ts_conn_db_target(const struct ts_conn_db *d, char *buf, size_t len);
/* Events the recording says were dropped (all processes). */
uint64_t ts_conn_db_dropped(const struct ts_conn_db *d);

#endif /* TASKSCOPE_CONSOLE_CONN_DB_H */
