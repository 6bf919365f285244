"""demolib.py: helpers shared by the demo server, its service modules and the Python stand-ins.

The state of the simulated host lives in $DEMO_SANDBOX/state, one small file per fact (see
README.md); this module reads and writes it, derives deterministic demo values (addresses,
hashes, UUIDs) and computes keccak-256 for Ethereum selectors and EIP-55 addresses, and the
address of a private key (secp256k1, as hardhat prints it).
Python 3 standard library only.
"""
import hashlib
import json
import os
import time

ASSETS = os.environ.get("DEMO_ASSETS", os.path.dirname(os.path.abspath(__file__)))
SANDBOX = os.environ.get("DEMO_SANDBOX", "")
ROOT = os.path.join(SANDBOX, "root")
STATE = os.path.join(SANDBOX, "state")
STEP = os.environ.get("DEMO_STEP", "")
CHAIN_ID = 11155111
# The one subscription key Intel's (simulated) PCS accepts: the made-up key the demo fills in.
INTEL_API_KEY = "deadbeefdeadbeefdeadbeefdeadbeef"
# The demo server is shared by the wizard processes of a sandbox: it reads the speed and the
# injected failure of the latest one from the sandbox (written by the wizard at start; a
# missing file means the latest wizard has none, whatever the server was started with).
IN_SERVER = bool(os.environ.get("DEMO_IN_SERVER"))


def _setting(name, env, default):
    if not IN_SERVER and env in os.environ:
        return os.environ[env]
    try:
        with open(os.path.join(SANDBOX, name)) as f:
            return f.read().strip()
    except OSError:
        return default if IN_SERVER else os.environ.get(env, default)


def speed():
    try:
        return float(_setting("demo-speed", "DEMO_SPEED", "1") or "1")
    except ValueError:
        return 1.0


def fail_step():
    return _setting("demo-fail", "DEMO_FAIL", "")


def failing(step=None):
    """Is the failure of step (default: the running step) injected?"""
    f = fail_step()
    return bool(f) and f == (step or STEP)


def sleep(seconds):
    """Sleep, scaled by DEMO_SPEED."""
    if speed() > 0 and seconds > 0:
        time.sleep(seconds * speed())


def state_path(key):
    return os.path.join(STATE, key)


def state_get(key, default=None):
    try:
        with open(state_path(key)) as f:
            return f.read().strip()
    except OSError:
        return default


def state_set(key, value=""):
    p = state_path(key)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    tmp = p + ".tmp%d" % os.getpid()
    with open(tmp, "w") as f:
        f.write("%s\n" % value)
    os.replace(tmp, p)


def state_has(key):
    return os.path.exists(state_path(key))


def state_json(key, default=None):
    try:
        with open(state_path(key)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def state_set_json(key, value):
    p = state_path(key)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    tmp = p + ".tmp%d" % os.getpid()
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1)
    os.replace(tmp, p)


def state_list(key):
    try:
        return sorted(n for n in os.listdir(state_path(key)) if ".tmp" not in n)
    except OSError:
        return []


def unit_active(unit):
    return state_get("services/" + unit) == "active"


def container_running(name):
    v = state_get("containers/" + name, "")
    return v.split("\n")[0] == "running"


def vtuple(v):
    """A release such as "v0.5.6" or "0.5.6" as a tuple of numbers, for comparisons."""
    out = []
    for part in str(v).lstrip("v").split("."):
        digits = "".join(c for c in part if c.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


def host_version():
    """The dstack release the simulated host runs: the installed dstack-vmm's (0.0.0 before)."""
    import re
    try:
        with open(os.path.join(ROOT, "usr/local/bin/dstack-vmm")) as f:
            m = re.search(r"DEMO_BUILD_VERSION=(\S+)", f.read())
            return m.group(1) if m else "0.0.0"
    except OSError:
        return "0.0.0"


def checkout_version(start):
    """The release tag a demo checkout holding start is at ("0.0.0" outside one)."""
    d = os.path.abspath(start)
    while True:
        try:
            with open(os.path.join(d, ".git", "demo-tag")) as f:
                return f.read().strip().lstrip("v") or "0.0.0"
        except OSError:
            pass
        if d == os.path.dirname(d):
            return "0.0.0"
        d = os.path.dirname(d)


def demo_hex(seed, n):
    out = ""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(("%s%d" % (seed, i)).encode()).hexdigest()
        i += 1
    return out[:n]


def demo_uuid(seed):
    h = demo_hex(seed, 32)
    return "%s-%s-4%s-a%s-%s" % (h[0:8], h[8:12], h[13:16], h[17:20], h[20:32])


# --- keccak-256 (the original Keccak padding, as Ethereum uses) -----------------------------
_RC = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
       0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
       0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
       0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
       0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
       0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56],
        [27, 20, 39, 8, 14]]
_M = (1 << 64) - 1


def _rol(v, n):
    return ((v << n) | (v >> (64 - n))) & _M if n else v


def _keccak_f(a):
    for rc in _RC:
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        a = [[a[x][y] ^ d[x] for y in range(5)] for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol(a[x][y], _ROT[x][y])
        a = [[b[x][y] ^ ((~b[(x + 1) % 5][y]) & b[(x + 2) % 5][y]) for y in range(5)]
             for x in range(5)]
        a[0][0] ^= rc
    return a


def keccak256(data):
    if isinstance(data, str):
        data = data.encode()
    rate = 136
    msg = bytearray(data) + b"\x01"
    while len(msg) % rate:
        msg += b"\x00"
    msg[-1] |= 0x80
    a = [[0] * 5 for _ in range(5)]
    for off in range(0, len(msg), rate):
        block = msg[off:off + rate]
        for i in range(rate // 8):
            x, y = i % 5, i // 5
            a[x][y] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        a = _keccak_f(a)
    out = b""
    for i in range(4):
        out += a[i % 5][i // 5].to_bytes(8, "little")
    return out


def selector(signature):
    return keccak256(signature)[:4].hex()


def checksum(addr):
    """The EIP-55 form of an address."""
    h = addr.lower().replace("0x", "")
    k = keccak256(h).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(k[i], 16) >= 8 else c
                          for i, c in enumerate(h))


def new_address(seed):
    return checksum("0x" + keccak256("demo-address:" + seed).hex()[-40:])


# --- secp256k1: the account of a private key (its public key's keccak-256, last 20 bytes) ----
_P = 2 ** 256 - 2 ** 32 - 977
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
      0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def _ec_add(a, b):
    """The sum of two points of the curve (None is the point at infinity)."""
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % _P == 0:
        return None
    if a == b:
        m = 3 * a[0] * a[0] * pow(2 * a[1], -1, _P) % _P
    else:
        m = (b[1] - a[1]) * pow(b[0] - a[0], -1, _P) % _P
    x = (m * m - a[0] - b[0]) % _P
    return (x, (m * (a[0] - x) - a[1]) % _P)


def key_address(key):
    """The EIP-55 address of a private key (64 hex digits, 0x or not); None if it is not one.
    Not constant-time: for the demo's throwaway keys only."""
    k = key[2:] if key[:2] in ("0x", "0X") else key
    if len(k) != 64 or any(c not in "0123456789abcdefABCDEF" for c in k):
        return None
    n = int(k, 16)
    if not 0 < n < _N:
        return None
    point, add = None, _G
    while n:
        if n & 1:
            point = _ec_add(point, add)
        add = _ec_add(add, add)
        n >>= 1
    pub = point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")
    return checksum("0x" + keccak256(pub)[-20:].hex())


def ports():
    """The port map: simulated port -> loopback port."""
    m = {}
    try:
        with open(os.path.join(SANDBOX, "ports")) as f:
            for line in f:
                a = line.split()
                if len(a) == 2:
                    m[int(a[0])] = int(a[1])
    except OSError:
        pass
    return m


def rpc(url, method, params):
    """A JSON-RPC call to the demo node (the URL's port is mapped like every probe)."""
    import urllib.parse
    import urllib.request
    u = urllib.parse.urlsplit(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    lport = ports().get(port)
    if lport is None:
        raise OSError("connect ECONNREFUSED %s:%d" % (u.hostname, port))
    target = "http://127.0.0.1:%d%s" % (lport, u.path or "/")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(target, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        d = json.load(r)
    if "error" in d:
        raise RuntimeError(d["error"].get("message", "error"))
    return d["result"]


def maybe_fail(name, args):
    """The Python side of lib.sh's demo_maybe_fail: print the injected failure and exit."""
    import fnmatch
    import sys
    if not failing():
        return
    cmdline = " ".join([name] + list(args))
    with open(os.path.join(ASSETS, "failures.txt")) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("|", 3)
            if len(parts) < 4 or parts[0] != STEP:
                continue
            if fnmatch.fnmatchcase(cmdline, parts[1]):
                sys.stderr.write(parts[3].replace("\\n", "\n") + "\n")
                sys.exit(int(parts[2]))


def say(lines, delay=0.2):
    """Print lines one by one, delay (scaled) seconds apart."""
    import sys
    for line in lines:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        sleep(delay)


def pccs_api_key_ok():
    """The PCCS's configuration holds the key Intel accepts (any other gets a 401 from Intel)."""
    try:
        with open(os.path.join(ROOT, "opt/intel/sgx-dcap-pccs/config/default.json")) as f:
            return json.load(f).get("ApiKey", "") == INTEL_API_KEY
    except (OSError, ValueError):
        return False
