#!/usr/bin/python3
"""
test_sharing.py - IP sharing, dual stack and requested addresses.

A real edgelb-dp (idle net_null port) and edgelb-cp in a private namespace.
Load balancers with the same sharing_key and disjoint (protocol, port) sets get
the same address (automatically, or by asking for it); an overlapping port, or
another key, gets another address; a PUT that would overlap is refused and
changes nothing. ip_families IPv4+IPv6 gives one address of each family (and a
shared pair with a key), IPv6 alone one IPv6; requested addresses are honoured
(either order, in a pool that is not auto-assigned too). A PUT that adds or
drops a family keeps the address of the family that stays. The dp's services
follow every step, each family's service with that family's backends; after a
restart of the cp every address is the same.
"""
import os

import cplib

PUB = ["198.18.30.1-198.18.30.8", "2001:db8:30::1-2001:db8:30::8"]
V6 = ["2001:db8:31::/126"]


def main(t):
    ns = t.netns_add("share")
    t.enter(ns)
    sock = os.path.join(t.dir, "dp.sock")
    state = os.path.join(t.dir, "state.json")
    t.start_dp(t.dp_conf(os.path.join(t.dir, "dp.conf"), sock), sock)
    conf = t.cp_conf(os.path.join(t.dir, "cp.conf"), sock, state,
                     [{"name": "pub", "addresses": PUB},
                      {"name": "v6only", "addresses": V6, "auto_assign": False}])
    api = cplib.Api()
    cp = t.start_cp(conf, api)
    lbs = "/v1/loadbalancers"

    def used(pool="pub", family="ipv4"):
        return api.pools()[pool][family]["used"]

    def mk(name, ports, key="", backends=None, **kw):
        body = {"name": name, "ports": [{"port": p, "protocol": pr} for p, pr in ports],
                "backends": backends if backends is not None else [{"address": "198.19.1.%d" % (len(name) + 10)}]}
        if key:
            body["sharing_key"] = key
        body.update(kw)
        return body

    # ---- sharing by key -----------------------------------------------------------
    a = api.create(mk("a", [(80, "TCP")], "shared", [{"address": "198.19.1.1", "port": 8080}]))
    x = a["ips"][0]
    t.check(cplib.in_pool(x, PUB), "a (key shared, 80/TCP) got %s from pub" % x)
    b = api.create(mk("b", [(443, "TCP"), (53, "UDP")], "shared", [{"address": "198.19.1.2", "port": 8443}]))
    t.eq(b["ips"], [x], "b (key shared, 443/TCP + 53/UDP) shares %s with a" % x)
    t.eq(used(), 1, "pool pub: one IPv4 address used by the two")
    d = api.create(mk("d", [(80, "UDP")], "shared"))
    t.eq(d["ips"], [x], "d (key shared, 80/UDP: TCP 80 is another port) shares %s too" % x)
    c = api.create(mk("c", [(80, "TCP")], "shared"))
    y = c["ips"][0]
    t.check(y != x and cplib.in_pool(y, PUB), "c (key shared, 80/TCP overlaps a) gets another address %s" % y)
    e = api.create(mk("e", [(8080, "TCP")]))
    t.check(e["ips"][0] not in (x, y), "e (no key) gets an address of its own %s" % e["ips"][0])
    f = api.create(mk("f", [(9090, "TCP")], "other"))
    t.check(f["ips"][0] not in (x, y, e["ips"][0]),
            "f (key other) shares with nobody: %s" % f["ips"][0])
    g = api.create(mk("g", [(8443, "TCP")], "shared", ips=[x]))
    t.eq(g["ips"], [x], "g (key shared) asking for %s gets it" % x)
    t.eq(used(), 4, "pool pub: 4 IPv4 addresses used (x, c, e, f)")
    t.wait_dp_matches(sock, api, 10, "dp services match the cp")
    svcs = {(s["vip"], s["port"], s["protocol"]): s for s in t.dp_services(sock)}
    for key, name, bk in (((x, 80, "tcp"), "default/a:80", ("198.19.1.1", 8080)),
                          ((x, 443, "tcp"), "default/b:443", ("198.19.1.2", 8443)),
                          ((x, 53, "udp"), "default/b:53", ("198.19.1.2", 8443))):
        s = svcs.get(key)
        t.check(s is not None and s["name"] == name and
                [(z["address"], z["port"]) for z in s["backends"]] == [bk],
                "dp %s:%d/%s is %s -> %s:%d" % (key + (name,) + bk), repr(s)[:300])

    # a refused change on a shared address changes nothing
    before = (api.list(), api.pools())
    st, j = api.req("PUT", lbs + "/default/b", mk("b", [(80, "TCP")], "shared", ips=[x]))
    t.eq(st, 409, "PUT b asking for %s with 80/TCP (a holds it there) -> 409" % x)
    t.check("default/a" in j.get("error", ""), "message names default/a", j.get("error"))
    t.check((api.list(), api.pools()) == before, "list and pools unchanged after the refused PUT")
    st, j = api.req("PUT", lbs + "/default/d", mk("d", [(80, "UDP")], "other", ips=[x]))
    t.eq(st, 409, "PUT d asking for %s with key 'other' -> 409" % x)
    t.check((api.list(), api.pools()) == before, "list and pools unchanged after the refused PUT")
    st, j = api.req("PUT", lbs + "/default/b", mk("b", [(443, "TCP"), (53, "UDP"), (8444, "TCP")], "shared"))
    t.eq((st, j.get("ips")), (200, [x]), "PUT b adding 8444/TCP keeps %s" % x)
    # without a requested address, a spec that can no longer share moves
    st, j = api.req("PUT", lbs + "/default/d", mk("d", [(80, "UDP")], "other"))
    t.check(st == 200 and j["ips"] != [x],
            "PUT d with key 'other' (no ips): moves off %s to %s" % (x, j.get("ips")), repr(j)[:200])
    t.eq((api.get("a")["ips"], api.get("b")["ips"], api.get("g")["ips"]), ([x], [x], [x]),
         "a, b and g stay on %s" % x)
    t.wait_dp_matches(sock, api, 10, "dp services follow the PUTs")

    u = used()
    api.delete("a")
    t.eq(used(), u, "after deleting a, %s is still used (b, g)" % x)
    for n in ("b", "g"):
        api.delete(n)
    t.eq(used(), u - 1, "after deleting b and g, %s is free" % x)
    t.wait_dp_matches(sock, api, 10, "dp services follow the deletes")
    t.check(all(cplib.norm(s["vip"]) != x for s in t.dp_services(sock)), "dp has nothing on %s" % x)
    for n in ("c", "d", "e", "f"):
        api.delete(n)

    # ---- dual stack -------------------------------------------------------------
    both = [{"address": "198.19.2.1", "port": 8080}, {"address": "2001:db8:2::1", "port": 8080},
            {"address": "198.19.2.2", "port": 8080}]
    ds = api.create(mk("ds", [(80, "TCP")], backends=both, ip_families=["IPv4", "IPv6"]))
    t.eq([cplib.fam(i) for i in ds["ips"]], [4, 6], "ip_families IPv4+IPv6: one IPv4 then one IPv6 %s" % ds["ips"])
    t.check(all(cplib.in_pool(i, PUB) for i in ds["ips"]), "both from pool pub")
    t.eq(ds["ip_families"], ["IPv4", "IPv6"], "ip_families echoed")
    t.wait_dp_matches(sock, api, 10, "dp has both families' services")
    svcs = {(cplib.norm(s["vip"]), s["port"]): s for s in t.dp_services(sock)}
    v4s, v6s = svcs.get((ds["ips"][0], 80)), svcs.get((cplib.norm(ds["ips"][1]), 80))
    t.eq(sorted(z["address"] for z in v4s["backends"]), ["198.19.2.1", "198.19.2.2"],
         "dp %s:80 has the IPv4 backends only" % ds["ips"][0])
    t.eq([z["address"] for z in v6s["backends"]], ["2001:db8:2::1"],
         "dp [%s]:80 has the IPv6 backend only" % ds["ips"][1])
    ds2 = api.create(mk("ds2", [(443, "TCP")], "pair", ip_families=["IPv4", "IPv6"], backends=[]))
    ds3 = api.create(mk("ds3", [(80, "TCP")], "pair", ip_families=["IPv6", "IPv4"], backends=[]))
    t.eq(ds3["ips"], ds2["ips"], "two dual-stack load balancers with key 'pair' share both addresses %s" % ds2["ips"])
    t.check(set(ds2["ips"]).isdisjoint(ds["ips"]), "and not ds's addresses")
    v6 = api.create(mk("six", [(80, "TCP")], ip_families=["IPv6"], pool="v6only", backends=[]))
    t.check(len(v6["ips"]) == 1 and cplib.in_pool(v6["ips"][0], V6),
            "ip_families IPv6 with pool v6only: one IPv6 %s from 2001:db8:31::/126" % v6["ips"])
    st, j = api.req("POST", lbs, mk("six2", [(80, "TCP")], ip_families=["IPv6"], backends=[]))
    t.check(st == 201 and cplib.in_pool(j["ips"][0], PUB),
            "ip_families IPv6 without pool: from the auto-assign pool pub (%s)" % j.get("ips"))

    # ---- requested addresses ------------------------------------------------------
    r1 = api.create(mk("r1", [(80, "TCP")], ips=["198.18.30.7"], backends=[]))
    t.eq((r1["ips"], r1["ip_families"]), (["198.18.30.7"], ["IPv4"]), "ips [198.18.30.7] honoured")
    r2 = api.create(mk("r2", [(80, "TCP")], ips=["2001:db8:30::7", "198.18.30.8"], backends=[]))
    t.eq((r2["ips"], r2["ip_families"]), (["198.18.30.8", "2001:db8:30::7"], ["IPv4", "IPv6"]),
         "ips [v6, v4] honoured, IPv4 listed first, both families")
    r3 = api.create(mk("r3", [(80, "TCP")], ips=["2001:db8:31::3"], backends=[]))
    t.eq(r3["ips"], ["2001:db8:31::3"], "a requested address in a pool that is not auto-assigned")
    t.eq(r3["alloc_pool"], "v6only", "  and its alloc_pool is v6only")
    st, j = api.req("POST", lbs, mk("r4", [(80, "TCP")], ips=["198.18.30.6"], ip_families=["IPv6"]))
    t.check(st == 400 and j["error"].startswith("ip_families"),
            "ips IPv4 with ip_families [IPv6] -> 400 naming ip_families", "%s %s" % (st, j))
    t.wait_dp_matches(sock, api, 10, "dp services match with requested addresses")

    # ---- every address survives a restart of the cp ------------------------------------
    snap = sorted((lb["namespace"], lb["name"], lb["ips"]) for lb in api.list())
    t.stop(cp)
    t.eq(cp.returncode, 0, "edgelb-cp stops on SIGTERM with status 0")
    t.start_cp(conf, api, label="cp2")
    t.eq(sorted((lb["namespace"], lb["name"], lb["ips"]) for lb in api.list()), snap,
         "after a restart every load balancer has the same addresses (%d)" % len(snap))
    t.wait_dp_matches(sock, api, 10, "dp services match after the cp restart")

    # ---- a PUT that adds or drops a family keeps the other family's address -------
    # Each holds an address above a free one, so a fresh allocation would move it.
    tmp = api.create(mk("tmp", [(80, "TCP")], backends=[]))
    m4 = api.create(mk("mover", [(80, "TCP")], backends=[]))["ips"][0]
    api.delete("tmp")
    t.log("mover holds %s, %s is free" % (m4, tmp["ips"][0]))
    st, j = api.req("PUT", lbs + "/default/mover", mk("mover", [(80, "TCP")], backends=[],
                                                       ip_families=["IPv4", "IPv6"]))
    t.eq(st, 200, "PUT mover (IPv4) adding IPv6 -> 200")
    t.eq(len(j["ips"]), 2, "mover now has two addresses %s" % j["ips"])
    t.eq(j["ips"][0], m4, "PUT adding IPv6 keeps mover's IPv4 %s" % m4, fatal=False)
    tmp = api.create(mk("tmp", [(80, "TCP")], backends=[], ip_families=["IPv6"]))
    d = api.create(mk("dropper", [(80, "TCP")], backends=[], ip_families=["IPv4", "IPv6"]))
    api.delete("tmp")
    d6 = d["ips"][1]
    t.log("dropper holds %s, %s is free" % (d["ips"], tmp["ips"][0]))
    st, j = api.req("PUT", lbs + "/default/dropper", mk("dropper", [(80, "TCP")], backends=[],
                                                         ip_families=["IPv6"]))
    t.eq(st, 200, "PUT dropper (IPv4+IPv6) dropping IPv4 -> 200")
    t.eq(j["ips"], [d6], "PUT dropping IPv4 keeps dropper's IPv6 %s" % d6, fatal=False)
    t.wait_dp_matches(sock, api, 10, "dp services follow the family changes")

if __name__ == "__main__":
    cplib.run("sharing", main, timeout=90)
