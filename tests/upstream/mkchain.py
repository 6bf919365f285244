#!/usr/bin/env python3
"""mkchain.py SRC OUT: a chain for running the chain's local contract commands on this machine.

The real steps that run entirely here are copied unchanged (local-dev-setup, blockchain-wallet,
contract-compile, contract-deploy, kms-bootstrap). The steps they require that need the TDX
server (guest images, DNS, ...) become stubs with the same id whose check passes, so the real
ones are not locked. The local commands of the later server steps (the kms:* and app:* calls of
kms-cvm-deployment, gateway-build-configuration and hello-world-app) are copied, unchanged, into
one local step per server step ("local-of-<id>", in the chain's order), with the captures that
fill what they print and the checks of those steps (and of attestation-verification) that ask
the chain or the auth-api, so the real engine runs them with the environment, stdin and
captures it gives them.
"""
import os
import re
import shutil
import sys

import yaml

KEEP = ["local-dev-setup", "blockchain-wallet", "contract-compile", "contract-deploy", "kms-bootstrap"]
LATER = ["kms-cvm-deployment", "gateway-build-configuration", "hello-world-app", "attestation-verification"]
CAPTURED = {"gateway_app_id", "hello_app_id"}


class Loader(yaml.SafeLoader):
    """YAML 1.1 without on/off/yes/no as booleans (the chain's key `on:` is a string)."""


Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                             list("tTfF"))


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    shutil.copy(os.path.join(src, "chain.yaml"), out)
    steps = {}
    for name in sorted(os.listdir(src)):
        if name.endswith(".yaml") and name != "chain.yaml":
            with open(os.path.join(src, name)) as f:
                d = yaml.load(f, Loader=Loader)
            steps[d["id"]] = (name, d)
    needed = set()
    todo = list(KEEP)
    while todo:
        sid = todo.pop()
        for r in steps[sid][1].get("requires", []):
            if r not in KEEP and r not in needed:
                needed.add(r)
    for sid in KEEP:
        shutil.copy(os.path.join(src, steps[sid][0]), out)
    for sid in sorted(needed):
        name, d = steps[sid]
        stub = {"id": sid, "section": d["section"], "title": "(stub) " + d["title"], "place": "manual",
                "check": [{"name": "stands in for the server step " + sid, "run": "true"}]}
        with open(os.path.join(out, name), "w") as f:
            yaml.safe_dump(stub, f, sort_keys=False)
    prev = "kms-bootstrap"
    for sid in LATER:
        name, d = steps[sid]
        action = [c for c in d.get("action", []) if isinstance(c, dict) and c.get("on") == "local"]
        capture = [c for c in d.get("capture", []) if c["name"] in CAPTURED]
        check = [c for c in d.get("check", []) if isinstance(c, dict) and
                 ("rpc" in c or "${auth_api_port}" in str(c.get("http", {}).get("url", "")))]
        step = {"id": "local-of-" + sid, "section": d["section"], "title": "The local commands of " + sid,
                "place": "local" if action else "manual", "requires": [prev]}
        if action:
            step["action"] = action
        if capture:
            step["capture"] = capture
        step["check"] = check
        with open(os.path.join(out, "99-" + name), "w") as f:
            yaml.safe_dump(step, f, sort_keys=False, allow_unicode=True, width=1000)
        prev = step["id"]

main()
