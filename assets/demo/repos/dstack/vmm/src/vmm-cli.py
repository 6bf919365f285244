#!/usr/bin/env python3
"""vmm-cli.py (dstack-wizard demo copy): the dstack VMM's command line, talking to the demo VMM.

compose writes an app-compose.json (the same JSON, so the same hash, as upstream's) and prints
"Compose hash: <hex>"; deploy creates a VM (CreateVm); lsvm, lsimage, logs (which, like
upstream's, sends no Bearer token and so gets a 401 from a VMM whose [auth] is on), start
(StartVm), stop (ShutdownVm, or StopVm with -f/--force), remove (RemoveVm, which the VMM refuses
for a running VM). A failed call ends like upstream's, with "API call failed: <answer>". The URL
comes from --url (default http://localhost:8080, as upstream's). deploy --env-file needs the
crypto libraries (the venv of vmm/requirements.txt).
"""
import argparse
import hashlib
import json
import os
import sys

sys.path.insert(0, os.environ.get("DEMO_ASSETS", "."))
import demolib  # noqa: E402

SECRETISH = ("TOKEN", "KEY", "SECRET", "PASSWORD", "RPC_URL")


def connect(url):
    """The loopback port that answers for url's port (the demo maps every service port)."""
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    lport = demolib.ports().get(u.port or 80)
    if lport is None or u.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ConnectionRefusedError(111, "Connection refused")
    return lport


def request(url, path, body=None, auth=None):
    """(status, text) of a request to the VMM: POST with a JSON body, or GET without one."""
    import base64
    import urllib.error
    import urllib.request
    headers = {"Content-Type": "application/json"}
    if auth and auth[0] and auth[1]:
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (connect(url), path), data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except urllib.error.URLError as e:
        if isinstance(e.reason, ConnectionRefusedError):
            raise e.reason
        raise


def call(url, method, body=None):
    """A pRPC call; like upstream's client, anything but 200 is "API call failed: <answer>"."""
    status, text = request(url, "/prpc/%s?json" % method, body if body is not None else {})
    try:
        answer = json.loads(text)
    except ValueError:
        answer = text
    if status != 200:
        print("Traceback (most recent call last):\n  File \"vmm-cli.py\", line 1, in <module>\n"
              "Exception: API call failed: %s" % (answer if isinstance(answer, str) else json.dumps(answer)),
              file=sys.stderr)
        sys.exit(1)
    return answer


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
        print("Traceback (most recent call last):\n  File \"vmm-cli.py\", line 1, in <module>\n"
              "ImportError: Cryptography libraries not available. Please install them with:\n"
              "pip install cryptography eth-keys eth-utils", file=sys.stderr)
        sys.exit(1)


def table(head, rows):
    """Print rows under head in a box, as upstream's lsvm and lsimage do."""
    w = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    line = lambda left, mid, right: left + mid.join("\u2500" * (n + 2) for n in w) + right  # noqa: E731
    cells = lambda r: "\u2502 " + " \u2502 ".join(str(c).ljust(n) for c, n in zip(r, w)) + " \u2502"  # noqa: E731
    print("\n".join([line("\u250c", "\u252c", "\u2510"), cells(head), line("\u251c", "\u253c", "\u2524")] +
                    [cells(r) for r in rows] + [line("\u2514", "\u2534", "\u2518")]))


def size_mb(s):
    s = str(s).upper().rstrip("B")
    if s.endswith("G"):
        return int(float(s[:-1]) * 1024)
    if s.endswith("M"):
        return int(float(s[:-1]))
    return int(float(s))


def cmd_compose(a):
    with open(a.docker_compose, "rb") as f:
        dc = f.read().decode("utf-8")
    allowed = []
    if a.env_file:
        allowed = list(parse_env(a.env_file))
    app = {
        "manifest_version": 2,
        "name": a.name,
        "runner": "docker-compose",
        "docker_compose_file": dc,
        "kms_enabled": a.kms,
        "gateway_enabled": a.gateway,
        "local_key_provider_enabled": a.local_key_provider,
        "key_provider_id": a.key_provider_id or "",
        "public_logs": a.public_logs,
        "public_sysinfo": a.public_sysinfo,
        "allowed_envs": allowed,
        "no_instance_id": a.no_instance_id,
        "secure_time": a.secure_time,
    }
    if a.prelaunch_script:
        with open(a.prelaunch_script, "rb") as f:
            app["pre_launch_script"] = f.read().decode("utf-8")
    text = json.dumps(app, indent=4, ensure_ascii=False).encode("utf-8")
    with open(a.output, "wb") as f:
        f.write(text)
    print("App compose file created at: %s" % a.output)
    print("Compose hash: %s" % hashlib.sha256(text).hexdigest())


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
    print("App ID: %s" % app_id)
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
    ap.add_argument("--url", default=os.environ.get("DSTACK_VMM_URL", "http://localhost:8080"))
    ap.add_argument("--auth-user", default=os.environ.get("DSTACK_VMM_AUTH_USER"))
    ap.add_argument("--auth-password", default=os.environ.get("DSTACK_VMM_AUTH_PASSWORD"))
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compose")
    c.add_argument("--name", required=True)
    c.add_argument("--docker-compose", required=True)
    c.add_argument("--prelaunch-script")
    c.add_argument("--kms", action="store_true")
    c.add_argument("--gateway", action="store_true")
    c.add_argument("--local-key-provider", action="store_true")
    c.add_argument("--key-provider-id")
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
    lg.add_argument("-n", "--lines", type=int, default=20)
    lg.add_argument("-f", "--follow", action="store_true")
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
            if not vms:
                print("No VMs found")
                return
            table(["VM ID", "App ID", "Name", "Status", "Uptime"],
                  [[v["id"], v.get("app_id", ""), v["name"], v["status"], v.get("uptime", "-")] for v in vms])
            return
        if a.cmd == "lsimage":
            images = call(a.url, "ListImages", {}).get("images", [])
            if not images:
                print("No images found")
                return
            table(["Name", "Version"], [[i["name"], i.get("version", "-")] for i in images])
            return
        if a.cmd == "logs":
            # As upstream's: a plain GET, with Basic credentials only when given, which the
            # VMM's [auth] (a Bearer token) does not accept.
            status, text = request(a.url, "/logs?id=%s&follow=%s&ansi=false&lines=%d"
                                   % (a.id, str(a.follow).lower(), a.lines), auth=(a.auth_user, a.auth_password))
            if status != 200:
                print("Failed to get logs: %s" % text)
                return
            print("\n".join(text.splitlines()[-a.lines:]))
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
