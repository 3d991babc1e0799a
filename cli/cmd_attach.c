/*
 * cmd_attach.c: `taskscope attach [options] PID`: watch a process that is
 * already running, without restarting it.
 *
 * It decides how to get in (collector/attach.h): a shim waiting for a
 * collector first, then Tokio's task functions through uprobes, then the
 * generic event-loop view. --mode forces one; --waker-probes picks the
 * Tokio attach's full mode. Every check that can fail
 * (no such process, no privilege, no BTF, a stripped binary) is made
 * before anything is attached, so a refusal leaves the target untouched.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/locks_source.h"
#include "cli/commands.h"
#include "cli/session.h"
#include "collector/attach.h"
#include "collector/collector.h"

enum mode { MODE_AUTO, MODE_SHIM, MODE_TOKIO, MODE_GENERIC };

struct attach_plan {
	uint32_t pid;
	enum mode mode;               /* resolved: never MODE_AUTO */
	const struct ts_record_options *opt;
	bool context;                 /* add kernel context beside the main source */
	struct ts_tokio_options tokio;
};

static void usage(FILE *out)
{
	fputs("usage: taskscope attach [options] PID\n"
	      "Watch the tasks of a running process, without restarting it. How:\n"
	      "  shim       the process links libtaskscope: its shim turns recording on and sends a\n"
	      "             snapshot of the tasks alive now (same user as the process is enough)\n"
	      "  tokio      an unmodified Tokio binary with symbols: uprobes on Tokio's task functions;\n"
	      "             tasks alive before the attach appear at their next poll or wake\n"
	      "  generic    any other event loop: scheduler and syscall tracepoints find the threads\n"
	      "             that wait in epoll/poll/select/io_uring and flag stalled iterations\n"
	      "tokio and generic need root or CAP_BPF+CAP_PERFMON and a kernel with BTF. Detaching\n"
	      "(q, Ctrl-C, SIGTERM, --duration) removes every probe; the process keeps running.\n"
	      "The cost to the target is described in docs/cli.md.\n\n"
	      "options:\n"
	      "  --mode MODE          auto (default), shim, tokio or generic\n"
	      "  --waker-probes       tokio only: also probe the waker functions (exact wake times,\n"
	      "                       scheduled time, waker clones and drops) at about twice the cost\n"
	      "                       per poll; by default only wake_by_ref is probed (self-wakes),\n"
	      "                       other wakes are counted at the next poll, and an idle task's\n"
	      "                       live wakers are read from its state in memory (docs/cli.md)\n", out);
	ts_record_options_help(out);
}

static int parse_mode(const char *val, enum mode *out)
{
	static const char *names[] = { "auto", "shim", "tokio", "generic" };

	for (size_t i = 0; val && i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(val, names[i])) {
			*out = (enum mode)i;
			return 0;
		}
	}
	fprintf(stderr, "taskscope attach: --mode takes auto, shim, tokio or generic, not '%s'\n", val ? val : "");
	return -EINVAL;
}

static int parse_pid(const char *s, uint32_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 0x3fffffff) {
		fprintf(stderr, "taskscope attach: '%s' is not a process id; usage: taskscope attach [options] PID\n", s);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Decide the way in; prints one line and returns -errno when there is none. */
static int plan(struct attach_plan *p, enum mode forced)
{
	char err[512] = "";
	int r;

	if (kill((pid_t)p->pid, 0) < 0 && errno == ESRCH) {
		fprintf(stderr, "taskscope attach: no process with pid %u\n", p->pid);
		return -ESRCH;
	}
	if (forced == MODE_AUTO || forced == MODE_SHIM) {
		r = ts_shim_attach_probe(p->pid);
		if (r > 0) {
			p->mode = MODE_SHIM;
			p->context = p->opt->context.kernel && ts_attach_check_bpf(err, sizeof(err)) == 0;
			return 0;
		}
		if (forced == MODE_SHIM) {
			fprintf(stderr, "taskscope attach: pid %u has no taskscope shim waiting for a collector "
				"(is it linked with libtaskscope?)\n", p->pid);
			return -ENOENT;
		}
	}
	r = ts_attach_check_bpf(err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "taskscope attach: %s\n", err);
		return r;
	}
	p->context = p->opt->context.kernel;
	if (forced == MODE_GENERIC) {
		p->mode = MODE_GENERIC;
		return 0;
	}
	r = ts_tokio_probe(p->pid, err, sizeof(err));
	if (r > 0) {
		p->mode = MODE_TOKIO;
		return 0;
	}
	if (r < 0 || forced == MODE_TOKIO) {
		fprintf(stderr, "taskscope attach: %s\n", err[0] ? err : "cannot attach to Tokio");
		return r < 0 ? r : -ENOENT;
	}
	p->mode = MODE_GENERIC;
	return 0;
}

/* Lock tracing (--locks, bpf/locks_source.c) beside whichever source, when
 * BPF is allowed: a bonus too. */
static void attach_locks(const struct attach_plan *p, struct ts_collector *c, uint64_t now)
{
	char err[512] = "";

	if (p->opt->context.locks == TS_LOCKS_OFF || ts_attach_check_bpf(err, sizeof(err)) < 0)
		return;
	if (ts_locks_attach(c, p->pid, p->opt->context.locks, now, err, sizeof(err)) < 0)
		fprintf(stderr, "taskscope attach: no lock tracing: %s\n", err);
}

static int do_attach(void *ctx, struct ts_collector *c, char *err, size_t errlen)
{
	struct attach_plan *p = ctx;
	uint64_t now = ts_now_ns();
	char ctx_err[512] = "";
	int r;

	switch (p->mode) {
	case MODE_SHIM:
		r = ts_shim_attach(c, p->pid, now, err, errlen);
		break;
	case MODE_TOKIO:
		r = ts_tokio_attach(c, p->pid, &p->tokio, now, err, errlen);
		if (r == 0 && !p->tokio.waker_probes && ts_tokio_memory_check(p->pid, ctx_err, sizeof(ctx_err)) < 0)
			fprintf(stderr, "taskscope attach: %s\n", ctx_err);
		break;
	default:
		r = ts_generic_attach(c, p->pid, &p->opt->context, now, err, errlen);
		if (r == 0)
			attach_locks(p, c, now);
		return r;
	}
	if (r < 0)
		return r;
	/* Context is a bonus: without it the tasks are still there. */
	if (p->context && ts_kernel_context_attach(c, p->pid, &p->opt->context, now, ctx_err, sizeof(ctx_err)) < 0)
		fprintf(stderr, "taskscope attach: no kernel context: %s\n", ctx_err);
	attach_locks(p, c, now);
	return 0;
}

int ts_cmd_attach(int argc, char **argv)
{
	struct ts_record_options o = { 0 };
	struct attach_plan p = { .opt = &o };
	enum mode forced = MODE_AUTO;
	char label[64];
	int idx = 0;
	int r;

	/* --mode is attach's own; the rest are the recording options. */
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int nrest = 0;

	if (!rest)
		return TS_EXIT_RUNTIME;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			while (i < argc)
				rest[nrest++] = argv[i++];
			break;
		}
		if (!strcmp(argv[i], "--waker-probes")) {
			p.tokio.waker_probes = true;
			continue;
		}
		if (!strcmp(argv[i], "--mode") || !strncmp(argv[i], "--mode=", 7)) {
			const char *val = argv[i][6] == '=' ? argv[i] + 7 : (i + 1 < argc ? argv[++i] : NULL);

			if (parse_mode(val, &forced) < 0) {
				free(rest);
				return TS_EXIT_USAGE;
			}
			continue;
		}
		rest[nrest++] = argv[i];
	}
	r = ts_record_options_parse(nrest, rest, &idx, &o, "attach");
	argc = nrest;
	argv = rest;
	if (r != 0) {
		free(rest);
		if (r == 1)
			usage(stdout);
		return r == 1 ? TS_EXIT_OK : TS_EXIT_USAGE;
	}
	if (idx >= argc) {
		fprintf(stderr, "taskscope attach: no pid given; usage: taskscope attach [options] PID\n");
		r = TS_EXIT_USAGE;
	} else if (idx + 1 < argc) {
		fprintf(stderr, "taskscope attach: one pid only, not '%s'\n", argv[idx + 1]);
		r = TS_EXIT_USAGE;
	} else if (parse_pid(argv[idx], &p.pid) < 0) {
		r = TS_EXIT_USAGE;
	} else if (plan(&p, forced) < 0) {
		r = TS_EXIT_RUNTIME;
	} else {
		if (p.tokio.waker_probes && p.mode != MODE_TOKIO)
			fprintf(stderr, "taskscope attach: --waker-probes applies to Tokio programs only; "
				"pid %u is attached as %s without it\n", p.pid, p.mode == MODE_SHIM ? "shim" : "generic");
		snprintf(label, sizeof(label), "pid %u", p.pid);
		r = ts_session_attach(&o, (int)p.pid, do_attach, &p, label, "attach");
	}
	free(rest);
	return r;
}
