/* attach_shim.c: placeholder; attaching to a shim found later replaces it. */
#include <errno.h>
#include <stdio.h>

#include "collector/attach.h"

int ts_shim_attach_probe(uint32_t pid)
{
	return 0;
}

int ts_shim_attach(struct ts_collector *c, uint32_t pid, uint64_t now_ns, char *err, size_t errlen)
{
	snprintf(err, errlen, "shim attach is not built yet");
	return -ENOSYS;
}
