#!/usr/bin/env bash
# test_exception.sh - BGP and BFD over the data ports: each box's BIRD peers with
# the router on the front LAN (198.18.0.254) through its dp's exception tap "dpx"
# (the dp hands TCP/UDP for its own address and copies of ARP to the kernel, and
# sends out what the kernel sends). No management link is used. Both boxes are
# announced, flows spread, and a killed dp takes its box out (its BGP path dies
# with it, and the cp withdraws) within 1 s; the tap (persistent) keeps its
# address; a new dp attaches to it and brings the box back.
CL_NAME=exc
CL_EXCEPTION=1
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

cl_up 2
cl_box_start 1
cl_box_start 2
cl_wait_converged "1 2" 40000
ok "router learned both boxes over BGP sessions to 198.18.0.1 and 198.18.0.2"
check "the router's sessions run on the data LAN" \
	bash -c "birdc -s '$CL_DIR/r/bird.ctl' show protocols all x1 | grep -q 'Neighbor address: 198.18.0.1'"
for k in 1 2; do
	out=$(dp_ctl "$k" '{"op":"stats.get"}')
	to=$(echo "$out" | json "r['result']['control']['exception_to_kernel']")
	from=$(echo "$out" | json "r['result']['control']['exception_from_kernel']")
	[ "$to" -gt 0 ] && [ "$from" -gt 0 ] || fail "box $k: exception path counters to=$to from=$from"
	ok "box $k: $to frames to the kernel, $from from it"
done
c1=$(ct_created 1)
c2=$(ct_created 2)
good=$(connect_many 200)
d1=$(($(ct_created 1) - c1))
d2=$(($(ct_created 2) - c2))
check "200 connections answered ($good)" test "$good" = 200
check "each box carries at least 20 % (box 1: $d1, box 2: $d2)" test "$d1" -ge 40 -a "$d2" -ge 40

pid=$(cat "$CL_DIR/x1/dp.pid")
t0=$(now_ms)
kill -9 "$pid"
ms=$(wait_nexthops "$VIP4" "2" 3000 "$t0") || fail "box 1 still a next hop 3 s after its dp died"
[ "$ms" -le 1000 ] || fail "withdrawn after $ms ms (> 1000)"
good=$(connect_many 20 "$VIP4" 0.5)
check "new connections answered after the kill ($good/20)" test "$good" = 20
ok "dp of box 1 killed: withdrawn after $ms ms"
while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
x1=$(ns_x 1)
check "the exception tap outlived the dp, with its address" \
	bash -c "ip -n $x1 -4 addr show dev dpx | grep -q 'inet 198.18.0.1/24'"
t0=$(now_ms)
cl_dp_start 1
ms=$(wait_nexthops "$VIP4" "1 2" 30000 "$t0") || fail "box 1 not back after a new dp"
ok "new dp: box 1's session and VIP back after $ms ms"
log "all checks passed"
