#!/usr/bin/env python3
"""test_monitoring.py - the Grafana dashboard and the Prometheus rules against a
live /metrics.

Standalone: a real edgelb-dp (one idle net_null port, --no-huge) and edgelb-cp
with a load balancer whose backend is health-checked; kubernetes mode: edgelb-cp
against tests/k8s/fake-apiserver (its watches and status writes), no dp. Both
/metrics pages must pass `promtool check metrics`; conf/prometheus/edgelb-rules.yml
must pass `promtool check rules` and its unit tests (`promtool test rules`,
tests/pkg/rules-test.yml); conf/grafana/edgelb.json must be a dashboard whose
every panel has a query; and every edgelb_* metric name that the dashboard or the
rules use must exist in one of the live pages. On the side: edgelbctl's bash completion
completes load balancer names from the standalone cp's API.

  test_monitoring.py [--dump DIR]   (DIR: keep the two /metrics pages)

Starts DPDK: run it alone (tests/pkg/meson.build wraps it in flock).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..")
BUILD = os.environ.get("EDGELB_BUILD", os.path.join(SRC, "build"))
DP = os.path.join(BUILD, "dp", "edgelb-dp")
CP = os.path.join(BUILD, "cp", "edgelb-cp")
FAKE = os.path.join(SRC, "tests", "k8s", "fake-apiserver")
RULES = os.path.join(SRC, "conf", "prometheus", "edgelb-rules.yml")
RULES_TEST = os.path.join(HERE, "rules-test.yml")
DASH = os.path.join(SRC, "conf", "grafana", "edgelb.json")
checks = 0
procs = []


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def ok(msg):
    global checks
    checks += 1
    print("ok: " + msg, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def spawn(args, log):
    p = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def stop_all():
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    # The dp's persistent state (dp.state "auto", kept across restarts by design,
    # in /dev/shm with --no-huge): this test's, removed with it.
    for d in ("/dev/shm", "/dev/hugepages"):
        for f in os.listdir(d) if os.path.isdir(d) else []:
            if f.startswith("edgelb-mon%d" % os.getpid()):
                try:
                    os.unlink(os.path.join(d, f))
                except OSError:
                    pass


def http(url, body=None, method=None, timeout=5):
    req = urllib.request.Request(url, data=body and json.dumps(body).encode(), method=method)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def wait_for(what, fn, timeout, proc=None, log=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            fail("%s: process exited %s\n%s" % (what, proc.returncode, open(log).read()[-2000:]))
        try:
            v = fn()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.2)
    fail("timed out waiting for " + what)


def standalone_metrics(tmp):
    sock = os.path.join(tmp, "dp.sock")
    with open(os.path.join(tmp, "dp.conf"), "w") as f:
        f.write('''dp: { workers = [1]; idle_sleep_us = 1000; control_socket = "%s"; };
conntrack: { capacity = 4096; };
ports = ( { name = "p0"; device = "net_null0,no-rx=1"; role = "both"; mac = "02:00:00:00:00:01";
            addresses = ["198.18.255.1/24"]; local_addresses = ["198.18.255.2"]; } );
''' % sock)
    port = free_port()
    with open(os.path.join(tmp, "cp.conf"), "w") as f:
        f.write('''mode = "standalone";
dp_socket = "%s";
state_file = "%s/state.json";
api: { listen = "127.0.0.1:%d"; };
pools = ( { name = "public"; addresses = ["198.18.255.100-198.18.255.110"]; } );
''' % (sock, tmp, port))
    dlog = os.path.join(tmp, "dp.log")
    dp = spawn([DP, "-l", "0,1", "--no-pci", "--no-huge", "-m", "256", "--file-prefix",
                "mon%d" % os.getpid(), "--", "--config", os.path.join(tmp, "dp.conf")], dlog)
    wait_for("edgelb-dp's control socket", lambda: os.path.exists(sock), 60, dp, dlog)
    clog = os.path.join(tmp, "cp.log")
    cp = spawn([CP, "--config", os.path.join(tmp, "cp.conf")], clog)
    api = "http://127.0.0.1:%d" % port
    wait_for("edgelb-cp's API", lambda: http(api + "/healthz"), 20, cp, clog)
    http(api + "/v1/loadbalancers", {
        "name": "web", "ports": [{"port": 80, "protocol": "TCP"}],
        "backends": [{"address": "198.18.255.20"}],
        "health_check": {"type": "tcp", "interval_ms": 200, "timeout_ms": 100}}, "POST")
    # bash completion of edgelbctl asks this API for load balancer names.
    comp = subprocess.run(["bash", "-c", """
        source /usr/share/bash-completion/bash_completion
        source "$1"
        # as bash splits "--server http://127.0.0.1:PORT" at its colons
        IFS=: read -r scheme host port <<<"$2"
        COMP_WORDS=(edgelbctl --server "$scheme" : "$host" : "$port" get lb "")
        COMP_CWORD=9; COMP_LINE="edgelbctl --server $2 get lb "; COMP_POINT=${#COMP_LINE}
        _edgelbctl edgelbctl "" lb
        echo "${COMPREPLY[*]}"
        """, "bash", os.path.join(SRC, "conf", "bash-completion", "edgelbctl"), api],
        capture_output=True, text=True,
        env=dict(os.environ, PATH=os.path.join(BUILD, "cp") + ":" + os.environ["PATH"]))
    if comp.stdout.strip() != "default/web":
        fail("bash completion of 'edgelbctl get lb <TAB>': %r %s" % (comp.stdout, comp.stderr))
    ok("bash completion: 'edgelbctl --server ... get lb <TAB>' -> default/web, from the API")
    page = wait_for("dp services and backend health in /metrics", lambda: (
        lambda t: t if ("edgelb_dp_connected 1" in t and "edgelb_service_packets_total{" in t
                        and "edgelb_backend_health{" in t) else None)(http(api + "/metrics")),
        30, cp, clog)
    ok("standalone: live /metrics from edgelb-cp connected to edgelb-dp (%d lines)"
       % len(page.splitlines()))
    return page


def k8s_metrics(tmp):
    pf = os.path.join(tmp, "fake.port")
    flog = os.path.join(tmp, "fake.log")
    fake = spawn([sys.executable, FAKE, "--port", "0", "--port-file", pf], flog)
    fport = wait_for("fake-apiserver", lambda: open(pf).read().strip(), 20, fake, flog)
    kc = os.path.join(tmp, "kubeconfig")
    with open(kc, "w") as f:
        f.write('''apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: {server: "http://127.0.0.1:%s"}
contexts:
- name: fake
  context: {cluster: fake, user: fake, namespace: default}
current-context: fake
users:
- name: fake
  user: {}
''' % fport)
    port = free_port()
    with open(os.path.join(tmp, "cpk.conf"), "w") as f:
        f.write('''mode = "kubernetes";
dp_socket = "%s/no-dp.sock";
state_file = "%s/state-k8s.json";
api: { listen = "127.0.0.1:%d"; };
kubernetes: { kubeconfig = "%s"; default_class = true; };
pools = ( { name = "public"; addresses = ["198.18.254.100-198.18.254.110"]; } );
''' % (tmp, tmp, port, kc))
    clog = os.path.join(tmp, "cpk.log")
    cp = spawn([CP, "--config", os.path.join(tmp, "cpk.conf")], clog)
    api = "http://127.0.0.1:%d" % port
    page = wait_for("kubernetes metrics", lambda: (
        lambda t: t if 'edgelb_k8s_watch_state{resource="services",state="watching"} 1' in t
        else None)(http(api + "/metrics")), 30, cp, clog)
    ok("kubernetes mode: live /metrics from edgelb-cp watching a fake API server")
    return page


def promtool(args, stdin=None):
    return subprocess.run(["promtool"] + args, input=stdin, capture_output=True, text=True)


def exprs_of_dashboard(d):
    out = []

    def walk(panels):
        for p in panels:
            if p.get("type") == "row":
                walk(p.get("panels", []))
                continue
            if p.get("type") == "text":
                continue
            targets = p.get("targets", [])
            if not targets or not all(t.get("expr") for t in targets):
                fail("dashboard panel %r has no query" % p.get("title"))
            out.extend(t["expr"] for t in targets)
    walk(d.get("panels", []))
    for v in d.get("templating", {}).get("list", []):
        q = v.get("query")
        if v.get("type") == "query" and isinstance(q, dict):
            q = q.get("query")
        if v.get("type") == "query" and q:
            out.append(q)
    return out


def metric_names(exprs):
    names = set()
    for e in exprs:
        names |= set(re.findall(r"\b(edgelb_[a-z0-9_]+)\b", e))
    return names


def main():
    dump = sys.argv[sys.argv.index("--dump") + 1] if "--dump" in sys.argv else None
    if os.geteuid() != 0:
        fail("needs root (DPDK): run scripts/setup.sh and the tests as root")
    for t in ["promtool"]:
        if subprocess.run(["sh", "-c", "command -v " + t], capture_output=True).returncode:
            fail("%s not installed: run scripts/setup.sh (Debian package prometheus)" % t)
    with tempfile.TemporaryDirectory(prefix="edgelb-mon.") as tmp:
        try:
            pages = {"standalone": standalone_metrics(tmp), "kubernetes": k8s_metrics(tmp)}
        finally:
            stop_all()
    if dump:
        for k, v in pages.items():
            open(os.path.join(dump, k + ".prom"), "w").write(v)

    for k, page in pages.items():
        r = promtool(["check", "metrics"], page)
        if r.returncode != 0:
            fail("promtool check metrics (%s): %s%s" % (k, r.stdout, r.stderr))
        ok("promtool check metrics: %s /metrics is clean" % k)
    live = set()
    for page in pages.values():
        live |= set(re.findall(r"^(edgelb_[a-z0-9_]+)[{ ]", page, re.M))

    r = promtool(["check", "rules", RULES])
    if r.returncode != 0:
        fail("promtool check rules: %s%s" % (r.stdout, r.stderr))
    ok("promtool check rules: " + " ".join(r.stdout.split()[-3:]))
    r = subprocess.run(["promtool", "test", "rules", os.path.basename(RULES_TEST)], cwd=HERE,
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail("promtool test rules: %s%s" % (r.stdout, r.stderr))
    ok("promtool test rules: every alert fires on its case and stays quiet otherwise")

    with open(DASH) as f:
        dash = json.load(f)
    dexprs = exprs_of_dashboard(dash)
    # PromQL syntax: the queries as recording rules, Grafana's variables filled in.
    fill = {"$__rate_interval": "5m", "$instance": ".*", "$job": "edgelb"}
    rec = "groups:\n  - name: dashboard\n    rules:\n"
    panel_exprs = [e for e in dexprs if not e.startswith("label_values(")]  # Grafana's own
    for i, e in enumerate(panel_exprs):
        for k, v in fill.items():
            e = e.replace(k, v)
        rec += "      - record: edgelb:dashboard_query_%d\n        expr: %s\n" % (i, json.dumps(e))
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        f.write(rec)
        f.flush()
        r = promtool(["check", "rules", f.name])
    if r.returncode != 0:
        fail("dashboard queries are not valid PromQL: %s%s" % (r.stdout, r.stderr))
    ok("dashboard %r: %d queries, %d panel queries valid PromQL (promtool)"
       % (dash.get("title"), len(dexprs), len(panel_exprs)))
    rexprs = re.findall(r"^\s*expr:\s*(.+(?:\n\s{8,}.+)*)", open(RULES).read(), re.M)
    for what, names in (("dashboard", metric_names(dexprs)), ("rules", metric_names(rexprs))):
        missing = sorted(names - live)
        if missing:
            fail("%s uses metrics no live /metrics has: %s" % (what, missing))
        ok("%s: all %d metric names exist in a live /metrics" % (what, len(names)))
    print("%d passed, 0 failed" % checks)


if __name__ == "__main__":
    main()
