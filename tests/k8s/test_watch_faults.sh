#!/bin/bash
# test_watch_faults.sh - the controller converges through watch faults (TESTS.md #2).
#
# Services (and some EndpointSlices) are created, changed and deleted in a loop
# while the fake API server drops watches (clean close and cut connections),
# answers watches with 410 Gone (HTTP status and ERROR event), fails lists,
# watches and status writes with 500, and compacts its history. Afterwards:
# every existing Service has exactly one IP (status and cp agree), no two share
# one, deleted Services' IPs are free (pool usage = Service count), and the
# relists are counted in /metrics.
. "$(dirname "$0")/lib.sh"
k8s_begin watch_faults 170

ROUNDS=${ROUNDS:-28}
fake_start
PORT=$(free_port)
cp_conf "$WORK/cp.conf" "$WORK/state.json" "$WORK/no-dp.sock" "$PORT"
cp_start cp "$WORK/cp.conf" "$PORT"
cp_wait_synced

# A Service of another class and a ClusterIP one: present throughout, never ours.
svc_create default other "$(jq -cn '{type: "LoadBalancer", loadBalancerClass: "other.io/lb", ports: [{port: 80}]}')"
svc_create default plain '{"ports": [{"port": 80}]}'

# converged: the cp's load balancers, the Services' status and the pool agree.
# Prints what differs; status 0 when converged.
converged() {
	fake_req GET /api/v1/services >"$WORK/svcs.json"
	api /v1/loadbalancers >"$WORK/lbs.json"
	api /v1/pools >"$WORK/pools.json"
	"$PY" - "$WORK/svcs.json" "$WORK/lbs.json" "$WORK/pools.json" "$WORK/deleted" <<'EOF'
import ipaddress, json, sys
svcs = json.load(open(sys.argv[1]))["items"]
lbs = json.load(open(sys.argv[2]))["items"]
pools = json.load(open(sys.argv[3]))["items"]
deleted = set(open(sys.argv[4]).read().split())
lo, hi = ipaddress.ip_address("198.18.0.100"), ipaddress.ip_address("198.18.0.199")
bad = []
ours = {}
for s in svcs:
    m, sp = s["metadata"], s["spec"]
    key = "%s/%s" % (m["namespace"], m["name"])
    ips = [i.get("ip") for i in (s.get("status", {}).get("loadBalancer", {}).get("ingress") or [])]
    if sp.get("type") == "LoadBalancer" and sp.get("loadBalancerClass") == "edgelb.io/lb":
        ours[key] = ips
        if len(ips) != 1:
            bad.append("%s: status has %d IPs %s" % (key, len(ips), ips))
        elif not (lo <= ipaddress.ip_address(ips[0]) <= hi):
            bad.append("%s: %s outside the pool" % (key, ips[0]))
    elif ips:
        bad.append("%s (not ours) has status IPs %s" % (key, ips))
byip = {}
for k, ips in ours.items():
    for ip in ips:
        byip.setdefault(ip, []).append(k)
for ip, ks in byip.items():
    if len(ks) > 1:
        bad.append("%s shared by %s" % (ip, ks))
cp = {"%s/%s" % (l["namespace"], l["name"]): l.get("ips") or [] for l in lbs}
for k in sorted(set(cp) - set(ours)):
    bad.append("cp still has %s%s %s" % (k, " (deleted)" if k.split("/")[1] in deleted else "", cp[k]))
for k in sorted(set(ours) - set(cp)):
    bad.append("cp has no load balancer for %s" % k)
for k in sorted(set(ours) & set(cp)):
    if cp[k] != ours[k]:
        bad.append("%s: cp holds %s, status shows %s" % (k, cp[k], ours[k]))
used = sum(p["ipv4"]["used"] for p in pools)
if used != len(ours):
    bad.append("pools: %d IPv4 addresses used for %d Services" % (used, len(ours)))
print("; ".join(bad) if bad else "%d Services, %d distinct IPs" % (len(ours), len(byip)))
sys.exit(1 if bad else 0)
EOF
}

: >"$WORK/deleted"
live=()
n410=0
faults_done=()
# wait_consumed: injected 410s have been served (a watch started since)
wait_consumed() {
	wait_until 5 'curl -s --max-time 2 "$FAKE/fake/faults" | jq -e ".watch_410 == 0 and .watch_error_410 == 0"'
}
inject() { # round
	case $(($1 % 7)) in
	0) fake_fault '{"drop_watches": true}'; faults_done+=(drop) ;;
	1) fake_fault '{"watch_410": 2}'; fake_fault '{"drop_watches": true}'
	   if wait_consumed; then n410=$((n410 + 2)); faults_done+=(410); else nok "injected watch_410=2 not consumed within 5 s"; fi ;;
	2) fake_fault '{"watch_error_410": 2}'; fake_fault '{"drop_watches": "abort"}'
	   if wait_consumed; then n410=$((n410 + 2)); faults_done+=(error410); else nok "injected watch_error_410=2 not consumed within 5 s"; fi ;;
	3) fake_fault '{"fail_500": 3, "path_prefix": "/api/v1/services"}'; fake_fault '{"drop_watches": true}'
	   faults_done+=(500-services) ;;
	4) fake_fault '{"fail_500": 3, "path_prefix": "/apis/discovery.k8s.io/v1/endpointslices"}'
	   fake_fault '{"drop_watches": "abort"}'; faults_done+=(500-slices) ;;
	5) fake_fault '{"fail_500": 4, "path_prefix": "/api/v1/namespaces/default/services/", "methods": ["PUT"]}'
	   faults_done+=(500-status) ;;
	6) fake_fault '{"compact": true}'; fake_fault '{"drop_watches": "abort"}'; faults_done+=(compact) ;;
	esac
}

relists0=$(metric_sum edgelb_k8s_relists_total)
errors0=$(metric_sum edgelb_k8s_watch_errors_total)
log "loop: $ROUNDS rounds of create / update / delete with a fault each"
for i in $(seq 1 "$ROUNDS"); do
	name=s$i
	svc_create default "$name" "$(lb_spec "[{\"name\":\"http\",\"port\":$((8000 + i)),\"targetPort\":8080}]")"
	live+=("$name")
	if [ $((i % 2)) = 0 ]; then
		eps_create default "$name-a" "$name" IPv4 '[{"name":"http","port":8080}]' \
			"[{\"addresses\":[\"198.19.1.$i\"],\"conditions\":{\"ready\":true}}]"
	fi
	inject "$i"
	# Changes while the watches may be down: delete one, modify another's ports.
	if [ $((i % 3)) = 0 ] && [ ${#live[@]} -gt 2 ]; then
		victim=${live[1]}
		svc_delete default "$victim"
		echo "$victim" >>"$WORK/deleted"
		live=("${live[0]}" "${live[@]:2}")
	fi
	if [ $((i % 5)) = 0 ]; then
		svc_patch default "${live[0]}" "{\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":$((9000 + i)),\"targetPort\":8080}]}}"
	fi
	# Turn a Service into ClusterIP now and then: it must give its IP back.
	if [ $((i % 11)) = 0 ]; then
		victim=${live[2]}
		svc_patch default "$victim" '{"spec":{"type":"ClusterIP","loadBalancerClass":null}}'
		echo "$victim" >>"$WORK/deleted"
		live=("${live[@]:0:2}" "${live[@]:3}")
	fi
	sleep 0.1
done
fake_fault '{"clear": true}'
log "loop done: ${#live[@]} Services live, $(wc -l <"$WORK/deleted") deleted or turned ClusterIP; faults: ${faults_done[*]}"

t=$(now_ms)
if wait_until 30 converged; then
	ok "converged $(( $(now_ms) - t )) ms after the last fault: $(converged)"
else
	nok "not converged 30 s after the last fault" "$(converged)"
fi
sleep 1.5
if out=$(converged); then ok "still converged 1.5 s later ($out)"; else nok "state moved after convergence" "$out"; fi
eq "every live Service is in the cp" "$(cp_lb_count)" "${#live[@]}"

# Each deleted (or ClusterIP) Service: no load balancer, no status IP.
bad=
for d in $(cat "$WORK/deleted"); do
	[ "$(cp_lb default "$d")" = null ] || bad="$bad $d(cp)"
	ips=$(svc_ips default "$d" 2>/dev/null)
	[ -z "$ips" ] || bad="$bad $d(status $ips)"
done
eq "deleted / ClusterIP Services hold nothing" "$bad" ""
eq "Service of another class has no IP" "$(svc_ips default other)" ""

# The slices reached the load balancers (spot check the last even one).
last_even=$(( ROUNDS - ROUNDS % 2 ))
backends_of() { cp_lb default "s$last_even" | jq -r '[.backends[] | "\(.address):\(.port)"] | join(" ")'; }
# The slices' watch may still be in its backoff after the last fault (at most 10 s).
want_backend="198.19.1.$last_even:8080"
wait_until 20 '[ "$(backends_of)" = "$want_backend" ]' || true
eq "s$last_even's backend from its EndpointSlice" "$(backends_of)" "198.19.1.$last_even:8080"

relists=$(metric_sum edgelb_k8s_relists_total)
check "edgelb_k8s_relists_total grew by $((relists - relists0)) (>= $n410 injected 410s)" test $((relists - relists0)) -ge "$n410"
for r in services endpointslices; do
	v=$(metric "edgelb_k8s_relists_total{resource=\"$r\"}")
	check "relists of $r counted ($v > 1)" test "${v:-0}" -gt 1
done
errs=$(metric_sum edgelb_k8s_watch_errors_total)
check "edgelb_k8s_watch_errors_total grew ($errors0 -> $errs) with the 500s and cut watches" test "$errs" -gt "$errors0"
for r in services endpointslices; do
	wait_until 15 '[ "$(metric "edgelb_k8s_watch_state{resource=\"$r\",state=\"watching\"}")" = 1 ]' || true
	eq "watch of $r back to state watching" "$(metric "edgelb_k8s_watch_state{resource=\"$r\",state=\"watching\"}")" 1
done

# 409 Conflict on the status write: the Service changes between the cp's GET and its
# PUT (the PUT is held 2 s by the server; a label is patched meanwhile). The cp must
# read it again and retry.
c0=$(metric edgelb_k8s_status_conflicts_total)
fake_fault '{"delay_ms": 2000, "delay_count": 1, "path_prefix": "/api/v1/namespaces/default/services/conflict/status", "methods": ["PUT"]}'
svc_create default conflict "$(lb_spec '[{"port":80}]')"
if wait_until 10 'curl -s --max-time 2 "$FAKE/fake/faults" | jq -e ".delay | length == 0"'; then
	svc_patch default conflict '{"metadata":{"labels":{"changed":"meanwhile"}}}'
	if wait_until 10 '[ -n "$(svc_ips default conflict)" ]'; then
		ok "status written despite a 409 Conflict: $(svc_ips default conflict)"
	else
		nok "no status after a 409 Conflict on the status write" "$(grep 'services/conflict' "$WORK/fake.log")"
	fi
	c1=$(metric edgelb_k8s_status_conflicts_total)
	check "edgelb_k8s_status_conflicts_total counted it ($c0 -> $c1)" test "$c1" -gt "$c0"
	eq "the label patched meanwhile is kept" "$(svc_get default conflict | jq -r .metadata.labels.changed)" meanwhile
else
	nok "the cp never wrote the status of Service conflict (delayed PUT not seen)"
fi

# Backoff after a recovery: five failed watches push the backoff to 6.4 s; once a
# watch has been healthy for a while, one cut connection must be resumed at once
# (the 0.2 s first step), not after the backoff left over from the old failures.
e0=$(metric 'edgelb_k8s_watch_errors_total{resource="services"}')
fake_fault '{"fail_500": 5, "path_prefix": "/api/v1/services"}'
fake_fault '{"drop_watches": true}'
wait_until 30 '[ "$(metric "edgelb_k8s_watch_errors_total{resource=\"services\"}")" -ge $((e0 + 5)) ] &&
	[ "$(metric "edgelb_k8s_watch_state{resource=\"services\",state=\"watching\"}")" = 1 ]' ||
	nok "services watch did not recover from 5 failures" "$(api /metrics | grep watch_)"
sleep 3
fake_fault '{"drop_watches": "abort"}'
t=$(now_ms)
svc_create default after-cut "$(lb_spec '[{"port":80}]')"
wait_until 15 '[ -n "$(svc_ips default after-cut)" ]'
dt=$(( $(now_ms) - t ))
check "after 5 old failures and 3 s of healthy watch, a cut watch resumes at once: new Service served in ${dt} ms (<= 3000)" \
	test "$dt" -le 3000
check "the cp is still running" proc_alive cp
k8s_end
