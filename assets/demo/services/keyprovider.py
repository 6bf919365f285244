"""keyprovider.py: the Gramine sealing-key provider on 127.0.0.1:3443 (raw TCP).

Up while the gramine-sealing-key-provider container runs. The protocol is a 4-byte big-endian
length and a JSON body {"quote": [...]}; the answer has the same framing and carries a sealed
key and an SGX quote (here: demo bytes).
"""
import json
import struct

import demolib

PORTS = [3443]
RAW = True
UNIT = "container:gramine-sealing-key-provider"


def handle_raw(sock):
    sock.settimeout(5)
    try:
        head = sock.recv(4)
        if len(head) < 4:
            return
        n = struct.unpack(">I", head)[0]
        body = b""
        while len(body) < min(n, 1 << 20):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        try:
            json.loads(body or b"{}")
        except ValueError:
            return
        out = json.dumps({"encrypted_key": list(bytes.fromhex(demolib.demo_hex("sealed", 96))),
                          "provider_quote": list(bytes.fromhex(demolib.demo_hex("sgxquote", 128)))}).encode()
        sock.sendall(struct.pack(">I", len(out)) + out)
    except OSError:
        pass
