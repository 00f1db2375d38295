#!/bin/bash
# test_bad_edit.sh - a bad edit never releases a working address (issue 10
# findings 2 and 11, TESTS.md #10). With the real kubectl, as an operator would:
# a typo in edgelb.io/loadBalancerIPs, asking for an address another Service
# holds, an over-long edgelb.io/allow-shared-ip or address-pool, or both IP fields
# at once: the Service keeps its EXTERNAL-IP, the cp keeps its load balancer (and
# so the dp service), the pool keeps the address, and a Warning Event says why.
# The rest of such a change (a new port) still applies. Fixing the annotation
# moves nothing. Only a type change away from LoadBalancer releases.
. "$(dirname "$0")/lib.sh"
k8s_begin bad_edit 150

fake_start
PORT=$(free_port)
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced

P80='[{"name":"http","port":80,"targetPort":8080}]'
for n in a b; do svc_create default "$n" "$(lb_spec "$P80")"; done
wait_until 5 'svc_nips_is default a 1 && svc_nips_is default b 1' || die "a and b get addresses"
A=$(svc_ips default a)
B=$(svc_ips default b)
used=$(pool_used public ipv4)
log "a has $A, b has $B; pool public uses $used"

# kept NAME IP WHAT: after a bad edit NAME still has IP everywhere, and a Warning says so
kept() {
	local n=$1 ip=$2 what=$3
	if wait_until 5 'has_event default "$n" AllocationFailed "keeping $ip"'; then
		ok "$what: Warning AllocationFailed ($(events default | grep "^$n AllocationFailed" | tail -1 | cut -d' ' -f3- | cut -c1-120))"
	else
		nok "$what: Warning AllocationFailed ... keeping $ip" "$(events default | grep "^$n ")"
	fi
	sleep 0.5
	eq "$what: EXTERNAL-IP still $ip (kubectl get svc)" \
		"$(kc get svc "$n" -o jsonpath='{.status.loadBalancer.ingress[*].ip}')" "$ip"
	eq "$what: the cp still serves $ip" "$(cp_lb_ips default "$n")" "$ip"
	eq "$what: the pool still counts it" "$(pool_used public ipv4)" "$used"
}

# 1. A typo in the requested address.
out=$(kc annotate svc a edgelb.io/loadBalancerIPs=198.18.0.1o0)
printf '%s\n' "$out" | grep -q annotated || die "kubectl annotate" "$out"
kept a "$A" "typo in loadBalancerIPs"
check "the Event is a Warning naming the annotation" bash -c \
	"curl -s '$FAKE/api/v1/namespaces/default/events' | jq -e '[.items[] | select(.involvedObject.name == \"a\" and .type == \"Warning\" and (.message | test(\"loadBalancerIPs\")))] | length > 0' >/dev/null"

# 2. Asking for the address another Service holds, while also adding a port: the
# port is served on the old address; b keeps its own.
kc annotate svc b --overwrite "edgelb.io/loadBalancerIPs=$A" >/dev/null
kc patch svc b --type merge -p '{"spec":{"ports":[{"name":"http","port":80,"targetPort":8080},{"name":"alt","port":8081,"targetPort":8080}]}}' >/dev/null
kept b "$B" "b asks for a's address"
wait_until 5 '[ "$(cp_lb default b | jq -c "[.ports[].port]")" = "[80,8081]" ]' &&
	ok "the rest of b's change applies: ports 80 and 8081 on $B" ||
	nok "the rest of b's change applies: ports 80 and 8081 on $B" "$(cp_lb default b | jq -c .ports)"
eq "a keeps $A" "$(svc_ips default a)" "$A"

# 3. Over-long annotations are refused, not cut (finding 11).
long=$(printf 'k%.0s' $(seq 200))
kc annotate svc a --overwrite edgelb.io/loadBalancerIPs- >/dev/null 2>&1
kc annotate svc a --overwrite "edgelb.io/allow-shared-ip=$long" >/dev/null
if wait_until 5 'has_event default a AllocationFailed "allow-shared-ip: 200 bytes"'; then
	ok "allow-shared-ip of 200 bytes: Warning names the annotation and its length"
else
	nok "allow-shared-ip of 200 bytes: Warning names the annotation and its length" "$(events default | grep '^a ')"
fi
eq "allow-shared-ip of 200 bytes: a still has $A" "$(svc_ips default a)" "$A"
check "the state file holds no cut sharing key" bash -c "! grep -q '\"sharing_key\": \"kkkk' '$WORK/state.json'"
kc annotate svc a --overwrite "edgelb.io/allow-shared-ip-" "edgelb.io/address-pool=$(printf 'p%.0s' $(seq 70))" >/dev/null
wait_until 5 'has_event default a AllocationFailed "address-pool: 70 bytes"' &&
	ok "address-pool of 70 bytes: Warning" || nok "address-pool of 70 bytes: Warning" "$(events default | grep '^a ')"
eq "address-pool of 70 bytes: a still has $A" "$(svc_ips default a)" "$A"

# 4. Fixing it moves nothing.
kc annotate svc a edgelb.io/address-pool- >/dev/null
kc annotate svc b edgelb.io/loadBalancerIPs- >/dev/null
sleep 1
eq "fixed: a has $A" "$(svc_ips default a)" "$A"
eq "fixed: b has $B" "$(svc_ips default b)" "$B"
eq "fixed: the cp agrees" "$(cp_map default)" "$(printf 'a %s\nb %s' "$A" "$B")"
eq "no IPReleased Event so far" "$(events default | grep -c ' IPReleased ')" 0

# 5. A type change away from LoadBalancer does release.
kc patch svc b --type merge -p '{"spec":{"type":"ClusterIP","loadBalancerClass":null}}' >/dev/null
wait_until 5 '[ "$(pool_used public ipv4)" = $((used - 1)) ]' && ok "ClusterIP: b's address is free" ||
	nok "ClusterIP: b's address is free" "used $(pool_used public ipv4)"
wait_until 5 'svc_status_is default b ""' && ok "ClusterIP: b's status is cleared" || nok "ClusterIP: b's status is cleared"
k8s_end
