/*
 * tokio_internal.h: what the Tokio attach's files share (bpf/tokio_*.c).
 *
 * tokio_elf.c finds Tokio's task functions in the ELF files a process
 * maps; tokio_tasks.c turns the BPF records into ts_events (task and
 * thread bookkeeping, spawn sites); tokio_source.c loads and attaches the
 * skeleton and is the collector source.
 */
#ifndef TASKSCOPE_BPF_TOKIO_INTERNAL_H
#define TASKSCOPE_BPF_TOKIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/tokio.h"
#include "collector/source.h"

struct ts_strpool;
struct ts_symbolizer;
struct tk_tasks;

/* The functions probed, by role. */
enum tk_fn {
	TK_FN_POLL,               /* tokio::runtime::task::raw::poll (one per future type) */
	TK_FN_DEALLOC,            /* tokio::runtime::task::raw::dealloc */
	TK_FN_CLONE_WAKER,        /* tokio::runtime::task::waker::clone_waker */
	TK_FN_DROP_WAKER,
	TK_FN_WAKE_BY_VAL,
	TK_FN_WAKE_BY_REF,
	TK_FN_BIND,               /* tokio::runtime::task::list::(Local)OwnedTasks::bind */
	TK_FN_SPAWN_BLOCKING,     /* spawn_blocking functions that return a JoinHandle */
	TK_FN_PANIC_CLEANUP,      /* std::panicking::{try,catch_unwind}::cleanup */
	TK_FN_COMPLETE,           /* tokio::runtime::task::state::State::transition_to_complete */
	TK_FN_COUNT,
};

struct tk_probe {
	enum tk_fn fn;
	uint32_t module;          /* index into tk_symbols.modules */
	uint64_t addr;            /* st_value */
	uint64_t offset;          /* file offset: what a uprobe is attached at */
};

struct tk_symbols {
	char **modules;           /* paths to attach at (/proc/PID/root/...) */
	size_t n_modules;
	struct tk_probe *probes;
	size_t n_probes, cap_probes;
	size_t count[TK_FN_COUNT];
	/* Addresses (st_value) of task drop glue that identical code folding
	 * shared between future types (not merely between schedulers): a
	 * name found there is ambiguous. */
	uint64_t *glue_shared;
	size_t n_glue_shared;
	/* scan scratch: every task drop glue symbol seen (address, type hash) */
	uint64_t (*glue)[2];
	size_t n_glue, cap_glue;
};

/* Scan the ELF files mapped executable by `pid`. Returns 0 with
 * count[TK_FN_POLL] > 0 for a Tokio program; 0 with no probes and a line
 * in `err` for a program without Tokio; -ENOEXEC with "no symbols: ..."
 * for a stripped Tokio program; -ESRCH when the process is gone. */
int ts_tokio_elf_scan(uint32_t pid, struct tk_symbols **out, char *err, size_t errlen);
void ts_tokio_symbols_free(struct tk_symbols *s);
const char *ts_tokio_fn_name(enum tk_fn fn);

/* Bytes into a function's code (`code`, `len` bytes from its entry) where
 * an entry probe is emulated rather than single-stepped and still sees
 * the arguments; 0 when the entry itself is best (tokio_insn.c). */
size_t ts_tokio_probe_point(const uint8_t *code, size_t len);

/* Future type names by a vtable's dealloc address (tokio_names.c). */
#define TK_NAMES 256
struct tk_names {
	uint64_t addr[TK_NAMES];
	const char *name[TK_NAMES];     /* NULL: no name found */
	const uint64_t *shared;         /* sorted st_values of shared drop glue */
	size_t n_shared;
};

/* The future type a task with this vtable dealloc runs, e.g.
 * "myserver::handle" (an async fn's future is named by the fn), or NULL. */
const char *ts_tokio_future_name(struct tk_names *c, uint32_t pid, struct ts_symbolizer *sym,
				 struct ts_strpool *pool, uint64_t dealloc_fn);
/* A live task's vtable dealloc, read from its header (Header::vtable,
 * then Vtable::dealloc) in pid's memory; 0 when unreadable. */
uint64_t ts_tokio_task_dealloc(uint32_t pid, uint64_t hdr);
/* The future type in a task's drop glue name ("core::ptr::drop_in_place<
 * tokio::runtime::task::core::Cell<F, S>>" -> F, simplified). */
bool ts_tokio_glue_type(const char *glue, char *out, size_t len);
/* Take the list of shared drop glue addresses (sorted; ownership moves). */
void ts_tokio_tasks_set_glue_shared(struct tk_tasks *t, uint64_t *addrs, size_t n);

/* Spawn sites (tokio_sites.c): a cache of resolved sites, by the hash of
 * their unwound return addresses. */
#define TK_SITES 512
struct tk_site {
	uint64_t hash;
	int n;
	const char *name, *loc;
};

/* The user's spawn site of a spawn record: *name the function, *loc
 * file:line (or the function); both NULL when it cannot be told. */
void ts_tokio_spawn_site(struct ts_symbolizer *sym, struct ts_strpool *pool, struct tk_site *sites,
			 const struct tk_spawn_rec *r, const char **name, const char **loc);

/* Loading and attaching (tokio_attach.c). */
struct tokio_bpf;
struct bpf_link;

struct tk_links {
	struct bpf_link **links;  /* perf-event uprobes (NULL for a uprobe_multi link) */
	int *fds;                 /* uprobe_multi link fds (-1 for a libbpf link) */
	size_t n;
};

/* Open and load the programs for `pid`; *multi: loaded for uprobe_multi.
 * Without `waker_probes` the waker program is not even loaded, and the
 * poll's return reads the task's state word instead (light mode). */
int ts_tokio_skel_load(uint32_t pid, bool waker_probes, struct tokio_bpf **out, bool *multi, char *err,
		       size_t errlen);
/* Attach every probe of `s` (hooks first, polls last). On failure the
 * caller frees `l`, which removes what was attached. -ESRCH: the process
 * exited meanwhile. */
int ts_tokio_links_attach(struct tk_links *l, struct tokio_bpf *skel, bool multi, const struct tk_symbols *s,
			  uint32_t pid, char *err, size_t errlen);
void ts_tokio_links_free(struct tk_links *l);

/* Records -> events (tokio_tasks.c). */
struct tk_tasks;

/* `waker_probes`: the wakes come from probes (full mode); else from the
 * state word at poll ends and the next poll (light mode). */
int ts_tokio_tasks_new(uint32_t pid, bool waker_probes, struct ts_strpool *pool, struct ts_symbolizer *sym,
		       struct tk_tasks **out);
void ts_tokio_tasks_free(struct tk_tasks *t);
/* A drain: take each ring buffer record (copied; untrusted size), then
 * the polls waiting in the slots' batches (ts_tokio_tasks_take_slots),
 * then flush: all of them, sorted by time, into events in `batch`. A
 * slot's polls reach user space after records sent later by other
 * threads (a task's drop, its next poll elsewhere), hence the sort. */
int ts_tokio_tasks_take(struct tk_tasks *t, const void *data, size_t size);
/* The polls in the slots' batches not taken yet. `slots` (n of them) is
 * the program's mmapped array, written while it is read (tokio.h says
 * how a copy is known whole). */
/* A slot found past the batch expected: the batch's record is on its way
 * (another record may hold up the ring buffer's reader), unless the ring
 * buffer was full (the kernel counted those polls as lost). After this
 * long it cannot be on its way any more. */
#define TK_BATCH_LOST_NS 200000000ull
int ts_tokio_tasks_take_slots(struct tk_tasks *t, const struct tk_slot *slots, size_t n, uint64_t now_ns);
int ts_tokio_tasks_flush(struct tk_tasks *t, struct ts_event_batch *batch);
/* Take one record and flush (tests). */
int ts_tokio_tasks_record(struct tk_tasks *t, const void *data, size_t size, struct ts_event_batch *batch);
/* Polls kept in slots (tokio.h): report the begin of
 * each that has been running for TK_EARLY_BEGIN_NS or longer at `now_ns`,
 * once, so that live lints and the console see it while it runs; the
 * poll's record then sends only its end. `slots` (n of them) is the
 * program's mmapped array, written while it is read: each slot is read
 * as a seqlock on its begin time, and checked. The delay keeps the begin
 * of a poll ended since the last drain inside the collector's reorder
 * window: 5 ms + a 20 ms drain period < TS_COLLECTOR_REORDER_NS. */
#define TK_EARLY_BEGIN_NS 5000000ull
int ts_tokio_tasks_scan(struct tk_tasks *t, const struct tk_slot *slots, size_t n, uint64_t now_ns,
			struct ts_event_batch *batch);
/* Light mode: read the state word of each task that has been idle for
 * TK_IDLE_CHECK_NS since a pending poll (and not woken with a time since),
 * once per idle period, in process_vm_readv calls of up to
 * TK_IDLE_READ_MAX tasks, and send its live waker count (TS_EV_WAKERS).
 * A word that cannot be an idle task's, or a task woken since, sends
 * nothing. Without permission to read the target's memory the counts stay
 * unknown (the attach said so: ts_tokio_memory_check). */
#define TK_IDLE_CHECK_NS 40000000ull
#define TK_IDLE_READ_MAX 512
int ts_tokio_tasks_check_idle(struct tk_tasks *t, uint64_t now_ns, struct ts_event_batch *batch);
/* Records that failed validation so far. */
uint64_t ts_tokio_tasks_rejected(const struct tk_tasks *t);
/* Light mode: idle tasks whose state word was unreadable or failed the
 * checks (their waker count stayed unknown; for tests). */
uint64_t ts_tokio_tasks_state_unknown(const struct tk_tasks *t);

/* Decode an idle task's state word (light mode, read from the target).
 * Returns false when it cannot be an idle task's state (running,
 * complete, cancelled, or a reference count below what the owner list,
 * the JoinHandle and a queued notification hold): then nothing is known.
 * Else *notified: woken and not polled yet; *wakers: references held by
 * wakers (and AbortHandles, which only make it larger). */
bool ts_tokio_state_decode(uint64_t state, bool *notified, uint64_t *wakers);

#endif /* TASKSCOPE_BPF_TOKIO_INTERNAL_H */
