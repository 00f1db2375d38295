#!/usr/bin/python3
"""
case_maglev.py - scenario 4: backend selection, pcap files in and out, one worker.

Run A: 3000 client SYNs to a service with backends of weight 1, 1, 2 (active),
1 (draining), 1 (down), 0 (active): only the three active backends with weight
get flows, in proportion to weight; the first 500 flows send a second packet
that must reach the same backend from the same fnat source (conntrack).
Run B: a new process, the same flows, the backends listed in another order:
every flow picks the same backend as in run A (Maglev is deterministic).
Run C: every active backend down: the draining one takes all new flows.
Run D: one weight-1 backend down: flows of the others stay where they were
(Maglev's minimal disruption), and its own flows spread over the rest.
Run E: ClientIP session affinity, 3 backends: 100 connections of one client all
reach one backend, from distinct fnat sources (one local address), and other
clients spread; affinity_hits counts the placements made by the affinity table.
Every output frame is checked (addresses, ports, TTL, checksums, payload).
"""
import os

import lbtest as T
from scapy.all import IP, TCP, Ether, Raw

N_FLOWS = 3000
N_AGAIN = 500
B = ["198.19.0.10", "198.19.0.11", "198.19.0.12", "198.19.0.13", "198.19.0.14", "198.19.0.15"]
SPEC_A = [(B[0], 1, "active"), (B[1], 1, "active"), (B[2], 2, "active"),
          (B[3], 1, "draining"), (B[4], 1, "down"), (B[5], 0, "active")]


def client_of(i):
    return T.client4(i % 997), 1024 + (i * 7919) % 60000


def syn(i):
    c, p = client_of(i)
    return bytes(Ether(src=T.GW_MAC, dst=T.EXT_MAC) / IP(src=c, dst=T.VIP4, ttl=64, id=i & 0xFFFF) /
                 TCP(sport=p, dport=80, flags="S", seq=i * 1000 + 1, options=[("MSS", 1460)]))


def again(i):
    c, p = client_of(i)
    return bytes(Ether(src=T.GW_MAC, dst=T.EXT_MAC) / IP(src=c, dst=T.VIP4, ttl=30, id=(i + 7) & 0xFFFF) /
                 TCP(sport=p, dport=80, flags="A", seq=i * 1000 + 2, ack=77) / Raw(b"again %d" % i))


def run_dp(ck, tmp, build, tag, spec, frames, affinity=False, local=None):
    """One dp process over the frames; returns (outputs on int, stats) or None."""
    d = os.path.join(tmp, tag)
    os.makedirs(d)
    ext_in, int_in = os.path.join(d, "ext-in.pcap"), os.path.join(d, "int-in.pcap")
    ext_out, int_out = os.path.join(d, "ext-out.pcap"), os.path.join(d, "int-out.pcap")
    T.write_pcap(ext_in, frames)
    T.write_pcap(int_in, [])
    svc = {"name": "web", "vip": T.VIP4, "port": 80, "protocol": "tcp", "mode": "fnat",
           "backends": [{"address": a, "port": 8080, "weight": w, "state": s} for a, w, s in spec]}
    if affinity:
        svc["session_affinity"] = {"type": "ClientIP", "timeout_seconds": 600}
    conf = T.make_conf(
        workers=[1],
        ports=[T.ext_port(T.pcap_files_device("net_pcap0", [ext_in], [ext_out])),
               T.int_port(T.pcap_files_device("net_pcap1", [int_in], [int_out]),
                          local=local or T.LOCAL4 + T.LOCAL6)],
        services=[svc], snat=(1024, 65535))
    dp = T.Dp(build, tmp, conf, tag=tag)
    dp.run(timeout=60)
    if not dp.check_exit(ck):
        return None
    st = dp.stats()
    ext_f, int_f = T.read_pcap(ext_out), T.read_pcap(int_out)
    ann = T.check_announcements(ck, {"ext": [r for r in ext_f if T.ctrl_kind(r)],
                                     "int": [r for r in int_f if T.ctrl_kind(r)]}, [T.VIP4], st)
    ck.eq(len(ext_f) - ann["ext"], 0, f"{tag}: nothing but announcements sent out the external port")
    data = [r for r in int_f if not T.ctrl_kind(r)]
    ck.eq(st["global"]["tx_packets"], len(data) + ann["ext"] + ann["int"],
          f"{tag}: stats tx_packets == frames in the output files")
    return data, st


def check_outputs(ck, tag, frames_in, outs, eligible):
    """Pairs outputs with inputs (by seq), checks each frame; returns {i: (backend, src, sport)}."""
    by_seq = {}
    for raw in outs:
        f = T.Frame(raw)
        by_seq.setdefault(f.seq, []).append(raw)
    picks, bad, missing = {}, 0, []
    ck.quiet_ok = True
    for raw_in in frames_in:
        fi = T.Frame(raw_in)
        i = fi.seq // 1000
        got = by_seq.get(fi.seq, [])
        if len(got) != 1:
            missing.append((i, len(got)))
            continue
        a = T.Frame(got[0])
        if not ck.ok(a.dst_ip in eligible and a.sport >= 1024 and a.src_ip in T.LOCAL4,
                     f"{tag}: flow {i}: backend {a.dst_ip} eligible, source {a.src_ip}:{a.sport}"):
            bad += 1
            continue
        exp = T.rewrite(raw_in, eth_src=T.INT_MAC, eth_dst=T.BACKEND_MACS[a.dst_ip], src=a.src_ip,
                        dst=a.dst_ip, sport=a.sport, dport=8080)
        if not T.check_frame(ck, f"{tag}: flow {i}", got[0], exp):
            bad += 1
        if fi.tcp_flags == 0x02:
            picks[i] = (a.dst_ip, a.src_ip, a.sport)
        else:
            if picks.get(i) != (a.dst_ip, a.src_ip, a.sport):
                bad += 1
                ck.ok(False, f"{tag}: flow {i} second packet went to {a.dst_ip} from "
                             f"{a.src_ip}:{a.sport}, first to {picks.get(i)}")
    ck.quiet_ok = False
    ck.ok(not missing, f"{tag}: one output frame per input frame ({len(frames_in)})",
          f"{len(missing)} input frame(s) without exactly one output, (flow, outputs): {missing[:6]}...")
    ck.eq(bad, 0, f"{tag}: every output frame checked (MACs, addresses, ports, TTL, checksums, "
                  f"payload; {len(frames_in)} frames), failures")
    return picks


def shares(picks):
    n = {}
    for b, _, _ in picks.values():
        n[b] = n.get(b, 0) + 1
    return n


def run_case(ck, tmp, build):
    frames_a = [syn(i) for i in range(N_FLOWS)] + [again(i) for i in range(N_AGAIN)]

    ck.section(f"run A: {N_FLOWS} flows; weights 1,1,2 active, 1 draining, 1 down, 0 active")
    r = run_dp(ck, tmp, build, "maglev-a", SPEC_A, frames_a)
    if r is None:
        return
    outs, st = r
    eligible_a = {B[0], B[1], B[2]}
    picks_a = check_outputs(ck, "run A", frames_a, outs, eligible_a)
    n = shares(picks_a)
    print(f"  flows per backend: {dict(sorted(n.items()))}")
    for b in (B[3], B[4], B[5]):
        ck.eq(n.get(b, 0), 0, f"run A: flows on {b} ({dict((x[0], x[2]) for x in SPEC_A)[b]}, "
                              f"weight {dict((x[0], x[1]) for x in SPEC_A)[b]})")
    tot = sum(n.values())
    for b, w in ((B[0], 1), (B[1], 1), (B[2], 2)):
        share = n.get(b, 0) / max(tot, 1)
        ck.ok(abs(share - w / 4) <= 0.05, f"run A: {b} (weight {w}) has {share:.1%} of the flows, "
                                          f"{w / 4:.0%} +- 5 points")
    ck.section("run A: stats JSON")
    T.check_counters(ck, st, events={"rx_packets": len(frames_a), "fwd_packets": len(frames_a), "ct_created": N_FLOWS,
                                     "connections": N_FLOWS})
    svc = T.service(st, "web")
    for b in svc["backends"]:
        a = b["address"]
        spec = {x[0]: x for x in SPEC_A}[a]
        ck.eq((b["weight"], b["state"]), (spec[1], spec[2]), f"stats backend {a} (weight, state)")
        ck.eq(b["active_connections"], n.get(a, 0), f"stats backend {a} active_connections")
        again_n = sum(1 for i in range(N_AGAIN) if picks_a.get(i, ("",))[0] == a)
        ck.eq(b["packets"], n.get(a, 0) + again_n, f"stats backend {a} packets")

    ck.section("run B: new process, same flows, backends listed in reverse order")
    frames_b = [syn(i) for i in range(N_FLOWS)]
    r = run_dp(ck, tmp, build, "maglev-b", list(reversed(SPEC_A)), frames_b)
    if r is None:
        return
    picks_b = check_outputs(ck, "run B", frames_b, r[0], eligible_a)
    moved = [i for i in picks_a if picks_b.get(i, ("",))[0] != picks_a[i][0]]
    ck.eq(len(moved), 0, f"run B: flows whose backend differs from run A (of {len(picks_a)})")

    ck.section("run C: every active backend down: the draining one takes new flows")
    spec_c = [(a, w, "down" if s == "active" else s) for a, w, s in SPEC_A]
    frames_c = [syn(i) for i in range(300)]
    r = run_dp(ck, tmp, build, "maglev-c", spec_c, frames_c)
    if r is None:
        return
    picks_c = check_outputs(ck, "run C", frames_c, r[0], {B[3]})
    ck.eq(shares(picks_c), {B[3]: len(frames_c)}, "run C: flows per backend")

    ck.section(f"run D: {B[1]} down: flows of the other backends stay")
    spec_d = [(a, w, "down" if a == B[1] else s) for a, w, s in SPEC_A]
    r = run_dp(ck, tmp, build, "maglev-d", spec_d, frames_b)
    if r is None:
        return
    picks_d = check_outputs(ck, "run D", frames_b, r[0], {B[0], B[2]})
    kept = [i for i in picks_a if picks_a[i][0] != B[1]]
    moved = [i for i in kept if picks_d.get(i, ("",))[0] != picks_a[i][0]]
    print(f"  flows not on {B[1]} that moved: {len(moved)} of {len(kept)}")
    ck.ok(len(moved) <= 0.02 * len(kept), f"run D: at most 2% of the flows on the remaining "
                                          f"backends moved ({len(moved)} of {len(kept)})")
    gone = [i for i in picks_a if picks_a[i][0] == B[1]]
    nd = {}
    for i in gone:
        if i in picks_d:
            nd[picks_d[i][0]] = nd.get(picks_d[i][0], 0) + 1
    print(f"  flows of {B[1]} now on: {nd}")
    ck.ok(len(nd) == 2, f"run D: the flows of {B[1]} spread over both remaining backends", str(nd))

    ck.section("run E: ClientIP affinity; one client opens 100 connections, 50 clients one each")
    spec_e = [(B[0], 1, "active"), (B[1], 1, "active"), (B[2], 1, "active")]
    one = [bytes(Ether(src=T.GW_MAC, dst=T.EXT_MAC) / IP(src=T.client4(500), dst=T.VIP4, ttl=64) /
                 TCP(sport=20000 + k, dport=80, flags="S", seq=(10000 + k) * 1000 + 1))
           for k in range(100)]
    many = [syn(i) for i in range(50)]
    r = run_dp(ck, tmp, build, "maglev-e", spec_e, one + many, affinity=True, local=[T.LOCAL4[0]])
    if r is None:
        return
    outs, st = r
    ck.ok(st["global"]["drops"]["no_snat"] == 0,
          "run E: no connection of the busy client dropped for want of a source port "
          "(KNOWN DP BUG, tests/dp/README.md: ClientIP affinity allows 32 per client)",
          f"drops.no_snat = {st['global']['drops']['no_snat']}, forwarded {len(outs)} of {len(one) + len(many)}")
    picks = check_outputs(ck, "run E", one + many, outs, set(x[0] for x in spec_e))
    busy = [picks[10000 + k] for k in range(100) if 10000 + k in picks]
    ck.eq(len({b for b, _, _ in busy}), 1 if busy else 0, "run E: the busy client's connections share one backend")
    ck.eq(len({(s, p) for _, s, p in busy}), len(busy), "run E: ... each from its own fnat source port")
    ck.ok(len(shares({i: picks[i] for i in range(50) if i in picks})) == 3,
          "run E: the other clients spread over all three backends")
    ck.eq(st["global"]["affinity_hits"], len(one) - 1, "run E: stats affinity_hits (the busy client's "
                                                        "connections after its first)")
