#!/bin/bash
# test_dp.sh - what the controller programs into a real edgelb-dp (TESTS.md #7).
#
# edgelb-dp runs on an idle net_null port; the cp in kubernetes mode syncs it over
# the control socket; the test reads the dp's own service.list. Checked: a named
# targetPort resolves per endpoint through the EndpointSlice ports (two slices, two
# numbers), endpoint conditions (ready -> active, serving + terminating -> draining,
# neither -> left out), sessionAffinity ClientIP with its timeout (and the 10800 s
# default), loadBalancerSourceRanges (host bits masked), externalTrafficPolicy Local
# -> mode dnat, UDP ports, the edgelb.io/scheduler annotation, dual stack (a service
# per address), condition changes and deletion reaching the dp.
K8S_NEED_ROOT=1
. "$(dirname "$0")/lib.sh"
k8s_begin dp 150

dp_start_null dp "$WORK/dp.sock"
fake_start
PORT=$(free_port)
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/dp.sock" "$PORT"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced
wait_until 10 '[ "$(curl -s --max-time 2 "$CP_API/healthz" | jq -r .dp)" = connected ]' ||
	die "the cp did not connect to the dp" "$(curl -s "$CP_API/healthz")"
ok "the cp is connected to the dp"

# dp_svc NAME: the dp's service of that name, normalised (sorted backends) ("null": none)
dp_svc() {
	dp_services | jq -c --arg n "$1" '[.[] | select(.name == $n)] |
		if length == 0 then null else .[0] | {vip, port, protocol, mode,
			scheduler: (.scheduler // "maglev"),
			affinity: "\(.session_affinity.type)/\(.session_affinity.timeout_seconds)",
			ranges: ((.source_ranges // []) | sort),
			backends: ([.backends[] | "\(.address):\(.port):\(.state)"] | sort)} end'
}
# wait_dp NAME JQ-CONDITION DESC: until the dp's service satisfies the condition
wait_dp() {
	local n=$1 cond=$2 desc=$3
	if wait_until 10 '[ "$(dp_svc "$n" | jq "$cond")" = true ]'; then ok "$desc"
	else nok "$desc" "dp has: $(dp_svc "$n")"; fi
}

# ---------------------------------------------------------------- named targetPort, conditions
svc_create default web "$(lb_spec '[{"name":"http","port":80,"targetPort":"http"}]')"
# Two slices: pods listening on 8080 and (after a rollout) on 9090 for the port "http".
eps_create default web-a web IPv4 '[{"name":"http","port":8080,"protocol":"TCP"},{"name":"metrics","port":9100}]' '[
	{"addresses":["198.19.0.11"],"conditions":{"ready":true,"serving":true,"terminating":false}},
	{"addresses":["198.19.0.12"],"conditions":{"ready":false,"serving":true,"terminating":true}},
	{"addresses":["198.19.0.13"],"conditions":{"ready":false,"serving":false,"terminating":true}},
	{"addresses":["198.19.0.14"],"conditions":{"ready":false}}]'
eps_create default web-b web IPv4 '[{"name":"http","port":9090,"protocol":"TCP"}]' '[
	{"addresses":["198.19.0.21"]}]'
wait_until 5 '[ -n "$(svc_ips default web)" ]' || die "web got no IP"
VIP=$(svc_ips default web)
wait_dp default/web:http '.backends | length == 3' "dp has service default/web:http with 3 backends"
s=$(dp_svc default/web:http)
eq "default/web:http is $VIP:80/tcp, fnat" "$(echo "$s" | jq -r '"\(.vip):\(.port)/\(.protocol) \(.mode)"')" "$VIP:80/tcp fnat"
eq "named targetPort 'http' resolved per slice (8080, 9090); terminating+serving -> draining; not serving / not ready left out" \
	"$(echo "$s" | jq -r '.backends | join(" ")')" \
	"198.19.0.11:8080:active 198.19.0.12:8080:draining 198.19.0.21:9090:active"
eq "default affinity None" "$(echo "$s" | jq -r .affinity | cut -d/ -f1)" None

# Conditions change: .11 starts terminating (still serving), .14 becomes ready.
fake_req PUT "$(eps_path default web-a)" "$(fake_req GET "$(eps_path default web-a)" | jq -c '
	.endpoints[0].conditions = {ready: false, serving: true, terminating: true} |
	.endpoints[3].conditions = {ready: true}')" >/dev/null
eq "EndpointSlice web-a updated" "$(fake_code)" 200
wait_dp default/web:http '.backends == ["198.19.0.11:8080:draining","198.19.0.12:8080:draining","198.19.0.14:8080:active","198.19.0.21:9090:active"]' \
	"condition changes reach the dp: .11 draining, .14 active"
# The slice of 9090 goes away: its backend leaves the dp.
fake_req DELETE "$(eps_path default web-b)" >/dev/null
wait_dp default/web:http '.backends | map(select(startswith("198.19.0.21"))) | length == 0' "slice web-b deleted: 198.19.0.21:9090 left the dp"

# ---------------------------------------------------------------- affinity, ranges, Local, UDP
svc_create default pol "$(lb_spec '[{"name":"https","port":443,"targetPort":8443},{"name":"dns","port":53,"protocol":"UDP","targetPort":"dns"}]' \
	'{"sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":600}},
	  "loadBalancerSourceRanges":["198.18.0.7/24","2001:db8:9::/48"],"externalTrafficPolicy":"Local"}')"
eps_create default pol-1 pol IPv4 '[{"name":"https","port":8443},{"name":"dns","port":5353,"protocol":"UDP"}]' \
	'[{"addresses":["198.19.0.31"]},{"addresses":["198.19.0.32"]}]'
wait_until 5 '[ -n "$(svc_ips default pol)" ]' || die "pol got no IP"
PVIP=$(svc_ips default pol)
wait_dp default/pol:https '.backends | length == 2' "dp has service default/pol:https"
s=$(dp_svc default/pol:https)
eq "pol:https: $PVIP:443/tcp mode dnat (externalTrafficPolicy Local)" "$(echo "$s" | jq -r '"\(.vip):\(.port)/\(.protocol) \(.mode)"')" "$PVIP:443/tcp dnat"
eq "pol:https: sessionAffinity ClientIP, timeout 600" "$(echo "$s" | jq -r .affinity)" "ClientIP/600"
eq "pol:https: loadBalancerSourceRanges (host bits masked)" "$(echo "$s" | jq -r '.ranges | join(" ")')" "198.18.0.0/24 2001:db8:9::/48"
eq "pol:https: backends on the numeric targetPort 8443" "$(echo "$s" | jq -r '.backends | join(" ")')" "198.19.0.31:8443:active 198.19.0.32:8443:active"
wait_dp default/pol:dns '.backends | length == 2' "dp has service default/pol:dns"
s=$(dp_svc default/pol:dns)
eq "pol:dns: $PVIP:53/udp dnat ClientIP/600, same ranges, backends on 5353" \
	"$(echo "$s" | jq -r '"\(.vip):\(.port)/\(.protocol) \(.mode) \(.affinity) \(.ranges | join(",")) \(.backends | join(" "))"')" \
	"$PVIP:53/udp dnat ClientIP/600 198.18.0.0/24,2001:db8:9::/48 198.19.0.31:5353:active 198.19.0.32:5353:active"

# ClientIP without a timeout: the Kubernetes default 10800 s. Ranges from the annotation.
svc_create default aff "$(lb_spec '[{"port":8080}]' '{"sessionAffinity":"ClientIP"}')" \
	'{"annotations":{"service.beta.kubernetes.io/load-balancer-source-ranges":"198.18.0.0/16, 203.0.113.0/24"}}'
wait_dp default/aff:8080 'type == "object"' "dp has service default/aff:8080 (unnamed port)"
eq "aff: ClientIP/10800, fnat, ranges from the annotation" "$(dp_svc default/aff:8080 | jq -r '"\(.affinity) \(.mode) \(.ranges | join(","))"')" \
	"ClientIP/10800 fnat 198.18.0.0/16,203.0.113.0/24"

# The scheduler annotation (any case) reaches the dp; a change follows; an unknown name is Maglev.
svc_create default sch "$(lb_spec '[{"port":8081}]')" '{"annotations":{"edgelb.io/scheduler":"WLC"}}'
wait_dp default/sch:8081 '.scheduler == "wlc"' "edgelb.io/scheduler: WLC -> the dp service's scheduler is wlc"
svc_patch default sch '{"metadata":{"annotations":{"edgelb.io/scheduler":"rr"}}}'
wait_dp default/sch:8081 '.scheduler == "rr"' "annotation changed to rr: the dp follows"
svc_patch default sch '{"metadata":{"annotations":{"edgelb.io/scheduler":"lblc"}}}'
wait_dp default/sch:8081 '.scheduler == "maglev"' "unknown scheduler lblc: the dp service is Maglev"
# Status is written through the leader's write queue, after the dp is programmed: wait for it.
if wait_until 10 '[ -n "$(svc_ips default sch)" ]'; then ok "sch kept an address with an unknown scheduler"
else nok "sch kept an address with an unknown scheduler" "status: $(svc_get default sch | jq -c .status)"; fi
svc_delete default sch

# Changing the policy back: Cluster -> fnat, affinity None.
svc_patch default pol '{"spec":{"externalTrafficPolicy":"Cluster","sessionAffinity":"None","sessionAffinityConfig":null,"loadBalancerSourceRanges":null}}'
wait_dp default/pol:https '.mode == "fnat" and (.affinity | startswith("None")) and .ranges == []' \
	"pol patched to Cluster / None / no ranges: the dp follows (fnat, None, no ranges)"
eq "pol kept its address" "$(svc_ips default pol)" "$PVIP"

# ---------------------------------------------------------------- dual stack: one dp service per address
svc_create default ds "$(lb_spec '[{"name":"http","port":80,"targetPort":8080}]' '{"ipFamilyPolicy":"RequireDualStack"}')"
eps_create default ds-4 ds IPv4 '[{"name":"http","port":8080}]' '[{"addresses":["198.19.0.41"]}]'
eps_create default ds-6 ds IPv6 '[{"name":"http","port":8080}]' '[{"addresses":["2001:db8:2::41"]}]'
wait_until 5 '[ "$(svc_ips default ds | wc -w)" = 2 ]' || die "ds got no two IPs"
if wait_until 10 '[ "$(dp_services | jq -c "[.[] | select(.name == \"default/ds:http\") | \"\(.vip) \([.backends[].address] | join(\",\"))\"] | sort")" = "$(svc_ips default ds | jq -Rc "split(\" \") | [.[0] + \" 198.19.0.41\", .[1] + \" 2001:db8:2::41\"] | sort")" ]'; then
	ok "dual stack: one dp service per address, each with the backends of its family"
else
	nok "dual stack: dp services wrong" "$(dp_services | jq -c '[.[] | select(.name == "default/ds:http") | {vip, backends}]') status: $(svc_ips default ds)"
fi

# ---------------------------------------------------------------- deletion
svc_delete default web
if wait_until 10 '[ "$(dp_svc default/web:http)" = null ]'; then ok "Service web deleted: default/web:http left the dp"
else nok "Service web deleted: still in the dp" "$(dp_svc default/web:http)"; fi
svc_patch default pol '{"spec":{"type":"ClusterIP","loadBalancerClass":null}}'
if wait_until 10 '[ "$(dp_services | jq "[.[] | select(.name | startswith(\"default/pol:\"))] | length")" = 0 ]'; then
	ok "Service pol turned ClusterIP: its two dp services left the dp"
else nok "pol turned ClusterIP: still in the dp" "$(dp_services | jq -c '[.[].name]')"; fi
eq "dp holds exactly the remaining services" "$(dp_services | jq -c '[.[].name] | sort')" '["default/aff:8080","default/ds:http","default/ds:http"]'
check "the dp is still running" proc_alive dp
k8s_end
