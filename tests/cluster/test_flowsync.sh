#!/usr/bin/env bash
# test_flowsync.sh EVENT - full-NAT connections that outlive a change of boxes
# (issue 12). Three boxes behind the router's ECMP share their connections (flow
# sync between the dps, CL_FLOWSYNC=1 in lib.sh); the backends are routed, and
# each box's SNAT addresses are announced by the box and by its peers as backups.
# 200 long-lived connections (50 each of TCP and UDP over IPv4 and IPv6, to
# flowsync_server.py through the VIPs) stream for 16 s, every byte checked
# (flowsync_client.py), while EVENT happens 4 s in:
#   add      a fourth box starts: it announces only after its dp's bulk copy from
#            the peers (join gate: its dp also waits 4 s for a peer that never
#            answers, so the gate visibly holds while its BGP session is up), then
#            ECMP moves about a quarter of the flows to it
#   drain    box 1 is drained (edgelbctl drain), 4 s later its processes stop
#   kill     box 2's dp is SIGKILLed; its SNAT addresses must be routed to (and
#            answered by) a survivor within 2 s
#   boxkill  box 3 goes dark (dp, cp, BIRD killed, its kernel silenced): BFD
# Every connection must be intact (0 broken; retransmissions allowed). A control
# run with no event comes first. Prints "figure:" lines (docs/performance.md).
# The counts are real: a dp without flow sync breaks the moved flows, and the
# test fails saying how many.
EVENT=${1:?usage: test_flowsync.sh add|drain|kill|boxkill}
CL_NAME=ft12-$EVENT
CL_FLOWSYNC=1
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

DUR=${CL_FLOWSYNC_DURATION:-16}
PER=${CL_FLOWSYNC_PER_KIND:-50} # per protocol and family: 4 x 50 = 200
RESULTS=()

# Router next hops (box numbers) for a box's SNAT address: the backend side.
snat_hops() { # addr
	local fam=-4
	case $1 in *:*) fam=-6 ;; esac
	ip -n "$NS_R" "$fam" route show "$1" 2>/dev/null |
		grep -oE 'via (198\.19\.0\.|2001:db8:2::)[0-9a-f]+' | sed -E 's/.*[.:]//' | sort | tr '\n' ' ' |
		sed 's/ $//'
}
wait_snat() { # addr want timeout_ms [t0_ms]
	local t0=${4:-$(now_ms)} end
	end=$(($(now_ms) + $3))
	while [ "$(snat_hops "$1")" != "$2" ]; do
		[ "$(now_ms)" -lt "$end" ] || { echo -1; return 1; }
		sleep 0.005
	done
	echo $(($(now_ms) - t0))
}

# Start the client (background, pid in CLIENT_PID) streaming for $1 s.
client() { # name duration
	in_c $PY "$CL_SRC/tests/cluster/flowsync_client.py" --vip4 "$VIP4" --vip6 "$VIP6" \
		--port 9000 --tcp "$PER" --udp "$PER" --duration "$2" --out "$CL_DIR/flows-$1.json" \
		> "$CL_DIR/client-$1.txt" 2> "$CL_DIR/client-$1.err" &
	CLIENT_PID=$!
	CLIENT_T0=$(now_ms)
}

# Wait for the client; print the tally; OKC / TOTAL set.
tally() { # name
	local name=$1
	wait "$CLIENT_PID" || true
	read -r OKC TOTAL < "$CL_DIR/client-$name.txt" ||
		fail "$name: the client gave no result: $(tail -3 "$CL_DIR/client-$name.err")"
	$PY - "$CL_DIR/flows-$name.json" >&2 <<'PY'
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = collections.defaultdict(lambda: [0, 0])
for r in rows:
    k = "%s%d" % (r["proto"], r["family"])
    by[k][0] += r["ok"]
    by[k][1] += 1
print("    intact by kind: " + ", ".join("%s %d/%d" % (k, v[0], v[1]) for k, v in sorted(by.items())))
snat = collections.Counter(r["snat"].rsplit(":", 1)[0] for r in rows if r["snat"])
print("    SNAT addresses the backends saw: " + ", ".join("%s %d" % kv for kv in sorted(snat.items())))
bad = [r for r in rows if not r["ok"]]
why = collections.Counter(r["why"].split(" (")[0].split(":")[0] for r in bad)
if bad:
    print("    broken, by reason: " + ", ".join("%s %d" % kv for kv in why.most_common()))
    for r in bad[:5]:
        print("      %s%d #%d via %s %s: %s" % (r["proto"], r["family"], r["id"], r["backend"], r["snat"], r["why"]))
PY
	log "$name: $OKC of $TOTAL connections intact"
	figure "fnat_flowsync_survived_$name $OKC/$TOTAL"
	RESULTS+=("$name $OKC/$TOTAL")
}

# The longest silence (ms) of the intact UDP flows whose SNAT address is addr
# (-1: none intact), and how many there are of how many.
udp_gap() { # name addr
	$PY - "$CL_DIR/flows-$1.json" "$2" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
mine = [r for r in rows if r["proto"] == "udp" and r["snat"].rsplit(":", 1)[0] == sys.argv[2]]
g = [r["max_gap_ms"] for r in mine if r["ok"]]
print(max(g) if g else -1, "%d/%d" % (len(g), len(mine)))
PY
}

# What each live dp did (non-zero counters, flow sync), for whoever reads a failure.
dp_summary() {
	local k
	for k in $(seq 1 "$CL_BOXES"); do
		[ -S "$CL_DIR/x$k/dp.sock" ] && kill -0 "$(cat "$CL_DIR/x$k/dp.pid")" 2>/dev/null || continue
		dp_ctl "$k" '{"op":"stats.get"}' | $PY -c '
import json, sys
r = json.load(sys.stdin)["result"]
g = r["global"]
nz = lambda d: " ".join("%s=%s" % (k, v) for k, v in sorted(d.items()) if isinstance(v, int) and v)
fs = r.get("flow_sync", {})
print("    box %s: %s | drops: %s | control: %s | flow_sync: peer_entries=%s sent=%s received=%s" % (
    sys.argv[1], nz(g), nz(g.get("drops", {})), nz(r.get("control", {})),
    fs.get("peer_entries"), fs.get("records_sent"), fs.get("records_received")))
' "$k" >&2 || true
	done
}

# Sleep until ms after the client started.
at() { # ms
	local left=$(($1 - ($(now_ms) - CLIENT_T0)))
	[ "$left" -le 0 ] || sleep "$(awk -v l="$left" 'BEGIN { printf "%.3f", l / 1000 }')"
}

bgp_join() { # k: the box's join state (cp /v1/bgp)
	api "$1" GET /v1/bgp | json "r['cluster']['join']['state']"
}
# How many of the boxes 1..3 sent box k their bulk copy, "n/3" (dp hello, flow_sync).
bulk_peers() { # k
	dp_ctl "$1" '{"op":"hello"}' | json "'%d/3' % sum(1 for p in r['result']['flow_sync']['peers'] if p['bulk_done'] and p['address'] in ('198.18.0.1', '198.18.0.2', '198.18.0.3')) if 'flow_sync' in r['result'] else 'no flow_sync'"
}
# Whether the router's BGP session with box k is up.
session_up() { # k
	birdc -s "$CL_DIR/r/bird.ctl" show protocols "x$1" 2>/dev/null | grep -q Established
}

stop_box() { # k: processes stopped as a package's stop would (SIGTERM)
	local d=$CL_DIR/x$1 p
	for p in cp dp bird bfd; do kill "$(cat "$d/$p.pid")" 2>/dev/null || true; done
	for p in cp dp bird bfd; do
		for _ in $(seq 1 100); do kill -0 "$(cat "$d/$p.pid")" 2>/dev/null || break; sleep 0.05; done
	done
}


NB=3
if [ "$EVENT" = add ]; then
	NB=4
	CL_SLOW_JOIN_BOX=4
fi
cl_up "$NB"
for k in 1 2 3; do cl_box_start "$k"; done
cl_wait_converged "1 2 3" 30000
for k in 1 2 3; do
	wait_snat "198.19.8.$k" "$k" 10000 >/dev/null ||
		fail "router: 198.19.8.$k via '$(snat_hops "198.19.8.$k")', want its owner $k"
	wait_snat "2001:db8:8::$k" "$k" 10000 >/dev/null ||
		fail "router: 2001:db8:8::$k via '$(snat_hops "2001:db8:8::$k")', want its owner $k"
done
ok "3 boxes announced; each SNAT address routed to its owner (peers' backups held back)"
ctl 1 bgp | sed 's/^/    /' >&2
for k in 1 2 3; do
	m=$(api "$k" GET /v1/bgp | json "r['cluster']['dp_peers_match']")
	[ "$m" = 1 ] || fail "box $k: the dp's flow sync peers differ from cluster.peers (dp_peers_match $m)"
done
birdc -s "$CL_DIR/r/bird.ctl" show route 198.19.8.1/32 all 2>&1 | grep -E "^198|via|BGP.as_path" | head -6 >&2

# The control: nothing happens, everything must arrive.
client control 6
tally control
check "control run: every connection intact ($OKC/$TOTAL)" test "$OKC" = "$TOTAL"

client "$EVENT" "$DUR"
at 4000
t0=$(now_ms)
case $EVENT in
add)
	cl_box_start 4
	log "box 4 started ($(($(now_ms) - t0)) ms): join $(bgp_join 4)"
	# Watch the gate: while box 4's cp waits for the bulk copy, its session may be
	# up but the router must not have it as a next hop.
	held=0 leaked=0 end=$(($(now_ms) + 15000))
	while [ "$(now_ms)" -lt "$end" ]; do
		# The route first, then the gate: a route seen while the gate still says
		# "waiting" afterwards was announced through a closed gate.
		h=$(nexthops "$VIP4")
		st=$(bgp_join 4 2>/dev/null || echo "?")
		if [ "$st" = "waiting for the bulk copy" ]; then
			[ "$h" = "1 2 3 4" ] && leaked=$((leaked + 1))
			session_up 4 && held=$((held + 1))
		fi
		[ "$h" = "1 2 3 4" ] && break
		sleep 0.05
	done
	ms=$(wait_nexthops "$VIP4" "1 2 3 4" 1000 "$t0") ||
		fail "box 4 not announced 15 s after it started (join: $(bgp_join 4))"
	log "join gate: $held polls with box 4's session up and its VIPs held back, $leaked announced while waiting"
	state=$(bgp_join 4)
	bulk=$(bulk_peers 4)
	log "box 4 announced $ms ms after its start; join: $state; bulk copies from peers: $bulk"
	grep "bgp: join" "$CL_DIR/x4/cp.log" | sed 's/^/    /' >&2 || true
	figure "flowsync_join_ms $ms"
	;;
drain)
	ctl 1 drain --timeout 5 >/dev/null
	ms=$(wait_nexthops "$VIP4" "2 3" 2000 "$t0") || fail "box 1's VIPs not withdrawn"
	log "box 1 drained: VIPs withdrawn after $ms ms; SNAT 198.19.8.1 via $(snat_hops 198.19.8.1)"
	at 8000
	t1=$(now_ms)
	stop_box 1
	ms=$(wait_snat 198.19.8.1 "2 3" 3000 "$t1") ||
		fail "box 1 stopped: 198.19.8.1 via '$(snat_hops 198.19.8.1)', want the backups 2 3"
	log "box 1 stopped: its SNAT addresses routed to the backups after $ms ms"
	figure "flowsync_snat_failover_ms_drain $ms"
	;;
kill)
	kill -9 "$(cat "$CL_DIR/x2/dp.pid")"
	ms=$(wait_snat 198.19.8.2 "1 3" 5000 "$t0") ||
		fail "198.19.8.2 via '$(snat_hops 198.19.8.2)' 5 s after box 2's dp died, want 1 3"
	ms6=$(wait_snat 2001:db8:8::2 "1 3" 5000 "$t0") || fail "2001:db8:8::2 not moved to 1 3"
	wait_nexthops "$VIP4" "1 3" 2000 "$t0" >/dev/null || fail "box 2's VIPs not withdrawn"
	log "box 2's dp killed: its SNAT addresses routed to the survivors after $ms ms (v6 $ms6 ms)"
	figure "flowsync_snat_failover_ms_kill $ms"
	SNAT_MS=$ms
	;;
boxkill)
	cl_box_dark 3
	ms=$(wait_nexthops "$VIP4" "1 2" 5000 "$t0") || fail "box 3 still a next hop 5 s after it died"
	ms2=$(wait_snat 198.19.8.3 "1 2" 5000 "$t0") || fail "198.19.8.3 not moved to 1 2"
	log "box 3 dark: routed around after $ms ms (BFD), its SNAT addresses after $ms2 ms"
	figure "flowsync_bfd_ms $ms"
	;;
*) fail "unknown event $EVENT" ;;
esac
tally "$EVENT"
dp_summary
if [ "$EVENT" = kill ]; then
	read -r gap gapn <<< "$(udp_gap kill 198.19.8.2)"
	log "UDP flows through box 2's SNAT address: $gapn intact, longest silence $gap ms"
	figure "flowsync_snat_answered_ms_kill $gap"
fi
check "$EVENT: every connection intact ($OKC/$TOTAL)" test "$OKC" = "$TOTAL"
if [ "$EVENT" = add ]; then
	check "box 4 joined by its dp's bulk copy ($state; from boxes 1-3: $bulk)" \
		test "$state" = "bulk copy done" -a "$bulk" = "3/3"
	check "the join gate held box 4's VIPs back while its BGP session was up ($held polls)" \
		test "$held" -gt 0
	check "nothing announced while the gate was closed ($leaked polls)" test "$leaked" = 0
fi
if [ "$EVENT" = kill ]; then
	check "SNAT addresses routed to a survivor within 2 s ($SNAT_MS ms)" test "$SNAT_MS" -le 2000
	check "SNAT addresses answered by a survivor within 2 s ($gap ms, $gapn UDP flows intact)" \
		test "$gap" -ge 0 -a "$gap" -le 2000
fi
log "all checks passed"
