# lib.sh: helpers for the demo host's tests (sourced after tests/cli/lib.sh).
# The demo profile lives under the test's XDG_STATE_HOME; its sandbox is created on first use.
STATE="$XDG_STATE_HOME/dstack-wizard/demo/state.json"
SANDBOX="$XDG_STATE_HOME/dstack-wizard/demo/sandbox"
export DEMO_SERVER_GRACE=1

# demo EXPECTED-EXIT ARGS...: the wizard on the demo host, without waiting (speed 0), and with
# no injected failure unless ARGS give one (the last --demo-fail wins; a setting stays in the
# sandbox until a command changes it). The walk forks a lot; it runs niced so that the
# timing-sensitive tests beside it keep their pace.
demo() {
	local want=$1 got
	shift
	nice -n 15 "$WIZ" --demo --demo-speed 0 --demo-fail none "$@" </dev/null >"$TMP/out" \
	    2>"$TMP/err"
	got=$?
	[ "$got" -eq "$want" ] || { echo "# exit $got, wanted $want: dstack-wizard --demo $*"; return 1; }
}

# The demo server's pid, if one runs for this sandbox.
server_pid() {
	local pid
	pid=$(cat "$SANDBOX/server.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q server.py "/proc/$pid/cmdline" 2>/dev/null &&
		echo "$pid"
}

# No process of this sandbox is left (the server exits about a second after the last wizard).
no_server_left() {
	local i
	for i in $(seq 1 50); do
		if ! server_pid >/dev/null && ! pgrep -f "$SANDBOX" >/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	echo "# still running: $(pgrep -af "$SANDBOX")"
	return 1
}

# On exit: stop the server this test started (if a failure left it), then remove the files.
demo_cleanup() {
	local pid
	pid=$(server_pid) && kill "$pid" 2>/dev/null
	rm -rf "$TMP"
}
trap demo_cleanup EXIT
