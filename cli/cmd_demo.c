/*
 * cmd_demo.c: `taskscope demo`: run the bundled demo workload (the
 * example runtime with healthy tasks and one of each footgun) under the
 * collector, in the live console unless --headless.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/session.h"

static void usage(FILE *out)
{
	fputs("usage: taskscope demo [--headless] [--duration S] [--db FILE] [options]\n"
	      "Run the bundled demo workload (a small C async runtime with healthy tasks and one\n"
	      "task per footgun: a blocking sleep, a CPU spin, a lock held across an await, a lost\n"
	      "waker, a self-waking task, a panic) and watch it live. Quit with q.\n\n"
	      "options:\n", out);
	ts_record_options_help(out);
}

/* The demo binary: $TASKSCOPE_DEMO, then the build tree, then the
 * installed libexec path. */
static const char *find_demo(void)
{
	static const char *const candidates[] = { TS_DEMO_BUILD_PATH, TS_DEMO_INSTALL_PATH };
	const char *env = getenv("TASKSCOPE_DEMO");

	if (env && *env)
		return env;
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (access(candidates[i], X_OK) == 0)
			return candidates[i];
	return NULL;
}

int ts_cmd_demo(int argc, char **argv)
{
	struct ts_record_options o = { 0 };
	const char *demo;
	char *child_argv[2];
	int idx = 0;
	int r;

	r = ts_record_options_parse(argc, argv, &idx, &o, "demo");
	if (r == 1) {
		usage(stdout);
		return TS_EXIT_OK;
	}
	if (r < 0)
		return TS_EXIT_USAGE;
	if (idx < argc) {
		fprintf(stderr, "taskscope demo: unexpected argument '%s'; see 'taskscope demo --help'\n", argv[idx]);
		return TS_EXIT_USAGE;
	}
	demo = find_demo();
	if (!demo) {
		fprintf(stderr, "taskscope demo: the demo workload is not built or installed (looked in %s and %s); "
			"run 'ninja -C build' or set TASKSCOPE_DEMO\n", TS_DEMO_BUILD_PATH, TS_DEMO_INSTALL_PATH);
		return TS_EXIT_RUNTIME;
	}
	child_argv[0] = (char *)demo;
	child_argv[1] = NULL;
	return ts_session_run(&o, child_argv, "demo", "demo");
}
