"""cloudflare.py: the Cloudflare API (api.cloudflare.com, 443) for the DNS step.

Records live in state/cloudflare/records.json and are mirrored into state/dns/<name> ("<ip>
<proxied>"), which the getent/dig stand-ins and certbot resolve with. Any non-empty bearer
token is accepted. Injected failure (dns-configuration): every call answers
"Authentication error" (code 10000), as for a token without DNS edit rights.
"""
import hashlib
import os

import demolib

PORTS = [443]
TLS = True
UNIT = None
HOSTS = ["api.cloudflare.com"]
PREFIX = "/client/v4"


def records():
    return demolib.state_json("cloudflare/records.json", [])


def save(recs):
    demolib.state_set_json("cloudflare/records.json", recs)
    d = demolib.state_path("dns")
    os.makedirs(d, exist_ok=True)
    for n in os.listdir(d):
        os.unlink(os.path.join(d, n))
    for r in recs:
        if r["type"] == "A":
            demolib.state_set("dns/" + r["name"], "%s %s" % (r["content"], "true" if r["proxied"] else "false"))


def ok(result, **extra):
    d = {"success": True, "errors": [], "messages": [], "result": result}
    d.update(extra)
    return (200, {}, d)


def err(status, code, message):
    return (status, {}, {"success": False, "errors": [{"code": code, "message": message}],
                         "messages": [], "result": None})


def handle(req):
    if not req.path.startswith(PREFIX):
        return None
    path = req.path[len(PREFIX):]
    auth = req.headers.get("Authorization", "")
    if demolib.failing("dns-configuration") or not auth.startswith("Bearer ") or len(auth) < 12:
        return err(403, 10000, "Authentication error")
    # What arrived, as its SHA-256 (never the token): a test compares it with what it gave.
    demolib.state_set("cloudflare/token-sha256",
                      hashlib.sha256(auth[len("Bearer "):].encode("utf-8", "surrogateescape"))
                      .hexdigest())
    if path == "/user/tokens/verify":
        return ok({"id": demolib.demo_hex("token", 32), "status": "active"})
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "zones" and parts[2] == "dns_records":
        zone = parts[1]
        recs = records()
        if req.method == "GET":
            name = req.query.get("name")
            rtype = req.query.get("type")
            found = [r for r in recs if (not name or r["name"] == name) and (not rtype or r["type"] == rtype)]
            return ok(found, result_info={"page": 1, "per_page": 100, "count": len(found),
                                          "total_count": len(found)})
        body = req.json() or {}
        if req.method == "POST":
            r = {"id": demolib.demo_hex("record:%s:%d" % (body.get("name"), len(recs)), 32),
                 "zone_id": zone, "zone_name": body.get("name", "").lstrip("*."),
                 "name": body.get("name"), "type": body.get("type", "A"),
                 "content": body.get("content"), "proxiable": True,
                 "proxied": bool(body.get("proxied", False)), "ttl": body.get("ttl", 1)}
            recs.append(r)
            save(recs)
            return ok(r)
        if req.method in ("PUT", "PATCH") and len(parts) == 4:
            for r in recs:
                if r["id"] == parts[3]:
                    for k in ("name", "type", "content", "ttl", "proxied"):
                        if k in body:
                            r[k] = body[k]
                    save(recs)
                    return ok(r)
            return err(404, 81044, "Record does not exist.")
        if req.method == "DELETE" and len(parts) == 4:
            save([r for r in recs if r["id"] != parts[3]])
            return ok({"id": parts[3]})
    return err(404, 7003, "Could not route to %s, perhaps your object identifier is invalid?" % req.path)
