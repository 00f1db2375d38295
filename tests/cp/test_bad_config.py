#!/usr/bin/python3
"""
test_bad_config.py - edgelb-cp refuses a bad configuration (or state file) and says why.

In a private namespace, a valid base configuration first starts (positive
control). Then each mutation of it (unknown settings at every level, bad pool
ranges and CIDRs, duplicate or invalid pool names, wrong types, bad health-check
defaults, a bad mode, a syntax error, a bad listen address, an unreadable token
file, a missing config file) makes edgelb-cp exit with a status other than 0,
within seconds, with a message that names the setting (and its line, where the
file parser found it), and without creating a state file. A corrupt state file
is refused too (message names the state file) and left as it was.
"""
import os

import cplib

POOLS = """pools = (
  { name = "public"; addresses = ["198.18.70.1-198.18.70.9", "2001:db8:70::/124"];
    auto_assign = true; avoid_buggy_ips = true; },
  { name = "reserved"; addresses = ["198.18.71.0/24"]; auto_assign = false; }
);
"""
BASE = """mode = "standalone";
dp_socket = "@DIR@/dp.sock";
state_file = "@STATE@";
api: {
  listen = "127.0.0.1:8470";
  token = "";
};
""" + POOLS + """health_check: { type = "none"; path = "/"; interval_ms = 2000; timeout_ms = 1000; rise = 2; fall = 3; };
"""

# (what, (old, new) replacements of BASE, substrings the message must contain)
CASES = [
    ("unknown top-level setting", [("mode = ", "colour = 1;\nmode = ")],
     ["colour: unknown setting", "(line 1)"]),
    ("misspelt dp_socket", [("dp_socket =", "dp_sockets =")], ["dp_sockets: unknown setting", "(line 2)"]),
    ("unknown api setting", [('  token = "";', '  tokn = "";')], ["api.tokn: unknown setting", "(line 6)"]),
    ("unknown pool setting", [("auto_assign = true;", "autoassign = true;")],
     ["pools.[0].autoassign: unknown setting", "(line 10)"]),
    ("unknown health_check setting", [("rise = 2;", "rize = 2;")], ["health_check.rize: unknown setting"]),
    ("reversed pool range", [('"198.18.70.1-198.18.70.9"', '"198.18.70.9-198.18.70.1"')],
     ["pools.[0].addresses.[0]", "198.18.70.9-198.18.70.1", "(line 9)"]),
    ("prefix length 33", [('"198.18.71.0/24"', '"198.18.71.0/33"')],
     ["pools.[1].addresses.[0]", "198.18.71.0/33"]),
    ("CIDR with host bits set", [('"198.18.71.0/24"', '"198.18.71.1/24"')],
     ["pools.[1].addresses.[0]", "198.18.71.1/24"]),
    ("not an address", [('"2001:db8:70::/124"', '"2001:db8:70::zz/124"')],
     ["pools.[0].addresses.[1]", "2001:db8:70::zz/124"]),
    ("range mixing families", [('"198.18.70.1-198.18.70.9"', '"198.18.70.1-2001:db8::9"')],
     ["pools.[0].addresses.[0]", "198.18.70.1-2001:db8::9"]),
    ("empty addresses", [('addresses = ["198.18.71.0/24"]', "addresses = []")],
     ["pools.[1].addresses", "non-empty"]),
    ("addresses not an array", [('addresses = ["198.18.71.0/24"]', 'addresses = "198.18.71.0/24"')],
     ["pools.[1].addresses"]),
    ("duplicate pool name", [('name = "reserved"', 'name = "public"')], ["'public' is used twice"]),
    ("pool name not a DNS label", [('name = "reserved"', 'name = "Reserved_1"')], ["pools.[1].name"]),
    ("auto_assign not a boolean", [("auto_assign = false;", 'auto_assign = "no";')],
     ["pools.[1].auto_assign", "true or false"]),
    ("pools not a list", [(POOLS, 'pools = "198.18.70.0/24";\n')], ["pools: expected a list"]),
    ("bad health_check.type", [('type = "none"', 'type = "icmp"')], ["health_check.type"]),
    ("health_check timeout not below interval", [("timeout_ms = 1000", "timeout_ms = 2000")],
     ["health_check.timeout_ms"]),
    ("health_check.interval_ms out of range", [("interval_ms = 2000", "interval_ms = 5")],
     ["health_check.interval_ms"]),
    ("health_check.path without /", [('path = "/"', 'path = "healthz"')], ["health_check.path"]),
    ("bad mode", [('mode = "standalone"', 'mode = "cluster"')], ["mode:", "(line 1)"]),
    ("state_file empty", [('state_file = "@STATE@"', 'state_file = ""')], ["state_file"]),
    ("syntax error", [('listen = "127.0.0.1:8470";', 'listen "127.0.0.1:8470";')],
     ["syntax error", "(line 5)"]),
    ("listen without a port", [('"127.0.0.1:8470"', '"127.0.0.1"')], ["api.listen", "127.0.0.1"]),
    ("unreadable token_file", [('  token = "";', '  token_file = "@DIR@/no-such-token";')],
     ["api.token_file", "no-such-token"]),
]


def main(t):
    ns = t.netns_add("conf")
    t.enter(ns)

    def write(name, text, state):
        path = os.path.join(t.dir, name)
        with open(path, "w") as f:
            f.write(text.replace("@DIR@", t.dir).replace("@STATE@", state))
        return path

    # positive control: the base configuration starts and serves
    state0 = os.path.join(t.dir, "ok", "state.json")
    conf = write("ok.conf", BASE, state0)
    api = cplib.Api()
    cp = t.start_cp(conf, api)
    t.eq(sorted(api.pools()), ["public", "reserved"], "the base configuration starts, pools public and reserved")
    t.stop(cp)
    t.eq(cp.returncode, 0, "and stops on SIGTERM with status 0")

    for i, (what, repl, want) in enumerate(CASES):
        text = BASE
        for old, new in repl:
            if old not in text:
                raise cplib.Fail("case %r: %r not in the base config" % (what, old))
            text = text.replace(old, new)
        state = os.path.join(t.dir, "s%d" % i, "state.json")
        path = write("bad%d.conf" % i, text, state)
        rc, out = t.run_cp(path)
        msg = out.strip().splitlines()[-1] if out.strip() else ""
        t.check(rc not in (0, None), "%s: exit status %s" % (what, rc), out)
        missing = [w for w in want if w not in out]
        t.check(not missing, "  message %r names %s" % (msg, ", ".join(repr(w) for w in want)),
                "missing %s in: %s" % (missing, out))
        if what != "listen without a port":   # checked when the API starts, not by the parser
            t.check(path in out, "  message names the file", out)
        t.check(not os.path.exists(state), "  no state file written (a refused config touches no state)",
                fatal=False)

    rc, out = t.run_cp(os.path.join(t.dir, "missing.conf"))
    t.check(rc not in (0, None) and "missing.conf" in out, "a missing config file: status %s, message %r" % (rc, out.strip()))
    r = cplib.subprocess.run([cplib.CP_BIN], capture_output=True, text=True, timeout=10)
    t.check(r.returncode != 0 and "usage" in r.stderr, "no --config: status %d with usage" % r.returncode)

    # a refused config must not rewrite the state: a load balancer on a pool the
    # new config drops keeps its address in the file while the cp does not run
    state = os.path.join(t.dir, "keep", "state.json")
    cp = t.start_cp(write("keep.conf", BASE, state), api, label="cp-keep")
    api.create({"name": "res", "pool": "reserved", "ports": [{"port": 80}]})
    t.stop(cp)
    with open(state, "rb") as f:
        before = f.read()
    text = BASE.replace(POOLS, POOLS.replace('  { name = "reserved"; addresses = ["198.18.71.0/24"]; auto_assign = false; }\n', "")
                        .replace("avoid_buggy_ips = true; },", "avoid_buggy_ips = true; }"))
    text = text.replace('"127.0.0.1:8470"', '"127.0.0.1"')
    rc, out = t.run_cp(write("keep-bad.conf", text, state))
    t.check(rc not in (0, None), "pool reserved dropped + bad api.listen: refused, status %s" % rc, out)
    with open(state, "rb") as f:
        after = f.read()
    t.check(after == before, "  the state file is untouched by the refused start (res keeps 198.18.71.x)",
            "it was rewritten: %s" % after.decode()[:300].replace("\n", " "), fatal=False)

    # a corrupt state file is refused, named, and left alone
    state = os.path.join(t.dir, "corrupt", "state.json")
    os.makedirs(os.path.dirname(state))
    junk = b'{"version": 1, "loadbalancers": [{"name": "web", "ips": ["198.18.70.1"'
    with open(state, "wb") as f:
        f.write(junk)
    rc, out = t.run_cp(write("corrupt.conf", BASE, state))
    t.check(rc not in (0, None), "a half-written state file: exit status %s" % rc, out)
    t.check(state in out, "  message names the state file: %r" % out.strip().splitlines()[-1], out)
    with open(state, "rb") as f:
        t.eq(f.read(), junk, "  the state file is left as it was")
    with open(state, "wb") as f:
        f.write(b'{"version": 1, "loadbalancers": [{"name": "web", "ports": [{"port": 0}]}]}')
    rc, out = t.run_cp(write("corrupt2.conf", BASE, state))
    t.check(rc not in (0, None) and "loadbalancers[0]" in out and "ports[0].port" in out,
            "a state file with an invalid load balancer: status %s, message %r"
            % (rc, out.strip().splitlines()[-1] if out.strip() else ""), out)


if __name__ == "__main__":
    cplib.run("bad_config", main, timeout=90)
