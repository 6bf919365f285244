#!/usr/bin/env bash
# test-tui-instructor.sh: what an instructor uses while the wizard runs, in a private tmux
# server: the demo menu (D, --demo only) injects the selected step's failure and clears it and
# changes the speed, all while running, with a banner as long as a failure is injected, and a
# headless command in another shell changes none of it.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/tui/lib.sh"
SB="$TMP/state/dstack-wizard/demo/sandbox"
HINT="npm tried to write somewhere it has no permission to"
grep -qF "say: $HINT" "$top_srcdir/assets/chain/01-local-dev-setup.yaml" || HINT="(the step file changed)"

t_menu() {
	start 120 40 DEMO_SERVER_GRACE=1 -- --demo --demo-speed 0 --demo-fail none &&
		wait_for "DEMO: simulated TDX host" && lacks "failure is injected" && keys D &&
		wait_for "Demo controls" && has "Injected failure: none" && has "Speed: 0 (no waiting)" &&
		has "f  inject the failure of local-dev-setup"
}
ok "D opens the demo menu: the failure injected, the speed, and the keys" t_menu

t_inject() {
	keys f && wait_for "Injected failure: local-dev-setup" &&
		has "local-dev-setup's best-known failure is injected" &&
		[ "$(cat "$SB/demo-fail")" = local-dev-setup ] && keys Escape && wait_gone "Demo controls" &&
		has "DEMO · local-dev-setup's failure is injected: its next run fails" && has "D changes it"
}
ok "f injects the selected step's failure: kept in the sandbox, and a banner says so" t_inject

t_fails() {
	keys r && wait_for "Run the action of local-dev-setup?" && keys y &&
		wait_for "local-dev-setup failed" && keys Enter && wait_for "$HINT"
}
ok "the step's next run fails with that failure, and its hint is shown" t_fails

t_headless() {
	headless --demo status && headless --demo inputs && [ "$(cat "$SB/demo-fail")" = local-dev-setup ] &&
		[ "$(cat "$SB/demo-speed")" = 0 ] && shot && has "local-dev-setup's failure is injected: its next run fails"
}
ok "a headless command in another shell changes neither the failure nor the speed" t_headless

t_clear() {
	keys D && wait_for "Demo controls" && keys c && wait_for "Injected failure: none" &&
		[ ! -e "$SB/demo-fail" ] && keys Escape && wait_gone "Demo controls" &&
		lacks "D changes it" && has "no failure is injected any more" && keys r && wait_for "Run the action of local-dev-setup?" &&
		keys y && wait_for "local-dev-setup is done"
}
ok "c clears it while running: the banner goes, and the step's next run is done" t_clear

t_speed() {
	keys D && wait_for "Demo controls" && keys 1 && wait_for "Speed: 1 (realistic" &&
		[ "$(cat "$SB/demo-speed")" = 1 ] && keys + && wait_for "Speed: 2 (slower" &&
		keys - - && wait_for "Speed: 0.5 (faster" && keys 0 && wait_for "Speed: 0 (no waiting)" &&
		[ "$(cat "$SB/demo-speed")" = 0 ] && keys q && wait_gone "Demo controls"
}
ok "1, +, - and 0 change the speed while running, kept in the sandbox" t_speed

t_help() {
	keys '?' && wait_for "Keys" && has "the demo's controls" && keys Escape && wait_gone "Keys" &&
		keys q && wait_for "[exit 0]"
}
ok "the help lists D in the demo" t_help

t_not_demo() {
	start 80 24 -- --chain "$top_srcdir/tests/chains/engine" && wait_for "0/9 done" && keys D &&
		sleep 0.3 && shot && lacks "Demo controls" && keys '?' && wait_for "Keys" &&
		lacks "the demo's controls" && keys Escape q && wait_for "[exit 0]"
}
ok "without --demo, D does nothing and the help does not list it" t_not_demo
done_testing
