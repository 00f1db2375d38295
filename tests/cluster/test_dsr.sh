#!/usr/bin/env bash
# test_dsr.sh - direct server return (modes ipip and gue) behind ECMP: the boxes
# send the client's packets unchanged inside an outer header, the backends answer
# the client directly, and because every box picks the same backend (Maglev, one
# seed) established connections survive a box being added, drained or killed
# without any state shared between the boxes.
#
# Topology: lib.sh with CL_DSR=1: the backends hold the VIPs on loopback, run
# tests/cluster/dsr_decap.py (this kernel has no ipip/fou modules) and reply
# through the router's leg on their LAN. For each mode (ipip, then gue):
#   - 40 new connections over IPv4 and 40 over IPv6 answer; the boxes forwarded
#     them (fwd_packets) and saw no reply (rev_packets 0); the decapsulators
#     counted packets of the mode;
#   - 100 long downloads (checked byte for byte) while box 3 is added: all intact;
#   - 100 while box 1 is drained: all intact;
#   - 100 while box 2's dp is killed (SIGKILL): all intact.
# Each event prints a "figure:" line (docs/performance.md).
CL_NAME=dsr
CL_DSR=1
CL_BIGFILE_BYTES=400000   # 4 s at the backends' 100 kB/s
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

N=${CL_DSR_CONNS:-100}


run_event() { # mode name command...
	local mode=$1 name=$2 out okc total
	shift 2
	out=$CL_DIR/dsr-$mode-$name.txt
	downloads "$out"
	sleep 1.5
	"$@"
	wait "$DL_PID" || true
	read -r okc total < "$out" || fail "$mode $name: no result ($(cat "$out"))"
	figure "dsr_${mode}_survived_$name $okc/$total"
	check "$mode, box $name during $total downloads: $okc intact" test "$okc" = "$total"
}

stat_of() { # k key
	dp_ctl "$1" '{"op":"stats.get"}' | json "r['result']['global']['$2']"
}

decap_sum() { # mode-key: packets the three backends decapsulated of that kind
	local s=0 i v
	for i in 1 2 3; do
		v=$(tr ' ' '\n' < "$CL_DIR/b$i/decap.status" | sed -n "s/^$1=//p")
		s=$((s + ${v:-0}))
	done
	echo "$s"
}

cl_up 3
for mode in ipip gue; do
	CL_MODE=$mode
	for k in 1 2 3; do cl_box_start "$k"; done
	ctl 3 drain --timeout 5 >/dev/null
	cl_wait_converged "1 2" 30000
	ok "$mode: boxes 1 and 2 announced, box 3 ready but drained"

	before=$(decap_sum "$([ $mode = gue ] && echo gue || echo ipip4)")
	got4=$(connect_many 40 "$VIP4" 2)
	got6=$(connect_many 40 "$VIP6" 2)
	check "$mode: 40/40 IPv4 connections answered ($got4)" test "$got4" = 40
	check "$mode: 40/40 IPv6 connections answered ($got6)" test "$got6" = 40
	rev=$(( $(stat_of 1 rev_packets) + $(stat_of 2 rev_packets) ))
	fwd=$(( $(stat_of 1 fwd_packets) + $(stat_of 2 fwd_packets) ))
	check "$mode: the boxes forwarded client packets ($fwd) and saw no reply ($rev)" \
		test "$fwd" -gt 0 -a "$rev" = 0
	sleep 1.2 # the decapsulators write their counts every second
	after=$(decap_sum "$([ $mode = gue ] && echo gue || echo ipip4)")
	check "$mode: the backends decapsulated $mode packets ($((after - before)))" \
		test "$after" -gt "$before"

	add() { ctl 3 undrain >/dev/null; wait_nexthops "$VIP4" "1 2 3" 2000 >/dev/null; }
	run_event "$mode" add add
	cl_wait_converged "1 2 3" 10000

	drain1() { ctl 1 drain --timeout 5 >/dev/null; wait_nexthops "$VIP4" "2 3" 2000 >/dev/null; }
	run_event "$mode" drain drain1
	ctl 1 undrain >/dev/null
	cl_wait_converged "1 2 3" 10000

	kill2() { kill -9 "$(cat "$CL_DIR/x2/dp.pid")"; wait_nexthops "$VIP4" "1 3" 2000 >/dev/null; }
	run_event "$mode" kill kill2

	# Stop every box for the next mode (the namespaces and backends stay).
	for k in 1 2 3; do
		for f in cp bird dp; do
			pid=$(cat "$CL_DIR/x$k/$f.pid" 2>/dev/null) && kill "$pid" 2>/dev/null || true
		done
	done
	for k in 1 2 3; do
		for f in cp bird dp; do
			pid=$(cat "$CL_DIR/x$k/$f.pid" 2>/dev/null) || continue
			for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$pid" 2>/dev/null || true
		done
		rm -f "$CL_DIR/x$k/cp-state.json" "$CL_DIR/x$k/vips.conf" "$CL_DIR/x$k/drain"*
	done
done
log "all checks passed"
