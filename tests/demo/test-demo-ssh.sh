#!/usr/bin/env bash
# test-demo-ssh.sh: the headless walk of the whole chain on the demo host, with its server steps
# going over SSH: --demo --target USER@127.0.0.1:PORT against the throwaway sshd of
# tests/lib/sshd.sh. For every step its check fails before its action, and the action succeeds
# with its check passing afterwards; at the end one check of every step passes again. A trace kept by every bash the commands
# start (BASH_ENV, and a `bash` first on PATH for the SSH side, where the environment is the
# one the transport exports) shows that the server steps' commands ran in sshd's sessions with
# the demo's environment, the local steps' on this machine, and that the private key reached
# the local steps only. A demo SSH target must be on the loopback.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$top_srcdir/tests/demo/lib.sh"
. "$top_srcdir/tests/lib/sshd.sh"

if [ "${DW_SANITIZED:-no}" = yes ]; then
	# About three minutes under ASan on two cores: the plain build walks it; under ASan the
	# SSH transport runs in test-ssh and test-ssh-cli, and the demo walk in test-demo-walk.
	echo "1..0 # SKIP the SSH walk of the whole chain runs in the plain build"
	exit 0
fi
KEY=ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80   # the demo's test key
cleanup() {
	sshd_stop
	demo_cleanup
}
trap cleanup EXIT

export SSHD_WATCH_PID=$$
if ! sshd_start "$TMP/sshd" >"$TMP/sshd-start.log" 2>&1; then
	echo "1..0 # SKIP no sshd: $(head -n 1 "$TMP/sshd-start.log")"
	exit 0
fi
S=(--target "$SSHD_USER@127.0.0.1:$SSHD_PORT" --identity "$SSHD_USER_KEY"
	--known-hosts "$SSHD_KNOWN_HOSTS" --ssh-config none)
SSH_RE="127\.0\.0\.1 [0-9]+ 127\.0\.0\.1 $SSHD_PORT"

# The trace: one line "STEP|ORIGIN|KEY|OUT" per bash started for a step's command, ORIGIN being
# SSH_CONNECTION or "local", KEY saying whether the private key is in its environment, OUT
# where its stdout goes (for the bash the transport starts on the SSH side; "-" for the others).
# Only builtins, but for that one readlink: the walk starts thousands of bash.
TRACE="$TMP/trace.log"
mkdir -p "$TMP/trace-bin"
cat >"$TMP/trace.sh" <<EOF
if [ -n "\${DEMO_STEP:-}" ]; then
	dw_trace_k=nokey dw_trace_o=-
	for dw_trace_v in \${!A*} \${!B*} \${!C*} \${!D*} \${!E*} \${!F*} \${!G*} \${!H*} \${!I*} \
	    \${!J*} \${!K*} \${!L*} \${!M*} \${!N*} \${!O*} \${!P*} \${!Q*} \${!R*} \${!S*} \${!T*} \
	    \${!U*} \${!V*} \${!W*} \${!X*} \${!Y*} \${!Z*} \${!_*} \${!a*} \${!b*} \${!c*} \${!d*} \
	    \${!e*} \${!f*} \${!g*} \${!h*} \${!i*} \${!j*} \${!k*} \${!l*} \${!m*} \${!n*} \${!o*} \
	    \${!p*} \${!q*} \${!r*} \${!s*} \${!t*} \${!u*} \${!v*} \${!w*} \${!x*} \${!y*} \${!z*}; do
		case \${!dw_trace_v} in *$KEY*) dw_trace_k=key ;; esac
	done
	if [ -n "\${DW_TRACE_TOP:-}" ]; then
		dw_trace_o=\$(readlink /proc/\$\$/fd/1)
		unset DW_TRACE_TOP
	fi
	printf '%s|%s|%s|%s\n' "\$DEMO_STEP" "\${SSH_CONNECTION:-local}" "\$dw_trace_k" "\$dw_trace_o" \
	    >>'$TRACE'
	unset dw_trace_k dw_trace_o dw_trace_v
fi
EOF
cat >"$TMP/trace-bin/bash" <<EOF
#!/bin/sh
DW_TRACE_TOP=1 BASH_ENV='$TMP/trace.sh' exec '$(command -v bash)' "\$@"
EOF
chmod +x "$TMP/trace-bin/bash"
export BASH_ENV="$TMP/trace.sh" PATH="$TMP/trace-bin:$PATH"

printf 'Host demo-alias\n\tHostName 192.0.2.7\n' >"$TMP/ssh_config"
ok "a demo SSH target off the loopback is refused (exit 2), also through an ssh config HostName" \
	'demo 2 --target 192.0.2.7 list && err_has "must be a loopback address \(127\.0\.0\.0/8 or ::1\), not 192\.0\.2\.7" &&
	 demo 2 --ssh-config "$TMP/ssh_config" --target demo-alias list && err_has "not 192\.0\.2\.7"'
ok "loopback targets are accepted (127.0.0.0/8 and ::1), and none is remembered" \
	'demo 0 --target 127.0.0.2 --ssh-config none list && demo 0 --target "[::1]:2222" --ssh-config none list &&
	 ! grep -q "\"target\"" "$STATE"'
ok "the pre-flight asks the simulated host (its OS release and its disk), not this machine" \
	'demo 0 "${S[@]}" preflight && out_has "^  ok +os: Ubuntu 24\.04\.1 LTS$" &&
	 out_has "^  ok +disk: 1466\.1 GiB free on /$" && out_has "^  ok +sudo: " &&
	 grep -qE "^preflight\|$SSH_RE\|nokey\|" "$TRACE"'
ok "the demo lists the whole chain over SSH" 'demo 0 "${S[@]}" list && out_has "^  attestation-verification +SERVER"'
mapfile -t STEPS < <(awk '/^  [a-z]/ { print $1 }' "$TMP/out")
mapfile -t SERVER < <(awk '/^  [a-z]/ && $2 == "SERVER" { print $1 }' "$TMP/out")
mapfile -t LOCAL < <(awk '/^  [a-z]/ && $2 == "LOCAL" { print $1 }' "$TMP/out")
ok "the chain has at least the 27 steps of CHAIN.md, most of them on the server" \
	'[ "${#STEPS[@]}" -ge 27 ] && [ "${#SERVER[@]}" -ge 15 ] && [ "${#LOCAL[@]}" -ge 3 ]'

declare -A DONE_EARLY=([contract-compile]=1)   # local-dev-setup already compiles the contracts
t0=$(date +%s)
for s in "${STEPS[@]}"; do
	if [ -n "${DONE_EARLY[$s]:-}" ]; then
		ok "$s: its check already passes (an earlier step did the work)" 'demo 0 "${S[@]}" check "$s"'
	else
		ok "$s: the check fails before the action" 'demo 1 "${S[@]}" check "$s" && out_has "==> $s failed"'
	fi
	# run: the action, then the check, which must pass ("is done").
	ok "$s: the action runs and its check passes afterwards" \
		'demo 0 "${S[@]}" run "$s" --yes && out_has "==> $s is done"'
done
echo "# the walk over SSH took $(($(date +%s) - t0)) s"

ok "every step's check passes again at the end, in one pass over the connection" \
	'demo 0 "${S[@]}" check && [ "$(grep -c "^==> .* is done$" "$TMP/out")" -eq "${#STEPS[@]}" ] &&
	 demo 0 "${S[@]}" status && out_lacks "^  (ready|locked|failed|stale) " && out_has "^  done +attestation-verification "'
ok "the pre-flight of the connection ran before the server steps" \
	'grep -qE "pre-flight: ok +login" "$XDG_STATE_HOME"/dstack-wizard/demo/logs/tdx-hardware-verification-check-*.log ||
	 { demo 0 "${S[@]}" check tdx-hardware-verification && out_has "pre-flight: ok +login"; }'

# where_ran STEP PLACE: the commands of STEP ran where its step file says: through the test
# sshd when the step is on the server or has an `on: server` command, here when it is local
# or has an `on: local` command, and nowhere else (probes start no bash, so are not traced).
where_ran() {
	local s=$1 place=$2 f srv=0 loc=0 nsrv nloc
	f=$(ls "$top_srcdir"/assets/chain/[0-9]*-"$s".yaml 2>/dev/null | head -n 1)
	[ -n "$f" ] || { echo "# $s: no step file"; return 1; }
	{ [ "$place" = SERVER ] || grep -qE '^[[:space:]]+on: server[[:space:]]*$' "$f"; } && srv=1
	{ [ "$place" = LOCAL ] || grep -qE '^[[:space:]]+on: local[[:space:]]*$' "$f"; } && loc=1
	nsrv=$(grep -cE "^$s\|$SSH_RE\|" "$TRACE")
	nloc=$(grep -c "^$s|local|" "$TRACE")
	[ "$nsrv" -eq 0 ] || [ "$srv" -eq 1 ] || { echo "# $s: $nsrv through sshd"; return 1; }
	[ "$nloc" -eq 0 ] || [ "$loc" -eq 1 ] || { echo "# $s: $nloc here"; return 1; }
	[ "$place" != SERVER ] || [ "$nsrv" -gt 0 ] || { echo "# $s: none through sshd"; return 1; }
	[ "$place" != LOCAL ] || [ "$nloc" -gt 0 ] || { echo "# $s: none here"; return 1; }
}
ok "every server step's commands ran through sshd (SSH_CONNECTION to the test sshd)" \
	'bad=0; for s in "${SERVER[@]}"; do where_ran "$s" SERVER || bad=1; done; [ "$bad" -eq 0 ]'
ok "the local steps' commands ran on this machine (through sshd only where marked on: server)" \
	'bad=0; for s in "${LOCAL[@]}"; do where_ran "$s" LOCAL || bad=1; done; [ "$bad" -eq 0 ]'
ok "the manual steps' probes ran where they say" \
	'bad=0; for s in "${STEPS[@]}"; do case " ${SERVER[*]} ${LOCAL[*]} " in *" $s "*) continue ;; esac;
	 where_ran "$s" MANUAL || bad=1; done; [ "$bad" -eq 0 ]'
ok "sshd logged the sessions: one login per wizard that ran a server step" \
	'[ "$(grep -c "Accepted publickey for $SSHD_USER from 127.0.0.1" "$SSHD_LOG")" -ge "$((2 * ${#SERVER[@]}))" ]'
ok "the private key reached local steps (contract-deploy), and no command that went through sshd" \
	'grep -q "^contract-deploy|local|key|" "$TRACE" && ! grep -qE "\|$SSH_RE\|key\|" "$TRACE"'
ok "the private key never reached the state, the logs or the sandbox" \
	'! grep -rqF "$KEY" "$XDG_STATE_HOME" "$SSHD_LOG"'
ok "a long server action ran supervised, with its files in the sandbox" \
	'grep -qE "^tdx-software-installation\|$SSH_RE\|nokey\|$SANDBOX/remote/tdx-software-installation-[0-9]{8}T[0-9]{6}-[0-9]+-[0-9]+/out$" "$TRACE"'
ok "the demo server goes away after the last wizard" 'no_server_left'
done_testing
