#!/usr/bin/env bash
# bench-dp.sh - cycles per packet of edgelb-dp's pipeline, in process (edgelb-bench-dp).
#
#   scripts/bench-dp.sh [bench options...]     e.g. --flows 1000000 --passes 3 --newflow 1000000
#   scripts/bench-dp.sh --sync-both [options]  the same run twice: flow sync off, then on
#                                              (--sync: one peer; docs/flow-sync.md)
#   scripts/bench-dp.sh --curve [bench options...]
#       one run per size of BENCH_CURVE (default "10000 100000 1000000 4000000" flows),
#       each printing floor, established and new-flow figures (timed over at least 3M
#       established packets, and min(flows, 1M) new flows); every key is printed
#       again as flows_<N>_<key> and a line `curve <N> <floor> <established> <newflow>`
#       per size, which scripts/bench-dp-plot.sh draws (docs/bench-dp-curve.svg).
#
# One core, no NIC: the bench builds a dp on two net_null ports and feeds the worker
# itself (docs/benchmarking.md). Needs no setup beyond a build: runs `ninja -C build`
# when the binary is missing. Uses hugepages when enough are free, else --no-huge.
# Prints the bench's key=value lines; exits with the bench's status (1 = the counters
# show packets were not forwarded).
#
# Environment: BENCH_TIMEOUT (seconds, default 300), BENCH_CPU (CPU to pin to, default 0),
# BENCH_MEM_MB (free hugepage memory to insist on, default 512; 2048 with --curve),
# BENCH_RESERVE (default 1: as root, reserve the hugepages missing for that; 0: do not).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build/dp/bench/edgelb-bench-dp
TIMEOUT=${BENCH_TIMEOUT:-300}
CPU=${BENCH_CPU:-0}

if [ ! -x "$BIN" ]; then
	[ -f build/build.ninja ] || { echo "bench-dp: no build/ (run scripts/setup.sh or meson setup build)" >&2; exit 1; }
	ninja -C build >&2
fi

# About 400 MiB of DPDK memory with the default sizes (2.2M-entry conntrack, mbufs,
# hashes); more flows need more (BENCH_MEM_MB: hugepage memory required, else --no-huge).
# The curve's 4M point needs about 1 GiB: one memory mode for every point.
MEM_MB=${BENCH_MEM_MB:-512}
[ "${1:-}" = --curve ] && MEM_MB=${BENCH_MEM_MB:-2048}
hugepages_free() { awk '/^HugePages_Free:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0; }
hugetlbfs=0
grep -q hugetlbfs /proc/mounts && hugetlbfs=1
free_pages=$(hugepages_free)
page_kb=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo 2>/dev/null || echo 2048)
# Short of hugepage memory (setup.sh reserves 1 GiB; the curve wants 2): as root,
# reserve the missing pages (never fewer than there are) unless BENCH_RESERVE=0.
# Without them the bench runs on 4 KiB pages, whose TLB misses add ~20 cycles a
# packet at the floor and 25-40 at 1M flows (Dec 4): a different benchmark (hugepages=0).
need_pages=$(( (MEM_MB * 1024 + page_kb - 1) / page_kb ))
if [ "${BENCH_RESERVE:-1}" != 0 ] && [ "$(id -u)" = 0 ] && [ "${free_pages:-0}" -lt "$need_pages" ] &&
	[ "$hugetlbfs" = 1 ]; then
	total=$(cat /proc/sys/vm/nr_hugepages)
	echo $(( total + need_pages - free_pages )) > /proc/sys/vm/nr_hugepages || true
	free_pages=$(hugepages_free)
	echo "bench-dp: reserved hugepages: $(cat /proc/sys/vm/nr_hugepages) x ${page_kb} KiB, $free_pages free" >&2
fi
if [ "${free_pages:-0}" -gt 0 ] && [ $((free_pages * page_kb)) -ge $((MEM_MB * 1024)) ] &&
	[ "$hugetlbfs" = 1 ]; then
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
if [ "${1:-}" != --curve ]; then
	exec timeout --signal=INT --kill-after=10 "$TIMEOUT" "$BIN" "${EAL[@]}" -- "$@"
fi
shift
status=0
for n in ${BENCH_CURVE:-10000 100000 1000000 4000000}; do
	# At least 3M timed established packets and as many new flows as tracked ones
	# (1M at most), so small sizes are timed over as many packets as large ones;
	# options given after --curve override these.
	passes=$(( n >= 1000000 ? 3 : 3000000 / n ))
	newflow=$(( n < 1000000 ? n : 1000000 ))
	out=$(timeout --signal=INT --kill-after=10 "$TIMEOUT" "$BIN" "${EAL[@]}" -- --flows "$n" \
		--passes "$passes" --newflow "$newflow" "$@") || status=1
	printf '%s\n' "$out" | sed "s/^/flows_${n}_/"
	get() { printf '%s\n' "$out" | awk -F= -v k="$1" '$1 == k {print $2}'; }
	echo "curve $n $(get floor_cycles_per_pkt) $(get established_cycles_per_pkt) $(get newflow_cycles_per_pkt)"
done
exit $status
