#!/usr/bin/env bash
# shellcheck disable=SC2119 # e2e_up takes optional arguments, not the script's
# test_synflood.sh - a SYN flood does not close the VIP (issue 14, finding 2).
#
# Service VIP4:80 (tcp, fnat) -> b1..b3:8080 with a small SNAT range
# (SYNFLOOD_SNAT, default 20000-21023: 3 x 1024 tuples toward the backends) so a
# short flood exhausts it, as 3 x 64,512 ports were exhausted in the report.
# hping3 in the client namespace sends SYNs from spoofed sources 198.18.50.1-2
# (off-link: the dp drops their SYN-ACKs as no_route) with incrementing source
# ports, at SYNFLOOD_RATE (hping3 -i; default u400, about 2 kpps per sender; "flood"
# for as fast as hping3 goes) for SYNFLOOD_SECONDS. Meanwhile a real client
# (synflood_client.py) opens new connections one after another and keeps one
# keep-alive connection opened before the flood.
#
# Checks: the keep-alive connection answers after the flood; >= 99 % of the new
# connections during the flood connected at their first SYN (< 0.9 s) and were
# answered; a new client gets in within 1 s after the flood; the dp recycled
# half-open entries (ct_evicted > 0). Prints the figures for docs/performance.md.
E2E_NAME=synflood
# shellcheck source=tests/e2e/lib.sh disable=SC2034
source "$(dirname "$0")/lib.sh"
command -v hping3 >/dev/null 2>&1 || e2e_unready "hping3 not installed"

SECS=${SYNFLOOD_SECONDS:-6}
RATE=${SYNFLOOD_RATE:-u400}
SNAT=${SYNFLOOD_SNAT:-20000, 21023}
MIN_PCT=${SYNFLOOD_MIN_PCT:-99}

E2E_NO_START=1 e2e_up
sed -i "s|^  control_socket = .*|&\n  snat_ports = [$SNAT];|" "$E2E_CONF"
topo_dp_start "$E2E_CONF" "0,1" || fail "edgelb-dp did not start"
upsert web4 "$VIP4" 80 tcp 8080 "" 1 2 3
log "service web4 $VIP4:80 -> b1,b2,b3:8080 (fnat), snat_ports [$SNAT]"

phase=$TOPO_DIR/phase
res=$TOPO_DIR/client.json
: >"$phase"
in_c $PY "$E2E_SRC/tests/e2e/synflood_client.py" "$VIP4" 80 "$phase" "$res" &
e2e_bg $!
client=$!
sleep 1

hp=()
[ "$RATE" = flood ] && hp+=(--flood) || hp+=(-i "$RATE")
s0=$(stats)
echo flood >"$phase"
t0=${EPOCHREALTIME/./}
for src in 198.18.50.1 198.18.50.2; do
	in_c timeout -s INT "$SECS" hping3 -q -S -p 80 -a "$src" -s 1024 "${hp[@]}" "$VIP4" \
		>>"$TOPO_DIR/hping3.log" 2>&1 &
	e2e_bg $!
done
sleep "$SECS"
sleep 0.5
echo after >"$phase"
t1=${EPOCHREALTIME/./}
s1=$(stats)
for _ in $(seq 1 200); do kill -0 "$client" 2>/dev/null || break; sleep 0.2; done
kill -0 "$client" 2>/dev/null && fail "client did not finish in 40 s"
s2=$(stats)
cat "$TOPO_DIR/hping3.log" >&2 || true

sent=$(grep -ho '^[0-9]* packets transmitted' "$TOPO_DIR/hping3.log" | awk '{s += $1} END {print s + 0}')
secs=$(((t1 - t0) / 1000))
d() { $PY -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); k=sys.argv[3]
g=lambda s: s["global"][k] if k in s["global"] else s["global"]["drops"].get(k, 0)
print(g(b) - g(a))' "$1" "$2" "$3"; }
rx=$(d "$s0" "$s1" rx_packets)
created=$(d "$s0" "$s1" ct_created)
evicted=$(d "$s0" "$s2" ct_evicted)
no_snat=$(d "$s0" "$s2" no_snat)
ctfull=$(d "$s0" "$s2" ct_table_full)
r=$(cat "$res")
attempts=$(json 'r["attempts"]' <<<"$r")
first=$(json 'r["first_syn_ok"]' <<<"$r")
answered=$(json 'r["answered"]' <<<"$r")
recovery=$(json 'r["recovery_s"]' <<<"$r")
log "flood: hping3 sent $sent SYNs in $((secs / 1000)).$((secs % 1000 / 100)) s; dp received $rx frames" \
	"($((rx * 1000 / (secs > 0 ? secs : 1))) pps), created $created connections, evicted $evicted," \
	"no_snat $no_snat, ct_table_full $ctfull"
log "legitimate: $attempts new connections during the flood, $first connected at the first SYN," \
	"$answered answered; recovery after the flood ${recovery} s"
log "established: before=$(json 'r["established_before"]' <<<"$r") after=$(json 'r.get("established_after")' <<<"$r")"

check "dp still running" e2e_dp_alive
check "the established connection still answers after the flood" \
	[ "$(json 'r.get("established_after") is not None' <<<"$r")" = True ]
check "the flood reached the dp ($rx frames)" [ "$rx" -gt 1000 ]
check "the dp recycled half-open entries (ct_evicted $evicted > 0)" [ "$evicted" -gt 0 ]
check "$attempts legitimate connections tried during the flood" [ "$attempts" -ge 20 ]
check ">= $MIN_PCT % connected at the first SYN ($first of $attempts)" \
	[ $((first * 100)) -ge $((attempts * MIN_PCT)) ]
check ">= $MIN_PCT % answered ($answered of $attempts)" [ $((answered * 100)) -ge $((attempts * MIN_PCT)) ]
check "a new client got in within 1 s after the flood (${recovery} s)" \
	[ "$(json 'r["recovery_s"] is not None and r["recovery_s"] < 1.0' <<<"$r")" = True ]
