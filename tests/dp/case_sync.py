#!/usr/bin/python3
"""
case_sync.py - flow sync with the real edgelb-dp, live (issue 12, docs/flow-sync.md).

The dp under test is box B (sync.id 1), one worker, net_pcap on veths in a private
namespace. This script plays its peer A (198.19.0.3, id 2), whose SNAT address is
198.19.0.50: it seals sync datagrams with its own HMAC-SHA-512-256 (Python's
hmac + hashlib, a second implementation of what the dp checks with libsodium).

1. join: B sends A a bulk request (checked: addresses, UDP checksum, MAC, type);
   A answers with a bulk end.
2. A's records for five connections (one IPv6, one UDP): B translates their backend replies (to A's
   SNAT address and port) and their client packets byte for byte as A would have.
3. hostile input while those connections keep flowing: truncated, oversized,
   wrongly keyed, replayed and future-versioned datagrams from A's address, a few
   of each, interleaved with traffic; every one counted under its own reason, none
   stored, every packet of the flows still translated.
4. the stats JSON: per-reason counters, flow_sync status, sync_adopted.
"""
import hashlib
import hmac
import ipaddress
import os
import struct
import time

from scapy.all import IP, UDP, Ether, Raw

import flows as F
import lbtest as T
from case_ctl_lib import Ctl

PEER = "198.19.0.3"
PEER_MAC = "02:00:00:00:01:03"
PEER_SNAT = "198.19.0.50"
PEER_SNAT6 = "2001:db8:2::50"
BACKEND6 = "2001:db8:2::10"
BOX_INT = "198.19.0.1"
KEY = bytes((i * 11 + 3) & 0xFF for i in range(32))
PORT = 7471
MAGIC = 0x454C4253
EPOCH = int(time.time()) - 100
BACKEND = "198.19.0.10"
N_EACH = 4   # hostile datagrams of each kind


def a16(s):
    b = ipaddress.ip_address(s).packed
    return b + bytes(16 - len(b))


def record(flow, flags=0x0C, timeout=900000):
    state = 1 if flow.proto == 6 else 5  # ESTABLISHED, UDP_STREAM
    return struct.pack("!BBBBB3x16s16s16s16sHHHHII", flow.family, flow.proto, 0, state,
                       flags if flow.proto == 6 else 0x04, a16(flow.vip),
                       a16(flow.client), a16(flow.backend), a16(flow.lip), flow.vport,
                       flow.cport, flow.bport, flow.lport, timeout, flow.cseq)


class Peer:
    def __init__(self):
        self.seq = 1000

    def dgram(self, typ, recs=(), *, key=KEY, version=1, seq=None, ts=None):
        if seq is None:
            self.seq += 1
            seq = self.seq
        ts = int(time.time() * 1000) if ts is None else ts
        body = struct.pack("!IBBHIIQQ", MAGIC, version, typ, len(recs), 2, EPOCH, seq, ts)
        body += b"".join(recs)
        return body + hmac.new(key, body, hashlib.sha512).digest()[:32]

    @staticmethod
    def frame(payload):
        return bytes(Ether(src=PEER_MAC, dst=T.INT_MAC) / IP(src=PEER, dst=BOX_INT, ttl=64) /
                     UDP(sport=PORT, dport=PORT) / Raw(payload))


def check_bulk_request(ck, raw):
    f = Ether(raw)
    ok = ck.ok(f.haslayer(UDP), "B -> A: a UDP datagram")
    if not ok:
        return
    ck.eq(f[Ether].dst, PEER_MAC, "B -> A: to A's MAC")
    ck.eq(f[Ether].src, T.INT_MAC, "B -> A: from B's int port")
    ck.eq((f[IP].src, f[IP].dst), (BOX_INT, PEER), "B -> A: port address to peer address")
    ck.eq((f[UDP].sport, f[UDP].dport), (PORT, PORT), "B -> A: sync.port both ends")
    ip = raw[14:14 + 20]
    ck.eq(T.ipv4_hdr_csum(ip), struct.unpack("!H", ip[10:12])[0], "B -> A: IPv4 header checksum")
    seg = raw[34:14 + struct.unpack("!H", ip[2:4])[0]]
    ck.eq(T.l4_csum(4, ip[12:16], ip[16:20], 17, seg), struct.unpack("!H", seg[6:8])[0],
          "B -> A: UDP checksum from scratch")
    dg = bytes(f[UDP].payload)
    body, mac = dg[:-32], dg[-32:]
    ck.ok(hmac.compare_digest(hmac.new(KEY, body, hashlib.sha512).digest()[:32], mac),
          "B -> A: HMAC-SHA-512-256 verifies under the shared key (Python's hmac)")
    magic, ver, typ, count, sender = struct.unpack("!IBBHI", body[:12])
    ck.eq((magic, ver, typ, count, sender), (MAGIC, 1, 2, 0, 1),
          "B -> A: magic, version 1, bulk request, no records, sender 1")


def run_case(ck, tmp, build):
    T.enter_private_netns()
    T.add_veth("xfsa0", "xfsb0")
    T.add_veth("ifsa0", "ifsb0")
    wires = T.Wires(["xfsb0", "ifsb0"])
    key_path = os.path.join(tmp, "sync.key")
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, KEY.hex().encode() + b"\n")
    os.close(fd)
    services = [{"name": "web", "vip": T.VIP4, "port": 80, "protocol": "tcp",
                 "backends": [{"address": BACKEND, "port": 8080}]},
                {"name": "web6", "vip": T.VIP6, "port": 80, "protocol": "tcp",
                 "backends": [{"address": BACKEND6, "port": 8080}]},
                {"name": "dns", "vip": T.VIP4, "port": 53, "protocol": "udp",
                 "backends": [{"address": BACKEND, "port": 5353}]}]
    conf = T.make_conf(workers=[1],
                       ports=[T.ext_port(T.pcap_live_device("net_pcap0", ["xfsa0"])),
                              T.int_port(T.pcap_live_device("net_pcap1", ["ifsa0"]))],
                       services=services, control_socket=os.path.join(tmp, "ctl.sock"),
                       neighbours_=T.neighbours() + [{"address": PEER, "mac": PEER_MAC}])
    conf += (f'sync = {{ enabled = true; id = 1; peers = ["{PEER}"]; key_file = "{key_path}";\n'
             f'  port = {PORT}; refresh_s = 3600; bulk_timeout_ms = 20000; }};\n')
    dp = T.Dp(build, tmp, conf, tag="sync")
    peer = Peer()
    sent = {k: 0 for k in ("truncated", "oversized", "bad_mac", "replayed", "bad_version")}
    try:
        ck.section("start edgelb-dp (1 worker, sync enabled, peer A 198.19.0.3)")
        if not ck.ok(dp.start(), "edgelb-dp started", dp.stderr()[-2000:]):
            return
        x = F.Exchange(ck, wires)

        ck.section("1. join: B asks A for its connections, A answers it has sent all")
        got = wires.collect(["ifsb0"], 1, timeout=5)
        if not ck.ok(len(got) >= 1, "a bulk request came out of the int port"):
            return
        check_bulk_request(ck, got[0][1])
        wires.send("ifsb0", peer.frame(peer.dgram(3)))
        time.sleep(1.5)
        wires.leftovers(settle=0.2)

        ck.section("2. A's connections: replies to A's SNAT port and client packets translated")
        flows = []
        for i in range(3):
            f = F.Flow(i, family=4, client=T.client4(i), cport=42000 + i, vip=T.VIP4, vport=80,
                       proto=6, mode="fnat", backends=[BACKEND], bport=8080)
            f.backend, f.lip, f.lport = BACKEND, PEER_SNAT, 50000 + i
            flows.append(f)
        f = F.Flow(3, family=6, client=T.client6(3), cport=42003, vip=T.VIP6, vport=80, proto=6,
                   mode="fnat", backends=[BACKEND6], bport=8080)
        f.backend, f.lip, f.lport = BACKEND6, PEER_SNAT6, 50003
        flows.append(f)  # an IPv6 connection, in an IPv4 datagram
        f = F.Flow(4, family=4, client=T.client4(4), cport=42004, vip=T.VIP4, vport=53, proto=17,
                   mode="fnat", backends=[BACKEND], bport=5353)
        f.backend, f.lip, f.lport = BACKEND, PEER_SNAT, 50004
        flows.append(f)  # and a UDP one
        good = peer.frame(peer.dgram(1, [record(f) for f in flows]))
        wires.send("ifsb0", good)
        time.sleep(0.3)
        x.run("backend replies to A's SNAT address", [
            ("ifsb0", f.from_backend("PA", b"reply %d" % f.i), F.rev(ck, f)) for f in flows],
            ["xfsb0"])
        x.run("client data of A's connections", [
            ("xfsb0", f.from_client("PA", b"more %d" % f.i), F.fwd(ck, f)) for f in flows],
            ["ifsb0"])

        ck.section("3. hostile datagrams from A's address while the flows go on")
        for rnd in range(N_EACH):
            valid = peer.dgram(1, [record(flows[0])])
            bad = {
                "truncated": valid[:len(valid) - 40],
                "oversized": valid + bytes(1400 - len(valid)),
                "bad_mac": peer.dgram(1, [record(flows[1])], key=bytes(32)),
                "replayed": bytes(Ether(good)[UDP].payload),
                "bad_version": peer.dgram(1, [record(flows[2])], version=2),
            }
            for k, payload in bad.items():
                wires.send("ifsb0", peer.frame(payload))
                sent[k] += 1
            x.run(f"round {rnd}: replies", [
                ("ifsb0", f.from_backend("PA", b"r%d-%d" % (rnd, f.i)), F.rev(ck, f))
                for f in flows], ["xfsb0"])
            x.run(f"round {rnd}: client data", [
                ("xfsb0", f.from_client("PA", b"c%d-%d" % (rnd, f.i)), F.fwd(ck, f))
                for f in flows], ["ifsb0"])
        left = [T.Frame(r).key() for _, r in wires.leftovers(settle=0.3)]
        ck.ok(not left, "nothing else came out", str(left))

        ck.section("control socket: flow_sync in hello; flow_sync.peers replaces the peers")
        c = Ctl(os.path.join(tmp, "ctl.sock"))
        rep = c.call("hello")
        fs = (rep.get("result") or {}).get("flow_sync") or {}
        ck.eq((fs.get("bulk_done"), fs.get("id")), (True, 1), "hello: flow_sync.bulk_done, id")
        rep = c.call("flow_sync.peers", peers=[PEER, "198.19.0.4"])
        ps = ((rep.get("result") or {}).get("flow_sync") or {}).get("peers") or []
        ck.eq([(p.get("address"), p.get("id")) for p in ps], [(PEER, 2), ("198.19.0.4", 0)],
              "flow_sync.peers: A kept (its id and state), a new peer added")
        rep = c.call("flow_sync.peers", peers=["not-an-address"])
        ck.eq((rep.get("ok"), rep.get("code")), (False, "invalid"), "flow_sync.peers: a bad address is refused")
        rep = c.call("flow_sync.peers", peers=[PEER])
        ck.ok(rep.get("ok") is True, "flow_sync.peers: back to A alone")
    finally:
        dp.stop()
        wires.close()
    ck.section("4. counters")
    if not dp.check_exit(ck):
        return
    st = dp.stats()
    ctl = st["control"]
    for k, n in sent.items():
        ck.eq(ctl.get(f"flow_sync_rx_{k}"), n, f"control.flow_sync_rx_{k}")
    for k in ("malformed", "stale", "not_peer", "bad_record"):
        ck.eq(ctl.get(f"flow_sync_rx_{k}"), 0, f"control.flow_sync_rx_{k}")
    ck.eq(ctl.get("flow_sync_rx_records"), 5, "control.flow_sync_rx_records: only A's good datagram")
    ck.eq(ctl.get("flow_sync_rx_datagrams"), 2, "control.flow_sync_rx_datagrams: bulk end + records")
    ck.eq(st["global"].get("sync_adopted"), 5, "global.sync_adopted: the five connections")
    ck.eq(st["global"]["drops"].get("reply_no_conn"), 0, "no reply dropped")
    fs = st.get("flow_sync") or {}
    ck.eq(fs.get("bulk_done"), True, "flow_sync.bulk_done")
    ck.eq(fs.get("peer_entries"), 5, "flow_sync.peer_entries")
    p = (fs.get("peers") or [{}])[0]
    ck.eq((p.get("address"), p.get("id"), p.get("bulk_done")), (PEER, 2, True),
          "flow_sync.peers[0]: address, id, bulk_done")
