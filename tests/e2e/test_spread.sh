#!/usr/bin/env bash
# shellcheck disable=SC2119 # e2e_up takes optional arguments, not the script's
# test_spread.sh - new connections to a fnat service spread over all its backends.
#
# Service VIP4:80 and VIP6:80 (tcp, fnat) -> b1..b3:8080. 60 curl connections to
# each VIP from the client namespace; every one is answered (/id names the
# backend) and each backend gets at least 10 % of them (Maglev with equal
# weights gives ~1/3 each; 10 % leaves room for chance, 6 of 60).
E2E_NAME=spread
# shellcheck source=tests/e2e/lib.sh disable=SC2034
source "$(dirname "$0")/lib.sh"

N=${N:-60}
MIN=$((N / 10))

e2e_up
upsert web4 "$VIP4" 80 tcp 8080 "" 1 2 3
upsert web6 "$VIP6" 80 tcp 8080 "" 1 2 3
log "services web4 $VIP4:80 and web6 [$VIP6]:80 -> b1,b2,b3:8080 (fnat)"

for vip in "$VIP4" "$VIP6"; do
	ids=$(many_ids "$N" "$vip" 80)
	errs=$(count ERR <<<"$ids")
	c1=$(count b1 <<<"$ids")
	c2=$(count b2 <<<"$ids")
	c3=$(count b3 <<<"$ids")
	log "$vip: b1=$c1 b2=$c2 b3=$c3 failed=$errs"
	check "$vip: all $N connections answered" [ "$errs" = 0 ]
	check "$vip: answers only from b1..b3" [ $((c1 + c2 + c3)) = "$N" ]
	for b in "b1 $c1" "b2 $c2" "b3 $c3"; do
		read -r name got <<<"$b"
		check "$vip: $name got $got >= $MIN of $N connections" [ "$got" -ge "$MIN" ]
	done
done

# The dp agrees: every backend of both services carried connections.
st=$(stats)
created=$(json 'r["global"]["ct_created"]' <<<"$st")
check "dp counted >= $((2 * N)) connections created ($created)" [ "$created" -ge $((2 * N)) ]
idle=$(json 'all(b["packets"] > 0 for s in r["services"] for b in s["backends"])' <<<"$st")
check "dp per-backend packet counters all non-zero" [ "$idle" = True ]
log "drops: $(e2e_drops)"
check "edgelb-dp still running" e2e_dp_alive
