#!/usr/bin/env bash
# test-badinput-tmux.sh: what the console does with input it cannot use,
# in a real terminal (tmux): a file that is not a recording, a recording
# of another schema version, a stream that is not taskscope's (garbage), a
# stream cut inside its first frame, and garbage arriving after the
# console is up. Each: exit status 1, exactly one line on stderr saying
# what is wrong, no crash, and the terminal back as it was.
set -u
taskscope=$1
fake=$2
. "$(dirname "$0")/../e2e/tmux-lib.sh"
tsx_init
TSX_TIMEOUT=20

# expect NAME REGEX ARGS...: run `taskscope console ARGS` and check the end
expect() {
	local name=$1 re=$2 status lines
	shift 2
	tsx_start "$name" 100 30 C.UTF-8 "$taskscope" console "$@"
	status=$(tsx_wait_exit "$name") || tsx_fail "$name: the console did not exit"
	[ "$status" = 1 ] || tsx_fail "$name: exit status $status, expected 1"
	lines=$(wc -l <"$TSX_DIR/$name.stderr")
	[ "$lines" = 1 ] || tsx_fail "$name: $lines lines on stderr, expected one"
	grep -Eq -- "$re" "$TSX_DIR/$name.stderr" || tsx_fail "$name: stderr does not say /$re/: $(cat "$TSX_DIR/$name.stderr")"
	grep -q 'taskscope console: ' "$TSX_DIR/$name.stderr" || tsx_fail "$name: the line does not say who speaks"
	[ "$(tsx_tmux display-message -p -t "$name" '#{alternate_on}')" = 0 ] ||
		tsx_fail "$name: the terminal was left in the alternate screen"
	echo "ok: $name: $(cat "$TSX_DIR/$name.stderr")"
}

# usage errors: exit status 2, one line, no terminal needed
for args in "" "--db" "--db a.db --connect b.sock" "--bogus"; do
	# shellcheck disable=SC2086
	"$taskscope" console $args >/dev/null 2>"$TSX_DIR/usage.err" </dev/null
	status=$?
	[ "$status" = 2 ] || tsx_fail "console $args: exit status $status, expected 2"
	[ "$(wc -l <"$TSX_DIR/usage.err")" = 1 ] || tsx_fail "console $args: not one line: $(cat "$TSX_DIR/usage.err")"
done
"$taskscope" console --help | grep -q -- '--connect ADDR' || tsx_fail "console --help does not describe --connect"
echo "ok: usage errors"

# not a database at all, and a database that is not ours
printf 'this is not a database\n' >"$TSX_DIR/notes.txt"
expect notdb 'is not a taskscope recording' --db "$TSX_DIR/notes.txt"
sqlite3 "$TSX_DIR/other.db" 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'
expect otherdb 'is not a taskscope recording' --db "$TSX_DIR/other.db"

# another schema version: a real recording with its version bumped
"$taskscope" demo --headless --duration 0.5 --db "$TSX_DIR/v.db" >/dev/null 2>&1 || tsx_fail "recording the demo"
sqlite3 "$TSX_DIR/v.db" 'PRAGMA user_version = 99' || tsx_fail "cannot bump the schema version"
expect schema 'schema version 99' --db "$TSX_DIR/v.db"

# nothing listening
expect nobody 'cannot connect to' --connect "$TSX_DIR/nobody.sock"

# a peer that is not a taskscope collector, one that hangs up mid-frame,
# and one that turns to garbage once the console is up
for mode in garbage truncated late-garbage; do
	sock=$TSX_DIR/$mode.sock
	"$fake" "$sock" $mode &
	fake_pid=$!
	for ((i = 0; i < 50; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
	case $mode in
	garbage) re='frame of [0-9]+ bytes' ;;
	truncated) re='closed the connection before a complete snapshot' ;;
	late-garbage) re='not an Update' ;;
	esac
	if [ $mode = late-garbage ]; then
		# the console must be up (header drawn) before the garbage arrives
		tsx_start $mode 100 30 C.UTF-8 "$taskscope" console --connect "$sock"
		tsx_wait_for $mode 'remote live' || tsx_fail "late-garbage: the console did not come up"
		status=$(tsx_wait_exit $mode) || tsx_fail "late-garbage: the console did not exit"
		[ "$status" = 1 ] || tsx_fail "late-garbage: exit status $status"
		[ "$(wc -l <"$TSX_DIR/$mode.stderr")" = 1 ] || tsx_fail "late-garbage: not one line: $(cat "$TSX_DIR/$mode.stderr")"
		grep -Eq "$re" "$TSX_DIR/$mode.stderr" || tsx_fail "late-garbage: $(cat "$TSX_DIR/$mode.stderr")"
		[ "$(tsx_tmux display-message -p -t $mode '#{alternate_on}')" = 0 ] || tsx_fail "late-garbage: alternate screen left on"
		echo "ok: $mode: $(cat "$TSX_DIR/$mode.stderr")"
	else
		expect $mode "$re" --connect "$sock"
	fi
	kill $fake_pid 2>/dev/null
	wait $fake_pid 2>/dev/null
done
