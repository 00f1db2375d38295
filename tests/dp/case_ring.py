#!/usr/bin/python3
"""
case_ring.py - scenario 6: two workers, steering = "ring", live.

Each port is a net_pcap with two queues, queue q on its own veth (xa0/xa1
external, ia0/ia1 internal), so the test decides which worker receives every
frame: client frames of a flow arrive on one worker's queue (as RSS would keep
them), and backend replies are deliberately put on the other worker's queue for
some flows. fnat: the worker that saw the SYN owns the flow and picks a source
port with port % 2 == its id; a reply on the wrong queue is handed over through
the ring (handoff_out / handoff_in) and translated by the owner, which sends it
on its own external queue. dnat (UDP): the owner is a hash of the client's
address and port; request and reply arrive on different queues, so exactly one
of the two is handed over, and both are sent by the same worker.
"""
import flows as F
import lbtest as T

N4, N6, NU = 8, 4, 8


def run_case(ck, tmp, build):
    T.enter_private_netns()
    for q in (0, 1):
        T.add_veth(f"xa{q}", f"xb{q}")
        T.add_veth(f"ia{q}", f"ib{q}")
    wires = T.Wires(["xb0", "xb1", "ib0", "ib1"])
    b4 = ["198.19.0.10", "198.19.0.11", "198.19.0.12"]
    b6 = ["2001:db8:2::10", "2001:db8:2::11"]
    bu = ["198.19.0.10", "198.19.0.11"]
    services = [
        {"name": "web4", "vip": T.VIP4, "port": 80, "protocol": "tcp", "mode": "fnat",
         "backends": [{"address": b, "port": 8080} for b in b4]},
        {"name": "web6", "vip": T.VIP6, "port": 80, "protocol": "tcp", "mode": "fnat",
         "backends": [{"address": b, "port": 8080} for b in b6]},
        {"name": "dns4", "vip": T.VIP4, "port": 53, "protocol": "udp", "mode": "dnat",
         "backends": [{"address": b, "port": 5353} for b in bu]},
    ]
    conf = T.make_conf(workers=[1, 2], steering="ring",
                       ports=[T.ext_port(T.pcap_live_device("net_pcap0", ["xa0", "xa1"])),
                              T.int_port(T.pcap_live_device("net_pcap1", ["ia0", "ia1"]))],
                       services=services)
    dp = T.Dp(build, tmp, conf, workers=2, tag="ring")
    worker_of = lambda link: int(link[-1])  # noqa: E731 - xb1/ib1: queue 1 = worker 1
    try:
        ck.section("start edgelb-dp (2 workers, steering ring, net_pcap 2 queues per port)")
        if not ck.ok(dp.start(), "edgelb-dp started", dp.stderr()[-2000:]):
            return
        x = F.Exchange(ck, wires)
        fn = [F.Flow(i, family=4, client=T.client4(i), cport=45000 + i, vip=T.VIP4, vport=80,
                     proto=6, mode="fnat", backends=b4, bport=8080, ext_q=i % 2) for i in range(N4)]
        fn += [F.Flow(N4 + i, family=6, client=T.client6(i), cport=45000 + i, vip=T.VIP6, vport=80,
                      proto=6, mode="fnat", backends=b6, bport=8080, ext_q=i % 2) for i in range(N6)]
        # replies of flows with i % 4 in (0, 1) arrive on the other worker's queue
        wrong = lambda f: f.i % 4 in (0, 1)  # noqa: E731
        rq = lambda f: (1 - f.owner) if wrong(f) else f.owner  # noqa: E731

        ck.section("fnat SYNs on both workers' external queues")
        x.run("SYN", [(f"xb{f.ext_q}", f.from_client("S", options=F.tcp_syn_options()),
                       F.learn_fwd(ck, f, locals_=T.LOCAL4 + T.LOCAL6, snat=(T.SNAT_LO, T.SNAT_HI),
                                   n_workers=2, link_of_worker=worker_of))
                      for f in fn], ["ib0", "ib1"])
        if any(f.owner is None for f in fn):
            return
        ck.ok({f.owner for f in fn} == {0, 1}, "flows were created on both workers")

        ck.section("SYN-ACKs: half on the owner's internal queue, half on the other one")
        x.run("SYN-ACK", [(f"ib{rq(f)}", f.from_backend("SA"), F.rev(ck, f, worker_of, "SYN-ACK"))
                          for f in fn], ["xb0", "xb1"])
        ck.section("client data on the flow's queue, backend data again half misdelivered")
        x.run("data", [(f"xb{f.ext_q}", f.from_client("PA", payload=b"hello %d" % f.i),
                        F.fwd(ck, f, worker_of, "data")) for f in fn], ["ib0", "ib1"])
        x.run("data back", [(f"ib{rq(f)}", f.from_backend("PA", payload=b"world %d!" % f.i),
                             F.rev(ck, f, worker_of, "data back")) for f in fn], ["xb0", "xb1"])

        ck.section("dnat UDP: request on queue i%2, reply on the other queue")
        fu = [F.Flow(100 + i, family=4, client=T.client4(50 + i), cport=7000 + 13 * i, vip=T.VIP4,
                     vport=53, proto=17, mode="dnat", backends=bu, bport=5353, ext_q=i % 2)
              for i in range(NU)]
        x.run("dnat request", [(f"xb{f.ext_q}", f.from_client(payload=b"q%d" % f.i),
                                F.learn_fwd(ck, f, locals_=[], snat=None, link_of_worker=worker_of))
                               for f in fu], ["ib0", "ib1"])
        if any(f.owner is None for f in fu):
            return
        x.run("dnat reply", [(f"ib{1 - f.ext_q}", f.from_backend(payload=b"a%d" % f.i),
                              F.rev(ck, f, worker_of, "dnat reply")) for f in fu], ["xb0", "xb1"])
        left = wires.leftovers(settle=0.3)
        ck.eq(len(left), 0, "no unexpected frame on any link")

        ck.section("stop, stats JSON")
        dp.stop()
        if not dp.check_exit(ck):
            return
        st = dp.stats()
        ann = T.wire_announcements(ck, wires, [T.VIP4, T.VIP6], st)
        n_ann = ann["ext"] + ann["int"]
        # expected hand-offs per worker: frames arriving on w for a flow owned by 1 - w
        h_out = [0, 0]
        for f in fn:
            if wrong(f):
                h_out[1 - f.owner] += 2          # SYN-ACK and data back
        for f in fu:
            if f.owner != f.ext_q:
                h_out[f.ext_q] += 1              # the request
            else:
                h_out[1 - f.ext_q] += 1          # the reply
        n_fn, n_fu = len(fn), len(fu)
        total = 4 * n_fn + 2 * n_fu
        ck.section(f"expected hand-offs: worker 0 -> 1: {h_out[0]}, worker 1 -> 0: {h_out[1]}")
        T.check_counters(ck, st, events={
            "rx_packets": total, "tx_packets": total + n_ann, "fwd_packets": 2 * n_fn + n_fu,
            "rev_packets": 2 * n_fn + n_fu, "ct_created": n_fn + n_fu,
            "connections": n_fn + n_fu, "handoff_out": sum(h_out), "handoff_in": sum(h_out)})
        ws = st["workers"]
        ck.ok(sum(h_out) > 0, "the test did misdeliver replies (hand-offs expected)")
        for w in (0, 1):
            mine = [f for f in fn + fu if f.owner == w]
            ck.eq(ws[w]["handoff_out"], h_out[w], f"worker {w} handoff_out")
            ck.eq(ws[w]["handoff_in"], h_out[1 - w], f"worker {w} handoff_in")
            ck.eq(ws[w]["connections"], len(mine), f"worker {w} connections (flows it owns)")
            ck.eq(ws[w]["ct_created"], len(mine), f"worker {w} ct_created")
            ck.ok(sum(f.pkts for f in mine) <= ws[w]["tx_packets"] <= sum(f.pkts for f in mine) + n_ann,
                  f"worker {w} tx_packets: the {sum(f.pkts for f in mine)} frames of its flows "
                  f"(+ up to {n_ann} announcements)", f"got {ws[w]['tx_packets']}")
        for p in st["ports"]:
            ck.eq(p["steering"], "ring", f"ports.{p['name']}.steering")
        F.check_service_stats(ck, st, "web4", [f for f in fn if f.family == 4])
        F.check_service_stats(ck, st, "web6", [f for f in fn if f.family == 6])
        F.check_service_stats(ck, st, "dns4", fu)
    finally:
        dp.kill()
        dp.stop()
        wires.close()
