#!/usr/bin/env bash
# demo-cluster.sh - two edgelb boxes behind a BIRD 2 router with ECMP, in network
# namespaces (the topology of tests/cluster/lib.sh): curl from a client, the
# router's multipath route, per-box counters; then one box's dp is killed and the
# service keeps answering through the other. Root; builds first if needed; removes
# everything it made on exit. Takes /tmp/edgelb-systest.lock while it runs.
#   sudo scripts/demo-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
export EDGELB_BUILD=$PWD/build
CL_NAME=demo
# shellcheck source=tests/cluster/lib.sh
source tests/cluster/lib.sh
set +E
trap - ERR

say() { printf '\n== %s\n' "$*"; }
per_box() {
	for k in 1 2; do
		printf '  box %s: connections created %s\n' "$k" "$(ct_created "$k" 2>/dev/null || echo "(dp down)")"
	done
}

say "building: router (BIRD 2), client, two boxes (edgelb-dp + edgelb-cp + BIRD 2), three nginx backends"
cl_up 2
cl_box_start 1
cl_box_start 2
cl_wait_converged "1 2" 30000
say "the router's route to the VIP: one next hop per box"
ip -n "$NS_R" route show "$VIP4"
say "box 1: edgelbctl bgp"
ctl 1 bgp
say "curl http://$VIP4/id from the client, 6 times"
for _ in 1 2 3 4 5 6; do in_c curl -s -m 2 "http://$VIP4/id"; done
say "60 connections; per box"
connect_many 60 >/dev/null
per_box
say "kill -9 box 1's edgelb-dp"
t0=$(now_ms)
kill -9 "$(cat "$CL_DIR/x1/dp.pid")"
ms=$(wait_nexthops "$VIP4" "2" 3000 "$t0") && echo "  the router dropped box 1 after $ms ms"
ip -n "$NS_R" route show "$VIP4"
say "curl again: box 2 answers"
for _ in 1 2 3; do in_c curl -s -m 2 "http://$VIP4/id"; done
per_box
say "done; tearing down"
