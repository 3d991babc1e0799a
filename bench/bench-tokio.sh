#!/usr/bin/env bash
# bench-tokio.sh: what `taskscope attach` costs an unmodified Tokio program,
# in its default mode and with --waker-probes, next to the kernel's floor
# measured in the same run.
#   floor:        bench-tokio-floor: one uprobe + uretprobe pair with empty
#                 BPF programs on an empty function
#   poll-heavy:   tk-bench (tests/tokio/prog), one runtime thread, 8 tasks that
#                 only yield: CPU per poll before and while attached, in one
#                 run of the program; the difference is the cost per poll.
#                 The default mode in rounds (TASKSCOPE_BENCH_ROUNDS, 5),
#                 each next to a floor measured just before it, and the
#                 median ratio; --waker-probes once.
#   10k polls/s:  the same with ~100 us of work per poll (about 10k polls/s):
#                 the throughput ratio attached / not attached, per mode
# The attach is --no-kernel: this measures the Tokio probes alone. Probe
# hits per poll come from the recording: events / polls, less the wakes
# the default mode infers (they are not probe hits). Root only.
# Usage: bench-tokio.sh TASKSCOPE FLOOR_EXE BUILD_DIR
set -u
taskscope=$1
floor=$2
build=$3
. "$(dirname "$0")/../tests/tokio/lib.sh"
tk_setup "$build"
work=$(mktemp -d)
trap tk_cleanup EXIT

# With 2+ CPUs the target runs on CPU 0 and the collector on CPU 1, so the
# numbers are the probes' cost in the target, not the collector's CPU.
pin_target= pin_collector=
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	pin_target="taskset -c 0" pin_collector="taskset -c 1"
fi
# measure_floor: sets floor_ns and floor_ss_ns
measure_floor() {
	$pin_target "$floor" 200000 >"$work/floor" || { cat "$work/floor"; exit 77; }
	floor_ns=$(awk '$1 == "floor_pair_ns" { print $2 }' "$work/floor")
	floor_ss_ns=$(awk '$1 == "floor_pair_single_stepped_ns" { print $2 }' "$work/floor")
}

# run WORK_US [ATTACH_OPTION]: sets rate0/rate1 (polls/s), cpu0/cpu1 (CPU ns
# per poll), hits (probe hits per poll)
run() {
	local ctl=$work/ctl-$1${2:-} db=$work/b-$1${2:-}.db
	rm -rf "$ctl" "$db"; mkdir -p "$ctl"
	$pin_target "$tk_bin/tk-bench" "$ctl" "$1" 3 8 >"$ctl/out" 2>&1 &
	local prog=$!
	tk_pids+=("$prog")
	tk_wait_exec "$prog" "$tk_bin/tk-bench"
	for _ in $(seq 1 100); do [ -e "$ctl/ready" ] && break; sleep 0.1; done
	$pin_collector "$taskscope" attach --headless --no-kernel ${2:-} --duration 60 --db "$db" "$prog" 2>"$ctl/ts.err" &
	local ts=$!
	tk_pids+=("$ts")
	tk_wait_loaded "$ts" && sleep 1
	touch "$ctl/go"
	wait "$prog"
	wait "$ts"
	val() { awk -v k="$1" '$1 == k { print $2 }' "$ctl/out"; }
	rate0=$(val unattached_polls_per_s) rate1=$(val attached_polls_per_s)
	cpu0=$(val unattached_cpu_ns_per_poll) cpu1=$(val attached_cpu_ns_per_poll)
	local events polls inferred=0
	events=$(sed -n 's/.*; \([0-9]*\) events, .*/\1/p' "$ctl/ts.err")
	polls=$(sqlite3 -batch -noheader "$db" "SELECT sum(polls) FROM task_summary")
	# the default mode's wakes are inferred from poll ends and polls, not probed
	[ -z "${2:-}" ] && inferred=$(sqlite3 -batch -noheader "$db" "SELECT coalesce(sum(wakes), 0) FROM task_summary")
	hits=$(awk -v e="${events:-0}" -v w="${inferred:-0}" -v p="${polls:-0}" 'BEGIN { printf "%.2f", (p > 0) ? (e - w) / p : 0 }')
}

# report MODE: the poll-heavy lines of the last run
report() {
	awk -v m="$1" -v r0="$rate0" -v r1="$rate1" -v c0="$cpu0" -v c1="$cpu1" -v f="$floor_ns" -v h="$hits" 'BEGIN {
		c = c1 - c0
		printf "poll-heavy %s: %.0f polls/s alone, %.0f attached (ratio %.3f)\n", m, r0, r1, r1 / r0
		printf "poll-heavy %s: CPU per poll %.0f ns alone, %.0f ns attached: the attach adds %.0f ns per poll\n", m, c0, c1, c
		printf "poll-heavy %s: %.2f x the floor pair; %.2f probe hits per poll (a pair is 2)\n", m, c / f, h
		if (h > 0)
			printf "poll-heavy %s: per probe hit %.0f ns = %.2f x the floor per hit (%.0f ns)\n", m, c / h, (c / h) / (f / 2), f / 2
	}'
}

# report10k MODE: the 10k polls/s lines of the last run
report10k() {
	awk -v m="$1" -v r0="$rate0" -v r1="$rate1" -v c0="$cpu0" -v c1="$cpu1" 'BEGIN {
		printf "10k polls/s %s: CPU per poll %.0f ns alone, %.0f ns attached: throughput ratio %.3f (%.1f%% lost)\n",
			m, c0, c1, c0 / c1, 100 * (1 - c0 / c1)
		printf "10k polls/s %s: wall-clock rate %.0f polls/s alone, %.0f attached (machine load shows here)\n", m, r0, r1
	}'
}

echo "machine: $(nproc) CPUs, $(uname -r), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)"

# The default mode in ROUNDS rounds, each a floor measurement right before
# an attached run: this VM's trap cost drifts by 10-20 % within minutes,
# so each round's ratio uses its own floor, and the median is the result.
ROUNDS=${TASKSCOPE_BENCH_ROUNDS:-5}
ratios=
for round in $(seq 1 "$ROUNDS"); do
	measure_floor
	echo "round $round floor: uprobe+uretprobe pair on an empty function: ${floor_ns} ns (${floor_ss_ns} ns when its first instruction is single-stepped)"
	run 0
	report default | sed "s/^/round $round /"
	ratios="$ratios $(awk -v c="$cpu1" -v c0="$cpu0" -v f="$floor_ns" 'BEGIN { printf "%.3f", (c - c0) / f }')"
done
echo "$ratios" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk -v n="$ROUNDS" '
	{ r[NR] = $1; if ($1 <= 1.3) ok++ }
	END { printf "poll-heavy default: median %.2f x the floor pair over %d rounds (min %.2f, max %.2f; %d of %d at or below 1.3)\n",
		r[int((NR + 1) / 2)], NR, r[1], r[NR], ok, NR }'

measure_floor
echo "floor: uprobe+uretprobe pair on an empty function: ${floor_ns} ns (${floor_ss_ns} ns when its first instruction is single-stepped)"
run 0 --waker-probes
report waker-probes
run 98
report10k default
run 98 --waker-probes
report10k waker-probes
