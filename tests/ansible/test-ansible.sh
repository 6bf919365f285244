#!/usr/bin/env bash
# test-ansible.sh: `export ansible` driven by the real ansible-playbook against two demo hosts,
# each a sandbox of its own behind a throwaway loopback sshd (tests/lib/sshd.sh). The project
# is exported with --demo (its plays carry the demo host's environment, as the wizard's SSH
# transport does). Then: --syntax-check and ansible-lint (when installed) pass; the playbook
# brings every step to done on both hosts; a second run changes nothing; --limit and --tags
# work; the wizard's own check and status of each host agree with the playbook; a throwaway
# private key given through the environment is in no file of the project, no -vvv output
# and neither sandbox. Values from the chain never become code: a hostile chain exports to
# YAML that reads back as the same strings, each one Jinja2 leaves alone.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$top_srcdir/tests/lib/sshd.sh"

if [ "${DW_SANITIZED:-no}" = yes ]; then
	echo "1..0 # SKIP the playbook runs in the plain build (the exporter runs in test-export)"
	exit 0
fi
if ! command -v ansible-playbook >/dev/null 2>&1; then
	[ -n "${CI:-}" ] && { echo "1..1"; echo "not ok 1 - ansible-playbook is not installed (ansible-core)"; exit 1; }
	echo "1..0 # SKIP ansible-playbook is not installed (ansible-core)"
	exit 0
fi
# A throwaway key, not the demo's: it reaches hardhat only from DSTACK_WIZARD_PRIVATE_KEY.
KEY=0x5c9e0fd3e5c4d0b7a2f1a37a9f9e8b8e2f6a0a4c1b7d3e9f8a6c5b4d3e2f1a0b
KEY_HEX=${KEY#0x}
# The wallet is the key's account (the wizard derives it when the key is given).
WALLET=$(python3 -c "import sys; sys.path.insert(0, '$top_srcdir/assets/demo')
import demolib; print(demolib.key_address('$KEY_HEX'))")
export DSTACK_WIZARD_PRIVATE_KEY=$KEY DSTACK_WIZARD_ETH_RPC_URL=http://127.0.0.1:8545 \
	DSTACK_WIZARD_KMS_ETH_RPC_URL=http://127.0.0.1:8545 \
	DSTACK_WIZARD_INTEL_API_KEY=deadbeefdeadbeefdeadbeefdeadbeef \
	DSTACK_WIZARD_CF_API_TOKEN=demo-cloudflare-token-0000000000000000
export DEMO_SERVER_GRACE=1 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_HOST_KEY_CHECKING=True
PROJ="$TMP/project"
HOLD=()

cleanup() {
	local i pid
	for i in 1 2; do
		[ -n "${HOLD[$i]:-}" ] && kill "${HOLD[$i]}" 2>/dev/null
		pid=$(cat "$XDG_STATE_HOME/dstack-wizard/h$i/sandbox/server.pid" 2>/dev/null) &&
			grep -q server.py "/proc/$pid/cmdline" 2>/dev/null && kill "$pid"
		[ -d "$TMP/sshd$i" ] && bash "$top_srcdir/tests/lib/sshd.sh" stop "$TMP/sshd$i"
	done
	# ansible's ssh connection masters (ControlPersist) of this test's home.
	for pid in $(pgrep -f "$HOME/.ansible/cp/"); do kill "$pid"; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# wh N EXPECTED-EXIT ARGS...: the wizard on demo host N (profile hN).
wh() {
	local h=$1 want=$2 got
	shift 2
	nice -n 15 "$WIZ" --demo --demo-speed 0 --profile "h$h" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
	got=$?
	[ "$got" -eq "$want" ] || { echo "# exit $got, wanted $want: dstack-wizard --profile h$h $*"; return 1; }
}

# play LOG ARGS...: ansible-playbook in the project, its output in LOG.
play() {
	local log=$1
	shift
	(cd "$PROJ" && nice -n 10 ansible-playbook -i inventory.yml site.yml --skip-tags checklist "$@") \
		</dev/null >"$log" 2>&1
}

# recap LOG HOST: the PLAY RECAP line of HOST.
recap() { grep -E "^$2 +: ok=" "$1"; }

export SSHD_WATCH_PID=$$
for i in 1 2; do
	if ! bash "$top_srcdir/tests/lib/sshd.sh" start "$TMP/sshd$i" >"$TMP/sshd-start.log" 2>&1; then
		echo "1..0 # SKIP no sshd: $(head -n 1 "$TMP/sshd-start.log")"
		exit 0
	fi
done
SB1="$XDG_STATE_HOME/dstack-wizard/h1/sandbox"
SB2="$XDG_STATE_HOME/dstack-wizard/h2/sandbox"

ok "the demo hosts' sandboxes are made, the wallet set from the throwaway key" \
	'wh 1 0 inputs && out_has "^wallet_address .*$WALLET" && wh 2 0 inputs &&
	 out_has "^wallet_address .*$WALLET" && [ -d "$SB1/root" ] && [ -d "$SB2/root" ]'
t0=$(date +%s%N)
ok "export ansible writes the project" \
	'wh 1 0 export ansible "$PROJ" && out_has "wrote the Ansible project" &&
	 [ -f "$PROJ/site.yml" ] && [ -f "$PROJ/inventory.example.yml" ] && [ -f "$PROJ/README.md" ] &&
	 [ "$(ls "$PROJ"/steps/*.yml | wc -l)" -ge 27 ]'
echo "# export: $((($(date +%s%N) - t0) / 1000000)) ms"
ok "a directory that is not an export is refused (exit 3); an earlier export is written again" \
	'mkdir -p "$TMP/other" && : >"$TMP/other/keep" && wh 1 3 export ansible "$TMP/other" &&
	 err_has "not an export" && [ -f "$TMP/other/keep" ] && wh 1 0 export ansible "$PROJ"'
ok "export takes the subcommand ansible and a directory (exit 2 otherwise)" \
	'wh 1 2 export && wh 1 2 export puppet "$TMP/x" && [ ! -e "$TMP/x" ]'
ok "site.yml has one play per section, in order, on tdx_hosts, tagged with the section" \
	'[ "$(grep -c "^  hosts: tdx_hosts$" "$PROJ/site.yml")" -eq 7 ] &&
	 [ "$(grep -oE "^  tags: \[[a-z]+\]" "$PROJ/site.yml" | tr -d "\n")" = \
	   "  tags: [local]  tags: [host]  tags: [prereq]  tags: [dstack]  tags: [kms]  tags: [gateway]  tags: [app]" ]'
ok "local steps run on localhost, once unless demo hosts; the private key only on localhost tasks" \
	'grep -q "delegate_to: localhost" "$PROJ/steps/20-contract-deploy.yml" &&
	 grep -q "dstack_local_once: false" "$PROJ/group_vars/all/dstack-settings.yml" &&
	 python3 "$top_srcdir/tests/ansible/key-scope.py" "$PROJ"/steps/*.yml'
ok "the demo's environment is in the plays, the sandbox per host" \
	'grep -q "DEMO_SANDBOX: \"{{ (dstack_demo_sandbox) | string }}\"" "$PROJ/site.yml" &&
	 grep -q "DEMO_STEP: .kms-cvm-deployment." "$PROJ/steps/23-kms-cvm-deployment.yml"'

cat >"$PROJ/inventory.yml" <<EOF
tdx_hosts:
  hosts:
EOF
for i in 1 2; do
	# shellcheck disable=SC1090
	. "$TMP/sshd$i/sshd.env"
	cat >>"$PROJ/inventory.yml" <<EOF
    h$i:
      ansible_host: 127.0.0.1
      ansible_port: $SSHD_PORT
      ansible_user: $SSHD_USER
      ansible_ssh_private_key_file: $SSHD_USER_KEY
      ansible_ssh_common_args: -F /dev/null -o UserKnownHostsFile=$SSHD_KNOWN_HOSTS -o StrictHostKeyChecking=yes
      dstack_demo_sandbox: $XDG_STATE_HOME/dstack-wizard/h$i/sandbox
EOF
	declare "PORT$i=$SSHD_PORT" "KEY$i=$SSHD_USER_KEY" "KH$i=$SSHD_KNOWN_HOSTS"
done

ok "ansible-playbook --syntax-check passes" \
	'(cd "$PROJ" && ansible-playbook -i inventory.yml --syntax-check site.yml) >"$TMP/out" 2>&1'
if command -v ansible-lint >/dev/null 2>&1; then
	ok "ansible-lint passes on the project (offline)" \
		'(cd "$PROJ" && ansible-lint --offline -q site.yml) >"$TMP/out" 2>&1'
else
	ok "ansible-lint # SKIP not installed" 'true'
fi

# Values never become code: a chain full of Jinja2 and quotes (tests/chains/export), its
# secret given as DSTACK_WIZARD_TOKEN, runs on this machine (ansible_connection local).
HX="$TMP/hostile"
mkdir -p "$HX/out"
rm -f /tmp/dw-export-pwned
ok "a hostile chain exports to YAML that reads back as the chain's text" \
	'"$WIZ" --chain "$top_srcdir/tests/chains/export" --profile hx set out_dir "$HX/out" >/dev/null &&
	 "$WIZ" --chain "$top_srcdir/tests/chains/export" --profile hx export ansible "$HX/p" >"$TMP/out" 2>&1 &&
	 python3 "$top_srcdir/tests/ansible/key-scope.py" --text "$HX/p/steps/01-hostile.yml" \
	   "the files hold {{ 6 * 7 }} as written" "A hint {{ 9 * 9 }}" \
	   "printf '"'"'%s\n'"'"' '"'"'script: {{ 3 + 3 }} {% raw %} {# c #} \${HOME%/}'"'"'"'
printf 'tdx_hosts:\n  hosts:\n    localhost:\n      ansible_connection: local\n' >"$HX/p/inventory.yml"
ok "its playbook runs the commands as written: no template is evaluated, the secret arrives" \
	'(cd "$HX/p" && DSTACK_WIZARD_TOKEN="tok'"'"'en {{ 5 }}" ansible-playbook -i inventory.yml site.yml) \
	   >"$TMP/hx.log" 2>&1 &&
	 [ "$(cat "$HX/out/motto")" = "motto: {{ 7 * 7 }} $HX/out {% endraw %} it'"'"'s" ] &&
	 [ "$(cat "$HX/out/script")" = "script: {{ 3 + 3 }} {% raw %} {# c #} \${HOME%/}" ] &&
	 [ "$(cat "$HX/out/env")" = "env: it'"'"'s \"{{ 7 * 7 }} $HX/out {% endraw %} it'"'"'s\" \\ {{ 1 + 1 }}
token: as given" ] &&
	 [ "$(cat "$HX/out/stdin")" = "stdin: line {{ 2 + 2 }} {{ 7 * 7 }} $HX/out {% endraw %} it'"'"'s" ] &&
	 [ "$(cat "$HX/out/id")" = "id: {{ 88 }}" ] && [ ! -e /tmp/dw-export-pwned ]'
ok "a second run reads the captured text back as text, and changes nothing" \
	'(cd "$HX/p" && DSTACK_WIZARD_TOKEN=x ansible-playbook -i inventory.yml site.yml) >"$TMP/hx2.log" 2>&1 &&
	 recap "$TMP/hx2.log" localhost | grep -q "changed=0 .*failed=0" &&
	 grep -qF "dw_item_id: !unsafe \"{{ 88 }}\"" "$HX/p/host_vars/localhost/dstack-captured.yml"'

# The demo servers: one per sandbox, kept up by a shared lock on its server.lock for the
# playbook's time (the wizard that starts one lets it go when it exits).
for i in 1 2; do
	sb="$XDG_STATE_HOME/dstack-wizard/h$i/sandbox"
	(exec 9<"$sb/server.lock" && flock -s 9 && exec sleep 3600) </dev/null >/dev/null 2>&1 &
	HOLD[$i]=$!
done
ok "the demo servers run for the playbook" \
	'wh 1 1 check tdx-hardware-verification && wh 2 1 check tdx-hardware-verification &&
	 [ -s "$SB1/ports" ] && [ -s "$SB2/ports" ]'

# The whole chain on both hosts at once, with -vvv (its output is searched for the key below).
t0=$(date +%s)
ok "two hosts: the playbook brings every step to done on both" \
	'play "$TMP/run1.log" -vvv && recap "$TMP/run1.log" h1 | grep -q "failed=0" &&
	 recap "$TMP/run1.log" h2 | grep -q "failed=0" && ! recap "$TMP/run1.log" h2 | grep -q "changed=0 "'
echo "# two hosts, first run: $(($(date +%s) - t0)) s"
t0=$(date +%s)
ok "a second run on both hosts changes nothing, and says every step is done" \
	'play "$TMP/run2.log" -v && recap "$TMP/run2.log" h1 | grep -q "changed=0 .*failed=0" &&
	 recap "$TMP/run2.log" h2 | grep -q "changed=0 .*failed=0" &&
	 n=$(ls "$PROJ"/steps/*.yml | wc -l) &&
	 [ "$(grep -cE "^ok: \[h1\] => .*\"msg\": \"[a-z0-9-]+ is done\"" "$TMP/run2.log")" -eq "$n" ] &&
	 [ "$(grep -cE "^ok: \[h2\] => .*\"msg\": \"[a-z0-9-]+ is done\"" "$TMP/run2.log")" -eq "$n" ]'
echo "# two hosts, second run: $(($(date +%s) - t0)) s"
grep -E "^h[12] +: ok=" "$TMP/run2.log" | sed 's/^/# /'
ok "the captures are kept per host for the next runs" \
	'grep -q "^dw_kms_contract_address: !unsafe \"0x" "$PROJ/host_vars/h1/dstack-captured.yml" &&
	 grep -q "^dw_kms_contract_address: !unsafe \"0x" "$PROJ/host_vars/h2/dstack-captured.yml"'
t0=$(date +%s)
ok "--limit one host and --tags kms: that host, the KMS section's steps, all done" \
	'play "$TMP/tags.log" --limit h1 --tags kms && ! grep -q "h2" "$TMP/tags.log" &&
	 recap "$TMP/tags.log" h1 | grep -q "changed=0 .*failed=0" &&
	 grep -q "^TASK \[Inputs of kms-cvm-deployment\]" "$TMP/tags.log" &&
	 ! grep -q "^TASK \[Inputs of local-dev-setup" "$TMP/tags.log" &&
	 ! grep -q "^TASK \[Inputs of gateway-service" "$TMP/tags.log"'
echo "# --limit h1 --tags kms: $(($(date +%s) - t0)) s"

# The wizard's own check and status of each host: the values the playbook captured are given
# to the wizard's profile as an operator would (set), then every check passes over SSH.
for i in 1 2; do
	eval "port=\$PORT$i key=\$KEY$i kh=\$KH$i"
	ok "h$i: the wizard's check and status over SSH say done for every step" \
		'while IFS= read -r line; do
		   case $line in "#"*) continue ;; esac
		   name=${line%%: *}; name=${name#dw_}; val=$(printf "%s" "${line#*: !unsafe }" | python3 -c "import json,sys; print(json.load(sys.stdin))")
		   wh '"$i"' 0 set "$name" "$val" || exit 1
		 done <"$PROJ/host_vars/h'"$i"'/dstack-captured.yml"
		 wh '"$i"' 0 --target "$SSHD_USER@127.0.0.1:$port" --identity "$key" --known-hosts "$kh" --ssh-config none check &&
		 wh '"$i"' 0 status && out_lacks "^  (ready|locked|failed|stale) " && out_has "^  done +attestation-verification "'
done

ok "the private key is in no file of the project, no -vvv output and neither sandbox" \
	'! grep -rqF "$KEY_HEX" "$PROJ" "$TMP"/*.log "$SB1" "$SB2" &&
	 grep -q "<127.0.0.1> SSH: EXEC" "$TMP/run1.log"'
ok "the private key reached hardhat (contract-deploy ran with it: the wallet's contracts)" \
	'grep -rqiF "${WALLET#0x}" "$SB1/state/contracts" "$SB2/state/contracts"'
for i in 1 2; do kill "${HOLD[$i]}" 2>/dev/null; done
done_testing
