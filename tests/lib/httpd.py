#!/usr/bin/env python3
"""A loopback HTTP(S) server for the tests of the HTTP probes (tests/unit/test-http.c).

Usage:
  httpd.py --port-file FILE [--routes ROUTES.json] [--tls-cert CERT --tls-key KEY]
  httpd.py --make-certs DIR     (writes ca.pem, other-ca.pem, server.pem, server.key there)

It listens on 127.0.0.1, on free ports the kernel picks, and writes "PLAIN_PORT TLS_PORT"
(TLS_PORT is 0 without a certificate) to the port file once both listeners are up. It stops
on SIGTERM or when its parent goes away.

Built-in paths (any method):
  /status/<code>         answer <code> with a small JSON body {"status": <code>}
  /delay/<ms>            sleep <ms> milliseconds, then 200 {"slept": <ms>}
  /echo                  200 with the request as JSON: method, path, headers, body
  /big/<n>               200 with n bytes of "x"
  /headers               200, with Docker-Content-Digest and X-Two headers
  /redirect              302 to /status/200
  /close                 close the connection without an answer
  /v2/<key>              401 {"error": "invalid key in /v2/<key>"} (echoes the key)
Every other path is looked up in the routes file, a JSON object whose keys are paths and
whose values are {"status": N, "body": <JSON value or string>, "headers": {...},
"delay_ms": N}; a missing path is 404 {"error": "not found"}.
"""

import argparse
import http.server
import json
import os
import signal
import socketserver
import ssl
import subprocess
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    routes = {}

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj, headers=None):
        body = obj.encode() if isinstance(obj, str) else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def handle_any(self):
        body = self.read_body()
        path = self.path.split("?", 1)[0]
        parts = path.strip("/").split("/")
        try:
            if parts[0] == "status" and len(parts) == 2:
                code = int(parts[1])
                return self.send_json(code, {"status": code})
            if parts[0] == "delay" and len(parts) == 2:
                ms = int(parts[1])
                time.sleep(ms / 1000.0)
                return self.send_json(200, {"slept": ms})
            if parts[0] == "big" and len(parts) == 2:
                return self.send_json(200, "x" * int(parts[1]))
        except (ValueError, BrokenPipeError, ConnectionResetError):
            return None
        if path == "/echo":
            return self.send_json(200, {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
            })
        if path.startswith("/v2/"):
            # Like an RPC provider that refuses a key and names it in the error.
            return self.send_json(401, {"error": "invalid key in " + path})
        if path == "/headers":
            return self.send_json(200, {"ok": True}, {
                "Docker-Content-Digest": "sha256:" + "ab" * 32,
                "X-Two": "second",
            })
        if path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/status/200")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if path == "/close":
            self.close_connection = True
            return None
        route = self.routes.get(path)
        if route is None:
            return self.send_json(404, {"error": "not found"})
        if route.get("delay_ms"):
            time.sleep(route["delay_ms"] / 1000.0)
        return self.send_json(route.get("status", 200), route.get("body", ""),
                              route.get("headers"))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass   # failed handshakes and clients that gave up are part of the tests


def make_certs(d):
    """A CA, a second unrelated CA, and a server certificate the first one signs."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, cwd=d,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=dstack-wizard test CA")
    run("req", "-x509", *ec, "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2",
        "-subj", "/CN=dstack-wizard other CA")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=kms.example.test")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:kms.example.test,DNS:localhost,IP:127.0.0.1\n"
                "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file")
    ap.add_argument("--routes")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--make-certs")
    a = ap.parse_args()
    if a.make_certs:
        make_certs(a.make_certs)
        return 0
    if a.routes:
        with open(a.routes) as f:
            Handler.routes = json.load(f)

    servers = [Server(("127.0.0.1", 0), Handler)]
    if a.tls_cert:
        tls = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True, do_handshake_on_connect=False)
        servers.append(tls)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    ports = [s.server_address[1] for s in servers] + [0]
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (ports[0], ports[1]))
    os.rename(tmp, a.port_file)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    parent = os.getppid()
    while not stop.wait(0.2):
        if os.getppid() != parent:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
