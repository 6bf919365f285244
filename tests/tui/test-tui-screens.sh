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

# above A B: in the last shot, the first line with A comes before the first line with B.
above() {
	local a b
	a=$(grep -nF -- "$1" "$TMP/screen" | head -n 1 | cut -d: -f1)
	b=$(grep -nF -- "$2" "$TMP/screen" | head -n 1 | cut -d: -f1)
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] ||
		{ echo "# not above: '$1' ($a) '$2' ($b)"; sed 's/^/# | /' "$TMP/screen"; return 1; }
}
BYTES=6080604052348015600f57600080fd5b50603f80601d6000396000f3fe6080604052600080fdfea2646970667358221220

t_review_gas() {
	start 100 30 DSTACK_WIZARD_API_TOKEN=tok-abcdefgh12 -- "${C[@]}" && wait_for "1/3 done" &&
		keys G r && wait_for "Run the action of deploy?" &&
		above "Before it runs:" "It runs, in order:" &&
		above "⚠ it sends blockchain transactions: they spend gas" "1. [local] printf" &&
		has "⚠ it takes about 10 min (typical on real hardware; x cancels it)" &&
		has '"0x6080604052…0008140033"' && lacks "$BYTES" && has "Long hex values are shortened" &&
		has "▸ Cancel" && lacks "▸ Run" && keys Enter && wait_for "deploy: not run" &&
		[ ! -e "$TMP/home/work/deploy" ] && keys r && wait_for "Run the action of deploy?" &&
		keys Tab && wait_for "▸ Run" && keys Enter && wait_for "deploy is done" &&
		[ -e "$TMP/home/work/deploy" ]
}
ok "the review of a step that spends gas: warning first, hex shortened, Enter cancels" t_review_gas

t_review_reboot() {
	start 80 24 -- "${C[@]}" && wait_for "2/3 done" && keys r &&
		wait_for "Run the action of firmware?" && above "⚠ it reboots the server" "It runs, in order:" &&
		above "⚠ it reboots the server" "⚠ it runs commands as root" && has "▸ Cancel" &&
		lacks 'test -f "work/firmware"' && keys PageDown && wait_for 'test -f "work/firmware"' &&
		keys Escape && wait_for "firmware: not run" && keys g n Enter r &&
		wait_for "Run the action of noisy?" && has "▸ Run" && lacks "reboots" &&
		has "⚠ it takes about 1 s (as its earlier runs here did; x cancels it)" &&
		keys Escape && wait_for "noisy: not run"
}
ok "a step that reboots has Cancel by default and scrolls; one that does not has Run" t_review_reboot

# ticks: the number of checklist items the state file holds for firmware.
ticks() {
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))
print(len(s["steps"]["firmware"].get("checklist", [])))' "$STATE"
}

t_tick() {
	start 100 30 -- "${C[@]}" && wait_for "2/3 done" && keys r &&
		wait_for "Run the action of firmware?" && has "▸ [ ] Open the firmware setup." &&
		keys Space && wait_for "[x] Open the firmware setup.  (ticked 2" &&
		keys Down Space && wait_for "[x] Switch the first setting on.  (ticked" &&
		has "[ ] Switch the second setting off." && [ "$(ticks)" = 2 ] &&
		python3 -c 'import json,sys,re; c=json.load(open(sys.argv[1]))["steps"]["firmware"]["checklist"]
assert [t["item"] for t in c] == ["Open the firmware setup.", "Switch the first setting on."], c
assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t["at"]) for t in c), c' "$STATE" &&
		keys Escape && wait_for "firmware: not run"
}
ok "space ticks the marked checklist item in the review; the state keeps each tick's time" t_tick

t_tick_y() {
	keys r && wait_for "Run the action of firmware?" && keys y &&
		wait_for "firmware failed (2 of 7 checklist items ticked): check failed" && [ "$(ticks)" = 2 ]
}
ok "y runs the action and the check but ticks nothing; the check decides (failed)" t_tick_y

t_tick_reboot() {
	keys q && wait_for "[exit 0]" && start 100 40 -- "${C[@]}" && wait_for "2/3 done" &&
		has "Checklist: 2 of 7 ticked, the last 2" && keys Enter &&
		wait_for "firmware · Firmware settings" &&
		has "[x] Open the firmware setup.  (ticked 2" && has "[x] Switch the first setting on." &&
		has "[ ] Switch the second setting off." && touch "$TMP/home/work/firmware" && keys c &&
		wait_for "firmware is done" && [ "$(ticks)" = 2 ]
}
ok "after a restart (the reboot) the ticks show with their times; the check alone makes it done" \
	t_tick_reboot

t_untick() {
	wait_for "Every step is done." && keys Escape && wait_gone "Every step is done." &&
		keys r && wait_for "Run the action of firmware?" && keys Space &&
		wait_for "unticked: Open the firmware setup." && has "▸ [ ] Open the firmware setup." &&
		[ "$(ticks)" = 1 ] && keys Escape
}
ok "space again unticks the item" t_untick

t_tick_cli() {
	headless "${C[@]}" run firmware --yes &&
		grep -qE '^  \[x\] Switch the first setting on\.  \(ticked [0-9]{4}-[0-9]{2}-[0-9]{2}T' "$TMP/out" &&
		grep -qF '  [ ] Open the firmware setup.' "$TMP/out"
}
ok "run in another shell shows the checklist as ticked in the wizard" t_tick_cli

done_testing
