#!/usr/bin/env bash
# bench-dp.sh - cycles per packet of edgelb-dp's pipeline, in process (edgelb-bench-dp).
#
#   scripts/bench-dp.sh [bench options...]     e.g. --flows 1000000 --passes 3 --newflow 1000000
#   scripts/bench-dp.sh --sync-both [options]  the same run twice: flow sync off, then on
#                                              (--sync: one peer; docs/flow-sync.md)
#
# One core, no NIC: the bench builds a dp on two net_null ports and feeds the worker
# itself (docs/benchmarking.md). Needs no setup beyond a build: runs `ninja -C build`
# when the binary is missing. Uses hugepages when enough are free, else --no-huge.
# Prints the bench's key=value lines; exits with the bench's status (1 = the counters
# show packets were not forwarded).
#
# Environment: BENCH_TIMEOUT (seconds, default 300), BENCH_CPU (CPU to pin to, default 0),
# BENCH_MEM_MB (free hugepage memory to insist on, default 512).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build/dp/bench/edgelb-bench-dp
TIMEOUT=${BENCH_TIMEOUT:-300}
CPU=${BENCH_CPU:-0}

if [ ! -x "$BIN" ]; then
	[ -f build/build.ninja ] || { echo "bench-dp: no build/ (run scripts/setup.sh or meson setup build)" >&2; exit 1; }
	ninja -C build >&2
fi

# About 250 MiB of DPDK memory with the default sizes (2.2M-entry conntrack, mbufs,
# hashes); more flows need more (BENCH_MEM_MB: hugepage memory required, else --no-huge).
MEM_MB=${BENCH_MEM_MB:-512}
free_pages=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
page_kb=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo 2>/dev/null || echo 2048)
if [ "${free_pages:-0}" -gt 0 ] && [ $((free_pages * page_kb)) -ge $((MEM_MB * 1024)) ] &&
	grep -q hugetlbfs /proc/mounts; then
	MEM=(--in-memory)               # no shared config, no hugepage files left behind
else
	MEM=(--no-huge -m 4096 --no-shconf)  # (--in-memory refuses --no-huge)
fi

# lcore 0 is the bench thread (worker 0). lb_dp_build() insists on naming a worker
# lcore other than the main one, so lcore 1 exists, shares CPU $CPU, and is never
# launched: it sleeps in EAL's launch wait the whole run. One CPU does all the work.
# Without a shared config, concurrent runs never collide on the file prefix.
EAL=(--lcores "0@$CPU,1@$CPU" --no-pci --file-prefix bench-dp "${MEM[@]}"
	--log-level lib.eal:warning --log-level user1:warning --no-telemetry)

if [ "${1:-}" = "--sync-both" ]; then
	shift
	rc=0
	for variant in off on; do
		echo "== sync $variant"
		extra=()
		[ "$variant" = on ] && extra=(--sync)
		timeout --signal=INT --kill-after=10 "$TIMEOUT" "$BIN" "${EAL[@]}" -- "$@" "${extra[@]}" || rc=$?
	done
	exit $rc
fi
timeout --signal=INT --kill-after=10 "$TIMEOUT" "$BIN" "${EAL[@]}" -- "$@"
