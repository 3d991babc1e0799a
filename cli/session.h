/*
 * session.h: one recording session: start a command under the collector,
 * record it into SQLite, show it in the console (or not), and stop cleanly
 * on q, Ctrl-C, SIGTERM, --duration or the target's exit.
 */
#ifndef TASKSCOPE_CLI_SESSION_H
#define TASKSCOPE_CLI_SESSION_H

#include "cli/options.h"

/* Run argv[0] with the shim enabled and record it. `label` names the
 * target in the console header and messages. Returns an exit code. */
int ts_session_run(const struct ts_record_options *o, char *const argv[], const char *label, const char *cmd);

#endif /* TASKSCOPE_CLI_SESSION_H */
