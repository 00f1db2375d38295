#!/usr/bin/python3
"""
case_ctl_lib.py - a client of the dp control socket for the tests (docs/control-protocol.md),
and the checks every reply gets. Used by case_ctl.py and case_affinity_workers.py.

Every read is bounded in time: a dp that never answers is a failure, not a hang.
"""
import errno
import json
import select
import socket
import struct
import time

MAX_LINE = 8 << 20          # LB_CTL_MAX_LINE, newline excluded
MAX_CLIENTS = 64            # LB_CTL_MAX_CLIENTS
CONNS_LIMIT_MAX = 100000    # LB_CTL_CONNS_LIMIT_MAX
REPLY_TIMEOUT = 15.0        # generous: the box is shared and often loaded


class Closed(Exception):
    """The dp closed the connection (EOF or ECONNRESET) before a whole line came."""


def same_json(a, b):
    """Equal as JSON values, types included (True is not 1, 1 is not 1.0)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


class Ctl:
    """One connection to the control socket: raw lines out, reply lines in."""

    def __init__(self, path, timeout=REPLY_TIMEOUT):
        self.path = path
        self.timeout = timeout
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # A blocking connect waits while the listen backlog is full (a non-blocking one
        # fails with EAGAIN at once); SO_SNDTIMEO bounds that wait.
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                          struct.pack("ll", int(timeout), int((timeout % 1) * 1e6)))
        try:
            self.s.connect(path)
        except OSError:
            self.s.close()
            raise
        self.s.settimeout(timeout)
        self.buf = b""
        self.eof = False
        self.reset = False      # the dp closed with our data unread (ECONNRESET after the data)
        self.next_id = 1

    def send_raw(self, data):
        self.s.sendall(data)

    def send(self, obj):
        self.s.sendall(json.dumps(obj).encode() + b"\n")

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no reply line in time")
        r, _, _ = select.select([self.s], [], [], left)
        if not r:
            raise TimeoutError("no reply line in time")
        try:
            d = self.s.recv(1 << 20)
        except ConnectionResetError:
            self.reset = True
            d = b""
        except OSError as e:
            if e.errno != errno.ECONNRESET:
                raise
            self.reset = True
            d = b""
        if not d:
            self.eof = True
        self.buf += d

    def read_line(self, timeout=None):
        """The next line (bytes, newline stripped); Closed at EOF; TimeoutError."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            if self.eof:
                raise Closed(f"closed; {len(self.buf)} byte(s) without a newline: {self.buf[:200]!r}")
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def read_reply(self, timeout=None):
        """The next reply decoded; a line that is not a JSON object is returned as bytes."""
        line = self.read_line(timeout)
        try:
            v = json.loads(line)
        except ValueError:
            return line
        return v if isinstance(v, dict) else line

    def closed_after(self, timeout=None):
        """True when the dp closes the connection with nothing more to read."""
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            while not self.eof:
                self._fill(deadline)
        except TimeoutError:
            return False
        return self.buf == b""

    def call(self, op, **fields):
        """One request with a fresh numeric id; returns the reply (not checked)."""
        rid = self.next_id
        self.next_id += 1
        req = {"op": op, "id": rid}
        req.update(fields)
        self.send(req)
        return self.read_reply()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def _brief(rep):
    s = rep if isinstance(rep, (bytes, str)) else json.dumps(rep)
    return (s[:400] + "...") if len(s) > 400 else s


def check_ok(ck, what, rep, rid=None, check_id=True):
    """A success reply: exactly id, ok=true, result (an object); id echoed."""
    good = (isinstance(rep, dict) and set(rep) == {"id", "ok", "result"} and rep["ok"] is True
            and isinstance(rep["result"], dict) and (not check_id or same_json(rep["id"], rid)))
    ck.ok(good, f"{what}: ok reply" + (f" with id {json.dumps(rid)}" if check_id else ""),
          f"got {_brief(rep)}")
    return rep["result"] if good else None


def check_err(ck, what, rep, code, words=(), rid=None):
    """
    A failure reply: exactly id, ok=false, error (a non-empty sentence naming the
    problem: every one of words appears in it, case-insensitive), code; id echoed
    (null when the request had none or could not be read).
    """
    good = (isinstance(rep, dict) and set(rep) == {"id", "ok", "error", "code"}
            and rep["ok"] is False and isinstance(rep["error"], str) and rep["error"].strip() != ""
            and same_json(rep["id"], rid))
    if not ck.ok(good, f"{what}: error reply (ok=false, error, code, id {json.dumps(rid)})",
                 f"got {_brief(rep)}"):
        return False
    ok = ck.eq(rep["code"], code, f"{what}: code")
    missing = [w for w in words if w.lower() not in rep["error"].lower()]
    ok &= ck.ok(not missing, f"{what}: message names the problem ({', '.join(map(repr, words))}):"
                f" {rep['error']!r}", f"missing {missing}")
    return ok


def usable(ck, c, what):
    """The connection still answers: a hello with a fresh id."""
    try:
        rep = c.call("hello")
    except (OSError, Closed, TimeoutError) as e:
        return ck.ok(False, f"{what}: connection still usable (hello)", f"{type(e).__name__}: {e}")
    return check_ok(ck, f"{what}: connection still usable (hello)", rep, c.next_id - 1) is not None


def stats_get(ck, c, what):
    rep = c.call("stats.get")
    return check_ok(ck, f"{what}: stats.get", rep, c.next_id - 1)


def no_drops(ck, c, what, allowed=None):
    """stats.get over the socket: every drop reason 0 (or as allowed), globally and per worker."""
    st = stats_get(ck, c, what)
    if st is None:
        return None
    allowed = allowed or {}
    bad = {k: v for k, v in st["global"]["drops"].items() if v != allowed.get(k, 0)}
    for w in st["workers"]:
        bad.update({f"worker {w['worker']} {k}": v for k, v in w["drops"].items()
                    if v and k not in allowed})
    ck.ok(not bad, f"{what}: no drop counter moved" + (f" but {allowed}" if allowed else ""),
          f"drops {bad}")
    return st
