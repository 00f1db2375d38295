#!/usr/bin/env bash
# bench-pktgen.sh - edgelb-dp under pktgen-dpdk on one machine, over two net_memif ports.
#
#   PKTGEN=/path/to/pktgen scripts/bench-pktgen.sh        # both scripts
#   PKTGEN=... BENCH_SCRIPTS=tcp-syn BENCH_FLOWS=262144 scripts/bench-pktgen.sh
#   scripts/bench-pktgen.sh                               # no PKTGEN: how to build it, exit 0
#
# For each script in scripts/pktgen/ (tcp-syn, udp-flows) it writes the pcap of distinct
# flows the script sends (scripts/pktgen/flows-pcap.py), starts edgelb-dp with two
# memif server ports ("ext" facing clients, "int" facing backends; memif is shared
# memory inside this machine, nothing goes on a wire), starts pktgen with the two
# matching memif client ports under script(1) (pktgen needs a terminal), lets the Lua
# script send and quit, stops the dp by PID and prints key=value lines, each prefixed
# with the script's name:
#   <script>.pktgen_tx / pktgen_rx / *_mpps ... what pktgen sent to ext and got on int
#   <script>.dp_rx / dp_fwd / dp_rev / dp_tx   the dp's counters (global)
#   <script>.dp_ext_rx / dp_int_tx             per port
#   <script>.drops, <script>.drop_<reason>     non-forwarded packets, by reason
#   <script>.flows_created                     ct_created: connections the dp created
#   <script>.claimed_new_flows                 what the script says it offered
#   <script>.flows_match                       yes when those two agree
#   <script>.connections / claimed_concurrent_flows / concurrent_match
#   <script>.identity_rx                       ok when rx + handoff_in = fwd + rev +
#                                              handoff_out + ctrl_punt + (drops - tx_full)
#   <script>.ctrl_frames_via_workers           tx + tx_full - fwd - rev: frames the control
#                                              thread sent through a worker (here GARPs)
#   <script>.sampled_conn_states               states of up to 1000 dp connections (conns.list):
#                                              tcp-syn: all "syn" (SYNs arrived, not ACKs)
#   <script>.pktgen_process_seconds            pktgen's whole life: start-up (pools, pcap load)
#                                              + the script; bounded by BENCH_RUN_SECONDS
#   <script>.cut_by_deadline                   1: the script sent for less than asked to end
#                                              within that bound (slow start on a busy machine)
#   <script>.dp_worker_cpu_share               of the time the dp's worker was runnable, the
#                                              share it ran (others' jobs take the rest)
#   <script>.lost_before_dp                    pktgen_tx - dp_ext_rx (memif ring full)
# The figures are the generator's and the dp's together on a shared machine: they show
# the scripts do what they say and how the counters relate, not what edgelb does on
# hardware (docs/benchmarking.md: the two-box run; scripts/bench-dp.sh: cycles/packet).
#
# Every run holds /tmp/edgelb-bench.lock (benchmarks on a shared machine take turns),
# is pinned, and is bounded: pktgen and the dp each get at most BENCH_RUN_SECONDS.
# Environment:
#   PKTGEN              pktgen binary (23.06.1 tested; docs/benchmarking.md builds it)
#   BENCH_SCRIPTS       "tcp-syn udp-flows"
#   BENCH_FLOWS         distinct flows in each pcap (1048576)
#   BENCH_SYN_RATE      tcp-syn rate, percent of memif's 100G link speed (0.5 = 744 kpps)
#   BENCH_UDP_RATE      udp-flows rate, the same unit (0.5)
#   BENCH_UDP_SECONDS   how long udp-flows sends (5; pktgen takes 10-15 s to start here)
#   BENCH_RUN_SECONDS   hard bound on each process of a run (30)
#   BENCH_DP_CPU        CPU of the dp's worker (1); its control thread goes on BENCH_PKTGEN_CPU
#   BENCH_PKTGEN_CPU    CPU of pktgen's main and port lcores (0)
#   BENCH_IDLE_SLEEP_US the dp's idle_sleep_us (50)
#   BENCH_KEEP          1: keep the work directory (configs, logs, stats JSON)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ -z "${PKTGEN:-}" ]; then
	cat <<'EOF'
bench-pktgen: PKTGEN is not set, nothing was run.
pktgen-dpdk is not packaged for Debian; build it outside this tree against the system
DPDK 22.11 (details and why: docs/benchmarking.md, "Building pktgen"):
  apt-get install liblua5.3-dev lua5.3 libpcap-dev libnuma-dev
  fetch pktgen-dpdk tag pktgen-23.06.1 (23.10 and later need DPDK 23.11) into /tmp/pktgen
  cd /tmp/pktgen
  # 1. lib/lua/meson.build: add dpdk to liblua's dependencies (rte_version.h not found)
  sed -i 's/vec, lua_dep\])/vec, lua_dep, dpdk])/' lib/lua/meson.build
  # 2. memif cannot set the MTU on DPDK 22.11: do not panic on -ENOTSUP
  sed -i 's/eth_mtu)) < 0)/eth_mtu)) < 0 \&\& ret != -ENOTSUP)/' app/pktgen-port-cfg.c
  meson setup build -Denable_lua=true && ninja -C build
then: PKTGEN=/tmp/pktgen/build/app/pktgen scripts/bench-pktgen.sh
EOF
	echo "pktgen=not-run"
	exit 0
fi

die() { echo "bench-pktgen: $*" >&2; exit 1; }
[ -x "$PKTGEN" ] || die "PKTGEN=$PKTGEN is not an executable"
command -v script >/dev/null || die "script(1) is missing (util-linux)"
command -v jq >/dev/null || die "jq is missing (scripts/setup.sh installs it)"

# Benchmarks on a shared machine take turns; the lock goes with this process.
exec 9>>"${BENCH_LOCK:-/tmp/edgelb-bench.lock}"
flock 9

DP_BIN=$ROOT/build/dp/edgelb-dp
if [ ! -x "$DP_BIN" ]; then
	[ -f build/build.ninja ] || die "no build/ (run scripts/setup.sh or meson setup build)"
	ninja -C build >&2
fi

SCRIPTS=${BENCH_SCRIPTS:-tcp-syn udp-flows}
FLOWS=${BENCH_FLOWS:-1048576}
SYN_RATE=${BENCH_SYN_RATE:-0.5}
UDP_RATE=${BENCH_UDP_RATE:-0.5}
UDP_SECONDS=${BENCH_UDP_SECONDS:-5}
RUN_SECONDS=${BENCH_RUN_SECONDS:-30}
DP_CPU=${BENCH_DP_CPU:-1}
PG_CPU=${BENCH_PKTGEN_CPU:-0}
IDLE_SLEEP_US=${BENCH_IDLE_SLEEP_US:-50}

# One worker: conntrack must hold every flow of the pcap, plus room.
CT_CAP=$((FLOWS + FLOWS / 4 + 1024))
DP_MEM_MB=$((512 + CT_CAP * 160 / 1048576))
# pktgen 23.06 makes five pools of 24,576 10-KiB mbufs per port (2.5 GiB for two
# ports) plus the pcap pool (about 320 B per packet); no hugepages needed on memif.
PG_MEM_MB=$((3072 + FLOWS * 400 / 1048576))

EXT_MAC=02:00:00:00:00:02
INT_MAC=02:00:00:00:00:03
PG0_MAC=02:00:00:00:01:00      # pktgen port 0: the clients (and their gateway)
PG1_MAC=02:00:00:00:01:01      # pktgen port 1: every backend

WORK=$(mktemp -d /tmp/edgelb-bench-pktgen.XXXXXX)
DP_PID='' PG_PID=''
cleanup() {
	# pktgen runs as script(1) -> timeout(1) -> pktgen; timeout passes SIGINT on.
	if [ -n "$PG_PID" ]; then
		for p in $(pgrep -P "$PG_PID" 2>/dev/null); do kill -INT "$p" 2>/dev/null || true; done
		wait "$PG_PID" 2>/dev/null || true
	fi
	[ -n "$DP_PID" ] && kill -INT "$DP_PID" 2>/dev/null || true
	[ -n "$DP_PID" ] && wait "$DP_PID" 2>/dev/null || true
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench-pktgen: kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

pktgen_version=$(grep -a -m1 -oE 'Pktgen [0-9]+\.[0-9]+\.[0-9]+' "$PKTGEN" |
	cut -d' ' -f2 || true)
echo "pktgen=$PKTGEN"
echo "pktgen_version=${pktgen_version:-unknown}"
echo "dpdk_version=$(pkg-config --modversion libdpdk 2>/dev/null || echo unknown)"
echo "cpus=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
echo "dp_cpu=$DP_CPU pktgen_cpu=$PG_CPU idle_sleep_us=$IDLE_SLEEP_US"

# 16 backends, 4 SNAT addresses: 64 (local address, backend) pairs x 64,512 ports
# leave room for millions of fnat flows.
backends() { # port
	local i sep=""
	for i in $(seq 1 16); do
		printf '%s{ address = "198.19.1.%d"; port = %d; }' "$sep" "$i" "$1"
		sep=", "
	done
}
neighbours() {
	local i
	printf '  { address = "198.18.0.1"; mac = "%s"; }' "$PG0_MAC"
	for i in $(seq 1 16); do
		printf ',\n  { address = "198.19.1.%d"; mac = "%s"; }' "$i" "$PG1_MAC"
	done
	echo
}

write_conf() { # file
	cat >"$1" <<EOF
# Written by scripts/bench-pktgen.sh: two memif server ports, pktgen is the client.
dp: { workers = [1]; idle_sleep_us = $IDLE_SLEEP_US; control_socket = "$WORK/dp.sock"; };
conntrack: { capacity = $CT_CAP; };
ports = (
  { name = "ext"; role = "external"; addresses = ["198.18.0.2/24"]; mac = "$EXT_MAC";
    device = "net_memif0,role=server,id=0,socket=$WORK/ext.sock,socket-abstract=no"; },
  { name = "int"; role = "internal"; addresses = ["198.19.0.1/16"]; mac = "$INT_MAC";
    local_addresses = ["198.19.0.2", "198.19.0.3", "198.19.0.4", "198.19.0.5"];
    device = "net_memif1,role=server,id=0,socket=$WORK/int.sock,socket-abstract=no"; }
);
routes = ( { prefix = "0.0.0.0/0"; via = "198.18.0.1"; } );
neighbours = (
$(neighbours)
);
services = (
  { name = "bench/tcp"; vip = "198.18.0.100"; port = 80; backends = ( $(backends 8080) ); },
  { name = "bench/udp"; vip = "198.18.0.100"; port = 53; protocol = "udp";
    backends = ( $(backends 5353) ); }
);
EOF
}

# Wait (bounded) for the dp to create both memif sockets.
wait_sockets() {
	local i
	for i in $(seq 1 100); do
		[ -S "$WORK/ext.sock" ] && [ -S "$WORK/int.sock" ] && return 0
		kill -0 "$DP_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# schedstat of a process's thread by name: "<ns on CPU> <ns runnable but waiting>".
thread_sched() { # pid comm
	local t
	for t in /proc/"$1"/task/*; do
		if [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ]; then
			cut -d' ' -f1-2 "$t/schedstat" 2>/dev/null && return 0
		fi
	done
	echo "0 0"
}
# Of the time a thread could run between two schedstat samples, the share it ran.
cpu_share() { # "run0 wait0" "run1 wait1"
	echo "$1 $2" | awk '{ r = $3 - $1; w = $4 - $2; printf "%.2f", ((r + w) > 0 ? r / (r + w) : 0) }'
}

# TCP/UDP states of up to 1000 of the dp's connections, "state:count,...": SYNs that
# arrived as SYNs leave entries in state syn; ACKs would leave them established.
conn_states() { # control socket
	python3 - "$1" <<'PY' 2>/dev/null || echo unknown
import collections, json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b'{"op": "conns.list", "limit": 1000}\n')
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(1 << 20)
    if not d:
        break
    buf += d
c = collections.Counter(x["state"] for x in json.loads(buf)["result"]["connections"])
print(",".join("%s:%d" % kv for kv in sorted(c.items())) or "none")
PY
}

run_one() { # script
	local s=$1 proto rate dir="$WORK/$1"
	mkdir -p "$dir"
	case $s in
	tcp-syn) proto=tcp rate=$SYN_RATE ;;
	udp-flows) proto=udp rate=$UDP_RATE ;;
	*) die "unknown script $s (tcp-syn, udp-flows)" ;;
	esac
	python3 scripts/pktgen/flows-pcap.py --proto "$proto" --flows "$FLOWS" --out "$dir/flows.pcap" \
		--dst-mac "$EXT_MAC" --src-mac "$PG0_MAC" >"$dir/pcap.txt"
	write_conf "$dir/dp.conf"
	rm -f "$WORK/ext.sock" "$WORK/int.sock"

	# The dp: control thread on the pktgen CPU (it mostly sleeps), worker alone on DP_CPU.
	timeout --signal=INT --kill-after=5 "$((RUN_SECONDS + 5))" \
		"$DP_BIN" --lcores "0@$PG_CPU,1@$DP_CPU" --no-pci --no-huge -m "$DP_MEM_MB" \
		--file-prefix "ebp-dp-$$" --log-level lib.eal:warning -- --config "$dir/dp.conf" \
		--run-seconds "$RUN_SECONDS" --stats-json "$dir/dp.json" >"$dir/dp.log" 2>&1 &
	DP_PID=$!
	wait_sockets || { cat "$dir/dp.log" >&2; die "$s: edgelb-dp did not come up"; }

	# pktgen: main and port lcore share PG_CPU; one lcore does RX and TX of both ports.
	local cmd
	cmd=$(printf '%q ' timeout --signal=INT --kill-after=5 "$RUN_SECONDS" \
		env PG_PCAP="$dir/flows.pcap" PG_RATE="$rate" PG_SECONDS="$UDP_SECONDS" \
		PG_DEADLINE="$(($(date +%s) + RUN_SECONDS - 2))" PG_RESULT="$dir/result.txt" PG_QUIT=1 \
		"$PKTGEN" --lcores "0@$PG_CPU,1@$PG_CPU" --no-pci --no-huge -m "$PG_MEM_MB" \
		--file-prefix "ebp-pg-$$" --log-level lib.eal:warning \
		--vdev "net_memif0,role=client,id=0,socket=$WORK/ext.sock,socket-abstract=no,mac=$PG0_MAC" \
		--vdev "net_memif1,role=client,id=0,socket=$WORK/int.sock,socket-abstract=no,mac=$PG1_MAC" \
		-- -P -m "1.[0-1]" -s "0:$dir/flows.pcap" -f "$ROOT/scripts/pktgen/$s.lua")
	local dp0 dp1 dp_child
	dp_child=$(pgrep -P "$DP_PID" -x edgelb-dp || echo 0)   # $DP_PID is timeout(1)
	dp0=$(thread_sched "$dp_child" rte-worker-1)
	local start=$SECONDS
	# From the work directory: the scripts must not depend on the current directory.
	(cd "$dir" && exec script -qec "$cmd" /dev/null </dev/null >"$dir/pktgen.log" 2>&1) &
	PG_PID=$!
	local pg_rc=0
	wait "$PG_PID" || pg_rc=$?
	PG_PID=
	local pg_wall=$((SECONDS - start))
	dp1=$(thread_sched "$dp_child" rte-worker-1)
	local states
	states=$(conn_states "$WORK/dp.sock")
	kill -INT "$DP_PID" 2>/dev/null || true
	local dp_rc=0
	wait "$DP_PID" || dp_rc=$?
	DP_PID=
	export DP_RC=$dp_rc

	echo "$s.pcap: $(cat "$dir/pcap.txt")"
	if [ ! -s "$dir/result.txt" ]; then
		echo "$s.result=FAILED (pktgen exit $pg_rc; its screen: $dir/pktgen.log)"
		BENCH_KEEP=1
		return 1
	fi
	[ -s "$dir/dp.json" ] || { echo "$s.result=FAILED (edgelb-dp exit $dp_rc, no stats)"; BENCH_KEEP=1; return 1; }
	sed "s/^/$s./" "$dir/result.txt"
	echo "$s.pktgen_process_seconds=$pg_wall"
	echo "$s.sampled_conn_states=$states"
	echo "$s.dp_worker_cpu_share=$(cpu_share "$dp0" "$dp1")"
	jq -r --arg s "$s" --slurpfile r <(sed 's/^\([^=]*\)=\(.*\)$/{"\1": "\2"}/' "$dir/result.txt" | jq -s add) '
		def port($n): (.ports[] | select(.name == $n));
		($r[0]) as $pg | .global as $g | ($g.drops | to_entries) as $d |
		([$d[].value] | add) as $drops |
		(($g.rx_packets + $g.handoff_in) - ($g.fwd_packets + $g.rev_packets + $g.handoff_out
			+ $g.ctrl_punt + $drops - $g.drops.tx_full)) as $id |
		($pg.claimed_new_flows | tonumber) as $claim |
		($pg.claimed_concurrent_flows | tonumber) as $conc |
		[ "dp_rx=\($g.rx_packets)", "dp_fwd=\($g.fwd_packets)", "dp_rev=\($g.rev_packets)",
		  "dp_tx=\($g.tx_packets)", "dp_ctrl_punt=\($g.ctrl_punt)",
		  "dp_ext_rx=\(port("ext").rx_packets)", "dp_int_tx=\(port("int").tx_packets)",
		  "drops=\($drops)" ]
		+ [ $d[] | select(.value > 0) | "drop_\(.key)=\(.value)" ]
		+ [ "flows_created=\($g.ct_created)", "ct_full=\($g.ct_full)",
		    "flows_match=\(if $g.ct_created == $claim then "yes" else "no (dp created \($g.ct_created), script claims \($claim))" end)",
		    "connections=\($g.connections)",
		    "concurrent_match=\(if $g.connections == $conc then "yes" else "no (dp holds \($g.connections), script claims \($conc))" end)",
		    "identity_rx=\(if $id == 0 then "ok" else "off by \($id)" end)",
		    "ctrl_frames_via_workers=\($g.tx_packets + $g.drops.tx_full - $g.fwd_packets - $g.rev_packets)",
		    "garp_tx=\(.control.garp_tx)",
		    "lost_before_dp=\(($pg.pktgen_tx | tonumber) - port("ext").rx_packets)",
		    "dp_exit=\($ENV.DP_RC)" ]
		| .[] | "\($s).\(.)"' "$dir/dp.json" 2>&1
}

rc=0
for s in $SCRIPTS; do
	run_one "$s" || rc=1
done
exit $rc
