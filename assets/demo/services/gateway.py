"""gateway.py: the gateway inside the "dstack-gateway" CVM: its RPC on 9202 (TLS), its admin
API on 127.0.0.1:9203, and its TLS proxy on 9204, which serves /health for the gateway's own
name and forwards <app id>.<base domain> to the app's CVM (the hello-world page).
"""
import re

import cvm
import demolib

PORTS = [9202, 9203, 9204]
TLS = {9202: True, 9203: False, 9204: True}


def UNIT():
    return cvm.booted("dstack-gateway") is not None


def env(name):
    m = cvm.by_name("dstack-gateway")
    r = re.search(r"%s=(\S*)" % name, (m or {}).get("compose", {}).get("docker_compose_file", ""))
    return r.group(1) if r else ""


def hosts():
    out = []
    for vid in cvm.vm_ids():
        m = cvm.load(vid)
        if m and m["compose"].get("gateway_enabled") and cvm.booted(m["name"]):
            out.append({"instance_id": m.get("instance_id", ""), "ip": "10.4.0.%d" % (2 + len(out)),
                        "app_id": m.get("app_id", ""), "base_domain": env("SRV_DOMAIN"), "port": 443,
                        "latest_handshake": 0, "num_connections": 0})
    return out


def handle(req):
    if req.port == 9203:
        if req.path in ("/Status", "/prpc/Status"):
            return (200, {}, {"url": env("MY_URL"), "id": demolib.demo_hex("gateway-node", 64),
                              "bootnode_url": env("BOOTNODE_URL"), "num_connections": 0, "hosts": hosts()})
        return (404, {}, {"error": "not found"})
    if req.port == 9202:
        if req.path == "/prpc/Info":
            return (200, {}, {"base_domain": env("SRV_DOMAIN"), "external_port": 443,
                              "app_address_ns_prefix": "_dstack-app-address"})
        return (404, {}, {"error": "not found"})
    base = env("SRV_DOMAIN")
    host = req.host
    if req.path == "/health" and not re.match(r"^[0-9a-f]{40}", host):
        return (200, {"Content-Type": "text/plain"}, "OK")
    sub = host[:-len(base) - 1] if base and host.endswith("." + base) else ""
    app = re.match(r"^([0-9a-f]{40})(-\d+)?[sg]?$", sub)
    if app:
        for h in hosts():
            if h["app_id"] == app.group(1):
                import hello
                return hello.page()
        return (404, {"Content-Type": "text/plain"}, "app %s not found" % app.group(1))
    return (404, {"Content-Type": "text/plain"}, "not found")
