#!/usr/bin/env bash
# test-demo-all.sh: `dstack-wizard --demo run --all --yes` walks the whole chain headless in one
# process: with an injected failure it stops at that step (failed, with its hint; the steps
# before it done, the ones after it not run), and run again it resumes there and ends with
# every step done. A bootstrapped KMS whose VM stopped is not removed by its step's action.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$top_srcdir/tests/demo/lib.sh"

ok "run --all stops at the first failure (injected in vmm-build) with its hint" \
	'demo 1 --demo-fail vmm-build run --all --yes && out_has "==> vmm-build failed" &&
	 out_has "hint: .*out of memory" && out_lacks "==> vmm-configuration"'
ok "the steps before it are done, it is failed, the ones after it are not run" \
	'demo 0 status && out_has "^  done +local-dev-setup " && out_has "^  done +rust-toolchain " &&
	 out_has "^  failed +vmm-build " && out_has "^  locked +vmm-configuration " &&
	 out_has "^  (ready|locked) +contract-deploy "'
ok "why names the failed step as what keeps the next one locked" \
	'demo 3 why vmm-configuration && out_has "requires vmm-build"'
ok "run --all again resumes at the failed step and ends with every step done" \
	'demo 0 run --all --yes && out_has "==> vmm-build is done" && out_lacks "==> local-dev-setup" &&
	 out_has "every step is done"'
ok "status: every step done" \
	'demo 0 status && out_lacks "^  (ready|locked|failed|stale) " && out_has "^  done +attestation-verification "'
# summary_is KEY VALUE-REGEX: summary --json's built.KEY.value matches, its step is done.
summary_is() {
	jq -e --arg k "$1" --arg re "$2" '.built[$k] | (.value | test($re)) and .status == "done"' \
		"$TMP/out" >/dev/null || { echo "# summary: $1 is not /$2/:"; jq ".built[\"$1\"]" "$TMP/out"; return 1; }
}
ok "summary --json: what was built, from the captured values, never a secret" \
	'demo 0 inputs --json && KMS=$(jq -r ".[] | select(.name == \"kms_contract_address\") | .value" "$TMP/out") &&
	 APP=$(jq -r ".[] | select(.name == \"hello_app_id\") | .value" "$TMP/out") &&
	 BASE=$(jq -r ".[] | select(.name == \"base_domain\") | .value" "$TMP/out") &&
	 [ -n "$KMS" ] && [ -n "$APP" ] && ID=${APP#0x} && ID=${ID,,} &&
	 demo 0 summary --json && summary_is kms_contract "^$KMS\$" &&
	 summary_is kms_rpc_url "^https://kms\\.$BASE:8083\$" &&
	 summary_is kms_auth_api_url "^http://127\\.0\\.0\\.1:8084/\$" &&
	 summary_is app_implementation "^0x[0-9a-fA-F]{40}\$" &&
	 summary_is gateway_rpc_url "^https://.*:9202\$" &&
	 summary_is hello_url "^https://$ID\\.$BASE:9204/\$" &&
	 summary_is attestation "^verified" &&
	 jq -e ".built.kms_contract.explorer == null" "$TMP/out" >/dev/null &&
	 jq -e ".done == .steps and (.next | length) >= 2" "$TMP/out" >/dev/null &&
	 out_lacks "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" &&
	 demo 0 summary && out_has "^  DstackKms contract +$KMS\$" && out_has "^Next:" &&
	 out_has "Open https://$ID\\.$BASE:9204/"'
ok "the KMS answers on the demo host: onboarded, keys on chain" \
	'demo 0 check kms-cvm-deployment && out_has "holds: .k256_pubkey" && out_has "holds: .status == \"ok\""'
# kms_demo_json: the demo VMM's record (demo.json) of the one VM named kms.
kms_demo_json() {
	local m
	for m in "$SANDBOX"/root/var/lib/dstack/vm/*/vm-manifest.json; do
		if jq -e '.name == "kms"' "$m" >/dev/null 2>&1; then
			echo "$(dirname "$m")/demo.json"
		fi
	done
}
ok "a stopped VM of a bootstrapped KMS is not removed by the action (its disk holds the keys)" \
	'J=$(kms_demo_json) && [ -f "$J" ] && jq ".status = \"stopped\"" "$J" >"$TMP/demo.json" &&
	 cp "$J" "$TMP/demo.json.orig" && mv "$TMP/demo.json" "$J" &&
	 demo 1 run kms-cvm-deployment --yes && out_has "it is stopped, not running\), but it was bootstrapped" &&
	 out_has "hint: .*holds the keys of a bootstrapped KMS" && out_lacks "^    (Removed VM|Created VM)" &&
	 [ "$(kms_demo_json)" = "$J" ]'
ok "started again, the same VM passes the check" \
	'cp "$TMP/demo.json.orig" "$J" && demo 0 check kms-cvm-deployment && out_has "==> kms-cvm-deployment is done"'
OTHER=0x70997970C51812dc3A010C7d01b50e0d17dc79C8    # anvil's account #1: no code on the demo chain
ok "changing kms_contract_address marks the KMS steps stale" \
	'demo 0 inputs && KMS=$(awk "/^kms_contract_address / { print \$3 }" "$TMP/out") &&
	 [ -n "$KMS" ] && demo 0 set kms_contract_address "$OTHER" && demo 0 status &&
	 out_has "^  stale +kms-build-configuration " && out_has "^  stale +kms-cvm-deployment "'
ok "an address without code on the demo chain keeps the KMS steps locked, and why says so" \
	'demo 3 why kms-build-configuration && out_has "kms_contract_address: .*(no contract|code)"'
ok "run is refused with the same reason" \
	'demo 3 run kms-build-configuration --yes && err_has "kms_contract_address"'
ok "the deployed contract's address opens the gate again (after contract-deploy's check)" \
	'demo 0 set kms_contract_address "$KMS" && demo 0 check contract-deploy &&
	 demo 0 run kms-build-configuration --yes && out_has "==> kms-build-configuration is done"'
ok "--demo does not go with --target, and --demo-speed wants a number" \
	'demo 2 --target local status && err_has "does not go with --target" &&
	 wiz 2 --demo-speed fast status && err_has "demo-speed wants a number"'
ok "the demo server goes away after the last wizard" 'no_server_left'
done_testing
