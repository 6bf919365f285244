# lib.sh: TAP helpers that drive the real dstack-wizard in a private tmux server.
# Sourced by tests/tui/test-*.sh; make check sets top_srcdir and top_builddir.
#
# start COLS ROWS [VAR=VALUE...] -- ARGS...   run the wizard in a fresh session of that size
# keys KEY...                                 tmux send-keys (names like Enter, Escape, F1, C-c)
# wait_for TEXT / wait_gone TEXT              poll capture-pane (bounded, no fixed sleeps)
# golden NAME                                 compare the (masked) screen with golden/NAME.txt;
#                                             GENERATE=1 writes it instead
# Screens are made deterministic: fixed TERM, LANG, TZ, state dir and home; dates masked.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
WIZ="$top_builddir/dstack-wizard"
GOLDEN="$top_srcdir/tests/tui/golden"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-tui-XXXXXX")
SOCK="dw-tui-$$"
# Seconds a wait may take (sanitizer builds are slower).
WAIT=${TUI_WAIT:-20}
n=0 failures=0

cleanup() {
	tmux -L "$SOCK" kill-server 2>/dev/null
	if [ -n "${KEEP:-}" ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
if ! command -v tmux >/dev/null 2>&1; then
	echo "1..0 # SKIP tmux is not installed"
	exit 0
fi
mkdir -p "$TMP/home" "$TMP/state"
unset DSTACK_WIZARD_DATADIR

# tm ARGS...: the private tmux server.
tm() { tmux -L "$SOCK" "$@"; }

# start COLS ROWS [VAR=VALUE...] -- ARGS...: start the wizard in session w.
start() {
	local cols=$1 rows=$2 envs=() q
	shift 2
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
	[ "${1:-}" = "--" ] && shift
	tm kill-session -t w 2>/dev/null
	# The wizard of that session may still be leaving: wait until it let go of its profile
	# (a second wizard on a profile would ask whether to open it read-only).
	for q in "$TMP"/state/dstack-wizard/*/session.lock; do
		[ -e "$q" ] && flock -w 10 "$q" true
	done
	{
		echo "#!/usr/bin/env bash"
		echo "export TERM=screen LANG=C.UTF-8 LC_ALL= TZ=UTC"
		printf 'export XDG_STATE_HOME=%q HOME=%q\n' "$TMP/state" "$TMP/home"
		echo "unset NO_COLOR DSTACK_WIZARD_DATADIR"
		[ -n "${ASAN_OPTIONS:-}" ] && printf 'export ASAN_OPTIONS=%q\n' "$ASAN_OPTIONS"
		for q in "${envs[@]}"; do printf 'export %q\n' "$q"; done
		printf 'cd %q\n' "$TMP/home"
		printf '%q' "$WIZ"
		for q in "$@"; do printf ' %q' "$q"; done
		printf ' 2>>%q\n' "$TMP/stderr"
		echo 'echo "[exit $?]"'
		echo 'exec sleep 600'
	} >"$TMP/run.sh"
	chmod +x "$TMP/run.sh"
	tm -f /dev/null new-session -d -s w -x "$cols" -y "$rows" "$TMP/run.sh"
	tm set-option -t w status off >/dev/null
}

# keys KEY...: type keys into the wizard.
keys() { tm send-keys -t w "$@"; }

# shot [-e]: the screen now, into $TMP/screen.
shot() { tm capture-pane -p "$@" -t w >"$TMP/screen" 2>/dev/null; }

# wait_for TEXT [SECONDS]: until the screen shows TEXT (fixed string).
wait_for() {
	local deadline=$((SECONDS + ${2:-$WAIT}))
	while :; do
		shot
		grep -qF -- "$1" "$TMP/screen" && return 0
		[ $SECONDS -ge $deadline ] && break
		sleep 0.05
	done
	echo "# timed out waiting for: $1"
	sed 's/^/# | /' "$TMP/screen"
	return 1
}

# wait_gone TEXT [SECONDS]: until the screen no longer shows TEXT.
wait_gone() {
	local deadline=$((SECONDS + ${2:-$WAIT}))
	while :; do
		shot
		grep -qF -- "$1" "$TMP/screen" || return 0
		[ $SECONDS -ge $deadline ] && break
		sleep 0.05
	done
	echo "# still on the screen: $1"
	sed 's/^/# | /' "$TMP/screen"
	return 1
}

# running_here PATTERN: a process whose command line matches PATTERN runs with this test's
# state directory in its environment (another test run's processes do not count).
running_here() {
	local pid
	for pid in $(pgrep -f -- "$1"); do
		tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "XDG_STATE_HOME=$TMP/state" &&
			return 0
	done
	return 1
}

# has TEXT / lacks TEXT: about the last shot.
has() { grep -qF -- "$1" "$TMP/screen" || { echo "# screen lacks: $1"; sed 's/^/# | /' "$TMP/screen"; return 1; }; }
lacks() { ! grep -qF -- "$1" "$TMP/screen" || { echo "# screen has: $1"; return 1; }; }

# steady: the screen, once two shots 100 ms apart agree (bounded).
steady() {
	local prev i
	shot
	for i in $(seq 1 40); do
		prev=$(cat "$TMP/screen")
		sleep 0.1
		shot
		[ "$prev" = "$(cat "$TMP/screen")" ] && return 0
	done
	return 0
}

# mask FILE: dates, clock times and durations of seconds (estimates from the test's own
# runs) out, trailing blanks off.
mask() {
	sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}/YYYY-MM-DD HH:MM/g' \
		-e 's/\([0-9]+\.[0-9]+ s\)/(N s)/g' -e 's/(about |~)[0-9] s/\1N s/g' \
		-e 's/time: [0-9]+:[0-9]{2}/time: M:SS/g' -e 's/[[:space:]]+$//' "$1"
}

# golden NAME [-e]: the steady screen equals tests/tui/golden/NAME.txt.
golden() {
	local name=$1 want="$GOLDEN/$1.txt"
	shift
	steady
	[ $# -gt 0 ] && shot "$@"
	mask "$TMP/screen" >"$TMP/masked"
	if [ -n "${GENERATE:-}" ]; then
		mkdir -p "$GOLDEN"
		cp "$TMP/masked" "$want"
		echo "# wrote $want"
		return 0
	fi
	[ -f "$want" ] || { echo "# no golden screen $want (run with GENERATE=1)"; return 1; }
	if ! diff -u "$want" "$TMP/masked" >"$TMP/diff"; then
		echo "# screen differs from $want:"
		sed 's/^/# /' "$TMP/diff" | head -n 60
		return 1
	fi
}

# wiz_pid: the wizard's process id (a child of the session's shell).
wiz_pid() { pgrep -P "$(tm display -p -t w '#{pane_pid}')" -x dstack-wizard | head -n 1; }

# headless ARGS...: run a headless command against the same state.
headless() {
	(cd "$TMP/home" && XDG_STATE_HOME="$TMP/state" HOME="$TMP/home" NO_COLOR=1 \
		"$WIZ" "$@" </dev/null >"$TMP/out" 2>"$TMP/err")
}

# ok DESCRIPTION COMMAND...: one TAP test that passes when COMMAND succeeds.
ok() {
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failures=$((failures + 1))
		[ -s "$TMP/stderr" ] && sed 's/^/# stderr: /' "$TMP/stderr" | head -n 20
	fi
	return 0
}

done_testing() {
	echo "1..$n"
	[ "$failures" -eq 0 ]
}
