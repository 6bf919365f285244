#!/usr/bin/env bash
# test-tui-profile.sh: the interactive wizard and the other processes on its profile. A value
# set or a step run from another shell shows in the open wizard at once, and the wizard's own
# saves do not undo it; a second wizard on the profile says who holds it and may look
# read-only. Also: an empty optional input is shown as not set, not as invalid.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/tui/lib.sh"
C=(--chain "$top_srcdir/tests/chains/engine")
mkdir -p "$TMP/home/work"

# The second wizard: session w2, its stderr in $TMP/stderr2.
start2() {
	sed "s|$TMP/stderr|$TMP/stderr2|" "$TMP/run.sh" >"$TMP/run2.sh"
	chmod +x "$TMP/run2.sh"
	tm -f /dev/null new-session -d -s w2 -x 100 -y 30 "$TMP/run2.sh"
}
shot2() { tm capture-pane -p -t w2 >"$TMP/screen2" 2>/dev/null; }
wait_for2() {
	local deadline=$((SECONDS + WAIT))
	while :; do
		shot2
		grep -qF -- "$1" "$TMP/screen2" && return 0
		[ $SECONDS -ge $deadline ] && break
		sleep 0.05
	done
	echo "# timed out waiting in w2 for: $1"
	sed 's/^/# | /' "$TMP/screen2"
	return 1
}
wait_file() {
	local deadline=$((SECONDS + WAIT))
	until grep -qF -- "$2" "$1" 2>/dev/null; do
		[ $SECONDS -ge $deadline ] && { echo "# $1 lacks: $2"; return 1; }
		sleep 0.05
	done
}

t_optional() {
	headless "${C[@]}" set work_dir work && start 100 30 -- "${C[@]}" &&
		wait_for "0/9 done" && keys j && wait_for "▸ ⊘ beta" && keys e &&
		wait_for "Inputs of beta" && has "not set (optional)" && lacks "not valid" &&
		keys Escape && wait_gone "Inputs of beta" && keys Enter &&
		wait_for "beta · Use the captured contract" && has "contract: not set (optional)" &&
		keys Escape && wait_for "0/9 done"
}
ok "an empty optional input shows as not set, not as invalid (form and step screen)" t_optional

t_sees_set() {
	keys k Enter && wait_for "greeting = hello" && headless "${C[@]}" set greeting howdy &&
		wait_for "greeting = howdy"
}
ok "a value set from another shell shows in the open wizard" t_sees_set

t_sees_run() {
	headless "${C[@]}" run alpha --yes && keys Escape && wait_for "1/9 done" &&
		has "▸ ✓ alpha"
}
ok "a step run from another shell shows as done in the open wizard" t_sees_run

t_check_keeps() {
	headless "${C[@]}" set greeting hiya && keys Enter && wait_for "greeting = hiya" && keys c &&
		wait_for "alpha failed" && headless "${C[@]}" inputs &&
		grep -qE '^greeting +text +hiya ' "$TMP/out" &&
		headless "${C[@]}" status && grep -qE 'failed +alpha' "$TMP/out"
}
ok "the wizard's next check (of the new value) does not undo the value set meanwhile" \
	t_check_keeps

t_second() {
	start2 && wait_file "$TMP/stderr2" "is open in another dstack-wizard (pid " &&
		grep -qE "\(pid [0-9]+, since [0-9]{4}-[0-9]{2}-[0-9]{2} " "$TMP/stderr2" &&
		grep -qF "Open it read-only" "$TMP/stderr2" && tm send-keys -t w2 y Enter &&
		wait_for2 "READ-ONLY" && tm send-keys -t w2 r && wait_for2 "read-only: profile" &&
		headless "${C[@]}" set greeting hey && tm send-keys -t w2 Enter &&
		wait_for2 "greeting = hey"
}
ok "a second wizard on the profile says who holds it, opens read-only, refuses runs, and sees changes" \
	t_second

t_second_declined() {
	tm send-keys -t w2 q && wait_for2 "[exit 0]" && : >"$TMP/stderr2" &&
		tm kill-session -t w2 && start2 &&
		wait_file "$TMP/stderr2" "Open it read-only" && tm send-keys -t w2 n Enter &&
		wait_for2 "[exit 3]"
}
ok "declining the read-only view leaves (exit 3)" t_second_declined

t_first_free() {
	keys q && wait_for "[exit 0]" && tm kill-session -t w2 && : >"$TMP/stderr2" && start2 &&
		wait_for2 "/9 done" && ! grep -q "READ-ONLY" "$TMP/screen2" && [ ! -s "$TMP/stderr2" ]
}
ok "once the first wizard is gone, the next one has the profile" t_first_free
tm kill-session -t w2 2>/dev/null
done_testing
