#!/usr/bin/python3
"""
lbtest.py - harness of the edgelb-dp packet tests (tests/dp/run.py drives it).

What it owns: the test topology (addresses, MACs), libconfig generation, running
edgelb-dp (files or live ports, bounded in time, killed by PID), a private network
namespace with veth pairs, raw-socket I/O on the test's end of those veths, a
pcap reader/writer, and the per-packet oracle: the expected output frame is built
from the input frame by this file's own parser and checksum code (no scapy), then
compared byte for byte and field by field with what the dp wrote.

See tests/dp/README.md for the design.
"""
import ctypes
import glob
import ipaddress
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

# ---- topology (docs/configuration.md example, documentation addresses only) ----

GW_MAC = "02:00:00:00:00:01"      # the clients' gateway, on the external side
EXT_MAC = "02:00:00:00:00:02"     # the dp's external port
INT_MAC = "02:00:00:00:01:01"     # the dp's internal port
OTHER_MAC = "02:00:00:00:00:99"   # some other host on the external segment
GW4, GW6 = "198.18.0.1", "2001:db8:1::1"
EXT_ADDRS = ["198.18.0.2/24", "2001:db8:1::2/64"]
INT_ADDRS = ["198.19.0.1/24", "2001:db8:2::1/64"]
VIP4, VIP6 = "198.18.0.100", "2001:db8:1::100"
LOCAL4 = ["198.19.0.2", "198.19.0.3"]
LOCAL6 = ["2001:db8:2::2", "2001:db8:2::3"]
BACKEND_MACS = {
    "198.19.0.10": "02:00:00:00:01:10",
    "198.19.0.11": "02:00:00:00:01:11",
    "198.19.0.12": "02:00:00:00:01:12",
    "198.19.0.13": "02:00:00:00:01:13",
    "198.19.0.14": "02:00:00:00:01:14",
    "198.19.0.15": "02:00:00:00:01:15",
    "2001:db8:2::10": "02:00:00:00:02:10",
    "2001:db8:2::11": "02:00:00:00:02:11",
    "2001:db8:2::12": "02:00:00:00:02:12",
    "2001:db8:2::13": "02:00:00:00:02:13",
}
SNAT_LO, SNAT_HI = 20000, 29999


def client4(i):
    """Clients live beyond the gateway: 198.18.100.0/22, routed by 0.0.0.0/0."""
    return str(ipaddress.ip_address("198.18.100.1") + i)


def client6(i):
    return str(ipaddress.ip_address("2001:db8:100::1") + i)


def neighbours():
    n = [{"address": GW4, "mac": GW_MAC, "port": "ext"},
         {"address": GW6, "mac": GW_MAC, "port": "ext"}]
    n += [{"address": a, "mac": m} for a, m in BACKEND_MACS.items()]
    return n


ROUTES = [{"prefix": "0.0.0.0/0", "via": GW4},
          {"prefix": "::/0", "via": GW6, "port": "ext"}]

# ---- assertions ---------------------------------------------------------------


class Checks:
    """Records every assertion, prints it, and gives the exit status."""

    def __init__(self, name):
        self.name = name
        self.n_ok = 0
        self.failed = []
        self.quiet_ok = False

    def ok(self, cond, what, detail=""):
        if cond:
            self.n_ok += 1
            if not self.quiet_ok:
                print(f"  ok    {what}")
        else:
            self.failed.append(what)
            print(f"  FAIL  {what}" + (f"\n        {detail}" if detail else ""))
        sys.stdout.flush()
        return bool(cond)

    def eq(self, actual, expected, what):
        return self.ok(actual == expected, f"{what} == {expected!r}",
                       f"got {actual!r}, expected {expected!r}")

    def section(self, title):
        print(f"-- {title}")
        sys.stdout.flush()

    def summary(self):
        print(f"== {self.name}: {self.n_ok} assertion(s) passed, {len(self.failed)} failed")
        for f in self.failed:
            print(f"   failed: {f}")
        return 0 if not self.failed else 1


# ---- checksums and a raw frame parser (independent of the dp and of scapy) ------


def inet_sum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def inet_csum(data):
    return ~inet_sum(data) & 0xFFFF


def ipv4_hdr_csum(hdr):
    """From scratch, the checksum field counted as zero."""
    return inet_csum(hdr[:10] + b"\0\0" + hdr[12:])


def l4_csum(family, src, dst, proto, seg):
    """TCP/UDP checksum from scratch over the pseudo header and seg (field zeroed)."""
    off = 16 if proto == 6 else 6
    seg = seg[:off] + b"\0\0" + seg[off + 2:]
    if family == 4:
        ph = src + dst + struct.pack("!BBH", 0, proto, len(seg))
    else:
        ph = src + dst + struct.pack("!I3xB", len(seg), proto)
    c = inet_csum(ph + seg)
    if proto == 17 and c == 0:
        c = 0xFFFF
    return c


def mac_str(b):
    return ":".join(f"{x:02x}" for x in b)


def mac_bytes(s):
    return bytes(int(x, 16) for x in s.split(":"))


def ip_bytes(s):
    return ipaddress.ip_address(s).packed


class Frame:
    """Eth [802.1Q...] / IPv4|IPv6 / TCP|UDP decoded from raw bytes."""

    def __init__(self, raw):
        self.raw = bytes(raw)
        b = self.raw
        self.dst_mac, self.src_mac = b[0:6], b[6:12]
        off = 12
        self.vlans = 0
        et = struct.unpack("!H", b[off:off + 2])[0]
        while et in (0x8100, 0x88A8):
            self.vlans += 1
            off += 4
            et = struct.unpack("!H", b[off:off + 2])[0]
        self.ethertype = et
        self.l3 = off + 2
        ip = b[self.l3:]
        if et == 0x0800:
            self.family = 4
            ihl = (ip[0] & 0xF) * 4
            self.ip_hlen = ihl
            self.ip_total = struct.unpack("!H", ip[2:4])[0]
            self.ttl = ip[8]
            self.proto = ip[9]
            self.ip_csum = struct.unpack("!H", ip[10:12])[0]
            self.src, self.dst = ip[12:16], ip[16:20]
        elif et == 0x86DD:
            self.family = 6
            self.ip_hlen = 40
            self.ip_total = 40 + struct.unpack("!H", ip[4:6])[0]
            self.ttl = ip[7]
            self.proto = ip[6]
            self.ip_csum = None
            self.src, self.dst = ip[8:24], ip[24:40]
        else:
            raise ValueError(f"not IP: ethertype 0x{et:04x}")
        self.l4 = self.l3 + self.ip_hlen
        self.end = self.l3 + self.ip_total
        seg = b[self.l4:self.end]
        self.sport, self.dport = struct.unpack("!HH", seg[0:4])
        if self.proto == 6:
            self.l4_hlen = (seg[12] >> 4) * 4
            self.seq, self.ack = struct.unpack("!II", seg[4:12])
            self.tcp_flags = seg[13]
            self.l4_csum = struct.unpack("!H", seg[16:18])[0]
        elif self.proto == 17:
            self.l4_hlen = 8
            self.l4_csum = struct.unpack("!H", seg[6:8])[0]
        else:
            raise ValueError(f"not TCP/UDP: {self.proto}")
        self.payload = seg[self.l4_hlen:]
        self.trailer = b[self.end:]     # Ethernet padding, if any

    @property
    def src_ip(self):
        return str(ipaddress.ip_address(self.src))

    @property
    def dst_ip(self):
        return str(ipaddress.ip_address(self.dst))

    def ip_header(self):
        return self.raw[self.l3:self.l4]

    def segment(self):
        return self.raw[self.l4:self.end]

    def key(self):
        """What identifies one test packet whatever the rewrite: seq/ack/flags or the payload."""
        if self.proto == 6:
            return ("tcp", self.seq, self.ack, self.tcp_flags, self.payload)
        return ("udp", self.payload)

    def brief(self):
        a = f"[{self.src_ip}]" if self.family == 6 else self.src_ip
        z = f"[{self.dst_ip}]" if self.family == 6 else self.dst_ip
        p = "tcp" if self.proto == 6 else "udp"
        return f"{p} {a}:{self.sport} > {z}:{self.dport}"


def rewrite(raw, *, eth_src, eth_dst, src=None, dst=None, sport=None, dport=None):
    """
    The frame a router/NAT should emit for input frame raw: VLAN tags and Ethernet
    padding removed, new MACs, addresses and ports replaced, TTL/hop limit minus one,
    checksums computed from scratch here (an IPv4 UDP checksum of 0 stays 0).
    """
    f = Frame(raw)
    ip = bytearray(f.ip_header())
    seg = bytearray(f.segment())
    if src is not None:
        s = ip_bytes(src)
        if f.family == 4:
            ip[12:16] = s
        else:
            ip[8:24] = s
    if dst is not None:
        d = ip_bytes(dst)
        if f.family == 4:
            ip[16:20] = d
        else:
            ip[24:40] = d
    if f.family == 4:
        ip[8] -= 1
        ip[10:12] = struct.pack("!H", ipv4_hdr_csum(bytes(ip)))
        s_, d_ = bytes(ip[12:16]), bytes(ip[16:20])
    else:
        ip[7] -= 1
        s_, d_ = bytes(ip[8:24]), bytes(ip[24:40])
    if sport is not None:
        seg[0:2] = struct.pack("!H", sport)
    if dport is not None:
        seg[2:4] = struct.pack("!H", dport)
    off = 16 if f.proto == 6 else 6
    if f.proto == 17 and f.family == 4 and f.l4_csum == 0:
        c = 0
    else:
        c = l4_csum(f.family, s_, d_, f.proto, bytes(seg))
    seg[off:off + 2] = struct.pack("!H", c)
    et = 0x0800 if f.family == 4 else 0x86DD
    return mac_bytes(eth_dst) + mac_bytes(eth_src) + struct.pack("!H", et) + bytes(ip) + bytes(seg)


def check_frame(ck, what, actual_raw, expected_raw):
    """
    Every output packet: MACs, addresses, ports, TTL, checksums recomputed from
    scratch over the dp's bytes, payload, then the whole frame byte for byte.
    """
    problems = []
    try:
        a = Frame(actual_raw)
    except Exception as e:  # noqa: BLE001 - anything undecodable is a failure
        return ck.ok(False, what, f"output frame does not decode: {e}: {bytes(actual_raw).hex()}")
    e = Frame(expected_raw)

    def cmp(name, x, y, fmt=str):
        if x != y:
            problems.append(f"{name}: got {fmt(x)}, expected {fmt(y)}")

    cmp("eth dst", a.dst_mac, e.dst_mac, mac_str)
    cmp("eth src", a.src_mac, e.src_mac, mac_str)
    cmp("vlan tags", a.vlans, 0)
    cmp("ethertype", a.ethertype, e.ethertype, hex)
    cmp("ip src", a.src_ip, e.src_ip)
    cmp("ip dst", a.dst_ip, e.dst_ip)
    cmp("sport", a.sport, e.sport)
    cmp("dport", a.dport, e.dport)
    cmp("ttl/hop limit", a.ttl, e.ttl)
    if a.family == 4:
        cmp("ipv4 header checksum (recomputed over output)", a.ip_csum,
            ipv4_hdr_csum(a.ip_header()), hex)
    if a.proto == 17 and a.family == 4 and e.l4_csum == 0:
        cmp("udp checksum (none in, none out)", a.l4_csum, 0, hex)
    else:
        cmp(f"{'tcp' if a.proto == 6 else 'udp'} checksum (recomputed over output)", a.l4_csum,
            l4_csum(a.family, a.src, a.dst, a.proto, a.segment()), hex)
    cmp("payload", a.payload, e.payload, lambda p: f"{len(p)} bytes {p[:24].hex()}...")
    cmp("ethernet trailer/padding", a.trailer, b"", lambda p: p.hex())
    if not problems and a.raw != e.raw:
        diff = [i for i in range(min(len(a.raw), len(e.raw))) if a.raw[i] != e.raw[i]]
        problems.append(f"frame bytes differ (len {len(a.raw)} vs {len(e.raw)}, first offsets {diff[:8]})"
                        f"\n        got      {a.raw.hex()}\n        expected {e.raw.hex()}")
    detail = "; ".join(problems)
    summary = (f"{what}: {a.brief()} ttl {a.ttl} mac {mac_str(a.src_mac)}>{mac_str(a.dst_mac)}"
               f" ip+l4 csum, {len(a.payload)}B payload")
    return ck.ok(not problems, summary, detail)


# ---- pcap files -----------------------------------------------------------------


def write_pcap(path, frames):
    """Classic pcap, microsecond stamps; any frame length, including 0."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            fr = bytes(fr)
            f.write(struct.pack("<IIII", 1, i, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    """Frames of a classic pcap (either byte order, micro- or nanosecond stamps)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError(f"{path}: {len(data)} bytes, not a pcap file")
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        raise ValueError(f"{path}: bad pcap magic {magic:#x}")
    frames, off = [], 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


# ---- libconfig text -------------------------------------------------------------


def _cfg(v, ind=""):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) if -2**31 <= v < 2**31 else f"{v}L"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        inner = ind + "  "
        body = "".join(f"{inner}{k} = {_cfg(x, inner)};\n" for k, x in v.items())
        return "{\n" + body + ind + "}"
    if isinstance(v, (list, tuple)):
        if all(isinstance(x, (int, str)) and not isinstance(x, bool) for x in v):
            return "[" + ", ".join(_cfg(x) for x in v) + "]"
        inner = ind + "  "
        return "(\n" + ",\n".join(inner + _cfg(x, inner) for x in v) + "\n" + ind + ")"
    raise TypeError(type(v))


def make_conf(*, workers, ports, services, steering="ring", snat=(SNAT_LO, SNAT_HI), conntrack=None,
              neighbours_=None, top_extra=None, **dp_extra):
    dp = {"workers": workers, "idle_sleep_us": 50, "control_socket": "", "steering": steering,
          "snat_ports": list(snat)}
    dp.update(dp_extra)
    top = {"dp": dp, "conntrack": conntrack or {"capacity": 65536}, "ports": ports, "routes": ROUTES,
           "neighbours": neighbours() if neighbours_ is None else neighbours_, "services": services}
    top.update(top_extra or {})
    return "".join(f"{k} = {_cfg(v)};\n" for k, v in top.items())


def ext_port(device):
    return {"name": "ext", "device": device, "role": "external", "addresses": EXT_ADDRS,
            "mac": EXT_MAC}


def int_port(device, local=LOCAL4 + LOCAL6):
    return {"name": "int", "device": device, "role": "internal", "addresses": INT_ADDRS,
            "local_addresses": list(local), "mac": INT_MAC}


def pcap_files_device(name, rx, tx):
    """net_pcap reading rx files (one per queue) and writing tx files (one per queue)."""
    return ",".join([name] + [f"rx_pcap={r}" for r in rx] + [f"tx_pcap={t}" for t in tx])


def pcap_live_device(name, ifaces):
    """net_pcap on live interfaces, one per queue; rx only what arrives (rx_iface_in)."""
    return ",".join([name] + [f"rx_iface_in={i}" for i in ifaces] + [f"tx_iface={i}" for i in ifaces])


# ---- network namespace, veths, raw sockets -----------------------------------------

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def run(cmd, timeout=10, check=True):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def enter_private_netns():
    """
    Move this process (and every child it starts later) into a new, anonymous network
    namespace: it disappears with the last process in it, so nothing can leak. IPv6 is
    disabled on every interface made in it, so the kernel sends nothing on its own
    (no DAD, router or MLD messages) and the dp sees only what a test sends.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")
    for k in ("all", "default"):
        with open(f"/proc/sys/net/ipv6/conf/{k}/disable_ipv6", "w") as f:
            f.write("1")


def add_veth(a, b):
    """A veth pair, both ends up, offloads off (frames go through untouched)."""
    run(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
    for i in (a, b):
        run(["ethtool", "-K", i, "rx", "off", "tx", "off", "tso", "off", "gso", "off", "gro", "off"],
            check=False)
        run(["ip", "link", "set", i, "up"])


def ctrl_kind(raw):
    """"arp" or "nd" for the dp's own ARP / NDP frames (not forwarded traffic), else None."""
    if len(raw) < 14:
        return None
    et = struct.unpack("!H", raw[12:14])[0]
    if et == 0x0806:
        return "arp"
    if et == 0x86DD and len(raw) >= 55 and raw[20] == 58 and 133 <= raw[54] <= 137:
        return "nd"
    return None


class Wires:
    """
    The test's ends of the wires. One unbound AF_PACKET socket, opened before the dp
    starts, receives on every interface of the namespace (so it also hears a net_tap
    the dp creates later) and keeps what arrives on the named test interfaces; send
    sockets are bound per interface on first use. ARP/NDP frames the dp originates
    (announcements, answers) are kept apart from forwarded traffic (.ctrl).
    """

    def __init__(self, names):
        self.names = list(names)
        self.rx = {n: [] for n in names}
        self.ctrl = {n: [] for n in names}
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:  # root may exceed net.core.rmem_max
            self.sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 16 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        self.sock.setblocking(False)
        self.tx = {}

    def send(self, name, frame):
        s = self.tx.get(name)
        if s is None:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # send only
            s.bind((name, 0))
            self.tx[name] = s
        s.send(bytes(frame))

    def _drain(self):
        while True:
            try:
                data, addr = self.sock.recvfrom(65536)
            except BlockingIOError:
                return
            if addr[0] not in self.rx or addr[2] == PACKET_OUTGOING:
                continue  # the dp's end of a veth, or our own transmission
            (self.ctrl if ctrl_kind(data) else self.rx)[addr[0]].append(data)

    def poll(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if r:
            self._drain()

    def collect(self, names, n, timeout=5.0, settle=0.05):
        """
        Wait until n forwarded frames in total arrived on the links names (or timeout),
        then a short settle time to catch extra ones; return [(link name, frame)] and clear.
        """
        deadline = time.monotonic() + timeout
        while sum(len(self.rx[x]) for x in names) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.poll(min(left, 0.05))
        end = time.monotonic() + settle
        while time.monotonic() < end:
            self.poll(max(0.0, end - time.monotonic()))
        out = []
        for x in names:
            out += [(x, fr) for fr in self.rx[x]]
            self.rx[x] = []
        return out

    def leftovers(self, settle=0.2):
        end = time.monotonic() + settle
        while time.monotonic() < end:
            self.poll(max(0.0, end - time.monotonic()))
        out = []
        for n in self.names:
            out += [(n, fr) for fr in self.rx[n]]
            self.rx[n] = []
        return out

    def close(self):
        self.sock.close()
        for s in self.tx.values():
            s.close()


def wire_announcements(ck, wires, vips, st):
    """check_announcements() over what the wires heard: x* links external, others internal."""
    by = {"ext": [], "int": []}
    for n in wires.names:
        by["ext" if n.startswith("x") else "int"] += wires.ctrl[n]
    return check_announcements(ck, by, vips, st)


def check_announcements(ck, frames_by_port, vips, st=None):
    """
    The dp's own ARP/NDP frames: gratuitous ARPs and unsolicited NAs for addresses
    of the port they leave by (never another port's), from the port's MAC, with
    valid checksums; each address at most once; every VIP announced on the external
    port. frames_by_port: {"ext": [raw], "int": [raw]}. Returns frames per port.
    """
    mine = {"ext": set(a.split("/")[0] for a in EXT_ADDRS) | set(vips),
            "int": set(a.split("/")[0] for a in INT_ADDRS) | set(LOCAL4 + LOCAL6)}
    port_mac = {"ext": EXT_MAC, "int": INT_MAC}
    seen = {"ext": [], "int": []}
    for port, frames in frames_by_port.items():
        mac = mac_bytes(port_mac[port])
        for raw in frames:
            kind, addr, ok = ctrl_kind(raw), None, raw[6:12] == mac
            if kind == "arp":
                op = struct.unpack("!H", raw[20:22])[0]
                sha, spa, tpa = raw[22:28], raw[28:32], raw[38:42]
                addr = str(ipaddress.ip_address(spa))
                ok &= op == 1 and spa == tpa and sha == mac and raw[0:6] == b"\xff" * 6
            elif kind == "nd":
                ip6 = raw[14:54]
                icmp = raw[54:54 + struct.unpack("!H", ip6[4:6])[0]]
                ph = ip6[8:40] + struct.pack("!I3xB", len(icmp), 58)
                tgt = icmp[8:24]
                addr = str(ipaddress.ip_address(tgt))
                ok &= (icmp[0] == 136 and ip6[7] == 255 and inet_csum(ph + icmp) == 0
                       and ip6[8:24] == tgt and ip6[24:40] == ip_bytes("ff02::1")
                       and raw[0:6] == mac_bytes("33:33:00:00:00:01")
                       and icmp[24:32] == b"\x02\x01" + mac)
            ck.ok(ok and addr in mine[port],
                  f"{port}: dp-originated {kind} announces {addr}, an address of this port",
                  raw.hex())
            seen[port].append(addr)
    for port, addrs in seen.items():
        dup = {a for a in addrs if addrs.count(a) > 1}
        ck.ok(not dup, f"{port}: {len(addrs)} announcement(s), each address once",
              f"announced more than once: {sorted(dup)} (KNOWN DP BUG, tests/dp/README.md: "
              f"at start a VIP is announced once per service that uses it)")
    missing = set(vips) - set(seen["ext"])
    ck.ok(not missing, f"every VIP ({len(vips)}) announced on the external port", str(missing))
    if st is not None and "control" in st:
        ck.eq(st["control"].get("garp_tx"), len(seen["ext"]) + len(seen["int"]),
              "stats control.garp_tx (announcements seen on the wires)")
    return {p: len(a) for p, a in seen.items()}


def match_outputs(ck, what, got, expected, check):
    """
    got: [(link, raw)]; expected: {key: item}. Pairs each output frame with the
    expected item of the same Frame.key(), calls check(item, link, raw) on it, and
    fails for every missing, duplicated or unexpected frame. Returns {key: (link, raw)}.
    """
    seen = {}
    for link, raw in got:
        try:
            k = Frame(raw).key()
        except Exception:  # noqa: BLE001
            ck.ok(False, f"{what}: undecodable frame on {link}", bytes(raw).hex())
            continue
        if k not in expected:
            ck.ok(False, f"{what}: unexpected frame on {link}", bytes(raw).hex())
            continue
        if k in seen:
            ck.ok(False, f"{what}: frame sent twice on {link}", bytes(raw).hex())
            continue
        seen[k] = (link, raw)
        check(expected[k], link, raw)
    missing = [k for k in expected if k not in seen]
    ck.ok(not missing, f"{what}: all {len(expected)} expected frame(s) came out",
          f"{len(missing)} missing, e.g. {missing[:3]}")
    return seen


# ---- the data plane process ---------------------------------------------------------


def _child_setup():
    # Dies with the test: PR_SET_PDEATHSIG(SIGKILL) in case the harness is killed hard.
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)


class Dp:
    """
    One edgelb-dp process. Files mode: run() until --stop-idle-ms ends it. Live mode:
    start() waits for "running", stop() sends SIGTERM so it writes its stats JSON.
    """

    spawned = []  # every Dp this test started, for the post-mortem (run.py)

    def __init__(self, build, tmp, conf_text, *, workers=1, tag="dp", run_seconds=60):
        self.binary = os.path.join(build, "dp", "edgelb-dp")
        self.tmp = tmp
        self.tag = tag
        self.prefix = f"edgelb-test-{tag}-{os.getpid()}"
        self.conf = os.path.join(tmp, f"{tag}.conf")
        self.stats_path = os.path.join(tmp, f"{tag}-stats.json")
        self.out_path = os.path.join(tmp, f"{tag}.stdout")
        self.err_path = os.path.join(tmp, f"{tag}.stderr")
        self.run_seconds = run_seconds
        with open(self.conf, "w") as f:
            f.write(conf_text)
        eal = ["-l", "0-1"] if workers == 1 else ["--lcores", "0@0,1@1,2@1"]
        self.eal = eal + ["--no-pci", "--no-huge", "-m", "512", "--file-prefix", self.prefix,
                          "--log-level=user1,info", "--log-level=pmd.net.tap,info"]
        self.proc = None
        self.rc = None
        self.ended_alone = False  # stop() found it gone already

    def _cmd(self, extra):
        return [self.binary] + self.eal + ["--", "--config", self.conf, "--stats-json",
                                           self.stats_path] + extra

    def _spawn(self, extra):
        self._out = open(self.out_path, "w")
        self._err = open(self.err_path, "w")
        self.proc = subprocess.Popen(self._cmd(extra), stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, preexec_fn=_child_setup)
        Dp.spawned.append(self)

    def run(self, timeout=30, stop_idle_ms=300):
        """Files mode: the dp reads its rx pcaps, stops when idle; returns exit status."""
        self._spawn(["--stop-idle-ms", str(stop_idle_ms), "--run-seconds", str(self.run_seconds)])
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.rc = "timeout"
        self._close()
        return self.rc

    def start(self, timeout=20):
        """Live mode: returns once the workers run; False if the dp exited or hung."""
        self._spawn(["--run-seconds", str(self.run_seconds)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "running" in self.stdout():
                return True
            if self.proc.poll() is not None:
                self.rc = self.proc.returncode
                self._close()
                return False
            time.sleep(0.02)
        self.kill()
        self.rc = "timeout"
        return False

    def stop(self, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            self.ended_alone = self.proc is not None
            self.rc = self.proc.returncode if self.proc else None
            self._close()
            return self.rc
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.rc = "timeout"
        self._close()
        return self.rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # by PID, the one we started
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def _close(self):
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f and not f.closed:
                f.close()
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)
        # The dp's persistent state (dp.state "auto"): every run here starts empty.
        for d in ("/dev/shm", "/dev/hugepages"):
            for f in glob.glob(f"{d}/edgelb-{self.prefix}-*"):
                try:
                    os.unlink(f)
                except OSError:
                    pass

    def stdout(self):
        try:
            with open(self.out_path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stderr(self):
        try:
            with open(self.err_path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def post_mortem(self, lines=20):
        """Whether the process runs or how it ended, and the tail of its output."""
        rc = self.proc.poll() if self.proc else None
        if self.proc is None:
            state = "never started"
        elif rc is None:
            state = "still running"
        elif rc < 0:
            state = f"killed by signal {-rc} ({signal.Signals(-rc).name})"
        else:
            state = f"exited with status {rc}"
        state += (" before the test stopped it" if self.ended_alone else
                  " (stopped by the test)" if rc is not None else "")
        out = [f"-- dp {self.tag} (pid {self.proc.pid if self.proc else '-'}): {state}"]
        for name, text in (("stderr", self.stderr()), ("stdout", self.stdout())):
            tail = text.splitlines()[-lines:]
            out += [f"   {name}: {ln}" for ln in tail]
        return "\n".join(out)

    def stats(self):
        try:
            with open(self.stats_path) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def check_exit(self, ck):
        ok = ck.ok(self.rc == 0, f"{self.tag}: edgelb-dp exited cleanly (status 0)",
                   f"status {self.rc}; stderr tail:\n{self.stderr()[-2000:]}")
        st = self.stats()
        ck.ok(st is not None, f"{self.tag}: stats JSON written")
        return ok and st is not None


# ---- stats JSON ---------------------------------------------------------------------


def check_counters(ck, st, events=None, drops=None, where="global"):
    """events/drops: exact values; every drop reason not named must be 0."""
    g = st[where] if isinstance(where, str) else where
    for k, v in (events or {}).items():
        ck.eq(g.get(k), v, f"stats {where if isinstance(where, str) else 'worker'}.{k}")
    want = dict(drops or {})
    nonzero = {k: v for k, v in g["drops"].items() if v and k not in want}
    for k, v in want.items():
        ck.eq(g["drops"].get(k), v, f"stats drops.{k}")
    ck.ok(not nonzero, "stats: no other drop counter moved", f"unexpected drops {nonzero}")


def service(st, name):
    for s in st["services"]:
        if s["name"] == name:
            return s
    raise KeyError(name)


def port_stats(st, name):
    for p in st["ports"]:
        if p["name"] == name:
            return p
    raise KeyError(name)


# ---- scratch directory --------------------------------------------------------------


class Scratch:
    """A temp dir removed at the end (kept with EDGELB_TEST_KEEP=1 for debugging)."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="edgelb-dp-test-")
        return self.path

    def __exit__(self, *exc):
        if os.environ.get("EDGELB_TEST_KEEP"):
            print(f"(kept {self.path})")
        else:
            shutil.rmtree(self.path, ignore_errors=True)
        return False
