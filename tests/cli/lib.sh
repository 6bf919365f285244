# lib.sh: TAP helpers for the shell tests that drive the real dstack-wizard binary.
# Sourced by tests/cli/test-*.sh; make check sets top_srcdir and top_builddir.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
WIZ="$top_builddir/dstack-wizard"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-cli-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export XDG_STATE_HOME="$TMP/state" HOME="$TMP/home" NO_COLOR=1
mkdir -p "$HOME"
unset DSTACK_WIZARD_DATADIR
n=0 failures=0

# ok DESCRIPTION SCRIPT: one TAP test that passes when the shell SCRIPT (eval'ed, so it
# may chain several checks with &&) succeeds.
ok() {
	local desc=$1; shift
	n=$((n + 1))
	: >"$TMP/out"; : >"$TMP/err"
	if eval "$1"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failures=$((failures + 1))
		[ -s "$TMP/out" ] && sed 's/^/# out: /' "$TMP/out" | head -n 20
		[ -s "$TMP/err" ] && sed 's/^/# err: /' "$TMP/err" | head -n 20
	fi
	return 0
}

# wiz EXPECTED-EXIT ARGS...: run the wizard (stdin from /dev/null), keep stdout/stderr.
wiz() {
	local want=$1 got; shift
	"$WIZ" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
	got=$?
	[ "$got" -eq "$want" ] || { echo "# exit $got, wanted $want: dstack-wizard $*"; return 1; }
}

out_has() { grep -qE -- "$1" "$TMP/out" || { echo "# stdout lacks /$1/"; return 1; }; }
err_has() { grep -qE -- "$1" "$TMP/err" || { echo "# stderr lacks /$1/"; return 1; }; }
out_lacks() { ! grep -qE -- "$1" "$TMP/out" || { echo "# stdout has /$1/"; return 1; }; }

done_testing() {
	echo "1..$n"
	[ "$failures" -eq 0 ]
}
