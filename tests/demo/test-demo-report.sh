#!/usr/bin/env bash
# test-demo-report.sh: the deployment report and the support bundle, from a demo walk with a
# fresh private key in DSTACK_WIZARD_PRIVATE_KEY and an injected failure at contract-deploy,
# then that step run again without it. The report must list both runs of that step (failed,
# with the hint shown; then done), the values it captured as the state holds them, the release
# and the server, and no secret. The bundle, made after the key was planted in a log in every
# form (as a leak would put it there), must hold the state, every log, the report and the
# versions, and the key in no form.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$top_srcdir/tests/demo/lib.sh"

KEY=0x$(openssl rand -hex 32)
BARE=${KEY#0x}
export DSTACK_WIZARD_PRIVATE_KEY=$KEY TMPDIR="$TMP/tmp"
mkdir -p "$TMPDIR"
HINT="The wallet cannot pay for the deployment's gas."
grep -qF "say: $HINT" "$top_srcdir/assets/chain/20-contract-deploy.yaml" || HINT="(the step file changed)"

# section FILE ID: the report's section of step ID.
section() { awk -v id="$2" '/^### / { on = index($0, " " id ":") > 0 } on' "$1"; }
# nokey FILE...: none holds the key, in any case, with or without its 0x.
nokey() { ! grep -rqi -- "$BARE" "$@"; }

ok "a walk stops at the injected failure of contract-deploy (exit 1)" \
	'demo 1 --demo-fail contract-deploy run --all --yes && out_has "contract-deploy failed"'
ok "the same step, without it, is done" 'demo 0 run contract-deploy --yes && out_has "contract-deploy is done"'

ok "report --output FILE writes the report" \
	'demo 0 report --output "$TMP/report.md" && [ -s "$TMP/report.md" ] && [ ! -s "$TMP/out" ]'
section "$TMP/report.md" contract-deploy >"$TMP/cd.md"
ok "the step's two runs, in order: failed with the hint shown, then done" \
	'grep -qE "^\| 1 \| .* \| action \| this machine \| failed \| 1 \|$" "$TMP/cd.md" &&
	 grep -qE "^\| 2 \| .* \| action \| this machine \| done \| 0 \|$" "$TMP/cd.md" &&
	 grep -qF -- "- Run 1: action failed:" "$TMP/cd.md" &&
	 grep -qF "  - Hint shown: $HINT Fix: " "$TMP/cd.md" && ! grep -q "Run 2:" "$TMP/cd.md"'
ok "the values it captured, as the state holds them" \
	'demo 0 inputs --json && A=$(jq -r ".[] | select(.name == \"kms_contract_address\") | .value" "$TMP/out") &&
	 [ "${#A}" = 42 ] && grep -qF -- "- \`kms_contract_address\` = \`$A\` (" "$TMP/cd.md" &&
	 jq -e ".[] | select(.name == \"kms_contract_address\") | .from_step == \"contract-deploy\"" "$TMP/out" >/dev/null'
ok "the head: the release, the profile, the server, the final status" \
	'demo 0 status --json && V=$(jq -r .dstack_version "$TMP/out") &&
	 grep -qF "| dstack release | $V |" "$TMP/report.md" && grep -qF "| Profile | demo |" "$TMP/report.md" &&
	 grep -qF "| Server | the demo host (simulated) |" "$TMP/report.md" &&
	 grep -qF "| Status | 20 of 27 steps done, 7 locked |" "$TMP/report.md" &&
	 grep -qE "^\| 20 \| \`contract-deploy\` .* \| done \| 2 \| " "$TMP/report.md" &&
	 grep -qE "^\| 21 \| \`kms-build-configuration\` .* \| locked \| 0 \| never \|$" "$TMP/report.md"'
ok "every step has its section; the inputs are listed, a secret as one" \
	'[ "$(grep -c "^### " "$TMP/report.md")" = 27 ] &&
	 grep -qF "| \`private_key\` | (a secret: never recorded) |" "$TMP/report.md"'
ok "the report holds no secret of the walk" \
	'nokey "$TMP/report.md" && ! grep -qi deadbeefdeadbeef "$TMP/report.md" &&
	 ! grep -q demo-cloudflare-token "$TMP/report.md"'
ok "report writes to stdout without --output" \
	'demo 0 report && diff <(grep -v "^| Written" "$TMP/out") <(grep -v "^| Written" "$TMP/report.md")'

LOG=$(ls "$XDG_STATE_HOME"/dstack-wizard/demo/logs/contract-deploy-check-*.log | head -n 1)
printf 'a leak: %s %s %s %s %s\n' "$KEY" "$BARE" "${BARE^^}" "0x${BARE^^}" "${KEY^^}" >>"$LOG"
ok "bundle FILE.tar.gz writes a private gzip'd tar, and no temporary directory stays" \
	'demo 0 bundle "$TMP/b.tar.gz" && [ "$(stat -c %a "$TMP/b.tar.gz")" = 600 ] &&
	 gzip -t "$TMP/b.tar.gz" && [ -z "$(ls -A "$TMPDIR")" ] && [ ! -e "$TMP/b.tar.gz.tmp-"* ]'
mkdir -p "$TMP/x" && tar -xzf "$TMP/b.tar.gz" -C "$TMP/x"
B=$(ls -d "$TMP"/x/dstack-wizard-demo-*)
ok "it holds the state, every log, the report and a MANIFEST with the versions" \
	'[ -s "$B/state.json" ] && [ -s "$B/report.md" ] &&
	 [ "$(ls "$B/logs" | wc -l)" = "$(ls "$XDG_STATE_HOME/dstack-wizard/demo/logs" | wc -l)" ] &&
	 [ "$(ls "$B/logs" | wc -l)" -gt 30 ] &&
	 grep -q "^wizard: dstack-wizard [0-9]" "$B/MANIFEST" && grep -q "^dstack release: $V$" "$B/MANIFEST" &&
	 jq -e ".steps[\"contract-deploy\"].attempts | length == 2" "$B/state.json" >/dev/null'
ok "the key planted in a log is in the bundle in no form, the log otherwise whole" \
	'nokey "$TMP/x" && grep -q "^a leak: \*\*\*\* \*\*\*\* \*\*\*\* 0x\*\*\*\* \*\*\*\*$" "$B/logs/${LOG##*/}" &&
	 [ "$(grep -vc "^a leak" "$B/logs/${LOG##*/}")" = "$(grep -vc "^a leak" "$LOG")" ] &&
	 grep -q "taken out: 1\.$" "$B/MANIFEST"'
ok "a key refused (not the wallet's) is taken out all the same" \
	'K2=$(openssl rand -hex 32) && echo "other: 0x$K2" >>"$LOG" &&
	 DSTACK_WIZARD_PRIVATE_KEY=0x$K2 demo 0 bundle "$TMP/c.tar.gz" && err_has "refused" &&
	 mkdir -p "$TMP/y" && tar -xzf "$TMP/c.tar.gz" -C "$TMP/y" && ! grep -rqi "$K2" "$TMP/y" &&
	 grep -rq "^other: \*\*\*\*$" "$TMP/y"'
ok "usage: report takes no step, --values goes with tutorial, bundle wants a file" \
	'demo 2 report extra && demo 2 report --values && err_has "goes with tutorial" &&
	 demo 2 bundle && err_has "usage: bundle FILE.tar.gz" && demo 2 list --output x'
ok "the demo server goes away after the last wizard" 'no_server_left'
done_testing
