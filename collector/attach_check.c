/*
 * attach_check.c: can this process load and attach BPF programs?
 *
 * Asked before any probe is touched, so that a missing privilege or a
 * kernel without BTF is one clear line, not a libbpf error halfway
 * through an attach. Root passes; otherwise the effective capability set
 * must hold CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN, which implies both).
 */
#include "collector/attach.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define BTF_PATH "/sys/kernel/btf/vmlinux"

static bool has_cap(const struct __user_cap_data_struct data[2], int cap)
{
	return data[cap / 32].effective & (1u << (cap % 32));
}

int ts_attach_check_bpf(char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = { { 0 } };

	if (geteuid() != 0) {
		if (syscall(SYS_capget, &hdr, data) < 0 ||
		    !(has_cap(data, CAP_SYS_ADMIN) || (has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON)))) {
			snprintf(err, errlen, "attach needs root or CAP_BPF+CAP_PERFMON (try sudo)");
			return -EPERM;
		}
	}
	if (access(BTF_PATH, R_OK) < 0) {
		snprintf(err, errlen, "no BTF: this kernel has no %s (it needs CONFIG_DEBUG_INFO_BTF=y)", BTF_PATH);
		return -ENOENT;
	}
	return 0;
}
