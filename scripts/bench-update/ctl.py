#!/usr/bin/python3
"""ctl.py - control-socket client for scripts/bench-update.sh.

  ctl.py setup  SOCK SERVICES CHURN_M CHURN_BACKENDS
      Creates SERVICES services through the dp control socket: SERVICES-1 small ones
      (maglev_size 251, 2 backends each) and the churned one, churn/web
      198.18.0.100:80 with CHURN_BACKENDS backends 198.19.1.1.. :8080, maglev_size
      CHURN_M. Prints key=value lines.

  ctl.py spread SOCK UPDATES RATE SERVICES OUT
      UPDATES upserts with "wait": true, open loop at RATE/s (at most WINDOW in
      flight), each of a small service picked at random among SERVICES-1 (its
      second backend's weight flips 1 <-> 2). Key=value lines to OUT.

  ctl.py churn  SOCK UPDATES RATE CHURN_M CHURN_BACKENDS SENDER_PID OUT
      Grace-period baseline (upserts of a small service, closed loop), then
      UPDATES upserts of the churned (hot) service with "wait": true, sent open
      loop at RATE/s on one connection (at most WINDOW in flight): updates 0, 2,
      4... add backend 198.19.1.200 with a weight that differs every time, 1, 3,
      5... remove it; the backends established flows use are never removed.
      Every update must be answered ok, versions must never go back, and the
      service must end as the last spec sent (else updates_lost counts it).
      Meanwhile a second connection sends hello every 10 ms (ctl_rtt_*).
      SIGUSR1 / SIGUSR2 to SENDER_PID bracket the churn. Key=value lines to OUT.

  ctl.py rolling SOCK CHURN_M CHURN_BACKENDS SENDER_PID STEP_MS OUT REMOVED_OUT
      A rolling update of the churned service: step i replaces backend
      198.19.1.(i+1) by 198.19.3.(i+1) (one upsert, "wait": true), one step every
      STEP_MS. SIGUSR1 / SIGUSR2 to SENDER_PID bracket it. Key=value lines to
      OUT; "address monotonic_ns" of each removal request to REMOVED_OUT.

  ctl.py arp IFACE TARGET_IP SRC_IP SECONDS PREFIX
      (in the client namespace) ARP requests for TARGET_IP every 10 ms for SECONDS;
      prints PREFIX_p50_us, _p99_us, _max_us (request sent -> reply read) and
      PREFIX_lost (no reply within 200 ms).

  ctl.py stats  SOCK OUT
      Port counters and drop total of the dp, as key=value lines in OUT.

  ctl.py report SENDER_OUT RECV_OUT BITMAP CHURN_OUT STATS_OUT SPREAD_OUT ROLL_OUT
                MOVES REMOVED
      Combines the helpers' outputs into the bench's key=value lines.

Only the standard library.
"""
import json
import os
import resource
import select
import signal
import socket
import random
import sys
import threading
import time

EXTRA_BACKEND = "198.19.1.200"
# Requests in flight at most (env WINDOW, default 64): a dp that falls behind by
# more than this (64 ms of updates at 1000/s) is not fed more until it answers, so
# the backlog, and the drain after the churn, stay bounded; update_rate_achieved
# then shows the rate. WINDOW=1: closed loop, no queueing in the measurement.
WINDOW = int(os.environ.get("WINDOW", "64"))
CHURN_VIP = "198.18.0.100"


def pct(vals, p):
    """Nearest-rank percentile."""
    if not vals:
        return None
    v = sorted(vals)
    k = max(0, min(len(v) - 1, -(-len(v) * p // 100) - 1))
    return v[int(k)]


class Ctl:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""

    def send(self, obj):
        self.s.sendall(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def send_raw(self, line):
        self.s.sendall(line)

    def lines(self, block=True):
        """Complete reply lines available now; block: wait until there is one."""
        while True:
            out = []
            while True:
                i = self.buf.find(b"\n")
                if i < 0:
                    break
                out.append(json.loads(self.buf[:i]))
                self.buf = self.buf[i + 1:]
            if out:
                return out
            if not block and not select.select([self.s], [], [], 0)[0]:
                return out
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise SystemExit("ctl: dp closed the control socket")
            self.buf += chunk

    def call(self, obj):
        self.send(obj)
        return self.lines()[0]


ROLL_NET = "198.19.3."


def churn_spec(m, n, extra, weight=None, rolled=0):
    """rolled: the first `rolled` backends replaced by 198.19.3.x (rolling update)."""
    backends = [{"address": (ROLL_NET if i < rolled else "198.19.1.") + "%d" % (i + 1),
                 "port": 8080} for i in range(n)]
    if extra:
        backends.append({"address": EXTRA_BACKEND, "port": 8080})
        if weight is not None:
            backends[-1]["weight"] = weight
    return {"name": "churn/web", "vip": CHURN_VIP, "port": 80, "protocol": "tcp",
            "mode": "fnat", "maglev_size": m, "backends": backends}


def small_spec(i):
    return {"name": "bench/s%d" % i,
            # not in 198.18.10.0+ where the sender's clients are (a packet from
            # one of the box's own addresses is dropped as "land")
            "vip": "198.19.%d.%d" % (64 + i // 250, 1 + i % 250), "port": 80,
            "maglev_size": 251,
            "backends": [{"address": "198.19.1.%d" % (1 + i % 100), "port": 8080},
                         {"address": "198.19.1.%d" % (1 + (i + 1) % 100), "port": 8080}]}


def cmd_setup(path, services, m, nb):
    c = Ctl(path)
    hello = c.call({"op": "hello", "version": 1, "client": "bench-update"})
    if not hello.get("ok"):
        raise SystemExit("ctl: hello failed: %s" % hello)
    t0 = time.perf_counter()
    reqs = [json.dumps({"op": "service.upsert", "id": i, "service": small_spec(i)},
                       separators=(",", ":")).encode() + b"\n" for i in range(services - 1)]
    reqs.append(json.dumps({"op": "service.upsert", "id": "churn",
                            "service": churn_spec(m, nb, False)},
                           separators=(",", ":")).encode() + b"\n")
    # Pipelined in windows of 256 so neither side's buffers balloon.
    sent = got = failed = 0
    first_err = None
    while got < len(reqs):
        while sent < len(reqs) and sent - got < 256:
            c.send_raw(reqs[sent])
            sent += 1
        for r in c.lines():
            got += 1
            if not r.get("ok"):
                failed += 1
                first_err = first_err or r
    dt = time.perf_counter() - t0
    h = c.call({"op": "hello", "version": 1})
    print("setup_services=%d" % h["result"]["services"])
    print("setup_failed=%d" % failed)
    print("setup_seconds=%.2f" % dt)
    if failed:
        print("setup_first_error=%s" % json.dumps(first_err), file=sys.stderr)
        sys.exit(1)


def drops_total(stats):
    d = stats["result"]
    drops = d["global"]["drops"]
    missed = sum(p.get("nic_missed", 0) for p in d.get("ports", []))
    return sum(drops.values()), drops, missed


def open_loop(c, updates, rate, line_of):
    """Send line_of(k) for k < updates at `rate`/s, at most WINDOW in flight; collect
    the replies. Returns dict: vis, rtt, extra (per reply key), replies (by k), sent,
    got, errors, timeouts, seconds."""
    period = 1.0 / rate
    t_send = [0.0] * updates
    replies = {}
    vis, rtt, extra = [], [], {}
    timeouts = errors = 0
    sent = got = 0
    t0 = time.perf_counter()
    send_deadline = t0 + 2 * updates * period + 5
    reply_deadline = None
    while got < sent or sent < updates:
        now = time.perf_counter()
        if sent < updates and now > send_deadline:
            updates = sent  # give up sending; count what was asked
        if sent == updates and reply_deadline is None:
            reply_deadline = now + 10
        if reply_deadline is not None and now > reply_deadline:
            break
        while sent < updates and now >= t0 + sent * period and sent - got < WINDOW:
            t_send[sent] = time.perf_counter()
            c.send_raw(line_of(sent))
            sent += 1
            now = time.perf_counter()
        wait = (t0 + sent * period - now) if sent < updates and sent - got < WINDOW else 0.2
        r_ready, _, _ = select.select([c.s], [], [], max(0.0, wait))
        if not r_ready and not c.buf:
            continue
        t_rx = time.perf_counter()
        for r in c.lines(block=False):
            k = r.get("id")
            got += 1
            if isinstance(k, int):
                replies[k] = r
            if not r.get("ok"):
                errors += 1
                continue
            rr = r["result"]
            if rr.get("visible_us") is None:
                timeouts += 1
            else:
                vis.append(rr["visible_us"])
            for key in ("pre_us", "parse_us", "build_us", "maglev_us", "grace_us", "tcache_hits",
                        "submitted_us", "queued_us", "built_us", "published_us"):
                if key in rr:
                    extra.setdefault(key, []).append(rr[key])
            if isinstance(k, int) and 0 <= k < len(t_send):
                rtt.append((t_rx - t_send[k]) * 1e6)
    # How late the client itself sent each request against its schedule (a client
    # that was descheduled catches up with a burst).
    lag = [(t_send[k] - (t0 + k * period)) * 1e6 for k in range(sent)]
    return {"vis": vis, "rtt": rtt, "extra": extra, "replies": replies, "sent": sent,
            "got": got, "errors": errors, "timeouts": timeouts, "lag": lag,
            "seconds": time.perf_counter() - t0}


def tail_keys(res, prefix, o):
    """What the slowest 1 % of updates (visible_us at or above p99) were made of,
    request by request: the medians over them of the reply's stages, how many were
    coalesced or got a cached table, and how late the client sent them."""
    vis = o["vis"]
    if not vis:
        return
    p99 = pct(vis, 99)
    tail = [(k, r["result"]) for k, r in o["replies"].items()
            if r.get("ok") and (r["result"].get("visible_us") or 0) >= p99]
    res[prefix + "tail_updates"] = len(tail)
    if not tail:
        return
    def med(f):
        v = [f(k, rr) for k, rr in tail]
        v = [x for x in v if x is not None]
        return pct(v, 50) if v else None
    sub = lambda k, rr: rr.get("submitted_us")
    res[prefix + "tail_submitted_us_p50"] = med(sub)
    res[prefix + "tail_waited_builder_us_p50"] = med(
        lambda k, rr: rr["queued_us"] - rr["submitted_us"] if "submitted_us" in rr else None)
    res[prefix + "tail_build_cpu_us_p50"] = med(lambda k, rr: rr.get("build_us"))
    res[prefix + "tail_build_wall_us_p50"] = med(
        lambda k, rr: rr["built_us"] - rr["queued_us"] if "built_us" in rr else None)
    res[prefix + "tail_built_to_publish_us_p50"] = med(
        lambda k, rr: rr["published_us"] - rr["built_us"] if "built_us" in rr else None)
    res[prefix + "tail_grace_us_p50"] = med(lambda k, rr: rr["visible_us"] - rr["published_us"])
    res[prefix + "tail_coalesced"] = sum(1 for k, rr in tail if rr.get("coalesced"))
    res[prefix + "tail_table_cached"] = sum(1 for k, rr in tail if rr.get("table_cached"))
    lag = o.get("lag", [])
    res[prefix + "tail_client_late_us_p50"] = med(
        lambda k, rr: lag[k] if isinstance(k, int) and k < len(lag) else None)
    res[prefix + "client_late_us_p99"] = round(pct(lag, 99)) if lag else None


def loop_keys(res, prefix, o):
    """The common keys of an open-loop phase, names prefixed."""
    res[prefix + "updates"] = o["got"] - o["errors"] - o["timeouts"]
    res[prefix + "updates_sent"] = o["sent"]
    res[prefix + "updates_unanswered"] = o["sent"] - o["got"]
    res[prefix + "update_errors"] = o["errors"]
    res[prefix + "update_wait_timeouts"] = o["timeouts"]
    res[prefix + "update_rate_achieved"] = round(o["got"] / o["seconds"], 1)
    vis, rtt = o["vis"], o["rtt"]
    res[prefix + "update_visible_p50_us"] = pct(vis, 50)
    res[prefix + "update_visible_p99_us"] = pct(vis, 99)
    res[prefix + "update_visible_max_us"] = max(vis) if vis else None
    res[prefix + "update_visible_min_us"] = min(vis) if vis else None
    res[prefix + "update_rtt_p50_us"] = round(pct(rtt, 50)) if rtt else None
    res[prefix + "update_rtt_p99_us"] = round(pct(rtt, 99)) if rtt else None
    for key, v in sorted(o["extra"].items()):
        res[prefix + "update_%s_min" % key] = min(v)
        res[prefix + "update_%s_p50" % key] = pct(v, 50)
        res[prefix + "update_%s_p99" % key] = pct(v, 99)
    res[prefix + "updates_coalesced"] = sum(
        1 for r in o["replies"].values() if r.get("ok") and r["result"].get("coalesced"))


def cmd_spread(path, updates, rate, services, out):
    c = Ctl(path)
    rnd = random.Random(13)
    flip = {}
    lines = []
    for k in range(updates):
        i = rnd.randrange(1, max(2, services - 1))
        flip[i] = flip.get(i, 0) + 1
        spec = small_spec(i)
        spec["backends"][1]["weight"] = 1 + flip[i] % 2
        lines.append(b'{"op":"service.upsert","id":%d,"wait":true,"service":%s}\n'
                     % (k, json.dumps(spec, separators=(",", ":")).encode()))
    o = open_loop(c, updates, rate, lambda k: lines[k])
    res = {}
    loop_keys(res, "", o)
    with open(out, "w") as f:
        for k, v in res.items():
            f.write("%s=%s\n" % (k, v))


class Prober(threading.Thread):
    """hello on its own connection every 10 ms: how long the control loop makes a
    client wait (ARP/NDP share that loop)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.c = Ctl(path)
        self.rtt = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            t = time.perf_counter()
            self.c.call({"op": "hello", "version": 1})
            self.rtt.append((time.perf_counter() - t) * 1e6)
            self.stop.wait(0.01)


def cmd_churn(path, updates, rate, m, nb, sender_pid, out):
    c = Ctl(path)
    res = {}

    # 1. Grace-period floor: a 2-backend, M=251 service, one request at a time
    #    (at most 300 of them or 5 s).
    base = []
    t_end = time.perf_counter() + 5
    for i in range(300):
        if time.perf_counter() > t_end:
            break
        spec = small_spec(0)
        spec["backends"][1]["weight"] = 1 + (i % 2)
        r = c.call({"op": "service.upsert", "wait": True, "service": spec})
        if r.get("ok") and r["result"].get("visible_us") is not None:
            base.append(r["result"]["visible_us"])
        time.sleep(0.001)
    res["small_update_visible_p50_us"] = pct(base, 50)
    res["small_update_visible_p99_us"] = pct(base, 99)

    # 1b. The control loop's answer time while idle (hello every 10 ms, 1 s).
    pr = Prober(path)
    pr.start()
    time.sleep(1.0)
    pr.stop.set()
    pr.join()
    res["ctl_rtt_idle_p50_us"] = round(pct(pr.rtt, 50)) if pr.rtt else None
    res["ctl_rtt_idle_p99_us"] = round(pct(pr.rtt, 99)) if pr.rtt else None

    # 2. Churn of the hot service, open loop at `rate`. Update k (from 0): even k
    #    adds the extra backend with weight 1 + (k / 2) % 1000 (a new spec every
    #    time), odd k removes it again.
    with_extra = json.dumps(churn_spec(m, nb, True, 777777), separators=(",", ":")).encode()
    with_extra = with_extra.replace(b"777777", b"%d")
    without = json.dumps(churn_spec(m, nb, False), separators=(",", ":")).encode()

    def spec_bytes(k):
        return with_extra % (1 + (k // 2) % 1000) if k % 2 == 0 else without

    s0 = c.call({"op": "stats.get"})
    d0, dd0, miss0 = drops_total(s0)
    pr = Prober(path)
    pr.start()
    os.kill(sender_pid, signal.SIGUSR1)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    o = open_loop(c, updates, rate, lambda k: b'{"op":"service.upsert","id":%d,"wait":true,'
                  b'"service":%s}\n' % (k, spec_bytes(k)))
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    os.kill(sender_pid, signal.SIGUSR2)
    pr.stop.set()
    pr.join()
    res["client_cpu_pct"] = round(100 * (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime -
                                         ru0.ru_stime) / o["seconds"], 1)
    res["ctl_rtt_storm_p50_us"] = round(pct(pr.rtt, 50)) if pr.rtt else None
    res["ctl_rtt_storm_p99_us"] = round(pct(pr.rtt, 99)) if pr.rtt else None
    res["ctl_rtt_storm_max_us"] = round(max(pr.rtt)) if pr.rtt else None
    s1 = c.call({"op": "stats.get"})
    d1, dd1, miss1 = drops_total(s1)
    loop_keys(res, "hot_", o)
    tail_keys(res, "hot_", o)
    if os.environ.get("HOT_TRACE"):  # every hot reply with its send lag, for a look
        with open(os.environ["HOT_TRACE"], "w") as f:
            for k in sorted(o["replies"]):
                r = o["replies"][k]
                lag = o["lag"][k] if isinstance(k, int) and k < len(o["lag"]) else None
                f.write(json.dumps({"k": k, "lag_us": lag, "r": r.get("result")}) + "\n")

    # No update lost: each one answered ok, versions in reply order never go
    # back, and the service ends as the last spec sent.
    ok = [o["replies"][k] for k in sorted(o["replies"]) if o["replies"][k].get("ok")]
    vers = [r["result"].get("version", 0) for r in ok]
    backwards = sum(1 for a, b in zip(vers, vers[1:]) if b < a)
    last = json.loads(spec_bytes(o["sent"] - 1)) if o["sent"] else None
    lst = c.call({"op": "service.list"})["result"]["services"]
    now = [x for x in lst if x["vip"] == CHURN_VIP and x["port"] == 80]
    final_ok = bool(now) and last is not None and sorted(
        (b["address"], b.get("weight", 1)) for b in now[0]["backends"]) == sorted(
        (b["address"], b.get("weight", 1)) for b in last["backends"])
    res["hot_updates_lost"] = (o["sent"] - len(ok)) + backwards + (0 if final_ok else 1)
    res["hot_final_state_is_last_spec"] = int(final_ok)
    res["hot_versions_backwards"] = backwards
    res["hot_publishes"] = len(set(vers))
    res["hot_table_copies"] = len(set(r["result"].get("version", 0) for r in ok
                                      if r["result"].get("table_cached")))

    c0, c1 = s0["result"].get("control", {}), s1["result"].get("control", {})
    for k in ("table_builds", "table_builds_cancelled"):
        if k in c1:
            res["hot_" + k] = c1[k] - c0.get(k, 0)
    res["dp_drops_during_churn"] = d1 - d0
    res["dp_nic_missed_during_churn"] = miss1 - miss0
    why = {k: dd1.get(k, 0) - dd0.get(k, 0) for k in dd1 if dd1.get(k, 0) != dd0.get(k, 0)}
    res["dp_drop_reasons"] = ",".join("%s:%d" % kv for kv in sorted(why.items())) or "none"
    for p in s1["result"].get("ports", []):
        for k in ("rx_packets", "tx_packets", "nic_missed"):
            if k in p:
                res["dp_port_%s_%s" % (p["name"], k)] = p[k]
    g = s1["result"]["global"]
    for k in ("ct_repick", "connections"):
        if k in g:
            res["dp_" + k] = g[k]
    with open(out, "w") as f:
        for k, v in res.items():
            f.write("%s=%s\n" % (k, v))


def cmd_rolling(path, m, nb, sender_pid, step_ms, out, removed_out):
    c = Ctl(path)
    vis, removed = [], []
    errors = 0
    os.kill(sender_pid, signal.SIGUSR1)
    t0 = time.perf_counter()
    for i in range(nb):
        spec = churn_spec(m, nb, False, rolled=i + 1)
        removed.append(("198.19.1.%d" % (i + 1), time.monotonic_ns()))
        r = c.call({"op": "service.upsert", "wait": True, "service": spec})
        if r.get("ok") and r["result"].get("visible_us") is not None:
            vis.append(r["result"]["visible_us"])
        else:
            errors += 1
        nxt = t0 + (i + 1) * step_ms / 1000.0
        time.sleep(max(0.0, nxt - time.perf_counter()))
    time.sleep(0.3)  # the last step's flows settle before the window closes
    os.kill(sender_pid, signal.SIGUSR2)
    res = {"rolling_steps": nb, "rolling_step_ms": step_ms, "rolling_errors": errors,
           "rolling_update_visible_p50_us": pct(vis, 50),
           "rolling_update_visible_p99_us": pct(vis, 99),
           "rolling_update_visible_max_us": max(vis) if vis else None}
    with open(out, "w") as f:
        for k, v in res.items():
            f.write("%s=%s\n" % (k, v))
    with open(removed_out, "w") as f:
        for a, t in removed:
            f.write("%s %d\n" % (a, t))


def cmd_arp(iface, target, src_ip, seconds, prefix):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    s.bind((iface, 0))
    mac = s.getsockname()[4][:6]
    tip, sip = socket.inet_aton(target), socket.inet_aton(src_ip)
    req = (b"\xff" * 6 + mac + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x01" + mac + sip +
           b"\x00" * 6 + tip)
    rtt, lost = [], 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        s.send(req)
        got = False
        while not got:
            left = t + 0.2 - time.perf_counter()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                break
            f = s.recv(2048)
            # an ARP reply (op 2) from the target to us
            got = len(f) >= 42 and f[20:22] == b"\x00\x02" and f[28:32] == tip and f[38:42] == sip
        if got:
            rtt.append((time.perf_counter() - t) * 1e6)
        else:
            lost += 1
        time.sleep(max(0.0, t + 0.01 - time.perf_counter()))
    print("%s_p50_us=%s" % (prefix, round(pct(rtt, 50)) if rtt else None))
    print("%s_p99_us=%s" % (prefix, round(pct(rtt, 99)) if rtt else None))
    print("%s_max_us=%s" % (prefix, round(max(rtt)) if rtt else None))
    print("%s_lost=%d" % (prefix, lost))


def cmd_stats(path, out):
    """Port and drop totals of the whole run (after the sender stopped)."""
    st = Ctl(path).call({"op": "stats.get"})["result"]
    with open(out, "w") as f:
        for p in st.get("ports", []):
            for k in ("rx_packets", "tx_packets", "nic_missed"):
                f.write("%s_%s=%s\n" % (p["name"], k, p.get(k, 0)))
        f.write("drops=%d\n" % sum(st["global"]["drops"].values()))


def kv(path):
    d = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                d[k] = v
    return d


def moves_check(moves_path, removed_path, t_roll):
    """Flows whose backend changed when it should not have: before the rolling
    update (t < t_roll), any change away from a backend other than the extra one;
    from t_roll on, a change away from a backend whose removal was not yet asked."""
    removed = {}
    with open(removed_path) as f:
        for line in f:
            a, t = line.split()
            removed[a] = int(t)
    bad_hot, bad_roll, moved_roll = set(), set(), set()
    with open(moves_path) as f:
        for line in f:
            t, flow, frm, _to = line.split()
            t = int(t)
            if t < t_roll:
                if frm != EXTRA_BACKEND:
                    bad_hot.add(flow)
                continue
            moved_roll.add(flow)
            if frm != EXTRA_BACKEND and not (frm in removed and removed[frm] <= t):
                bad_roll.add(flow)
    return len(bad_hot), len(bad_roll), len(moved_roll)


def cmd_report(sender_out, recv_out, bitmap, churn_out, stats_out, spread_out, roll_out,
               moves, removed_path):
    s, r, c, t = kv(sender_out), kv(recv_out), kv(churn_out), kv(stats_out)
    sp, ro = kv(spread_out), kv(roll_out)
    bits = int.from_bytes(open(bitmap, "rb").read(), "little")
    sent = int(s["sent"])
    g0, g1 = int(s["g_churn_start"]), int(s["g_churn_end"])

    def received(a, b):
        if b <= a:
            return 0
        return ((bits >> a) & ((1 << (b - a)) - 1)).bit_count()

    lost_churn = (g1 - g0) - received(g0, g1) if g0 >= 0 and g1 >= g0 else -1
    marks = [int(x) for x in s.get("marks", "").split(",") if x]
    # Spread over services (the update_visible_p99_us), then the hot one.
    for k in sorted(sp):
        print("%s=%s" % (k, sp[k]))
    for k in sorted(c):
        if k.startswith(("hot_", "ctl_rtt_")):
            print("%s=%s" % (k, c[k]))
    # the name for the hot service's count
    print("updates_lost=%s" % c.get("hot_updates_lost"))
    removed_first = None
    with open(removed_path) as f:
        for line in f:
            removed_first = int(line.split()[1])
            break
    bad_hot, bad_roll, moved_roll = moves_check(moves, removed_path,
                                                removed_first if removed_first else 1 << 62)
    for k in sorted(ro):
        print("%s=%s" % (k, ro[k]))
    if len(marks) >= 4:
        print("rolling_dropped=%d" % ((marks[3] - marks[2]) - received(marks[2], marks[3])))
        print("rolling_packets_sent=%d" % (marks[3] - marks[2]))
    print("rolling_established_misrouted=%d" % bad_roll)
    print("rolling_established_moved=%d" % moved_roll)
    print("packets_sent=%d" % sent)
    print("packets_sent_during_churn=%d" % (g1 - g0))
    print("churn_seconds=%s" % s["churn_seconds"])
    print("small_update_visible_p50_us=%s" % c.get("small_update_visible_p50_us"))
    print("small_update_visible_p99_us=%s" % c.get("small_update_visible_p99_us"))
    # during the hot churn (the moves log, by time: the rolling update comes after)
    print("established_misrouted=%d" % bad_hot)
    print("established_moved_total=%s" % r["flows_moved"])
    print("flows_seen=%s" % r["flows_seen"])
    print("backends_used=%s" % r["backends_used"])
    print("dropped_during_churn=%d" % lost_churn)
    print("dropped_total=%d" % (sent - received(0, sent)))
    print("dp_drops_during_churn=%s" % c.get("dp_drops_during_churn"))
    print("dp_drop_reasons=%s" % c.get("dp_drop_reasons"))
    print("dp_nic_missed_during_churn=%s" % c.get("dp_nic_missed_during_churn"))
    print("receiver_socket_drops=%s" % r["socket_drops"])
    print("send_errors=%s" % s["send_errors"])
    print("client_cpu_pct=%s" % c.get("client_cpu_pct"))
    print("sender_cpu_pct=%.1f" % (100 * float(s["cpu_seconds"]) / float(s["run_seconds"])))
    print("receiver_cpu_seconds=%s" % r["cpu_seconds"])
    # Where the losses are: runs of missing g, as seconds since the sender started.
    pps = float(s["pps"])
    runs, a = [], None
    miss = ~bits & ((1 << sent) - 1)
    while miss:
        lo = (miss & -miss).bit_length() - 1
        hi_mask = ~((1 << lo) - 1)
        run_end = ((~miss) & hi_mask)
        hi = (run_end & -run_end).bit_length() - 1 if run_end else sent
        hi = min(hi, sent)
        runs.append((lo, hi - lo))
        miss &= ~((1 << hi) - 1)
        if len(runs) > 10000:
            break
    runs.sort(key=lambda r: -r[1])
    print("loss_runs=%d" % len(runs))
    print("loss_largest=%s" % ",".join("%.2fs:%d" % (lo / pps, n) for lo, n in runs[:4]))
    print("churn_window_s=%.2f-%.2f" % (g0 / pps, g1 / pps))
    print("dp_ct_repick=%s" % c.get("dp_ct_repick"))
    print("dp_connections=%s" % c.get("dp_connections"))
    # Whole run, by stage: sender -> (veth, dp's af_packet ring) -> dp -> receiver.
    ext_rx, int_tx = int(t["ext_rx_packets"]), int(t["int_tx_packets"])
    # (int tx also carries the dp's own ARP/GARP frames: the receiver's other_frames.)
    print("lost_before_dp_total=%d" % (sent - ext_rx))
    print("dp_drops_total=%s" % t["drops"])
    print("lost_after_dp_total=%d" % (int_tx - int(r["received"]) - int(r["other_frames"])))


def main():
    a = sys.argv[1:]
    if a[:1] == ["setup"] and len(a) == 5:
        cmd_setup(a[1], int(a[2]), int(a[3]), int(a[4]))
    elif a[:1] == ["churn"] and len(a) == 8:
        cmd_churn(a[1], int(a[2]), float(a[3]), int(a[4]), int(a[5]), int(a[6]), a[7])
    elif a[:1] == ["stats"] and len(a) == 3:
        cmd_stats(a[1], a[2])
    elif a[:1] == ["arp"] and len(a) == 6:
        cmd_arp(a[1], a[2], a[3], float(a[4]), a[5])
    elif a[:1] == ["spread"] and len(a) == 6:
        cmd_spread(a[1], int(a[2]), float(a[3]), int(a[4]), a[5])
    elif a[:1] == ["rolling"] and len(a) == 8:
        cmd_rolling(a[1], int(a[2]), int(a[3]), int(a[4]), float(a[5]), a[6], a[7])
    elif a[:1] == ["report"] and len(a) == 10:
        cmd_report(*a[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
