/*
 * main.c: `taskscope`, dispatching to its subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"

static void usage(FILE *out)
{
	fputs("usage: taskscope COMMAND [options]\n"
	      "Observe the tasks of async runtimes: polls, wakes, locks, and what went wrong.\n\n"
	      "commands:\n"
	      "  demo     run the bundled demo workload in the live console\n"
	      "  run      start a program linked with libtaskscope and record it\n"
	      "  attach   watch a running process (Tokio, libtaskscope or any event loop)\n"
	      "  query    query a recording with SQL or a named report\n"
	      "  console  replay a recording, or watch a live collector from another terminal\n\n"
	      "'taskscope COMMAND --help' describes each. Exit codes: 0 ok, 1 runtime error, 2 usage error.\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "demo", ts_cmd_demo },
		{ "run", ts_cmd_run },
		{ "attach", ts_cmd_attach },
		{ "query", ts_cmd_query },
		{ "console", ts_cmd_console },
	};

	if (argc < 2) {
		usage(stderr);
		return TS_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return TS_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("taskscope %s\n", TS_VERSION);
		return TS_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 2, argv + 2);
	fprintf(stderr, "taskscope: unknown command '%s'; see 'taskscope --help'\n", argv[1]);
	return TS_EXIT_USAGE;
}
