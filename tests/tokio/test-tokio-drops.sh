#!/usr/bin/env bash
# test-tokio-drops.sh: events the collector could not take are counted, not
# hidden. tk-bench polls as fast as it can while taskscope is attached; the
# collector is stopped (SIGSTOP) for 1.5 s, so the BPF ring buffer (8 MiB,
# about 260k records) overflows; after SIGCONT the recording must show the
# loss: a drops row for source tokio-bpf and an events_dropped warning. The
# target is never slowed by it and exits 0.
# It attaches with --waker-probes, so the full mode is covered here too
# (the default mode is test-tokio-attach's): the recording has wakes and
# waker clones from the probes (the default mode has no clones).
set -u
taskscope=$1
build=$2
. "$(dirname "$0")/lib.sh"
tk_setup "$build"
db=$work/d.db

"$tk_bin/tk-bench" "$work" 0 3 8 >"$work/out" 2>&1 &
prog=$!
tk_pids+=("$prog")
tk_wait_exec "$prog" "$tk_bin/tk-bench"
for _ in $(seq 1 100); do [ -e "$work/ready" ] && break; sleep 0.1; done
"$taskscope" attach --headless --no-kernel --waker-probes --duration 60 --db "$db" "$prog" 2>"$work/ts.err" &
ts=$!
tk_pids+=("$ts")
tk_wait_loaded "$ts" && sleep 0.5
touch "$work/go"
sleep 0.3
kill -STOP "$ts"
sleep 1.5
kill -CONT "$ts"
wait "$prog"
check "the target exits 0" test $? -eq 0
wait "$ts"
code=$?
cat "$work/ts.err"
check "taskscope exits 0 when the target is gone" test "$code" -eq 0
dropped=$(q "SELECT coalesce(sum(events_dropped), 0) FROM drops WHERE pid = $prog AND source = 'tokio-bpf'")
check "drops shows the lost events for tokio-bpf ($dropped)" test "${dropped:-0}" -gt 0
check "an events_dropped warning" test "$(q "SELECT count(*) FROM warnings WHERE pid = $prog AND kind = 'events_dropped'")" -ge 1
check "the session's summary counts them" grep -qE "[1-9][0-9]* dropped" "$work/ts.err"
check "--waker-probes: waker clones recorded" test "$(q "SELECT coalesce(sum(waker_clones), 0) FROM task_summary WHERE pid = $prog")" -gt 100
check "--waker-probes: wakes recorded" test "$(q "SELECT coalesce(sum(wakes), 0) FROM task_summary WHERE pid = $prog")" -gt 100
exit $((fails != 0))
