#!/usr/bin/env bash
# test-cli-errors.sh: bad input at the command line and from targets gets
# one clear line and the right exit code, and nothing recorded is lost:
# usage errors (2), an unwritable --db, a command that does not exist, a
# program without the shim, a malformed Hello next to a good target, a
# target SIGKILLed mid-run, a file that is not a recording.
set -u
taskscope=$1
demo=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() {
	local what=$1; shift
	if "$@"; then echo "ok - $what"; else echo "not ok - $what"; fails=$((fails + 1)); fi
}
one_line() { test "$(wc -l <"$1")" -eq 1; }

"$taskscope" >/dev/null 2>"$work/e"; check "no command: exit 2" test $? -eq 2
"$taskscope" frobnicate 2>"$work/e"; check "unknown command: exit 2" test $? -eq 2
check "unknown command: one line" one_line "$work/e"
"$taskscope" demo --duration abc 2>"$work/e"; check "bad --duration: exit 2" test $? -eq 2
check "bad --duration: names the option" grep -q -- "--duration" "$work/e"
"$taskscope" demo --allow nonsense 2>"$work/e"; check "bad --allow: exit 2" test $? -eq 2
"$taskscope" run --headless 2>"$work/e"; check "run without a command: exit 2" test $? -eq 2
"$taskscope" demo --db "$work/x.db" </dev/null >/dev/null 2>"$work/e"
check "console without a terminal: exit 2" test $? -eq 2
check "console without a terminal: says --headless" grep -q -- "--headless" "$work/e"
# attach: what is wrong with the command line or the pid, before anything is attached
"$taskscope" attach 2>"$work/e"; check "attach without a pid: exit 2" test $? -eq 2
"$taskscope" attach abc 2>"$work/e"; check "attach abc: exit 2" test $? -eq 2
check "attach abc: one line" one_line "$work/e"
"$taskscope" attach 1 2 2>"$work/e"; check "attach two pids: exit 2" test $? -eq 2
"$taskscope" attach --mode nonsense 1 2>"$work/e"; check "attach --mode nonsense: exit 2" test $? -eq 2
check "attach --mode nonsense: lists the modes" grep -q "auto, shim, tokio or generic" "$work/e"
"$taskscope" attach --locks=sometimes 1 2>"$work/e"; check "attach --locks=sometimes: exit 2" test $? -eq 2
"$taskscope" attach --headless --db "$work/a.db" 999999999 2>"$work/e"
check "attach to no process: exit 1" test $? -eq 1
check "attach to no process: one line that says so" sh -c "test \$(wc -l <'$work/e') -eq 1 && grep -q 'no process with pid' '$work/e'"
check "attach to no process: no recording left" test ! -e "$work/a.db"
for c in demo run query attach console; do
	"$taskscope" $c --help >"$work/h" 2>&1; check "$c --help: exit 0" test $? -eq 0
	check "$c --help: usage" grep -q "usage: taskscope $c" "$work/h"
done

"$taskscope" demo --headless --duration 1 --db /proc/nope/x.db 2>"$work/e"
check "unwritable --db: exit 1" test $? -eq 1
check "unwritable --db: one line" one_line "$work/e"
check "unwritable --db: says what to do" grep -q -- "--db" "$work/e"

"$taskscope" run --headless --db "$work/n.db" -- /nonexistent/prog 2>"$work/e"
check "missing program: exit 1" test $? -eq 1
check "missing program: says so" grep -q "cannot run '/nonexistent/prog'" "$work/e"

"$taskscope" run --headless --db "$work/true.db" -- true 2>"$work/e"
check "program without the shim: exit 0" test $? -eq 0
check "program without the shim: says it never connected" grep -q "never connected" "$work/e"

# A malformed Hello on the control socket, then a good target: the bad one
# is refused with one line, the good one is recorded.
cat >"$work/garbage.py" <<'PY'
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(os.environ["TASKSCOPE_SOCKET"])
s.sendall(b"\x10\x00\x00\x00" + b"\xff" * 16)
s.recv(4096)
s.close()
PY
"$taskscope" run --headless --duration 3 --db "$work/g.db" -- \
	sh -c "python3 '$work/garbage.py'; exec '$demo'" >"$work/o" 2>"$work/e"
check "garbage Hello: collector still exits 0" test $? -eq 0
check "garbage Hello: refused with a reason" grep -q "refused a target" "$work/e"
check "garbage Hello: the good target is recorded" \
	test "$(sqlite3 "$work/g.db" "SELECT count(*) FROM task_summary")" -gt 10

# Two targets at once: both recorded.
"$taskscope" run --headless --duration 3 --db "$work/two.db" -- \
	sh -c "'$demo' & '$demo' & wait" >"$work/o" 2>"$work/e"
check "two targets: both recorded" test "$(sqlite3 "$work/two.db" "SELECT count(DISTINCT pid) FROM task_summary")" -eq 2

# The target is SIGKILLed mid-run: the recording is complete and sound.
"$taskscope" run --headless --duration 20 --db "$work/k.db" -- "$demo" >"$work/o" 2>"$work/e" &
ts=$!
sleep 2
child=$(pgrep -P "$ts" | head -n 1)
check "found the target" test -n "$child"
kill -KILL "$child"
wait "$ts"
check "killed target: collector exits 0" test $? -eq 0
check "killed target: integrity ok" test "$(sqlite3 "$work/k.db" "PRAGMA integrity_check")" = ok
check "killed target: its tasks are there" test "$(sqlite3 "$work/k.db" "SELECT count(*) FROM task_summary")" -gt 10
check "killed target: its poll spans are there" \
	test "$(sqlite3 "$work/k.db" "SELECT sum(polls) FROM task_summary")" = "$(sqlite3 "$work/k.db" "SELECT count(*) FROM poll_spans")"

# SIGTERM and SIGINT of the collector: it stops the target, drains, commits
# and exits 0 with a complete recording.
for sig in TERM INT; do
	"$taskscope" run --headless --db "$work/sig$sig.db" -- "$demo" >"$work/o" 2>"$work/e" &
	ts=$!
	sleep 2.5
	kill -$sig "$ts"
	wait "$ts"
	check "SIG$sig: collector exits 0" test $? -eq 0
	left=$(pgrep -af "^$demo\$"); check "SIG$sig: the target is gone ($left)" test -z "$left"
	check "SIG$sig: integrity ok" test "$(sqlite3 "$work/sig$sig.db" "PRAGMA integrity_check")" = ok
	check "SIG$sig: tasks and warnings stored" \
		test "$(sqlite3 "$work/sig$sig.db" "SELECT (SELECT count(*) FROM task_summary) > 100 AND (SELECT count(*) FROM warnings) > 0")" = 1
	check "SIG$sig: every poll stored" \
		test "$(sqlite3 "$work/sig$sig.db" "SELECT sum(polls) FROM task_summary")" = "$(sqlite3 "$work/sig$sig.db" "SELECT count(*) FROM poll_spans")"
done

echo "not a database" >"$work/text.db"
"$taskscope" query --db "$work/text.db" "SELECT 1" 2>"$work/e"
check "query on a non-recording: exit 1" test $? -eq 1
check "query on a non-recording: one line" one_line "$work/e"
"$taskscope" query --db "$work/k.db" "SELEC nonsense" 2>"$work/e"
check "bad SQL: exit 1" test $? -eq 1
check "bad SQL: one line" one_line "$work/e"

echo "$fails failed"
test "$fails" -eq 0
