#!/bin/bash
# test_ownership.sh - what the controller owns on a Service, and only that (issue
# 10 findings 5 and 6, TESTS.md #12):
# - it adds the finalizer service.kubernetes.io/load-balancer-cleanup when it
#   allocates, and removes it only after the address is released and the status
#   cleared; `kubectl delete` waits for that, also when the cp was down at the time;
# - it never removes status.loadBalancer.ingress entries it did not write (a
#   hostname another controller or a person added stays, before and after release);
# - it tracks metadata.uid with each allocation: a Service deleted and created
#   again under the same name while the cp was down is a new Service (new
#   allocation and IPAllocated Event for the new uid, new uid in the state file).
. "$(dirname "$0")/lib.sh"
k8s_begin ownership 150

FIN=service.kubernetes.io/load-balancer-cleanup
fake_start
PORT=$(free_port)
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced
P80='[{"name":"http","port":80,"targetPort":8080}]'
finalizers() { kc get svc "$1" -o jsonpath='{.metadata.finalizers}'; }

# ---- finalizer on allocation
for n in own del down; do svc_create default "$n" "$(lb_spec "$P80")"; done
wait_until 5 'svc_nips_is default own 1 && svc_nips_is default del 1 && svc_nips_is default down 1' ||
	die "three Services get addresses"
OWN=$(svc_ips default own)
check "kubectl get svc own: finalizer $FIN" bash -c "[[ '$(finalizers own)' == *$FIN* ]]"

# ---- another controller's ingress entry stays
kc patch svc own --subresource=status --type=merge \
	-p "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"$OWN\",\"ipMode\":\"VIP\",\"ports\":[{\"port\":80,\"protocol\":\"TCP\"}]},{\"hostname\":\"edge.example.com\"}]}}}" >/dev/null
kc label svc own touched=yes >/dev/null   # a change: the controller reconciles own
sleep 1.5
eq "a hostname entry someone else added stays next to ours" \
	"$(svc_get default own | jq -c '[.status.loadBalancer.ingress[] | .ip // .hostname]')" "[\"$OWN\",\"edge.example.com\"]"
kc patch svc own --type merge -p '{"spec":{"type":"ClusterIP","loadBalancerClass":null}}' >/dev/null
wait_until 5 '[ "$(svc_get default own | jq -c "[.status.loadBalancer.ingress[]? | .ip // .hostname]")" = "[\"edge.example.com\"]" ]' &&
	ok "ClusterIP: only our address left the status, the hostname stayed" ||
	nok "ClusterIP: only our address left the status, the hostname stayed" "$(svc_get default own | jq -c .status)"
wait_until 5 '[ -z "$(finalizers own)" ]' && ok "ClusterIP: our finalizer is removed" || nok "ClusterIP: our finalizer is removed" "$(finalizers own)"

# ---- delete: the finalizer holds the Service until status and address are clean
fake_req DELETE /fake/requests >/dev/null
used=$(pool_used public ipv4)
out=$(kc delete svc del --wait=true --timeout=10s)
printf '%s\n' "$out" | grep -q deleted && ok "kubectl delete svc del: returns once the finalizer is gone" ||
	nok "kubectl delete svc del" "$out"
eq "del's address is free" "$(pool_used public ipv4)" $((used - 1))
order=$(fake_req GET /fake/requests | jq -r '.requests[] | select(.method == "PUT" and (.path | test("/services/del"))) | .path' | sed 's|.*/del|del|' | tr '\n' ' ')
eq "status cleared before the finalizer went (PUT order)" "$order" "del/status del "

# ---- delete while the cp is down: cleaned up when it is back
proc_stop cp TERM
out=$(kc delete svc down --wait=false)
sleep 0.5
check "with the cp down the Service waits (deletionTimestamp, finalizer)" bash -c \
	"curl -s '$FAKE/api/v1/namespaces/default/services/down' | jq -e '.metadata.deletionTimestamp and (.metadata.finalizers | index(\"$FIN\"))' >/dev/null"

# ---- uid: delete and create again while the cp is down
svc_create default uid1 "$(lb_spec "$P80")"   # made while down: no allocation yet
cp_start cp "$WORK/cp.conf" "$PORT"
wait_until 10 '[ -z "$(svc_get default down)" ]' && ok "the cp back: the deleted Service is gone" ||
	nok "the cp back: the deleted Service is gone" "$(svc_get default down | jq -c .metadata)"
wait_until 5 'svc_nips_is default uid1 1' || die "uid1 gets an address"
OLDUID=$(svc_get default uid1 | jq -r .metadata.uid)
U1=$(svc_ips default uid1)
proc_stop cp TERM
kc patch svc uid1 --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null
kc delete svc uid1 --wait=true --timeout=10s >/dev/null
svc_create default uid1 "$(lb_spec "$P80")"
NEWUID=$(svc_get default uid1 | jq -r .metadata.uid)
check "uid1 was created again with a new uid" [ "$OLDUID" != "$NEWUID" ]
cp_start cp "$WORK/cp.conf" "$PORT"
wait_until 10 'svc_nips_is default uid1 1' && ok "the new uid1 gets an address ($(svc_ips default uid1); the old one had $U1)" ||
	nok "the new uid1 gets an address"
check "an IPAllocated Event for the new uid (a new Service, not the old one's allocation)" bash -c \
	"curl -s '$FAKE/api/v1/namespaces/default/events' | jq -e --arg u '$NEWUID' '[.items[] | select(.reason == \"IPAllocated\" and .involvedObject.uid == \$u)] | length == 1' >/dev/null"
wait_until 5 'jq -e --arg u "$NEWUID" "[.loadbalancers[] | select(.name == \"uid1\" and .uid == \$u)] | length == 1" "$WORK/state.json" >/dev/null' &&
	ok "the state file records the new uid" || nok "the state file records the new uid" "$(jq -c '.loadbalancers[] | {name, uid}' "$WORK/state.json")"
k8s_end
