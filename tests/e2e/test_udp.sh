#!/usr/bin/env bash
# shellcheck disable=SC2119 # e2e_up takes optional arguments, not the script's
# test_udp.sh - UDP request/response through fnat and dnat services.
#
# Each backend runs the UDP echo of topo.sh on :5353 (answers "bN:<payload>")
# and a variant on :5354 that also names the peer it saw (udp_peer_echo.py).
# For IPv4 and IPv6:
#  - fnat VIP:53 -> :5353: 12 requests, each from a new source port, all
#    answered from VIP:53 with their own payload, by at least 2 backends;
#    5 requests on one socket (one flow) all reach the same backend;
#  - fnat VIP:55 -> :5354: the backend sees the dp's source address;
#  - dnat VIP:54 -> :5354: answered from VIP:54, and the backend saw the real
#    client address and port; conns.list shows those flows as udp/dnat, the
#    fnat ones as udp/fnat with a local address.
E2E_NAME=udp
# shellcheck source=tests/e2e/lib.sh disable=SC2034
source "$(dirname "$0")/lib.sh"

e2e_up
for i in 1 2 3; do
	ip netns exec "$(topo_ns_b "$i")" "$PY" "$E2E_SRC/tests/e2e/udp_peer_echo.py" "b$i" 5354 &
	e2e_bg $!
done
batch_begin
for vip in "$VIP4" "$VIP6"; do
	upsert "dns-$vip" "$vip" 53 udp 5353 "" 1 2 3
	upsert "peer-$vip" "$vip" 55 udp 5354 "" 1 2 3
	upsert "dns-dnat-$vip" "$vip" 54 udp 5354 '"mode":"dnat"' 1 2 3
done
batch_end
log "services on both VIPs: udp :53 -> :5353 fnat, :55 -> :5354 fnat, :54 -> :5354 dnat"

udp() { in_c "$PY" "$E2E_SRC/tests/e2e/udp_client.py" "$@"; }

# answered LABEL OUTPUT: every request got a reply echoing its own payload.
answered() {
	local bad
	bad=$(awk '{ n = split($3, f, ":"); if ($3 == "TIMEOUT" || f[n] != $2) print }' <<<"$2")
	[ -z "$bad" ] || fail "$1: unanswered or wrong replies: $bad"
	ok "$1: all $(wc -l <<<"$2") requests answered with their own payload, from the VIP's port"
}

for vip in "$VIP4" "$VIP6"; do
	case $vip in
	*:*) client=$CLIENT6 local=2001:db8:2::2 ;;
	*) client=$CLIENT4 local=198.19.0.2 ;;
	esac

	out=$(udp "$vip" 53 12)
	answered "fnat $vip:53, 12 flows" "$out"
	backends=$(awk '{ split($3, f, ":"); print f[1] }' <<<"$out" | sort | uniq -c | tr -s ' \n' ' ')
	log "fnat $vip:53 answers per backend: $backends"
	check "fnat $vip:53: 12 flows spread over >= 2 backends" \
		[ "$(awk '{ split($3, f, ":"); print f[1] }' <<<"$out" | sort -u | wc -l)" -ge 2 ]

	out=$(udp "$vip" 53 5 same)
	answered "fnat $vip:53, one flow" "$out"
	check "fnat $vip:53: the 5 requests of one flow reach one backend" \
		[ "$(awk '{ split($3, f, ":"); print f[1] }' <<<"$out" | sort -u | wc -l)" = 1 ]

	out=$(udp "$vip" 55 3)
	answered "fnat $vip:55" "$out"
	while read -r _ _ reply; do
		rest=${reply#*:}
		rest=${rest%:*}
		peer=${rest%:*}
		check "fnat $vip:55: the backend saw the dp's source $local ($peer)" [ "$peer" = "$local" ]
	done <<<"$out"

	out=$(udp "$vip" 54 6)
	answered "dnat $vip:54" "$out"
	while read -r sport _ reply; do
		rest=${reply#*:}
		rest=${rest%:*}
		check "dnat $vip:54: the backend saw the client $client:$sport (${rest%:*}:${rest##*:})" \
			[ "${rest%:*} ${rest##*:}" = "$client $sport" ]
	done <<<"$out"
done

conns=$(ctl '{"op":"conns.list"}')
summary=$(json 'sorted(set("%s/%s/%s:%d%s" % (c["protocol"], c["mode"], c["vip"], c["vip_port"], " local" if "local" in c else "") for c in r["connections"]))' <<<"$conns")
log "tracked flows (protocol/mode/service): $summary"
check "conns.list: the :54 flows are udp/dnat without a local address" \
	[ "$(json 'all(c["protocol"] == "udp" and c["mode"] == "dnat" and "local" not in c for c in r["connections"] if c["vip_port"] == 54)' <<<"$conns")" = True ]
check "conns.list: 12 udp/dnat flows (6 per family) from the client's own address" \
	[ "$(json 'len([c for c in r["connections"] if c["mode"] == "dnat" and c["client"] in ("'$CLIENT4'", "'$CLIENT6'")])' <<<"$conns")" = 12 ]
check "conns.list: the :53 and :55 flows are udp/fnat with a local address" \
	[ "$(json 'all(c["protocol"] == "udp" and c["mode"] == "fnat" and "local" in c for c in r["connections"] if c["vip_port"] in (53, 55))' <<<"$conns")" = True ]

log "drops: $(e2e_drops)"
check "edgelb-dp still running" e2e_dp_alive
