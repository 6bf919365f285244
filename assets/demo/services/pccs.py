"""pccs.py: Intel's Provisioning Certificate Caching Service (PCCS) on 127.0.0.1:8081 (TLS).

Up while the pccs unit is active. Like a real PCCS it serves the root CA CRL without an API
key (Intel's PCS does not ask for one there); the platform's collateral (PCK certificates, TCB
info, QE identity) only when its configuration holds the API key Intel accepts (demolib).
"""
import demolib

PORTS = [8081]
TLS = True
UNIT = "pccs"
BASE = "/sgx/certification/v4"


def handle(req):
    if not (req.path.startswith(BASE) or req.path.startswith("/tdx/certification/v4")):
        return (404, {}, "Not Found")
    route = req.path.rsplit("/", 1)[-1]
    if route == "rootcacrl":
        return (200, {"Content-Type": "application/x-pem-file"},
                "308201213081c8020101300a06082a8648ce3d0403023068311a301806035504030c11496e74656c205347582052" +
                demolib.demo_hex("rootcacrl", 200))
    if not demolib.pccs_api_key_ok():
        return (401, {"Request-ID": demolib.demo_hex("req", 32)},
                "Intel PCS server returns error(401): no valid ApiKey in default.json")
    if route in ("pckcrl", "pckcert", "tcb", "qe/identity", "identity"):
        return (200, {"Content-Type": "application/json"},
                {"demo": True, "route": route, "issueDate": "2026-11-01T00:00:00Z"})
    return (200, {"Content-Type": "application/json"}, {"demo": True, "route": route})
