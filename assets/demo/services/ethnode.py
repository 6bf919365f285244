"""ethnode.py: a Sepolia JSON-RPC node on port 8545, just enough for the chain.

Balances live in state/balances/<address> (hex wei), contracts in state/contracts/<address>.json
(written by the demo's hardhat). The demo wallet's faucet: while the wallet step's action polls
the balance (the curl stand-in sends X-Demo-Step), the funds "arrive" after a short while.
Injected failure (blockchain-wallet): the node answers chain id 0x7a69, a local hardhat node.
"""
import os
import time

import demolib

PORTS = [8545]
TLS = False
UNIT = None

ONE_ETH = 10 ** 18
START = time.time()


def balance(addr):
    addr = addr.lower()
    pending = demolib.state_get("faucet/" + addr)
    if pending is not None and time.time() >= float(pending):
        demolib.state_set("balances/" + addr, hex(2 * ONE_ETH))
        try:
            os.unlink(demolib.state_path("faucet/" + addr))
        except OSError:
            pass
    return demolib.state_get("balances/" + addr, "0x0")


def contract(addr):
    return demolib.state_json("contracts/%s.json" % addr.lower())


def word(v):
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, int):
        return "%064x" % v
    v = v.lower().replace("0x", "")
    return v.rjust(64, "0")


SIGS = {}
for sig in ["owner()", "appImplementation()", "gatewayAppId()", "registeredApps(address)",
            "allowedComposeHashes(bytes32)", "allowAnyDevice()", "allowedOsImages(bytes32)",
            "allowedKmsComposeHashes(bytes32)", "allowedDeviceIds(bytes32)", "kmsInfo()",
            "nextAppSequence()", "allowedAggregatedMrs(bytes32)", "kmsAllowedAggregatedMrs(bytes32)",
            "kmsAllowedDeviceIds(bytes32)"]:
    SIGS[demolib.selector(sig)] = sig


def eth_call(to, data):
    c = contract(to)
    if c is None:
        return "0x"
    data = (data or "0x")[2:]
    sig = SIGS.get(data[:8])
    arg = data[8:72]
    if sig is None:
        raise ValueError("execution reverted: function selector was not recognized")
    name = sig.split("(")[0]
    if name == "owner":
        return "0x" + word(c.get("owner", "0x0"))
    if name == "appImplementation":
        return "0x" + word(c.get("appImplementation", "0x0"))
    if name == "gatewayAppId":
        gid = c.get("gatewayAppId", "")
        b = gid.encode()
        return "0x" + word(32) + word(len(b)) + b.hex().ljust(((len(b) + 31) // 32) * 64 or 64, "0")
    if name == "allowAnyDevice":
        return "0x" + word(bool(c.get("allowAnyDevice")))
    key = "0x" + arg.lower()
    if name == "registeredApps":
        key = "0x" + arg[-40:].lower()
        return "0x" + word(key in [a.lower() for a in c.get("apps", [])])
    lists = {"allowedComposeHashes": "composeHashes", "allowedOsImages": "osImages",
             "allowedKmsComposeHashes": "kmsComposeHashes", "allowedDeviceIds": "devices",
             "kmsAllowedDeviceIds": "devices", "allowedAggregatedMrs": "aggregatedMrs",
             "kmsAllowedAggregatedMrs": "aggregatedMrs"}
    if name in lists:
        return "0x" + word(key in [h.lower() for h in c.get(lists[name], [])])
    return "0x" + word(0)


def call(method, params, req):
    if method == "eth_chainId":
        return "0x7a69" if demolib.failing("blockchain-wallet") else hex(demolib.CHAIN_ID)
    if method == "net_version":
        return str(demolib.CHAIN_ID)
    if method == "eth_blockNumber":
        return hex(7100000 + int((time.time() - 1764000000) / 12))
    if method == "eth_gasPrice":
        return hex(1500000000)
    if method == "eth_getBalance":
        addr = params[0].lower()
        if req.headers.get("X-Demo-Step") == "blockchain-wallet" and \
                int(demolib.state_get("balances/" + addr, "0x0"), 16) == 0 and \
                not demolib.state_has("faucet/" + addr):
            # The operator asked a faucet: the funds arrive a little later.
            demolib.state_set("faucet/" + addr, str(time.time() + 15 * demolib.speed()))
        return balance(addr)
    if method == "eth_getCode":
        c = contract(params[0])
        return c.get("code", "0x60806040") if c else "0x"
    if method == "eth_getTransactionCount":
        return hex(int(demolib.state_get("nonces/" + params[0].lower(), "0")))
    if method == "eth_call":
        return eth_call(params[0].get("to", ""), params[0].get("data") or params[0].get("input"))
    if method == "eth_estimateGas":
        return hex(210000)
    if method == "web3_clientVersion":
        return "Geth/v1.14.11-stable/linux-amd64/go1.22.8 (dstack-wizard demo)"
    raise KeyError(method)


def one(d, req):
    rid = d.get("id")
    try:
        return {"jsonrpc": "2.0", "id": rid, "result": call(d.get("method"), d.get("params") or [], req)}
    except KeyError:
        return {"jsonrpc": "2.0", "id": rid,
                "error": {"code": -32601, "message": "the method %s does not exist/is not available" % d.get("method")}}
    except ValueError as e:
        return {"jsonrpc": "2.0", "id": rid, "error": {"code": 3, "message": str(e)}}


def handle(req):
    if req.method != "POST":
        return (405, {}, {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "POST only"}})
    d = req.json()
    if d is None:
        return (200, {}, {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
    if isinstance(d, list):
        return (200, {}, [one(x, req) for x in d])
    return (200, {}, one(d, req))
