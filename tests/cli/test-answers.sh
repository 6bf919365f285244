#!/usr/bin/env bash
# test-answers.sh: --answers FILE gives the target and the inputs before anything runs, each
# value checked as `set` checks it, every problem as file:line:column; one bad value changes
# nothing. inputs --export FILE writes one from the profile, never a secret, and it reads back.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"

KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80

cat >"$TMP/bad.yaml" <<'A'
inputs:
  base_domain: example.org
  acme_email: not-an-email
  private_key: "0x01"
  kms_rpc_prot: "8083"
  ssh_port: 99999
A
ok "every bad value is named at file:line:column, with set's reasons; nothing is set" \
	'wiz 3 --answers "$TMP/bad.yaml" status &&
	 err_has "bad\.yaml:3:15: acme_email: an email address needs an .@." &&
	 err_has "bad\.yaml:4:16: private_key is a secret: .*DSTACK_WIZARD_PRIVATE_KEY" &&
	 err_has "bad\.yaml:5:17: unknown input .kms_rpc_prot. \(did you mean .kms_rpc_port.\?\)" &&
	 err_has "bad\.yaml:6:13: ssh_port: the port is greater than 65535" &&
	 [ "$(wc -l <"$TMP/err")" -eq 4 ] &&
	 wiz 0 inputs && out_has "^base_domain +domain +- "'

printf 'target: local\ninputs:\n  base_domain: [a]\n  "": x\n  zone: ""\ntaget: x\n---\nmore: 1\n' \
	>"$TMP/shape.yaml"
ok "unknown keys, a list or nothing for a value, a second document: refused before anything opens" \
	'wiz 4 --answers "$TMP/shape.yaml" status &&
	 err_has "shape\.yaml:3:16: input .base_domain. must be a value, got a list" &&
	 err_has "shape\.yaml:4:3: an input.s name has no value" &&
	 err_has "shape\.yaml:5:9: input .zone. has no value \(leave an input out to keep it unset\)" &&
	 err_has "shape\.yaml:6:1: unknown key .taget. \(did you mean .target.\?\)" &&
	 err_has "shape\.yaml:8:1: a second document: an answers file holds one"'

printf 'inputs:\n  base_domain: "a\n' >"$TMP/syntax.yaml"
ok "a YAML syntax error names its place" \
	'wiz 4 --answers "$TMP/syntax.yaml" status && err_has "^.*syntax\.yaml:[0-9]+:[0-9]+: syntax error"'

printf 'target: "bad host:99999"\n' >"$TMP/target.yaml"
ok "a target that is not [user@]host[:port] is refused at its place" \
	'wiz 4 --answers "$TMP/target.yaml" status && err_has "target\.yaml:1:9: target: "'
printf 'target: "lo\\ncal"\ninputs:\n  base_domain: "a\\tb"\n' >"$TMP/lines.yaml"
ok "a line break or a tab in a value is refused: every problem is one line" \
	'wiz 4 --answers "$TMP/lines.yaml" status &&
	 err_has "lines\.yaml:1:9: target holds a control character" &&
	 err_has "lines\.yaml:3:16: input .base_domain. holds a control character" &&
	 [ "$(wc -l <"$TMP/err")" -eq 2 ]'

cat >"$TMP/good.yaml" <<'A'
# The server and the names.
target: ops@127.0.0.1:2222
inputs:
  base_domain: example.org
  acme_email: "ops@example.org"
  ssh_port: 2222
A
ok "a good file sets the inputs (as the operator's) and the target, then the command runs" \
	'wiz 0 --ssh-config none --answers "$TMP/good.yaml" inputs --json &&
	 jq -e "map(select(.name == \"base_domain\" or .name == \"acme_email\" or .name == \"ssh_port\"))
	   | map(.source) == [\"user\", \"user\", \"user\"]" "$TMP/out" >/dev/null &&
	 jq -r ".target" "$XDG_STATE_HOME/dstack-wizard/default/state.json" | grep -qx "ops@127.0.0.1:2222"'
ok "--target that differs from the file's is refused, naming both" \
	'wiz 2 --target local --answers "$TMP/good.yaml" status &&
	 err_has "good\.yaml:2:9: the target ops@127\.0\.0\.1:2222 differs from --target local"'

# The key sets the wallet to its account (a public address): that is exported, the key not.
ok "inputs --export writes the target and the set values (0600), secrets only as comments" \
	'DSTACK_WIZARD_PRIVATE_KEY=$KEY wiz 0 --ssh-config none inputs --export "$TMP/out.yaml" &&
	 out_has "wrote the answers file" && [ "$(stat -c %a "$TMP/out.yaml")" = 600 ] &&
	 grep -qx "target: \"ops@127.0.0.1:2222\"" "$TMP/out.yaml" &&
	 grep -qx "  base_domain: \"example.org\"" "$TMP/out.yaml" &&
	 grep -qx "  # private_key: a secret: set DSTACK_WIZARD_PRIVATE_KEY or use --secret-file private_key=FILE" "$TMP/out.yaml" &&
	 ! grep -qi "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" "$TMP/out.yaml" &&
	 grep -qx "  wallet_address: \"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"" "$TMP/out.yaml"'
ok "the exported file reads back into another profile with the same values" \
	'wiz 0 --ssh-config none -p other --answers "$TMP/out.yaml" inputs --json &&
	 jq -e "map(select(.source == \"user\")) | map(.name) | sort == [\"acme_email\", \"base_domain\", \"ssh_port\", \"wallet_address\"]" \
	   "$TMP/out" >/dev/null'
ok "--export goes with inputs only" \
	'wiz 2 --export "$TMP/x.yaml" status && err_has "--export FILE goes with inputs"'

done_testing
