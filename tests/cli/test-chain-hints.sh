#!/usr/bin/env bash
# test-chain-hints.sh: the shipped chain's hints against the lines real programs print. For each
# line of the table (upstream's source, a tool's output), a copy of the chain whose step of that
# id has an action printing the line and failing is run at a release, and the hint shown must
# be the expected one (or none). Then what every hint of assets/chain must be: a match with a
# comment beside it naming where the text comes from, no invented wording, no advice that
# cannot work (vmm-cli logs without the VMM's token, a --public-tcbinfo flag).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
python3 -c 'import yaml' 2>/dev/null || { echo "1..0 # SKIP python3 has no yaml module"; exit 0; }
CH="$top_srcdir/assets/chain"

# hint_chain STEP LINE: $TMP/c, the chain with STEP's requirements dropped, its checks failing
# and its action printing LINE and failing.
hint_chain() {
	rm -rf "$TMP/c" && cp -R "$CH" "$TMP/c" && python3 - "$TMP/c" "$1" "$2" <<'PY'
import os, sys, yaml
d, step, line = sys.argv[1:]
for f in os.listdir(d):
    if not f.endswith(".yaml") or f == "chain.yaml":
        continue
    p = os.path.join(d, f)
    text = open(p).read()
    if "\nid: %s\n" % step not in "\n" + text:
        continue
    s = yaml.safe_load(text)
    out = {"id": s["id"], "section": s["section"], "title": s["title"], "place": "local",
           "check": [{"run": "false"}], "hints": s.get("hints", []),
           "action": [{"run": "printf '%s\\n' \"$LINE\"; exit 1", "env": {"LINE": line}}]}
    open(p, "w").write(yaml.safe_dump(out, sort_keys=False, width=1000))
PY
}
# hint VERSION STEP LINE: run STEP of the hint chain at VERSION; its output is in $TMP/out.
hint() {
	hint_chain "$2" "$3" && wiz 0 --chain "$TMP/c" set dstack_version "$1" &&
		{ wiz 1 --chain "$TMP/c" run "$2" --yes || true; }
}

ok "vmm-build: clang-sys's 'Unable to find libclang' (bindgen, v0.5.5) has a hint" \
	'hint 0.5.5 vmm-build "  Unable to find libclang: \"couldn'"'"'t find any valid shared libraries matching: ['"'"'libclang.so'"'"']\"" &&
	 out_has "hint: bindgen .* needs libclang"'
ok "vmm-build: vmm/build.rs's Node.js error (v0.5.9) has a hint, not at 0.5.8" \
	'L="  failed to build vmm console: Node.js is required to build vmm/ui. Please install Node.js and npm first: No such file or directory (os error 2)" &&
	 hint 0.5.9 vmm-build "$L" && out_has "hint: .*web console with Node.js" &&
	 hint 0.5.8 vmm-build "$L" && out_lacks "hint: .*web console"'
ok "kms-cvm-deployment: 'Failed to get quote collateral' blames the PCCS, not QGS" \
	'hint 0.5.11 kms-cvm-deployment "Error: Failed to get quote collateral" && out_has "hint: .*collateral from the PCCS" &&
	 out_lacks "hint: The CVM could not get a TDX quote"'
ok "kms-cvm-deployment: 'Failed to get quote' (and QGS error codes) blame quote generation" \
	'hint 0.5.11 kms-cvm-deployment "Error: Failed to get quote" && out_has "hint: The CVM could not get a TDX quote" &&
	 hint 0.5.11 kms-cvm-deployment "Caused by: QGS error code: 0x12001" && out_has "hint: The CVM could not get a TDX quote"'
for L in "Boot denied: App not allowed" "MRs do not match (cached)" \
	"os_image_hash does not match sha256sum of the sha256sum.txt" "Checksum verification failed: bzImage" \
	"Download image timeout"; do
	ok "kms-cvm-deployment: kms/src/main_service.rs's '$L' has a hint" \
		'hint 0.5.11 kms-cvm-deployment "Error: $L" && out_has "hint: The KMS refused a CVM or could not verify"'
done
ok "kms-cvm-deployment: vmm-cli's 'API call failed:' has a hint" \
	'hint 0.5.5 kms-cvm-deployment "Exception: API call failed: Port mapping is not allowed for tcp:8083" &&
	 out_has "hint: The VMM refused vmm-cli"'
ok "guest-images: vmm/src/app.rs's 'Failed to read image directory' has a hint" \
	'hint 0.5.9 guest-images "Failed to read image directory: No such file or directory (os error 2)" &&
	 out_has "hint: The VMM cannot list its image directory"'
ok "contract-deploy: hardhat's HH700 (nothing compiled) and HH100 (no such network) have hints" \
	'hint 0.5.11 contract-deploy "Error HH700: Artifact for contract \"DstackKms\" not found." &&
	 out_has "hint: The contracts are not compiled" &&
	 hint 0.5.11 contract-deploy "Error HH100: Network test doesn'"'"'t exist" && out_has "hint: This release.s hardhat configuration has no network"'
ok "contract-deploy: kms:deploy's 'Deployment cancelled' says only the implementation was deployed" \
	'hint 0.5.5 contract-deploy "Deployment cancelled" && out_has "hint: .*only the DstackApp implementation was deployed"'
ok "contract-compile: ASTDereferencerError (upgrades-core 1.42.1) has a hint up to 0.5.8, none from 0.5.9" \
	'L="ASTDereferencerError: No node with id 4294967278 of type FunctionDefinition" &&
	 hint 0.5.5 contract-compile "$L" && out_has "hint: Hardhat uses the WebAssembly compiler" &&
	 hint 0.5.8 contract-compile "$L" && out_has "hint: Hardhat uses the WebAssembly compiler" &&
	 hint 0.5.9 contract-compile "$L" && out_lacks "hint: Hardhat uses the WebAssembly"'
ok "local-dev-setup: Hardhat 3's ESM refusal has a hint at 0.5.8" \
	'hint 0.5.8 local-dev-setup "Hardhat only supports ESM projects." && out_has "hint: dstack 0.5.8.s kms/auth-eth locks Hardhat 3"'
ok "kms-bootstrap: ethers 6's 'invalid BytesLike value' has a hint" \
	'hint 0.5.11 kms-bootstrap "Error: invalid BytesLike value (argument=\"hash\", value=\"0x123\", code=INVALID_ARGUMENT, version=6.13.5)" &&
	 out_has "hint: The OS image hash is not 64 hexadecimal digits"'
ok "gramine-key-provider: the entrypoint's 'AESM socket is not available' has a hint" \
	'hint 0.5.11 gramine-key-provider "Error: AESM socket is not available after 30 seconds." && out_has "hint: aesmd is not ready"'

# match_lines: every hint match of the shipped chain, as "FILE<TAB>MATCH<TAB>PREVIOUS LINE".
match_lines() {
	awk '/^hints:/ { h = 1 } h && /^  - match:/ { print FILENAME "\t" $0 "\t" prev } { prev = $0 }' "$CH"/[0-9]*.yaml
}
ok "every hint's match has a comment beside it naming where the text comes from" \
	'match_lines >"$TMP/m" && [ -s "$TMP/m" ] && ! awk -F"\t" "\$3 !~ /^  #/" "$TMP/m" | grep .'
ok "no hint matches invented wording (ethers 5, OpenZeppelin 4, aesmd, openssl-sys guesses)" \
	'match_lines >"$TMP/m" && ! grep -E "AESM service not ready|invalid arrayify value|hex data is odd-length|caller is not the owner|could not detect network|Could not find openssl|/v2/demo" "$TMP/m"'
ok "no hint sends the operator to vmm-cli logs (401 without the VMM's Bearer token) or to --public-tcbinfo" \
	'! grep -nE "vmm-cli(\.py)? [^ ]* ?logs|--public-tcbinfo" "$CH"/[0-9]*.yaml'
done_testing
