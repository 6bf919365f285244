#!/usr/bin/env bash
# test-demo-secrets.sh: a headless walk of the whole chain on the demo host with a freshly
# generated private key in DSTACK_WIZARD_PRIVATE_KEY, under strace (every execve with its
# environment). The wallet is the key's account (the demo's faucet funds it, hardhat deploys
# from it) and every step ends done. The key reaches only the programs of the steps whose
# commands name ${private_key} (each command's environment has DEMO_STEP), never the demo
# server nor any program outside a step, and never under the name DSTACK_WIZARD_PRIVATE_KEY;
# no file of the profile (state, logs, sandbox) holds it in any form.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$top_srcdir/tests/demo/lib.sh"

if [ "${DW_SANITIZED:-no}" = yes ]; then
	# A whole walk under strace: the plain build runs it (the engine's side is in test-engine).
	echo "1..0 # SKIP the traced walk of the whole chain runs in the plain build"
	exit 0
fi
if ! command -v strace >/dev/null || ! strace -f -o /dev/null true 2>"$TMP/strace.err"; then
	echo "1..0 # SKIP strace cannot trace here: $(head -n 1 "$TMP/strace.err" 2>/dev/null)"
	exit 0
fi

KEY=0x$(openssl rand -hex 32)
BARE=${KEY#0x}
TRACE="$TMP/trace"
# The steps whose commands name the key.
mapfile -t USERS < <(grep -l '\${private_key}' "$top_srcdir"/assets/chain/*.yaml |
	xargs awk '/^id:/ { print $2 }')

ok "a fresh key: the whole chain walks to the end under strace" \
	'DSTACK_WIZARD_PRIVATE_KEY=$KEY strace -f -e trace=execve -v -s 512 -o "$TRACE" \
	     "$WIZ" --demo --demo-speed 0 run --all --yes </dev/null >"$TMP/out" 2>"$TMP/err" &&
	 out_has "every step is done"'
ok "status --json: all 27 steps done" \
	'demo 0 status --json && [ "$(jq "[.steps[] | select(.status == \"done\")] | length" "$TMP/out")" -eq 27 ] &&
	 [ "$(jq ".steps | length" "$TMP/out")" -eq 27 ]'
ok "the wallet is the key's account, and hardhat deployed from it" \
	'demo 0 inputs && W=$(awk "/^wallet_address / { print \$3 }" "$TMP/out") &&
	 [ "$W" != 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 ] && out_has "^deployer .* $W " &&
	 grep -q "Deploying with account: $W\$" "$XDG_STATE_HOME"/dstack-wizard/demo/logs/contract-deploy-action-*.log'
ok "no file of the profile holds the key, in any case" \
	'! grep -rqi -- "$BARE" "$XDG_STATE_HOME"'

python3 "$top_srcdir/tests/demo/execve-env.py" "$TRACE" "$KEY" >"$TMP/execs" 2>"$TMP/execs.err"
# Every line but the first (the wizard itself, started with the variable).
tail -n +2 "$TMP/execs" >"$TMP/children"
nproc=$(cut -d'|' -f1 "$TMP/children" | sort -u | wc -l)
nkey=$(awk -F'|' '$3 == "key" { print $1 }' "$TMP/children" | sort -u | wc -l)
echo "# $nproc processes started under the wizard, $nkey with the key in their environment:"
awk -F'|' '$3 == "key" { print $2 " (" $4 ")|" $1 }' "$TMP/children" | sort -u |
	awk -F'|' '{ n[$1]++ } END { for (s in n) printf "#   %d in %s\n", n[s], s }' | sort -k4

ok "every execve of the walk was read, with its environment" \
	'[ ! -s "$TMP/execs.err" ] && [ "$nproc" -gt 500 ] && ! grep -q "|?|" "$TMP/execs" &&
	 head -n 1 "$TMP/execs" | grep -q "|key|DSTACK_WIZARD_PRIVATE_KEY|.*dstack-wizard --demo"'
ok "the steps that name the key got it (as PRIVATE_KEY)" \
	'grep -q "^[0-9]*|contract-deploy|key|PRIVATE_KEY|" "$TMP/children"'
ok "no child has DSTACK_WIZARD_PRIVATE_KEY" '! grep -q "DSTACK_WIZARD_PRIVATE_KEY" "$TMP/children"'
ok "the demo server runs without the key" \
	'grep -q "|-|-|python3 .*server\.py$" "$TMP/children" && ! grep -q "|key|.*server\.py$" "$TMP/children"'
ok "the key is only in the programs of the steps that name it (${USERS[*]})" \
	'[ "${#USERS[@]}" -ge 1 ] &&
	 ! awk -F"|" -v users=" ${USERS[*]} " "\$3 == \"key\" && index(users, \" \" \$2 \" \") == 0" \
	     "$TMP/children" | grep .'
ok "the demo server goes away after the last wizard" 'no_server_left'
done_testing
