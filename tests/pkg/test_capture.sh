#!/usr/bin/env bash
# test_capture.sh - live capture of a running edgelb-dp with Debian's dpdk-dumpcap.
#
# The demo topology (scripts/lib/topo.sh: client, dp on af_packet ports, three
# nginx backends), a service VIP4:80 -> b1..b3:8080 (fnat). dpdk-dumpcap attaches
# to the dp as a DPDK secondary process (same --file-prefix, hugepages) and
# captures both ports with a tcpdump-style filter while the client curls the VIP.
# tcpdump then reads the file: the client's SYN to the VIP and the VIP's answer on
# port 0 (ext), the SNATed connection from 198.19.0.2 to a backend's :8080 on port 1
# (int), the HTTP request on both sides, and nothing the filter excludes (ARP).
# Root, namespaces, DPDK: run alone (tests/pkg/meson.build wraps it in flock).
E2E_NAME=capture
# shellcheck source=tests/e2e/lib.sh disable=SC2034
source "$(dirname "$0")/../e2e/lib.sh"
command -v dpdk-dumpcap >/dev/null || e2e_unready "dpdk-dumpcap not installed (Debian package dpdk-dev)"

# The dp in hugepage memory, whatever topo_eal_mem would pick: a capture tool
# attaches only to that. 256 MB for the dp, some for dpdk-dumpcap's own pool.
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
[ "${free:-0}" -ge 192 ] ||
	fail "only ${free:-0} free 2 MiB hugepages, 192 needed: a capture tool attaches only to a dp in hugepage memory (scripts/setup.sh reserves them; other DPDK processes hold the rest)"
E2E_NO_START=1 e2e_up
rm -f "$TOPO_DIR/dp.sock"
ip netns exec "$TOPO_NS_DP" "$EDGELB_BUILD/dp/edgelb-dp" -l 0,1 --no-pci -m 256 \
	--file-prefix "$TOPO-dp" --log-level=user1,info -- --config "$E2E_CONF" >"$TOPO_DIR/dp.log" 2>&1 &
echo $! >"$TOPO_DIR/dp.pid"
for _ in $(seq 100); do
	[ -S "$TOPO_DIR/dp.sock" ] && break
	e2e_dp_alive || break
	sleep 0.1
done
[ -S "$TOPO_DIR/dp.sock" ] || { cat "$TOPO_DIR/dp.log" >&2; fail "edgelb-dp did not start"; }
check "edgelb-dp says live capture is ready" grep -q 'live capture ready' "$TOPO_DIR/dp.log"
upsert web4 "$VIP4" 80 tcp 8080 "" 1 2 3
wait_answer "$VIP4" 80

# dpdk-dumpcap of DPDK 22.11 captures one port per process: one for each port.
caps=()
for port in 0 1; do
	pcap=$TOPO_DIR/capture$port.pcapng
	ip netns exec "$TOPO_NS_DP" dpdk-dumpcap --file-prefix "$TOPO-dp" -q -i $port \
		-f 'tcp port 80 or tcp port 8080' -w "$pcap" -a duration:30 >"$TOPO_DIR/dumpcap$port.log" 2>&1 &
	caps+=($!)
	e2e_bg $!
	# Ready once it has written the file's header (its messages are buffered).
	for _ in $(seq 100); do
		[ -s "$pcap" ] && break
		kill -0 "${caps[$port]}" 2>/dev/null || { cat "$TOPO_DIR/dumpcap$port.log" >&2; fail "dpdk-dumpcap -i $port exited"; }
		sleep 0.1
	done
	[ -s "$pcap" ] || { cat "$TOPO_DIR/dumpcap$port.log" >&2; fail "dpdk-dumpcap -i $port did not start capturing"; }
	ok "dpdk-dumpcap attached to the running edgelb-dp, capturing port $port"
done
sleep 0.5

for i in 1 2 3; do
	in_c curl -s -m 3 -o /dev/null -w '%{http_code}\n' "$(url "$VIP4" 80 /id)" | grep -q 200 || fail "curl $i to $VIP4:80"
done
in_c ping -n -c 2 -i 0.2 -W 1 "$VIP4" >/dev/null 2>&1 || true # ICMP: must not be captured
ok "3 curls through the dp answered 200"
sleep 0.5
kill -INT "${caps[@]}"
for port in 0 1; do
	wait "${caps[$port]}" 2>/dev/null || true
	log "dumpcap -i $port: $(grep -v -e '^EAL' -e 'not driven' "$TOPO_DIR/dumpcap$port.log" | tr '\n' ' ' | tail -c 200)"
	[ -s "$TOPO_DIR/capture$port.pcapng" ] || fail "no capture file for port $port"
done

td() { tcpdump -r "$TOPO_DIR/capture$1.pcapng" -nn "${@:2}" 2>/dev/null; }
n0=$(td 0 | wc -l)
n1=$(td 1 | wc -l)
check "both captures hold packets (ext $n0, int $n1)" [ "$n0" -ge 10 ] && [ "$n1" -ge 10 ]
check "ext: client SYN to the VIP" grep -q "IP $CLIENT4\.[0-9]* > $VIP4\.80: Flags \[S\]" <(td 0)
check "ext: the VIP answers the client (SYN-ACK)" grep -q "IP $VIP4\.80 > $CLIENT4\.[0-9]*: Flags \[S\.\]" <(td 0)
check "int: fnat source 198.19.0.2 connects to a backend's :8080" grep -Eq "IP 198\.19\.0\.2\.[0-9]+ > 198\.19\.0\.1[123]\.8080: Flags \[S\]" <(td 1)
check "int: the backend answers 198.19.0.2" grep -Eq "IP 198\.19\.0\.1[123]\.8080 > 198\.19\.0\.2\.[0-9]+: Flags \[S\.\]" <(td 1)

g0=$(td 0 | grep -c "HTTP: GET /id" || true)
g1=$(td 1 | grep -c "HTTP: GET /id" || true)
check "the 3 HTTP requests on each port (ext $g0, int $g1)" [ "$g0" = 3 ] && [ "$g1" = 3 ]
check "the filter kept ARP and ICMP out" [ "$(td 0 'arp or icmp' | wc -l)" = 0 ] && [ "$(td 1 'arp or icmp' | wc -l)" = 0 ]
check "edgelb-dp still running" e2e_dp_alive
log "$E2E_CHECKS checks passed"
