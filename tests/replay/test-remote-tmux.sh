#!/usr/bin/env bash
# test-remote-tmux.sh: `taskscope console --connect` against a live demo
# started with --serve, in real terminals (tmux). Two remote consoles at
# once show the same tasks as the live console (the long-lived demo tasks:
# the first rows by ID, ids and names compared), the header says remote
# and names the same target; when the collector goes away the remote says
# it is retrying, reconnects to a new collector on the same address by
# itself, and still quits cleanly. Then the same over TCP on
# loopback against a headless session.
set -u
taskscope=$1
. "$(dirname "$0")/../e2e/tmux-lib.sh"
tsx_init
TSX_TIMEOUT=20
sock=$TSX_DIR/serve.sock

# "ID name" of the first rows of the tasks table (sorted by ID, ascending)
rows() {
	tsx_capture "$1" | awk '/ID +State +Name/ { on = 1; next }
		on && NF > 3 { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) { print $i, $(i + 2); break } }' |
		head -n 8
}

tsx_start live 120 40 C.UTF-8 "$taskscope" demo --db "$TSX_DIR/demo.db" --serve "$sock" --duration 12
tsx_wait_for live 'self-waker' || tsx_fail "the live console did not show the demo's tasks"
tsx_start r1 120 40 C.UTF-8 "$taskscope" console --connect "$sock"
tsx_start r2 120 40 C.UTF-8 "$taskscope" console --connect "$sock"
for r in r1 r2; do
	tsx_wait_for $r 'remote live' || tsx_fail "$r: no remote header"
	tsx_wait_for $r 'self-waker' || tsx_fail "$r: the demo's tasks did not appear"
done

tsx_wait_for live 'live, 2 remote' || tsx_fail "the live header does not count the remote consoles"
want=$(rows live)
[ "$(echo "$want" | wc -l)" -ge 8 ] || tsx_fail "the live console shows fewer than 8 tasks: $want"
for r in r1 r2; do
	got=$(rows $r)
	[ "$got" = "$want" ] || tsx_fail "$r shows other tasks than the live console:
$got
--- live:
$want"
	pid=$(tsx_capture live | grep -Eo 'pid [0-9]+' | head -1)
	tsx_capture $r | grep -q "$pid" || tsx_fail "$r does not name the live target ($pid)"
	tsx_capture $r | grep -q "via shim" || tsx_fail "$r does not say where the events come from"
done
echo "ok: two remote consoles show the live console's tasks: $(echo $want | tr '\n' ' ')"

# the details of a task, with the histograms the collector sends for it
tsx_send r1 Enter
tsx_wait_for r1 'Poll times \([0-9]+' || tsx_fail "r1: the details have no poll-time histogram"
tsx_wait_for r1 'p99' || tsx_fail "r1: the details have no percentiles"
tsx_send r1 Escape
tsx_wait_for r1 'ID +State +Name' || tsx_fail "r1: Esc did not go back to the tasks"
echo "ok: remote details with histograms"

# the collector goes away: the remotes keep running and say so
tsx_send live q
status=$(tsx_wait_exit live) || tsx_fail "the live console did not quit"
[ "$status" = 0 ] || tsx_fail "live: exit status $status"
tsx_wait_for r1 'unreachable, retrying' || tsx_fail "r1 does not say the collector is gone"
# a new collector on the same address: the remotes reconnect by themselves
"$taskscope" demo --headless --duration 5 --db "$TSX_DIR/again.db" --serve "$sock" >/dev/null 2>&1 &
again=$!
for r in r1 r2; do
	tsx_wait_for $r 'remote live' || tsx_fail "$r did not reconnect to the new collector"
done
newpid=$(sqlite3 "$TSX_DIR/again.db" 'SELECT pid FROM processes LIMIT 1' 2>/dev/null)
[ -z "$newpid" ] || tsx_wait_for r1 "pid $newpid" || tsx_fail "r1 does not show the new target (pid $newpid)"
wait $again
tsx_wait_for r1 'unreachable, retrying' || tsx_fail "r1 does not say the second collector is gone"
for r in r1 r2; do
	tsx_send $r q
	status=$(tsx_wait_exit $r) || tsx_fail "$r did not quit"
	[ "$status" = 0 ] || tsx_fail "$r: exit status $status"
	[ "$(tsx_tmux display-message -p -t $r '#{alternate_on}')" = 0 ] || tsx_fail "$r left the alternate screen on"
done
[ ! -e "$sock" ] || tsx_fail "the collector left its socket behind"
echo "ok: collector gone -> retrying -> reconnected to a new one; clean exits; socket removed"

# TCP on loopback, against a headless session
# a free port: a taken one makes the demo exit at once with "cannot listen"
for ((try = 0; try < 5; try++)); do
	port=$((20000 + RANDOM % 20000))
	rm -f "$TSX_DIR/tcp.db"
	"$taskscope" demo --headless --duration 6 --db "$TSX_DIR/tcp.db" --serve "127.0.0.1:$port" \
		>/dev/null 2>"$TSX_DIR/tcp.err" &
	demo_pid=$!
	for ((i = 0; i < 50; i++)); do
		grep -q 'serving consoles\|cannot listen' "$TSX_DIR/tcp.err" && break
		sleep 0.1
	done
	grep -q 'serving consoles' "$TSX_DIR/tcp.err" && break
	wait $demo_pid
done
grep -q 'serving consoles' "$TSX_DIR/tcp.err" || tsx_fail "no free port for --serve: $(cat "$TSX_DIR/tcp.err")"
tsx_start tcp 120 40 C.UTF-8 "$taskscope" console --connect "127.0.0.1:$port"
tsx_wait_for tcp 'remote live' || tsx_fail "tcp: no remote header"
tsx_wait_for tcp 'self-waker' || tsx_fail "tcp: the demo's tasks did not appear"
tsx_send tcp q
status=$(tsx_wait_exit tcp) || tsx_fail "tcp console did not quit"
[ "$status" = 0 ] || tsx_fail "tcp: exit status $status"
wait $demo_pid || { cat "$TSX_DIR/tcp.err"; tsx_fail "the headless demo failed"; }
echo "ok: TCP loopback"

# --serve refuses an address off loopback, in one line
if "$taskscope" demo --headless --duration 1 --db "$TSX_DIR/x.db" --serve 0.0.0.0:$port 2>"$TSX_DIR/lan.err"; then
	tsx_fail "--serve 0.0.0.0 was accepted"
fi
grep -q 'only on loopback' "$TSX_DIR/lan.err" || tsx_fail "--serve 0.0.0.0: $(cat "$TSX_DIR/lan.err")"
echo "ok: --serve off loopback refused"
