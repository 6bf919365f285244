"""gateway.py: the gateway inside the "dstack-gateway" CVM: its RPC on 9202 (TLS), its admin
API on 127.0.0.1:9203 (from dstack 0.5.6 also the admin RPCs that set ACME, DNS credentials and
the ZT-Domain, which bootstrap-cluster.sh calls from 0.5.9 on), and its
TLS proxy on 9204, which serves /health only for the gateway's own name (RPC_DOMAIN, by default
gateway.<SRV_DOMAIN>) and forwards <app id>.<base domain> to the app's CVM (the hello-world
page). Its settings come from the CVM's environment, as on a real host.
"""
import re

import cvm
import demolib

PORTS = [9202, 9203, 9204]
TLS = {9202: True, 9203: False, 9204: True}


def UNIT():
    return cvm.booted("dstack-gateway") is not None


def env(name):
    """A variable of the gateway CVM: from its environment (.app_env, which the deploy script
    hands to vmm-cli --env-file), else as written into its compose file."""
    m = cvm.by_name("dstack-gateway") or {}
    v = (m.get("env") or {}).get(name)
    if v is not None:
        return v
    if name == "SRV_DOMAIN":    # from 0.5.6 on it is the ZT-Domain set through the admin API
        doms = demolib.state_json("gateway/admin.json", {}).get("domains") or [{}]
        if doms[0].get("config", {}).get("domain"):
            return doms[0]["config"]["domain"]
    r = re.search(r"%s=(\S*)" % name, m.get("compose", {}).get("docker_compose_file", ""))
    return r.group(1) if r and not r.group(1).startswith("${") else ""


def rpc_domain():
    """The name the gateway's certificate and /health are for: RPC_DOMAIN, which the gateway
    image defaults to gateway.<SRV_DOMAIN>."""
    return env("RPC_DOMAIN") or ("gateway." + env("SRV_DOMAIN") if env("SRV_DOMAIN") else "")


def admin(method, body):
    """The admin RPCs (dstack 0.5.6 and later) that configure ACME and DNS, which
    bootstrap-cluster.sh (0.5.9 and later) calls; kept in state/gateway."""
    conf = demolib.state_json("gateway/admin.json", {"certbot": {}, "credentials": [], "domains": []})
    if method == "SetCertbotConfig":
        conf["certbot"] = body
    elif method == "ListDnsCredentials":
        return {"credentials": conf["credentials"]}
    elif method == "CreateDnsCredential":
        if body.get("provider_type") == "cloudflare" and not body.get("cf_api_token"):
            return (400, {}, {"error": "cf_api_token is required for cloudflare"})
        cred = {"id": demolib.demo_hex("cred%d" % len(conf["credentials"]), 16), "name": body.get("name", ""),
                "provider_type": body.get("provider_type", ""), "is_default": bool(body.get("set_as_default"))}
        conf["credentials"].append(cred)
        demolib.state_set_json("gateway/admin.json", conf)
        return cred
    elif method == "ListZtDomains":
        return {"domains": conf["domains"]}
    elif method == "AddZtDomain":
        # gateway_rpc.proto: ZtDomainInfo { ZtDomainConfig config; ZtDomainCertStatus cert_status }.
        name = body.get("domain", "")
        if not name:
            return (400, {}, {"error": "domain is required"})
        if any(d["config"]["domain"] == name for d in conf["domains"]):
            return (400, {}, {"error": "ZT-Domain %s already exists" % name})
        dom = {"config": {"domain": name, "port": body.get("port", 443), "priority": body.get("priority", 0)},
               "cert_status": {"has_cert": False, "not_after": 0, "issued_by": 0, "issued_at": 0,
                               "loaded_in_memory": False}}
        conf["domains"].append(dom)
        demolib.state_set_json("gateway/admin.json", conf)
        return dom
    elif method == "GetCertbotConfig":
        return conf["certbot"]
    else:
        return None
    demolib.state_set_json("gateway/admin.json", conf)
    return {}


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
        # The admin service is mounted at / and, from dstack 0.5.6 on, at /prpc too.
        new = demolib.vtuple(demolib.host_version()) >= (0, 5, 6)
        if req.path == "/Status" or (req.path == "/prpc/Status" and new):
            return (200, {}, {"url": env("MY_URL"), "id": demolib.demo_hex("gateway-node", 64),
                              "bootnode_url": env("BOOTNODE_URL"), "num_connections": 0, "hosts": hosts()})
        if req.path.startswith("/prpc/") and new:
            out = admin(req.path[len("/prpc/"):], req.json() or {})
            if isinstance(out, tuple):
                return out
            if out is not None:
                return (200, {}, out)
        return (404, {}, {"error": "not found"})
    if req.port == 9202:
        if req.path == "/prpc/Info":
            return (200, {}, {"base_domain": env("SRV_DOMAIN"), "external_port": 443,
                              "app_address_ns_prefix": "_dstack-app-address"})
        return (404, {}, {"error": "not found"})
    base = env("SRV_DOMAIN")
    host = req.host
    if req.path == "/health" and host == rpc_domain():
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
