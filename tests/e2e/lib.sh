# lib.sh - shared helpers of the end-to-end tests (sourced, not run).
#
# Each test script sets E2E_NAME, sources this file and calls e2e_up. That builds
# the namespace topology of scripts/lib/topo.sh under its own prefix (TOPO=e2e-NAME,
# so it never collides with the demo or another test) and arranges for it to be
# torn down on every exit path. Background processes a test starts are recorded
# with e2e_bg and stopped by PID. Every wait is bounded.
#
# Needs root, iproute2, ethtool, nginx, curl, socat, tcpdump, /usr/bin/python3,
# and a built edgelb-dp in $EDGELB_BUILD (meson passes the build directory).

set -eEuo pipefail

# Not a failure of the product: meson reports exit status 77 as skipped.
e2e_unready() { echo "FAIL: $* (run scripts/setup.sh, as root)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || e2e_unready "needs root (network namespaces)"
for _t in ip ethtool nginx curl socat tcpdump ping /usr/bin/python3; do
	command -v "$_t" >/dev/null 2>&1 || e2e_unready "$_t not installed"
done

E2E_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export EDGELB_BUILD=${EDGELB_BUILD:-$E2E_SRC/build}
# Our own prefix and directory, whatever the environment says (the demo uses TOPO).
export TOPO=e2e-$E2E_NAME
unset TOPO_DIR
export TOPO_IDLE_SLEEP_US=${TOPO_IDLE_SLEEP_US:-50}
PY=/usr/bin/python3
# shellcheck source=scripts/lib/topo.sh
source "$E2E_SRC/scripts/lib/topo.sh"

E2E_PIDS=()
E2E_FAILED=0
E2E_CHECKS=0
E2E_T0=${EPOCHREALTIME/./}

# Messages go to stderr, so helpers used in $(...) still show them.
log() {
	local us=$((${EPOCHREALTIME/./} - E2E_T0))
	printf '[%s %3d.%02ds] %s\n' "$E2E_NAME" $((us / 1000000)) $((us / 10000 % 100)) "$*" >&2
}
ok() { E2E_CHECKS=$((E2E_CHECKS + 1)); log "ok: $*"; }
fail() {
	log "FAIL: $*"
	E2E_FAILED=1
	exit 1
}
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}

_e2e_err() { # line command
	[ "$BASHPID" = "$$" ] || return 0 # a subshell: its caller sees the status
	log "FAIL: unexpected error at line $1: $2"
	E2E_FAILED=1
}
trap '_e2e_err "$LINENO" "$BASH_COMMAND"' ERR

_e2e_cleanup() {
	local rc=$? pid
	trap - ERR
	set +e
	[ "$rc" -ne 0 ] && E2E_FAILED=1
	for pid in "${E2E_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	if [ "$E2E_FAILED" = 1 ] && [ -S "$TOPO_DIR/dp.sock" ]; then
		echo "---- edgelb-dp non-zero drops ----"
		e2e_drops
		echo "---- edgelb-dp ports ----"
		topo_ctl '{"op":"stats.get"}' | json 'r["result"]["ports"]'
		echo "---- links and neighbours ----"
		ip -n "$TOPO_NS_C" -s link show c0
		ip -n "$TOPO_NS_DP" -s link show ext
		ip -n "$TOPO_NS_C" neigh
		echo "---- client sockets ----"
		ip netns exec "$TOPO_NS_C" ss -tani
		echo "---- packet sockets in the dp namespace ----"
		ip netns exec "$TOPO_NS_DP" cat /proc/net/packet
		echo "---- edgelb-dp control counters ----"
		topo_ctl '{"op":"stats.get"}' | json '" ".join("%s=%d" % kv for kv in r["result"]["control"].items() if kv[1])'
		if [ -f "$TOPO_DIR/c0.txt" ]; then
			echo "---- client traffic (E2E_PCAP=1) ----"
			cat "$TOPO_DIR/c0.txt"
		fi
	fi
	# SIGINT first: a dp killed outright leaves its hugepage files behind.
	topo_dp_stop >/dev/null 2>&1
	rm -f /dev/hugepages/"$TOPO"-dpmap_* 2>/dev/null
	# The dp's persistent state (dp.state "auto"): kept by design, removed here.
	rm -f /dev/hugepages/edgelb-"$TOPO"-dp-* /dev/shm/edgelb-"$TOPO"-dp-* 2>/dev/null
	if [ "$E2E_FAILED" = 1 ] && [ -f "$TOPO_DIR/dp.log" ]; then
		echo "---- edgelb-dp log (last 30 lines) ----"
		tail -30 "$TOPO_DIR/dp.log"
	fi
	topo_down >/dev/null 2>&1
	if [ "$E2E_FAILED" = 1 ]; then
		log "FAILED"
		exit 1
	fi
	log "PASS ($E2E_CHECKS checks)"
	exit 0
}
trap _e2e_cleanup EXIT
trap 'exit 130' INT TERM

# Record a background process started by the test ($! after "cmd &").
e2e_bg() { E2E_PIDS+=("$1"); }

# Build the topology (topo.sh variables may be set before), write the dp config
# (to $E2E_CONF; a test may append services) and, unless E2E_NO_START=1, start it.
e2e_up() { # [workers] [lcores]
	[ -x "$EDGELB_BUILD/dp/edgelb-dp" ] || fail "no edgelb-dp in $EDGELB_BUILD (build first)"
	topo_up
	E2E_CONF=$TOPO_DIR/dp.conf
	topo_dp_conf "$E2E_CONF" "${1:-1}"
	if [ "${E2E_NO_START:-0}" != 1 ]; then
		topo_dp_start "$E2E_CONF" "${2:-0,1}" || fail "edgelb-dp did not start"
	fi
	if [ "${E2E_PCAP:-0}" = 1 ]; then
		# Debugging aid: the client's traffic, printed when the test fails.
		ip netns exec "$TOPO_NS_C" tcpdump -i c0 -nn -e -tt -l >"$TOPO_DIR/c0.txt" 2>/dev/null &
		e2e_bg $!
	fi
	log "topology $TOPO up (dp log: $TOPO_DIR/dp.log)"
}

# The dp still runs (did not crash during the test).
e2e_dp_alive() { kill -0 "$(cat "$TOPO_DIR/dp.pid")" 2>/dev/null; }

# ---- control socket --------------------------------------------------------

# json EXPR: evaluate a Python expression over the JSON document on stdin (r).
json() { $PY -c 'import json,sys; r=json.load(sys.stdin); v=eval(sys.argv[1]); print(v if not isinstance(v,(dict,list)) else json.dumps(v))' "$1"; }

# ctl REQUEST...: send the requests over one connection to the dp's control
# socket; fail unless every one is answered ok. Prints each result (a JSON
# object) on a line of its own.
ctl() {
	local rep line
	rep=$(printf '%s\n' "$@" | ip netns exec "$TOPO_NS_DP" socat -t 5 - "UNIX-CONNECT:$TOPO_DIR/dp.sock") ||
		fail "control socket: no reply to $*"
	if [ "$(grep -c '^{"id":null,"ok":true,"result":' <<<"$rep")" != $# ]; then
		fail "control request failed: $* -> $rep"
	fi
	while IFS= read -r line; do
		line=${line#\{\"id\":null,\"ok\":true,\"result\":}
		printf '%s\n' "${line%\}}"
	done <<<"$rep"
}

# Backends JSON for service specs. Each word: N (backend bN, active) or N=state
# or N=state=weight; the family follows the VIP.
backends_json() { # vip tport words...
	local vip=$1 tport=$2 out="" sep="" w i st wt addr
	shift 2
	for w in "$@"; do
		IFS='=' read -r i st wt <<<"$w"
		case $vip in *:*) addr=$(topo_b6 "$i") ;; *) addr=$(topo_b4 "$i") ;; esac
		out="$out$sep{\"address\":\"$addr\",\"port\":$tport,\"state\":\"${st:-active}\",\"weight\":${wt:-1}}"
		sep=,
	done
	echo "[$out]"
}

# upsert NAME VIP PORT PROTO TPORT EXTRA_JSON BACKEND_WORDS...: service.upsert
# with "wait" (answered once every worker uses the new service object). Between
# batch_begin and batch_end the requests are collected and sent together.
E2E_BATCH=()
E2E_BATCHING=0
upsert() {
	local name=$1 vip=$2 port=$3 proto=$4 tport=$5 extra=$6 req
	shift 6
	req="{\"op\":\"service.upsert\",\"wait\":true,\"service\":{\"name\":\"$name\",\"vip\":\"$vip\",\"port\":$port,\"protocol\":\"$proto\",\"backends\":$(backends_json "$vip" "$tport" "$@")${extra:+,$extra}}}"
	if [ "$E2E_BATCHING" = 1 ]; then
		E2E_BATCH+=("$req")
	else
		ctl "$req" >/dev/null
	fi
}
batch_begin() { E2E_BATCH=(); E2E_BATCHING=1; }
batch_end() {
	E2E_BATCHING=0
	[ ${#E2E_BATCH[@]} = 0 ] || ctl "${E2E_BATCH[@]}" >/dev/null
	E2E_BATCH=()
}

stats() { ctl '{"op":"stats.get"}'; }
# a global counter of stats.get, or a control-thread one
stat_global() { stats | json "r['global']['$1']"; }
stat_ctrl() { stats | json "r['control']['$1']"; }

e2e_drops() {
	topo_ctl '{"op":"stats.get"}' | json '" ".join("%s=%d" % (k, v) for k, v in r["result"]["global"]["drops"].items() if v) or "none"'
}

# ---- client side -----------------------------------------------------------

# in_c CMD...: run in the client namespace
in_c() { ip netns exec "$TOPO_NS_C" "$@"; }

url() { # vip port path
	case $1 in *:*) echo "http://[$1]:$2$3" ;; *) echo "http://$1:$2$3" ;; esac
}

# wait_answer VIP PORT: until VIP:PORT/id answers (one try a second, at most 5);
# fails after that. A first try that fails is logged with the dp's ARP counters.
wait_answer() {
	local t0 n=0
	t0=${EPOCHREALTIME/./}
	until in_c curl -s -m 1 -o /dev/null "$(url "$1" "$2" /id)"; do
		n=$((n + 1))
		[ $n -lt 5 ] || fail "$1:$2 does not answer"
		log "note: try $n to $1:$2 unanswered; dp: $(topo_ctl '{"op":"stats.get"}' |
			json '"ext rx %d, arp_requests_rx %d" % (r["result"]["ports"][0]["rx_packets"], r["result"]["control"]["arp_requests_rx"])')"
	done
	ok "$1:$2 answers ($((n + 1)) tries, $(((${EPOCHREALTIME/./} - t0) / 1000)) ms)"
}

# many_ids N VIP PORT [curl args]: N new connections to /id, one curl process
# ("Connection: close" makes it connect afresh for every URL: processes are slow
# to start on a loaded box). One answer per line: bN, or ERR for a failed
# request (or a reused connection, which would not be a new flow).
many_ids() {
	local n=$1 vip=$2 port=$3 u i urls=()
	shift 3
	u=$(url "$vip" "$port" /id)
	for i in $(seq 1 "$n"); do urls+=("$u"); done
	{ in_c curl -s -m 5 --connect-timeout 3 -H 'Connection: close' \
		-w '|%{num_connects}|%{http_code}\n' "$@" "${urls[@]}" 2>/dev/null || true; } |
		awk -F'|' '/^\|/ { print ($3 == 200 && $2 == 1 && body != "") ? body : "ERR"; body = ""; next }
			   { body = $0 }'
}

# count WORD < lines
count() { grep -cx "$1" || true; }
