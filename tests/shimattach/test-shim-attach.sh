#!/usr/bin/env bash
# test-shim-attach.sh: the demo (minirt + the shim) started on its own,
# then `taskscope attach --headless --duration 2 --db F PID` twice, and SQL
# over each recording: the process is a 'shim' source, the tasks spawned
# before the attach are there with their names and spawn sites (from the
# snapshot), tasks spawned during the attach too, worker threads are named
# again on the second attach; the demo keeps running between attaches and
# exits 0 on its own signal. A process without the shim, and the demo with
# TASKSCOPE_ATTACH=0, are refused with one line and exit 1.
set -u
taskscope=$1
demo=$2
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
fails=0
check() { # description, then a command that must succeed
	local what=$1; shift
	if "$@"; then echo "ok - $what"; else echo "not ok - $what"; fails=$((fails + 1)); fi
}
q() { sqlite3 -batch -noheader "$1" "$2"; }
listening() { grep -q "@taskscope/$1\$" /proc/net/unix; }
wait_listening() {
	for _ in $(seq 100); do listening "$1" && return 0; sleep 0.05; done
	return 1
}

unset TASKSCOPE_SOCKET TASKSCOPE_ATTACH
"$demo" --duration 60 & dpid=$!
pids+=("$dpid")
check "the demo listens on @taskscope/$dpid" wait_listening "$dpid"
sleep 1 # well past the spawn of its long-lived tasks

attach() { # db, duration
	"$taskscope" attach --headless --duration "$2" --db "$1" "$dpid" >"$work/out" 2>"$work/err"
}
attach "$work/a.db" 2
code=$?
cat "$work/err"
check "attach exits 0" test "$code" -eq 0
a=$work/a.db
check "one process, source shim, the demo's pid" \
	test "$(q "$a" "SELECT count(*) FROM processes WHERE source = 'shim' AND pid = $dpid")" -eq 1
check "no other process" test "$(q "$a" 'SELECT count(*) FROM processes')" -eq 1
started=$(q "$a" "SELECT started_ns FROM processes")
for name in backend ticker heartbeat metrics-flush acceptor supervisor; do
	check "$name (spawned before the attach) has its name and spawn site" \
		test "$(q "$a" "SELECT count(*) FROM task_summary WHERE name = '$name'
		                AND location LIKE 'examples/demo/workload.c:%'")" -ge 1
done
check "the pre-attach tasks are polled while attached" \
	test "$(q "$a" "SELECT count(*) FROM task_summary WHERE name IN ('ticker', 'acceptor') AND polls > 0")" -eq 2
check "tasks spawned during the attach, and completed" \
	test "$(q "$a" "SELECT count(*) FROM task_summary WHERE name = 'request-handler'
	                AND spawned_ns > $started AND outcome = 'ok'")" -ge 10
check "every task is named" \
	test "$(q "$a" "SELECT count(*) FROM task_summary WHERE name IS NULL OR name = ''")" -eq 0
check "worker threads" test "$(q "$a" "SELECT count(*) FROM threads WHERE role = 'worker'")" -eq 4
check "the footguns alive before the attach are judged: lost_waker" \
	test "$(q "$a" "SELECT count(*) FROM warnings w JOIN task_summary t USING (pid, task_id)
	                WHERE t.name = 'lost-waker' AND w.kind = 'lost_waker'")" -ge 1
check "the demo runs on after the detach" kill -0 "$dpid"
check "and listens again" wait_listening "$dpid"

attach "$work/b.db" 1
code=$?
cat "$work/err"
b=$work/b.db
check "a second attach exits 0" test "$code" -eq 0
check "second attach: backend again" \
	test "$(q "$b" "SELECT count(*) FROM task_summary WHERE name = 'backend' AND location LIKE 'examples/demo/workload.c:%'")" -eq 1
check "second attach: workers named again" \
	test "$(q "$b" "SELECT count(*) FROM threads WHERE role = 'worker' AND name LIKE 'minirt-worker-%'")" -eq 4
check "second attach: new tasks recorded" \
	test "$(q "$b" "SELECT count(*) FROM task_summary WHERE name = 'request-handler'")" -ge 5
check "second attach: nothing counted as dropped" \
	test "$(q "$b" "SELECT coalesce(sum(events_dropped), 0) FROM drops")" -eq 0
check "the demo runs on after the second detach" kill -0 "$dpid"
kill -TERM "$dpid"
wait "$dpid"
check "the demo exits 0 on SIGTERM" test $? -eq 0

# Not a shim: refused with one line, exit 1.
sleep 30 & spid=$!
pids+=("$spid")
"$taskscope" attach --mode shim --headless --duration 1 --db "$work/c.db" "$spid" >/dev/null 2>"$work/err"
code=$?
check "a process without the shim: exit 1" test "$code" -eq 1
check "... with one line that says so" \
	test "$(wc -l <"$work/err")" -eq 1 -a "$(grep -c 'no taskscope shim' "$work/err")" -eq 1

# TASKSCOPE_ATTACH=0: no listener, no thread.
TASKSCOPE_ATTACH=0 "$demo" --duration 30 & d2=$!
pids+=("$d2")
sleep 0.5
check "TASKSCOPE_ATTACH=0: no listener" bash -c "! grep -q '@taskscope/$d2\$' /proc/net/unix"
check "TASKSCOPE_ATTACH=0: no taskscope thread" \
	bash -c "! grep -qx taskscope /proc/$d2/task/*/comm"
"$taskscope" attach --mode shim --headless --duration 1 --db "$work/d.db" "$d2" >/dev/null 2>"$work/err"
check "TASKSCOPE_ATTACH=0: attach --mode shim exits 1" test $? -eq 1

echo "$fails failure(s)"
test "$fails" -eq 0
