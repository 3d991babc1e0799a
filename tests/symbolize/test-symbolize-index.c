/*
 * test-symbolize-index.c: the symbolizer's own indexes (sorted function
 * symbols per module, function ranges per compile unit) must give what
 * libdw's slow, straightforward calls give. For thousands of addresses
 * across this executable's code (the collector library's optimized code,
 * full of inlined static functions, and whatever libc put in it):
 *  - the inline chain of ts_symbolizer_lookup_inline() against
 *    dwarf_getscopes() + dwarf_getscopes_die() on a separate Dwfl:
 *    same number of levels, same names, same lines;
 *  - the function start ts_symbolizer_lookup() reports (ip - offset)
 *    against dwfl_module_addrinfo()'s symbol.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "collector/symbolize.h"
#include "tests/check.h"

#define LEVELS 64

static uint64_t text_lo, text_hi;

static int find_text(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	/* the first object is the executable */
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			text_lo = info->dlpi_addr + ph->p_vaddr;
			text_hi = text_lo + ph->p_memsz;
			return 1;
		}
	}
	return 1;
}

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

struct level {
	const char *name;
	int line;
};

/* The chain the slow way; returns the number of levels. */
static int reference(Dwfl *dwfl, uint64_t ip, struct level *out)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, ip);
	Dwarf_Die *cu, *scopes = NULL, *chain = NULL;
	Dwarf_Files *files = NULL;
	Dwarf_Addr bias;
	Dwfl_Line *dl;
	size_t nfiles = 0;
	int n, m, count = 0, line = 0;

	if (!mod || !(cu = dwfl_module_addrdie(mod, ip, &bias)))
		return 0;
	n = dwarf_getscopes(cu, ip - bias, &scopes);
	if (n <= 0)
		return 0;
	m = dwarf_getscopes_die(&scopes[0], &chain);
	dwarf_getsrcfiles(cu, &files, &nfiles);
	dl = dwfl_module_getsrc(mod, ip);
	if (dl)
		dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);
	for (int i = 0; i < m && count < LEVELS; i++) {
		int tag = dwarf_tag(&chain[i]);
		Dwarf_Attribute a;
		Dwarf_Word cl;
		if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine)
			continue;
		out[count].name = dwarf_diename(&chain[i]);
		out[count].line = line;
		count++;
		if (tag == DW_TAG_subprogram)
			break;
		line = dwarf_formudata(dwarf_attr(&chain[i], DW_AT_call_line, &a), &cl) == 0 ? (int)cl : 0;
	}
	free(scopes);
	free(chain);
	return count;
}

int main(void)
{
	struct ts_symbolizer *s = NULL;
	struct ts_frame lv[LEVELS], f;
	struct level want[LEVELS];
	Dwfl *dwfl;
	char err[256];
	unsigned compared = 0, inlined = 0, mismatches = 0, starts = 0;

	dl_iterate_phdr(find_text, NULL);
	if (!text_lo) {
		printf("SKIP: no executable segment found\n");
		return 77;
	}
	dwfl = dwfl_begin(&callbacks);
	CHECK(dwfl != NULL);
	CHECK(dwfl_linux_proc_report(dwfl, getpid()) == 0);
	dwfl_report_end(dwfl, NULL, NULL);
	CHECK(ts_symbolizer_new((uint32_t)getpid(), &s, err, sizeof(err)) == 0);
	if (!s || !dwfl)
		return check_result("test-symbolize-index");

	for (uint64_t ip = text_lo; ip < text_hi; ip += 11) {
		int n = reference(dwfl, ip, want);
		int got = ts_symbolizer_lookup_inline(s, ip, lv, LEVELS);
		Dwfl_Module *mod = dwfl_addrmodule(dwfl, ip);
		GElf_Off off;
		GElf_Sym sym;
		const char *name;

		if (n > 0) {
			bool same = got == n;
			for (int i = 0; same && i < n; i++)
				same = lv[i].function && want[i].name && strcmp(lv[i].function, want[i].name) == 0 &&
				       (int)lv[i].line == want[i].line;
			if (!same && mismatches++ < 5) {
				fprintf(stderr, "0x%llx: %d levels, want %d\n", (unsigned long long)ip, got, n);
				for (int i = 0; i < n || i < got; i++)
					fprintf(stderr, "  got %s:%u want %s:%d\n", i < got && lv[i].function ? lv[i].function : "-",
						i < got ? lv[i].line : 0, i < n && want[i].name ? want[i].name : "-",
						i < n ? want[i].line : 0);
			}
			compared++;
			inlined += n > 1;
		}
		/* the function's start, by symbol table */
		name = mod ? dwfl_module_addrinfo(mod, ip, &off, &sym, NULL, NULL, NULL) : NULL;
		if (name && ts_symbolizer_lookup(s, ip, &f) == 0 && f.function) {
			CHECK_MSG(ip - f.offset == ip - off, "0x%llx: %s starts at -%llu, dwfl's %s at -%llu",
				  (unsigned long long)ip, f.function, (unsigned long long)f.offset, name,
				  (unsigned long long)off);
			starts++;
		}
	}
	CHECK_MSG(mismatches == 0, "%u of %u inline chains differ", mismatches, compared);
	CHECK_MSG(starts > 1000, "only %u symbol starts compared", starts);
	/* the comparison must have been about something: without -g on the
	 * collector library (buildtype=release) it is not */
	if (!check_failures && (compared < 1000 || inlined < 100)) {
		printf("SKIP: only %u addresses with DWARF, %u inlined\n", compared, inlined);
		return 77;
	}
	printf("compared %u inline chains (%u with inlining), %u symbol starts\n", compared, inlined, starts);
	ts_symbolizer_free(s);
	dwfl_end(dwfl);
	return check_result("test-symbolize-index");
}
