#!/usr/bin/env bash
# bench-update.sh - how fast a backend change reaches the workers, and what it does
# to established flows, with 10,000 services configured and live traffic.
#
#   scripts/bench-update.sh            (root; needs a build: build/dp/edgelb-dp,
#                                       build/dp/bench/bench_maglev; gcc, python3)
#
# Topology (namespaces made and removed here; addresses in 198.18.0.0/15 only):
#
#   $TOPO-c: c0 --- ext [ edgelb-dp, $TOPO-dp ] int --- rx0 :$TOPO-sw
#   updbench send                 1 worker            updbench recv
#   FLOWS TCP ACK flows to         fnat to backends    records each flow's backend
#   198.18.0.100:80 at PPS         198.19.1.x:8080     (dst address) and which
#   (round robin, tagged)          via 198.19.0.254    tagged packets arrived
#
# Steps: start edgelb-dp (af_packet ports, net_af_packet0/1, one worker on lcore 1,
# the control thread on lcore 0); create SERVICES services over the control socket
# (SERVICES-1 with maglev_size 251 and 2 backends; the churned one, 198.18.0.100:80,
# with CHURN_BACKENDS backends and maglev_size CHURN_M); start the receiver and the
# sender and let every flow get established; then, with "wait": true on every
# upsert, at RATE/s open loop on one connection (at most WINDOW in flight):
#  1. spread: SPREAD_UPDATES upserts of small services picked at random;
#  2. hot: UPDATES upserts of the churned service that alternately add (with a
#     new weight each time) and remove one extra backend (198.19.1.200): the
#     backends the established flows use are never removed. Before it, 300
#     upserts of a small service (M=251, 2 backends) measure the grace-period
#     floor, and hello / ARP round trips are measured idle; during it, again
#     (a second control connection, ARP from the client namespace);
#  3. rolling: the churned service's backends replaced one by one by new
#     addresses (198.19.1.i -> 198.19.3.i), one step every ROLL_STEP_MS.
#
# Prints key=value lines, among them: services, flows,
# update_visible_p50_us / _p99_us (spread; the dp's visible_us: request read ->
# every worker past a quiescent state after the publish), update_rtt_* (client send
# -> reply), hot_update_visible_p50_us / _p99_us and hot_updates_lost (answers not
# ok, versions going back, or a final state other than the last spec sent),
# hot_updates_coalesced, hot_table_builds / hot_table_builds_cancelled (the dp's
# control counters over the hot phase), hot_tail_* (what the slowest 1 % of hot
# updates were made of, request by request: the medians over them of
# submitted_us, the wait for the builder, the build's wall clock, build -> publish,
# the grace period; HOT_TRACE=file writes every hot reply with how late the client
# sent it), ctl_rtt_idle_* / ctl_rtt_storm_* and arp_idle_* /
# arp_storm_* (control socket and ARP answer times), rolling_update_visible_*,
# rolling_established_misrouted / rolling_dropped, established_misrouted (hot
# phase: flows whose backend changed although it was never removed),
# dropped_during_churn (tagged packets sent during the hot churn that never
# reached the receiver: dp drops, af_packet losses, anything),
# dp_drops_during_churn (the dp's own drop counters over it), churn_steal_pct_cpuN
# (per CPU, the share of the hot churn the hypervisor gave to others: the
# machine's part of the tail), maglev_build_us
# (bench_maglev: M=65537, 1000 backends, wall clock), maglev_build_cpu_us (the
# same, thread CPU time) and maglev_build_churned_us (M=CHURN_M, the churned
# service's backend count, same build code).
#
# Environment (defaults): SERVICES (10000), UPDATES (10000), SPREAD_UPDATES (10000),
# RATE (1000), ROLL_STEP_MS (50),
# FLOWS (10000, at most 50000), PPS (20000), AFP_ARGS (,framecnt=8192), CHURN_M (65537), CHURN_BACKENDS (100),
# WINDOW (64: requests in flight at most; 1 = closed loop, the per-update service
# time without queueing), IDLE_SLEEP_US (0: the worker busy-polls), DP_NICE (0; e.g. -10 gives the dp's
# threads a larger share of a machine other work is using), GEN_CPU (unset; a CPU
# list, e.g. 1: the traffic sender and receiver and the control clients run there,
# with the worker, so the dp's control and builder threads have CPU 0 to
# themselves, as on a box whose control lcore has its own core; use it with
# IDLE_SLEEP_US=20 so the worker leaves them time), MAGLEV_CACHE_KB (the dp's
# dp.maglev_cache_kb, 2048; 0 builds every table: the hot churn's spec without the
# extra backend comes back every other update, and the cache copies its table),
# BUILDER_NICE (unset: the dp's default; else dp.builder_nice, the builder thread's
# nice above the dp's, 10 by default; 0 puts it level with the control thread;
# leave it unset for a dp older than the setting), WARMUP (2 s), TOPO (updb),
# EDGELB_BUILD (build), BUDGET (200 s: the whole run is stopped past it).
# Bounded: each step has a timeout; cleanup (processes by PID, namespaces) on
# any exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GEN=()
[ -n "${GEN_CPU:-}" ] && GEN=(taskset -c "$GEN_CPU")

SERVICES=${SERVICES:-10000}
UPDATES=${UPDATES:-10000}
SPREAD_UPDATES=${SPREAD_UPDATES:-10000}
ROLL_STEP_MS=${ROLL_STEP_MS:-50}
RATE=${RATE:-1000}
FLOWS=${FLOWS:-10000}
PPS=${PPS:-20000}
CHURN_M=${CHURN_M:-65537}
CHURN_BACKENDS=${CHURN_BACKENDS:-100}
IDLE_SLEEP_US=${IDLE_SLEEP_US:-0}
MAGLEV_CACHE_KB=${MAGLEV_CACHE_KB:-2048}
BUILDER_NICE=${BUILDER_NICE:-}
DP_NICE=${DP_NICE:-0}
WARMUP=${WARMUP:-2}
# 8192 frames per af_packet ring (default 512 = 25 ms at 20 kpps): a worker that
# the shared VM deschedules for a while still finds the packets there.
AFP_ARGS=${AFP_ARGS-,framecnt=8192}
BUDGET=${BUDGET:-200}
SRC_BUILD=${EDGELB_BUILD:-$ROOT/build}
export TOPO=${TOPO:-updb}
export TOPO_DIR=/tmp/edgelb-$TOPO
PY=/usr/bin/python3
export WINDOW=${WINDOW:-64}
EXTRA=198.19.1.200

fail() { echo "bench-update: $1 failed" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench-update: needs root (namespaces)" >&2; exit 1; }
[ "$FLOWS" -le 50000 ] || { echo "bench-update: FLOWS at most 50000" >&2; exit 1; }
[ "$CHURN_BACKENDS" -le 199 ] || { echo "bench-update: CHURN_BACKENDS at most 199" >&2; exit 1; }
for f in "$SRC_BUILD/dp/edgelb-dp" "$SRC_BUILD/dp/bench/bench_maglev"; do
	[ -x "$f" ] || { echo "bench-update: no $f (build first: ninja -C build)" >&2; exit 1; }
done

# shellcheck source=scripts/lib/topo.sh
. "$ROOT/scripts/lib/topo.sh"

WORK=$(mktemp -d /tmp/bench-update.XXXXXX)
SPID="" RPID="" CPID="" APID="" WATCHDOG=""
cleanup() {
	trap - EXIT INT TERM
	for p in $CPID $APID $SPID $RPID; do kill -TERM "$p" 2>/dev/null || true; done
	# They write their results on the way out: let them, before WORK goes.
	for p in $CPID $SPID $RPID; do wait "$p" 2>/dev/null || true; done
	topo_dp_stop 2>/dev/null || true
	topo_down 2>/dev/null || true
	[ -z "$WATCHDOG" ] || kill "$WATCHDOG" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "bench-update: stopped (signal or budget of ${BUDGET}s)" >&2; exit 1' INT TERM

END_AT=$(($(date +%s) + BUDGET))
(while [ "$(date +%s)" -lt "$END_AT" ]; do sleep 1; done; kill -TERM $$ 2>/dev/null) &
WATCHDOG=$!

# The helper (and a copy of the dp: others may rebuild build/ meanwhile).
gcc -std=gnu11 -O2 -Wall -Iinclude -Idp -Idp/lib scripts/bench-update/updbench.c dp/lib/maglev.c dp/lib/maglev_claim.c \
	-o "$WORK/updbench"
BIN=$WORK/updbench

topo_down
mkdir -p "$TOPO_DIR/bin/dp"
cp "$SRC_BUILD/dp/edgelb-dp" "$TOPO_DIR/bin/dp/edgelb-dp"
export EDGELB_BUILD=$TOPO_DIR/bin
for ns in "$TOPO_NS_C" "$TOPO_NS_DP" "$TOPO_NS_SW"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
_topo_veth "$TOPO_NS_C" c0 "$TOPO_NS_DP" ext
_topo_veth "$TOPO_NS_DP" int "$TOPO_NS_SW" rx0
mac_of() { ip -n "$1" -o link show "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }
CMAC=$(mac_of "$TOPO_NS_C" c0)
EXTMAC=$(mac_of "$TOPO_NS_DP" ext)
RXMAC=$(mac_of "$TOPO_NS_SW" rx0)

# Backends 198.19.1.0/24 sit behind 198.19.0.254 = the receiver's MAC.
cat > "$WORK/dp.conf" <<CONF
dp: {
  workers = [1];
  idle_sleep_us = $IDLE_SLEEP_US;
  maglev_cache_kb = $MAGLEV_CACHE_KB;
${BUILDER_NICE:+  builder_nice = $BUILDER_NICE;}
  max_services = 16384;
  max_backends = 65536;
  control_socket = "$TOPO_DIR/dp.sock";
};
conntrack: { capacity = 131072; };
ports = (
  { name = "ext"; device = "net_af_packet0,iface=ext$AFP_ARGS"; role = "external";
    addresses = ["198.18.0.1/24"]; },
  { name = "int"; device = "net_af_packet1,iface=int$AFP_ARGS"; role = "internal";
    addresses = ["198.19.0.1/24"]; local_addresses = ["198.19.0.2", "198.19.0.3"]; }
);
routes = ( { prefix = "198.19.1.0/24"; via = "198.19.0.254"; },
           { prefix = "198.19.3.0/24"; via = "198.19.0.254"; } );
neighbours = ( { address = "198.19.0.254"; mac = "$RXMAC"; } );
CONF
# The receiver runs before the dp starts, so it sees every frame the dp sends.
MAXPKTS=$((PPS * (BUDGET + 10)))
ip netns exec "$TOPO_NS_SW" "${GEN[@]}" "$BIN" recv rx0 "$FLOWS" "$MAXPKTS" "$EXTRA" \
	"$WORK/recv.out" "$WORK/bitmap" "$WORK/moves" &
RPID=$!
topo_dp_start "$WORK/dp.conf" 0,1
SOCK=$TOPO_DIR/dp.sock
DP_TASKS=/proc/$(cat "$TOPO_DIR/dp.pid")/task
BUILDER_TID=$(grep -l 'lb-svc-build' "$DP_TASKS"/*/comm | head -1 | cut -d/ -f5)
# DP_NICE (e.g. -10): a larger CPU share for every dp thread on a shared machine;
# the builder keeps its distance (dp.builder_nice) below the others.
if [ "$DP_NICE" != 0 ]; then
	for t in "$DP_TASKS"/*; do renice -n "$DP_NICE" -p "${t##*/}" >/dev/null; done
	bn=${BUILDER_NICE:-10}
	[ -z "$BUILDER_TID" ] || renice -n $((DP_NICE + bn > 19 ? 19 : DP_NICE + bn)) \
		-p "$BUILDER_TID" >/dev/null
fi
# The builder's nice as the dp set it (field 19 of its stat).
kv_builder_ni=$([ -z "$BUILDER_TID" ] || awk '{print $19}' "$DP_TASKS/$BUILDER_TID/stat")

kv() { echo "$1=$2"; }
kv services_requested "$SERVICES"
kv churn_maglev_size "$CHURN_M"
kv churn_backends "$CHURN_BACKENDS"
kv workers 1
kv flows "$FLOWS"
kv traffic_pps "$PPS"
kv idle_sleep_us "$IDLE_SLEEP_US"
kv dp_nice "$DP_NICE"
kv builder_nice "${BUILDER_NICE:-default}"
kv builder_thread_nice "${kv_builder_ni:-unknown}"
kv gen_cpu "${GEN_CPU:-any}"
kv maglev_cache_kb "$MAGLEV_CACHE_KB"
kv window "$WINDOW"
kv nproc "$(nproc)"
kv loadavg_before "$(cut -d' ' -f1 /proc/loadavg)"

# Long steps run in the background and are waited for, so the budget's TERM
# interrupts them at once (bash runs a trap only after a foreground child exits).
bg_wait() { # what cmd...
	local what=$1
	shift
	"$@" &
	CPID=$!
	wait "$CPID" || fail "$what"
	CPID=""
}
bg_wait "creating the services" timeout 60 "$PY" scripts/bench-update/ctl.py setup "$SOCK" \
	"$SERVICES" "$CHURN_M" "$CHURN_BACKENDS" > "$WORK/setup.out"
sed -n 's/^setup_services=/services=/p' "$WORK/setup.out"
grep -v '^setup_services=' "$WORK/setup.out"

ip netns exec "$TOPO_NS_C" "${GEN[@]}" "$BIN" send c0 "$CMAC" "$EXTMAC" 198.18 198.18.0.100 80 \
	"$FLOWS" "$PPS" "$WORK/send.out" &
SPID=$!
sleep "$WARMUP"
if ! kill -0 "$SPID" || ! kill -0 "$RPID"; then fail "the traffic helpers (they exited)"; fi

# CPU time and run-queue wait of the dp's control thread and worker over the churn
# (/proc/PID/task/TID/schedstat: ns on CPU, ns runnable but waiting, slices).
DPPID=$(cat "$TOPO_DIR/dp.pid")
sched_snap() {
	local t
	date +%s%N
	for t in /proc/"$DPPID"/task/*; do
		if [ "${t##*/}" = "$DPPID" ]; then echo "control $(cat "$t/schedstat")"
		elif grep -q 'worker' "$t/comm"; then echo "worker $(cat "$t/schedstat")"
		elif grep -q 'lb-svc-build' "$t/comm"; then echo "builder $(cat "$t/schedstat")"; fi
	done
}
sched_snap > "$WORK/sched0"
bg_wait "the spread updates" timeout $((2 * SPREAD_UPDATES / ${RATE%.*} + 45)) "${GEN[@]}" "$PY" \
	scripts/bench-update/ctl.py spread "$SOCK" "$SPREAD_UPDATES" "$RATE" "$SERVICES" "$WORK/spread.out"
# ARP answer time from the client side, idle, then over the hot churn.
arp_probe() { # seconds prefix
	ip netns exec "$TOPO_NS_C" "${GEN[@]}" "$PY" scripts/bench-update/ctl.py arp c0 198.18.0.1 198.18.0.2 "$1" "$2"
}
arp_probe 1 arp_idle > "$WORK/arp_idle.out" || true
arp_probe "$((UPDATES / ${RATE%.*}))" arp_storm > "$WORK/arp_storm.out" &
APID=$!
grep -E '^cpu[0-9]+ ' /proc/stat > "$WORK/stat0" # the steal over the churn, below
# ctl.py bounds itself (2x the nominal churn time + 25 s); timeout is the backstop.
bg_wait "the churn" timeout $((2 * UPDATES / ${RATE%.*} + 90)) "${GEN[@]}" "$PY" scripts/bench-update/ctl.py \
	churn "$SOCK" "$UPDATES" "$RATE" "$CHURN_M" "$CHURN_BACKENDS" "$SPID" "$WORK/churn.out"
grep -E '^cpu[0-9]+ ' /proc/stat > "$WORK/stat1"
wait "$APID" || true
bg_wait "the rolling update" timeout $((CHURN_BACKENDS * ROLL_STEP_MS / 1000 + 60)) "${GEN[@]}" "$PY" \
	scripts/bench-update/ctl.py rolling "$SOCK" "$CHURN_M" "$CHURN_BACKENDS" "$SPID" "$ROLL_STEP_MS" \
	"$WORK/roll.out" "$WORK/removed"
sched_snap > "$WORK/sched1"
sleep 0.5
kill -TERM "$SPID"
wait "$SPID" || true
SPID=""
sleep 0.5
timeout 20 "$PY" scripts/bench-update/ctl.py stats "$SOCK" "$WORK/stats.out" || fail "stats.get"
kill -TERM "$RPID"
wait "$RPID" || true
RPID=""

"$PY" scripts/bench-update/ctl.py report "$WORK/send.out" "$WORK/recv.out" "$WORK/bitmap" \
	"$WORK/churn.out" "$WORK/stats.out" "$WORK/spread.out" "$WORK/roll.out" "$WORK/moves" \
	"$WORK/removed"
cat "$WORK/arp_idle.out" "$WORK/arp_storm.out" 2>/dev/null || true
kv loadavg_after "$(cut -d' ' -f1 /proc/loadavg)"
# Over the spread + grace-floor + churn phases: % of wall time on a CPU, and % runnable but
# waiting for one (other work on the machine).
awk 'NR == FNR { if (FNR == 1) t0 = $1; else { r0[$1] = $2; w0[$1] = $3 }; next }
     FNR == 1 { dt = $1 - t0; next }
     { printf "%s_thread_cpu_pct=%.1f\n%s_thread_runq_wait_pct=%.1f\n", $1, 100 * ($2 - r0[$1]) / dt,
       $1, 100 * ($3 - w0[$1]) / dt }' "$WORK/sched0" "$WORK/sched1"
# Over the hot churn, per CPU: % of its time the hypervisor ran something else while
# this VM had work for it (steal: the 8th number of a cpuN line of /proc/stat); a stolen millisecond delays
# every update in flight, whatever the dp does.
awk 'NR == FNR { for (i = 2; i <= 9; i++) a[$1, i] = $i; next }
     { tot = 0; for (i = 2; i <= 9; i++) tot += $i - a[$1, i]
       printf "churn_steal_pct_%s=%.2f\n", $1, tot ? 100 * ($9 - a[$1, 9]) / tot : 0 }' \
	"$WORK/stat0" "$WORK/stat1"
# Kernel-side losses on the veths (rx_dropped: the peer's backlog was full).
for nd in "$TOPO_NS_DP:ext" "$TOPO_NS_DP:int" "$TOPO_NS_SW:rx0" "$TOPO_NS_C:c0"; do
	for c in rx_dropped tx_dropped; do
		kv "veth_${nd#*:}_$c" "$(ip netns exec "${nd%%:*}" cat "/sys/class/net/${nd#*:}/statistics/$c")"
	done
done

# bench_maglev: M=65537, 1000 backends, wall clock (median, p99, min).
"$SRC_BUILD/dp/bench/bench_maglev" |
	sed -n 's/^\(maglev_build_us\|maglev_build_p99_us\|maglev_build_min_us\|maglev_build_cpu_us\|maglev_build_cpu_min_us\)=/\1=/p; s/^maglev_\([mn]\)=/maglev_build_\1=/p'
"$BIN" maglev "$CHURN_M" "$((CHURN_BACKENDS + 1))" 200 |
	sed 's/^maglev_m[0-9]*_n[0-9]*_us=/maglev_build_churned_us=/; s/^maglev_m[0-9]*_n[0-9]*_p99_us=/maglev_build_churned_p99_us=/; s/^maglev_m[0-9]*_n[0-9]*_cpu_us=/maglev_build_churned_cpu_us=/'
