"""sitecustomize for upstream's Python clients on the demo host (tests/upstream): a connection
to a loopback address goes to the loopback port that answers for its port in the demo's port
map ($DEMO_SANDBOX/ports), as the demo's curl stand-in and the wizard's probes do. So upstream's
vmm-cli.py, told http://127.0.0.1:9080 by the chain's .env, talks to the demo VMM."""
import os
import socket

_create_connection = socket.create_connection


def _ports():
    m = {}
    try:
        with open(os.path.join(os.environ.get("DEMO_SANDBOX", ""), "ports")) as f:
            for line in f:
                a = line.split()
                if len(a) == 2:
                    m[int(a[0])] = int(a[1])
    except (OSError, ValueError):
        pass
    return m


def _mapped(address, *args, **kwargs):
    host, port = address[0], address[1]
    if host in ("127.0.0.1", "localhost", "::1") and port in _ports():
        address = ("127.0.0.1", _ports()[port])
    return _create_connection(address, *args, **kwargs)


socket.create_connection = _mapped
