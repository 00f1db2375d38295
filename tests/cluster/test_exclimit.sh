#!/usr/bin/env bash
# test_exclimit.sh - the exception path's rate limit (dp.exception_rate_pps, issue 11).
# One box whose BGP and BFD run over the data port through the dp's exception tap
# "dpx" (as test_exception.sh), with a low general limit: 300 packets/s, burst 100.
# The client floods the box's own address 198.18.0.1 with hping3 (TCP SYNs to port
# 22, SYNs to port 179 from its off-link address: "BGP" that is not from a peer, and
# UDP to changing ports), bounded in count and time. While it lasts:
#   - the router's BGP session to the box stays Established (same "since" time) and
#     its BFD session Up, and the VIP stays announced (the router's BIRD and kernel);
#   - the dp hands the kernel at most burst + rate x time of the flood
#     (exception_general) and drops the rest (exception_limited: flood - limit);
#   - BGP/BFD from the router (on the port's subnet) go as priority: counted,
#     never limited.
# Afterwards a TCP service on the box's kernel address (ssh-like, port 2222) answers
# every one of 20 connections.
CL_NAME=xr-exclimit
CL_EXCEPTION=1
# EXC_RATE=0 (a measurement, not a test): no limit, the same flood; the limit's
# checks are skipped, the session's are kept (docs/performance.md).
RATE=${EXC_RATE:-300}
BURST=${EXC_BURST:-100}
CL_DP_EXTRA="exception_rate_pps = $RATE; exception_burst = $BURST;"
# The flood: three hping3, FLOOD_N packets each, FLOOD_GAP_US apart (hping3 reaches
# ~20,000/s in all here). Without the limit (EXC_RATE=0) this flood ends the
# router's BGP session within 2 s on the 2-vCPU test VM; ~4,600/s did not.
FLOOD_N=${FLOOD_N:-20000}
FLOOD_GAP_US=${FLOOD_GAP_US:-50}
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"
command -v hping3 >/dev/null 2>&1 || cl_unready "hping3 not installed"

R_CTL=$CL_DIR/r/bird.ctl
BOX=198.18.0.1

# The router's session to box 1 ("x1 BGP --- up 14:20:03.456 Established") as
# "up Established SINCE_MS"; BIRD derives "since" from its monotonic clock at each
# call, so the same session can read a millisecond apart: same() allows 1 s.
bgp_state() {
	birdc -s "$R_CTL" show protocols x1 |
		awk '$1 == "x1" { split($5, t, "[:.]"); print $4, $6, ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4] }'
}
same() { # state state
	local s1 i1 t1 s2 i2 t2
	read -r s1 i1 t1 <<< "$1"
	read -r s2 i2 t2 <<< "$2"
	[ "$s1 $i1" = "$s2 $i2" ] && [ "$t1" -gt $((t2 - 1000)) ] && [ "$t1" -lt $((t2 + 1000)) ]
}
bfd_state() { birdc -s "$R_CTL" show bfd sessions | awk -v a="$BOX" '$1 == a {print $3}'; }
stats() { dp_ctl 1 '{"op":"stats.get"}'; }
# counter NAME from a stats.get answer on stdin (global events, drops, control)
ctr() {
	$PY -c 'import json,sys
r = json.load(sys.stdin)["result"]; n = sys.argv[1]
g = r["global"]
print(g.get(n, g["drops"].get(n, r["control"].get(n))))' "$1"
}
# n connections from the client to the box's kernel service; prints how many answered
connect_box() { # n
	in_c $PY - "$1" "$BOX" <<'PY'
import socket, sys
n, host = int(sys.argv[1]), sys.argv[2]
good = 0
for _ in range(n):
    try:
        s = socket.create_connection((host, 2222), timeout=3)
        s.settimeout(3)
        if s.recv(16).startswith(b"edgelb-box"):
            good += 1
        s.close()
    except OSError:
        pass
print(good)
PY
}

cl_up 1
cl_box_start 1
cl_wait_converged "1" 40000
ok "router learned the box over the BGP session to $BOX (exception tap)"
# The box's kernel reaches the client through the router on the data LAN (dpx).
ip -n "$(ns_x 1)" route add 198.18.100.0/24 via 198.18.0.254 dev dpx
# the box's kernel service: answers "edgelb-box" and closes
ip netns exec "$(ns_x 1)" $PY -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.1", 2222))
s.listen(128)
while True:
    c, _ = s.accept()
    c.sendall(b"edgelb-box\n")
    c.close()
' > "$CL_DIR/x1/listener.log" 2>&1 &
CL_PIDS+=($!)
sleep 0.5
good=$(connect_box 5)
check "the box's kernel service answers through the exception path ($good/5)" test "$good" = 5
for _ in $(seq 1 50); do
	[ "$(bfd_state)" = Up ] && break
	sleep 0.1
done
check "the router's BFD session to the box is Up" test "$(bfd_state)" = Up
bgp0=$(bgp_state)
case "$bgp0" in "up Established "*) ok "BGP session: $bgp0" ;; *) fail "BGP session not up: $bgp0" ;; esac

s0=$(stats)
t0=$(now_ms)
for args in "-S -p 22" "-S -p 179" "--udp -p ++1024"; do
	# shellcheck disable=SC2086
	in_c timeout 60 hping3 -q $args -i "u$FLOOD_GAP_US" -c "$FLOOD_N" "$BOX" \
		> "$CL_DIR/hping.$(echo "$args" | tr -dc 'a-zA-Z0-9').log" 2>&1 &
	FL_PIDS+=($!)
done
# While the flood lasts: the session and the route stay, every 200 ms.
polls=0
while kill -0 "${FL_PIDS[0]}" 2>/dev/null || kill -0 "${FL_PIDS[1]}" 2>/dev/null ||
	kill -0 "${FL_PIDS[2]}" 2>/dev/null; do
	now_bgp=$(bgp_state)
	same "$now_bgp" "$bgp0" || fail "BGP session changed during the flood: '$bgp0' -> '$now_bgp'"
	[ "$(bfd_state)" = Up ] || fail "BFD session not Up during the flood: '$(bfd_state)'"
	[ "$(nexthops "$VIP4")" = 1 ] || fail "VIP $VIP4 not routed to the box during the flood"
	polls=$((polls + 1))
	[ $(($(now_ms) - t0)) -lt 70000 ] || fail "flood still running after 70 s"
	sleep 0.2
done
t1=$(now_ms)
s1=$(stats)
sent=0
for f in "$CL_DIR"/hping.*.log; do
	n=$(grep -oE '^[0-9]+ packets transmitted' "$f" | grep -oE '^[0-9]+' || true)
	[ -n "$n" ] || { cat "$f" >&2; fail "hping3 said nothing of what it sent ($f)"; }
	sent=$((sent + n))
done
ms=$((t1 - t0))
d() { echo $(($(echo "$s1" | ctr "$1") - $(echo "$s0" | ctr "$1"))); }
passed=$(d exception_general)
limited=$(d exception_limited)
prio=$(d exception_priority)
prio_lim=$(d exception_priority_limited)
neigh_lim=$(d exception_neigh_limited)
ctrl_full=$(d ctrl_full)
allowed=$((BURST + RATE * ms / 1000))
log "dp: rx_packets +$(d rx_packets), ctrl_punt +$(d ctrl_punt), not_ours +$(d not_ours); hping3: $(cat "$CL_DIR"/hping.*.log | grep -E 'transmitted' | tr '\n' ' ')"
log "flood: $sent packets in $ms ms ($((sent * 1000 / ms)) pps), $polls checks of the session"
figure "exclimit_flood_pps $((sent * 1000 / ms))"
figure "exclimit_general_passed $passed (limit: burst $BURST + $RATE/s x $ms ms = $allowed)"
figure "exclimit_general_limited $limited"
figure "exclimit_priority_passed $prio"
ok "BGP session Established and unchanged, BFD Up, VIP routed to the box through the flood ($polls checks)"
check "BGP session still the same after the flood ($(bgp_state))" same "$(bgp_state)" "$bgp0"
check "the router's BIRD still has the VIP from the box" \
	bash -c "birdc -s '$R_CTL' show route $VIP4/32 | grep -q 'via $BOX'"
if [ "$RATE" = 0 ]; then
	log "no limit (EXC_RATE=0): $passed handed to the kernel, $limited dropped"
	exit 0
fi
check "handed to the kernel: $passed <= burst + rate x time ($allowed, + 5 %)" \
	test "$passed" -le $((allowed + allowed / 20))
check "handed to the kernel: $passed, at least the burst and a third of the rate" \
	test "$passed" -ge $((BURST + RATE * ms / 3000))
check "dropped by the limit: $limited, the flood less what passed ($sent - $passed, >= 80 %)" \
	test "$limited" -ge $(((sent - passed) * 8 / 10)) -a "$limited" -le "$sent"
check "BGP and BFD from the router went as priority ($prio) and none was limited ($prio_lim)" \
	test "$prio" -gt 0 -a "$prio_lim" = 0
check "no ARP copy limited ($neigh_lim), no punt lost to a full ring ($ctrl_full)" \
	test "$neigh_lim" = 0 -a "$ctrl_full" = 0
good=$(connect_box 20)
check "after the flood, the box's kernel service answers again ($good/20)" test "$good" = 20
s2=$(stats)
check "its packets went as general class" test "$(echo "$s2" | ctr exception_general)" -gt \
	"$(echo "$s1" | ctr exception_general)"
log "all checks passed"
