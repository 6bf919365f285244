#!/usr/bin/env bash
# test-cli.sh: the headless commands end to end, on the real binary, with the engine test
# chain (tests/chains/engine), a state under a temp XDG_STATE_HOME, and real child processes.
# Each test is one `ok "description" 'script'`; the script may chain checks with &&.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
C=(--chain "$top_srcdir/tests/chains/engine")
W="$TMP/work"
ADDR=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed
SECRET=tok-verysecret42
state="$XDG_STATE_HOME/dstack-wizard/default/state.json"
# Every command below runs with an empty cache directory: the wizard writes none.
export XDG_CACHE_HOME="$TMP/cache"
mkdir -p "$XDG_CACHE_HOME"

ok "--help exits 0 and documents commands and exit codes" \
	'wiz 0 --help && out_has "^Usage: dstack-wizard" && out_has "why STEP" && out_has "3 refused"'
ok "--version prints the version" 'wiz 0 --version && out_has "^dstack-wizard [0-9]+\.[0-9]+\.[0-9]+$"'
ok "an unknown option exits 2" 'wiz 2 --frobnicate && err_has "unrecognized option"'
ok "an unknown command exits 2" 'wiz 2 "${C[@]}" frobnicate && err_has "unknown command .frobnicate."'
ok "status, list, inputs and lint given an extra word exit 2 saying what is wrong" \
	'wiz 2 "${C[@]}" status extra && err_has "status: unexpected argument .extra." &&
	 wiz 2 "${C[@]}" list extra && err_has "list: unexpected argument .extra. \(usage: list \[--json\]\)" &&
	 wiz 2 "${C[@]}" inputs foo && err_has "inputs: unexpected argument .foo." &&
	 wiz 2 "${C[@]}" lint extra && err_has "lint: unexpected argument .extra."'
ok "list --json is JSON: each step with its section, place, title and requirements" \
	'wiz 0 "${C[@]}" list --json && python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
s = {x[\"id\"]: x for x in d[\"steps\"]}
assert [x[\"id\"] for x in d[\"steps\"]][:2] == [\"alpha\", \"beta\"], d
assert s[\"beta\"][\"requires\"] == [\"alpha\"] and s[\"epsilon\"][\"place\"] == \"server\"
assert s[\"alpha\"][\"section\"] == \"one\" and s[\"alpha\"][\"title\"] == \"Make the first marker\"
" "$TMP/out"'
ok "list shows sections and steps in order" \
	'wiz 0 "${C[@]}" list && out_has "^one: First section" && out_has "^  alpha +LOCAL" && out_has "^  epsilon +SERVER"'
ok "status on a fresh profile: alpha locked (no work_dir), beta locked" \
	'wiz 0 "${C[@]}" status && out_has "locked +alpha" && out_has "locked +beta" && out_has "one: First section \(0/3 done\)"'
ok "why names every blocker and exits 3" \
	'wiz 3 "${C[@]}" why alpha && out_has "alpha is locked" && out_has "input work_dir: not set"'
ok "why on an unknown step suggests the nearest" 'wiz 2 "${C[@]}" why alpah && err_has "did you mean .alpha."'
ok "set refuses an invalid checksum with exit 3 and the reason, suggesting no address" \
	'wiz 3 "${C[@]}" set contract 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD && err_has "EIP-55" && ! grep -q "$ADDR" "$TMP/err"'
ok "set refuses a secret from the command line" 'wiz 3 "${C[@]}" set token tok-12345678 && err_has "never taken from the command line"'
ok "set on an unknown input exits 2 with a suggestion" 'wiz 2 "${C[@]}" set work_dri x && err_has "did you mean .work_dir."'
ok "set a valid path" 'wiz 0 "${C[@]}" set work_dir "$W"'
ok "alpha is ready now" 'wiz 0 "${C[@]}" status && out_has "ready +alpha"'
ok "state file is 0600 and its directory 0700" \
	'[ "$(stat -c %a "$state")" = 600 ] && [ "$(stat -c %a "$(dirname "$state")")" = 700 ]'
ok "run without --yes and no terminal is refused (exit 2)" 'wiz 2 "${C[@]}" run alpha && err_has "pass --yes"'
ok "run a locked step exits 3 and says why" 'wiz 3 "${C[@]}" run beta --yes && err_has "requires alpha"'
ok "run alpha --yes: the action, then its check, then done" \
	'wiz 0 "${C[@]}" run alpha --yes && out_has "Deployed to: 0x" && out_has "captured contract" && out_has "alpha is done"'
ok "the capture is an input with its provenance" \
	'wiz 0 "${C[@]}" inputs && out_has "^contract +eth_address +$ADDR +\[captured from alpha"'
ok "status --json is JSON with the statuses" \
	'wiz 0 "${C[@]}" status --json && out_has "\"id\":[[:space:]]*\"alpha\"" && out_has "\"status\":[[:space:]]*\"done\""'
ok "check of a done step passes (exit 0)" 'wiz 0 "${C[@]}" check alpha && out_has "alpha is done"'
ok "gamma refuses without its secret and says how to give it" \
	'wiz 0 "${C[@]}" run beta --yes && wiz 3 "${C[@]}" run gamma --yes && err_has "DSTACK_WIZARD_TOKEN"'
ok "the secret from the environment reaches the child, redacted in the output" \
	'DSTACK_WIZARD_TOKEN=$SECRET wiz 0 "${C[@]}" run gamma --yes && out_has "the token is \*\*\*\*" && out_lacks "$SECRET"'
ok "the secret is in no file of the state directory" '! grep -rq "$SECRET" "$XDG_STATE_HOME"'
printf '%s\n' "$SECRET" >"$TMP/token"
chmod 644 "$TMP/token"
ok "--secret-file refuses a file others can read" \
	'wiz 3 "${C[@]}" --secret-file token="$TMP/token" run gamma --yes && err_has "chmod 600"'
chmod 600 "$TMP/token"
ok "--secret-file with a 0600 file works" \
	'wiz 0 "${C[@]}" --secret-file token="$TMP/token" run gamma --yes && out_has "gamma is done" && out_lacks "$SECRET"'
ok "a failing action exits 1 and shows the hint" \
	'wiz 1 "${C[@]}" run zeta --yes && out_has "ERROR: disk full" && out_has "hint: The disk is full" && out_has "exit status 7"'
ok "status shows the failure message" 'wiz 0 "${C[@]}" status && out_has "failed +zeta" && out_has "exit status 7"'
ok "a server step without a target is locked" 'wiz 3 "${C[@]}" run epsilon --yes && err_has "no server is configured"'
ok "--target local runs a server step here" 'wiz 0 "${C[@]}" --target local run epsilon --yes && out_has "on the server"'
ok "a malformed --target is refused" 'wiz 2 "${C[@]}" --target "user@host:0" status && err_has "bad SSH target"'
ok "a manual step shows its checklist, then its check fails with the hint" \
	'wiz 1 "${C[@]}" run delta --yes && out_has "\[ \] Create the file delta" && out_has "hint: The delta file is missing"'
ok "changing an input marks the steps using it stale, not the step that captured it" \
	'wiz 0 "${C[@]}" set contract 0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359 && wiz 0 "${C[@]}" status && out_has "stale +beta" && out_has "done +alpha"'
ok "check with no ids checks what can be checked and skips the locked" \
	'wiz 1 "${C[@]}" check && out_has "==> check of alpha" && out_has "==> skip epsilon"'
ok "profiles keep separate states" 'wiz 0 "${C[@]}" --profile other status && out_has "locked +alpha"'
ok "a bad profile name is refused" 'wiz 2 "${C[@]}" --profile ../x status && err_has "profile"'
mkdir -p "$TMP/badchain"
cp "$top_srcdir"/tests/chains/engine/*.yaml "$TMP/badchain/"
sed -i 's/^requires: \[alpha\]/requries: [alpha]/' "$TMP/badchain/02-beta.yaml"
ok "a bad chain file exits 4 with file:line:column and a suggestion" \
	'wiz 4 --chain "$TMP/badchain" status && err_has "02-beta.yaml:5:1" && err_has "did you mean .requires."'
ok "the bad chain is reported the same the second time" \
	'wiz 4 --chain "$TMP/badchain" status && cp "$TMP/err" "$TMP/err1" &&
	 wiz 4 --chain "$TMP/badchain" status && cmp "$TMP/err1" "$TMP/err"'
# A step file changed between two runs, to the same size and with its old mtime put back: the
# second run sees the new text (the chain is read from its files at every start).
mkdir -p "$TMP/edit"
cp "$top_srcdir"/tests/chains/engine/*.yaml "$TMP/edit/"
cp -p "$TMP/edit/01-alpha.yaml" "$TMP/alpha.orig"
ok "a step file edited between two runs: list, why and lint see the new text" \
	'wiz 0 --chain "$TMP/edit" list && out_has "alpha +LOCAL +Make the first marker" &&
	 sed -i "s/^title: Make the first marker/title: Make the FIRST marker/" "$TMP/edit/01-alpha.yaml" &&
	 touch -r "$TMP/alpha.orig" "$TMP/edit/01-alpha.yaml" &&
	 [ "$(stat -c %s "$TMP/edit/01-alpha.yaml")" = "$(stat -c %s "$TMP/alpha.orig")" ] &&
	 wiz 0 --chain "$TMP/edit" list && out_has "alpha +LOCAL +Make the FIRST marker" &&
	 wiz 3 --chain "$TMP/edit" --profile edit why beta && out_has "requires alpha" &&
	 sed -i "s/^requires: \[alpha\]/requires: []/" "$TMP/edit/02-beta.yaml" &&
	 wiz 3 --chain "$TMP/edit" --profile edit why beta && out_lacks "requires alpha" &&
	 sed -i "s/^requires: \[\]/requries: [alpha]/" "$TMP/edit/02-beta.yaml" &&
	 wiz 4 --chain "$TMP/edit" lint && err_has "02-beta.yaml:5:1: unknown key .requries."'
printf '{"schema": 1, "inputs": {' >"$state"
ok "a corrupt state file is moved aside and reported, not dropped" \
	'wiz 0 "${C[@]}" status && err_has "moved it to" && ls "$state".corrupt-* >/dev/null'
ok "the moved-aside file keeps the corrupt bytes" 'grep -q "\"schema\": 1, \"inputs\"" "$state".corrupt-*'
K=(--chain "$top_srcdir/tests/chains/capture" --profile capture)
mkdir -p "$TMP/capture"
ok "a value captured by one action command reaches the commands after it (env and stdin)" \
	'wiz 0 "${K[@]}" set out_dir "$TMP/capture" && wiz 0 "${K[@]}" --yes run create &&
	 out_has "captured app_id = 0x5fbdb2315678afecb367f032d93f642f64180aa3" &&
	 out_has "stdin has 0x5fbdb2315678afecb367f032d93f642f64180aa3" &&
	 grep -qx 0x5fbdb2315678afecb367f032d93f642f64180aa3 "$TMP/capture/used" &&
	 wiz 0 "${K[@]}" inputs && out_has "captured from create"'
ok "the shipped chain passes lint: ids, graph, checks and actions, bash -n, shellcheck, hints, refs" \
	'wiz 0 --chain "$top_srcdir/assets/chain" lint && out_has "27 steps, 0 problems"'
ok "lint finds a script that does not parse and a manual step without a checklist (exit 4)" \
	'mkdir -p "$TMP/lintchain" && cp "$top_srcdir/tests/chains/capture/chain.yaml" "$TMP/lintchain/" &&
	 printf "id: m\nsection: one\ntitle: M\nplace: manual\ncheck:\n  - run: \"if then\"\n" >"$TMP/lintchain/01-m.yaml" &&
	 wiz 4 --chain "$TMP/lintchain" lint && out_has "01-m.yaml" && grep -q "checklist" "$TMP/out" "$TMP/err"'
# The private key and its wallet (tests/chains/wallet), with anvil's public test accounts #0
# and #1 (never for real funds): the wallet is the key's account, and the key is masked and
# refused in every form it may take.
K=(--chain "$top_srcdir/tests/chains/wallet" --profile wallet)
KEY0=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
ADDR0=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
ADDR1=0x70997970C51812dc3A010C7d01b50e0d17dc79C8
BARE0=${KEY0#0x}
UPPER0=$(printf '%s' "$BARE0" | tr a-f A-F)
wstate="$XDG_STATE_HOME/dstack-wizard/wallet/state.json"
printf '%s\n' "$KEY0" >"$TMP/key0"
chmod 600 "$TMP/key0"
ok "a key in DSTACK_WIZARD_PRIVATE_KEY sets the unset wallet to its account" \
	'DSTACK_WIZARD_PRIVATE_KEY=$KEY0 wiz 0 "${K[@]}" inputs && out_has "^wallet_address +eth_address +$ADDR0 "'
ok "set wallet_address to another account while the key is held exits 3, both addresses shown" \
	'DSTACK_WIZARD_PRIVATE_KEY=$KEY0 wiz 3 "${K[@]}" set wallet_address $ADDR1 &&
	 err_has "$ADDR1" && err_has "$ADDR0" && ! grep -qi "$BARE0" "$TMP/err" && ! grep -q "$ADDR1" "$wstate"'
ok "a key whose account is not the wallet set before is refused, both addresses shown" \
	'wiz 0 "${K[@]}" unset wallet_address && wiz 0 "${K[@]}" set wallet_address $ADDR1 &&
	 wiz 3 "${K[@]}" --secret-file private_key="$TMP/key0" run show --yes &&
	 err_has "$ADDR0" && err_has "$ADDR1" && ! grep -qi "$BARE0" "$TMP/err" &&
	 DSTACK_WIZARD_PRIVATE_KEY=$KEY0 wiz 3 "${K[@]}" run show --yes && err_has "DSTACK_WIZARD_PRIVATE_KEY: .*$ADDR0.*$ADDR1" &&
	 err_has "show needs the secret private_key" && out_lacks "^    given"'
ok "DSTACK_WIZARD_private_key is not read, and the notice names the variable that is" \
	'wiz 0 "${K[@]}" unset wallet_address &&
	 DSTACK_WIZARD_private_key=$KEY0 wiz 0 "${K[@]}" inputs && err_has "DSTACK_WIZARD_PRIVATE_KEY" &&
	 out_has "^wallet_address .* not set"'
ok "a step printing the key without 0x, in upper and lower case shows ****" \
	'DSTACK_WIZARD_PRIVATE_KEY=$KEY0 wiz 0 "${K[@]}" run show --yes &&
	 out_has "^    given \*\*\*\*$" && out_has "^    bare \*\*\*\*$" && out_has "^    upper \*\*\*\*$" &&
	 out_has "^    lower \*\*\*\*$" && out_has "^    upper0x \*\*\*\*$" && ! grep -qi "$BARE0" "$TMP/out" &&
	 ! grep -rqi "$BARE0" "$XDG_STATE_HOME" && cp "$TMP/out" "$TMP/show.out"'
ok "the step sees no DSTACK_WIZARD_ variable, and the wizard's own environment holds the key no more" \
	'cp "$TMP/show.out" "$TMP/out" && out_has "^    wizard variables here: 0$" &&
	 out_has "^    the wizard.s /proc environ is clean$"'
ok "set kms_source_image-like values holding the key without 0x, or upper-cased, are refused (exit 3)" \
	'DSTACK_WIZARD_PRIVATE_KEY=$KEY0 wiz 3 "${K[@]}" set image "$BARE0" && err_has "holds the secret private_key" &&
	 DSTACK_WIZARD_PRIVATE_KEY=$KEY0 wiz 3 "${K[@]}" set image "reg/x:$UPPER0" && ! grep -qi "$BARE0" "$TMP/err" &&
	 ! grep -qi "$BARE0" "$wstate"'
ok "no cache is written: after every command above \$XDG_CACHE_HOME is still empty, and there is no ~/.cache" \
	'[ -d "$XDG_CACHE_HOME" ] && [ -z "$(ls -A "$XDG_CACHE_HOME")" ] && [ ! -e "$HOME/.cache" ]'
done_testing
