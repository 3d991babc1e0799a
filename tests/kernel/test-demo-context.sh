#!/usr/bin/env bash
# test-demo-context.sh: `taskscope demo` as root records kernel context:
# the blocking task's polls raise blocking_in_poll naming clock_nanosleep
# and are mostly off the CPU; the spinning task's polls ran on it
# and its blocked_worker warning quotes a sampled stack with its function
# (spin_work); every poll after the attach has on_cpu_ns.
# --blocked-worker 50 so that a 150 ms spin meets a 100 ms tick; 9 s: four
# spins, as a loaded machine can delay a tick past one.
set -u
taskscope=$1
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root"; exit 77; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db=$work/demo.db
fails=0
check() { # description, then a command that must succeed
	local what=$1; shift
	if "$@"; then echo "ok - $what"; else echo "not ok - $what"; fails=$((fails + 1)); fi
}
q() { sqlite3 -batch -noheader "$db" "$1"; }

"$taskscope" demo --headless --duration 9 --blocked-worker 50 --db "$db" >"$work/out" 2>"$work/err"
code=$?
cat "$work/err"
if grep -q "no kernel context" "$work/err"; then echo "SKIP: $(cat "$work/err")"; exit 77; fi
check "demo exits 0" test "$code" -eq 0

polls=$(q "SELECT count(*) FROM poll_spans")
known=$(q "SELECT count(*) FROM poll_spans WHERE on_cpu_ns IS NOT NULL")
check "on_cpu_ns filled ($known of $polls polls)" test "$known" -ge $((polls * 9 / 10))
check "on_cpu_ns within the poll" test "$(q "SELECT count(*) FROM poll_spans
	WHERE on_cpu_ns < 0 OR on_cpu_ns > end_ns - start_ns")" -eq 0

sleeper="JOIN task_summary t USING (pid, task_id) WHERE t.name = 'blocking-sleeper'"
spinner="JOIN task_summary t USING (pid, task_id) WHERE t.name = 'cpu-spinner'"
check "blocking_in_poll names clock_nanosleep" test "$(q "SELECT count(*) FROM warnings w $sleeper
	AND w.kind = 'blocking_in_poll' AND w.detail LIKE 'clock_nanosleep %'
	AND w.duration_ns BETWEEN 150000000 AND 300000000")" -ge 1
check "sleeper polls mostly off the CPU" test "$(q "SELECT count(*) FROM poll_spans p $sleeper
	AND p.end_ns - p.start_ns >= 150000000 AND p.on_cpu_ns * 5 < p.end_ns - p.start_ns")" -ge 1
check "sleeper polls: none mostly on the CPU" test "$(q "SELECT count(*) FROM poll_spans p $sleeper
	AND p.end_ns - p.start_ns >= 150000000 AND p.on_cpu_ns * 2 > p.end_ns - p.start_ns")" -eq 0
# a 150 ms spin of wall time: all on the CPU when one is free, at least
# 15 ms of it on a loaded machine (the sleeper's polls: under 20%, above)
check "spinner polls ran on the CPU" test "$(q "SELECT count(*) FROM poll_spans p $spinner
	AND p.end_ns - p.start_ns >= 100000000 AND p.on_cpu_ns >= 15000000")" -ge 1
check "spinner: no blocking_in_poll for clock_nanosleep" test "$(q "SELECT count(*) FROM warnings w $spinner
	AND w.kind = 'blocking_in_poll' AND w.detail LIKE 'clock_nanosleep %'")" -eq 0
check "spinner's blocked_worker quotes spin_work on the CPU" test "$(q "SELECT count(*) FROM warnings w $spinner
	AND w.kind = 'blocked_worker' AND w.detail LIKE '%on-CPU: %spin_work%'")" -ge 1
check "sleeper's blocked_worker says where it sleeps" test "$(q "SELECT count(*) FROM warnings w $sleeper
	AND w.kind = 'blocked_worker' AND w.detail LIKE '%off-CPU in clock_nanosleep%'")" -ge 1
if [ "$fails" -ne 0 ]; then
	q "SELECT kind, detail FROM warnings WHERE kind IN ('blocked_worker', 'blocking_in_poll')" | head -20
fi
exit $((fails != 0))
