#!/usr/bin/env bash
# bench-sync.sh - flow sync lag between two edgelb-dp boxes (issue 12).
#
#   scripts/bench-sync.sh [build dir]          (root; needs a build: ninja -C build)
#
# Runs the dp-sync-lag case (tests/dp/case_sync_lag.py) BENCH_RUNS times (default 3):
# two real dps (one worker each, net_pcap on veths, idle sleep on) on a bridge in a
# private namespace, flow sync between them; BENCH_SYNC_CONNS bare SYNs (default
# 3000) through box A at BENCH_SYNC_RATE per second (default 500), then box B's
# flow_sync lag p50 / p99 / max (docs/flow-sync.md "Lag"). Prints one "sync lag:"
# line per run. Both boxes share the clock, so no clock offset is in the figures.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
runs=${BENCH_RUNS:-3}
export EDGELB_SYNC_LAG_CONNS=${BENCH_SYNC_CONNS:-3000}
export EDGELB_SYNC_LAG_RATE=${BENCH_SYNC_RATE:-500}
[ "$(id -u)" = 0 ] || { echo "bench-sync.sh: needs root" >&2; exit 1; }
for i in $(seq 1 "$runs"); do
	out=$(/usr/bin/python3 "$here/tests/dp/run.py" --case sync-lag --build "$build" 2>&1) || {
		echo "$out" | tail -30 >&2
		echo "bench-sync.sh: run $i failed" >&2
		exit 1
	}
	echo "run $i: $(echo "$out" | grep '^sync lag:')"
done
