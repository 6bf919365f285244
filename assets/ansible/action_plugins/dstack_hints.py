# dstack_hints: a dstack-wizard step failed: say so, with each of the step's hints (known
# failure signatures, a regex on the output) that matches a line of what the failed task
# printed, as the wizard does. The task always fails: the host stops here.
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
    _VALID_ARGS = frozenset(("step", "result", "hints"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        r = args.get("result") or {}
        text = "\n".join(str(r.get(k) or "") for k in ("stdout", "stderr", "msg"))
        lines = text.split("\n")
        said = []
        for h in args.get("hints") or []:
            cre = dw.rx(h["match"], lines=True)
            if any(cre.search(line) for line in lines):
                said.append(h["say"] + (" Fix: " + h["fix"] if h.get("fix") else ""))
        why = str(r.get("msg") or "failed")
        result["failed"] = True
        result["changed"] = False
        result["hints"] = said
        result["msg"] = "%s failed: %s%s" % (args.get("step", ""), why.strip().split("\n")[-1],
                                              "".join("\nhint: " + s for s in said))
        return result
