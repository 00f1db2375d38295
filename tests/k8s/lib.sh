# lib.sh - shared helpers of the Kubernetes-mode tests (tests/k8s/test_*.sh, TESTS.md).
#
# Source it, then call k8s_begin NAME DEADLINE_S. Each test gets:
#   - a temporary directory $WORK (removed at the end unless EDGELB_TEST_KEEP=1),
#   - its own fake API server (fake_start: a free port, a kubeconfig in $WORK,
#     KUBECONFIG exported so kc = the real kubectl talks to it),
#   - edgelb-cp processes in kubernetes mode (cp_conf / cp_start), an optional
#     edgelb-dp on idle net_null ports (dp_start_null),
#   - assertions (ok / nok / eq / check / wait_until) that print "ok - ..." or
#     "FAIL - ..." and a final "N passed, M failed" (k8s_end),
#   - cleanup on every exit path (end, failure, SIGTERM/SIGINT from meson, the
#     watchdog at DEADLINE_S): every process started through proc_bg is stopped
#     by its PID (TERM, then KILL), extra cleanups (CLEANUPS) run last-in first-out.
# Exit status: 0 pass, 1 fail, 77 skip.
set -u

K8S_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$K8S_HERE/../.." && pwd)
BUILD=${EDGELB_BUILD:-$SRC/build}
CP_BIN=$BUILD/cp/edgelb-cp
DP_BIN=$BUILD/dp/edgelb-dp
KUBECTL=${KUBECTL:-/usr/bin/kubectl}
PY=/usr/bin/python3   # not a pyenv shim from PATH: those cost seconds per call
FAKE_BIN=$K8S_HERE/fake-apiserver
LB_CLASS=edgelb.io/lb

PASS=0
FAIL=0
FAILS=()
declare -A PIDS=()      # label -> pid of processes we started
declare -A LOGS=()      # label -> log file
CLEANUPS=()             # commands (strings) run at exit, last first
WATCHDOG_PID=
T0=$(( $(date +%s%N) / 1000000 ))

# ---------------------------------------------------------------- output / assertions
elapsed() { local d=$(( $(date +%s%N) / 1000000 - T0 )); printf '%d.%02d' $((d / 1000)) $((d % 1000 / 10)); }
log() { echo "# [$(elapsed)s] $*"; }
ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
nok() {
	FAIL=$((FAIL + 1)); FAILS+=("$1"); echo "FAIL - $1"
	if [ $# -gt 1 ] && [ -n "$2" ]; then printf '%s\n' "$2" | head -30 | sed 's/^/         /'; fi
	return 0
}
# die DESC [DETAIL]: a failure the test cannot go on from
die() { nok "$@"; k8s_end; }
eq() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "want [$3], got [$2]"; fi; }
# check DESC COMMAND...: passes when the command succeeds
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
# wait_until TIMEOUT_S 'SHELL CODE': poll (10/s) until the code succeeds; status 1 on
# timeout. The code is eval'd anew each time, in a subshell (write it in single quotes;
# positional parameters there are not the caller's: copy them to locals first). On a
# timeout, what the last attempt printed on stderr is shown.
wait_until() {
	local __t=$1 __end
	shift
	__end=$(( $(date +%s%N) / 1000000 + ${__t%.*} * 1000 ))
	while :; do
		( eval "$*" ) >/dev/null 2>"$WORK/wait.err" && return 0
		if [ $(( $(date +%s%N) / 1000000 )) -ge $__end ]; then
			[ -s "$WORK/wait.err" ] && sed 's/^/# wait_until: /' "$WORK/wait.err" | head -5
			return 1
		fi
		sleep 0.1
	done
}
# now_ms: wall clock in ms (for measuring latencies)
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---------------------------------------------------------------- lifecycle
k8s_begin() { # NAME DEADLINE_S
	K8S_NAME=$1
	K8S_DEADLINE=$2
	if [ "$(id -u)" != 0 ] && [ "${K8S_NEED_ROOT:-0}" = 1 ]; then
		echo "FAIL: needs root"; exit 1
	fi
	for b in "$CP_BIN" "$FAKE_BIN"; do
		[ -x "$b" ] || { echo "FAIL - $b missing (EDGELB_BUILD=$BUILD)"; echo "0 passed, 1 failed"; exit 1; }
	done
	for tool in curl jq "$KUBECTL"; do
		command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed: run scripts/setup.sh"; exit 1; }
	done
	WORK=$(mktemp -d "/tmp/edgelb-k8s-$K8S_NAME.XXXXXX")
	chmod 755 "$WORK"
	trap k8s_cleanup EXIT
	trap 'nok "stopped by a signal (meson timeout or Ctrl-C)"; k8s_end' INT TERM
	trap 'nok "watchdog: the test took longer than ${K8S_DEADLINE}s"; k8s_end' USR1
	# Watchdog: SIGUSR1 to us at the deadline (the trap runs after the current
	# command, which is always bounded by its own timeout).
	( trap 'kill $sp 2>/dev/null; exit 0' TERM
	  sleep "$K8S_DEADLINE" & sp=$!
	  wait $sp && kill -USR1 $$ ) >/dev/null 2>&1 &
	WATCHDOG_PID=$!
	log "$K8S_NAME: work dir $WORK, build $BUILD, kubectl $KUBECTL"
}

k8s_end() {
	trap - INT TERM USR1
	K8S_ENDED=1
	if [ "$FAIL" -ne 0 ]; then
		echo "# failed checks:"
		printf '#   %s\n' "${FAILS[@]}"
	fi
	[ "$FAIL" -ne 0 ] || [ "${K8S_DUMP:-0}" = 1 ] && dump_logs
	log "$K8S_NAME: $([ "$FAIL" -eq 0 ] && echo PASS || echo FAILED)"
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ] && exit 0
	exit 1
}

dump_logs() {
	local l
	for l in "${!LOGS[@]}"; do
		[ -s "${LOGS[$l]}" ] || continue
		echo "# ---- $l log (${LOGS[$l]}, last 25 lines; the cp's retries of a missing dp socket left out) ----"
		grep -v 'dp sync: dp socket .*No such file' "${LOGS[$l]}" | tail -25 | sed 's/^/#   /'
	done
}

# proc_bg LABEL COMMAND...: start in the background, output to $WORK/LABEL.log
proc_bg() {
	local label=$1
	shift
	LOGS[$label]=$WORK/$label.log
	"$@" >>"$WORK/$label.log" 2>&1 </dev/null &
	PIDS[$label]=$!
}
# proc_stop LABEL [SIG]: signal (TERM by default), wait up to 5 s, then KILL
proc_stop() {
	local label=$1 sig=${2:-TERM} pid
	pid=${PIDS[$label]:-}
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "PIDS[$label]"
	return 0
}
proc_alive() { local pid=${PIDS[$1]:-}; [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

k8s_cleanup() {
	local rc=$? i l
	trap - INT TERM USR1
	if [ -z "${K8S_ENDED:-}" ]; then
		# The script stopped without k8s_end (a bash error, set -u...): say so.
		nok "the test script ended unexpectedly (status $rc)"
		dump_logs
		echo "$PASS passed, $FAIL failed"
	fi
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[$i]}" >/dev/null 2>&1; done
	for l in "${!PIDS[@]}"; do kill -TERM "${PIDS[$l]}" 2>/dev/null; done
	for _ in $(seq 50); do
		local any=0
		for l in "${!PIDS[@]}"; do kill -0 "${PIDS[$l]}" 2>/dev/null && any=1; done
		[ $any = 0 ] && break
		sleep 0.1
	done
	for l in "${!PIDS[@]}"; do kill -KILL "${PIDS[$l]}" 2>/dev/null; done
	[ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
	# The dps' persistent state (dp.state "auto"): kept by design, removed here.
	rm -f /dev/hugepages/edgelb-k8s$$* /dev/shm/edgelb-k8s$$* 2>/dev/null
	if [ "${EDGELB_TEST_KEEP:-0}" = 1 ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
}

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- the fake API server
# fake_start: start it, wait until it answers, write $WORK/kubeconfig, export KUBECONFIG.
fake_start() {
	rm -f "$WORK/fake.port"
	proc_bg fake "$FAKE_BIN" --port 0 --port-file "$WORK/fake.port" --verbose ${FAKE_ARGS:-}
	local up=0
	for _ in $(seq 100); do
		if [ -s "$WORK/fake.port" ] &&
			curl -sf --max-time 2 "http://127.0.0.1:$(cat "$WORK/fake.port")/healthz" >/dev/null; then
			up=1; break
		fi
		proc_alive fake || break
		sleep 0.1
	done
	[ $up = 1 ] || die "fake-apiserver did not start" "$(cat "$WORK/fake.log")"
	FAKE_PORT=$(cat "$WORK/fake.port")
	FAKE=http://127.0.0.1:$FAKE_PORT
	cat >"$WORK/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: $FAKE
contexts:
- name: fake
  context: {cluster: fake, user: fake, namespace: default}
current-context: fake
users:
- name: fake
  user: {}
EOF
	export KUBECONFIG=$WORK/kubeconfig
	log "fake-apiserver pid ${PIDS[fake]} on $FAKE"
}

# kc ARGS...: the real kubectl against the fake server (bounded)
kc() { timeout 30 "$KUBECTL" --cache-dir "$WORK/kcache" --request-timeout=10s "$@" 2>&1; }

# fake_req METHOD PATH [BODY [CONTENT-TYPE]]: body on stdout; HTTP code in $WORK/code
fake_req() {
	local m=$1 p=$2 body=${3:-} ct=${4:-application/json}
	if [ -n "$body" ]; then
		curl -s --max-time 10 -o "$WORK/resp" -w '%{http_code}' -X "$m" -H "Content-Type: $ct" \
			--data-binary "$body" "$FAKE$p" >"$WORK/code"
	else
		curl -s --max-time 10 -o "$WORK/resp" -w '%{http_code}' -X "$m" "$FAKE$p" >"$WORK/code"
	fi
	cat "$WORK/resp"
}
fake_code() { cat "$WORK/code"; }
# fake_fault JSON: POST /fake/faults; dies when the server refuses
fake_fault() {
	fake_req POST /fake/faults "$1" >/dev/null
	[ "$(fake_code)" = 200 ] || die "fault $1 refused: $(fake_code) $(cat "$WORK/resp")"
}

svc_path() { echo "/api/v1/namespaces/$1/services${2:+/$2}"; }
eps_path() { echo "/apis/discovery.k8s.io/v1/namespaces/$1/endpointslices${2:+/$2}"; }

# svc_create NS NAME SPEC_JSON [METADATA_EXTRA_JSON]: POST a Service; dies unless 201
svc_create() {
	local body meta=${4:-}
	[ -n "$meta" ] || meta='{}'
	body=$(jq -cn --arg ns "$1" --arg n "$2" --argjson spec "$3" --argjson meta "$meta" \
		'{apiVersion: "v1", kind: "Service", metadata: ({name: $n, namespace: $ns} + $meta), spec: $spec}')
	fake_req POST "$(svc_path "$1")" "$body" >/dev/null
	[ "$(fake_code)" = 201 ] || die "create Service $1/$2: HTTP $(fake_code)" "$(cat "$WORK/resp")"
}
# lb_spec PORTS_JSON [EXTRA_SPEC_JSON]: a LoadBalancer spec of our class
lb_spec() {
	local x=${2:-}
	[ -n "$x" ] || x='{}'
	jq -cn --arg c "$LB_CLASS" --argjson p "$1" --argjson x "$x" \
		'{type: "LoadBalancer", loadBalancerClass: $c, ports: $p} + $x'
}
# svc_patch NS NAME MERGE_PATCH_JSON: dies unless 200
svc_patch() {
	fake_req PATCH "$(svc_path "$1" "$2")" "$3" application/merge-patch+json >/dev/null
	[ "$(fake_code)" = 200 ] || die "patch Service $1/$2 with $3: HTTP $(fake_code)" "$(cat "$WORK/resp")"
}
svc_delete() {
	fake_req DELETE "$(svc_path "$1" "$2")" >/dev/null
	[ "$(fake_code)" = 200 ] || die "delete Service $1/$2: HTTP $(fake_code)" "$(cat "$WORK/resp")"
}
# eps_create NS NAME SERVICE ADDRESS_TYPE PORTS_JSON ENDPOINTS_JSON
eps_create() {
	local body
	body=$(jq -cn --arg ns "$1" --arg n "$2" --arg s "$3" --arg at "$4" --argjson p "$5" --argjson e "$6" \
		'{apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
		  metadata: {name: $n, namespace: $ns, labels: {"kubernetes.io/service-name": $s}},
		  addressType: $at, ports: $p, endpoints: $e}')
	fake_req POST "$(eps_path "$1")" "$body" >/dev/null
	[ "$(fake_code)" = 201 ] || die "create EndpointSlice $1/$2: HTTP $(fake_code)" "$(cat "$WORK/resp")"
}
# svc_get NS NAME: the Service as JSON ("" when missing)
svc_get() {
	local j
	j=$(fake_req GET "$(svc_path "$1" "$2")")
	[ "$(fake_code)" = 200 ] && echo "$j"
}
# svc_ips NS NAME: the status ingress IPs, space-separated, in order
svc_ips() { svc_get "$1" "$2" | jq -r '[.status.loadBalancer.ingress[]?.ip] | join(" ")'; }
# svc_status_is NS NAME "IPS": status ingress exactly IPS ("" = cleared)
svc_status_is() { [ "$(svc_ips "$1" "$2")" = "$3" ]; }
svc_nips_is() { [ "$(svc_get "$1" "$2" | jq '[.status.loadBalancer.ingress[]?] | length')" = "$3" ]; }
# status_map NS: "name ip[,ip]" per Service of type LoadBalancer in NS, sorted by name
status_map() {
	fake_req GET "$(svc_path "$1")" | jq -r '.items[] | select(.spec.type == "LoadBalancer") |
		"\(.metadata.name) \([.status.loadBalancer.ingress[]?.ip] | join(","))"' | sort
}
# events NS: "name reason message" lines of the Events on Services in NS
events() {
	fake_req GET "/api/v1/namespaces/$1/events" |
		jq -r '.items[] | select(.involvedObject.kind == "Service") | "\(.involvedObject.name) \(.reason) \(.message)"'
}
# has_event NS NAME REASON [MESSAGE-REGEX]: an Event whose message contains the regex
has_event() { events "$1" | grep -Eq "^$2 $3 .*${4:-}"; }

# ---------------------------------------------------------------- edgelb-cp
# cp_conf FILE STATE_FILE DP_SOCK API_PORT [DEFAULT_CLASS] [POOLS] [EXTRA]
# CP_K8S_EXTRA (env): more settings inside kubernetes: { } (e.g. leader_election).
# POOLS: libconfig text of the pool list (default: "public" with 198.18.0.100-198.18.0.199
# and 2001:db8:1::100-2001:db8:1::1ff).
DEFAULT_POOLS='{ name = "public"; addresses = ["198.18.0.100-198.18.0.199", "2001:db8:1::100-2001:db8:1::1ff"]; }'
cp_conf() {
	cat >"$1" <<EOF
mode = "kubernetes";
dp_socket = "$3";
state_file = "$2";
api: { listen = "127.0.0.1:$4"; };
kubernetes: {
  kubeconfig = "$WORK/kubeconfig";
  load_balancer_class = "$LB_CLASS";
  default_class = ${5:-false};
  resync_s = ${CP_RESYNC:-300};
  ${CP_K8S_EXTRA:-}
};
pools = (
  ${6:-$DEFAULT_POOLS}
);
${7:-}
EOF
}

# cp_start LABEL CONF API_PORT: start edgelb-cp, wait for /healthz; sets CP_API
cp_start() {
	local label=$1 conf=$2 port=$3
	proc_bg "$label" "$CP_BIN" --config "$conf"
	CP_API=http://127.0.0.1:$port
	for _ in $(seq 100); do
		proc_alive "$label" || die "edgelb-cp ($label) exited" "$(tail -20 "$WORK/$label.log")"
		curl -sf --max-time 2 "$CP_API/healthz" >/dev/null && { log "edgelb-cp $label pid ${PIDS[$label]} API $CP_API"; return 0; }
		sleep 0.1
	done
	die "edgelb-cp ($label) did not answer /healthz" "$(tail -20 "$WORK/$label.log")"
}

# cp_wait_synced: both watches listed (the controller's caches are filled)
cp_wait_synced() {
	wait_until 15 '[ "$(metric_sum edgelb_k8s_relists_total)" -ge 2 ]' ||
		die "the cp did not list Services and EndpointSlices" "$(api /metrics | grep k8s_)"
}

# api PATH: GET from the cp's REST API
api() { curl -s --max-time 10 "$CP_API$1"; }
# cp_lb NS NAME: the cp's load balancer JSON ("null" when it has none)
cp_lb() { api /v1/loadbalancers | jq -c --arg ns "$1" --arg n "$2" '[.items[] | select(.namespace == $ns and .name == $n)][0]'; }
cp_lb_ips() { cp_lb "$1" "$2" | jq -r '(.ips // []) | join(" ")'; }
# cp_map NS: "name ip[,ip]" per load balancer of the cp in NS, sorted by name
cp_map() { api /v1/loadbalancers | jq -r --arg ns "$1" '.items[] | select(.namespace == $ns) | "\(.name) \((.ips // []) | join(","))"' | sort; }
cp_lb_count() { api /v1/loadbalancers | jq '.items | length'; }
# pool_used POOL ipv4|ipv6
pool_used() { api /v1/pools | jq --arg p "$1" --arg f "$2" '.items[] | select(.name == $p) | .[$f].used'; }
# metric NAME_WITH_LABELS: value of one sample ("" if absent)
metric() { api /metrics | awk -v n="$1" '$1 == n {print $2}'; }
# metric_sum NAME: sum over every sample of a family
metric_sum() { api /metrics | awk -v n="$1" 'index($1, n) == 1 && (substr($1, length(n) + 1, 1) == "{" || length($1) == length(n)) {s += $2} END {print s + 0}'; }

# in_range IP LO HI: IP (v4 or v6) within [LO, HI]
in_range() {
	"$PY" -c 'import ipaddress, sys
a, lo, hi = (ipaddress.ip_address(x) for x in sys.argv[1:4])
sys.exit(0 if a.version == lo.version and lo <= a <= hi else 1)' "$1" "$2" "$3" 2>/dev/null
}

# ---------------------------------------------------------------- edgelb-dp (net_null, idle)
# dp_start_null LABEL SOCK: a dp with one idle net_null port, control socket SOCK
dp_start_null() {
	local label=$1 sock=$2
	command -v socat >/dev/null || { echo "FAIL: socat not installed: run scripts/setup.sh"; exit 1; }
	[ -x "$DP_BIN" ] || die "$DP_BIN missing (EDGELB_BUILD=$BUILD)"
	cat >"$WORK/$label.conf" <<EOF
dp: { workers = [1]; idle_sleep_us = 1000; control_socket = "$sock"; };
conntrack: { capacity = 4096; };
ports = (
  { name = "p0"; device = "net_null0,no-rx=1"; role = "both"; mac = "02:00:00:00:00:01";
    addresses = ["198.18.255.1/24", "2001:db8:ff::1/64"];
    local_addresses = ["198.18.255.2", "2001:db8:ff::2"]; }
);
EOF
	rm -f "$sock"
	proc_bg "$label" "$DP_BIN" -l 0,1 --no-pci --no-huge -m 256 \
		--file-prefix "k8s$$$label" --log-level=user1,info -- --config "$WORK/$label.conf"
	CLEANUPS+=("rm -rf /var/run/dpdk/k8s$$$label")
	DP_SOCK=$sock
	for _ in $(seq 300); do
		proc_alive "$label" || die "edgelb-dp ($label) exited" "$(tail -20 "$WORK/$label.log")"
		[ -S "$sock" ] && dp_ctl '{"op":"hello","id":1}' | grep -q '"ok": *true' &&
			{ log "edgelb-dp $label pid ${PIDS[$label]} socket $sock"; return 0; }
		sleep 0.1
	done
	die "edgelb-dp ($label) did not open $sock" "$(tail -20 "$WORK/$label.log")"
}
# dp_ctl JSON: one request over $DP_SOCK, the reply line
dp_ctl() { printf '%s\n' "$1" | timeout 15 socat -t 5 -T 5 - "UNIX-CONNECT:$DP_SOCK" 2>/dev/null | head -1; }
# dp_services: the dp's services (service.list result .services) as a JSON array
dp_services() { dp_ctl '{"op":"service.list","id":1}' | jq -c '.result.services'; }
