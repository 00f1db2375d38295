#!/bin/bash
# test_class.sh - which Services are edgelb's (TESTS.md #4).
#
# Another loadBalancerClass: ignored. No class: ignored, unless the cp runs with
# default_class = true. A Service that stops being ours (type ClusterIP / NodePort,
# or its class changes, which the API only allows through a non-LoadBalancer type)
# releases its IP: pool free again, status.loadBalancer cleared, IPReleased Event,
# also when the first status write fails, and also when the change happened while
# the controller was down.
. "$(dirname "$0")/lib.sh"
k8s_begin class 150

fake_start
PORT=$(free_port)
cp_conf "$WORK/cp1.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT" false
cp_start cp1 "$WORK/cp1.conf" "$PORT"
cp_wait_synced

P80='[{"port":80}]'
svc_create default other "$(jq -cn --argjson p "$P80" '{type: "LoadBalancer", loadBalancerClass: "other.io/lb", ports: $p}')"
svc_create default noclass "$(jq -cn --argjson p "$P80" '{type: "LoadBalancer", ports: $p}')"
svc_create default cip "$(jq -cn --argjson p "$P80" '{ports: $p}')"
svc_create default np "$(jq -cn --argjson p "$P80" '{type: "NodePort", ports: $p}')"
svc_create default mine "$(lb_spec "$P80")"
svc_create default mine2 "$(lb_spec "$P80")"
wait_until 5 '[ -n "$(svc_ips default mine)" ] && [ -n "$(svc_ips default mine2)" ]' || die "our Services got no IP"
sleep 1.5   # time for wrong decisions about the others
eq "default_class=false: only our class got IPs (status)" \
	"$(status_map default | tr '\n' ';')" "mine $(svc_ips default mine);mine2 $(svc_ips default mine2);noclass ;other ;"
eq "default_class=false: the cp has only mine, mine2" "$(cp_map default | awk '{print $1}' | tr '\n' ' ')" "mine mine2 "
eq "pool: 2 used" "$(pool_used public ipv4)" 2
eq "no Events about other / noclass" "$(events default | grep -Ec '^(other|noclass) ')" 0
eq "edgelb_k8s_services_handled 2" "$(metric edgelb_k8s_services_handled)" 2

# A ClusterIP Service turned into a LoadBalancer of our class becomes ours.
svc_patch default cip "{\"spec\":{\"type\":\"LoadBalancer\",\"loadBalancerClass\":\"$LB_CLASS\"}}"
if wait_until 5 '[ -n "$(svc_ips default cip)" ]'; then ok "ClusterIP -> LoadBalancer of our class: IP $(svc_ips default cip)"
else nok "ClusterIP -> LoadBalancer of our class: no IP"; fi

# ---------------------------------------------------------------- default_class = true
proc_stop cp1 TERM
cp_conf "$WORK/cp2.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT" true
cp_start cp2 "$WORK/cp2.conf" "$PORT"
cp_wait_synced
if wait_until 5 '[ -n "$(svc_ips default noclass)" ]'; then
	ok "default_class=true: the Service without a class got $(svc_ips default noclass)"
else
	nok "default_class=true: the Service without a class got no IP" "$(cp_map default)"
fi
sleep 1
eq "default_class=true: another class is still ignored" "$(svc_ips default other) $(cp_lb default other)" " null"
eq "default_class=true: NodePort ignored" "$(cp_lb default np)" null
eq "edgelb_k8s_services_handled 4 (mine, mine2, cip, noclass)" "$(metric edgelb_k8s_services_handled)" 4
eq "pool: 4 used" "$(pool_used public ipv4)" 4

# ---------------------------------------------------------------- stops being ours
released() { # NAME USED_AFTER: no status, no load balancer, pool usage
	local n=$1 u=$2
	wait_until 5 '[ -z "$(svc_ips default $n)" ] && [ "$(cp_lb default $n)" = null ] && [ "$(pool_used public ipv4)" = $u ]'
}
ip=$(svc_ips default noclass)
svc_patch default noclass '{"spec":{"type":"ClusterIP"}}'
if released noclass 3; then ok "type LoadBalancer -> ClusterIP: $ip released, status cleared, pool free"
else nok "type -> ClusterIP: not released" "status [$(svc_ips default noclass)] cp $(cp_lb_ips default noclass) used $(pool_used public ipv4)"; fi
check "IPReleased Event for noclass" has_event default noclass IPReleased ".*$ip"

ip=$(svc_ips default cip)
svc_patch default cip '{"spec":{"type":"NodePort","loadBalancerClass":null}}'
if released cip 2; then ok "type LoadBalancer -> NodePort: $ip released, status cleared"
else nok "type -> NodePort: not released" "status [$(svc_ips default cip)] used $(pool_used public ipv4)"; fi

# Class change: the API refuses it while the type stays LoadBalancer (like the real
# one), so it goes through ClusterIP; sent back to back, the cp may see either step.
fake_req PATCH "$(svc_path default mine)" '{"spec":{"loadBalancerClass":"other.io/lb"}}' application/merge-patch+json >/dev/null
eq "the API refuses a class change of a LoadBalancer (422)" "$(fake_code)" 422
ip=$(svc_ips default mine)
svc_patch default mine '{"spec":{"type":"ClusterIP","loadBalancerClass":null}}'
svc_patch default mine '{"spec":{"type":"LoadBalancer","loadBalancerClass":"other.io/lb"}}'
if released mine 1; then ok "class edgelb.io/lb -> other.io/lb: $ip released, status cleared, pool free"
else nok "class change: not released" "status [$(svc_ips default mine)] cp $(cp_lb_ips default mine) used $(pool_used public ipv4)"; fi

# The same change while the controller is down: seen at start, from the state file.
proc_stop cp2 KILL
ip=$(svc_ips default mine2)
svc_patch default mine2 '{"spec":{"type":"ClusterIP","loadBalancerClass":null}}'
svc_patch default mine2 '{"spec":{"type":"LoadBalancer","loadBalancerClass":"other.io/lb"}}'
eq "mine2 is of class other.io/lb, its status still shows $ip" "$(svc_get default mine2 | jq -r .spec.loadBalancerClass) $(svc_ips default mine2)" "other.io/lb $ip"
cp_start cp2 "$WORK/cp2.conf" "$PORT"
cp_wait_synced
if released mine2 0; then ok "class changed while the cp was down: $ip released at start, status cleared, pool free"
else nok "class changed while down: not released" "status [$(svc_ips default mine2)] cp $(cp_lb_ips default mine2) used $(pool_used public ipv4)"; fi

# The status write that clears the address fails once (500): it must be retried.
svc_create default flaky "$(lb_spec "$P80")"
wait_until 5 '[ -n "$(svc_ips default flaky)" ]' || die "flaky got no IP"
ip=$(svc_ips default flaky)
fake_fault '{"fail_500": 1, "path_prefix": "/api/v1/namespaces/default/services/flaky/status", "methods": ["PUT"]}'
svc_patch default flaky '{"spec":{"type":"ClusterIP","loadBalancerClass":null}}'
wait_until 5 '[ "$(pool_used public ipv4)" = 0 ]' || nok "flaky: $ip not released"
if wait_until 8 '[ -z "$(svc_ips default flaky)" ]'; then
	ok "type -> ClusterIP with the first status write failing (500): status cleared on retry"
else
	nok "type -> ClusterIP with the first status write failing (500): status still shows $ip 8 s later (never retried)" \
		"$(grep 'PUT .*services/flaky/status' "$WORK/fake.log")"
fi
check "the 500 was served (fault consumed)" \
	test "$(curl -s --max-time 5 "$FAKE/fake/faults" | jq '.fail | length')" = 0
eq "edgelb_k8s_services_handled 0" "$(metric edgelb_k8s_services_handled)" 0
k8s_end
