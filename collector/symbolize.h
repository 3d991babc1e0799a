/*
 * symbolize.h: addresses of a target process, turned into names a user
 * reads: function (demangled: Rust legacy and v0, C++), file:line where
 * DWARF has it, and the module. Built on libdwfl (elfutils); nothing here
 * parses ELF or DWARF by hand.
 *
 * Also the unwinder for stacks copied out of a target by BPF: most
 * binaries (Rust release builds, glibc, distro packages) have no frame
 * pointers, so BPF copies a bounded slice of the user stack plus the
 * registers, and ts_symbolizer_unwind() walks it with libdwfl's CFI
 * unwinder (.eh_frame / .debug_frame). Stack memory beyond the copied
 * slice is unreadable (the live stack has moved on); other memory is read
 * from the live process (/proc/PID/mem) when permitted.
 *
 * Everything read from the target is untrusted: a bogus address gives an
 * unknown frame, never a crash. One symbolizer per process; not
 * thread-safe (the collector thread owns it). Returned strings stay valid
 * until ts_symbolizer_free().
 */
#ifndef TASKSCOPE_SYMBOLIZE_H
#define TASKSCOPE_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ts_symbolizer;

struct ts_frame {
	uint64_t ip;
	const char *function;       /* demangled, without Rust's ::h<hash>; NULL when unknown */
	const char *file;           /* source file (as DWARF gives it); NULL without line info */
	uint32_t line;              /* 0 without line info */
	const char *module;         /* path of the ELF file holding ip as the target sees it
				     * ("[vdso]", "... (deleted)"); NULL when unmapped */
	uint64_t offset;            /* ip - start of function (0 when unknown) */
	uint64_t module_offset;     /* ip as an address in the module's ELF file (for addr2line) */
};

/* The x86-64 registers an unwind starts from (from pt_regs in BPF). */
struct ts_user_regs {
	uint64_t ip, sp, bp;
	uint64_t bx, r12, r13, r14, r15;  /* callee-saved: CFI may need them */
};

/* Reports the modules mapped in `pid` now. Fails with -errno and one
 * line (no such process, no permission). */
int ts_symbolizer_new(uint32_t pid, struct ts_symbolizer **out, char *err, size_t errlen);
/* One more holder (sources of one process share a symbolizer: each would
 * load the same DWARF); ts_symbolizer_free drops one, the last frees it.
 * Not thread-safe: the holders use it from one thread. */
void ts_symbolizer_ref(struct ts_symbolizer *s);
void ts_symbolizer_free(struct ts_symbolizer *s);

/* Re-read /proc/PID/maps (after a dlopen); cheap when nothing changed.
 * Lookups also do this themselves on a miss, at most once a second. */
int ts_symbolizer_refresh(struct ts_symbolizer *s);

/* Fill `out` for one address. Returns 0, or -ENOENT when no module maps
 * it (out->ip set, the rest NULL/0). Results are cached per address.
 * The function is the one the code at ip physically belongs to; when the
 * instruction comes from a function inlined into it, file:line is the
 * line in that function where the inlining happened (so function and
 * line always belong together). For a return address (ips[i], i > 0,
 * from ts_symbolizer_unwind) look up ips[i] - 1: the call instruction,
 * which also keeps a call at the very end of a function in it. */
int ts_symbolizer_lookup(struct ts_symbolizer *s, uint64_t ip, struct ts_frame *out);

/* The same address with its inlined functions spelled out: frames[0] is
 * the innermost inlined function at the line of ip, each next one the
 * function it was inlined into at the line where that happened, the last
 * one what ts_symbolizer_lookup() says. Returns how many frames (1 when
 * nothing is inlined there or there is no DWARF), or -ENOENT. With more
 * levels than `max`, the innermost max-1 and the last are kept. Not
 * cached: meant for the few addresses a user looks at closely (a spawn
 * site whose innermost frames are the runtime's own, inlined). */
int ts_symbolizer_lookup_inline(struct ts_symbolizer *s, uint64_t ip, struct ts_frame *frames, size_t max);

/* Unwind a stack copied at `regs->sp` (stack[0] is the byte at sp).
 * Writes up to `max` return addresses, innermost first (ips[0] =
 * regs->ip), and returns how many, or -errno. Stops at the end of the
 * copy, at an unreadable frame, or at `max`. */
int ts_symbolizer_unwind(struct ts_symbolizer *s, const struct ts_user_regs *regs,
			 const void *stack, size_t stack_len, uint64_t *ips, size_t max);

/* "function (file:line)", or "function", or "module+0xoff", or "0xaddr":
 * the best one-line name for a frame. */
void ts_frame_format(const struct ts_frame *f, char *buf, size_t len);

/* Demangle a Rust (legacy _ZN...17h<hash>E and v0 _R...) or C++ symbol.
 * Returns a malloc'd string (Rust hashes and ".llvm.N" suffixes removed),
 * or NULL when `sym` is not mangled (or not readable: it then stays as
 * it is). Needs no symbolizer; safe from any thread. */
char *ts_demangle(const char *sym);

#endif /* TASKSCOPE_SYMBOLIZE_H */
