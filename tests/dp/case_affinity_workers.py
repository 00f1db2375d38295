#!/usr/bin/python3
"""
case_affinity_workers.py - ClientIP session affinity shared by two workers, live.

Two workers, steering = "ring", each port a net_pcap with one veth per queue (as
dp-ring), so the test chooses the worker of every SYN. One fnat TCP service with
session_affinity ClientIP and four backends; a control socket in the temp dir.

1. first connection of each of 16 clients (client i on worker i % 2): each gets a
   backend; the clients do not all get the same one;
2. more connections of every client (SYNs with new source ports), alternately on
   worker 0's and worker 1's queue: always the client's backend; the affinity entry
   one worker recorded is used by the other (affinity_hits per worker, exact);
3. the backend of client A (client 0) is removed with service.upsert: A's next
   connection goes to another backend (not an affinity hit), and its later ones
   stick to that new backend on both workers; clients of the other backends keep
   theirs;
4. the removed backend comes back (service.upsert with all four again, so the
   Maglev table is the one of step 1, which gave A the old backend): A stays on
   its new backend on both workers: the shared affinity table decides, not the
   hash of the client address.
Every SYN's output is checked frame by frame (backend, fnat source, owning worker),
affinity_hits is checked after every step over the socket (stats.get, global and
per worker) and at the end in the stats JSON, every drop counter stays 0.
"""
import flows as F
import lbtest as T
from case_ctl_lib import Ctl, check_ok, no_drops

BACKENDS = ["198.19.0.10", "198.19.0.11", "198.19.0.12", "198.19.0.13"]
N_CLIENTS = 16
A = 0                     # client index of "client A"


def svc_spec(backends):
    return {"name": "aff", "vip": T.VIP4, "port": 80, "protocol": "tcp", "mode": "fnat",
            "session_affinity": {"type": "ClientIP", "timeout_seconds": 3600},
            "backends": [{"address": b, "port": 8080} for b in backends]}


def worker_of(link):
    return int(link[-1])   # xb1 / ib1: queue 1 = worker 1


class Run:
    def __init__(self, ck, wires, ctl):
        self.ck, self.wires, self.ctl = ck, wires, ctl
        self.x = F.Exchange(ck, wires)
        self.n = 0                     # flows made (unique index: unique TCP seq)
        self.syns = 0
        self.hits = [0, 0]             # expected affinity_hits per worker
        self.flows = []

    def flow(self, client_i, q, eligible):
        f = F.Flow(self.n, family=4, client=T.client4(client_i), cport=30000 + self.n, vip=T.VIP4,
                   vport=80, proto=6, mode="fnat", backends=eligible, bport=8080, ext_q=q)
        f.client_i = client_i
        self.n += 1
        self.flows.append(f)
        return f

    def syn_round(self, what, items, hit):
        """
        items: [(flow, required backend or None)]. Sends every SYN on its flow's queue,
        checks each output; hit(flow) says whether it must be an affinity hit.
        """
        ck = self.ck
        quiet, ck.quiet_ok = ck.quiet_ok, True
        n_failed = len(ck.failed)
        self.x.run(what, [(f"xb{f.ext_q}", f.from_client("S", options=F.tcp_syn_options()),
                           F.learn_fwd(ck, f, locals_=T.LOCAL4, snat=(T.SNAT_LO, T.SNAT_HI),
                                       n_workers=2, link_of_worker=worker_of))
                          for f, _ in items], ["ib0", "ib1"], timeout=10)
        ck.quiet_ok = quiet
        ck.ok(len(ck.failed) == n_failed,
              f"{what}: {len(items)} SYN(s) forwarded by the worker that received them, "
              "each frame translated exactly (checked silently)")
        self.syns += len(items)
        for f, want in items:
            if want is not None:
                ck.eq(f.backend, want, f"{what}: {f.name()} on worker {f.ext_q}: backend")
            if hit(f):
                self.hits[f.ext_q] += 1

    def check_hits(self, what):
        st = no_drops(self.ck, self.ctl, what)
        if st is None:
            return
        self.ck.eq(st["global"]["affinity_hits"], sum(self.hits), f"{what}: stats affinity_hits")
        for w in (0, 1):
            self.ck.eq(st["workers"][w]["affinity_hits"], self.hits[w],
                       f"{what}: worker {w} affinity_hits (entries the other worker recorded, too)")
        self.ck.eq(st["global"]["ct_created"], self.syns, f"{what}: stats ct_created")


def run_case(ck, tmp, build):
    T.enter_private_netns()
    for q in (0, 1):
        T.add_veth(f"xa{q}", f"xb{q}")
        T.add_veth(f"ia{q}", f"ib{q}")
    wires = T.Wires(["xb0", "xb1", "ib0", "ib1"])
    path = f"{tmp}/ctl.sock"
    conf = T.make_conf(workers=[1, 2], steering="ring",
                       ports=[T.ext_port(T.pcap_live_device("net_pcap0", ["xa0", "xa1"])),
                              T.int_port(T.pcap_live_device("net_pcap1", ["ia0", "ia1"]), T.LOCAL4)],
                       services=[svc_spec(BACKENDS)], control_socket=path)
    dp = T.Dp(build, tmp, conf, workers=2, tag="affinity", run_seconds=300)
    ctl = None
    try:
        ck.section("start edgelb-dp (2 workers, steering ring, a ClientIP service, control socket)")
        if not ck.ok(dp.start(), "edgelb-dp started", dp.stderr()[-2000:]):
            return
        ctl = Ctl(path)
        r = Run(ck, wires, ctl)

        ck.section(f"1. first connection of {N_CLIENTS} clients (client i on worker i % 2)")
        first = [r.flow(i, i % 2, BACKENDS) for i in range(N_CLIENTS)]
        r.syn_round("first SYNs", [(f, None) for f in first], hit=lambda f: False)
        if any(f.backend is None for f in first):
            return
        backend = {f.client_i: f.backend for f in first}
        ck.ok(len(set(backend.values())) > 1, "different clients may pick other backends: "
              f"{len(set(backend.values()))} of {len(BACKENDS)} backends used by {N_CLIENTS} clients",
              str(backend))
        r.check_hits("after step 1")

        ck.section("2. more connections per client, alternately on worker 0's and worker 1's queue")
        items = []
        for i in range(N_CLIENTS):
            n = 10 if i == A else 4
            items += [(r.flow(i, (i + 1 + j) % 2, BACKENDS), backend[i]) for j in range(n)]
        r.syn_round("same clients, new source ports", items, hit=lambda f: True)
        a_workers = {f.ext_q for f, _ in items if f.client_i == A}
        ck.eq(sorted(a_workers), [0, 1], "client A's connections were on both workers")
        r.check_hits("after step 2")

        old = backend[A]
        rest = [b for b in BACKENDS if b != old]
        ck.section(f"3. client A's backend {old} removed (service.upsert without it)")
        res = check_ok(ck, "upsert without A's backend, wait", ctl.call(
            "service.upsert", service=svc_spec(rest), wait=True), ctl.next_id - 1)
        if res is None:
            return
        ck.ok(isinstance(res.get("visible_us"), int), "every worker uses the new service",
              str(res))
        moved = sorted(i for i in range(N_CLIENTS) if backend[i] == old)
        # first connection after the removal, one per client (same-client SYNs never race)
        items = [(r.flow(i, i % 2, rest), None if i in moved else backend[i])
                 for i in range(N_CLIENTS)]
        r.syn_round("first SYN after the removal", items, hit=lambda f: f.client_i not in moved)
        new = {f.client_i: f.backend for f, _ in items}
        ck.ok(new[A] in rest, f"client A's next connection went to a remaining backend ({new[A]})")
        for i in moved:
            backend[i] = new[i]
        items = []
        for i in range(N_CLIENTS):
            n = 10 if i == A else 2
            items += [(r.flow(i, (i + 1 + j) % 2, rest), backend[i]) for j in range(n)]
        r.syn_round("then, on both workers", items, hit=lambda f: True)
        ck.ok(all(f.backend == new[A] for f, _ in items if f.client_i == A),
              f"client A sticks to its new backend {new[A]} on both workers")
        ck.ok(all(backend[i] == new[i] for i in range(N_CLIENTS)),
              f"clients of other backends kept theirs; {len(moved)} client(s) moved")
        r.check_hits("after step 3")

        ck.section(f"4. {old} back (the Maglev table of step 1): client A stays on {new[A]}")
        res = check_ok(ck, "upsert with all four backends again, wait", ctl.call(
            "service.upsert", service=svc_spec(BACKENDS), wait=True), ctl.next_id - 1)
        if res is None:
            return
        items = []
        for i in range(N_CLIENTS):
            n = 6 if i == A else 2
            items += [(r.flow(i, (i + j) % 2, BACKENDS), backend[i]) for j in range(n)]
        r.syn_round("after the backend came back", items, hit=lambda f: True)
        ck.ok(all(f.backend == new[A] for f, _ in items if f.client_i == A),
              f"client A stays on {new[A]} on both workers although the client-address hash "
              f"alone now leads to {old} again")
        r.check_hits("after step 4")
        ck.eq(len(wires.leftovers(settle=0.3)), 0, "no unexpected frame on any link")

        ck.section("stop, stats JSON")
        ctl.close()
        ctl = None
        dp.stop()
        if not dp.check_exit(ck):
            return
        st = dp.stats()
        n_ctrl = sum(len(v) for v in wires.ctrl.values())
        T.check_counters(ck, st, events={
            "rx_packets": r.syns, "fwd_packets": r.syns, "tx_packets": r.syns + n_ctrl,
            "ct_created": r.syns, "affinity_hits": sum(r.hits), "rev_packets": 0})
        for w in (0, 1):
            ck.eq(st["workers"][w]["affinity_hits"], r.hits[w], f"worker {w} affinity_hits")
            ck.eq(st["workers"][w]["ct_created"], sum(1 for f in r.flows if f.ext_q == w),
                  f"worker {w} ct_created (the SYNs on its queue)")
        ck.ok(r.hits[0] > 0 and r.hits[1] > 0, f"both workers placed flows by affinity {r.hits}")
        ck.eq(T.service(st, "aff")["packets"], r.syns, "service aff packets")
    finally:
        if ctl is not None:
            ctl.close()
        dp.kill()
        dp.stop()
        wires.close()
