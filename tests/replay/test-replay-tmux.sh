#!/usr/bin/env bash
# test-replay-tmux.sh: `taskscope console --db` on a recording of the demo,
# in a real terminal (tmux). The cursor starts at the recording's first
# instant; ] . $ 0 move it by exact amounts, and at each stop the task count
# in the title equals SQL's count of tasks alive at that instant
# (spawned_ns <= T < dropped_ns). n jumps to the next warning; space plays.
# q, and SIGTERM, exit 0 and leave the terminal as it was.
set -u
taskscope=$1
. "$(dirname "$0")/../e2e/tmux-lib.sh"
tsx_init
TSX_TIMEOUT=20
db=$TSX_DIR/demo.db

"$taskscope" demo --headless --duration 3 --db "$db" >/dev/null 2>"$TSX_DIR/demo.err" ||
	{ cat "$TSX_DIR/demo.err"; echo "FAIL: recording the demo"; exit 1; }

q() { sqlite3 "$db" "$1"; }
# the recording's first and last instants, as the replay defines them
times="SELECT started_ns v FROM processes UNION ALL SELECT spawned_ns FROM task_summary
	UNION ALL SELECT dropped_ns FROM task_summary UNION ALL SELECT start_ns FROM poll_spans
	UNION ALL SELECT end_ns FROM poll_spans UNION ALL SELECT ts_ns FROM warnings
	UNION ALL SELECT wait_start_ns FROM lock_spans UNION ALL SELECT acquired_ns FROM lock_spans
	UNION ALL SELECT released_ns FROM lock_spans"
first=$(q "SELECT min(v) FROM ($times) WHERE v > 0")
last=$(q "SELECT max(v) FROM ($times) WHERE v > 0")
[ -n "$first" ] && [ "$last" -gt "$first" ] || tsx_fail "cannot read the recording's bounds"
alive() { q "SELECT count(*) FROM task_summary WHERE spawned_ns <= $1 AND (dropped_ns IS NULL OR $1 < dropped_ns)"; }
# "replay 1.500 s / 3.004 s": the cursor in ms since the first instant
cursor_ms() { tsx_capture r | grep -Eo 'replay [0-9]+\.[0-9]{3} s' | head -1 | tr -dc '0-9'; }
shown() { tsx_capture r | grep -Eo 'Tasks \([0-9]+' | head -1 | tr -dc '0-9'; }
ms_label() { printf 'replay %d\\.%03d s' $(($1 / 1000)) $(($1 % 1000)); }

declare -a counts
# check_at MS [T]: wait for the header to say MS, then compare the count
# with SQL at T (default: exactly MS after the first instant)
check_at() {
	local ms=$1 t=${2:-$((first + $1 * 1000000))} want got i
	tsx_wait_for r "$(ms_label "$ms")" || tsx_fail "the cursor did not reach $ms ms"
	want=$(alive "$t")
	for ((i = 0; i < 20; i++)); do
		got=$(shown)
		[ "$got" = "$want" ] && break
		sleep 0.1
	done
	[ "$got" = "$want" ] || tsx_fail "at +$ms ms the console shows $got tasks, SQL says $want alive"
	counts+=("$got")
}

tsx_start r 120 40 C.UTF-8 "$taskscope" console --db "$db"
tsx_wait_for r 'replay 0\.000 s' || tsx_fail "the replay header did not appear"
tsx_wait_for r 'PAUSED' || tsx_fail "the replay should start paused"
check_at 0
tsx_send r ']'
check_at 1000
tsx_send r . . . . .
check_at 1500
tsx_send r ,
check_at 1400
tsx_send r '$'
check_at $(((last - first) / 1000000)) "$last"
tsx_send r 0
check_at 0
# seeking must have changed what is shown at least once
distinct=$(printf '%s\n' "${counts[@]}" | sort -u | wc -l)
[ "$distinct" -ge 2 ] || tsx_fail "every instant showed the same task count (${counts[*]})"

# n: the next warning after the cursor (to the ms)
tsx_send r ']'
check_at 1000
next=$(q "SELECT min(ts_ns) FROM warnings WHERE ts_ns > $((first + 1000000000))")
if [ -n "$next" ]; then
	tsx_send r n
	tsx_wait_for r "$(ms_label $(((next - first) / 1000000)))" || tsx_fail "n did not jump to the next warning"
fi

# space plays: the cursor moves on its own
before=$(cursor_ms)
tsx_send r Space
for ((i = 0; i < 50; i++)); do
	now=$(cursor_ms)
	[ "$now" != "$before" ] && break
	sleep 0.1
done
[ "$now" != "$before" ] || tsx_fail "space did not play the replay"
# at the end it stops; space there plays from the start
tsx_send r '$'
tsx_wait_for r "$(ms_label $(((last - first) / 1000000)))" || tsx_fail "\$ did not reach the end while playing"
tsx_wait_for r 'PAUSED' || tsx_fail "the replay did not stop at the end"
tsx_send r Space
tsx_wait_for r 'replay 0\.[0-9]{3} s' || tsx_fail "space at the end did not play from the start"

tsx_send r q
status=$(tsx_wait_exit r) || tsx_fail "q did not end the console"
[ "$status" = 0 ] || tsx_fail "exit status $status"
[ "$(tsx_tmux display-message -p -t r '#{alternate_on}')" = 0 ] || tsx_fail "the terminal was left in the alternate screen"
# SIGTERM (and SIGINT, SIGHUP) end it like q: terminal restored, status 0
tsx_start r2 100 30 C.UTF-8 "$taskscope" console --db "$db"
tsx_wait_for r2 'replay 0\.000 s' || tsx_fail "the second replay did not start"
pid=$(pgrep -P "$(tsx_tmux display-message -p -t r2 '#{pane_pid}')" taskscope | head -1)
[ -n "$pid" ] || tsx_fail "cannot find the console's pid"
kill -TERM "$pid"
status=$(tsx_wait_exit r2) || tsx_fail "SIGTERM did not end the console"
[ "$status" = 0 ] || tsx_fail "SIGTERM: exit status $status"
[ "$(tsx_tmux display-message -p -t r2 '#{alternate_on}')" = 0 ] || tsx_fail "SIGTERM left the alternate screen on"

echo "ok: task counts ${counts[*]} match SQL at each cursor; next warning; play; clean exit"
