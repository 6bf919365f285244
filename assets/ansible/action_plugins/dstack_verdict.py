# dstack_verdict: is a dstack-wizard step done? Its check passed when every check command
# passed: a script exited 0 (and its stdout matched its expect: regex, if it has one), a
# probe held (rc 0). With must_pass the task fails unless the check passed: the check after
# the action, as in the wizard. Runs on the controller; reads the registered results.
import importlib.util
import os

from ansible.plugins.action import ActionBase

_spec = importlib.util.spec_from_file_location(
    "dstack_wizard", os.path.join(os.path.dirname(__file__), "..", "module_utils",
                                  "dstack_wizard.py"))
dw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dw)

STDOUT_MAX = 64 * 1024


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("step", "checks", "must_pass"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        failed = []
        for c in args.get("checks") or []:
            r = c.get("result") or {}
            name = c.get("name") or "check"
            if r.get("skipped"):
                failed.append("%s: did not run" % name)
            elif r.get("rc") != 0:
                why = r.get("msg") if c.get("probe") else "exit status %s" % r.get("rc")
                failed.append("%s: %s" % (name, why))
            elif c.get("expect") is not None:
                out = (r.get("stdout") or "")[:STDOUT_MAX]
                if not dw.rx(c["expect"], lines=True).search(out):
                    failed.append("%s: output did not match /%s/" % (name, c["expect"]))
        step = args.get("step", "")
        result["changed"] = False
        result["done"] = not failed
        result["failed_checks"] = failed
        result["msg"] = ("%s is done" % step if not failed else
                         "%s is not done: %s" % (step, "; ".join(failed)))
        if failed and args.get("must_pass"):
            result["failed"] = True
        return result
