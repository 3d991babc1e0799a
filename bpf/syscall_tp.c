/*
 * syscall_tp.c: attach programs to chosen syscalls' own tracepoints (see
 * syscall_tp.h for why). Tracepoint ids come from tracefs, which libbpf
 * reads under debugfs's tracing directory when debugfs is mounted and
 * under /sys/kernel/tracing otherwise; when tracefs is mounted nowhere it
 * is mounted there (as perf does), which needs CAP_SYS_ADMIN.
 */
#include "bpf/syscall_tp.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <sys/mount.h>
#include <unistd.h>

#define TRACEFS "/sys/kernel/tracing"

static int ensure_tracefs(void)
{
	if (access("/sys/kernel/debug/tracing/events/syscalls", F_OK) == 0 ||
	    access(TRACEFS "/events/syscalls", F_OK) == 0)
		return 0;
	if (access(TRACEFS "/events", F_OK) == 0)
		return -ENOENT;  /* mounted, but no syscall tracepoints (CONFIG_FTRACE_SYSCALLS) */
	if (mount("nodev", TRACEFS, "tracefs", 0, NULL) < 0)
		return -errno;
	return access(TRACEFS "/events/syscalls", F_OK) == 0 ? 0 : -ENOENT;
}

int ts_syscall_tp_attach(struct bpf_program *prog, const char *const *names, size_t n, struct bpf_link **links,
			 unsigned *n_links)
{
	unsigned first = *n_links;
	int r = ensure_tracefs();

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		char tp[64];
		struct bpf_link *link;

		/* a kernel without one of them (epoll_pwait2 before 5.11, no
		 * io_uring) still has the others */
		snprintf(tp, sizeof(tp), "sys_enter_%s", names[i]);
		link = bpf_program__attach_tracepoint(prog, "syscalls", tp);
		if (!link) {
			r = errno ? -errno : -ENOENT;
			continue;
		}
		links[(*n_links)++] = link;
	}
	if (*n_links > first)
		return (int)(*n_links - first);
	return r < 0 ? r : -ENOENT;
}
