/*
 * options.c: parsing of the recording options shared by demo and run.
 * Each bad value gets one line that names the option and what it takes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "collector/warning.h"

static int parse_positive(const char *cmd, const char *opt, const char *val, double max, double *out)
{
	char *end;
	double v;

	if (!val) {
		fprintf(stderr, "taskscope %s: %s needs a value; see 'taskscope %s --help'\n", cmd, opt, cmd);
		return -EINVAL;
	}
	errno = 0;
	v = strtod(val, &end);
	if (errno || end == val || *end || !(v > 0) || v > max) {
		fprintf(stderr, "taskscope %s: %s takes a number greater than 0 and at most %g, not '%s'\n",
			cmd, opt, max, val);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

void ts_record_options_help(FILE *out)
{
	fputs("  --db FILE            record into FILE (default: taskscope-YYYYmmdd-HHMMSS.db here)\n"
	      "  --headless           no console: record only (for scripts and CI)\n"
	      "  --duration S         stop after S seconds (may be fractional)\n"
	      "  --long-poll MS       a poll this long raises long_poll (default 10)\n"
	      "  --never-yielded MS   a poll still running this long raises never_yielded (default 1000)\n"
	      "  --blocked-worker MS  a worker inside one poll this long raises blocked_worker (default 100)\n"
	      "  --lost-waker MS      idle with no live waker this long raises lost_waker (default 100)\n"
	      "  --contended-lock MS  a lock wait this long raises contended_lock (default 10)\n"
	      "  --self-wakes PCT     self_wakes above PCT% of a task's wakes (default 50)\n"
	      "  --blocking-syscall MS  one syscall off the CPU this long inside a poll raises\n"
	      "                       blocking_in_poll (default 1; needs kernel context)\n"
	      "  --loop-stall MS      an event-loop iteration this long raises loop_stall (default 100)\n"
	      "  --locks MODE         lock tracing: contended (default: only contended waits, free\n"
	      "                       when uncontended), full (every lock and unlock), off\n"
	      "  --no-kernel          no scheduler/syscall context (on when root or CAP_BPF+CAP_PERFMON)\n"
	      "  --allow KIND         turn a lint off (e.g. --allow self_wakes); repeatable; 'all' for all\n"
	      "  --warn KIND          turn a lint back on; repeatable\n"
	      "  --retention S        keep completed tasks in the console for S seconds (default 10)\n"
	      "  --serve ADDR         serve remote consoles ('taskscope console --connect ADDR') on a\n"
	      "                       Unix socket path or HOST:PORT on loopback\n"
	      "  --no-color           no colours (also when NO_COLOR is set)\n"
	      "  --ascii              ASCII only, even in a UTF-8 locale\n", out);
}

int ts_record_options_parse(int argc, char **argv, int *idx, struct ts_record_options *o, const char *cmd)
{
	ts_model_config_default(&o->model);
	o->context.kernel = true;
	o->context.locks = TS_LOCKS_CONTENDED;
	for (; *idx < argc; (*idx)++) {
		const char *a = argv[*idx];
		const char *val = *idx + 1 < argc ? argv[*idx + 1] : NULL;
		const char *eq = strchr(a, '=');
		bool inline_val = false;
		char name[64];
		double v;

		/* --opt=value is --opt value. */
		if (!strncmp(a, "--", 2) && eq && (size_t)(eq - a) < sizeof(name)) {
			memcpy(name, a, (size_t)(eq - a));
			name[eq - a] = 0;
			a = name;
			val = eq + 1;
			inline_val = true;
		}

		if (!strcmp(a, "--")) {
			if (!inline_val)
				(*idx)++;
			break;
		}
		if (a[0] != '-')
			break;
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 1;
		if (inline_val && (!strcmp(a, "--headless") || !strcmp(a, "--no-color") ||
				   !strcmp(a, "--ascii") || !strcmp(a, "--no-kernel"))) {
			fprintf(stderr, "taskscope %s: %s takes no value\n", cmd, a);
			return -EINVAL;
		}
		if (!strcmp(a, "--headless")) {
			o->headless = true;
		} else if (!strcmp(a, "--no-color")) {
			o->no_color = true;
		} else if (!strcmp(a, "--ascii")) {
			o->ascii = true;
		} else if (!strcmp(a, "--db")) {
			if (!val || !*val) {
				fprintf(stderr, "taskscope %s: --db needs a file name\n", cmd);
				return -EINVAL;
			}
			o->db_path = val;
			if (!inline_val)
				(*idx)++;
		} else if (!strcmp(a, "--duration")) {
			if (parse_positive(cmd, a, val, 1e7, &o->duration_s) < 0)
				return -EINVAL;
			if (!inline_val)
				(*idx)++;
		} else if (!strcmp(a, "--long-poll")) {
			if (parse_positive(cmd, a, val, 1e7, &v) < 0)
				return -EINVAL;
			o->model.lints.long_poll_ns = (uint64_t)(v * 1e6);
			if (!inline_val)
				(*idx)++;
		} else if (!strcmp(a, "--never-yielded")) {
			if (parse_positive(cmd, a, val, 1e7, &v) < 0)
				return -EINVAL;
			o->model.lints.never_yielded_ns = (uint64_t)(v * 1e6);
			if (!inline_val)
				(*idx)++;
		} else if (!strcmp(a, "--lost-waker")) {
			if (parse_positive(cmd, a, val, 1e7, &v) < 0)
				return -EINVAL;
			o->model.lints.lost_waker_grace_ns = (uint64_t)(v * 1e6);
			if (!inline_val)
				(*idx)++;
		} else if (!strcmp(a, "--blocked-worker")) {
			if (parse_positive(cmd, a, val, 1e7, &v) < 0)
				return -EINVAL;
			o->model.lints.blocked_worker_ns = (uint64_t)(v * 1e6);
			if (!inline_val)
				(*idx)++;
		} else if (!strcmp(a, "--contended-lock")) {
			if (parse_positive(cmd, a, val, 1e7, &v) < 0)
				return -EINVAL;
			o->model.lints.contended_lock_ns = (uint64_t)(v * 1e6);
			if (!inline_val)
				(*idx)++;
		} else if (!strcmp(a, "--self-wakes")) {
			if (parse_positive(cmd, a, val, 100, &v) < 0)
				return -EINVAL;
			o->model.lints.self_wake_ratio = v / 100.0;
			if (!inline_val)
				(*idx)++;
		} else if (!strcmp(a, "--blocking-syscall")) {
			if (parse_positive(cmd, a, val, 1e7, &v) < 0)
				return -EINVAL;
			o->model.lints.blocking_syscall_ns = (uint64_t)(v * 1e6);
			if (!inline_val)
				(*idx)++;
		} else if (!strcmp(a, "--loop-stall")) {
			if (parse_positive(cmd, a, val, 1e7, &v) < 0)
				return -EINVAL;
			o->model.lints.loop_stall_ns = (uint64_t)(v * 1e6);
			if (!inline_val)
				(*idx)++;
		} else if (!strcmp(a, "--no-kernel")) {
			o->context.kernel = false;
		} else if (!strcmp(a, "--locks")) {
			if (val && !strcmp(val, "contended"))
				o->context.locks = TS_LOCKS_CONTENDED;
			else if (val && !strcmp(val, "full"))
				o->context.locks = TS_LOCKS_FULL;
			else if (val && !strcmp(val, "off"))
				o->context.locks = TS_LOCKS_OFF;
			else {
				fprintf(stderr, "taskscope %s: --locks takes contended, full or off, not '%s'\n",
					cmd, val ? val : "");
				return -EINVAL;
			}
			if (!inline_val)
				(*idx)++;
		} else if (!strcmp(a, "--serve")) {
			if (!val || !*val) {
				fprintf(stderr, "taskscope %s: --serve needs a Unix socket path or HOST:PORT\n", cmd);
				return -EINVAL;
			}
			o->serve = val;
			if (!inline_val)
				(*idx)++;
		} else if (!strcmp(a, "--retention")) {
			if (parse_positive(cmd, a, val, 1e6, &v) < 0)
				return -EINVAL;
			o->model.retention_ns = (uint64_t)(v * 1e9);
			if (!inline_val)
				(*idx)++;
		} else if (!strcmp(a, "--allow") || !strcmp(a, "--warn")) {
			if (!val || ts_lint_config_set(&o->model.lints, val, !strcmp(a, "--warn")) < 0) {
				fprintf(stderr, "taskscope %s: %s takes a warning kind (long_poll, never_yielded, "
					"lost_waker, self_wakes, lock_held_across_await, task_panicked, "
					"events_dropped, ...), not '%s'\n", cmd, a, val ? val : "");
				return -EINVAL;
			}
			if (!inline_val)
				(*idx)++;
		} else {
			fprintf(stderr, "taskscope %s: unknown option '%s'; see 'taskscope %s --help'\n", cmd, a, cmd);
			return -EINVAL;
		}
	}
	return 0;
}
