/*
 * symbolize.c: addresses of a target process turned into function,
 * file:line and module, with libdwfl. The modules are what
 * /proc/PID/maps lists (reported through dwfl_linux_proc_maps_report from
 * our own copy of the file, so the mappings the unwinder checks and the
 * modules dwfl knows come from the same read); ELF files are opened from
 * /proc/PID/root-relative paths by libdwfl, separate debug info is found
 * by build-id or .gnu_debuglink under /usr/lib/debug.
 *
 * Every answer is cached per address: a collector sees the same spawn
 * sites, lock call sites and return addresses over and over. The cache
 * is bounded and starts over when full; the names it points at live in a
 * string pool until ts_symbolizer_free(), so frames handed out earlier
 * stay valid across refreshes and cache resets.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/errline.h"
#include "collector/strpool.h"
#include "collector/symbolize_internal.h"

#define CACHE_MIN 1024u
#define CACHE_MAX (1u << 16)          /* entries; the cache starts over past this */
#define STRINGS_MAX (64u << 20)        /* bytes of names */
#define AUTO_REFRESH_NS 1000000000ull  /* a miss re-reads the maps at most once a second */

static char *debuginfo_path; /* NULL: libdwfl's default search path */

/* libdwfl's own finder, given /proc/PID/root/<path>; when that is gone
 * (the target exited) the same path in our namespace. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base, char **file_name,
		    Elf **elfp)
{
	int fd = dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
	const char *root;

	if (fd >= 0 || *elfp || strncmp(name, "/proc/", 6) != 0)
		return fd;
	root = strstr(name + 6, "/root/");
	if (!root)
		return fd;
	return dwfl_linux_proc_find_elf(mod, userdata, root + 5, base, file_name, elfp);
}

static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static void cache_clear(struct ts_symbolizer *s)
{
	if (s->cache)
		memset(s->cache, 0, s->cache_cap * sizeof(*s->cache));
	s->cache_used = 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int ts_symbolizer_refresh(struct ts_symbolizer *s)
{
	struct ts_sym_map *maps = NULL;
	char *text = NULL;
	size_t len = 0, nmaps = 0;
	int rc;

	s->last_refresh_ns = now_ns();
	rc = ts_symbolizer_maps_read(s->pid, &text, &len);
	if (rc < 0)
		goto cleanup;
	if (s->maps_text && len == s->maps_len && memcmp(text, s->maps_text, len) == 0)
		goto cleanup; /* nothing changed */
	rc = ts_symbolizer_maps_parse(text, len, &maps, &nmaps);
	if (rc < 0)
		goto cleanup;
	dwfl_report_begin(s->dwfl);
	rc = ts_symbolizer_maps_report(s->dwfl, s->pid, text, len);
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0 && rc == 0)
		rc = -EIO;
	if (rc < 0)
		goto cleanup;
	free(s->maps_text);
	free(s->maps);
	s->maps_text = text;
	s->maps_len = len;
	s->maps = maps;
	s->nmaps = nmaps;
	text = NULL;
	maps = NULL;
	s->generation++;
	cache_clear(s); /* an address may now belong to another module */
	if (s->attach_state < 0)
		s->attach_state = 0; /* no module to attach the unwinder to before: try again */
	ts_symbolizer_symtabs_clear(s);
	ts_symbolizer_inline_clear(s);
cleanup:
	free(text);
	free(maps);
	return rc;
}

int ts_symbolizer_new(uint32_t pid, struct ts_symbolizer **out, char *err, size_t errlen)
{
	struct ts_symbolizer *s;
	char path[64];
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		ts_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->pid = pid;
	s->refs = 1;
	s->mem_fd = -1;
	s->auto_refresh_ns = AUTO_REFRESH_NS;
	rc = ts_strpool_new(STRINGS_MAX, &s->strings);
	if (rc < 0) {
		ts_errf(err, errlen, "out of memory");
		goto cleanup;
	}
	s->dwfl = dwfl_begin(&proc_callbacks);
	if (!s->dwfl) {
		rc = -ENOMEM;
		ts_errf(err, errlen, "cannot start libdwfl: %s", dwfl_errmsg(-1));
		goto cleanup;
	}
	rc = ts_symbolizer_refresh(s);
	if (rc == -ENOENT || rc == -ESRCH) {
		ts_errf(err, errlen, "no process %" PRIu32, pid);
		goto cleanup;
	}
	if (rc == -EACCES || rc == -EPERM) {
		ts_errf(err, errlen, "no permission to read /proc/%" PRIu32 "/maps: run as root or as the target's user", pid);
		goto cleanup;
	}
	if (rc < 0) {
		ts_errf(err, errlen, "cannot read the modules of process %" PRIu32 ": %s", pid, strerror(-rc));
		goto cleanup;
	}
	/* for the unwinder: memory outside a copied stack (optional) */
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/mem", pid);
	s->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	*out = s;
	return 0;
cleanup:
	ts_symbolizer_free(s);
	return rc;
}

void ts_symbolizer_ref(struct ts_symbolizer *s)
{
	s->refs++;
}

void ts_symbolizer_free(struct ts_symbolizer *s)
{
	if (!s || --s->refs > 0)
		return;
	if (s->dwfl)
		dwfl_end(s->dwfl);
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	ts_symbolizer_symtabs_free(s);
	ts_symbolizer_inline_free(s);
	ts_strpool_free(s->strings);
	free(s->cache);
	free(s->maps_text);
	free(s->maps);
	free(s);
}

static const char *intern(struct ts_symbolizer *s, const char *str)
{
	return str ? ts_strpool_intern(s->strings, str, strlen(str)) : NULL;
}

/* The module holding ip, with the frame's module fields filled; NULL
 * when none does. */
static Dwfl_Module *module_of(struct ts_symbolizer *s, uint64_t ip, struct ts_frame *f)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, ip);
	Dwarf_Addr bias = 0, low = 0, high = 0;
	const char *mname;

	memset(f, 0, sizeof(*f));
	f->ip = ip;
	if (!mod)
		return NULL;
	/* libdwfl answers the last module for addresses past every module */
	mname = dwfl_module_info(mod, NULL, &low, &high, NULL, NULL, NULL, NULL);
	if (ip < low || ip >= high)
		return NULL;
	f->module = ts_symbolizer_module_name(s, mname);
	if (dwfl_module_getelf(mod, &bias))
		f->module_offset = ip - bias;
	else
		f->module_offset = ip - low;
	return mod;
}

/* The symbol table's name for the function holding ip (demangled). */
static void symbol_of(struct ts_symbolizer *s, Dwfl_Module *mod, uint64_t ip, struct ts_frame *f)
{
	uint64_t off = 0;
	const char *sym = ts_symbolizer_symbol(s, mod, ip, &off), *at;
	char unversioned[512];

	/* "memcpy@@GLIBC_2.14": the version is not part of the name */
	if (sym && (at = strchr(sym, '@')) && at > sym && (size_t)(at - sym) < sizeof(unversioned)) {
		memcpy(unversioned, sym, (size_t)(at - sym));
		unversioned[at - sym] = '\0';
		sym = unversioned;
	}
	if (sym && *sym) {
		char *dm = ts_demangle(sym);
		/* not mangled: a C name, where a '.' starts a compiler's clone
		 * suffix (.constprop.0, .isra.0, .part.0, .cold) */
		const char *dot = dm || sym[0] == '.' ? NULL : strchr(sym, '.');
		f->function = dm ? intern(s, dm)
				 : dot ? ts_strpool_intern(s->strings, sym, (size_t)(dot - sym)) : intern(s, sym);
		f->offset = off;
		free(dm);
	}
}

/* Resolve one address (no cache): the physical function, and its own
 * line (where the code at ip was inlined into it, if it was). */
static int resolve(struct ts_symbolizer *s, uint64_t ip, struct ts_frame *f)
{
	Dwfl_Module *mod = module_of(s, ip, f);
	struct ts_frame outer;
	Dwfl_Line *line;
	int lineno = 0;

	if (!mod)
		return -ENOENT;
	symbol_of(s, mod, ip, f);
	if (ts_symbolizer_inline_levels(s, mod, ip, &outer, 1) == 1) {
		f->file = outer.file;
		f->line = outer.line;
		if (!f->function)
			f->function = outer.function; /* DWARF without a symbol table */
		return 0;
	}
	line = dwfl_module_getsrc(mod, ip);
	if (line) {
		const char *src = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
		if (src && lineno > 0) {
			f->file = intern(s, src);
			f->line = (uint32_t)lineno;
		}
	}
	return 0;
}

int ts_symbolizer_lookup_inline(struct ts_symbolizer *s, uint64_t ip, struct ts_frame *frames, size_t max)
{
	struct ts_frame base;
	Dwfl_Module *mod;
	int n;

	if (max == 0)
		return 0;
	mod = module_of(s, ip, &base);
	if (!mod) {
		frames[0] = base;
		return -ENOENT;
	}
	symbol_of(s, mod, ip, &base);
	n = ts_symbolizer_inline_levels(s, mod, ip, frames, max);
	if (n <= 0)
		return ts_symbolizer_lookup(s, ip, &frames[0]) == 0 ? 1 : -ENOENT;
	for (int i = 0; i < n; i++) {
		frames[i].module = base.module;
		frames[i].module_offset = base.module_offset;
	}
	/* the physical function: named as ts_symbolizer_lookup names it */
	if (base.function)
		frames[n - 1].function = base.function;
	frames[n - 1].offset = base.offset;
	return n;
}

static int cache_grow(struct ts_symbolizer *s)
{
	size_t cap = s->cache_cap ? s->cache_cap * 2 : CACHE_MIN;
	struct ts_sym_cache_entry *old = s->cache, *nc;
	size_t oldcap = s->cache_cap;

	nc = calloc(cap, sizeof(*nc));
	if (!nc)
		return -ENOMEM;
	s->cache = nc;
	s->cache_cap = cap;
	s->cache_used = 0;
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].used)
			continue;
		size_t j = (size_t)(old[i].ip * 0x9e3779b97f4a7c15ull >> 32) & (cap - 1);
		while (nc[j].used)
			j = (j + 1) & (cap - 1);
		nc[j] = old[i];
		s->cache_used++;
	}
	free(old);
	return 0;
}

static struct ts_sym_cache_entry *cache_find(struct ts_symbolizer *s, uint64_t ip)
{
	if (!s->cache_cap)
		return NULL;
	for (size_t j = (size_t)(ip * 0x9e3779b97f4a7c15ull >> 32) & (s->cache_cap - 1); s->cache[j].used;
	     j = (j + 1) & (s->cache_cap - 1))
		if (s->cache[j].ip == ip)
			return &s->cache[j];
	return NULL;
}

/* After a miss: when the maps were last read long enough ago, read them
 * again; true when the modules changed (and the cache was cleared). */
static bool refreshed_after_miss(struct ts_symbolizer *s)
{
	uint64_t gen = s->generation;

	if (now_ns() - s->last_refresh_ns < s->auto_refresh_ns)
		return false;
	return ts_symbolizer_refresh(s) == 0 && s->generation != gen;
}

int ts_symbolizer_lookup(struct ts_symbolizer *s, uint64_t ip, struct ts_frame *out)
{
	struct ts_sym_cache_entry *e = cache_find(s, ip);
	size_t j;
	int rc;

	/* a known miss may be mapped since (dlopen): see refreshed_after_miss */
	if (e && (e->rc == 0 || !refreshed_after_miss(s))) {
		*out = e->frame;
		return e->rc;
	}
	rc = resolve(s, ip, out);
	if (rc == -ENOENT && !e && refreshed_after_miss(s))
		rc = resolve(s, ip, out);
	/* keep the load under 1/2; at the cap, start over */
	if ((s->cache_used + 1) * 2 > s->cache_cap) {
		if (s->cache_cap >= CACHE_MAX)
			cache_clear(s);
		else if (cache_grow(s) < 0)
			return rc; /* uncached is still an answer */
	}
	j = (size_t)(ip * 0x9e3779b97f4a7c15ull >> 32) & (s->cache_cap - 1);
	while (s->cache[j].used)
		j = (j + 1) & (s->cache_cap - 1);
	e = &s->cache[j];
	e->used = true;
	e->ip = ip;
	e->rc = rc;
	e->frame = *out;
	s->cache_used++;
	return rc;
}

void ts_frame_format(const struct ts_frame *f, char *buf, size_t len)
{
	if (!buf || len == 0)
		return;
	if (f->function && f->file && f->line)
		snprintf(buf, len, "%s (%s:%" PRIu32 ")", f->function, f->file, f->line);
	else if (f->function)
		snprintf(buf, len, "%s", f->function);
	else if (f->module) {
		const char *base = strrchr(f->module, '/');
		snprintf(buf, len, "%s+0x%" PRIx64, base ? base + 1 : f->module, f->module_offset);
	} else
		snprintf(buf, len, "0x%" PRIx64, f->ip);
}
