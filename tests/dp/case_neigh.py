#!/usr/bin/python3
"""
case_neigh.py - the neighbour cache against spoofed ARP (issue 14, findings 6, 7), live.

One worker, live veths, a control socket for neigh.list. The backend 198.19.0.13 has
no static neighbour: the dp resolves it with ARP on the internal port when the first
SYN for it arrives, and the test answers as the backend.

1. Exhaustion (finding 6): 200 ARP requests for the VIP from made-up senders on the
   external port (inside and outside its subnet) are answered, but create no
   neighbour entry (neigh.list does not grow).
2. Cross-port spoofing (finding 7): an unsolicited ARP reply on the external port
   claiming the backend's address changes nothing: the next packets still go to the
   backend's real MAC on the internal port.
3. Same-port spoofing: an unsolicited ARP reply on the internal port with another
   MAC for the backend is refused; the dp asks again (ARP request), the backend's
   answer keeps its real MAC, and traffic keeps flowing to it.
"""
import os
import struct
import time

from scapy.all import ARP, Ether

import flows as F
import lbtest as T
from case_ctl_lib import Ctl

BACKEND = "198.19.0.13"
ATTACKER_MAC = "02:00:00:00:0e:66"


def arp_requests(wires, link, target, since=0):
    t = bytes(int(x) for x in target.split("."))
    return [r for r in wires.ctrl[link][since:] if T.ctrl_kind(r) == "arp"
            and struct.unpack("!H", r[20:22])[0] == 1 and r[38:42] == t]


def wait_request(wires, link, target, since, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if arp_requests(wires, link, target, since):
            return True
        wires.poll(0.05)
    return False


def is_at(ip, mac, dst_mac, dst_ip):
    return bytes(Ether(src=mac, dst=dst_mac) / ARP(op=2, hwsrc=mac, psrc=ip, hwdst=dst_mac,
                                                   pdst=dst_ip))


def neigh_list(ck, c):
    rep = c.call("neigh.list")
    ok = isinstance(rep, dict) and rep.get("ok") is True
    ck.ok(ok, "neigh.list answered", str(rep)[:300])
    return rep["result"]["neighbours"] if ok else []


def run_case(ck, tmp, build):
    T.enter_private_netns()
    T.add_veth("xa0", "xb0")
    T.add_veth("ia0", "ib0")
    wires = T.Wires(["xb0", "ib0"])
    path = os.path.join(tmp, "ctl.sock")
    services = [{"name": "web", "vip": T.VIP4, "port": 80, "protocol": "tcp",
                 "backends": [{"address": BACKEND, "port": 8080}]}]
    neigh = [n for n in T.neighbours() if n["address"] != BACKEND]
    conf = T.make_conf(workers=[1],
                       ports=[T.ext_port(T.pcap_live_device("net_pcap0", ["xa0"])),
                              T.int_port(T.pcap_live_device("net_pcap1", ["ia0"]))],
                       services=services, neighbours_=neigh, control_socket=path)
    dp = T.Dp(build, tmp, conf, tag="neigh")
    c = None
    real_mac = T.BACKEND_MACS[BACKEND]
    try:
        ck.section("start edgelb-dp (1 worker, backend 198.19.0.13 resolved by ARP)")
        if not ck.ok(dp.start(), "edgelb-dp started", dp.stderr()[-2000:]):
            return
        c = Ctl(path)
        x = F.Exchange(ck, wires)
        f = F.Flow(1, family=4, client=T.client4(1), cport=41001, vip=T.VIP4, vport=80, proto=6,
                   mode="fnat", backends=[BACKEND], bport=8080)
        n_req = len(wires.ctrl["ib0"])
        syn = f.from_client("S")
        wires.send("xb0", syn)
        if not ck.ok(wait_request(wires, "ib0", BACKEND, n_req), f"the dp asks who has {BACKEND}"):
            return
        wires.send("ib0", is_at(BACKEND, real_mac, T.INT_MAC, "198.19.0.1"))
        got = wires.collect(["ib0"], 1, timeout=5.0)
        if not ck.eq(len(got), 1, "the SYN came out once the backend answered"):
            return
        F.learn_fwd(ck, f, locals_=T.LOCAL4, snat=(T.SNAT_LO, T.SNAT_HI))(got[0][0], got[0][1], syn)
        x.run("SYN-ACK", [("ib0", f.from_backend("SA"), F.rev(ck, f))], ["xb0"])
        before = neigh_list(ck, c)
        ck.ok(any(e["address"] == BACKEND and e["mac"] == real_mac for e in before),
              f"neigh.list: {BACKEND} at {real_mac}")

        ck.section("1. 200 ARP requests for the VIP from made-up senders create no entry")
        n_ext = len(wires.ctrl["xb0"])
        for i in range(200):
            # inside the external subnet (never the VIP itself) and outside it
            sip = f"198.18.0.{110 + i}" if i < 100 else f"198.18.{100 + i // 100}.{i % 100 + 1}"
            smac = "02:00:00:aa:%02x:%02x" % (i >> 8, i & 0xFF)
            wires.send("xb0", bytes(Ether(src=smac, dst="ff:ff:ff:ff:ff:ff") /
                                    ARP(op=1, hwsrc=smac, psrc=sip, pdst=T.VIP4)))
            if i % 10 == 9:  # the libpcap ring in front of the dp holds ~10-20 frames
                wires.poll(0.02)
        end = time.monotonic() + 5
        while time.monotonic() < end and len(wires.ctrl["xb0"]) - n_ext < 200:
            wires.poll(0.05)
        ck.eq(len(wires.ctrl["xb0"]) - n_ext, 200, "every request answered")
        after = neigh_list(ck, c)
        ck.eq(len(after), len(before), "neigh.list did not grow")

        ck.section("2. an ARP reply on the external port claiming the backend changes nothing")
        wires.send("xb0", is_at(BACKEND, ATTACKER_MAC, T.EXT_MAC, "198.18.0.2"))
        time.sleep(0.3)
        x.run("ACK after the cross-port spoof", [("xb0", f.from_client("A"), F.fwd(ck, f))], ["ib0"])

        ck.section("3. an unsolicited ARP reply on the internal port with another MAC is refused")
        n_req = len(wires.ctrl["ib0"])
        wires.send("ib0", is_at(BACKEND, ATTACKER_MAC, T.INT_MAC, "198.19.0.1"))
        asked = wait_request(wires, "ib0", BACKEND, n_req)
        ck.ok(asked, "the dp asks the backend again")
        if asked:
            wires.send("ib0", is_at(BACKEND, real_mac, T.INT_MAC, "198.19.0.1"))
        time.sleep(0.2)
        x.run("data after the same-port spoof", [("xb0", f.from_client("PA", b"hello"),
                                                  F.fwd(ck, f))], ["ib0"])
        ck.ok(any(e["address"] == BACKEND and e["mac"] == real_mac for e in neigh_list(ck, c)),
              f"neigh.list: {BACKEND} still at {real_mac}")

        ck.section("stop, stats JSON")
        c.close()
        c = None
        dp.stop()
        if not dp.check_exit(ck):
            return
        st = dp.stats()
        ctl = st.get("control", {})
        ck.ok(ctl.get("neigh_rejected", 0) >= 2,
              f"control.neigh_rejected {ctl.get('neigh_rejected')} >= 2 (both spoofs refused)")
    finally:
        if c is not None:
            c.close()
        dp.kill()
        dp.stop()
        wires.close()
