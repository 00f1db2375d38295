#!/bin/bash
# test_kubectl.sh - the operator's flow with the real kubectl (TESTS.md #1):
# kubectl apply a LoadBalancer Service of class edgelb.io/lb and its EndpointSlice;
# within 2 s `kubectl get svc` shows an EXTERNAL-IP from the pool; an IPAllocated
# Event is there (kubectl get events and the API); kubectl delete svc frees the IP.
. "$(dirname "$0")/lib.sh"
k8s_begin kubectl 100

fake_start
PORT=$(free_port)
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced

eq "pool 'public' empty at start" "$(pool_used public ipv4)" 0

cat >"$WORK/web.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  type: LoadBalancer
  loadBalancerClass: edgelb.io/lb
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-x7k2p
  namespace: default
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
ports:
- name: http
  port: 8080
  protocol: TCP
endpoints:
- addresses: ["198.19.0.11"]
  conditions: {ready: true}
- addresses: ["198.19.0.12"]
  conditions: {ready: true}
EOF

out=$(kc apply --validate=false -f "$WORK/web.yaml")
t_applied=$(now_ms)
if printf '%s\n' "$out" | grep -q '^service/web created' &&
	printf '%s\n' "$out" | grep -q 'endpointslice.discovery.k8s.io/web-x7k2p created'; then
	ok "kubectl apply: Service and EndpointSlice created"
else
	die "kubectl apply" "$out"
fi

# The controller writes the status within 2 s (polled over the API: cheap, so the
# figure is the controller's and not kubectl's own start-up time on a busy box),
# and kubectl get svc then shows it as EXTERNAL-IP.
ext=
while :; do
	ext=$(svc_ips default web)
	[ -n "$ext" ] && break
	[ $(( $(now_ms) - t_applied )) -gt 2000 ] && break
	sleep 0.05
done
dt=$(( $(now_ms) - t_applied ))
[ -n "$ext" ] || die "no status.loadBalancer.ingress within 2 s of kubectl apply" "$(svc_get default web | jq -c .status)"
check "status.loadBalancer.ingress written ${dt} ms after kubectl apply returned (<= 2000)" test "$dt" -le 2000
line=$(kc get svc web --no-headers)
eq "kubectl get svc: EXTERNAL-IP column" "$(printf '%s\n' "$line" | awk '$1 == "web" {print $2, $4}')" "LoadBalancer $ext"
check "EXTERNAL-IP $ext is in pool public (198.18.0.100-198.18.0.199)" in_range "$ext" 198.18.0.100 198.18.0.199
eq "status.loadBalancer.ingress[0] (kubectl jsonpath)" \
	"$(kc get svc web -o jsonpath='{.status.loadBalancer.ingress[0].ip} {.status.loadBalancer.ingress[0].ipMode}')" "$ext VIP"
eq "the cp's load balancer default/web holds $ext" "$(cp_lb_ips default web)" "$ext"
eq "the cp's backends come from the EndpointSlice" \
	"$(cp_lb default web | jq -r '[.backends[] | "\(.address):\(.port):\(.state)"] | sort | join(" ")')" \
	"198.19.0.11:8080:active 198.19.0.12:8080:active"
eq "GET /v1/pools: public ipv4 used 1" "$(pool_used public ipv4)" 1

# The IPAllocated Event: in kubectl get events and in the API.
out=$(kc get events)
if printf '%s\n' "$out" | grep -Eq "Normal +IPAllocated +service/web +.*$ext"; then
	ok "kubectl get events: Normal IPAllocated service/web ($ext)"
else
	nok "kubectl get events: Normal IPAllocated service/web" "$out"
fi
ev=$(fake_req GET /api/v1/namespaces/default/events |
	jq -c '[.items[] | select(.reason == "IPAllocated" and .involvedObject.name == "web")][0]')
eq "IPAllocated Event names the Service (kind, namespace, uid) and type Normal" \
	"$(echo "$ev" | jq -r '[.involvedObject.kind, .involvedObject.namespace, (.involvedObject.uid | length > 0), .type] | join(" ")')" \
	"Service default true Normal"
eq "edgelb_k8s_services_handled 1" "$(metric edgelb_k8s_services_handled)" 1

# kubectl delete svc: the address goes back to the pool, the load balancer is gone.
out=$(kc delete svc web)
if printf '%s\n' "$out" | grep -q 'service "web" deleted'; then ok "kubectl delete svc web"; else nok "kubectl delete svc web" "$out"; fi
t_del=$(now_ms)
if wait_until 5 '[ "$(pool_used public ipv4)" = 0 ]'; then
	ok "GET /v1/pools: public ipv4 used 0 again ($(( $(now_ms) - t_del )) ms after the delete)"
else
	nok "GET /v1/pools: $ext not freed after kubectl delete svc" "$(api /v1/pools)"
fi
eq "the cp has no load balancer left" "$(cp_lb_count)" 0
eq "edgelb_k8s_services_handled 0" "$(metric edgelb_k8s_services_handled)" 0

# Re-created, it is handled again from scratch.
out=$(kc apply --validate=false -f "$WORK/web.yaml")
if wait_until 5 '[ -n "$(svc_ips default web)" ]'; then
	ok "Service web re-created: EXTERNAL-IP $(svc_ips default web)"
else
	nok "Service web re-created: no IP" "$(kc get svc web)"
fi
eq "GET /v1/pools: public ipv4 used 1" "$(pool_used public ipv4)" 1
k8s_end
