"""registry.py: the host's Docker registry (registry:2) on 443, for registry.<base domain>.

Up while the registry container runs; it serves the certificate the SSL step copied to
/etc/docker/registry/certs (SNI), so a client verifies it like the real one. Pushed tags are
state/registry/<repository>/<tag> (their manifest digests), written by the docker stand-in.
"""
import json
import os

import demolib

PORTS = [443]
TLS = True
UNIT = "container:registry"
CERTS = os.path.join(demolib.ROOT, "etc/docker/registry/certs")
HEADERS = {"Docker-Distribution-Api-Version": "registry/2.0"}


def HOSTS(host):
    return host.startswith("registry.")


def cert_for(servername):
    full = os.path.join(CERTS, "fullchain.pem")
    key = os.path.join(CERTS, "privkey.pem")
    if servername.startswith("registry.") and os.path.exists(full) and os.path.exists(key):
        return (full, key)
    return None


def repos():
    out = []
    base = demolib.state_path("registry")
    for dirpath, dirs, files in os.walk(base):
        if files:
            out.append(os.path.relpath(dirpath, base))
    return sorted(out)


def err(status, code, message, detail=None):
    h = dict(HEADERS)
    h["Content-Type"] = "application/json"
    return (status, h, {"errors": [{"code": code, "message": message, "detail": detail}]})


def handle(req):
    p = req.path
    h = dict(HEADERS)
    if p in ("/v2", "/v2/"):
        h["Content-Type"] = "application/json"
        return (200, h, "{}")
    if p == "/v2/_catalog":
        return (200, h, {"repositories": repos()})
    if p.startswith("/v2/") and "/manifests/" in p:
        name, ref = p[4:].split("/manifests/", 1)
        tags = demolib.state_list("registry/" + name)
        digest = None
        if ref.startswith("sha256:"):
            if any(demolib.state_get("registry/%s/%s" % (name, t)) == ref for t in tags):
                digest = ref
        elif ref in tags:
            digest = demolib.state_get("registry/%s/%s" % (name, ref))
        if digest is None:
            return err(404, "MANIFEST_UNKNOWN", "manifest unknown", {"Tag": ref} if not ref.startswith("sha256:") else None)
        h["Docker-Content-Digest"] = digest
        h["Content-Type"] = "application/vnd.docker.distribution.manifest.v2+json"
        body = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                           "digest": "sha256:" + demolib.demo_hex("config" + digest, 64)},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 31000000,
                            "digest": "sha256:" + demolib.demo_hex("layer%d%s" % (i, digest), 64)} for i in range(4)]}
        return (200, h, json.dumps(body, indent=3))
    if p.startswith("/v2/") and p.endswith("/tags/list"):
        name = p[4:-len("/tags/list")]
        tags = demolib.state_list("registry/" + name)
        if not tags:
            return err(404, "NAME_UNKNOWN", "repository name not known to registry", {"name": name})
        return (200, h, {"name": name, "tags": tags})
    return err(404, "NOT_FOUND", "not found")
