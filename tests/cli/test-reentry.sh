#!/usr/bin/env bash
# test-reentry.sh: re-entry finds its way (issue 16, item 5). Staleness goes when what caused
# it is undone: the step that re-ran or failed is done again, an input holds again the value
# the step was done with (so unset then set of the same value changes nothing). A canceled run
# is its own status, in the state, status, status --json and the report; an older state file
# that says failed with exit code 0 is still read as failed. A step whose deployed thing was
# made from other values of its made_from: inputs says so, refuses its action (which would keep
# the old thing) naming --replace, and run --replace removes it first (its replace: commands).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
C=(--chain "$top_srcdir/tests/chains/reentry")
W="$TMP/work"
STATE="$XDG_STATE_HOME/dstack-wizard/default/state.json"

# status_of STEP: the step's status word in `status`.
status_of() {
	"$WIZ" "${C[@]}" status </dev/null 2>/dev/null | awk -v id="$1" '$2 == id { print $1 }'
}

ok "base and after are done after their actions" \
	'wiz 0 "${C[@]}" set work_dir "$W" && wiz 0 "${C[@]}" set tag one &&
	 wiz 0 "${C[@]}" run base --yes && wiz 0 "${C[@]}" run after --yes &&
	 [ "$(status_of base)" = done ] && [ "$(status_of after)" = done ]'

ok "a required step whose check fails makes the step after it stale, saying why" \
	'rm "$W/base" && wiz 1 "${C[@]}" check base && [ "$(status_of after)" = stale ] &&
	 wiz 0 "${C[@]}" status && out_has "base is no longer done"'

ok "once that step is done again, the step after it is done again (not stale)" \
	'wiz 0 "${C[@]}" run base --yes && [ "$(status_of base)" = done ] &&
	 [ "$(status_of after)" = done ] && wiz 0 "${C[@]}" status && out_lacks "no longer done"'

ok "a required step that re-runs leaves the step after it done once it is done again" \
	'wiz 0 "${C[@]}" run base --yes && [ "$(status_of after)" = done ]'

ok "unset then set of the same value changes nothing: its steps stay done" \
	'wiz 0 "${C[@]}" unset tag && [ "$(status_of base)" = stale ] &&
	 [ "$(status_of after)" = stale ] && wiz 0 "${C[@]}" set tag one &&
	 [ "$(status_of base)" = done ] && [ "$(status_of after)" = done ]'

ok "another value, then the first again: done again; staleness for two causes needs both undone" \
	'wiz 0 "${C[@]}" set tag two && [ "$(status_of base)" = stale ] &&
	 wiz 0 "${C[@]}" set work_dir "$W/other" && wiz 0 "${C[@]}" set tag one &&
	 [ "$(status_of base)" = stale ] && wiz 0 "${C[@]}" status &&
	 out_has "input work_dir changed" && wiz 0 "${C[@]}" set work_dir "$W" &&
	 [ "$(status_of base)" = done ] && [ "$(status_of after)" = done ]'

ok "a value that changed and stays changed keeps the step stale" \
	'wiz 0 "${C[@]}" set tag three && [ "$(status_of base)" = stale ] &&
	 wiz 1 "${C[@]}" check base && [ "$(status_of base)" = failed ] &&
	 wiz 0 "${C[@]}" run base --yes && [ "$(status_of base)" = done ] &&
	 [ "$(status_of after)" = done ]'

# A canceled run: SIGINT to a headless run cancels it.
ok "a run canceled with SIGINT is canceled, not failed, in the state and in status" \
	'wiz 0 "${C[@]}" set nap 120 &&
	 { "$WIZ" "${C[@]}" run slow --yes </dev/null >"$TMP/out" 2>"$TMP/err" & pid=$!; } &&
	 for _ in $(seq 1 300); do grep -q napping "$TMP/out" && break; sleep 0.1; done &&
	 grep -q napping "$TMP/out" && kill -INT $pid; wait $pid; out_has "==> slow canceled" &&
	 [ "$(status_of slow)" = canceled ] &&
	 python3 -c "import json,sys; s=json.load(open(sys.argv[1]))[\"steps\"][\"slow\"];
assert s[\"status\"] == \"canceled\", s; assert s[\"attempts\"][-1][\"outcome\"] == \"canceled\"" "$STATE"'

ok "status --json and the report say canceled" \
	'wiz 0 "${C[@]}" status --json &&
	 python3 -c "import json,sys; d=json.load(open(sys.argv[1]));
st=[s for s in d[\"steps\"] if s[\"id\"] == \"slow\"][0]; assert st[\"status\"] == \"canceled\", st" "$TMP/out" &&
	 wiz 0 "${C[@]}" report && out_has "slow: Sleep, to be canceled" &&
	 out_has "Status: \*\*canceled\*\*" && out_has "1 canceled"'

ok "a state file from before, with a canceled run saved as failed (exit code 0), reads as failed" \
	'grep -q "\"canceled\"" "$STATE" && sed -i "s/\"status\":[[:space:]]*\"canceled\"/\"status\": \"failed\"/" "$STATE" &&
	 [ "$(status_of slow)" = failed ] && [ "$(status_of base)" = done ]'

# The VM step: made_from: [domain], replace: removes the "VM".
ok "the VM is deployed for a.example and done" \
	'wiz 0 "${C[@]}" set domain a.example && wiz 0 "${C[@]}" run vm --yes &&
	 out_has "Created VM for a.example" && [ "$(status_of vm)" = done ]'

ok "another domain: status (and --json) says what the VM was deployed for, how to replace it" \
	'wiz 0 "${C[@]}" set domain b.example && [ "$(status_of vm)" = stale ] &&
	 wiz 0 "${C[@]}" status &&
	 out_has "deployed for domain=a.example, now b.example: replace it \(run vm --replace\)" &&
	 wiz 0 "${C[@]}" status --json &&
	 python3 -c "import json, sys; s = {x[\"id\"]: x for x in json.load(sys.stdin)[\"steps\"]}
assert s[\"vm\"][\"replace\"] == \"deployed for domain=a.example, now b.example\", s[\"vm\"]
assert \"replace\" not in s[\"base\"]" <"$TMP/out"'

ok "its action is refused (it would keep the old VM), naming --replace; nothing ran" \
	'wiz 3 "${C[@]}" run vm --yes &&
	 err_has "vm was deployed for domain=a.example, now b.example: its action would keep" &&
	 err_has "run vm --replace" && out_lacks "not deployed again" && grep -qx a.example "$W/vm"'

ok "set back to the value it was deployed for, it is done again, with nothing to replace" \
	'wiz 0 "${C[@]}" set domain a.example && [ "$(status_of vm)" = done ] &&
	 wiz 0 "${C[@]}" status && out_lacks "replace it" && wiz 0 "${C[@]}" set domain b.example'

ok "a check that passes against the old VM leaves it stale, saying to replace it" \
	'echo b.example >"$W/vm" && wiz 1 "${C[@]}" check vm && out_has "==> vm is stale: its check passed, but it was deployed" &&
	 out_has "deployed for domain=a.example, now b.example: replace it \(run vm --replace\)" &&
	 [ "$(status_of vm)" = stale ] && echo a.example >"$W/vm"'

ok "run --replace asks first (refused without --yes and without a terminal)" \
	'wiz 2 "${C[@]}" run vm --replace && err_has "without confirmation: pass --yes" &&
	 out_has "to remove what it deployed" && grep -qx a.example "$W/vm"'

ok "run --replace --yes removes the VM, deploys it for b.example, and the step is done" \
	'wiz 0 "${C[@]}" run vm --replace --yes && out_has "==> replacement of vm" &&
	 out_has "removed .*vm" && out_has "Created VM for b.example" && out_has "==> vm is done" &&
	 grep -qx b.example "$W/vm" && [ "$(status_of vm)" = done ] &&
	 python3 -c "import json,sys; s=json.load(open(sys.argv[1]))[\"steps\"][\"vm\"];
assert s[\"made_from\"] == {\"domain\": \"b.example\"}, s" "$STATE"'

ok "--replace on a step without replace: commands, or with --all, is a usage error" \
	'wiz 2 "${C[@]}" run base --replace --yes && err_has "base has no replace: commands" &&
	 wiz 2 "${C[@]}" run --all --replace --yes'

# The loader: made_from: and replace: go together, name non-secret inputs the step uses.
bad_vm() {
	rm -rf "$TMP/bad" && cp -r "$top_srcdir/tests/chains/reentry" "$TMP/bad" &&
	python3 -c "import sys; p=sys.argv[1]; t=open(p).read(); open(p,\"w\").write(t.replace(sys.argv[2], sys.argv[3]))" \
	    "$TMP/bad/04-vm.yaml" "$1" "$2" && wiz 4 --chain "$TMP/bad" status
}
ok "the loader refuses made_from without replace, and an unknown or unused input, at file:line:column" \
	'bad_vm "replace:" "replaced:" && err_has "04-vm.yaml:[0-9]+:[0-9]+: .made_from. needs .replace. beside it" &&
	 bad_vm "made_from: [domain]" "made_from: [domian]" && err_has "04-vm.yaml:9:13: .domian. is not a defined input" &&
	 bad_vm "made_from: [domain]" "made_from: [tag]" && err_has "04-vm.yaml:9:13: .tag. is not an input of this step" &&
	 bad_vm "made_from: [domain]" "made_from: [domain, domain]" && err_has "listed twice in made_from"'

done_testing
