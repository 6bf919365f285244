#!/usr/bin/env bash
# test-auth-eth.sh: the chain's local contract commands, run for real by dstack-wizard against
# upstream's kms/auth-eth at v0.5.5 and v0.5.11: installed from its own lockfile (npm ci),
# compiled with solc 0.8.22 (the npm package's WebAssembly build, seeded into Hardhat's compiler
# cache, as upstream/README.md explains), deployed to a `hardhat node` from the same tree on
# 127.0.0.1 with Sepolia's chain id, from a throwaway key the node funds. The wizard runs the
# real steps local-dev-setup (check), contract-compile, blockchain-wallet (check),
# contract-deploy and kms-bootstrap, then the kms:* and app:* commands of the later server steps
# (copied unchanged into local steps by mkchain.py), with their captures and checks; upstream's
# real auth-api (src/, built with tsc as its compose file does) answers the checks that ask it.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$top_srcdir/tests/upstream/lib.sh"

need_upstream 0.5.5 0.5.11
command -v npm >/dev/null || skip_all "npm is not installed"
python3 -c 'import yaml' 2>/dev/null || skip_all "python3 has no yaml module (Debian: python3-yaml)"

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# solc 0.8.22 from the npm registry, and Hardhat's compiler cache seeded with its soljson.js:
# the WebAssembly build is listed, and the native linux-amd64 one is marked as not working, so
# Hardhat neither downloads a compiler nor its list.
install_solc() {
	local d="$CACHE/solc" c="$CACHE/xdg-cache/hardhat-nodejs/compilers-v2" l=0.8.22+commit.4fc1097e
	if ! cmp -s "$top_srcdir/tests/upstream/package-lock.json" "$d/package-lock.json" ||
	   [ ! -f "$d/node_modules/solc/soljson.js" ]; then
		rm -rf "$d" && mkdir -p "$d" &&
			cp "$top_srcdir/tests/upstream/package.json" "$top_srcdir/tests/upstream/package-lock.json" "$d/" &&
			chmod u+w "$d"/package*.json &&
			(cd "$d" && npm ci --ignore-scripts --loglevel=error) >"$CACHE/solc.log" 2>&1 || return 1
	fi
	mkdir -p "$c/wasm" "$c/linux-amd64"
	cp "$d/node_modules/solc/soljson.js" "$c/wasm/soljson-v$l.js"
	printf '{"builds":[{"path":"soljson-v%s.js","version":"0.8.22","build":"commit.4fc1097e","longVersion":"%s"}]}\n' \
		"$l" "$l" >"$c/wasm/list.json"
	printf '{"builds":[{"path":"solc-linux-amd64-v%s","version":"0.8.22","build":"commit.4fc1097e","longVersion":"%s"}]}\n' \
		"$l" "$l" >"$c/linux-amd64/list.json"
	: >"$c/linux-amd64/solc-linux-amd64-v$l"
	: >"$c/linux-amd64/solc-linux-amd64-v$l.does.not.work"
}

# tree TAG: $CACHE/auth-eth-vTAG, a git repository tagged vTAG holding upstream's kms/auth-eth
# (the files as they are upstream) with node_modules from `npm ci`; reinstalled only when the
# lockfile or Node.js changed, or when an earlier run changed node_modules (the 0.5.5 fix).
tree() {
	local t=$1 r="$CACHE/auth-eth-v$1" a stamp
	a="$r/kms/auth-eth"
	mkdir -p "$a"
	rm -rf "$r/.git" "$a/artifacts" "$a/cache" "$a/typechain-types" "$a/dist" "$a/.openzeppelin"
	cp -R "$UPSTREAM/dstack/v$t/kms/auth-eth/." "$a/"
	chmod -R u+w "$a"
	stamp="$(sha256sum <"$a/package-lock.json") $(node --version)"
	if [ "$(cat "$r/npm-ci.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -x "$a/node_modules/.bin/hardhat" ]; then
		local start=$SECONDS
		rm -f "$r/npm-ci.stamp"
		(cd "$a" && npm ci --loglevel=error) >"$r/npm-ci.log" 2>&1 || { tail -n 20 "$r/npm-ci.log"; return 1; }
		echo "# npm ci of kms/auth-eth v$t: $((SECONDS - start)) s" >&2
		echo "$stamp" >"$r/npm-ci.stamp"
	fi
	(cd "$r" && git init -q && printf '%s/\n' node_modules artifacts cache typechain-types dist .openzeppelin >.git/info/exclude &&
		git add -A && git -c user.name=test -c user.email=test@example.invalid commit -qm "v$t" && git tag "v$t") || return 1
	echo "$r"
}

# A name that resolves to 127.0.0.1 for the chain's DNS checks (getent), everything else as usual.
mkdir -p "$TMP/bin"
cat >"$TMP/bin/getent" <<'EOF'
#!/bin/sh
case "$1:$2" in
ahostsv4:*.upstream.test) printf '127.0.0.1       STREAM %s\n127.0.0.1       DGRAM  \n' "$2" ;;
*) exec /usr/bin/getent "$@" ;;
esac
EOF
chmod +x "$TMP/bin/getent"
export PATH="$TMP/bin:$PATH" XDG_CACHE_HOME="$CACHE/xdg-cache"

ok "solc 0.8.22 (WebAssembly) from the npm registry is in Hardhat's compiler cache" 'install_solc'
python3 "$top_srcdir/tests/upstream/mkchain.py" "$top_srcdir/assets/chain" "$TMP/chain"

# in_tree CMD...: CMD in the tree's kms/auth-eth, output in $TMP/out.
in_tree() { (cd "$A" && "$@") </dev/null >"$TMP/out" 2>&1; }
# w EXPECTED-EXIT ARGS...: the wizard on this tag's profile and the test chain.
w() { wiz "$1" --chain "$TMP/chain" --target local "${@:2}"; }
# call TO SIGNATURE [WORD]: eth_call of a view function with one 32-byte argument.
call() {
	local sel
	sel=$(cd "$A" && node -e 'console.log(require("ethers").id(process.argv[1]).slice(0, 10))' "$2")
	rpc "$RPC" eth_call "[{\"to\":\"$1\",\"data\":\"$sel${3:-}\"},\"latest\"]" | tr -d '"'
}
input() { "$WIZ" --chain "$TMP/chain" inputs --json </dev/null |
	python3 -c 'import json, sys; print(next((i.get("value", "") for i in json.load(sys.stdin) if i["name"] == sys.argv[1]), ""))' "$1"; }
ONE=0x0000000000000000000000000000000000000000000000000000000000000001

for T in 0.5.5 0.5.11; do
	NET=test OTHER=custom
	[ "$T" = 0.5.11 ] && NET=custom OTHER=test
	export XDG_STATE_HOME="$TMP/state-$T"
	R=$(tree "$T" | tail -n 1)
	A="$R/kms/auth-eth"
	ok "v$T: npm ci installs kms/auth-eth from its lockfile" '[ -x "$A/node_modules/.bin/hardhat" ]'
	if [ "$T" = 0.5.5 ]; then
		ok "v0.5.5: hardhat compile with the WebAssembly solc fails in upgrades-core 1.42.1 (ASTDereferencerError)" \
			'! in_tree npx hardhat compile && out_has "ASTDereferencerError: No node with id 4294967278 of type FunctionDefinition" &&
			 out_has "upgrades-core/src/validate/run/initializer"'
		ok "v0.5.5: with upgrades-core 1.44.2 (v0.5.11's) the same compile succeeds" \
			'in_tree npm install --no-save --prefer-offline --loglevel=error @openzeppelin/upgrades-core@1.44.2 &&
			 rm -f "$R/npm-ci.stamp" && in_tree npx hardhat compile && out_has "Compiled 19 Solidity files successfully"'
	else
		ok "v$T: hardhat compile succeeds with the WebAssembly solc" \
			'in_tree npx hardhat compile && out_has "Compiled [0-9]+ Solidity files successfully"'
	fi

	# A hardhat node from the same tree, with Sepolia's chain id, and a throwaway funded key.
	PORT=$(free_port)
	RPC="http://127.0.0.1:$PORT"
	(cd "$A" && exec npx hardhat --config "$top_srcdir/tests/upstream/hardhat-node.config.js" node \
		--hostname 127.0.0.1 --port "$PORT") >"$TMP/node-$T.log" 2>&1 &
	PIDS+=($!)
	KEY=0x$(openssl rand -hex 32)
	ADDR=$(cd "$A" && node -e 'console.log(new (require("ethers").Wallet)(process.argv[1]).address)' "$KEY")
	ok "v$T: hardhat node answers with chain id 11155111, and funds a new key" \
		'wait_http "$RPC" 120 && [ "$(rpc "$RPC" eth_chainId "[]")" = "\"0xaa36a7\"" ] &&
		 rpc "$RPC" hardhat_setBalance "[\"$ADDR\",\"0x56bc75e2d63100000\"]" >/dev/null'
	export DSTACK_WIZARD_PRIVATE_KEY="$KEY" DSTACK_WIZARD_ETH_RPC_URL="$RPC"
	ok "v$T: the profile's inputs are valid, and hh_net follows the release ($NET)" \
		'w 0 set dstack_version "$T" && w 0 set local_repo_dir "$R" && w 0 set wallet_address "$ADDR" &&
		 w 0 set server_ip 127.0.0.1 && w 0 set base_domain upstream.test && [ "$(input hh_net)" = "$NET" ]'
	ok "v$T: local-dev-setup's checks pass on the tree (git tag, node, hardhat, artifacts)" \
		'w 0 check local-dev-setup && out_has "==> local-dev-setup is done"'
	rm -rf "$A/artifacts" "$A/cache" "$A/typechain-types"
	ok "v$T: contract-compile compiles the contracts" \
		'w 0 run contract-compile --yes && out_has "Compiled [0-9]+ Solidity files successfully" &&
		 out_has "==> contract-compile is done"'
	ok "v$T: blockchain-wallet's checks pass (chain 11155111, funded)" \
		'w 0 check blockchain-wallet && out_has "==> blockchain-wallet is done"'
	ok "v$T: contract-deploy answers the real prompt, deploys and captures" \
		'w 0 run contract-deploy --yes && out_has "Do you want to proceed with deployment\? \(y/N\)" &&
		 out_has "captured deployer = $ADDR" && out_has "captured app_implementation = 0x" &&
		 out_has "captured kms_contract_address = 0x" && out_has "==> contract-deploy is done"'
	KMS=$(input kms_contract_address)
	IMPL=$(input app_implementation)
	ok "v$T: both captured addresses hold code; the proxy is owned by the key and uses the implementation" \
		'[ "$(rpc "$RPC" eth_getCode "[\"$KMS\",\"latest\"]")" != "\"0x\"" ] &&
		 [ "$(rpc "$RPC" eth_getCode "[\"$IMPL\",\"latest\"]")" != "\"0x\"" ] &&
		 call "$KMS" "owner()" | grep -qi "${ADDR#0x}$" && call "$KMS" "appImplementation()" | grep -qi "${IMPL#0x}$"'
	export PRIVATE_KEY="$KEY" RPC_URL="$RPC"
	ok "v$T: kms:deploy answered no deploys the DstackApp implementation first, then exits 0" \
		'(cd "$A" && printf "n\n" | npx hardhat kms:deploy --with-app-impl --network "$NET") >"$TMP/out" 2>&1 &&
		 out_has "DstackApp implementation deployed to: 0x" && out_has "Deployment cancelled" &&
		 out_lacks "DstackKms Proxy deployed" &&
		 [ "$(grep -n "implementation deployed to" "$TMP/out" | cut -d: -f1)" -lt "$(grep -n "proceed with deployment" "$TMP/out" | cut -d: -f1)" ]'
	ok "v$T: with stdin closed it exits 0 at the prompt, without a word" \
		'in_tree npx hardhat kms:deploy --with-app-impl --network "$NET" &&
		 out_has "proceed with deployment\? \(y/N\) *$" && out_lacks "cancelled|Proxy deployed"'
	ok "v$T: the network $OTHER does not exist in this release (HH100)" \
		'! in_tree npx hardhat kms:add-image --network "$OTHER" 0x$(openssl rand -hex 32) &&
		 out_has "Error HH100: Network $OTHER doesn.t exist"'
	ok "v$T: a malformed hash is an ethers 6 'invalid BytesLike value'" \
		'! KMS_CONTRACT_ADDRESS=$KMS in_tree npx hardhat kms:add-image --network "$NET" 0x123 &&
		 out_has "invalid BytesLike value"'
	unset PRIVATE_KEY RPC_URL

	IMG=$(openssl rand -hex 32)
	ok "v$T: kms-bootstrap allowlists the OS image (kms:add-image) and its checks pass" \
		'w 0 set os_image_hash "$IMG" && w 0 check guest-images dns-configuration && w 0 run kms-bootstrap --yes && out_has "Image added successfully" &&
		 out_has "==> kms-bootstrap is done" && [ "$(call "$KMS" "allowedOsImages(bytes32)" "$IMG")" = $ONE ]'

	# Upstream's auth-api as the KMS CVM builds and starts it (compose-dev.yaml: tsc, then
	# node dist/src/main.js), on a loopback port, for our node and contract.
	APORT=$(free_port)
	ok "v$T: the auth-api builds with tsc" 'in_tree npx tsc --project tsconfig.json && [ -f "$A/dist/src/main.js" ]'
	(cd "$A" && HOST=127.0.0.1 PORT=$APORT ETH_RPC_URL=$RPC KMS_CONTRACT_ADDR=$KMS exec node dist/src/main.js) \
		>"$TMP/authapi-$T.log" 2>&1 &
	PIDS+=($!)
	ok "v$T: the auth-api answers GET /" 'wait_http "http://127.0.0.1:$APORT/" 60 && w 0 set auth_api_port "$APORT"'
	if [ "$T" = 0.5.11 ]; then
		ok "v0.5.11: the auth-api shows the RPC URL it uses (ethRpcUrl) on GET /" \
			'curl -s "http://127.0.0.1:$APORT/" | jq -e --arg u "$RPC" ".ethRpcUrl == \$u" >/dev/null'
	else
		ok "v0.5.5: the auth-api's GET / has no ethRpcUrl" \
			'curl -s "http://127.0.0.1:$APORT/" | jq -e "has(\"ethRpcUrl\") | not" >/dev/null'
	fi

	MR=$(openssl rand -hex 32)
	DEV=$(openssl rand -hex 32)
	if [ "$T" = 0.5.11 ]; then
		ok "v0.5.11: kms-cvm-deployment's local command sends kms:add and kms:add-device; the auth-api check passes" \
			'w 0 set kms_mr_aggregated "$MR" && w 0 set kms_device_id "$DEV" &&
			 w 0 run local-of-kms-cvm-deployment --yes && out_has "KMS aggregated MR added successfully" &&
			 out_has "Device ID added successfully" && out_has "==> local-of-kms-cvm-deployment is done" &&
			 [ "$(call "$KMS" "kmsAllowedAggregatedMrs(bytes32)" "$MR")" = $ONE ] &&
			 [ "$(call "$KMS" "kmsAllowedDeviceIds(bytes32)" "$DEV")" = $ONE ]'
	else
		ok "v0.5.5: kms-cvm-deployment has no local command for 0.5.5 (no kms:add); the auth-api check passes" \
			'w 0 set kms_mr_aggregated "$MR" && w 0 set kms_device_id "$DEV" &&
			 w 0 run local-of-kms-cvm-deployment --yes && out_lacks "kms:add|aggregated MR added" &&
			 out_has "==> local-of-kms-cvm-deployment is done" &&
			 [ "$(call "$KMS" "kmsAllowedAggregatedMrs(bytes32)" "$MR")" != $ONE ]'
	fi

	K256=02$(openssl rand -hex 32)
	QUOTE=$(openssl rand -hex 64)
	EVLOG=$(openssl rand -hex 64)
	[ "$T" = 0.5.11 ] && EVLOG=""    # from 0.5.6 on the event log is inside the attestation
	GWHASH=$(openssl rand -hex 32)
	ok "v$T: gateway-build-configuration's local commands: set-info, create-app, set-gateway, add-hash" \
		'w 0 set kms_k256_pubkey "$K256" && w 0 set kms_ca_pubkey "$(openssl rand -hex 91)" &&
		 w 0 set kms_quote "$QUOTE" && w 0 set kms_eventlog "$EVLOG" &&
		 w 0 set gateway_compose_hash "$GWHASH" &&
		 { w 0 run local-of-gateway-build-configuration --yes || w 0 run local-of-gateway-build-configuration --yes; } &&
		 out_has "==> local-of-gateway-build-configuration is done"'
	GW=$(input gateway_app_id)
	ok "v$T: the gateway app is registered, named the gateway and allows its compose hash" \
		'[ -n "$GW" ] && [ "$(call "$KMS" "registeredApps(address)" "$(printf %064s "${GW#0x}" | tr " " 0)")" = $ONE ] &&
		 [ "$(call "$GW" "allowedComposeHashes(bytes32)" "$GWHASH")" = $ONE ] &&
		 curl -s "http://127.0.0.1:$APORT/" | jq -e --arg g "$GW" "(.gatewayAppId | ascii_downcase) == (\$g | ascii_downcase)" >/dev/null'
	ok "v$T: the KMS info is on chain, and set-info is not sent again" \
		'call "$KMS" "kmsInfo()" | grep -q "${K256}" && w 0 run local-of-gateway-build-configuration --yes &&
		 out_has "already holds this KMS.s k256 key" && out_has "already registered" && out_has "already names"'
	HELLO=$(openssl rand -hex 32)
	ok "v$T: hello-world-app's kms:create-app --hash registers the app with its hash" \
		'w 0 set hello_compose_hash "$HELLO" && w 0 run local-of-hello-world-app --yes &&
		 out_has "Deployed with 0 initial device and 1 initial compose hash" &&
		 out_has "captured hello_app_id = 0x" && out_has "==> local-of-hello-world-app is done"'
	ok "v$T: attestation-verification's chain checks pass (compose hash, OS image)" \
		'w 0 check local-of-attestation-verification && out_has "==> local-of-attestation-verification is done"'
done
done_testing
