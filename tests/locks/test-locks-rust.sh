#!/usr/bin/env bash
# test-locks-rust.sh: lock tracing on a Rust program (needs root and
# rustc): std::sync::Mutex is Rust's own futex mutex, so this checks the
# futex path without glibc's lock code around it, in --locks=contended and
# in --locks=full (whose uprobes are pthread's: the futex path covers the
# rest): waits recorded, the lock named by the Rust function that took it
# (std's lock frames skipped), its file:line, contended_lock raised, and no
# probe left after the target exits under `taskscope attach`.
set -u
taskscope=$1 build=$2 src=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root"; exit 77; fi
if ! command -v rustc >/dev/null; then echo "SKIP: rustc is not installed (scripts/setup.sh installs it)"; exit 77; fi
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; exec 3>&- 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fails=0
check() { # description, then a command that must succeed
	local what=$1; shift
	if "$@"; then echo "ok - $what"; else echo "not ok - $what"; fails=$((fails + 1)); fi
}
db=
q() { sqlite3 -batch -noheader "$db" "$1"; }
loaded() { bpftool prog show 2>/dev/null | grep -c -E "name (locks_switch|locks_sys_enter)"; }

if ! rustc -O -g --edition 2021 "$src/rustlock.rs" -o "$build/rustlock" 2>"$work/rustc.log"; then
	cat "$work/rustc.log"; echo "not ok - rustlock builds"; exit 1
fi
run() { # MODE: attach rustlock in --locks=MODE and check its mutex
	local mode=$1 code attach spans
	db=$work/rust-$mode.db
	before=$(loaded)
	rm -f "$work/go"
	mkfifo "$work/go"
	"$build/rustlock" <"$work/go" >"$work/out" &
	pid=$!
	exec 3>"$work/go"
	for _ in $(seq 1 100); do grep -q ready "$work/out" && break; sleep 0.05; done
	"$taskscope" attach --mode generic --no-kernel --locks="$mode" --contended-lock 1 --headless \
		--duration 60 --db "$db" "$pid" >"$work/attach.out" 2>"$work/attach.err" &
	attach=$!
	for _ in $(seq 1 200); do [ "$(loaded)" -gt "$before" ] && break; sleep 0.05; done
	check "$mode: the lock programs are loaded" test "$(loaded)" -gt "$before"
	echo go >&3
	wait "$pid"
	code=$?
	pid=
	exec 3>&-
	wait "$attach"
	check "$mode: rustlock exits 0" test "$code" -eq 0
	check "$mode: attach ends with the target" grep -q "exited" "$work/attach.err"
	# the kernel frees programs a little after their links are gone (RCU)
	for _ in $(seq 1 100); do [ "$(loaded)" -le "$before" ] && break; sleep 0.1; done
	check "$mode: no lock program left" test "$(loaded)" -le "$before"
	spans=$(q "SELECT count(*) FROM lock_spans WHERE lock_name = 'rustlock::take_rust_lock'")
	check "$mode: waits recorded for the Rust mutex ($spans)" test "$spans" -ge 10 -a "$spans" -le 100
	check "$mode: each of them waited" test "$(q "SELECT count(*) FROM lock_spans WHERE lock_name = 'rustlock::take_rust_lock' AND wait_start_ns IS NULL")" -le 1
	check "$mode: contended_lock names the function and its file:line" \
		test "$(q "SELECT count(*) FROM warnings WHERE kind = 'contended_lock' AND detail LIKE '%''rustlock::take_rust_lock'' (%rustlock.rs:1_)%'")" -ge 1
}

# full mode probes pthread's functions, and the futex path for the rest
run contended
run full
exit $((fails > 0))
