#!/usr/bin/python3
"""
case_malformed.py - scenario 5: malformed and unwanted input, pcap files, one worker.

Each frame of the table below is dropped under exactly the named counter
(include/lb_counters.h), nothing is forwarded but the two valid control SYNs, and
the dp exits cleanly. The frames go through one dp run, the external ones in
ext-in.pcap, the internal ones in int-in.pcap.

ARP, ICMP echo for a VIP and TTL/hop limit 1 were first counted as drops (arp,
icmp, ttl_expired); the dp now hands them to its control thread (ctrl_punt), which
answers. They are rows of kind "ctrl": never forwarded, counted once as ctrl_punt,
each answered exactly once and correctly (ARP reply for the VIP, echo reply, ICMP
time exceeded to the sender), checked in check_answers(). The dp's own gratuitous
ARPs / unsolicited NAs in the output files are checked as announcements.
"""
import os
import struct

import lbtest as T
from scapy.all import (ARP, GRE, ICMP, IP, TCP, UDP, Dot1Q, Ether, IPv6, IPv6ExtHdrFragment,
                       IPv6ExtHdrHopByHop, Raw)

E = Ether(src=T.GW_MAC, dst=T.EXT_MAC)
C4, C6 = "198.18.100.1", "2001:db8:100::1"


def v4(**kw):
    kw.setdefault("src", C4)
    kw.setdefault("dst", T.VIP4)
    return IP(**kw)


def syn(sport=40000, dport=80):
    return TCP(sport=sport, dport=dport, flags="S", seq=1)


def patch(raw, off, data):
    b = bytearray(raw)
    b[off:off + len(data)] = data
    return bytes(b)


def fix_ipv4_csum(raw, l3=14):
    b = bytearray(raw)
    ihl = (b[l3] & 0xF) * 4
    b[l3 + 10:l3 + 12] = b"\0\0"
    b[l3 + 10:l3 + 12] = struct.pack("!H", T.inet_csum(bytes(b[l3:l3 + ihl])))
    return bytes(b)


def table():
    """(description, drop reason, port 'ext'|'int', frame)"""
    good = bytes(E / v4() / syn())
    t = [
        ("zero-length frame", "zero_len", b""),
        ("10-byte frame (truncated Ethernet header)", "l2_truncated", good[:10]),
        ("802.1Q tag cut short", "l2_truncated", bytes(E)[:12] + b"\x81\x00\x00\x64"),
        ("three 802.1Q tags", "vlan_depth",
         bytes(E / Dot1Q(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) / v4() / syn())),
        ("EtherType 0x88cc (LLDP), not IP", "non_ip", bytes(Ether(src=T.GW_MAC, dst=T.EXT_MAC, type=0x88CC) / Raw(b"\x02\x07" + b"x" * 40))),
        ("IPv4 header cut at 12 bytes", "l3_truncated", good[:14 + 12]),
        ("IPv6 header cut at 30 bytes", "l3_truncated",
         bytes(E / IPv6(src=C6, dst=T.VIP6) / syn())[:14 + 30]),
        ("IPv4 EtherType, version 6 in the header", "ip_version",
         fix_ipv4_csum(patch(good, 14, b"\x65"))),
        ("IHL 4 (< 5)", "bad_ihl", fix_ipv4_csum(patch(good, 14, b"\x44"))),
        ("IPv4 options (IHL 6, record-route NOP)", "ip_options",
         bytes(E / v4(options=[b"\x01\x01\x01\x00"]) / syn())),
        ("IPv4 total length larger than the frame", "bad_total_len",
         fix_ipv4_csum(patch(good, 14 + 2, struct.pack("!H", 200)))),
        ("IPv4 total length smaller than the header", "bad_total_len",
         fix_ipv4_csum(patch(good, 14 + 2, struct.pack("!H", 12)))),
        ("IPv6 payload length larger than the frame", "bad_total_len",
         patch(bytes(E / IPv6(src=C6, dst=T.VIP6) / syn()), 14 + 4, struct.pack("!H", 400))),
        ("wrong IPv4 header checksum", "ip_cksum", bytes(E / v4(chksum=0x1234) / syn())),
        ("IPv4 fragment: MF set, offset 0", "fragment", bytes(E / v4(flags="MF") / syn())),
        ("IPv4 fragment: offset 185, MF clear", "fragment", bytes(E / v4(frag=185) / Raw(b"y" * 40))),
        ("IPv6 fragment header", "fragment",
         bytes(E / IPv6(src=C6, dst=T.VIP6) / IPv6ExtHdrFragment(id=7, m=1) / syn())),
        ("IPv6 hop-by-hop header", "ipv6_ext",
         bytes(E / IPv6(src=C6, dst=T.VIP6) / IPv6ExtHdrHopByHop() / syn())),
        ("GRE (protocol 47)", "l4_proto", bytes(E / v4() / GRE() / Raw(b"z" * 20))),
        ("TCP header cut at 10 bytes", "l4_truncated", bytes(E / v4(proto=6) / Raw(bytes(syn())[:10]))),
        ("UDP header cut at 4 bytes", "l4_truncated", bytes(E / v4(proto=17) / Raw(b"\x13\x88\x00\x35"))),
        ("TCP data offset 4 (< 5)", "bad_tcp_doff", bytes(E / v4() / TCP(sport=40000, dport=80, flags="S", dataofs=4))),
        ("TCP data offset 15, beyond the packet", "bad_tcp_doff",
         bytes(E / v4() / TCP(sport=40000, dport=80, flags="S", dataofs=15))),
        ("source 127.0.0.1 (martian)", "martian", bytes(E / v4(src="127.0.0.1") / syn())),
        ("ICMP echo request to an unknown address", "icmp",
         bytes(E / v4(dst="198.18.50.50") / ICMP(type=8, id=2, seq=1) / Raw(b"ping"))),
        ("ICMP echo reply to the VIP (nothing asked)", "icmp",
         bytes(E / v4() / ICMP(type=0, id=3, seq=1) / Raw(b"pong"))),
        ("TTL 1 to VIP:80", "ctrl", bytes(E / v4(ttl=1) / syn())),
        ("TTL 0 to VIP:80", "ctrl", bytes(E / v4(ttl=0) / syn())),
        ("IPv6 hop limit 1 to VIP6:80", "ctrl",
         bytes(E / IPv6(src=C6, dst=T.VIP6, hlim=1) / syn())),
        ("to an unknown destination 198.18.50.50:80", "not_ours", bytes(E / v4(dst="198.18.50.50") / syn())),
        ("to the box's own address 198.18.0.2:22", "not_ours", bytes(E / v4(dst="198.18.0.2") / syn(dport=22))),
        ("valid SYN to VIP:80 but Ethernet dst another host's MAC", "not_ours",
         bytes(Ether(src=T.GW_MAC, dst=T.OTHER_MAC) / v4() / syn())),
        # issue 14, finding 1: stray and invalid TCP, port 0, land; none may make state
        ("TCP null scan (no flags) to VIP:80", "tcp_null",
         bytes(E / v4() / TCP(sport=40100, dport=80, flags=0))),
        ("TCP xmas scan (FIN PSH URG) to VIP:80", "tcp_xmas",
         bytes(E / v4() / TCP(sport=40101, dport=80, flags="FPU"))),
        ("TCP all flags (0xff) to VIP:80", "tcp_xmas",
         bytes(E / v4() / TCP(sport=40102, dport=80, flags=0xFF))),
        ("TCP SYN+FIN to VIP:80", "tcp_syn_fin",
         bytes(E / v4() / TCP(sport=40103, dport=80, flags="SF"))),
        ("TCP SYN+RST to VIP6:80", "tcp_syn_rst",
         bytes(E / IPv6(src=C6, dst=T.VIP6) / TCP(sport=40104, dport=80, flags="SR"))),
        ("TCP SYN from source port 0", "port_zero", bytes(E / v4() / syn(sport=0))),
        ("UDP from source port 0", "port_zero", bytes(E / v4() / UDP(sport=0, dport=80))),
        ("land: SYN from the VIP itself", "land", bytes(E / v4(src=T.VIP4) / syn(sport=80))),
        ("land: SYN from the box's own address", "land",
         bytes(E / v4(src=T.EXT_ADDRS[0].split("/")[0]) / syn(sport=40105))),
        ("land: SYN from a local (SNAT) address", "land",
         bytes(E / v4(src=T.LOCAL4[0]) / syn(sport=40106))),
        ("bare RST from an unknown client", "rst_no_conn",
         bytes(E / v4() / TCP(sport=40107, dport=80, flags="R", seq=5))),
        ("RST+ACK from an unknown client (IPv6)", "rst_no_conn",
         bytes(E / IPv6(src=C6, dst=T.VIP6) / TCP(sport=40108, dport=80, flags="RA", seq=5))),
        ("VIP on a port with no service (tcp 81)", "no_service", bytes(E / v4() / syn(dport=81))),
        ("VIP:80 over UDP (only tcp/80 is a service)", "no_service", bytes(E / v4() / UDP(sport=1, dport=80))),
        ("service with source_ranges, client outside them", "source_range",
         bytes(E / v4() / syn(dport=8000))),
        ("service whose backends are all down", "no_backend", bytes(E / v4() / syn(dport=8001))),
        ("ARP request for the VIP (broadcast)", "ctrl",
         bytes(Ether(src=T.GW_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=T.GW_MAC, psrc=T.GW4, pdst=T.VIP4))),
        ("ICMP echo request to the VIP", "ctrl", bytes(E / v4() / ICMP(type=8, id=1, seq=1) / Raw(b"ping" * 8))),
    ]
    t = [(d, r, "ext", f) for d, r, f in t]
    ib = Ether(src=T.BACKEND_MACS["198.19.0.10"], dst=T.INT_MAC)
    t += [
        ("backend reply to local 198.19.0.2:20000, no connection", "reply_no_conn", "int",
         bytes(ib / IP(src="198.19.0.10", dst=T.LOCAL4[0]) / TCP(sport=8080, dport=20000, flags="SA"))),
        ("backend reply to a client no dnat flow knows", "not_ours", "int",
         bytes(ib / IP(src="198.19.0.10", dst="198.18.100.9") / UDP(sport=5353, dport=5555) / Raw(b"x"))),
    ]
    return t


CONTROLS = [
    ("valid SYN to VIP:80", bytes(E / v4(ttl=64) / TCP(sport=41000, dport=80, flags="S", seq=11))),
    ("valid SYN to VIP:80 with an 802.1Q tag", bytes(E / Dot1Q(vlan=42) / v4(ttl=64) /
                                                     TCP(sport=41001, dport=80, flags="S", seq=12))),
]


def run_case(ck, tmp, build):
    rows = table()
    ext_frames = [f for _, _, p, f in rows if p == "ext"]
    int_frames = [f for _, _, p, f in rows if p == "int"]
    # controls first and last, so a crash half-way shows as a missing one
    ext_frames = [CONTROLS[0][1]] + ext_frames + [CONTROLS[1][1]]
    paths = {k: os.path.join(tmp, k + ".pcap") for k in ("ext-in", "int-in", "ext-out", "int-out")}
    T.write_pcap(paths["ext-in"], ext_frames)
    T.write_pcap(paths["int-in"], int_frames)
    svc = [{"name": "web", "vip": T.VIP4, "port": 80, "protocol": "tcp",
            "backends": [{"address": "198.19.0.10", "port": 8080}]},
           {"name": "web6", "vip": T.VIP6, "port": 80, "protocol": "tcp",
            "backends": [{"address": "2001:db8:2::10", "port": 8080}]},
           {"name": "ranged", "vip": T.VIP4, "port": 8000, "protocol": "tcp",
            "source_ranges": ["198.18.200.0/24", "2001:db8:200::/48"],
            "backends": [{"address": "198.19.0.10", "port": 8080}]},
           {"name": "alldown", "vip": T.VIP4, "port": 8001, "protocol": "tcp",
            "backends": [{"address": "198.19.0.10", "port": 8080, "state": "down"},
                         {"address": "198.19.0.11", "port": 8080, "state": "down"}]}]
    conf = T.make_conf(
        workers=[1],
        ports=[T.ext_port(T.pcap_files_device("net_pcap0", [paths["ext-in"]], [paths["ext-out"]])),
               T.int_port(T.pcap_files_device("net_pcap1", [paths["int-in"]], [paths["int-out"]]))],
        services=svc)

    ck.section(f"{len(rows)} malformed/unwanted frames and 2 valid controls through one dp run")
    for d, r, p, f in rows:
        print(f"  {p}: {len(f):4d} bytes  {r:14s} {d}")
    dp = T.Dp(build, tmp, conf, tag="malformed")
    dp.run(timeout=30)
    if not dp.check_exit(ck):
        return
    err = dp.stderr()
    ck.ok(not any(w in err for w in ("Segmentation", "panic", "PANIC", "Assertion")),
          "no crash, panic or assertion in stderr", err[-1500:])
    ck.ok("hash_seed is the built-in public value" in err,
          "the dp warns that it runs with the built-in hash_seed (issue 14, finding 11)", err[-1500:])

    ck.section("announcements (gratuitous ARP / unsolicited NA) of the dp's addresses")
    ext_out, int_out = T.read_pcap(paths["ext-out"]), T.read_pcap(paths["int-out"])
    garp = lambda raw: T.ctrl_kind(raw) and (raw[21] == 1 or raw[0] == 0x33)  # noqa: E731
    ann = T.check_announcements(ck, {"ext": [r for r in ext_out if garp(r)],
                                     "int": [r for r in int_out if garp(r)]},
                                [T.VIP4, T.VIP6], dp.stats())
    ck.section("answers of the control thread: ARP reply, echo reply, time exceeded")
    check_answers(ck, [r for r in ext_out if not garp(r)], rows)
    ck.section("outputs: only the two controls forwarded, on the internal port, untagged")
    outs = [r for r in int_out if not garp(r)]
    ck.eq(len(outs), 2, "frames sent on the internal port")
    for (what, raw_in), raw in zip(CONTROLS, outs):
        a = T.Frame(raw)
        exp = T.rewrite(raw_in, eth_src=T.INT_MAC, eth_dst=T.BACKEND_MACS["198.19.0.10"],
                        src=a.src_ip if a.src_ip in T.LOCAL4 else T.LOCAL4[0], dst="198.19.0.10",
                        sport=a.sport, dport=8080)
        T.check_frame(ck, what, raw, exp)

    ck.section("stats JSON: one drop per frame, under its reason")
    st = dp.stats()
    want = {}
    for _, r, _, _ in rows:
        want[r] = want.get(r, 0) + 1
    n_ctrl = want.pop("ctrl", 0)
    n_in = len(ext_frames) + len(int_frames)
    T.check_counters(ck, st, events={"rx_packets": n_in, "fwd_packets": 2, "rev_packets": 0,
                                     "ct_created": 2, "ctrl_punt": n_ctrl,
                                     "tx_packets": 2 + n_ctrl + ann["ext"] + ann["int"]},
                     drops=want)
    c = st.get("control", {})
    ck.eq((c.get("punted"), c.get("arp_requests_rx"), c.get("icmp_echo_replies"),
           c.get("icmp_errors_tx")), (n_ctrl, 1, 1, 3),
          "stats control (punted, arp_requests_rx, icmp_echo_replies, icmp_errors_tx)")
    ck.eq(sum(st["global"]["drops"].values()) + st["global"]["ctrl_punt"] + 2, n_in,
          "every frame accounted once: drops + ctrl_punt + forwarded == rx_packets")



def check_answers(ck, outs, rows):
    """
    What the dp's control thread sent out of the external port for the ctrl rows:
    exactly one answer each - ARP reply for the VIP, ICMP echo reply from the VIP,
    ICMP / ICMPv6 time exceeded from the box's external address quoting the
    datagram as received - to the asker's MAC, from the port's MAC, checksums valid.
    """
    asked = {d: f for d, r, _, f in rows if r == "ctrl"}
    print(f"  {len(outs)} answer frame(s) on the external port")
    found = {}
    for raw in outs:
        p = Ether(raw)
        ok = p.dst == T.GW_MAC and p.src == T.EXT_MAC
        key = None
        if ARP in p:
            a = p[ARP]
            key = "ARP request for the VIP (broadcast)"
            ok &= (a.op == 2 and a.psrc == T.VIP4 and a.hwsrc == T.EXT_MAC and a.pdst == T.GW4
                   and a.hwdst == T.GW_MAC)
        elif IP in p and ICMP in p:
            ip = p[IP]
            hdr = bytes(ip)[:ip.ihl * 4]
            icmp = bytes(ip)[ip.ihl * 4:ip.len]
            ok &= ip.dst == C4 and ip.chksum == T.ipv4_hdr_csum(hdr) and T.inet_csum(icmp) == 0
            if p[ICMP].type == 0:
                key = "ICMP echo request to the VIP"
                req = IP(asked[key][14:])
                ok &= ip.src == T.VIP4 and icmp[4:] == bytes(req[ICMP])[4:]
            elif p[ICMP].type == 11 and p[ICMP].code == 0:
                quoted = icmp[8:]
                ok &= ip.src == T.EXT_ADDRS[0].split("/")[0]
                for d in ("TTL 1 to VIP:80", "TTL 0 to VIP:80"):
                    orig = asked[d][14:]
                    if len(quoted) >= 28 and orig.startswith(quoted[:len(orig)]) and d not in found:
                        key = d
                        break
        elif IPv6 in p:
            ip6 = raw[14:54]
            icmp = raw[54:54 + struct.unpack("!H", ip6[4:6])[0]]
            ph = ip6[8:40] + struct.pack("!I3xB", len(icmp), 58)
            ok &= (p[IPv6].dst == C6 and p[IPv6].src == T.EXT_ADDRS[1].split("/")[0]
                   and ip6[6] == 58 and icmp[0] == 3 and icmp[1] == 0 and T.inet_csum(ph + icmp) == 0)
            orig = asked["IPv6 hop limit 1 to VIP6:80"][14:]
            ok &= orig.startswith(icmp[8:][:len(orig)]) and len(icmp) >= 8 + 48
            key = "IPv6 hop limit 1 to VIP6:80"
        if key is None or key in found:
            ck.ok(False, f"external port: unexpected or repeated frame {p.summary()}", raw.hex())
            continue
        found[key] = raw
        ck.ok(ok, f"answer to '{key}': {p.summary()}", raw.hex())
    for d in asked:
        ck.ok(d in found, f"'{d}' was answered")
