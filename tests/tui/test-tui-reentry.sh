#!/usr/bin/env bash
# test-tui-reentry.sh: re-entry in the interactive wizard (issue 16, item 5). C re-checks
# every stale, failed or canceled step, several at once, and says which are done now and which
# still fail; r on a step whose deployed thing was made from other input values asks whether to
# replace it, in a dialog whose default (Enter) cancels; the help screen names C.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/tui/lib.sh"
C=(--chain "$top_srcdir/tests/chains/reentry")
W="$TMP/home/work"

# base, after and vm done; then base's marker goes, and a check makes base failed and the
# steps after it stale; the marker comes back, but the statuses stay until a check.
t_setup() {
	headless "${C[@]}" set work_dir "$W" && headless "${C[@]}" set tag one &&
		headless "${C[@]}" set domain a.example && headless "${C[@]}" run base --yes &&
		headless "${C[@]}" run after --yes && headless "${C[@]}" run vm --yes &&
		mv "$W/base" "$W/base.kept" && ! headless "${C[@]}" check base &&
		mv "$W/base.kept" "$W/base" && rm "$W/after" && headless "${C[@]}" status &&
		grep -qE "^  failed +base " "$TMP/out" && grep -qE "^  stale +after " "$TMP/out" &&
		grep -qE "^  stale +vm " "$TMP/out"
}
ok "set-up: base failed, the two steps after it stale" t_setup

t_recheck_key() {
	start 100 30 -- "${C[@]}" && wait_for "Re-entry test chain" && wait_for "✗ base" &&
		keys C && wait_for "re-checked 3 stale or failed steps: 2 done now; still failing: after" &&
		has "✓ base" && has "✓ vm" && has "▸ ✗ after"
}
ok "C re-checks the stale and failed steps (one waits for the step it requires), names what still fails" \
	t_recheck_key

t_recheck_again() {
	touch "$W/after" && keys C && wait_for "re-checked 1 stale or failed step: 1 done now" &&
		has "✓ after" && keys C && wait_for "no step is stale, failed or canceled"
}
ok "C again: the fixed step is done; with nothing stale or failed, C says so" t_recheck_again

t_help() {
	keys '?' && wait_for "re-check every stale, failed or canceled step" && keys Escape &&
		wait_gone "re-check every stale"
}
ok "the help screen names C" t_help

t_replace_cancel() {
	headless "${C[@]}" set domain b.example && wait_for "↻ vm" && keys End &&
		wait_for "▸ ↻ vm" && keys r && wait_for "Replace what vm deployed?" &&
		has "deployed for domain=a.example, now b.example" && has "rm -v" &&
		has "▸ Cancel" && has "y replace  n/Esc cancel" && keys Enter &&
		wait_gone "Replace what vm deployed?" && wait_for "vm: not replaced" &&
		grep -qx a.example "$W/vm"
}
ok "r on a VM deployed for another domain asks to replace it; Enter (the default) cancels" \
	t_replace_cancel

t_replace_yes() {
	keys r && wait_for "Replace what vm deployed?" && keys y &&
		wait_for "Created VM for b.example" && wait_for "LOCAL · ✓ done" &&
		grep -qx b.example "$W/vm" && keys q && wait_for "[exit 0]"
}
ok "y replaces it: the old VM goes, the new one serves b.example, the step is done" t_replace_yes

no_stderr() { [ ! -s "$TMP/stderr" ]; }
ok "no session wrote anything to stderr (no sanitizer report)" no_stderr
done_testing
