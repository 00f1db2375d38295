#!/usr/bin/env python3
"""flows-pcap.py - a pcap of N distinct client flows to one VIP:port, for pktgen's pcap mode.

    scripts/pktgen/flows-pcap.py --proto tcp --flows 1048576 --out /tmp/syn-1m.pcap \
        --dst-mac 02:00:00:00:00:02 --src-mac 02:00:00:00:01:00

Why a pcap: pktgen builds range-mode packets once into a fixed TX pool (24,576 mbufs per
queue in 23.06) and re-sends those same mbufs, so range mode never offers more distinct
flows than that pool holds. In pcap mode pktgen loads every packet of the file into its
own mempool (one mbuf per packet, about 320 bytes each for 60-byte frames) and sends
them in file order, over and over. A file of N distinct tuples therefore offers exactly
N flows, with the TCP flags and checksums written here, whatever the pktgen version.

Flow i (0 <= i < N) comes from address src_ip + i // ports_per_ip and port
sport + i % ports_per_ip; nothing repeats. TCP packets are SYNs (flags 0x02) with a
per-flow sequence number; UDP packets carry an 18-byte payload. Every IPv4 header
checksum and TCP/UDP checksum is correct. Frames are 60 bytes (64 on the wire with the
FCS the NIC adds). The last line of stdout is key=value: flows, proto, first and last
tuple. Pure Python, no dependencies: about 3 s per million packets.
"""
import argparse
import ipaddress
import struct
import sys


def csum_fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def words(b):
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))


def mac(s):
    b = bytes(int(x, 16) for x in s.split(":"))
    if len(b) != 6:
        raise argparse.ArgumentTypeError("bad MAC %r" % s)
    return b


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--proto", choices=["tcp", "udp"], default="tcp")
    ap.add_argument("--flows", type=int, default=1048576)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dst-mac", type=mac, default=mac("02:00:00:00:00:02"),
                    help="edgelb's external port MAC")
    ap.add_argument("--src-mac", type=mac, default=mac("02:00:00:00:01:00"),
                    help="the generator port's MAC")
    ap.add_argument("--vip", default="198.18.0.100")
    ap.add_argument("--vport", type=int, default=None, help="default 80 (tcp) or 53 (udp)")
    ap.add_argument("--src-ip", default="198.18.128.0", help="first client address")
    ap.add_argument("--sport", type=int, default=1024, help="first client port")
    ap.add_argument("--ports-per-ip", type=int, default=32768)
    a = ap.parse_args()

    vport = a.vport if a.vport is not None else (80 if a.proto == "tcp" else 53)
    if a.flows < 1 or a.ports_per_ip < 1 or a.sport < 1 or a.sport + a.ports_per_ip - 1 > 65535:
        sys.exit("flows-pcap: flows >= 1 and sport..sport+ports_per_ip-1 within 1..65535")
    base_ip = int(ipaddress.IPv4Address(a.src_ip))
    last_ip = base_ip + (a.flows - 1) // a.ports_per_ip
    if last_ip > 0xFFFFFFFF:
        sys.exit("flows-pcap: the client addresses run past 255.255.255.255")
    vip = ipaddress.IPv4Address(a.vip).packed

    proto = 6 if a.proto == "tcp" else 17
    l4_len = 20 if proto == 6 else 8 + 18
    ip_len = 20 + l4_len
    frame = bytearray(60)
    frame[0:6] = a.dst_mac
    frame[6:12] = a.src_mac
    frame[12:14] = b"\x08\x00"
    # IPv4: version/IHL, TOS, total length, id, DF, TTL 64, protocol, checksum 0, src, dst
    struct.pack_into("!BBHHHBBH4s4s", frame, 14, 0x45, 0, ip_len, 0, 0x4000, 64, proto, 0,
                     b"\0\0\0\0", vip)
    if proto == 6:
        # sport, dport, seq, ack, data offset 5, SYN, window 64240, checksum, urgent
        struct.pack_into("!HHIIBBHHH", frame, 34, 0, vport, 0, 0, 5 << 4, 0x02, 64240, 0, 0)
    else:
        struct.pack_into("!HHHH", frame, 34, 0, vport, l4_len, 0)
        frame[42:60] = b"edgelb-flows-pcap!"
    # Sums of everything but the per-flow fields (source address, port, TCP seq).
    ip_base = words(bytes(frame[14:34]))
    l4_base = words(bytes(frame[34:34 + l4_len])) + words(vip) + proto + l4_len

    out = open(a.out, "wb")
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # Ethernet
    rec = struct.Struct("<IIII")
    pack = struct.pack_into
    ppi = a.ports_per_ip
    chunk = []
    for i in range(a.flows):
        ip = base_ip + i // ppi
        sport = a.sport + i % ppi
        hi, lo = ip >> 16, ip & 0xFFFF
        pack("!I", frame, 26, ip)
        pack("!H", frame, 24, 0xFFFF - csum_fold(ip_base + hi + lo))
        pack("!H", frame, 34, sport)
        if proto == 6:
            seq = (i * 2654435761) & 0xFFFFFFFF
            pack("!I", frame, 38, seq)
            s = l4_base + hi + lo + sport + (seq >> 16) + (seq & 0xFFFF)
            pack("!H", frame, 50, 0xFFFF - csum_fold(s))
        else:
            c = 0xFFFF - csum_fold(l4_base + hi + lo + sport)
            pack("!H", frame, 40, c or 0xFFFF)
        chunk.append(rec.pack(i // 1000000, i % 1000000, 60, 60))
        chunk.append(bytes(frame))
        if len(chunk) >= 65536:
            out.write(b"".join(chunk))
            chunk = []
    out.write(b"".join(chunk))
    out.close()
    first = "%s:%d" % (ipaddress.IPv4Address(base_ip), a.sport)
    last = "%s:%d" % (ipaddress.IPv4Address(last_ip), a.sport + (a.flows - 1) % ppi)
    print("flows=%d proto=%s dst=%s:%d first=%s last=%s file=%s"
          % (a.flows, a.proto, a.vip, vport, first, last, a.out))


if __name__ == "__main__":
    main()
