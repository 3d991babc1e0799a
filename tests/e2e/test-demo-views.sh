#!/bin/bash
# test-demo-views.sh TASKSCOPE: the console's views on the real demo,
# checked against the recording it writes.
#
# The demo runs live for a few seconds (each view must show its data while
# events flow), then its workload is killed: from then on the model, hence
# the console, holds exactly what the recording holds, so the screen can
# be compared with SQL after `q`:
#   - workers: each worker's Polls == its rows in poll_spans;
#   - tasks sorted by Polls: the column is non-increasing, and each shown
#     task's Polls == task_summary.polls;
#   - details of lock-waiter: Polls and the histogram's count == its
#     poll_spans rows; max == max_poll_ns (to the 3 digits shown); each
#     percentile lies between the exact value of its rank and that value
#     plus the histogram's bucket width (25 %);
#   - warnings: each kind's count on screen is in the warnings table (the
#     table may have more: lints keep running until q);
#   - resources: a lock's contentions == its lock_spans that waited (one
#     fewer when the last contended hold was still held at the kill).
set -u
taskscope=$(realpath "${1:?usage: test-demo-views.sh TASKSCOPE}") || exit 1
. "$(dirname "$0")/tmux-lib.sh"
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 is not installed"; exit 77; }
tsx_init
TSX_TIMEOUT=20
db=$TSX_DIR/demo.db
sql() { sqlite3 "$db" "$@"; }

# "1.23ms" -> nanoseconds (integer), for comparisons
to_ns() {
	awk -v s="$1" 'BEGIN {
		n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
		m = (u == "ns") ? 1 : (u == "µs" || u == "us") ? 1e3 : (u == "ms") ? 1e6 : (u == "s") ? 1e9 : (u == "m") ? 60e9 : -1
		if (m < 0) { print "bad"; exit }
		printf "%.0f\n", n * m }'
}

tsx_start d 120 40 C.UTF-8 "$taskscope" demo --db "$db"
tsx_wait_for d 'lock-waiter' || tsx_fail "the demo's tasks did not appear"
pid=$(tsx_capture d | grep -Eo 'demo \(pid [0-9]+\)' | grep -Eo '[0-9]+' | head -1)
[ -n "$pid" ] || tsx_fail "no target pid in the header"
tsx_capture d | grep -Eq '^ taskscope  demo \(pid [0-9]+\)  live  via shim ' || tsx_fail "header: target, live, source"

# live: every view has data
tsx_send d w
tsx_wait_for d ' [0-9]+ minirt-worker' || tsx_fail "workers view: no worker rows"
tsx_send d r
tsx_wait_for d '^ Resources \([1-9]' || tsx_fail "resources view: none"
tsx_send d W
tsx_wait_for d '^ (long_poll|blocking_in_poll|lock_held_across_await) [0-9]' \
	|| tsx_fail "warnings view: no footgun warning (if the header says exited, the demo workload crashed)"
tsx_send d t
tsx_wait_for d '^ Tasks \(' || tsx_fail "t: back to tasks"
sleep 2
tsx_capture d | grep -Eq '^ taskscope  demo \(pid [0-9]+\)  live ' \
	|| tsx_fail "the demo workload ended by itself before the kill (a workload bug, not the console's)"

# live, 80x24 and back: a whole, coherent screen each time
for size in "80 24" "120 40"; do
	set -- $size
	tsx_resize d "$1" "$2"
	if [ "$1" = 80 ]; then
		tsx_wait_for d '^Warn +ID State Name +Total +Busy +Sched +Idle +Polls +Kind *$' || tsx_fail "80x24 layout"
	else
		tsx_wait_for d ' Location +Fields *$|Location *$' || tsx_fail "back to 120x40: no Location"
	fi
	screen=$(tsx_capture d)
	[ "$(printf '%s\n' "$screen" | wc -l)" -eq "$2" ] || tsx_fail "screen is not $2 lines"
	[ "$(printf '%s\n' "$screen" | LC_ALL=C.UTF-8 wc -L)" -le "$1" ] || tsx_fail "a line is wider than $1"
	printf '%s\n' "$screen" | head -1 | grep -q '^ taskscope  demo' || tsx_fail "header after resize to $size"
	printf '%s\n' "$screen" | tail -1 | grep -q '^ q quit' || tsx_fail "footer after resize to $size"
done

# freeze the data source: kill the workload
kill -KILL "$pid" 2>/dev/null || tsx_fail "cannot kill the demo workload $pid"
tsx_wait_for d '  killed \(' || tsx_fail "the header does not say the target was killed"
sleep 1

# workers: TID and Polls (the last column)
tsx_send d w
tsx_wait_for d '^ Threads \(' || tsx_fail "w after the kill"
workers=$(tsx_capture d | awk '/^ *[0-9]+ minirt-work/ { print $1, $NF }')
[ -n "$workers" ] || tsx_fail "no worker rows after the kill"

# tasks sorted by Polls (ID -> 7 steps right)
tsx_send d t Right Right Right Right Right Right Right
tsx_wait_for d 'sort: Polls ▼' || tsx_fail "sort did not reach Polls"
# ID and Polls of the rows: the columns after "Warn ID State Name Total Busy Sched Idle"
tasks=$(tsx_capture d | awk '/^Warn +ID +State/ { on = 1; next } / q quit / { on = 0 }
	on { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) { id = $i; break }
	     # Polls: the 5th number-ish field after the name is fragile; take
	     # the field before the Kind word instead
	     for (k = 1; k <= NF; k++) if ($k == "task" || $k == "local" || $k == "blocking") { print id, $(k - 1); break } }')
[ -n "$tasks" ] || tsx_fail "no task rows sorted by Polls"
prev=
while read -r id polls; do
	[ -n "$prev" ] && [ "$polls" -gt "$prev" ] && tsx_fail "Polls not sorted: $polls after $prev"
	prev=$polls
done <<<"$tasks"

# details of lock-waiter
tsx_send d / l o c k - w a i t e r Enter Enter
tsx_wait_for d '^ Task [0-9]+  lock-waiter' || tsx_fail "details of lock-waiter"
det=$(tsx_capture d)
lw_polls=$(grep -Eo 'Polls [0-9]+' <<<"$det" | head -1 | grep -Eo '[0-9]+')
hist=$(grep -E '^ Poll times \(' <<<"$det")
[[ $hist =~ \(([0-9]+),\ max\ ([^,]+), ]] || tsx_fail "poll histogram title: $hist"
h_count=${BASH_REMATCH[1]} h_max=${BASH_REMATCH[2]}
pct=$(grep -E '^ +p50 ' <<<"$det" | head -1)
[ -n "$pct" ] || tsx_fail "no percentiles line"

# warnings: "kind N" headings
tsx_send d W
tsx_wait_for d '^ Warnings \(' || tsx_fail "W after the kill"
wsum=$(tsx_capture d | awk '/^ [a-z_]+ [0-9]+  / { print $1, $2 }')

# resources: ID and Cont. of the rows with contentions (ID is the 2nd field)
tsx_send d r
tsx_wait_for d '^ Resources \(' || tsx_fail "r after the kill"
res=$(tsx_capture d | awk '/^(mutex|rwlock|semaphore|channel|timer) +[0-9]+ / { print $2, $0 }')

tsx_send d q
status=$(tsx_wait_exit d) || tsx_fail "q did not end the console"
[ "$status" = 0 ] || tsx_fail "exit status $status"
[ "$(sql 'PRAGMA integrity_check')" = ok ] || tsx_fail "recording is not sound"

n=0
while read -r tid polls; do
	want=$(sql "SELECT count(*) FROM poll_spans WHERE pid = $pid AND tid = $tid")
	[ "$polls" = "$want" ] || tsx_fail "worker $tid: $polls polls on screen, $want in poll_spans"
	n=$((n + 1))
done <<<"$workers"
echo "workers: $n rows match poll_spans"

n=0
while read -r id polls; do
	want=$(sql "SELECT polls FROM task_summary WHERE pid = $pid AND task_id = $id ORDER BY spawned_ns DESC LIMIT 1")
	[ "$polls" = "$want" ] || tsx_fail "task $id: $polls polls on screen, $want in task_summary"
	n=$((n + 1))
done <<<"$tasks"
echo "tasks: $n rows match task_summary"

lw=$(sql "SELECT task_id FROM task_summary WHERE pid = $pid AND name = 'lock-waiter' LIMIT 1")
spans=$(sql "SELECT count(*) FROM poll_spans WHERE pid = $pid AND task_id = $lw")
[ "$lw_polls" = "$spans" ] && [ "$h_count" = "$spans" ] || tsx_fail "lock-waiter: Polls $lw_polls, histogram $h_count, poll_spans $spans"
max_db=$(sql "SELECT max_poll_ns FROM task_summary WHERE pid = $pid AND task_id = $lw")
max_sc=$(to_ns "$h_max")
awk -v a="$max_sc" -v b="$max_db" 'BEGIN { exit !(a >= b * 0.99 && a <= b * 1.01) }' \
	|| tsx_fail "lock-waiter max: $h_max on screen, $max_db ns in task_summary"
for q in 50 75 90 95 99; do
	v=$(grep -Eo "p$q [^ ]+" <<<"$pct" | cut -d' ' -f2)
	shown=$(to_ns "$v")
	rank=$(awk -v n="$spans" -v q="$q" 'BEGIN { r = n * q / 100; if (r > int(r)) r = int(r) + 1; if (r < 1) r = 1; print r }')
	exact=$(sql "SELECT duration_ns FROM poll_spans WHERE pid = $pid AND task_id = $lw ORDER BY duration_ns LIMIT 1 OFFSET $((rank - 1))")
	awk -v s="$shown" -v e="$exact" 'BEGIN { hi = e * 1.25 * 1.005; if (hi < 1030) hi = 1030; exit !(s >= e * 0.995 && s <= hi) }' \
		|| tsx_fail "lock-waiter p$q: $v on screen, exact $exact ns (rank $rank of $spans)"
done
echo "details: lock-waiter polls, max and percentiles match poll_spans"

n=0
while read -r kind count; do
	[ -n "$kind" ] || continue
	want=$(sql "SELECT count(*) FROM warnings WHERE pid = $pid AND kind = '$kind'")
	[ "$count" -ge 1 ] && [ "$count" -le "$want" ] || tsx_fail "warnings $kind: $count on screen, $want stored"
	n=$((n + 1))
done <<<"$wsum"
[ "$n" -gt 0 ] || tsx_fail "no warning kinds on screen"
echo "warnings: $n kinds found in the recording"

n=0
while read -r id line; do
	[ -n "$id" ] || continue
	cont=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/ && i > 2) c = $i } END { print c }' <<<"$(sed -E 's/ +[0-9.]+(ns|µs|ms|s)( |$)/ X /g; s/ - / X /g' <<<"$line")")
	[ -n "$cont" ] || continue
	want=$(sql "SELECT count(*) FROM lock_spans WHERE pid = $pid AND lock_id = $id AND wait_start_ns IS NOT NULL")
	[ -n "${TSX_DEBUG:-}" ] && echo "lock $id: cont $cont, spans $want"
	[ "$want" -le "$cont" ] && [ "$want" -ge $((cont - 1)) ] || tsx_fail "lock $id: $cont contentions on screen, $want waited spans"
	n=$((n + 1))
done <<<"$res"
echo "resources: $n rows checked against lock_spans"
echo ok
