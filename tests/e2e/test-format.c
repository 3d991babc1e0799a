/*
 * test-format.c: the console's formatting of durations, counts and
 * untrusted strings (console/format.c): exact strings for chosen values,
 * the column budget over every magnitude, and a seeded fuzz of random
 * bytes that must always come out clean and exactly as wide as asked.
 */
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>

#include "console/format.h"
#include "tests/check.h"

static const char *dur(uint64_t ns, bool ascii)
{
	static char buf[32];

	ts_fmt_duration(buf, sizeof(buf), ns, ascii);
	return buf;
}

static const char *count(uint64_t v)
{
	static char buf[32];

	ts_fmt_count(buf, sizeof(buf), v);
	return buf;
}

static const char *fit(const char *s, int cols, unsigned flags, bool ascii)
{
	static char buf[256];

	ts_fmt_fit(buf, sizeof(buf), s, cols, flags, ascii);
	return buf;
}

static void test_numbers(void)
{
	char buf[32];

	CHECK_STR(dur(0, false), "0ns");
	CHECK_STR(dur(999, false), "999ns");
	CHECK_STR(dur(1000, false), "1.00\u00b5s");
	CHECK_STR(dur(1234, true), "1.23us");
	CHECK_STR(dur(789000, false), "789\u00b5s");
	CHECK_STR(dur(789000, true), "789us");
	CHECK_STR(dur(999600, false), "1.00ms");     /* rounds up into the next unit */
	CHECK_STR(dur(45600000, false), "45.6ms");
	CHECK_STR(dur(1230000000, false), "1.23s");
	CHECK_STR(dur(59940000000ull, false), "59.9s");
	CHECK_STR(dur(59960000000ull, false), "1.00m");  /* not "60.0s" */
	CHECK_STR(dur(1000000000000ull, false), "16.7m");
	CHECK_STR(dur(9000000000000ull, false), "2.50h");
	CHECK_STR(dur(999000000000000ull, false), "278h");

	CHECK_STR(count(0), "0");
	CHECK_STR(count(999999), "999999");
	CHECK_STR(count(1000000), "1.00M");
	CHECK_STR(count(1234567890), "1.23G");
	CHECK_STR(count(UINT64_MAX), "18.4E");

	ts_fmt_rate(buf, sizeof(buf), 950);
	CHECK_STR(buf, "950");
	ts_fmt_rate(buf, sizeof(buf), 12345);
	CHECK_STR(buf, "12.3k");
	ts_fmt_rate(buf, sizeof(buf), -1);
	CHECK_STR(buf, "0");

	/* the column budget holds at every magnitude below 1000 hours */
	for (uint64_t v = 1; v < 3600000000000000ull; v = v * 3 / 2 + 1) {
		CHECK(ts_fmt_width(dur(v, false), false) <= TS_FMT_NUM_COLS);
		CHECK(ts_fmt_width(dur(v, true), true) <= TS_FMT_NUM_COLS);
		CHECK(ts_fmt_width(count(v), true) <= TS_FMT_NUM_COLS);
	}
}

static void test_width_and_fit(bool utf8)
{
	CHECK(ts_fmt_width("abc", false) == 3);
	CHECK(ts_fmt_width("", false) == 0);
	CHECK(ts_fmt_width(NULL, false) == 0);
	CHECK(ts_fmt_width("\x1b[31m", false) == 5);      /* ESC shows as '?' */
	CHECK(ts_fmt_width("\xff", false) == 1);          /* invalid byte */
	CHECK(ts_fmt_width("\xc0\xaf", false) == 2);      /* overlong '/' */
	CHECK(ts_fmt_width("\xed\xa0\x80", false) == 3);  /* surrogate */
	CHECK(ts_fmt_width("h\xc3\xa9llo", true) == 5);   /* ASCII: one '?' */
	CHECK_STR(fit("h\xc3\xa9llo", 6, 0, true), "h?llo ");
	CHECK_STR(fit("a\x1b]0;x\x07", 7, 0, false), "a?]0;x?");

	CHECK_STR(fit("hello", 8, 0, false), "hello   ");
	CHECK_STR(fit("hello", 8, TS_FIT_RIGHT, false), "   hello");
	CHECK_STR(fit("hello", 5, 0, false), "hello");
	CHECK_STR(fit("hello world", 8, 0, true), "hello w~");
	CHECK_STR(fit("src/main.rs:12", 8, TS_FIT_KEEP_TAIL, true), "~n.rs:12");
	CHECK_STR(fit("abc", 0, 0, false), "");
	CHECK_STR(fit("abc", 1, 0, true), "~");

	if (!utf8) {
		printf("# no UTF-8 locale: wide-character cases skipped\n");
		return;
	}
	CHECK(ts_fmt_width("h\xc3\xa9llo", false) == 5);
	CHECK(ts_fmt_width("\xe6\x97\xa5\xe6\x9c\xac", false) == 4);     /* 日本 */
	CHECK_STR(fit("hello world", 8, 0, false), "hello w\u2026");
	CHECK_STR(fit("src/main.rs:12", 8, TS_FIT_KEEP_TAIL, false), "\u2026n.rs:12");
	/* 日本語 in 4 columns: one wide char, the ellipsis, one pad */
	CHECK_STR(fit("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 4, 0, false), "\xe6\x97\xa5\u2026 ");
	CHECK_STR(fit("\xe6\x97\xa5\xe6\x9c\xac", 4, 0, false), "\xe6\x97\xa5\xe6\x9c\xac");
}

/* Random bytes: the output is always exactly `cols` wide, has no control
 * bytes, is valid for the terminal, and is pure ASCII in ASCII mode. */
static void test_fuzz(void)
{
	unsigned seed = 12345;
	char in[64], out[32 * 4 + 1];
	int before = check_failures;

	for (int iter = 0; iter < 5000; iter++) {
		int len = rand_r(&seed) % 63, cols = 1 + rand_r(&seed) % 32;
		bool ascii = iter & 1;
		unsigned flags = (unsigned)rand_r(&seed) % 4;

		for (int i = 0; i < len; i++) {
			int r = rand_r(&seed) % 4;

			/* mix plain ASCII, controls, UTF-8 lead and continuation bytes */
			in[i] = (char)(r == 0 ? 'a' + rand_r(&seed) % 26 : r == 1 ? rand_r(&seed) % 32 + 1
				       : r == 2 ? 0xc0 + rand_r(&seed) % 64 : 0x80 + rand_r(&seed) % 64);
		}
		in[len] = '\0';
		ts_fmt_fit(out, sizeof(out), in, cols, flags, ascii);
		CHECK(ts_fmt_width(out, ascii) == cols);
		for (const unsigned char *p = (const unsigned char *)out; *p; p++) {
			CHECK(*p >= 0x20 && *p != 0x7f);
			if (ascii)
				CHECK(*p < 0x80);
		}
		if (check_failures != before) {
			fprintf(stderr, "fuzz input %d failed\n", iter);
			return;
		}
	}
}

int main(void)
{
	bool utf8 = setlocale(LC_ALL, "C.UTF-8") != NULL;

	test_numbers();
	test_width_and_fit(utf8);
	test_fuzz();
	if (check_failures) {
		fprintf(stderr, "%d check(s) failed\n", check_failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
