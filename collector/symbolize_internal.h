/*
 * symbolize_internal.h: the symbolizer's state, shared by symbolize.c
 * (modules, lookups, the cache) and unwind.c (the CFI unwinder, which
 * needs the Dwfl, the mappings and /proc/PID/mem). Not for other modules.
 */
#ifndef TASKSCOPE_SYMBOLIZE_INTERNAL_H
#define TASKSCOPE_SYMBOLIZE_INTERNAL_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stdint.h>

#include "collector/symbolize.h"

struct ts_strpool;
struct ts_sym_symtab;
struct ts_sym_cu;

/* One line of /proc/PID/maps (only what the unwinder needs). */
struct ts_sym_map {
	uint64_t start, end;
	bool readable;
	size_t path_off, path_len;  /* the path in maps_text, or 0 */
};

struct ts_sym_cache_entry {
	uint64_t ip;
	bool used;
	int rc;                  /* 0 or -ENOENT */
	struct ts_frame frame;
};

/* What one ts_symbolizer_unwind() call is walking (valid during the call). */
struct ts_sym_unwind {
	const struct ts_user_regs *regs;
	const uint8_t *stack;
	size_t stack_len;
	uint64_t *ips;
	size_t max, n;
	size_t stack_map;        /* index in maps of the mapping holding sp, or SIZE_MAX */
	bool thread_given;       /* next_thread: the one thread was handed out */
};

struct ts_symbolizer {
	uint32_t pid;
	int refs;                     /* holders (ts_symbolizer_ref); freed at 0 */
	Dwfl *dwfl;
	struct ts_strpool *strings;   /* function, file and module names */
	struct ts_sym_cache_entry *cache;
	size_t cache_cap, cache_used;
	char *maps_text;              /* /proc/PID/maps as last reported */
	size_t maps_len;
	struct ts_sym_map *maps;
	size_t nmaps;
	int mem_fd;                   /* /proc/PID/mem, or -1 */
	int attach_state;             /* 0 not yet, 1 attached, -1 failed */
	uint64_t generation;          /* bumped when the reported modules change */
	uint64_t last_refresh_ns;     /* CLOCK_MONOTONIC of the last maps read */
	uint64_t auto_refresh_ns;     /* a lookup miss re-reads maps this long after the last read */
	struct ts_sym_symtab *symtabs; /* sorted function symbols per module */
	size_t nsymtabs, symtabs_cap, last_symtab;
	struct ts_sym_cu *cus;        /* function ranges per compile unit */
	size_t ncus, cus_cap, last_cu, cu_ranges;
	struct ts_sym_unwind uw;
};

/* symbolize_maps.c: /proc/PID/maps read whole (-errno), parsed into
 * ranges, and reported to libdwfl as modules (see that file). */
int ts_symbolizer_maps_read(uint32_t pid, char **text, size_t *len);
int ts_symbolizer_maps_parse(const char *text, size_t len, struct ts_sym_map **out, size_t *count);
int ts_symbolizer_maps_report(Dwfl *dwfl, uint32_t pid, const char *text, size_t len);
/* A module name as the target sees it (without our /proc/PID/root or
 * map_files), interned. */
const char *ts_symbolizer_module_name(struct ts_symbolizer *s, const char *dwfl_name);
/* symbolize_inline.c: the functions inlined at ip, innermost first,
 * the physical function last (function, file, line only); 0 without DWARF. */
int ts_symbolizer_inline_levels(struct ts_symbolizer *s, Dwfl_Module *mod, uint64_t ip, struct ts_frame *out,
				size_t max);
void ts_symbolizer_inline_clear(struct ts_symbolizer *s);
void ts_symbolizer_inline_free(struct ts_symbolizer *s);
/* symbolize_symtab.c: the function symbol covering ip (NULL if none)
 * and ip's offset in it; the tables are dropped when modules change. */
const char *ts_symbolizer_symbol(struct ts_symbolizer *s, Dwfl_Module *mod, uint64_t ip, uint64_t *offset);
void ts_symbolizer_symtabs_clear(struct ts_symbolizer *s);
void ts_symbolizer_symtabs_free(struct ts_symbolizer *s);
/* Index of the mapping holding `addr`, or SIZE_MAX. */
size_t ts_symbolizer_find_map(const struct ts_symbolizer *s, uint64_t addr);

#endif /* TASKSCOPE_SYMBOLIZE_INTERNAL_H */
