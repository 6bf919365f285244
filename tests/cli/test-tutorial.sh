#!/usr/bin/env bash
# test-tutorial.sh: `tutorial` writes the chain as Markdown pages for the release in use. For the
# shipped chain: every step has a page (and the index links each), every command of its step
# file for that release appears in it as written (a script whole, a probe by its URL or
# address), every hint for that release too, and every link goes to a page that exists. With
# --values the profile's values are filled in and no secret is. On a chain whose commands,
# captures and hints differ by release, a page holds those of the release in use only.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"

# tutcheck DIR CHAIN RELEASE: the pages in DIR hold the chain's steps for RELEASE (see above).
tutcheck() {
	python3 - "$@" <<'PY'
import glob, os, re, sys, yaml
out, chain, release = sys.argv[1], sys.argv[2], sys.argv[3]
ver = lambda v: tuple(int(x) for x in v.split("."))
ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b,
       "!=": lambda a, b: a != b, "<": lambda a, b: a < b, ">": lambda a, b: a > b}
def holds(item):
    cond = item.get("version") if isinstance(item, dict) else None
    if cond is None:
        return True
    return all(ops[o](ver(release), ver(v))
               for o, v in re.findall(r"(>=|<=|==|!=|<|>)\s*([0-9]+\.[0-9]+\.[0-9]+)", str(cond)))
bad = []
files = sorted(f for f in glob.glob(chain + "/*.yaml") + glob.glob(chain + "/*/*.yaml")
               if os.path.basename(f) != "chain.yaml")
ids = []
for f in files:
    step = yaml.safe_load(open(f))
    sid = step["id"]
    ids.append(sid)
    page = os.path.join(out, sid + ".md")
    if not os.path.exists(page):
        bad.append("no page for " + sid)
        continue
    text = open(page).read()
    for kind in ("action", "check", "replace"):
        for cmd in step.get(kind) or []:
            if isinstance(cmd, str):
                cmd = {"run": cmd}
            if "run" in cmd:
                want = cmd["run"].rstrip("\n")
            else:
                probe = cmd.get("http") or cmd.get("rpc") or cmd.get("tcp")
                want = probe.get("url") or probe.get("target") if isinstance(probe, dict) else probe
            if holds(cmd) and want not in text:
                bad.append("%s: %s command missing: %.60r" % (sid, kind, want))
            if not holds(cmd) and want not in [c if isinstance(c, str) else c.get("run", "")
                                               for k in ("action", "check", "replace")
                                               for c in (step.get(k) or []) if holds(c)] \
                    and want in text:
                bad.append("%s: a command for another release is shown: %.60r" % (sid, want))
    for h in step.get("hints") or []:
        says = [g["say"] for g in step["hints"] if holds(g)]
        bare = lambda x: x.replace("`", "")
        if holds(h) and bare("| %s | %s |" % (h["match"].replace("|", "\\|"), h["say"])) not in bare(text):
            bad.append("%s: hint %r missing" % (sid, h["say"]))
        if not holds(h) and h["say"] not in says and h["say"] in text:
            bad.append("%s: hint %r of another release" % (sid, h["say"]))
    for r in step.get("requires") or []:
        if "](%s.md)" % r not in text:
            bad.append("%s: no link to %s" % (sid, r))
index = open(os.path.join(out, "index.md")).read()
for sid in ids:
    if "](%s.md)" % sid not in index:
        bad.append("the index does not link " + sid)
pages = glob.glob(out + "/*.md")
if len(pages) != len(ids) + 1:
    bad.append("%d pages for %d steps" % (len(pages), len(ids)))
for p in pages:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", open(p).read()):
        if not target.startswith("http") and not os.path.exists(os.path.join(out, target)):
            bad.append("%s: a link to %s, which does not exist" % (os.path.basename(p), target))
for b in bad:
    print("# " + b)
sys.exit(1 if bad else 0)
PY
}

ok "tutorial --output DIR: a page per step and an index" \
	'wiz 0 --demo tutorial --output "$TMP/t" && out_has "wrote 28 pages into" &&
	 wiz 0 --demo status --json && R=$(jq -r .dstack_version "$TMP/out") && [ -n "$R" ]'
ok "every step's page holds its commands and hints for the release, and every link resolves" \
	'tutcheck "$TMP/t" "$top_srcdir/assets/chain" "$R"'
ok "the pages name the release, the guide, how to verify and the troubleshooting" \
	'grep -q "^Step \`contract-deploy\`, for dstack $R\. Where: this machine\.$" "$TMP/t/contract-deploy.md" &&
	 grep -q "^## What and why$" "$TMP/t/contract-deploy.md" && grep -q "^## How to verify$" "$TMP/t/contract-deploy.md" &&
	 grep -q "^## Troubleshooting$" "$TMP/t/contract-deploy.md" &&
	 grep -q "^| \`insufficient funds\` | The wallet cannot pay" "$TMP/t/contract-deploy.md"'
ok "without --values, commands keep their \${placeholders}" \
	'grep -qF "\${local_repo_dir}" "$TMP/t/local-dev-setup.md" && ! grep -q "dstack-demo\.example" "$TMP/t/dns-configuration.md"'
ok "--values fills in the profile's values, and never a secret's" \
	'wiz 0 --demo tutorial --values --output "$TMP/v" &&
	 grep -q "dstack-demo\.example" "$TMP/v/dns-configuration.md" && ! grep -qF "\${base_domain}" "$TMP/v/dns-configuration.md" &&
	 grep -qF "\${private_key}" "$TMP/v/contract-deploy.md" && grep -qF "\${eth_rpc_url}" "$TMP/v/contract-deploy.md" &&
	 ! grep -rqi "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\|deadbeefdeadbeef\|demo-cloudflare-token\|127\.0\.0\.1:8545" "$TMP/v"'
V=(--chain "$top_srcdir/tests/chains/versions" --profile v)
ok "on a chain that differs by release, the release in use only (0.5.11)" \
	'wiz 0 "${V[@]}" tutorial --output "$TMP/n" && tutcheck "$TMP/n" "$top_srcdir/tests/chains/versions" 0.5.11 &&
	 grep -q "new way" "$TMP/n/build.md" && ! grep -q "old way" "$TMP/n/build.md"'
ok "and another release's (0.5.5)" \
	'wiz 0 "${V[@]}" set dstack_version 0.5.5 && wiz 0 "${V[@]}" tutorial --output "$TMP/o" &&
	 tutcheck "$TMP/o" "$top_srcdir/tests/chains/versions" 0.5.5 &&
	 grep -q "old way" "$TMP/o/build.md" && ! grep -q "new way" "$TMP/o/build.md" &&
	 grep -q "hint for 0.5.5 only" "$TMP/o/fail.md" && ! grep -q "0.5.6 and later" "$TMP/o/fail.md"'
ok "tutorial takes no step" 'wiz 2 tutorial extra && err_has "usage: tutorial"'
done_testing
