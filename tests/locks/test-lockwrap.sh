#!/usr/bin/env bash
# test-lockwrap.sh: libtaskscope-lockwrap.so (preload/lockwrap.c) under
# `taskscope run`, without BPF (--locks=off --no-kernel): lockpool's four
# workers fight over one mutex; the interposer reports only the contended
# acquisitions, through the shim. Checks: lock spans with waits for the
# pool's mutex (id = its address), named by the calling function
# (pool_take, exported), nothing for uncontended holds (every span
# waited), contended_lock raised, at most one span per acquisition.
set -u
taskscope=$1 lockpool=$2 lib=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db=$work/lw.db
fails=0
check() { # description, then a command that must succeed
	local what=$1; shift
	if "$@"; then echo "ok - $what"; else echo "not ok - $what"; fails=$((fails + 1)); fi
}
q() { sqlite3 -batch -noheader "$db" "$1"; }

# a sanitized build's library needs its sanitizer runtimes loaded first
runtimes=$(ldd "$lib" | awk '/libasan|libubsan/ { printf "%s ", $3 }')
"$taskscope" run --headless --no-kernel --locks=off --contended-lock 1 --db "$db" -- \
	env LD_PRELOAD="$runtimes$lib" ASAN_OPTIONS=detect_leaks=0 "$lockpool" 4 25 2000 go \
	>"$work/out" 2>"$work/err"
code=$?
cat "$work/err"
check "run exits 0" test "$code" -eq 0
check "lockpool ran" grep -q "^done 101 " "$work/out"
addr=$(sed -n 's/^ready [0-9]* 0x\([0-9a-f]*\) .*/\1/p' "$work/out")
check "lockpool printed its mutex" test -n "$addr"
id=$((16#${addr:-0}))
spans=$(q "SELECT count(*) FROM lock_spans WHERE lock_id = $id")
check "lock spans of the pool's mutex ($spans)" test "$spans" -ge 10
check "at most one per acquisition" test "$spans" -le 101
check "all of them waited (uncontended holds are not recorded)" \
	test "$(q "SELECT count(*) FROM lock_spans WHERE lock_id = $id AND wait_start_ns IS NULL")" -eq 0
check "named by the caller" \
	test "$(q "SELECT count(*) FROM lock_spans WHERE lock_id = $id AND lock_name = 'pool_take'")" -eq "$spans"
check "held by several threads" test "$(q "SELECT count(DISTINCT tid) FROM lock_spans WHERE lock_id = $id")" -ge 2
check "holds are sane" test "$(q "SELECT count(*) FROM lock_spans WHERE lock_id = $id
	AND NOT (wait_start_ns <= acquired_ns AND acquired_ns <= released_ns)")" -eq 0
check "contended_lock raised" \
	test "$(q "SELECT count(*) FROM warnings WHERE kind = 'contended_lock' AND detail LIKE '%pool_take%'")" -ge 1
exit $((fails > 0))
