/*
 * tokio_elf.c: find Tokio's task functions in a running process's ELF files.
 *
 * Why: uprobes are attached at file offsets, and Tokio's functions are
 * generic, so there is one raw::poll (and raw::dealloc, and bind) per
 * future type, all with the same demangled name. We read the symbol
 * tables (libelf; .symtab, else .dynsym) of every file the process maps
 * executable, demangle the few candidates (ts_demangle) and keep every
 * instance, deduplicated by address (identical code folding can merge
 * instances). A file offset comes from the PT_LOAD segment holding the
 * symbol. Files are opened through /proc/PID/root, so a process in
 * another mount namespace is found too.
 *
 * A stripped binary has no .symtab; Tokio's functions are never in
 * .dynsym. To tell "stripped Tokio program" (refuse: no symbols) from
 * "not a Tokio program" (fall back to the generic view), .rodata is
 * searched for the source paths Tokio's panic locations embed.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/tokio_internal.h"
#include "collector/symbolize.h"

#define MAX_MODULES 512
#define MAX_PROBES 65536
#define RODATA_SCAN_MAX (256u << 20)

static const char *const fn_names[TK_FN_COUNT] = {
	[TK_FN_POLL] = "tokio::runtime::task::raw::poll",
	[TK_FN_DEALLOC] = "tokio::runtime::task::raw::dealloc",
	[TK_FN_CLONE_WAKER] = "tokio::runtime::task::waker::clone_waker",
	[TK_FN_DROP_WAKER] = "tokio::runtime::task::waker::drop_waker",
	[TK_FN_WAKE_BY_VAL] = "tokio::runtime::task::waker::wake_by_val",
	[TK_FN_WAKE_BY_REF] = "tokio::runtime::task::waker::wake_by_ref",
	[TK_FN_BIND] = "tokio::runtime::task::list::OwnedTasks::bind",
	[TK_FN_SPAWN_BLOCKING] = "tokio::task::blocking::spawn_blocking",
	[TK_FN_PANIC_CLEANUP] = "std::panicking::try::cleanup",
	[TK_FN_COMPLETE] = "tokio::runtime::task::state::State::transition_to_complete",
};

const char *ts_tokio_fn_name(enum tk_fn fn)
{
	return fn < TK_FN_COUNT ? fn_names[fn] : "?";
}

/* `d` names function `path`, possibly with v0 generic arguments after it. */
static bool names(const char *d, const char *path)
{
	size_t n = strlen(path);

	return !strncmp(d, path, n) && (d[n] == '\0' || !strncmp(d + n, "::<", 3));
}

/* `d` ends with "::" + `last` (or "::" + last + "::<...>"). */
static bool ends_with_fn(const char *d, const char *last)
{
	const char *p = d, *hit = NULL;
	size_t n = strlen(last);

	while ((p = strstr(p, last))) {
		if (p >= d + 2 && p[-1] == ':' && p[-2] == ':' && (p[n] == '\0' || !strncmp(p + n, "::<", 3)))
			hit = p;
		p++;
	}
	return hit != NULL;
}

static int classify(const char *d)
{
	static const enum tk_fn exact[] = { TK_FN_POLL, TK_FN_DEALLOC, TK_FN_CLONE_WAKER, TK_FN_DROP_WAKER,
					    TK_FN_WAKE_BY_VAL, TK_FN_WAKE_BY_REF, TK_FN_COMPLETE };

	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (names(d, fn_names[exact[i]]))
			return (int)exact[i];
	/* raw::dealloc is only one way in; Harness::dealloc is where every
	 * free ends up, when the compiler kept it out of line. */
	if (strstr(d, "tokio::runtime::task::harness::Harness") && ends_with_fn(d, "dealloc"))
		return TK_FN_DEALLOC;
	if (strstr(d, "tokio::runtime::task::list::") && strstr(d, "OwnedTasks") && ends_with_fn(d, "bind"))
		return TK_FN_BIND;
	/* The spawn_blocking functions (the public one, the runtime's, the
	 * pool Spawner's, Handle's, Runtime's) all return the JoinHandle
	 * itself, a pointer in rax; spawn_blocking_inner does not and is not
	 * matched. Nested ones report one task twice; the loader keeps one. */
	if ((!strncmp(d, "tokio::", 7) || !strncmp(d, "<tokio::", 8)) && ends_with_fn(d, "spawn_blocking"))
		return TK_FN_SPAWN_BLOCKING;
	if (names(d, "std::panicking::try::cleanup") || names(d, "std::panicking::catch_unwind::cleanup"))
		return TK_FN_PANIC_CLEANUP;
	return -1;
}

/* Cheap test on the mangled name before demangling it. */
static bool candidate(const char *sym)
{
	return strstr(sym, "tokio") || strstr(sym, "panicking");
}

static int add_probe(struct tk_symbols *s, enum tk_fn fn, uint32_t module, uint64_t addr, uint64_t offset)
{
	for (size_t i = 0; i < s->n_probes; i++)
		if (s->probes[i].module == module && s->probes[i].addr == addr)
			return 0; /* an alias of an instance we have */
	if (s->n_probes == s->cap_probes) {
		size_t cap = s->cap_probes ? s->cap_probes * 2 : 64;
		struct tk_probe *p;

		if (cap > MAX_PROBES)
			return -E2BIG;
		p = realloc(s->probes, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->probes = p;
		s->cap_probes = cap;
	}
	s->probes[s->n_probes++] = (struct tk_probe){ .fn = fn, .module = module, .addr = addr, .offset = offset };
	s->count[fn]++;
	return 0;
}

static bool vaddr_to_offset(Elf *elf, uint64_t v, uint64_t *off)
{
	size_t n;

	if (elf_getphdrnum(elf, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (v >= ph.p_vaddr && v - ph.p_vaddr < ph.p_filesz) {
			*off = v - ph.p_vaddr + ph.p_offset;
			return true;
		}
	}
	return false;
}

static bool is_task_glue(const char *d)
{
	return !strncmp(d, "core::ptr::drop_in_place<tokio::runtime::task::core::", 52);
}

static uint64_t name_hash(const char *d)
{
	uint64_t h = 1469598103934665603ull;

	for (; *d; d++)
		h = (h ^ (uint8_t)*d) * 1099511628211ull;
	return h;
}

static int note_glue(struct tk_symbols *s, uint64_t addr, const char *d)
{
	char type[512];

	if (!ts_tokio_glue_type(d, type, sizeof(type)))
		return 0;
	if (s->n_glue == s->cap_glue) {
		size_t cap = s->cap_glue ? s->cap_glue * 2 : 64;
		uint64_t (*g)[2];

		if (cap > MAX_PROBES)
			return 0; /* names may then be ambiguous; not worth failing for */
		g = realloc(s->glue, cap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		s->glue = g;
		s->cap_glue = cap;
	}
	s->glue[s->n_glue][0] = addr;
	s->glue[s->n_glue][1] = name_hash(type);
	s->n_glue++;
	return 0;
}

static int cmp_pair(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

/* Addresses that carry the drop glue of two different future types. */
static int find_shared_glue(struct tk_symbols *s)
{
	if (!s->n_glue)
		return 0;
	qsort(s->glue, s->n_glue, sizeof(*s->glue), cmp_pair);
	s->glue_shared = calloc(s->n_glue, sizeof(*s->glue_shared));
	if (!s->glue_shared)
		return -ENOMEM;
	for (size_t i = 1; i < s->n_glue; i++) {
		if (s->glue[i][0] == s->glue[i - 1][0] && s->glue[i][1] != s->glue[i - 1][1] &&
		    (!s->n_glue_shared || s->glue_shared[s->n_glue_shared - 1] != s->glue[i][0]))
			s->glue_shared[s->n_glue_shared++] = s->glue[i][0];
	}
	return 0;
}

/* Probes that only read arguments at the entry may move into the function
 * (tokio_insn.c); a uretprobe must stay at the entry. */
static bool entry_only(int fn)
{
	return fn == TK_FN_DEALLOC || fn == TK_FN_CLONE_WAKER || fn == TK_FN_DROP_WAKER ||
	       fn == TK_FN_WAKE_BY_VAL || fn == TK_FN_WAKE_BY_REF || fn == TK_FN_COMPLETE;
}

static uint64_t probe_point(Elf *elf, uint64_t off, uint64_t size)
{
	size_t len = size && size < 64 ? (size_t)size : 64;
	Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)off, len, ELF_T_BYTE);

	return d && d->d_buf ? ts_tokio_probe_point(d->d_buf, d->d_size) : 0;
}

static int scan_symtab(struct tk_symbols *s, Elf *elf, Elf_Scn *scn, uint32_t module)
{
	GElf_Shdr sh;
	Elf_Data *data;
	size_t n;

	if (!gelf_getshdr(scn, &sh) || !sh.sh_entsize || !(data = elf_getdata(scn, NULL)))
		return 0;
	n = sh.sh_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;
		char *d;
		uint64_t off;
		int fn, r = 0;

		if (!gelf_getsym(data, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!name || !candidate(name))
			continue;
		d = ts_demangle(name);
		fn = classify(d ? d : name);
		if (fn < 0 && d && is_task_glue(d))
			r = note_glue(s, sym.st_value, d);
		free(d);
		if (r < 0)
			return r;
		if (fn < 0 || !vaddr_to_offset(elf, sym.st_value, &off))
			continue;
		if (entry_only(fn))
			off += probe_point(elf, off, sym.st_size);
		r = add_probe(s, (enum tk_fn)fn, module, sym.st_value, off);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Does .rodata carry Tokio's source paths (panic locations)? */
static bool rodata_mentions_tokio(Elf *elf)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".rodata") || sh.sh_size > RODATA_SCAN_MAX)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf)
			continue;
		if (memmem(data->d_buf, data->d_size, "tokio-1.", 8) ||
		    memmem(data->d_buf, data->d_size, "tokio/src/runtime", 17))
			return true;
	}
	return false;
}

/* Scan one file. *stripped_tokio: it has no .symtab but looks like Tokio. */
static int scan_file(struct tk_symbols *s, const char *path, uint32_t module, bool *stripped_tokio)
{
	Elf_Scn *scn = NULL, *symtab = NULL, *dynsym = NULL;
	Elf *elf = NULL;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* vanished or unreadable: nothing of Tokio's there */
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF)
		goto cleanup;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB)
			symtab = scn;
		else if (sh.sh_type == SHT_DYNSYM)
			dynsym = scn;
	}
	if (symtab)
		r = scan_symtab(s, elf, symtab, module);
	else if (dynsym)
		r = scan_symtab(s, elf, dynsym, module);
	if (r == 0 && !symtab && rodata_mentions_tokio(elf))
		*stripped_tokio = true;
cleanup:
	if (elf)
		elf_end(elf);
	close(fd);
	return r;
}

void ts_tokio_symbols_free(struct tk_symbols *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_modules; i++)
		free(s->modules[i]);
	free(s->modules);
	free(s->probes);
	free(s->glue);
	free(s->glue_shared);
	free(s);
}

static int add_module(struct tk_symbols *s, uint32_t pid, const char *path, uint32_t *index)
{
	char buf[4200];
	char **m;

	snprintf(buf, sizeof(buf), "/proc/%" PRIu32 "/root%s", pid, path);
	for (size_t i = 0; i < s->n_modules; i++) {
		if (!strcmp(s->modules[i], buf)) {
			*index = UINT32_MAX; /* seen */
			return 0;
		}
	}
	if (s->n_modules >= MAX_MODULES)
		return -E2BIG;
	m = realloc(s->modules, (s->n_modules + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	s->modules = m;
	if (!(m[s->n_modules] = strdup(buf)))
		return -ENOMEM;
	*index = (uint32_t)s->n_modules++;
	return 0;
}

int ts_tokio_elf_scan(uint32_t pid, struct tk_symbols **out, char *err, size_t errlen)
{
	struct tk_symbols *s = calloc(1, sizeof(*s));
	char path[64], line[4400], exe[4096] = "";
	bool stripped = false;
	FILE *maps = NULL;
	ssize_t n;
	int r = 0;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	elf_version(EV_CURRENT);
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/maps", pid);
	maps = fopen(path, "re");
	if (!maps) {
		r = -errno;
		if (r == -ENOENT || r == -ESRCH) {
			r = -ESRCH;
			snprintf(err, errlen, "pid %" PRIu32 " exited", pid);
		} else {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(-r));
		}
		goto cleanup;
	}
	while (fgets(line, sizeof(line), maps)) {
		char perms[8], file[4200] = "";
		uint32_t idx;
		bool strip_here = false;

		if (sscanf(line, "%*x-%*x %7s %*x %*x:%*x %*u %4199[^\n]", perms, file) < 2 || perms[2] != 'x' ||
		    file[0] != '/' || strstr(file, " (deleted)"))
			continue;
		r = add_module(s, pid, file, &idx);
		if (r < 0)
			goto fail;
		if (idx == UINT32_MAX)
			continue;
		r = scan_file(s, s->modules[idx], idx, &strip_here);
		if (r < 0)
			goto fail;
		stripped = stripped || strip_here;
	}
	/* a live process maps at least its executable: this one is a zombie or gone */
	if (s->n_modules == 0) {
		r = -ESRCH;
		snprintf(err, errlen, "pid %" PRIu32 " exited", pid);
		goto cleanup;
	}
	r = find_shared_glue(s);
	if (r < 0)
		goto fail;
	if (s->count[TK_FN_POLL] == 0) {
		if (stripped) {
			r = -ENOEXEC;
			snprintf(err, errlen, "no symbols: %s is stripped; Tokio's task functions cannot be found "
				 "(keep symbols: no `strip`, or `--mode generic`)", exe[0] ? exe : "the executable");
			goto cleanup;
		}
		snprintf(err, errlen, "pid %" PRIu32 " (%s) is not a Tokio program: no %s in its executable or "
			 "libraries", pid, exe[0] ? exe : "?", fn_names[TK_FN_POLL]);
	}
	*out = s;
	s = NULL;
	goto cleanup;
fail:
	snprintf(err, errlen, "cannot read the symbols of pid %" PRIu32 ": %s", pid, strerror(-r));
cleanup:
	if (maps)
		fclose(maps);
	ts_tokio_symbols_free(s);
	return r;
}
