/*
 * demangle.c: symbol names as a user reads them. Rust is demangled here
 * (legacy `_ZN...17h<hash>E` and v0 `_R...`), without the hash, crate
 * disambiguators or `.llvm.N` suffixes, because stacks of async Rust are
 * what taskscope shows most. C++ goes to the demangler every Debian
 * system already has: libstdc++'s `__cxa_demangle`, which the Itanium ABI
 * defines with C linkage, looked up with dlopen("libstdc++.so.6") so
 * taskscope needs no C++ link dependency and no extra package (libiberty
 * is a static, unversioned library in a -dev package CI does not
 * install). Without libstdc++ a C++ name stays mangled.
 *
 * Symbol names come from the target's ELF files: untrusted. Parsing is
 * bounded (input length, output length, recursion depth, backreference
 * loops) and anything unexpected makes the name stay as it is.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/symbolize.h"
#include "collector/demangle_v0.h"

#define MAX_IN 4096

/* ---- output buffer shared with the v0 demangler ---- */

bool ts_dm_put(struct ts_dm_buf *b, const char *s, size_t n)
{
	if (b->failed || b->len + n >= sizeof(b->buf)) {
		b->failed = true;
		return false;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return true;
}

bool ts_dm_puts(struct ts_dm_buf *b, const char *s)
{
	return ts_dm_put(b, s, strlen(s));
}

/* ---- Rust legacy: _ZN <len><ident>... 17h<16 hex> E [suffix] ---- */

static bool is_rust_hash(const char *s, size_t n)
{
	if (n != 17 || s[0] != 'h')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* The `$..$` escapes of legacy mangling: `$LT$` and friends, `$u7e$`. */
static bool legacy_escape(struct ts_dm_buf *b, const char *s, size_t n, size_t *used)
{
	static const struct { const char *code, *text; } esc[] = {
		{ "$SP$", "@" }, { "$BP$", "*" }, { "$RF$", "&" }, { "$LT$", "<" },
		{ "$GT$", ">" }, { "$LP$", "(" }, { "$RP$", ")" }, { "$C$", "," },
	};
	for (size_t i = 0; i < sizeof(esc) / sizeof(esc[0]); i++) {
		size_t l = strlen(esc[i].code);
		if (n >= l && memcmp(s, esc[i].code, l) == 0) {
			*used = l;
			return ts_dm_puts(b, esc[i].text);
		}
	}
	if (n >= 4 && s[1] == 'u') {
		/* $u<hex>$: one code point, printable ASCII only */
		unsigned v = 0;
		size_t i = 2;
		for (; i < n && i < 8 && isxdigit((unsigned char)s[i]); i++)
			v = v * 16 + (unsigned)(isdigit((unsigned char)s[i]) ? s[i] - '0'
									: (tolower((unsigned char)s[i]) - 'a' + 10));
		if (i > 2 && i < n && s[i] == '$' && v >= 0x20 && v < 0x7f) {
			char c = (char)v;
			*used = i + 1;
			return ts_dm_put(b, &c, 1);
		}
	}
	return false;
}

static bool legacy_ident(struct ts_dm_buf *b, const char *s, size_t n)
{
	size_t i = 0;

	/* a leading '_' only protects a '$' from starting the identifier */
	if (n >= 2 && s[0] == '_' && s[1] == '$')
		i = 1;
	while (i < n) {
		size_t used;
		if (s[i] == '$') {
			if (!legacy_escape(b, s + i, n - i, &used))
				return false;
			i += used;
		} else if (s[i] == '.') {
			if (i + 1 < n && s[i + 1] == '.') {
				if (!ts_dm_puts(b, "::"))
					return false;
				i += 2;
			} else {
				if (!ts_dm_puts(b, "."))
					return false;
				i++;
			}
		} else {
			if (!isalnum((unsigned char)s[i]) && s[i] != '_')
				return false;
			if (!ts_dm_put(b, s + i, 1))
				return false;
			i++;
		}
	}
	return true;
}

/* Appends the part after the mangled name: ".llvm.N" is dropped (an LTO
 * artefact), anything else (".cold", ".isra.0") is kept as " (.cold)". */
bool ts_dm_suffix(struct ts_dm_buf *b, const char *suffix)
{
	const char *llvm = strstr(suffix, ".llvm.");
	size_t n = llvm ? (size_t)(llvm - suffix) : strlen(suffix);

	if (n == 0)
		return true;
	if (n == 1) { /* a lone '.' or '$' is no suffix: not a name we know */
		b->failed = true;
		return false;
	}
	return ts_dm_puts(b, " (") && ts_dm_put(b, suffix, n) && ts_dm_puts(b, ")");
}

/* Returns true with the name in `b` when `sym` is a Rust legacy name. A
 * nested name without the hash is ambiguous with C++ (`_ZN3foo3barE` is
 * foo::bar either way), so it is accepted too: the result is the same. */
static bool demangle_legacy(const char *sym, struct ts_dm_buf *b)
{
	const char *p = sym + 3, *end = sym + strlen(sym);
	bool first = true;

	while (p < end && *p != 'E') {
		size_t len = 0;
		if (!isdigit((unsigned char)*p))
			return false;
		while (p < end && isdigit((unsigned char)*p)) {
			len = len * 10 + (size_t)(*p - '0');
			if (len > MAX_IN)
				return false;
			p++;
		}
		if (len == 0 || len > (size_t)(end - p))
			return false;
		if (is_rust_hash(p, len) && p + len < end && p[len] == 'E') {
			p += len;
			break;
		}
		if (!first && !ts_dm_puts(b, "::"))
			return false;
		if (!legacy_ident(b, p, len))
			return false;
		first = false;
		p += len;
	}
	if (p >= end || *p != 'E' || first)
		return false;
	p++;
	if (*p != '\0' && *p != '.')
		return false; /* C++ with parameters: not ours */
	return ts_dm_suffix(b, p);
}

/* ---- C++ through libstdc++ ---- */

typedef char *(*cxa_demangle_fn)(const char *, char *, size_t *, int *);
static cxa_demangle_fn cxa_demangle;
static pthread_once_t cxa_once = PTHREAD_ONCE_INIT;

static void cxa_load(void)
{
	void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL);

	if (h)
		cxa_demangle = (cxa_demangle_fn)(uintptr_t)dlsym(h, "__cxa_demangle");
	/* the handle stays open for the life of the process: the function is used until exit */
}

static char *demangle_cxx(const char *sym)
{
	int status = -1;
	char *out;

	pthread_once(&cxa_once, cxa_load);
	if (!cxa_demangle)
		return NULL;
	out = cxa_demangle(sym, NULL, NULL, &status);
	if (status != 0) {
		free(out);
		return NULL;
	}
	return out;
}

char *ts_demangle(const char *sym)
{
	struct ts_dm_buf b = { .len = 0 };

	if (!sym || strnlen(sym, MAX_IN + 1) > MAX_IN)
		return NULL;
	if (strncmp(sym, "__R", 3) == 0 || strncmp(sym, "__ZN", 4) == 0)
		sym++; /* the Mach-O spelling, seen in foreign binaries */
	if (strncmp(sym, "_R", 2) == 0) {
		if (ts_demangle_v0(sym, &b) && !b.failed)
			return strdup(b.buf);
		return NULL;
	}
	if (strncmp(sym, "_ZN", 3) == 0 && demangle_legacy(sym, &b) && !b.failed)
		return strdup(b.buf);
	if (strncmp(sym, "_Z", 2) == 0)
		return demangle_cxx(sym);
	return NULL;
}
