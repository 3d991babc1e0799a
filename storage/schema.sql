-- schema.sql: the taskscope recording format (schema version 1).
--
-- Users query the VIEWS at the bottom (the SQL contract, documented in
-- docs/schema.md); the t_* tables behind them are private and may change
-- between schema versions. Every statement is idempotent (IF NOT EXISTS /
-- OR IGNORE) so two collectors racing to create the same file both succeed.
-- Times are CLOCK_MONOTONIC nanoseconds unless a name says otherwise.
-- The embedding code sets PRAGMA application_id and user_version and fills
-- the meta table in the same transaction.

CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT
);

CREATE TABLE IF NOT EXISTS t_processes (
	pid            INTEGER NOT NULL,
	started_ns     INTEGER NOT NULL,
	exe            TEXT,
	runtime        TEXT,
	source         TEXT NOT NULL,
	events         INTEGER NOT NULL DEFAULT 0,
	events_dropped INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (pid, started_ns)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS t_threads (
	pid  INTEGER NOT NULL,
	tid  INTEGER NOT NULL,
	name TEXT NOT NULL,
	role TEXT NOT NULL,
	PRIMARY KEY (pid, tid)
) WITHOUT ROWID;

-- One row per task life: a re-used id is a new row. A life is named by the
-- recording session (the writer's open time) and the model's life counter,
-- so that a task's spawn that arrives after its first events updates the
-- same row rather than starting another one.
CREATE TABLE IF NOT EXISTS t_tasks (
	pid          INTEGER NOT NULL,
	task_id      INTEGER NOT NULL,
	session      INTEGER NOT NULL,
	life         INTEGER NOT NULL,
	spawned_ns   INTEGER NOT NULL,
	parent_id    INTEGER,
	name         TEXT NOT NULL,
	location     TEXT NOT NULL,
	kind         TEXT NOT NULL,
	dropped_ns   INTEGER,
	outcome      TEXT NOT NULL,
	polls        INTEGER NOT NULL,
	busy_ns      INTEGER NOT NULL,
	sched_ns     INTEGER NOT NULL,
	idle_ns      INTEGER NOT NULL,
	wakes        INTEGER NOT NULL,
	self_wakes   INTEGER NOT NULL,
	waker_clones INTEGER NOT NULL,
	waker_drops  INTEGER NOT NULL,
	max_poll_ns  INTEGER NOT NULL,
	PRIMARY KEY (pid, task_id, session, life)
) WITHOUT ROWID;

-- The high-volume tables: rowid tables with no secondary index, so an
-- insert is one append to one b-tree.
CREATE TABLE IF NOT EXISTS t_poll_spans (
	pid       INTEGER NOT NULL,
	task_id   INTEGER NOT NULL,
	tid       INTEGER NOT NULL,
	start_ns  INTEGER NOT NULL,
	end_ns    INTEGER NOT NULL,
	on_cpu_ns INTEGER,
	ready     INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS t_lock_spans (
	pid           INTEGER NOT NULL,
	lock_id       INTEGER NOT NULL,
	lock_name     TEXT NOT NULL,
	task_id       INTEGER,
	tid           INTEGER NOT NULL,
	wait_start_ns INTEGER,
	acquired_ns   INTEGER NOT NULL,
	released_ns   INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS t_warnings (
	pid         INTEGER NOT NULL,
	task_id     INTEGER,
	tid         INTEGER,
	kind        TEXT NOT NULL,
	ts_ns       INTEGER NOT NULL,
	duration_ns INTEGER,
	detail      TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS t_drops (
	pid            INTEGER NOT NULL,
	source         TEXT NOT NULL,
	events_dropped INTEGER NOT NULL,
	PRIMARY KEY (pid, source)
) WITHOUT ROWID;

-- Public views: the SQL contract.

CREATE VIEW IF NOT EXISTS processes AS
	SELECT pid, exe, runtime, source, started_ns, events, events_dropped
	FROM t_processes;

CREATE VIEW IF NOT EXISTS threads AS
	SELECT pid, tid, name, role FROM t_threads;

CREATE VIEW IF NOT EXISTS task_summary AS
	SELECT pid, task_id, parent_id, name, location, kind, spawned_ns, dropped_ns, outcome,
	       polls, busy_ns, sched_ns, idle_ns, wakes, self_wakes, max_poll_ns,
	       waker_clones, waker_drops
	FROM t_tasks;

CREATE VIEW IF NOT EXISTS poll_spans AS
	SELECT pid, task_id, tid, start_ns, end_ns, end_ns - start_ns AS duration_ns,
	       on_cpu_ns, ready
	FROM t_poll_spans;

CREATE VIEW IF NOT EXISTS lock_spans AS
	SELECT pid, lock_id, lock_name, task_id, tid, wait_start_ns, acquired_ns, released_ns,
	       CASE WHEN wait_start_ns IS NULL THEN 0 ELSE acquired_ns - wait_start_ns END AS wait_ns,
	       released_ns - acquired_ns AS hold_ns
	FROM t_lock_spans;

CREATE VIEW IF NOT EXISTS warnings AS
	SELECT pid, task_id, tid, kind, ts_ns, duration_ns, detail FROM t_warnings;

CREATE VIEW IF NOT EXISTS drops AS
	SELECT pid, source, events_dropped FROM t_drops;
