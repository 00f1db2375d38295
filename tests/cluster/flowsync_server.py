#!/usr/bin/python3
"""flowsync_server.py NAME PORT - the backends' side of test_flowsync.sh.

Run by lib.sh (CL_FLOWSYNC=1) in each backend namespace, one process. On
[::]:PORT (IPv4 and IPv6, dual-stack sockets):
  TCP: sends one header line "NAME ADDR:PORT\\n" (the peer it sees: the box's SNAT
       address and port), then echoes every byte until the client closes.
  UDP: answers each datagram with "NAME ADDR:PORT|" and the datagram.
So the client sees, for every message, which backend and which SNAT address and
port the backend saw: a connection moved to another box must keep both.
"""
import asyncio
import socket
import sys

NAME, PORT = sys.argv[1], int(sys.argv[2])


def peer(addr):
    host = addr[0]
    if host.startswith("::ffff:"):
        host = host[7:]
    return "%s:%d" % (host, addr[1])


class Udp(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.t = transport

    def datagram_received(self, data, addr):
        self.t.sendto(("%s %s|" % (NAME, peer(addr))).encode() + data, addr)


async def tcp(reader, writer):
    writer.write(("%s %s\n" % (NAME, peer(writer.get_extra_info("peername")))).encode())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    writer.close()


def sock(kind):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", PORT))
    return s


async def main():
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Udp, sock=sock(socket.SOCK_DGRAM))
    ts = sock(socket.SOCK_STREAM)
    ts.listen(1024)
    server = await asyncio.start_server(tcp, sock=ts)
    async with server:
        await server.serve_forever()


asyncio.run(main())
