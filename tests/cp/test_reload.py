#!/usr/bin/python3
"""
test_reload.py - SIGHUP re-reads the pools: who lost its pool moves, nobody else does.

edgelb-dp (idle net_null port) and edgelb-cp in a private namespace, pools
alpha (auto), beta (auto) and gamma (by name only). Load balancers: a1 (auto),
a2 (auto, dual stack), ash1 + ash2 (auto, sharing key) and ap (pool "alpha")
all land in alpha; areq asked for an alpha address; b1 in beta, c1 in gamma.
  1. SIGHUP with alpha removed: a1, a2, ash1, ash2 get beta addresses (dual
     stack kept, the two sharers share again); ap (names the gone pool) and areq
     (its address is in no pool) become pending, without addresses; b1 and c1
     keep theirs; /v1/pools no longer lists alpha; the dp drops the old VIPs and
     serves the new ones; edgelb_loadbalancers_pending is 2.
  2. SIGHUP with alpha back: ap and areq get addresses again (areq exactly the
     one it asked for); those that moved to beta stay there.
  3. SIGHUP with a broken config: the old pools stay, nothing moves.
  4. SIGHUP with beta shrunk to drop only a1's address: a1 moves, nobody else.
  5. A restart of the cp: every address as after the reloads.
ds asked for a beta IPv4 and got an alpha IPv6 with it: when alpha goes it keeps
its IPv4 and must get a new IPv6 (or be pending), not stay active with one family.
"""
import os
import signal
import time

import cplib

ALPHA = {"name": "alpha", "addresses": ["198.18.80.1-198.18.80.6", "2001:db8:80::1-2001:db8:80::6"]}
BETA = {"name": "beta", "addresses": ["198.18.81.1-198.18.81.8", "2001:db8:81::1-2001:db8:81::8"]}
GAMMA = {"name": "gamma", "addresses": ["198.18.82.0/29"], "auto_assign": False}


def main(t):
    ns = t.netns_add("rl")
    t.enter(ns)
    sock = os.path.join(t.dir, "dp.sock")
    t.start_dp(t.dp_conf(os.path.join(t.dir, "dp.conf"), sock), sock)
    confp = os.path.join(t.dir, "cp.conf")
    state = os.path.join(t.dir, "state.json")

    def conf(pools, extra=""):
        return t.cp_conf(confp, sock, state, pools, extra=extra)
    conf([ALPHA, BETA, GAMMA])
    api = cplib.Api()
    cp = t.start_cp(confp, api)

    def lb(name, **kw):
        body = {"name": name, "ports": [{"port": 80}],
                "backends": [{"address": "198.19.9.1"}, {"address": "2001:db8:2::91"}]
                if kw.get("ip_families") else [{"address": "198.19.9.1"}]}
        body.update(kw)
        return api.create(body)
    lb("a1")
    lb("a2", ip_families=["IPv4", "IPv6"])
    lb("ash1", sharing_key="s")
    lb("ash2", sharing_key="s", ports=[{"port": 443}])
    lb("ap", pool="alpha")
    lb("areq", ips=["198.18.80.6"])
    lb("b1", pool="beta")
    lb("c1", pool="gamma")
    lb("ds", ips=["198.18.81.7"], ip_families=["IPv4", "IPv6"])
    ips = {x["name"]: x["ips"] for x in api.list()}
    for n in ("a1", "a2", "ash1", "ash2", "ap", "areq"):
        t.check(all(cplib.in_pool(i, ALPHA["addresses"]) for i in ips[n]), "%s starts in alpha: %s" % (n, ips[n]))
    t.eq(ips["ash1"], ips["ash2"], "ash1 and ash2 share %s" % ips["ash1"])
    t.check(cplib.in_pool(ips["b1"][0], BETA["addresses"]) and cplib.in_pool(ips["c1"][0], GAMMA["addresses"]),
            "b1 in beta %s, c1 in gamma %s" % (ips["b1"], ips["c1"]))
    t.check(ips["ds"][0] == "198.18.81.7" and cplib.in_pool(ips["ds"][1], ALPHA["addresses"]),
            "ds: the IPv4 it asked for in beta, an IPv6 from alpha %s" % ips["ds"])
    t.wait_dp_matches(sock, api, 10, "the dp holds every load balancer's services")

    reloads = [0]

    def hup(what):
        reloads[0] += 1
        cp.send_signal(signal.SIGHUP)
        want = reloads[0]
        t.wait_for(lambda: t.tail("cp", 400).count("edgelb-cp: reload") >= want, 10,
                   "edgelb-cp to log the reload")
        time.sleep(0.1)
        t.log("SIGHUP: %s" % what)

    # ---- 1. alpha removed -------------------------------------------------------------------
    conf([BETA, GAMMA])
    hup("alpha removed")
    now = {x["name"]: x for x in api.list()}
    for n in ("a1", "a2", "ash1", "ash2"):
        t.check(now[n]["status"]["state"] == "active" and now[n]["ips"] and
                all(cplib.in_pool(i, BETA["addresses"]) for i in now[n]["ips"]),
                "%s moved from alpha %s to beta %s, active" % (n, ips[n], now[n]["ips"]), repr(now[n]["status"]))
    t.eq([cplib.fam(i) for i in now["a2"]["ips"]], [4, 6], "a2 is still dual stack")
    t.eq(now["ash1"]["ips"], now["ash2"]["ips"], "ash1 and ash2 share again (%s)" % now["ash1"]["ips"])
    for n in ("ap", "areq"):
        t.check(now[n]["ips"] == [] and now[n]["status"]["state"] == "pending" and now[n]["status"]["message"],
                "%s is pending without an address: %r" % (n, now[n]["status"]["message"]), repr(now[n]))
    t.check("alpha" in now["ap"]["status"]["message"], "ap's message names the pool alpha")
    t.eq((now["b1"]["ips"], now["c1"]["ips"]), (ips["b1"], ips["c1"]), "b1 and c1 keep their addresses")
    t.eq(now["ds"]["ips"][:1], ["198.18.81.7"], "ds keeps its IPv4 198.18.81.7 (beta)")
    ds_ok = (len(now["ds"]["ips"]) == 2 and cplib.in_pool(now["ds"]["ips"][1], BETA["addresses"])) or \
        now["ds"]["status"]["state"] == "pending"
    t.check(ds_ok, "ds (IPv4+IPv6) lost its alpha IPv6: it gets one from beta, or is pending; not active "
            "with one family", "ips %s, status %s" % (now["ds"]["ips"], now["ds"]["status"]), fatal=False)
    t.eq(sorted(api.pools()), ["beta", "gamma"], "/v1/pools lists beta and gamma only")
    t.check("default/a1 lost its address" in t.tail("cp", 400), "the cp logs that default/a1 lost its address")
    t.eq(t.metric(api, "edgelb_loadbalancers_pending"), 2 + (now["ds"]["status"]["state"] == "pending"),
         "edgelb_loadbalancers_pending counts the pending ones")
    t.wait_dp_matches(sock, api, 10, "the dp follows the reload")
    vips = {cplib.norm(s["vip"]) for s in t.dp_services(sock)}
    t.check(not any(cplib.in_pool(v, ALPHA["addresses"]) for v in vips), "the dp has no alpha VIP left")
    moved = {n: now[n]["ips"] for n in now}

    # ---- 2. alpha back --------------------------------------------------------------------------
    conf([ALPHA, BETA, GAMMA])
    hup("alpha back")
    now = {x["name"]: x for x in api.list()}
    t.eq(now["areq"]["ips"], ["198.18.80.6"], "areq gets the address it asked for again")
    t.check(len(now["ap"]["ips"]) == 1 and cplib.in_pool(now["ap"]["ips"][0], ALPHA["addresses"]),
            "ap gets an alpha address again (%s)" % now["ap"]["ips"])
    t.check(all(now[n]["status"]["state"] == "active" for n in now), "every load balancer active")
    t.eq({n: now[n]["ips"] for n in ("a1", "a2", "ash1", "ash2", "b1", "c1")},
         {n: moved[n] for n in ("a1", "a2", "ash1", "ash2", "b1", "c1")},
         "a1, a2, ash1, ash2 stay in beta; b1 and c1 unchanged")
    t.eq(t.metric(api, "edgelb_loadbalancers_pending"), 0, "edgelb_loadbalancers_pending 0")
    t.wait_dp_matches(sock, api, 10, "the dp follows the second reload")
    snap = {n: now[n]["ips"] for n in now}

    # ---- 3. a broken config: nothing changes ------------------------------------------------------
    conf([BETA], extra="colour = 1;\n")
    hup("broken config")
    t.check("keeping the old pools" in t.tail("cp", 400), "the cp logs that it keeps the old pools")
    t.eq({x["name"]: x["ips"] for x in api.list()}, snap, "every address unchanged")
    t.eq(sorted(api.pools()), ["alpha", "beta", "gamma"], "the pools are still alpha, beta and gamma")

    # ---- 4. beta shrunk to drop only a1's IPv4 ---------------------------------------------------
    a1ip = snap["a1"][0]
    held = {i for n, v in snap.items() if n != "a1" for i in v if cplib.in_pool(i, BETA["addresses"])}
    t.check(a1ip not in held, "a1's %s is held by nobody else" % a1ip)
    shrunk = dict(BETA, addresses=[a for a in ["198.18.81.%d" % i for i in range(1, 9)] if a != a1ip]
                  + [BETA["addresses"][1]])
    conf([ALPHA, shrunk, GAMMA])
    hup("beta without %s" % a1ip)
    now = {x["name"]: x["ips"] for x in api.list()}
    t.check(now["a1"] and now["a1"][0] != a1ip, "a1 moved off %s to %s" % (a1ip, now["a1"]))
    t.eq({n: v for n, v in now.items() if n != "a1"}, {n: v for n, v in snap.items() if n != "a1"},
         "nobody else moved")
    t.wait_dp_matches(sock, api, 10, "the dp follows the third reload")

    # ---- 5. restart ------------------------------------------------------------------------------
    t.stop(cp)
    t.start_cp(confp, api, label="cp2")
    t.eq({x["name"]: x["ips"] for x in api.list()}, now, "after a restart every address is as after the reloads")
    t.wait_dp_matches(sock, api, 10, "the dp matches the restarted cp")


if __name__ == "__main__":
    cplib.run("reload", main, timeout=90)
