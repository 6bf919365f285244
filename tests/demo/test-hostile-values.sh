#!/usr/bin/env bash
# test-hostile-values.sh: a value typed in never becomes code (issue 15). Every non-secret
# input of the shipped chain is given each hostile value of a table (command substitution,
# backquotes, ; & |, a newline, quotes, a backslash, sed's e flag, glob characters, $IFS): each
# is refused at `set` with a reason that names the input, and nothing is stored. A secret that
# takes any printable text (the Cloudflare API token) is given the worst of them through the
# environment for a whole demo walk: the walk ends with 27 done, no canary file is ever made,
# and the token reaches the simulated Cloudflare byte for byte (its SHA-256 is compared).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$top_srcdir/tests/demo/lib.sh"
if [ "${DW_SANITIZED:-no}" = yes ]; then
	echo "1..0 # SKIP the demo walk runs in the plain build"
	exit 0
fi
CANARY="$TMP/canary"
STATE="$XDG_STATE_HOME/dstack-wizard/demo/state.json"
values=(
	"x\$(touch $CANARY)"
	"x\`touch $CANARY\`"
	"x;touch $CANARY"
	"x&touch $CANARY"
	"x|touch $CANARY"
	"x
touch $CANARY"
	"x'\"y"
	'x\y'
	";touch $CANARY;#e;"
	'x*?[y]'
	'x${IFS}y'
)
demo 0 inputs --json >/dev/null || { echo "Bail out! the demo does not open"; exit 1; }
names=$(python3 -c 'import json,sys
for i in json.load(sys.stdin):
    if not i["secret"]:
        print(i["name"])' <"$TMP/out")
t_refused() {
	local name v bad=0
	for name in $names; do
		for v in "${values[@]}"; do
			"$WIZ" --demo set "$name" "$v" </dev/null >"$TMP/o" 2>"$TMP/e"
			if [ $? -ne 3 ] || ! grep -q "$name" "$TMP/e"; then
				echo "# $name took $(printf %q "$v") (or refused it without naming it)"
				bad=1
			fi
		done
	done
	[ "$bad" -eq 0 ] && ! grep -qF "$CANARY" "$STATE" && [ ! -e "$CANARY" ]
}
ok "every non-secret input refuses every hostile value at set, naming itself; nothing stored" \
	t_refused
TOKEN="tok-\$(touch $CANARY)\`touch $CANARY\`;touch $CANARY|x&y*?[z]'\"\\ #e;\${IFS}"
WANT=$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)
ok "a whole demo walk with a hostile Cloudflare token: 27 done, no canary" \
	'DSTACK_WIZARD_CF_API_TOKEN=$TOKEN demo 0 run --all --yes && demo 0 status --json &&
	 [ "$(grep -c "\"status\":[[:space:]]*\"done\"" "$TMP/out")" -eq 27 ] && [ ! -e "$CANARY" ]'
ok "the token reached the simulated Cloudflare byte for byte" \
	'[ "$(cat "$SANDBOX/state/cloudflare/token-sha256" 2>/dev/null)" = "$WANT" ]'
ok "and it is in no file of the profile" '! grep -rqF "tok-\$(touch" "$XDG_STATE_HOME"'
done_testing
