"""cvm.py: the demo's confidential VMs, shared by the VMM service and the services that run
inside CVMs (KMS, gateway, the hello-world app).

A VM lives in <run_path>/<id>/ like the real VMM's: vm-manifest.json (name, image, app id,
ports, compose), serial.log (its console, written as it "boots") and demo.json (when it was
started and what goes wrong at boot, decided when it is created from the state of the host:
key provider, PCCS, registry, contracts). Boot takes BOOT_SECONDS scaled by DEMO_SPEED. A boot
that failed stays failed, as on a real host: the VM has to be stopped and removed (StopVm,
RemoveVm) and created again.
"""
import hashlib
import json
import os
import struct
import time

import demolib

BOOT_SECONDS = {"kms": 90, "dstack-gateway": 60}
STAGES = [(0.0, "booting"), (0.2, "initializing data disk"), (0.4, "pulling images"),
          (0.7, "starting containers"), (1.0, "done")]


def vmm_config():
    import tomllib
    try:
        with open(os.path.join(demolib.ROOT, "etc/dstack/vmm.toml"), "rb") as f:
            return tomllib.load(f)
    except (OSError, ValueError):
        return {}


def run_path():
    return vmm_config().get("run_path") or os.path.join(demolib.ROOT, "var/lib/dstack/vm")


def image_path():
    """The VMM's image directory: the top-level image_path, or from dstack 0.5.9 on [image] path
    (which wins over the deprecated image_path); without either, ~/.dstack-vmm/image of the user
    the VMM runs as (root under systemd)."""
    c = vmm_config()
    path = c.get("image_path", "")
    if demolib.vtuple(demolib.host_version()) >= (0, 5, 9):
        path = (c.get("image") or {}).get("path") or path
    return path or os.path.join(demolib.ROOT, "root/.dstack-vmm/image")


def images():
    out = []
    base = image_path()
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return out
    for n in names:
        try:
            with open(os.path.join(base, n, "metadata.json")) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            continue
        out.append({"name": n, "description": "", "version": meta.get("version", ""),
                    "is_dev": bool(meta.get("is_dev", False))})
    return out


def image_hash(name):
    d = os.path.join(image_path(), name)
    try:
        with open(os.path.join(d, "digest.txt")) as f:
            return f.read().strip()
    except OSError:
        pass
    try:
        with open(os.path.join(d, "sha256sum.txt"), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return ""


def vm_dir(vid):
    return os.path.join(run_path(), vid)


def vm_ids():
    try:
        return sorted(n for n in os.listdir(run_path())
                      if os.path.exists(os.path.join(run_path(), n, "vm-manifest.json")))
    except OSError:
        return []


def load(vid):
    try:
        with open(os.path.join(vm_dir(vid), "vm-manifest.json")) as f:
            m = json.load(f)
        with open(os.path.join(vm_dir(vid), "demo.json")) as f:
            m["demo"] = json.load(f)
        return m
    except (OSError, ValueError):
        return None


def save_demo(vid, demo):
    p = os.path.join(vm_dir(vid), "demo.json")
    with open(p + ".tmp", "w") as f:
        json.dump(demo, f)
    os.replace(p + ".tmp", p)


def by_name(name):
    for vid in vm_ids():
        m = load(vid)
        if m and m["name"] == name:
            return m
    return None


def progress(m):
    """(status, boot_progress, boot_error) of a VM now."""
    demo = m["demo"]
    if demo.get("status") != "running":
        return (demo.get("status", "stopped"), "", "")
    total = BOOT_SECONDS.get(m["name"], 40) * demolib.speed()
    frac = 1.0 if total <= 0 else (time.time() - demo["started"]) / total
    stage = "booting"
    for at, name in STAGES:
        if frac >= at:
            stage = name
    err = demo.get("boot_error", "")
    if err:
        at = demo.get("error_at", 0.4)
        if frac >= at:
            stage = [n for a, n in STAGES if a <= at][-1]
            return ("running", stage, err)
        return ("running", stage if stage != "done" else "starting containers", "")
    return ("running", stage, "")


def booted(name):
    m = by_name(name)
    if m is None:
        return None
    st, prog, err = progress(m)
    return m if st == "running" and prog == "done" and not err else None


def serial(m):
    """The console of VM m up to now (written to serial.log too)."""
    st, prog, err = progress(m)
    lines = ["[    0.000000] Linux version 6.9.0-dstack (dstack-wizard demo) #1 SMP",
             "[    0.000000] tdx: Guest detected",
             "[    1.102334] dstack-prepare: measuring app-id, compose-hash, instance-id into RTMR3"]
    order = [n for a, n in STAGES]
    reached = order.index(prog) if prog in order else 0
    if reached >= 1:
        lines.append("[    3.512000] dstack-prepare: initializing the data disk (encrypted with keys from %s)"
                     % ("the local SGX key provider" if m["compose"].get("local_key_provider_enabled") else "the KMS"))
    if m["compose"].get("secure_time") and reached >= 1:
        lines.append("[    4.000000] dstack-prepare: Waiting for the system time to be synchronized")
    if reached >= 2:
        lines.append("[    9.871000] dockerd: pulling images")
    if reached >= 3:
        lines.append("[   40.223000] docker compose up: starting containers")
    if err:
        lines.append("[   41.000000] dstack-prepare: error: %s" % err)
    if prog == "done":
        lines.append("[   60.000000] dstack-guest-agent: system-ready")
    text = "\n".join(lines) + "\n"
    try:
        with open(os.path.join(vm_dir(m["id"]), "serial.log"), "w") as f:
            f.write(text)
    except OSError:
        pass
    return text


def status_entry(m):
    st, prog, err = progress(m)
    serial(m)
    return {"id": m["id"], "name": m["name"], "status": st, "uptime": "%ds" % int(time.time() - m["demo"]["started"]),
            "app_url": "",
            "app_id": m.get("app_id", ""), "instance_id": m.get("instance_id", ""),
            "configuration": {"name": m["name"], "image": m["image"], "vcpu": m.get("vcpu", 1),
                              "memory": m.get("memory", 1024), "disk_size": m.get("disk_size", 20),
                              "ports": m.get("ports", []), "app_id": m.get("app_id", "")},
            "exited_at": "", "boot_progress": prog, "boot_error": err, "shutdown_progress": "",
            "image_version": m.get("image", "").replace("dstack-", "")}


def mapped(m, port, proto="tcp"):
    for p in m.get("ports", []):
        if p.get("protocol", "tcp") == proto and int(p.get("host_port", 0)) == port:
            return True
    return False


# --- measurements: an event log that really replays to RTMR3 ----------------------------------
def event(name, payload, imr=3, event_type=0x08000001):
    digest = hashlib.sha384(struct.pack("<I", event_type) + b":" + name.encode() + b":" + payload).hexdigest()
    return {"imr": imr, "event_type": event_type, "digest": digest, "event": name,
            "event_payload": payload.hex()}


def tcb_info(m):
    app_id = bytes.fromhex((m.get("app_id") or "").lower().replace("0x", "").rjust(40, "0"))
    compose_hash = bytes.fromhex(m.get("compose_hash", "0" * 64))
    instance = bytes.fromhex(m.get("instance_id") or demolib.demo_hex("inst" + m["id"], 40))
    kp = {"name": "local-sgx", "id": demolib.demo_hex("mrenclave", 64)} if m["compose"].get("local_key_provider_enabled") \
        else {"name": "kms", "id": demolib.demo_hex("kms-ca", 64)}
    events = [
        {"imr": 0, "event_type": 2147483659, "digest": demolib.demo_hex("ev0" + m["image"], 96), "event": "",
         "event_payload": ""},
        event("system-preparing", b""),
        event("app-id", app_id),
        event("compose-hash", compose_hash),
        event("instance-id", instance),
        event("boot-mr-done", b""),
        event("key-provider", json.dumps(kp, separators=(",", ":")).encode()),
        event("storage-fs", b"ext4"),
        event("system-ready", b""),
    ]
    rtmr = bytes(48)
    for e in events:
        if e["imr"] == 3:
            rtmr = hashlib.sha384(rtmr + bytes.fromhex(e["digest"])).digest()
    seed = m["image"]
    return {"mrtd": demolib.demo_hex("mrtd" + seed, 96), "rtmr0": demolib.demo_hex("rtmr0" + seed, 96),
            "rtmr1": demolib.demo_hex("rtmr1" + seed, 96), "rtmr2": demolib.demo_hex("rtmr2" + seed, 96),
            "rtmr3": rtmr.hex(), "os_image_hash": image_hash(m["image"]),
            "compose_hash": m.get("compose_hash", ""), "device_id": demolib.demo_hex("device", 64),
            "app_compose": json.dumps(m["compose"]), "event_log": events}
