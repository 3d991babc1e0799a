/*
 * format.c: durations, counts and untrusted strings made fit for a
 * terminal cell. See format.h. Strings are decoded here (not with
 * mbrtowc) so that what is valid UTF-8 does not depend on the locale; only
 * the column width of a valid character comes from wcwidth().
 */
#include "console/format.h"

#include <stdio.h>
#include <string.h>
#include <wchar.h>

struct unit {
	const char *suffix;
	double scale;               /* base units per one of this unit */
	double limit;               /* move to the next unit at this value (0: 999.5) */
};

/* Print v (already >= 1 in units[0]) with 3 significant digits, moving to
 * the next unit when it reaches the unit's limit (999.5 by default, so
 * that rounding never needs a fourth digit; 59.95 for seconds and minutes). */
static int fmt_scaled(char *buf, size_t n, double v, const struct unit *units, size_t nunits)
{
	for (size_t i = 0; i < nunits; i++) {
		double x = v / units[i].scale;
		double limit = units[i].limit > 0 ? units[i].limit : 999.5;

		if (x >= limit && i + 1 < nunits)
			continue;
		if (x < 9.995)
			return snprintf(buf, n, "%.2f%s", x, units[i].suffix);
		if (x < 99.95)
			return snprintf(buf, n, "%.1f%s", x, units[i].suffix);
		return snprintf(buf, n, "%.0f%s", x, units[i].suffix);
	}
	return snprintf(buf, n, "?");
}

int ts_fmt_duration(char *buf, size_t n, uint64_t ns, bool ascii)
{
	const struct unit units[] = {
		{ ascii ? "us" : "\u00b5s", 1e3, 0 }, { "ms", 1e6, 0 }, { "s", 1e9, 59.95 },
		{ "m", 60e9, 59.95 }, { "h", 3600e9, 0 },
	};

	if (ns < 1000)
		return snprintf(buf, n, "%uns", (unsigned)ns);
	return fmt_scaled(buf, n, (double)ns, units, sizeof(units) / sizeof(units[0]));
}

int ts_fmt_count(char *buf, size_t n, uint64_t v)
{
	static const struct unit units[] = {
		{ "M", 1e6, 0 }, { "G", 1e9, 0 }, { "T", 1e12, 0 }, { "P", 1e15, 0 }, { "E", 1e18, 0 },
	};

	if (v < 1000000)
		return snprintf(buf, n, "%llu", (unsigned long long)v);
	return fmt_scaled(buf, n, (double)v, units, sizeof(units) / sizeof(units[0]));
}

int ts_fmt_rate(char *buf, size_t n, double v)
{
	static const struct unit units[] = { { "k", 1e3, 0 }, { "M", 1e6, 0 }, { "G", 1e9, 0 } };

	if (!(v >= 0))              /* also NaN */
		v = 0;
	if (v < 999.5)
		return snprintf(buf, n, "%.0f", v);
	return fmt_scaled(buf, n, v, units, sizeof(units) / sizeof(units[0]));
}

/* One decoded character: its bytes in the source, and how it is shown. */
struct glyph {
	size_t len;                 /* bytes consumed from the source */
	int cols;                   /* 0: dropped (zero-width), 1 or 2 */
	bool replace;               /* shown as '?' */
};

/* Decode one UTF-8 sequence strictly (no overlongs, no surrogates, nothing
 * above U+10FFFF). Returns the code point or -1 with *len = 1. */
static long utf8_decode(const unsigned char *s, size_t *len)
{
	unsigned char c = s[0];
	long cp, min;
	size_t need;

	if (c < 0x80) {
		*len = 1;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3, cp = c & 0x07, min = 0x10000;
	} else {
		*len = 1;
		return -1;
	}
	for (size_t i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80) {   /* also stops at the NUL */
			*len = 1;
			return -1;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
		*len = 1;
		return -1;
	}
	*len = need + 1;
	return cp;
}

static struct glyph next_glyph(const char *s, bool ascii)
{
	struct glyph g = { .cols = 1 };
	long cp = utf8_decode((const unsigned char *)s, &g.len);

	if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || (ascii && cp >= 0x80)) {
		g.replace = true;
	} else if (cp >= 0x80) {
		int w = wcwidth((wchar_t)cp);

		if (w < 0)
			g.replace = true;
		else
			g.cols = w > 2 ? 2 : w;
	}
	return g;
}

int ts_fmt_width(const char *s, bool ascii)
{
	int cols = 0;

	if (!s)
		return 0;
	while (*s) {
		struct glyph g = next_glyph(s, ascii);

		cols += g.cols;
		s += g.len;
	}
	return cols;
}

/* Append len bytes if they fit with room for the NUL. */
static bool put(char *out, size_t outsz, size_t *pos, const char *p, size_t len)
{
	if (*pos + len >= outsz)
		return false;
	memcpy(out + *pos, p, len);
	*pos += len;
	return true;
}

static void pad(char *out, size_t outsz, size_t *pos, int cols)
{
	while (cols-- > 0 && put(out, outsz, pos, " ", 1))
		;
}

/* Copy glyphs of s until `limit` columns are used or s ends; returns the
 * columns written. */
static int put_glyphs(char *out, size_t outsz, size_t *pos, const char *s, int limit, bool ascii)
{
	int used = 0;

	while (*s) {
		struct glyph g = next_glyph(s, ascii);

		if (used + g.cols > limit)
			break;
		if (g.cols > 0 && !(g.replace ? put(out, outsz, pos, "?", 1) : put(out, outsz, pos, s, g.len)))
			break;
		used += g.cols;
		s += g.len;
	}
	return used;
}

size_t ts_fmt_fit(char *out, size_t outsz, const char *s, int cols, unsigned flags, bool ascii)
{
	const char *ell = ascii ? "~" : "\u2026";
	size_t pos = 0;
	int total, used;

	if (!out || outsz == 0)
		return 0;
	out[0] = '\0';
	if (cols <= 0)
		return 0;
	if (!s)
		s = "";
	total = ts_fmt_width(s, ascii);
	if (total <= cols) {
		if (flags & TS_FIT_RIGHT)
			pad(out, outsz, &pos, cols - total);
		used = put_glyphs(out, outsz, &pos, s, total, ascii);
		if (!(flags & TS_FIT_RIGHT))
			pad(out, outsz, &pos, cols - used);
	} else if (flags & TS_FIT_KEEP_TAIL) {
		int skip = 0;

		/* drop leading glyphs until the rest fits beside the ellipsis */
		while (*s && total - skip > cols - 1) {
			struct glyph g = next_glyph(s, ascii);

			skip += g.cols;
			s += g.len;
		}
		put(out, outsz, &pos, ell, strlen(ell));
		used = 1 + put_glyphs(out, outsz, &pos, s, cols - 1, ascii);
		pad(out, outsz, &pos, cols - used);
	} else {
		used = put_glyphs(out, outsz, &pos, s, cols - 1, ascii);
		put(out, outsz, &pos, ell, strlen(ell));
		pad(out, outsz, &pos, cols - used - 1);
	}
	out[pos] = '\0';
	return pos;
}
