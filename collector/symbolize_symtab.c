/*
 * symbolize_symtab.c: function symbols of a module, sorted once, so an
 * address finds its function by binary search. libdwfl's own
 * dwfl_module_addrinfo() walks the whole symbol table on every call
 * (~0.2 ms for libc's 10,000 symbols on the development VM), which a
 * collector symbolizing fresh stack addresses cannot afford. The symbols
 * still come from libdwfl (dwfl_module_getsym_info: .symtab, .dynsym or
 * the .gnu_debugdata mini debuginfo, addresses already relocated).
 *
 * Tables are built on a module's first lookup and dropped when the
 * mappings change (the Dwfl_Module they belong to may be gone).
 */
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "collector/symbolize_internal.h"

struct ts_sym_symbol {
	uint64_t addr, size;
	const char *name;   /* owned by libdwfl's ELF data: valid while the module is */
	int rank;           /* 0 global, 1 weak, 2 local: the name an alias shows */
};

struct ts_sym_symtab {
	Dwfl_Module *mod;
	struct ts_sym_symbol *v;
	size_t n;
};

static int by_addr(const void *a, const void *b)
{
	const struct ts_sym_symbol *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1; /* the sized one first */
	return strcmp(x->name, y->name);
}

static int build(Dwfl_Module *mod, struct ts_sym_symtab *t)
{
	int n = dwfl_module_getsymtab(mod);
	size_t k = 0;

	*t = (struct ts_sym_symtab){ .mod = mod };
	if (n <= 1)
		return 0; /* no symbols: every lookup in it is unnamed */
	t->v = malloc((size_t)n * sizeof(*t->v));
	if (!t->v)
		return -ENOMEM;
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, NULL, NULL);
		int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);

		if (!name || !*name || addr == 0 || shndx == SHN_UNDEF)
			continue;
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		t->v[k++] = (struct ts_sym_symbol){
			.addr = addr, .size = sym.st_size, .name = name,
			.rank = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2,
		};
	}
	qsort(t->v, k, sizeof(*t->v), by_addr);
	/* one entry per address: the best name (sorted first) */
	t->n = 0;
	for (size_t i = 0; i < k; i++)
		if (t->n == 0 || t->v[t->n - 1].addr != t->v[i].addr)
			t->v[t->n++] = t->v[i];
	return 0;
}

static struct ts_sym_symtab *table_of(struct ts_symbolizer *s, Dwfl_Module *mod)
{
	struct ts_sym_symtab *t;

	if (s->last_symtab < s->nsymtabs && s->symtabs[s->last_symtab].mod == mod)
		return &s->symtabs[s->last_symtab];
	for (size_t i = 0; i < s->nsymtabs; i++) {
		if (s->symtabs[i].mod == mod) {
			s->last_symtab = i;
			return &s->symtabs[i];
		}
	}
	if (s->nsymtabs == s->symtabs_cap) {
		size_t cap = s->symtabs_cap ? s->symtabs_cap * 2 : 16;
		struct ts_sym_symtab *nv = realloc(s->symtabs, cap * sizeof(*nv));
		if (!nv)
			return NULL;
		s->symtabs = nv;
		s->symtabs_cap = cap;
	}
	t = &s->symtabs[s->nsymtabs];
	if (build(mod, t) < 0)
		return NULL;
	s->last_symtab = s->nsymtabs++;
	return t;
}

const char *ts_symbolizer_symbol(struct ts_symbolizer *s, Dwfl_Module *mod, uint64_t ip, uint64_t *offset)
{
	struct ts_sym_symtab *t = table_of(s, mod);
	size_t lo = 0, hi;

	if (!t || t->n == 0)
		return NULL;
	/* the last symbol starting at or below ip */
	hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->v[mid].addr <= ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	/* it, or (nested symbols) one of the few before it, must cover ip;
	 * a symbol without a size covers up to the next one */
	for (size_t i = lo, tries = 0; i-- > 0 && tries < 8; tries++) {
		const struct ts_sym_symbol *c = &t->v[i];
		if ((c->size && ip - c->addr < c->size) || (!c->size && i == lo - 1)) {
			*offset = ip - c->addr;
			return c->name;
		}
	}
	return NULL;
}

void ts_symbolizer_symtabs_clear(struct ts_symbolizer *s)
{
	for (size_t i = 0; i < s->nsymtabs; i++)
		free(s->symtabs[i].v);
	s->nsymtabs = 0;
	s->last_symtab = 0;
}

void ts_symbolizer_symtabs_free(struct ts_symbolizer *s)
{
	ts_symbolizer_symtabs_clear(s);
	free(s->symtabs);
	s->symtabs = NULL;
	s->symtabs_cap = 0;
}
