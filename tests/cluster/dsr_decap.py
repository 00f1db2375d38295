#!/usr/bin/python3
"""
dsr_decap.py - the backend side of direct server return, in user space, for tests.

A Linux backend would decapsulate with the kernel (ipip/ip6_tunnel for mode ipip,
fou/gue for mode gue: docs/operations.md, "Direct server return"); this test
machine's kernel has none of those modules, so each test backend runs this
instead. It reads the outer packets the dp sends:
  IPv4 protocol 4   (raw socket: the outer IPv4 header comes along, cut it off)
  IPv6 next hdr 41  (raw socket: the kernel hands over the inner packet)
  UDP port GUE_PORT (GUE variant 1: the UDP payload is the inner packet)
and writes each inner packet, unchanged, into a TUN device. The kernel then takes
it as if it had arrived from the client: the VIP is on the backend's loopback, so
nginx answers, and the answer leaves by the backend's default route, not through
the box. Counts go to the status file every second. Runs until killed.

usage: dsr_decap.py TUN_NAME GUE_PORT STATUS_FILE
"""
import fcntl
import os
import select
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def main():
    name, gue_port, status = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 41)
    gue = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    gue.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    gue.bind(("::", gue_port))
    for s in (s4, s6, gue):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    counts = {"ipip4": 0, "ipip6": 0, "gue": 0, "bad": 0}
    last = 0.0
    with open(status + ".tmp", "w") as f:
        f.write("ready\n")
    os.rename(status + ".tmp", status)
    while True:
        r, _, _ = select.select([s4, s6, gue], [], [], 1.0)
        for s in r:
            data = s.recv(65535)
            if s is s4:
                inner = data[(data[0] & 0x0F) * 4:] if data else b""
                kind = "ipip4"
            elif s is s6:
                inner, kind = data, "ipip6"
            else:
                inner, kind = data, "gue"
            if not inner or inner[0] >> 4 not in (4, 6):
                counts["bad"] += 1
                continue
            os.write(tun, inner)
            counts[kind] += 1
        if time.monotonic() - last >= 1.0:
            last = time.monotonic()
            with open(status + ".tmp", "w") as f:
                f.write(" ".join("%s=%d" % kv for kv in counts.items()) + "\n")
            os.rename(status + ".tmp", status)


if __name__ == "__main__":
    main()
