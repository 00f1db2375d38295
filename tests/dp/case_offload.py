#!/usr/bin/python3
"""
case_offload.py - checksum offloads and what the dp holds (issue 14, findings 8, 9), live.

Both ports are net_tap (lbtapx external, lbtap0 internal) in the test's private
namespace: the tap PMD offers RX checksum verification and TX checksum offload (in
software), so the dp takes its offload paths as on a real NIC. One worker.

1. Held frames keep their offload flags: the backend 198.19.0.13 has no static
   neighbour, so the client's SYN waits in the control thread while the dp resolves
   it (ARP request on lbtap0, answered by the test only then). The SYN that leaves
   must carry correct IPv4 and TCP checksums, recomputed from scratch by the test;
   the control counters show it was held and sent.
2. The SYN-ACK (checksum verified by the tap on receipt) comes back translated with
   correct checksums (TX offload).
3. A backend segment whose TCP checksum is wrong is dropped and counted
   (l4_cksum), not sent on with a checksum the TX offload computed afresh.
"""
import struct
import time

from scapy.all import ARP, Ether

import flows as F
import lbtest as T

BACKEND = "198.19.0.13"


def wait_arp_request(wires, link, target, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for raw in wires.ctrl[link]:
            if T.ctrl_kind(raw) == "arp" and struct.unpack("!H", raw[20:22])[0] == 1 and \
                    raw[38:42] == bytes(int(x) for x in target.split(".")):
                return raw
        wires.poll(0.05)
    return None


def corrupt_l4_csum(raw):
    b = bytearray(raw)
    off = 14 + 20 + 16  # IPv4 without options, TCP checksum field
    b[off] ^= 0x5A
    return bytes(b)


def run_case(ck, tmp, build):
    T.enter_private_netns()
    wires = T.Wires(["lbtapx", "lbtap0"])  # hears the taps as soon as the dp makes them
    services = [{"name": "web", "vip": T.VIP4, "port": 80, "protocol": "tcp",
                 "backends": [{"address": BACKEND, "port": 8080}]}]
    neigh = [n for n in T.neighbours() if n["address"] != BACKEND]
    conf = T.make_conf(workers=[1],
                       ports=[T.ext_port("net_tap1,iface=lbtapx"),
                              T.int_port("net_tap0,iface=lbtap0")],
                       services=services, neighbours_=neigh)
    dp = T.Dp(build, tmp, conf, tag="offload")
    try:
        ck.section("start edgelb-dp (1 worker, both ports net_tap: checksum offloads on)")
        if not ck.ok(dp.start(), "edgelb-dp started", dp.stderr()[-2000:]):
            return
        time.sleep(0.5)  # the taps come up; announcements go out
        wires.poll(0.1)
        for n in wires.names:
            wires.ctrl[n].clear()
            wires.rx[n].clear()

        ck.section("1. the first SYN waits for ARP, then leaves with correct checksums")
        f = F.Flow(1, family=4, client=T.client4(1), cport=41001, vip=T.VIP4, vport=80, proto=6,
                   mode="fnat", backends=[BACKEND], bport=8080)
        syn = f.from_client("S")
        wires.send("lbtapx", syn)
        req = wait_arp_request(wires, "lbtap0", BACKEND)
        if not ck.ok(req is not None, f"the dp asks who has {BACKEND} on lbtap0"):
            return
        reply = Ether(src=T.BACKEND_MACS[BACKEND], dst=T.INT_MAC) / ARP(
            op=2, hwsrc=T.BACKEND_MACS[BACKEND], psrc=BACKEND, hwdst=T.INT_MAC,
            pdst="198.19.0.1")
        wires.send("lbtap0", bytes(reply))
        got = wires.collect(["lbtap0"], 1, timeout=5.0)
        if not ck.eq(len(got), 1, "the held SYN came out on lbtap0"):
            return
        F.learn_fwd(ck, f, locals_=T.LOCAL4, snat=(T.SNAT_LO, T.SNAT_HI),
                    what="held SYN")(got[0][0], got[0][1], syn)

        ck.section("2. the SYN-ACK, verified by the tap, leaves translated (TX offload)")
        x = F.Exchange(ck, wires)
        x.run("SYN-ACK", [("lbtap0", f.from_backend("SA"), F.rev(ck, f))], ["lbtapx"])
        x.run("ACK", [("lbtapx", f.from_client("A"), F.fwd(ck, f))], ["lbtap0"])

        ck.section("3. a backend segment with a wrong TCP checksum is dropped, not repaired")
        wires.send("lbtap0", corrupt_l4_csum(f.from_backend("PA", b"corrupted on the way")))
        left = wires.leftovers(settle=0.4)
        ck.ok(len(left) == 0, "nothing came out for it", f"{len(left)} frame(s)")
        x.run("a good segment after it", [("lbtap0", f.from_backend("PA", b"good"), F.rev(ck, f))],
              ["lbtapx"])

        ck.section("stop, stats JSON")
        dp.stop()
        if not dp.check_exit(ck):
            return
        st = dp.stats()
        c = st.get("control", {})
        ck.ok(c.get("held", 0) >= 1 and c.get("held_sent", 0) >= 1,
              f"control: held {c.get('held')}, held_sent {c.get('held_sent')} (the SYN waited)")
        T.check_counters(ck, st, events={"fwd_packets": 2, "rev_packets": 2},
                         drops={"l4_cksum": 1})
    finally:
        dp.kill()
        dp.stop()
        wires.close()
