#!/usr/bin/env bash
# test-demo-settings.sh: the demo's speed and injected failure belong to the command that gives
# them (a command that gives none changes none, as another shell's `--demo inputs` must not
# reset a running walk's), --demo-speed takes only a finite number >= 0, --demo-fail only a
# step id (or none), and the demo refuses at `set` a value its host cannot serve.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
SB="$XDG_STATE_HOME/dstack-wizard/demo/sandbox"
settings() { printf '%s/%s' "$(cat "$SB/demo-speed" 2>/dev/null)" "$(cat "$SB/demo-fail" 2>/dev/null)"; }

for bad in nan inf -1 1e9 x; do
	ok "--demo-speed $bad is refused (exit 2)" \
		'wiz 2 --demo --demo-speed '"$bad"' list && err_has "wants a number from 0 to 1000"'
done
ok "--demo-fail takes only a step id: an unknown one is refused (exit 2)" \
	'wiz 2 --demo --demo-fail no-such-step list && err_has "no step .no-such-step."'
ok "--demo-speed 0 --demo-fail local-dev-setup are kept in the sandbox" \
	'wiz 0 --demo --demo-speed 0 --demo-fail local-dev-setup list && [ "$(settings)" = 0/local-dev-setup ]'
ok "a command that gives no setting changes none (another shell's --demo inputs)" \
	'wiz 0 --demo inputs && wiz 0 --demo status && [ "$(settings)" = 0/local-dev-setup ]'
ok "the stand-ins of that command run with the kept settings" \
	'wiz 1 --demo run local-dev-setup --yes && out_has "EACCES"'
ok "--demo-fail none clears the injected failure, and leaves the speed" \
	'wiz 0 --demo --demo-fail none list && [ "$(settings)" = 0/ ]'
ok "the demo refuses a base domain its host cannot serve (exit 3), naming it" \
	'wiz 3 --demo set base_domain example.org && err_has "serves only dstack-demo.example"'
ok "and a KMS domain not one label under it" \
	'wiz 3 --demo set kms_domain a.b.dstack-demo.example && err_has "one label under"'
ok "a name it serves is taken" 'wiz 0 --demo set kms_domain kms2.dstack-demo.example'
done_testing
