#!/usr/bin/env python3
"""test_notify.py - the daemons' systemd notifications, without systemd.

Plays systemd's part: a datagram socket in $NOTIFY_SOCKET and a watchdog interval
in $WATCHDOG_USEC, then reads what the daemons send.

edgelb-dp (one idle net_null port, --no-huge): READY=1 once it forwards,
WATCHDOG=1 every half interval; then one worker lcore thread is stopped alone
(ptrace PTRACE_SEIZE + PTRACE_INTERRUPT stop just that thread, the rest of the
process runs on) and the pings must stop with a STATUS saying why; once the thread
runs again the pings resume; SIGTERM gives STOPPING=1 and exit 0.
edgelb-cp (standalone, API on a loopback port): READY=1, WATCHDOG=1, STOPPING=1.

Starts DPDK: run it alone (tests/pkg/meson.build wraps it in flock).
"""
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("EDGELB_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
DP = os.path.join(BUILD, "dp", "edgelb-dp")
CP = os.path.join(BUILD, "cp", "edgelb-cp")
WD_USEC = 400000            # pings every 200 ms
checks = 0


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def ok(msg):
    global checks
    checks += 1
    print("ok: " + msg, flush=True)


class Notify:
    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.s.settimeout(0.05)
        self.msgs = []          # (time, line)

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = self.s.recv(4096)
            except socket.timeout:
                continue
            for line in data.decode().splitlines():
                self.msgs.append((time.monotonic(), line))

    def wait_for(self, prefix, timeout, proc):
        end = time.monotonic() + timeout
        seen = len(self.msgs)
        while time.monotonic() < end:
            for t, line in self.msgs[seen:]:
                if line.startswith(prefix):
                    return line
            seen = len(self.msgs)
            if proc.poll() is not None:
                fail("process exited (%s) before sending %s" % (proc.returncode, prefix))
            self.pump(0.1)
        fail("no %s within %ss (got %s)" % (prefix, timeout, [m for _, m in self.msgs][-5:]))

    def count(self, prefix, since):
        return sum(1 for t, m in self.msgs if t >= since and m.startswith(prefix))


def forget_dp_state(prefix):
    """The dp's persistent state files (dp.state "auto", kept across restarts by
    design, in /dev/shm with --no-huge): this test's, removed when it ends."""
    for d in ("/dev/shm", "/dev/hugepages"):
        for f in os.listdir(d) if os.path.isdir(d) else []:
            if f.startswith("edgelb-" + prefix):
                try:
                    os.unlink(os.path.join(d, f))
                except OSError:
                    pass


def env_with(sock):
    e = dict(os.environ, NOTIFY_SOCKET=sock, WATCHDOG_USEC=str(WD_USEC))
    e.pop("WATCHDOG_PID", None)
    return e


libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207


def ptrace(req, tid):
    if libc.ptrace(req, tid, None, None) != 0:
        fail("ptrace(%#x, %d): %s" % (req, tid, os.strerror(ctypes.get_errno())))


def worker_tid(pid):
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            if "worker" in f.read():
                return int(tid)
    fail("no worker lcore thread in /proc/%d/task" % pid)


def test_dp(tmp):
    conf = os.path.join(tmp, "dp.conf")
    with open(conf, "w") as f:
        f.write('''dp: { workers = [1]; idle_sleep_us = 100; control_socket = ""; };
conntrack: { capacity = 4096; };
ports = ( { name = "p0"; device = "net_null0,no-rx=1"; role = "both";
            mac = "02:00:00:00:00:01"; addresses = ["198.18.255.1/24"]; } );
''')
    n = Notify(os.path.join(tmp, "dp-notify.sock"))
    log = open(os.path.join(tmp, "dp.log"), "w")
    p = subprocess.Popen([DP, "-l", "0,1", "--no-pci", "--no-huge", "-m", "256",
                          "--file-prefix", "notify%d" % os.getpid(), "--", "--config", conf],
                         env=env_with(n.path), stdout=log, stderr=subprocess.STDOUT)
    try:
        line = n.wait_for("READY=1", 60, p)
        ok("edgelb-dp sent READY=1")
        st = [m for _, m in n.msgs if m.startswith("STATUS=")]
        if not st or "forwarding" not in st[-1]:
            fail("no STATUS=forwarding... with READY (got %s)" % st)
        ok("edgelb-dp status: " + st[-1])
        t0 = time.monotonic()
        n.pump(2.0)
        c = n.count("WATCHDOG=1", t0)
        # About 10 expected; a loaded machine may delay the control thread or the
        # worker (a ping skipped), so only insist on a steady trickle.
        if c < 4:
            fail("%d WATCHDOG=1 in 2 s, want about 10 (every %d ms)" % (c, WD_USEC // 2000))
        ok("edgelb-dp feeds the watchdog: %d pings in 2 s" % c)

        tid = worker_tid(p.pid)
        ptrace(PTRACE_SEIZE, tid)
        ptrace(PTRACE_INTERRUPT, tid)
        try:
            t1 = time.monotonic()
            n.pump(0.7)     # a ping already due may still go out
            t2 = time.monotonic()
            n.pump(2.0)
            c = n.count("WATCHDOG=1", t2)
            if c:
                fail("%d WATCHDOG=1 while worker thread %d was stopped" % (c, tid))
            if p.poll() is not None:
                fail("edgelb-dp exited while its worker was stopped")
            stuck = [m for t, m in n.msgs if t >= t1 and "not made progress" in m]
            if not stuck:
                fail("no STATUS about the stuck worker")
            ok("worker %d stopped: no ping for 2 s, %s" % (tid, stuck[0]))
        finally:
            ptrace(PTRACE_DETACH, tid)
        n.wait_for("WATCHDOG=1", 3, p)
        ok("worker runs again: the pings resume")

        p.send_signal(signal.SIGTERM)
        n.wait_for("STOPPING=1", 20, p)
        if p.wait(timeout=30) != 0:
            fail("edgelb-dp exit status %d" % p.returncode)
        ok("SIGTERM: STOPPING=1, exit 0")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()
        if checks < 5:
            print(open(log.name).read()[-3000:])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_cp(tmp):
    conf = os.path.join(tmp, "cp.conf")
    with open(conf, "w") as f:
        f.write('''mode = "standalone";
dp_socket = "%s/none.sock";
state_file = "%s/state.json";
api: { listen = "127.0.0.1:%d"; };
pools = ( { name = "p"; addresses = ["198.18.0.100-198.18.0.110"]; } );
''' % (tmp, tmp, free_port()))
    n = Notify(os.path.join(tmp, "cp-notify.sock"))
    log = open(os.path.join(tmp, "cp.log"), "w")
    p = subprocess.Popen([CP, "--config", conf], env=env_with(n.path), stdout=log,
                         stderr=subprocess.STDOUT)
    try:
        n.wait_for("READY=1", 20, p)
        ok("edgelb-cp sent READY=1")
        t0 = time.monotonic()
        n.pump(1.5)
        if n.count("WATCHDOG=1", t0) < 3:
            fail("edgelb-cp: fewer than 3 WATCHDOG=1 in 1.5 s")
        ok("edgelb-cp feeds the watchdog")
        p.send_signal(signal.SIGTERM)
        n.wait_for("STOPPING=1", 10, p)
        if p.wait(timeout=20) != 0:
            fail("edgelb-cp exit status %d" % p.returncode)
        ok("edgelb-cp: STOPPING=1, exit 0")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()


def main():
    if os.geteuid() != 0:
        fail("needs root (DPDK, ptrace): run scripts/setup.sh and the tests as root")
    with tempfile.TemporaryDirectory(prefix="edgelb-notify.") as tmp:
        try:
            test_dp(tmp)
        finally:
            forget_dp_state("notify%d" % os.getpid())
        test_cp(tmp)
    print("%d passed, 0 failed" % checks)


if __name__ == "__main__":
    main()
