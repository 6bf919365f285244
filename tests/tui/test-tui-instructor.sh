#!/usr/bin/env bash
# test-tui-instructor.sh: what an instructor uses while the wizard runs, in a private tmux
# server: the demo menu (D, --demo only) injects the selected step's failure and clears it and
# changes the speed, all while running, with a banner as long as a failure is injected, and a
# headless command in another shell changes none of it; the presenter notes beside the step
# (--presenter, on a wide terminal; a narrow one says what to do instead), and in a second
# terminal following the wizard's step (notes --follow); `notes`, printed.
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

GOOD=(--chain "$top_srcdir/tests/chains/good")
# follow ARGS...: the wizard with ARGS in a second session, f, on the same profile.
follow() {
	local q
	tm kill-session -t f 2>/dev/null
	{
		echo "#!/usr/bin/env bash"
		echo "export TERM=screen LANG=C.UTF-8 LC_ALL= TZ=UTC"
		printf 'export XDG_STATE_HOME=%q HOME=%q\n' "$TMP/state" "$TMP/home"
		[ -n "${ASAN_OPTIONS:-}" ] && printf 'export ASAN_OPTIONS=%q\n' "$ASAN_OPTIONS"
		printf 'cd %q\n' "$TMP/home"
		printf '%q' "$WIZ"
		for q in "$@"; do printf ' %q' "$q"; done
		printf ' 2>>%q\n' "$TMP/stderr"
		echo 'echo "[exit $?]"'
		echo 'exec sleep 600'
	} >"$TMP/follow.sh"
	chmod +x "$TMP/follow.sh"
	tm new-session -d -s f -x 60 -y 20 "$TMP/follow.sh"
	tm set-option -t f status off >/dev/null
}
fshot() { tm capture-pane -p -t f >"$TMP/fscreen"; }
fwait() {
	local deadline=$((SECONDS + WAIT))
	while :; do
		fshot
		grep -qF -- "$1" "$TMP/fscreen" && return 0
		[ $SECONDS -ge $deadline ] && { echo "# the follower lacks: $1"; sed 's/^/# | /' "$TMP/fscreen"; return 1; }
		sleep 0.05
	done
}

t_presenter() {
	start 150 30 -- "${GOOD[@]}" --presenter && wait_for "Notes · prepare" &&
		has "Say what the step is for. Point at the check." && keys j && wait_for "Notes · fetch" &&
		has "(no notes for this step)" &&
		[ "$(cat "$TMP/state/dstack-wizard/default/current-step")" = fetch ]
}
ok "--presenter on 150 columns: the selected step's notes in a pane beside it" t_presenter

t_follow() {
	follow "${GOOD[@]}" notes --follow && fwait "fetch: Fetch by hand (step 2 of 3)" &&
		fwait "(no notes for this step)" && keys k && fwait "prepare: Prepare (step 1 of 3)" &&
		fwait "Say what the step is for." && tm send-keys -t f q && fwait "[exit 0]"
}
ok "notes --follow in a second terminal follows the wizard's step" t_follow

t_narrow() {
	keys q && wait_for "[exit 0]" && start 100 30 -- "${GOOD[@]}" --presenter &&
		wait_for "notes need 120 columns: run dstack-wizard notes --follow" && lacks "Notes ·" &&
		tm resize-window -t w -x 150 -y 30 && wait_for "Notes · prepare" && keys q && wait_for "[exit 0]"
}
ok "narrower than 120 columns: no pane, and the message line says what to do; wider: the pane" t_narrow

t_notes() {
	headless "${GOOD[@]}" notes prepare && grep -qx "prepare: Prepare (step 1 of 3)" "$TMP/out" &&
		grep -qx "Say what the step is for. Point at the check." "$TMP/out" &&
		headless "${GOOD[@]}" notes && [ "$(grep -c "(step [0-9] of 3)" "$TMP/out")" = 3 ] &&
		! headless "${GOOD[@]}" notes nope && grep -q "no step 'nope'" "$TMP/err" &&
		! headless "${GOOD[@]}" notes --follow prepare && ! headless "${GOOD[@]}" --presenter list &&
		! headless "${GOOD[@]}" --follow list && grep -q "goes with notes" "$TMP/err"
}
ok "notes [STEP] prints them; the options go only where they belong" t_notes

t_chain_notes() {
	headless --demo notes && [ "$(grep -c "^[a-z0-9-]*: .* (step [0-9]* of 27)$" "$TMP/out")" = 27 ] &&
		! grep -q "(no notes for this step)" "$TMP/out" &&
		[ "$(grep -c "^Say: " "$TMP/out")" = 27 ] && [ "$(grep -c "^Usually asked:$" "$TMP/out")" = 27 ]
}
ok "every step of the shipped chain has its notes: what to say, the usual questions" t_chain_notes

t_demo_presenter() {
	start 160 40 DEMO_SERVER_GRACE=1 -- --demo --demo-speed 0 --presenter --step contract-deploy &&
		wait_for "Notes · contract-deploy" && has "Say: this is where the KMS's rules are born" &&
		keys q && wait_for "[exit 0]"
}
ok "--demo --presenter at 160x40 shows the step's notes beside it" t_demo_presenter
done_testing
