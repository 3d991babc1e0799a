/* sched_source.c: placeholder; the scheduler/syscall source replaces it. */
#include <errno.h>
#include <stdio.h>

#include "bpf/sched.skel.h"
#include "collector/attach.h"

int ts_generic_attach(struct ts_collector *c, uint32_t pid, const struct ts_context_options *o,
		      uint64_t now_ns, char *err, size_t errlen)
{
	snprintf(err, errlen, "generic attach is not built yet");
	return -ENOSYS;
}

int ts_kernel_context_attach(struct ts_collector *c, uint32_t pid, const struct ts_context_options *o,
			     uint64_t now_ns, char *err, size_t errlen)
{
	snprintf(err, errlen, "kernel context is not built yet");
	return -ENOSYS;
}
