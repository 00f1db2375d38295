#!/usr/bin/python3
"""
case_oracle.py - the per-packet oracle must catch a wrong packet (no dp involved).

lbtest.check_frame() is what every scenario relies on. Here it is handed correct
translations (must pass) and, for each field the scenarios claim to check, a copy
broken in just that field with every checksum still valid where that isolates the
fault (must fail). A vacuous oracle would make every scenario pass vacuously.
"""
import contextlib
import io
import struct

import lbtest as T
from scapy.all import IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw


def refresh(raw, family):
    """Recompute IPv4 header and L4 checksums of an Eth/IP/L4 frame (own code)."""
    f = T.Frame(raw)
    b = bytearray(raw)
    if family == 4:
        b[f.l3 + 10:f.l3 + 12] = struct.pack("!H", T.ipv4_hdr_csum(bytes(b[f.l3:f.l4])))
    off = 16 if f.proto == 6 else 6
    f2 = T.Frame(bytes(b))
    c = T.l4_csum(family, f2.src, f2.dst, f2.proto, f2.segment())
    b[f.l4 + off:f.l4 + off + 2] = struct.pack("!H", c)
    return bytes(b)


def mutate(raw, off, data, family=None):
    b = bytearray(raw)
    b[off:off + len(data)] = data
    return refresh(bytes(b), family) if family else bytes(b)


def verdict(actual, expected):
    quiet = T.Checks("inner")
    with contextlib.redirect_stdout(io.StringIO()):
        return T.check_frame(quiet, "x", actual, expected)


def run_case(ck):
    c4 = bytes(Ether(src=T.GW_MAC, dst=T.EXT_MAC) / Dot1Q(vlan=5) /
               IP(src="198.18.100.1", dst=T.VIP4, ttl=64, id=77) /
               TCP(sport=40000, dport=80, flags="PA", seq=5, ack=9,
                   options=[("NOP", None), ("NOP", None), ("Timestamp", (1, 2))]) /
               Raw(b"hello, odd payload")) + b"\x01\x02\x03"
    good4 = T.rewrite(c4, eth_src=T.INT_MAC, eth_dst=T.BACKEND_MACS["198.19.0.10"],
                      src=T.LOCAL4[0], dst="198.19.0.10", sport=20001, dport=8080)
    c6 = bytes(Ether(src=T.GW_MAC, dst=T.EXT_MAC) / IPv6(src="2001:db8:100::1", dst=T.VIP6, hlim=9) /
               UDP(sport=5000, dport=53) / Raw(b"q" * 11))
    good6 = T.rewrite(c6, eth_src=T.INT_MAC, eth_dst=T.BACKEND_MACS["2001:db8:2::10"],
                      dst="2001:db8:2::10", dport=5353)

    ck.section("correct translations pass")
    ck.ok(verdict(good4, good4), "IPv4 TCP (VLAN tag and padding in, neither out)")
    ck.ok(verdict(good6, good6), "IPv6 UDP")
    f4 = T.Frame(good4)
    ck.eq((f4.ttl, f4.vlans, len(f4.trailer), f4.src_ip, f4.sport), (63, 0, 0, T.LOCAL4[0], 20001),
          "rewrite(): ttl, tags, padding, source, port")
    scapy_view = Ether(good4)
    del scapy_view[IP].chksum
    del scapy_view[TCP].chksum
    ck.ok(bytes(Ether(bytes(scapy_view))) == good4,
          "own checksums equal scapy's (chksum fields deleted and rebuilt)")

    ck.section("one broken field each: the oracle must fail")
    l3, l4 = f4.l3, f4.l4
    cases = [
        ("eth dst", mutate(good4, 0, b"\x02\x00\x00\x00\x01\x11")),
        ("eth src", mutate(good4, 6, b"\x02\x00\x00\x00\x00\x02")),
        ("ip src (checksums valid)", mutate(good4, l3 + 12, T.ip_bytes(T.LOCAL4[1]), 4)),
        ("ip dst (checksums valid)", mutate(good4, l3 + 16, T.ip_bytes("198.19.0.11"), 4)),
        ("sport (checksums valid)", mutate(good4, l4, struct.pack("!H", 20002), 4)),
        ("dport (checksums valid)", mutate(good4, l4 + 2, struct.pack("!H", 8081), 4)),
        ("TTL not decremented (checksums valid)", mutate(good4, l3 + 8, b"\x40", 4)),
        ("IPv4 header checksum off by one", mutate(good4, l3 + 10, struct.pack(
            "!H", (f4.ip_csum + 1) & 0xFFFF))),
        ("TCP checksum off by one", mutate(good4, l4 + 16, struct.pack("!H", (f4.l4_csum + 1) & 0xFFFF))),
        ("payload byte (checksums valid)", mutate(good4, len(good4) - 1, b"?", 4)),
        ("IPv4 id (checksums valid)", mutate(good4, l3 + 4, b"\x00\x4e", 4)),
        ("TCP option (checksums valid)", mutate(good4, l4 + 24, b"\x00\x00\x00\x09", 4)),
        ("Ethernet padding left", good4 + b"\0" * 6),
        ("802.1Q tag left", good4[:12] + b"\x81\x00\x00\x05" + good4[12:]),
        ("IPv6 hop limit not decremented", mutate(good6, 14 + 7, b"\x09", 6)),
        ("IPv6 UDP checksum zero", mutate(good6, 14 + 40 + 6, b"\0\0")),
        ("IPv6 dst (checksums valid)", mutate(good6, 14 + 24, T.ip_bytes("2001:db8:2::11"), 6)),
    ]
    for what, bad in cases:
        exp = good6 if "IPv6" in what else good4
        ck.ok(not verdict(bad, exp), f"caught: {what}")

    ck.section("UDP: a checksum computing to 0 is sent as 0xffff; IPv4 'no checksum' stays 0")
    seg = bytes(UDP(sport=1, dport=2, len=10, chksum=0)) + b"\0\0"
    src, dst = T.ip_bytes("198.18.100.1"), T.ip_bytes("198.19.0.10")
    s = T.inet_sum(src + dst + bytes([0, 17, 0, 10]) + seg)
    seg = seg[:8] + ((0xFFFF - s) & 0xFFFF).to_bytes(2, "big")
    ck.eq(T.l4_csum(4, src, dst, 17, seg), 0xFFFF, "l4_csum() of a datagram summing to 0xffff")
    z = bytes(Ether() / IP(src="198.18.100.1", dst=T.VIP4) / UDP(sport=1, dport=53, chksum=0) / Raw(b"abc"))
    zr = T.rewrite(z, eth_src=T.INT_MAC, eth_dst=T.GW_MAC, dst="198.19.0.10")
    ck.eq(T.Frame(zr).l4_csum, 0, "rewrite() keeps an IPv4 UDP checksum of 0")
