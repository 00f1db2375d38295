# cp.sh - run edgelb-cp next to the topology of topo.sh (source topo.sh first).
#
# The control plane runs in the switch namespace, where br0 gets a management
# address on the backends' network (198.19.0.250, 2001:db8:2::250) so health
# checks reach the backends; the API listens on 127.0.0.1:8470 inside it and
# edgelbctl runs there too. The pool hands out VIPs in the client's subnet, so
# clients resolve them with ARP/NDP and the dp answers.

CP_API=${CP_API:-127.0.0.1:8470}

cp_conf() { # file [mode]
	cat > "$1" <<CONF
mode = "${2:-standalone}";
dp_socket = "$TOPO_DIR/dp.sock";
state_file = "$TOPO_DIR/cp-state.json";
api: { listen = "$CP_API"; };
pools = (
  { name = "demo"; addresses = ["198.18.0.100-198.18.0.120", "2001:db8:1::100/124"]; avoid_buggy_ips = true; }
);
health_check: { type = "none"; interval_ms = 1000; timeout_ms = 500; rise = 2; fall = 2; };
${CP_EXTRA_CONF:-}
CONF
}

cp_start() { # conf [extra args...]
	local conf=$1
	shift
	ip -n "$TOPO_NS_SW" addr replace 198.19.0.250/24 dev br0
	ip -n "$TOPO_NS_SW" addr replace 2001:db8:2::250/64 dev br0 nodad
	ip -n "$TOPO_NS_SW" link set lo up
	ip netns exec "$TOPO_NS_SW" "$EDGELB_BUILD/cp/edgelb-cp" --config "$conf" "$@" \
		> "$TOPO_DIR/cp.log" 2>&1 &
	echo $! > "$TOPO_DIR/cp.pid"
	for _ in $(seq 1 50); do
		ip netns exec "$TOPO_NS_SW" curl -s -m 1 "http://$CP_API/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$(cat "$TOPO_DIR/cp.pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "edgelb-cp did not start:" >&2
	cat "$TOPO_DIR/cp.log" >&2
	return 1
}

cp_stop() {
	[ -f "$TOPO_DIR/cp.pid" ] || return 0
	kill "$(cat "$TOPO_DIR/cp.pid")" 2>/dev/null || true
	rm -f "$TOPO_DIR/cp.pid"
}

# edgelbctl against the demo's control plane.
ctl() {
	ip netns exec "$TOPO_NS_SW" "$EDGELB_BUILD/cp/edgelbctl" --server "http://$CP_API" "$@"
}

# Wait until the dp reports the cp synced (dp generation set).
cp_wait_synced() {
	for _ in $(seq 1 50); do
		ip netns exec "$TOPO_NS_SW" curl -s -m 1 "http://$CP_API/healthz" | grep -q '"connected"' && return 0
		sleep 0.1
	done
	return 1
}
