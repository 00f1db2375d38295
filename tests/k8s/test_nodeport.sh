#!/bin/bash
# test_nodeport.sh - node:nodePort backends end to end (issue 16, docs/kubernetes.md
# "NodePort backends").
#
# The demo topology (scripts/lib/topo.sh): client, edgelb-dp on net_af_packet, and
# three backend namespaces b1..b3 (198.19.0.11-13) that play the cluster's nodes.
# Each "node" runs, like kube-proxy would: a NodePort forwarder (socat, nodePort ->
# its nginx on :8080, which answers /id with b1..b3) and a healthCheckNodePort HTTP
# server answering /healthz with kube-proxy's JSON ({"localEndpoints": N}, 200 when
# N > 0, else 503), N read from a file the test writes. edgelb-cp runs in the
# switch namespace (198.19.0.5 on the nodes' network, so its health checks reach
# the nodes), bridged to the fake API server and to the test by socat over unix
# sockets; kubernetes.backends = "nodes" globally.
# Checked: the fake allocates nodePort / healthCheckNodePort (30000-32767); kubectl
# apply/get/cordon nodes; the dp gets one backend per node at the nodePort; with
# externalTrafficPolicy Local only nodes reporting local endpoints get curl's
# requests, and traffic moves when one stops reporting and another starts; the
# client address reaches the node (dnat); a cordoned node is draining and gets no
# new connections; an excluded node is left out; a Service annotated
# edgelb.io/backends: pods still goes to its Pod IPs.
K8S_NEED_ROOT=1
. "$(dirname "$0")/lib.sh"
k8s_begin nodeport 170

for tool in ip nginx ethtool socat; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed: run scripts/setup.sh"; exit 1; }
done
[ -x "$DP_BIN" ] || die "$DP_BIN missing (EDGELB_BUILD=$BUILD)"
export EDGELB_BUILD=$BUILD
export TOPO=np16$(( $$ % 10000 ))
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

# The cp lives in the switch namespace: the nodes' network, as on a real LB box.
ip -n "$TOPO_NS_SW" addr add 198.19.0.5/24 dev br0
fake_start
PORT=$(free_port)
proc_bg br-fake-root socat UNIX-LISTEN:"$WORK/fake.sock",fork TCP:127.0.0.1:"$FAKE_PORT"
proc_bg br-fake-sw ip netns exec "$TOPO_NS_SW" socat TCP-LISTEN:"$FAKE_PORT",bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:"$WORK/fake.sock"
proc_bg br-api-sw ip netns exec "$TOPO_NS_SW" socat UNIX-LISTEN:"$WORK/api.sock",fork TCP:127.0.0.1:"$PORT"
proc_bg br-api-root socat TCP-LISTEN:"$PORT",bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:"$WORK/api.sock"
CP_K8S_EXTRA='backends = "nodes"; node_address_type = "InternalIP";'
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$DP_SOCK" "$PORT" false "$DEFAULT_POOLS" \
	'health_check: { interval_ms = 500; timeout_ms = 400; rise = 1; fall = 2; };'
CP_API=http://127.0.0.1:$PORT
proc_bg cp ip netns exec "$TOPO_NS_SW" "$CP_BIN" --config "$WORK/cp.conf"
wait_until 15 'curl -sf --max-time 2 "$CP_API/healthz" >/dev/null' || die "edgelb-cp (switch namespace) did not answer" "$(tail -20 "$WORK/cp.log")"
cp_wait_synced
wait_until 10 '[ "$(curl -s --max-time 2 "$CP_API/healthz" | jq -r .dp)" = connected ]' ||
	die "the cp did not connect to the dp" "$(curl -s "$CP_API/healthz")"
ok "edgelb-cp (kubernetes mode, backends = nodes, in $TOPO_NS_SW) is connected to edgelb-dp"

# ---- Nodes
node_yaml() { # name address [labels-yaml]
	cat <<EOF
apiVersion: v1
kind: Node
metadata: {name: $1, labels: {kubernetes.io/hostname: $1${3:+, $3}}}
spec: {}
status:
  addresses: [{type: InternalIP, address: "$2"}, {type: Hostname, address: $1}]
  conditions: [{type: Ready, status: "True", reason: KubeletReady}]
  nodeInfo: {kubeletVersion: v1.32.4}
---
EOF
}
{ node_yaml n1 198.19.0.11; node_yaml n2 198.19.0.12; node_yaml n3 198.19.0.13
  node_yaml n4 198.19.0.14 'node.kubernetes.io/exclude-from-external-load-balancers: ""'; } >"$WORK/nodes.yaml"
out=$(kc apply -f "$WORK/nodes.yaml")
eq "kubectl apply: four Nodes created" "$(printf '%s\n' "$out" | grep -c '^node/n[1-4] created')" 4
eq "kubectl get nodes: four Ready" "$(kc get nodes --no-headers | awk '$2 == "Ready"' | wc -l)" 4

# ---- the Service, externalTrafficPolicy Local
cat >"$WORK/web.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  type: LoadBalancer
  loadBalancerClass: edgelb.io/lb
  externalTrafficPolicy: Local
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
EOF
out=$(kc apply -f "$WORK/web.yaml")
printf '%s\n' "$out" | grep -q 'service/web created' || die "kubectl apply web" "$out"
NP=$(kc get svc -n demo web -o jsonpath='{.spec.ports[0].nodePort}')
HCNP=$(kc get svc -n demo web -o jsonpath='{.spec.healthCheckNodePort}')
check "the fake allocated nodePort $NP and healthCheckNodePort $HCNP in 30000-32767" \
	test "${NP:-0}" -ge 30000 -a "${NP:-0}" -le 32767 -a "${HCNP:-0}" -ge 30000 -a "${HCNP:-0}" -le 32767 -a "${NP:-0}" != "${HCNP:-0}"

# Each node: a NodePort forwarder and kube-proxy's health check server.
cat >"$WORK/healthz.py" <<'EOF'
import http.server, json, sys
port, path = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            n = int(open(path).read().strip() or 0)
        except (OSError, ValueError):
            n = 0
        body = json.dumps({"service": {"namespace": "demo", "name": "web"},
                           "localEndpoints": n, "serviceProxyHealthy": True}).encode()
        self.send_response(200 if n > 0 and self.path == "/healthz" else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", port), H).serve_forever()
EOF
local_eps() { echo "$2" >"$WORK/local-b$1"; } # node-index count
for i in 1 2 3; do
	local_eps "$i" 0
	proc_bg "np-b$i" ip netns exec "$(topo_ns_b "$i")" socat -d -d TCP-LISTEN:"$NP",fork,reuseaddr TCP:127.0.0.1:8080
	proc_bg "hc-b$i" ip netns exec "$(topo_ns_b "$i")" "$PY" "$WORK/healthz.py" "$HCNP" "$WORK/local-b$i"
done
local_eps 1 1; local_eps 2 1   # pods of web run on n1 and n2

wait_until 10 '[ "$(kc get svc -n demo web --no-headers | awk "{print \$4}" | grep -c "^198\.18\.")" = 1 ]' ||
	die "kubectl get svc shows no EXTERNAL-IP" "$(kc get svc -n demo web)"
VIP=$(kc get svc -n demo web -o jsonpath='{.status.loadBalancer.ingress[0].ip}')
ok "kubectl get svc: EXTERNAL-IP $VIP"

# dp_backends: "address:port:state" of demo/web:http, sorted
dp_backends() {
	dp_services | jq -r '[.[] | select(.name == "demo/web:http") | .backends[] | "\(.address):\(.port):\(.state)"] | sort | join(" ")'
}
want="198.19.0.11:$NP:active 198.19.0.12:$NP:active 198.19.0.13:$NP:down"
if wait_until 15 '[ "$(dp_backends)" = "$want" ]'; then
	ok "dp: demo/web:http has n1..n3 at the nodePort, n3 (no local endpoint) down, n4 (excluded) left out"
else
	nok "dp backends of demo/web:http" "want [$want], got [$(dp_backends)]"
fi
eq "cp API: demo/web checks /healthz on the healthCheckNodePort with the localEndpoints body check" \
	"$(cp_lb demo web | jq -r '.health_check | "\(.type) \(.port) \(.path) \(.expect)"')" "http $HCNP /healthz localEndpoints"
eq "cp API: node backends' health (n1 up, n2 up, n3 down)" \
	"$(cp_lb demo web | jq -r '[.backends[] | "\(.address):\(.health)"] | sort | join(" ")')" \
	"198.19.0.11:up 198.19.0.12:up 198.19.0.13:down"
eq "dp: demo/web:http is dnat (externalTrafficPolicy Local)" \
	"$(dp_services | jq -r '[.[] | select(.name == "demo/web:http") | .mode][0]')" dnat

# curl_spread URL: 30 requests from the client; prints "answered b1 b2 b3" counts
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
wait_until 10 'ip netns exec "$TOPO_NS_C" curl -s -m 2 "http://$VIP/id" | grep -q "^b[123]$"' ||
	nok "http://$VIP/id never answered" "$(ip netns exec "$TOPO_NS_C" curl -sv -m 2 "http://$VIP/id" 2>&1 | tail -5)"
read -r n c1 c2 c3 <<<"$(curl_spread "http://$VIP/id")"
eq "local endpoints on n1, n2: 30 of 30 answered, n1 and n2 both used, none by n3" \
	"$n $c3 $(test "$c1" -gt 0 -a "$c2" -gt 0 && echo both)" "30 0 both"
if grep -q 'accepting connection from AF=2 198\.18\.0\.10:' "$WORK/np-b1.log" "$WORK/np-b2.log"; then
	ok "the nodes see the client's address 198.18.0.10 (dnat keeps it)"
else
	nok "the nodes do not see the client's address" "$(grep -h accepting "$WORK/np-b1.log" | tail -3)"
fi

# The pod moves from n1 to n3: n1 stops reporting, n3 starts.
local_eps 1 0; local_eps 3 1
want="198.19.0.11:$NP:down 198.19.0.12:$NP:active 198.19.0.13:$NP:active"
if wait_until 15 '[ "$(dp_backends)" = "$want" ]'; then
	ok "after the move: n1 down, n3 active in the dp"
else
	nok "after the move" "want [$want], got [$(dp_backends)]"
fi
read -r n c1 c2 c3 <<<"$(curl_spread "http://$VIP/id")"
eq "after the move: 30 of 30 answered, n2 and n3 both used, none by n1" \
	"$n $c1 $(test "$c2" -gt 0 -a "$c3" -gt 0 && echo both)" "30 0 both"

# Cordon n2: draining (KEP-1672), no new connections while n3 is there.
out=$(kc cordon n2)
printf '%s\n' "$out" | grep -q 'node/n2 cordoned' || nok "kubectl cordon n2" "$out"
eq "kubectl get node n2: Ready,SchedulingDisabled" "$(kc get node n2 --no-headers | awk '{print $2}')" Ready,SchedulingDisabled
want="198.19.0.11:$NP:down 198.19.0.12:$NP:draining 198.19.0.13:$NP:active"
if wait_until 10 '[ "$(dp_backends)" = "$want" ]'; then
	ok "n2 cordoned: draining in the dp"
else
	nok "n2 cordoned" "want [$want], got [$(dp_backends)]"
fi
read -r n c1 c2 c3 <<<"$(curl_spread "http://$VIP/id")"
eq "n2 cordoned: 30 of 30 answered, all by n3" "$n $c1 $c2 $c3" "30 0 0 30"
kc uncordon n2 >/dev/null
want="198.19.0.11:$NP:down 198.19.0.12:$NP:active 198.19.0.13:$NP:active"
wait_until 10 '[ "$(dp_backends)" = "$want" ]' && ok "n2 uncordoned: active again" ||
	nok "n2 uncordoned" "want [$want], got [$(dp_backends)]"

# Pods mode still works: a Service annotated edgelb.io/backends: pods.
cat >"$WORK/pods.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: api, namespace: demo, annotations: {edgelb.io/backends: pods}}
spec:
  type: LoadBalancer
  loadBalancerClass: edgelb.io/lb
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-1, namespace: demo, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- addresses: ["198.19.0.11"]
  conditions: {ready: true}
- addresses: ["198.19.0.13"]
  conditions: {ready: true}
EOF
kc apply --validate=false -f "$WORK/pods.yaml" >/dev/null
wait_until 10 '[ -n "$(kc get svc -n demo api -o jsonpath="{.status.loadBalancer.ingress[0].ip}")" ]' ||
	nok "api gets no address"
VIP2=$(kc get svc -n demo api -o jsonpath='{.status.loadBalancer.ingress[0].ip}')
eq "pods mode: demo/api:http goes to the Pod IPs at the targetPort" \
	"$(dp_services | jq -r '[.[] | select(.name == "demo/api:http") | .backends[] | "\(.address):\(.port)"] | sort | join(" ")')" \
	"198.19.0.11:8080 198.19.0.13:8080"
wait_until 10 'ip netns exec "$TOPO_NS_C" curl -s -m 2 "http://$VIP2/id" | grep -q "^b[13]$"' || true
read -r n c1 c2 c3 <<<"$(curl_spread "http://$VIP2/id")"
eq "pods mode: 30 of 30 answered by the two pods (b1, b3), both used" \
	"$n $c2 $(test "$c1" -gt 0 -a "$c3" -gt 0 && echo both)" "30 0 both"

# A Node deleted: its backend goes.
kc delete node n3 >/dev/null
want="198.19.0.11:$NP:down 198.19.0.12:$NP:active"
wait_until 10 '[ "$(dp_backends)" = "$want" ]' && ok "kubectl delete node n3: its backend left the dp" ||
	nok "node n3 deleted" "want [$want], got [$(dp_backends)]"
check "edgelb-dp still running" kill -0 "${PIDS[dp]}"
check "edgelb-cp still running" proc_alive cp
k8s_end
