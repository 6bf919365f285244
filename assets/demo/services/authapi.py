"""authapi.py: the KMS CVM's auth-api (auth-eth) on host port 8084.

GET / reports the contract it serves, read from the demo chain (and from dstack 0.5.11 on the RPC
URL it uses, ethRpcUrl). With a shared /v2/demo RPC URL
it cannot read the chain and answers 500 without a status field.
"""
import cvm
import demolib
from kms import compose_env, contract

PORTS = [8084]


def UNIT():
    m = cvm.booted("kms")
    return m is not None and cvm.mapped(m, 8084)


def handle(req):
    if req.path != "/":
        return (404, {}, {"error": "not found"})
    m = cvm.by_name("kms")
    if compose_env(m, "ETH_RPC_URL").rstrip("/").endswith("/v2/demo"):
        return (500, {}, {"error": "HTTP 429 Too Many Requests from the RPC provider"})
    addr, rec = contract()
    if not rec:
        return (500, {}, {"error": "call revert exception: no contract code at %s" % addr})
    impl = rec.get("appImplementation", "")
    out = {"status": "ok", "kmsContractAddr": addr, "gatewayAppId": rec.get("gatewayAppId", ""),
           "chainId": demolib.CHAIN_ID, "appAuthImplementation": impl, "appImplementation": impl}
    if demolib.vtuple(demolib.host_version()) >= (0, 5, 11):
        out["ethRpcUrl"] = compose_env(m, "ETH_RPC_URL")    # src/server.ts from v0.5.11
    return (200, {}, out)
