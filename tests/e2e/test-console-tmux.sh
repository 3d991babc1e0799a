#!/bin/bash
# test-console-tmux.sh HARNESS: the live console end to end, in tmux.
#
# Runs console-harness (a synthetic model behind the real console) in a
# detached 100x30 tmux session and checks what a user sees: the task
# names, moving the selection, sorting by Busy and inverting it, pausing, a resize to 80x24
# (Location dropped, header and table still whole), the help overlay,
# that `q` exits 0, the dropped-events alert in red; then a second run
# with LANG=C and NO_COLOR that must show pure ASCII and no colors.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tmux-lib.sh"

harness=$(realpath "${1:?usage: test-console-tmux.sh CONSOLE-HARNESS}") || exit 1
tsx_init

# The rows of the table (everything between the column heads and the footer).
table_rows() {
	tsx_capture "$1" | sed -n '/^Warn /,/ q quit /p'
}

# Task names in the order the table lists them.
table_order() {
	table_rows "$1" | grep -Eo '(accept_loop|db_pool|http_handler|metrics_push|cache_evictor|slow_render|stuck_task)' \
		| tr '\n' ' ' | sed 's/ $//'
}

# The task on the selected row (drawn on a cyan background: SGR 46).
selected_name() {
	tsx_capture "$1" -e | grep -a $'\e\\[46m' \
		| grep -aEo '(accept_loop|db_pool|http_handler|metrics_push|cache_evictor|slow_render|stuck_task)' | head -1
}

wait_selected() {
	local i
	for ((i = 0; i < TSX_TIMEOUT * 10; i++)); do
		[ "$(selected_name "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# Every SGR parameter on screen that sets a color.
color_params() {
	tsx_capture "$1" -e | grep -ao $'\e\\[[0-9;]*m' | tr -d $'\e[m' | tr ';' '\n' \
		| grep -Ex '3[0-8]|4[0-8]|9[0-7]|10[0-7]'
}

by_id='accept_loop db_pool http_handler metrics_push cache_evictor slow_render stuck_task'
by_busy='stuck_task slow_render metrics_push db_pool cache_evictor http_handler accept_loop'
by_busy_inv='accept_loop http_handler cache_evictor db_pool metrics_push slow_render stuck_task'

## UTF-8, colors, 100x30
tsx_start utf 100 30 C.UTF-8 "$harness" --timeout 60 --dropped 5
tsx_wait_for utf 'stuck_task' || tsx_fail "the task names are not listed"
[ "$(table_order utf)" = "$by_id" ] || tsx_fail "initial order is not by ID: $(table_order utf)"
tsx_capture utf | grep -q '^ taskscope  harness (pid 4242)  live ' || tsx_fail "header line"
tsx_capture utf | grep -q 'Location' || tsx_fail "no Location column at 100 columns"
tsx_capture utf | grep -q '750µs' || tsx_fail "durations not in µs"
tsx_capture utf | grep -q '▶ 1 running  ⏫ 1 scheduled  ⏸ 4 idle  ✓ 1 done' || tsx_fail "state counts in the title"
[ -n "$(color_params utf | grep -x 41)" ] || tsx_fail "dropped events are not on red"

# selection: j/k, G/g; it stays on its task when the order changes
wait_selected utf accept_loop || tsx_fail "the first task is not selected: $(selected_name utf)"
tsx_send utf j j
wait_selected utf http_handler || tsx_fail "j j: $(selected_name utf)"
tsx_send utf k k k
wait_selected utf accept_loop || tsx_fail "k past the top: $(selected_name utf)"
tsx_send utf G
wait_selected utf stuck_task || tsx_fail "G: $(selected_name utf)"
tsx_send utf g j j
wait_selected utf http_handler || tsx_fail "g j j: $(selected_name utf)"

# sort: ID -> State -> Name -> Total -> Busy
tsx_send utf Right Right Right Right
tsx_wait_for utf 'sort: Busy ▼' || tsx_fail "sort column did not move to Busy"
[ "$(table_order utf)" = "$by_busy" ] || tsx_fail "not sorted by Busy: $(table_order utf)"
[ "$(selected_name utf)" = http_handler ] || tsx_fail "selection did not follow its task: $(selected_name utf)"
tsx_send utf i
tsx_wait_for utf 'sort: Busy ▲' || tsx_fail "i did not invert"
[ "$(table_order utf)" = "$by_busy_inv" ] || tsx_fail "not inverted: $(table_order utf)"
tsx_send utf h
tsx_wait_for utf 'sort: Total ▼' || tsx_fail "h did not move the sort column left"
tsx_send utf l
tsx_wait_for utf 'sort: Busy ▼' || tsx_fail "l did not move the sort column right"

# pause freezes the table (stuck_task's Busy grows every frame otherwise)
tsx_send utf Space
tsx_wait_for utf '  PAUSED  ' || tsx_fail "space did not pause"
before=$(table_rows utf)
sleep 1.2
[ "$(table_rows utf)" = "$before" ] || tsx_fail "the table changed while paused"
tsx_send utf Space
tsx_wait_gone utf 'PAUSED' || tsx_fail "space did not resume"
sleep 1.2
[ "$(table_rows utf)" != "$before" ] || tsx_fail "the table is frozen after resuming"

# 80x24: still coherent, Location dropped first
tsx_resize utf 80 24
# the column heads as laid out for 80 columns (not the old line cut short)
tsx_wait_for utf '^Warn +ID State Name +Total +Busy +Sched +Idle +Polls +Kind *$' \
	|| tsx_fail "column heads not laid out for 80 columns (Location must go first)"
screen=$(tsx_capture utf)
printf '%s\n' "$screen" | grep -q 'Location' && tsx_fail "Location not dropped at 80 columns"
[ "$(printf '%s\n' "$screen" | wc -l)" -eq 24 ] || tsx_fail "screen is not 24 lines"
[ "$(printf '%s\n' "$screen" | LC_ALL=C.UTF-8 wc -L)" -le 80 ] || tsx_fail "a line is wider than 80"
printf '%s\n' "$screen" | head -1 | grep -q '^ taskscope  harness (pid 4242)  live ' || tsx_fail "header after resize"
printf '%s\n' "$screen" | tail -1 | grep -q '^ q quit' || tsx_fail "footer is not the last line"
[ "$(table_order utf)" = "$by_busy" ] || tsx_fail "rows after resize: $(table_order utf)"

# help overlay
tsx_send utf '?'
tsx_wait_for utf 'Keys \(\? or Esc closes\)' || tsx_fail "? did not show the help"
tsx_capture utf | grep -q 'invert the sort order' || tsx_fail "help does not list i"
tsx_send utf Escape
tsx_wait_gone utf 'Keys \(' || tsx_fail "Esc did not close the help"

tsx_send utf q
status=$(tsx_wait_exit utf) || tsx_fail "q did not end the console: $status"
[ "$status" = 0 ] || tsx_fail "console exited with status $status"

## LANG=C, NO_COLOR: ASCII only, no colors
tsx_start ascii 100 30 C env NO_COLOR=1 "$harness" --timeout 60 --dropped 5
tsx_wait_for ascii 'stuck_task' || tsx_fail "ASCII: the task names are not listed"
tsx_capture ascii | grep -q '750us' || tsx_fail "ASCII: durations not in us"
tsx_send ascii '?'
tsx_wait_for ascii 'Keys \(' || tsx_fail "ASCII: no help"
tsx_capture ascii | LC_ALL=C grep -q "$(printf '[\200-\377]')" && tsx_fail "ASCII: UTF-8 bytes on screen"
tsx_send ascii Escape
tsx_wait_gone ascii 'Keys \(' || tsx_fail "ASCII: help did not close"
tsx_capture ascii | grep -q 'R 1 running  S 1 scheduled  I 4 idle  D 1 done' || tsx_fail "ASCII: state letters"
tsx_capture ascii | LC_ALL=C grep -q "$(printf '[\200-\377]')" && tsx_fail "ASCII: UTF-8 bytes on screen"
[ -z "$(color_params ascii)" ] || tsx_fail "NO_COLOR: colors on screen"
tsx_send ascii q
status=$(tsx_wait_exit ascii) || tsx_fail "ASCII: q did not end the console: $status"
[ "$status" = 0 ] || tsx_fail "ASCII: console exited with status $status"

echo "ok"
