#!/usr/bin/env bash
# test-demo-upstream.sh: upstream's own server-side programs on the demo host. After a walk of
# the whole chain on the demo at 0.5.5, upstream's real vmm/src/vmm-cli.py of v0.5.5 and v0.5.11
# runs every subcommand the chain and its hints use (lsvm, lsimage, compose, deploy, logs, stop,
# remove) against the demo VMM, and its output parses as the chain's captures expect; the demo's
# own copy of vmm-cli answers the same. Then, for each tag after a walk of the chain at that tag
# (0.5.5, then 0.5.11 in a second sandbox), upstream's real kms/dstack-app/deploy-to-vmm.sh and
# gateway/dstack-app/deploy-to-vmm.sh (and, at v0.5.11, bootstrap-cluster.sh) run on the demo host
# with the .env files the chain wrote for that release and the chain's own edits and commands.
# Upstream's Python reaches the demo's services through tests/upstream/pyshim (the demo's port map).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$top_srcdir/tests/upstream/lib.sh"
. "$top_srcdir/tests/demo/lib.sh"

need_upstream 0.5.5 0.5.11
python3 -c 'import yaml' 2>/dev/null || skip_all "python3 has no yaml module (Debian: python3-yaml)"
command -v jq >/dev/null || skip_all "jq is not installed"

DA="$top_srcdir/assets/demo"
# on_host CMD...: CMD as the demo's engine runs a server command (its environment, its
# stand-ins first on PATH), with upstream's Python clients mapped to the demo's ports.
on_host() {
	env DEMO=1 DEMO_ASSETS="$DA" DEMO_SANDBOX="$SANDBOX" DEMO_SPEED=0 DEMO_FAIL= DEMO_STEP=upstream \
		HOME="${H:-$SANDBOX/home}" PATH="$DA/bin:$PATH" PYTHONPATH="$top_srcdir/tests/upstream/pyshim" \
		root="$SANDBOX/root" "$@" </dev/null >"$TMP/out" 2>&1
}
# chain_cmd STEP NAME: the run script of the named action command of STEP, as the chain has it.
chain_cmd() {
	python3 - "$top_srcdir/assets/chain" "$1" "$2" <<'PY'
import os, sys, yaml
d, step, name = sys.argv[1:]
for f in sorted(os.listdir(d)):
    if not f.endswith(".yaml"):
        continue
    s = yaml.safe_load(open(os.path.join(d, f)))
    if f.endswith(".yaml") and f != "chain.yaml" and s.get("id") == step:
        print(next(c["run"] for c in s["action"] if isinstance(c, dict) and c.get("name") == name))
PY
}
# vm_id NAME: the id of the demo VMM's VM of that name.
vm_id() {
	curl -s -X POST -d '{}' "http://127.0.0.1:$VPORT/prpc/Status?json" | jq -r --arg n "$1" '.vms[] | select(.name == $n) | .id' | head -n 1
}
input() { demo 0 inputs --json && jq -r --arg n "$1" '.[] | select(.name == $n) | .value // ""' "$TMP/out"; }

ok "the demo chain is walked to the end (dstack 0.5.5)" \
	'demo 0 set dstack_version 0.5.5 && demo 0 run --all --yes && out_has "every step is done"'
# Keep the demo server up for this test: hold the lock a wizard holds while it runs.
exec 9>"$SANDBOX/server.lock"
flock -s 9
ok "the demo server answers" 'demo 0 check vmm-service && VPORT=$(awk "\$1 == 9080 { print \$2 }" "$SANDBOX/ports") && [ -n "$VPORT" ]'
VPORT=$(awk '$1 == 9080 { print $2 }' "$SANDBOX/ports")
TOKEN=$(sed -n 's/^tokens = \["\([0-9a-f]*\)"\]/\1/p' "$SANDBOX/root/etc/dstack/vmm.toml")
lport() { awk -v p="$1" '$1 == p { print $2 }' "$SANDBOX/ports"; }
CA="$SANDBOX/ca/ca.pem"
ok "the demo gateway's /health answers its own name only (RPC_DOMAIN defaults to gateway.<SRV_DOMAIN>)" \
	'P=$(lport 9204) && [ "$(curl -s --cacert "$CA" -o /dev/null -w "%{http_code}" --resolve "gateway.dstack-demo.example:$P:127.0.0.1" \
	   "https://gateway.dstack-demo.example:$P/health")" = 200 ] &&
	 [ "$(curl -s --cacert "$CA" -o /dev/null -w "%{http_code}" --resolve "gw.dstack-demo.example:$P:127.0.0.1" \
	   "https://gw.dstack-demo.example:$P/health")" = 404 ]'
PCCS_CONF="$SANDBOX/root/opt/intel/sgx-dcap-pccs/config/default.json"
cp "$PCCS_CONF" "$TMP/pccs.json"
jq '.ApiKey = ""' "$TMP/pccs.json" >"$PCCS_CONF"
ok "the demo PCCS serves rootcacrl without an API key, like a real one, but no PCK certificate" \
	'P=$(lport 8081) && [ "$(curl -s --cacert "$CA" -o /dev/null -w "%{http_code}" "https://localhost:$P/sgx/certification/v4/rootcacrl")" = 200 ] &&
	 [ "$(curl -s --cacert "$CA" -o /dev/null -w "%{http_code}" "https://localhost:$P/sgx/certification/v4/pckcert")" = 401 ]'
cp "$TMP/pccs.json" "$PCCS_CONF"
APP="$SANDBOX/home/dstack-apps/hello-world"
MINE="$SANDBOX/home/dstack/vmm/src/vmm-cli.py"
CAPTURE_HASH='Compose hash: 0?x?([0-9a-f]{64})$'     # hello-world-app's capture
CAPTURE_VM='VM with ID: ([0-9a-f-]{36})'             # the deploy steps' capture

for T in 0.5.5 0.5.11; do
	CLI="$UPSTREAM/dstack/v$T/vmm/src/vmm-cli.py"
	ok "v$T vmm-cli lsvm lists the demo's VMs in its table" \
		'on_host python3 "$CLI" --url http://127.0.0.1:9080 lsvm && out_has "│ VM ID +│ App ID +│ Name +│ Status +│ Uptime" &&
		 out_has "│ kms +│" && out_has "│ dstack-gateway +│" && out_has "│ hello-world +│"'
	ok "v$T vmm-cli lsvm --json and lsimage parse" \
		'on_host python3 "$CLI" --url http://127.0.0.1:9080 lsvm --json && jq -e "map(.name) | index(\"kms\") != null" "$TMP/out" >/dev/null &&
		 on_host python3 "$CLI" --url http://127.0.0.1:9080 lsimage && out_has "│ dstack-0.5.5 +│ 0.5.5 +│"'
	ok "v$T vmm-cli compose prints the file's hash without 0x, which hello-world-app's capture takes" \
		'(cd "$APP" && on_host python3 "$CLI" compose --name hello-world --docker-compose docker-compose.yaml --kms \
		   --gateway --public-logs --public-sysinfo --output "$TMP/up-$T.json") &&
		 out_has "^App compose file created at: " && out_has "^Compose hash: [0-9a-f]{64}$" &&
		 H1=$(sed -En "s/$CAPTURE_HASH/\1/p" "$TMP/out") && [ "$H1" = "$(sha256sum <"$TMP/up-$T.json" | cut -c1-64)" ] &&
		 cp "$TMP/out" "$TMP/real.out"'
	ok "v$T: the demo's vmm-cli copy writes the same file and prints the same lines" \
		'(cd "$APP" && on_host python3 "$MINE" compose --name hello-world \
		   --docker-compose docker-compose.yaml --kms --gateway --public-logs --public-sysinfo --output "$TMP/mine-$T.json") &&
		 cmp "$TMP/up-$T.json" "$TMP/mine-$T.json" && diff <(sed "s#$TMP/[a-z0-9.-]*##" "$TMP/real.out") <(sed "s#$TMP/[a-z0-9.-]*##" "$TMP/out")'
	ok "v$T vmm-cli deploy creates a VM; the deploy steps' capture takes its id" \
		'on_host python3 "$CLI" --url http://127.0.0.1:9080 deploy --name "probe-$T" --image dstack-0.5.5 \
		   --compose "$TMP/up-$T.json" --port "tcp:127.0.0.1:$((10090 + ${#T})):80" --vcpu 1 --memory 1G --disk 10 &&
		 ID=$(sed -En "s/.*$CAPTURE_VM.*/\1/p" "$TMP/out") && [ -n "$ID" ] && [ "$(vm_id "probe-$T")" = "$ID" ]'
	ID=$(vm_id "probe-$T")
	ok "v$T vmm-cli logs gets a 401 (it sends no Bearer token for the VMM's [auth]); with the token the VMM answers" \
		'on_host python3 "$CLI" --url http://127.0.0.1:9080 logs "$ID" -n 5 && out_has "^Failed to get logs: .*401" &&
		 curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$VPORT/logs?id=$ID&follow=false&ansi=false&lines=5" >/dev/null'
	ok "v$T: the demo's vmm-cli copy gets the same 401" \
		'on_host python3 "$MINE" --url http://127.0.0.1:9080 logs "$ID" -n 5 && out_has "^Failed to get logs: .*401"'
	ok "v$T vmm-cli remove of a running VM fails with 'API call failed:', as the demo's copy does" \
		'! on_host python3 "$CLI" --url http://127.0.0.1:9080 remove "$ID" && out_has "API call failed: .*stop it first" &&
		 ! on_host python3 "$MINE" --url http://127.0.0.1:9080 remove "$ID" && out_has "API call failed: .*stop it first"'
	ok "v$T vmm-cli stop, stop -f and remove" \
		'on_host python3 "$CLI" --url http://127.0.0.1:9080 stop "$ID" && out_has "^Gracefully shutting down VM $ID" &&
		 on_host python3 "$CLI" --url http://127.0.0.1:9080 stop -f "$ID" && out_has "^Forcefully stopped VM $ID" &&
		 on_host python3 "$CLI" --url http://127.0.0.1:9080 remove "$ID" && out_has "^Removed VM $ID" && [ -z "$(vm_id "probe-$T")" ]'
done

# checkout_like T: a demo clone at vT carries upstream's facts of T that the chain reads: the KMS
# image line (pinned or ${KMS_IMAGE}), quote_enabled and the kms.toml sections of compose-dev.yaml,
# the gateway image line, bootstrap-cluster.sh, the hardhat networks and the locked hardhat; and
# the demo VMM's /guest/Info gives tcb_info the type agent_rpc.proto says.
checkout_like() {
	local T=$1 U="$UPSTREAM/dstack/v$1" D="$TMP/clone-$1" TYPE
	imgform() { sed -En 's/^ *image: *(\$\{[A-Z_]+\}|[a-z]+\/[a-z-]+@sha256:[0-9a-f]+).*/\1/p' "$1" | head -n 1; }
	sections() { grep -oE '^ *\[[a-z_.]+\]' "$1" | tr -d ' '; }
	nets() { sed -n '/networks:/,/^  },/p' "$1" | sed -En 's/^    ([a-z]+): \{.*/\1/p' | sort; }
	locked() { jq -r '.packages["node_modules/hardhat"].version' "$1"; }
	ok "v$T: a demo clone at v$T has upstream's KMS image line, quote_enabled and kms.toml sections" \
		'on_host git clone --depth 1 --branch "v$T" https://github.com/Dstack-TEE/dstack "$D" &&
		 [ "$(imgform "$D/kms/dstack-app/compose-dev.yaml")" = "$(imgform "$U/kms/dstack-app/compose-dev.yaml")" ] &&
		 [ "$(grep -c quote_enabled "$D/kms/dstack-app/compose-dev.yaml")" = "$(grep -c quote_enabled "$U/kms/dstack-app/compose-dev.yaml")" ] &&
		 [ "$(sections "$D/kms/dstack-app/compose-dev.yaml")" = "$(sections "$U/kms/dstack-app/compose-dev.yaml")" ]'
	ok "v$T: and upstream's gateway image line, bootstrap-cluster.sh (or none), hardhat networks and locked hardhat" \
		'[ "$(imgform "$D/gateway/dstack-app/docker-compose.yaml")" = "$(imgform "$U/gateway/dstack-app/docker-compose.yaml")" ] &&
		 { { [ -e "$D/gateway/dstack-app/bootstrap-cluster.sh" ] && [ -e "$U/gateway/dstack-app/bootstrap-cluster.sh" ]; } ||
		   { [ ! -e "$D/gateway/dstack-app/bootstrap-cluster.sh" ] && [ ! -e "$U/gateway/dstack-app/bootstrap-cluster.sh" ]; }; } &&
		 [ "$(nets "$D/kms/auth-eth/hardhat.config.ts")" = "$(nets "$U/kms/auth-eth/hardhat.config.ts")" ] &&
		 [ "$(locked "$D/kms/auth-eth/package-lock.json")" = "$(locked "$U/kms/auth-eth/package-lock.json")" ]'
	TYPE=$(sed -n '/^message AppInfo/,/^}/p' "$U/guest-agent/rpc/proto/agent_rpc.proto" | sed -En 's/^ *([a-z]+) tcb_info = [0-9]+;.*/\1/p')
	ok "v$T: the demo VMM's /guest/Info gives tcb_info as agent_rpc.proto's $TYPE (JSON in it)" \
		'[ "$TYPE" = string ] && curl -sf -X POST -d "{\"id\":\"$(vm_id hello-world)\"}" "http://127.0.0.1:$VPORT/guest/Info?json" |
		 jq -e ".tcb_info | type == \"string\" and (fromjson | .rtmr3 | length == 96)" >/dev/null'
}
# deploy_scripts T: upstream's deploy scripts of tag T on the demo host, in a copy of the server's
# checkout with upstream's files in place of the demo's, the .env files the chain wrote for T and
# the chain's edits.
deploy_scripts() {
	local T=$1 EDIT
	local U="$UPSTREAM/dstack/v$T"
	KMS_IMAGE_REF=$(input kms_image_ref)
	KMS_ADDR=$(input kms_contract_address)
	KMS_IMAGE_LINE="KMS_IMAGE='$KMS_IMAGE_REF'"    # .env's values are single-quoted
	# The chain's edit of the KMS files: 0.5.5 points the compose file at the cached image; later
	# releases take it from .env (the command only shows the line).
	EDIT="point compose-dev.yaml at the cached KMS image (dstack 0.5.5 pins its own)"
	[ "$T" = 0.5.5 ] || EDIT="compose-dev.yaml takes KMS_IMAGE from .env (dstack 0.5.6 and later)"
	H="$TMP/home-$T"
	mkdir -p "$H"
	cp -R "$SANDBOX/home/dstack" "$H/"
	echo "v$T" >"$H/dstack/.git/demo-tag"
	cp "$U/kms/dstack-app/deploy-to-vmm.sh" "$U/kms/dstack-app/compose-dev.yaml" "$H/dstack/kms/dstack-app/"
	cp "$U/gateway/dstack-app/deploy-to-vmm.sh" "$U/gateway/dstack-app/docker-compose.yaml" "$H/dstack/gateway/dstack-app/"
	[ -f "$U/gateway/dstack-app/bootstrap-cluster.sh" ] && cp "$U/gateway/dstack-app/bootstrap-cluster.sh" "$H/dstack/gateway/dstack-app/"
	cp "$U/vmm/src/vmm-cli.py" "$H/dstack/vmm/src/vmm-cli.py"
	chmod -R u+w "$H/dstack" && chmod +x "$H"/dstack/*/dstack-app/*.sh "$H/dstack/vmm/src/vmm-cli.py"
	ok "v$T: the chain's edits apply to upstream's KMS files (cached image, no --secure-time)" \
		'on_host env kms_image_ref="$KMS_IMAGE_REF" bash -c "$(chain_cmd kms-build-configuration "$EDIT")" &&
		 on_host bash -c "$(chain_cmd kms-build-configuration "remove --secure-time from deploy-to-vmm.sh")" &&
		 out_has "^--secure-time lines left: 0$" &&
		 { grep -qF "image: $KMS_IMAGE_REF" "$H/dstack/kms/dstack-app/compose-dev.yaml" ||
		   { grep -qF "image: \${KMS_IMAGE}" "$H/dstack/kms/dstack-app/compose-dev.yaml" &&
		     grep -qxF "$KMS_IMAGE_LINE" "$H/dstack/kms/dstack-app/.env"; }; }'
	OLD=$(vm_id kms)
	ok "v$T: upstream's KMS deploy-to-vmm.sh deploys the KMS CVM with the chain's .env" \
		'on_host python3 "$H/dstack/vmm/src/vmm-cli.py" --url http://127.0.0.1:9080 stop -f "$OLD" &&
		 on_host python3 "$H/dstack/vmm/src/vmm-cli.py" --url http://127.0.0.1:9080 remove "$OLD" &&
		 (cd "$H/dstack/kms/dstack-app" && on_host env ETH_RPC_URL=http://127.0.0.1:8545 ./deploy-to-vmm.sh) &&
		 out_has "^Deploying KMS to dstack-vmm" && ID=$(sed -En "s/.*$CAPTURE_VM.*/\1/p" "$TMP/out") &&
		 [ "$(vm_id kms)" = "$ID" ]'
	M="$SANDBOX/root/var/lib/dstack/vm/$(vm_id kms)/vm-manifest.json"
	ok "v$T: its CVM has the chain's ports, the local key provider, no secure time, our contract and image" \
		'jq -e ".compose.secure_time == false and .compose.local_key_provider_enabled == true and
		        ([.ports[] | \"\(.protocol):\(.host_address):\(.host_port):\(.vm_port)\"] | sort ==
		         [\"tcp:0.0.0.0:8083:8000\", \"tcp:127.0.0.1:8084:8001\", \"tcp:127.0.0.1:9205:8090\"])" "$M" >/dev/null &&
		 jq -r .compose.docker_compose_file "$M" | grep -qF "KMS_CONTRACT_ADDR=$KMS_ADDR" &&
		 jq -r .compose.docker_compose_file "$M" | grep -qF "image: $KMS_IMAGE_REF"'
	ok "v$T: the chain's --secure-time edit applies to upstream's gateway script" \
		'on_host bash -c "$(chain_cmd gateway-build-configuration "remove --secure-time from deploy-to-vmm.sh")" &&
		 out_has "^--secure-time lines left: 0$"'
	ok "v$T: the chain's compose-only run of upstream's gateway script prints the hash the chain captures" \
		'(cd "$H" && printf "demo-cloudflare-token\n" | env DEMO=1 DEMO_ASSETS="$DA" DEMO_SANDBOX="$SANDBOX" DEMO_SPEED=0 \
		   DEMO_STEP=upstream HOME="$H" PATH="$DA/bin:$PATH" PYTHONPATH="$top_srcdir/tests/upstream/pyshim" \
		   bash -c "$(chain_cmd gateway-build-configuration "compute the gateway'"'"'s compose hash (without deploying)")") >"$TMP/out" 2>&1 &&
		 G=$(sed -En "s/^Compose hash: 0x([0-9a-f]{64})$/\1/p" "$TMP/out") && [ -n "$G" ] &&
		 [ "$G" = "$(sha256sum <"$H/dstack/gateway/dstack-app/.app-compose.json" | cut -c1-64)" ] &&
		 [ ! -e "$H/dstack/gateway/dstack-app/.app_env" ]'
}
# bootstrap_fields T: the KMS redeployed by deploy_scripts is in onboard mode; its
# Onboard.Bootstrap answers with the fields of BootstrapResponse in upstream's kms_rpc.proto of T.
bootstrap_fields() {
	local T=$1
	WANT=$(sed -n '/^message BootstrapResponse/,/^}/p' "$UPSTREAM/dstack/v$T/kms/rpc/proto/kms_rpc.proto" |
		sed -En 's/^ *bytes ([a-z0-9_]+) = [0-9]+;.*/\1/p' | sort | tr '\n' ' ')
	ok "v$T: the demo KMS's Onboard.Bootstrap answers the fields of upstream's BootstrapResponse ($WANT)" \
		'[ -n "$WANT" ] && curl -sf -X POST -H "Content-Type: application/json" -d "{\"domain\":\"kms.dstack-demo.example\"}" \
		   "http://127.0.0.1:$(lport 8083)/prpc/Onboard.Bootstrap?json" >"$TMP/boot.json" &&
		 [ "$(jq -r "keys[]" "$TMP/boot.json" | sort | tr "\n" " ")" = "$WANT" ]'
}
checkout_like 0.5.5
deploy_scripts 0.5.5
bootstrap_fields 0.5.5
flock -u 9

# The same at 0.5.11, after a walk of the chain at 0.5.11 (the default) in a second sandbox.
export XDG_STATE_HOME="$TMP/state-0.5.11"
STATE="$XDG_STATE_HOME/dstack-wizard/demo/state.json"
SANDBOX="$XDG_STATE_HOME/dstack-wizard/demo/sandbox"
ok "the demo chain is walked to the end (dstack 0.5.11)" \
	'demo 0 run --all --yes && out_has "every step is done" && demo 0 inputs && out_has "^dstack_version +version +0\.5\.11 "'
exec 9>"$SANDBOX/server.lock"
flock -s 9
VPORT=$(awk '$1 == 9080 { print $2 }' "$SANDBOX/ports")
checkout_like 0.5.11
deploy_scripts 0.5.11
# bootstrap-cluster.sh (0.5.9 and later) sets ACME, the DNS credential and the ZT-Domain through
# the gateway's admin API, as the chain's own commands did in the walk. Run on a fresh gateway it
# sets all three; run again, its ZT-Domain lookup reads .domains[].domain, which the admin API
# does not return (gateway_rpc.proto: ZtDomainInfo.config.domain), so it adds the domain again,
# the gateway refuses, and the script only warns.
rm -f "$SANDBOX/state/gateway/admin.json"
ok "v0.5.11: upstream's bootstrap-cluster.sh configures the demo gateway through its admin API" \
	'(cd "$TMP/home-0.5.11/dstack/gateway/dstack-app" && on_host env CF_API_TOKEN=demo-cloudflare-token bash bootstrap-cluster.sh) &&
	 out_has "^  Certbot config set" && out_has "^  DNS credential created" && out_has "^  ZT-Domain added" &&
	 out_has "^Bootstrap complete" && jq -e ".domains[0].config.domain == \"dstack-demo.example\"" "$SANDBOX/state/gateway/admin.json" >/dev/null'
ok "v0.5.11: run again, it skips the credential, warns on the domain (its own lookup) and still ends with status 0" \
	'(cd "$TMP/home-0.5.11/dstack/gateway/dstack-app" && on_host env CF_API_TOKEN=demo-cloudflare-token bash bootstrap-cluster.sh) &&
	 out_has "DNS credentials already exist \(1\)" && out_has "WARN: failed to add ZT-Domain" && out_has "^Bootstrap complete"'
ok "the chain's check of the admin API passes on what bootstrap-cluster.sh set" \
	'demo 0 check gateway-service && out_has "==> gateway-service is done"'
bootstrap_fields 0.5.11
flock -u 9
done_testing
