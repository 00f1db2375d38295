#!/usr/bin/env bash
# demo.sh - edgelb serving a LoadBalancer service to real clients.
#
# Installs what is missing and builds (scripts/setup.sh), then builds a topology
# of network namespaces (scripts/lib/topo.sh): one client, edgelb-dp on
# net_af_packet ports, three backends running nginx, and edgelb-cp with an
# address pool. edgelbctl creates a load balancer through the API (fnat, IPv4 and
# IPv6, TCP 80 -> 8080, HTTP health checks); its IPs come from the pool. The
# client runs curl against them; the demo prints which backend answered each
# request, the per-backend counts, and the dp's counters. Everything is torn down
# at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

export EDGELB_BUILD=${EDGELB_BUILD:-$PWD/build}
export TOPO=${TOPO:-elbdemo}
# shellcheck source=lib/topo.sh
source scripts/lib/topo.sh
# shellcheck source=lib/cp.sh
source scripts/lib/cp.sh
REQUESTS=${REQUESTS:-12}

trap 'topo_down' EXIT
trap 'exit 130' INT TERM

echo "== topology: client, edgelb-dp, 3 nginx backends (namespaces $TOPO-*) =="
topo_up
topo_dp_conf "$TOPO_DIR/dp.conf"
topo_dp_start "$TOPO_DIR/dp.conf"

echo "== edgelb-cp with address pool 198.18.0.100-120, 2001:db8:1::100/124 =="
cp_conf "$TOPO_DIR/cp.conf"
cp_start "$TOPO_DIR/cp.conf"
cp_wait_synced

echo "== edgelbctl create: a LoadBalancer for the three nginx backends =="
cat > "$TOPO_DIR/web.json" <<'LB'
{
  "name": "web",
  "namespace": "demo",
  "ip_families": ["IPv4", "IPv6"],
  "ports": [{"name": "http", "port": 80, "protocol": "TCP", "target_port": 8080}],
  "backends": [
    {"address": "198.19.0.11"}, {"address": "198.19.0.12"}, {"address": "198.19.0.13"},
    {"address": "2001:db8:2::11"}, {"address": "2001:db8:2::12"}, {"address": "2001:db8:2::13"}
  ],
  "health_check": {"type": "http", "path": "/id", "interval_ms": 1000, "timeout_ms": 500}
}
LB
ctl create -f "$TOPO_DIR/web.json" >/dev/null
ctl get lb
VIP4=$(ctl get lb demo/web -o json | /usr/bin/python3 -c 'import json,sys; print([i for i in json.load(sys.stdin)["ips"] if ":" not in i][0])')
VIP6=$(ctl get lb demo/web -o json | /usr/bin/python3 -c 'import json,sys; print([i for i in json.load(sys.stdin)["ips"] if ":" in i][0])')
echo "   the pool gave $VIP4 and $VIP6"
sleep 0.5

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

echo "== edgelbctl get lb demo/web (health checks ran meanwhile) =="
ctl get lb demo/web

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
