/*
 * bench-tokio-floor.c: the kernel's floor for the Tokio attach: what one
 * uprobe + uretprobe pair costs on an empty function, with BPF programs
 * that do nothing (r0 = 0; exit).
 *
 * Why: on a VM a uprobe trap costs 5-20 us, on bare metal well under one,
 * so the Tokio attach's cost per poll only means something next to this
 * number measured on the same machine in the same run (bench-tokio.sh).
 * The empty function starts with `push %rbp`, an instruction the kernel
 * emulates, like the first instructions of Tokio's probed functions (a
 * `jmp` in raw::poll, a `push` in the waker functions).
 *
 * It also measures the same pair on a function that starts with an
 * instruction the kernel single-steps (`mov`): what a badly placed probe
 * costs. Prints "floor_pair_ns N" and "floor_pair_single_stepped_ns N"
 * (attached minus bare, per call) or SKIP.
 * Needs root and uprobe_multi (Linux 6.6+).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#define TRACE_UPROBE_MULTI 48   /* enum bpf_attach_type (kernel ABI; newer than our uapi headers) */
#define UPROBE_MULTI_RETURN 1u

void floor_target(void);
void floor_target_ss(void);
__asm__(".text\n"
	".globl floor_target\n"
	".type floor_target, @function\n"
	"floor_target:\n"
	"\tpush %rbp\n"
	"\tpop %rbp\n"
	"\tret\n"
	".size floor_target, .-floor_target\n"
	/* the same, starting with an instruction the kernel single-steps */
	".globl floor_target_ss\n"
	".type floor_target_ss, @function\n"
	"floor_target_ss:\n"
	"\tmov $1, %eax\n"
	"\tpush %rbp\n"
	"\tpop %rbp\n"
	"\tret\n"
	".size floor_target_ss, .-floor_target_ss\n");

struct link_create_uprobe_multi {
	uint32_t prog_fd, target_fd, attach_type, flags;
	uint64_t path, offsets, ref_ctr_offsets, cookies;
	uint32_t cnt, multi_flags, pid, pad;
};

/* CPU time of this thread: the traps count, time preempted by other
 * processes does not (the machines these run on are shared). */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* File offset of fn in our executable, from /proc/self/maps. */
static int self_offset(void (*fn)(void), uint64_t *off)
{
	uint64_t addr = (uint64_t)(uintptr_t)fn;
	char line[512], perms[8];
	FILE *f = fopen("/proc/self/maps", "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, moff;

		if (sscanf(line, "%llx-%llx %7s %llx", &start, &end, perms, &moff) == 4 && perms[2] == 'x' &&
		    addr >= start && addr < end) {
			*off = addr - start + moff;
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

static int attach(int prog, uint64_t *off, bool ret)
{
	struct link_create_uprobe_multi a = {
		.prog_fd = (uint32_t)prog, .attach_type = TRACE_UPROBE_MULTI,
		.path = (uint64_t)(uintptr_t)"/proc/self/exe", .offsets = (uint64_t)(uintptr_t)off,
		.cnt = 1, .multi_flags = ret ? UPROBE_MULTI_RETURN : 0, .pid = (uint32_t)getpid(),
	};
	int fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof(a));

	return fd < 0 ? -errno : fd;
}

static double per_call(void (*fn)(void), long n)
{
	uint64_t t0 = now_ns();

	for (long i = 0; i < n; i++)
		fn();
	return (double)(now_ns() - t0) / (double)n;
}

/* ns one uprobe+uretprobe pair adds to a call of fn, or -errno. */
static double pair_cost(int prog, void (*fn)(void), long n, int *err)
{
	double bare, probed;
	uint64_t off;
	int le, lr;

	*err = self_offset(fn, &off);
	if (*err < 0)
		return 0;
	bare = per_call(fn, n * 100);
	le = attach(prog, &off, false);
	lr = le >= 0 ? attach(prog, &off, true) : -1;
	if (le < 0 || lr < 0) {
		*err = le < 0 ? le : lr;
		if (le >= 0)
			close(le);
		return 0;
	}
	probed = per_call(fn, n);
	close(lr);
	close(le);
	return probed - bare;
}

int main(int argc, char **argv)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = (enum bpf_attach_type)TRACE_UPROBE_MULTI);
	long n = argc > 1 ? atol(argv[1]) : 100000;
	double pair, pair_ss = 0;
	int prog, err;

	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return 77;
	}
	if (n <= 0) {
		fprintf(stderr, "bench-tokio-floor: the call count must be positive\n");
		return 1;
	}
	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "tk_floor", "GPL", insns, 2, &o);
	if (prog < 0) {
		printf("SKIP: cannot load an empty uprobe_multi program: %s\n", strerror(-prog));
		return 77;
	}
	pair = pair_cost(prog, floor_target, n, &err);
	if (err == 0)
		pair_ss = pair_cost(prog, floor_target_ss, n / 4 > 0 ? n / 4 : 1, &err);
	close(prog);
	if (err < 0) {
		printf("SKIP: no uprobe_multi on our own code here: %s\n", strerror(-err));
		return 77;
	}
	printf("floor_pair_ns %.0f\nfloor_pair_single_stepped_ns %.0f\n", pair, pair_ss);
	return 0;
}
