/* tokio_source.c: placeholder; the Tokio uprobe source replaces it. */
#include <errno.h>
#include <stdio.h>

#include "bpf/tokio.skel.h"
#include "collector/attach.h"

int ts_tokio_probe(uint32_t pid, char *err, size_t errlen)
{
	snprintf(err, errlen, "Tokio attach is not built yet");
	return -ENOSYS;
}

int ts_tokio_attach(struct ts_collector *c, uint32_t pid, uint64_t now_ns, char *err, size_t errlen)
{
	snprintf(err, errlen, "Tokio attach is not built yet");
	return -ENOSYS;
}
