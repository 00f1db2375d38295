#!/bin/bash
# test_e2e.sh - kubectl to packets (TESTS.md #8).
#
# The demo topology (scripts/lib/topo.sh: client, edgelb-dp on net_af_packet, three
# nginx backends 198.19.0.11-13:8080 / 2001:db8:2::11-13), with edgelb-cp in
# kubernetes mode in the root namespace next to the fake API server (both on
# 127.0.0.1; the cp reaches the dp through its socket file). kubectl applies a dual
# stack LoadBalancer Service and EndpointSlices naming the three backends; curl from
# the client namespace to the EXTERNAL-IP kubectl shows reaches all three over 30
# requests (IPv4, then IPv6); after kubectl delete svc the address no longer answers.
K8S_NEED_ROOT=1
. "$(dirname "$0")/lib.sh"
k8s_begin e2e 170

for tool in ip nginx ethtool socat; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed: run scripts/setup.sh"; exit 1; }
done
[ -x "$DP_BIN" ] || die "$DP_BIN missing (EDGELB_BUILD=$BUILD)"
export EDGELB_BUILD=$BUILD
export TOPO=k8e$(( $$ % 100000 ))
export TOPO_DIR=$WORK/topo
export TOPO_BIGFILE_BYTES=1000
# shellcheck source=../../scripts/lib/topo.sh
. "$SRC/scripts/lib/topo.sh"
CLEANUPS+=("topo_down")
log "topology $TOPO (namespaces $TOPO-*)"
topo_up >"$WORK/topo.log" 2>&1 || die "topo_up failed" "$(tail -20 "$WORK/topo.log")"
LOGS[dp]=$TOPO_DIR/dp.log
topo_dp_conf "$TOPO_DIR/dp.conf" 1
topo_dp_start "$TOPO_DIR/dp.conf" >>"$WORK/topo.log" 2>&1 || die "edgelb-dp did not start" "$(tail -20 "$TOPO_DIR/dp.log")"
PIDS[dp]=$(cat "$TOPO_DIR/dp.pid")
CLEANUPS+=("rm -rf /var/run/dpdk/$TOPO-dp")
DP_SOCK=$TOPO_DIR/dp.sock
log "edgelb-dp pid ${PIDS[dp]} (namespace $TOPO_NS_DP), socket $DP_SOCK"

fake_start
PORT=$(free_port)
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$DP_SOCK" "$PORT"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced
wait_until 10 '[ "$(curl -s --max-time 2 "$CP_API/healthz" | jq -r .dp)" = connected ]' ||
	die "the cp did not connect to the dp" "$(curl -s "$CP_API/healthz")"
ok "edgelb-cp (kubernetes mode) is connected to edgelb-dp"

cat >"$WORK/web.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  type: LoadBalancer
  loadBalancerClass: edgelb.io/lb
  ipFamilyPolicy: RequireDualStack
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-v4
  namespace: demo
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- addresses: ["198.19.0.11"]
  conditions: {ready: true}
- addresses: ["198.19.0.12"]
  conditions: {ready: true}
- addresses: ["198.19.0.13"]
  conditions: {ready: true}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-v6
  namespace: demo
  labels: {kubernetes.io/service-name: web}
addressType: IPv6
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- addresses: ["2001:db8:2::11"]
- addresses: ["2001:db8:2::12"]
- addresses: ["2001:db8:2::13"]
EOF
out=$(kc apply --validate=false -f "$WORK/web.yaml")
printf '%s\n' "$out" | grep -q 'service/web created' || die "kubectl apply" "$out"
ok "kubectl apply: Service demo/web and two EndpointSlices"
wait_until 10 '[ "$(kc get svc -n demo web --no-headers | awk "{print \$4}" | grep -c "^198\.18\.")" = 1 ]' ||
	die "kubectl get svc shows no EXTERNAL-IP" "$(kc get svc -n demo web)"
VIP4=$(kc get svc -n demo web --no-headers | awk '{print $4}' | cut -d, -f1)
VIP6=$(kc get svc -n demo web -o jsonpath='{.status.loadBalancer.ingress[1].ip}')
ok "kubectl get svc: EXTERNAL-IP $VIP4 (and $VIP6)"
check "$VIP4 is in the pool" in_range "$VIP4" 198.18.0.100 198.18.0.199

if wait_until 10 '[ "$(dp_services | jq "[.[] | select(.name == \"demo/web:http\") | .backends | length] | add")" = 6 ]'; then
	ok "the dp has demo/web:http on both addresses, 3 backends each"
else
	nok "the dp does not have demo/web:http with 3 + 3 backends" "$(dp_services | jq -c .)"
fi

# curl_spread URL: 30 requests from the client namespace; prints "answered b1 b2 b3" counts
curl_spread() {
	local url=$1 i who
	declare -A seen=()
	local answered=0
	for i in $(seq 30); do
		who=$(ip netns exec "$TOPO_NS_C" curl -s -m 3 "$url" 2>/dev/null)
		case $who in b[0-9]) seen[$who]=$(( ${seen[$who]:-0} + 1 )); answered=$((answered + 1)) ;; esac
	done
	echo "$answered ${seen[b1]:-0} ${seen[b2]:-0} ${seen[b3]:-0}"
}
# The dp learns its neighbours on the first packets: give the first request a moment.
wait_until 10 'ip netns exec "$TOPO_NS_C" curl -s -m 2 "http://$VIP4/id" | grep -q "^b[123]$"' ||
	nok "http://$VIP4/id never answered" "$(ip netns exec "$TOPO_NS_C" curl -sv -m 2 "http://$VIP4/id" 2>&1 | tail -5)"
read -r n c1 c2 c3 <<<"$(curl_spread "http://$VIP4/id")"
eq "IPv4: 30 of 30 requests to http://$VIP4/id answered" "$n" 30
check "IPv4: all three backends answered (b1 $c1, b2 $c2, b3 $c3)" test "$c1" -gt 0 -a "$c2" -gt 0 -a "$c3" -gt 0
wait_until 10 'ip netns exec "$TOPO_NS_C" curl -s -m 2 "http://[$VIP6]/id" | grep -q "^b[123]$"' ||
	nok "http://[$VIP6]/id never answered"
read -r n c1 c2 c3 <<<"$(curl_spread "http://[$VIP6]/id")"
eq "IPv6: 30 of 30 requests to http://[$VIP6]/id answered" "$n" 30
check "IPv6: all three backends answered (b1 $c1, b2 $c2, b3 $c3)" test "$c1" -gt 0 -a "$c2" -gt 0 -a "$c3" -gt 0

# One backend terminating (serving): it takes no new connections.
fake_req PUT "$(eps_path demo web-v4)" "$(fake_req GET "$(eps_path demo web-v4)" |
	jq -c '.endpoints[1].conditions = {ready: false, serving: true, terminating: true}')" >/dev/null
wait_until 10 '[ "$(dp_services | jq -r "[.[] | select(.name == \"demo/web:http\" and .vip == \"$VIP4\") | .backends[] | select(.address == \"198.19.0.12\") | .state][0]")" = draining ]' ||
	nok "198.19.0.12 not draining in the dp" "$(dp_services | jq -c .)"
read -r n c1 c2 c3 <<<"$(curl_spread "http://$VIP4/id")"
eq "198.19.0.12 terminating: 30 answered, none by b2, b1 and b3 both used" \
	"$n $c2 $(test "$c1" -gt 0 -a "$c3" -gt 0 && echo both)" "30 0 both"

out=$(kc delete svc -n demo web)
printf '%s\n' "$out" | grep -q 'service "web" deleted' || nok "kubectl delete svc" "$out"
if wait_until 10 '[ "$(dp_services | jq "[.[] | select(.name == \"demo/web:http\")] | length")" = 0 ]'; then
	ok "kubectl delete svc: demo/web:http left the dp"
else
	nok "kubectl delete svc: demo/web:http still in the dp"
fi
check "http://$VIP4/id no longer answers" test -z "$(ip netns exec "$TOPO_NS_C" curl -s -m 2 "http://$VIP4/id")"
eq "pools: the addresses are free" "$(pool_used public ipv4) $(pool_used public ipv6)" "0 0"
check "edgelb-dp still running" kill -0 "${PIDS[dp]}"
k8s_end
