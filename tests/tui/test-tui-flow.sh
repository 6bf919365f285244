#!/usr/bin/env bash
# The wizard's flow through a chain (issue 17): R runs the rest by itself and stops, saying
# why, at a step that needs a yes, a MANUAL step, a missing input and a failure; each step
# shows its time (elapsed while it runs, the estimate before) and the overview the time left.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/tui/lib.sh"

C=(--chain "$top_srcdir/tests/chains/flow")
W="$TMP/work"

t_rest_stops() {
	headless "${C[@]}" set work_dir "$W" || return 1
	start 80 24 -- "${C[@]}" && wait_for "0/7 done" &&
		# Before anything ran: the step file's figures, and their sum as the time left.
		wait_for "takes about 1 min (typical on real hardware)" && has "chain: ~9 min+ left" &&
		keys R && wait_for "running the rest: build" &&
		# The slow step shows its elapsed time against its estimate while it runs.
		wait_for "time: 0:01 of about 2 min" &&
		wait_for "run the rest stopped: pay needs your yes: it spends gas" &&
		has "▸ ○ pay" && has "2/7 done" && [ -f "$W/prep" ] && [ -f "$W/build" ] &&
		[ ! -e "$W/pay" ]
}
ok "R runs the ready steps in turn, showing the time, and stops before one that spends gas" \
	t_rest_stops

t_rest_manual() {
	keys r && wait_for "Run the action of pay?" && keys y && wait_for "pay is done" &&
		keys Escape && wait_for "3/7 done" && keys R && wait_for "run the rest stopped: hand is done by hand; then c checks it" &&
		has "▸ ○ hand" && has "3/7 done"
}
ok "after a yes, R stops at a MANUAL step and says so" t_rest_manual

t_rest_input() {
	touch "$W/hand" && keys c && wait_for "hand is done" &&
		keys R && wait_for "run the rest stopped: named: input label: not set" &&
		has "▸ ⊘ named"
}
ok "R stops at a step whose input is missing, naming it" t_rest_input

t_rest_failure() {
	headless "${C[@]}" set label demo || return 1
	wait_for "▸ ○ named" && keys R && wait_for "run the rest stopped: flaky failed" && has "▸ ✗ flaky" &&
		has "5/7 done" && [ -f "$W/named" ] && [ ! -e "$W/last" ]
}
ok "R stops at a failure, on the failed step" t_rest_failure

t_rest_done() {
	touch "$W/allow" && keys R && wait_for "run the rest: every step is done" &&
		has "Every step is done." && has "What to do next" && [ -f "$W/last" ] &&
		keys Escape && wait_for "7/7 done" && lacks "left ─"
}
ok "R retries the failed step and goes on to the end, where the finish screen opens" \
	t_rest_done

t_estimates() {
	local h
	keys q && wait_for "[exit 0]" || return 1
	headless "${C[@]}" status --json || return 1
	h=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
s = {x["id"]: x for x in d["steps"]}
print(d["time_left_s"], d["steps_without_estimate"], s["build"]["estimate_from"],
      3 <= s["build"]["estimate_s"] <= 30, s["hand"]["estimate_from"], "estimate_s" in s["hand"])
' "$TMP/out") || return 1
	# build's estimate is now its own run (2.5 s, rounded up), no longer the file's 2 min.
	[ "$h" = "0 0 history True none False" ] || { echo "# got: $h"; return 1; }
	headless "${C[@]}" status && grep -qx "estimated time left: none" "$TMP/out"
}
ok "status --json: each step's estimate and where it comes from, the time left" t_estimates

t_estimate_from_history() {
	# Without its file, build's re-check at start fails: it is selected, not done.
	rm -f "$W/build" && start 80 24 -- "${C[@]}" && wait_for "▸ ✗ build" &&
		wait_for "s (from this profile's earlier runs)" && has "takes about" &&
		keys q && wait_for "[exit 0]"
}
ok "a step's estimate before it runs comes from this profile's earlier runs" \
	t_estimate_from_history

done_testing
