#!/usr/bin/env bash
# test-hostile-output.sh: what a step prints is data, never terminal control. A step prints
# OSC title and clipboard writes, OSC 8, DCS, a screen clear, a cursor report request, a C1
# CSI, NUL and invalid UTF-8 (tests/chains/hostile); it runs on this machine and over SSH
# (a throwaway sshd on 127.0.0.1), headless in a tmux pane and in the interactive wizard. The
# pane's title, tmux's paste buffers (set-clipboard on) and the screen stay as they were; the
# sequences are shown as visible \xNN text on stdout and in the log file.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/tui/lib.sh"
. "$top_srcdir/tests/lib/sshd.sh"

ok() {
	local desc=$1; shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; failures=$((failures + 1)); fi
}

CH=(--chain "$top_srcdir/tests/chains/hostile")
W="$TMP/work"
mkdir -p "$W"
export XDG_STATE_HOME="$TMP/state" HOME="$TMP/home" NO_COLOR=1
"$WIZ" "${CH[@]}" set work_dir "$W" >/dev/null || { echo "Bail out! set work_dir failed"; exit 1; }

# A shell in pane p with nothing of the user's; tmux accepts OSC 52 from applications.
tm -f /dev/null new-session -d -s p -x 160 -y 50 "env -i PATH=$PATH TERM=screen LANG=C.UTF-8 HOME=$TMP/home XDG_STATE_HOME=$TMP/state NO_COLOR=1 bash --norc --noprofile"
tm set-option -g set-clipboard on >/dev/null
tm set-option -t p status off >/dev/null
title() { tm display-message -p -t p '#{pane_title}'; }
buffers() { tm list-buffers 2>/dev/null | wc -l; }
type_line() { tm send-keys -t p -l "$1" && tm send-keys -t p Enter; }
pwait() {   # pwait TEXT: until pane p shows TEXT
	local deadline=$((SECONDS + WAIT))
	while [ $SECONDS -lt $deadline ]; do
		tm capture-pane -p -t p >"$TMP/pscreen"
		grep -qF -- "$1" "$TMP/pscreen" && return 0
		sleep 0.05
	done
	echo "# pane p never showed: $1"; sed 's/^/# | /' "$TMP/pscreen"; return 1
}

# The detectors work: the same sequences printed raw do change the title and the buffers.
t_control() {
	type_line "printf '\\033]2;RAW-TITLE\\033\\\\'; printf '\\033]52;c;UkFX\\007'; echo raw-done" &&
		pwait raw-done && [ "$(title)" = RAW-TITLE ] && [ "$(buffers)" -ge 1 ] &&
		tm delete-buffer 2>/dev/null; type_line "printf '\\033]2;clean\\033\\\\'; echo reset-done" &&
		pwait reset-done && [ "$(title)" = clean ] && [ "$(buffers)" -eq 0 ]
}
ok "control: raw OSC 2 and OSC 52 in the pane do change its title and tmux's buffers" t_control

# unchanged MARKER: title, buffers, and the marker line still on the screen.
unchanged() {
	[ "$(title)" = clean ] || { echo "# the pane title became: $(title)"; return 1; }
	[ "$(buffers)" -eq 0 ] || { echo "# a paste buffer was set: $(tm show-buffer)"; return 1; }
	tm capture-pane -p -t p >"$TMP/pscreen"
	grep -qF "$1" "$TMP/pscreen" || { echo "# the screen was cleared"; sed 's/^/# | /' "$TMP/pscreen"; return 1; }
}

# visible FILE: the hostile lines are there as text, and no control byte is.
visible() {
	grep -qF 'title \x1b]0;PWNED-TITLE\x07' "$1" && grep -qF 'clip \x1b]52;c;' "$1" &&
		grep -qF 'c1 \x9b31mred' "$1" && grep -qF 'nul a\x00b end' "$1" &&
		grep -qF 'bad \xff\xfe end' "$1" && grep -qF 'after' "$1" &&
		! LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f\x9b\xff]' "$1" ||
		{ echo "# $1:"; sed -n '1,40p' "$1" | cat -v | sed 's/^/# | /'; return 1; }
}
logs_visible() {
	local f
	f=$(ls -t "$XDG_STATE_HOME"/dstack-wizard/"$2"/logs/"$1"-action-* 2>/dev/null | head -n 1)
	[ -n "$f" ] || { echo "# no log of $1"; return 1; }
	visible "$f"
}

t_local_headless() {
	type_line "echo MARK-1; '$WIZ' --chain '$top_srcdir/tests/chains/hostile' run escapes-local --yes; echo exit=\$?" &&
		pwait "exit=0" && unchanged MARK-1 &&
		"$WIZ" "${CH[@]}" check escapes-local >/dev/null &&
		rm -f "$W/escapes-local" && "$WIZ" "${CH[@]}" run escapes-local --yes >"$TMP/local.out" 2>&1 &&
		visible "$TMP/local.out" && logs_visible escapes-local default
}
ok "a local step's hostile output, headless: shown as text, the terminal untouched, the log clean" \
	t_local_headless

export SSHD_WATCH_PID=$$
if sshd_start "$TMP/sshd" >"$TMP/sshd-start.log" 2>&1; then
	"$WIZ" "${CH[@]}" --profile ssh set work_dir "$W" >/dev/null
	S=(--profile ssh --ssh-config none --identity "$SSHD_USER_KEY" --known-hosts "$SSHD_KNOWN_HOSTS"
	   --target "127.0.0.1:$SSHD_PORT")
	t_ssh_headless() {
		type_line "echo MARK-2; '$WIZ' --chain '$top_srcdir/tests/chains/hostile' --profile ssh --ssh-config none --identity '$SSHD_USER_KEY' --known-hosts '$SSHD_KNOWN_HOSTS' --target 127.0.0.1:$SSHD_PORT run escapes-server --yes; echo exit=\$?" &&
			pwait "exit=0" && unchanged MARK-2 && rm -f "$W/escapes-server" &&
			"$WIZ" "${CH[@]}" "${S[@]}" run escapes-server --yes >"$TMP/ssh.out" 2>&1 &&
			visible "$TMP/ssh.out" && logs_visible escapes-server ssh
	}
	ok "a server step's hostile output over SSH, headless: the same" t_ssh_headless
else
	n=$((n + 1)); echo "ok $n # SKIP no sshd: $(head -n 1 "$TMP/sshd-start.log")"
fi

t_tui() {
	rm -f "$W/escapes-local"
	start 120 40 -- "${CH[@]}" --step escapes-local &&
		wait_for "Print terminal control sequences (local)" && keys r &&
		wait_for "Run the action of escapes-local?" && keys y && wait_for "escapes-local is done" &&
		has 'title \x1b]0;PWNED-TITLE' &&
		[ "$(tm display-message -p -t w '#{pane_title}')" != PWNED-TITLE ] && [ "$(buffers)" -eq 0 ]
}
ok "in the interactive wizard: the log pane shows the sequences as text; title and buffers untouched" t_tui
sshd_stop 2>/dev/null
echo "1..$n"
[ "$failures" -eq 0 ]
