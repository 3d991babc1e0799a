/*
 * symbolize_inline.c: which functions were inlined at an address, from
 * DWARF's DW_TAG_subprogram / DW_TAG_inlined_subroutine nesting.
 * Optimized Rust is mostly inlined code: the instruction at a spawn
 * site's return address often belongs to `tokio::task::spawn` inlined
 * into the user's function. The line table alone then names tokio's file
 * next to the user's function; with the nesting each level gets its own
 * name and the line it is at (for an outer level, the line where the
 * inner one was inlined), so the physical function is reported with a
 * line of its own source.
 *
 * dwarf_getscopes() answers this by walking the compile unit's DIE tree
 * on every call, which for a Rust codegen unit (hundreds of thousands of
 * DIEs) is milliseconds. So each compile unit is walked once, on its
 * first lookup, into a sorted table of function ranges with parent links;
 * a lookup is then a binary search and a short backwards scan. Tables are
 * dropped when the modules change, and all of them when they hold too
 * many ranges (memory stays bounded).
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/strpool.h"
#include "collector/symbolize_internal.h"

#define MAX_DEPTH 256                  /* DIE nesting we follow */
#define MAX_RANGES (1u << 20)          /* over all tables (~32 MiB), then start over */
#define MAX_SCAN 100000                /* ranges looked at backwards per lookup */

struct inl_node {
	Dwarf_Off off;
	int32_t parent;      /* index of the enclosing function node, -1 for a subprogram at the top */
};

struct inl_range {
	uint64_t low, high;  /* DWARF addresses (before the module's bias) */
	uint32_t node;
	uint32_t depth;
};

struct ts_sym_cu {
	Dwfl_Module *mod;
	Dwarf_Off cu_off;
	Dwarf_Die cu;
	struct inl_node *nodes;
	size_t nnodes, nodes_cap;
	struct inl_range *ranges;
	size_t nranges, ranges_cap;
};

static const char *intern(struct ts_symbolizer *s, const char *str)
{
	return str ? ts_strpool_intern(s->strings, str, strlen(str)) : NULL;
}

static int add_node(struct ts_sym_cu *c, Dwarf_Off off, int32_t parent)
{
	if (c->nnodes == c->nodes_cap) {
		size_t cap = c->nodes_cap ? c->nodes_cap * 2 : 256;
		struct inl_node *nv = realloc(c->nodes, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		c->nodes = nv;
		c->nodes_cap = cap;
	}
	c->nodes[c->nnodes] = (struct inl_node){ .off = off, .parent = parent };
	return (int)c->nnodes++;
}

static int add_range(struct ts_sym_cu *c, uint64_t low, uint64_t high, uint32_t node, uint32_t depth)
{
	if (c->nranges == c->ranges_cap) {
		size_t cap = c->ranges_cap ? c->ranges_cap * 2 : 256;
		struct inl_range *nv = realloc(c->ranges, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		c->ranges = nv;
		c->ranges_cap = cap;
	}
	c->ranges[c->nranges++] = (struct inl_range){ .low = low, .high = high, .node = node, .depth = depth };
	return 0;
}

static int by_low(const void *a, const void *b)
{
	const struct inl_range *x = a, *y = b;

	if (x->low != y->low)
		return x->low < y->low ? -1 : 1;
	return x->depth < y->depth ? -1 : x->depth > y->depth;
}

/* One walk over the compile unit: every function and inlined instance
 * with code, its ranges and its enclosing function. */
static int index_cu(struct ts_sym_cu *c)
{
	struct { Dwarf_Die die; int32_t parent; uint32_t depth; } stack[MAX_DEPTH];
	int sp = 0, rc;

	if (dwarf_child(&c->cu, &stack[0].die) != 0)
		return 0;
	stack[0].parent = -1;
	stack[0].depth = 0;
	sp = 1;
	while (sp > 0) {
		Dwarf_Die die = stack[sp - 1].die, child;
		int32_t parent = stack[sp - 1].parent, me = parent;
		uint32_t depth = stack[sp - 1].depth;
		int tag = dwarf_tag(&die);

		/* the next sibling replaces this entry; children go on top */
		if (dwarf_siblingof(&die, &stack[sp - 1].die) != 0)
			sp--;
		if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
			Dwarf_Addr base, start, end;
			ptrdiff_t off = 0;
			bool any = false;
			while ((off = dwarf_ranges(&die, off, &base, &start, &end)) > 0) {
				if (start >= end)
					continue;
				if (!any) {
					rc = add_node(c, dwarf_dieoffset(&die), parent);
					if (rc < 0)
						return rc;
					me = rc;
					any = true;
				}
				rc = add_range(c, start, end, (uint32_t)me, depth + 1);
				if (rc < 0)
					return rc;
			}
			if (any)
				depth++;
		}
		if (dwarf_haschildren(&die) && sp < MAX_DEPTH && dwarf_child(&die, &child) == 0) {
			stack[sp].die = child;
			stack[sp].parent = me;
			stack[sp].depth = depth;
			sp++;
		}
	}
	qsort(c->ranges, c->nranges, sizeof(*c->ranges), by_low);
	return 0;
}

static void cu_free(struct ts_sym_cu *c)
{
	free(c->nodes);
	free(c->ranges);
}

void ts_symbolizer_inline_clear(struct ts_symbolizer *s)
{
	for (size_t i = 0; i < s->ncus; i++)
		cu_free(&s->cus[i]);
	s->ncus = 0;
	s->cu_ranges = 0;
	s->last_cu = 0;
}

void ts_symbolizer_inline_free(struct ts_symbolizer *s)
{
	ts_symbolizer_inline_clear(s);
	free(s->cus);
	s->cus = NULL;
	s->cus_cap = 0;
}

static struct ts_sym_cu *cu_of(struct ts_symbolizer *s, Dwfl_Module *mod, Dwarf_Die *cudie)
{
	Dwarf_Off off = dwarf_dieoffset(cudie);
	struct ts_sym_cu *c;

	if (s->last_cu < s->ncus && s->cus[s->last_cu].mod == mod && s->cus[s->last_cu].cu_off == off)
		return &s->cus[s->last_cu];
	for (size_t i = 0; i < s->ncus; i++) {
		if (s->cus[i].mod == mod && s->cus[i].cu_off == off) {
			s->last_cu = i;
			return &s->cus[i];
		}
	}
	if (s->cu_ranges > MAX_RANGES)
		ts_symbolizer_inline_clear(s);
	if (s->ncus == s->cus_cap) {
		size_t cap = s->cus_cap ? s->cus_cap * 2 : 64;
		struct ts_sym_cu *nv = realloc(s->cus, cap * sizeof(*nv));
		if (!nv)
			return NULL;
		s->cus = nv;
		s->cus_cap = cap;
	}
	c = &s->cus[s->ncus];
	*c = (struct ts_sym_cu){ .mod = mod, .cu_off = off, .cu = *cudie };
	if (index_cu(c) < 0) {
		cu_free(c);
		return NULL;
	}
	s->cu_ranges += c->nranges;
	s->last_cu = s->ncus++;
	return c;
}

/* The deepest function node whose range holds `a`, or -1. */
static int innermost(const struct ts_sym_cu *c, uint64_t a)
{
	size_t lo = 0, hi = c->nranges, scanned = 0;
	int best = -1;
	uint32_t best_depth = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->ranges[mid].low <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* ranges nest: the ones holding `a` start at or before it; the scan
	 * ends at the top-level function that holds it */
	for (size_t i = lo; i-- > 0 && scanned < MAX_SCAN; scanned++) {
		const struct inl_range *r = &c->ranges[i];
		if (a >= r->high)
			continue;
		if (best < 0 || r->depth > best_depth) {
			best = (int)r->node;
			best_depth = r->depth;
		}
		if (c->nodes[r->node].parent < 0)
			break;
	}
	return best;
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
	Dwarf_Die *cudie;
	Dwarf_Files *files = NULL;
	Dwarf_Addr bias = 0;
	struct ts_sym_cu *c;
	Dwfl_Line *dl;
	size_t nfiles = 0, count = 0;
	const char *file = NULL;
	int node, line = 0;
	Dwarf *dbg;

	if (max == 0)
		return 0;
	cudie = dwfl_module_addrdie(mod, ip, &bias);
	if (!cudie || !(dbg = dwarf_cu_getdwarf(cudie->cu)))
		return 0;
	c = cu_of(s, mod, cudie);
	if (!c)
		return 0;
	node = innermost(c, ip - bias);
	if (node < 0)
		return 0;
	if (dwarf_getsrcfiles(&c->cu, &files, &nfiles) != 0)
		files = NULL;
	/* the innermost level is where ip is */
	dl = dwfl_module_getsrc(mod, ip);
	if (dl)
		file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);
	for (int n = node, guard = 0; n >= 0 && guard < MAX_DEPTH; n = c->nodes[n].parent, guard++) {
		Dwarf_Attribute a;
		Dwarf_Word cf, cl;
		Dwarf_Die die;
		bool top = c->nodes[n].parent < 0;

		if (!dwarf_offdie(dbg, c->nodes[n].off, &die))
			break;
		/* too many levels: keep the innermost ones and the physical function */
		if (count < max - 1 || top) {
			out[count] = (struct ts_frame){
				.ip = ip,
				.function = die_function(s, &die),
				.file = file && line > 0 ? intern(s, file) : NULL,
				.line = file && line > 0 ? (uint32_t)line : 0,
			};
			count++;
		}
		if (top || dwarf_tag(&die) != DW_TAG_inlined_subroutine)
			break;
		/* the next level out is at the line this one was inlined from */
		file = NULL;
		line = 0;
		if (files && dwarf_formudata(dwarf_attr(&die, DW_AT_call_file, &a), &cf) == 0 && cf < nfiles)
			file = dwarf_filesrc(files, (size_t)cf, NULL, NULL);
		if (dwarf_formudata(dwarf_attr(&die, DW_AT_call_line, &a), &cl) == 0 && cl <= INT32_MAX)
			line = (int)cl;
	}
	return (int)count;
}
