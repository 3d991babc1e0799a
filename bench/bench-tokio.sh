#!/usr/bin/env bash
# bench-tokio.sh: what `taskscope attach` costs an unmodified Tokio program,
# next to the kernel's floor measured in the same run.
#   floor:        bench-tokio-floor: one uprobe + uretprobe pair with empty
#                 BPF programs on an empty function
#   poll-heavy:   tk-bench (tests/tokio/prog), one runtime thread, 8 tasks that
#                 only yield: polls/s before and while attached, in one run;
#                 the difference of 1/rate is the cost per poll
#   10k polls/s:  the same with ~100 us of work per poll (about 10k polls/s):
#                 the throughput ratio attached / not attached
# The attach is --no-kernel: this measures the Tokio probes alone. Probe
# hits per poll come from the recording (events / polls). Root only.
# Usage: bench-tokio.sh TASKSCOPE FLOOR_EXE BUILD_DIR
set -u
taskscope=$1
floor=$2
build=$3
. "$(dirname "$0")/../tests/tokio/lib.sh"
tk_setup "$build"
work=$(mktemp -d)
trap tk_cleanup EXIT

"$floor" 200000 >"$work/floor" || { cat "$work/floor"; exit 77; }
floor_ns=$(awk '$1 == "floor_pair_ns" { print $2 }' "$work/floor")

# run WORK_US: sets rate0, rate1 (polls/s), hits (probe hits per poll)
run() {
	local ctl=$work/ctl-$1 db=$work/b-$1.db
	mkdir -p "$ctl"
	"$tk_bin/tk-bench" "$ctl" "$1" 3 8 >"$ctl/out" 2>&1 &
	local prog=$!
	tk_pids+=("$prog")
	tk_wait_exec "$prog" "$tk_bin/tk-bench"
	for _ in $(seq 1 100); do [ -e "$ctl/ready" ] && break; sleep 0.1; done
	"$taskscope" attach --headless --no-kernel --duration 60 --db "$db" "$prog" 2>"$ctl/ts.err" &
	local ts=$!
	tk_pids+=("$ts")
	tk_wait_loaded "$ts" && sleep 1
	touch "$ctl/go"
	wait "$prog"
	wait "$ts"
	rate0=$(awk '$1 == "unattached_polls_per_s" { print $2 }' "$ctl/out")
	rate1=$(awk '$1 == "attached_polls_per_s" { print $2 }' "$ctl/out")
	local events polls
	events=$(sed -n 's/.*attached; \([0-9]*\) events.*/\1/p' "$ctl/ts.err")
	polls=$(sqlite3 -batch -noheader "$db" "SELECT sum(polls) FROM task_summary")
	hits=$(awk -v e="${events:-0}" -v p="${polls:-0}" 'BEGIN { printf "%.2f", p > 0 ? e / p : 0 }')
}

echo "machine: $(nproc) CPUs, $(uname -r), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
echo "floor: uprobe+uretprobe pair on an empty function: ${floor_ns} ns"

run 0
awk -v r0="$rate0" -v r1="$rate1" -v f="$floor_ns" -v h="$hits" 'BEGIN {
	t0 = 1e9 / r0; t1 = 1e9 / r1; c = t1 - t0
	printf "poll-heavy: %.0f polls/s alone, %.0f attached (ratio %.3f)\n", r0, r1, r1 / r0
	printf "poll-heavy: %.0f ns per poll alone, %.0f attached: the attach adds %.0f ns per poll\n", t0, t1, c
	printf "poll-heavy: %.0f ns per poll = %.2f x the floor pair; %.2f probe hits per poll (a pair is 2)\n", c, c / f, h
	printf "poll-heavy: per probe hit %.0f ns = %.2f x the floor per hit (%.0f ns)\n", c / h, (c / h) / (f / 2), f / 2
}'
run 98
awk -v r0="$rate0" -v r1="$rate1" 'BEGIN {
	printf "10k polls/s: %.0f polls/s alone, %.0f attached: throughput ratio %.3f (%.1f%% lost)\n",
		r0, r1, r1 / r0, 100 * (1 - r1 / r0)
}'
