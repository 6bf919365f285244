"""kmsagent.py: the KMS CVM's guest agent on 127.0.0.1:9205 (Worker.Info)."""
import json

import cvm
import demolib

PORTS = [9205]


def UNIT():
    m = cvm.booted("kms")
    return m is not None and cvm.mapped(m, 9205)


def handle(req):
    m = cvm.by_name("kms")
    if req.path.startswith("/prpc/Worker.Info") or req.path.startswith("/prpc/Info"):
        tcb = cvm.tcb_info(m)
        return (200, {}, {"app_id": m.get("app_id", ""), "instance_id": m.get("instance_id", ""),
                          "app_cert": "", "tcb_info": json.dumps(tcb), "app_name": "kms",
                          "device_id": demolib.demo_hex("device", 64), "compose_hash": m.get("compose_hash", ""),
                          "key_provider_info": json.dumps({"name": "local-sgx", "id": demolib.demo_hex("mrenclave", 64)})})
    return (404, {}, {"error": "not found"})
