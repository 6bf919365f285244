#!/usr/bin/env bash
# test-profile.sh: one profile, many processes. Writers running side by side on one profile
# (set, unset, run) each apply their own change to the state as the file holds it, under the
# profile's lock, so that nothing another process saved is lost; and a write that fails (a
# full disk, a file-size limit) makes the command fail with the cause, never "done".
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
state="$XDG_STATE_HOME/dstack-wizard/default/state.json"
W="$TMP/work"
mkdir -p "$W"

# A chain with 4 x 100 inputs (one per writer and value) and a few local steps.
CH="$TMP/chain"
mkdir -p "$CH"
{
	echo "title: Profile test chain"
	echo "sections:"
	echo "  - id: one"
	echo "    title: One"
	echo "inputs:"
	echo "  - name: work_dir"
	echo "    label: Work directory"
	echo "    type: path"
	echo "    pattern: '^[A-Za-z0-9_./-]+\$'"
	echo "  - name: note"
	echo "    label: A note"
	echo "    type: text"
	echo "    quoted: true"
	echo "    optional: true"
	for w in 1 2 3 4; do
		for i in $(seq 1 100); do
			printf '  - name: w%d_%d\n    label: Value %d of writer %d\n    type: port\n' \
			    "$w" "$i" "$i" "$w"
			printf '    optional: true\n'
		done
	done
} >"$CH/chain.yaml"
cat >"$CH/01-slow.yaml" <<'EOF'
id: slow
section: one
title: A slow step
place: local
inputs: [work_dir]
check:
  - run: test -f "${work_dir}/slow"
action:
  - run: sleep 2; touch "${work_dir}/slow"
EOF
cat >"$CH/02-after.yaml" <<'EOF'
id: after
section: one
title: The step after it
place: local
requires: [slow]
check:
  - run: test -f "${work_dir}/after"
action:
  - run: touch "${work_dir}/after"
EOF
cat >"$CH/03-loud.yaml" <<'EOF'
id: loud
section: one
title: A step that prints a lot
place: local
check:
  - run: seq 1 3000
action:
  - run: seq 1 3000
EOF
C=(--chain "$CH")

# kept: how many of the 400 values are in the state, each with its writer's last value.
kept() {
	"$WIZ" "${C[@]}" inputs --json </dev/null | python3 -c '
import json, sys
vals = {i["name"]: i.get("value") for i in json.load(sys.stdin)}
print(sum(1 for w in range(1, 5) for i in range(1, 101)
          if vals.get("w%d_%d" % (w, i)) == str(1000 * w + i)))'
}

ok "set a work directory" 'wiz 0 "${C[@]}" set work_dir "$W"'

# Four writers at once, each setting 100 inputs of its own, one process per value.
for w in 1 2 3 4; do
	(for i in $(seq 1 100); do
		"$WIZ" "${C[@]}" set "w${w}_$i" $((1000 * w + i)) </dev/null >/dev/null 2>>"$TMP/set-err" ||
		    echo "w${w}_$i: exit $?" >>"$TMP/set-err"
	done) &
done
wait
n_kept=$(kept)
echo "# 4 parallel writers x 100 set: $n_kept of 400 values kept"
ok "4 writers x 100 set side by side: every set exits 0" '[ ! -s "$TMP/set-err" ] || { cat "$TMP/set-err"; false; }'
ok "4 writers x 100 set side by side: all 400 values are kept" '[ "$n_kept" = 400 ]'

# A set (and an unset) made while run --all runs its slow step is not undone by its saves.
wiz 0 "${C[@]}" set note "before the run" || true
"$WIZ" "${C[@]}" run --all --yes </dev/null >"$TMP/runall" 2>&1 &
runall=$!
for _ in $(seq 1 100); do grep -q "sleep 2" "$TMP/runall" 2>/dev/null && break; sleep 0.05; done
ok "a set during run --all succeeds" 'wiz 0 "${C[@]}" set w1_1 4242 && wiz 0 "${C[@]}" unset note'
wait "$runall"
rc_runall=$?
ok "run --all went on to the end" '[ "$rc_runall" = 0 ] && grep -q "every step is done" "$TMP/runall"'
ok "run --all did not wipe the set made meanwhile" \
	'wiz 0 "${C[@]}" inputs && out_has "^w1_1 +port +4242 " && out_lacks "^note .*before the run"'
ok "nor any of the other values" '[ "$(kept)" = 399 ]'

# Writes that fail. A file-size limit larger than the logs but smaller than the state: every
# state write fails (the wizard ignores SIGXFSZ, so that write() returns EFBIG).
wiz 0 "${C[@]}" status >/dev/null
size=$(stat -c %s "$state")
# A limit of half the state's size, in the 1 KiB blocks of ulimit -f.
limit=$((size / 2048))
cp "$state" "$TMP/state-before"
# limited ARGS...: the wizard under the limit (its output through a pipe, which has none).
limited() {
	(ulimit -f "$limit"; exec "$WIZ" "${C[@]}" "$@" </dev/null 2>"$TMP/err") |
	    cat >"$TMP/out"
	return "${PIPESTATUS[0]}"
}
ok "set with the state over the file-size limit fails with the cause (exit 4)" \
	'limited set w2_2 4343; [ $? = 4 ] && err_has "File too large"'
ok "an action whose start cannot be saved does not run (exit 4, the cause)" \
	'rm -f "$W/slow" && limited run slow --yes; [ $? = 4 ] && err_has "File too large" &&
	 out_lacks "slow is done" && [ ! -e "$W/slow" ]'
ok "the state file is the one from before the failed writes" 'cmp "$state" "$TMP/state-before"'
# A check that passes, of a step that is not done (stale: its input changed), whose outcome
# cannot be saved: not done.
touch "$W/slow"
wiz 0 "${C[@]}" set work_dir "$W/."
cp "$state" "$TMP/state-before"
ok "a check whose passing cannot be saved fails with the cause (exit 4), never done" \
	'limited check slow; [ $? = 4 ] && err_has "File too large" && out_lacks "slow is done" &&
	 out_has "slow failed: its outcome could not be saved"'
ok "the state is unchanged, and says so" \
	'cmp "$state" "$TMP/state-before" && wiz 0 "${C[@]}" status && out_has "stale +slow"'

# A log that cannot be written fails the run: a limit below the loud step's log, on a profile
# whose state stays below it.
limit=8
S=(--profile small)
ok "a run whose log cannot be written fails with the cause (the state records why)" \
	'wiz 0 "${C[@]}" "${S[@]}" set work_dir "$W" && [ "$(stat -c %s "${state%/*/*}/small/state.json")" -lt 4096 ] &&
	 limited "${S[@]}" run loud --yes; rc=$?; [ $rc = 1 ] &&
	 out_has "cannot write the log file .*: File too large" && out_lacks "loud is done" &&
	 wiz 0 "${C[@]}" "${S[@]}" status && out_has "failed +loud" && out_has "cannot write the log file"'

# A full file system (a tiny tmpfs, when this test may mount one: root, in a mount namespace
# of its own that goes away with it).
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
    unshare -m --propagation private true 2>/dev/null; then
	cat >"$TMP/full.sh" <<'EOF'
set -u
mount -t tmpfs -o size=256k tmpfs "$XDG_STATE_HOME" || exit 99
wiz() { "$WIZ" --chain "$CH" "$@" </dev/null; }
wiz set work_dir "$W" >/dev/null || exit 98
rm -f "$W/slow"
wiz run slow --yes >/dev/null || exit 97
rm -f "$W/slow"
# Fill it, leaving nothing for the next writes.
dd if=/dev/zero of="$XDG_STATE_HOME/fill" bs=4k 2>/dev/null
wiz set w3_3 4545 >"$TMP/out-set" 2>"$TMP/err-set"
echo "set $?"
wiz run slow --yes >"$TMP/out-run" 2>"$TMP/err-run"
echo "run $?"
EOF
	WIZ=$WIZ TMP=$TMP W=$W CH=$CH unshare -m --propagation private bash "$TMP/full.sh" >"$TMP/full" 2>&1
	ok "on a full file system, set fails with the cause (exit 4)" \
		'grep -qx "set 4" "$TMP/full" && grep -q "No space left on device" "$TMP/err-set"'
	ok "on a full file system, run fails with the cause and does not say done" \
		'grep -q "^run [1-9]" "$TMP/full" && grep -q "No space left on device" "$TMP/err-run" &&
		 ! grep -q "slow is done" "$TMP/out-run" || { cat "$TMP/full" "$TMP/out-run" "$TMP/err-run"; false; }'
else
	n=$((n + 1)); echo "ok $n # SKIP a full tmpfs needs root and unshare"
	n=$((n + 1)); echo "ok $n # SKIP a full tmpfs needs root and unshare"
fi
done_testing
