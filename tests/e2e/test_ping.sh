#!/usr/bin/env bash
# shellcheck disable=SC2119 # e2e_up takes optional arguments, not the script's
# test_ping.sh - the box answers ICMP echo for its VIPs and its own addresses.
#
# With a service on VIP4:80 and VIP6:80: ping -c 3 from the client to VIP4, VIP6
# and the dp's external addresses (198.18.0.1, 2001:db8:1::1), and from backend
# b1 to the dp's internal addresses (198.19.0.1, 2001:db8:2::1); every echo is
# answered, by the address pinged, and counted (icmp_echo_replies). An address
# of the subnet that is none of the box's (198.18.0.99) gets no answer.
E2E_NAME=ping
# shellcheck source=tests/e2e/lib.sh disable=SC2034
source "$(dirname "$0")/lib.sh"

e2e_up
upsert web4 "$VIP4" 80 tcp 8080 "" 1 2 3
upsert web6 "$VIP6" 80 tcp 8080 "" 1 2 3

# pings NSNAME ADDR: 3 echoes, all answered, replies from ADDR.
pings() {
	local ns=$1 addr=$2 out rx
	out=$(ip netns exec "$ns" ping -n -c 3 -i 0.2 -W 2 -w 6 "$addr" 2>&1) || true
	rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
	log "ping $addr from $ns: ${rx:-0}/3 answered"
	check "$addr answers 3 of 3 echo requests" [ "${rx:-0}" = 3 ]
	check "$addr: replies come from $addr" grep -q "bytes from $addr: icmp_seq=" <<<"$out"
}

before=$(stat_ctrl icmp_echo_replies)
pings "$TOPO_NS_C" "$VIP4"
pings "$TOPO_NS_C" "$VIP6"
pings "$TOPO_NS_C" 198.18.0.1
pings "$TOPO_NS_C" 2001:db8:1::1
pings "$(topo_ns_b 1)" 198.19.0.1
pings "$(topo_ns_b 1)" 2001:db8:2::1
after=$(stat_ctrl icmp_echo_replies)
check "dp counted 18 echo replies ($((after - before)))" [ $((after - before)) = 18 ]

if in_c ping -n -c 1 -W 1 198.18.0.99 >/dev/null 2>&1; then
	fail "198.18.0.99 (not the box's) answered"
else
	ok "198.18.0.99 (not the box's) gets no answer"
fi

log "drops: $(e2e_drops)"
check "edgelb-dp still running" e2e_dp_alive
