/*
 * collector.h: the embedded collector.
 *
 * It owns the control socket that targets started by `taskscope run`
 * connect to, one shared-memory source per accepted target, the string
 * pool and the model. The caller owns the event loop: it polls
 * ts_collector_fd() (plus whatever else it watches, e.g. the terminal),
 * then calls ts_collector_handle_io() and, on a timer, ts_collector_drain()
 * and ts_model_tick(). One misbehaving target costs only its own data: a
 * bad Hello or a bad memfd is refused with one line and the others keep
 * being served.
 */
#ifndef TASKSCOPE_COLLECTOR_H
#define TASKSCOPE_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/model.h"
#include "collector/source.h"

struct ts_strpool;

struct ts_collector;

#define TS_COLLECTOR_REORDER_NS 50000000ull /* 50 ms */

struct ts_collector_options {
	const char *socket_path;          /* where targets connect; NULL: no socket (attach) */
	/* Events younger than this are held back to the next drain, so that
	 * events of different sources (read one after another, some readable
	 * only a while after they were stamped) reach the model in time order;
	 * the model's lints judge it at now minus this. 0: apply each drain
	 * whole (tests that drive the collector by hand). Sessions use
	 * TS_COLLECTOR_REORDER_NS. */
	uint64_t reorder_window_ns;
	struct ts_model_config model;
	struct ts_model_sink sink;        /* where the model's output goes (storage) */
	void *ctx;                        /* passed to the three callbacks below */
	/* Called when a target is accepted and when it detaches (with its
	 * final event and drop counts), and with its drop total whenever that
	 * changes (may be NULL). */
	void (*process_changed)(void *ctx, const struct ts_process *p);
	void (*drops_changed)(void *ctx, uint32_t pid, const char *source, uint64_t total);
	/* Called with one line for each target refused or lost (may be NULL). */
	void (*log)(void *ctx, const char *line);
};

struct ts_collector_stats {
	uint64_t events;          /* events applied to the model */
	uint64_t dropped;         /* events lost: target ring drops + rejected + corrupt */
	uint32_t targets;         /* targets attached now */
	uint32_t targets_seen;    /* targets ever accepted */
	uint32_t refused;         /* connections refused */
};

int ts_collector_new(const struct ts_collector_options *o, struct ts_collector **out, char *err, size_t errlen);
void ts_collector_free(struct ts_collector *c);

/* An fd (epoll) that is readable when a target connects, speaks or hangs up. */
int ts_collector_fd(const struct ts_collector *c);

/* Add a source (source.h). The collector owns `src` and d->watch_fd from
 * then on, also when it fails (it frees them). A source with a pid
 * registers that process (processes.source = d->kind). Fails with -errno
 * and one line in `err`. */
int ts_collector_add_source(struct ts_collector *c, const struct ts_source_desc *d,
			    const struct ts_source_ops *ops, void *src, uint64_t now_ns,
			    char *err, size_t errlen);

/* The symbolizer of process `pid`, shared by all of its sources (each
 * would otherwise load the same DWARF, and stall the drain as long, on
 * its first lookups). *out holds a reference of its own: the source drops
 * it with ts_symbolizer_free(). The collector drops its own when a target
 * of that pid is removed. Fails as ts_symbolizer_new() does. */
struct ts_symbolizer;
int ts_collector_symbolizer(struct ts_collector *c, uint32_t pid, struct ts_symbolizer **out, char *err,
			    size_t errlen);

/* Accept new targets and notice departed ones; never blocks for long. */
int ts_collector_handle_io(struct ts_collector *c, uint64_t now_ns);

/* Move every record out of every target's rings into the model. Returns
 * the number of events applied. */
int ts_collector_drain(struct ts_collector *c, uint64_t now_ns);

/* Tick the model (lints, retention) and report drop totals. */
void ts_collector_tick(struct ts_collector *c, uint64_t now_ns);

/* Final drain, flush every task's state to storage, detach all targets. */
void ts_collector_finish(struct ts_collector *c, uint64_t now_ns);

struct ts_model *ts_collector_model(struct ts_collector *c);
/* The string pool events' strings must live in (collector lifetime). */
struct ts_strpool *ts_collector_strpool(struct ts_collector *c);
void ts_collector_get_stats(const struct ts_collector *c, struct ts_collector_stats *out);

uint64_t ts_now_ns(void);

#endif /* TASKSCOPE_COLLECTOR_H */
