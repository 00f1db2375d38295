#!/usr/bin/python3
"""
flows.py - test flows and their expected translations, shared by the scenarios.

A Flow is one client connection to a service. Its packets are built with scapy;
the dp's first output teaches the test what the dp chose (backend, fnat source
address and port, owning worker), every later packet of the flow must agree with
it, and every output frame is checked against lbtest.rewrite() of its input.
"""
from scapy.all import IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw  # noqa: F401

import lbtest as T


class Flow:
    def __init__(self, i, *, family, client, cport, vip, vport, proto, mode, backends, bport,
                 ext_q=0, client_ttl=64, vlan=None, pad=b"", tos=0):
        self.i = i
        self.family = family
        self.client, self.cport = client, cport
        self.vip, self.vport = vip, vport
        self.proto = proto          # 6 or 17
        self.mode = mode            # "fnat" or "dnat"
        self.backends = backends    # addresses that may take this flow
        self.bport = bport
        self.ext_q = ext_q          # external queue (worker) the client's packets arrive on
        self.client_ttl = client_ttl
        self.vlan = vlan
        self.pad = pad
        self.tos = tos
        # learned from the dp's first output
        self.backend = None
        self.lip = None
        self.lport = None
        self.owner = None           # worker that owns the connection
        self.cseq = 1000000 * (i + 1)
        self.bseq = 500000000 + 1000000 * (i + 1)
        self.ip_id = 0x100 * (i + 1)
        self.pkts = 0               # packets forwarded in either direction
        self.bytes = 0              # their IP lengths

    def name(self):
        c = f"[{self.client}]" if self.family == 6 else self.client
        return f"flow {self.i} {c}:{self.cport}"

    # -- frames ------------------------------------------------------------------

    def _ip(self, src, dst, ttl, tos=0):
        if self.family == 4:
            self.ip_id += 1
            return IP(src=src, dst=dst, ttl=ttl, id=self.ip_id, flags="DF", tos=tos)
        return IPv6(src=src, dst=dst, hlim=ttl, tc=tos, fl=self.i + 1)

    def _l4(self, sport, dport, flags, seq, ack, payload, options):
        if self.proto == 6:
            t = TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=29200,
                    options=options or [])
        else:
            t = UDP(sport=sport, dport=dport)
        return t / Raw(payload) if payload else t

    def from_client(self, flags="", payload=b"", options=None, udp_zero_csum=False):
        """client -> VIP:vport on the external port, via the gateway's MAC."""
        eth = Ether(src=T.GW_MAC, dst=T.EXT_MAC)
        if self.vlan is not None:
            eth = eth / Dot1Q(vlan=self.vlan)
        ack = 0 if flags == "S" else self.bseq
        pkt = eth / self._ip(self.client, self.vip, self.client_ttl, self.tos) / self._l4(
            self.cport, self.vport, flags, self.cseq, ack, payload, options)
        if self.proto == 6:
            self.cseq += len(payload) + (1 if "S" in flags or "F" in flags else 0)
        raw = bytes(pkt)
        if udp_zero_csum:
            raw = _zero_udp_csum(raw)
        return raw + self.pad

    def from_backend(self, flags="", payload=b"", options=None, dst_mac=T.INT_MAC,
                     udp_zero_csum=False):
        """backend -> (fnat: local address:port, dnat: client) on the internal port."""
        if self.mode == "fnat":
            dst, dport = self.lip, self.lport
        else:
            dst, dport = self.client, self.cport
        ack = self.cseq
        pkt = Ether(src=T.BACKEND_MACS[self.backend], dst=dst_mac) / self._ip(
            self.backend, dst, 64) / self._l4(self.bport, dport, flags, self.bseq, ack, payload,
                                              options)
        if self.proto == 6:
            self.bseq += len(payload) + (1 if "S" in flags or "F" in flags else 0)
        raw = bytes(pkt)
        if udp_zero_csum:
            raw = _zero_udp_csum(raw)
        return raw

    # -- expected outputs --------------------------------------------------------

    def expect_fwd(self, raw_in):
        if self.mode == "fnat":
            return T.rewrite(raw_in, eth_src=T.INT_MAC, eth_dst=T.BACKEND_MACS[self.backend],
                             src=self.lip, dst=self.backend, sport=self.lport, dport=self.bport)
        return T.rewrite(raw_in, eth_src=T.INT_MAC, eth_dst=T.BACKEND_MACS[self.backend],
                         dst=self.backend, dport=self.bport)

    def expect_rev(self, raw_in):
        if self.mode == "fnat":
            return T.rewrite(raw_in, eth_src=T.EXT_MAC, eth_dst=T.GW_MAC, src=self.vip,
                             dst=self.client, sport=self.vport, dport=self.cport)
        return T.rewrite(raw_in, eth_src=T.EXT_MAC, eth_dst=T.GW_MAC, src=self.vip,
                         sport=self.vport)


def _zero_udp_csum(raw):
    f = T.Frame(raw)
    b = bytearray(raw)
    b[f.l4 + 6:f.l4 + 8] = b"\0\0"
    return bytes(b)


def with_payload_for_zero_csum(flow, make, expect, payload_len=16):
    """
    A UDP payload whose *translated* datagram sums to 0xffff, so its checksum
    computes to 0 and must be sent as 0xffff (RFC 768). make(payload) builds the
    input frame, expect(raw) the expected output; the last two payload bytes are
    solved for.
    """
    base = bytes(range(1, payload_len - 1)) + b"\0\0"
    raw = make(base)
    out = T.Frame(expect(raw))
    seg = bytearray(out.segment())
    seg[6:8] = b"\0\0"
    if out.family == 4:
        ph = out.src + out.dst + bytes([0, 17]) + len(seg).to_bytes(2, "big")
    else:
        ph = out.src + out.dst + len(seg).to_bytes(4, "big") + bytes([0, 0, 0, 17])
    s = T.inet_sum(ph + bytes(seg))
    fix = (0xFFFF - s) & 0xFFFF
    # payload starts 8 bytes into seg; its last two bytes sit at an even offset only if
    # the payload length is even, which it is
    return make(base[:-2] + fix.to_bytes(2, "big"))


def tcp_syn_options():
    return [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (12345, 0)), ("NOP", None),
            ("WScale", 7)]


def tcp_ts_options():
    return [("NOP", None), ("NOP", None), ("Timestamp", (12346, 777))]


class Exchange:
    """
    Sends frames on test links, waits for the dp's outputs on others, and checks
    every output against its input's expected translation.
    """

    def __init__(self, ck, wires):
        self.ck = ck
        self.wires = wires

    def run(self, what, sends, out_links, timeout=5.0):
        """
        sends: [(link, raw_in, check)] where check(out_link, raw_out, raw_in) asserts.
        All go out first (in order), then every output is paired with its input by key.
        """
        expected = {}
        for link, raw, check in sends:
            k = T.Frame(raw).key()
            assert k not in expected, f"test bug: two inputs with key {k}"
            expected[k] = (raw, check)
        for link, raw, _ in sends:
            self.wires.send(link, raw)
        got = self.wires.collect(out_links, len(sends), timeout=timeout)
        return T.match_outputs(self.ck, what, got, expected,
                               lambda item, l, r: item[1](l, r, item[0]))


def learn_fwd(ck, flow, *, locals_, snat, n_workers=1, link_of_worker=None, owner_from="port",
              what="first packet"):
    """
    Check for the first client -> backend packet of a flow: a valid backend, (fnat)
    a source from local_addresses and snat_ports, the port's residue naming the
    worker, the frame itself. Learns backend / source / owner into flow.
    """
    def check(link, raw, raw_in):
        a = T.Frame(raw)
        flow.backend = a.dst_ip
        ok = ck.ok(a.dst_ip in flow.backends,
                   f"{flow.name()} {what}: backend {a.dst_ip} is an eligible backend",
                   f"eligible: {flow.backends}")
        if flow.mode == "fnat":
            flow.lip, flow.lport = a.src_ip, a.sport
            ok &= ck.ok(a.src_ip in locals_ and snat[0] <= a.sport <= snat[1],
                        f"{flow.name()}: fnat source {a.src_ip}:{a.sport} in local_addresses "
                        f"and snat_ports {snat[0]}-{snat[1]}")
            if n_workers > 1:
                flow.owner = a.sport % n_workers
                ck.eq(flow.owner, flow.ext_q,
                      f"{flow.name()}: snat port % workers (owner) is the worker that saw the SYN")
        if link_of_worker is not None and flow.owner is None:
            flow.owner = link_of_worker(link)
        if link_of_worker is not None:
            ck.eq(link_of_worker(link), flow.owner,
                  f"{flow.name()}: sent by the owning worker's queue")
        if not ok:
            return
        account(flow, raw_in)
        T.check_frame(ck, f"{flow.name()} fwd", raw, flow.expect_fwd(raw_in))
    return check


def account(flow, raw_in):
    f = T.Frame(raw_in)
    flow.pkts += 1
    flow.bytes += f.ip_total


def fwd(ck, flow, link_of_worker=None, what="fwd"):
    def check(link, raw, raw_in):
        if link_of_worker is not None:
            ck.eq(link_of_worker(link), flow.owner, f"{flow.name()} {what}: sent by the owner")
        account(flow, raw_in)
        T.check_frame(ck, f"{flow.name()} {what}", raw, flow.expect_fwd(raw_in))
    return check


def rev(ck, flow, link_of_worker=None, what="rev"):
    def check(link, raw, raw_in):
        if link_of_worker is not None:
            ck.eq(link_of_worker(link), flow.owner,
                  f"{flow.name()} {what}: translated by the owning worker")
        account(flow, raw_in)
        T.check_frame(ck, f"{flow.name()} {what}", raw, flow.expect_rev(raw_in))
    return check


def check_service_stats(ck, st, name, flows, *, state_of=None):
    """Service and per-backend packets, bytes, active connections against the flows."""
    svc = T.service(st, name)
    ck.eq(svc["packets"], sum(f.pkts for f in flows), f"service {name} packets")
    if "bytes" in svc:
        ck.eq(svc["bytes"], sum(f.bytes for f in flows), f"service {name} bytes")
    for b in svc["backends"]:
        mine = [f for f in flows if f.backend == b["address"]]
        ck.eq(b["packets"], sum(f.pkts for f in mine), f"service {name} backend {b['address']} packets")
        ck.eq(b["bytes"], sum(f.bytes for f in mine), f"service {name} backend {b['address']} bytes")
        ck.eq(b["active_connections"], len(mine),
              f"service {name} backend {b['address']} active_connections")
        if state_of:
            ck.eq(b["state"], state_of(b["address"]), f"service {name} backend {b['address']} state")
    ck.eq(svc["active_connections"], len(flows), f"service {name} active_connections")
