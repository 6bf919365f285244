#!/usr/bin/env python3
"""key-scope.py STEPFILE...: read exported task files as YAML (PyYAML, with Ansible's !unsafe)
and check the secret rules of `export ansible`: every task that names a secret
(DSTACK_WIZARD_*) has no_log, and a task that names the private key runs on localhost.
key-scope.py --text STEPFILE TEXT...: each TEXT is within a string of the file.
Prints each offence and exits 1 if there is one."""
import sys

import yaml


class Loader(yaml.SafeLoader):
    pass


Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def tasks(items):
    for t in items or []:
        yield t
        for k in ("block", "rescue", "always"):
            yield from tasks(t.get(k))


def strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)


if sys.argv[1] == "--text":
    with open(sys.argv[2]) as f:
        found = list(strings(yaml.load(f, Loader=Loader)))
    missing = [t for t in sys.argv[3:] if not any(t in s for s in found)]
    for t in missing:
        print("not in %s: %r" % (sys.argv[2], t))
    sys.exit(1 if missing else 0)

bad = 0
for path in sys.argv[1:]:
    with open(path) as f:
        doc = yaml.load(f, Loader=Loader)
    for t in tasks(doc):
        if "block" in t or "dstack_inputs" in t:
            continue   # a block; the inputs check runs on the controller, seeing "set" only
        text = yaml.dump(t)
        name = t.get("name")
        if "DSTACK_WIZARD_" in text and t.get("no_log") is not True:
            print("%s: %s: names a secret without no_log" % (path, name))
            bad = 1
        if "PRIVATE_KEY" in text and t.get("delegate_to") != "localhost":
            print("%s: %s: names the private key off localhost" % (path, name))
            bad = 1
sys.exit(bad)
