/*
 * symbolize_inline.c: which functions were inlined at an address, from
 * DWARF's DW_TAG_inlined_subroutine scopes. Optimized Rust is mostly
 * inlined code: the instruction at a spawn site's return address often
 * belongs to `tokio::task::spawn` inlined into the user's function. The
 * line table alone then names tokio's file next to the user's function;
 * with the scopes each level gets its own name and the line it is at (for
 * an outer level, the line where the inner one was inlined), so the
 * physical function is reported with a line of its own source.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdlib.h>
#include <string.h>

#include "collector/strpool.h"
#include "collector/symbolize_internal.h"

static const char *intern(struct ts_symbolizer *s, const char *str)
{
	return str ? ts_strpool_intern(s->strings, str, strlen(str)) : NULL;
}

/* A scope's function name: its linkage name demangled, else DW_AT_name
 * (both through DW_AT_abstract_origin / DW_AT_specification). */
static const char *die_function(struct ts_symbolizer *s, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *ln = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
	const char *name;

	if (!ln)
		ln = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
	if (ln) {
		char *dm = ts_demangle(ln);
		name = intern(s, dm ? dm : ln);
		free(dm);
		return name;
	}
	return intern(s, dwarf_diename(die));
}

int ts_symbolizer_inline_levels(struct ts_symbolizer *s, Dwfl_Module *mod, uint64_t ip, struct ts_frame *out,
				size_t max)
{
	Dwarf_Die *cu, *innermost = NULL, *scopes = NULL;
	Dwarf_Files *files = NULL;
	Dwarf_Addr bias = 0;
	Dwfl_Line *dl;
	size_t nfiles = 0, count = 0;
	const char *file = NULL;
	int n, sub = -1, line = 0;

	if (max == 0)
		return 0;
	cu = dwfl_module_addrdie(mod, ip, &bias);
	if (!cu)
		return 0;
	/* dwarf_getscopes goes on from an inlined instance into its abstract
	 * definition's scopes; the physical nesting (inlined into what) is
	 * what dwarf_getscopes_die gives for the innermost scope */
	n = dwarf_getscopes(cu, ip - bias, &innermost);
	if (n <= 0)
		return 0;
	n = dwarf_getscopes_die(&innermost[0], &scopes);
	if (n <= 0)
		goto cleanup;
	for (int i = 0; i < n; i++) {
		if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram) {
			sub = i;
			break;
		}
	}
	if (sub < 0)
		goto cleanup;
	if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
		files = NULL;
	/* the innermost level is where ip is */
	dl = dwfl_module_getsrc(mod, ip);
	if (dl)
		file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);
	for (int i = 0; i <= sub; i++) {
		Dwarf_Attribute a;
		Dwarf_Word cf, cl;
		int tag = dwarf_tag(&scopes[i]);

		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue; /* lexical blocks */
		/* too many levels: keep the innermost ones and the physical function */
		if (count < max - 1 || i == sub) {
			out[count] = (struct ts_frame){
				.ip = ip,
				.function = die_function(s, &scopes[i]),
				.file = file && line > 0 ? intern(s, file) : NULL,
				.line = file && line > 0 ? (uint32_t)line : 0,
			};
			count++;
		}
		if (tag != DW_TAG_inlined_subroutine)
			continue;
		/* the next level out is at the line this one was inlined from */
		file = NULL;
		line = 0;
		if (files && dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &a), &cf) == 0 && cf < nfiles)
			file = dwarf_filesrc(files, (size_t)cf, NULL, NULL);
		if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &a), &cl) == 0 && cl <= INT32_MAX)
			line = (int)cl;
	}
cleanup:
	free(innermost);
	free(scopes);
	return (int)count;
}
