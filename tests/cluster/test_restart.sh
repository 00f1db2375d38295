#!/usr/bin/env bash
# test_restart.sh - restarts that must not move traffic, and a hung dp.
#   - edgelb-cp of box 1 restarted (SIGTERM, start): the router never loses box 1
#     (the cp leaves BIRD's routes alone until its dp is synced again);
#   - box 1's BGP BIRD restarted (birdc graceful restart, a new BIRD with -R):
#     the router never loses box 1 (graceful restart holds its routes, and BFD,
#     answered by the box's second BIRD, stays up); connections are answered
#     throughout; the restarted BIRD's session is up again;
#   - box 1's dp stopped (SIGSTOP, it holds its socket open but answers nothing):
#     withdrawn once the probe times out (bgp.dp_timeout_ms, 1000 ms by default);
#     SIGCONT: announced again;
#   - box 1's dp killed while its cp is down: `edgelb-cp --withdraw` (what
#     edgelb-dp.service's ExecStopPost runs when the dp failed) withdraws the
#     box at once; a new dp and cp announce it again.
CL_NAME=restart
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

# Sample the router's next hops for ms milliseconds; fail if box 1 is ever missing.
hold_box1() { # ms what
	local end
	end=$(($(now_ms) + $1))
	while [ "$(now_ms)" -lt "$end" ]; do
		[ "$(nexthops "$VIP4")" = "1 2" ] || fail "$2: router lost box 1 (next hops '$(nexthops "$VIP4")')"
		sleep 0.01
	done
}

cl_up 2
cl_box_start 1
cl_box_start 2
cl_wait_converged "1 2" 15000
ok "both boxes announced"

# edgelb-cp restart.
d=$CL_DIR/x1
pid=$(cat "$d/cp.pid")
kill -TERM "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
cl_cp_start 1
hold_box1 3000 "cp restart"
check "the restarted cp synced the dp and keeps the VIP announced" \
	test "$(api 1 GET /v1/bgp | json "r['gate']")" = open
ok "edgelb-cp restart: box 1 stayed a next hop throughout (3 s sampled)"

# BGP BIRD of box 1 restarted: `birdc graceful restart` closes the session so
# that the router keeps the routes (stale) for the restart time; BFD is answered
# by the box's other BIRD and stays up, so nothing makes it a hard failure. The
# new BIRD (-R: forwarding state kept) re-announces, and its End-of-RIB makes the
# routes fresh. Box 1 must stay a next hop throughout, connections keep being
# answered, and the cp does not touch BIRD's file meanwhile.
# The router's BFD session with box 1: "State Since" (Up and the time it came up).
bfd_box1() {
	birdc -s "$CL_DIR/r/bird.ctl" show bfd sessions | awk -v a="$CL_BOX_NET.1" '$1 == a && $3 == "Up" {print $3, $4}'
}
pid=$(cat "$d/bird.pid")
c=$(api 1 GET /v1/bgp | json "r['bird']['configures']")
bfd_before=$(bfd_box1)
t0=$(now_ms)
ip netns exec "$(ns_x 1)" birdc -s "$d/bird.ctl" graceful restart >/dev/null
while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
hold_box1 1000 "BGP BIRD down"
good=$(connect_many 30)
check "new connections answered while box 1's BGP BIRD is down ($good/30)" test "$good" = 30
cl_bird_start 1
end=$(($(now_ms) + 15000))
until birdc -s "$CL_DIR/r/bird.ctl" show protocols x1 2>/dev/null | grep -q Established; do
	[ "$(nexthops "$VIP4")" = "1 2" ] || fail "BGP BIRD restart: router lost box 1 (next hops '$(nexthops "$VIP4")')"
	[ "$(now_ms)" -lt "$end" ] || fail "box 1's new BGP BIRD: no session after 15 s"
	sleep 0.01
done
ms=$(($(now_ms) - t0))
hold_box1 2000 "after the BGP BIRD restart"
bfd_after=$(bfd_box1)
# BIRD prints "Since" from a monotonic age, so it may move by a millisecond or
# two between two looks; a session that went down and up moves it by seconds.
since_ms() { awk -F'[ :.]' '{print (($2 * 60 + $3) * 60 + $4) * 1000 + $5}' <<<"$1"; }
check "the router's BFD session with box 1 stayed up ('$bfd_before' -> '$bfd_after')" \
	bash -c "[ -n '$bfd_before' ] && [ -n '$bfd_after' ] &&
		d=\$(( $(since_ms "$bfd_after") - $(since_ms "$bfd_before") )) && [ \${d#-} -le 100 ]"
ok "BGP BIRD of box 1 restarted: box 1 a next hop throughout; session back after $ms ms"
check "the cp did not reconfigure BIRD meanwhile" \
	test "$(api 1 GET /v1/bgp | json "r['bird']['configures']")" = "$c"

# A hung dp.
pid=$(cat "$d/dp.pid")
t0=$(now_ms)
kill -STOP "$pid"
ms=$(wait_nexthops "$VIP4" "2" 3000 "$t0") || { kill -CONT "$pid"; fail "hung dp: box 1 not withdrawn in 3 s"; }
kill -CONT "$pid"
[ "$ms" -le 1500 ] || fail "hung dp: withdrawn after $ms ms (> 1500)"
ok "hung dp (SIGSTOP): withdrawn after $ms ms"
ms=$(wait_nexthops "$VIP4" "1 2" 10000) || fail "dp resumed: box 1 not announced again"
ok "dp resumed (SIGCONT): announced again after $ms ms"
good=$(connect_many 50)
check "50 connections answered afterwards ($good)" test "$good" = 50

# The dp dies while the cp is down: no cp to withdraw. edgelb-dp.service's
# ExecStopPost runs `edgelb-cp --withdraw` when the dp failed; here by hand, as
# systemd would right after the kill.
pid=$(cat "$d/cp.pid")
kill -9 "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
hold_box1 500 "cp killed"
pid=$(cat "$d/dp.pid")
t0=$(now_ms)
kill -9 "$pid"
out=$(ip netns exec "$(ns_x 1)" "$EDGELB_BUILD/cp/edgelb-cp" --config "$d/cp.conf" --withdraw 2>&1) ||
	fail "edgelb-cp --withdraw: $out"
ms=$(wait_nexthops "$VIP4" "2" 3000 "$t0") || fail "dp dead, cp down, --withdraw run: box 1 still a next hop after 3 s"
[ "$ms" -le 1000 ] || fail "dp dead, cp down: withdrawn after $ms ms (> 1000)"
wait_nexthops "$VIP6" "2" 2000 "$t0" >/dev/null || fail "dp dead, cp down: $VIP6 still via box 1"
ok "dp killed while the cp is down: edgelb-cp --withdraw took box 1 out after $ms ms ($out)"
while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
cl_dp_start 1
cl_cp_start 1
ms=$(wait_nexthops "$VIP4" "1 2" 15000) || fail "new dp and cp: box 1 not announced again"
ok "a new dp and cp announced box 1 again after $ms ms"
good=$(connect_many 50)
check "50 connections answered at the end ($good)" test "$good" = 50
log "all checks passed"
