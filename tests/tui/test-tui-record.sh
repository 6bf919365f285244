#!/usr/bin/env bash
# test-tui-record.sh: --record FILE and `replay FILE`, in a private tmux server. A headless walk
# of the demo chain and a short walk in the wizard are recorded with a fresh private key in
# DSTACK_WIZARD_PRIVATE_KEY; each recording must be asciicast v2 (a header line first, then one
# JSON event per line, times never decreasing), and hold the key in no form, raw or as the
# terminal shows it. The wizard's recording is replayed into another pane of the same size, and
# the two panes must end on the same screen (the panes keep no alternate screen, so the last
# frame stays). Then the replay's keys: q quits, + goes faster, space pauses.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/tui/lib.sh"
export DEMO_SERVER_GRACE=1
KEY=0x$(openssl rand -hex 32)
BARE=${KEY#0x}

# The panes end on their last frame: no alternate screen for any of them.
tm -f /dev/null new-session -d -s keep 'sleep 600'
tm set-option -gw alternate-screen off

# session NAME COLS ROWS ARGS...: the wizard with ARGS in session NAME, its exit status written
# to $TMP/NAME.rc afterwards (and nothing more to the pane).
session() {
	local name=$1 cols=$2 rows=$3 q
	shift 3
	rm -f "$TMP/$name.rc"
	{
		echo "#!/usr/bin/env bash"
		echo "export TERM=screen LANG=C.UTF-8 LC_ALL= TZ=UTC SHELL=/bin/bash"
		printf 'export XDG_STATE_HOME=%q HOME=%q DSTACK_WIZARD_PRIVATE_KEY=%q\n' \
			"$TMP/state" "$TMP/home" "$KEY"
		echo "unset NO_COLOR DSTACK_WIZARD_DATADIR"
		[ -n "${ASAN_OPTIONS:-}" ] && printf 'export ASAN_OPTIONS=%q\n' "$ASAN_OPTIONS"
		printf 'cd %q\n' "$TMP/home"
		printf '%q' "$WIZ"
		for q in "$@"; do printf ' %q' "$q"; done
		printf ' 2>>%q\n' "$TMP/stderr"
		printf 'echo $? >%q\n' "$TMP/$name.rc"
		echo 'exec sleep 600'
	} >"$TMP/$name.sh"
	chmod +x "$TMP/$name.sh"
	# One wizard at a time on the profile: a session a failed test left is ended first.
	tm list-sessions -F '#{session_name}' | grep -vx keep | xargs -r -n 1 tmux -L "$SOCK" kill-session -t
	for _ in $(seq 1 100); do running_here "$WIZ" || break; sleep 0.05; done
	tm new-session -d -s "$name" -x "$cols" -y "$rows" "$TMP/$name.sh"
	tm set-option -t "$name" status off >/dev/null
}

# ended NAME [SECONDS]: the wizard of session NAME has exited (bounded wait).
ended() {
	local deadline=$((SECONDS + ${2:-$WAIT}))
	while [ ! -s "$TMP/$1.rc" ]; do
		[ $SECONDS -ge $deadline ] && { echo "# $1 did not end"; return 1; }
		sleep 0.1
	done
}

# pwait NAME RE: until session NAME's screen matches RE (an extended regex; bounded).
pwait() {
	local deadline=$((SECONDS + WAIT))
	while :; do
		tm capture-pane -p -t "$1" >"$TMP/pane" 2>/dev/null
		grep -qE -- "$2" "$TMP/pane" && return 0
		[ $SECONDS -ge $deadline ] && break
		sleep 0.05
	done
	echo "# $1 did not show: $2"
	sed 's/^/# | /' "$TMP/pane"
	return 1
}

# pgone NAME TEXT: until session NAME's screen no longer shows TEXT (bounded).
pgone() {
	local deadline=$((SECONDS + WAIT))
	while tm capture-pane -p -t "$1" | grep -qF -- "$2"; do
		[ $SECONDS -ge $deadline ] && { echo "# $1 still shows: $2"; return 1; }
		sleep 0.05
	done
}

# castcheck FILE COLS ROWS: FILE is asciicast v2 of that size; its output, with the terminal's
# escape sequences taken out, goes to FILE.txt.
castcheck() {
	python3 - "$@" <<'EOF'
import json, re, sys
path, cols, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
text = open(path, encoding="utf-8").read()
assert text.endswith("\n"), "the last line is not whole"
lines = text[:-1].split("\n")
h = json.loads(lines[0])
assert isinstance(h, dict), "the first line is not the header"
assert h["version"] == 2 and h["width"] == cols and h["height"] == rows, h
assert isinstance(h["timestamp"], int) and abs(h["timestamp"] - __import__("time").time()) < 3600, h
assert h["title"].startswith("dstack-wizard"), h
assert h["env"]["TERM"] == "screen" and h["env"]["SHELL"] == "/bin/bash", h
last, out = 0.0, []
assert len(lines) > 2, "no events"
for n, line in enumerate(lines[1:], 2):
    ev = json.loads(line)
    assert isinstance(ev, list) and len(ev) == 3, (n, line[:80])
    t, code, data = ev
    assert isinstance(t, float) and t >= last, (n, t, last)
    assert code in ("o", "r") and isinstance(data, str), (n, code)
    if code == "r":
        assert re.fullmatch(r"[0-9]+x[0-9]+", data), data
    last = t
    if code == "o":
        out.append(data)
shown = re.sub(r"\x1b(\[[0-9;?>=]*[ -/]*[@-~]|[()][0-9A-Za-z]|[^\[()])", "", "".join(out))
open(path + ".txt", "w", encoding="utf-8").write(shown)
EOF
}

# nokey FILE...: none holds the key, in any case, with or without its 0x.
nokey() { ! grep -qi -- "$BARE" "$@"; }

if [ "${DW_SANITIZED:-no}" = yes ]; then
	echo "# the recorded walk of the whole chain runs in the plain build"
else
	t_walk() {
		session walk 100 30 --demo --demo-speed 0 --demo-fail none --record "$TMP/walk.cast" \
			run --all --yes &&
			ended walk 240 && [ "$(cat "$TMP/walk.rc")" = 0 ] && castcheck "$TMP/walk.cast" 100 30 &&
			grep -q "every step is done" "$TMP/walk.cast.txt" &&
			grep -q "==> contract-deploy is done" "$TMP/walk.cast.txt" &&
			grep -q "Deploying with account: 0x" "$TMP/walk.cast.txt" &&
			nokey "$TMP/walk.cast" "$TMP/walk.cast.txt"
	}
	ok "a recorded headless walk with a fresh key: asciicast v2, ends done, holds no key" t_walk
fi

t_tui() {
	session rec 120 40 --demo --demo-speed 0 --record "$TMP/tui.cast" &&
		pwait rec "DEMO: simulated TDX host" && tm send-keys -t rec Enter &&
		pwait rec "Guide" && tm send-keys -t rec e && pwait rec "Inputs of" &&
		tm send-keys -t rec Escape && pgone rec "re-checking" &&
		tm send-keys -t rec q && ended rec && [ "$(cat "$TMP/rec.rc")" = 0 ] &&
		tm capture-pane -p -t rec >"$TMP/recorded.txt" &&
		grep -q "DEMO" "$TMP/recorded.txt" && castcheck "$TMP/tui.cast" 120 40 &&
		grep -q "Inputs of" "$TMP/tui.cast.txt" && nokey "$TMP/tui.cast" "$TMP/tui.cast.txt" &&
		[ "$(stat -c %a "$TMP/tui.cast")" = 600 ]
}
ok "the wizard recorded: its frames, its form, in a 0600 file, and no key" t_tui

# resized: the resize reached the recording (bounded).
resized() {
	local deadline=$((SECONDS + WAIT))
	until grep -q '"r", "90x28"\]$' "$TMP/rs.cast"; do
		[ $SECONDS -ge $deadline ] && { echo "# no resize event"; return 1; }
		sleep 0.05
	done
}

t_resize() {
	session rs 100 30 --demo --demo-speed 0 --record "$TMP/rs.cast" &&
		pwait rs "DEMO: simulated TDX host" && tm resize-window -t rs -x 90 -y 28 &&
		resized && tm send-keys -t rs q && ended rs &&
		castcheck "$TMP/rs.cast" 100 30 &&
		sed -n '/"r", "90x28"\]$/,$p' "$TMP/rs.cast" | grep -q ', "o", "'
}
ok "a resize is recorded as an r event (COLSxROWS), and the wizard draws again after it" t_resize

t_replay() {
	session play 120 40 replay --speed 4 --idle-limit 0.1 "$TMP/tui.cast" && ended play &&
		[ "$(cat "$TMP/play.rc")" = 0 ] && tm capture-pane -p -t play >"$TMP/replayed.txt" &&
		diff -u "$TMP/recorded.txt" "$TMP/replayed.txt" >"$TMP/diff" ||
		{ sed 's/^/# /' "$TMP/diff" | head -n 40; return 1; }
}
ok "replay ends on the screen the wizard ended on" t_replay

t_asciinema() {
	if ! command -v asciinema >/dev/null; then
		echo "# asciinema is not installed: only our own reader read the recording"
		return 0
	fi
	tm new-session -d -s cat -x 120 -y 40 \
		"asciinema cat '$TMP/tui.cast' >'$TMP/cat.out' 2>'$TMP/cat.err'; echo \$? >'$TMP/cat.rc'" &&
		ended cat && [ "$(cat "$TMP/cat.rc")" = 0 ] && grep -q "DEMO" "$TMP/cat.out"
}
ok "asciinema reads the recording (asciinema cat)" t_asciinema

t_quit() {
	session q 120 40 replay --speed 0.01 "$TMP/tui.cast" && sleep 1 && [ ! -s "$TMP/q.rc" ] &&
		tm send-keys -t q q && ended q 5 && [ "$(cat "$TMP/q.rc")" = 0 ]
}
ok "q quits a replay at once" t_quit

t_faster() {
	session f 120 40 replay --speed 0.01 --idle-limit 1 "$TMP/tui.cast" && sleep 1 &&
		tm send-keys -t f + + + + + + + + + + && ended f 15 && [ "$(cat "$TMP/f.rc")" = 0 ]
}
ok "+ makes a slow replay fast" t_faster

t_pause() {
	session pz 120 40 replay --speed 0.01 --idle-limit 1 "$TMP/tui.cast" && sleep 0.5 &&
		tm send-keys -t pz Space + + + + + + + + + + && sleep 3 && [ ! -s "$TMP/pz.rc" ] &&
		tm send-keys -t pz Space && ended pz 15
}
ok "space pauses a replay, and space again goes on" t_pause

t_bad() {
	printf '{"version": 1}\n' >"$TMP/v1.cast" && session bad 80 24 replay "$TMP/v1.cast" &&
		ended bad && [ "$(cat "$TMP/bad.rc")" = 4 ] && grep -q "not an asciicast version 2" "$TMP/stderr"
}
ok "a recording of another version is refused (exit 4)" t_bad

t_usage() {
	(cd "$TMP/home" && "$WIZ" --speed 2 list </dev/null >/dev/null 2>"$TMP/err"; [ $? = 2 ]) &&
		grep -q "go with replay" "$TMP/err" &&
		(cd "$TMP/home" && "$WIZ" replay --speed 0 x </dev/null >/dev/null 2>"$TMP/err"; [ $? = 2 ]) &&
		(cd "$TMP/home" && "$WIZ" --record "$TMP/x.cast" list </dev/null >/dev/null 2>"$TMP/err"; [ $? = 2 ]) &&
		grep -q "needs a terminal" "$TMP/err" && [ ! -e "$TMP/x.cast" ]
}
ok "--speed without replay, a speed of 0, --record without a terminal: usage errors" t_usage
done_testing
