#!/bin/bash
# test-console-views.sh HARNESS: every console view on the synthetic
# model of console-harness, in tmux, against values derived from the
# harness's fixed history (see console-harness.c):
#   - resources: db_lock held by task 7 with one waiter; config with five
#     contended acquisitions (waits 1,2,3,4,12 ms; holds 2..6 ms), so
#     wait p99 = 12.0ms and hold p99 = longest = 6.00ms (p99 falls in the
#     top bucket, capped at the exact max); Enter opens the holder;
#   - workers: worker-0 polls stuck_task for seconds (BLOCKED, in red),
#     blocking-0 waits for db_lock (BLOCKED), worker-1 idle;
#   - warnings: grouped by kind with counts; Enter opens the task;
#   - filters: `/` by name and by location, Esc clears, `f` cycles the
#     states, `!` keeps warned tasks only;
#   - details of http_handler: 11 polls of 100..1000 us and 1.5 ms. With 4
#     sub-buckets per power of two, p50 (6th value, 600 us) reports its
#     bucket's upper bound 655360 ns = 655µs; p75 (9th, 900 us) 917504 ns
#     = 918µs; p90 (10th, 1 ms) 1048576 ns = 1.05ms; p95 and p99 (11th)
#     the exact max 1.50ms;
#   - 80x24 in the details and workers views, and back;
#   - ASCII (LANG=C): every view without a byte above 0x7f.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tmux-lib.sh"

harness=$(realpath "${1:?usage: test-console-views.sh CONSOLE-HARNESS}") || exit 1
tsx_init

line_of() { tsx_capture "$1" | grep -E -- "$2" | head -1; }
coherent() { # NAME COLS ROWS: the screen fits and header/footer are in place
	local screen
	screen=$(tsx_capture "$1")
	[ "$(printf '%s\n' "$screen" | wc -l)" -eq "$3" ] || tsx_fail "screen is not $3 lines"
	[ "$(printf '%s\n' "$screen" | LC_ALL=C.UTF-8 wc -L)" -le "$2" ] || tsx_fail "a line is wider than $2"
	printf '%s\n' "$screen" | head -1 | grep -q '^ taskscope  harness' || tsx_fail "header is not the first line"
	printf '%s\n' "$screen" | sed -n 2p | grep -q '^ \[t\] Tasks' || tsx_fail "view tabs are not the second line"
	printf '%s\n' "$screen" | tail -1 | grep -Eq '^ (q quit|Esc back)' || tsx_fail "footer is not the last line"
}

tsx_start v 100 30 C.UTF-8 "$harness" --timeout 90
tsx_wait_for v 'stuck_task' || tsx_fail "no tasks listed"

## resources
tsx_send v r
tsx_wait_for v '^ Resources \(2\)  1 held  1 with waiters' || tsx_fail "r: resources title"
l=$(line_of v '^mutex +db_lock ')
[[ $l =~ task\ 7\ +1\  ]] || tsx_fail "db_lock: holder task 7 and 1 waiter expected: $l"
l=$(line_of v '^rwlock +config ')
[[ $l =~ \ 5\ +12\.0ms\ +6\.00ms\ +6\.00ms$ ]] || tsx_fail "config: cont 5, wait p99 12.0ms, hold p99 6.00ms, longest 6.00ms: $l"
# the resource with waiters sorts first and is selected: Enter opens its holder
tsx_send v Enter
tsx_wait_for v '^ Task 7  stuck_task' || tsx_fail "Enter on db_lock did not open its holder"
for _ in 1 2 3; do tsx_send v NPage; done
tsx_wait_for v 'holds mutex db_lock \(id 901\)' || tsx_fail "details do not list the held lock"
tsx_send v Escape
tsx_wait_for v '^ Resources \(2\)' || tsx_fail "Esc did not go back to the resources"

## workers
tsx_send v w
tsx_wait_for v '^ Threads \(3\)' || tsx_fail "w: workers title"
l=$(line_of v ' 101 worker-0 ')
[[ $l =~ BLOCKED\ +7\ stuck_task ]] || tsx_fail "worker-0 should be BLOCKED in stuck_task: $l"
[[ $(line_of v ' 103 blocking-0 ') =~ BLOCKED ]] || tsx_fail "blocking-0 waits for a lock: BLOCKED expected"
[[ $(line_of v ' 102 worker-1 ') =~ idle ]] || tsx_fail "worker-1 should be idle"
# (worker-0 is the selected row: drawn as selected, not red)
tsx_capture v -e | grep -a 'blocking-0' | grep -aq $'\e\\[[0-9;]*41[;m]' || tsx_fail "blocked blocking-0 is not on red"
tsx_capture v -e | grep -a 'worker-1' | grep -aq $'\e\\[[0-9;]*41[;m]' && tsx_fail "idle worker-1 is on red"
# the busy sparkline gets its first sample after a second
tsx_wait_for v ' 101 worker-0 .*[▁▂▃▄▅▆▇█] +100%' || tsx_fail "worker-0 busy sparkline / 100%"

## warnings
tsx_send v W
tsx_wait_for v '^ contended_lock 1 ' || tsx_fail "W: contended_lock group"
tsx_capture v | grep -q '^ long_poll 4 ' || tsx_fail "W: long_poll group with its count"
tsx_capture v | grep -q 'thread 103 .*waited 12 ms for rwlock' || tsx_fail "W: the contended_lock warning"
# the first item is the newest long_poll: slow_render's 350 ms poll
tsx_send v Enter
tsx_wait_for v '^ Task 6  slow_render' || tsx_fail "Enter on a warning did not open its task"
tsx_wait_for v '^ +long_poll  .*poll took 350 ms' || tsx_fail "details do not list the task's warning"
tsx_send v Escape
tsx_wait_for v '^ Warnings \(' || tsx_fail "Esc did not go back to the warnings"

## filters
tsx_send v t / h t t p Enter
tsx_wait_for v '^ Tasks \(1 of 7\)' || tsx_fail "/http: one task expected"
tsx_capture v | grep -q 'http_handler' || tsx_fail "/http: http_handler not shown"
tsx_send v Escape
tsx_wait_for v '^ Tasks \(7\)' || tsx_fail "Esc did not clear the filter"
tsx_send v / j o b s Enter           # matches stuck_task's location only
tsx_wait_for v '^ Tasks \(1 of 7\)' || tsx_fail "/jobs: one task expected"
tsx_capture v | grep -q 'stuck_task' || tsx_fail "/jobs: the location filter missed stuck_task"
tsx_send v Escape f
tsx_wait_for v 'state: running' || tsx_fail "f: running filter"
tsx_wait_for v '^ Tasks \(1 of 7\)' || tsx_fail "f: one running task"
tsx_send v f
tsx_wait_for v 'state: scheduled' || tsx_fail "f f: scheduled filter"
tsx_capture v | grep -q 'http_handler' || tsx_fail "f f: http_handler is the scheduled one"
tsx_send v f f f
tsx_wait_gone v 'state: ' || tsx_fail "f cycles back to all states"
tsx_send v '!'
tsx_wait_for v 'warned only' || tsx_fail "!: warned only"
tsx_wait_gone v 'http_handler' || tsx_fail "!: http_handler has no warning but is shown"
rows=$(tsx_capture v | sed -n '/^Warn /,/ q quit /p' | sed '1d;$d' | grep -c '[0-9]')
warned=$(tsx_capture v | sed -n '/^Warn /,/ q quit /p' | grep -c '^⚠')
[ "$rows" -gt 0 ] && [ "$rows" = "$warned" ] || tsx_fail "!: $rows rows, $warned with a warning"
tsx_send v '!'
tsx_wait_for v '^ Tasks \(7\)' || tsx_fail "! again: all tasks"

## details: the histogram and its percentiles
tsx_send v g j j Enter
tsx_wait_for v '^ Task 3  http_handler' || tsx_fail "Enter: details of http_handler"
tsx_capture v | grep -q 'Poll times (11, max 1.50ms, 0 outliers)' || tsx_fail "poll histogram title"
tsx_capture v | grep -q 'p50 655µs  p75 918µs  p90 1.05ms  p95 1.50ms  p99 1.50ms' || tsx_fail "percentiles"
tsx_capture v | grep -q 'Polls 11' || tsx_fail "polls count"
tsx_capture v | grep -q 'Recent polls (11 kept)' || tsx_fail "recent polls"
coherent v 100 30

## 80x24 and back, in two views
tsx_resize v 80 24
tsx_wait_for v 'Poll times' || tsx_fail "details lost at 80x24"
sleep 0.3
coherent v 80 24
tsx_send v w
tsx_wait_for v '^ Threads \(3\)' || tsx_fail "workers at 80x24"
coherent v 80 24
tsx_resize v 100 30
tsx_wait_for v 'Polls/s +Polls$' || tsx_fail "workers did not get their Polls column back at 100 columns"
coherent v 100 30
tsx_send v q
status=$(tsx_wait_exit v) || tsx_fail "q did not end the console"
[ "$status" = 0 ] || tsx_fail "exit status $status"

## ASCII: every view
tsx_start a 80 24 C "$harness" --timeout 60
tsx_wait_for a 'stuck_task' || tsx_fail "ASCII: no tasks"
for k in r w W t Enter; do
	tsx_send a "$k"
	sleep 0.4
	tsx_capture a | LC_ALL=C grep -q "$(printf '[\200-\377]')" && tsx_fail "ASCII: UTF-8 bytes in view '$k'"
done
tsx_send a Escape G Enter
tsx_wait_for a 'Task 7  stuck_task' || tsx_fail "ASCII: details"
tsx_capture a | LC_ALL=C grep -q "$(printf '[\200-\377]')" && tsx_fail "ASCII: UTF-8 bytes in the details"
tsx_send a q
status=$(tsx_wait_exit a) || tsx_fail "ASCII: q did not end the console"
[ "$status" = 0 ] || tsx_fail "ASCII: exit status $status"
echo ok
