#!/usr/bin/env bash
# test-tui-walk.sh: the walk-through of issue 17. From an empty profile, `dstack-wizard --demo`
# (no other flag: the key, the grace of the demo server are environment variables) is walked in
# tmux to the finish screen with the keys a user has: D sets the demo's speed to no waiting; e
# changes an input through the form (kms_domain: the demo has a value for every input, so the
# finish screen's KMS URL shows that the form's value went through the chain); S sets the
# server to the throwaway sshd on 127.0.0.1 (tests/lib/sshd.sh), Test accepts its host key in
# the dialog; then R runs the rest, and at each stop the step is reviewed with r: space ticks
# every item of a MANUAL step's checklist, y runs it. The finish screen opens by itself with
# the KMS URL, the contract addresses and the app URL; a headless status afterwards finds every
# step done. The server steps went through the sshd, and the private key was never on a screen.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/tui/lib.sh"
. "$top_srcdir/tests/lib/sshd.sh"

# The demo profile's STATE and SANDBOX, and server_pid, as the demo tests have them.
XDG_STATE_HOME="$TMP/state"
. "$top_srcdir/tests/demo/lib.sh"
SCREENS="$TMP/screens"

walk_cleanup() {
	local pid
	tm kill-server 2>/dev/null
	pid=$(server_pid) && kill "$pid" 2>/dev/null
	sshd_stop
	cleanup
}
trap walk_cleanup EXIT

export SSHD_WATCH_PID=$$
if ! sshd_start "$TMP/sshd" >"$TMP/sshd-start.log" 2>&1; then
	echo "1..0 # SKIP no sshd: $(head -n 1 "$TMP/sshd-start.log")"
	exit 0
fi
# A fresh private key (the wallet is its account; the demo's faucet funds it).
KEY=0x$(openssl rand -hex 32)
BARE=${KEY#0x}
KH="$TMP/known_hosts"   # empty: Test asks about the host key
# Every screen the test looked at, each different one once.
: >"$SCREENS"
shot() {
	tm capture-pane -p "$@" -t w >"$TMP/screen" 2>/dev/null
	cmp -s "$TMP/screen" "$TMP/screen.last" && return 0
	cat "$TMP/screen" >>"$SCREENS"
	cp "$TMP/screen" "$TMP/screen.last"
}
# A walk segment (R through the steps that need no one) takes seconds in the plain build; a
# sanitizer build and a loaded machine are slower.
LONG=$((WAIT * 9))

# msg: the message line (the one above the key bar) of the last shot.
msg() { tail -n 2 "$TMP/screen" | head -n 1 | sed -e 's/^ *//' -e 's/ *$//'; }

# wait_msg REGEX [SECONDS]: until the message line matches REGEX (extended).
wait_msg() {
	local deadline=$((SECONDS + ${2:-$WAIT}))
	while :; do
		shot
		msg | grep -qE -- "$1" && return 0
		[ $SECONDS -ge $deadline ] && break
		sleep 0.1
	done
	echo "# timed out waiting for the message: $1"
	sed 's/^/# | /' "$TMP/screen"
	return 1
}

t_empty() {
	[ ! -e "$STATE" ] &&
		start 120 50 DSTACK_WIZARD_PRIVATE_KEY="$KEY" DEMO_SERVER_GRACE=1 -- --demo &&
		wait_for "DEMO: simulated TDX host" && wait_for "▸ ○ local-dev-setup" && has " 0/" &&
		has "S server" && keys D && wait_for "Demo controls" && keys 0 &&
		wait_msg "^demo speed 0 \(no waiting\)" && keys Escape && wait_gone "Demo controls" &&
		[ "$(cat "$SANDBOX/demo-speed")" = 0 ]
}
ok "an empty profile opens on the demo host; D then 0 sets the demo's speed to no waiting" t_empty

t_form() {
	local i
	keys g && wait_for "Go to step:" && keys dns-configuration Enter &&
		wait_for "▸ ○ dns-configuration" && keys e && wait_for "Inputs of dns-configuration" &&
		for i in $(seq 1 10); do
			grep -qF "▸ [kms.dstack-demo.example " "$TMP/screen" && break
			keys Tab && sleep 0.1 && shot
		done &&
		keys C-u keys.dstack-demo.example Enter && wait_msg "^kms_domain saved$" &&
		keys Escape && wait_gone "Inputs of dns-configuration" &&
		jq -e '.inputs.kms_domain.value == "keys.dstack-demo.example"' "$STATE" >/dev/null
}
ok "e: the form changes kms_domain, saved in the profile" t_form

t_server() {
	keys S && wait_for "Server: how the wizard reaches the TDX host" &&
		keys 127.0.0.1 Tab "$SSHD_USER" Tab "$SSHD_PORT" Tab "$SSHD_USER_KEY" Tab "$KH" C-t &&
		wait_for "Unknown host key" && has "$(ssh-keygen -lf "$SSHD_HOST_PUB" | cut -d' ' -f2)" &&
		keys y && wait_for "the server is ready for the wizard" && has "✓ login" &&
		has "✓ os: Ubuntu 24.04.1 LTS" && has "✓ disk" &&
		grep -qF "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_HOST_PUB")" "$KH" &&
		python3 - "$STATE" "$SSHD_USER@127.0.0.1:$SSHD_PORT" "$SSHD_USER_KEY" "$KH" <<'PY' &&
import json, sys
s = json.load(open(sys.argv[1]))
assert (s["target"], s["identity"], s["known_hosts"]) == tuple(sys.argv[2:5]), s
PY
		keys Escape && wait_gone "Server: how the wizard reaches the TDX host" &&
		wait_for "DEMO: simulated TDX host over SSH to $SSHD_USER@127.0.0.1:$SSHD_PORT"
}
ok "S: the server screen sets the test sshd; Test accepts its host key and runs the pre-flight" \
	t_server

# The walk: R, and at each stop the review of the step it stopped at (r): a MANUAL step's
# checklist is ticked item by item with space; y runs it. STOPS collects "step reason".
STOPS=()
TICKED=()

# tick_all: tick every item of the review's checklist, all on the screen and none ticked
# yet: space ticks the marked item, ↓ marks the next.
tick_all() {
	local n i k=()
	shot
	n=$(grep -cF "[ ] " "$TMP/screen")
	[ "$n" -gt 0 ] && lacks "[x] " || return 1
	for i in $(seq 1 "$n"); do k+=(Space Down); done
	keys "${k[@]}" && wait_gone "[ ] " && [ "$(grep -cF "[x] " "$TMP/screen")" -eq "$n" ]
}

# walk_stop STEP REASON: review STEP and run it (ticking its checklist first if MANUAL).
walk_stop() {
	local s=$1
	keys r && wait_for "Run the action of $s?" || return 1
	if [ "$2" = manual ]; then
		has "Checklist  (yours to do: space ticks the marked item" && tick_all || return 1
		TICKED+=("$s")
	fi
	keys y && wait_msg "^$s (is done|failed)" "$LONG" || return 1
	# The last step to be done opens the finish itself.
	[ "$(msg)" = "$s is done, and with it every step" ] && return 0
	[ "$(msg)" = "$s is done" ] && keys Escape && wait_for "▸ ✓ $s"
}

t_walk() {
	local i m s
	for i in $(seq 1 40); do
		keys R && wait_msg "^run the rest( stopped: |: every step is done)" "$LONG" || return 1
		m=$(msg)
		case $m in
		"run the rest: every step is done") return 0 ;;
		*" needs your yes: "*) s=${m#run the rest stopped: }; s=${s%% *}; STOPS+=("$s yes") ;;
		*" is done by hand; "*) s=${m#run the rest stopped: }; s=${s%% *}; STOPS+=("$s manual") ;;
		*) echo "# an unexpected stop: $m"; return 1 ;;
		esac
		walk_stop "$s" "${STOPS[-1]#* }" || return 1
		grep -qF "Every step is done." "$TMP/screen" && return 0
	done
	echo "# the walk did not end"
	return 1
}
t0=$SECONDS
ok "R runs the rest, stopping for a yes (reviewed, y) or a MANUAL step (ticked, y), to the end" \
	t_walk
echo "# the walk took $((SECONDS - t0)) s; it stopped at: ${STOPS[*]}"
t_stops() {
	printf '%s\n' "${STOPS[@]}" | grep -qx "tdx-bios-configuration manual" &&
		printf '%s\n' "${STOPS[@]}" | grep -qx "contract-deploy yes"
}
ok "it stopped at the BIOS checklist and at a step that spends gas" t_stops

t_finish() {
	wait_for "Every step is done." && has "What was built, and where to reach it" &&
		has "KMS RPC                      https://keys.dstack-demo.example:8083" &&
		grep -qE "DstackKms contract +0x[0-9a-fA-F]{40}$" "$TMP/screen" &&
		grep -qE "DstackApp implementation +0x[0-9a-fA-F]{40}$" "$TMP/screen" &&
		grep -qE "Hello-world app URL +https://[0-9a-f]{40}\.dstack-demo\.example:9204/$" \
		    "$TMP/screen" &&
		has "Attestation                  verified" && cp "$TMP/screen" "$TMP/finish"
}
ok "the finish screen opens by itself: the KMS URL (with the form's domain), contracts, app URL" \
	t_finish

# items STEP: the number of items of STEP's checklist, from its step file.
items() {
	awk '/^[a-z_]+:/ { in_c = ($1 == "checklist:") } in_c && /^  - / { n++ } END { print n + 0 }' \
	    "$top_srcdir"/assets/chain/[0-9]*-"$1".yaml
}

t_ticked() {
	local s n
	[ "${#TICKED[@]}" -ge 3 ] || return 1
	for s in "${TICKED[@]}"; do
		n=$(jq --arg s "$s" '.steps[$s].checklist | length' "$STATE") &&
			[ "$n" -eq "$(items "$s")" ] && [ "$n" -gt 0 ] ||
			{ echo "# $s: $n ticks of $(items "$s") items"; return 1; }
	done
}
ok "the profile keeps a tick for every item of the checklists walked" t_ticked

t_status() {
	keys q && wait_for "[exit 0]" && DSTACK_WIZARD_PRIVATE_KEY="$KEY" headless --demo list &&
		nsteps=$(grep -cE "^  [a-z]" "$TMP/out") &&
		DSTACK_WIZARD_PRIVATE_KEY="$KEY" headless --demo status &&
		! grep -qE "^  (ready|locked|failed|stale) " "$TMP/out" &&
		[ "$(grep -cE "^  done " "$TMP/out")" -eq "$nsteps" ] && [ "$nsteps" -ge 27 ]
}
ok "after q, a headless status finds every step done" t_status

t_summary() {
	DSTACK_WIZARD_PRIVATE_KEY="$KEY" headless --demo summary --json &&
		for k in kms_contract app_implementation hello_url; do
			v=$(jq -r ".built.$k.value" "$TMP/out") && [ -n "$v" ] && [ "$v" != null ] &&
				grep -qF -- "$v" "$TMP/finish" || { echo "# $k: $v is not on the finish"; return 1; }
		done
}
ok "the finish screen showed the addresses and URL summary --json gives" t_summary

t_sshd() {
	grep -q "Accepted publickey for $SSHD_USER from 127.0.0.1" "$SSHD_LOG" &&
		[ "$(grep -c "Starting session: command for $SSHD_USER from 127.0.0.1" "$SSHD_LOG")" -ge 20 ]
}
ok "the server steps ran through the test sshd (its sessions for $SSHD_USER from 127.0.0.1)" t_sshd

t_key() {
	[ -s "$SCREENS" ] && ! grep -qiF -- "$BARE" "$SCREENS" && ! grep -rqiF -- "$BARE" "$TMP/state"
}
ok "the private key was never on a screen, nor in a file of the profile" t_key

t_gone() {
	local i
	for i in $(seq 1 50); do
		server_pid >/dev/null || return 0
		sleep 0.2
	done
	echo "# the demo server still runs"
	return 1
}
ok "the demo server goes away after the wizard" t_gone
done_testing
