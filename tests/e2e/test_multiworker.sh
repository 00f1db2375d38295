#!/usr/bin/env bash
# shellcheck disable=SC2119 # e2e_up takes optional arguments, not the script's
# test_multiworker.sh - two workers, each with its own queue on every port.
#
# dp with workers on lcores 1 and 2 (EAL --lcores 0@0,1@1,2@1: three lcores on
# this box's two CPUs) and net_af_packet qpairs=2: the kernel spreads flows over
# the two queues, so a backend's reply to an fnat flow often arrives at the
# worker that does not own the flow and must be handed over (steering "ring":
# af_packet has no rte_flow). Checks:
#  - hello reports 2 workers;
#  - 60 fnat connections to VIP4:80 and 60 to VIP6:80 all answered, by all 3
#    backends; 20 dnat connections to VIP4:81 and 20 UDP flows to VIP4:53 too;
#  - both workers created connections;
#  - fnat replies were handed over (handoff_out > 0 after the fnat traffic),
#    dnat and udp traffic added more, and every hand-off arrived
#    (handoff_in == handoff_out, no handoff_full or reply_no_conn drops).
E2E_NAME=multiworker
# shellcheck source=tests/e2e/lib.sh disable=SC2034
source "$(dirname "$0")/lib.sh"

e2e_up 2 "--lcores 0@0,1@1,2@1"
workers=$(ctl '{"op":"hello"}' | json 'r["workers"]')
check "dp runs 2 workers ($workers)" [ "$workers" = 2 ]

batch_begin
upsert web4 "$VIP4" 80 tcp 8080 "" 1 2 3
upsert web6 "$VIP6" 80 tcp 8080 "" 1 2 3
upsert web4-dnat "$VIP4" 81 tcp 8080 '"mode":"dnat"' 1 2 3
upsert dns4 "$VIP4" 53 udp 5353 "" 1 2 3
batch_end
log "services: VIP4:80, VIP6:80 fnat; VIP4:81 dnat; VIP4:53/udp fnat"

# all_answered LABEL N VIP PORT: N connections, every one answered.
all_answered() {
	local ids
	ids=$(many_ids "$2" "$3" "$4")
	log "$1: $(sort <<<"$ids" | uniq -c | tr -s ' \n' ' ')"
	check "$1: $2 of $2 connections answered" [ "$(count ERR <<<"$ids")" = 0 ]
	check "$1: all 3 backends answered" [ "$(grep -v ERR <<<"$ids" | sort -u | wc -l)" = 3 ]
}
all_answered "fnat $VIP4:80" 60 "$VIP4" 80
all_answered "fnat [$VIP6]:80" 60 "$VIP6" 80
# Only fnat TCP so far: these hand-offs are fnat replies that reached the non-owner.
fho=$(stat_global handoff_out)
check "fnat replies handed to the owning worker: handoff_out $fho after 120 fnat connections" [ "$fho" -gt 0 ]
all_answered "dnat $VIP4:81" 20 "$VIP4" 81
out=$(in_c "$PY" "$E2E_SRC/tests/e2e/udp_client.py" "$VIP4" 53 20)
check "udp fnat $VIP4:53: 20 of 20 flows answered" [ "$(grep -c ' b[123]:q' <<<"$out")" = 20 ]

st=$(stats)
read -r c0 c1 <<<"$(json '" ".join(str(w["ct_created"]) for w in r["workers"])' <<<"$st")"
read -r ho hi hf rnc <<<"$(json '"%d %d %d %d" % (r["global"]["handoff_out"], r["global"]["handoff_in"], r["global"]["drops"]["handoff_full"], r["global"]["drops"]["reply_no_conn"])' <<<"$st")"
log "per worker: $(json '"; ".join("worker %d (lcore %d): rx %d, ct_created %d, handoff_out %d, handoff_in %d" % (w["worker"], w["lcore"], w["rx_packets"], w["ct_created"], w["handoff_out"], w["handoff_in"]) for w in r["workers"])' <<<"$st")"
log "steering: $(json '", ".join("%s %s" % (p["name"], p["steering"]) for p in r["ports"])' <<<"$st")"
check "both workers created connections (worker 0: $c0, worker 1: $c1)" [ "$c0" -gt 0 -a "$c1" -gt 0 ]
check "hand-offs with dnat and udp too (handoff_out $ho > $fho)" [ "$ho" -gt "$fho" ]
check "every hand-off arrived (handoff_in $hi == handoff_out $ho)" [ "$hi" = "$ho" ]
check "no hand-off ring overflow (handoff_full $hf)" [ "$hf" = 0 ]
check "no reply missed its connection (reply_no_conn $rnc)" [ "$rnc" = 0 ]

log "drops: $(e2e_drops)"
check "edgelb-dp still running" e2e_dp_alive
