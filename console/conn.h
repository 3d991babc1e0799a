/*
 * conn.h: where the console's data comes from.
 *
 * For now the only source is the in-process model of the embedded
 * collector; a protobuf stream (--connect) or a recording (--db) will
 * fill the same struct ts_state later.
 */
#ifndef TASKSCOPE_CONSOLE_CONN_H
#define TASKSCOPE_CONSOLE_CONN_H

#include <stdint.h>

#include "console/state.h"

struct ts_model;

/* Copy every task of `m` (times taken at now_ns), the warning counts and
 * the latest warnings into `s`, then sort. Does nothing while s->paused
 * (once filled). Returns 0 or -ENOMEM (the old rows are kept). */
int ts_conn_model_refresh(struct ts_state *s, const struct ts_model *m, uint64_t now_ns);

#endif /* TASKSCOPE_CONSOLE_CONN_H */
