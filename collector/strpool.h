/*
 * strpool.h: interned strings owned by the collector.
 *
 * Names and locations arrive from untrusted targets; the pool copies each
 * distinct string once, so events and model state can keep plain pointers
 * that stay valid until the pool is freed. Memory is bounded by
 * `max_bytes`; past it, ts_strpool_intern() returns "?" and counts.
 */
#ifndef TASKSCOPE_STRPOOL_H
#define TASKSCOPE_STRPOOL_H

#include <stddef.h>
#include <stdint.h>

struct ts_strpool;

int ts_strpool_new(size_t max_bytes, struct ts_strpool **out);
void ts_strpool_free(struct ts_strpool *p);
/* Intern `len` bytes of `s` (need not be NUL-terminated). Never NULL. */
const char *ts_strpool_intern(struct ts_strpool *p, const char *s, size_t len);
uint64_t ts_strpool_refused(const struct ts_strpool *p);

#endif /* TASKSCOPE_STRPOOL_H */
