#!/usr/bin/python3
"""
case_hostile.py - hostile clients against the conntrack (issue 14, findings 1-5), live.

One worker, live veths in a private namespace (as dp-fnat4), a control socket for
conns.list, a small table (capacity 32) and a small SNAT range (20000-20007 on two
local addresses: 16 ports toward a backend), so exhaustion is reached with a handful
of frames. Every forwarded frame is checked against its expected translation.

1. mid-stream pickup: a first packet that is not a SYN (ACK + data) is forwarded but
   listed "unconfirmed" with the short timeout (<= tcp_unconfirmed, 10 s); the
   backend's answer makes it "established" (900 s).
2. RST sequence check: on an established connection, a client RST whose sequence
   number is far from the client's stream is dropped (rst_window) and the connection
   stays established and keeps forwarding both ways; a RST at the client's sequence
   number goes through and closes it.
3. UDP timeouts: a query and its answer leave the flow "udp" (<= 30 s); the
   client's next datagram makes it "udp_stream" (120 s).
4. SNAT ports exhausted by unanswered SYNs (a flood's leftovers): a new client's
   SYN takes the port of the oldest unanswered entry instead of being dropped
   (no_snat), and its SYN-ACK comes back translated.
5. table full of unanswered SYNs (dnat service): a new client's SYN evicts one
   instead of being forwarded without state; its reply is translated, not dropped
   as not_ours.
Answered connections are never evicted: the pickup connection still forwards at
the end.
"""
import os

import flows as F
import lbtest as T
from case_ctl_lib import Ctl

CAP = 32
SNAT = (20000, 20007)
WEB_B = ["198.19.0.10"]
DNAT_B = ["198.19.0.11"]
DNS_B = ["198.19.0.12"]


def conns(ck, c):
    rep = c.call("conns.list", limit=1000)
    ok = isinstance(rep, dict) and rep.get("ok") is True
    ck.ok(ok, "conns.list answered", str(rep)[:400])
    return rep["result"]["connections"] if ok else []


def conn_of(lst, flow):
    for e in lst:
        if e["client"] == flow.client and e["client_port"] == flow.cport:
            return e
    return None


def check_state(ck, c, flow, state, lo_ms, hi_ms):
    e = conn_of(conns(ck, c), flow)
    if not ck.ok(e is not None, f"{flow.name()}: listed by conns.list"):
        return
    ck.eq(e["state"], state, f"{flow.name()}: state")
    ck.ok(lo_ms < e["expires_in_ms"] <= hi_ms,
          f"{flow.name()}: expires_in_ms {e['expires_in_ms']} in ({lo_ms}, {hi_ms}]")


def run_case(ck, tmp, build):
    T.enter_private_netns()
    T.add_veth("xa0", "xb0")
    T.add_veth("ia0", "ib0")
    wires = T.Wires(["xb0", "ib0"])
    path = os.path.join(tmp, "ctl.sock")
    services = [
        {"name": "web", "vip": T.VIP4, "port": 80, "protocol": "tcp",
         "backends": [{"address": b, "port": 8080} for b in WEB_B]},
        {"name": "webd", "vip": T.VIP4, "port": 81, "protocol": "tcp", "mode": "dnat",
         "backends": [{"address": b, "port": 8081} for b in DNAT_B]},
        {"name": "dns", "vip": T.VIP4, "port": 53, "protocol": "udp", "mode": "dnat",
         "backends": [{"address": b, "port": 5353} for b in DNS_B]},
    ]
    conf = T.make_conf(workers=[1],
                       ports=[T.ext_port(T.pcap_live_device("net_pcap0", ["xa0"])),
                              T.int_port(T.pcap_live_device("net_pcap1", ["ia0"]))],
                       services=services, control_socket=path, snat=SNAT,
                       conntrack={"capacity": CAP}, hash_seed=0x0123456789ABCDEF)
    dp = T.Dp(build, tmp, conf, tag="hostile")
    c = None
    try:
        ck.section(f"start edgelb-dp (1 worker, conntrack capacity {CAP}, snat_ports {SNAT})")
        if not ck.ok(dp.start(), "edgelb-dp started", dp.stderr()[-2000:]):
            return
        ck.ok("hash_seed is the built-in" not in dp.stderr(),
              "no hash_seed warning with a seed of its own", dp.stderr()[-800:])
        c = Ctl(path)
        x = F.Exchange(ck, wires)
        locals_ = T.LOCAL4
        n_created = 0

        def web_flow(i, cport):
            return F.Flow(i, family=4, client=T.client4(i), cport=cport, vip=T.VIP4, vport=80,
                          proto=6, mode="fnat", backends=WEB_B, bport=8080)

        ck.section("1. mid-stream pickup: ACK + data first, unconfirmed until the backend answers")
        p = web_flow(1, 41001)
        x.run("pickup: client ACK + data", [("xb0", p.from_client("PA", b"GET / mid-stream"),
                                             F.learn_fwd(ck, p, locals_=locals_, snat=SNAT))],
              ["ib0"])
        n_created += 1
        if p.backend is None:
            return
        check_state(ck, c, p, "unconfirmed", 0, 10000)
        x.run("pickup: backend answers", [("ib0", p.from_backend("A", b"HTTP/1.1 200"),
                                           F.rev(ck, p))], ["xb0"])
        check_state(ck, c, p, "established", 10000, 900000)

        ck.section("2. a client RST out of the sequence window is dropped; in the window it closes")
        e = web_flow(2, 41002)
        x.run("SYN", [("xb0", e.from_client("S"), F.learn_fwd(ck, e, locals_=locals_, snat=SNAT))],
              ["ib0"])
        n_created += 1
        if e.backend is None:
            return
        x.run("SYN-ACK", [("ib0", e.from_backend("SA"), F.rev(ck, e))], ["xb0"])
        x.run("ACK", [("xb0", e.from_client("A"), F.fwd(ck, e))], ["ib0"])
        good = e.cseq
        e.cseq = (good + 0x40000000) & 0xFFFFFFFF  # an off-path guess, 1 GiB away
        wires.send("xb0", e.from_client("R"))
        e.cseq = good
        left = wires.leftovers(settle=0.4)
        ck.ok(len(left) == 0, "off-window RST: nothing came out", f"{[T.Frame(r).key() for _, r in left]}")
        check_state(ck, c, e, "established", 10000, 900000)
        x.run("data after the spoofed RST", [("xb0", e.from_client("PA", b"still here"),
                                              F.fwd(ck, e))], ["ib0"])
        x.run("answer after the spoofed RST", [("ib0", e.from_backend("PA", b"me too"),
                                                F.rev(ck, e))], ["xb0"])
        x.run("RST at the client's sequence number", [("xb0", e.from_client("RA"), F.fwd(ck, e))],
              ["ib0"])
        check_state(ck, c, e, "closed", 0, 10000)

        ck.section("3. UDP: query + answer keep the short timeout; a stream gets the long one")
        d = F.Flow(3, family=4, client=T.client4(3), cport=33003, vip=T.VIP4, vport=53, proto=17,
                   mode="dnat", backends=DNS_B, bport=5353)
        x.run("query", [("xb0", d.from_client(payload=b"query 1"),
                         F.learn_fwd(ck, d, locals_=[], snat=None))], ["ib0"])
        n_created += 1
        if d.backend is None:
            return
        x.run("answer", [("ib0", d.from_backend(payload=b"answer 1"), F.rev(ck, d))], ["xb0"])
        check_state(ck, c, d, "udp", 0, 30000)
        x.run("query 2", [("xb0", d.from_client(payload=b"query 2"), F.fwd(ck, d))], ["ib0"])
        check_state(ck, c, d, "udp_stream", 30000, 120000)

        ck.section("4. SNAT ports held by unanswered SYNs: a new client takes the oldest one's port")
        used = 2  # p and e hold one port each (e closed, still listed)
        n_ports = 2 * (SNAT[1] - SNAT[0] + 1)
        flood = [web_flow(100 + i, 42000 + i) for i in range(n_ports - used)]
        x.run("flood SYNs fill the SNAT range",
              [("xb0", f.from_client("S"), F.learn_fwd(ck, f, locals_=locals_, snat=SNAT))
               for f in flood], ["ib0"])
        n_created += len(flood)
        l1 = web_flow(200, 43000)
        x.run("new client's SYN with every port taken",
              [("xb0", l1.from_client("S"), F.learn_fwd(ck, l1, locals_=locals_, snat=SNAT))],
              ["ib0"])
        n_created += 1
        if l1.backend is None:
            return
        ck.ok((l1.lip, l1.lport) in {(f.lip, f.lport) for f in flood},
              f"{l1.name()}: took the port of an unanswered flood entry ({l1.lip}:{l1.lport})")
        x.run("its SYN-ACK comes back", [("ib0", l1.from_backend("SA"), F.rev(ck, l1))], ["xb0"])
        x.run("its ACK", [("xb0", l1.from_client("A"), F.fwd(ck, l1))], ["ib0"])

        ck.section(f"5. table full ({CAP}) of unanswered SYNs: a new client evicts one")
        n_now = len(conns(ck, c))
        ck.eq(n_now, n_created - 1, "entries before the dnat flood (one flood entry recycled)")

        def dnat_flow(i, cport):
            return F.Flow(i, family=4, client=T.client4(i), cport=cport, vip=T.VIP4, vport=81,
                          proto=6, mode="dnat", backends=DNAT_B, bport=8081)
        flood2 = [dnat_flow(150 + i, 44000 + i) for i in range(CAP - n_now)]
        x.run("dnat flood SYNs fill the table",
              [("xb0", f.from_client("S"), F.learn_fwd(ck, f, locals_=[], snat=None))
               for f in flood2], ["ib0"])
        n_created += len(flood2)
        ck.eq(len(conns(ck, c)), CAP, "table full")
        l2 = dnat_flow(240, 45000)
        x.run("new client's SYN into the full table",
              [("xb0", l2.from_client("S"), F.learn_fwd(ck, l2, locals_=[], snat=None))], ["ib0"])
        n_created += 1
        if l2.backend is None:
            return
        x.run("its SYN-ACK is translated (the flow has state)",
              [("ib0", l2.from_backend("SA"), F.rev(ck, l2))], ["xb0"])
        ck.eq(len(conns(ck, c)), CAP, "table still full, nothing lost but one unanswered entry")

        ck.section("answered connections survived: the pickup connection still forwards")
        x.run("pickup data", [("xb0", p.from_client("PA", b"more"), F.fwd(ck, p))], ["ib0"])
        x.run("pickup answer", [("ib0", p.from_backend("PA", b"more back"), F.rev(ck, p))],
              ["xb0"])
        check_state(ck, c, p, "established", 10000, 900000)
        left = wires.leftovers(settle=0.3)
        ck.eq(len(left), 0, "no unexpected frame came out")

        ck.section("conns.list in pages (issue 14, finding 10): limit 5, following next_cursor")
        whole = conns(ck, c)
        paged, cursor, pages = [], None, 0
        while pages < 20:
            req = {"limit": 5} if cursor is None else {"limit": 5, "cursor": cursor}
            rep = c.call("conns.list", **req)
            if not ck.ok(rep.get("ok") is True, f"page {pages + 1} answered", str(rep)[:300]):
                break
            r = rep["result"]
            pages += 1
            ck.ok(len(r["connections"]) <= 5, f"page {pages}: at most 5 entries")
            paged += r["connections"]
            if not r["truncated"]:
                ck.ok("next_cursor" not in r, "last page: no next_cursor")
                break
            cursor = r["next_cursor"]
        key = lambda e: (e["client"], e["client_port"], e["backend"], e["backend_port"])  # noqa: E731
        ck.eq(pages, (CAP + 4) // 5, "pages")
        ck.ok(sorted(map(key, paged)) == sorted(map(key, whole)) and len(whole) == CAP,
              f"the pages together list every connection once ({len(paged)} of {len(whole)})")
        rep = c.call("conns.list", cursor=-1)
        ck.ok(rep.get("ok") is False and rep.get("code") == "invalid", "a bad cursor is refused",
              str(rep)[:300])

        ck.section("stop, stats JSON")
        c.close()
        c = None
        dp.stop()
        if not dp.check_exit(ck):
            return
        st = dp.stats()
        T.check_counters(ck, st, events={"ct_created": n_created, "ct_full": 1,
                                         "ct_evicted": 2}, drops={"rst_window": 1})
    finally:
        if c is not None:
            c.close()
        dp.kill()
        dp.stop()
        wires.close()
