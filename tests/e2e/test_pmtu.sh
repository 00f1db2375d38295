#!/usr/bin/env bash
# shellcheck disable=SC2119 # e2e_up takes optional arguments, not the script's
# test_pmtu.sh - TCP through the box when the path MTU is smaller than both ends'.
#
# Topology with routers (scripts/lib/topo.sh TOPO_ROUTERS=1):
#   client (MTU 2000) -- dp ext 2000 | dp int 1400 -- r1 -- 1280 -- r2 -- backends (2000)
# Both ends announce MSS 1960, so every transfer depends on path MTU discovery:
#  - upload: the client's 2000-byte segments exceed the dp's own egress MTU
#    (int, 1400): the dp must originate "fragmentation needed" / "packet too
#    big" (from its address 198.18.0.1 / 2001:db8:1::1, counter icmp_errors_tx);
#    then r1 cannot forward 1400 bytes into the 1280 link and sends its error to
#    the dp (fnat: to the dp's source address; dnat: to the client address): the
#    dp must translate it so it quotes the client's own client -> VIP packet
#    (fnat: sent from the VIP; dnat: the router's source kept, as a NAT does);
#  - download: r2 tells the backend directly; the reply stream then fits.
# fnat services on VIP4/VIP6, dnat ones on 198.18.0.101 / 2001:db8:1::101 (path
# MTUs are learned per destination). For each: a 3 MB upload (curl -T to a small
# Python sink that answers with length and sha256) and a 3 MB download (nginx)
# complete intact; a capture on the client shows both kinds of error, with valid
# checksums; the sink saw the dp's source address (fnat) or the client's (dnat).
E2E_NAME=pmtu
export TOPO_BIGFILE_BYTES=1 TOPO_ROUTERS=1 TOPO_MTU=2000 TOPO_INT_MTU=1400 TOPO_ROUTER_MTU=1280
# shellcheck source=tests/e2e/lib.sh disable=SC2034
source "$(dirname "$0")/lib.sh"

SIZE=3000000
e2e_up
# DPDK 22.11's net_af_packet reports a 1518-byte max frame, so the dp cannot apply
# MTU 2000 to ext itself (it warns); topo.sh set the veth's MTU and the frame size.
# (2000, not 9000: on af_packet the dp's mbufs hold full frames only up to ~2000.)
if grep -q 'not applied' "$TOPO_DIR/dp.log"; then log "note: $(grep 'not applied' "$TOPO_DIR/dp.log")"; fi
head -c $SIZE /dev/urandom > "$TOPO_DIR/up.bin"
SUM=$(sha256sum < "$TOPO_DIR/up.bin" | cut -d' ' -f1)
for i in 1 2 3; do
	cp "$TOPO_DIR/up.bin" "$TOPO_DIR/b$i/www/big.bin"
	ip netns exec "$(topo_ns_b "$i")" "$PY" "$E2E_SRC/tests/e2e/upload_sink.py" "b$i" 8081 &
	e2e_bg $!
done
# dnat services on VIPs of their own: learned path MTUs are per destination, so
# the dnat transfers have to discover theirs afresh.
VIP4D=198.18.0.101
VIP6D=2001:db8:1::101
batch_begin
for vip in "$VIP4" "$VIP6"; do
	upsert "web-$vip" "$vip" 80 tcp 8080 "" 1 2 3
	upsert "up-$vip" "$vip" 81 tcp 8081 "" 1 2 3
done
for vip in "$VIP4D" "$VIP6D"; do
	upsert "web-dnat-$vip" "$vip" 80 tcp 8080 '"mode":"dnat"' 1 2 3
	upsert "up-dnat-$vip" "$vip" 81 tcp 8081 '"mode":"dnat"' 1 2 3
done
batch_end
log "fnat on $VIP4, $VIP6 and dnat on $VIP4D, $VIP6D: :80 download (nginx), :81 upload (sink)"

ip netns exec "$TOPO_NS_C" tcpdump -i c0 -nn --immediate-mode -U -w "$TOPO_DIR/icmp.pcap" \
	'(icmp and icmp[0] == 3 and icmp[1] == 4) or (icmp6 and ip6[40] == 2)' 2>"$TOPO_DIR/tcpdump.err" &
TCPDUMP=$!
e2e_bg $TCPDUMP
for _ in $(seq 1 50); do grep -q listening "$TOPO_DIR/tcpdump.err" && break; sleep 0.1; done
grep -q listening "$TOPO_DIR/tcpdump.err" || fail "tcpdump did not start: $(cat "$TOPO_DIR/tcpdump.err")"

# transfer MODE VIP: upload and download through the service pair of MODE.
transfer() {
	local mode=$1 vip=$2 up=81 down=80 res want_peer t0
	t0=${EPOCHREALTIME/./}
	res=$(in_c curl -s -m 60 -H 'Expect:' -T "$TOPO_DIR/up.bin" "$(url "$vip" $up /)") ||
		fail "$mode upload to $vip:$up did not complete (curl $?); dp drops: $(e2e_drops)"
	log "$mode upload to $vip:$up: $res ($(((${EPOCHREALTIME/./} - t0) / 1000)) ms)"
	local name peer bytes sum
	read -r name peer bytes sum <<<"$res"
	check "$mode upload to $vip:$up: $SIZE bytes arrived intact at $name" [ "$bytes $sum" = "$SIZE $SUM" ]
	if [ "$mode" = dnat ]; then
		case $vip in *:*) want_peer=$CLIENT6 ;; *) want_peer=$CLIENT4 ;; esac
	else
		case $vip in *:*) want_peer=2001:db8:fe::2 ;; *) want_peer=198.19.254.2 ;; esac
	fi
	check "$mode upload: the backend saw the connection from $want_peer ($peer)" [ "$peer" = "$want_peer" ]
	t0=${EPOCHREALTIME/./}
	in_c curl -s -m 60 -o "$TOPO_DIR/down.bin" "$(url "$vip" $down /big.bin)" ||
		fail "$mode download from $vip:$down did not complete (curl $?); dp drops: $(e2e_drops)"
	log "$mode download from $vip:$down done ($(((${EPOCHREALTIME/./} - t0) / 1000)) ms)"
	check "$mode download from $vip:$down: $SIZE bytes intact" \
		[ "$(sha256sum < "$TOPO_DIR/down.bin" | cut -d' ' -f1)" = "$SUM" ]
}

transfer fnat "$VIP4"
transfer fnat "$VIP6"
transfer dnat "$VIP4D"
transfer dnat "$VIP6D"

# The capture may lag behind the transfers: give it (up to 5 s) until it holds
# errors about both VIPs of each family, then stop it.
for _ in $(seq 1 25); do
	icmp=$("$PY" "$E2E_SRC/tests/e2e/icmp_pcap.py" "$TOPO_DIR/icmp.pcap")
	[ "$(grep -Eo ">($VIP4|$VIP4D|$VIP6|$VIP6D)\.81 " <<<"$icmp" | sort -u | wc -l)" = 4 ] && break
	sleep 0.2
done
kill -INT $TCPDUMP
for _ in $(seq 1 30); do kill -0 $TCPDUMP 2>/dev/null || break; sleep 0.1; done
icmp=$("$PY" "$E2E_SRC/tests/e2e/icmp_pcap.py" "$TOPO_DIR/icmp.pcap")
log "too-big errors the client received:"
sort <<<"$icmp" | uniq -c | sed 's/^/    /' >&2

# seen DESCRIPTION REGEX: the capture holds such an error, with a valid checksum.
seen() {
	if grep -Eq "$2 cksum=ok" <<<"$icmp"; then ok "$1"; else fail "$1: not seen"; fi
}
c4=${CLIENT4//./\\.}
for mode in fnat dnat; do
	if [ $mode = fnat ]; then
		vip4=$VIP4 vip6=$VIP6 from4=$VIP4 from6=$VIP6
	else
		# dnat: the client's own address crossed the backends' network, so the
		# router's error keeps its source; only the quoted packet is translated.
		vip4=$VIP4D vip6=$VIP6D from4=198.19.254.254 from6=2001:db8:fe::fe
	fi
	v4=${vip4//./\\.}
	seen "$mode v4: dp originated frag-needed (mtu 1400) from 198.18.0.1 quoting client -> $vip4:81" \
		"^v4 198\\.18\\.0\\.1 $c4 mtu=1400 inner=$c4\\.[0-9]+>$v4\\.81"
	seen "$mode v4: r1's frag-needed (mtu 1280) translated, from $from4 quoting client -> $vip4:81" \
		"^v4 ${from4//./\\.} $c4 mtu=1280 inner=$c4\\.[0-9]+>$v4\\.81"
	seen "$mode v6: dp originated packet-too-big (mtu 1400) from 2001:db8:1::1 quoting client -> [$vip6]:81" \
		"^v6 2001:db8:1::1 $CLIENT6 mtu=1400 inner=$CLIENT6\\.[0-9]+>$vip6\\.81"
	seen "$mode v6: r1's packet-too-big (mtu 1280) translated, from $from6 quoting client -> [$vip6]:81" \
		"^v6 $from6 $CLIENT6 mtu=1280 inner=$CLIENT6\\.[0-9]+>$vip6\\.81"
done
if grep -q 'cksum=bad' <<<"$icmp"; then fail "an ICMP error with a bad checksum reached the client"; fi
ok "every too-big error the client got has a valid checksum"

sent=$(stat_ctrl icmp_errors_tx)
check "dp counter icmp_errors_tx > 0 ($sent)" [ "$sent" -gt 0 ]
log "drops: $(e2e_drops)"
check "edgelb-dp still running" e2e_dp_alive
