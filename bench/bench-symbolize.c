/*
 * bench-symbolize.c: what symbols and stacks cost the collector (numbers
 * in docs/benchmarks.md, "Symbols and stacks"). It symbolizes itself:
 *  - lookup, uncached: distinct addresses, each resolved once (module,
 *    symbol table, DWARF line table and scopes), in this binary (DWARF)
 *    and in libc (symbol table only). The modules are loaded before
 *    timing: that one-off cost is printed apart ("first lookup");
 *  - lookup, cached: the same 1000 addresses over and over;
 *  - unwind: a 10-frame stack (built -O2 -fomit-frame-pointer, so CFI
 *    does the walking) copied as BPF would copy it, unwound whole.
 * It prints numbers and never asserts a speed.
 *
 * usage: bench-symbolize [ROUNDS]   (default 200000 cached lookups x 10)
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/symbolize.h"

#define DEPTH 10
#define STACK_COPY (16 * 1024)

static struct ts_user_regs regs;
static uint8_t stack_copy[STACK_COPY];
static size_t stack_len;
static uintptr_t stack_top;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((no_sanitize_address, noinline)) static void copy_stack(uint8_t *dst, const volatile uint8_t *src,
								       size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i];
}

/* depth frames of recursion, then capture registers and the stack */
__attribute__((noinline, noclone)) int bench_frame(int depth)
{
	volatile int v;

	if (depth > 1) {
		v = bench_frame(depth - 1);
		return v + 1;
	}
	__asm__ volatile("lea 0(%%rip), %%rax\n\t"
			 "mov %%rax, 0(%0)\n\t"
			 "mov %%rsp, 8(%0)\n\t"
			 "mov %%rbp, 16(%0)\n\t"
			 "mov %%rbx, 24(%0)\n\t"
			 "mov %%r12, 32(%0)\n\t"
			 "mov %%r13, 40(%0)\n\t"
			 "mov %%r14, 48(%0)\n\t"
			 "mov %%r15, 56(%0)\n\t"
			 :
			 : "r"(&regs)
			 : "rax", "memory");
	stack_len = stack_top - regs.sp < STACK_COPY ? stack_top - regs.sp : STACK_COPY;
	copy_stack(stack_copy, (const volatile uint8_t *)(uintptr_t)regs.sp, stack_len);
	return 0;
}

static void report(const char *name, uint64_t ops, double secs, const char *unit)
{
	printf("%-28s %9llu in %7.3f s: %10.0f %s/s, %8.0f ns each\n", name, (unsigned long long)ops, secs,
	       (double)ops / secs, unit, secs * 1e9 / (double)ops);
}

/* Distinct addresses every `step` bytes from `start`, looked up once each. */
static void uncached(struct ts_symbolizer *s, const char *name, uint64_t start, uint64_t n, uint64_t step)
{
	struct ts_frame f;
	double t0 = now_s();
	uint64_t named = 0;

	for (uint64_t i = 0; i < n; i++)
		if (ts_symbolizer_lookup(s, start + i * step, &f) == 0 && f.function)
			named++;
	report(name, n, now_s() - t0, "lookups");
	if (named * 2 < n)
		printf("  (only %llu of %llu named: the range is wrong)\n", (unsigned long long)named,
		       (unsigned long long)n);
}

int main(int argc, char **argv)
{
	uint64_t rounds = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
	struct ts_symbolizer *s, *fresh;
	uint64_t self_fn = (uint64_t)(uintptr_t)bench_frame, libc_fn = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "printf");
	uint64_t addrs[1000], ips[32], total = 0;
	pthread_attr_t attr;
	struct ts_frame f;
	char err[256];
	void *base;
	size_t size;
	double t0;
	int n = 0;

	if (pthread_getattr_np(pthread_self(), &attr) != 0 || pthread_attr_getstack(&attr, &base, &size) != 0)
		return 1;
	pthread_attr_destroy(&attr);
	stack_top = (uintptr_t)base + size;
	bench_frame(DEPTH);

	t0 = now_s();
	if (ts_symbolizer_new((uint32_t)getpid(), &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench-symbolize: %s\n", err);
		return 1;
	}
	report("new (read maps, report)", 1, now_s() - t0, "calls");
	t0 = now_s();
	ts_symbolizer_lookup(s, self_fn, &f);
	report("first lookup, this binary", 1, now_s() - t0, "lookups");
	t0 = now_s();
	ts_symbolizer_lookup(s, libc_fn, &f);
	report("first lookup, libc", 1, now_s() - t0, "lookups");

	/* the code around the functions: this binary's text is ~40 KiB */
	uncached(s, "uncached, this binary", self_fn - 0x2000, 4096, 4);
	uncached(s, "uncached, libc", libc_fn - 0x10000, 16384, 8);

	for (int i = 0; i < 1000; i++)
		addrs[i] = (i & 1 ? libc_fn : self_fn) + (uint64_t)(i * 8 % 512);
	for (int i = 0; i < 1000; i++)
		ts_symbolizer_lookup(s, addrs[i], &f);
	t0 = now_s();
	for (uint64_t r = 0; r < rounds * 10; r++)
		total += ts_symbolizer_lookup(s, addrs[r % 1000], &f) == 0;
	report("cached", rounds * 10, now_s() - t0, "lookups");

	t0 = now_s();
	for (uint64_t r = 0; r < rounds / 10; r++) {
		n = ts_symbolizer_unwind(s, &regs, stack_copy, stack_len, ips, 32);
		total += (uint64_t)n;
	}
	report("unwind, whole stack", rounds / 10, now_s() - t0, "unwinds");
	printf("  (%d frames: %d of bench_frame, then main and libc's start)\n", n, DEPTH);

	/* a symbolizer per run: what a short attach pays */
	t0 = now_s();
	if (ts_symbolizer_new((uint32_t)getpid(), &fresh, err, sizeof(err)) == 0) {
		n = ts_symbolizer_unwind(fresh, &regs, stack_copy, stack_len, ips, 32);
		for (int i = 0; i < n; i++)
			ts_symbolizer_lookup(fresh, i ? ips[i] - 1 : ips[i], &f);
		report("new + first unwind + names", 1, now_s() - t0, "calls");
		ts_symbolizer_free(fresh);
	}
	ts_symbolizer_free(s);
	return total ? 0 : 1;
}
