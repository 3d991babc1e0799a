/*
 * errline.h: the one-line error messages every fallible call hands back.
 *
 * Functions that can fail because of what a user or a target did take
 * `char *err, size_t errlen` and fill it with one line saying what is
 * wrong and what to do; ts_errf() is how they fill it (NULL or 0 is fine).
 */
#ifndef TASKSCOPE_ERRLINE_H
#define TASKSCOPE_ERRLINE_H

#include <stddef.h>

void ts_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* TASKSCOPE_ERRLINE_H */
