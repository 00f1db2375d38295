#!/usr/bin/python3
"""
test_health.py - active health checks mark backends up and down, in the API and in the dp.

Namespace "hc" runs edgelb-dp (idle net_null port) and edgelb-cp; namespace
"hcb", joined by a veth, holds the backends' addresses and their listeners
(tests/cp/backend.py). TCP checks every 300 ms (fall 2, rise 2): all backends of
a dual-stack load balancer come up; killing one listener makes that backend
"down" in GET, in /metrics and in the dp's service.list within a few seconds
while the others stay; restarting it brings it back ("up", dp "active"); a
backend asked for as "draining" stays "draining" in the dp while healthy. HTTP
checks: 500 -> down, 200 and 302 -> up, nothing listening -> down. A check on a
separate health port follows that port, not the traffic port.
"""
import os
import time

import cplib

B4 = ["198.18.40.11", "198.18.40.12", "198.18.40.13", "198.18.40.14", "198.18.40.15",
      "198.18.40.16", "198.18.40.17"]
B6 = "2001:db8:40::11"
DETECT = 5.0  # seconds: "within a few seconds" with interval 300 ms, fall/rise 2


def main(t):
    ns = t.netns_add("hc")
    bns = t.netns_add("hcb")
    cplib.sh(["ip", "link", "add", "hc0", "netns", ns, "type", "veth", "peer", "name", "b0",
              "netns", bns])
    cplib.sh(["ip", "-n", ns, "addr", "add", "198.18.40.1/24", "dev", "hc0"])
    cplib.sh(["ip", "-n", ns, "addr", "add", "2001:db8:40::1/64", "dev", "hc0", "nodad"])
    for a in B4:
        cplib.sh(["ip", "-n", bns, "addr", "add", a + "/24", "dev", "b0"])
    cplib.sh(["ip", "-n", bns, "addr", "add", B6 + "/64", "dev", "b0", "nodad"])
    cplib.sh(["ip", "-n", ns, "link", "set", "hc0", "up"])
    cplib.sh(["ip", "-n", bns, "link", "set", "b0", "up"])
    t.enter(ns)
    backend_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), "backend.py")
    listeners = {}

    def listen(key, *args):
        listeners[key] = t.spawn("backend-%s" % key, ["/usr/bin/python3", backend_py] + list(args),
                                 ns=bns)

    sock = os.path.join(t.dir, "dp.sock")
    t.start_dp(t.dp_conf(os.path.join(t.dir, "dp.conf"), sock), sock)
    conf = t.cp_conf(os.path.join(t.dir, "cp.conf"), sock, os.path.join(t.dir, "state.json"),
                     [{"name": "p", "addresses": ["198.18.41.1-198.18.41.9", "2001:db8:41::/124"]}])
    api = cplib.Api()
    t.start_cp(conf, api)

    listen("tcp11", "tcp", B4[0], "8080")
    listen("tcp12", "tcp", B4[1], "8080")
    listen("tcp6", "tcp", B6, "8080")
    listen("http13", "http", B4[2], "8080", "500")
    listen("http14", "http", B4[3], "8080", "200")
    listen("http15", "http", B4[4], "8080", "302")
    # B4[5]: nothing listens
    listen("tcp17", "tcp", B4[6], "9000")   # health port only

    hc_tcp = {"type": "tcp", "interval_ms": 300, "timeout_ms": 200, "rise": 2, "fall": 2}
    lb = api.create({"name": "tcpcheck", "ip_families": ["IPv4", "IPv6"],
                     "ports": [{"port": 80, "target_port": 8080}],
                     "backends": [{"address": B4[0]}, {"address": B4[1], "state": "draining"},
                                  {"address": B6}],
                     "health_check": hc_tcp})
    vip4, vip6 = lb["ips"]
    t.eq(lb["health_check"], dict(hc_tcp, port=0), "tcpcheck's health check as requested")
    api.create({"name": "httpcheck", "ports": [{"port": 80, "target_port": 8080}],
                "backends": [{"address": B4[2]}, {"address": B4[3]}, {"address": B4[4]},
                             {"address": B4[5]}],
                "health_check": {"type": "http", "path": "/healthz", "interval_ms": 300,
                                 "timeout_ms": 200, "rise": 1, "fall": 1}})
    api.create({"name": "portcheck", "ports": [{"port": 80, "target_port": 8080}],
                "backends": [{"address": B4[6]}],
                "health_check": {"type": "tcp", "port": 9000, "interval_ms": 300,
                                 "timeout_ms": 200, "rise": 1, "fall": 1}})

    def health(name):
        return {b["address"]: b["health"] for b in api.get(name)["backends"]}

    def dp_state(vip, addr):
        for s in t.dp_services(sock):
            if cplib.norm(s["vip"]) == cplib.norm(vip) and s["port"] == 80:
                for b in s["backends"]:
                    if cplib.norm(b["address"]) == cplib.norm(addr):
                        return b["state"]
        return None

    def metric_health(lb, addr):
        _, text = api.req("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith('edgelb_backend_health{lb="default/%s",address="%s",' % (lb, addr)):
                return line.split('state="')[1].split('"')[0]
        return None

    def within(what, fn, limit=DETECT):
        t0 = time.monotonic()
        t.wait_for(fn, limit, what, step=0.05)
        t.ok("%s (after %.2fs)" % (what, time.monotonic() - t0))

    within("tcpcheck: all three backends up (IPv4 and IPv6)",
           lambda: health("tcpcheck") == {B4[0]: "up", B4[1]: "up", B6: "up"})
    t.wait_dp_matches(sock, api, 5, "dp services match the cp with health")
    t.eq((dp_state(vip4, B4[0]), dp_state(vip4, B4[1]), dp_state(vip6, B6)),
         ("active", "draining", "active"),
         "dp: %s active, %s draining (as requested while healthy), %s active" % (B4[0], B4[1], B6))
    within("httpcheck: 500 -> down, 200 -> up, 302 -> up, nothing listening -> down",
           lambda: health("httpcheck") == {B4[2]: "down", B4[3]: "up", B4[4]: "up", B4[5]: "down"})
    hvip = api.get("httpcheck")["ips"][0]
    within("dp: httpcheck's %s and %s down, %s and %s active" % (B4[2], B4[5], B4[3], B4[4]),
           lambda: [dp_state(hvip, a) for a in B4[2:6]] == ["down", "active", "active", "down"])
    within("portcheck: up through health port 9000 (nothing on traffic port 8080)",
           lambda: health("portcheck") == {B4[6]: "up"})

    # kill a listener: down in GET, metrics and the dp; the others stay
    t.kill(listeners["tcp11"])
    t.log("killed the listener of %s:8080" % B4[0])
    within("%s down in GET" % B4[0], lambda: health("tcpcheck")[B4[0]] == "down")
    within("%s down in the dp's service.list" % B4[0], lambda: dp_state(vip4, B4[0]) == "down")
    t.eq(metric_health("tcpcheck", B4[0]), "down", "/metrics edgelb_backend_health says down")
    t.eq(health("tcpcheck"), {B4[0]: "down", B4[1]: "up", B6: "up"}, "the other backends stay up")
    t.eq((dp_state(vip4, B4[1]), dp_state(vip6, B6)), ("draining", "active"),
         "the dp keeps the other backends as they were")
    t.wait_dp_matches(sock, api, 5, "dp services match the cp with one backend down")

    t.kill(listeners["tcp6"])
    within("IPv6 backend %s down in GET and in the dp" % B6,
           lambda: health("tcpcheck")[B6] == "down" and dp_state(vip6, B6) == "down")

    # restart it: back up
    listen("tcp11b", "tcp", B4[0], "8080")
    listen("tcp6b", "tcp", B6, "8080")
    t.log("restarted the listeners of %s:8080 and [%s]:8080" % (B4[0], B6))
    within("%s and %s up again in GET" % (B4[0], B6),
           lambda: health("tcpcheck") == {B4[0]: "up", B4[1]: "up", B6: "up"})
    within("%s and %s active again in the dp" % (B4[0], B6),
           lambda: dp_state(vip4, B4[0]) == "active" and dp_state(vip6, B6) == "active")
    t.eq(metric_health("tcpcheck", B4[0]), "up", "/metrics edgelb_backend_health says up")

    # the draining backend fails: down, and back to draining (not active) when it returns
    t.kill(listeners["tcp12"])
    within("draining %s down in the dp when its check fails" % B4[1],
           lambda: dp_state(vip4, B4[1]) == "down")
    listen("tcp12b", "tcp", B4[1], "8080")
    within("%s back as draining (its requested state), not active" % B4[1],
           lambda: dp_state(vip4, B4[1]) == "draining")

    # an HTTP backend that starts failing
    t.kill(listeners["http14"])
    listen("http14b", "http", B4[3], "8080", "503")
    within("httpcheck: %s answering 503 now -> down in GET and the dp" % B4[3],
           lambda: health("httpcheck")[B4[3]] == "down" and dp_state(hvip, B4[3]) == "down")
    t.wait_dp_matches(sock, api, 5, "dp services match the cp at the end")


if __name__ == "__main__":
    cplib.run("health", main, timeout=90)
