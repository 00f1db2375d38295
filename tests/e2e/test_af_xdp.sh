#!/usr/bin/env bash
# shellcheck disable=SC2119 # e2e_up takes optional arguments, not the script's
# test_af_xdp.sh - the dp forwards through net_af_xdp ports on veths.
#
# The topology of the other e2e tests, with the dp's ports given as
# "net_af_xdp0,iface=ext" / "net_af_xdp1,iface=int" (TOPO_PMD=af_xdp): XDP in the
# veth driver hands every frame to the dp's AF_XDP socket. Checks: both ports come
# up as net_af_xdp with an XDP program on the veth; ARP and ICMP echo for the VIP
# are answered; 30 new connections to VIP4:80 and to [VIP6]:80 (fnat) are all
# answered, by every backend; a 2 MB download through VIP4 arrives whole (same
# sha256 as the backend's file; the client's kernel checks every rewritten TCP
# checksum); the dp's port counters saw the
# traffic; when the dp stops, the XDP program leaves the veths.
E2E_NAME=afxdp
# shellcheck source=tests/e2e/lib.sh disable=SC2034
source "$(dirname "$0")/lib.sh"

N=30
export TOPO_PMD=af_xdp TOPO_BIGFILE_BYTES=2000000

e2e_up
check "ext is a net_af_xdp port" grep -q "port: ext: ethdev [0-9]* (net_af_xdp)" "$TOPO_DIR/dp.log"
check "int is a net_af_xdp port" grep -q "port: int: ethdev [0-9]* (net_af_xdp)" "$TOPO_DIR/dp.log"
check "an XDP program is attached to ext" grep -q "prog/xdp" < <(ip -d -n "$TOPO_NS_DP" link show ext)
upsert web4 "$VIP4" 80 tcp 8080 "" 1 2 3
upsert web6 "$VIP6" 80 tcp 8080 "" 1 2 3

check "ICMP echo to $VIP4 answered" in_c ping -n -c 2 -i 0.2 -W 2 -w 6 "$VIP4"
wait_answer "$VIP4" 80
wait_answer "$VIP6" 80

for vip in "$VIP4" "$VIP6"; do
	ids=$(many_ids "$N" "$vip" 80)
	errs=$(count ERR <<<"$ids")
	c1=$(count b1 <<<"$ids")
	c2=$(count b2 <<<"$ids")
	c3=$(count b3 <<<"$ids")
	log "$vip: b1=$c1 b2=$c2 b3=$c3 failed=$errs"
	check "$vip: all $N connections answered" [ "$errs" = 0 ]
	least=$(printf '%s\n' "$c1" "$c2" "$c3" | sort -n | head -1)
	check "$vip: every backend answered some ($least at least)" [ "$least" -gt 0 ]
done

want=$(sha256sum "$TOPO_DIR/b1/www/big.bin" | cut -d' ' -f1)
# /slow is rate-limited to 200 KB/s by nginx: 2 MB take ~10 s.
got=$(in_c curl -s -m 30 "$(url "$VIP4" 80 /slow)" | sha256sum | cut -d' ' -f1)
check "2 MB download through $VIP4 arrives intact" [ "$got" = "$want" ]

st=$(stats)
rx=$(json 'min(p["rx_packets"] for p in r["ports"])' <<<"$st")
check "both ports received packets (min rx $rx)" [ "$rx" -gt $((2 * N)) ]
log "drops: $(e2e_drops)"
check "edgelb-dp still running" e2e_dp_alive

topo_dp_stop
if ip -d -n "$TOPO_NS_DP" link show ext | grep -q "prog/xdp"; then
	fail "the XDP program stayed on ext after the dp stopped"
fi
ok "the XDP program left ext with the dp"
