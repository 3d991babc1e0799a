/*
 * state_internal.h: what state.c, state_sort.c and state_nav.c share.
 */
#ifndef TASKSCOPE_CONSOLE_STATE_INTERNAL_H
#define TASKSCOPE_CONSOLE_STATE_INTERNAL_H

#include <stddef.h>

#include "console/state.h"

/* Grow *arr to hold n items of `size` bytes (doubling); 0 or -ENOMEM. */
int ts_state_grow(void **arr, size_t *cap, size_t n, size_t size);
/* state_sort.c: filter and sort the task rows, find the selected task. */
void ts_state_sort_tasks(struct ts_state *s);
/* Remember the selected task (pid, id) so the selection survives a re-sort. */
void ts_state_remember_task(struct ts_state *s);

#endif /* TASKSCOPE_CONSOLE_STATE_INTERNAL_H */
