#!/usr/bin/python3
# dstack_probe: the probes of dstack-wizard's step files (http:, tcp:, rpc:) as an Ansible
# module, with the meaning the wizard gives them (steps/probe.c): an HTTP status (any 2xx
# unless one is named), JSON assertions and a body regex; a TCP connection; an Ethereum
# JSON-RPC check (chain id, code at an address, a balance, an eth_call). Like a check
# command it never fails the task: it prints what it saw in stdout and sets rc (0: the probe
# holds, 1: it does not, with the reason in msg).
#
# On dstack-wizard's demo host (DEMO=1 in the environment, as a --demo export sets it) every
# connection goes to the loopback port that answers for the probe's port, with the demo CA
# trusted: what the wizard and the demo's curl do (assets/demo/README.md).
import http.client
import json
import os
import socket
import ssl
import time
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import dstack_wizard as dw

DOCUMENTATION = r"""
module: dstack_probe
short_description: A dstack-wizard probe (http, tcp, rpc), with the wizard's meaning
description: Exported by dstack-wizard export ansible; see the project's README.md.
options: {}
"""

BODY_LINES = 200


class Probe:
    def __init__(self, p):
        self.p = p
        self.out = []
        self.timeout = p["timeout"] or 60
        self.ports = {}
        self.ca = None
        if os.environ.get("DEMO") == "1" and os.environ.get("DEMO_SANDBOX"):
            sandbox = os.environ["DEMO_SANDBOX"]
            try:
                with open(os.path.join(sandbox, "ports")) as f:
                    for line in f:
                        a = line.split()
                        if len(a) == 2 and a[0].isdigit() and a[1].isdigit():
                            self.ports[int(a[0])] = int(a[1])
            except OSError:
                pass
            self.ports = self.ports or {0: 9}
            self.ca = os.path.join(sandbox, "ca", "ca.pem")

    def say(self, text):
        self.out.append(text)

    def route(self, host, port):
        """Where a connection to host:port goes: the demo port map, else resolve: lines."""
        if self.ports:
            return "127.0.0.1", self.ports.get(port, 9)
        for r in self.p["resolve"] or []:
            h, _, rest = r.partition(":")
            rport, _, addr = rest.partition(":")
            if h == host and rport == str(port):
                return addr.strip("[]"), port
        return host, port

    def http(self, url, method, headers, body, insecure):
        u = urlsplit(url)
        tls = u.scheme == "https"
        host = u.hostname or ""
        port = u.port or (443 if tls else 80)
        chost, cport = self.route(host, port)
        sock = socket.create_connection((chost, cport), timeout=self.timeout)
        if tls:
            if insecure:
                ctx = ssl._create_unverified_context()
            else:
                ctx = ssl.create_default_context(cafile=self.ca if self.ca and
                                                 os.path.exists(self.ca) else None)
            sock = ctx.wrap_socket(sock, server_hostname=host)
        conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        conn.sock = sock
        path = (u.path or "/") + ("?" + u.query if u.query else "")
        hdrs = {}
        for h in headers or []:
            name, _, value = h.partition(":")
            hdrs[name.strip()] = value.strip()
        if body is not None and "Content-Type" not in hdrs:
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=body.encode() if body is not None else None,
                     headers=hdrs)
        res = conn.getresponse()
        data = res.read()
        conn.close()
        return res.status, res.getheaders(), data.decode("utf-8", "replace")

    def judge_json(self, doc):
        first = None
        for a in self.p["json"] or []:
            ok, why = dw.check(a, doc)
            if ok:
                self.say("holds: %s" % a)
            else:
                self.say("fails: %s: %s" % (a, why))
                first = first or why
        return first

    def run_http(self):
        p = self.p
        method = p["method"] or ("POST" if p["body"] is not None else "GET")
        t0 = time.time()
        status, headers, body = self.http(p["url"], method, p["headers"], p["body"],
                                          p["insecure"])
        self.say("HTTP %d (%d ms)" % (status, (time.time() - t0) * 1000))
        want = [h.lower() for h in p["capture_headers"] or []]
        for name, value in headers:
            if name.lower() in want:
                self.say("%s: %s" % (name, value))
        lines = body.split("\n")
        self.out.extend(lines[:BODY_LINES])
        if len(lines) > BODY_LINES:
            self.say("... (%d more lines of body not shown)" % (len(lines) - BODY_LINES))
        if p["status"]:
            if status != p["status"]:
                return "HTTP %d (wanted %d): %s" % (status, p["status"], body[:200])
        elif not 200 <= status < 300:
            return "HTTP %d (wanted 2xx): %s" % (status, body[:200])
        why = self.judge_json(body)
        if why is None and p["body_match"] is not None:
            if not dw.rx(p["body_match"], lines=True).search(body):
                why = "body did not match /%s/" % p["body_match"]
        return why

    def run_tcp(self):
        target = self.p["target"] or ""
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        if not port.isdigit() or not host:
            return "tcp: '%s' is not host:port" % target
        chost, cport = self.route(host, int(port))
        t0 = time.time()
        try:
            socket.create_connection((chost, cport), timeout=self.timeout).close()
        except ConnectionRefusedError:
            return "connection refused by %s" % target
        except OSError as e:
            return "cannot connect to %s: %s" % (target, e.strerror or e)
        self.say("connected to %s (%d ms)" % (target, (time.time() - t0) * 1000))
        return None

    def rpc(self, method, params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        try:
            status, _, text = self.http(self.p["url"], "POST", [], body, False)
        except OSError as e:
            raise RuntimeError("cannot reach the RPC URL: %s (%s)" % (e, method))
        if status != 200:
            raise RuntimeError("HTTP %d from the RPC URL (%s)" % (status, method))
        try:
            ans = json.loads(text)
        except ValueError:
            raise RuntimeError("the RPC URL did not answer JSON (%s)" % method)
        if not isinstance(ans, dict) or "result" not in ans:
            err = ans.get("error") if isinstance(ans, dict) else None
            msg = err.get("message") if isinstance(err, dict) else str(err)
            raise RuntimeError("%s (%s)" % (msg or "no result", method))
        return ans["result"]

    def run_rpc(self):
        p = self.p
        call = p["call"]
        if not p["url"]:
            return "no RPC URL"
        addr = (p["address"] or "").lower()
        if call != "chain_id" and not (addr.startswith("0x") and len(addr) == 42 and
                                       all(c in "0123456789abcdef" for c in addr[2:])):
            return 'bad address "%s" (wanted 0x and 40 hex digits)' % (p["address"] or "")
        try:
            cid = int(self.rpc("eth_chainId", []), 16)
            self.say("chain %d" % cid)
            if p["chain_id"] and cid != int(p["chain_id"]):
                return "wrong chain: the RPC URL serves chain %d, wanted %s" % (cid, p["chain_id"])
            if call == "chain_id":
                return None
            if call == "code":
                code = self.rpc("eth_getCode", [addr, "latest"]) or "0x"
                if code[2:].strip("0") == "":
                    self.say("code: 0x")
                    return "no contract at %s on chain %d" % (addr, cid)
                self.say("code: %.200s%s" % (code, "..." if len(code) > 200 else ""))
                return None
            if call == "balance":
                bal = int(self.rpc("eth_getBalance", [addr, "latest"]), 16)
                self.say("balance: %d" % bal)
                try:
                    want = int(Decimal(p["min_eth"] or "0") * 10 ** 18)
                except InvalidOperation:
                    return "bad min_eth '%s'" % p["min_eth"]
                if bal < want:
                    return "balance of %s is %s ETH, wanted at least %s ETH (chain %d)" % (
                        addr, Decimal(bal) / 10 ** 18, p["min_eth"], cid)
                return None
            value = self.rpc("eth_call", [{"to": addr, "data": p["data"] or "0x"}, "latest"])
            self.say("eth_call: %.200s%s" % (value, "..." if len(value) > 200 else ""))
            return self.judge_json(json.dumps({"result": value}))
        except RuntimeError as e:
            return str(e)


def main():
    m = AnsibleModule(argument_spec=dict(
        kind=dict(type="str", required=True, choices=["http", "tcp", "rpc"]),
        url=dict(type="str"), method=dict(type="str"), body=dict(type="str"),
        headers=dict(type="list", elements="str"), status=dict(type="int", default=0),
        insecure=dict(type="bool", default=False), resolve=dict(type="list", elements="str"),
        json=dict(type="list", elements="str"), body_match=dict(type="str"),
        capture_headers=dict(type="list", elements="str"), target=dict(type="str"),
        call=dict(type="str"), chain_id=dict(type="str"), address=dict(type="str"),
        min_eth=dict(type="str"), data=dict(type="str"), timeout=dict(type="int", default=60),
    ), supports_check_mode=True)
    pr = Probe(m.params)
    try:
        why = getattr(pr, "run_" + m.params["kind"])()
    except ssl.SSLError as e:
        why = "TLS: %s" % e
    except ConnectionRefusedError:
        why = "connection refused"
    except (OSError, http.client.HTTPException) as e:
        why = "request failed: %s" % e
    if why is not None:
        pr.say(why)
    m.exit_json(changed=False, rc=0 if why is None else 1, msg=why or "the probe holds",
                stdout="\n".join(pr.out), stderr="")


if __name__ == "__main__":
    main()
