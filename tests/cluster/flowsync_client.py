#!/usr/bin/python3
"""flowsync_client.py - the clients' side of test_flowsync.sh.

Opens long-lived full-NAT connections to the VIPs (TCP and UDP, IPv4 and IPv6,
a new source port each) to the backends' flowsync_server.py, streams on every one
of them for --duration seconds and checks every byte:
  TCP: --size random bytes every --interval ms, echoed by the backend; at the end
       the client half-closes and the echoed stream must equal the sent one, with
       one header (the same backend, the same SNAT address and port throughout).
  UDP: a numbered datagram every --interval ms; each must come back intact, from
       the same backend and SNAT address and port as the first; an unanswered one
       is sent again every --retry ms (retransmissions are allowed), and one not
       answered after --lost seconds breaks the flow.
Writes one JSON object per connection to --out (proto, family, ok, why, backend,
snat, max_gap_ms: the longest silence between two answers while streaming, tx,
retries) and prints "INTACT TOTAL". One thread, non-blocking sockets, bounded.
"""
import argparse
import errno
import json
import random
import selectors
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("--vip4", required=True)
ap.add_argument("--vip6", required=True)
ap.add_argument("--port", type=int, default=9000)
ap.add_argument("--tcp", type=int, default=50, help="TCP connections per family")
ap.add_argument("--udp", type=int, default=50, help="UDP flows per family")
ap.add_argument("--duration", type=float, default=14.0)
ap.add_argument("--interval", type=float, default=200.0, help="ms between messages")
ap.add_argument("--size", type=int, default=256)
ap.add_argument("--retry", type=float, default=250.0, help="UDP: ms before sending again")
ap.add_argument("--lost", type=float, default=6.0, help="UDP: s without an answer = broken")
ap.add_argument("--grace", type=float, default=25.0, help="s after --duration to finish")
ap.add_argument("--out", required=True)
a = ap.parse_args()

sel = selectors.DefaultSelector()
T0 = time.monotonic()


def now():
    return time.monotonic()


class Flow:
    def __init__(self, fid, proto, fam):
        self.fid, self.proto, self.fam = fid, proto, fam
        self.rnd = random.Random(fid * 7919 + 17)
        self.ok = None
        self.why = ""
        self.hdr = None
        self.last_rx = None
        self.max_gap = 0.0
        self.tx = 0
        self.retries = 0
        self.start_at = T0 + fid * 0.005  # spread the opens over the first second
        self.end_at = self.start_at + a.duration
        self.next_send = self.start_at
        self.sock = None

    def vip(self):
        return a.vip4 if self.fam == 4 else a.vip6

    def family(self):
        return socket.AF_INET if self.fam == 4 else socket.AF_INET6

    def fail(self, why):
        if self.ok is None:
            self.ok = False
            self.why = why
            self.close()

    def close(self):
        if self.sock is not None:
            try:
                sel.unregister(self.sock)
            except (KeyError, ValueError):
                pass
            self.sock.close()
            self.sock = None

    def saw(self, hdr):
        if self.hdr is None:
            self.hdr = hdr
        elif hdr != self.hdr:
            self.fail("moved: %s -> %s" % (self.hdr, hdr))
            return False
        t = now()
        if self.last_rx is not None and t < self.end_at:
            self.max_gap = max(self.max_gap, t - self.last_rx)
        self.last_rx = t
        return True

    def result(self):
        backend, snat = (self.hdr.split(" ", 1) + [""])[:2] if self.hdr else ("", "")
        return {"id": self.fid, "proto": self.proto, "family": self.fam, "ok": bool(self.ok),
                "why": self.why, "backend": backend, "snat": snat,
                "max_gap_ms": round(self.max_gap * 1000), "tx": self.tx,
                "retries": self.retries}


class Tcp(Flow):
    def open(self):
        self.sent = bytearray()
        self.back = bytearray()
        self.buf = bytearray()  # header bytes until its newline
        self.out = bytearray()
        self.shut = False
        s = socket.socket(self.family(), socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s.connect((self.vip(), a.port))
        except BlockingIOError:
            pass
        self.sock = s
        self.connected = False
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, self)

    def tick(self, t):
        if self.sock is None or not self.connected:
            if self.sock is not None and t > self.start_at + 5:
                self.fail("connect timed out")
            return
        if t < self.end_at and t >= self.next_send:
            chunk = self.rnd.randbytes(a.size)
            self.sent += chunk
            self.out += chunk
            self.tx += 1
            self.next_send += a.interval / 1000
        self.flush()
        if t >= self.end_at and not self.out and not self.shut:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError as e:
                self.fail("shutdown: %s" % e)
                return
            self.shut = True

    def flush(self):
        if not self.out or self.sock is None:
            return
        try:
            n = self.sock.send(self.out)
            del self.out[:n]
        except BlockingIOError:
            pass
        except OSError as e:
            self.fail("send: %s" % e)

    def event(self, mask):
        if not self.connected and mask & selectors.EVENT_WRITE:
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.fail("connect: %s" % errno.errorcode.get(err, err))
                return
            self.connected = True
            sel.modify(self.sock, selectors.EVENT_READ, self)
        if not mask & selectors.EVENT_READ:
            return
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as e:
            self.fail("recv: %s (%d of %d bytes back)" % (e, len(self.back), len(self.sent)))
            return
        if not data:
            if not self.shut:
                self.fail("closed early (%d of %d bytes back)" % (len(self.back), len(self.sent)))
            elif self.back == self.sent:
                self.ok = True
                self.close()
            else:
                self.fail("%d of %d bytes back" % (len(self.back), len(self.sent)))
            return
        if self.hdr is None:
            self.buf += data
            if b"\n" not in self.buf:
                return
            hdr, _, data = bytes(self.buf).partition(b"\n")
            self.saw(hdr.decode(errors="replace"))
        elif not self.saw(self.hdr):
            return
        off = len(self.back)
        self.back += data
        if self.back != self.sent[:len(self.back)]:
            self.fail("wrong bytes at offset %d" % off)


class Udp(Flow):
    def open(self):
        self.seq = 0
        self.msgs = {}     # seq -> datagram
        self.pending = {}  # seq -> [first sent, last sent]
        s = socket.socket(self.family(), socket.SOCK_DGRAM)
        s.setblocking(False)
        s.connect((self.vip(), a.port))
        self.sock = s
        sel.register(s, selectors.EVENT_READ, self)

    def send(self, seq):
        try:
            self.sock.send(self.msgs[seq])
        except OSError:
            pass  # ICMP errors while a box changes: the datagram is sent again

    def tick(self, t):
        if self.sock is None:
            return
        if t < self.end_at and t >= self.next_send:
            self.seq += 1
            self.msgs[self.seq] = b"%d %d|" % (self.fid, self.seq) + self.rnd.randbytes(a.size)
            self.pending[self.seq] = [t, t]
            self.send(self.seq)
            self.tx += 1
            self.next_send += a.interval / 1000
        for seq, p in list(self.pending.items()):
            if t - p[0] > a.lost:
                self.fail("datagram %d unanswered for %.0f s (%d retries)" %
                          (seq, a.lost, self.retries))
                return
            if t - p[1] > a.retry / 1000:
                p[1] = t
                self.retries += 1
                self.send(seq)
        if t >= self.end_at and not self.pending:
            self.ok = True
            self.close()

    def event(self, mask):
        while self.sock is not None:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # a queued ICMP error; the datagram is sent again
            hdr, sep, body = data.partition(b"|")
            if not sep:
                self.fail("malformed answer")
                return
            if not self.saw(hdr.decode(errors="replace")):
                return
            try:
                seq = int(body.split(b"|", 1)[0].split(b" ")[1])
            except (IndexError, ValueError):
                self.fail("malformed answer")
                return
            if self.msgs.get(seq) != body:
                self.fail("wrong bytes in datagram %d" % seq)
                return
            self.pending.pop(seq, None)


flows = []
fid = 0
for fam in (4, 6):
    for _ in range(a.tcp):
        flows.append(Tcp(fid, "tcp", fam))
        fid += 1
    for _ in range(a.udp):
        flows.append(Udp(fid, "udp", fam))
        fid += 1
# Interleave the kinds so the opens spread evenly over the first second.
flows.sort(key=lambda f: (f.fid % 4, f.fid))
for i, f in enumerate(flows):
    f.start_at = T0 + i * 0.005
    f.end_at = f.start_at + a.duration
    f.next_send = f.start_at

deadline = T0 + 1 + a.duration + a.grace
opened = 0
while now() < deadline:
    t = now()
    while opened < len(flows) and flows[opened].start_at <= t:
        try:
            flows[opened].open()
        except OSError as e:
            flows[opened].fail("open: %s" % e)
        opened += 1
    live = 0
    for f in flows[:opened]:
        if f.ok is None:
            f.tick(t)
            live += f.ok is None
    if opened == len(flows) and live == 0:
        break
    for key, mask in sel.select(timeout=0.01):
        f = key.data
        if f.ok is None:
            f.event(mask)
for f in flows:
    if f.ok is None:
        f.fail("unfinished at the deadline (%s)" % ("no answer yet" if f.hdr is None else f.hdr))
with open(a.out, "w") as o:
    for f in flows:
        o.write(json.dumps(f.result()) + "\n")
print(sum(1 for f in flows if f.ok), len(flows))
