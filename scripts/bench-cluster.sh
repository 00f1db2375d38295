#!/usr/bin/env bash
# bench-cluster.sh - failover figures of a cluster of boxes behind a BIRD 2 router
# (the topology of tests/cluster/lib.sh), for docs/performance.md:
#   withdraw_after_dp_sigkill_ms  SIGKILL of a box's dp -> the router's kernel
#                                 route no longer has the box (N kills, 2 boxes)
#   bfd_whole_box_kill_ms         a box goes dark (all its packets dropped, dp, cp
#                                 and BIRD killed) -> route without it (3 boxes, BFD
#                                 100 ms x 3)
# Each is measured by polling `ip route` in the router namespace every ~5 ms from
# the moment of the kill. Runs the cluster tests with CL_KILLS=N (default 20) and
# prints their "figure:" lines. Root; takes /tmp/edgelb-systest.lock.
#   scripts/bench-cluster.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
export EDGELB_BUILD=${EDGELB_BUILD:-$PWD/build}
for t in announce bfd; do
	CL_KILLS=$n bash "tests/cluster/test_$t.sh" 2>&1 | sed -n 's/.*figure: //p'
done
