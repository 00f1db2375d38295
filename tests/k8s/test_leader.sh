#!/bin/bash
# test_leader.sh - three edgelb-cp on one cluster (issue 10 finding 1, TESTS.md #9):
# one holds the coordination.k8s.io Lease and alone allocates and writes; the
# others program their own store (and dp) from status.loadBalancer.ingress. They
# converge to one allocation per Service within a few seconds, then write nothing
# to Services while nothing changes; killing the leader hands the Lease over
# within the lease duration with no address moved; a stopped leader gives the
# Lease up at once.
. "$(dirname "$0")/lib.sh"
k8s_begin leader 170

LEASE_S=3
fake_start
declare -A API=()
for i in 1 2 3; do
	p=$(free_port)
	CP_K8S_EXTRA="leader_election: { identity = \"box$i\"; lease_duration_s = $LEASE_S; renew_deadline_ms = 2000; retry_period_ms = 300; };" \
		cp_conf "$WORK/cp$i.conf" "$WORK/state$i.json" "$WORK/no-dp.sock" "$p"
	cp_start "cp$i" "$WORK/cp$i.conf" "$p"
	API[$i]=$CP_API
done
CP_API=${API[1]}
cp_wait_synced

# leader_of: the index of the cp(s) that say they lead, space separated
leaders() {
	local i out=""
	for i in "${!API[@]}"; do
		proc_alive "cp$i" || continue
		[ "$(curl -s --max-time 5 "${API[$i]}/metrics" | awk '$1 == "edgelb_k8s_leader" {print $2}')" = 1 ] &&
			out="$out $i"
	done
	echo "${out# }"
}
lease_holder() { kc get lease -n edgelb-system edgelb-controller -o jsonpath='{.spec.holderIdentity}'; }

wait_until 10 '[ "$(leaders | wc -w)" = 1 ]' || die "one leader among three cps" "leaders: [$(leaders)]"
L=$(leaders)
ok "exactly one cp leads: cp$L"
eq "kubectl get lease: holder is box$L" "$(lease_holder)" "box$L"
eq "/healthz of a follower names the holder" \
	"$(curl -s "${API[$(( L % 3 + 1 ))]}/healthz" | jq -r '"\(.kubernetes.leader) \(.kubernetes.holder)"')" "false box$L"

# Six Services: one with kubectl apply, five over the API.
out=$(kc apply --validate=false -f "$SRC/tests/k8s/testdata/svc-web.yaml" -f "$SRC/tests/k8s/testdata/eps-web.yaml")
printf '%s\n' "$out" | grep -q 'service/web created' || die "kubectl apply" "$out"
for n in 1 2 3 4 5; do
	svc_create default "s$n" "$(lb_spec '[{"name":"http","port":80,"targetPort":8080}]')"
done
t0=$(now_ms)
all_set() { [ "$(status_map default | awk 'NF == 2' | wc -l)" = 6 ]; }
wait_until 10 all_set || die "six Services get an address" "$(status_map default)"
ok "six Services have an address $(( $(now_ms) - t0 )) ms after creation"
eq "six different addresses" "$(status_map default | awk '{print $2}' | sort -u | wc -l)" 6
eq "kubectl get svc web: EXTERNAL-IP" "$(kc get svc web -o jsonpath='{.status.loadBalancer.ingress[0].ip}')" \
	"$(svc_ips default web)"
want=$(status_map default)
for i in 1 2 3; do
	CP_API=${API[$i]}
	wait_until 10 '[ "$(cp_map default)" = "$want" ]' && ok "cp$i serves the addresses of the status" ||
		nok "cp$i serves the addresses of the status" "$(diff <(echo "$want") <(cp_map default))"
done
eq "the Events come from the leader only: one IPAllocated per Service" \
	"$(events default | grep -c ' IPAllocated ')" 6

# Quiet: nothing changes, so nothing is written to Services (Lease renewals aside).
fake_req DELETE /fake/requests >/dev/null
sleep 4
writes=$(fake_req GET /fake/requests | jq '[.requests[] | select(.method != "GET" and (.path | test("/services|/events")))] | length')
renews=$(fake_req GET /fake/requests | jq '[.requests[] | select(.method == "PUT" and (.path | test("/leases/")))] | length')
eq "4 s of quiet: Service and Event writes" "$writes" 0
log "4 s of quiet: $renews Lease PUTs (renewals by the leader)"
check "the leader renews the Lease (>= 4 PUTs in 4 s, retry 300 ms)" [ "$renews" -ge 4 ]

# Kill the leader: a follower takes over within the lease duration (+ one retry),
# no address moves, and the new leader allocates for a new Service.
t0=$(now_ms)
proc_stop "cp$L" KILL
unset "API[$L]"
wait_until $((LEASE_S + 5)) '[ "$(leaders | wc -w)" = 1 ]' || die "a new leader after kill -9" "leaders: [$(leaders)]"
L2=$(leaders)
dt=$(( $(now_ms) - t0 ))
check "cp$L2 leads $dt ms after the leader was killed (<= $((LEASE_S * 1000 + 1500)))" [ "$dt" -le $((LEASE_S * 1000 + 1500)) ]
eq "kubectl get lease: holder box$L2" "$(lease_holder)" "box$L2"
sleep 1
eq "no address moved with the leader change" "$(status_map default)" "$want"
eq "the new leader wrote no status (nothing to change)" \
	"$(fake_req GET /fake/requests | jq '[.requests[] | select(.method == "PUT" and (.path | test("/services/.*/status")))] | length')" 0
svc_create default s6 "$(lb_spec '[{"name":"http","port":80,"targetPort":8080}]')"
wait_until 5 'svc_nips_is default s6 1' && ok "the new leader allocates for a new Service" ||
	nok "the new leader allocates for a new Service"
check "its address is not one of the others'" bash -c "! echo '$want' | grep -qw '$(svc_ips default s6)'"
for i in "${!API[@]}"; do
	CP_API=${API[$i]}
	wait_until 5 '[ "$(cp_lb_ips default s6)" = "$(svc_ips default s6)" ]' &&
		ok "cp$i serves s6 too" || nok "cp$i serves s6 too"
done

# A leader stopped with SIGTERM gives the Lease up: the other takes over at once.
t0=$(now_ms)
proc_stop "cp$L2" TERM
unset "API[$L2]"
wait_until $((LEASE_S + 5)) '[ "$(leaders | wc -w)" = 1 ]' || die "a leader after SIGTERM" "leaders: [$(leaders)]"
dt=$(( $(now_ms) - t0 ))
check "cp$(leaders) leads $dt ms after the leader stopped (released: < lease duration $((LEASE_S * 1000)))" \
	[ "$dt" -lt $((LEASE_S * 1000)) ]
grep -q 'lease: released' "$WORK/cp$L2.log" && ok "the stopped leader logged that it released the Lease" ||
	nok "the stopped leader logged that it released the Lease"
want=$(status_map default)
svc_delete default s1
wait_until 5 '[ -z "$(svc_get default s1)" ]' && ok "delete s1: gone (the last leader removed its finalizer)" ||
	nok "delete s1: gone (the last leader removed its finalizer)" "$(svc_get default s1 | jq -c .metadata)"
k8s_end
