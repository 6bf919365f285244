"""kms.py: the KMS inside the "kms" CVM, on host port 8083 (its RPC).

Onboard mode first (plain HTTP): GET / is the onboarding page, Onboard.Bootstrap makes the
keys for a domain, GET /finish switches to the bootstrapped KMS, which speaks HTTPS and answers
KMS.GetMeta and KMS.GetTempCaCert. If the KMS's auth-api cannot use its RPC URL (a shared
/v2/demo key), GetMeta hangs past 10 seconds as it does on a real host.
"""
import os
import re

import cvm
import demolib

PORTS = [8083]


def UNIT():
    m = cvm.booted("kms")
    return m is not None and cvm.mapped(m, 8083)


def TLS(port):
    return demolib.state_get("kms/mode") == "bootstrapped"


def compose_env(m, name):
    r = re.search(r"%s=(\S+)" % name, (m or {}).get("compose", {}).get("docker_compose_file", ""))
    return r.group(1) if r else ""


def contract():
    m = cvm.by_name("kms")
    addr = compose_env(m, "KMS_CONTRACT_ADDR")
    rec = demolib.state_json("contracts/%s.json" % addr.lower()) if addr else None
    return addr, rec or {}


def ca_pem():
    with open(os.path.join(demolib.SANDBOX, "ca", "ca.pem")) as f:
        return f.read()


def scale_compact(n):
    """SCALE's compact encoding of a length."""
    if n < 1 << 6:
        return bytes([n << 2])
    if n < 1 << 14:
        return ((n << 2) | 1).to_bytes(2, "little")
    if n < 1 << 30:
        return ((n << 2) | 2).to_bytes(4, "little")
    b = n.to_bytes((n.bit_length() + 7) // 8, "little")
    return bytes([((len(b) - 4) << 2) | 3]) + b


def attestation(quote, report_data):
    """A VersionedAttestation::V0 as dstack 0.5.6 and later encode it (dstack-attest/src/
    attestation.rs, SCALE): V0, AttestationQuote::DstackTdx { quote, event_log }, runtime_events,
    report_data, config."""
    config = b"{}"
    return (b"\0\0" + scale_compact(len(quote)) + quote + scale_compact(0) + scale_compact(0) +
            report_data + scale_compact(len(config)) + config)


def kms_allowed():
    """Why the KMS contract does not allow this KMS to bootstrap (dstack 0.5.9 and later check its
    aggregated MR and device on chain), or ""."""
    addr, rec = contract()
    if not rec:
        return "call revert exception: no contract code at %s" % addr
    mr = "0x" + demolib.demo_hex("mr-aggregated", 64)
    dev = "0x" + demolib.demo_hex("device", 64)
    if mr not in rec.get("aggregatedMrs", []):
        return "Aggregated MR not allowed"
    if dev not in rec.get("devices", []):
        return "KMS is not allowed to boot on this device"
    return ""


def bootstrap(domain):
    """Onboard.Bootstrap's answer (kms_rpc.proto BootstrapResponse): ca_pubkey, k256_pubkey and,
    up to dstack 0.5.5, quote and eventlog; from 0.5.6 on one attestation in their place."""
    seed = "kms:" + domain
    info = {"ca_pubkey": "3059301306072a8648ce3d020106082a8648ce3d03010703420004" + demolib.demo_hex(seed + "ca", 128),
            "k256_pubkey": "02" + demolib.demo_hex(seed + "k256", 64)}
    quote = "040002008100000000000000939a7233f79c4ca9940a0db3957f0607" + demolib.demo_hex(seed + "quote", 2400)
    if demolib.vtuple(demolib.host_version()) >= (0, 5, 6):
        info["attestation"] = attestation(bytes.fromhex(quote), bytes.fromhex(demolib.demo_hex(seed + "rd", 128))).hex()
    else:
        info.update(quote=quote, eventlog=demolib.demo_hex(seed + "eventlog", 1200))
    demolib.state_set_json("kms/bootstrap.json", dict(info, domain=domain))
    return info


def handle(req):
    mode = demolib.state_get("kms/mode", "onboard")
    p = req.path
    if mode != "bootstrapped":
        if p == "/" and req.method == "GET":
            return (200, {"Content-Type": "text/html"}, "<!DOCTYPE html><html><head><title>dstack KMS Onboarding</title>"
                    "</head><body><h1>dstack KMS: onboarding</h1><p>Bootstrap this KMS or onboard it from another.</p></body></html>")
        if p == "/prpc/Onboard.Bootstrap":
            body = req.json() or {}
            domain = body.get("domain", "")
            if not domain:
                return (400, {}, {"error": "missing field `domain`"})
            if demolib.vtuple(demolib.host_version()) >= (0, 5, 9):
                why = kms_allowed()
                if why:
                    return (400, {}, {"error": "KMS is not allowed to bootstrap: %s" % why})
            return (200, {}, bootstrap(domain))
        if p == "/prpc/Onboard.GetAttestationInfo" and demolib.vtuple(demolib.host_version()) >= (0, 5, 7):
            return (200, {}, {"mr_aggregated": demolib.demo_hex("mr-aggregated", 64),
                              "device_id": demolib.demo_hex("device", 64),
                              "os_image_hash": cvm.image_hash(cvm.by_name("kms")["image"])})
        if p == "/finish":
            if not demolib.state_has("kms/bootstrap.json"):
                return (400, {"Content-Type": "text/plain"}, "not bootstrapped yet")
            demolib.state_set("kms/mode", "bootstrapped")
            return (200, {"Content-Type": "text/plain"}, "OK")
        return (404, {}, {"error": "not found (the KMS is in onboard mode)"})
    info = demolib.state_json("kms/bootstrap.json", {})
    addr, rec = contract()
    m = cvm.by_name("kms")
    slow = compose_env(m, "ETH_RPC_URL").rstrip("/").endswith("/v2/demo")
    if p == "/prpc/KMS.GetMeta":
        h = {"X-Demo-Delay": "12"} if slow else {}
        return (200, h, {"ca_cert": ca_pem(), "allow_any_upgrade": False,
                         "k256_pubkey": info.get("k256_pubkey", ""),
                         "bootstrap_info": {k: v for k, v in info.items() if k != "domain"},
                         "is_dev": False, "gateway_app_id": rec.get("gatewayAppId", ""),
                         "kms_contract_address": addr, "chain_id": demolib.CHAIN_ID,
                         "app_auth_implementation": rec.get("appImplementation", "")})
    if p == "/prpc/KMS.GetTempCaCert":
        return (200, {}, {"temp_ca_cert": ca_pem(),
                          "temp_ca_key": "-----BEGIN PRIVATE KEY-----\n(dstack-wizard demo)\n-----END PRIVATE KEY-----\n",
                          "ca_cert": ca_pem()})
    return (404, {}, {"error": "Method not found"})
