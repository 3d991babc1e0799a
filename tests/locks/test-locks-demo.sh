#!/usr/bin/env bash
# test-locks-demo.sh: lock tracing on the demo (needs root): `taskscope demo
# --locks=full` records the pthread mutex under minirt's "db-mutex" through
# BPF uprobes. Its lock-holder task returns pending holding it while
# lock-waiter blocks on it: lock_held_across_await must name the BPF-seen
# lock by its call site, the holder task and the waiting task; the lock's
# spans belong to tasks. With --locks=contended the same mutex shows up
# only through its contended waits.
set -u
taskscope=$1
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root"; exit 77; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() { # description, then a command that must succeed
	local what=$1; shift
	if "$@"; then echo "ok - $what"; else echo "not ok - $what"; fails=$((fails + 1)); fi
}
q() { sqlite3 -batch -noheader "$db" "$1"; }

db=$work/full.db
"$taskscope" demo --headless --duration 3 --no-kernel --locks=full --db "$db" >"$work/out" 2>"$work/err"
code=$?
if grep -q "no lock tracing" "$work/err"; then cat "$work/err"; echo "SKIP: no lock tracing here"; exit 77; fi
check "full: demo exits 0" test "$code" -eq 0
check "full: lock_held_across_await names holder, BPF lock and waiter" \
	test "$(q "SELECT count(*) FROM warnings WHERE kind = 'lock_held_across_await'
		AND detail LIKE 'task % ''lock-holder'' holds mutex ''minirt_mutex_lock'' (%mutex.c:%) across await; waiting: task % ''lock-waiter''%'
		AND task_id = (SELECT task_id FROM task_summary WHERE name = 'lock-holder')
		AND duration_ns > 0")" -ge 1
check "full: the BPF lock's holds belong to the holder and waiter tasks" \
	test "$(q "SELECT count(DISTINCT t.name) FROM lock_spans l JOIN task_summary t USING (pid, task_id)
		WHERE l.lock_name = 'minirt_mutex_lock' AND t.name IN ('lock-holder', 'lock-waiter')")" -eq 2
check "full: some of its acquisitions waited" \
	test "$(q "SELECT count(*) FROM lock_spans WHERE lock_name = 'minirt_mutex_lock' AND wait_start_ns IS NOT NULL")" -ge 1
check "full: the shim's own db-mutex spans still have their waits" \
	test "$(q "SELECT count(*) FROM lock_spans WHERE lock_name LIKE '%db-mutex%' AND wait_start_ns IS NOT NULL")" -ge 1
# the runtime's pthread locks (not the shim's db-mutex and metrics): each named by
# whichever call site took it first, so counted all together
bpf_spans="SELECT count(*) FROM lock_spans WHERE lock_name NOT IN ('db-mutex', 'metrics')"
full_all=$(q "$bpf_spans")
check "full: the runtime's pthread locks, every hold ($full_all)" test "$full_all" -ge 1000

db=$work/contended.db
"$taskscope" demo --headless --duration 3 --no-kernel --locks=contended --db "$db" >"$work/out" 2>"$work/err"
code=$?
check "contended: demo exits 0" test "$code" -eq 0
check "contended: waits on the mutex, named by its call site" \
	test "$(q "SELECT count(*) FROM lock_spans WHERE lock_name = 'minirt_mutex_lock' AND wait_start_ns IS NOT NULL")" -ge 1
cont_all=$(q "$bpf_spans")
check "contended: contended holds only ($cont_all)" test "$cont_all" -lt $((full_all / 5))
check "contended: every row started with a wait, or a waiter saw it held" \
	test "$(q "SELECT count(*) FROM lock_spans WHERE lock_name = 'minirt_mutex_lock' AND acquired_ns > released_ns")" -eq 0
exit $((fails > 0))
