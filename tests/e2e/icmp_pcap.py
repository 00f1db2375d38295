#!/usr/bin/python3
"""icmp_pcap.py FILE - list the "too big" ICMP errors in a pcap (Ethernet).

One line per ICMPv4 "fragmentation needed" or ICMPv6 "packet too big":
  v4|v6 SRC DST mtu=N inner=ISRC.IPORT>IDST.IPORT cksum=ok|bad
cksum is the ICMP checksum recomputed from scratch (ICMPv6 with its pseudo
header). Used by the end-to-end PMTU test; no third-party modules.
"""
import ipaddress
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def inner(pkt, v6):
    """src, sport, dst, dport of the quoted datagram (TCP/UDP ports)."""
    if v6:
        src, dst = pkt[8:24], pkt[24:40]
        l4 = pkt[40:]
    else:
        ihl = (pkt[0] & 15) * 4
        src, dst = pkt[12:16], pkt[16:20]
        l4 = pkt[ihl:]
    sport, dport = struct.unpack("!HH", l4[:4]) if len(l4) >= 4 else (0, 0)
    return (ipaddress.ip_address(src), sport, ipaddress.ip_address(dst), dport)


def main(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        if off + 16 + incl > len(data):
            break  # still being written
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        etype = struct.unpack("!H", frame[12:14])[0]
        ip = frame[14:]
        if etype == 0x0800 and len(ip) >= 28 and ip[9] == 1:
            ihl = (ip[0] & 15) * 4
            tot = struct.unpack("!H", ip[2:4])[0]
            icmp = ip[ihl:tot]
            if icmp[0] != 3 or icmp[1] != 4:
                continue
            mtu = struct.unpack("!H", icmp[6:8])[0]
            ok = csum(icmp) == 0xFFFF
            src, dst = ipaddress.ip_address(ip[12:16]), ipaddress.ip_address(ip[16:20])
            i = inner(icmp[8:], False)
            fam = "v4"
        elif etype == 0x86DD and len(ip) >= 48 and ip[6] == 58:
            plen = struct.unpack("!H", ip[4:6])[0]
            icmp = ip[40:40 + plen]
            if icmp[0] != 2:
                continue
            mtu = struct.unpack("!I", icmp[4:8])[0]
            pseudo = ip[8:40] + struct.pack("!IxxxB", plen, 58)
            ok = csum(pseudo + icmp) == 0xFFFF
            src, dst = ipaddress.ip_address(ip[8:24]), ipaddress.ip_address(ip[24:40])
            i = inner(icmp[8:], True)
            fam = "v6"
        else:
            continue
        print("%s %s %s mtu=%d inner=%s.%d>%s.%d cksum=%s" %
              (fam, src, dst, mtu, i[0], i[1], i[2], i[3], "ok" if ok else "bad"))


main(sys.argv[1])
