#!/usr/bin/env bash
# test-tui-server.sh: the server screen, against a throwaway sshd on 127.0.0.1
# (tests/lib/sshd.sh): offered by the refusal of a server step when no server is set, and
# opened with S in the overview; its fields saved in the profile; Test runs the pre-flight,
# asking about the unknown host key as everywhere, and shows each item; server_ip takes the
# target's address; the server step then runs over SSH, and a new wizard and a headless
# command find the server in the profile.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/tui/lib.sh"
. "$top_srcdir/tests/lib/sshd.sh"
trap 'sshd_stop; cleanup' EXIT
export SSHD_WATCH_PID=$$
if ! sshd_start "$TMP/sshd" >"$TMP/sshd-start.log" 2>&1; then
	echo "1..0 # SKIP no sshd: $(head -n 1 "$TMP/sshd-start.log")"
	exit 0
fi
C=(--chain "$top_srcdir/tests/chains/server" --ssh-config none)
STATE="$TMP/state/dstack-wizard/default/state.json"
KH="$TMP/kh"
E=(DSTACK_WIZARD_REMOTE_DIR="$TMP/remote")
headless "${C[@]}" set work_dir "$TMP/work"

t_offered() {
	start 100 40 "${E[@]}" -- "${C[@]}" && wait_for "no server" && keys r &&
		wait_for "hello cannot run yet" && has "no server is configured" &&
		has "Enter: set the server (the server screen)" && keys Enter &&
		wait_for "Server: how the wizard reaches the TDX host" && has "The SSH target:" &&
		has "server_ip, an input of the steps, is another thing" &&
		has "server_ip: not set"
}
ok "the refusal of a server step with no server offers the server screen" t_offered

t_fields() {
	keys 127.0.0.1 Tab "$SSHD_USER" Tab 70000 Enter &&
		wait_for "not saved: the port is a number from 1 to 65535" &&
		{ [ ! -e "$STATE" ] || ! grep -q '"target"' "$STATE"; }
}
ok "a port out of range is refused, nothing saved" t_fields

t_test() {
	keys C-u "$SSHD_PORT" Tab "$SSHD_USER_KEY" Tab "$KH" C-t && wait_for "Unknown host key" &&
		has "Trust this host? (adds it to $KH)" && keys y &&
		wait_for "the server is ready for the wizard" && has "✓ reachable" &&
		has "✓ host-key" && has "✓ disk" &&
		has "server_ip = 127.0.0.1 (from the SSH target)" &&
		grep -qF "[127.0.0.1]:$SSHD_PORT" "$KH" &&
		python3 - "$STATE" "$SSHD_USER@127.0.0.1:$SSHD_PORT" "$SSHD_USER_KEY" "$KH" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert (s["target"], s["identity"], s["known_hosts"]) == tuple(sys.argv[2:5]), s
assert "server_ip" not in s.get("inputs", {}), s
PY
}
ok "Test saves, asks about the unknown host key, runs the pre-flight and shows each item" t_test

t_runs() {
	keys Escape && wait_for "target $SSHD_USER@127.0.0.1:$SSHD_PORT" && keys r &&
		wait_for "Run the action of hello?" && keys y && wait_for "hello is done" &&
		[ "$(cat "$TMP/work/hello")" = "server_ip is 127.0.0.1" ]
}
ok "the server step then runs over SSH, with server_ip from the target" t_runs

t_again() {
	keys q && wait_for "[exit 0]" && start 100 40 "${E[@]}" -- "${C[@]}" &&
		wait_for "target $SSHD_USER@127.0.0.1:$SSHD_PORT" && keys S &&
		wait_for "Server: how the wizard reaches the TDX host" && has "127.0.0.1" &&
		has "$SSHD_USER_KEY" && has "$KH" && keys Escape && wait_gone "Server: how" &&
		headless "${C[@]}" check hello && grep -q "done" "$TMP/out"
}
ok "a new wizard (S) and a headless check find the server, key and known_hosts in the profile" \
	t_again

t_none() {
	keys S && wait_for "Server: how" && keys C-u Tab C-u Tab C-u Enter &&
		wait_for "saved: no server" && keys Escape && wait_for "no server" &&
		! grep -q '"target"' "$STATE"
}
ok "an empty host saves no server" t_none

done_testing
