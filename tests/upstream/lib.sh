# lib.sh: helpers for the conformance tests against upstream dstack's own files (sourced after
# tests/cli/lib.sh). The unmodified upstream trees are found at ../shared/upstream beside the
# project (DW_UPSTREAM overrides it); without them every test here is a TAP skip, so a fresh
# clone still passes. What the tests install (npm ci of kms/auth-eth, solc) is cached under
# $top_builddir/tests/upstream, keyed by the lockfile, so a second run does not install again.
UPSTREAM=${DW_UPSTREAM:-$top_srcdir/../shared/upstream}
CACHE="$top_builddir/tests/upstream"
export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
export npm_config_cache="$CACHE/npm-cache"
export HARDHAT_DISABLE_TELEMETRY_PROMPT=true

# skip_all REASON: the whole file is one TAP skip.
skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

[ "${DW_UPSTREAM_TESTS:-}" = 1 ] || skip_all "run by make check-upstream (tests/run-all does), not by make check"

# need_upstream TAG...: skip unless the upstream trees of these tags are there.
need_upstream() {
	local t
	for t in "$@"; do
		[ -f "$UPSTREAM/dstack/v$t/UPSTREAM" ] ||
			skip_all "no upstream dstack v$t at $UPSTREAM/dstack/v$t (the unmodified upstream files are not part of the project)"
	done
}

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL [SECONDS]: until URL answers at all (any status), or fail.
wait_http() {
	local i
	for i in $(seq 1 $((${2:-60} * 5))); do
		curl -s -o /dev/null --max-time 2 "$1" && return 0
		sleep 0.2
	done
	echo "# $1 did not answer"
	return 1
}

# rpc URL METHOD PARAMS-JSON: the JSON-RPC result (raw JSON), or fail.
rpc() {
	curl -sS --max-time 20 -H 'Content-Type: application/json' \
		--data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}" "$1" |
		python3 -c 'import json, sys
d = json.load(sys.stdin)
if "result" not in d:
    sys.exit("RPC error: %s" % d.get("error"))
print(json.dumps(d["result"]))'
}
