#!/bin/bash
# test_fleet_dp.sh - two boxes, each an edgelb-cp with its own edgelb-dp (idle
# net_null ports), on one cluster (issue 10 finding 1, TESTS.md #18). The leader
# allocates; the follower programs its dp from the Services' status: both dps hold
# the same services (VIP, port, backends), and nothing is written while nothing
# changes. An endpoint change reaches both dps;
# after the leader is killed its dp keeps its services and the other box, now the
# leader, serves a new Service on its dp. Starts edgelb-dp: run under
# flock /tmp/edgelb-systest.lock.
K8S_NEED_ROOT=1
. "$(dirname "$0")/lib.sh"
k8s_begin fleet_dp 150

dp_start_null dp1 "$WORK/dp1.sock"
dp_start_null dp2 "$WORK/dp2.sock"
fake_start
declare -A API=()
for i in 1 2; do
	p=$(free_port)
	CP_K8S_EXTRA="leader_election: { identity = \"box$i\"; lease_duration_s = 3; renew_deadline_ms = 2000; retry_period_ms = 300; };" \
		cp_conf "$WORK/cp$i.conf" "$WORK/state$i.json" "$WORK/dp$i.sock" "$p"
	cp_start "cp$i" "$WORK/cp$i.conf" "$p"
	API[$i]=$CP_API
	wait_until 10 '[ "$(curl -s --max-time 2 "$CP_API/healthz" | jq -r .dp)" = connected ]' ||
		die "cp$i did not connect to dp$i"
done
ok "two cps, each connected to its own dp"
leader() { local i; for i in 1 2; do proc_alive "cp$i" && [ "$(curl -s "${API[$i]}/metrics" | awk '$1 == "edgelb_k8s_leader" {print $2}')" = 1 ] && echo $i; done; }
wait_until 10 '[ "$(leader | wc -l)" = 1 ]' || die "one leader"
L=$(leader)
F=$((3 - L))
ok "cp$L leads, cp$F follows"

# the dp's services, normalised: "name vip:port/proto backends..." sorted
dp_view() {
	DP_SOCK=$1 dp_services | jq -r '.[] | "\(.name) \(.vip):\(.port)/\(.protocol) \([.backends[] | "\(.address):\(.port):\(.state)"] | sort | join(","))"' | sort
}
for n in a b c; do
	svc_create default "$n" "$(lb_spec '[{"name":"http","port":80,"targetPort":8080},{"name":"dns","port":53,"protocol":"UDP","targetPort":5353}]')"
	eps_create default "$n-x" "$n" IPv4 '[{"name":"http","port":8080},{"name":"dns","port":5353,"protocol":"UDP"}]' \
		'[{"addresses":["198.19.4.1"]},{"addresses":["198.19.4.2"]}]'
done
wait_until 10 '[ "$(dp_view "$WORK/dp$L.sock" | wc -l)" = 6 ]' || die "the leader's dp has 6 services" "$(dp_view "$WORK/dp$L.sock")"
want=$(dp_view "$WORK/dp$L.sock")
wait_until 10 '[ "$(dp_view "$WORK/dp$F.sock")" = "$want" ]' && ok "the follower's dp holds the same 6 services as the leader's" ||
	nok "the follower's dp holds the same 6 services as the leader's" "$(diff <(echo "$want") <(dp_view "$WORK/dp$F.sock"))"
for n in a b c; do
	ip=$(svc_ips default $n)
	check "$n: both dps serve $ip (the status address)" bash -c "echo '$want' | grep -q ' $ip:80/tcp '"
done

# two boxes, nothing changing: nothing written to Services or Events
fake_req DELETE /fake/requests >/dev/null
sleep 3
eq "two cps, 3 s of quiet: Service and Event writes" \
	"$(fake_req GET /fake/requests | jq '[.requests[] | select(.method != "GET" and (.path | test("/services|/events")))] | length')" 0

# an endpoint change reaches both dps
fake_req PATCH "$(eps_path default b-x)" '{"endpoints":[{"addresses":["198.19.4.1"]},{"addresses":["198.19.4.3"]}]}' application/merge-patch+json >/dev/null
for i in 1 2; do
	wait_until 5 'dp_view "$WORK/dp$i.sock" | grep "^default/b:http " | grep -q "198.19.4.3:8080"' &&
		ok "dp$i: b's new endpoint 198.19.4.3" || nok "dp$i: b's new endpoint 198.19.4.3"
done

# the leader dies: its dp keeps forwarding; the follower takes over and serves a new Service
before=$(dp_view "$WORK/dp$L.sock")
proc_stop "cp$L" KILL
wait_until 8 '[ "$(leader)" = "$F" ]' && ok "cp$F leads after cp$L was killed" || die "cp$F leads"
eq "dp$L keeps its services without its cp" "$(dp_view "$WORK/dp$L.sock")" "$before"
svc_create default d "$(lb_spec '[{"name":"http","port":80,"targetPort":8080}]')"
wait_until 5 'svc_nips_is default d 1' || nok "d gets an address from the new leader"
ip=$(svc_ips default d)
wait_until 5 'dp_view "$WORK/dp$F.sock" | grep -q "^default/d:http $ip:80/tcp"' && ok "dp$F serves the new Service d on $ip" ||
	nok "dp$F serves the new Service d on $ip" "$(dp_view "$WORK/dp$F.sock")"
eq "no address of a, b, c moved" "$(dp_view "$WORK/dp$F.sock" | grep -v '^default/d:' | awk '{print $1, $2}')" \
	"$(echo "$before" | awk '{print $1, $2}')"
k8s_end
