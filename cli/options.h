/*
 * options.h: the options shared by the recording subcommands (demo, run,
 * and later attach): where to record, how long, with or without the
 * console, and the lint thresholds.
 */
#ifndef TASKSCOPE_CLI_OPTIONS_H
#define TASKSCOPE_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "collector/attach.h"
#include "collector/model.h"

#define TS_EXIT_OK 0
#define TS_EXIT_RUNTIME 1
#define TS_EXIT_USAGE 2

struct ts_record_options {
	const char *db_path;       /* NULL: a fresh name in the current directory */
	bool headless;
	double duration_s;         /* 0: until the target exits or the user quits */
	bool no_color;
	bool ascii;
	const char *child_log;     /* where the target's stdout/stderr go under the console */
	const char *serve;         /* --serve ADDR: remote consoles connect here; NULL: none */
	struct ts_model_config model;
	struct ts_context_options context; /* kernel context and lock mode */
};

/* Parse the recording options at argv[*idx...]; stops at "--" or the first
 * argument that is not an option. Returns 0, 1 when --help was asked, or
 * -EINVAL after printing one line saying what is wrong. */
int ts_record_options_parse(int argc, char **argv, int *idx, struct ts_record_options *o,
			    const char *cmd);

/* The part of --help that describes these options. */
void ts_record_options_help(FILE *out);

#endif /* TASKSCOPE_CLI_OPTIONS_H */
