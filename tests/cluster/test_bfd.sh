#!/usr/bin/env bash
# test_bfd.sh - three boxes; flows spread over all three (each at least 20 % of
# 300 connections). Box 1 then dies whole: its namespace drops every packet (no
# FIN, no BGP notification reaches the router) and its dp, cp and BIRD are
# killed. The router's BFD (100 ms x 3) takes the session down: box 1 leaves the
# multipath route within 2 s, and new connections are answered by the others.
# CL_KILLS=N repeats the whole-box kill and prints convergence p50/p99.
CL_NAME=bfd
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

cl_up 3
for k in 1 2 3; do cl_box_start "$k"; done
cl_wait_converged "1 2 3" 20000
ok "router has three next hops for $VIP4 and $VIP6"

declare -a c
for k in 1 2 3; do c[k]=$(ct_created "$k"); done
good=$(connect_many 300)
check "300 connections answered ($good)" test "$good" = 300
msg=""
for k in 1 2 3; do
	d=$(($(ct_created "$k") - c[k]))
	msg="$msg box $k: $d"
	[ "$d" -ge 60 ] || fail "box $k carried $d of 300 connections (< 20 %)"
done
ok "each box carries at least 20 % ($msg)"

revive() { # k
	local x d=$CL_DIR/x$1
	x=$(ns_x "$1")
	for p in dp cp bird bfd; do
		while kill -0 "$(cat "$d/$p.pid")" 2>/dev/null; do sleep 0.01; done
	done
	ip netns exec "$x" nft delete table inet dark
	cl_dp_start "$1"
	cl_bird_start "$1"
	cl_cp_start "$1"
}

lat=()
for i in $(seq 1 "${CL_KILLS:-1}"); do
	cl_wait_converged "1 2 3" 20000
	t0=$(now_ms)
	cl_box_dark 1
	ms=$(wait_nexthops "$VIP4" "2 3" 5000 "$t0") || fail "kill $i: box 1 still a next hop 5 s after it died"
	lat+=("$ms")
	[ "$ms" -le 2000 ] || fail "kill $i: routed around after $ms ms (> 2000)"
	wait_nexthops "$VIP6" "2 3" 2000 "$t0" >/dev/null || fail "kill $i: $VIP6 still via box 1"
	good=$(connect_many 30 "$VIP4" 0.5)
	el=$(($(now_ms) - t0))
	[ "$good" = 30 ] || fail "kill $i: $good/30 new connections answered"
	ok "kill $i: box 1 routed around after $ms ms (BFD); 30/30 new connections by $el ms"
	revive 1
done
if [ "${CL_KILLS:-1}" -gt 1 ]; then
	sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
	n=${#lat[@]}
	figure "bfd_whole_box_kill_ms n=$n p50=$(echo "$sorted" | sed -n "$(((n + 1) / 2))p") p99=$(echo "$sorted" | sed -n "$(((n * 99 + 99) / 100))p") max=$(echo "$sorted" | tail -1)"
fi
cl_wait_converged "1 2 3" 20000
ok "box 1 back in the multipath route after a restart"
log "all checks passed"
