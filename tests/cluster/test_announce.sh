#!/usr/bin/env bash
# test_announce.sh - two boxes announce the VIP through BIRD 2; the router's ECMP
# spreads flows over both; a box withdraws the VIP when its last backend goes and
# when its dp is killed (SIGKILL: withdrawn within 1 s on the router, new
# connections answered within 2 s), and announces it again once a new dp is synced.
# CL_KILLS=N repeats the dp kill N times and prints withdraw latency p50/p99
# (docs/performance.md).
CL_NAME=announce
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

cl_up 2
cl_box_start 1
cl_box_start 2
cl_wait_converged "1 2" 15000
ok "router has both boxes as next hops for $VIP4 and $VIP6"
check "box 1 reports the VIP announced" \
	test "$(api 1 GET /v1/bgp | json "r['announced']")" = 2

# Flows spread: 300 connections, each box carries at least 20 %.
c1=$(ct_created 1)
c2=$(ct_created 2)
good=$(connect_many 300)
d1=$(($(ct_created 1) - c1))
d2=$(($(ct_created 2) - c2))
log "300 connections: $good answered; box 1 created $d1, box 2 $d2"
check "every connection answered" test "$good" = 300
check "each box carries at least 20 % (box 1: $d1, box 2: $d2)" \
	test "$d1" -ge 60 -a "$d2" -ge 60
good=$(connect_many 20 "$VIP6")
check "IPv6 VIP answers through the routers's ECMP ($good/20)" test "$good" = 20

# The last ready backend goes: withdrawn; back: announced.
t0=$(now_ms)
api 1 PUT /v1/loadbalancers/default/web/backends '[]' >/dev/null
ms=$(wait_nexthops "$VIP4" "2" 1000 "$t0") || fail "box 1 still announced 1 s after losing its backends"
ok "box 1 withdrew $VIP4 ${ms} ms after its last backend was removed"
check "box 1 says why" test "$(api 1 GET /v1/bgp | json "r['vips'][0]['reason']")" = "no ready backend"
api 1 PUT /v1/loadbalancers/default/web/backends '[{"address": "198.19.0.11"},
  {"address": "198.19.0.12", "state": "draining"}, {"address": "2001:db8:2::11"}]' >/dev/null
ms=$(wait_nexthops "$VIP4" "1 2" 2000) || fail "box 1 did not announce again"
ok "box 1 announced again ${ms} ms after a backend came back"

# SIGKILL box 1's dp: withdrawn within 1 s, new connections within 2 s.
lat=()
for i in $(seq 1 "${CL_KILLS:-1}"); do
	cl_wait_converged "1 2" 15000
	pid=$(cat "$CL_DIR/x1/dp.pid")
	t0=$(now_ms)
	kill -9 "$pid"
	ms=$(wait_nexthops "$VIP4" "2" 3000 "$t0") || fail "kill $i: $VIP4 still via box 1 3 s after its dp died"
	lat+=("$ms")
	[ "$ms" -le 1000 ] || fail "kill $i: withdrawn after $ms ms (> 1000)"
	wait_nexthops "$VIP6" "2" 1000 "$t0" >/dev/null || fail "kill $i: $VIP6 not withdrawn"
	# The first new connection answered, then 20 more all answered.
	until [ "$(connect_many 1 "$VIP4" 0.5)" = 1 ]; do
		[ $(($(now_ms) - t0)) -le 2000 ] || fail "kill $i: no new connection answered within 2 s"
	done
	first=$(($(now_ms) - t0))
	[ "$first" -le 2000 ] || fail "kill $i: first new connection answered after $first ms (> 2000)"
	good=$(connect_many 20 "$VIP4" 0.5)
	[ "$good" = 20 ] || fail "kill $i: $good/20 new connections answered"
	ok "kill $i: withdrawn after $ms ms; a new connection answered at $first ms, then 20/20 (done at $(($(now_ms) - t0)) ms)"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
	# A new dp: the cp syncs it, then the VIP is announced again.
	t0=$(now_ms)
	cl_dp_start 1
	ms=$(wait_nexthops "$VIP4" "1 2" 10000 "$t0") || fail "kill $i: box 1 not announced after a new dp"
	log "kill $i: new dp announced again after $ms ms"
done
if [ "${CL_KILLS:-1}" -gt 1 ]; then
	sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
	n=${#lat[@]}
	p50=$(echo "$sorted" | sed -n "$(((n + 1) / 2))p")
	p99=$(echo "$sorted" | sed -n "$(((n * 99 + 99) / 100))p")
	figure "withdraw_after_dp_sigkill_ms n=$n p50=$p50 p99=$p99 max=$(echo "$sorted" | tail -1)"
fi
check "box 1's cp measured its own withdraw" \
	test "$(api 1 GET /v1/bgp | json "int(r['bird']['last_withdraw_after_dp_death_ms'] > 0)")" = 1
log "all checks passed"
