# dstack_capture: the values a dstack-wizard step captures from its action's output. For
# each capture, group 1 of the last output line its regex matches (stdout, then stderr, of
# each action command in turn) becomes the input, if it is valid for the input (its pattern),
# as in the wizard. The values become facts (dw_<name>) for the later steps, and are written
# to host_vars/<host>/dstack-captured.yml beside the playbook for the next runs (for every
# host of the play when the step runs once for all of them).
import importlib.util
import json
import os
import tempfile

from ansible.plugins.action import ActionBase

_spec = importlib.util.spec_from_file_location(
    "dstack_wizard", os.path.join(os.path.dirname(__file__), "..", "module_utils",
                                  "dstack_wizard.py"))
dw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dw)

FILE = "dstack-captured.yml"


def _lines(results):
    for r in results:
        if not isinstance(r, dict) or r.get("skipped"):
            continue
        for stream in ("stdout", "stderr"):
            for line in (r.get(stream) or "").split("\n"):
                yield line


def _save(path, values):
    """Merge values into the YAML file at path (one !unsafe JSON string per input)."""
    old = {}
    try:
        with open(path) as f:
            for line in f:
                name, sep, rest = line.partition(": !unsafe ")
                if sep:
                    old[name] = json.loads(rest)
    except (OSError, ValueError):
        pass
    new = dict(old)
    new.update(values)
    if new == old:
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".captured-")
    with os.fdopen(fd, "w") as f:
        f.write("# Captured by the playbook (dstack-wizard export ansible); read on the next run.\n")
        for k in sorted(new):
            f.write("%s: !unsafe %s\n" % (k, json.dumps(new[k])))
    os.replace(tmp, path)
    return True


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("step", "results", "captures"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        lines = list(_lines(args.get("results") or []))
        facts, said = {}, []
        for cap in args.get("captures") or []:
            cre = dw.rx(cap["regex"], lines=True)
            value = None
            for line in lines:
                m = cre.search(line)
                if m and m.groups() and m.group(1) is not None:
                    value = m.group(1)
            if value is None:
                continue
            pattern = cap.get("pattern")
            if pattern and not dw.rx(pattern).search(value):
                said.append("captured %s = %s, which is not valid (it does not match %s): "
                            "not used" % (cap["name"], value, pattern))
                continue
            facts["dw_" + cap["name"]] = value
            said.append("captured %s = %s" % (cap["name"], value))
        changed = False
        if facts:
            hosts = [task_vars["inventory_hostname"]]
            if self._task.run_once:
                hosts = task_vars.get("ansible_play_hosts") or hosts
            base = os.path.join(task_vars.get("playbook_dir", "."), "host_vars")
            for h in hosts:
                changed |= _save(os.path.join(base, h, FILE), facts)
        result["changed"] = changed
        result["ansible_facts"] = facts
        result["msg"] = "; ".join(said) if said else "nothing captured"
        return result
