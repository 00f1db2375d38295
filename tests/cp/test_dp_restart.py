#!/usr/bin/python3
"""
test_dp_restart.py - a dp that restarts gets the whole state again (full sync).

edgelb-dp (idle net_null port) and edgelb-cp in a private namespace, three load
balancers (dual stack with two ports, UDP dnat with ClientIP affinity and source
ranges, a plain one). Then three rounds of kill -9 of the dp and a new dp:
  1. started with an empty config after a pause, while the API creates one load
     balancer and deletes another (the cp works without its dp);
  2. started with a config holding a stale service and one that clashes with a
     cp service (other backends): both must be replaced or dropped by the sync;
  3. started again at once.
After each: the cp notices (/healthz "disconnected", edgelb_dp_connected 0),
then within a few seconds the dp's service.list equals what the cp reports,
edgelb_dp_full_syncs_total has grown and edgelb_dp_connected is 1.
"""
import os
import signal
import time

import cplib

POOL = ["198.18.50.1-198.18.50.9", "2001:db8:50::1-2001:db8:50::9"]
RESYNC = 15.0  # seconds for the cp to reconnect and sync (its backoff is at most 5 s)


def main(t):
    ns = t.netns_add("dpr")
    t.enter(ns)
    sock = os.path.join(t.dir, "dp.sock")
    dp_conf = t.dp_conf(os.path.join(t.dir, "dp.conf"), sock)
    dp = t.start_dp(dp_conf, sock)
    conf = t.cp_conf(os.path.join(t.dir, "cp.conf"), sock, os.path.join(t.dir, "state.json"),
                     [{"name": "p", "addresses": POOL}])
    api = cplib.Api()
    t.start_cp(conf, api)

    web = api.create({"name": "web", "ip_families": ["IPv4", "IPv6"],
                      "ports": [{"name": "http", "port": 80, "target_port": 8080},
                                {"name": "https", "port": 443, "target_port": 8443}],
                      "backends": [{"address": "198.19.0.11"}, {"address": "198.19.0.12", "weight": 2},
                                   {"address": "2001:db8:2::11"}]})
    api.create({"name": "dns", "namespace": "kube-system", "ports": [{"port": 53, "protocol": "UDP"}],
                "mode": "dnat", "session_affinity": {"type": "ClientIP", "timeout_seconds": 600},
                "source_ranges": ["198.18.0.0/15"],
                "backends": [{"address": "198.19.0.21"}, {"address": "198.19.0.22", "state": "draining"}]})
    api.create({"name": "plain", "ports": [{"port": 8080}], "backends": [{"address": "198.19.0.31"}]})
    t.wait_dp_matches(sock, api, 10, "dp holds the cp's 6 services")
    t.eq(t.metric(api, "edgelb_dp_connected"), 1, "edgelb_dp_connected 1")

    def kill_dp(dp):
        syncs = t.metric(api, "edgelb_dp_full_syncs_total")
        t.kill(dp, signal.SIGKILL)
        t.eq(dp.returncode, -signal.SIGKILL, "edgelb-dp killed with SIGKILL")
        t.wait_for(lambda: api.req("GET", "/healthz")[1].get("dp") == "disconnected", 10,
                   "/healthz to say the dp is disconnected")
        t.ok("/healthz says dp disconnected")
        t.eq(t.metric(api, "edgelb_dp_connected"), 0, "edgelb_dp_connected 0")
        return syncs

    def resynced(syncs, round_):
        t0 = time.monotonic()
        t.wait_dp_matches(sock, api, RESYNC, "round %d: the new dp's service.list equals the cp's" % round_)
        t.wait_for(lambda: t.metric(api, "edgelb_dp_full_syncs_total") > syncs, 5,
                   "edgelb_dp_full_syncs_total to grow")
        n = t.metric(api, "edgelb_dp_full_syncs_total")
        t.ok("round %d: edgelb_dp_full_syncs_total %d -> %d (resynced %.1fs after the dp's start)"
             % (round_, syncs, n, time.monotonic() - t0))
        t.eq(t.metric(api, "edgelb_dp_connected"), 1, "round %d: edgelb_dp_connected 1" % round_)
        t.eq(api.req("GET", "/healthz")[1].get("dp"), "connected", "round %d: /healthz dp connected" % round_)
        rep = t.dp_ctl(sock, {"op": "service.list"})
        t.check(rep["result"]["generation"] > 0, "round %d: dp at generation %d (a cp sync)"
                % (round_, rep["result"]["generation"]))

    # ---- round 1: empty dp, changes made while it is away ----------------------------------
    syncs = kill_dp(dp)
    late = api.create({"name": "late", "ports": [{"port": 9090}], "backends": [{"address": "198.19.0.41"}]})
    t.eq(late["status"]["state"], "active", "without a dp the API still creates (late, %s)" % late["ips"])
    api.delete("plain")
    t.ok("without a dp the API still deletes (plain)")
    time.sleep(1.0)
    dp = t.start_dp(dp_conf, sock, label="dp2")
    t.check("0 service(s)" in t.tail("dp2"), "the new dp started with no service (empty config)")
    resynced(syncs, 1)

    # ---- round 2: a dp that starts with stale and clashing services ------------------------
    syncs = kill_dp(dp)
    v4 = web["ips"][0]
    stale = """services = (
  { name = "stale/old:80"; vip = "198.18.50.99"; port = 80;
    backends = ( { address = "198.19.0.99"; port = 80; } ); },
  { name = "clash/web:http"; vip = "%s"; port = 80;
    backends = ( { address = "198.19.0.98"; port = 9999; } ); }
);""" % v4
    dp_conf2 = t.dp_conf(os.path.join(t.dir, "dp2.conf"), sock, services=stale)
    dp = t.start_dp(dp_conf2, sock, label="dp3")
    t.check("2 service(s)" in t.tail("dp3"), "the new dp started with the 2 services of its config")
    resynced(syncs, 2)
    keys = {(s["vip"], s["port"]) for s in t.dp_services(sock)}
    t.check(("198.18.50.99", 80) not in keys, "the stale service 198.18.50.99:80 was dropped by the sync")

    # ---- round 3: restarted at once ----------------------------------------------------
    syncs = kill_dp(dp)
    dp = t.start_dp(dp_conf, sock, label="dp4")
    resynced(syncs, 3)

    # and incremental updates flow again after the resync
    api.must(200, "PUT", "/v1/loadbalancers/default/late/backends", [{"address": "198.19.0.42"}])
    t.wait_dp_matches(sock, api, 5, "after the resync, a PUT backends reaches the dp")


if __name__ == "__main__":
    cplib.run("dp_restart", main, timeout=150)
