/*
 * test-symbolize.c: ts_symbolizer_lookup() on functions whose name and
 * line this test knows: its own (built with -g), the same address in a
 * forked child (another process, same layout), a function of a library
 * loaded with dlopen after the symbolizer was made (argv[1]: found once
 * ts_symbolizer_refresh() has run, gone after dlclose; and a copy of it
 * deleted after loading, found through /proc/PID/map_files), a libc function
 * (no DWARF: a name only), an unmapped address, and the
 * one-line formats, code inlined into another function (named by that
 * function at the call's line; both levels through
 * ts_symbolizer_lookup_inline). Also: the cache answers the same frame twice, a
 * missing process is a one-line error, and the collector hands the sources
 * of one process one shared symbolizer.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector/collector.h"
#include "collector/symbolize.h"
#include "collector/symbolize_internal.h"
#include "tests/check.h"

#define THIS_FILE "tests/symbolize/test-symbolize.c"

static const unsigned target_line = __LINE__; __attribute__((noinline, noclone)) int symbolize_target(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 7 + 3;
}

/* An inlined function and the function it is inlined into; each knows
 * its line. The address is that of the asm instruction itself. */
static unsigned inner_line, call_line;
static inline __attribute__((always_inline)) uint64_t inlined_here(void)
{
	uint64_t ip;
	inner_line = __LINE__; __asm__ volatile("1: lea 1b(%%rip), %0" : "=r"(ip));
	return ip;
}

__attribute__((noinline, noclone)) uint64_t inline_outer(void)
{
	call_line = __LINE__; return inlined_here();
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The target function, looked up in process `pid` (ourselves or a fork). */
static void check_target(struct ts_symbolizer *s, const char *who)
{
	uint64_t ip = (uint64_t)(uintptr_t)symbolize_target;
	struct ts_frame f, again;
	char line[512];

	CHECK_MSG(ts_symbolizer_lookup(s, ip, &f) == 0, "%s: lookup failed", who);
	CHECK(f.ip == ip);
	CHECK_MSG(f.function && strcmp(f.function, "symbolize_target") == 0, "%s: function %s", who,
		  f.function ? f.function : "(null)");
	CHECK_MSG(f.file && ends_with(f.file, THIS_FILE), "%s: file %s", who, f.file ? f.file : "(null)");
	/* optimized: the entry may carry the line of the first statement */
	CHECK_MSG(f.line >= target_line && f.line <= target_line + 4, "%s: line %u, want %u..%u", who,
		  f.line, target_line, target_line + 4);
	CHECK(f.offset == 0);
	CHECK_MSG(f.module && strstr(f.module, "test-symbolize"), "%s: module %s", who,
		  f.module ? f.module : "(null)");

	/* a few bytes in: same function, offset counts */
	CHECK(ts_symbolizer_lookup(s, ip + 2, &f) == 0);
	CHECK(f.function && strcmp(f.function, "symbolize_target") == 0);
	CHECK(f.offset == 2);

	/* cached: the same strings come back */
	CHECK(ts_symbolizer_lookup(s, ip, &f) == 0);
	CHECK(ts_symbolizer_lookup(s, ip, &again) == 0);
	CHECK(f.function == again.function && f.file == again.file && f.line == again.line);

	ts_frame_format(&f, line, sizeof(line));
	CHECK_MSG(strncmp(line, "symbolize_target (", 18) == 0 && strstr(line, THIS_FILE ":"),
		  "%s: format \"%s\"", who, line);
}

static void check_unmapped(struct ts_symbolizer *s)
{
	struct ts_frame f;
	char line[64];

	CHECK(ts_symbolizer_lookup(s, 0x10, &f) == -ENOENT);
	CHECK(f.ip == 0x10 && !f.function && !f.file && !f.module && f.line == 0);
	ts_frame_format(&f, line, sizeof(line));
	CHECK_STR(line, "0x10");
	/* cached negative answer */
	CHECK(ts_symbolizer_lookup(s, 0x10, &f) == -ENOENT);
	CHECK(ts_symbolizer_lookup(s, UINT64_MAX, &f) == -ENOENT);
}

static void check_formats(void)
{
	struct ts_frame f = { .ip = 0x1234, .module = "/usr/lib/libfoo.so.1", .module_offset = 0x234 };
	char line[128], tiny[8];

	ts_frame_format(&f, line, sizeof(line));
	CHECK_STR(line, "libfoo.so.1+0x234");
	f.function = "foo::bar";
	ts_frame_format(&f, line, sizeof(line));
	CHECK_STR(line, "foo::bar");
	f.file = "src/lib.rs";
	f.line = 42;
	ts_frame_format(&f, line, sizeof(line));
	CHECK_STR(line, "foo::bar (src/lib.rs:42)");
	ts_frame_format(&f, tiny, sizeof(tiny));
	CHECK_STR(tiny, "foo::ba");
}

/* Code inlined into a function is named by the function it is in, at the
 * line of the call; ts_symbolizer_lookup_inline() spells out both. */
static void check_inline(struct ts_symbolizer *s)
{
	uint64_t ip = inline_outer();
	struct ts_frame f, lv[4];
	int n;

	CHECK(ts_symbolizer_lookup(s, ip, &f) == 0);
	CHECK_MSG(f.function && strcmp(f.function, "inline_outer") == 0, "function %s", f.function ? f.function : "(null)");
	CHECK_MSG(f.file && ends_with(f.file, THIS_FILE), "file %s", f.file ? f.file : "(null)");
	CHECK_MSG(f.line == call_line, "line %u, want the call's %u", f.line, call_line);

	n = ts_symbolizer_lookup_inline(s, ip, lv, 4);
	CHECK_MSG(n == 2, "%d levels", n);
	if (n == 2) {
		CHECK(lv[0].function && strcmp(lv[0].function, "inlined_here") == 0);
		CHECK_MSG(lv[0].line == inner_line, "inner line %u, want %u", lv[0].line, inner_line);
		CHECK(lv[0].file && ends_with(lv[0].file, THIS_FILE));
		CHECK(lv[1].function && strcmp(lv[1].function, "inline_outer") == 0);
		CHECK(lv[1].line == call_line);
		CHECK(lv[0].module && lv[0].module == lv[1].module && lv[0].ip == ip);
	}
	/* max 1: only the physical function */
	CHECK(ts_symbolizer_lookup_inline(s, ip, lv, 1) == 1);
	CHECK(lv[0].function && strcmp(lv[0].function, "inline_outer") == 0 && lv[0].line == call_line);
	/* nothing inlined at the entry of symbolize_target: one level */
	CHECK(ts_symbolizer_lookup_inline(s, (uint64_t)(uintptr_t)symbolize_target, lv, 4) == 1);
	CHECK(lv[0].function && strcmp(lv[0].function, "symbolize_target") == 0);
	CHECK(ts_symbolizer_lookup_inline(s, 0x10, lv, 4) == -ENOENT);
}

/* A library mapped after ts_symbolizer_new(): unknown until a refresh. */
static void check_dlopen(struct ts_symbolizer *s, const char *lib)
{
	int (*fn)(int), (*line_of_fn)(void);
	struct ts_frame f;
	void *h;

	h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	CHECK_MSG(h != NULL, "dlopen %s: %s", lib, dlerror());
	if (!h)
		return;
	fn = (int (*)(int))(uintptr_t)dlsym(h, "tsym_fixture_fn");
	line_of_fn = (int (*)(void))(uintptr_t)dlsym(h, "tsym_fixture_line_of_fn");
	CHECK(fn && line_of_fn);
	if (!fn || !line_of_fn)
		return;
	/* before a refresh the symbolizer has not heard of it */
	s->auto_refresh_ns = UINT64_MAX;
	CHECK(ts_symbolizer_lookup(s, (uint64_t)(uintptr_t)fn, &f) == -ENOENT);
	/* a miss past the interval refreshes by itself (and forgets the
	 * cached miss when the maps changed) */
	s->auto_refresh_ns = 0;
	CHECK(ts_symbolizer_lookup(s, (uint64_t)(uintptr_t)fn, &f) == 0);
	s->auto_refresh_ns = UINT64_MAX;
	CHECK_MSG(f.function && strcmp(f.function, "tsym_fixture_fn") == 0, "function %s",
		  f.function ? f.function : "(null)");
	CHECK_MSG(f.module && strstr(f.module, "tsym-fixture"), "module %s", f.module ? f.module : "(null)");
	CHECK_MSG(f.file && ends_with(f.file, "tests/symbolize/fixture-lib.c"), "file %s", f.file ? f.file : "(null)");
	CHECK_MSG(f.line >= (uint32_t)line_of_fn() && f.line <= (uint32_t)line_of_fn() + 2, "line %u, want %d",
		  f.line, line_of_fn());
	/* nothing changed since: a refresh keeps the answers */
	CHECK(ts_symbolizer_refresh(s) == 0);
	CHECK(ts_symbolizer_lookup(s, (uint64_t)(uintptr_t)fn, &f) == 0);
	CHECK(f.function && strcmp(f.function, "tsym_fixture_fn") == 0);
	/* unloaded: gone after the next refresh */
	dlclose(h);
	if (!dlopen(lib, RTLD_NOW | RTLD_NOLOAD)) {
		CHECK(ts_symbolizer_refresh(s) == 0);
		CHECK(ts_symbolizer_lookup(s, (uint64_t)(uintptr_t)fn, &f) == -ENOENT);
	}
	s->auto_refresh_ns = 1000000000ull;
}

/* A library deleted after it was loaded (an upgrade under a running
 * server): still symbolized, through /proc/PID/map_files (root only). */
static void check_deleted(struct ts_symbolizer *s, const char *lib)
{
	char tmp[] = "/tmp/tsym-deleted-XXXXXX";
	char buf[65536];
	int (*fn)(int);
	struct ts_frame f;
	int in, out;
	ssize_t n;
	void *h;

	in = open(lib, O_RDONLY | O_CLOEXEC);
	out = mkstemp(tmp);
	CHECK(in >= 0 && out >= 0);
	if (in < 0 || out < 0)
		goto cleanup;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		CHECK(write(out, buf, (size_t)n) == n);
	close(out);
	out = -1;
	h = dlopen(tmp, RTLD_NOW | RTLD_LOCAL);
	CHECK_MSG(h != NULL, "dlopen %s: %s", tmp, dlerror());
	unlink(tmp);
	if (!h)
		goto cleanup;
	fn = (int (*)(int))(uintptr_t)dlsym(h, "tsym_fixture_fn");
	CHECK(fn != NULL && ts_symbolizer_refresh(s) == 0);
	if (fn && ts_symbolizer_lookup(s, (uint64_t)(uintptr_t)fn, &f) == 0) {
		CHECK_MSG(f.module && strstr(f.module, "tsym-deleted-") && ends_with(f.module, " (deleted)"),
			  "module %s", f.module ? f.module : "(null)");
		if (geteuid() == 0) {
			CHECK_MSG(f.function && strcmp(f.function, "tsym_fixture_fn") == 0, "function %s",
				  f.function ? f.function : "(null)");
			CHECK(f.file && ends_with(f.file, "tests/symbolize/fixture-lib.c") && f.line > 0);
		} else {
			printf("note: not root, a deleted library's names are not checked\n");
		}
	} else {
		CHECK_MSG(0, "deleted library: no module for its function");
	}
	dlclose(h);
cleanup:
	if (in >= 0)
		close(in);
	if (out >= 0) {
		close(out);
		unlink(tmp);
	}
}

/* A library without DWARF (Debian's libc): a name, no line. */
static void check_libc(struct ts_symbolizer *s)
{
	struct ts_frame f;

	CHECK(ts_symbolizer_lookup(s, (uint64_t)(uintptr_t)getppid, &f) == 0);
	CHECK_MSG(f.module && strstr(f.module, "libc.so"), "module %s", f.module ? f.module : "(null)");
	CHECK_MSG(f.function && strstr(f.function, "getppid"), "function %s", f.function ? f.function : "(null)");
}

/* The vDSO is a module too (read from the target's memory). */
static void check_vdso(struct ts_symbolizer *s)
{
	uint64_t base = getauxval(AT_SYSINFO_EHDR);
	struct ts_frame f;

	if (!base) {
		printf("note: no vDSO here\n");
		return;
	}
	CHECK(ts_symbolizer_lookup(s, base + 0x10, &f) == 0);
	CHECK_MSG(f.module && strcmp(f.module, "[vdso]") == 0, "vdso module %s", f.module ? f.module : "(null)");
}

/* One symbolizer per process, shared through the collector: the same
 * one for the same pid (it still answers after one holder is done),
 * another for another pid, none for a missing process (one line). The
 * last holder frees it (ASan would see a leak or a double free). */
static void check_shared(void)
{
	struct ts_collector_options o = { 0 };
	struct ts_symbolizer *a = NULL, *b = NULL, *other = NULL, *none = NULL;
	struct ts_collector *c = NULL;
	struct ts_frame f;
	char err[256] = "";
	pid_t child = fork();

	if (child == 0) {
		pause();
		_exit(0);
	}
	CHECK(child > 0);
	ts_model_config_default(&o.model);
	CHECK(ts_collector_new(&o, &c, err, sizeof(err)) == 0);
	if (!c || child <= 0)
		goto out;
	CHECK(ts_collector_symbolizer(c, (uint32_t)getpid(), &a, err, sizeof(err)) == 0);
	CHECK(ts_collector_symbolizer(c, (uint32_t)getpid(), &b, err, sizeof(err)) == 0);
	CHECK(a != NULL && a == b);
	CHECK(ts_collector_symbolizer(c, (uint32_t)child, &other, err, sizeof(err)) == 0);
	CHECK(other != NULL && other != a);
	CHECK(ts_collector_symbolizer(c, 0x3ffffff0u, &none, err, sizeof(err)) < 0 && none == NULL);
	CHECK(strstr(err, "no process") != NULL);
	ts_symbolizer_free(b);
	CHECK(a && ts_symbolizer_lookup(a, (uint64_t)(uintptr_t)symbolize_target, &f) == 0 && f.function &&
	      strcmp(f.function, "symbolize_target") == 0);
	ts_symbolizer_free(a);
	ts_symbolizer_free(other);
out:
	ts_collector_free(c);  /* drops the collector's own references: all freed */
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
}

int main(int argc, char **argv)
{
	struct ts_symbolizer *s = NULL;
	char err[256] = "";
	pid_t child;
	int status;

	CHECK(symbolize_target(1) == 10);
	check_formats();
	check_shared();

	CHECK(ts_symbolizer_new((uint32_t)getpid(), &s, err, sizeof(err)) == 0);
	if (!s)
		return check_result("test-symbolize");
	if (argc > 1) {
		check_dlopen(s, argv[1]);
		check_deleted(s, argv[1]);
	}
	else
		printf("note: no fixture library given, dlopen refresh not checked\n");
	check_libc(s);
	check_vdso(s);
	check_target(s, "self");
	check_inline(s);
	check_unmapped(s);
	ts_symbolizer_free(s);

	/* another process: a forked child has our layout */
	child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	CHECK(child > 0);
	if (child > 0) {
		s = NULL;
		CHECK(ts_symbolizer_new((uint32_t)child, &s, err, sizeof(err)) == 0);
		if (s) {
			check_target(s, "child");
			ts_symbolizer_free(s);
		}
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		/* and now it is gone */
		s = NULL;
		err[0] = '\0';
		CHECK(ts_symbolizer_new((uint32_t)child, &s, err, sizeof(err)) < 0);
		CHECK(s == NULL);
		CHECK_MSG(strstr(err, "no process") != NULL, "err \"%s\"", err);
	}
	return check_result("test-symbolize");
}
