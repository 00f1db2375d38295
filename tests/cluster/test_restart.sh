#!/usr/bin/env bash
# test_restart.sh - restarts that must not move traffic, and a hung dp.
#   - edgelb-cp of box 1 restarted (SIGTERM, start): the router never loses box 1
#     (the cp leaves BIRD's routes alone until its dp is synced again);
#   - BIRD of box 1 restarted: with BFD on (hard failure on the router), box 1
#     leaves the route while BIRD is down and comes back; other boxes answer;
#   - box 1's dp stopped (SIGSTOP, it holds its socket open but answers nothing):
#     withdrawn once the probe times out (bgp.dp_timeout_ms, 1000 ms by default);
#     SIGCONT: announced again.
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

# BIRD of box 1 restarted (birdc graceful restart, then a new BIRD). BFD shares
# BIRD's fate, and a BFD failure is a hard failure on the router (that is what
# routes around a dead box in under a second), so graceful restart does not hold
# the routes: box 1 leaves the router's route while its BIRD is down and comes back
# with the new session. New connections are answered throughout (box 2), and the
# cp does not touch BIRD's file meanwhile. docs/operations.md: drain first.
pid=$(cat "$d/bird.pid")
c=$(api 1 GET /v1/bgp | json "r['bird']['configures']")
ip netns exec "$(ns_x 1)" birdc -s "$d/bird.ctl" graceful restart >/dev/null
while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
ms=$(wait_nexthops "$VIP4" "2" 2000) || fail "BIRD down: box 1 still a next hop after 2 s"
log "BIRD of box 1 down: router dropped box 1 after $ms ms (BFD)"
good=$(connect_many 30)
check "new connections answered while box 1's BIRD is down ($good/30)" test "$good" = 30
t0=$(now_ms)
cl_bird_start 1
ms=$(wait_nexthops "$VIP4" "1 2" 15000 "$t0") || fail "box 1 not back after BIRD restarted"
ok "BIRD restarted: box 1 back in the route after $ms ms"
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
log "all checks passed"
