# tmux-lib.sh: drive a full-screen program inside a private, detached tmux
# server and look at its screen, for the end-to-end tests. Source it from
# bash:
#
#   . tmux-lib.sh
#   tsx_init                                  # private socket + temp dir, cleanup on exit
#   tsx_start NAME 100 30 C.UTF-8 prog args   # TERM=xterm-256color, LANG as given
#   tsx_wait_for NAME 'regex' || tsx_fail "what was expected"
#   tsx_send NAME Right i q                   # tmux key names
#   tsx_resize NAME 80 24
#   status=$(tsx_wait_exit NAME)              # the program's exit status
#
# The program's stderr goes to "$TSX_DIR/NAME.stderr" (shown by tsx_fail),
# its exit status to "$TSX_DIR/NAME.status".
# Waits poll the screen every 0.1 s up to TSX_TIMEOUT seconds (default 10):
# they are deadlines for a stuck program, not speed assertions.

TSX_TIMEOUT=${TSX_TIMEOUT:-10}
TSX_DIR=
TSX_LAST_NAME=

# Skip (exit 77) when tmux is missing; make the private server's home.
tsx_init() {
	if ! command -v tmux >/dev/null 2>&1; then
		echo "SKIP: tmux is not installed"
		exit 77
	fi
	TSX_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tsx.XXXXXX") || exit 1
	# no status line (the pane gets the whole window); keep dead panes so
	# their last screen can still be read
	printf 'set -g status off\nset -g remain-on-exit on\nset -g default-terminal xterm-256color\n' \
		>"$TSX_DIR/tmux.conf"
	trap tsx_cleanup EXIT
}

tsx_cleanup() {
	[ -n "$TSX_DIR" ] || return 0
	tsx_tmux kill-server >/dev/null 2>&1
	rm -rf "$TSX_DIR"
	TSX_DIR=
}

# tmux itself always runs in a UTF-8 locale (tmux 3 refuses others); the
# programs it starts get their own locale from tsx_start.
tsx_tmux() {
	LC_ALL=C.UTF-8 env -u TMUX tmux -u -S "$TSX_DIR/sock" -f "$TSX_DIR/tmux.conf" "$@"
}

# tsx_start NAME COLS ROWS LANG PROGRAM [ARGS...]
tsx_start() {
	local name=$1 cols=$2 rows=$3 lang=$4 cmd
	shift 4
	# a relative program path is taken from here, not from tmux's cwd
	if [[ $1 == */* && $1 != /* ]]; then
		set -- "$PWD/$1" "${@:2}"
	fi
	local base
	base=$(printf '%q' "$TSX_DIR/$name")
	cmd="env -u LC_ALL -u LC_CTYPE -u LC_MESSAGES TERM=xterm-256color LANG=$lang"
	cmd="$cmd $(printf '%q ' "$@") 2>$base.stderr; echo \$? >$base.st; mv $base.st $base.status"
	TSX_LAST_NAME=$name
	tsx_tmux new-session -d -s "$name" -x "$cols" -y "$rows" "$cmd"
}

# The visible screen as text; with -e, with SGR attribute sequences.
tsx_capture() {
	local name=$1
	shift
	tsx_tmux capture-pane -p "$@" -t "$name"
}

tsx_send() {
	local name=$1
	shift
	TSX_LAST_NAME=$name
	tsx_tmux send-keys -t "$name" "$@"
}

tsx_resize() {
	tsx_tmux resize-window -t "$1" -x "$2" -y "$3"
}

# tsx_wait_for NAME ERE: until a line of the screen matches.
tsx_wait_for() {
	local name=$1 re=$2 i
	TSX_LAST_NAME=$name
	for ((i = 0; i < TSX_TIMEOUT * 10; i++)); do
		tsx_capture "$name" | grep -Eq -- "$re" && return 0
		sleep 0.1
	done
	echo "timed out waiting for /$re/" >&2
	return 1
}

# tsx_wait_gone NAME ERE: until no line of the screen matches.
tsx_wait_gone() {
	local name=$1 re=$2 i
	TSX_LAST_NAME=$name
	for ((i = 0; i < TSX_TIMEOUT * 10; i++)); do
		tsx_capture "$name" | grep -Eq -- "$re" || return 0
		sleep 0.1
	done
	echo "timed out waiting for /$re/ to go away" >&2
	return 1
}

# tsx_wait_exit NAME: wait for the program to exit; print its status
# (128+N when signal N ended it). The status comes from the wrapper shell
# of tsx_start: tmux 3.3 sometimes marks a pane dead without ever
# reporting #{pane_dead_status}.
tsx_wait_exit() {
	local name=$1 i
	for ((i = 0; i < TSX_TIMEOUT * 10; i++)); do
		if [ -s "$TSX_DIR/$name.status" ]; then
			cat "$TSX_DIR/$name.status"
			return 0
		fi
		sleep 0.1
	done
	echo "timeout"
	return 1
}

# tsx_fail MESSAGE: report with the last screen and the program's stderr.
tsx_fail() {
	echo "FAIL: $*" >&2
	if [ -n "$TSX_LAST_NAME" ] && [ -n "$TSX_DIR" ]; then
		echo "--- screen of $TSX_LAST_NAME:" >&2
		tsx_capture "$TSX_LAST_NAME" >&2
		echo "--- stderr of $TSX_LAST_NAME:" >&2
		cat "$TSX_DIR/$TSX_LAST_NAME.stderr" >&2 2>/dev/null
	fi
	exit 1
}
