#!/usr/bin/python3
"""
synflood_client.py - the legitimate side of the SYN flood test (test_synflood.sh).

  synflood_client.py VIP PORT PHASE_FILE RESULT_FILE

Runs in the client namespace. Before the flood, opens one keep-alive HTTP
connection (the "established" one). Then, until PHASE_FILE says "stop", makes new
connections one after another: each must connect within FIRST_SYN_S (Linux
retransmits a lost SYN after 1 s, so a connect under 0.9 s went through at the
first SYN) and get an HTTP answer. When PHASE_FILE says "after", it measures how
long until a new connection succeeds again and asks once more on the
established connection. Bounded: every socket has a timeout, the whole run at
most MAX_S. Writes one JSON object to RESULT_FILE.
"""
import json
import socket
import sys
import time

FIRST_SYN_S = 0.9
MAX_S = 120


def http_get(s, path="/id"):
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            return None
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    while len(body) < n:
        d = s.recv(4096)
        if not d:
            return None
        body += d
    return body[:n].decode(errors="replace").strip() if head.startswith(b"HTTP/1.1 200") else None


def one(vip, port):
    """(connected at the first SYN, answered)"""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(FIRST_SYN_S)
    try:
        s.connect((vip, port))
    except OSError:
        s.close()
        return False, False
    s.settimeout(3)
    try:
        return True, http_get(s) is not None
    except OSError:
        return True, False
    finally:
        s.close()


def phase(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def main():
    vip, port, phase_file, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    t0 = time.monotonic()
    res = {"attempts": 0, "first_syn_ok": 0, "answered": 0}
    est = socket.create_connection((vip, port), timeout=3)
    est.settimeout(3)
    res["established_before"] = http_get(est)
    while phase(phase_file) != "flood" and time.monotonic() - t0 < MAX_S:
        time.sleep(0.02)
    while phase(phase_file) == "flood" and time.monotonic() - t0 < MAX_S:
        ok, ans = one(vip, port)
        res["attempts"] += 1
        res["first_syn_ok"] += ok
        res["answered"] += ans
        time.sleep(0.02)
    # after the flood: how long until a new client gets in
    t1 = time.monotonic()
    res["recovery_s"] = None
    while time.monotonic() - t1 < 30:
        ok, ans = one(vip, port)
        if ok and ans:
            res["recovery_s"] = round(time.monotonic() - t1, 3)
            break
        time.sleep(0.05)
    try:
        res["established_after"] = http_get(est)
    except OSError as e:
        res["established_after"] = None
        res["established_error"] = str(e)
    est.close()
    with open(out, "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
