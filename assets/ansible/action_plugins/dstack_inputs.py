# dstack_inputs: the inputs a dstack-wizard step uses must be valid before it runs, as the
# wizard requires: set (unless optional), one of its choices, matching its pattern. A secret
# is only said to be set or not (the task is given that, never the value).
import importlib.util
import os

from ansible.plugins.action import ActionBase

_spec = importlib.util.spec_from_file_location(
    "dstack_wizard", os.path.join(os.path.dirname(__file__), "..", "module_utils",
                                  "dstack_wizard.py"))
dw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dw)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("step", "inputs"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        bad = []
        for i in self._task.args.get("inputs") or []:
            name = i["name"]
            if i.get("secret"):
                if not i.get("set") and not i.get("optional"):
                    bad.append("%s: not set (DSTACK_WIZARD_%s in the environment, or dw_%s "
                               "in a vault file)" % (name, name.upper(), name))
                continue
            v = i.get("value")
            v = "" if v is None else str(v)
            if v == "":
                if not i.get("optional"):
                    bad.append("%s: not set (dw_%s)" % (name, name))
                continue
            if i.get("choices") and v not in i["choices"]:
                bad.append("%s: %s is not one of %s" % (name, v, ", ".join(i["choices"])))
            elif i.get("pattern") and not dw.rx(i["pattern"]).search(v):
                bad.append("%s: %s does not match %s" % (name, v, i["pattern"]))
        result["changed"] = False
        if bad:
            result["failed"] = True
            result["msg"] = "%s cannot run: %s" % (self._task.args.get("step", ""), "; ".join(bad))
        else:
            result["msg"] = "the inputs are valid"
        return result
