# lib.sh: shared by the tokio tests (sourced). Builds the Tokio test
# programs in tests/tokio/prog offline (Debian's librust-tokio-dev, see
# DEVELOPERS.md) into the meson build directory, and gives the tests the
# same check/q helpers as the other shell tests.
#   tk_setup BUILD_DIR     root and cargo or exit 77; builds; sets $tk_bin and
#                          $work (a scratch directory, removed at exit)
#   tk_cleanup             kill what the test started, by pid
#   q SQL                  query the recording $db
tk_src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tk_pids=()
fails=0

check() { # description, then a command that must succeed
	local what=$1; shift
	if "$@"; then echo "ok - $what"; else echo "not ok - $what"; fails=$((fails + 1)); fi
}

tk_setup() {
	local build
	build=$(cd "$1" && pwd) || exit 1
	if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root"; exit 77; fi
	if ! command -v cargo >/dev/null; then echo "SKIP: cargo is not installed (scripts/setup.sh installs it)"; exit 77; fi
	if [ ! -d /usr/share/cargo/registry/tokio-1.24.2 ] && ! ls -d /usr/share/cargo/registry/tokio-1.* >/dev/null 2>&1; then
		echo "SKIP: librust-tokio-dev is not installed (scripts/setup.sh installs it)"; exit 77
	fi
	export CARGO_TARGET_DIR=$build/tokio-target
	# cargo locks its target directory: tests building at once wait for each other
	if ! (cd "$tk_src/prog" && cargo build --release --offline --quiet 2>"$build/tokio-cargo.log"); then
		cat "$build/tokio-cargo.log"
		echo "not ok - the Tokio test programs build offline"
		exit 1
	fi
	tk_bin=$CARGO_TARGET_DIR/release
	# a timeout's SIGTERM must still run the EXIT trap (tk_cleanup): the
	# targets and taskscope die, and taskscope's exit removes our probes
	trap 'exit 143' TERM
	trap 'exit 130' INT
	work=$(mktemp -d)
	trap tk_cleanup EXIT
}

q() { sqlite3 -batch -noheader "$db" "$1"; }

tk_cleanup() {
	for p in "${tk_pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$work"
}

# The tokio programs' own probes, loaded now (our skeleton's program names).
tk_progs_loaded() {
	bpftool prog show 2>/dev/null | grep -c -E "name (tk_poll_enter|tk_poll_exit|tk_poll_session|tk_dealloc|tk_waker|tk_spawn_ret|tk_panic_caught|tk_complete) "
}

# Wait (up to 30 s) until our programs are loaded, or until pid $1 is gone.
tk_wait_loaded() {
	for _ in $(seq 1 300); do
		[ "$(tk_progs_loaded)" -gt 0 ] && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# Wait (up to 20 s) until none of our programs is loaded: the kernel frees
# programs a little after their links are gone (an RCU grace period).
tk_wait_unloaded() {
	for _ in $(seq 1 200); do
		[ "$(tk_progs_loaded)" -eq 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# Wait (up to 10 s) until pid $1 runs the program $2 (a child started with &
# may still be the shell that is about to exec it).
tk_wait_exec() {
	local want
	want=$(readlink -f "$2")
	for _ in $(seq 1 100); do
		[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$want" ] && return 0
		sleep 0.1
	done
	return 1
}
