#!/usr/bin/python3
"""
case_sync_takeover.py - on-link SNAT take-over between two real edgelb-dp processes
(issue 12, sync.onlink_takeover; docs/flow-sync.md "On-link take-over").

The topology of case_sync_pair.py (box A id 1, box B id 2 on one internal segment,
a bridge, with the backend, which this script plays and observes from), both boxes
with an IPv4 and an IPv6 SNAT address on their internal port, heartbeats every
100 ms, takeover_ms = 1000.

ON (both boxes sync.onlink_takeover = true):
1. A IPv4 and an IPv6 connection through A (bare SYNs): B learns A's two SNAT
   addresses from A's records.
2. A is killed (SIGKILL). Within 2 s B sends a gratuitous ARP for A's IPv4 SNAT
   address and an unsolicited NA for the IPv6 one, with B's MAC; then B answers an
   ARP request and a neighbour solicitation for them with its own MAC
   (flow_sync.onlink_held lists both).
3. A starts again: B hears it and stops answering (onlink_held empty, released);
   A announces its addresses itself, and the last announcement of each on the
   segment is A's: one of B's still on its way after A's start (B announces each
   take-over 3 times, 1 s apart, until it hears A) is answered by A's own
   (arp.c defend()), so the segment's caches end on A.
OFF (the setting left at its default, false): the same kill sends nothing for A's
addresses from B in 2.5 s, and B leaves an ARP request for them unanswered.
"""
import os
import time

from scapy.all import ARP, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IP, IPv6, TCP, Ether

import case_sync_pair as P
import lbtest as T
from case_ctl_lib import Ctl

A_INT6, B_INT6 = "2001:db8:2::1", "2001:db8:2::5"
A_LOCAL6, B_LOCAL6 = "2001:db8:2::100", "2001:db8:2::101"
BACKEND6 = "2001:db8:2::10"
BK_MAC = T.BACKEND_MACS[P.BACKEND]


def conf(tmp, tag, on):
    a = tag == "A"
    ports = [{"name": "ext", "device": T.pcap_live_device(f"net_pcap{tag}0", [f"xfs{tag}0"]),
              "role": "external", "addresses": T.EXT_ADDRS, "mac": T.EXT_MAC},
             {"name": "int", "device": T.pcap_live_device(f"net_pcap{tag}1", [f"ifs{tag}0"]),
              "role": "internal",
              "addresses": [(P.A_INT if a else P.B_INT) + "/24", (A_INT6 if a else B_INT6) + "/64"],
              "local_addresses": [P.A_LOCAL, A_LOCAL6] if a else [P.B_LOCAL, B_LOCAL6],
              "mac": P.A_INT_MAC if a else P.B_INT_MAC}]
    peer, peer_mac = (P.B_INT, P.B_INT_MAC) if a else (P.A_INT, P.A_INT_MAC)
    neigh = [{"address": T.GW4, "mac": T.GW_MAC, "port": "ext"},
             {"address": T.GW6, "mac": T.GW_MAC, "port": "ext"},
             {"address": P.BACKEND, "mac": BK_MAC},
             {"address": BACKEND6, "mac": T.BACKEND_MACS[BACKEND6]},
             {"address": peer, "mac": peer_mac}]
    svcs = [{"name": "web", "vip": T.VIP4, "port": 80, "protocol": "tcp",
             "backends": [{"address": P.BACKEND, "port": 8080}]},
            {"name": "web6", "vip": T.VIP6, "port": 80, "protocol": "tcp",
             "backends": [{"address": BACKEND6, "port": 8080}]}]
    text = T.make_conf(workers=[1], ports=ports, neighbours_=neigh, services=svcs,
                       control_socket=os.path.join(tmp, f"{tag}.sock"))
    return text + (f'sync = {{ enabled = true; id = {1 if a else 2}; peers = ["{peer}"];\n'
                   f'  key_file = "{os.path.join(tmp, "sync.key")}"; bulk_timeout_ms = 5000;\n'
                   f'  onlink_takeover = {"true" if on else "false"}; takeover_ms = 1000;\n'
                   f'  heartbeat_ms = 100; }};\n')


def flow_sync(ctl):
    return (ctl.call("hello").get("result") or {}).get("flow_sync") or {}


def wait(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


def announcements(frames, last=False):
    """{address: MAC} of the first (or last) gratuitous ARP / unsolicited NA of each address in frames."""
    out = {}
    for raw in frames:
        f = Ether(raw)
        if ARP in f and f[ARP].op == 1 and f[ARP].psrc == f[ARP].pdst:
            k, v = f[ARP].psrc, f[ARP].hwsrc
        elif ICMPv6ND_NA in f and not f[ICMPv6ND_NA].S:
            k, v = f[ICMPv6ND_NA].tgt, f.src
        else:
            continue
        if last or k not in out:
            out[k] = v
    return out


def answers(frames):
    """{address: MAC} of ARP replies and solicited NAs in frames."""
    out = {}
    for raw in frames:
        f = Ether(raw)
        if ARP in f and f[ARP].op == 2:
            out.setdefault(f[ARP].psrc, f[ARP].hwsrc)
        elif ICMPv6ND_NA in f and f[ICMPv6ND_NA].S:
            out.setdefault(f[ICMPv6ND_NA].tgt, f.src)
    return out


def ask(wires):
    """The backend asks who has A's SNAT addresses (ARP request, neighbour solicitation)."""
    wires.send("ifsT0", Ether(src=BK_MAC, dst="ff:ff:ff:ff:ff:ff") /
               ARP(op=1, hwsrc=BK_MAC, psrc=P.BACKEND, pdst=P.A_LOCAL))
    snm = "ff02::1:ff" + A_LOCAL6.replace(":", "")[-6:-4] + ":" + A_LOCAL6.replace(":", "")[-4:]
    mac6 = "33:33:ff:" + ":".join(A_LOCAL6.replace(":", "").rjust(6, "0")[-6:][i:i + 2]
                                  for i in (0, 2, 4))
    wires.send("ifsT0", Ether(src=T.BACKEND_MACS[BACKEND6], dst=mac6) /
               IPv6(src=BACKEND6, dst=snm, hlim=255) / ICMPv6ND_NS(tgt=A_LOCAL6) /
               ICMPv6NDOptSrcLLAddr(lladdr=T.BACKEND_MACS[BACKEND6]))


def phase(ck, tmp, build, wires, on):
    name = "on" if on else "off"
    a = T.Dp(build, tmp, conf(tmp, "A", on), tag=f"toA{name}")
    b = T.Dp(build, tmp, conf(tmp, "B", on), tag=f"toB{name}")
    a2 = None
    try:
        ck.section(f"{name}: A and B start, one IPv4 and one IPv6 connection through A")
        if not (ck.ok(a.start(), f"{name}: box A started", a.stderr()[-2000:]) and
                ck.ok(b.start(), f"{name}: box B started", b.stderr()[-2000:])):
            return
        ca, cb = Ctl(os.path.join(tmp, "A.sock")), Ctl(os.path.join(tmp, "B.sock"))
        ck.ok(wait(lambda: flow_sync(ca).get("bulk_done") and flow_sync(cb).get("bulk_done"), 15),
              f"{name}: A and B joined (bulk_done)")
        wires.send("xfsA1", Ether(src=T.GW_MAC, dst=T.EXT_MAC) / IP(src=T.client4(1), dst=T.VIP4) /
                   TCP(sport=41000, dport=80, flags="S"))
        wires.send("xfsA1", Ether(src=T.GW_MAC, dst=T.EXT_MAC) /
                   IPv6(src=T.client6(1), dst=T.VIP6) / TCP(sport=41001, dport=80, flags="S"))
        ck.ok(wait(lambda: flow_sync(cb).get("peer_entries", 0) >= 2, 5),
              f"{name}: B learned both connections (and A's SNAT addresses)")
        time.sleep(0.3)
        wires.leftovers(settle=0.1)
        wires.ctrl["ifsT0"] = []

        ck.section(f"{name}: A is killed (SIGKILL)")
        a.kill()
        t0 = time.monotonic()
        seen, when = {}, {}
        while time.monotonic() - t0 < 2.5:
            wires.poll(0.05)
            for addr, mac in announcements(wires.ctrl["ifsT0"]).items():
                if addr not in when:
                    when[addr] = time.monotonic() - t0
                    seen[addr] = mac
        got = {k: seen.get(k) for k in (P.A_LOCAL, A_LOCAL6)}
        timing = {k: round(v, 2) for k, v in when.items()}
        if on:
            ck.eq(got, {P.A_LOCAL: P.B_INT_MAC, A_LOCAL6: P.B_INT_MAC},
                  f"on: B announced A's SNAT addresses (gratuitous ARP, unsolicited NA) with its MAC "
                  f"(seconds after the kill: {timing})")
            ck.ok(all(when.get(k, 9) <= 2.0 for k in (P.A_LOCAL, A_LOCAL6)),
                  "on: both within 2 s of the kill", str(timing))
            fs = flow_sync(cb)
            ck.eq(sorted(fs.get("onlink_held", [])), sorted([P.A_LOCAL, A_LOCAL6]),
                  "on: B's flow_sync.onlink_held")
        else:
            ck.eq(got, {P.A_LOCAL: None, A_LOCAL6: None},
                  f"off: B announced nothing for A's SNAT addresses in 2.5 s ({timing})")
            ck.ok("onlink_held" not in flow_sync(cb), "off: no onlink_* fields in flow_sync")
        wires.ctrl["ifsT0"] = []
        ask(wires)
        wires.leftovers(settle=0.5)
        ans = answers(wires.ctrl["ifsT0"])
        if on:
            ck.eq({k: ans.get(k) for k in (P.A_LOCAL, A_LOCAL6)},
                  {P.A_LOCAL: P.B_INT_MAC, A_LOCAL6: P.B_INT_MAC},
                  "on: B answers an ARP request and a neighbour solicitation for them, its MAC")
        else:
            ck.eq({k: ans.get(k) for k in (P.A_LOCAL, A_LOCAL6)}, {P.A_LOCAL: None, A_LOCAL6: None},
                  "off: nobody answers for A's SNAT addresses")
        if not on:
            return

        ck.section("on: A starts again; B hears it and lets go")
        a2 = T.Dp(build, tmp, conf(tmp, "A", on), tag="toA2")
        wires.ctrl["ifsT0"] = []
        if not ck.ok(a2.start(), "on: box A restarted", a2.stderr()[-2000:]):
            return
        # Bounded by the restarted dp coming up and joining, which a loaded machine
        # stretches: 15 s.
        fs = wait(lambda: (lambda f: f if not f.get("onlink_held") else None)(flow_sync(cb)), 15) or {}
        # A restarting owner may fall silent again for takeover_ms while it starts
        # and resolves B (its datagrams wait for B's MAC): B may take over and let go
        # once more. What must hold: B holds nothing, and every take-over ended.
        held, tk, rl = fs.get("onlink_held"), fs.get("onlink_takeovers"), fs.get("onlink_releases")
        ck.ok(held == [] and isinstance(tk, int) and tk >= 2 and tk == rl,
              "on: B released both addresses (onlink_held empty, every take-over released)",
              f"held {held!r}, takeovers {tk!r}, releases {rl!r}")
        wires.leftovers(settle=0.3)
        frames = wires.ctrl["ifsT0"]
        ann = announcements(frames, last=True)
        ck.eq({k: ann.get(k) for k in (P.A_LOCAL, A_LOCAL6)},
              {P.A_LOCAL: P.A_INT_MAC, A_LOCAL6: P.A_INT_MAC},
              "on: the last announcement of each of A's addresses is A's (the segment's caches end on A)")
        from_a = [raw for raw in frames if Ether(raw).src == P.A_INT_MAC]
        ck.ok(all(k in announcements(from_a) for k in (P.A_LOCAL, A_LOCAL6)),
              "on: A announced both of its addresses itself when it came back")
        wires.ctrl["ifsT0"] = []
        ask(wires)
        wires.leftovers(settle=0.5)
        ans = answers(wires.ctrl["ifsT0"])
        ck.eq({k: ans.get(k) for k in (P.A_LOCAL, A_LOCAL6)},
              {P.A_LOCAL: P.A_INT_MAC, A_LOCAL6: P.A_INT_MAC},
              "on: only A answers for its addresses again")
    finally:
        b.stop()
        if a2 is not None:
            a2.stop()
        a.kill()
        a._close()
    ck.ok(b.check_exit(ck), f"{name}: box B exited cleanly")


def run_case(ck, tmp, build):
    P.segment(tmp)
    wires = T.Wires(["xfsA1", "xfsB1", "ifsT0"])
    try:
        phase(ck, tmp, build, wires, True)
        phase(ck, tmp, build, wires, False)
    finally:
        wires.close()
