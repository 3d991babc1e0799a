#!/usr/bin/env bash
# test-demo.sh: `taskscope demo --headless --duration 5 --db X`, then SQL
# over the recording: every footgun produced its warning, the healthy
# tasks produced none, names and locations are filled, every poll span is
# stored, and `taskscope query` answers.
set -u
taskscope=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db=$work/demo.db
fails=0
check() { # description, then a command that must succeed
	local what=$1; shift
	if "$@"; then echo "ok - $what"; else echo "not ok - $what"; fails=$((fails + 1)); fi
}
q() { sqlite3 -batch -noheader "$db" "$1"; }

"$taskscope" demo --headless --duration 5 --db "$db" >"$work/out" 2>"$work/err"
code=$?
cat "$work/err"
check "demo exits 0" test "$code" -eq 0
check "prints the database path" grep -q "recording: $db" "$work/out"
check "database exists" test -s "$db"
check "integrity" test "$(q 'PRAGMA integrity_check')" = ok

check "one shim process" test "$(q "SELECT count(*) FROM processes WHERE source = 'shim'")" -eq 1
check "worker threads" test "$(q "SELECT count(*) FROM threads WHERE role = 'worker'")" -ge 2
check "hundreds of tasks" test "$(q 'SELECT count(*) FROM task_summary')" -ge 300
check "every task has a name" test "$(q "SELECT count(*) FROM task_summary WHERE name IS NULL OR name = ''")" -eq 0
check "every task has a location" test "$(q "SELECT count(*) FROM task_summary WHERE location NOT LIKE '%.c:%'")" -eq 0
check "every poll is stored" test "$(q 'SELECT sum(polls) FROM task_summary')" = "$(q 'SELECT count(*) FROM poll_spans')"
check "short-lived tasks completed" test "$(q "SELECT count(*) FROM task_summary WHERE outcome = 'ok'")" -ge 100

has_warning() { # task name, warning kind
	test "$(q "SELECT count(*) FROM warnings w JOIN task_summary t USING (pid, task_id)
	           WHERE t.name = '$1' AND w.kind = '$2'")" -ge 1
}
check "blocking-sleeper: long_poll" has_warning blocking-sleeper long_poll
check "cpu-spinner: long_poll" has_warning cpu-spinner long_poll
check "lock-holder: lock_held_across_await" has_warning lock-holder lock_held_across_await
check "lost-waker: lost_waker" has_warning lost-waker lost_waker
check "self-waker: self_wakes" has_warning self-waker self_wakes
check "panicker: task_panicked" has_warning panicker task_panicked
check "panicker: outcome panicked" test "$(q "SELECT count(*) FROM task_summary WHERE name = 'panicker' AND outcome = 'panicked'")" -ge 1
check "lock spans of db-mutex with a wait" \
	test "$(q "SELECT count(*) FROM lock_spans WHERE lock_name LIKE '%db-mutex%' AND wait_start_ns IS NOT NULL AND acquired_ns > wait_start_ns")" -ge 1
healthy=$(q "SELECT count(*) FROM warnings w JOIN task_summary t USING (pid, task_id)
            WHERE t.name NOT IN ('blocking-sleeper', 'cpu-spinner', 'lock-holder', 'lock-waiter',
                                 'lost-waker', 'self-waker', 'panicker')")
check "healthy tasks have no warnings (found $healthy)" test "$healthy" -eq 0
# a failure names them, so that a rare one can be told from load
[ "$healthy" -eq 0 ] || q "SELECT t.name, w.kind, w.detail FROM warnings w JOIN task_summary t USING (pid, task_id)
	WHERE t.name NOT IN ('blocking-sleeper', 'cpu-spinner', 'lock-holder', 'lock-waiter',
	                     'lost-waker', 'self-waker', 'panicker')"
check "long polls are long" test "$(q "SELECT min(duration_ns) FROM warnings WHERE kind = 'long_poll'")" -ge 10000000

json=$("$taskscope" query --db "$db" --json "SELECT count(*) AS n FROM warnings WHERE kind = 'task_panicked'")
check "query --json answers" grep -Eq '"n": ?[1-9]' <<<"$json"

# Lint options are honoured: a lint turned off, and a threshold raised.
db2=$work/quiet.db
"$taskscope" demo --headless --duration 3 --db "$db2" --allow long_poll --blocked-worker 5000 >/dev/null 2>&1
check "--allow long_poll: none raised" test "$(sqlite3 "$db2" "SELECT count(*) FROM warnings WHERE kind = 'long_poll'")" -eq 0
check "--blocked-worker 5000: none raised" test "$(sqlite3 "$db2" "SELECT count(*) FROM warnings WHERE kind = 'blocked_worker'")" -eq 0
check "other lints still on" test "$(sqlite3 "$db2" "SELECT count(*) FROM warnings WHERE kind = 'task_panicked'")" -ge 1

echo "$fails failed"
test "$fails" -eq 0
