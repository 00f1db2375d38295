#!/usr/bin/python3
"""
case_sync_lag.py - flow sync lag between two real edgelb-dp processes (issue 12).

The topology of case_sync_pair.py (box A and box B on one segment, sync between
198.19.0.1 and 198.19.0.5), with refresh_s = 3600 so that only live records are
sampled. Once both have joined, this script opens connections through box A at a
steady rate (bare SYNs on A's external port: each makes a conntrack entry and a
record) and reads box B's `flow_sync` lag figures from its control socket.

Asserts behaviour only: every record reached B, B took lag samples, and the
percentiles are ordered. The figures are printed ("sync lag: ..."), never asserted:
scripts/bench-sync.sh runs this case with more connections and records them.

  EDGELB_SYNC_LAG_CONNS (default 300), EDGELB_SYNC_LAG_RATE (per second, default 300)
"""
import os
import time

from scapy.all import IP, TCP, Ether

import case_sync_pair as P
import lbtest as T
from case_ctl_lib import Ctl


def flow_sync(ctl):
    return (ctl.call("hello").get("result") or {}).get("flow_sync") or {}


def run_case(ck, tmp, build):
    conns = int(os.environ.get("EDGELB_SYNC_LAG_CONNS", "300"))
    rate = float(os.environ.get("EDGELB_SYNC_LAG_RATE", "300"))
    P.segment(tmp)
    wires = T.Wires(["xfsA1", "xfsB1", "ifsT0"])
    a = T.Dp(build, tmp, P.box_conf(tmp, "A", "xfsA0", "ifsA0", P.A_INT, P.A_INT_MAC, P.A_LOCAL, 1,
                                    P.B_INT, P.B_INT_MAC, refresh_s=3600), tag="lagA")
    b = T.Dp(build, tmp, P.box_conf(tmp, "B", "xfsB0", "ifsB0", P.B_INT, P.B_INT_MAC, P.B_LOCAL, 2,
                                    P.A_INT, P.A_INT_MAC, refresh_s=3600), tag="lagB")
    try:
        ck.section("1. both boxes start and join each other")
        if not (ck.ok(a.start(), "box A started", a.stderr()[-2000:]) and
                ck.ok(b.start(), "box B started", b.stderr()[-2000:])):
            return
        ca, cb = Ctl(os.path.join(tmp, "A.sock")), Ctl(os.path.join(tmp, "B.sock"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if flow_sync(ca).get("bulk_done") and flow_sync(cb).get("bulk_done"):
                break
            time.sleep(0.1)
        ck.ok(flow_sync(ca).get("bulk_done") and flow_sync(cb).get("bulk_done"),
              "A and B: bulk_done")
        base = flow_sync(cb)
        ck.eq(base.get("lag_samples"), 0, "B: no lag sample before A has a connection")

        ck.section(f"2. {conns} connections through A at {rate:g}/s")
        frames = [bytes(Ether(src=T.GW_MAC, dst=T.EXT_MAC) /
                        IP(src=T.client4(i % 1000), dst=T.VIP4) /
                        TCP(sport=20000 + i, dport=80, flags="S", seq=1000 + i))
                  for i in range(conns)]
        t0 = time.monotonic()
        for i, f in enumerate(frames):
            pause = t0 + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            wires.send("xfsA1", f)
            if i % 64 == 0:
                wires.leftovers(settle=0)  # keep the capture socket drained
        took = time.monotonic() - t0
        deadline = time.monotonic() + 15
        fs = {}
        while time.monotonic() < deadline:
            fs = flow_sync(cb)
            if fs.get("records_received", 0) >= conns:
                break
            wires.leftovers(settle=0.1)
        ck.eq(fs.get("records_received"), conns, "B: a record of every connection arrived")
        ck.ok(fs.get("lag_samples", 0) >= conns // 15,
              "B: a lag sample per records datagram", str(fs.get("lag_samples")))
        ck.ok(0 <= fs.get("lag_us_p50", -1) <= fs.get("lag_us_p99", -1) <= fs.get("lag_us_max", -1),
              "B: lag p50 <= p99 <= max", str({k: v for k, v in fs.items() if k.startswith("lag")}))
        sa = flow_sync(ca)
        print(f"sync lag: conns={conns} rate={rate:g}/s sent_in={took:.2f}s "
              f"A.records_sent={sa.get('records_sent')} B.records_received={fs.get('records_received')} "
              f"B.lag_samples={fs.get('lag_samples')} p50_us={fs.get('lag_us_p50')} "
              f"p99_us={fs.get('lag_us_p99')} max_us={fs.get('lag_us_max')} "
              f"clock_ahead={fs.get('lag_clock_ahead')}", flush=True)
    finally:
        b.stop()
        a.stop()
        wires.close()
    ck.section("3. exit")
    a.check_exit(ck)
    b.check_exit(ck)
