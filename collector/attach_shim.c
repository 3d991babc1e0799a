/*
 * attach_shim.c: `taskscope attach PID` for a program that links
 * libtaskscope but was started on its own.
 *
 * Such a shim waits on the abstract socket "@taskscope/<pid>"
 * (agent/control.c). We connect, make sure the listener really belongs to
 * that pid (SO_PEERCRED of a listening socket names the process that
 * called listen(), so a squatter's socket is refused), and then run the
 * same handshake as for `taskscope run` targets (collector/handshake.c):
 * its Hello and memfd are validated and its rings opened as a shm source.
 * The connection becomes the source's watch fd: when the session ends
 * the collector closes it, and the shim turns recording off and waits for
 * the next attach; when the target exits it hangs up and the session
 * notices. Right after our HelloAck the shim writes a snapshot of the
 * tasks alive (through the runtime's enumerator), so the first drain
 * already lists the tasks spawned before the attach.
 *
 * The probe only reads /proc/net/unix (it must not make the shim do a
 * handshake for nothing).
 */
#include "collector/attach.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "collector/collector.h"
#include "collector/errline.h"
#include "collector/handshake.h"
#include "collector/source_shm.h"
#include "taskscope.pb-c.h"

#define HELLO_TIMEOUT_MS 2000
#define SO_ACCEPTCON_FLAG 0x10000u /* /proc/net/unix "Flags" of a listening socket */

int ts_shim_attach_probe(uint32_t pid)
{
	char want[64];
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int found = 0;

	snprintf(want, sizeof(want), "@" TS_ATTACH_NAME_FMT, pid);
	f = fopen("/proc/net/unix", "re");
	if (!f)
		return -errno;
	/* "Num: RefCount Protocol Flags Type St Inode Path" */
	while (!found && getline(&line, &cap, f) > 0) {
		unsigned flags;
		char path[128];

		if (sscanf(line, "%*s %*s %*s %x %*s %*s %*s %127s", &flags, path) == 2)
			found = (flags & SO_ACCEPTCON_FLAG) && strcmp(path, want) == 0;
	}
	free(line);
	fclose(f);
	return found;
}

static int connect_shim(uint32_t pid, int *out, char *err, size_t errlen)
{
	struct sockaddr_un addr;
	socklen_t len = ts_handshake_attach_addr(pid, &addr);
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int fd;
	int r;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		ts_errf(err, errlen, "cannot create a socket: %s", strerror(-r));
		return r;
	}
	do {
		r = connect(fd, (struct sockaddr *)&addr, len);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		r = -errno;
		ts_errf(err, errlen, "pid %u has no taskscope shim waiting for a collector (%s); is it linked "
			"with libtaskscope and started without TASKSCOPE_ATTACH=0?", pid, strerror(-r));
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || clen != sizeof(cred)) {
		r = -EPROTO;
		ts_errf(err, errlen, "cannot tell who listens on @" TS_ATTACH_NAME_FMT, pid);
		goto fail;
	}
	if (cred.pid != (pid_t)pid) {
		r = -EPERM;
		ts_errf(err, errlen, "@" TS_ATTACH_NAME_FMT " belongs to pid %d, not to pid %u; refusing it",
			pid, (int)cred.pid, pid);
		goto fail;
	}
	*out = fd;
	return 0;
fail:
	close(fd);
	return r;
}

int ts_shim_attach(struct ts_collector *c, uint32_t pid, uint64_t now_ns, char *err, size_t errlen)
{
	Taskscope__Hello *hello = NULL;
	struct ts_shm_source *src = NULL;
	struct ts_source_desc d = { .pid = pid, .kind = "shim", .watch_is_pidfd = false };
	int conn = -1;
	int r;

	r = connect_shim(pid, &conn, err, errlen);
	if (r < 0)
		return r;
	r = ts_handshake_take_target(conn, HELLO_TIMEOUT_MS, pid, ts_collector_strpool(c), &hello, &src,
				     err, errlen);
	if (r == -ECONNRESET) {
		/* The shim hangs up without a word on a peer it will not serve. */
		ts_errf(err, errlen, "the shim of pid %u hung up: another collector is attached to it, or this "
			"user may not attach (root or the process's own user can)", pid);
	}
	if (r < 0) {
		close(conn);
		return r;
	}
	d.exe = hello->exe;
	d.runtime = hello->runtime;
	d.watch_fd = conn;
	/* From here on the collector owns conn and src, also on failure. */
	r = ts_collector_add_source(c, &d, &ts_shm_source_ops, src, now_ns, err, errlen);
	if (r == 0) /* a failure means it went away: the session sees the hang-up */
		(void)ts_handshake_send_ack(conn, true, NULL, true);
	taskscope__hello__free_unpacked(hello, NULL);
	return r;
}
