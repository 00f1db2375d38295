#!/usr/bin/python3
"""
cplib.py - harness of the edgelb-cp tests (tests/cp/README.md).

What it owns: a private network namespace per test (the test process itself
enters it, so 127.0.0.1 is the test's own), a temporary directory, starting the
real edgelb-dp (net_null ports with no-rx: idle, no packets, a real control
socket) and edgelb-cp, killing them by PID, the REST client, the dp control
socket client (socat), and the model of what the dp must hold for what the cp
reports (expected_services). Every wait is bounded; everything started is
stopped on every exit path (normal end, failure, exception, SIGTERM from meson,
SIGALRM at the test's deadline).

A test is a function main(t) run by cplib.run(name, main, timeout): it prints
each assertion ("ok: ..." / "FAIL: ..."), exit status 0 pass, 1 fail, 77 skip.
"""
import ctypes
import http.client
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

SRC = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("EDGELB_BUILD") or os.path.join(SRC, "build")
CP_BIN = os.path.join(BUILD, "cp", "edgelb-cp")
DP_BIN = os.path.join(BUILD, "dp", "edgelb-dp")
TOPO_SH = os.path.join(SRC, "scripts", "lib", "topo.sh")

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class Fail(Exception):
    pass


class Timeout(Exception):
    pass


def fam(addr):
    return 6 if ":" in addr else 4


def norm(addr):
    return ipaddress.ip_address(addr).compressed


# ---- the model: what the dp must hold for the cp's load balancers -----------

def expected_services(lbs):
    """
    (vip, port, protocol) -> comparable service, from the cp's GET answers, as
    cp/lib/lb.h documents cp_lb_dp_specs: one service per allocated address x port;
    backends of the address's family, port = backend port or target_port,
    state = requested state, or "down" when health is down; two backends that
    resolve to one (address, port): the first listed.
    """
    out = {}
    for lb in lbs:
        for ip in lb.get("ips") or []:
            for p in lb["ports"]:
                seen = {}
                for b in lb.get("backends") or []:
                    if fam(b["address"]) != fam(ip):
                        continue
                    port = b.get("port") or p.get("target_port")
                    if not isinstance(port, int) or port == 0:
                        continue
                    if b.get("port_name") and b["port_name"] != p.get("name", ""):
                        continue
                    k = (norm(b["address"]), port)
                    if k in seen:
                        continue
                    state = "down" if b.get("health") == "down" else b.get("state", "active")
                    seen[k] = (k[0], port, b.get("weight", 1), state)
                name = "%s/%s:%s" % (lb["namespace"], lb["name"], p.get("name") or p["port"])
                key = (norm(ip), p["port"], p["protocol"].lower())
                out[key] = {
                    "name": name,
                    "mode": lb.get("mode", "fnat"),
                    "scheduler": lb.get("scheduler", "maglev"),
                    "affinity": lb["session_affinity"]["type"],
                    "source_ranges": sorted(lb.get("source_ranges") or []),
                    "backends": sorted(seen.values()),
                }
    return out


def services_of_dp(svcs):
    """The dp's service.list services in the same shape as expected_services."""
    out = {}
    for s in svcs:
        key = (norm(s["vip"]), s["port"], s["protocol"].lower())
        out[key] = {
            "name": s["name"],
            "mode": s.get("mode", "fnat"),
            "scheduler": s.get("scheduler", "maglev"),  # left out when maglev
            "affinity": s.get("session_affinity", {}).get("type", "None"),
            "source_ranges": sorted(s.get("source_ranges") or []),
            "backends": sorted((norm(b["address"]), b["port"], b.get("weight", 1),
                                b.get("state", "active")) for b in s.get("backends") or []),
        }
    return out


def diff_services(want, got):
    """A short human description of the difference ("" when equal)."""
    lines = []
    for k in sorted(set(want) | set(got), key=str):
        if k not in got:
            lines.append("missing in dp: %s %s" % (k, want[k]))
        elif k not in want:
            lines.append("extra in dp: %s %s" % (k, got[k]))
        elif want[k] != got[k]:
            lines.append("differs %s: cp wants %s, dp has %s" % (k, want[k], got[k]))
    return "; ".join(lines)


# ---- the test ------------------------------------------------------------------

class T:
    def __init__(self, name, timeout):
        self.name = name
        self.timeout = timeout
        self.t0 = time.monotonic()
        self.checks = 0
        self.failures = []     # non-fatal check failures
        self.procs = []        # (label, Popen, logpath)
        self.netns = []        # namespaces we created
        self.cleanups = []     # extra callables, run last-in first-out
        self.extra_logs = []   # (label, path) shown on failure besides cp/dp logs
        self.tag = "cpt%s%d" % (name.replace("_", "")[:5], os.getpid() % 100000)
        self.dir = tempfile.mkdtemp(prefix="edgelb-cp-%s-" % name)
        os.chmod(self.dir, 0o755)  # nginx workers (user nobody) read files below it
        self.home_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
        self.ns = None         # the namespace the test process is in

    # -- output ------------------------------------------------------------------
    def log(self, msg):
        dt = time.monotonic() - self.t0
        print("[%s %6.2fs] %s" % (self.name, dt, msg), flush=True)

    def ok(self, msg):
        self.checks += 1
        self.log("ok: " + msg)

    def check(self, cond, msg, detail="", fatal=True):
        """Assert; fatal=False records the failure and goes on (the test still fails)."""
        if not cond:
            text = msg + ((": " + str(detail)) if detail else "")
            if fatal:
                raise Fail(text)
            self.failures.append(text)
            self.log("FAIL (going on): " + text)
            return False
        self.ok(msg)
        return True

    def eq(self, got, want, msg, fatal=True):
        return self.check(got == want, msg, "expected %r, got %r" % (want, got), fatal=fatal)

    def wait_for(self, fn, timeout, what, step=0.1):
        """Poll fn() until it returns a true value (returned) or fail after timeout."""
        end = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = fn()
                if last:
                    return last
            except (OSError, http.client.HTTPException, ValueError) as e:
                last = e
            if time.monotonic() > end:
                raise Fail("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))
            time.sleep(step)

    # -- namespaces ----------------------------------------------------------------
    def netns_add(self, suffix):
        name = "%s-%s" % (self.tag, suffix)
        sh(["ip", "netns", "add", name])
        self.netns.append(name)
        sh(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def enter(self, ns):
        """Move the test process into namespace ns (None: back home)."""
        if ns is None:
            fd = self.home_ns
            rc = _libc.setns(fd, CLONE_NEWNET)
        else:
            fd = os.open("/run/netns/" + ns, os.O_RDONLY)
            rc = _libc.setns(fd, CLONE_NEWNET)
            os.close(fd)
        if rc != 0:
            raise OSError(ctypes.get_errno(), "setns(%s)" % ns)
        self.ns = ns

    # -- processes -----------------------------------------------------------------
    def spawn(self, label, argv, ns=None, log=None):
        """Start argv (in ns if given); output to a log file in the temp dir."""
        if ns is not None:
            argv = ["ip", "netns", "exec", ns] + list(argv)
        log = log or os.path.join(self.dir, label + ".log")
        f = open(log, "ab")
        p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.STDOUT)
        f.close()
        self.procs.append((label, p, log))
        return p

    def kill(self, p, sig=signal.SIGKILL, wait=10):
        if p.poll() is None:
            try:
                p.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)

    def stop(self, p, wait=5):
        """SIGTERM, then SIGKILL after wait seconds."""
        if p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)

    # -- edgelb-dp -----------------------------------------------------------------
    def dp_conf(self, path, sock, services=""):
        """A dp with one idle net_null port (no-rx) and a control socket."""
        with open(path, "w") as f:
            f.write(f"""dp: {{ workers = [1]; idle_sleep_us = 1000; control_socket = "{sock}"; }};
conntrack: {{ capacity = 4096; }};
ports = (
  {{ name = "p0"; device = "net_null0,no-rx=1"; role = "both"; mac = "02:00:00:00:00:01";
     addresses = ["198.18.255.1/24", "2001:db8:ff::1/64"];
     local_addresses = ["198.18.255.2", "2001:db8:ff::2"]; }}
);
{services}
""")
        return path

    def start_dp(self, conf, sock, ns=None, label="dp"):
        ns = ns or self.ns
        if os.path.exists(sock):
            os.unlink(sock)
        p = self.spawn(label, [DP_BIN, "-l", "0,1", "--no-pci", "--no-huge", "-m", "256",
                               "--file-prefix", self.tag + label,
                               "--log-level=user1,info", "--", "--config", conf], ns=ns)

        def up():
            if p.poll() is not None:
                raise Fail("edgelb-dp exited with %s:\n%s" % (p.returncode, self.tail(label)))
            return os.path.exists(sock) and self.dp_ctl(sock, {"op": "hello"}, quiet=True)
        self.wait_for(up, 30, "edgelb-dp's control socket %s" % sock, step=0.1)
        return p

    def dp_ctl(self, sock, req, quiet=False):
        """One request over the dp control socket with socat; the reply object."""
        r = subprocess.run(["socat", "-t", "5", "-T", "5", "-", "UNIX-CONNECT:" + sock],
                           input=(json.dumps(req) + "\n").encode(), capture_output=True,
                           timeout=15)
        line = r.stdout.decode().strip()
        if not line:
            if quiet:
                return None
            raise Fail("dp control socket %s: no reply to %s (%s)" % (sock, req, r.stderr.decode().strip()))
        return json.loads(line.splitlines()[0])

    def dp_services(self, sock):
        rep = self.dp_ctl(sock, {"op": "service.list", "id": 1})
        if not rep.get("ok"):
            raise Fail("service.list failed: %s" % rep)
        return rep["result"]["services"]

    def dp_matches(self, sock, api):
        """(equal, description) of the dp's services against the cp's list."""
        want = expected_services(api.list())
        got = services_of_dp(self.dp_services(sock))
        d = diff_services(want, got)
        return (d == "", d or "%d service(s) equal" % len(want))

    def wait_dp_matches(self, sock, api, timeout, what):
        last = [""]

        def fn():
            same, d = self.dp_matches(sock, api)
            last[0] = d
            return same
        try:
            self.wait_for(fn, timeout, what, step=0.15)
        except Fail:
            raise Fail("%s: the dp does not hold what the cp reports: %s" % (what, last[0]))
        self.ok("%s (%s)" % (what, last[0]))

    # -- edgelb-cp -----------------------------------------------------------------
    def cp_conf(self, path, sock, state, pools, listen="127.0.0.1:8470", token=None,
                hc=None, extra=""):
        """pools: list of dicts (name, addresses, auto_assign, avoid_buggy_ips)."""
        ps = []
        for p in pools:
            s = '  { name = "%s"; addresses = [%s];' % (
                p["name"], ", ".join('"%s"' % a for a in p["addresses"]))
            for k in ("auto_assign", "avoid_buggy_ips"):
                if k in p:
                    s += " %s = %s;" % (k, "true" if p[k] else "false")
            ps.append(s + " }")
        text = 'mode = "standalone";\ndp_socket = "%s";\nstate_file = "%s";\n' % (sock, state)
        text += 'api: { listen = "%s";%s };\n' % (listen, ' token = "%s";' % token if token else "")
        text += "pools = (\n%s\n);\n" % ",\n".join(ps)
        if hc:
            text += "health_check: { %s };\n" % " ".join("%s = %s;" % (k, json.dumps(v))
                                                         for k, v in hc.items())
        text += extra
        with open(path, "w") as f:
            f.write(text)
        return path

    def start_cp(self, conf, api, ns=None, label="cp", wait=True):
        ns = ns or self.ns
        p = self.spawn(label, [CP_BIN, "--config", conf], ns=ns)
        if wait:
            def up():
                if p.poll() is not None:
                    raise Fail("edgelb-cp exited with %s:\n%s" % (p.returncode, self.tail(label)))
                st, _ = api.req("GET", "/healthz", auth=False, timeout=2)
                return st == 200
            self.wait_for(up, 20, "edgelb-cp's /healthz", step=0.05)
        return p

    def run_cp(self, conf, timeout=10):
        """Run edgelb-cp expecting it to exit by itself: (status, output)."""
        try:
            r = subprocess.run(["ip", "netns", "exec", self.ns, CP_BIN, "--config", conf],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            return None, "still running after %ds (killed): %s" % (
                timeout, ((e.stdout or b"") + (e.stderr or b"")).decode(errors="replace"))
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    def metric(self, api, name):
        st, text = api.req("GET", "/metrics")
        if st != 200:
            raise Fail("/metrics answered %s" % st)
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise Fail("/metrics has no %s" % name)

    # -- logs and cleanup -------------------------------------------------------
    def tail(self, label, n=30):
        for lab, _, log in reversed(self.procs):
            if lab == label:
                try:
                    with open(log, errors="replace") as f:
                        return "".join(f.readlines()[-n:])
                except OSError:
                    return ""
        return ""

    def cleanup(self):
        # Out of the test's namespaces first: whatever kills the processes of a
        # namespace (topo_down, the loop below) must not find this one in it.
        try:
            self.enter(None)
        except OSError:
            pass
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # keep cleaning
                print("cleanup: %r" % e, file=sys.stderr)
        for _, p, _ in self.procs:
            if p.poll() is None:
                try:
                    p.terminate()
                except ProcessLookupError:
                    pass
        end = time.monotonic() + 5
        for _, p, _ in self.procs:
            try:
                p.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        for ns in self.netns:
            # Whatever still runs in a namespace this test made is the test's.
            r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in r.stdout.split():
                if int(pid) != os.getpid():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        if os.environ.get("EDGELB_TEST_KEEP") == "1":
            print("kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        for d in os.listdir("/var/run/dpdk") if os.path.isdir("/var/run/dpdk") else []:
            if d.startswith(self.tag):
                shutil.rmtree(os.path.join("/var/run/dpdk", d), ignore_errors=True)
        # The dps' persistent state (dp.state "auto": kept across restarts by
        # design, in /dev/shm with --no-huge): the test's, so removed with it.
        for d in ("/dev/shm", "/dev/hugepages"):
            for f in os.listdir(d) if os.path.isdir(d) else []:
                if f.startswith("edgelb-" + self.tag):
                    try:
                        os.unlink(os.path.join(d, f))
                    except OSError:
                        pass


def sh(argv, check=True, **kw):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60, **kw)
    if check and r.returncode != 0:
        raise Fail("%s failed (%d): %s" % (" ".join(map(str, argv)), r.returncode,
                                           (r.stderr or r.stdout).strip()))
    return r.stdout


# ---- the REST client ----------------------------------------------------------

class Api:
    def __init__(self, host="127.0.0.1", port=8470, token=None):
        self.host, self.port, self.token = host, port, token

    def req(self, method, path, body=None, raw=None, auth=True, headers=None, timeout=10):
        """(status, JSON or text). body: an object sent as JSON; raw: bytes as given."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = dict(headers or {})
        if auth and self.token and "Authorization" not in h:
            h["Authorization"] = "Bearer " + self.token
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            text = r.read().decode(errors="replace")
            status = r.status
        finally:
            c.close()
        ctype = r.getheader("Content-Type") or ""
        if ctype.startswith("application/json"):
            try:
                return status, json.loads(text)
            except ValueError:
                raise Fail("%s %s: %d with invalid JSON: %r" % (method, path, status, text[:200]))
        return status, text

    def must(self, want, method, path, body=None, **kw):
        st, j = self.req(method, path, body, **kw)
        if st != want:
            raise Fail("%s %s: expected %d, got %d %s" % (method, path, want, st, j))
        return j

    def list(self):
        return self.must(200, "GET", "/v1/loadbalancers")["items"]

    def pools(self):
        return {p["name"]: p for p in self.must(200, "GET", "/v1/pools")["items"]}

    def get(self, name, ns="default"):
        return self.must(200, "GET", "/v1/loadbalancers/%s/%s" % (ns, name))

    def create(self, body):
        return self.must(201, "POST", "/v1/loadbalancers", body)

    def delete(self, name, ns="default"):
        return self.must(200, "DELETE", "/v1/loadbalancers/%s/%s" % (ns, name))


def in_pool(ip, ranges):
    """ip inside one of the config-style ranges ("a-b", CIDR, single)."""
    a = ipaddress.ip_address(ip)
    for r in ranges:
        if "-" in r:
            lo, hi = (ipaddress.ip_address(x) for x in r.split("-"))
            if lo.version == a.version and lo <= a <= hi:
                return True
        elif a in ipaddress.ip_network(r, strict=False):
            return True
    return False


# ---- running a test --------------------------------------------------------------

def run(name, main, timeout):
    if os.geteuid() != 0:
        print("FAIL: needs root (network namespaces): run the tests as root")
        sys.exit(1)
    for b in (CP_BIN, DP_BIN):
        if not os.access(b, os.X_OK):
            print("FAIL: %s not built (EDGELB_BUILD=%s)" % (b, BUILD))
            sys.exit(1)
    for tool in ("ip", "socat", "curl"):
        if shutil.which(tool) is None:
            print("FAIL: %s not installed: run scripts/setup.sh" % tool)
            sys.exit(1)

    def on_alarm(sig, frm):
        raise Timeout("test deadline of %ds passed" % timeout)

    def on_term(sig, frm):
        raise SystemExit("signal %d" % sig)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.alarm(timeout)
    t = T(name, timeout)
    rc = 1
    try:
        main(t)
    except (Fail, Timeout) as e:
        t.failures.append(str(e))
        t.log("FAIL: %s" % e)
    except SystemExit as e:
        t.failures.append("stopped (%s)" % e)
        t.log("FAIL: stopped (%s)" % e)
    except BaseException:
        t.failures.append("unexpected error")
        t.log("FAIL: unexpected error\n" + traceback.format_exc())
    finally:
        if t.failures:
            t.log("FAIL: %d check(s) failed:\n  %s" % (len(t.failures), "\n  ".join(t.failures)))
        else:
            rc = 0
        signal.alarm(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if rc != 0:
            logs = [(label, log) for label, _, log in t.procs] + t.extra_logs
            for label, log in logs:
                if label.startswith(("cp", "dp")):
                    try:
                        with open(log, errors="replace") as f:
                            lines = f.readlines()[-15:]
                    except OSError:
                        lines = []
                    if lines:
                        print("---- %s log (%s, last %d lines) ----" % (label, log, len(lines)))
                        sys.stdout.write("".join(lines))
        t.cleanup()
    t.log("%s (%d checks)" % ("PASS" if rc == 0 else "FAILED", t.checks))
    print("%d passed, %d failed" % (t.checks, len(t.failures)))
    sys.exit(rc)
