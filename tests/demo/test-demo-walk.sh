#!/usr/bin/env bash
# test-demo-walk.sh: a headless walk of the whole chain on the demo host (--demo), one step at
# a time, in order: for every step its check fails before its action, the action (with its
# check) succeeds, and the check passes afterwards. On the way, --demo-fail injects the
# best-known failure of a few steps (a stand-in's, the Cloudflare API's, the VMM's, a check's):
# the step is marked failed with the matching hint, and running it again without the
# injection makes it done (re-entry). A CVM whose boot failed stays failed: running the KMS
# step again removes it through the VMM's API and deploys it again, and once it runs, running
# the action again leaves it alone. Real processes run; only loopback is used.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$top_srcdir/tests/demo/lib.sh"

# The steps whose failure is injected, and a piece of the hint each must show.
declare -A INJECT=(
	[tdx-software-installation]="GRUB cannot write to this disk layout"
	[dns-configuration]="Cloudflare does not accept the API token"
	[kms-cvm-deployment]="deployed with secure time"
	[attestation-verification]="does not verify against Intel"
)
# local-dev-setup already compiles the contracts, so this step's check passes before its
# action: the chain keeps it as a separate, re-runnable step.
declare -A DONE_EARLY=([contract-compile]=1)

# vm_ids NAME: the ids of the demo VMM's VMs named NAME, one a line.
VMDIR="$SANDBOX/root/var/lib/dstack/vm"
vm_ids() {
	local m
	for m in "$VMDIR"/*/vm-manifest.json; do
		if [ -f "$m" ] && jq -e --arg n "$1" '.name == $n' "$m" >/dev/null; then
			basename "$(dirname "$m")"
		fi
	done
}

ok "the demo lists the whole chain and opens on a fresh sandbox" \
	'demo 0 list && out_has "^  local-dev-setup +LOCAL" && out_has "^  attestation-verification +SERVER" &&
	 test -f "$SANDBOX/.ready" && test -s "$SANDBOX/ca/ca.pem"'
mapfile -t STEPS < <(awk '/^  [a-z]/ { print $1 }' "$TMP/out")
ok "the chain has at least the 27 steps of CHAIN.md" '[ "${#STEPS[@]}" -ge 27 ]'
ok "the demo fills in its inputs (root in the sandbox, a test wallet) and holds no key in the state" \
	'demo 0 inputs && out_has "^root +path +$SANDBOX/root" &&
	 out_has "wallet_address .*0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" &&
	 ! grep -q ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 "$STATE"'

for s in "${STEPS[@]}"; do
	if [ -n "${DONE_EARLY[$s]:-}" ]; then
		ok "$s: its check already passes (an earlier step did the work)" 'demo 0 check "$s"'
	else
		ok "$s: the check fails before the action" 'demo 1 check "$s" && out_has "==> $s failed"'
	fi
	if [ -n "${INJECT[$s]:-}" ]; then
		ok "$s: --demo-fail marks it failed and shows the hint" \
			'demo 1 --demo-fail "$s" run "$s" --yes && out_has "hint: .*${INJECT[$s]}" &&
			 out_has "==> $s failed"'
		ok "$s: status shows it failed" 'demo 0 status && out_has "^  failed +$s "'
	fi
	if [ "$s" = kms-cvm-deployment ]; then
		ok "$s: the failed CVM stays failed (one VM kms, its boot error kept)" \
			'FAILED=$(vm_ids kms) && [ -n "$FAILED" ] && [ "$(printf "%s\n" "$FAILED" | wc -l)" -eq 1 ] &&
			 jq -e ".status == \"running\" and (.boot_error | test(\"system time\"))" "$VMDIR/$FAILED/demo.json" >/dev/null'
	fi
	ok "$s: the action runs and its check passes" 'demo 0 run "$s" --yes && out_has "==> $s is done"'
	if [ "$s" = kms-cvm-deployment ]; then
		cp "$TMP/out" "$TMP/run.out"
		ok "$s: the action stopped and removed the failed VM, then deployed a new one" \
			'cp "$TMP/run.out" "$TMP/out" && KMSVM=$(vm_ids kms) &&
			 out_has "^    The VM kms \($FAILED\) is not healthy, its boot failed: Waiting for the system time" &&
			 out_has "^    Removed VM $FAILED" && out_has "^    Created VM with ID: $KMSVM" &&
			 out_lacks "^    Existing VM" && [ ! -e "$VMDIR/$FAILED" ] && [ -n "$KMSVM" ] &&
			 [ "$KMSVM" != "$FAILED" ] && [ "$(printf "%s\n" "$KMSVM" | wc -l)" -eq 1 ]'
		ok "$s: run again, the action leaves the running VM alone (idempotent)" \
			'demo 0 run "$s" --yes && out_has "==> $s is done" &&
			 out_has "^    Existing VM with ID: $KMSVM \(not deployed again\)" &&
			 out_lacks "^    (Removed|Created) VM" && [ "$(vm_ids kms)" = "$KMSVM" ]'
	fi
	ok "$s: the check passes afterwards" 'demo 0 check "$s" && out_has "==> $s is done"'
done

ok "every step is done at the end" \
	'demo 0 status && out_lacks "^  (ready|locked|failed|stale) " && out_has "^  done +attestation-verification "'
ok "the private key never reached the state, the logs or the sandbox" \
	'! grep -rqF ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 "$XDG_STATE_HOME"'
ok "the demo server goes away after the last wizard" 'no_server_left'
done_testing
