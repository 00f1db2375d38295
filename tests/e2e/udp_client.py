#!/usr/bin/python3
"""udp_client.py ADDR PORT N [same] - UDP request/response through a service.

Sends N requests to ADDR:PORT, each from a new socket (a new source port, so a
new flow) or, with "same", all from one socket (one flow). The socket is
connected, so only a reply from ADDR:PORT itself is accepted. Prints one line
per request: "SPORT PAYLOAD REPLY", REPLY being TIMEOUT when none came within
2 s (one resend after 1 s).
"""
import os
import socket
import sys

addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
same = len(sys.argv) > 4 and sys.argv[4] == "same"
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = None
for i in range(n):
    if s is None or not same:
        if s is not None:
            s.close()
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.connect((addr, port))
        s.settimeout(1.0)
    payload = "q%d-%s" % (i, os.urandom(4).hex())
    reply = "TIMEOUT"
    for _ in range(2):
        s.send(payload.encode())
        try:
            reply = s.recv(65535).decode(errors="replace")
            break
        except socket.timeout:
            continue
    print(s.getsockname()[1], payload, reply, flush=True)
