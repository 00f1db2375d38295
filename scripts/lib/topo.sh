# topo.sh - the demo / end-to-end topology, built from network namespaces.
#
#   client ns            dp ns (edgelb-dp)             switch ns          backend ns x3
#   c0 198.18.0.10 ---- ext  [ext 198.18.0.1 ]                            eth0 198.19.0.11..13
#      2001:db8:1::10        [VIPs .100, ::100]                              2001:db8:2::11..13
#                            [int 198.19.0.1  ] int ---- br0 ---- b1/b2/b3 (nginx :8080,
#                            [SNAT 198.19.0.2 ]                            UDP echo :5353)
#
# Every address lives inside these namespaces (198.18.0.0/15, 2001:db8::/32); the
# dp owns the addresses of ext/int, the kernel has none there. Source this file,
# set TOPO (namespace prefix, default "elb"), then call topo_up / topo_down.
# Needs root, iproute2, ethtool, nginx, python3.
#
# Optional features (set before topo_up; all off by default):
#   TOPO_MTU=N        MTU of the client and of the backends and their switch
#                     (default 1500). Above 1500 the af_packet ports get frames
#                     big enough, up to MTU 2000 (see topo_dp_conf; TOPO_AFP_ARGS
#                     overrides the blocksz/framesz given).
#   TOPO_EXT_MTU=N    MTU of the client <-> dp link (dp port "ext"); default TOPO_MTU.
#   TOPO_INT_MTU=N    MTU of the dp <-> backends-side link (dp port "int"); default TOPO_MTU.
#   TOPO_ROUTERS=1    two routers between the dp and the backends' switch, so the
#                     path has a link narrower than both ends (path MTU discovery):
#
#     dp int 198.19.254.1 ---- r1 198.19.254.254   (TOPO_INT_MTU)
#        fnat src 198.19.254.2  r1 198.19.253.1 ---- r2 198.19.253.2   (TOPO_ROUTER_MTU)
#                                                   r2 198.19.0.1 ---- br0 ---- b1/b2/b3
#     (IPv6 alike: 2001:db8:fe::/64, 2001:db8:fd::/64, 2001:db8:2::/64)
#
#                     The backends keep their addresses and gateway (198.19.0.1,
#                     now r2); topo_dp_conf gives the dp routes to them via r1.
#   TOPO_ROUTER_MTU=N MTU of the r1 <-> r2 link (default TOPO_MTU).
#   TOPO_PMD=af_xdp   the dp's ports are net_af_xdp on ext/int instead of
#                     net_af_packet (XDP in the veth driver, an AF_XDP socket per
#                     queue; see docs/operations.md "AF_XDP on veths"). TOPO_AFX_ARGS
#                     adds PMD arguments (e.g. ",busy_budget=0").

TOPO=${TOPO:-elb}
TOPO_DIR=${TOPO_DIR:-/tmp/edgelb-$TOPO}
TOPO_BACKENDS=${TOPO_BACKENDS:-3}
TOPO_NS_C=$TOPO-c
TOPO_NS_DP=$TOPO-dp
TOPO_NS_SW=$TOPO-sw
VIP4=198.18.0.100
VIP6=2001:db8:1::100
CLIENT4=198.18.0.10
CLIENT6=2001:db8:1::10
TOPO_ROUTERS=${TOPO_ROUTERS:-0}
TOPO_NS_R1=$TOPO-r1
TOPO_NS_R2=$TOPO-r2

topo_ns_b() { echo "$TOPO-b$1"; }
topo_b4() { echo "198.19.0.$((10 + $1))"; }
topo_b6() { echo "2001:db8:2::$((10 + $1))"; }

# veth offloads make af_packet see packets with checksums not filled in.
_topo_nooffload() { # ns dev
	ip netns exec "$1" ethtool -K "$2" rx off tx off tso off gso off gro off lro off >/dev/null 2>&1 || true
}

_topo_veth() { # nsA devA nsB devB [mtu]
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	if [ -n "${5:-}" ]; then
		ip -n "$1" link set "$2" mtu "$5"
		ip -n "$3" link set "$4" mtu "$5"
	fi
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
	_topo_nooffload "$1" "$2"
	_topo_nooffload "$3" "$4"
}

topo_down() {
	local ns
	for pidf in "$TOPO_DIR"/*.pid; do
		[ -f "$pidf" ] || continue
		kill "$(cat "$pidf")" 2>/dev/null || true
		rm -f "$pidf"
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$TOPO-(c|dp|sw|b[0-9]+|r[0-9]*)$"); do
		# Anything still running in the namespace is ours: stop it by PID.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
		for _ in 1 2 3 4; do
			[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
			sleep 0.05
		done
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
		ip netns del "$ns" 2>/dev/null || true
	done
	topo_dp_forget_state
	rm -rf "$TOPO_DIR"
}

# The dp's persistent state (dp.state "auto", kept across restarts by design: a
# new dp adopts the old one's connections and SNAT ports) and EAL's page files of
# a dp that was killed: gone with the topology, or they hold hugepages the next
# test needs. A benchmark calls it after each stopped dp, so that the next
# contender starts with an empty table.
topo_dp_forget_state() {
	rm -f /dev/hugepages/edgelb-"$TOPO"-dp-* /dev/shm/edgelb-"$TOPO"-dp-* \
		/dev/hugepages/"$TOPO"-dp* 2>/dev/null || true
}

# Start nginx and a UDP echo server in backend namespace i.
_topo_backend_servers() {
	local i=$1 ns d
	ns=$(topo_ns_b "$i")
	d=$TOPO_DIR/b$i
	mkdir -p "$d/www" "$d/tmp"
	echo "backend b$i" > "$d/www/index.html"
	head -c "${TOPO_BIGFILE_BYTES:-20000000}" /dev/zero > "$d/www/big.bin"
	cat > "$d/nginx.conf" <<NGX
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	keepalive_requests 100000;
	server {
		listen 8080;
		listen [::]:8080;
		root $d/www;
		location = /id { default_type text/plain; return 200 "b$i\n"; }
		location = /slow { default_type text/plain; limit_rate 200k; alias $d/www/big.bin; }
	}
}
NGX
	ip netns exec "$ns" nginx -c "$d/nginx.conf" >/dev/null 2>&1 &
	echo $! > "$TOPO_DIR/nginx-b$i.pid"
	ip netns exec "$ns" /usr/bin/python3 -c '
import socket, sys
name = sys.argv[1].encode()
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 5353))
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(name + b":" + data, peer)
' "b$i" >/dev/null 2>&1 &
	echo $! > "$TOPO_DIR/udp-b$i.pid"
}

# A router namespace: forwards, answers ICMP errors without rate limit.
_topo_router_ns() { # ns
	ip netns add "$1"
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
}

# dp int -- r1 -- r2 -- switch (see TOPO_ROUTERS above).
_topo_routers() {
	local mtu=${TOPO_MTU:-1500}
	_topo_router_ns "$TOPO_NS_R1"
	_topo_router_ns "$TOPO_NS_R2"
	_topo_veth "$TOPO_NS_DP" int "$TOPO_NS_R1" r1-dp "${TOPO_INT_MTU:-$mtu}"
	_topo_veth "$TOPO_NS_R1" r1-r2 "$TOPO_NS_R2" r2-r1 "${TOPO_ROUTER_MTU:-$mtu}"
	_topo_veth "$TOPO_NS_R2" r2-sw "$TOPO_NS_SW" sw-r2 "$mtu"
	ip -n "$TOPO_NS_SW" link set sw-r2 master br0
	ip -n "$TOPO_NS_R1" addr add 198.19.254.254/24 dev r1-dp
	ip -n "$TOPO_NS_R1" addr add 2001:db8:fe::fe/64 dev r1-dp nodad
	ip -n "$TOPO_NS_R1" addr add 198.19.253.1/24 dev r1-r2
	ip -n "$TOPO_NS_R1" addr add 2001:db8:fd::1/64 dev r1-r2 nodad
	ip -n "$TOPO_NS_R1" route add 198.19.0.0/24 via 198.19.253.2
	ip -n "$TOPO_NS_R1" -6 route add 2001:db8:2::/64 via 2001:db8:fd::2
	ip -n "$TOPO_NS_R1" route add default via 198.19.254.1
	ip -n "$TOPO_NS_R1" -6 route add default via 2001:db8:fe::1
	ip -n "$TOPO_NS_R2" addr add 198.19.253.2/24 dev r2-r1
	ip -n "$TOPO_NS_R2" addr add 2001:db8:fd::2/64 dev r2-r1 nodad
	ip -n "$TOPO_NS_R2" addr add 198.19.0.1/24 dev r2-sw
	ip -n "$TOPO_NS_R2" addr add 2001:db8:2::1/64 dev r2-sw nodad
	ip -n "$TOPO_NS_R2" route add default via 198.19.253.1
	ip -n "$TOPO_NS_R2" -6 route add default via 2001:db8:fd::1
}

topo_up() {
	topo_down
	mkdir -p "$TOPO_DIR"
	local i ns mtu=${TOPO_MTU:-1500}
	for ns in "$TOPO_NS_C" "$TOPO_NS_DP" "$TOPO_NS_SW"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	# client <-> dp
	_topo_veth "$TOPO_NS_C" c0 "$TOPO_NS_DP" ext "${TOPO_EXT_MTU:-${TOPO_MTU:-}}"
	ip -n "$TOPO_NS_C" addr add $CLIENT4/24 dev c0
	ip -n "$TOPO_NS_C" addr add $CLIENT6/64 dev c0 nodad
	ip -n "$TOPO_NS_C" route add default via 198.18.0.1
	ip -n "$TOPO_NS_C" -6 route add default via 2001:db8:1::1
	# The dp owns ext/int: keep the kernel's IPv6 (RS, DAD) off them.
	ip netns exec "$TOPO_NS_DP" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip -n "$TOPO_NS_SW" link add br0 type bridge
	[ "$mtu" = 1500 ] || ip -n "$TOPO_NS_SW" link set br0 mtu "$mtu"
	ip -n "$TOPO_NS_SW" link set br0 up
	if [ "$TOPO_ROUTERS" = 1 ]; then
		_topo_routers
	else
		# dp <-> switch
		_topo_veth "$TOPO_NS_DP" int "$TOPO_NS_SW" sw-dp "${TOPO_INT_MTU:-${TOPO_MTU:-}}"
		ip -n "$TOPO_NS_SW" link set sw-dp master br0
	fi
	for i in $(seq 1 "$TOPO_BACKENDS"); do
		ns=$(topo_ns_b "$i")
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		_topo_veth "$ns" eth0 "$TOPO_NS_SW" "sw-b$i" "${TOPO_MTU:-}"
		ip -n "$TOPO_NS_SW" link set "sw-b$i" master br0
		ip -n "$ns" addr add "$(topo_b4 "$i")/24" dev eth0
		ip -n "$ns" addr add "$(topo_b6 "$i")/64" dev eth0 nodad
		ip -n "$ns" route add default via 198.19.0.1
		ip -n "$ns" -6 route add default via 2001:db8:2::1
		_topo_backend_servers "$i"
	done
}

# EAL memory arguments: hugepages when enough are free, otherwise --no-huge.
topo_eal_mem() { # MB
	local mb=${1:-512} free
	free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
	if [ "${free:-0}" -ge $((mb / 2 + 64)) ] && grep -q ' /dev/hugepages hugetlbfs ' /proc/mounts; then
		echo "-m $mb"
	else
		echo "--no-huge -m $mb"
	fi
}

# Write the dp config for this topology to $1 (append a `services = (...)` group
# to it for services loaded at start). workers: 1 or 2 (af_packet qpairs follow).
topo_dp_conf() { # file [workers] [steering]
	local workers=${2:-1} steering=${3:-auto} wl="1" q="" afp=""
	local ext_mtu=${TOPO_EXT_MTU:-${TOPO_MTU:-1500}} int_mtu=${TOPO_INT_MTU:-${TOPO_MTU:-1500}}
	local int_addrs='"198.19.0.1/24", "2001:db8:2::1/64"' int_local='"198.19.0.2", "2001:db8:2::2"'
	[ "$workers" -ge 2 ] && wl="1, 2"
	[ "$workers" -ge 2 ] && q=",qpairs=$workers"
	# af_packet's default 2 KB frames cannot carry a frame over 1500 bytes: the
	# kernel puts a frame at offset 66 in its ring slot (frame + 80 <= framesz),
	# the PMD walks the ring as if slots were contiguous (block size a multiple of
	# the frame size and of the 4 KB page), and wants framesz - 32 to fit the
	# dp's mbuf data room (2048, or MTU + 26 above that). Both hold up to MTU
	# 2000; above it the dp refuses to start ("will not fit in mbuf").
	local big=$((ext_mtu > int_mtu ? ext_mtu : int_mtu)) fsz bsz
	if [ "$big" -gt 1500 ]; then
		fsz=$(((big + 80 + 15) / 16 * 16))
		bsz=$fsz
		while [ $((bsz % 4096)) != 0 ]; do bsz=$((bsz + fsz)); done
		afp=${TOPO_AFP_ARGS-,blocksz=$bsz,framesz=$fsz}
	else
		afp=${TOPO_AFP_ARGS-}
	fi
	if [ "$TOPO_ROUTERS" = 1 ]; then
		int_addrs='"198.19.254.1/24", "2001:db8:fe::1/64"'
		int_local='"198.19.254.2", "2001:db8:fe::2"'
	fi
	local dev_ext="net_af_packet0,iface=ext$q$afp" dev_int="net_af_packet1,iface=int$q$afp"
	if [ "${TOPO_PMD:-af_packet}" = af_xdp ]; then
		# One AF_XDP socket per queue (queue_count); the veth gets as many XDP
		# queues as it has RX queues, which is one unless created with more.
		q=""; [ "$workers" -ge 2 ] && q=",queue_count=$workers"
		dev_ext="net_af_xdp0,iface=ext$q${TOPO_AFX_ARGS:-}"
		dev_int="net_af_xdp1,iface=int$q${TOPO_AFX_ARGS:-}"
	fi
	cat > "$1" <<CONF
dp: {
  workers = [$wl];
  idle_sleep_us = ${TOPO_IDLE_SLEEP_US:-100};
  steering = "$steering";
  control_socket = "$TOPO_DIR/dp.sock";
};
conntrack: { capacity = 65536; };
ports = (
  { name = "ext"; device = "$dev_ext"; role = "external";
    addresses = ["198.18.0.1/24", "2001:db8:1::1/64"]; mtu = $ext_mtu; },
  { name = "int"; device = "$dev_int"; role = "internal";
    addresses = [$int_addrs];
    local_addresses = [$int_local]; mtu = $int_mtu; }
);
CONF
	if [ "$TOPO_ROUTERS" = 1 ]; then
		cat >> "$1" <<CONF
routes = (
  { prefix = "198.19.0.0/24"; via = "198.19.254.254"; },
  { prefix = "2001:db8:2::/64"; via = "2001:db8:fe::fe"; }
);
CONF
	fi
}

# Start edgelb-dp in the dp namespace with config $1; waits for its socket.
# lcores: an EAL -l list ("0,1"), or EAL lcore arguments given whole
# ("--lcores 0@0,1@1,2@1": more lcores than CPUs).
topo_dp_start() { # conf [lcores]
	local lcores=${2:-0,1} largs
	case $lcores in
	-*) largs=$lcores ;;
	*) largs="-l $lcores" ;;
	esac
	# A socket left by a dp that was killed would look like a started one.
	rm -f "$TOPO_DIR/dp.sock"
	# shellcheck disable=SC2046,SC2086
	ip netns exec "$TOPO_NS_DP" "$EDGELB_BUILD/dp/edgelb-dp" $largs --no-pci \
		$(topo_eal_mem 512) --file-prefix "$TOPO-dp" --log-level=user1,info \
		-- --config "$1" > "$TOPO_DIR/dp.log" 2>&1 &
	echo $! > "$TOPO_DIR/dp.pid"
	for _ in $(seq 1 100); do
		[ -S "$TOPO_DIR/dp.sock" ] && return 0
		kill -0 "$(cat "$TOPO_DIR/dp.pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "edgelb-dp did not start:" >&2
	cat "$TOPO_DIR/dp.log" >&2
	return 1
}

topo_dp_stop() {
	local pid
	[ -f "$TOPO_DIR/dp.pid" ] || return 0
	pid=$(cat "$TOPO_DIR/dp.pid")
	kill -INT "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$TOPO_DIR/dp.pid"
}

# Send one control request (a JSON line) to the dp; prints the reply line.
topo_ctl() {
	printf '%s\n' "$1" | ip netns exec "$TOPO_NS_DP" socat -t 5 - "UNIX-CONNECT:$TOPO_DIR/dp.sock"
}

# JSON for service.upsert of VIP:port -> every backend:tport.
topo_svc_json() { # name vip port proto tport [extra-json-fields]
	local i b="" sep="" fam=4
	case $2 in *:*) fam=6 ;; esac
	for i in $(seq 1 "$TOPO_BACKENDS"); do
		if [ $fam = 4 ]; then b="$b$sep{\"address\":\"$(topo_b4 "$i")\",\"port\":$5}"
		else b="$b$sep{\"address\":\"$(topo_b6 "$i")\",\"port\":$5}"; fi
		sep=","
	done
	echo "{\"name\":\"$1\",\"vip\":\"$2\",\"port\":$3,\"protocol\":\"$4\",\"backends\":[$b]${6:+,$6}}"
}
