#!/usr/bin/python3
"""
backend.py - a tiny backend for the health-check tests (tests/cp/test_health.py).

  backend.py tcp ADDRESS PORT          accept TCP connections and close them
  backend.py http ADDRESS PORT STATUS  answer every HTTP GET with STATUS

Runs until killed. IPv6 addresses work too.
"""
import http.server
import socket
import sys


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def tcp(addr, port):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(128)
    while True:
        c, _ = s.accept()
        c.close()


def http_server(addr, port, status):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ("status %d for %s\n" % (status, self.path)).encode()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    class S(http.server.ThreadingHTTPServer):
        address_family = family(addr)
        allow_reuse_address = True

    S((addr, port), H).serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "tcp":
        tcp(sys.argv[2], int(sys.argv[3]))
    else:
        http_server(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
