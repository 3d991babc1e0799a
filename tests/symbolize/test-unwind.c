/*
 * test-unwind.c: ts_symbolizer_unwind() on a stack copied the way BPF
 * copies one. Built -O2 -fomit-frame-pointer -fasynchronous-unwind-tables
 * (tests/symbolize/meson.build), so only CFI can walk it: main -> a -> b
 * -> c, and c reads its own registers (inline asm: rip, rsp, rbp, rbx,
 * r12-r15 at one instruction) and copies the stack from rsp up. The
 * unwinder must name c, b, a, main in that order, also when the walk
 * starts at the first instruction of a libc function c called. Then: a copy cut short
 * stops early with a prefix of the same frames, an empty copy gives the
 * one frame the registers name, and garbage registers and bytes give
 * unknown frames and no crash (this test is meant to run under ASan).
 * Last, the same walk on a stack captured in a forked child, unwound with
 * a symbolizer for the child's pid.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "collector/symbolize.h"
#include "tests/check.h"

#define STACK_COPY (32 * 1024)
#define MAX_FRAMES 32

struct capture {
	struct ts_user_regs regs;
	uint8_t stack[STACK_COPY];
	size_t len;
};

static struct capture cap;
static uintptr_t stack_top; /* end of this thread's stack mapping */

/* Copies stack bytes that belong to other frames: ASan would call that
 * an overflow, so this loop is not instrumented (and is not memcpy, which
 * ASan intercepts). */
__attribute__((no_sanitize_address, noinline)) static void copy_stack(uint8_t *dst, const volatile uint8_t *src,
								       size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i];
}

__attribute__((noinline, noclone)) int unwind_c(int x)
{
	struct ts_user_regs *r = &cap.regs;

	/* one instruction's view: the ip is the lea's successor, in this function */
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
			 : "r"(r)
			 : "rax", "memory");
	cap.len = stack_top - r->sp < STACK_COPY ? stack_top - r->sp : STACK_COPY;
	copy_stack(cap.stack, (const volatile uint8_t *)(uintptr_t)r->sp, cap.len);
	return x + 1;
}

__attribute__((noinline, noclone)) int unwind_b(int x)
{
	volatile int v = unwind_c(x * 2);
	return v + 2;
}

__attribute__((noinline, noclone)) int unwind_a(int x)
{
	volatile int v = unwind_b(x + 3);
	return v * 3;
}

/* The name of frame i (a return address for i > 0: look up ip - 1). */
static const char *frame_name(struct ts_symbolizer *s, const uint64_t *ips, int i)
{
	struct ts_frame f;

	if (ts_symbolizer_lookup(s, i ? ips[i] - 1 : ips[i], &f) < 0 || !f.function)
		return "?";
	return f.function;
}

static void dump(struct ts_symbolizer *s, const uint64_t *ips, int n)
{
	for (int i = 0; i < n; i++)
		fprintf(stderr, "  #%d 0x%llx %s\n", i, (unsigned long long)ips[i], frame_name(s, ips, i));
}

static void check_full(struct ts_symbolizer *s)
{
	static const char *const want[] = { "unwind_c", "unwind_b", "unwind_a", "main" };
	uint64_t ips[MAX_FRAMES];
	int n = ts_symbolizer_unwind(s, &cap.regs, cap.stack, cap.len, ips, MAX_FRAMES);

	CHECK_MSG(n >= 4, "only %d frames", n);
	CHECK(n <= MAX_FRAMES);
	if (n > 0)
		CHECK(ips[0] == cap.regs.ip);
	for (int i = 0; i < 4 && i < n; i++)
		CHECK_MSG(strcmp(frame_name(s, ips, i), want[i]) == 0, "frame %d is %s, want %s", i,
			  frame_name(s, ips, i), want[i]);
	if (check_failures)
		dump(s, ips, n);

	/* max caps the walk */
	CHECK(ts_symbolizer_unwind(s, &cap.regs, cap.stack, cap.len, ips, 2) == 2);
	CHECK(strcmp(frame_name(s, ips, 1), "unwind_b") == 0);
	CHECK(ts_symbolizer_unwind(s, &cap.regs, cap.stack, cap.len, ips, 0) == 0);
}

/* Cut the copy at every 8 bytes up to where main's frame starts: each
 * result is a prefix of the full walk, never longer. */
static void check_truncated(struct ts_symbolizer *s)
{
	uint64_t full[MAX_FRAMES], ips[MAX_FRAMES];
	int nfull = ts_symbolizer_unwind(s, &cap.regs, cap.stack, cap.len, full, MAX_FRAMES);
	int n, shorter = 0;

	for (size_t len = 0; len <= cap.len && len <= 4096; len += 8) {
		n = ts_symbolizer_unwind(s, &cap.regs, cap.stack, len, ips, MAX_FRAMES);
		CHECK_MSG(n >= 1 && n <= nfull, "len %zu: %d frames (full %d)", len, n, nfull);
		for (int i = 0; i < n && i < nfull; i++)
			CHECK_MSG(ips[i] == full[i], "len %zu: frame %d differs", len, i);
		if (n < nfull)
			shorter++;
	}
	CHECK(shorter > 0);
	/* nothing copied: the frame the registers name, and only that */
	n = ts_symbolizer_unwind(s, &cap.regs, NULL, 0, ips, MAX_FRAMES);
	CHECK_MSG(n == 1 && ips[0] == cap.regs.ip, "empty copy: %d frames", n);
	CHECK(strcmp(frame_name(s, ips, 0), "unwind_c") == 0);
}

/* A probe at a function's first instruction (a uprobe on
 * pthread_mutex_lock): the return address is at sp, nothing else is
 * pushed yet. Made up from the real capture: c "calls" getppid (libc,
 * CFI from .eh_frame, no DWARF needed) and stops at its entry. */
static void check_entry(struct ts_symbolizer *s)
{
	static uint8_t stack[STACK_COPY + 8];
	struct ts_user_regs r = cap.regs;
	uint64_t ret = cap.regs.ip + 1, ips[MAX_FRAMES]; /* ret - 1 is where c stood */
	static const char *const want[] = { "unwind_c", "unwind_b", "unwind_a", "main" };
	struct ts_frame f;
	int n;

	memcpy(stack, &ret, 8);
	memcpy(stack + 8, cap.stack, cap.len);
	r.ip = (uint64_t)(uintptr_t)getppid;
	r.sp = cap.regs.sp - 8;
	n = ts_symbolizer_unwind(s, &r, stack, cap.len + 8, ips, MAX_FRAMES);
	CHECK_MSG(n >= 5, "entry: only %d frames", n);
	if (n < 5) {
		dump(s, ips, n);
		return;
	}
	CHECK(ts_symbolizer_lookup(s, ips[0], &f) == 0 && f.function && strstr(f.function, "getppid"));
	CHECK(ips[1] == ret);
	for (int i = 0; i < 4; i++)
		CHECK_MSG(strcmp(frame_name(s, ips, i + 1), want[i]) == 0, "entry: frame %d is %s, want %s", i + 1,
			  frame_name(s, ips, i + 1), want[i]);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Garbage: random registers and bytes; random bytes under a real ip and
 * sp; real bytes under a random sp. Any frames are fine; no crash. */
static void check_garbage(struct ts_symbolizer *s)
{
	static uint8_t junk[8192];
	uint64_t x = 0x2545f4914f6cdd1dull, ips[MAX_FRAMES];

	for (int round = 0; round < 300; round++) {
		struct ts_user_regs r;
		uint64_t *w = (uint64_t *)(void *)&r;
		int n;

		for (size_t i = 0; i < sizeof(junk) / 8; i++) {
			uint64_t v = xorshift(&x);
			memcpy(junk + i * 8, &v, 8);
		}
		for (size_t i = 0; i < sizeof(r) / 8; i++)
			w[i] = xorshift(&x);
		switch (round % 3) {
		case 0:
			break;
		case 1: /* a real place, garbage stack */
			r = cap.regs;
			break;
		case 2: /* a real stack seen from a wrong sp */
			r = cap.regs;
			r.sp += (xorshift(&x) % 64) * 8;
			break;
		}
		n = ts_symbolizer_unwind(s, &r, round % 3 == 2 ? cap.stack : junk,
					 round % 3 == 2 ? cap.len : sizeof(junk), ips, MAX_FRAMES);
		CHECK(n >= 1 && n <= MAX_FRAMES);
		CHECK(ips[0] == r.ip);
		for (int i = 0; i < n; i++) {
			struct ts_frame f;
			int rc = ts_symbolizer_lookup(s, ips[i], &f);
			CHECK(rc == 0 || rc == -ENOENT);
			CHECK(f.ip == ips[i]);
		}
		if (round % 3 == 0) {
			/* a random ip maps nowhere: an unknown frame */
			struct ts_frame f;
			if (ts_symbolizer_lookup(s, r.ip, &f) == -ENOENT)
				CHECK(f.function == NULL && f.module == NULL);
		}
	}
}

/* Another process, as BPF sees one: a forked child captures its own
 * registers and stack into shared memory and waits; we unwind its copy
 * with a symbolizer for the child's pid. */
static void check_child(void)
{
	struct capture *shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct ts_symbolizer *s = NULL;
	int ready[2], status;
	char err[256], c;
	pid_t child;

	CHECK(shared != MAP_FAILED && pipe(ready) == 0);
	if (shared == MAP_FAILED)
		return;
	child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		unwind_a(7);
		memcpy(shared, &cap, sizeof(cap));
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	CHECK(child > 0);
	if (child > 0 && read(ready[0], &c, 1) == 1) {
		memcpy(&cap, shared, sizeof(cap));
		CHECK(ts_symbolizer_new((uint32_t)child, &s, err, sizeof(err)) == 0);
		if (s) {
			check_full(s);
			ts_symbolizer_free(s);
		}
	}
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
	}
	close(ready[0]);
	close(ready[1]);
	munmap(shared, sizeof(*shared));
}

int main(void)
{
	struct ts_symbolizer *s = NULL;
	pthread_attr_t attr;
	void *base;
	size_t size;
	char err[256];

	if (pthread_getattr_np(pthread_self(), &attr) != 0 || pthread_attr_getstack(&attr, &base, &size) != 0) {
		printf("SKIP: cannot find this thread's stack\n");
		return 77;
	}
	pthread_attr_destroy(&attr);
	stack_top = (uintptr_t)base + size;

	CHECK(unwind_a(1) == 3 * (((1 + 3) * 2 + 1) + 2));
	CHECK(cap.len > 64);

	CHECK(ts_symbolizer_new((uint32_t)getpid(), &s, err, sizeof(err)) == 0);
	if (!s) {
		fprintf(stderr, "%s\n", err);
		return check_result("test-unwind");
	}
	check_full(s);
	check_entry(s);
	check_truncated(s);
	check_garbage(s);
	/* the real walk still works after all that, and after the modules
	 * were reported again (libelf's own mappings changed our maps) */
	check_full(s);
	CHECK(ts_symbolizer_refresh(s) == 0);
	check_full(s);
	ts_symbolizer_free(s);
	check_child();
	return check_result("test-unwind");
}
