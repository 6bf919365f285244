#!/usr/bin/env python3
"""key-scope.py STEPFILE...: read exported task files as YAML (PyYAML, with Ansible's !unsafe)
and check the secret rules of `export ansible`: every task that names a secret
(DSTACK_WIZARD_*) has no_log, and a task that names the private key runs on localhost.
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
