/*
 * demangle_v0.c: Rust's v0 symbol mangling (`_R...`, RFC 2603) read back
 * into `crate::module::function`, `<Type as Trait>::method`,
 * `Vec<u8>::push`, `main::{closure#0}`. Crate disambiguators and the
 * instantiating crate are left out, as rustc-demangle does by default.
 *
 * A recursive-descent parser over an untrusted string: every read is
 * bounds-checked, recursion depth and the number of parse steps are
 * capped (backreferences can describe exponentially large names), and
 * backreferences must point strictly backwards. Anything it does not know
 * fails the whole name, which then stays mangled.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "collector/demangle_v0.h"

#define MAX_DEPTH 64
#define MAX_STEPS 20000

struct v0 {
	const char *s;      /* after "_R" */
	size_t n, pos;
	int depth;
	unsigned steps;
	int quiet;          /* > 0: parse without printing */
	unsigned bound;     /* lifetimes bound by enclosing binders */
	struct ts_dm_buf *out;
};

static bool path(struct v0 *p, bool in_value);
static bool type(struct v0 *p);

static bool emit(struct v0 *p, const char *s, size_t n)
{
	return p->quiet ? true : ts_dm_put(p->out, s, n);
}

static bool emits(struct v0 *p, const char *s)
{
	return emit(p, s, strlen(s));
}

static int peek(const struct v0 *p)
{
	return p->pos < p->n ? (unsigned char)p->s[p->pos] : -1;
}

static bool eat(struct v0 *p, char c)
{
	if (peek(p) != (unsigned char)c)
		return false;
	p->pos++;
	return true;
}

static bool enter(struct v0 *p)
{
	return ++p->depth <= MAX_DEPTH && ++p->steps <= MAX_STEPS;
}

/* base-62-number = {0-9a-zA-Z} "_"; "_" is 0, otherwise value + 1 */
static bool base62(struct v0 *p, uint64_t *out)
{
	uint64_t v = 0;

	if (eat(p, '_')) {
		*out = 0;
		return true;
	}
	for (;;) {
		int c = peek(p), d;
		if (c == '_')
			break;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'z')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'Z')
			d = c - 'A' + 36;
		else
			return false;
		if (v > (UINT64_MAX - (uint64_t)d) / 62)
			return false;
		v = v * 62 + (uint64_t)d;
		p->pos++;
	}
	p->pos++;
	if (v == UINT64_MAX)
		return false;
	*out = v + 1;
	return true;
}

static bool decimal(struct v0 *p, uint64_t *out)
{
	uint64_t v = 0;

	if (!isdigit(peek(p)))
		return false;
	if (eat(p, '0')) {
		*out = 0;
		return true;
	}
	while (isdigit(peek(p))) {
		if (v > p->n)
			return false;
		v = v * 10 + (uint64_t)(peek(p) - '0');
		p->pos++;
	}
	*out = v;
	return true;
}

/* disambiguator = "s" base62 (absent: 0) */
static bool disambiguator(struct v0 *p, uint64_t *out)
{
	*out = 0;
	if (!eat(p, 's'))
		return true;
	if (!base62(p, out))
		return false;
	*out += 1;
	return true;
}

struct ident {
	const char *s;
	size_t n;
	bool punycode;
};

/* undisambiguated-identifier = ["u"] decimal ["_"] bytes */
static bool ident(struct v0 *p, struct ident *id)
{
	uint64_t len;

	id->punycode = eat(p, 'u');
	if (!decimal(p, &len))
		return false;
	eat(p, '_');
	if (len > p->n - p->pos)
		return false;
	id->s = p->s + p->pos;
	id->n = (size_t)len;
	p->pos += (size_t)len;
	return true;
}

static bool print_ident(struct v0 *p, const struct ident *id)
{
	if (id->punycode)
		return emits(p, "punycode{") && emit(p, id->s, id->n) && emits(p, "}");
	for (size_t i = 0; i < id->n; i++)
		if (!isalnum((unsigned char)id->s[i]) && id->s[i] != '_')
			return false;
	return emit(p, id->s, id->n);
}

/* Follow a backreference, parsing what it points at with `fn`. */
static bool backref(struct v0 *p, bool (*fn)(struct v0 *, bool), bool arg)
{
	size_t tag = p->pos - 1, saved;
	uint64_t to;
	bool ok;

	if (!base62(p, &to) || to >= tag)
		return false;
	saved = p->pos;
	p->pos = (size_t)to;
	ok = fn(p, arg);
	p->pos = saved;
	return ok;
}

static bool lifetime_print(struct v0 *p, uint64_t idx)
{
	char tmp[32];

	if (idx == 0)
		return emits(p, "'_");
	if (idx > p->bound)
		return false;
	uint64_t depth = p->bound - idx;
	if (depth < 26)
		snprintf(tmp, sizeof(tmp), "'%c", (char)('a' + depth));
	else
		snprintf(tmp, sizeof(tmp), "'_%" PRIu64, depth);
	return emits(p, tmp);
}

/* binder = "G" base62: that many + 1 lifetimes, printed as for<'a, ...> */
static bool binder(struct v0 *p, unsigned *added)
{
	uint64_t n;

	*added = 0;
	if (!eat(p, 'G'))
		return true;
	if (!base62(p, &n) || n + 1 > 64)
		return false;
	if (!emits(p, "for<"))
		return false;
	for (uint64_t i = 0; i <= n; i++) {
		p->bound++;
		if ((i && !emits(p, ", ")) || !lifetime_print(p, 1))
			return false;
	}
	*added = (unsigned)n + 1;
	return emits(p, "> ");
}

static const char *basic_type(int c)
{
	switch (c) {
	case 'a': return "i8";
	case 'b': return "bool";
	case 'c': return "char";
	case 'd': return "f64";
	case 'e': return "str";
	case 'f': return "f32";
	case 'h': return "u8";
	case 'i': return "isize";
	case 'j': return "usize";
	case 'l': return "i32";
	case 'm': return "u32";
	case 'n': return "i128";
	case 'o': return "u128";
	case 's': return "i16";
	case 't': return "u16";
	case 'u': return "()";
	case 'v': return "...";
	case 'x': return "i64";
	case 'y': return "u64";
	case 'z': return "!";
	case 'p': return "_";
	default: return NULL;
	}
}

static bool konst(struct v0 *p, bool unused);

/* const-data = ["n"] {hex} "_" for integers, bool and char */
static bool const_data(struct v0 *p, int ty)
{
	bool neg = eat(p, 'n');
	uint64_t v = 0;
	size_t digits = 0;
	char tmp[48];

	while (isxdigit(peek(p)) && !isupper(peek(p))) {
		int c = peek(p);
		if (digits++ >= 16)
			return false; /* wider than 64 bits: not worth printing */
		v = v * 16 + (uint64_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
		p->pos++;
	}
	if (!eat(p, '_'))
		return false;
	if (ty == 'b') {
		if (neg || v > 1)
			return false;
		return emits(p, v ? "true" : "false");
	}
	if (ty == 'c') {
		if (neg || v > 0x10ffff)
			return false;
		if (v >= 0x20 && v < 0x7f && v != '\'' && v != '\\')
			snprintf(tmp, sizeof(tmp), "'%c'", (char)v);
		else
			snprintf(tmp, sizeof(tmp), "'\\u{%" PRIx64 "}'", v);
		return emits(p, tmp);
	}
	if (!strchr("ahtmyoijslxn", ty))
		return false;
	snprintf(tmp, sizeof(tmp), "%s%" PRIu64, neg ? "-" : "", v);
	return emits(p, tmp);
}

/* const = type const-data | "p" | backref */
static bool konst(struct v0 *p, bool unused)
{
	int c;
	bool ok;

	(void)unused;
	if (!enter(p))
		return false;
	c = peek(p);
	p->pos++;
	if (c == 'p')
		ok = emits(p, "_");
	else if (c == 'B')
		ok = backref(p, konst, false);
	else if (c >= 0 && basic_type(c))
		ok = const_data(p, c);
	else
		ok = false;
	p->depth--;
	return ok;
}

static bool generic_arg(struct v0 *p)
{
	uint64_t lt;

	if (eat(p, 'L'))
		return base62(p, &lt) && lifetime_print(p, lt);
	if (eat(p, 'K'))
		return konst(p, false);
	return type(p);
}

/* Comma-separated list up to "E"; `one` parses one element. */
static bool list(struct v0 *p, bool (*one)(struct v0 *), size_t *count)
{
	size_t n = 0;

	while (!eat(p, 'E')) {
		if (peek(p) < 0)
			return false;
		if ((n && !emits(p, ", ")) || !one(p))
			return false;
		n++;
	}
	if (count)
		*count = n;
	return true;
}

static bool type_any(struct v0 *p, bool unused)
{
	(void)unused;
	return type(p);
}

/* fn-sig = [binder] ["U"] ["K" abi] {type} "E" type */
static bool fn_sig(struct v0 *p)
{
	unsigned bound;
	bool ok;

	if (!binder(p, &bound))
		return false;
	if (eat(p, 'U') && !emits(p, "unsafe "))
		return false;
	if (eat(p, 'K')) {
		if (eat(p, 'C')) {
			if (!emits(p, "extern \"C\" "))
				return false;
		} else {
			struct ident abi;
			if (!ident(p, &abi) || abi.punycode || !emits(p, "extern \""))
				return false;
			for (size_t i = 0; i < abi.n; i++)
				if (!emit(p, abi.s[i] == '_' ? "-" : abi.s + i, 1))
					return false;
			if (!emits(p, "\" "))
				return false;
		}
	}
	ok = emits(p, "fn(") && list(p, type, NULL) && emits(p, ")");
	if (ok) {
		if (eat(p, 'u'))
			; /* returns (): printed as nothing */
		else
			ok = emits(p, " -> ") && type(p);
	}
	p->bound -= bound;
	return ok;
}

/* dyn-trait = path {"p" ident type}; bindings go inside the trait's <> */
static bool dyn_trait(struct v0 *p)
{
	bool open = false;

	if (!path(p, false))
		return false;
	while (eat(p, 'p')) {
		struct ident name;
		if (!open) {
			if (!p->quiet && p->out->len && p->out->buf[p->out->len - 1] == '>') {
				p->out->buf[--p->out->len] = '\0';
				if (!emits(p, ", "))
					return false;
			} else if (!emits(p, "<")) {
				return false;
			}
			open = true;
		} else if (!emits(p, ", ")) {
			return false;
		}
		if (!ident(p, &name) || !print_ident(p, &name) || !emits(p, " = ") || !type(p))
			return false;
	}
	return !open || emits(p, ">");
}

static bool dyn_bounds(struct v0 *p)
{
	unsigned bound;
	size_t n = 0;
	uint64_t lt;
	bool ok;

	if (!emits(p, "dyn ") || !binder(p, &bound))
		return false;
	ok = true;
	while (ok && !eat(p, 'E')) {
		if (peek(p) < 0)
			ok = false;
		else
			ok = (!n || emits(p, " + ")) && dyn_trait(p);
		n++;
	}
	p->bound -= bound;
	if (!ok || !eat(p, 'L') || !base62(p, &lt))
		return false;
	return lt == 0 || (emits(p, " + ") && lifetime_print(p, lt));
}

static bool type(struct v0 *p)
{
	int c = peek(p);
	const char *basic = c >= 0 ? basic_type(c) : NULL;
	uint64_t lt;
	size_t count;
	bool ok;

	if (!enter(p))
		return false;
	if (basic) {
		p->pos++;
		ok = emits(p, basic);
		goto cleanup;
	}
	p->pos++;
	switch (c) {
	case 'A':
		ok = emits(p, "[") && type(p) && emits(p, "; ") && konst(p, false) && emits(p, "]");
		break;
	case 'S':
		ok = emits(p, "[") && type(p) && emits(p, "]");
		break;
	case 'T':
		ok = emits(p, "(") && list(p, type, &count) && (count != 1 || emits(p, ",")) &&
		     emits(p, ")");
		break;
	case 'R':
	case 'Q':
		ok = emits(p, c == 'R' ? "&" : "&");
		if (ok && eat(p, 'L'))
			ok = base62(p, &lt) && (lt == 0 || (lifetime_print(p, lt) && emits(p, " ")));
		ok = ok && (c == 'R' || emits(p, "mut ")) && type(p);
		break;
	case 'P':
		ok = emits(p, "*const ") && type(p);
		break;
	case 'O':
		ok = emits(p, "*mut ") && type(p);
		break;
	case 'F':
		ok = fn_sig(p);
		break;
	case 'D':
		ok = dyn_bounds(p);
		break;
	case 'B':
		ok = backref(p, type_any, false);
		break;
	default:
		p->pos--;
		ok = path(p, false);
		break;
	}
cleanup:
	p->depth--;
	return ok;
}

static bool generic_args_print(struct v0 *p, bool in_value)
{
	return (!in_value || emits(p, "::")) && emits(p, "<") && list(p, generic_arg, NULL) &&
	       emits(p, ">");
}

/* impl-path = [disambiguator] path: never printed */
static bool impl_path(struct v0 *p)
{
	uint64_t dis;
	bool ok;

	p->quiet++;
	ok = disambiguator(p, &dis) && path(p, false);
	p->quiet--;
	return ok;
}

static bool nested(struct v0 *p, bool in_value)
{
	int ns = peek(p);
	struct ident id;
	uint64_t dis;
	char tmp[48];

	if (ns < 0 || !isalpha(ns))
		return false;
	p->pos++;
	if (!path(p, in_value) || !disambiguator(p, &dis) || !ident(p, &id))
		return false;
	if (islower(ns)) /* internal namespaces: just the name */
		return id.n == 0 || (emits(p, "::") && print_ident(p, &id));
	if (!emits(p, "::{"))
		return false;
	if (!emits(p, ns == 'C' ? "closure" : ns == 'S' ? "shim" : (char[]){ (char)ns, 0 }))
		return false;
	if (id.n && (!emits(p, ":") || !print_ident(p, &id)))
		return false;
	snprintf(tmp, sizeof(tmp), "#%" PRIu64 "}", dis);
	return emits(p, tmp);
}

static bool path(struct v0 *p, bool in_value)
{
	int c = peek(p);
	struct ident id;
	uint64_t dis;
	bool ok;

	if (!enter(p))
		return false;
	p->pos++;
	switch (c) {
	case 'C':
		ok = disambiguator(p, &dis) && ident(p, &id) && print_ident(p, &id);
		break;
	case 'N':
		ok = nested(p, in_value);
		break;
	case 'M':
		ok = impl_path(p) && emits(p, "<") && type(p) && emits(p, ">");
		break;
	case 'X':
		ok = impl_path(p) && emits(p, "<") && type(p) && emits(p, " as ") && path(p, false) &&
		     emits(p, ">");
		break;
	case 'Y':
		ok = emits(p, "<") && type(p) && emits(p, " as ") && path(p, false) && emits(p, ">");
		break;
	case 'I':
		ok = path(p, in_value) && generic_args_print(p, in_value);
		break;
	case 'B':
		ok = backref(p, path, in_value);
		break;
	default:
		ok = false;
		break;
	}
	p->depth--;
	return ok;
}

bool ts_demangle_v0(const char *sym, struct ts_dm_buf *b)
{
	struct v0 p = { .s = sym + 2, .out = b };
	size_t end;

	if (strncmp(sym, "_R", 2) != 0 || isdigit((unsigned char)sym[2]))
		return false; /* a version number: a future encoding */
	/* the name ends at a vendor suffix ('.' or '$') */
	end = strcspn(p.s, ".$");
	p.n = end;
	if (!path(&p, true))
		return false;
	if (p.pos < p.n) { /* the instantiating crate: parsed, not printed */
		p.quiet++;
		if (!path(&p, false))
			return false;
		p.quiet--;
	}
	if (p.pos != p.n)
		return false;
	return ts_dm_suffix(b, p.s + end);
}
