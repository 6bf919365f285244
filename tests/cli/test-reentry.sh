#!/usr/bin/env bash
# test-reentry.sh: re-entry finds its way (issue 16, item 5). Staleness goes when what caused
# it is undone: the step that re-ran or failed is done again, an input holds again the value
# the step was done with (so unset then set of the same value changes nothing). A canceled run
# is its own status, in the state, status, status --json and the report; an older state file
# that says failed with exit code 0 is still read as failed.
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
	'"$WIZ" "${C[@]}" run slow --yes </dev/null >"$TMP/out" 2>"$TMP/err" & pid=$!
	 for _ in $(seq 1 100); do grep -q napping "$TMP/out" && break; sleep 0.1; done
	 kill -INT $pid; wait $pid
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

done_testing
