#!/usr/bin/env bash
# shellcheck disable=SC2119 # e2e_up takes optional arguments, not the script's
# test_affinity.sh - session affinity ClientIP (Kubernetes sessionAffinity: ClientIP).
#
# Service VIP4:80 -> b1..b3:8080, fnat, session_affinity ClientIP (600 s). Checks:
#  - 30 connections from the client (198.18.0.10) all reach the same backend B;
#  - 20 more right after (50 of them tracked at once, closed ones linger for
#    conntrack.timeouts.tcp_closed): a busy client is not refused;
#  - ten more client addresses (198.18.0.11..20 on c0, curl --interface) each
#    stick to one backend, and not all of them to the same one;
#  - service.upsert with the same backends (listed in another order) keeps the
#    client on B;
#  - service.upsert without B moves the client to another backend B', where it
#    then stays, also after B comes back;
#  - the same stickiness for IPv6 (VIP6:80 from 2001:db8:1::10).
E2E_NAME=affinity
# shellcheck source=tests/e2e/lib.sh disable=SC2034
source "$(dirname "$0")/lib.sh"

AFF='"session_affinity":{"type":"ClientIP","timeout_seconds":600}'

# sticky LABEL N VIP [curl args]: N connections all reach one backend, left in $S.
sticky() {
	local label=$1 n=$2 vip=$3 ids uniq
	shift 3
	ids=$(many_ids "$n" "$vip" 80 "$@")
	uniq=$(sort -u <<<"$ids" | tr '\n' ' ')
	if [ "$(count ERR <<<"$ids")" != 0 ]; then
		fail "$label: failed connections ($uniq); dp drops: $(e2e_drops)"
	fi
	[ "$(sort -u <<<"$ids" | wc -l)" = 1 ] || fail "$label: $n connections reached several backends: $uniq"
	S=$(head -1 <<<"$ids")
	ok "$label: $n connections all reached $S"
}

e2e_up
upsert aff4 "$VIP4" 80 tcp 8080 "$AFF" 1 2 3
log "service aff4 $VIP4:80 -> b1,b2,b3:8080, ClientIP affinity"

sticky "client $CLIENT4" 30 "$VIP4"
B=$S
hits=$(stat_global affinity_hits)
check "dp counted affinity hits for the repeat connections ($hits >= 29)" [ "$hits" -ge 29 ]
tracked=$(stat_global connections)
sticky "client $CLIENT4, 20 more while $tracked of its connections are tracked" 20 "$VIP4"
check "client $CLIENT4 still on $B ($S)" [ "$S" = "$B" ]

declare -A seen=()
for a in $(seq 11 20); do
	ip -n "$TOPO_NS_C" addr add "198.18.0.$a/24" dev c0
done
for a in $(seq 11 20); do
	sticky "client 198.18.0.$a" 5 "$VIP4" --interface "198.18.0.$a"
	seen[$S]=1
done
log "the 10 other client addresses use: ${!seen[*]}"
check "other clients are not all pinned to one backend (${#seen[@]} distinct)" [ "${#seen[@]}" -ge 2 ]

upsert aff4 "$VIP4" 80 tcp 8080 "$AFF" 3 1 2
sticky "after an upsert with the same backends" 10 "$VIP4"
check "client $CLIENT4 stayed on $B after the upsert ($S)" [ "$S" = "$B" ]

rest=()
for i in 1 2 3; do [ "b$i" = "$B" ] || rest+=("$i"); done
upsert aff4 "$VIP4" 80 tcp 8080 "$AFF" "${rest[@]}"
log "removed $B: backends now ${rest[*]}"
sticky "after $B was removed" 10 "$VIP4"
B3=$S
check "client $CLIENT4 moved off the removed $B (to $B3)" [ "$B3" != "$B" ]

upsert aff4 "$VIP4" 80 tcp 8080 "$AFF" 1 2 3
sticky "after $B came back" 10 "$VIP4"
check "client $CLIENT4 stays on $B3 after $B came back ($S)" [ "$S" = "$B3" ]

upsert aff6 "$VIP6" 80 tcp 8080 "$AFF" 1 2 3
sticky "client $CLIENT6 to [$VIP6]:80" 20 "$VIP6"

log "drops: $(e2e_drops)"
check "edgelb-dp still running" e2e_dp_alive
