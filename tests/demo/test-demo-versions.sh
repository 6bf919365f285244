#!/usr/bin/env bash
# test-demo-versions.sh: the whole demo chain at releases other than the default (0.5.11, which
# test-demo-walk.sh and test-demo-all.sh walk): 0.5.5 with a gateway RPC name of its own, then
# 0.5.8 (whose own lockfile cannot be installed) in a second sandbox; releases outside 0.5.5 ...
# 0.5.11 are refused. After the 0.5.5 walk, checks that must fail when what they check is wrong:
# a missing libclang (bindgen, 0.5.5 only), a key provider whose enclave never listened, a
# wrong Intel API key, a contract deployment that was not confirmed.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$top_srcdir/tests/demo/lib.sh"

for V in 0.4.2 0.6.0; do
	ok "set dstack_version $V is refused (exit 3) with the supported releases" \
		'demo 3 set dstack_version "$V" && err_has "must be one of: 0\.5\.5, 0\.5\.6, 0\.5\.7, 0\.5\.8, 0\.5\.9, 0\.5\.10, 0\.5\.11"'
done
ok "0.5.5 is accepted, and list names the release in use" \
	'demo 0 set dstack_version 0.5.5 && demo 0 list && out_has "^dstack 0\.5\.5 "'
GW=gw.dstack-demo.example
ok "the whole chain at 0.5.5, with the gateway's RPC name $GW (not gateway.<base>), ends with every step done" \
	'demo 0 set gateway_rpc_domain "$GW" && demo 0 run --all --yes && out_has "every step is done" &&
	 demo 0 status && [ "$(grep -cE "^  done " "$TMP/out")" -ge 27 ] && out_lacks "^  (ready|locked|failed|stale) "'
D="$SANDBOX/home/dstack"
ok "at 0.5.5 the checkout, .env files and vmm.toml are 0.5.5's" \
	'grep -q "^  *image: registry\.dstack-demo\.example/dstack-kms@sha256:" "$D/kms/dstack-app/compose-dev.yaml" &&
	 grep -qx "RPC_DOMAIN='"'"'$GW'"'"'" "$D/gateway/dstack-app/.env" && grep -q "^CF_ZONE_ID=" "$D/gateway/dstack-app/.env" &&
	 ! grep -q "^GATEWAY_IMAGE=" "$D/gateway/dstack-app/.env" && [ ! -e "$D/gateway/dstack-app/bootstrap-cluster.sh" ] &&
	 grep -q "^image_path = " "$SANDBOX/root/etc/dstack/vmm.toml"'

# A missing libclang: the baseline check names it, and the VMM build of 0.5.5 (bindgen) fails
# with clang-sys's message and its hint.
rm -f "$SANDBOX/state/packages/clang"
ok "vmm-build at 0.5.5 fails with 'Unable to find libclang' and the hint" \
	'demo 1 run vmm-build --yes && out_has "Unable to find libclang" && out_has "hint: bindgen .* needs libclang"'
ok "without clang the baseline check fails and names it" \
	'demo 1 check system-baseline-dependencies && out_has "not installed: clang"'
ok "the baseline action installs it again, and the build passes" \
	'demo 0 run system-baseline-dependencies --yes && demo 0 check rust-toolchain &&
	 demo 0 run vmm-build --yes && out_has "==> vmm-build is done"'

# The key provider's container runs and docker forwards 3443 either way; only the provider's
# own "Listening on" says that its enclave serves.
KPLOG="$SANDBOX/state/containers/gramine-sealing-key-provider.log"
cp "$KPLOG" "$TMP/kp.log"
grep -v "Listening on" "$TMP/kp.log" >"$KPLOG"
ok "a key provider whose enclave never listened fails its check (the entrypoint's echo is not enough)" \
	'demo 1 check gramine-key-provider && out_has "the provider.s enclave listens"'
cp "$TMP/kp.log" "$KPLOG"
ok "with the provider listening the check passes" 'demo 0 check gramine-key-provider'

# A wrong Intel API key: the push of the platform makes the PCCS ask Intel, which refuses it.
ok "with an API key Intel refuses, pccs-configuration fails with the hint, and its check fails" \
	'DSTACK_WIZARD_INTEL_API_KEY=00112233445566778899aabbccddeeff demo 1 run pccs-configuration --yes &&
	 out_has "hint: Intel refuses the API key" && demo 1 check pccs-configuration && out_has "==> pccs-configuration failed"'
ok "the PCCS holds a user token's hash (for the push), not the token" \
	'jq -e ".UserTokenHash | test(\"^[0-9a-f]{128}$\")" "$SANDBOX/root/opt/intel/sgx-dcap-pccs/config/default.json" >/dev/null'
ok "with the right key the step is done again" 'demo 0 run pccs-configuration --yes && out_has "==> pccs-configuration is done"'

# kms:deploy asks after deploying the implementation and ends with status 0 on "no": the action
# must not take that for a deployment. A copy of the chain whose action answers n.
cp -R "$top_srcdir/assets/chain" "$TMP/chain"
sed -i 's/^    stdin: "y"$/    stdin: "n"/' "$TMP/chain/20-contract-deploy.yaml"
ok "contract-deploy answered n: the action fails, saying no proxy was deployed, with the hint" \
	'grep -q "stdin: \"n\"" "$TMP/chain/20-contract-deploy.yaml" &&
	 demo 1 --chain "$TMP/chain" run contract-deploy --yes && out_has "Deployment cancelled" &&
	 out_has "deployed no DstackKms proxy" && out_has "hint: .*only the DstackApp implementation was deployed"'
ok "the demo server goes away after the last wizard" 'no_server_left'

# 0.5.8 in a second sandbox: its kms/auth-eth locks Hardhat 3, which npm ci refuses (ERESOLVE);
# the chain installs v0.5.7's package files first.
export XDG_STATE_HOME="$TMP/state-0.5.8"
STATE="$XDG_STATE_HOME/dstack-wizard/demo/state.json"
SANDBOX="$XDG_STATE_HOME/dstack-wizard/demo/sandbox"
ok "the whole chain at 0.5.8 ends with every step done" \
	'demo 0 set dstack_version 0.5.8 && demo 0 run --all --yes && out_has "every step is done" &&
	 out_has "package-lock.json are v0.5.7.s" && demo 0 status && out_lacks "^  (ready|locked|failed|stale) "'
ok "at 0.5.8 the hardhat network is custom, the gateway .env has 0.5.6's variables, vmm.toml image_path" \
	'demo 0 inputs && out_has "^hh_net +text +custom" &&
	 grep -q "^GATEWAY_IMAGE=" "$SANDBOX/home/dstack/gateway/dstack-app/.env" &&
	 grep -q "^image_path = " "$SANDBOX/root/etc/dstack/vmm.toml"'
ok "the demo server goes away after the last wizard" 'no_server_left'
done_testing
