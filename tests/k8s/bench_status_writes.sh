#!/bin/bash
# bench_status_writes.sh - status PUTs per second of two edgelb-cp on one cluster
# whose allocations disagree (their pools start at different addresses, as two
# boxes with different state would). Not a test (not in meson): it prints a figure.
# Issue 10 finding 1: the code before leader election measured 993 PUTs in 4 s
# (248/s); with leader election the follower writes nothing: 0.
#   EDGELB_BUILD=build bash tests/k8s/bench_status_writes.sh
# For a build without leader election set NO_LE=1 (it does not know the setting).
. "$(dirname "$0")/lib.sh"
k8s_begin bench_status_writes 100
fake_start
for i in 1 2; do
	p=$(free_port)
	[ "${NO_LE:-0}" = 1 ] || CP_K8S_EXTRA="leader_election: { identity = \"box$i\"; };"
	cp_conf "$WORK/cp$i.conf" "$WORK/state$i.json" "$WORK/no-dp.sock" "$p" false \
		"{ name = \"public\"; addresses = [\"198.18.0.1${i}0-198.18.0.199\"]; }"
	cp_start "cp$i" "$WORK/cp$i.conf" "$p"
done
cp_wait_synced
for n in 1 2 3 4 5 6; do svc_create default "s$n" "$(lb_spec '[{"name":"http","port":80}]')"; done
sleep 3
fake_req DELETE /fake/requests >/dev/null
sleep 4
n=$(fake_req GET /fake/requests | jq '[.requests[] | select(.method == "PUT" and (.path | test("/status")))] | length')
log "two cps, 6 Services, 4 s measured 3 s after creation: $n status PUTs ($((n / 4))/s; the fake keeps the last 2000 requests)"
k8s_end
