#!/usr/bin/python3
"""
test_kill_loop.py - IPAM and the state file survive kill -9 at any moment.

edgelb-cp alone in a private namespace (its dp socket has no listener: the
store does not depend on it). 20 iterations of: start the cp on the same state
file, two client threads fire creates (plain, shared keys with random ports,
dual stack, a named pool, requested addresses), deletes, PUT replaces and PUT
backends, each thread on its own names; kill -9 the cp at a random moment
(50..700 ms in); then, before the restart, the state file parses; after it:
  - every load balancer the API acknowledged (201/200) and did not delete since
    exists, with the addresses the API gave; every acknowledged delete stays
    deleted; a request cut by the kill may have happened or not;
  - an acknowledged PUT backends / PUT replace (no ips) kept the addresses;
  - no two load balancers share an address unless both have the same sharing
    key and no (protocol, port) in common; no .0 or .255 (avoid_buggy_ips);
    every address inside its pool; the pools' used counts match the list;
  - every load balancer is active.
Seeded (EDGELB_TEST_SEED=N to replay); about 30 s. EDGELB_KILL_LOOP_ITERATIONS=N
runs N iterations instead of 20 (a longer hunt; raise the timeout with it).
"""
import json
import os
import random
import signal
import threading
import time

import cplib

POOL_K = ["198.18.60.0/24", "2001:db8:60::/120"]
POOL_K2 = ["198.18.61.0/28"]
ITERATIONS = int(os.environ.get("EDGELB_KILL_LOOP_ITERATIONS") or 20)
MAX_LBS = 120


class Journal:
    """What the API acknowledged, name -> ("present", ips, spec) / ("absent",) / ("unknown",)."""

    def __init__(self):
        self.mu = threading.Lock()
        self.s = {}
        self.acks = 0
        self.cut = 0
        self.errors = []   # violations seen by the client threads

    def set(self, name, *v):
        with self.mu:
            self.s[name] = v


def client(t, api, j, tid, rng, stop, seq):
    mine = [n for n, v in j.s.items() if n.startswith("t%d-" % tid)]
    while not stop.is_set():
        present = [n for n in mine if j.s[n][0] == "present"]
        r = rng.random()
        try:
            if r < 0.5 and len(present) < MAX_LBS // 2 or not present:
                seq[0] += 1
                name = "t%d-lb%d" % (tid, seq[0])
                body = {"name": name, "ports": [{"port": rng.randint(1000, 1005)}],
                        "backends": [{"address": "198.19.7.%d" % rng.randint(1, 254)}]}
                kind = rng.random()
                if kind < 0.3:
                    body["sharing_key"] = rng.choice(["ka", "kb"])
                elif kind < 0.45:
                    body["ip_families"] = ["IPv4", "IPv6"]
                elif kind < 0.55:
                    body["pool"] = "k2"
                elif kind < 0.65:
                    body["ips"] = ["198.18.60.%d" % rng.randint(1, 254)]
                mine.append(name)
                j.set(name, "unknown")
                st, res = api.req("POST", "/v1/loadbalancers", body, timeout=5)
                if st == 201:
                    j.set(name, "present", res["ips"], body)
                    j.acks += 1
                elif st == 409:
                    j.set(name, "absent")
                else:
                    j.errors.append("create %s: %d %s" % (name, st, res))
                    j.set(name, "absent")
            elif r < 0.8:
                name = rng.choice(present)
                j.set(name, "unknown")
                st, res = api.req("DELETE", "/v1/loadbalancers/default/" + name, timeout=5)
                if st == 200:
                    j.set(name, "absent")
                    j.acks += 1
                else:
                    j.errors.append("delete %s: %d %s" % (name, st, res))
            else:
                name = rng.choice(present)
                _, ips, body = j.s[name]
                j.set(name, "unknown")
                if rng.random() < 0.5 or body.get("sharing_key"):
                    nb = [{"address": "198.19.8.%d" % rng.randint(1, 254)}]
                    st, res = api.req("PUT", "/v1/loadbalancers/default/%s/backends" % name, nb, timeout=5)
                    body = dict(body, backends=nb)
                else:
                    body = dict(body, ports=[{"port": rng.randint(2000, 2005)}])
                    st, res = api.req("PUT", "/v1/loadbalancers/default/" + name, body, timeout=5)
                if st == 200:
                    if res["ips"] != ips:
                        j.errors.append("PUT %s moved its addresses %s -> %s" % (name, ips, res["ips"]))
                    j.set(name, "present", res["ips"], body)
                    j.acks += 1
                else:
                    j.errors.append("PUT %s: %d %s" % (name, st, res))
                    j.set(name, "present", ips, body)
        except (OSError, cplib.http.client.HTTPException):
            j.cut += 1   # the cp died under this request: its name stays "unknown"
            return


def verify(t, api, j, it, state):
    lbs = api.list()
    by = {lb["name"]: lb for lb in lbs}
    bad = []
    for name, v in sorted(j.s.items()):
        if v[0] == "present":
            if name not in by:
                bad.append("%s acknowledged but missing" % name)
            elif by[name]["ips"] != v[1]:
                bad.append("%s had %s, now %s" % (name, v[1], by[name]["ips"]))
        elif v[0] == "absent":
            if name in by:
                bad.append("%s deleted/refused but present %s" % (name, by[name]["ips"]))
        else:  # cut by the kill: either way, now known
            j.s[name] = ("present", by[name]["ips"],
                         {k: by[name][k] for k in ("name", "ports", "backends", "sharing_key", "pool",
                                                   "ip_families", "requested_ips")}) \
                if name in by else ("absent",)
    for name in by:
        if name not in j.s:
            bad.append("%s exists but was never created" % name)
    t.check(not bad, "iteration %d: every acknowledged change survived (%d load balancers)"
            % (it, len(lbs)), "; ".join(bad[:5]), fatal=False)

    owners = {}
    for lb in lbs:
        for ip in lb["ips"]:
            owners.setdefault(ip, []).append(lb)
    clash = []
    for ip, os_ in owners.items():
        if len(os_) < 2:
            continue
        keys = {o["sharing_key"] for o in os_}
        ports = [(p["protocol"], p["port"]) for o in os_ for p in o["ports"]]
        if "" in keys or len(keys) > 1 or len(ports) != len(set(ports)):
            clash.append("%s held by %s" % (ip, [(o["name"], o["sharing_key"], o["ports"]) for o in os_]))
    t.check(not clash, "iteration %d: no address held twice except by allowed sharing (%d addresses)"
            % (it, len(owners)), "; ".join(clash[:3]), fatal=False)
    wrong = [(lb["name"], ip) for lb in lbs for ip in lb["ips"]
             if not cplib.in_pool(ip, POOL_K2 if lb["pool"] == "k2" else POOL_K)
             or (ip.endswith((".0", ".255")) and lb["pool"] != "k2")]
    t.check(not wrong, "iteration %d: every address inside its pool, none .0/.255 from k (avoid_buggy_ips)"
            % it, str(wrong[:5]), fatal=False)
    pools = api.pools()
    used = {("k", 4): 0, ("k", 6): 0, ("k2", 4): 0}
    for ip in owners:
        used[("k2" if cplib.in_pool(ip, POOL_K2) else "k", cplib.fam(ip))] += 1
    got = {("k", 4): pools["k"]["ipv4"]["used"], ("k", 6): pools["k"]["ipv6"]["used"],
           ("k2", 4): pools["k2"]["ipv4"]["used"]}
    t.eq(got, used, "iteration %d: pools' used counts match the addresses in the list" % it, fatal=False)
    pend = [lb["name"] for lb in lbs if lb["status"]["state"] != "active"]
    t.check(not pend, "iteration %d: every load balancer active" % it, str(pend[:5]), fatal=False)


def main(t):
    seed = int(os.environ.get("EDGELB_TEST_SEED") or random.randrange(1 << 30))
    t.log("seed %d (EDGELB_TEST_SEED=%d replays the choices; the timing differs)" % (seed, seed))
    rng = random.Random(seed)
    ns = t.netns_add("kl")
    t.enter(ns)
    state = os.path.join(t.dir, "state", "state.json")
    conf = t.cp_conf(os.path.join(t.dir, "cp.conf"), os.path.join(t.dir, "no-dp.sock"), state,
                     [{"name": "k", "addresses": POOL_K, "avoid_buggy_ips": True},
                      {"name": "k2", "addresses": POOL_K2, "auto_assign": False}])
    api = cplib.Api()
    j = Journal()
    seqs = {0: [0], 1: [0]}
    for it in range(1, ITERATIONS + 1):
        cp = t.start_cp(conf, api, label="cp%d" % it)
        if it > 1:
            verify(t, api, j, it - 1, state)
        stop = threading.Event()
        threads = [threading.Thread(target=client, args=(t, api, j, i, random.Random(rng.random()),
                                                          stop, seqs[i]), daemon=True)
                   for i in (0, 1)]
        acks0 = j.acks
        for th in threads:
            th.start()
        time.sleep(rng.uniform(0.05, 0.7))
        t.kill(cp, signal.SIGKILL)
        stop.set()
        for th in threads:
            th.join(timeout=10)
        t.check(not any(th.is_alive() for th in threads), "iteration %d: client threads stopped" % it)
        with open(state) as f:
            text = f.read()
        try:
            doc = json.loads(text)
            ok = isinstance(doc.get("loadbalancers"), list) and doc.get("version") == 1
        except ValueError as e:
            ok, doc = False, str(e)
        t.check(ok, "iteration %d: killed after %d acknowledged changes; the state file parses (%d bytes, %d load balancers)"
                % (it, j.acks - acks0, len(text), len(doc["loadbalancers"]) if ok else -1), str(doc)[:200])
        if j.errors:
            for e in j.errors:
                t.check(False, "iteration %d: client saw: %s" % (it, e), fatal=False)
            j.errors.clear()
    t.start_cp(conf, api, label="cp-final")
    verify(t, api, j, ITERATIONS, state)
    t.log("%d acknowledged changes, %d requests cut by a kill" % (j.acks, j.cut))
    t.check(j.acks >= ITERATIONS * 3, "the loop made real progress (%d acknowledged changes)" % j.acks)


if __name__ == "__main__":
    cplib.run("kill_loop", main, timeout=120 + 5 * max(0, ITERATIONS - 20))
