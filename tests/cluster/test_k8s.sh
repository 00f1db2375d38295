#!/usr/bin/env bash
# test_k8s.sh - the fleet in Kubernetes mode: two boxes whose edgelb-cp watch one
# (fake) API server, elect a leader with a Lease, and announce through BIRD what
# the Services' status says.
#   - a dual-stack LoadBalancer Service with EndpointSlices of the three nginx
#     backends gets VIP4 and VIP6 (written by the leader); both boxes program
#     their dp from the status and announce both VIPs: the router has both boxes
#     as next hops, and connections through ECMP reach the backends from both;
#   - the leader's cp is killed (SIGKILL): the routes do not move, connections
#     still work, the other box takes the Lease; a new Service gets its address
#     from the new leader and is announced by the box whose cp runs;
#   - the killed cp comes back as a follower: the new Service is announced by
#     both boxes, and no address moved.
CL_NAME=k8s
CL_K8S=1
CL_EXTRA_VIPS='"198.18.50.101"'
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"
VIP_B=198.18.50.101

svc() { # name families-json policy
	kapi POST /api/v1/namespaces/default/services "{\"apiVersion\": \"v1\", \"kind\": \"Service\",
	  \"metadata\": {\"name\": \"$1\", \"namespace\": \"default\"},
	  \"spec\": {\"type\": \"LoadBalancer\", \"ipFamilies\": $2, \"ipFamilyPolicy\": \"$3\",
	            \"ports\": [{\"name\": \"http\", \"port\": 80, \"targetPort\": 8080}]}}" >/dev/null
}
slice() { # service family addresses...
	local svc=$1 fam=$2 eps="" a
	shift 2
	for a in "$@"; do
		eps="$eps${eps:+,} {\"addresses\": [\"$a\"], \"conditions\": {\"ready\": true}}"
	done
	kapi POST /apis/discovery.k8s.io/v1/namespaces/default/endpointslices "{
	  \"apiVersion\": \"discovery.k8s.io/v1\", \"kind\": \"EndpointSlice\",
	  \"metadata\": {\"name\": \"$svc-${fam,,}\", \"namespace\": \"default\",
	               \"labels\": {\"kubernetes.io/service-name\": \"$svc\"}},
	  \"addressType\": \"$fam\", \"ports\": [{\"name\": \"http\", \"port\": 8080, \"protocol\": \"TCP\"}],
	  \"endpoints\": [$eps]}" >/dev/null
}
ingress() { # name: the status addresses, space separated
	kapi GET "/api/v1/namespaces/default/services/$1" |
		json "' '.join(i['ip'] for i in (r.get('status') or {}).get('loadBalancer', {}).get('ingress', []))"
}
leader_of() { # k: 1 when box k's cp leads
	api "$1" GET /metrics | awk '$1 == "edgelb_k8s_leader" {print $2}'
}
wait_for() { # timeout_s condition (a shell expression, evaluated each time)
	local end=$(($(now_ms) + $1 * 1000))
	until eval "$2"; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

cl_up 2
cl_api_start
for k in 1 2; do cl_box_start "$k"; done
svc web '["IPv4", "IPv6"]' RequireDualStack
slice web IPv4 198.19.0.11 198.19.0.12 198.19.0.13
slice web IPv6 2001:db8:2::11 2001:db8:2::12 2001:db8:2::13
wait_for 15 '[ "$(ingress web)" = "$VIP4 $VIP6" ]' ||
	fail "Service web status: '$(ingress web)', want '$VIP4 $VIP6'"
ok "the leader gave web $VIP4 and $VIP6"
wait_nexthops "$VIP4" "1 2" 30000 >/dev/null || {
	api 1 GET /v1/loadbalancers >&2; kapi GET /apis/discovery.k8s.io/v1/endpointslices >&2
	fail "router next hops for $VIP4: '$(nexthops $VIP4)', want '1 2'"
}
cl_wait_converged "1 2" 30000
ok "both boxes announce both VIPs (router next hops: $(nexthops "$VIP4") / $(nexthops "$VIP6"))"
c1=$(ct_created 1); c2=$(ct_created 2)
got4=$(connect_many 60 "$VIP4" 2); got6=$(connect_many 30 "$VIP6" 2)
check "60/60 IPv4 and 30/30 IPv6 connections answered ($got4, $got6)" test "$got4" = 60 -a "$got6" = 30
d1=$(($(ct_created 1) - c1)); d2=$(($(ct_created 2) - c2))
check "ECMP spread them over both boxes ($d1 / $d2)" test "$d1" -gt 5 -a "$d2" -gt 5

L=""; for k in 1 2; do [ "$(leader_of "$k")" = 1 ] && L=$k; done
[ -n "$L" ] || fail "no leader among the two cps"
F=$((3 - L))
ok "box $L leads, box $F follows"
kill -9 "$(cat "$CL_DIR/x$L/cp.pid")"
t0=$(now_ms)
got=$(connect_many 30 "$VIP4" 2)
check "with the leader's cp dead, 30/30 connections answered ($got)" test "$got" = 30
check "the routes did not move (next hops $(nexthops "$VIP4"))" test "$(nexthops "$VIP4")" = "1 2"
wait_for 10 '[ "$(leader_of "$F")" = 1 ]' || fail "box $F did not take the Lease"
ok "box $F took the Lease $(($(now_ms) - t0)) ms after the kill"
svc web2 '["IPv4"]' SingleStack
slice web2 IPv4 198.19.0.11 198.19.0.12 198.19.0.13
wait_for 15 '[ "$(ingress web2)" = "$VIP_B" ]' ||
	fail "Service web2 status: '$(ingress web2)', want '$VIP_B'"
ok "the new leader gave web2 $VIP_B"
wait_nexthops "$VIP_B" "$F" 10000 >/dev/null || fail "next hops for $VIP_B: '$(nexthops $VIP_B)', want '$F'"
got=$(connect_many 20 "$VIP_B" 2)
check "web2 is announced by box $F and answers 20/20 ($got)" test "$got" = 20

cl_cp_start "$L"
wait_nexthops "$VIP_B" "1 2" 15000 >/dev/null || fail "next hops for $VIP_B: '$(nexthops $VIP_B)', want '1 2'"
ok "box $L's cp came back as a follower and announces web2 too"
check "box $L follows ($(leader_of "$L"))" test "$(leader_of "$L")" = 0
check "no address moved: web $(ingress web), web2 $(ingress web2)" \
	test "$(ingress web)" = "$VIP4 $VIP6" -a "$(ingress web2)" = "$VIP_B"
got=$(connect_many 30 "$VIP_B" 2)
check "web2 answers 30/30 through both boxes ($got)" test "$got" = 30
log "all checks passed"
