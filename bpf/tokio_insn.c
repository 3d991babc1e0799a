/*
 * tokio_insn.c: where in a small function to put an entry uprobe so that
 * the kernel emulates the probed instruction instead of single-stepping it.
 *
 * Why: x86 uprobes emulate branches, calls, push and nop; any other
 * instruction is single-stepped out of line, which on the VMs we run on
 * costs 18 us instead of 5 us per hit. Tokio's waker functions run once
 * or twice per poll, and some compilers start them with a `mov` (rustc
 * 1.95: `mov $0x40,%eax; lock xadd %rax,(%rdi); test; js ...`). A few
 * straight-line instructions later there is a conditional jump that every
 * call executes, with the first argument (rdi, the task header) still
 * untouched: probing there gives the same record for a third of the cost.
 *
 * This is not a disassembler: it knows the handful of instruction forms
 * such prologues are made of, walks straight-line code from the entry, and
 * gives up (offset 0, the entry itself) at anything else, at anything that
 * writes rdi, or after a few instructions. Only for entry probes that read
 * arguments: a uretprobe must stay at the entry, where [rsp] is the
 * return address.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/tokio_internal.h"

#define MAX_INSNS 8
#define RDI 7

/* Length of a ModRM operand (ModRM byte, SIB, displacement) at p, or 0. */
static size_t modrm_len(const uint8_t *p, size_t avail)
{
	uint8_t mod, rm;
	size_t n = 1;

	if (avail < 1)
		return 0;
	mod = p[0] >> 6;
	rm = p[0] & 7;
	if (mod != 3 && rm == 4) {
		if (avail < 2)
			return 0;
		n++;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4;
	} else if (mod == 0 && rm == 5) {
		n += 4; /* rip-relative */
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return n <= avail ? n : 0;
}

/* Does the ModRM register operand name rdi (reg field, with REX.R)? */
static bool reg_is_rdi(uint8_t modrm, uint8_t rex)
{
	return ((modrm >> 3) & 7) == RDI && !(rex & 4);
}

/* Does the ModRM r/m operand name the register rdi (not memory)? */
static bool rm_is_rdi(uint8_t modrm, uint8_t rex)
{
	return (modrm >> 6) == 3 && (modrm & 7) == RDI && !(rex & 1);
}

size_t ts_tokio_probe_point(const uint8_t *code, size_t len)
{
	size_t off = 0;

	for (int insn = 0; insn < MAX_INSNS && off < len; insn++) {
		const uint8_t *p = code + off;
		size_t avail = len - off, i = 0, m;
		uint8_t rex = 0, op;
		bool opsize = false;

		while (i < avail && (p[i] == 0xf0 || p[i] == 0x66)) {
			opsize = opsize || p[i] == 0x66;
			i++;
		}
		if (i < avail && (p[i] & 0xf0) == 0x40)
			rex = p[i++];
		if (i >= avail)
			return 0;
		op = p[i++];
		/* emulated: push, jcc, jmp, call, nop (without prefixes) */
		if (i == 1 || (i == 2 && rex)) {
			if ((op >= 0x50 && op <= 0x57) || (op >= 0x70 && op <= 0x7f) || op == 0xe8 || op == 0xe9 ||
			    op == 0xeb || op == 0x90)
				return off;
			if (op == 0x0f && i < avail && p[i] >= 0x80 && p[i] <= 0x8f)
				return off;
		}
		if (op >= 0xb8 && op <= 0xbf) {                   /* mov imm, reg */
			if ((op & 7) == RDI && !(rex & 1))
				return 0;
			m = (rex & 8) ? 8 : (opsize ? 2 : 4);
		} else if (op == 0x01 || op == 0x09 || op == 0x21 || op == 0x29 || op == 0x31 || op == 0x89 ||
			   op == 0x03 || op == 0x0b || op == 0x23 || op == 0x2b || op == 0x33 || op == 0x8b ||
			   op == 0x8d || op == 0x39 || op == 0x3b || op == 0x85) {
			bool writes_reg = op == 0x03 || op == 0x0b || op == 0x23 || op == 0x2b || op == 0x33 ||
					  op == 0x8b || op == 0x8d;
			bool writes_rm = op == 0x01 || op == 0x09 || op == 0x21 || op == 0x29 || op == 0x31 ||
					 op == 0x89;

			if (i >= avail || (writes_reg && reg_is_rdi(p[i], rex)) || (writes_rm && rm_is_rdi(p[i], rex)))
				return 0;
			m = modrm_len(p + i, avail - i);
		} else if (op == 0x83 || op == 0xc1 || op == 0x81 || op == 0xc7) { /* alu/shift/mov imm, r/m */
			bool cmp = (op == 0x83 || op == 0x81) && i < avail && ((p[i] >> 3) & 7) == 7;

			if (i >= avail || (!cmp && rm_is_rdi(p[i], rex)))
				return 0;
			m = modrm_len(p + i, avail - i);
			if (m)
				m += (op == 0x83 || op == 0xc1) ? 1 : (opsize ? 2 : 4);
		} else if (op == 0x0f && i < avail && (p[i] == 0xc1 || p[i] == 0xb1)) { /* xadd, cmpxchg */
			i++;
			if (i >= avail || reg_is_rdi(p[i], rex) || rm_is_rdi(p[i], rex))
				return 0;
			m = modrm_len(p + i, avail - i);
		} else {
			return 0;
		}
		if (!m || i + m > avail)
			return 0;
		off += i + m;
	}
	return 0;
}
