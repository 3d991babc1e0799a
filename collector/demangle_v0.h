/*
 * demangle_v0.h: the pieces demangle.c shares with the Rust v0 demangler
 * (demangle_v0.c): a bounded output buffer and the v0 entry point.
 * Internal to the collector; users call ts_demangle() (symbolize.h).
 */
#ifndef TASKSCOPE_DEMANGLE_V0_H
#define TASKSCOPE_DEMANGLE_V0_H

#include <stdbool.h>
#include <stddef.h>

/* A demangled name longer than this is left mangled. */
struct ts_dm_buf {
	char buf[2048];
	size_t len;
	bool failed;   /* set when the output would not fit */
};

bool ts_dm_put(struct ts_dm_buf *b, const char *s, size_t n);
bool ts_dm_puts(struct ts_dm_buf *b, const char *s);
/* What follows a mangled name: ".llvm.N" dropped, ".cold" kept as " (.cold)". */
bool ts_dm_suffix(struct ts_dm_buf *b, const char *suffix);

/* Demangle a v0 name (`_R...`) into `b`; false when it is not one we can
 * read (unknown version, bad grammar, too deep or too long). */
bool ts_demangle_v0(const char *sym, struct ts_dm_buf *b);

#endif /* TASKSCOPE_DEMANGLE_V0_H */
