"""vmm.py: the dstack VMM's API on 127.0.0.1:9080 (/prpc/<Method>, /guest/Info, /logs).

Up while the dstack-vmm unit is active. VMs are kept by cvm.py under the VMM's run_path. When
a VM is created, what will go wrong at its boot is decided from the host's state, so the
chain's checks and hints see the real causes: secure time on, the key provider or the PCCS
down, an image missing from the registry, an app or compose hash not allowlisted on chain.
/logs wants the Bearer token of vmm.toml's [auth] when it is enabled, as the real VMM does.
Injected failures: kms-cvm-deployment (the CVM waits for the system time forever),
gateway-service and hello-world-app (the KMS refuses the compose hash). A failed boot stays
failed: like dstack 0.5's VMM, RemoveVm refuses a running VM ("stop it first"), so a VM is
stopped (StopVm, or ShutdownVm) and then removed before it is created again.
"""
import json
import os
import re
import time
import uuid

import cvm
import demolib

PORTS = [9080]
TLS = False
UNIT = "dstack-vmm"


def version():
    return demolib.host_version()


def bad(msg, status=400):
    return (status, {}, {"error": msg})


def kms_contract():
    """The KMS contract the demo KMS serves (named in the KMS CVM's compose file)."""
    import kms
    addr, rec = kms.contract()
    return addr, (rec or None)


def pccs_ok():
    return demolib.unit_active("pccs") and demolib.unit_active("qgsd") and demolib.pccs_api_key_ok()


def plan_boot(m, cfg):
    """What goes wrong at boot (error text, fraction of the boot when it shows), or ("", 0)."""
    c = m["compose"]
    name = m["name"]
    if (name == "kms" and demolib.failing("kms-cvm-deployment")) or c.get("secure_time"):
        return ("Waiting for the system time to be synchronized: no answer after 300 s "
                "(the CVM was started with secure time on)", 0.3)
    if demolib.failing("gateway-service") and name == "dstack-gateway" or \
            demolib.failing("hello-world-app") and name == "hello-world":
        return ("Failed to get app keys from the KMS: Compose hash not allowed", 0.3)
    if c.get("local_key_provider_enabled"):
        if not cfg.get("key_provider", {}).get("enabled"):
            return ("Key provider is not enabled in vmm.toml", 0.2)
        if not demolib.container_running("gramine-sealing-key-provider"):
            return ("Failed to get sealing key: Connection refused (os error 111)", 0.2)
    if not pccs_ok():
        return ("Failed to get quote: TDX_ATTEST_ERROR_UNEXPECTED (QGS error code: 0x12001)", 0.2)
    if re.search(r"(?m)^\s*image:[ \t]*(\$\{[A-Z_]+\})?[ \t]*$", c.get("docker_compose_file", "")):
        return ("failed to pull an image: Error response from daemon: invalid reference format", 0.45)
    for img in re.findall(r"image:\s*(\S+)", c.get("docker_compose_file", "")):
        if img.startswith("registry.") and "@sha256:" in img:
            repo_host, digest = img.split("@", 1)
            repo = repo_host.split("/", 1)[1] if "/" in repo_host else repo_host
            tags = demolib.state_list("registry/" + repo)
            if not demolib.container_running("registry") or \
                    not any(demolib.state_get("registry/%s/%s" % (repo, t)) == digest for t in tags):
                return ("failed to pull %s: manifest unknown" % img, 0.45)
    if c.get("kms_enabled"):
        if not cfg.get("kms_url") and not cfg.get("cvm", {}).get("kms_urls"):
            return ("KMS is not configured", 0.2)
        addr, rec = kms_contract()
        if rec is None or not demolib.state_get("kms/mode") == "bootstrapped":
            return ("Failed to get app keys from the KMS: connection refused", 0.2)
        app = ("0x" + m.get("app_id", "")).lower()
        apps = [a.lower() for a in rec.get("apps", [])]
        if app not in apps:
            return ("Failed to get app keys from the KMS: App not registered", 0.2)
        if ("0x" + cvm.image_hash(m["image"])) not in rec.get("osImages", []):
            return ("Failed to get app keys from the KMS: OS image is not allowed", 0.2)
        arec = demolib.state_json("contracts/%s.json" % app) or {}
        if ("0x" + m["compose_hash"]) not in arec.get("composeHashes", []):
            return ("Failed to get app keys from the KMS: Compose hash not allowed", 0.2)
        if not arec.get("allowAnyDevice"):
            return ("Failed to get app keys from the KMS: Device not allowed", 0.2)
    return ("", 0)


def create(body):
    cfg = cvm.vmm_config()
    name = body.get("name", "")
    image = body.get("image", "")
    if not any(i["name"] == image for i in cvm.images()):
        return bad("Failed to load image %s: no such image in %s" % (image, cvm.image_path()))
    try:
        compose = json.loads(body.get("compose_file", "{}"))
    except ValueError:
        return bad("invalid compose_file")
    pm = cfg.get("cvm", {}).get("port_mapping", {})
    ports = body.get("ports", [])
    if ports and not pm.get("enabled"):
        return bad("Port mapping is disabled")
    for p in ports:
        ok = any(r.get("protocol") == p.get("protocol") and r["from"] <= int(p["host_port"]) <= r["to"]
                 for r in pm.get("range", []))
        if not ok:
            return bad("Port mapping is not allowed for %s:%s" % (p.get("protocol"), p.get("host_port")))
    for vid in cvm.vm_ids():
        other = cvm.load(vid)
        if other and other["demo"].get("status") == "running":
            for p in ports:
                if cvm.mapped(other, int(p["host_port"]), p.get("protocol", "tcp")):
                    return bad("Port %s:%s is already used by VM %s" % (p.get("protocol"), p["host_port"], other["name"]))
    vid = str(uuid.UUID(demolib.demo_uuid("vm:%s:%f" % (name, time.time()))))
    d = cvm.vm_dir(vid)
    os.makedirs(os.path.join(d, "shared"), exist_ok=True)
    compose_text = body.get("compose_file", "{}")
    import hashlib
    m = {"id": vid, "name": name, "image": image, "app_id": (body.get("app_id") or "").lower(),
         "instance_id": "" if compose.get("no_instance_id") else demolib.demo_hex("instance" + vid, 40),
         "vcpu": body.get("vcpu", 1), "memory": body.get("memory", 1024), "disk_size": body.get("disk_size", 20),
         "ports": ports, "compose": compose, "compose_hash": hashlib.sha256(compose_text.encode()).hexdigest(),
         "env": body.get("demo_env", {}), "created_at_ms": int(time.time() * 1000)}
    with open(os.path.join(d, "vm-manifest.json"), "w") as f:
        json.dump(m, f, indent=1)
    with open(os.path.join(d, "shared", "app-compose.json"), "w") as f:
        f.write(compose_text)
    err, at = plan_boot(m, cfg)
    cvm.save_demo(vid, {"status": "running", "started": time.time(), "boot_error": err, "error_at": at})
    if name == "kms":
        demolib.state_set("kms/mode", "onboard")
    return (200, {}, {"id": vid})


def vm_arg(body, req):
    vid = body.get("id") or req.query.get("id", "")
    m = cvm.load(vid) if vid and "/" not in vid else None
    return m


def handle(req):
    p = req.path
    body = req.json() or {}
    if p in ("/", "/index.html"):
        return (200, {"Content-Type": "text/html"}, "<!DOCTYPE html><html><head><title>dstack VMM</title></head>"
                "<body><h1>dstack VMM</h1><p>dstack-wizard demo host</p></body></html>")
    if p == "/logs":
        # dstack 0.5's VMM guards only this route with [auth] (rocket_apitoken): a Bearer token
        # listed in tokens; vmm-cli sends none (or Basic credentials), so it gets a 401 here.
        auth = cvm.vmm_config().get("auth", {})
        if auth.get("enabled"):
            given = req.headers.get("Authorization", "")
            if not (given.startswith("Bearer ") and given[7:].strip() in auth.get("tokens", [])):
                return (401, {"Content-Type": "text/html; charset=utf-8"},
                        "<!DOCTYPE html><html><head><title>401 Unauthorized</title></head><body>"
                        "<h1>401: Unauthorized</h1><p>The request requires user authentication.</p></body></html>")
        m = vm_arg(body, req)
        if m is None:
            return (404, {}, "VM not found")
        return (200, {"Content-Type": "text/plain"}, cvm.serial(m))
    if p == "/guest/Info":
        m = vm_arg(body, req)
        if m is None:
            return bad("VM not found")
        st, prog, err = cvm.progress(m)
        if prog != "done" or err:
            return bad("the guest agent of %s is not up yet" % m["name"])
        # The guest agent's AppInfo (agent_rpc.proto): tcb_info is a string holding JSON, empty
        # when the app compose says public_tcbinfo = false (dstack-types: it defaults to true).
        public = m["compose"].get("public_tcbinfo", True)
        return (200, {}, {"version": version(), "app_id": m.get("app_id", ""), "instance_id": m.get("instance_id", ""),
                          "app_cert": "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % demolib.demo_hex("cert" + m["id"], 64),
                          "tcb_info": json.dumps(cvm.tcb_info(m)) if public else "",
                          "device_id": demolib.demo_hex("device", 64)})
    if not p.startswith("/prpc/"):
        return (404, {}, "Not Found")
    method = p[len("/prpc/"):]
    cfg = cvm.vmm_config()
    if method == "Version":
        return (200, {}, {"version": version(), "rev": demolib.demo_hex("rev" + version(), 40)})
    if method == "GetMeta":
        c = cfg.get("cvm", {})
        return (200, {}, {"kms": {"url": cfg.get("kms_url", ""), "urls": c.get("kms_urls", [])},
                          "gateway": {"url": (c.get("gateway_urls") or [""])[0], "urls": c.get("gateway_urls", []),
                                      "base_domain": cfg.get("gateway", {}).get("base_domain", ""),
                                      "port": cfg.get("gateway", {}).get("port", 0)},
                          "resources": {"max_cvm_number": c.get("cid_pool_size", 1000),
                                        "max_allocable_vcpu": c.get("max_allocable_vcpu", 0),
                                        "max_allocable_memory_in_mb": c.get("max_allocable_memory_in_mb", 0)}})
    if method == "ListImages":
        if not os.path.isdir(cvm.image_path()):
            return bad("Failed to read image directory: No such file or directory (os error 2)", 500)
        return (200, {}, {"images": cvm.images()})
    if method == "Status":
        vms = [cvm.status_entry(cvm.load(v)) for v in cvm.vm_ids()]
        return (200, {}, {"vms": vms, "port_mapping_enabled": bool(cfg.get("cvm", {}).get("port_mapping", {}).get("enabled")),
                          "total": len(vms)})
    if method == "GetInfo":
        m = vm_arg(body, req)
        return (200, {}, {"found": m is not None, "info": cvm.status_entry(m) if m else None})
    if method == "CreateVm":
        return create(body)
    if method in ("StopVm", "StartVm", "RemoveVm", "ShutdownVm"):
        m = vm_arg(body, req)
        if m is None:
            return bad("VM not found")
        if method == "RemoveVm":
            if m["demo"].get("status") == "running":
                return bad("Failed to remove VM: VM is running, stop it first", 500)
            import shutil
            shutil.rmtree(cvm.vm_dir(m["id"]), ignore_errors=True)
        else:
            demo = m["demo"]
            demo["status"] = "running" if method == "StartVm" else "stopped"
            if method == "StartVm":
                demo["started"] = time.time()
            cvm.save_demo(m["id"], demo)
        return (200, {}, {})
    if method == "GetAppEnvEncryptPubKey":
        return (200, {}, {"public_key": demolib.demo_hex("envkey" + body.get("app_id", ""), 64),
                          "signature": demolib.demo_hex("envsig" + body.get("app_id", ""), 130)})
    return bad("Method not found: %s" % method, 404)
