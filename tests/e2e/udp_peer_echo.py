#!/usr/bin/python3
"""udp_peer_echo.py NAME PORT - UDP echo that names the peer it saw.

Answers each datagram with "NAME:PEERADDR:PEERPORT:DATA" on [::]:PORT (IPv4
too), so a test can tell whether the client address was kept (dnat) or
replaced by the box's source address (fnat).
"""
import socket
import sys

name = sys.argv[1]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[2])))
while True:
    data, peer = s.recvfrom(65535)
    a = peer[0][7:] if peer[0].startswith("::ffff:") else peer[0]
    s.sendto(("%s:%s:%d:" % (name, a, peer[1])).encode() + data, peer)
