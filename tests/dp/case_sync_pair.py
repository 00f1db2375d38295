#!/usr/bin/python3
"""
case_sync_pair.py - two real edgelb-dp processes sync their connections (issue 12).

Box A and box B, one worker each, share an internal segment (a bridge in a private
namespace) with the backend, which this script plays; each has its own external
veth to the clients (this script too), with the same VIP, as behind ECMP. Flow
sync between them on 198.19.0.1 <-> 198.19.0.5, one key.

1. A alone (its join times out): 6 client connections through A, checked byte for
   byte; A sends their records (seen on the segment, MAC checked).
2. B starts and joins: A answers B's bulk request; B reports bulk_done with A's
   connections in its peer table (control socket hello).
3. "ECMP moves the flows to B": the backend's replies to A's SNAT address come to
   B's MAC, the clients' packets to B's external port. B translates both directions
   with A's backend, SNAT address and port, byte for byte.
4. A new connection on A after B is up reaches B by live sync (not the bulk copy),
   and moves the same way.
5. Refresh: within 2.5 s (refresh_s = 1) A re-sends every connection, and B every
   connection it took over, still with A's SNAT address and port.
6. A restarts with empty tables: B's answer to its join (B's taken-over entries and
   what A had told B) gives A its connections back, and A translates them again.
"""
import hashlib
import hmac
import os
import struct
import time

from scapy.all import IP, UDP, Ether

import flows as F
import lbtest as T
from case_ctl_lib import Ctl

A_INT, B_INT = "198.19.0.1", "198.19.0.5"
A_INT_MAC, B_INT_MAC = T.INT_MAC, "02:00:00:00:01:05"
A_LOCAL, B_LOCAL = "198.19.0.100", "198.19.0.101"
BACKEND = "198.19.0.10"
KEY = bytes((i * 7 + 1) & 0xFF for i in range(32))
PORT = 7471
N = 6

_orig_ctrl_kind = T.ctrl_kind


def _ctrl_kind(raw):
    """Sync datagrams on the segment are the dps' own traffic, kept apart like ARP."""
    k = _orig_ctrl_kind(raw)
    if k is None and len(raw) >= 14 and raw[0] & 1 and raw[:6] != b"\xff" * 6:
        return "multicast"  # the bridge's own IGMP reports
    if k is None and len(raw) >= 38 and raw[12:14] == b"\x08\x00" and raw[23] == 17 and \
            struct.unpack("!HH", raw[34:38]) == (PORT, PORT):
        return "sync"
    return k


def box_conf(tmp, tag, ext_if, int_if, int_addr, int_mac, local, sync_id, peer, peer_mac,
             refresh_s=1):
    key_path = os.path.join(tmp, "sync.key")
    ports = [{"name": "ext", "device": T.pcap_live_device(f"net_pcap{tag}0", [ext_if]),
              "role": "external", "addresses": ["198.18.0.2/24"], "mac": T.EXT_MAC},
             {"name": "int", "device": T.pcap_live_device(f"net_pcap{tag}1", [int_if]),
              "role": "internal", "addresses": [int_addr + "/24"], "local_addresses": [local],
              "mac": int_mac}]
    neigh = [{"address": T.GW4, "mac": T.GW_MAC, "port": "ext"},
             {"address": BACKEND, "mac": T.BACKEND_MACS[BACKEND]},
             {"address": peer, "mac": peer_mac}]
    conf = T.make_conf(workers=[1], ports=ports, neighbours_=neigh,
                       control_socket=os.path.join(tmp, f"{tag}.sock"),
                       services=[{"name": "web", "vip": T.VIP4, "port": 80, "protocol": "tcp",
                                  "backends": [{"address": BACKEND, "port": 8080}]}])
    return conf + (f'sync = {{ enabled = true; id = {sync_id}; peers = ["{peer}"];\n'
                   f'  key_file = "{key_path}"; bulk_timeout_ms = 5000; refresh_s = {refresh_s}; }};\n')


def sync_records(ck, frames, src):
    """Records in the sync datagrams src sent (MAC checked): [(client, cport, local, lport)]."""
    out = []
    for raw in frames:
        if _ctrl_kind(raw) != "sync":
            continue
        f = Ether(raw)
        if f[IP].src != src:
            continue
        dg = bytes(f[UDP].payload)
        body, mac = dg[:-32], dg[-32:]
        ck.ok(hmac.compare_digest(hmac.new(KEY, body, hashlib.sha512).digest()[:32], mac),
              f"sync datagram from {src}: MAC verifies")
        count = struct.unpack("!H", body[6:8])[0]
        for i in range(count):
            r = body[32 + 88 * i:32 + 88 * (i + 1)]
            client = ".".join(str(b) for b in r[24:28])
            local = ".".join(str(b) for b in r[56:60])
            cport, _, lport = struct.unpack("!HHH", r[74:80])
            out.append((client, cport, local, lport))
    return out


def moved_rev(ck, flow):
    """B translating the backend's reply exactly as A would have."""
    def check(link, raw, raw_in):
        ck.eq(link, "xfsB1", f"{flow.name()} moved rev: out of B's external port")
        T.check_frame(ck, f"{flow.name()} moved rev", raw, flow.expect_rev(raw_in))
    return check


def moved_fwd(ck, flow):
    def check(link, raw, raw_in):
        want = T.rewrite(raw_in, eth_src=B_INT_MAC, eth_dst=T.BACKEND_MACS[flow.backend],
                         src=flow.lip, dst=flow.backend, sport=flow.lport, dport=flow.bport)
        T.check_frame(ck, f"{flow.name()} moved fwd (A's SNAT address and port, from B)", raw, want)
    return check


def flow(i):
    return F.Flow(i, family=4, client=T.client4(i), cport=43000 + i, vip=T.VIP4, vport=80,
                  proto=6, mode="fnat", backends=[BACKEND], bport=8080)


def through_a(ck, x, flows):
    x.run("SYN via A", [("xfsA1", f.from_client("S"), F.learn_fwd(ck, f, locals_=[A_LOCAL],
                                                                   snat=(T.SNAT_LO, T.SNAT_HI)))
                        for f in flows], ["ifsT0"])
    x.run("SYN-ACK via A", [("ifsT0", f.from_backend("SA"), F.rev(ck, f)) for f in flows],
          ["xfsA1"])
    x.run("ACK + data via A", [("xfsA1", f.from_client("PA", b"hello %d" % f.i), F.fwd(ck, f))
                               for f in flows], ["ifsT0"])


def move_to_b(ck, x, flows, what):
    x.run(f"{what}: backend replies to A's SNAT address, delivered to B",
          [("ifsT0", f.from_backend("PA", b"answer %d" % f.i, dst_mac=B_INT_MAC), moved_rev(ck, f))
           for f in flows], ["xfsA1", "xfsB1"])
    x.run(f"{what}: client data into B",
          [("xfsB1", f.from_client("PA", b"more %d" % f.i), moved_fwd(ck, f)) for f in flows],
          ["ifsT0"])


def segment(tmp):
    """The namespace, the bridge, the veths and the key file (also case_sync_lag.py)."""
    T.ctrl_kind = _ctrl_kind
    T.enter_private_netns()
    T.run(["ip", "link", "add", "fsbr0", "type", "bridge"])
    T.run(["ip", "link", "set", "fsbr0", "up"])
    for a, b in (("xfsA0", "xfsA1"), ("xfsB0", "xfsB1"), ("ifsA0", "ifsA1"), ("ifsB0", "ifsB1"),
                 ("ifsT0", "ifsT1")):
        T.add_veth(a, b)
    for i in ("ifsA1", "ifsB1", "ifsT1"):
        T.run(["ip", "link", "set", i, "master", "fsbr0"])
    for i in ("ifsA1", "ifsB1"):  # unknown unicast floods: the script sees A <-> B datagrams
        T.run(["ip", "link", "set", "dev", i, "type", "bridge_slave", "learning", "off"])
    fd = os.open(os.path.join(tmp, "sync.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, KEY)
    os.close(fd)


def run_case(ck, tmp, build):
    segment(tmp)
    wires = T.Wires(["xfsA1", "xfsB1", "ifsT0"])
    a_conf = box_conf(tmp, "A", "xfsA0", "ifsA0", A_INT, A_INT_MAC, A_LOCAL, 1, B_INT, B_INT_MAC)
    a = T.Dp(build, tmp, a_conf, tag="syncA")
    b = T.Dp(build, tmp, box_conf(tmp, "B", "xfsB0", "ifsB0", B_INT, B_INT_MAC, B_LOCAL, 2, A_INT,
                                  A_INT_MAC), tag="syncB")
    try:
        ck.section("1. box A alone: connections through A, their records on the segment")
        if not ck.ok(a.start(), "box A started", a.stderr()[-2000:]):
            return
        x = F.Exchange(ck, wires)
        flows = [flow(i) for i in range(N)]
        through_a(ck, x, flows)
        if any(f.lport is None for f in flows):
            return
        wires.leftovers(settle=0.3)
        recs = sync_records(ck, wires.ctrl["ifsT0"], A_INT)
        wires.ctrl["ifsT0"] = []
        ck.ok(all((f.client, f.cport, A_LOCAL, f.lport) in recs for f in flows),
              "A sent a record of each connection (client, SNAT address and port)", str(recs[:8]))

        ck.section("2. box B starts and joins: A's bulk copy")
        if not ck.ok(b.start(), "box B started", b.stderr()[-2000:]):
            return
        cb = Ctl(os.path.join(tmp, "B.sock"))
        fs = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            fs = ((cb.call("hello").get("result") or {}).get("flow_sync") or {})
            if fs.get("bulk_done") and fs.get("peer_entries", 0) >= N:
                break
            time.sleep(0.1)
        ck.eq((fs.get("bulk_done"), fs.get("peer_entries")), (True, N),
              "B: bulk_done, with A's connections in its peer table")
        p = (fs.get("peers") or [{}])[0]
        ck.eq((p.get("address"), p.get("id"), p.get("bulk_done")), (A_INT, 1, True),
              "B: peer A answered the join")
        ck.ok(fs.get("lag_samples", 0) >= 1 and fs.get("lag_us_p50", -1) >= 0 and
              fs.get("lag_us_p99", -1) >= fs.get("lag_us_p50", 0),
              "B: sync lag sampled (the bulk copy's records datagrams)",
              str({k: v for k, v in fs.items() if k.startswith("lag")}))
        deadline = time.monotonic() + 3
        while "bulk copy from peer 1 received" not in b.stderr() and time.monotonic() < deadline:
            time.sleep(0.05)
        ck.ok("bulk copy from peer 1 received" in b.stderr(), "B logged A's bulk copy",
              b.stderr()[-800:])
        wires.leftovers(settle=0.2)

        ck.section("3. ECMP moves A's connections to B")
        move_to_b(ck, x, flows, "bulk-copied")

        ck.section("4. a connection made on A after B is up reaches B by live sync")
        late = [flow(N)]
        through_a(ck, x, late)
        time.sleep(0.3)
        move_to_b(ck, x, late, "live-synced")
        wires.leftovers(settle=0.2)

        ck.section("5. refresh (sync.refresh_s = 1): both boxes re-send every connection they hold")
        wires.ctrl["ifsT0"] = []
        wires.leftovers(settle=2.5)
        every = flows + late
        ra = sync_records(ck, wires.ctrl["ifsT0"], A_INT)
        rb = sync_records(ck, wires.ctrl["ifsT0"], B_INT)
        ck.ok(all((f.client, f.cport, A_LOCAL, f.lport) in ra for f in every),
              "A refreshed each of its connections", f"{len(ra)} records")
        ck.ok(all((f.client, f.cport, A_LOCAL, f.lport) in rb for f in every),
              "B refreshed each connection it took over (A's SNAT address and port)",
              f"{len(rb)} records")

        ck.section("6. box A restarts without its tables: B's bulk answer gives them back")
        a.stop()
        a2 = T.Dp(build, tmp, a_conf, tag="syncA2")
        if not ck.ok(a2.start(), "box A restarted", a2.stderr()[-2000:]):
            return
        ca = Ctl(os.path.join(tmp, "A.sock"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            fs = ((ca.call("hello").get("result") or {}).get("flow_sync") or {})
            if fs.get("bulk_done") and fs.get("peer_entries", 0) >= N + 1:
                break
            time.sleep(0.1)
        ck.eq((fs.get("bulk_done"), fs.get("peer_entries")), (True, N + 1),
              "A (restarted): bulk_done, its own connections back in its peer table")
        wires.leftovers(settle=0.2)
        x.run("back on A: backend replies to A's SNAT address",
              [("ifsT0", f.from_backend("PA", b"again %d" % f.i), F.rev(ck, f)) for f in every],
              ["xfsA1", "xfsB1"])
        x.run("back on A: client data",
              [("xfsA1", f.from_client("PA", b"again %d" % f.i), F.fwd(ck, f)) for f in every],
              ["ifsT0"])
        wires.leftovers(settle=0.2)
        a2.stop()
        st2 = a2.stats() or {}
        ck.eq(st2.get("global", {}).get("sync_adopted"), N + 1,
              "A (restarted): took its own connections back (sync_adopted)")
    finally:
        b.stop()
        a.stop()
        wires.close()
    ck.section("7. counters")
    if not (a.check_exit(ck) and b.check_exit(ck)):
        return
    sa, sb = a.stats(), b.stats()
    ck.eq(sb["global"].get("sync_adopted"), N + 1, "B: global.sync_adopted")
    ck.eq(sb["global"]["drops"].get("reply_no_conn"), 0, "B: no reply dropped")
    ck.eq(sb["global"].get("ct_created"), N + 1, "B: connections made (all taken over)")
    for k in ("truncated", "oversized", "malformed", "bad_version", "bad_mac", "replayed", "stale",
              "not_peer", "bad_record"):
        ck.eq((sa["control"].get(f"flow_sync_rx_{k}"), sb["control"].get(f"flow_sync_rx_{k}")),
              (0, 0), f"A, B: control.flow_sync_rx_{k}")
    ck.ok(sa["control"].get("flow_sync_tx_records", 0) >= 2 * (N + 1),
          "A: records sent (live and bulk)", str(sa["control"].get("flow_sync_tx_records")))
    ck.eq(sa["control"].get("flow_sync_tx_dropped"), 0, "A: no sync datagram dropped")
