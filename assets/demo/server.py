#!/usr/bin/env python3
"""server.py: the demo host's network services, on loopback.

Loads every services/*.py. A service module says which simulated ports it answers (PORTS),
whether they speak TLS (TLS, with the demo CA's server certificate), what must be up for it to
answer (UNIT: "dstack-vmm" reads state/services/dstack-vmm, "container:kms" reads
state/containers/kms, None: always), and handle(req) returning (status, headers, body) or None
(not mine: the next module on the port is asked). A module with RAW = True gets the connection
itself: handle_raw(sock). When nothing on a port is up, each connection is closed at once,
which a client sees like a refused connection.

Each simulated port gets a free loopback port; the map is written to $DEMO_SANDBOX/ports
("<service port> <loopback port>" per line). The server is shared by every wizard process
of the sandbox: each holds a shared flock on $DEMO_SANDBOX/server.lock while it runs, and the
server exits once nobody has held it for DEMO_SERVER_GRACE seconds (default 3). Python 3
standard library only.
"""
import fcntl
import glob
import http.server
import importlib.util
import json
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

os.environ["DEMO_IN_SERVER"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "services"))
import demolib  # noqa: E402

SANDBOX = demolib.SANDBOX
CA_DIR = os.path.join(SANDBOX, "ca")


def log(msg):
    sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class Request:
    """What a service module sees of an HTTP request."""

    def __init__(self, method, target, headers, body, port, tls):
        u = urllib.parse.urlsplit(target)
        self.method = method
        self.path = u.path
        self.raw_query = u.query
        self.query = {k: v[0] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        self.headers = headers
        self.body = body
        self.port = port
        self.tls = tls
        host = headers.get("Host", "")
        if host.startswith("["):
            host = host[1:host.find("]")]
        elif ":" in host:
            host = host.rsplit(":", 1)[0]
        self.host = host.lower()

    def json(self):
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def load_services():
    mods = []
    for path in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                              "services", "*.py"))):
        name = "demo_service_" + os.path.basename(path)[:-3].replace("-", "_")
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods.append(mod)
    return mods


def module_up(mod):
    unit = getattr(mod, "UNIT", None)
    if unit is None:
        return True
    if callable(unit):
        return bool(unit())
    if unit.startswith("container:"):
        return demolib.container_running(unit[len("container:"):])
    return demolib.unit_active(unit)


def module_tls(mod, port):
    tls = getattr(mod, "TLS", False)
    if isinstance(tls, dict):
        return bool(tls.get(port, False))
    if callable(tls):
        return bool(tls(port))
    return bool(tls)


_contexts = {}


def context_for(certfile, keyfile):
    key = (certfile, keyfile, os.path.getmtime(certfile))
    ctx = _contexts.get(key)
    if ctx is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        _contexts[key] = ctx
    return ctx


def make_context(mods):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(CA_DIR, "server.pem"), os.path.join(CA_DIR, "server.key"))

    def sni(sslobj, servername, _ctx):
        for m in mods:
            f = getattr(m, "cert_for", None)
            pair = f(servername) if f and servername else None
            if pair:
                try:
                    sslobj.context = context_for(*pair)
                except (OSError, ssl.SSLError) as e:
                    log("sni %s: %s" % (servername, e))
                return None
        return None
    ctx.sni_callback = sni
    return ctx


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "demo"

    def log_message(self, fmt, *args):
        log("%d %s" % (self.server.sim_port, fmt % args))

    def setup(self):
        # TLS is decided per connection: the KMS speaks HTTP until it is bootstrapped.
        port = self.server.sim_port
        self.sim_tls = any(module_tls(m, port) for m in self.server.sim_mods if module_up(m))
        if self.sim_tls:
            self.request.settimeout(10)
            try:
                self.request = self.server.ssl_ctx.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log("%d tls: %s" % (self.server.sim_port, e))
                self.request.close()
                raise
            self.request.settimeout(None)
        super().setup()

    def dispatch(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        req = Request(self.command, self.path, self.headers, body, self.server.sim_port,
                      self.sim_tls)
        res = None
        for m in self.server.sim_mods:
            hosts = getattr(m, "HOSTS", None)
            if hosts is not None and not (hosts(req.host) if callable(hosts) else any(
                    req.host == h or (h.startswith(".") and req.host.endswith(h)) for h in hosts)):
                continue
            if not module_up(m):
                if hosts is not None:
                    # The host's service is down: the client sees the connection drop.
                    self.close_connection = True
                    return
                continue
            try:
                res = m.handle(req)
            except Exception as e:  # a bug in a module: answer 500, keep serving
                import traceback
                traceback.print_exc()
                res = (500, {}, {"error": "demo service error: %s" % e})
            if res is not None:
                break
        if res is None:
            res = (404, {}, {"error": "not found"})
        status, headers, out = res
        if isinstance(out, (dict, list)):
            out = json.dumps(out, separators=(",", ":")).encode()
            headers = dict(headers)
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(out, str):
            out = out.encode()
        elif out is None:
            out = b""
        delay = headers.pop("X-Demo-Delay", None) if isinstance(headers, dict) else None
        if delay:
            time.sleep(float(delay))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = dispatch


class RawHandler(socketserver.BaseRequestHandler):
    def handle(self):
        for m in self.server.sim_mods:
            if module_up(m) and getattr(m, "RAW", False):
                m.handle_raw(self.request)
                return


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def verify_request(self, request, client_address):
        return any(module_up(m) for m in self.sim_mods)


def watch_clients():
    """Exit once no wizard has held the sandbox's lock for the grace period."""
    grace = float(os.environ.get("DEMO_SERVER_GRACE", "3"))
    fd = os.open(os.path.join(SANDBOX, "server.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    free_since = None
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            free_since = None
        else:
            now = time.time()
            if free_since is None:
                free_since = now
            if now - free_since >= grace:
                # Still holding the lock: no wizard can attach while the files go away.
                for n in ("ports", "server.pid"):
                    try:
                        os.unlink(os.path.join(SANDBOX, n))
                    except OSError:
                        pass
                log("no wizard for %.1f s: exiting" % grace)
                os._exit(0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        time.sleep(0.2)


def main():
    if not SANDBOX:
        sys.exit("server.py: DEMO_SANDBOX is not set (run by dstack-wizard --demo)")
    mods = load_services()
    by_port = {}
    for m in mods:
        for p in getattr(m, "PORTS", []):
            by_port.setdefault(p, []).append(m)
    ctx = make_context(mods)
    lines = []
    for port in sorted(by_port):
        pmods = by_port[port]
        raw = any(getattr(m, "RAW", False) for m in pmods)
        srv = Server(("127.0.0.1", 0), RawHandler if raw else Handler)
        srv.sim_port = port
        srv.sim_mods = pmods
        srv.ssl_ctx = ctx
        lines.append("%d %d\n" % (port, srv.server_address[1]))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    with open(os.path.join(SANDBOX, "server.pid"), "w") as f:
        f.write("%d\n" % os.getpid())
    tmp = os.path.join(SANDBOX, "ports.tmp")
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.replace(tmp, os.path.join(SANDBOX, "ports"))
    log("demo server %d: %s" % (os.getpid(), " ".join(l.strip().replace(" ", "->") for l in lines)))
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    watch_clients()


if __name__ == "__main__":
    main()
