#!/usr/bin/env bash
# demo.sh - edgelb serving a LoadBalancer service to real clients.
#
# Installs what is missing and builds (scripts/setup.sh), then builds a topology
# of network namespaces (scripts/lib/topo.sh): one client, edgelb-dp on
# net_af_packet ports, three backends running nginx. It configures a service
# (fnat, IPv4 and IPv6, TCP 80 -> 8080), runs curl from the client against the
# VIPs, prints which backend answered each request and the per-backend counts,
# then the dp's counters. Everything is torn down at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

export EDGELB_BUILD=${EDGELB_BUILD:-$PWD/build}
export TOPO=${TOPO:-elbdemo}
# shellcheck source=lib/topo.sh
source scripts/lib/topo.sh
REQUESTS=${REQUESTS:-12}

trap 'topo_down' EXIT
trap 'exit 130' INT TERM

echo "== topology: client, edgelb-dp, 3 nginx backends (namespaces $TOPO-*) =="
topo_up
topo_dp_conf "$TOPO_DIR/dp.conf"
topo_dp_start "$TOPO_DIR/dp.conf"

echo "== LoadBalancer service: $VIP4:80 and [$VIP6]:80 (tcp, fnat) -> backends :8080 =="
for spec in "$(topo_svc_json demo/web:http-v4 $VIP4 80 tcp 8080)" \
	    "$(topo_svc_json demo/web:http-v6 $VIP6 80 tcp 8080)"; do
	topo_ctl "{\"op\":\"service.upsert\",\"service\":$spec}" >/dev/null
done

declare -A count
run_curls() { # url
	local i who
	for i in $(seq 1 "$REQUESTS"); do
		who=$(ip netns exec "$TOPO_NS_C" curl -s -m 5 "$1" || echo "no answer")
		printf '  request %2d  %-28s -> %s\n' "$i" "$1" "$who"
		count[$who]=$(( ${count[$who]:-0} + 1 ))
	done
}
echo "== curl from the client namespace =="
run_curls "http://$VIP4/id"
run_curls "http://[$VIP6]/id"

echo "== answers per backend =="
for k in "${!count[@]}"; do printf '  %-10s %d\n' "$k" "${count[$k]}"; done | sort

echo "== ping the VIPs =="
ip netns exec "$TOPO_NS_C" ping -c 2 -W 1 "$VIP4" | tail -2
ip netns exec "$TOPO_NS_C" ping -c 2 -W 1 "$VIP6" | tail -2

echo "== edgelb-dp counters =="
topo_ctl '{"op":"stats.get"}' | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)["result"]
g = s["global"]
for k in ("rx_packets", "tx_packets", "fwd_packets", "rev_packets", "ct_created", "connections"):
    print("  %-14s %d" % (k, g[k]))
drops = {k: v for k, v in g["drops"].items() if v}
print("  drops          %s" % (drops or "none"))
for svc in s["services"]:
    print("  service %s %s:%d/%s: %d packets" % (svc["name"], svc["vip"], svc["port"], svc["protocol"], svc["packets"]))
    for b in svc["backends"]:
        print("    -> %-16s :%d  %-8s %6d packets %3d active connections" % (b["address"], b["port"], b["state"], b["packets"], b["active_connections"]))
'
echo "== done; tearing down =="
