#!/usr/bin/python3
"""upload_sink.py NAME PORT - an HTTP server that takes uploads (PUT or POST).

Answers every upload with one line: "NAME PEER BYTES SHA256", where PEER is the
address the request came from (the client itself in dnat mode, the dp's fnat
source address in fnat mode). GET answers "NAME PEER". Listens on [::]:PORT,
IPv4 too. Used by the end-to-end tests inside a backend namespace.
"""
import hashlib
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = sys.argv[1]


def peer(handler):
    a = handler.client_address[0]
    return a[7:] if a.startswith("::ffff:") else a


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, text):
        body = (text + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        left = int(self.headers.get("Content-Length", "0"))
        got, h = 0, hashlib.sha256()
        while left > 0:
            d = self.rfile.read(min(65536, left))
            if not d:
                break
            h.update(d)
            got += len(d)
            left -= len(d)
        self.reply("%s %s %d %s" % (NAME, peer(self), got, h.hexdigest()))

    do_POST = do_PUT

    def do_GET(self):
        self.reply("%s %s" % (NAME, peer(self)))

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


Server(("::", int(sys.argv[2])), Handler).serve_forever()
