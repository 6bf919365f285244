#!/usr/bin/env bash
# test-check.sh: `check` of every step runs the checks side by side (they only read) and
# prints each step's lines as one block, in chain order; a step that requires one whose check
# still runs waits for it when it is not done yet, and a passing check makes a step done only
# while the steps it requires are. Also: a check that uses a value an action captures, before
# that action ran, says so.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
W="$TMP/work"
mkdir -p "$W"

# Eight independent steps whose checks take a second each, and after the first (in chain
# order) one that requires it.
CH="$TMP/par"
mkdir -p "$CH"
cat >"$CH/chain.yaml" <<'EOF'
title: Parallel checks
sections:
  - id: one
    title: One
inputs:
  - name: work_dir
    label: Work directory
    type: path
    pattern: '^[A-Za-z0-9_./-]+$'
EOF
for i in 1 2 3 4 5 6 7 8; do
	cat >"$CH/$i-s$i.yaml" <<EOF
id: s$i
section: one
title: Step $i
place: local
inputs: [work_dir]
check:
  - run: echo "s$i starts"; sleep 1; test -f "\${work_dir}/s$i" && echo "s$i ends"
action:
  - run: touch "\${work_dir}/s$i"
EOF
done
cat >"$CH/1a-dep.yaml" <<'EOF'
id: dep
section: one
title: Requires s1
place: local
requires: [s1]
check:
  - run: sleep 1.5; test -f "${work_dir}/dep"
action:
  - run: touch "${work_dir}/dep"
EOF
C=(--chain "$CH")

# blocks FILE STEPS: each step's lines come as one block, in chain order: after "==> check
# of X" only X's lines until "==> X is done|failed|stale" (and its log line).
blocks() {
	awk -v want="$2" '
		/^==> check of / { if (cur != "") bad = 1; cur = $4; sub(":", "", cur); order = order " " cur; next }
		/^==> skip / { if (cur != "") bad = 1; split($3, a, ":"); order = order " " a[1]; next }
		/^==> / { if ($2 != cur) bad = 1; cur = ""; next }
		/^    [a-z0-9]+ (starts|ends)$/ { if ($1 != cur) bad = 1 }
		END { if (bad || order != " " want) { print "# blocks: order" order ", interleaved " bad; exit 1 } }
	' "$1"
}

wiz 0 "${C[@]}" set work_dir "$W"
touch "$W"/s{1,2,3,4,5,6,7,8} "$W/dep"
t0=$(date +%s%N)
ok "check of every step: the eight checks pass (exit 0)" \
	'wiz 0 "${C[@]}" check; r=$?; cp "$TMP/out" "$TMP/check1"; [ $r = 0 ]'
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "# check of 8 one-second checks and one that waits for the first: $ms ms"
ok "they ran side by side: well under the 9.5 s one after another" '[ "$ms" -lt 6000 ]'
ok "each step's lines are one block, in chain order" \
	'blocks "$TMP/check1" "s1 dep s2 s3 s4 s5 s6 s7 s8"'
ok "a step that requires one not yet done waited for its check, then ran (done)" \
	'wiz 0 "${C[@]}" status && out_has "done +s1 " && out_has "done +dep "'
rm -f "$W/s1"
ok "a passing check of a step whose required step's check failed meanwhile: stale, not done" \
	'wiz 1 "${C[@]}" check && blocks "$TMP/out" "s1 dep s2 s3 s4 s5 s6 s7 s8" &&
	 out_has "==> dep is stale" &&
	 wiz 0 "${C[@]}" status && out_has "failed +s1 " && out_has "stale +dep "'

# A check that uses a captured value, before the action that captures it ran.
CAP="$TMP/cap"
mkdir -p "$CAP"
cat >"$CAP/chain.yaml" <<'EOF'
title: A capture
sections:
  - id: one
    title: One
inputs:
  - name: addr
    label: Contract address
    type: eth_address
    optional: true
EOF
cat >"$CAP/01-deploy.yaml" <<'EOF'
id: deploy
section: one
title: Deploy a contract
place: local
check:
  - name: the contract has code
    rpc:
      url: "http://127.0.0.1:9/"
      call: code
      address: "${addr}"
action:
  - run: echo "Deployed to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
capture:
  - name: addr
    regex: 'Deployed to (0x[0-9a-fA-F]{40})'
EOF
ok "check of a step never run, whose check uses a value its action captures, says which" \
	'wiz 1 --chain "$CAP" check deploy && out_has "addr has no value yet \(the action of deploy captures it\)" &&
	 out_lacks "bad address"'
done_testing
