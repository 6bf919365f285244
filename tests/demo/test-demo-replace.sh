#!/usr/bin/env bash
# test-demo-replace.sh: a CVM deployed for other values of its inputs is replaced, not kept
# (issue 16, item 5). After a walk, gateway_rpc_domain changes: the gateway CVM serves the old
# name, and its action would keep it ("Existing VM ... (not deployed again)") while its check
# failed for ever. Now status says what it was deployed for, run --all stops there naming
# --replace, and run gateway-service --replace removes the VM (StopVm, RemoveVm on the demo
# VMM) and deploys it for the new name.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$top_srcdir/tests/demo/lib.sh"

# gateway_vms: the ids of the demo VMM's VMs named dstack-gateway, one a line.
gateway_vms() {
	local m
	for m in "$SANDBOX"/root/var/lib/dstack/vm/*/vm-manifest.json; do
		[ -f "$m" ] && jq -r 'select(.name == "dstack-gateway") | .id' "$m"
	done
}

ok "a walk ends with every step done; the CVM steps keep what their VMs were made from" \
	'demo 0 run --all --yes && out_has "every step is done" &&
	 python3 -c "import json,sys; s=json.load(open(sys.argv[1]))[\"steps\"];
assert s[\"gateway-service\"][\"made_from\"] == {\"base_domain\": \"dstack-demo.example\",
    \"gateway_rpc_domain\": \"gateway.dstack-demo.example\"}, s[\"gateway-service\"];
assert set(s[\"kms-cvm-deployment\"][\"made_from\"]) == {\"kms_domain\", \"kms_rpc_port\",
    \"kms_contract_address\"}" "$STATE" && [ "$(gateway_vms | wc -l)" -eq 1 ]'
OLD_VM=$(gateway_vms)

ok "another gateway name: status says the gateway VM was deployed for the old one" \
	'demo 0 set gateway_rpc_domain gw2.dstack-demo.example && demo 0 status &&
	 out_has "^  stale +gateway-service " &&
	 out_has "deployed for gateway_rpc_domain=gateway.dstack-demo.example, now gw2.dstack-demo.example: replace it \(run gateway-service --replace\)"'

ok "run --all redoes the steps before it, then stops at the gateway, naming --replace" \
	'demo 3 run --all --yes && out_has "==> gateway-build-configuration is done" &&
	 err_has "gateway-service was deployed for gateway_rpc_domain=gateway.dstack-demo.example, now gw2.dstack-demo.example" &&
	 err_has "run gateway-service --replace" && out_lacks "Existing VM with ID: $OLD_VM" &&
	 [ "$(gateway_vms)" = "$OLD_VM" ]'

ok "run gateway-service --replace removes the old VM and deploys one for the new name" \
	'demo 0 run gateway-service --replace --yes && out_has "==> replacement of gateway-service" &&
	 out_has "Removing the VM dstack-gateway \($OLD_VM\)" && out_has "Removed VM $OLD_VM" &&
	 out_has "Created VM with ID" && out_has "==> gateway-service is done" &&
	 [ "$(gateway_vms | wc -l)" -eq 1 ] && [ "$(gateway_vms)" != "$OLD_VM" ]'

ok "the gateway serves the new name, nothing is left to replace, and the walk ends" \
	'demo 0 check gateway-service && out_has "https://gw2.dstack-demo.example:9202" &&
	 demo 0 status && out_lacks "replace it" && demo 0 run --all --yes && out_has "every step is done"'

ok "the demo server goes away after the last wizard" 'no_server_left'
done_testing
