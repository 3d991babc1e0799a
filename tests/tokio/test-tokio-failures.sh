#!/usr/bin/env bash
# test-tokio-failures.sh: each way a Tokio attach can fail is one clear
# line, a non-zero exit, no probe of ours left loaded, and a target that
# keeps running (or was already gone):
#  - a stripped Tokio binary: "no symbols: PATH is stripped; ...";
#  - a process that is not a Tokio program: --mode tokio refuses it with
#    "is not a Tokio program"; auto mode does not record it as tokio-bpf;
#  - a process that already exited (a zombie): "pid N exited";
#  - a process that exits as soon as our programs are loaded (while the
#    probes are being attached, or just after): the attach ends by itself,
#    either refused ("exited during the attach") or as a recording whose
#    target exited.
set -u
taskscope=$1
build=$2
. "$(dirname "$0")/lib.sh"
tk_setup "$build"

# stripped
cp "$tk_bin/tk-test" "$work/tk-stripped"
strip "$work/tk-stripped"
"$work/tk-stripped" idle 4 >/dev/null 2>&1 &
victim=$!
tk_pids+=("$victim")
tk_wait_exec "$victim" "$work/tk-stripped"
"$taskscope" attach --headless --duration 2 --db "$work/s.db" "$victim" 2>"$work/s.err"
code=$?
cat "$work/s.err"
check "stripped: non-zero exit" test "$code" -ne 0
check "stripped: one line saying no symbols and the path" \
	grep -q "^taskscope attach: no symbols: $work/tk-stripped is stripped" "$work/s.err"
check "stripped: no probe of ours left" tk_wait_unloaded
check "stripped: the target is still running" kill -0 "$victim"
wait "$victim"
check "stripped: the target exits 0 on its own" test $? -eq 0

# not a Tokio program
sleep 30 &
other=$!
tk_pids+=("$other")
tk_wait_exec "$other" "$(command -v sleep)"
"$taskscope" attach --mode tokio --headless --duration 1 --db "$work/n.db" "$other" 2>"$work/n.err"
code=$?
cat "$work/n.err"
check "not Tokio, --mode tokio: non-zero exit" test "$code" -ne 0
check "not Tokio, --mode tokio: says so" grep -q "is not a Tokio program" "$work/n.err"
"$taskscope" attach --headless --duration 1 --db "$work/a.db" "$other" 2>"$work/a.err"
code=$?
cat "$work/a.err"
if [ "$code" -eq 0 ]; then
	check "not Tokio, auto: recorded as generic" \
		test "$(sqlite3 -batch -noheader "$work/a.db" "SELECT source FROM processes WHERE pid = $other")" = generic
else
	check "not Tokio, auto: refused without blaming Tokio" sh -c "! grep -qi tokio '$work/a.err'"
fi
check "not Tokio: no probe of ours left" tk_wait_unloaded
check "not Tokio: the target is still running" kill -0 "$other"

# already exited: a zombie whose parent never reaps it (the child exits a
# second after its parent became `sleep`: a child that exited before the
# exec was reaped by bash, and no zombie ever came)
bash -c "(sleep 1; exec \"$tk_bin/tk-test\" idle 0 >/dev/null) & echo \$! >\"$work/zombie\"; exec sleep 30" &
tk_pids+=("$!")
z=
for _ in $(seq 1 200); do
	z=$(cat "$work/zombie" 2>/dev/null)
	[ -n "$z" ] && [ "$(awk '{print $3}' "/proc/$z/stat" 2>/dev/null)" = Z ] && break
	sleep 0.1
done
echo "zombie: pid ${z:-?}, state $(awk '{print $3}' "/proc/$z/stat" 2>/dev/null)"
"$taskscope" attach --mode tokio --headless --duration 1 --db "$work/z.db" "$z" 2>"$work/z.err"
code=$?
cat "$work/z.err"
check "exited: non-zero exit" test "$code" -ne 0
check "exited: one line saying it exited" grep -q "^taskscope attach: .*pid $z exited" "$work/z.err"

# exits during the attach: the target exits as soon as a probe fires
mkdir "$work/race"
"$tk_bin/tk-test" exit-on-attach "$work/race" >/dev/null 2>&1 &
racer=$!
tk_pids+=("$racer")
tk_wait_exec "$racer" "$tk_bin/tk-test"
timeout 60 "$taskscope" attach --headless --duration 20 --db "$work/r.db" "$racer" 2>"$work/r.err" &
ts=$!
tk_pids+=("$ts")
tk_wait_loaded "$ts"
touch "$work/race/go"
wait "$ts"
code=$?
cat "$work/r.err"
check "exits during the attach: taskscope ends on its own, well before --duration" test "$code" -ne 124
if [ "$code" -ne 0 ]; then
	check "exits during the attach: says it exited" grep -q "exited" "$work/r.err"
else
	check "exits during the attach: the recording says the target exited" grep -q "exited" "$work/r.err"
fi
check "exits during the attach: no probe of ours left" tk_wait_unloaded
exit $((fails != 0))
