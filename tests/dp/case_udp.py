#!/usr/bin/python3
"""
case_udp.py - scenario 3: UDP services in dnat mode, IPv4 and IPv6, one worker, live.

dnat rewrites the destination only: the backend sees the client's address and
port, and its reply (to the client, through the box as gateway) leaves as
VIP:53 -> client. A second request of a flow reuses its backend. Checksum edges on
a one-backend service: an IPv4 datagram without checksum (0) keeps 0 in both
directions, and a datagram whose translated checksum computes to 0 leaves as
0xffff. A reply for no known flow is dropped (not_ours).
"""
import flows as F
import lbtest as T

N4, N6 = 6, 6


def run_case(ck, tmp, build):
    T.enter_private_netns()
    T.add_veth("xa0", "xb0")
    T.add_veth("ia0", "ib0")
    wires = T.Wires(["xb0", "ib0"])
    b4 = ["198.19.0.10", "198.19.0.11"]
    b6 = ["2001:db8:2::10", "2001:db8:2::11"]
    services = [
        {"name": "dns4", "vip": T.VIP4, "port": 53, "protocol": "udp", "mode": "dnat",
         "maglev_size": 251, "backends": [{"address": b, "port": 5353} for b in b4]},
        {"name": "dns6", "vip": T.VIP6, "port": 53, "protocol": "udp", "mode": "dnat",
         "maglev_size": 251, "backends": [{"address": b, "port": 5353} for b in b6]},
        {"name": "edge4", "vip": T.VIP4, "port": 54, "protocol": "udp", "mode": "dnat",
         "maglev_size": 3, "backends": [{"address": "198.19.0.12", "port": 5454}]},
    ]
    conf = T.make_conf(workers=[1],
                       ports=[T.ext_port(T.pcap_live_device("net_pcap0", ["xa0"])),
                              T.int_port(T.pcap_live_device("net_pcap1", ["ia0"]))],
                       services=services)
    dp = T.Dp(build, tmp, conf, tag="udp")
    try:
        ck.section("start edgelb-dp (1 worker, UDP dnat services dns4, dns6, edge4)")
        if not ck.ok(dp.start(), "edgelb-dp started", dp.stderr()[-2000:]):
            return
        x = F.Exchange(ck, wires)
        flows4 = [F.Flow(i, family=4, client=T.client4(i), cport=33000 + 101 * i, vip=T.VIP4,
                         vport=53, proto=17, mode="dnat", backends=b4, bport=5353,
                         client_ttl=[64, 2][i % 2]) for i in range(N4)]
        flows6 = [F.Flow(10 + i, family=6, client=T.client6(i), cport=33000 + 101 * i, vip=T.VIP6,
                         vport=53, proto=17, mode="dnat", backends=b6, bport=5353,
                         vlan=7 if i == 0 else None) for i in range(N6)]
        allf = flows4 + flows6

        def query(f, n):
            return b"query %d of flow %d " % (n, f.i) + bytes(range(f.i + 3))

        ck.section("requests -> backend: destination rewritten, client source kept")
        x.run("request", [("xb0", f.from_client(payload=query(f, 1)),
                           F.learn_fwd(ck, f, locals_=[], snat=None)) for f in allf], ["ib0"])
        if any(f.backend is None for f in allf):
            return
        ck.ok(len({f.backend for f in flows4}) == 2 and len({f.backend for f in flows6}) == 2,
              "flows of each family went to both backends",
              f"{[f.backend for f in allf]}")

        ck.section("replies backend -> client: source translated back to VIP:53")
        x.run("reply", [("ib0", f.from_backend(payload=b"answer to " + query(f, 1)), F.rev(ck, f))
                        for f in allf], ["xb0"])

        ck.section("second request of each flow: same backend (connection tracked)")
        x.run("request 2", [("xb0", f.from_client(payload=query(f, 2)), F.fwd(ck, f)) for f in allf],
              ["ib0"])
        x.run("reply 2", [("ib0", f.from_backend(payload=b"answer to " + query(f, 2)), F.rev(ck, f))
                          for f in allf], ["xb0"])

        ck.section("checksum edges (service edge4, one backend)")
        z = F.Flow(20, family=4, client=T.client4(20), cport=5000, vip=T.VIP4, vport=54, proto=17,
                   mode="dnat", backends=["198.19.0.12"], bport=5454)
        x.run("udp checksum 0 (none) request",
              [("xb0", z.from_client(payload=b"no checksum here", udp_zero_csum=True),
                F.learn_fwd(ck, z, locals_=[], snat=None))], ["ib0"])
        x.run("udp checksum 0 (none) reply",
              [("ib0", z.from_backend(payload=b"none back either", udp_zero_csum=True),
                F.rev(ck, z))], ["xb0"])
        y = F.Flow(21, family=4, client=T.client4(21), cport=5001, vip=T.VIP4, vport=54, proto=17,
                   mode="dnat", backends=["198.19.0.12"], bport=5454)
        y.backend = "198.19.0.12"
        req = F.with_payload_for_zero_csum(y, lambda p: y.from_client(payload=p), y.expect_fwd)
        ck.eq(T.Frame(y.expect_fwd(req)).l4_csum, 0xFFFF,
              "test input: translated request's checksum computes to 0 -> expected 0xffff")
        x.run("checksum computing to 0 (request)", [("xb0", req, F.learn_fwd(ck, y, locals_=[], snat=None))],
              ["ib0"])
        rep = F.with_payload_for_zero_csum(y, lambda p: y.from_backend(payload=p), y.expect_rev)
        ck.eq(T.Frame(y.expect_rev(rep)).l4_csum, 0xFFFF,
              "test input: translated reply's checksum computes to 0 -> expected 0xffff")
        x.run("checksum computing to 0 (reply)", [("ib0", rep, F.rev(ck, y))], ["xb0"])

        ck.section("a backend reply for no known flow is dropped")
        stray = F.Flow(30, family=4, client=T.client4(30), cport=5555, vip=T.VIP4, vport=53,
                       proto=17, mode="dnat", backends=b4, bport=5353)
        stray.backend = b4[0]
        wires.send("ib0", stray.from_backend(payload=b"nobody asked"))
        left = wires.leftovers(settle=0.3)
        ck.eq(len(left), 0, "no frame came out for it (nor any other unexpected frame)")

        ck.section("stop, stats JSON")
        dp.stop()
        if not dp.check_exit(ck):
            return
        st = dp.stats()
        ann = T.wire_announcements(ck, wires, [T.VIP4, T.VIP6], st)
        n = len(allf)
        T.check_counters(ck, st, events={
            "rx_packets": 4 * n + 4 + 1, "tx_packets": 4 * n + 4 + ann["ext"] + ann["int"],
            "fwd_packets": 2 * n + 2,
            "rev_packets": 2 * n + 2, "ct_created": n + 2, "connections": n + 2},
            drops={"not_ours": 1})
        F.check_service_stats(ck, st, "dns4", flows4)
        F.check_service_stats(ck, st, "dns6", flows6)
        F.check_service_stats(ck, st, "edge4", [z, y])
    finally:
        dp.kill()
        dp.stop()
        wires.close()

