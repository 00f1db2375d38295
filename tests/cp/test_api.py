#!/usr/bin/python3
"""
test_api.py - the REST API of edgelb-cp against a real edgelb-dp.

A real edgelb-dp (one idle net_null port) and edgelb-cp (API token configured)
in a private namespace. Create, get, list, PUT replace, PUT backends, delete,
each answer checked, the pools' free counts followed, and after each change the
dp's service.list (over its control socket, socat) compared with what the cp
reports: one service per address x port with its backends; gone after delete.
Then every error status: 400 (malformed JSON, empty body, invalid fields: the
message names the field), 404 (unknown load balancer, unknown pool), 409
(requested IP taken, sharing conflicts, duplicate name, pool exhausted), 401
(token missing or wrong), 405 (wrong method), 413 (body over 4 MiB); after each
failed request the list, the pools and the state file are exactly as before.
"""
import json
import os

import cplib

POOL_MAIN = ["198.18.20.1-198.18.20.6", "2001:db8:20::1-2001:db8:20::6"]
POOL_SMALL = ["198.18.21.1"]
TOKEN = "s3cret-token"


def main(t):
    ns = t.netns_add("api")
    t.enter(ns)
    sock = os.path.join(t.dir, "dp.sock")
    state = os.path.join(t.dir, "state", "state.json")
    t.start_dp(t.dp_conf(os.path.join(t.dir, "dp.conf"), sock), sock)
    conf = t.cp_conf(os.path.join(t.dir, "cp.conf"), sock, state,
                     [{"name": "main", "addresses": POOL_MAIN},
                      {"name": "small", "addresses": POOL_SMALL, "auto_assign": False}],
                     token=TOKEN)
    api = cplib.Api(token=TOKEN)
    t.start_cp(conf, api)
    t.log("edgelb-dp and edgelb-cp up in namespace %s" % ns)

    def free4(pool="main"):
        return api.pools()[pool]["ipv4"]["free"]

    def snapshot():
        with open(state, "rb") as f:
            return (json.dumps(api.list(), sort_keys=True), json.dumps(api.pools(), sort_keys=True),
                    f.read())

    def dp_has(vip, port, proto="tcp"):
        for s in t.dp_services(sock):
            if cplib.norm(s["vip"]) == cplib.norm(vip) and s["port"] == port and s["protocol"] == proto:
                return s
        return None

    # ---- create, get, list --------------------------------------------------------
    t.eq(api.list(), [], "no load balancers at start")
    f0 = free4()
    t.eq(f0, 6, "pool main: 6 free IPv4 addresses")
    web_body = {"name": "web", "ports": [{"name": "http", "port": 80, "target_port": 8080},
                                          {"port": 443, "protocol": "TCP", "target_port": 8443}],
                "backends": [{"address": "198.19.0.11"}, {"address": "198.19.0.12", "weight": 3}]}
    st, web = api.req("POST", "/v1/loadbalancers", web_body)
    t.eq(st, 201, "POST /v1/loadbalancers (web) -> 201 Created")
    t.eq(len(web["ips"]), 1, "web got one address")
    ip = web["ips"][0]
    t.check(cplib.in_pool(ip, POOL_MAIN), "web's address %s is from pool main" % ip)
    t.eq(web["alloc_pool"], "main", "web's alloc_pool is main")
    t.eq(web["status"]["state"], "active", "web is active")
    t.eq(web["namespace"], "default", "namespace defaults to 'default'")
    t.eq([(p["port"], p["protocol"], p["target_port"]) for p in web["ports"]],
         [(80, "TCP", 8080), (443, "TCP", 8443)], "ports echoed with protocol and target_port")
    t.eq(free4(), f0 - 1, "pool main: one address fewer free")
    got = api.get("web")
    t.eq(got["ips"], [ip], "GET web: same address")
    # (but for backends[].unresolved, from the dp's stats once they know web)
    for b in got["backends"]:
        b.pop("unresolved", None)
    t.eq(got, web, "GET web answers what the create answered")
    items = api.list()
    t.eq([(i["namespace"], i["name"], i["ips"]) for i in items], [("default", "web", [ip])],
         "GET /v1/loadbalancers lists web with its address")

    # the dp got the services: VIP:80 and VIP:443, each with both backends
    t.wait_dp_matches(sock, api, 10, "dp services match the cp after create")
    s80, s443 = dp_has(ip, 80), dp_has(ip, 443)
    t.check(s80 is not None and s443 is not None, "dp has %s:80 and %s:443" % (ip, ip))
    t.eq(sorted((b["address"], b["port"], b["weight"]) for b in s80["backends"]),
         [("198.19.0.11", 8080, 1), ("198.19.0.12", 8080, 3)], "dp %s:80 -> backends :8080" % ip)
    t.eq(sorted((b["address"], b["port"]) for b in s443["backends"]),
         [("198.19.0.11", 8443), ("198.19.0.12", 8443)], "dp %s:443 -> backends :8443" % ip)
    t.eq(s80["name"], "default/web:http", "dp service name is namespace/name:port-name")

    # the dp has no route to 198.19.0.0/16 (one net_null port in 198.18.255.0/24): both
    # backends are unresolved, in the dp, in GET (from the dp's stats, every 2 s) and
    # in /metrics (issue 14, finding 6)
    t.check(all(b.get("unresolved") is True and b.get("neighbour") == "no_route"
                for b in s80["backends"]), "dp service.list: backends unresolved, no_route",
            str(s80["backends"]))

    def all_unresolved():
        st, j = api.req("GET", "/v1/loadbalancers/default/web")
        return st == 200 and [b.get("unresolved") for b in j["backends"]] == [True, True]
    t.wait_for(all_unresolved, 10, "GET web: backends[].unresolved true")
    t.eq(t.metric(api, "edgelb_dp_backends_unresolved"), 4.0,
         "/metrics edgelb_dp_backends_unresolved 4 (2 ports x 2 backends)")
    st, text = api.req("GET", "/metrics")
    t.check(any(line.startswith("edgelb_backend_unresolved{") and "198.19.0.11:8080" in line
                and line.endswith(" 1") for line in text.splitlines()),
            "/metrics edgelb_backend_unresolved{...198.19.0.11:8080...} 1")

    # a second one, in another namespace, dual stack
    st, api2 = api.req("POST", "/v1/loadbalancers",
                       {"name": "api", "namespace": "team-a", "ip_families": ["IPv4", "IPv6"],
                        "ports": [{"port": 53, "protocol": "UDP"}], "scheduler": "WRR",
                        "backends": [{"address": "198.19.0.21"}, {"address": "2001:db8:2::21"}]})
    t.eq(st, 201, "POST team-a/api (dual stack, UDP, scheduler WRR) -> 201")
    t.eq(api2["scheduler"], "wrr", "team-a/api: scheduler answered as wrr")
    t.eq(sorted(cplib.fam(a) for a in api2["ips"]), [4, 6], "team-a/api has one IPv4 and one IPv6")
    t.check(ip not in api2["ips"], "team-a/api got another address than web")
    t.wait_dp_matches(sock, api, 10, "dp services match the cp with two load balancers")
    s6 = dp_has(api2["ips"][1], 53, "udp")
    t.check(s6 is not None and [b["address"] for b in s6["backends"]] == ["2001:db8:2::21"],
            "dp [%s]:53/udp has only the IPv6 backend" % api2["ips"][1])
    t.eq(s6 and s6.get("scheduler"), "wrr", "dp [%s]:53/udp: scheduler wrr" % api2["ips"][1])
    t.eq(dp_has(ip, 80).get("scheduler", "maglev"), "maglev", "dp %s:80: scheduler maglev (default)" % ip)

    # ---- PUT replace ------------------------------------------------------------
    body = dict(web_body, ports=[{"name": "http", "port": 80, "target_port": 8081},
                                 {"port": 8080, "protocol": "UDP"}])
    st, j = api.req("PUT", "/v1/loadbalancers/default/web", body)
    t.eq(st, 200, "PUT web (new ports, no ips in the body) -> 200")
    t.eq(j["ips"], [ip], "PUT without ips keeps the address %s" % ip)
    t.eq(free4(), f0 - 2, "pool main: free count unchanged by the replace (web and team-a/api)")
    t.wait_dp_matches(sock, api, 10, "dp services follow the replace")
    t.check(dp_has(ip, 443) is None, "dp no longer has %s:443" % ip)
    t.check(dp_has(ip, 8080, "udp") is not None, "dp has %s:8080/udp" % ip)
    t.eq(sorted(b["port"] for b in dp_has(ip, 80)["backends"]), [8081, 8081],
         "dp %s:80 backends now on target port 8081" % ip)

    # a client may PUT back what it GETs (output fields included)
    st, j = api.req("PUT", "/v1/loadbalancers/default/web", api.get("web"))
    t.eq(st, 200, "PUT web with the GET answer as body -> 200")
    t.eq(j["ips"], [ip], "PUT of the GET answer keeps the address")

    # a request that changes the address moves it
    other = "198.18.20.6"
    st, j = api.req("PUT", "/v1/loadbalancers/default/web", dict(body, ips=[other]))
    t.eq((st, j.get("ips")), (200, [other]), "PUT web with ips [%s] moves it there" % other)
    t.eq(free4(), f0 - 2, "pool main: the old address was released, the new one taken")
    t.wait_dp_matches(sock, api, 10, "dp services follow the address change")
    t.check(dp_has(ip, 80) is None and dp_has(other, 80) is not None,
            "dp moved :80 from %s to %s" % (ip, other))
    st, j = api.req("PUT", "/v1/loadbalancers/default/web", dict(body, ips=[ip]))
    t.eq((st, j.get("ips")), (200, [ip]), "PUT web back to %s" % ip)

    # ---- PUT backends -------------------------------------------------------------
    st, j = api.req("PUT", "/v1/loadbalancers/default/web/backends",
                    [{"address": "198.19.0.13", "port": 9000},
                     {"address": "198.19.0.14", "state": "draining"}])
    t.eq(st, 200, "PUT web/backends (array) -> 200")
    t.eq(j["ips"], [ip], "PUT backends keeps the address")
    t.eq([(b["address"], b["port"], b["state"]) for b in j["backends"]],
         [("198.19.0.13", 9000, "active"), ("198.19.0.14", 0, "draining")], "backends replaced")
    t.eq([p["port"] for p in j["ports"]], [80, 8080], "ports untouched by PUT backends")
    t.wait_dp_matches(sock, api, 10, "dp services follow PUT backends")
    t.eq(sorted((b["address"], b["port"], b["state"]) for b in dp_has(ip, 80)["backends"]),
         [("198.19.0.13", 9000, "active"), ("198.19.0.14", 8081, "draining")],
         "dp %s:80: explicit port 9000, port 0 -> target 8081, draining kept" % ip)
    st, j = api.req("PUT", "/v1/loadbalancers/default/web/backends",
                    {"backends": [{"address": "198.19.0.15"}]})
    t.eq((st, [b["address"] for b in j.get("backends", [])]), (200, ["198.19.0.15"]),
         'PUT web/backends ({"backends": [...]}) -> 200, one backend')
    t.wait_dp_matches(sock, api, 10, "dp services follow the second PUT backends")

    # ---- errors: status, message, nothing changed ---------------------------------
    def bad(status, method, path, what, body=None, raw=None, field=None, token=TOKEN, **kw):
        before = snapshot()
        saved = api.token
        api.token = token
        try:
            st, j = api.req(method, path, body, raw=raw, **kw)
        finally:
            api.token = saved
        t.eq(st, status, "%s %s (%s) -> %d" % (method, path, what, status))
        t.check(isinstance(j, dict) and isinstance(j.get("error"), str) and j["error"],
                "  answer is JSON {\"error\": ...}", repr(j)[:200])
        if field is not None:
            t.check(j["error"].startswith(field + ":"),
                    "  message names %s: %r" % (field, j["error"]), j["error"])
        t.check(snapshot() == before, "  list, pools and state file unchanged")
        return j

    lbs = "/v1/loadbalancers"
    good = {"name": "new", "ports": [{"port": 80}], "backends": [{"address": "198.19.0.11"}]}
    bad(400, "POST", lbs, "malformed JSON", raw=b'{"name": "x", "ports": [', field="request body")
    bad(400, "POST", lbs, "empty body", raw=b"", field="request body")
    bad(400, "POST", lbs, "a JSON array, not an object", raw=b"[1, 2]", field="body")
    bad(400, "POST", lbs, "duplicate key", raw=b'{"name": "a", "name": "b"}', field="request body")
    invalid = [
        ("name", dict(good, name="Not_A_Label")),
        ("name", {k: v for k, v in good.items() if k != "name"}),
        ("namespace", dict(good, namespace="UPPER")),
        ("colour", dict(good, colour="blue")),
        ("ports[0].port", dict(good, ports=[{"port": 70000}])),
        ("ports[1].protocol", dict(good, ports=[{"port": 80}, {"port": 81, "protocol": "SCTP"}])),
        ("ports[0].target_port", dict(good, ports=[{"port": 80, "target_port": -1}])),
        ("backends[1].address", dict(good, backends=[{"address": "198.19.0.11"},
                                                     {"address": "not-an-address"}])),
        ("backends[0].weight", dict(good, backends=[{"address": "198.19.0.11", "weight": "2"}])),
        ("backends[0].address", dict(good, backends=[{"address": "2001:db8:2::1"}])),
        ("ip_families[0]", dict(good, ip_families=["IPv5"])),
        ("ips[0]", dict(good, ips=["198.18.20.999"])),
        ("session_affinity.type", dict(good, session_affinity={"type": "Cookie"})),
        ("source_ranges[0]", dict(good, source_ranges=["198.18.0.1/15"])),
        ("mode", dict(good, mode="dsr")),
        ("scheduler", dict(good, scheduler="lblc")),
        ("health_check.interval_ms", dict(good, health_check={"type": "tcp", "interval_ms": 5})),
        ("health_check.type", dict(good, health_check={"type": "icmp"})),
        ("pool", dict(good, pool=7)),
    ]
    for field, body in invalid:
        bad(400, "POST", lbs, "invalid %s" % field, body=body, field=field)
    bad(400, "POST", lbs, "requested IP in no pool", body=dict(good, ips=["198.18.99.1"]))
    bad(400, "PUT", lbs + "/default/web", "invalid ports[0].port on replace",
        body=dict(web_body, ports=[{"port": 0}]), field="ports[0].port")
    bad(400, "PUT", lbs + "/default/web", "body names another load balancer",
        body=dict(web_body, name="other"))
    bad(400, "PUT", lbs + "/default/web/backends", "invalid backends[0].address",
        body=[{"address": "198.19.0.300"}], field="backends[0].address")
    bad(400, "PUT", lbs + "/default/web/backends", "malformed JSON", raw=b"[{", field="request body")
    bad(400, "GET", "/v1/conns?limit=0", "conns limit 0", field="limit")

    bad(404, "GET", lbs + "/default/nope", "unknown load balancer")
    bad(404, "GET", lbs + "/other-ns/web", "web in another namespace")
    bad(404, "PUT", lbs + "/default/nope", "replace unknown load balancer",
        body={k: v for k, v in good.items() if k != "name"})
    bad(404, "PUT", lbs + "/default/nope/backends", "backends of unknown load balancer", body=[])
    bad(404, "DELETE", lbs + "/default/nope", "delete unknown load balancer")
    j = bad(404, "POST", lbs, "unknown pool", body=dict(good, pool="nosuchpool"), field="pool")
    t.check("nosuchpool" in j["error"], "  message names the pool", j["error"])
    bad(404, "GET", "/v1/nothing", "unknown resource")
    bad(404, "GET", lbs + "/default/web/ports", "unknown sub-resource")

    j = bad(409, "POST", lbs, "requested IP taken", body=dict(good, ips=[ip]))
    t.check(ip in j["error"] and "default/web" in j["error"],
            "  message names the address and its holder", j["error"])
    st, sh1 = api.req("POST", lbs, {"name": "s1", "sharing_key": "k", "ips": ["198.18.20.5"],
                                    "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]})
    t.eq((st, sh1.get("ips")), (201, ["198.18.20.5"]), "s1 (sharing key k) on 198.18.20.5 -> 201")
    bad(409, "POST", lbs, "same IP, same key, overlapping port",
        body={"name": "s2", "sharing_key": "k", "ips": ["198.18.20.5"], "ports": [{"port": 80}]})
    bad(409, "POST", lbs, "same IP, same key, overlapping UDP port",
        body={"name": "s2", "sharing_key": "k", "ips": ["198.18.20.5"],
              "ports": [{"port": 54, "protocol": "UDP"}, {"port": 53, "protocol": "UDP"}]})
    bad(409, "POST", lbs, "same IP, different key",
        body={"name": "s2", "sharing_key": "other", "ips": ["198.18.20.5"], "ports": [{"port": 81}]})
    bad(409, "POST", lbs, "same IP, no key",
        body={"name": "s2", "ips": ["198.18.20.5"], "ports": [{"port": 81}]})
    bad(409, "PUT", lbs + "/team-a/api", "replace onto a taken IP",
        body={"ip_families": ["IPv4"], "ips": [ip], "ports": [{"port": 53, "protocol": "UDP"}]})
    j = bad(409, "POST", lbs, "duplicate name", body=dict(web_body))
    t.check("default/web" in j["error"], "  message names the load balancer", j["error"])
    st, p1 = api.req("POST", lbs, dict(good, name="p1", pool="small"))
    t.eq((st, p1.get("ips")), (201, ["198.18.21.1"]), "p1 from pool small (its only address) -> 201")
    bad(409, "POST", lbs, "pool small exhausted", body=dict(good, name="p2", pool="small"))
    # fill pool main, then it is exhausted too
    n = 0
    while free4() > 0:
        n += 1
        api.create(dict(good, name="fill%d" % n))
    t.ok("filled pool main with %d more load balancers" % n)
    bad(409, "POST", lbs, "pool main exhausted (automatic assignment)", body=dict(good, name="p3"))
    bad(409, "POST", lbs, "dual stack while IPv4 is exhausted (all or nothing)",
        body=dict(good, name="p4", ip_families=["IPv4", "IPv6"]))
    for i in range(1, n + 1):
        api.delete("fill%d" % i)

    bad(401, "GET", lbs, "no Authorization header", token=None)
    bad(401, "GET", lbs, "wrong token", token="s3cret-tokeN")
    bad(401, "POST", lbs, "create with a wrong token", body=dict(good, name="sneaky"), token="x")
    bad(401, "DELETE", lbs + "/default/web", "delete without a token", token=None)
    bad(401, "GET", "/metrics", "metrics without a token", token=None)
    bad(401, "GET", lbs, "Basic instead of Bearer", token=None,
        headers={"Authorization": "Basic " + TOKEN})
    st, j = api.req("GET", "/healthz", auth=False)
    t.eq((st, j.get("status"), j.get("dp")), (200, "ok", "connected"),
         "/healthz needs no token and says the dp is connected")

    bad(405, "DELETE", lbs, "DELETE on the collection")
    bad(405, "PUT", lbs, "PUT on the collection", body=good)
    bad(405, "POST", "/v1/pools", "POST on pools", body={})
    bad(405, "POST", lbs + "/default/web", "POST on an item", body=good)
    bad(405, "PATCH", lbs + "/default/web", "PATCH on an item", body={})
    bad(405, "GET", lbs + "/default/web/backends", "GET on backends")
    bad(405, "DELETE", lbs + "/default/web/backends", "DELETE on backends")

    big = b'{"name": "big", "pad": "' + b"x" * (4 << 20) + b'"}'
    bad(413, "POST", lbs, "body of %d bytes (over 4 MiB)" % len(big), raw=big)
    bad(413, "PUT", lbs + "/default/web/backends", "backends body over 4 MiB",
        raw=b"[" + b" " * (4 << 20) + b"]")
    exact = b" " * ((4 << 20) - 2) + b"[]"
    bad(400, "POST", lbs, "body of exactly 4 MiB is read (not 413), then refused as an array",
        raw=exact, field="body")

    # ---- delete -----------------------------------------------------------------
    t.wait_dp_matches(sock, api, 10, "dp services still match after all the errors")
    f1 = free4()
    st, j = api.req("DELETE", lbs + "/default/web")
    t.eq(st, 200, "DELETE web -> 200")
    t.eq((j.get("deleted"), j.get("released")), ("default/web", [ip]),
         "delete answer names web and the released address")
    t.eq(free4(), f1 + 1, "pool main: the address is free again")
    bad(404, "GET", lbs + "/default/web", "web after delete")
    t.wait_dp_matches(sock, api, 10, "dp services follow the delete")
    t.check(dp_has(ip, 80) is None and dp_has(ip, 8080, "udp") is None,
            "dp no longer has any service on %s" % ip)
    for name, nsp in (("api", "team-a"), ("s1", "default"), ("p1", "default")):
        api.delete(name, nsp)
    t.eq(api.list(), [], "every load balancer deleted")
    pools = api.pools()
    t.eq((pools["main"]["ipv4"]["used"], pools["main"]["ipv6"]["used"], pools["small"]["ipv4"]["used"]),
         (0, 0, 0), "every pool address free again")
    t.wait_for(lambda: t.dp_services(sock) == [], 10, "the dp to hold no service")
    t.ok("dp holds no service after the deletes")
    with open(state) as f:
        st_json = json.load(f)
    t.eq(st_json.get("loadbalancers"), [], "state file parses and lists no load balancer")


if __name__ == "__main__":
    cplib.run("api", main, timeout=120)
