/*
 * check.h: the few assertion macros the console's unit tests share.
 * A failed check prints where and what, and the test exits 1 at the end.
 */
#ifndef TASKSCOPE_TESTS_E2E_CHECK_H
#define TASKSCOPE_TESTS_E2E_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			check_failures++;                                             \
		}                                                                     \
	} while (0)

#define CHECK_STR(got, want)                                                          \
	do {                                                                          \
		const char *g_ = (got), *w_ = (want);                                 \
		if (strcmp(g_, w_) != 0) {                                            \
			fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, g_, w_); \
			check_failures++;                                             \
		}                                                                     \
	} while (0)

#endif /* TASKSCOPE_TESTS_E2E_CHECK_H */
