/*
 * session.h: one recording session: start a command under the collector,
 * record it into SQLite, show it in the console (or not), and stop cleanly
 * on q, Ctrl-C, SIGTERM, --duration or the target's exit.
 */
#ifndef TASKSCOPE_CLI_SESSION_H
#define TASKSCOPE_CLI_SESSION_H

#include <stddef.h>

#include "cli/options.h"

/* Run argv[0] with the shim enabled and record it. `label` names the
 * target in the console header and messages. Returns an exit code. */
int ts_session_run(const struct ts_record_options *o, char *const argv[], const char *label, const char *cmd);

struct ts_collector;

/* Attach to a running process instead: `attach` adds the process's
 * source(s) to the collector (it is called once the collector, storage
 * and console exist, with `ctx`) and returns 0, or -errno with one line in
 * `err`. The target is never signalled: stopping the session detaches
 * (every source freed, every probe removed). The session also ends when
 * the target exits. */
typedef int (*ts_session_attach_fn)(void *ctx, struct ts_collector *c, char *err, size_t errlen);
int ts_session_attach(const struct ts_record_options *o, int pid, ts_session_attach_fn attach, void *ctx,
		      const char *label, const char *cmd);

#endif /* TASKSCOPE_CLI_SESSION_H */
