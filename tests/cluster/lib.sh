# lib.sh - the cluster topology of the 'cluster' suite (sourced, not run).
#
#                        client ns  c0 198.18.100.10, 2001:db8:100::10
#                              |
#   router ns (BIRD 2, ECMP)  rc 198.18.100.1, 2001:db8:100::1
#        brf 198.18.0.254, 2001:db8:1::fe     brm 198.18.9.254 (BGP + BFD)
#          |             |                       |            |
#   box k ns: ext (edgelb-dp, 198.18.0.k, 2001:db8:1::k)   mgmt (kernel, 198.18.9.k,
#             int (edgelb-dp, 198.19.0.k, SNAT 198.19.0.10k)  BIRD 2 + edgelb-cp)
#          |
#   switch ns br0 ---- backend ns b1..b3: nginx :8080 (198.19.0.11..13, 2001:db8:2::11..13)
#
# Each box runs edgelb-dp (net_af_packet on ext/int, idle sleep, its own
# --file-prefix), edgelb-cp (bgp enabled, standalone API on 127.0.0.1:8470 in the
# box's namespace) and BIRD 2 with BFD; BGP runs over the management link
# (CL_EXCEPTION=1: over the data LAN, through the dp's exception tap "dpx"). The router's BIRD learns
# VIP/32 and /128 from every box (next hop: the box's dp address) and installs
# them as one multipath route (merge paths), hashed on L4 (fib_multipath_hash_policy=1).
# VIP 198.18.50.100 and 2001:db8:50::100 (each box's pool holds only those).
#
# CL_DP_EXTRA: more settings for the dp's `dp` group (test_exclimit.sh: its limits).
#
# CL_FLOWSYNC=1 (test_flowsync.sh): the boxes share their connections (flow sync
# between the dps) and the backends are routed: the router also sits on the
# backend LAN (198.19.0.254, 2001:db8:2::fe), the backends' default route; each
# box's SNAT addresses are 198.19.8.k and 2001:db8:8::k, off-link, announced by
# the box (next hop: its int port) and by its peers as backups (AS path
# prepended), see edgelb-cp's cluster group. The backends also run
# flowsync_server.py (TCP and UDP echo on port 9000).
#
# A test sets CL_NAME, sources this file, calls cl_up N. Everything is torn down
# on exit: processes by the PIDs recorded here, then the namespaces. Every wait
# is bounded. Private ASNs: router 65000, boxes 65001.

set -eEuo pipefail

CL_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export EDGELB_BUILD=${EDGELB_BUILD:-$CL_SRC/build}

# Every run that starts edgelb-dp or namespaces holds the shared machine's lock;
# a caller that already holds it (flock ... env EDGELB_SYSTEST_LOCKED=1 meson test)
# says so.
if [ -z "${EDGELB_SYSTEST_LOCKED:-}" ]; then
	export EDGELB_SYSTEST_LOCKED=1
	exec flock /tmp/edgelb-systest.lock "$0" "$@"
fi

cl_unready() { echo "FAIL: $* (run scripts/setup.sh, as root)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || cl_unready "needs root (network namespaces)"
for _t in ip ethtool nginx curl socat nft bird birdc /usr/bin/python3; do
	command -v "$_t" >/dev/null 2>&1 || cl_unready "$_t not installed"
done

P=cl-$CL_NAME
CL_DIR=/tmp/edgelb-$P
NS_R=$P-r
NS_C=$P-c
NS_SW=$P-sw
VIP4=198.18.50.100
VIP6=2001:db8:50::100
CLIENT4=198.18.100.10
PY=/usr/bin/python3
CL_BOXES=0
# Where BGP and BFD run: the management LAN (default), or with CL_EXCEPTION=1
# the data LAN, through each dp's exception tap "dpx" to the box's kernel.
if [ "${CL_EXCEPTION:-0}" = 1 ]; then
	CL_BOX_NET=198.18.0 CL_BOX_IF=dpx CL_ROUTER_IF=brf
else
	CL_BOX_NET=198.18.9 CL_BOX_IF=mgmt CL_ROUTER_IF=brm
fi
CL_PIDS=()
CL_FAILED=0
CL_T0=${EPOCHREALTIME/./}

ns_x() { echo "$P-x$1"; }
ns_b() { echo "$P-b$1"; }

log() {
	local us=$((${EPOCHREALTIME/./} - CL_T0))
	printf '[%s %3d.%02ds] %s\n' "$CL_NAME" $((us / 1000000)) $((us / 10000 % 100)) "$*" >&2
}
ok() { log "ok: $*"; }
fail() {
	log "FAIL: $*"
	CL_FAILED=1
	exit 1
}
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
# A figure for docs/performance.md: "figure: NAME VALUE".
figure() { log "figure: $*"; }
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
json() { $PY -c 'import json,sys; r=json.load(sys.stdin); v=eval(sys.argv[1]); print(v if not isinstance(v,(dict,list)) else json.dumps(v))' "$1"; }

_cl_err() {
	[ "$BASHPID" = "$$" ] || return 0
	log "FAIL: unexpected error at line $1: $2"
	CL_FAILED=1
}
trap '_cl_err "$LINENO" "$BASH_COMMAND"' ERR

_cl_diag() {
	local k
	echo "---- router: BGP and routes ----"
	birdc -s "$CL_DIR/r/bird.ctl" show protocols 2>&1 | head -20
	ip -n "$NS_R" route show 198.18.50.0/24
	ip -n "$NS_R" -6 route show 2001:db8:50::/64
	for k in $(seq 1 "$CL_BOXES"); do
		echo "---- box $k: bgp status ----"
		ip netns exec "$(ns_x "$k")" curl -s -m 2 http://127.0.0.1:8470/v1/bgp 2>&1 | head -c 2000
		echo
		echo "---- box $k: BIRD ----"
		birdc -s "$CL_DIR/x$k/bird.ctl" show protocols all up 2>&1 | grep -E "BGP|state|Error|Neighbor|Last" | head -8
		ip -n "$(ns_x "$k")" neigh 2>&1 | head -5
		ip -n "$(ns_x "$k")" -br addr 2>&1 | head -6
		echo "---- box $k: cp log (tail) ----"
		tail -15 "$CL_DIR/x$k/cp.log" 2>/dev/null
		echo "---- box $k: dp log (tail) ----"
		tail -8 "$CL_DIR/x$k/dp.log" 2>/dev/null
	done
}

# Stop what we started (by PID), then delete our namespaces. Runs on every exit.
cl_down() {
	local pid ns
	for pid in "${CL_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pidf in "$CL_DIR"/*.pid "$CL_DIR"/*/*.pid; do
		[ -f "$pidf" ] || continue
		kill "$(cat "$pidf")" 2>/dev/null || true
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$P-(r|c|sw|x[0-9]+|b[0-9]+)$"); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
			sleep 0.05
		done
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
		ip netns del "$ns" 2>/dev/null || true
	done
	# The dps' persistent state (dp.state "auto"): kept by design, removed here.
	rm -f /dev/hugepages/edgelb-"$P"-x* /dev/shm/edgelb-"$P"-x* 2>/dev/null
	rm -rf "$CL_DIR"
}

_cl_exit() {
	local rc=$?
	trap - ERR
	set +e
	[ "$rc" -ne 0 ] && CL_FAILED=1
	[ "$CL_FAILED" = 1 ] && _cl_diag >&2
	cl_down
	[ "$CL_FAILED" = 1 ] && exit 1
	exit "$rc"
}
trap _cl_exit EXIT
# A test killed by meson's timeout still cleans up.
trap 'exit 1' INT TERM

_nooffload() { ip netns exec "$1" ethtool -K "$2" rx off tx off tso off gso off gro off lro off >/dev/null 2>&1 || true; }
_veth() { # nsA devA nsB devB
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
	_nooffload "$1" "$2"
	_nooffload "$3" "$4"
}
_ns() {
	ip netns add "$1"
	ip -n "$1" link set lo up
}

_backend() { # i
	local i=$1 ns d
	ns=$(ns_b "$i")
	d=$CL_DIR/b$i
	mkdir -p "$d/www" "$d/tmp"
	echo "backend b$i" > "$d/www/index.html"
	head -c "${CL_BIGFILE_BYTES:-1000000}" /dev/urandom > "$d/www/big.bin"
	cat > "$d/nginx.conf" <<NGX
daemon off;
worker_processes 1;
pid $d/nginx.pid.run;
error_log $d/error.log warn;
events { worker_connections 2048; }
http {
	access_log off;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	server {
		listen 8080;
		listen [::]:8080;
		root $d/www;
		location = /id { default_type text/plain; return 200 "b$i\n"; }
		location = /slow { default_type application/octet-stream; limit_rate 100k; alias $d/www/big.bin; }
	}
	# Direct server return (CL_DSR=1): the packet arrives for VIP:80 unchanged.
	server {
		listen 80;
		listen [::]:80;
		root $d/www;
		location = /id { default_type text/plain; return 200 "b$i\n"; }
		location = /slow { default_type application/octet-stream; limit_rate 100k; alias $d/www/big.bin; }
	}
}
NGX
	ip netns exec "$ns" nginx -c "$d/nginx.conf" >/dev/null 2>&1 &
	echo $! > "$d/nginx.pid"
	if [ "${CL_FLOWSYNC:-0}" = 1 ]; then
		ip netns exec "$ns" $PY "$CL_SRC/tests/cluster/flowsync_server.py" "b$i" 9000 \
			> "$d/flowsync.log" 2>&1 &
		echo $! > "$d/flowsync.pid"
	fi
}

# A backend of direct server return (CL_DSR=1): the VIPs on its loopback, replies
# by its default route (the router's leg on the backend LAN), and dsr_decap.py
# turning the dp's ipip/gue packets back into the client's (see that file).
_backend_dsr() { # i
	local i=$1 ns d
	ns=$(ns_b "$i")
	d=$CL_DIR/b$i
	mkdir -p "$d"
	ip -n "$ns" addr add "$VIP4/32" dev lo
	ip -n "$ns" addr add "$VIP6/128" dev lo
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
	ip -n "$ns" route add default via 198.19.0.254
	ip -n "$ns" -6 route add default via 2001:db8:2::fe
	ip netns exec "$ns" $PY "$CL_SRC/tests/cluster/dsr_decap.py" dsr0 6080 "$d/decap.status" \
		> "$d/decap.log" 2>&1 &
	echo $! > "$d/decap.pid"
	for _ in $(seq 1 50); do
		[ -f "$d/decap.status" ] && break
		sleep 0.1
	done
	ip -n "$ns" link set dsr0 up
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.dsr0.rp_filter=0
}

_router_bird() {
	local k d=$CL_DIR/r
	mkdir -p "$d"
	{
		cat <<BIRD
router id 198.18.9.254;
log "$d/bird.log" all;
protocol device { scan time 10; }
# Every equal best path of a VIP goes to the kernel as one multipath route.
protocol kernel k4 { ipv4 { import none; export all; }; merge paths on; }
protocol kernel k6 { ipv6 { import none; export all; }; merge paths on; }
protocol bfd {
	interface "$CL_ROUTER_IF" { min rx interval ${CL_BFD_MS:-100} ms; min tx interval ${CL_BFD_MS:-100} ms; multiplier 3; };
}
template bgp box {
	local $CL_BOX_NET.254 as 65000;
	bfd on;
	graceful restart on;
	connect retry time 1;
	start delay time 1;
	error wait time 1, 5;
	ipv4 { import all; export none; };
	ipv6 { import all; export none; };
}
BIRD
		for k in $(seq 1 "$CL_BOXES"); do
			echo "protocol bgp x$k from box { neighbor $CL_BOX_NET.$k as 65001; }"
		done
	} > "$d/bird.conf"
	ip netns exec "$NS_R" bird -f -c "$d/bird.conf" -s "$d/bird.ctl" > "$d/bird.out" 2>&1 &
	echo $! > "$d/bird.pid"
}

# Build the topology with n boxes (not started: cl_box_start).
cl_up() { # n
	local k i
	CL_BOXES=$1
	cl_down
	mkdir -p "$CL_DIR"
	_ns "$NS_R"
	_ns "$NS_C"
	_ns "$NS_SW"
	ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1
	# client <-> router
	_veth "$NS_C" c0 "$NS_R" rc
	ip -n "$NS_C" addr add $CLIENT4/24 dev c0
	ip -n "$NS_C" addr add 2001:db8:100::10/64 dev c0 nodad
	ip -n "$NS_C" route add default via 198.18.100.1
	ip -n "$NS_C" -6 route add default via 2001:db8:100::1
	ip -n "$NS_R" addr add 198.18.100.1/24 dev rc
	ip -n "$NS_R" addr add 2001:db8:100::1/64 dev rc nodad
	# the router's front LAN (dp ext ports) and management LAN (BGP)
	for br in brf brm; do
		ip -n "$NS_R" link add $br type bridge
		ip -n "$NS_R" link set $br up
	done
	ip -n "$NS_R" addr add 198.18.0.254/24 dev brf
	ip -n "$NS_R" addr add 2001:db8:1::fe/64 dev brf nodad
	ip -n "$NS_R" addr add 198.18.9.254/24 dev brm
	ip -n "$NS_SW" link add br0 type bridge
	ip -n "$NS_SW" link set br0 up
	for k in $(seq 1 "$CL_BOXES"); do
		local x
		x=$(ns_x "$k")
		_ns "$x"
		# The dp owns ext/int: keep the kernel's IPv6 (RS, DAD) off them.
		ip netns exec "$x" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1
		_veth "$x" ext "$NS_R" "f-x$k"
		ip -n "$NS_R" link set "f-x$k" master brf
		_veth "$x" mgmt "$NS_R" "m-x$k"
		ip -n "$NS_R" link set "m-x$k" master brm
		ip -n "$x" addr add "198.18.9.$k/24" dev mgmt
		_veth "$x" int "$NS_SW" "sw-x$k"
		ip -n "$NS_SW" link set "sw-x$k" master br0
		mkdir -p "$CL_DIR/x$k"
		# With the exception path the box's kernel holds the ext address (on dpx).
		# A NIC bound to vfio-pci hides the port's frames from the kernel; a veth
		# under net_af_packet does not: the kernel would take them from ext too and
		# answer behind the dp's back. Its ingress hook drops them after the dp's
		# packet socket has its copy.
		if [ "${CL_EXCEPTION:-0}" = 1 ]; then
			ip netns exec "$x" nft -f - <<'NFT'
table netdev edgelb_dp_owns {
	chain ext { type filter hook ingress device "ext" priority 0; policy drop; }
	chain int { type filter hook ingress device "int" priority 0; policy drop; }
}
NFT
		fi
	done
	if [ "${CL_FLOWSYNC:-0}" = 1 ] || [ "${CL_DSR:-0}" = 1 ]; then
		# The router gets a leg on the backends' LAN: DSR backends answer clients
		# through it (answers from a VIP arrive on rb, while the VIP routes point at
		# the boxes: no rp_filter); with flow sync the backends' replies to SNAT
		# addresses go where BGP says.
		_veth "$NS_R" rb "$NS_SW" sw-r
		ip -n "$NS_SW" link set sw-r master br0
		ip -n "$NS_R" addr add 198.19.0.254/24 dev rb
		ip -n "$NS_R" addr add 2001:db8:2::fe/64 dev rb nodad
		# The router forwards a backend's reply back out of rb (to a box on the
		# same LAN): it must not send ICMP redirects, or the backend would go to
		# the SNAT owner's MAC directly and keep doing so after the owner died.
		ip netns exec "$NS_R" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.rb.rp_filter=0 \
			net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.rb.send_redirects=0
	fi
	for i in 1 2 3; do
		local b
		b=$(ns_b "$i")
		_ns "$b"
		_veth "$b" eth0 "$NS_SW" "sw-b$i"
		ip -n "$NS_SW" link set "sw-b$i" master br0
		ip -n "$b" addr add "198.19.0.1$i/24" dev eth0
		ip -n "$b" addr add "2001:db8:2::1$i/64" dev eth0 nodad
		[ "${CL_DSR:-0}" = 1 ] && _backend_dsr "$i"
		if [ "${CL_FLOWSYNC:-0}" = 1 ]; then
			ip -n "$b" route add default via 198.19.0.254
			ip -n "$b" -6 route add default via 2001:db8:2::fe
		fi
		_backend "$i"
	done
	_router_bird
}

# Box k's SNAT addresses, as a libconfig array body.
_box_snat() { # k
	if [ "${CL_FLOWSYNC:-0}" = 1 ]; then
		echo "\"198.19.8.$1\", \"2001:db8:8::$1\""
	else
		echo "\"198.19.0.10$1\", \"2001:db8:2::10$1\""
	fi
}

# The dp's flow sync settings for box k (CL_FLOWSYNC=1, docs/flow-sync.md): every
# other box of the cluster is a peer (its ext port address), one key for all.
_box_dp_sync() { # k
	[ "${CL_FLOWSYNC:-0}" = 1 ] || return 0
	local k=$1 p peers=""
	if [ ! -f "$CL_DIR/sync.key" ]; then
		(umask 077 && head -c 32 /dev/urandom > "$CL_DIR/sync.key")
	fi
	for p in $(seq 1 "$CL_BOXES"); do
		[ "$p" = "$k" ] || peers+="${peers:+, }\"198.18.0.$p\""
	done
	# CL_SLOW_JOIN_BOX=k: that box's dp also waits for a peer that never answers
	# (198.18.0.250) until its sync.bulk_timeout_ms (4 s): a join that takes time.
	local bulk_ms=${CL_BULK_TIMEOUT_MS:-5000}
	if [ "${CL_SLOW_JOIN_BOX:-}" = "$k" ]; then
		peers+=", \"198.18.0.250\""
		bulk_ms=4000
	fi
	cat <<CONF
sync: {
  enabled = true;
  id = $k;
  peers = [$peers];
  key_file = "$CL_DIR/sync.key";
  bulk_timeout_ms = $bulk_ms;
};
CONF
}

_box_dp_conf() { # k
	local k=$1
	cat > "$CL_DIR/x$k/dp.conf" <<CONF
dp: {
  workers = [1];
  idle_sleep_us = ${CL_IDLE_SLEEP_US:-100};
  hash_seed = 0x5eed5eed5eed5eedL;
  control_socket = "$CL_DIR/x$k/dp.sock";${CL_DP_EXTRA:+
  $CL_DP_EXTRA}
};
conntrack: { capacity = 16384; timeouts: { tcp_closing = 2; tcp_closed = 1; }; };
ports = (
  { name = "ext"; device = "net_af_packet0,iface=ext"; role = "external";
    addresses = ["198.18.0.$k/24", "2001:db8:1::$k/64"];$([ "${CL_EXCEPTION:-0}" = 1 ] && echo ' exception = "dpx";') },
  { name = "int"; device = "net_af_packet1,iface=int"; role = "internal";
    addresses = ["198.19.0.$k/24", "2001:db8:2::$k/64"];
    local_addresses = [$(_box_snat "$k")]; }
);
routes = (
  { prefix = "198.18.100.0/24"; via = "198.18.0.254"; },
  { prefix = "2001:db8:100::/64"; via = "2001:db8:1::fe"; }
);
$(_box_dp_sync "$k")
CONF
}

_box_cp_conf() { # k
	local k=$1 d=$CL_DIR/x$1 mode=standalone k8s=""
	# CL_K8S=1: Services from the fake API server (cl_api_start), leader election.
	if [ "${CL_K8S:-0}" = 1 ]; then
		mode=kubernetes
		k8s="kubernetes: { kubeconfig = \"$CL_DIR/kubeconfig\"; default_class = true;
  leader_election: { identity = \"x$k\"; lease_duration_s = 3; renew_deadline_ms = 2000;
                     retry_period_ms = 300; }; };"
	fi
	cat > "$d/cp.conf" <<CONF
mode = "$mode";
$k8s
dp_socket = "$d/dp.sock";
state_file = "$d/cp-state.json";
api: { listen = "127.0.0.1:8470"; };
pools = ( { name = "vips"; addresses = ["$VIP4", "$VIP6"${CL_EXTRA_VIPS:+, $CL_EXTRA_VIPS}]; },
          { name = "other"; addresses = ["198.18.51.0/24"]; auto_assign = false; } );
bgp: {
  enabled = true;
  bird_socket = "$d/bird.ctl";
  include_file = "$d/vips.conf";
  protocol = "edgelb";
  check_interval_ms = ${CL_CHECK_MS:-100};
  drain_timeout_s = ${CL_DRAIN_TIMEOUT_S:-30};
};
CONF
	[ "${CL_FLOWSYNC:-0}" = 1 ] || return 0
	local p peers=""
	for p in $(seq 1 "$CL_BOXES"); do
		[ "$p" = "$k" ] && continue
		peers+="${peers:+, }{ name = \"x$p\"; sync_address = \"198.18.0.$p\"; local_addresses = [$(_box_snat "$p")]; }"
	done
	cat >> "$d/cp.conf" <<CONF
cluster: {
  name = "x$k";
  local_addresses = [$(_box_snat "$k")];
  peers = ( $peers );
  join_timeout_s = ${CL_JOIN_TIMEOUT_S:-10};
};
CONF
}

# Two BIRDs per box (docs/operations.md, "Two BIRDs on a box"): bird.conf speaks
# BGP (edgelb-cp reconfigures it; a restart of it is graceful: the router keeps the
# box's routes), bfd.conf answers the router's BFD session and nothing else, so a
# BGP restart never takes BFD down, and a dead box still loses BFD at once.
_box_bird_conf() { # k
	local k=$1 d=$CL_DIR/x$1
	cat > "$d/bfd.conf" <<BIRD
router id 198.18.9.$k;
log "$d/bfd.log" all;
protocol device { scan time 10; }
protocol bfd {
	interface "$CL_BOX_IF" { min rx interval ${CL_BFD_MS:-100} ms; min tx interval ${CL_BFD_MS:-100} ms; multiplier 3; };
	neighbor $CL_BOX_NET.254 dev "$CL_BOX_IF";
}
BIRD
	cat > "$d/bird.conf" <<BIRD
router id 198.18.9.$k;
log "$d/bird.log" all;
protocol device { scan time 10; }
# edgelb-cp writes the static protocols edgelb4 / edgelb6 (the VIPs to announce).
include "$d/vips.conf";
protocol bgp up {
	local $CL_BOX_NET.$k as 65001;
	neighbor $CL_BOX_NET.254 as 65000;
	graceful restart on;
	connect retry time 1;
	start delay time 1;
	error wait time 1, 5;
	# Traffic goes to the dp's port, not to this management address: VIPs to the
	# client side, SNAT addresses (the box's, its peers' as backups with a longer
	# AS path) to the backend side.
	ipv4 { import none; export filter {
		if proto = "edgelb4" then { bgp_next_hop = 198.18.0.$k; accept; }
		if proto = "edgelbsnat4" then { bgp_next_hop = 198.19.0.$k; accept; }
		if proto = "edgelbbackup4" then { bgp_next_hop = 198.19.0.$k; bgp_path.prepend(65001); accept; }
		reject; }; };
	ipv6 { import none; export filter {
		if proto = "edgelb6" then { bgp_next_hop = 2001:db8:1::$k; accept; }
		if proto = "edgelbsnat6" then { bgp_next_hop = 2001:db8:2::$k; accept; }
		if proto = "edgelbbackup6" then { bgp_next_hop = 2001:db8:2::$k; bgp_path.prepend(65001); accept; }
		reject; }; };
}
BIRD
}

cl_dp_start() { # k
	local k=$1 x d=$CL_DIR/x$1
	x=$(ns_x "$k")
	rm -f "$d/dp.sock"
	ip netns exec "$x" "$EDGELB_BUILD/dp/edgelb-dp" -l 0,1 --no-pci --no-huge -m 256 \
		--file-prefix "$P-x$k" --log-level=user1,info -- --config "$d/dp.conf" \
		>> "$d/dp.log" 2>&1 &
	echo $! > "$d/dp.pid"
	disown $! # a SIGKILL of the dp is a test step, not news
	for _ in $(seq 1 100); do
		if [ -S "$d/dp.sock" ]; then
			# The exception tap is persistent: the first dp makes it and the box's
			# network configuration addresses it (here: by hand); later dps attach
			# to it as it is.
			if [ "${CL_EXCEPTION:-0}" = 1 ] && ! ip -n "$x" -4 addr show dev dpx | grep -q inet; then
				ip -n "$x" addr add "198.18.0.$k/24" dev dpx
				ip -n "$x" link set dpx up
				_nooffload "$x" dpx
			fi
			return 0
		fi
		kill -0 "$(cat "$d/dp.pid")" 2>/dev/null || break
		sleep 0.1
	done
	cat "$d/dp.log" >&2
	fail "edgelb-dp of box $k did not start"
}

cl_cp_start() { # k
	local k=$1 x d=$CL_DIR/x$1
	x=$(ns_x "$k")
	ip netns exec "$x" "$EDGELB_BUILD/cp/edgelb-cp" --config "$d/cp.conf" >> "$d/cp.log" 2>&1 &
	echo $! > "$d/cp.pid"
	disown $!
	for _ in $(seq 1 50); do
		ip netns exec "$x" curl -s -m 1 http://127.0.0.1:8470/healthz >/dev/null 2>&1 && return 0
		kill -0 "$(cat "$d/cp.pid")" 2>/dev/null || break
		sleep 0.1
	done
	cat "$d/cp.log" >&2
	fail "edgelb-cp of box $k did not start"
}

# Start box k's BGP BIRD, and its BFD BIRD unless that one runs. The BGP BIRD
# always starts with -R (graceful restart recovery): its OPEN then tells the
# router the forwarding state was kept, so the router holds the routes it had
# until this BIRD's End-of-RIB instead of dropping them at the OPEN.
cl_bird_start() { # k
	local k=$1 x d=$CL_DIR/x$1
	x=$(ns_x "$k")
	# BIRD reads the include file at start: before edgelb-cp first writes it, empty.
	[ -f "$d/vips.conf" ] || printf 'protocol static edgelb%s { ipv%s; }\n' 4 4 6 6 snat4 4 snat6 6 \
		backup4 4 backup6 6 > "$d/vips.conf"
	if ! { [ -f "$d/bfd.pid" ] && kill -0 "$(cat "$d/bfd.pid")" 2>/dev/null; }; then
		rm -f "$d/bfd.ctl"
		ip netns exec "$x" bird -f -c "$d/bfd.conf" -s "$d/bfd.ctl" > "$d/bfd.out" 2>&1 &
		echo $! > "$d/bfd.pid"
		disown $!
	fi
	rm -f "$d/bird.ctl"
	ip netns exec "$x" bird -f -R -c "$d/bird.conf" -s "$d/bird.ctl" > "$d/bird.out" 2>&1 &
	echo $! > "$d/bird.pid"
	disown $!
	for _ in $(seq 1 50); do
		[ -S "$d/bird.ctl" ] && [ -S "$d/bfd.ctl" ] && return 0
		sleep 0.1
	done
	cat "$d/bird.out" "$d/bfd.out" >&2
	fail "BIRD of box $k did not start"
}

# The PIDs of everything box k runs (dp, cp, both BIRDs): for a whole-box kill.
cl_box_pids() { # k
	local d=$CL_DIR/x$1 p
	for p in dp cp bird bfd; do [ -f "$d/$p.pid" ] && cat "$d/$p.pid"; done
	return 0
}

# Box k dies whole: its namespace drops every packet (no FIN, no BGP notification,
# no BFD Down reaches the router) and everything it runs is killed.
cl_box_dark() { # k
	local x
	x=$(ns_x "$1")
	ip netns exec "$x" nft -f - <<'NFT'
table inet dark {
	chain in { type filter hook input priority -300; policy drop; }
	chain out { type filter hook output priority -300; policy drop; }
}
NFT
	# shellcheck disable=SC2046 # one PID per word
	kill -9 $(cl_box_pids "$1") 2>/dev/null || true
}

# Start box k: dp, BIRD, cp; create the load balancer (same on every box).
# CL_AFFINITY=1: with ClientIP session affinity. CL_PRE_LB (JSON): a load balancer
# created on box k before "web" when k is in CL_PRE_LB_BOXES (its services then
# take other directory slots in the dp than on the other boxes).
cl_box_start() { # k
	local k=$1 aff=""
	_box_dp_conf "$k"
	_box_cp_conf "$k"
	_box_bird_conf "$k"
	cl_dp_start "$k"
	cl_bird_start "$k"
	cl_cp_start "$k"
	[ "${CL_K8S:-0}" = 1 ] && return 0 # Services come from the API server
	case " ${CL_PRE_LB_BOXES:-} " in
	*" $k "*) api "$k" POST /v1/loadbalancers "$CL_PRE_LB" >/dev/null ;;
	esac
	[ "${CL_AFFINITY:-0}" = 1 ] && aff='"session_affinity": {"type": "ClientIP"},'
	# CL_MODE=ipip|gue: direct server return, the backends listen on the VIP's port.
	local tp=8080
	[ -n "${CL_MODE:-}" ] && aff="$aff \"mode\": \"$CL_MODE\"," && tp=80
	# CL_FLOWSYNC=1: flowsync_server.py's echo too, TCP and UDP.
	local ports='{"name": "http", "port": 80, "protocol": "TCP", "target_port": '"$tp"'}'
	[ "${CL_FLOWSYNC:-0}" = 1 ] && ports+=', {"name": "echo", "port": 9000, "protocol": "TCP"},
	  {"name": "echou", "port": 9000, "protocol": "UDP"}'
	api "$k" POST /v1/loadbalancers '{"name": "web", "ip_families": ["IPv4", "IPv6"], '"$aff"'
	  "ports": ['"$ports"'],
	  "backends": [{"address": "198.19.0.11"}, {"address": "198.19.0.12"},
	               {"address": "198.19.0.13"}, {"address": "2001:db8:2::11"},
	               {"address": "2001:db8:2::12"}, {"address": "2001:db8:2::13"}]}' >/dev/null
}

# CL_K8S=1: the fake Kubernetes API server (tests/k8s/fake-apiserver) in the
# router's namespace on the management LAN, where every box's cp reaches it.
cl_api_start() {
	local d=$CL_DIR/api
	mkdir -p "$d"
	ip netns exec "$NS_R" "$CL_SRC/tests/k8s/fake-apiserver" --host 198.18.9.254 --port 0 \
		--port-file "$d/port" > "$d/api.log" 2>&1 &
	echo $! > "$d/api.pid"
	for _ in $(seq 1 100); do
		[ -s "$d/port" ] && break
		sleep 0.1
	done
	[ -s "$d/port" ] || { cat "$d/api.log" >&2; fail "fake API server did not start"; }
	CL_API=http://198.18.9.254:$(cat "$d/port")
	cat > "$CL_DIR/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "$CL_API"}}]
contexts: [{name: fake, context: {cluster: fake, user: fake}}]
current-context: fake
users: [{name: fake, user: {}}]
KC
}
# kapi METHOD PATH [BODY]: a request to the fake API server (from the router's namespace)
kapi() {
	ip netns exec "$NS_R" curl -s -m 5 -X "$1" -H 'Content-Type: application/json' \
		"$CL_API$2" ${3:+-d "$3"}
}

# The box's REST API: api k METHOD PATH [BODY]
api() {
	local x
	x=$(ns_x "$1")
	ip netns exec "$x" curl -s -m 5 -X "$2" "http://127.0.0.1:8470$3" ${4:+-d "$4"}
}
ctl() { # k edgelbctl args...
	local x
	x=$(ns_x "$1")
	shift
	ip netns exec "$x" "$EDGELB_BUILD/cp/edgelbctl" --server http://127.0.0.1:8470 "$@"
}
dp_ctl() { # k json
	printf '%s\n' "$2" | ip netns exec "$(ns_x "$1")" socat -t 5 - "UNIX-CONNECT:$CL_DIR/x$1/dp.sock"
}
ct_created() { # k: connections the box's dp created
	dp_ctl "$1" '{"op":"stats.get"}' | json "r['result']['global']['ct_created']"
}

# Next hops the router's kernel has for a VIP (box numbers, sorted, one line).
nexthops() { # vip
	local fam=-4
	case $1 in *:*) fam=-6 ;; esac
	ip -n "$NS_R" "$fam" route show "$1" 2>/dev/null |
		grep -oE 'via (198\.18\.0\.|2001:db8:1::)[0-9a-f]+' | sed -E 's/.*[.:]//' | sort | tr '\n' ' ' |
		sed 's/ $//'
}
# Wait (at most ms) until the router's next hops for vip are exactly want; prints
# the milliseconds it took, from t0 (ms, default now).
wait_nexthops() { # vip want timeout_ms [t0_ms]
	local t0=${4:-$(now_ms)} end
	end=$(($(now_ms) + $3))
	while [ "$(nexthops "$1")" != "$2" ]; do
		[ "$(now_ms)" -lt "$end" ] || { echo -1; return 1; }
		sleep 0.005
	done
	echo $(($(now_ms) - t0))
}

in_c() { ip netns exec "$NS_C" "$@"; }

# n connections from the client to vip:80 (a new source port each), prints how
# many answered with a backend's id.
connect_many() { # n [vip] [timeout_s]
	in_c $PY - "$1" "${2:-$VIP4}" "${3:-1}" <<'PY'
import socket, sys
n, vip, to = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
fam = socket.AF_INET6 if ":" in vip else socket.AF_INET
good = 0
for _ in range(n):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(to)
    try:
        s.connect((vip, 80))
        s.sendall(b"GET /id HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
        if data.startswith(b"HTTP/1.1 200") and b"\r\n\r\nb" in data:
            good += 1
    except OSError:
        pass
    finally:
        s.close()
print(good)
PY
}

# Wait until box k's cp announces (its own view) and the router has all boxes.
cl_wait_converged() { # "1 2 ..." timeout_ms
	wait_nexthops "$VIP4" "$1" "$2" >/dev/null || fail "router next hops for $VIP4: '$(nexthops $VIP4)', want '$1'"
	wait_nexthops "$VIP6" "$1" "$2" >/dev/null || fail "router next hops for $VIP6: '$(nexthops $VIP6)', want '$1'"
}

# N (default 100) long downloads of /slow from the client through VIP4:80 in the
# background (pid in DL_PID), each checked byte for byte against the backends'
# big.bin; "intact total" goes to the file $1 when all have ended.
downloads() { # outfile
	in_c $PY - "${N:-100}" "$VIP4" "$CL_DIR" > "$1" 2>&1 <<'PY' &
import hashlib, socket, sys, threading
n, vip, d = int(sys.argv[1]), sys.argv[2], sys.argv[3]
want = {hashlib.sha256(open(f"{d}/b{i}/www/big.bin", "rb").read()).hexdigest() for i in (1, 2, 3)}
res = []
def one():
    try:
        s = socket.create_connection((vip, 80), timeout=3)
        s.settimeout(8)
        s.sendall(b"GET /slow HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
        res.append(hashlib.sha256(body).hexdigest() in want)
    except OSError:
        res.append(False)
ts = [threading.Thread(target=one) for _ in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(sum(res), n)
PY
	DL_PID=$!
}
