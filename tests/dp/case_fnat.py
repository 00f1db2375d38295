#!/usr/bin/python3
"""
case_fnat.py - scenarios 1 and 2: fnat TCP over IPv4 or IPv6, one worker, live.

Both ports are net_pcap on live veths in a private namespace (see README.md), so
the backends' replies can go to the local address and port the dp chose. Steps:
client SYNs -> backend SYN-ACKs -> client ACK+data -> backend data, then a reply
to a local port nobody owns (reply_no_conn). Every output frame is checked, and
then the stats JSON.
"""
import flows as F
import lbtest as T

N_FLOWS = 8


def run_case(ck, tmp, build, family):
    v4 = family == 4
    vip = T.VIP4 if v4 else T.VIP6
    vport, bport = (80, 8080) if v4 else (443, 8443)
    backends = (["198.19.0.10", "198.19.0.11", "198.19.0.12"] if v4
                else ["2001:db8:2::10", "2001:db8:2::11", "2001:db8:2::12"])
    locals_ = T.LOCAL4 if v4 else T.LOCAL6
    client = T.client4 if v4 else T.client6
    svc_name = f"web{family}"

    T.enter_private_netns()
    T.add_veth("xa0", "xb0")   # external: dp end xa0, test end xb0
    T.add_veth("ia0", "ib0")   # internal
    wires = T.Wires(["xb0", "ib0"])
    conf = T.make_conf(
        workers=[1],
        ports=[T.ext_port(T.pcap_live_device("net_pcap0", ["xa0"])),
               T.int_port(T.pcap_live_device("net_pcap1", ["ia0"]))],
        services=[{"name": svc_name, "vip": vip, "port": vport, "protocol": "tcp", "mode": "fnat",
                   "backends": [{"address": b, "port": bport} for b in backends]}])
    dp = T.Dp(build, tmp, conf, tag=f"fnat{family}")
    try:
        ck.section(f"start edgelb-dp (1 worker, net_pcap on veths, service {svc_name})")
        if not ck.ok(dp.start(), "edgelb-dp started", dp.stderr()[-2000:]):
            return
        flows = []
        for i in range(N_FLOWS):
            flows.append(F.Flow(
                i, family=family, client=client(i), cport=40000 + 37 * i, vip=vip, vport=vport,
                proto=6, mode="fnat", backends=backends, bport=bport,
                client_ttl=[64, 2, 128, 255][i % 4],          # 2 leaves with TTL 1
                vlan=100 + i if i == 1 else None,             # 802.1Q tag in, none out
                pad=b"\xde\xad\xbe\xef\x55\xaa" if i == 2 else b"",  # junk after the datagram
                tos=0x28 if i == 3 else 0))
        x = F.Exchange(ck, wires)

        ck.section("client SYNs -> internal port, DNAT to a backend, SNAT to a local address")
        x.run("SYN", [("xb0", f.from_client("S", options=F.tcp_syn_options()),
                       F.learn_fwd(ck, f, locals_=locals_, snat=(T.SNAT_LO, T.SNAT_HI)))
                      for f in flows], ["ib0"])
        learned = [f for f in flows if f.lport is not None]
        # Replies are matched on (backend, local address:port): that tuple is unique.
        # Toward different backends the same local port may be used (each backend
        # has its own port allocator, as Linux SNAT reuses a port per destination).
        ck.eq(len({(f.backend, f.lip, f.lport) for f in learned}), len(learned),
              "every flow got its own (backend, fnat source address:port)")
        ck.ok(len({f.backend for f in learned}) >= 2, "flows went to more than one backend",
              f"backends {[f.backend for f in learned]}")
        if len(learned) != len(flows):
            return

        ck.section("backend SYN-ACKs to local address:port -> external port as VIP -> client")
        x.run("SYN-ACK", [("ib0", f.from_backend("SA", options=F.tcp_syn_options()), F.rev(ck, f))
                          for f in flows], ["xb0"])

        ck.section("client ACK + data (odd length): same backend, same fnat source")
        x.run("ACK+data", [("xb0", f.from_client("A", payload=b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n!" % f.i,
                                                  options=F.tcp_ts_options()), F.fwd(ck, f))
                           for f in flows], ["ib0"])

        ck.section("backend data (1200 bytes) -> client")
        x.run("data", [("ib0", f.from_backend("PA", payload=bytes((f.i + k) & 0xFF for k in range(1200)),
                                              options=F.tcp_ts_options()), F.rev(ck, f))
                       for f in flows], ["xb0"])

        ck.section("a reply to a local address:port with no connection is dropped")
        stray = F.Flow(99, family=family, client=client(99), cport=1, vip=vip, vport=vport, proto=6,
                       mode="fnat", backends=backends, bport=bport)
        stray.backend, stray.lip = backends[0], locals_[0]
        used = {f.lport for f in flows}
        stray.lport = next(p for p in range(T.SNAT_LO, T.SNAT_HI) if p not in used)
        wires.send("ib0", stray.from_backend("SA"))
        left = wires.leftovers(settle=0.3)
        ck.eq(len(left), 0, "no frame came out for it (nor any other unexpected frame)")

        ck.section("stop, stats JSON")
        dp.stop()
        if not dp.check_exit(ck):
            return
        st = dp.stats()
        ann = T.wire_announcements(ck, wires, [vip], st)
        n = N_FLOWS
        rx = 4 * n + 1
        T.check_counters(ck, st, events={
            "rx_packets": rx, "tx_packets": 4 * n + ann["ext"] + ann["int"],
            "fwd_packets": 2 * n, "rev_packets": 2 * n,
            "ct_created": n, "connections": n, "handoff_out": 0, "handoff_in": 0},
            drops={"reply_no_conn": 1})
        ext, int_ = T.port_stats(st, "ext"), T.port_stats(st, "int")
        ck.eq(ext["rx_packets"], 2 * n, "ports.ext.rx_packets")
        ck.eq(ext["tx_packets"], 2 * n + ann["ext"], "ports.ext.tx_packets (forwarded + announcements)")
        ck.eq(int_["rx_packets"], 2 * n + 1, "ports.int.rx_packets")
        ck.eq(int_["tx_packets"], 2 * n + ann["int"], "ports.int.tx_packets (forwarded + announcements)")
        F.check_service_stats(ck, st, svc_name, flows)
    finally:
        dp.kill()
        dp.stop()
        wires.close()
