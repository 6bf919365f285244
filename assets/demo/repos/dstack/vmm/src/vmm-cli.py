#!/usr/bin/env python3
"""vmm-cli.py (dstack-wizard demo copy): the dstack VMM's command line, talking to the demo VMM.

compose writes an app-compose.json and prints its hash; deploy creates a VM (CreateVm); lsvm,
lsimage, logs, start (StartVm), stop (ShutdownVm, or StopVm with -f/--force), remove
(RemoveVm, which the VMM refuses for a running VM). The URL comes from --url (default
http://localhost:8080, as upstream's). --env-file needs the crypto libraries (the venv of
vmm/requirements.txt).
"""
import argparse
import hashlib
import json
import os
import sys

sys.path.insert(0, os.environ.get("DEMO_ASSETS", "."))
import demolib  # noqa: E402

SECRETISH = ("TOKEN", "KEY", "SECRET", "PASSWORD", "RPC_URL")


def call(url, method, body=None):
    import urllib.error
    import urllib.parse
    import urllib.request
    u = urllib.parse.urlsplit(url)
    port = u.port or 80
    lport = demolib.ports().get(port)
    if lport is None or u.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ConnectionRefusedError(111, "Connection refused")
    data = json.dumps(body if body is not None else {}).encode()
    req = urllib.request.Request("http://127.0.0.1:%d/prpc/%s?json" % (lport, method), data=data,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        try:
            msg = json.load(e).get("error", str(e))
        except ValueError:
            msg = str(e)
        print("Error: %s" % msg, file=sys.stderr)
        sys.exit(1)
    except urllib.error.URLError as e:
        if isinstance(e.reason, ConnectionRefusedError):
            raise e.reason
        raise


def parse_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def need_crypto():
    try:
        import cryptography  # noqa: F401
        import eth_keys  # noqa: F401
        import eth_utils  # noqa: F401
    except ImportError:
        print("Error: Cryptography libraries not available. Please install them: "
              "pip install cryptography eth-keys eth-utils", file=sys.stderr)
        sys.exit(1)


def size_mb(s):
    s = str(s).upper().rstrip("B")
    if s.endswith("G"):
        return int(float(s[:-1]) * 1024)
    if s.endswith("M"):
        return int(float(s[:-1]))
    return int(float(s))


def cmd_compose(a):
    with open(a.docker_compose) as f:
        dc = f.read()
    allowed = []
    if a.env_file:
        need_crypto()
        allowed = sorted(parse_env(a.env_file))
    app = {
        "manifest_version": 2,
        "name": a.name,
        "runner": "docker-compose",
        "docker_compose_file": dc,
        "kms_enabled": a.kms,
        "gateway_enabled": a.gateway,
        "local_key_provider_enabled": a.local_key_provider,
        "key_provider_id": "",
        "public_logs": a.public_logs,
        "public_sysinfo": a.public_sysinfo,
        "public_tcbinfo": True,
        "allowed_envs": allowed,
        "no_instance_id": a.no_instance_id,
        "secure_time": a.secure_time,
    }
    text = json.dumps(app, indent=4, ensure_ascii=False)
    with open(a.output, "w") as f:
        f.write(text)
    print("Compose file saved to: %s" % a.output)
    print("Compose hash: 0x%s" % hashlib.sha256(text.encode()).hexdigest())


def cmd_deploy(a):
    with open(a.compose) as f:
        text = f.read()
    env = {}
    if a.env_file:
        need_crypto()
        env = {k: ("<set>" if any(s in k for s in SECRETISH) else v) for k, v in parse_env(a.env_file).items()}
    ports = []
    for p in a.port or []:
        parts = p.split(":")
        if len(parts) == 4:
            proto, addr, hp, vp = parts
        elif len(parts) == 3:
            proto, hp, vp = parts
            addr = "127.0.0.1"
        else:
            print("Error: invalid port mapping %s (protocol:[address:]host_port:vm_port)" % p, file=sys.stderr)
            sys.exit(1)
        ports.append({"protocol": proto, "host_address": addr, "host_port": int(hp), "vm_port": int(vp)})
    app_id = a.app_id or hashlib.sha256(text.encode()).hexdigest()[:40]
    body = {"name": a.name, "image": a.image, "compose_file": text, "vcpu": a.vcpu,
            "memory": size_mb(a.memory), "disk_size": size_mb(a.disk) // 1024 if str(a.disk).upper().rstrip("B")[-1:] in "GM" else int(a.disk),
            "ports": ports, "app_id": app_id.lower().replace("0x", ""), "demo_env": env,
            "kms_urls": [a.kms_url] if a.kms_url else [], "gateway_urls": [a.gateway_url] if a.gateway_url else []}
    if a.env_file:
        call(a.url, "GetAppEnvEncryptPubKey", {"app_id": body["app_id"]})
        body["encrypted_env"] = demolib.demo_hex("env" + json.dumps(env, sort_keys=True), 128)
    res = call(a.url, "CreateVm", body)
    print("Created VM with ID: %s" % res["id"])


def main():
    ap = argparse.ArgumentParser(prog="vmm-cli.py", description="dstack VMM command line (demo)")
    ap.add_argument("--url", default="http://localhost:8080")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compose")
    c.add_argument("--name", required=True)
    c.add_argument("--docker-compose", required=True)
    c.add_argument("--prelaunch-script")
    c.add_argument("--kms", action="store_true")
    c.add_argument("--gateway", action="store_true")
    c.add_argument("--local-key-provider", action="store_true")
    c.add_argument("--public-logs", action="store_true")
    c.add_argument("--public-sysinfo", action="store_true")
    c.add_argument("--env-file")
    c.add_argument("--no-instance-id", action="store_true")
    c.add_argument("--secure-time", action="store_true")
    c.add_argument("--output", required=True)
    d = sub.add_parser("deploy")
    d.add_argument("--name", required=True)
    d.add_argument("--image", required=True)
    d.add_argument("--compose", required=True)
    d.add_argument("--env-file")
    d.add_argument("--app-id")
    d.add_argument("--port", action="append")
    d.add_argument("--vcpu", type=int, default=1)
    d.add_argument("--memory", default="1G")
    d.add_argument("--disk", default="20G")
    d.add_argument("--kms-url")
    d.add_argument("--gateway-url")
    sub.add_parser("lsvm").add_argument("-v", action="store_true")
    sub.add_parser("lsimage")
    lg = sub.add_parser("logs")
    lg.add_argument("id")
    lg.add_argument("-n", type=int, default=20)
    lg.add_argument("-f", action="store_true")
    for n in ("start", "stop", "remove"):
        sp = sub.add_parser(n)
        sp.add_argument("vm_id")
        if n == "stop":
            sp.add_argument("-f", "--force", action="store_true")
    demolib.maybe_fail("vmm-cli.py", sys.argv[1:])
    a = ap.parse_args()
    try:
        if a.cmd == "compose":
            return cmd_compose(a)
        if a.cmd == "deploy":
            return cmd_deploy(a)
        if a.cmd == "lsvm":
            vms = call(a.url, "Status", {}).get("vms", [])
            print("%-38s %-16s %-10s %s" % ("VM ID", "Name", "Status", "Boot"))
            for v in vms:
                print("%-38s %-16s %-10s %s" % (v["id"], v["name"], v["status"], v["boot_progress"]))
            return
        if a.cmd == "lsimage":
            for i in call(a.url, "ListImages", {}).get("images", []):
                print("%s %s" % (i["name"], i["version"]))
            return
        if a.cmd == "logs":
            import urllib.request
            lport = demolib.ports().get(9080)
            with urllib.request.urlopen("http://127.0.0.1:%d/logs?id=%s" % (lport, a.id), timeout=30) as r:
                lines = r.read().decode().splitlines()
            print("\n".join(lines[-a.n:]))
            return
        if a.cmd == "stop" and not a.force:
            call(a.url, "ShutdownVm", {"id": a.vm_id})
            print("Gracefully shutting down VM %s" % a.vm_id)
            return
        method, done = {"start": ("StartVm", "Started"), "stop": ("StopVm", "Forcefully stopped"),
                        "remove": ("RemoveVm", "Removed")}[a.cmd]
        call(a.url, method, {"id": a.vm_id})
        print("%s VM %s" % (done, a.vm_id))
    except ConnectionRefusedError:
        print("Traceback (most recent call last):\n  File \"vmm-cli.py\", line 1, in <module>\n"
              "ConnectionRefusedError: [Errno 111] Connection refused (%s)" % a.url, file=sys.stderr)
        sys.exit(1)


main()
