/* sched.bpf.c: placeholder so the build chain is exercised; replaced by the real programs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpf/sched.h"

char LICENSE[] SEC("license") = "GPL";
