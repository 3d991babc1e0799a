/*
 * tokio_names.c: a Tokio task's future type, from its vtable's dealloc.
 *
 * Why: Rust's legacy symbol mangling leaves the generic arguments out of
 * a function's name, so the raw::poll a task runs says nothing about its
 * future. One kind of symbol does carry them: the drop glue,
 * `core::ptr::drop_in_place<tokio::runtime::task::core::Cell<F, S>>`
 * (also `CoreStage<F>` / `Stage<F>`, depending on what the compiler
 * inlined). The task's vtable (read by BPF at the spawn) points at its
 * raw::dealloc<F, S>, which calls that drop glue (directly, or after a
 * jump to Harness::dealloc). We read a few hundred bytes of that code
 * from the live process, look at every `call rel32` whose target the
 * symbolizer names such a drop glue, and take F out of the name. Without
 * that symbol (stripped drop glue, everything inlined) the caller keeps
 * the spawning function as the name; so it does when the compiler folded
 * the drop glue of two future types into one function (identical code):
 * the one name left at that address may be the other type's
 * (tokio_elf.c lists such addresses).
 *
 * A task alive before the attach had no spawn record: its vtable's
 * dealloc is read from its header in the target's memory instead, at its
 * first poll seen (ts_tokio_task_dealloc).
 *
 * Target memory is untrusted: reads are bounded and any garbage just
 * fails to name anything. Results are cached per dealloc address.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/tokio_internal.h"
#include "collector/strpool.h"
#include "collector/symbolize.h"

#define CODE_SCAN 384
#define NAME_MAX_LEN 512

static ssize_t read_mem(uint32_t pid, uint64_t addr, void *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, (off_t)addr);
	close(fd);
	return n;
}

/* The first generic argument after `open` ("Cell<") in `s`, into out. */
static bool first_arg(const char *s, const char *open, char *out, size_t len)
{
	const char *p = strstr(s, open);
	int depth = 0;
	size_t n = 0;

	if (!p)
		return false;
	for (p += strlen(open); *p; p++) {
		if (*p == '<' || *p == '(' || *p == '[')
			depth++;
		else if ((*p == '>' || *p == ')' || *p == ']') && depth-- == 0)
			break;
		else if (*p == ',' && depth == 0)
			break;
		if (n + 1 < len)
			out[n++] = *p;
	}
	out[n] = '\0';
	return n > 0 && *p;
}

/* Remove every "prefix<" ... matching ">" wrapper, keeping what is inside. */
static void unwrap(char *s, const char *prefix)
{
	char *p;

	while ((p = strstr(s, prefix))) {
		char *q = p + strlen(prefix);
		int depth = 0;

		while (*q && !(*q == '>' && depth == 0)) {
			depth += *q == '<';
			depth -= *q == '>';
			q++;
		}
		if (!*q)
			return;
		memmove(q, q + 1, strlen(q + 1) + 1);          /* the closing '>' */
		memmove(p, p + strlen(prefix), strlen(p + strlen(prefix)) + 1);
	}
}

/* "tk::alpha::{{closure}}" -> "tk::alpha": an async fn's future is its
 * body's closure; the function's path reads better. */
static void drop_suffix(char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	if (n > k && !strcmp(s + n - k, suffix))
		s[n - k] = '\0';
}

bool ts_tokio_glue_type(const char *glue, char *out, size_t len)
{
	static const char *const holders[] = {
		"tokio::runtime::task::core::Cell<", "tokio::runtime::task::core::CoreStage<",
		"tokio::runtime::task::core::Stage<",
	};

	if (strncmp(glue, "core::ptr::drop_in_place<", 25))
		return false;
	for (size_t i = 0; i < sizeof(holders) / sizeof(holders[0]); i++) {
		if (first_arg(glue, holders[i], out, len)) {
			unwrap(out, "core::future::from_generator::GenFuture<");
			drop_suffix(out, "::{{closure}}");
			drop_suffix(out, "::{closure#0}");
			return true;
		}
	}
	return false;
}

/* Scan code at `addr` for calls to a task's drop glue; follow one jump. */
static bool shared(const struct tk_names *c, uint64_t addr)
{
	size_t lo = 0, hi = c->n_shared;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->shared[mid] == addr)
			return true;
		if (c->shared[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool scan(const struct tk_names *c, uint32_t pid, struct ts_symbolizer *sym, uint64_t addr, int hops,
		 char *out, size_t len)
{
	uint8_t code[CODE_SCAN];
	ssize_t n = read_mem(pid, addr, code, sizeof(code));

	if (n < 5)
		return false;
	/* A raw::dealloc stub: jmp Harness::dealloc. Our own uprobe may sit on
	 * that jmp (its first byte then reads as int3): follow it only to a
	 * function the symbolizer calls Harness::dealloc. */
	if ((code[0] == 0xe9 || code[0] == 0xcc) && hops > 0) {
		uint64_t to;
		struct ts_frame f;
		int32_t rel;

		memcpy(&rel, code + 1, sizeof(rel));
		to = addr + 5 + (uint64_t)(int64_t)rel;
		if (ts_symbolizer_lookup(sym, to, &f) == 0 && f.function && f.offset == 0 &&
		    strstr(f.function, "tokio::runtime::task::harness::Harness") && strstr(f.function, "dealloc"))
			return scan(c, pid, sym, to, hops - 1, out, len);
		if (code[0] == 0xe9)
			return false;
	}
	for (ssize_t i = 0; i + 5 <= n; i++) {
		struct ts_frame f;
		int32_t rel;

		if (code[i] != 0xe8)
			continue;
		memcpy(&rel, code + i + 1, sizeof(rel));
		if (ts_symbolizer_lookup(sym, addr + (uint64_t)i + 5 + (uint64_t)(int64_t)rel, &f) == 0 &&
		    f.function && f.offset == 0 && ts_tokio_glue_type(f.function, out, len))
			return !shared(c, f.module_offset); /* folded with another type's: ambiguous */
	}
	return false;
}

const char *ts_tokio_future_name(struct tk_names *c, uint32_t pid, struct ts_symbolizer *sym,
				 struct ts_strpool *pool, uint64_t dealloc_fn)
{
	struct ts_frame f;
	char name[NAME_MAX_LEN];
	size_t slot;

	if (!dealloc_fn || !sym)
		return NULL;
	slot = (size_t)(dealloc_fn >> 4) % TK_NAMES;
	if (c->addr[slot] == dealloc_fn)
		return c->name[slot];
	/* only trust a pointer that lands on raw::dealloc itself */
	if (ts_symbolizer_lookup(sym, dealloc_fn, &f) < 0 || !f.function || f.offset != 0 ||
	    strncmp(f.function, "tokio::runtime::task::raw::dealloc", 34) ||
	    !scan(c, pid, sym, dealloc_fn, 1, name, sizeof(name)))
		name[0] = '\0';
	c->addr[slot] = dealloc_fn;
	c->name[slot] = name[0] ? ts_strpool_intern(pool, name, strlen(name)) : NULL;
	return c->name[slot];
}

uint64_t ts_tokio_task_dealloc(uint32_t pid, uint64_t hdr)
{
	uint64_t vt = 0, fn = 0;

	if (read_mem(pid, hdr + TK_HDR_VTABLE_OFF, &vt, sizeof(vt)) != (ssize_t)sizeof(vt) || !vt ||
	    read_mem(pid, vt + TK_VTABLE_DEALLOC_OFF, &fn, sizeof(fn)) != (ssize_t)sizeof(fn))
		return 0;
	return fn;
}
