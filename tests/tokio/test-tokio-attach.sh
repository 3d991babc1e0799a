#!/usr/bin/env bash
# test-tokio-attach.sh: attach to a running, unmodified Tokio program
# (tk-test, built from prog/ with no taskscope in it) and check the
# recording against what the program says it did:
#  - processes.source is tokio-bpf; every task it spawned after the attach
#    is there once, at its own spawn line in src/bin/tk-test.rs; alpha and
#    beta are named by their future types (tk_test::Counted<tk_test::alpha..>);
#    a task spawned before the attach appears at its polls, with no location,
#    named by its future type (tk_test::early, read from its header);
#  - each task's polls equal the program's own count (Counted wrapper),
#    within 1% or 1 poll (tolerance for events lost, which should be none),
#    also for local, a LocalSet task polled inside nested's poll (polls
#    nested on one thread: with one record per poll, the inner ones fall
#    back to begin/end records);
#  - long_poll on sleeper and spinner and on no other task; blocked_worker
#    on both, raised while their 150 ms poll still ran (a live lint: with
#    one record per poll, the begin comes from the slot scan); task_panicked
#    and outcome panicked on the panicker; lost_waker on the loser;
#    outcome cancelled for the aborted task;
#  - the default mode (no --waker-probes): of the waker functions only
#    wake_by_ref is probed, so no waker clone reaches the recording; the
#    selfwaker's wake_by_ref calls inside its polls are self-wakes (all 50
#    of them; its timer's wake is not one) and it gets the self_wakes
#    warning; beta's 100 yield_now wakes (deferred by Tokio until after the
#    poll, by value) are counted as wakes, not self-wakes; the loser's
#    lost_waker comes from its state word, read while it is idle;
#  - the spawn_blocking task is kind blocking and its thread role blocking;
#    the runtime's workers are role worker, named tokio-runtime-w;
#  - after the detach no probe of ours is loaded, and the program keeps
#    running, spawns more tasks and exits 0 on its own.
set -u
taskscope=$1
build=$2
. "$(dirname "$0")/lib.sh"
tk_setup "$build"
db=$work/tk.db

"$tk_bin/tk-test" workload "$work" >"$work/out" 2>"$work/err" &
prog=$!
tk_pids+=("$prog")
tk_wait_exec "$prog" "$tk_bin/tk-test"
# --long-poll 50: the two slow tasks take 150 ms; on a loaded 2-CPU machine
# an ordinary poll preempted for a while must not count as long;
# --blocked-worker 30: raised 30 ms into the 150 ms polls, with 120 ms for
# the collector's 10 Hz tick to see it. --no-kernel: this checks the live
# path (the slot scan). With kernel context the first stacks' symbolization
# can stall the collector past these polls, and the model then judges them
# at their end (stamped when they crossed the threshold), which would hide
# a broken scan; tests/kernel covers kernel context on this program.
"$taskscope" attach --headless --duration 8 --long-poll 50 --blocked-worker 30 --no-kernel --db "$db" "$prog" >"$work/ts.out" 2>"$work/ts.err" &
ts=$!
tk_pids+=("$ts")
# loaded, then a margin for the links (attached right after the load)
tk_wait_loaded "$ts" && sleep 1
touch "$work/go"
for _ in $(seq 1 300); do
	[ -e "$work/workload-done" ] && break
	kill -0 "$ts" 2>/dev/null || break
	sleep 0.1
done
check "the workload ran while attached" test -e "$work/workload-done"
check "our probes are loaded while attached" test "$(tk_progs_loaded)" -gt 0
wait "$ts"
code=$?
cat "$work/ts.err"
check "attach exits 0" test "$code" -eq 0
check "no probe of ours left after the detach" tk_wait_unloaded
touch "$work/stop"
wait "$prog"
pcode=$?
check "the program exits 0 after the detach" test "$pcode" -eq 0
check "the program ran its tasks after the detach" grep -qx "exit ok" "$work/out"

check "processes.source is tokio-bpf" test "$(q "SELECT source || '/' || runtime FROM processes WHERE pid = $prog")" = "tokio-bpf/tokio"

# The program prints "line NAME N" for each spawn and "polls NAME N".
at() { # tasks spawned at NAME's line; $2: the task_summary alias, if any
	local line p=${2:+$2.}
	line=$(awk -v n="$1" '$1 == "line" && $2 == n { print $3; exit }' "$work/out")
	echo "${p}pid = $prog AND ${p}location LIKE '%tk-test.rs:$line'"
}
for name in alpha beta sleeper spinner panicker loser aborted selfwaker blocking nested local; do
	check "one task at $name's spawn line" test "$(q "SELECT count(*) FROM task_summary WHERE $(at $name)")" -eq 1
done
for name in alpha beta; do
	check "$name's task is named by its future type" test "$(q "SELECT count(*) FROM task_summary
		WHERE $(at $name) AND name LIKE '%tk_test::%$name%'")" -eq 1
done
check "a task spawned before the attach appears at its polls, named by its future type, without a spawn site" \
	test "$(q "SELECT count(*) FROM task_summary WHERE pid = $prog AND location = '' AND polls >= 5
		AND name LIKE '%tk_test::early%'")" -eq 1
check "200 short tasks at their spawn line" test "$(q "SELECT count(*) FROM task_summary WHERE $(at short)")" -eq 200

for name in alpha beta sleeper spinner panicker loser short selfwaker nested local; do
	want=$(awk -v n="$name" '$1 == "polls" && $2 == n { print $3 }' "$work/out")
	got=$(q "SELECT coalesce(sum(polls), 0) FROM task_summary WHERE $(at $name)")
	tol=$(( want / 100 > 1 ? want / 100 : 1 ))
	check "$name: $got polls recorded, the program counted $want (+-$tol)" \
		test "$(( got > want ? got - want : want - got ))" -le "$tol"
done

long=$(q "SELECT group_concat(name) FROM (SELECT DISTINCT s.location AS name FROM warnings w
	JOIN task_summary s USING (pid, task_id) WHERE w.kind = 'long_poll' ORDER BY 1)")
want_long=$(q "SELECT group_concat(location) FROM (SELECT location FROM task_summary
	WHERE ($(at sleeper)) OR ($(at spinner)) ORDER BY 1)")
check "long_poll on sleeper and spinner only ($long)" test "$long" = "$want_long"
for name in sleeper spinner; do
	check "blocked_worker on $name, raised while its long poll still ran" test "$(q "SELECT count(*)
		FROM warnings w JOIN task_summary s USING (pid, task_id)
		JOIN poll_spans p ON p.pid = w.pid AND p.task_id = w.task_id AND p.duration_ns > 100000000
		WHERE w.kind = 'blocked_worker' AND $(at $name s) AND w.ts_ns > p.start_ns AND w.ts_ns < p.end_ns")" -ge 1
done
check "task_panicked on the panicker" test "$(q "SELECT count(*) FROM warnings w JOIN task_summary s
	USING (pid, task_id) WHERE w.kind = 'task_panicked' AND $(at panicker)")" -eq 1
check "no other task_panicked" test "$(q "SELECT count(*) FROM warnings WHERE kind = 'task_panicked'")" -eq 1
check "the panicker's outcome is panicked" test "$(q "SELECT outcome FROM task_summary WHERE $(at panicker)")" = panicked
check "the aborted task's outcome is cancelled" test "$(q "SELECT outcome FROM task_summary WHERE $(at aborted)")" = cancelled
check "the aborted task: its polls and the cancelling one" test "$(q "SELECT polls FROM task_summary WHERE $(at aborted)")" -eq \
	$(( $(awk '$1 == "polls" && $2 == "aborted" { print $3 }' "$work/out") + 1 ))
check "alpha's outcome is ok" test "$(q "SELECT outcome FROM task_summary WHERE $(at alpha)")" = ok
check "lost_waker on the loser" test "$(q "SELECT count(*) FROM warnings w JOIN task_summary s
	USING (pid, task_id) WHERE w.kind = 'lost_waker' AND $(at loser)")" -eq 1
check "no other lost_waker" test "$(q "SELECT count(*) FROM warnings WHERE pid = $prog AND kind = 'lost_waker'")" -eq 1
check "default mode: no waker clone recorded" test "$(q "SELECT coalesce(sum(waker_clones), 0) FROM task_summary WHERE pid = $prog")" -eq 0
# selfwaker: 50 self-wakes, then one timer wake after 300 ms
sw=$(q "SELECT wakes || ' ' || self_wakes FROM task_summary WHERE $(at selfwaker)")
sw_want=$(( $(awk '$1 == "polls" && $2 == "selfwaker" { print $3 }' "$work/out") - 1 ))
check "selfwaker: $sw_want wakes, all but the timer's from inside its polls (recorded: wakes self_wakes = $sw)" \
	test "${sw% *}" -eq "$sw_want" -a "${sw#* }" -eq $(( sw_want - 1 ))
check "self_wakes warning on the selfwaker" test "$(q "SELECT count(*) FROM warnings w JOIN task_summary s
	USING (pid, task_id) WHERE w.kind = 'self_wakes' AND $(at selfwaker)")" -eq 1
bw=$(q "SELECT wakes || ' ' || self_wakes FROM task_summary WHERE $(at beta)")
bw_want=$(( $(awk '$1 == "polls" && $2 == "beta" { print $3 }' "$work/out") - 1 ))
check "beta: $bw_want yield_now wakes, none a self-wake (recorded: wakes self_wakes = $bw)" \
	test "${bw% *}" -eq "$bw_want" -a "${bw#* }" -le 1
check "the spawn_blocking task is kind blocking" test "$(q "SELECT kind FROM task_summary WHERE $(at blocking)")" = blocking
check "its thread's role is blocking" test "$(q "SELECT DISTINCT t.role FROM threads t JOIN poll_spans p
	ON p.pid = t.pid AND p.tid = t.tid JOIN task_summary s ON s.pid = p.pid AND s.task_id = p.task_id
	WHERE $(at blocking s)")" = blocking
check "alpha's threads are workers named tokio-runtime-w" test "$(q "SELECT group_concat(DISTINCT t.role || ':' || t.name)
	FROM threads t JOIN poll_spans p ON p.pid = t.pid AND p.tid = t.tid
	JOIN task_summary s ON s.pid = p.pid AND s.task_id = p.task_id WHERE $(at alpha s)")" = "worker:tokio-runtime-w"
check "the main thread (it spawns the tasks) is named tk-test" \
	test "$(q "SELECT name || ':' || role FROM threads WHERE pid = $prog AND tid = $prog")" = "tk-test:other"
check "nothing dropped" test "$(q "SELECT coalesce(sum(events_dropped), 0) FROM drops WHERE pid = $prog")" -eq 0
if [ "$fails" -ne 0 ]; then
	cat "$work/out" "$work/err"
	q "SELECT name, location, kind, outcome, polls FROM task_summary WHERE location NOT LIKE '%tk-test.rs:%' LIMIT 10"
	q "SELECT kind, task_id, detail FROM warnings LIMIT 20"
fi
exit $((fails != 0))
