/*
 * unwind.c: walking a stack that BPF copied out of a target, with
 * libdwfl's CFI unwinder (.eh_frame / .debug_frame; elfutils falls back
 * to the frame-pointer chain for a frame without CFI). Most of what
 * taskscope watches (Rust release builds, glibc, distro packages) has no
 * frame pointers, so a frame-pointer walk would stop after one frame.
 *
 * The symbolizer's Dwfl gets our own Dwfl_Thread_Callbacks once (libdwfl
 * allows one attach per Dwfl): one pretend thread whose initial registers
 * are the ones BPF saw, and memory reads answered from the copied slice.
 * A read outside the slice but inside the mapping that holds sp is the
 * part of the stack BPF did not copy; the live process has moved on since,
 * so that read fails and the walk ends there. Reads elsewhere (rare:
 * signal frames, CFI expressions that load from data) go to
 * /proc/PID/mem when we may open it, else fail.
 */
#include <dwarf.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "collector/symbolize_internal.h"

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct ts_symbolizer *s = arg;

	*thread_argp = s;
	return tid == (pid_t)s->pid;
}

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct ts_symbolizer *s = arg;

	if (*thread_argp)
		return 0;
	*thread_argp = s;
	return (pid_t)s->pid;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct ts_symbolizer *s = arg;
	const struct ts_sym_unwind *u = &s->uw;
	uint64_t sp = u->regs->sp;
	size_t m;

	if (addr >= sp && addr - sp < u->stack_len && u->stack_len - (addr - sp) >= sizeof(*result)) {
		memcpy(result, u->stack + (addr - sp), sizeof(*result));
		return true;
	}
	if (s->mem_fd < 0 || addr > (uint64_t)INT64_MAX - sizeof(*result))
		return false;
	m = ts_symbolizer_find_map(s, addr);
	if (m == SIZE_MAX || m == u->stack_map || !s->maps[m].readable ||
	    s->maps[m].end - addr < sizeof(*result))
		return false;
	return pread(s->mem_fd, result, sizeof(*result), (off_t)addr) == (ssize_t)sizeof(*result);
}

/* x86-64 DWARF register numbers: 3 rbx, 6 rbp, 7 rsp, 12-15 r12-r15;
 * the return address column (16) is the pc. Others stay undefined. */
static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct ts_symbolizer *s = arg;
	const struct ts_user_regs *r = s->uw.regs;
	Dwarf_Word bx = r->bx, bpsp[2] = { r->bp, r->sp }, hi[4] = { r->r12, r->r13, r->r14, r->r15 };

	if (!dwfl_thread_state_registers(thread, 3, 1, &bx) ||
	    !dwfl_thread_state_registers(thread, 6, 2, bpsp) ||
	    !dwfl_thread_state_registers(thread, 12, 4, hi))
		return false;
	dwfl_thread_state_register_pc(thread, r->ip);
	return true;
}

static const Dwfl_Thread_Callbacks callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

static int on_frame(Dwfl_Frame *state, void *arg)
{
	struct ts_sym_unwind *u = arg;
	Dwarf_Addr pc;

	if (u->n >= u->max || !dwfl_frame_pc(state, &pc, NULL))
		return DWARF_CB_ABORT;
	if (u->n > 0 && pc == 0)
		return DWARF_CB_ABORT; /* the outermost frame's "return address" */
	u->ips[u->n++] = pc;
	return u->n >= u->max ? DWARF_CB_ABORT : DWARF_CB_OK;
}

int ts_symbolizer_unwind(struct ts_symbolizer *s, const struct ts_user_regs *regs,
			 const void *stack, size_t stack_len, uint64_t *ips, size_t max)
{
	struct ts_sym_unwind *u = &s->uw;
	int n;

	if (!regs || !ips || (!stack && stack_len))
		return -EINVAL;
	if (max == 0)
		return 0;
	if (s->attach_state == 0)
		s->attach_state = dwfl_attach_state(s->dwfl, NULL, (pid_t)s->pid, &callbacks, s) ? 1 : -1;
	if (s->attach_state < 0) {
		ips[0] = regs->ip; /* no unwinder for this process: the one frame we know */
		return 1;
	}
	*u = (struct ts_sym_unwind){
		.regs = regs, .stack = stack, .stack_len = stack ? stack_len : 0,
		.ips = ips, .max = max, .stack_map = ts_symbolizer_find_map(s, regs->sp),
	};
	/* the result is in u->n however the walk ended: the end of the copy,
	 * an unreadable or CFI-less frame, or max */
	(void)dwfl_getthread_frames(s->dwfl, (pid_t)s->pid, on_frame, u);
	if (u->n == 0)
		ips[u->n++] = regs->ip;
	n = (int)u->n;
	*u = (struct ts_sym_unwind){ .stack_map = SIZE_MAX };
	return n;
}
