#!/usr/bin/env bash
# test-tui.sh: the interactive wizard end to end: the real binary in a private tmux server,
# on the engine test chain (tests/chains/engine), keys sent, screens captured and compared
# with golden screens (tests/tui/golden; GENERATE=1 rewrites them).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/tui/lib.sh"
C=(--chain "$top_srcdir/tests/chains/engine")
STATE="$TMP/state/dstack-wizard/default/state.json"
ADDR=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed
BAD_ADDR=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD
LOWER_ADDR=0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed

t_overview() {
	start 80 24 -- "${C[@]}" && wait_for "0/9 done" && golden overview-80x24 &&
		has "▸ ⊘ alpha" && has "input work_dir: not set"
}
ok "the overview at 80x24: sections, marks, badges, the selected step's blockers" t_overview

t_help() {
	keys '?' && wait_for "Keys" && has "run the step's check" && has "The overview" &&
		keys Escape && wait_gone "run the step's check" && keys F1 && wait_for "Keys" &&
		keys q && wait_gone "run the step's check"
}
ok "? and F1 open the help with the key map; Esc and q close it" t_help

t_move_keys() {
	keys C-n && wait_for "▸ ⊘ beta" && keys j && wait_for "▸ ⊘ gamma" && keys C-p &&
		wait_for "▸ ⊘ beta" && keys k && wait_for "▸ ⊘ alpha" && keys End &&
		wait_for "▸ ⊘ iota" && keys Home && wait_for "▸ ⊘ alpha"
}
ok "arrows, j/k and C-n/C-p move the selection; Home/End jump" t_move_keys

t_refuse() {
	keys r && wait_for "alpha cannot run yet" && golden refusal &&
		has "input work_dir: not set" && has "Enter: edit the input work_dir"
}
ok "r on a locked step refuses and names every blocker" t_refuse

t_jump_input() {
	keys Enter && wait_for "Inputs of alpha" && has "▸ [" && keys w o r k &&
		wait_for "valid: Enter saves it" && keys Enter && wait_for "work_dir saved" &&
		grep -q '"work_dir"' "$STATE" && keys Escape && wait_gone "Inputs of alpha" &&
		wait_for "○ alpha" && has "○ ready"
}
ok "Enter on the refusal edits the missing input; saving it makes the step ready" t_jump_input

t_next_refused() {
	keys n && wait_for "Cannot go on to beta yet" && has "requires alpha" &&
		keys Enter && wait_for "alpha · Make the first marker" && has "Status ○ ready"
}
ok "n refuses to advance past an unmet prerequisite and offers the blocker" t_next_refused

t_run_alpha() {
	keys r && wait_for "Run the action of alpha?" && has '1. [local] mkdir -p "work"' &&
		has "then its check:" && keys y && wait_for "alpha is done" &&
		has "captured contract = $ADDR"
}
ok "r asks first, showing the exact commands; y runs the action and then the check" t_run_alpha

t_form_invalid() {
	keys g b e t a Enter && wait_for "beta · Use the captured contract" && keys e &&
		wait_for "Inputs of beta" && keys C-u && keys "$BAD_ADDR" &&
		wait_for "checksum does not match (EIP-55)" && golden form-invalid &&
		! has "did you mean" && keys Enter &&
		wait_for "contract: checksum does not match" && ! grep -q "$BAD_ADDR" "$STATE"
}
ok "the form refuses a wrong EIP-55 checksum as typed and on Enter, suggesting nothing" \
	t_form_invalid

t_form_valid() {
	keys C-u && keys "$LOWER_ADDR" && wait_for "no EIP-55 checksum (C-y adds it)" &&
		has "did you mean $ADDR? C-y takes it" &&
		keys C-y && wait_for "valid: Enter saves it" && has "[$ADDR" && keys Enter &&
		wait_for "contract saved" && grep -q "\"$ADDR\"" "$STATE" &&
		grep -q '"source":[[:space:]]*"user"' "$STATE" && keys Escape &&
		wait_gone "Inputs of beta"
}
ok "an all-lower-case address is offered checksummed; C-y takes it, Enter saves it" t_form_valid

t_stream() {
	local before
	keys g i o t a Enter r && wait_for "Run the action of iota?" && keys y &&
		wait_for "tick 3" && has "▶ running" && has "Log · action of iota: running" &&
		before=$(grep -o 'tick [0-9]*' "$TMP/screen" | tail -n 1 | cut -d' ' -f2) &&
		wait_for "tick $((before + 5))" && has "▶ running"
}
ok "a running step's output appears while it still runs" t_stream

t_resize() {
	local last
	tm resize-window -t w -x 120 -y 40 && wait_for "tick 20" &&
		[ "$(wc -l <"$TMP/screen")" -eq 40 ] && has "▶ running" &&
		tm resize-window -t w -x 60 -y 20 && wait_for "Terminal too small: 60x20" &&
		tm resize-window -t w -x 80 -y 24 && wait_for "iota · A step that prints" &&
		last=$(grep -o 'tick [0-9]*' "$TMP/screen" | tail -n 1 | cut -d' ' -f2) &&
		wait_for "tick $((last + 3))" && has "▶ running"
}
ok "resizing during a run re-lays out (120x40, too small, 80x24) and output keeps coming" t_resize

t_follow_search() {
	keys Tab && wait_for "▸Log" && keys k && wait_for "lines " && keys "?" "tick 5" Enter &&
		wait_for "?tick 5: line" && keys Escape && wait_gone "?tick 5" && keys g g &&
		wait_for "lines 1-" && keys G && wait_for "following"
}
ok "the log scrolls back (follow stops), ? searches it back, gg goes to the top, G follows" \
	t_follow_search

t_full_log() {
	keys l && wait_for "l split" && lacks "Check  (c runs it" && has "tick" && keys C-c &&
		wait_for "Cancel it and quit?" && keys n && wait_gone "Cancel it and quit?" &&
		has "tick" && lacks "canceled" && keys x &&
		wait_for "iota: action canceled" && keys l && wait_for "l full" && has "Status ⊗ canceled"
}
ok "l gives the log the whole screen and back; C-c asks as q does (n keeps the step running)" \
	t_full_log

t_cancel() {
	keys r y && wait_for "Log · action of iota: running" && wait_for "tick 2" && keys x &&
		wait_for "iota: action canceled" && has "⊗ canceled" &&
		grep -q '"status":[[:space:]]*"canceled' "$STATE" &&
		! running_here 'seq 1 400'
}
ok "x cancels the running step: its process is gone and it is canceled (its own status)" t_cancel

t_quit_asks() {
	keys Escape g e t a Enter r && wait_for "Run the action of eta?" && keys y &&
		wait_for "Log · action of eta: running" && keys q && wait_for "Cancel it and quit?" &&
		keys n && wait_gone "Cancel it and quit?" && has "▶ running" && keys q &&
		wait_for "Cancel it and quit?" && keys y && wait_for "[exit 0]" &&
		[ "$(tm display -p -t w '#{alternate_on}')" = 0 ] &&
		! running_here 'echo started; sleep 30' &&
		grep -q '"message":[[:space:]]*"canceled' "$STATE"
}
ok "q while a step runs asks first; y cancels it and quits, restoring the terminal" t_quit_asks

t_fail_hint() {
	# The start-up re-check of the done steps ends first, so its message cannot replace
	# the failure's.
	start 80 24 -- "${C[@]}" && wait_for "/9 done" && wait_for "re-checked" &&
		keys g z e t a Enter r y &&
		wait_for "zeta failed" && has "Hint: The disk is full." &&
		has "Fix: Free some space and run it again." && has "! ERROR: disk full" &&
		keys q && wait_for "[exit 0]"
}
ok "a failing action shows stderr marked and the hint banner with cause and fix" t_fail_hint

t_reenter() {
	headless "${C[@]}" run beta --yes &&
		DSTACK_WIZARD_TOKEN=tok-abcdefgh12 headless "${C[@]}" run gamma --yes &&
		touch "$TMP/home/work/delta" && headless "${C[@]}" check delta &&
		headless "${C[@]}" --target local run epsilon --yes &&
		start 80 24 -- "${C[@]}" && wait_for "re-checked 3 of 5 done steps" &&
		has "▸ ✗ zeta" && keys Enter && wait_for "last run of zeta (from its log file)" &&
		has "Hint: The disk is full." && has "! ERROR: disk full" && keys q &&
		wait_for "[exit 0]"
}
ok "re-entry opens at the first step not done (the failed one), with its last log and hint" \
	t_reenter

t_step_option() {
	start 80 24 -- "${C[@]}" --step theta && wait_for "theta · Needs a derived default" &&
		has "input site: not set" && keys q &&
		wait_for "[exit 0]" && start 80 24 -- "${C[@]}" --step thetaa &&
		wait_for "[exit 2]" && grep -q "did you mean 'theta'" "$TMP/stderr"
}
ok "--step ID opens that step; an unknown one exits 2 with a suggestion" t_step_option

# A held secret typed (or pasted) into a non-secret field: hidden as it is typed, refused on
# Enter, never in the state file.
t_secret_typed() {
	local secret=tok-s3cretvalue1
	start 80 24 DSTACK_WIZARD_TOKEN=$secret -- "${C[@]}" --step alpha &&
		wait_for "alpha · Make the first marker" && keys e && wait_for "Inputs of alpha" &&
		keys Tab C-u && keys -l "$secret" && wait_for "holds the secret token" &&
		lacks "$secret" && has "[****************" && keys Enter &&
		wait_for "greeting: refused" && lacks "$secret" && ! grep -q "$secret" "$STATE" &&
		keys Escape && wait_gone "Inputs of alpha" && keys q && wait_for "[exit 0]"
}
ok "a held secret typed into a non-secret field is hidden and refused, never saved" \
	t_secret_typed

t_drift() {
	rm -f "$TMP/home/work/alpha" && start 80 24 -- "${C[@]}" &&
		wait_for "re-checked" && has "1 fails now: alpha" && has "▸ ✗ alpha" && keys Home &&
		wait_for "check fails now" && mask "$TMP/screen" >"$TMP/masked" &&
		grep -qF "failed: done on YYYY-MM-DD HH:MM, check fails now" "$TMP/masked" &&
		has "↻ beta" && has "stale"
}
ok "on start, done steps are re-checked; one that fails now is named and selected, shows done on <date>" \
	t_drift

t_overview_wide() {
	tm resize-window -t w -x 120 -y 40 && wait_for "Engine test chain" && keys End &&
		wait_for "▸ ⊗ iota" && golden overview-120x40 && keys q && wait_for "[exit 0]"
}
ok "the overview at 120x40" t_overview_wide

# Colour: SGR colour codes (30-37, 40-47, 38;/48;) in the escape-coded capture.
colored() { grep -qE $'\e\\[([0-9]+;)*(3[0-7]|4[0-7]|38|48)[;m]' "$TMP/screen"; }

t_color() {
	start 80 24 -- "${C[@]}" && wait_for "/9 done" && steady && shot -e && colored &&
		keys q && wait_for "[exit 0]"
}
ok "the default screen has colour" t_color

t_no_color() {
	start 80 24 -- "${C[@]}" --no-color && wait_for "re-checked" && golden overview-no-color -e &&
		! colored && grep -q $'\e\\[[0-9;]*7m' "$TMP/screen" && keys q && wait_for "[exit 0]" &&
		start 80 24 NO_COLOR=1 -- "${C[@]}" && wait_for "/9 done" && steady && shot -e &&
		! colored && keys q && wait_for "[exit 0]"
}
ok "--no-color and NO_COLOR: no colour at all, selection still shown (reverse)" t_no_color

t_ascii() {
	start 80 24 -- "${C[@]}" --ascii && wait_for "re-checked" && golden overview-ascii &&
		! LC_ALL=C grep -q $'[\x80-\xff]' "$TMP/screen" && has "> x alpha" && has "x zeta" && keys q &&
		wait_for "[exit 0]" && start 80 24 LANG=C LC_ALL=C -- "${C[@]}" &&
		wait_for "/9 done" && steady && ! LC_ALL=C grep -q $'[\x80-\xff]' "$TMP/screen" &&
		has "x zeta" && keys q && wait_for "[exit 0]"
}
ok "--ascii, and a locale that is not UTF-8, draw ASCII only" t_ascii

t_crash() {
	local pid
	start 80 24 -- "${C[@]}" && wait_for "/9 done" &&
		[ "$(tm display -p -t w '#{alternate_on}')" = 1 ] && pid=$(wiz_pid) &&
		[ -n "$pid" ] && kill -ABRT "$pid" && wait_for "[exit 134]" &&
		[ "$(tm display -p -t w '#{alternate_on}')" = 0 ]
}
ok "a fatal signal (SIGABRT) restores the terminal before the process dies" t_crash

t_headless() {
	start 80 24 -- "${C[@]}" status && wait_for "[exit 0]" && has "two: Second section" &&
		has "failed   zeta" && [ "$(tm display -p -t w '#{alternate_on}')" = 0 ]
}
ok "a headless command on a terminal prints, without opening the wizard" t_headless

t_demo() {
	local sandbox="$TMP/state/dstack-wizard/demo/sandbox" pid
	start 80 24 DEMO_SERVER_GRACE=1 -- --demo --demo-speed 0 &&
		wait_for "DEMO: simulated TDX host" && has "profile demo" && has "0/27 done" &&
		keys Enter && wait_for "DEMO (simulated host) local-dev-setup" && keys Escape &&
		wait_for "DEMO: simulated TDX host" && keys q && wait_for "[exit 0]" &&
		for _ in $(seq 1 50); do
			pid=$(cat "$sandbox/server.pid" 2>/dev/null)
			{ [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; } && break
			sleep 0.2
		done && { [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; }
}
ok "--demo says on every screen that the host is simulated, and leaves no demo server behind" t_demo

# A contract check through a slow RPC endpoint (tests/lib/httpd.py, /delay answers late and
# not in JSON-RPC): the URL is asked for as a secret, the refusal says the check is running,
# then shows its verdict when it comes, with no key pressed.
t_verdict() {
	local ssh_chain="$top_srcdir/tests/chains/ssh" port pid rc=1
	python3 "$top_srcdir/tests/lib/httpd.py" --port-file "$TMP/httpd.port" &
	pid=$!
	for _ in $(seq 1 100); do [ -s "$TMP/httpd.port" ] && break; sleep 0.1; done
	port=$(cut -d' ' -f1 "$TMP/httpd.port" 2>/dev/null)
	[ -n "$port" ] && headless --chain "$ssh_chain" -p verdict set kms_contract_address "$ADDR" &&
		start 80 24 -- --chain "$ssh_chain" -p verdict --step contract &&
		wait_for "contract · The KMS contract is deployed" && keys r &&
		wait_for "contract needs the secret eth_rpc_url" && has "Ethereum RPC URL" &&
		keys -l "http://127.0.0.1:$port/delay/3000" && steady && lacks "127.0.0.1:$port" &&
		keys Enter && wait_for "checking that the address holds a contract" &&
		has "contract cannot run yet" &&
		wait_for "cannot check for contract code at" &&
		has "contract cannot run yet" && lacks "checking that the address" &&
		keys Escape && wait_gone "What is missing:" && keys q && wait_for "[exit 0]" && rc=0
	kill "$pid" 2>/dev/null
	return $rc
}
ok "a contract check asks for the RPC URL, and its verdict replaces 'checking' on its own" \
	t_verdict

t_stderr_clean() {
	tm kill-server 2>/dev/null
	! grep -E 'Sanitizer|runtime error|dstack-wizard: (cannot|could not)' "$TMP/stderr" &&
		[ "$(grep -c . "$TMP/stderr")" -eq 1 ] && grep -q "no step 'thetaa'" "$TMP/stderr"
}
ok "no session wrote anything to stderr but the unknown --step (no sanitizer report)" \
	t_stderr_clean

done_testing
