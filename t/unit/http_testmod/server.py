#!/usr/bin/env python3
"""Endpoints for testing the oauth2 HTTP client, on 127.0.0.1 only.

  /ok                 200 {"ok":true}
  /slow?ms=N          answers after N ms
  /big?n=N            N bytes with a Content-Length
  /stream?n=N         N bytes, chunked (no Content-Length)
  /echo               the request line, headers and body back
  /hang               reads the request, never answers
  /status?code=N      that status
  /count              how many connections were accepted so far

Usage: server.py PORT [TLS_PORT CERT KEY]
"""

import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CONNECTIONS = 0
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        global CONNECTIONS
        with LOCK:
            CONNECTIONS += 1
        super().setup()

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body, ctype="application/json", length=True):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self, body=b""):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}

        if u.path == "/ok":
            self.send(200, b'{"ok":true}')
        elif u.path == "/slow":
            time.sleep(int(q.get("ms", "1000")) / 1000.0)
            self.send(200, b'{"slow":true}')
        elif u.path == "/big":
            self.send(200, b"x" * int(q.get("n", "0")), "text/plain")
        elif u.path == "/stream":
            n = int(q.get("n", "0"))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = 16384
            try:
                while n > 0:
                    k = min(n, chunk)
                    self.wfile.write(b"%x\r\n" % k + b"y" * k + b"\r\n")
                    n -= k
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
        elif u.path == "/echo":
            out = ("%s %s\n" % (self.command, self.path)).encode()
            out += str(self.headers).encode() + b"\n" + body
            self.send(200, out, "text/plain")
        elif u.path == "/hang":
            time.sleep(3600)
        elif u.path == "/status":
            self.send(int(q.get("code", "500")), b'{"error":"x"}')
        elif u.path == "/count":
            self.send(200, b'{"connections":%d}' % CONNECTIONS)
        else:
            self.send(404, b'{"error":"not found"}')

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.handle_any(self.rfile.read(n))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    port = int(sys.argv[1])
    plain = Server(("127.0.0.1", port), Handler)
    threading.Thread(target=plain.serve_forever, daemon=True).start()

    if len(sys.argv) > 4:
        tls = Server(("127.0.0.1", int(sys.argv[2])), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        threading.Thread(target=tls.serve_forever, daemon=True).start()

    print("READY", flush=True)

    # bounded life: a test run never leaves it behind for long
    time.sleep(int(__import__("os").environ.get("SERVER_LIFETIME", "1800")))


if __name__ == "__main__":
    main()
