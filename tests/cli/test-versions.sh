#!/usr/bin/env bash
# test-versions.sh: parts of a step file that apply to some releases only (version:), on the
# real binary with tests/chains/versions: which commands run and are shown, which inputs gate
# the step, which captures and hints apply, a default that depends on the release, and a
# release input limited to its choices.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
C=(--chain "$top_srcdir/tests/chains/versions")
W="$TMP/work"
mkdir -p "$W"

ok "a release outside the choices is refused (exit 3) with the list" \
	'wiz 3 "${C[@]}" set dstack_version 0.4.2 && err_has "must be one of: 0.5.5, 0.5.6, 0.5.9, 0.5.11"'
ok "so is one that only looks like a release" \
	'wiz 3 "${C[@]}" set dstack_version 0.6.0 && err_has "must be one of"'
ok "set work_dir" 'wiz 0 "${C[@]}" set work_dir "$W"'
ok "at the default release (0.5.11) the step does not wait for an input only old releases use" \
	'wiz 0 "${C[@]}" status && out_has "ready +build"'
ok "the default that depends on the release: custom at 0.5.11" \
	'wiz 0 "${C[@]}" inputs && out_has "^net +text +custom"'
ok "run at 0.5.11: the new way runs, the old one does not; its capture applies" \
	'wiz 0 "${C[@]}" run build --yes && out_has "release 0.5.11 on network custom" &&
	 out_has "^ +new way$" && out_lacks "old way" && out_has "captured seen = new way" &&
	 out_has "build is done"'
ok "a failure at 0.5.11 gets the hint for 0.5.11, not the one for 0.5.5" \
	'wiz 1 "${C[@]}" run fail --yes && out_has "0.5.6 and later" && out_lacks "0.5.5 only"'
ok "its check at 0.5.11 includes the command for new releases" \
	'rm -f "$W/new-marker" && wiz 1 "${C[@]}" check build && out_has "new-marker"'
ok "set dstack_version 0.5.5" 'wiz 0 "${C[@]}" set dstack_version 0.5.5'
ok "at 0.5.5 the step waits for old_only, which only old releases use" \
	'wiz 3 "${C[@]}" why build && out_has "input old_only: not set"'
ok "the default follows the release: test at 0.5.5" \
	'wiz 0 "${C[@]}" inputs && out_has "^net +text +test"'
ok "run at 0.5.5: the old way runs, with its capture; the new one does not" \
	'wiz 0 "${C[@]}" set old_only abc && wiz 0 "${C[@]}" run build --yes &&
	 out_has "release 0.5.5 on network test" && out_has "old way with abc" && out_lacks "new way" &&
	 out_has "captured seen = old way" && [ ! -e "$W/new-marker" ]'
ok "a failure at 0.5.5 gets the hint for 0.5.5 only" \
	'wiz 1 "${C[@]}" run fail --yes && out_has "0.5.5 only" && out_lacks "0.5.6 and later"'
ok "its check at 0.5.5 does not ask for the marker only new releases leave" \
	'wiz 0 "${C[@]}" check build && out_lacks "new-marker"'
ok "list shows the release in use" 'wiz 0 "${C[@]}" list && out_has "0\.5\.5"'
done_testing
