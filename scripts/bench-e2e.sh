#!/usr/bin/env bash
# bench-e2e.sh - HTTP through edgelb-dp (af_packet, af_xdp) vs HAProxy (mode tcp) vs
# kube-proxy's three modes (iptables, ipvs, nftables), end to end.
#
#   scripts/bench-e2e.sh                       (root; needs a build: scripts/setup.sh)
#
# One topology of network namespaces (scripts/lib/topo.sh): client c0, the dp
# namespace with veths ext/int, a switch, 3 nginx backends. wrk runs in the client
# namespace against http://198.18.0.100/id through, one after another:
#
#   edgelb     edgelb-dp on net_af_packet (ext/int), fnat service VIP:80 -> backends:8080,
#              EAL -l 0,1, worker on lcore 1, once per idle_sleep_us in BENCH_IDLE_SLEEPS
#   edgelb_xdp the same dp on net_af_xdp (ext/int): XDP in the veth driver hands the
#              frames to an AF_XDP socket (copy mode), at BENCH_IDLE_SLEEP_US only
#   edgelb_old only with BENCH_EDGELB_OLD=/path/to/another/edgelb-dp: that binary (an
#              older build, for an A/B in the same run), af_packet, the settings of
#              edgelb at BENCH_IDLE_SLEEP_US; runs right after edgelb unless
#              BENCH_TARGETS places it
#   haproxy    HAProxy, mode tcp, balance roundrobin over the 3 backends (source
#              198.19.0.1)
#   iptables   kube-proxy iptables mode: nat PREROUTING -> KUBE-SERVICES -> KUBE-EXT
#              (mark) -> KUBE-SVC (-m statistic --mode random --probability) ->
#              KUBE-SEP DNAT, masquerade marked packets in POSTROUTING
#   ipvs       kube-proxy ipvs mode: VIP on the dummy kube-ipvs0, ipvsadm virtual
#              server rr with masquerading real servers, vs/conntrack=1, ipset
#              KUBE-LOAD-BALANCER + iptables mark, MASQUERADE in POSTROUTING. Needs
#              a kernel with IPVS; skipped with ipvsadm's error otherwise
#   nftables   kube-proxy nftables mode: table ip kube-proxy, service-ips verdict map
#              -> external chain (mark) -> service chain (numgen random mod 3 vmap)
#              -> endpoint chain dnat; masquerade fully-random in nat-postrouting
# (scripts/lib/kubeproxy.sh has the three kube-proxy layouts.) In the kernel modes
# the dp namespace routes (ip_forward=1) and sets the sysctls kube-proxy sets.
#
# For haproxy and the kernel modes the dp is stopped and the kernel of the dp
# namespace gets the addresses the dp owned: 198.18.0.1/24 + VIP 198.18.0.100 on ext
# (ipvs: on kube-ipvs0), 198.19.0.1/24 on int. Same veths, same offload settings,
# same wrk settings for every target.
# Before each target, the TIME_WAIT sockets the previous one left are killed (ss -K)
# so that one NAT's leftovers do not cost the next its SYNs.
#
# Order: BENCH_TARGETS (edgelb at BENCH_IDLE_SLEEP_US), then edgelb at the other
# idle_sleep_us values (the kernel gives the addresses back and its nft ruleset is
# flushed first). A target starts only if it fits in the time budget; the sweep is
# what gets cut on a loaded machine.
#
# Each target runs twice: keep-alive (wrk -tT -cC -dD --latency) -> <t>_rps, <t>_p99_ms,
# and one connection per request (-H 'Connection: close') -> <t>_cps, <t>_cps_p99_ms
# (wrk's latency excludes connect(): the cost of the handshake, SYN retransmissions
# included, shows in <t>_cps only). Also printed per run: p50, wrk socket errors,
# requests (wrk's count), cpu_pct (busy share of all CPUs), cpu_s_per_mreq
# (CPU-seconds of all CPUs, busy jiffies of /proc/stat over the run, per million
# requests: the fair figure on a shared box; it includes wrk, nginx and the other
# tenants), cpu_s_per_mreq_minus_others (the same without the CPU time of processes
# outside the benchmark's namespaces), others_cpu_pct (CPU used by processes outside the
# benchmark's namespaces: the machine is shared, this is the noise; a lower bound),
# client_retrans / client_syn_retrans (client namespace TCP counters), backend_tw_paws
# (SYNs the backends dropped on a TIME_WAIT socket: source port reused too early by
# the NAT in front), loadavg.
# edgelb_sleep<N>_* are the figures at idle_sleep_us=N; edgelb_* repeat those of
# BENCH_IDLE_SLEEP_US. Lines starting with '#' go to stderr and are commentary.
# Keys per target T (T_cps_* alike for the connection-per-request run): T_rps, T_cps,
# T_p50_ms, T_p99_ms, T_cpu_s_per_mreq, T_cps_cpu_s_per_mreq... A target that cannot
# run here prints T_available=0 and a '#' line with the reason (ipvs without IPVS in
# the kernel).
# Exit status: 0, 1 when a target gave no answer through the VIP, 124 when the
# watchdog stopped the run.
#
# Environment (defaults): BENCH_DURATION=10 (s per wrk run), BENCH_CONNS=32,
# BENCH_THREADS=1, BENCH_IDLE_SLEEPS="0 20 100", BENCH_IDLE_SLEEP_US=20,
# BENCH_CLOSE=1 (0: skip the connection-per-request runs), BENCH_TARGETS="edgelb
# edgelb_xdp haproxy iptables ipvs nftables", BENCH_HAPROXY_THREADS=auto (HAProxy's
# default: one thread per CPU), BENCH_RANDOM_FULLY=1 (0: MASQUERADE without
# --random-fully), BENCH_BUDGET=330 (s), BENCH_PERF=0 (1: a system-wide
# `perf record -e cpu-clock` over each wrk run, perf from Debian's linux-perf; the
# top of its report goes to BENCH_PERF_DIR=/tmp/edgelb-bench-perf/<target>[_cps].txt),
# TOPO_AFX_ARGS (more net_af_xdp arguments, e.g. ",busy_budget=0"), EDGELB_BUILD=build
# (the binary is copied first: others may rebuild meanwhile), BENCH_EDGELB_OLD (unset:
# no edgelb_old; a path to an edgelb-dp binary, copied too), TOPO=elbbe2e
# (namespace prefix), TOPO_BIGFILE_BYTES=4096. The order is BENCH_TARGETS': on a
# shared machine whose load drifts, rotate it between runs (docs/performance.md).
# Everything (namespaces, processes, rules) is torn down on exit, also on Ctrl-C/TERM.
set -euo pipefail
cd "$(dirname "$0")/.."

DUR=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNS:-32}
THREADS=${BENCH_THREADS:-1}
SLEEPS=${BENCH_IDLE_SLEEPS:-0 20 100}
MAIN_SLEEP=${BENCH_IDLE_SLEEP_US:-20}
DO_CLOSE=${BENCH_CLOSE:-1}
TARGETS=${BENCH_TARGETS:-edgelb edgelb_xdp haproxy iptables ipvs nftables}
HAPROXY_THREADS=${BENCH_HAPROXY_THREADS:-auto} # auto: HAProxy's default, one per CPU
BUDGET=${BENCH_BUDGET:-330}
PERF=${BENCH_PERF:-0}
PERF_DIR=${BENCH_PERF_DIR:-/tmp/edgelb-bench-perf}
HZ=$(getconf CLK_TCK)
SRC_BUILD=${EDGELB_BUILD:-$PWD/build}
OLD_DP=${BENCH_EDGELB_OLD:-}
export TOPO=${TOPO:-elbbe2e}
export TOPO_ROUTERS=0 # the kernel configuration below is for the plain topology
# shellcheck source=lib/topo.sh
source scripts/lib/topo.sh
# shellcheck source=lib/kubeproxy.sh
source scripts/lib/kubeproxy.sh

[ "$(id -u)" -eq 0 ] || { echo "bench-e2e: needs root" >&2; exit 1; }
for t in wrk haproxy iptables-restore nft nginx socat ethtool curl; do
	command -v "$t" >/dev/null || { echo "bench-e2e: $t missing (scripts/setup.sh)" >&2; exit 1; }
done
[ -x "$SRC_BUILD/dp/edgelb-dp" ] || { echo "bench-e2e: no $SRC_BUILD/dp/edgelb-dp (scripts/setup.sh)" >&2; exit 1; }
[ -z "$OLD_DP" ] || [ -x "$OLD_DP" ] || { echo "bench-e2e: BENCH_EDGELB_OLD=$OLD_DP is not an executable" >&2; exit 1; }
case " $SLEEPS " in *" $MAIN_SLEEP "*) ;; *) SLEEPS="$SLEEPS $MAIN_SLEEP" ;; esac

note() { echo "# [$(( $(date +%s) - ${T0:-$(date +%s)} ))s] $*" >&2; }
kv() { echo "$1=$2"; }

WATCHDOG=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$WATCHDOG" ]; then kill "$WATCHDOG" 2>/dev/null || true; fi
	wait "$WATCHDOG" 2>/dev/null || true
	# dp (SIGINT, then SIGKILL by PID), haproxy (its .pid file), nginx, echo servers,
	# anything left in our namespaces; the namespaces go with their iptables rules.
	topo_dp_stop 2>/dev/null || true
	topo_down
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'note "stopped (budget of ${BUDGET}s exceeded or TERM)"; exit 124' TERM

# The whole run is bounded: past the budget the watchdog TERMs this script (by PID),
# whose trap tears everything down.
# (Polls every second so that killing it leaves no long sleep behind.)
END_AT=$(( $(date +%s) + BUDGET ))
( while [ "$(date +%s)" -lt "$END_AT" ]; do sleep 1; done; kill -TERM $$ 2>/dev/null ) &
WATCHDOG=$!

T0=$(date +%s)
note "machine: nproc=$(nproc) cpu=\"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)\" loadavg=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
kv nproc "$(nproc)"
kv loadavg_before "$(cut -d' ' -f1 /proc/loadavg)"

TOPO_BIGFILE_BYTES=${TOPO_BIGFILE_BYTES:-4096} topo_up
note "topology up"
# A copy of the binary: others may rebuild build/ while this runs.
mkdir -p "$TOPO_DIR/bin/dp"
cp "$SRC_BUILD/dp/edgelb-dp" "$TOPO_DIR/bin/dp/edgelb-dp"
export EDGELB_BUILD=$TOPO_DIR/bin
if [ -n "$OLD_DP" ]; then
	mkdir -p "$TOPO_DIR/bin-old/dp"
	cp "$OLD_DP" "$TOPO_DIR/bin-old/dp/edgelb-dp"
	note "edgelb_old: $OLD_DP (edgelb: $SRC_BUILD/dp/edgelb-dp)"
fi
for i in $(seq 1 "$TOPO_BACKENDS"); do
	for _ in $(seq 1 50); do
		ip netns exec "$(topo_ns_b "$i")" curl -s -m 1 -o /dev/null "http://127.0.0.1:8080/id" && break
		sleep 0.1
	done
done

URL="http://$VIP4/id"

# Busy and total jiffies of all CPUs.
cpu_snap() { awk '/^cpu / {t=0; for (i=2;i<=NF;i++) t+=$i; print t - $5 - $6, t}' /proc/stat; }

# CPU time (jiffies) used between two calls by processes outside this benchmark's
# namespaces: other users of the machine. "foreign_snap start" records, "foreign_snap
# end" prints the difference. A lower bound: processes that exit in between are missed.
foreign_snap() { # start|end
	/usr/bin/python3 - "$TOPO" "$TOPO_DIR/foreign.snap" "$1" <<'PY'
import os, sys
prefix, path, mode = sys.argv[1:4]
ours = {os.stat("/run/netns/" + n).st_ino for n in os.listdir("/run/netns") if n.startswith(prefix + "-")}
cur = {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        if os.stat("/proc/%s/ns/net" % p).st_ino in ours:
            continue
        f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
        cur["%s:%s" % (p, f[19])] = int(f[11]) + int(f[12])  # pid:starttime -> utime+stime
    except (OSError, IndexError, ValueError):
        pass
if mode == "start":
    with open(path, "w") as fh:
        fh.write("\n".join("%s %d" % kv for kv in cur.items()))
else:
    prev = dict(l.split() for l in open(path).read().splitlines() if l)
    print(sum(v - int(prev.get(k, 0)) for k, v in cur.items()))
PY
}

# TCP retransmitted segments and SYN retransmissions seen by the client namespace.
retrans_snap() {
	ip netns exec "$TOPO_NS_C" awk '
		$1 == "Tcp:" && !th { for (i = 2; i <= NF; i++) h[i] = $i; th = 1; next }
		$1 == "Tcp:" { for (i = 2; i <= NF; i++) if (h[i] == "RetransSegs") r = $i }
		$1 == "TcpExt:" && !xh { for (i = 2; i <= NF; i++) x[i] = $i; xh = 1; next }
		$1 == "TcpExt:" { for (i = 2; i <= NF; i++) if (x[i] == "TCPSynRetrans") s = $i }
		END { print r + 0, s + 0 }' /proc/net/snmp /proc/net/netstat
}

# SYNs the backends dropped because they hit a TIME_WAIT socket of an earlier
# connection with the same 4-tuple and an older timestamp (TcpExtPAWSTimewait): the
# NAT in front (the dp's SNAT, MASQUERADE) reused a source port too early.
backend_paws_snap() {
	local i n=0 v
	for i in $(seq 1 "$TOPO_BACKENDS"); do
		v=$(ip netns exec "$(topo_ns_b "$i")" awk '
			$1 == "TcpExt:" && !xh { for (i = 2; i <= NF; i++) x[i] = $i; xh = 1; next }
			$1 == "TcpExt:" { for (i = 2; i <= NF; i++) if (x[i] == "PAWSTimewait") s = $i }
			END { print s + 0 }' /proc/net/netstat)
		n=$((n + v))
	done
	echo "$n"
}

# wrk time unit -> ms
to_ms() { awk -v v="$1" 'BEGIN {
	n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
	if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
	printf "%.3f", n }'; }

# Flush neighbour caches so nobody keeps the previous owner's MAC of .1/.100/.2.
flush_neigh() {
	local i
	ip -n "$TOPO_NS_C" neigh flush all 2>/dev/null || true
	ip -n "$TOPO_NS_DP" neigh flush all 2>/dev/null || true
	for i in $(seq 1 "$TOPO_BACKENDS"); do ip -n "$(topo_ns_b "$i")" neigh flush all 2>/dev/null || true; done
}

# Each target starts without the TIME_WAIT sockets the previous one left behind:
# otherwise its NAT (a fresh dp's SNAT ports, MASQUERADE on 198.19.0.1 after
# haproxy's connections from 198.19.0.1) reuses 4-tuples the backends still hold and
# their SYNs are dropped (PAWS), 1 s each. ss -K needs CONFIG_INET_DIAG_DESTROY.
flush_tw() {
	local ns n=0
	for ns in "$TOPO_NS_C" "$TOPO_NS_DP" $(for i in $(seq 1 "$TOPO_BACKENDS"); do topo_ns_b "$i"; done); do
		ip netns exec "$ns" ss -K -tan state time-wait >/dev/null 2>&1 || true
		n=$((n + $(ip netns exec "$ns" ss -tan state time-wait | tail -n +2 | wc -l)))
	done
	[ "$n" = 0 ] || note "$n TIME_WAIT sockets left from the previous target (ss -K unsupported?)"
}

# The path works: every backend answers through the VIP within a few requests.
check_path() { # label
	local seen="" who i
	flush_tw
	for i in $(seq 1 12); do
		who=$(ip netns exec "$TOPO_NS_C" curl -s -m 1 "$URL" || true)
		case " $seen " in *" $who "*) ;; *) [ -n "$who" ] && seen="$seen $who" ;; esac
		[ "$(echo "$seen" | wc -w)" -ge "$TOPO_BACKENDS" ] && break
	done
	if [ -z "$seen" ]; then
		note "$1: no answer from $URL"
		return 1
	fi
	note "$1: path ok, answered by:$seen"
}

# One measured wrk run (after a 1 s warm-up for the keep-alive one). Prints
# <prefix>_rps (or _cps), then p50/p99 (ms), errors, cpu_pct, others_cpu_pct,
# client_retrans, client_syn_retrans under <prefix>_ (or <prefix>_cps_).
run_wrk() { # key-prefix rps|cps [extra wrk args]
	local pfx=$1 rk=$2 out b0 t0 b1 t1 r0 s0 r1 s1 w0 w1 f rate p50 p99 errs k nreq perf_pid=""
	shift 2
	if [ "$rk" = rps ]; then # warm-up (the cps run follows the rps run directly)
		ip netns exec "$TOPO_NS_C" timeout -k 2 $((DUR + 3)) wrk -t"$THREADS" -c"$CONNS" -d1s "$URL" >/dev/null 2>&1 || true
	fi
	read -r r0 s0 < <(retrans_snap)
	w0=$(backend_paws_snap)
	foreign_snap start
	k=${pfx}_; [ "$rk" = rps ] || k=${pfx}_cps_
	if [ "$PERF" = 1 ]; then
		mkdir -p "$PERF_DIR"
		perf record -q -e cpu-clock -F 499 -a -g -o "$PERF_DIR/${k%_}.data" -- sleep "$DUR" \
			>/dev/null 2>&1 &
		perf_pid=$!
	fi
	read -r b0 t0 < <(cpu_snap)
	# In the background: a TERM from the watchdog interrupts `wait` at once.
	ip netns exec "$TOPO_NS_C" timeout -k 5 $((DUR + 15)) wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" \
		--latency "$@" "$URL" > "$TOPO_DIR/wrk.out" 2>&1 &
	wait $! || true
	out=$(cat "$TOPO_DIR/wrk.out")
	read -r b1 t1 < <(cpu_snap)
	if [ -n "$perf_pid" ]; then
		wait "$perf_pid" || true
		perf report -i "$PERF_DIR/${k%_}.data" --no-children --sort comm,dso,sym --stdio \
			--percent-limit 0.7 -g none 2>/dev/null | grep -v '^$' | head -60 > "$PERF_DIR/${k%_}.txt" || true
		note "${k%_}: perf profile in $PERF_DIR/${k%_}.txt"
	fi
	f=$(foreign_snap end)
	read -r r1 s1 < <(retrans_snap)
	w1=$(backend_paws_snap)
	rate=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	nreq=$(awk '/ requests in / {print $1; exit}' <<<"$out")
	errs=$(awk '/Socket errors:/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10}
		    /Non-2xx/ {n += $NF} END {print n + 0}' <<<"$out")
	if [ -z "$rate" ]; then
		note "$pfx: wrk gave no figure:"; sed 's/^/#   /' <<<"$out" >&2
		rate=0
	fi
	# rps run: <p>_rps, <p>_p99_ms...; connection-per-request run: <p>_cps, <p>_cps_p99_ms...
	kv "${pfx}_$rk" "$rate"
	kv "${k}p50_ms" "$(to_ms "${p50:-0}")"
	kv "${k}p99_ms" "$(to_ms "${p99:-0}")"
	kv "${k}errors" "${errs:-0}"
	kv "${k}requests" "${nreq:-0}"
	kv "${k}cpu_pct" "$(( (b1 - b0) * 100 / (t1 - t0 > 0 ? t1 - t0 : 1) ))"
	# CPU-seconds of all CPUs per million requests (busy jiffies / HZ / requests * 1e6)
	kv "${k}cpu_s_per_mreq" "$(awk -v j=$((b1 - b0)) -v hz="$HZ" -v n="${nreq:-0}" \
		'BEGIN {if (n > 0) printf "%.1f", j / hz / n * 1e6; else print "nan"}')"
	kv "${k}cpu_s_per_mreq_minus_others" "$(awk -v j=$((b1 - b0 - f)) -v hz="$HZ" -v n="${nreq:-0}" \
		'BEGIN {if (n > 0) printf "%.1f", j / hz / n * 1e6; else print "nan"}')"
	kv "${k}others_cpu_pct" "$(( f * 100 / (t1 - t0 > 0 ? t1 - t0 : 1) ))"
	kv "${k}client_retrans" "$((r1 - r0))"
	kv "${k}client_syn_retrans" "$((s1 - s0))"
	kv "${k}backend_tw_paws" "$((w1 - w0))"
}

# Both variants for one target; also prints the main (untagged) keys when $2 is set.
# (No command substitution around wrk: the watchdog's TERM must not wait for it.)
measure() { # prefix [alias-prefix]
	local f=$TOPO_DIR/measure.out
	{
		kv "$1_loadavg" "$(cut -d' ' -f1 /proc/loadavg)"
		run_wrk "$1" rps
		if [ "$DO_CLOSE" = 1 ]; then run_wrk "$1" cps -H 'Connection: close'; fi
	} > "$f"
	cat "$f"
	if [ -n "${2:-}" ]; then sed "s/^$1_/$2_/" "$f"; fi
}

# Packets the kernel received on ext and int (the veth's RX counter).
veth_rx() { echo "$(ip netns exec "$TOPO_NS_DP" cat /sys/class/net/ext/statistics/rx_packets) $(ip netns exec "$TOPO_NS_DP" cat /sys/class/net/int/statistics/rx_packets)"; }

# The dp's counters, and how many packets the veths received that the dp never
# did ("lost": af_packet ring overruns while the worker sleeps or is preempted).
dp_drops() { # veth rx ext/int at dp start
	local base=$1
	topo_ctl '{"op":"stats.get"}' 2>/dev/null | /usr/bin/python3 -c '
import json, sys
base = [int(x) for x in sys.argv[1].split()]
now = [int(x) for x in sys.argv[2].split()]
try:
    r = json.load(sys.stdin)["result"]
    g = r["global"]
except Exception:
    sys.exit(0)
d = {k: v for k, v in g["drops"].items() if v}
for p in r.get("ports", []):
    for k in ("nic_missed", "nic_rx_errors", "nic_tx_errors"):
        if p.get(k):
            d["%s.%s" % (p["name"], k)] = p[k]
lost = ["%s=%d" % (p["name"], now[i] - base[i] - p["rx_packets"]) for i, p in enumerate(r.get("ports", [])[:2])]
print("rx=%d tx=%d ct_created=%d idle_sleeps=%d drops=%s lost_before_dp: %s" % (g["rx_packets"],
      g["tx_packets"], g["ct_created"], g.get("idle_sleeps", 0), d or "none", " ".join(lost)))
' "$base" "$(veth_rx)" || true
}

# time_left seconds: is there room for one more target (both wrk runs + setup)?
time_left() { [ $(( $(date +%s) - T0 + $1 )) -lt "$BUDGET" ]; }
RUN_COST=$(( DUR * (DO_CLOSE == 1 ? 2 : 1) + 8 ))

# edgelb on af_packet (keys edgelb_sleep<N>_*, and edgelb_* at BENCH_IDLE_SLEEP_US)
# or on af_xdp (keys edgelb_xdp_*); "old": BENCH_EDGELB_OLD's binary on af_packet
# (keys edgelb_old_*).
bench_edgelb() { # idle_sleep_us [af_packet|af_xdp|old]
	local s=$1 pmd=${2:-af_packet} base label pfx alias="" EDGELB_BUILD=$EDGELB_BUILD
	label="edgelb ($pmd) idle_sleep_us=$s"
	if [ "$pmd" = af_xdp ]; then pfx=edgelb_xdp
	elif [ "$pmd" = old ]; then
		pfx=edgelb_old pmd=af_packet EDGELB_BUILD=$TOPO_DIR/bin-old
		label="edgelb_old (af_packet) idle_sleep_us=$s"
	else
		pfx=edgelb_sleep$s
		[ "$s" = "$MAIN_SLEEP" ] && alias=edgelb
	fi
	flush_neigh
	TOPO_PMD=$pmd TOPO_IDLE_SLEEP_US=$s topo_dp_conf "$TOPO_DIR/dp.conf"
	if ! topo_dp_start "$TOPO_DIR/dp.conf" 0,1 2>"$TOPO_DIR/dp.err"; then
		note "$label: the dp did not start:"; sed 's/^/#   /' "$TOPO_DIR/dp.err" | tail -20 >&2
		FAILED="$FAILED $pfx"
		topo_dp_stop
		topo_dp_forget_state
		return 0
	fi
	base=$(veth_rx)
	note "$label: dp started ($(topo_eal_mem 512))"
	# The dp's threads (tid:name), to pick its worker out of a system-wide perf profile.
	[ "$PERF" != 1 ] || note "$label: dp pid $(cat "$TOPO_DIR/dp.pid"), threads:$(for t in /proc/"$(cat "$TOPO_DIR/dp.pid")"/task/*; do
		printf ' %s:%s' "${t##*/}" "$(cat "$t/comm" 2>/dev/null)"; done)"
	topo_ctl "{\"op\":\"service.upsert\",\"service\":$(topo_svc_json bench/web "$VIP4" 80 tcp 8080)}" >/dev/null
	if check_path "$label"; then
		measure "$pfx" ${alias:+"$alias"}
		note "$label dp: $(dp_drops "$base")"
	else
		FAILED="$FAILED $pfx"; sed 's/^/#   /' "$TOPO_DIR/dp.log" | tail -20 >&2
	fi
	topo_dp_stop
	# A restarted dp adopts the last one's connections and SNAT ports (cooling
	# for snat_reuse_delay_s): every contender starts from an empty table.
	topo_dp_forget_state
	note "$label: dp stopped"
}

# The kernel of the dp namespace takes over the dp's addresses.
kernel_up() {
	flush_neigh
	# An af_xdp dp detaches its XDP program on exit; make sure of it.
	ip -n "$TOPO_NS_DP" link set dev ext xdp off 2>/dev/null || true
	ip -n "$TOPO_NS_DP" link set dev int xdp off 2>/dev/null || true
	ip netns exec "$TOPO_NS_DP" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$TOPO_NS_DP" addr add 198.18.0.1/24 dev ext
	ip -n "$TOPO_NS_DP" addr add "$VIP4/32" dev ext
	ip -n "$TOPO_NS_DP" addr add 198.19.0.1/24 dev int
}

# ... and gives them back: no addresses, no forwarding, no netfilter tables (so that
# conntrack hooks are gone too and cost the dp's runs nothing).
kernel_down() {
	ip netns exec "$TOPO_NS_DP" nft flush ruleset 2>/dev/null || true
	ip netns exec "$TOPO_NS_DP" sysctl -qw net.ipv4.ip_forward=0
	ip -n "$TOPO_NS_DP" addr flush dev ext
	ip -n "$TOPO_NS_DP" addr flush dev int
	flush_neigh
}

bench_haproxy() {
	local cfg=$TOPO_DIR/haproxy.cfg i
	{
		cat <<CFG
global
	maxconn 8000
$([ "$HAPROXY_THREADS" = auto ] || printf '\tnbthread %s' "$HAPROXY_THREADS")
	log stderr format raw local0 emerg
defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend fe
	bind $VIP4:80
	default_backend be
backend be
	balance roundrobin
CFG
		for i in $(seq 1 "$TOPO_BACKENDS"); do echo "	server b$i $(topo_b4 "$i"):8080"; done
	} > "$cfg"
	ip netns exec "$TOPO_NS_DP" haproxy -db -f "$cfg" > "$TOPO_DIR/haproxy.log" 2>&1 &
	echo $! > "$TOPO_DIR/haproxy.pid"
	for _ in $(seq 1 50); do
		ip netns exec "$TOPO_NS_DP" ss -ltn "sport = :80" | grep -q LISTEN && break
		sleep 0.1
	done
	if check_path "haproxy (mode tcp, nbthread $HAPROXY_THREADS)"; then
		kv haproxy_nbthread "$([ "$HAPROXY_THREADS" = auto ] && nproc || echo "$HAPROXY_THREADS")"
		measure haproxy
	else FAILED="$FAILED haproxy"; sed 's/^/#   /' "$TOPO_DIR/haproxy.log" >&2; fi
	kill "$(cat "$TOPO_DIR/haproxy.pid")" 2>/dev/null || true
	wait "$(cat "$TOPO_DIR/haproxy.pid")" 2>/dev/null || true
	rm -f "$TOPO_DIR/haproxy.pid"
}

# What kube-proxy knows about the service (scripts/lib/kubeproxy.sh): the VIP is its
# LoadBalancer IP; the ClusterIP, service and pod CIDRs, node port are there for
# the rules that kube-proxy writes with them (the benchmark's traffic uses the VIP).
# shellcheck disable=SC2034 # read by scripts/lib/kubeproxy.sh
{
	KP_VIP=$VIP4
	KP_PORT=80
	KP_BACKENDS=$(for i in $(seq 1 "$TOPO_BACKENDS"); do printf '%s:8080 ' "$(topo_b4 "$i")"; done)
	KP_CLUSTER_IP=198.18.96.10
	KP_SERVICE_CIDR=198.18.96.0/24
	KP_POD_CIDR=198.19.0.0/24
	KP_NODE_IPS="198.18.0.1 198.19.0.1"
	KP_NODEPORT=30080
	KP_MASQ_FULLY=${BENCH_RANDOM_FULLY:-1}
}

bench_iptables() {
	kp_iptables_up "$TOPO_NS_DP"
	note "iptables: rules loaded"
	# The VIP stays on ext (as kube-proxy's LB IPs are on the node); DNAT happens in
	# PREROUTING, so packets to it are forwarded, never delivered locally.
	if check_path "iptables DNAT ($(iptables -V 2>/dev/null | awk '{print $2, $3}'))"; then measure iptables
	else FAILED="$FAILED iptables"; fi
	kp_iptables_down "$TOPO_NS_DP"
}

bench_ipvs() {
	local why
	if ! why=$(kp_ipvs_check "$TOPO_NS_DP"); then
		note "ipvs: not available here: $why"
		kv ipvs_available 0
		return 0
	fi
	# The VIP moves from ext to kube-ipvs0 (local either way; IPVS takes it in LOCAL_IN).
	ip -n "$TOPO_NS_DP" addr del "$VIP4/32" dev ext
	kp_ipvs_up "$TOPO_NS_DP"
	note "ipvs: virtual server and rules loaded"
	if check_path "ipvs (ipvsadm $(ipvsadm --version 2>/dev/null | awk '{print $2}'))"; then measure ipvs
	else FAILED="$FAILED ipvs"; fi
	kp_ipvs_down "$TOPO_NS_DP"
	ip -n "$TOPO_NS_DP" addr add "$VIP4/32" dev ext
}

bench_nftables() {
	kp_nft_up "$TOPO_NS_DP"
	note "nftables: table ip kube-proxy loaded"
	if check_path "nftables ($(nft --version | awk '{print $2}'))"; then measure nftables
	else FAILED="$FAILED nftables"; fi
	kp_nft_down "$TOPO_NS_DP"
}

# The main comparison first (BENCH_TARGETS, edgelb at BENCH_IDLE_SLEEP_US), then
# edgelb at the other idle_sleep_us values, so the budget cuts the sweep, not the main figures.
ORDER=""
for t in $TARGETS; do
	case $t in
	edgelb) ORDER="$ORDER edgelb:$MAIN_SLEEP" ;;
	edgelb_xdp) ORDER="$ORDER edgelb_xdp:$MAIN_SLEEP" ;;
	edgelb_old) [ -z "$OLD_DP" ] || ORDER="$ORDER edgelb_old:$MAIN_SLEEP" ;;
	*) ORDER="$ORDER $t" ;;
	esac
	# BENCH_EDGELB_OLD set and edgelb_old not placed: right after edgelb.
	if [ "$t" = edgelb ] && [ -n "$OLD_DP" ]; then
		case " $TARGETS " in *" edgelb_old "*) ;; *) ORDER="$ORDER edgelb_old:$MAIN_SLEEP" ;; esac
	fi
done
case " $TARGETS " in *" edgelb "*)
	for s in $SLEEPS; do [ "$s" = "$MAIN_SLEEP" ] || ORDER="$ORDER edgelb:$s"; done ;;
esac
note "wrk -t$THREADS -c$CONNS -d${DUR}s --latency $URL (and with -H 'Connection: close'); order:$ORDER"
FAILED=""
kernel_owned=0
cost=$RUN_COST # the longest a target took so far (the machine may be loaded)
for t in $ORDER; do
	time_left "$cost" || { note "$t: skipped (time budget ${BUDGET}s)"; continue; }
	t_start=$(date +%s)
	case $t in
	edgelb:*)
		[ $kernel_owned = 0 ] || { kernel_down; kernel_owned=0; }
		bench_edgelb "${t#edgelb:}" ;;
	edgelb_xdp:*)
		[ $kernel_owned = 0 ] || { kernel_down; kernel_owned=0; }
		bench_edgelb "${t#edgelb_xdp:}" af_xdp ;;
	edgelb_old:*)
		[ $kernel_owned = 0 ] || { kernel_down; kernel_owned=0; }
		bench_edgelb "${t#edgelb_old:}" old ;;
	haproxy|iptables|ipvs|nftables)
		[ $kernel_owned = 1 ] || { kernel_up; kernel_owned=1; }
		"bench_$t" ;;
	*) note "unknown target $t" ;;
	esac
	[ $(( $(date +%s) - t_start + 3 )) -le "$cost" ] || cost=$(( $(date +%s) - t_start + 3 ))
done
kv elapsed_s $(( $(date +%s) - T0 ))
[ -z "$FAILED" ] || { note "no path through:$FAILED"; exit 1; }
