/*
 * tokio_sites.c: a Tokio task's spawn site, from the registers and the
 * slice of user stack tokio.bpf.c copies at the return of
 * OwnedTasks::bind / spawn_blocking.
 *
 * Why a file of its own: it is the one place that unwinds (CFI, through
 * the symbolizer) and decides which frame is the user's: the first one
 * outside Tokio and the standard library, file:line with DWARF, else the
 * function. The same site unwinds to the same return addresses, so
 * resolved sites are cached by their hash. The stack bytes come from the
 * target: their length is checked, and the unwinder bounds every read.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bpf/tokio_internal.h"
#include "collector/hashidx.h"
#include "collector/strpool.h"
#include "collector/symbolize.h"

#define MAX_FRAMES 48

/* Library code a spawn goes through; the first frame not in it is the
 * user's spawn site. */
static bool library_function(const char *f)
{
	static const char *const prefixes[] = {
		"tokio::", "<tokio::", "std::", "<std::", "core::", "<core::", "alloc::", "<alloc::",
		"futures", "<futures", "tracing::", "<tracing::", "__rust", "_start", "__libc", "start_thread",
		"clone3", "<F as core::", "<&", "<Box<",
	};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(f, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* The first user frame among the inlined levels at one address. */
static bool user_frame(struct ts_symbolizer *sym, struct ts_strpool *pool, uint64_t ip, const char **name,
		       const char **loc)
{
	struct ts_frame fr[16];
	char buf[1024];
	int n = ts_symbolizer_lookup_inline(sym, ip, fr, sizeof(fr) / sizeof(fr[0]));

	for (int i = 0; i < n; i++) {
		if (!fr[i].function || library_function(fr[i].function))
			continue;
		*name = ts_strpool_intern(pool, fr[i].function, strlen(fr[i].function));
		if (fr[i].file && fr[i].line) {
			snprintf(buf, sizeof(buf), "%s:%" PRIu32, fr[i].file, fr[i].line);
			*loc = ts_strpool_intern(pool, buf, strlen(buf));
		} else {
			*loc = *name;
		}
		return true;
	}
	return false;
}

void ts_tokio_spawn_site(struct ts_symbolizer *sym, struct ts_strpool *pool, struct tk_site *sites,
			 const struct tk_spawn_rec *r, const char **name, const char **loc)
{
	struct ts_user_regs regs = {
		.ip = r->regs[0], .sp = r->regs[1], .bp = r->regs[2], .bx = r->regs[3],
		.r12 = r->regs[4], .r13 = r->regs[5], .r14 = r->regs[6], .r15 = r->regs[7],
	};
	uint64_t ips[MAX_FRAMES], h = 0;
	size_t len = r->stack_len <= TK_STACK_MAX ? r->stack_len : 0;
	struct tk_site *c;
	int n;

	*name = *loc = NULL;
	if (!sym)
		return;
	n = ts_symbolizer_unwind(sym, &regs, r->stack, len, ips, MAX_FRAMES);
	if (n <= 0)
		return;
	/* the same spawn site unwinds to the same return addresses */
	for (int i = 0; i < n; i++)
		h = ts_hashidx_hash((uint32_t)i, h ^ ips[i]);
	c = &sites[h % TK_SITES];
	if (c->hash == h && c->n == n) {
		*name = c->name;
		*loc = c->loc;
		return;
	}
	/* every ip is a return address (a uretprobe's ip too): look up the call */
	for (int i = 0; i < n && !*name; i++)
		if (ips[i])
			user_frame(sym, pool, ips[i] - 1, name, loc);
	*c = (struct tk_site){ .hash = h, .n = n, .name = *name, .loc = *loc };
}
