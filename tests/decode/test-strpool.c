/*
 * test-strpool.c: the interned string pool. Equal bytes give one pointer,
 * different bytes different pointers, pointers survive table growth, and
 * the byte budget is enforced: past it new strings become "?" and are
 * counted, while strings already interned are still found.
 */
#include <stdlib.h>
#include <string.h>

#include "collector/strpool.h"
#include "tests/check.h"

static void test_dedup(void)
{
	struct ts_strpool *p = NULL;
	char buf1[16], buf2[16];
	const char *a, *b, *c, *e;

	CHECK(ts_strpool_new(1 << 20, &p) == 0 && p);
	strcpy(buf1, "accept_loop");
	strcpy(buf2, "accept_loop");
	a = ts_strpool_intern(p, buf1, strlen(buf1));
	b = ts_strpool_intern(p, buf2, strlen(buf2));
	CHECK(a == b);
	CHECK(a != buf1 && strcmp(a, "accept_loop") == 0);
	/* The pool owns its copy: changing the source changes nothing. */
	buf1[0] = 'X';
	CHECK(strcmp(a, "accept_loop") == 0);

	/* Length-bounded input, NUL-terminated output. */
	c = ts_strpool_intern(p, "abcdef", 3);
	CHECK(strcmp(c, "abc") == 0);
	CHECK(ts_strpool_intern(p, "abc", 3) == c);
	CHECK(ts_strpool_intern(p, "abd", 3) != c);

	/* Embedded NULs are compared by length, not by strcmp. */
	CHECK(ts_strpool_intern(p, "a\0b", 3) != ts_strpool_intern(p, "a\0c", 3));
	CHECK(ts_strpool_intern(p, "a\0b", 3) == ts_strpool_intern(p, "a\0b", 3));
	CHECK(ts_strpool_intern(p, "a", 1) != ts_strpool_intern(p, "a\0b", 3));

	e = ts_strpool_intern(p, "", 0);
	CHECK(e && e[0] == '\0' && ts_strpool_intern(p, NULL, 0) == e);
	CHECK(ts_strpool_refused(p) == 0);
	ts_strpool_free(p);
}

static void test_growth(void)
{
	enum { N = 20000 };
	struct ts_strpool *p = NULL;
	const char **ptrs = calloc(N, sizeof(*ptrs));
	char buf[32];

	CHECK(ts_strpool_new(64u << 20, &p) == 0);
	for (int i = 0; i < N; i++) {
		int n = snprintf(buf, sizeof(buf), "task-%d", i);

		ptrs[i] = ts_strpool_intern(p, buf, (size_t)n);
	}
	for (int i = 0; i < N; i++) {
		int n = snprintf(buf, sizeof(buf), "task-%d", i);

		CHECK_MSG(strcmp(ptrs[i], buf) == 0, "entry %d is \"%s\"", i, ptrs[i]);
		CHECK_MSG(ts_strpool_intern(p, buf, (size_t)n) == ptrs[i], "entry %d moved", i);
	}
	/* A string longer than a chunk gets storage of its own. */
	{
		size_t big = 100000;
		char *s = malloc(big);
		const char *in;

		memset(s, 'q', big);
		in = ts_strpool_intern(p, s, big);
		CHECK(strlen(in) == big && memcmp(in, s, big) == 0);
		CHECK(ts_strpool_intern(p, s, big) == in);
		CHECK(strcmp(ptrs[7], "task-7") == 0);
		free(s);
	}
	CHECK(ts_strpool_refused(p) == 0);
	ts_strpool_free(p);
	free(ptrs);
}

static void test_budget(void)
{
	struct ts_strpool *p = NULL;
	const char *first = NULL;
	size_t accepted = 0;
	char buf[32];

	CHECK(ts_strpool_new(1000, &p) == 0);
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(buf, sizeof(buf), "name-%04d", i); /* 9 bytes */
		const char *s = ts_strpool_intern(p, buf, (size_t)n);

		if (strcmp(s, "?") == 0)
			break;
		CHECK(strcmp(s, buf) == 0);
		if (!first)
			first = s;
		accepted++;
	}
	/* Each string costs at least its bytes and NUL. */
	CHECK(accepted > 0 && accepted <= 1000 / 10);
	CHECK(ts_strpool_refused(p) == 1);
	/* Past the budget: new strings are refused and counted... */
	CHECK(strcmp(ts_strpool_intern(p, "another", 7), "?") == 0);
	CHECK(strcmp(ts_strpool_intern(p, "and another", 11), "?") == 0);
	CHECK(ts_strpool_refused(p) == 3);
	/* ...known ones are still found. */
	CHECK(first && ts_strpool_intern(p, "name-0000", 9) == first);
	CHECK(ts_strpool_refused(p) == 3);
	ts_strpool_free(p);

	/* One string larger than the whole budget. */
	CHECK(ts_strpool_new(16, &p) == 0);
	CHECK(strcmp(ts_strpool_intern(p, "0123456789abcdefXYZ", 19), "?") == 0);
	CHECK(ts_strpool_refused(p) == 1);
	ts_strpool_free(p);

	/* A NULL pool is harmless. */
	CHECK(strcmp(ts_strpool_intern(NULL, "x", 1), "?") == 0);
	CHECK(ts_strpool_refused(NULL) == 0);
	ts_strpool_free(NULL);
}

int main(void)
{
	test_dedup();
	test_growth();
	test_budget();
	return check_result("test-strpool");
}
