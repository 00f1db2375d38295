#!/usr/bin/python3
"""
test_cp_kill.py - kill -9 of the cp: the dp keeps forwarding, the new cp keeps every IP.

The namespace topology of scripts/lib/topo.sh (client, edgelb-dp on af_packet,
three nginx backends), edgelb-cp in the dp's namespace on the dp's socket, with
a pool on the client-facing subnet. Load balancers: dual stack web (80 -> 8080,
all backends) and web2 on a requested address (8081 -> 8080, backend b2). curl
from the client through every VIP answers. A rate-limited download through the
VIP is started, then the cp is killed with SIGKILL: new connections through
every VIP still work and the dp still holds its services. A new cp starts on the
same state file: every load balancer has the same addresses, the dp's services
equal the cp's after its full sync, curl still works, and the download started
before the kill completes whole.
"""
import os
import signal
import subprocess
import time

import cplib

POOL = ["198.18.0.100-198.18.0.109", "2001:db8:1::100-2001:db8:1::109"]
SLOW_BYTES = 500000  # at nginx's 200 KB/s: about 2.5 s


def main(t):
    for tool in ("nginx", "ethtool"):
        if not cplib.shutil.which(tool):
            raise cplib.Fail("%s not installed: run scripts/setup.sh" % tool)
    prefix = t.tag
    env = dict(os.environ, TOPO=prefix, TOPO_DIR=os.path.join(t.dir, "topo"),
               EDGELB_BUILD=cplib.BUILD, TOPO_BIGFILE_BYTES="2000000", TOPO_IDLE_SLEEP_US="50")
    tdir = env["TOPO_DIR"]

    def topo(cmd, timeout=120):
        r = subprocess.run(["bash", "-c", 'set -e; source "%s"; %s' % (cplib.TOPO_SH, cmd)],
                           env=env, stdin=subprocess.DEVNULL, stdout=open(os.path.join(t.dir, "topo.log"), "ab"),
                           stderr=subprocess.STDOUT, timeout=timeout)
        if r.returncode != 0:
            with open(os.path.join(t.dir, "topo.log"), errors="replace") as f:
                raise cplib.Fail("topo.sh %s failed:\n%s" % (cmd, "".join(f.readlines()[-20:])))

    def topo_cleanup():
        subprocess.run(["bash", "-c", 'source "%s"; topo_dp_stop; topo_down; rm -f /dev/hugepages/%s-dpmap_*'
                        % (cplib.TOPO_SH, prefix)], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    t.cleanups.append(topo_cleanup)
    topo('topo_up; topo_dp_conf "$TOPO_DIR/dp.conf"; topo_dp_start "$TOPO_DIR/dp.conf"')
    ns_dp, ns_c = prefix + "-dp", prefix + "-c"
    t.extra_logs.append(("dp (topo)", os.path.join(tdir, "dp.log")))
    with open(os.path.join(tdir, "dp.pid")) as f:
        dp_pid = int(f.read())
    t.log("topology %s up: client, edgelb-dp (pid %d, af_packet), 3 nginx backends" % (prefix, dp_pid))
    t.enter(ns_dp)
    sock = os.path.join(tdir, "dp.sock")
    conf = t.cp_conf(os.path.join(t.dir, "cp.conf"), sock, os.path.join(t.dir, "state", "state.json"),
                     [{"name": "edge", "addresses": POOL}])
    api = cplib.Api()
    cp = t.start_cp(conf, api, ns=ns_dp)

    b4 = ["198.19.0.%d" % (10 + i) for i in (1, 2, 3)]
    b6 = ["2001:db8:2::%d" % (10 + i) for i in (1, 2, 3)]
    web = api.create({"name": "web", "ip_families": ["IPv4", "IPv6"],
                      "ports": [{"name": "http", "port": 80, "target_port": 8080}],
                      "backends": [{"address": a} for a in b4 + b6]})
    web2 = api.create({"name": "web2", "ips": ["198.18.0.105"],
                       "ports": [{"port": 8081, "target_port": 8080}],
                       "backends": [{"address": b4[1]}]})
    vip4, vip6 = web["ips"]
    t.eq(web2["ips"], ["198.18.0.105"], "web2 got its requested address")
    t.wait_dp_matches(sock, api, 10, "dp holds the cp's services")
    urls = {"web v4": "http://%s/id" % vip4, "web v6": "http://[%s]/id" % vip6,
            "web2": "http://198.18.0.105:8081/id"}
    expect = {"web v4": {"b1", "b2", "b3"}, "web v6": {"b1", "b2", "b3"}, "web2": {"b2"}}

    def curl_all(when, n=4):
        for what, url in urls.items():
            got = []
            for _ in range(n):
                r = subprocess.run(["ip", "netns", "exec", ns_c, "curl", "-s", "-m", "5",
                                    "--connect-timeout", "3", url], capture_output=True, text=True,
                                   timeout=20)
                got.append(r.stdout.strip() if r.returncode == 0 else "ERR(%d)" % r.returncode)
            t.check(all(g in expect[what] for g in got),
                    "%s: %d new connections to %s answered by %s" % (when, n, url, ",".join(got)),
                    "expected answers from %s" % sorted(expect[what]))

    # curl may need a moment for the client's neighbour entries
    t.wait_for(lambda: subprocess.run(["ip", "netns", "exec", ns_c, "curl", "-s", "-m", "3",
                                       urls["web v4"]], capture_output=True).returncode == 0,
               15, "the first answer through %s" % vip4)
    curl_all("with the cp running")

    out = os.path.join(t.dir, "slow.out")
    slow = t.spawn("slow-download", ["curl", "-s", "-m", "30", "-r", "0-%d" % (SLOW_BYTES - 1),
                                     "-o", out, "-w", "%{http_code} %{size_download}",
                                     "http://%s/slow" % vip4], ns=ns_c)
    time.sleep(0.8)
    snapshot = sorted((lb["namespace"], lb["name"], lb["ips"]) for lb in api.list())

    # ---- kill -9 the cp ------------------------------------------------------------------
    t.check(slow.poll() is None, "a download through %s is in flight" % vip4)
    t.kill(cp, signal.SIGKILL)
    t.eq(cp.returncode, -signal.SIGKILL, "edgelb-cp killed with SIGKILL while a download runs")
    t.check(os.path.exists("/proc/%d" % dp_pid), "edgelb-dp still runs")
    svcs = cplib.services_of_dp(t.dp_services(sock))
    t.eq(len(svcs), 3, "the dp still holds its 3 services")
    curl_all("without a cp")

    # ---- a new cp on the same state --------------------------------------------------------
    cp2 = t.start_cp(conf, api, ns=ns_dp, label="cp2")
    t.eq(sorted((lb["namespace"], lb["name"], lb["ips"]) for lb in api.list()), snapshot,
         "the new cp has every load balancer with the same addresses %s" % [s[2] for s in snapshot])
    t.check(all(lb["status"]["state"] == "active" for lb in api.list()), "every load balancer active")
    t.wait_for(lambda: t.metric(api, "edgelb_dp_full_syncs_total") >= 1, 10, "the new cp's full sync")
    t.ok("the new cp did a full sync of the dp")
    t.wait_dp_matches(sock, api, 10, "the dp's services equal the new cp's")
    curl_all("with the new cp")
    try:
        slow.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise cplib.Fail("the download through %s did not finish" % vip4)
    with open(os.path.join(t.dir, "slow-download.log")) as f:
        res = f.read().split()
    t.eq(res, ["206", str(SLOW_BYTES)],
         "the download started before the kill completed: HTTP 206, %d bytes" % SLOW_BYTES)
    t.eq(os.path.getsize(out), SLOW_BYTES, "and the file has all %d bytes" % SLOW_BYTES)
    t.check(os.path.exists("/proc/%d" % dp_pid), "edgelb-dp still runs (the same process)")
    t.stop(cp2)


if __name__ == "__main__":
    cplib.run("cp_kill", main, timeout=150)
