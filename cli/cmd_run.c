/*
 * cmd_run.c: `taskscope run [options] -- CMD [ARGS...]`: start CMD with
 * the shim enabled (TASKSCOPE_SOCKET) and record it.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/session.h"

static void usage(FILE *out)
{
	fputs("usage: taskscope run [options] -- CMD [ARGS...]\n"
	      "Start CMD with the taskscope shim enabled and record its tasks. CMD must be linked\n"
	      "with libtaskscope (see docs/integrations.md). Its output goes to FILE.log under\n"
	      "the console, to the terminal with --headless. On q, Ctrl-C, SIGTERM or the end of\n"
	      "--duration, CMD gets SIGTERM (SIGKILL 3 s later) and the recording is completed.\n\n"
	      "options:\n", out);
	ts_record_options_help(out);
}

int ts_cmd_run(int argc, char **argv)
{
	struct ts_record_options o = { 0 };
	int idx = 0;
	int r;

	r = ts_record_options_parse(argc, argv, &idx, &o, "run");
	if (r == 1) {
		usage(stdout);
		return TS_EXIT_OK;
	}
	if (r < 0)
		return TS_EXIT_USAGE;
	if (idx >= argc) {
		fprintf(stderr, "taskscope run: no command given; usage: taskscope run [options] -- CMD [ARGS...]\n");
		return TS_EXIT_USAGE;
	}
	return ts_session_run(&o, argv + idx, argv[idx], "run");
}
