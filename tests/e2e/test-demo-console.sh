#!/usr/bin/env bash
# test-demo-console.sh: the live console on the real demo, in a real
# terminal (tmux): it lists the tasks the recording then holds, a sort key
# changes the order, q exits 0 and leaves the alternate screen, and the
# recording is complete.
set -u
taskscope=$1
. "$(dirname "$0")/tmux-lib.sh"
tsx_init
TSX_TIMEOUT=20
db=$TSX_DIR/demo.db

tsx_start demo 120 40 C.UTF-8 "$taskscope" demo --db "$db"
tsx_wait_for demo 'blocking-sleeper' || tsx_fail "the demo's tasks did not appear"
tsx_wait_for demo 'lost-waker' || tsx_fail "lost-waker did not appear"

# The rows under the table header: "... ID State Name ..." — take the
# first column that is all digits as the ID.
ids() { tsx_capture demo | awk '/ID +State +Name/ { on = 1; next } on && NF > 3 { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) { print $i; break } }' | head -n 8 | tr '\n' ' '; }
names_on_screen() { tsx_capture demo | grep -Eo '(blocking-sleeper|cpu-spinner|lock-holder|lock-waiter|lost-waker|self-waker|ticker|heartbeat|metrics-flush|acceptor)' | sort -u; }

before=$(ids)
shown=$(names_on_screen)
[ -n "$before" ] || tsx_fail "no task rows found"
tsx_send demo i
sleep 1
after=$(ids)
[ -n "$after" ] || tsx_fail "no task rows after inverting the sort"
[ "$before" != "$after" ] || tsx_fail "inverting the sort did not change the order ($before)"
first_before=${before%% *}
first_after=${after%% *}
[ "$first_after" -gt "$first_before" ] || tsx_fail "inverted ID sort should start with a larger ID ($first_before, then $first_after)"

tsx_send demo q
status=$(tsx_wait_exit demo) || tsx_fail "q did not end the console"
[ "$status" = 0 ] || tsx_fail "exit status $status"
[ "$(tsx_tmux display-message -p -t demo '#{alternate_on}')" = 0 ] || tsx_fail "the terminal was left in the alternate screen"
if tsx_capture demo | grep -q 'ID *State *Name'; then tsx_fail "the console is still on the screen after q"; fi

[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || tsx_fail "recording is not sound"
for n in $shown; do
	c=$(sqlite3 "$db" "SELECT count(*) FROM task_summary WHERE name = '$n'")
	[ "$c" -ge 1 ] || tsx_fail "task $n was on the screen but is not in the recording"
done
echo "ok: $(echo $shown | wc -w) task names on screen are in the recording; sort order changed; clean exit"
