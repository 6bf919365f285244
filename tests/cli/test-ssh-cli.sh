#!/usr/bin/env bash
# test-ssh-cli.sh: server steps over SSH, driven through the real binary, against a throwaway
# OpenSSH sshd on 127.0.0.1 (tests/lib/sshd.sh): commands over the one connection, host keys
# (unknown, accepted, changed), a local-only secret refused by the transport, a probe of a
# port bound to the server's loopback through the wizard's own tunnel, supervised long
# actions, the pre-flight, targets as ssh -G resolves them (a Host from an Included file, a jump
# host: a second sshd; no ssh installed), lint of the program the transport sends, and a
# contract address gated on eth_getCode (ganache on loopback).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$top_srcdir/tests/lib/sshd.sh"

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sshd_stop
	rm -rf "$TMP"
}
trap cleanup EXIT
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

export SSHD_LOGLEVEL=DEBUG1 SSHD_WATCH_PID=$$
if ! sshd_start "$TMP/sshd" >"$TMP/sshd-start.log" 2>&1; then
	echo "1..0 # SKIP no sshd: $(head -n 1 "$TMP/sshd-start.log")"
	exit 0
fi
work="$TMP/work"
mkdir -p "$work"
export DSTACK_WIZARD_REMOTE_DIR="$TMP/remote"
KH="$TMP/known_hosts"
CH=(--chain "$top_srcdir/tests/chains/ssh" --ssh-config none --identity "$SSHD_USER_KEY")
C=("${CH[@]}" --known-hosts "$KH")
T=(--target "127.0.0.1:$SSHD_PORT")
SSH_RE="127\.0\.0\.1 [0-9]+ 127\.0\.0\.1 $SSHD_PORT"
fp=$(ssh-keygen -lf "$SSHD_HOST_PUB" | awk '{print $2}')
fp_re=$(printf '%s' "$fp" | sed 's/[][+.*?^$(){}|\\]/\\&/g')   # as an ERE

# lint checks the program the transport sends (steps/remote-agent.sh), each mode's as sent: a
# shellcheck first on PATH keeps a copy of every file it is given, then runs the real one.
if command -v shellcheck >/dev/null; then
	mkdir -p "$TMP/scbin" "$TMP/sc"
	cat >"$TMP/scbin/shellcheck" <<EOF
#!/bin/bash
for a; do [ -f "\$a" ] && cp "\$a" "$TMP/sc/\$(ls "$TMP/sc" | wc -l).sh"; done
if [ -n "\${SC_FAIL:-}" ] && grep -q DWPID "\${@: -1}"; then
	echo "\${@: -1}:3:1: warning: made up for the test [SC9999]"; exit 1
fi
exec $(command -v shellcheck) "\$@"
EOF
	chmod +x "$TMP/scbin/shellcheck"
	ok "lint runs shellcheck on the transport's program in its 5 modes, as sent" \
		'PATH="$TMP/scbin:$PATH" wiz 0 --chain "$top_srcdir/tests/chains/good" lint &&
		 out_has "^steps/remote-agent.sh: the SSH transport.s program, 5 modes checked with shellcheck" &&
		 [ "$(grep -l "^printf .DWPID" "$TMP"/sc/*.sh | wc -l)" -eq 5 ] &&
		 grep -q "dw_attach" $(grep -l "^printf .DWPID" "$TMP"/sc/*.sh)'
	ok "a shellcheck finding in it is a lint problem that names the file and the mode (exit 4)" \
		'SC_FAIL=1 PATH="$TMP/scbin:$PATH" wiz 4 --chain "$top_srcdir/tests/chains/good" lint &&
		 out_has "^steps/remote-agent.sh: the program of mode run, line 3:1: warning: made up" &&
		 out_has "5 problems"'
fi

ok "the work directory is an input" 'wiz 0 "${C[@]}" set work_dir "$work"'
ok "a bad target is a usage error" 'wiz 2 "${C[@]}" --target "host:99999" status && err_has "port from 1 to 65535"'
ok "an unknown host key is refused headless (exit 3), showing its fingerprint and the flag" \
	'wiz 3 "${C[@]}" "${T[@]}" run hello --yes && err_has "not known: ssh-ed25519 $fp_re" && err_has "accept-new-host-key" && [ ! -e "$KH" ] && [ ! -e "$work/hello" ]'
ok "--accept-new-host-key records the key (one line) and the step runs" \
	'wiz 0 "${C[@]}" "${T[@]}" --accept-new-host-key run hello --yes && cp "$TMP/out" "$TMP/hello.out" && [ "$(wc -l <"$KH")" -eq 1 ] && grep -q "^\[127.0.0.1\]:$SSHD_PORT ssh-ed25519 " "$KH" && out_has "hello is done"'
ok "the action and the check ran over SSH (they see SSH_CONNECTION)" \
	'grep -qE "action over ssh: 127\.0\.0\.1 [0-9]+ 127\.0\.0\.1 $SSHD_PORT" "$TMP/hello.out" && grep -qE "check over ssh: 127\.0\.0\.1 [0-9]+ 127\.0\.0\.1 $SSHD_PORT" "$TMP/hello.out" && [ -s "$work/hello" ]'
ok "a pre-flight ran before the first server step" 'grep -qE "pre-flight: ok +login" "$TMP/hello.out" && grep -qE "pre-flight: ok +sudo" "$TMP/hello.out"'
ok "the target is remembered: no --target needed, no new known_hosts line" \
	'wiz 0 "${C[@]}" check hello && out_has "check over ssh" && [ "$(wc -l <"$KH")" -eq 1 ] && grep -q "\"target\":.*127.0.0.1:$SSHD_PORT" "$XDG_STATE_HOME/dstack-wizard/default/state.json"'
ok "a long action runs supervised, under an id made of the step id and the time" \
	'wiz 0 "${C[@]}" run long --yes && out_has "stdout goes to $TMP/remote/long-[0-9]{8}T[0-9]{6}-[0-9]+-[0-9]+/out" && out_has "long is done"'

# A supervised action outlives a killed wizard, and the next run attaches to it (issue 16):
# slow records each start, then waits for the test's go file.
starts() { [ -f "$work/slow-starts" ] && wc -l <"$work/slow-starts" || echo 0; }
slow_copies() { pgrep -fc "dstack-wizard-supervisor $TMP/remote/slow-" || true; }
bg_run() {   # bg_run: the step in the background; wait for its start on the server
	"$WIZ" "${C[@]}" "${T[@]}" run slow --yes </dev/null >"$TMP/bg.out" 2>&1 &
	bgpid=$!
	for _ in $(seq 200); do [ "$(starts)" -ge "$1" ] && return 0; sleep 0.05; done
	echo "# the action did not start"; cat "$TMP/bg.out"; return 1
}
t_kill9() {
	bg_run 1 && kill -9 "$bgpid" && wait "$bgpid" 2>/dev/null
	grep -q '"job":[[:space:]]*"0:slow-' "$XDG_STATE_HOME/dstack-wizard/default/state.json" &&
		[ "$(slow_copies)" -eq 1 ] &&
		{ (sleep 1; touch "$work/slow-go") & } &&
		wiz 0 "${C[@]}" "${T[@]}" run slow --yes && out_has "attaching to it, not starting it again" &&
		out_has "slow went on" && out_has "slow is done" && [ "$(starts)" -eq 1 ] &&
		! grep -q '"job"' "$XDG_STATE_HOME/dstack-wizard/default/state.json"
}
ok "kill -9 during a supervised action: it goes on, and the next run attaches (one copy, done)" \
	t_kill9
t_sigterm() {
	rm -f "$work/slow" "$work/slow-go" "$work/slow-starts" && touch "$work/slow-fail" &&
		bg_run 1 && kill -TERM "$bgpid"; wait "$bgpid"; rc=$?
	[ "$rc" -eq 143 ] && grep -q "stopped by SIGTERM" "$TMP/bg.out" && [ "$(slow_copies)" -eq 1 ] &&
		wiz 0 "${C[@]}" status && out_has "goes on on the server" &&
		{ (sleep 1; touch "$work/slow-go") & } &&
		wiz 1 "${C[@]}" "${T[@]}" run slow --yes && out_has "attaching to it" &&
		out_has "exit status 7" && [ "$(starts)" -eq 1 ] && [ "$(slow_copies)" -eq 0 ]
}
ok "SIGTERM during a supervised action: the wizard leaves (143), the action's exit status comes with the next run" \
	t_sigterm
rm -f "$work/slow-fail"
ok "the transport refuses a command that holds a local-only secret" \
	'wiz 0 "${C[@]}" set note "not-for-the-server-42" && DSTACK_WIZARD_LOCAL_KEY=not-for-the-server-42 wiz 1 "${C[@]}" run leak --yes && out_has "refused: command would send a local-only secret to the server"'
ok "the same command goes out when that secret is not held" 'wiz 0 "${C[@]}" run leak --yes'

# A service bound only to the loopback, which logs who connected: the process that owns the
# client's socket (sshd, when the request came through the tunnel).
port=$(free_port)
mkdir -p "$TMP/www"
echo "hello through the tunnel" >"$TMP/www/hello.txt"
cat >"$TMP/httpd.py" <<'EOF'
import http.server, subprocess, sys, os
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        peer = self.client_address[1]
        who = subprocess.run(["ss", "-tnpH", "state", "established", "sport", "= :%d" % peer],
                             capture_output=True, text=True).stdout
        name = who.split('(("')[1].split('"')[0] if '(("' in who else "?"
        with open(sys.argv[2], "a") as f:
            f.write("%s %s from port %d owned by %s\n" % (self.command, self.path, peer, name))
os.chdir(sys.argv[3])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
ok "the web port is an input" 'wiz 0 "${C[@]}" set web_port "$port"'
ok "with nothing listening on the server's loopback, the web check fails" 'wiz 1 "${C[@]}" check web && out_has "nothing accepts connections on 127.0.0.1:$port"'
python3 "$TMP/httpd.py" "$port" "$TMP/access.log" "$TMP/www" >/dev/null 2>&1 &
pids+=($!)
wait_port "$port"
ok "the http probe of the server's loopback goes through the wizard's tunnel" \
	'wiz 0 "${C[@]}" check web && out_has "HTTP 200" && out_has "127.0.0.1:$port accepts connections \(on the server\)" && grep -q "server_request_direct_tcpip: originator 127.0.0.1 port [0-9]*, target 127.0.0.1 port $port" "$SSHD_LOG"'
ok "the request reached the service from sshd's side of the tunnel" \
	'grep -q "^GET /hello.txt from port [0-9]* owned by sshd" "$TMP/access.log"'
ok "with --target local the same probe goes direct" \
	'wiz 0 "${C[@]}" --target local check web && tail -n 1 "$TMP/access.log" | grep -q "owned by dstack-wizard"'

ok "preflight: every item checked, exit 0" \
	'wiz 0 "${C[@]}" preflight && out_has "ok +reachable" && out_has "ok +host-key: known \($fp_re\)" && out_has "ok +disk" && out_has "ready for the wizard"'
ok "preflight with a key the server does not accept: exit 1, with how to fix it" \
	'wiz 1 "${C[@]}" --identity "$SSHD_OTHER_KEY" preflight && out_has "FAIL login" && out_has "fix: add your public key"'
ok "the last pre-flight's result goes into the support bundle" \
	'wiz 0 "${C[@]}" bundle "$TMP/pf.tar.gz" && tar -xzOf "$TMP/pf.tar.gz" --wildcards "*/preflight.txt" >"$TMP/pf.txt" &&
	 grep -qE "^pre-flight of .*127\.0\.0\.1.*: failed$" "$TMP/pf.txt" && grep -q "FAIL login" "$TMP/pf.txt"'
ok "preflight without an SSH target is a usage error" 'wiz 2 "${C[@]}" --target local preflight && err_has "give --target"'
ssh-keygen -q -t ed25519 -N "" -C other -f "$TMP/other_host"
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$TMP/other_host.pub")" >"$TMP/kh_changed"
ok "a changed host key is refused plainly (exit 3), even with --accept-new-host-key" \
	'wiz 3 "${CH[@]}" --known-hosts "$TMP/kh_changed" --accept-new-host-key check hello && err_has "has CHANGED" && err_has "man-in-the-middle" && [ "$(wc -l <"$TMP/kh_changed")" -eq 1 ]'

# Targets as OpenSSH resolves them (ssh -G): a Host that only an Included file defines, a
# jump host (a second sshd on the loopback, ProxyJump), and no ssh at all. Each in a profile
# of its own, so the target remembered above stays.
mkdir -p "$TMP/ssh.d"
printf 'Host tdx\n\tHostName 127.0.0.1\n\tPort %s\n\tUser %s\n' "$SSHD_PORT" "$SSHD_USER" \
	>"$TMP/ssh.d/tdx.conf"
printf 'Include %s/ssh.d/*.conf\nHost *\n\tPort 1\n\tUser nobody-here\n' "$TMP" >"$TMP/ssh_config"
CI=(--chain "$top_srcdir/tests/chains/ssh" --identity "$SSHD_USER_KEY" --known-hosts "$KH"
	--ssh-config "$TMP/ssh_config")
ok "a Host defined in an Included file resolves to its port and user (ssh -G)" \
	'wiz 0 "${CI[@]}" --profile inc set work_dir "$work" && wiz 0 "${CI[@]}" --profile inc --target tdx check hello && out_has "check over ssh: $SSH_RE" && out_has "login: logged in as $SSHD_USER"'
ok "with --ssh-config none, tdx is just a name, which does not resolve (exit 1)" \
	'wiz 1 "${C[@]}" --profile inc --target tdx check hello && grep -q "cannot resolve tdx" "$TMP/out" "$TMP/err"'

if SSHD_LOGLEVEL=DEBUG1 SSHD_WATCH_PID=$$ bash "$top_srcdir/tests/lib/sshd.sh" start "$TMP/jump" \
	>"$TMP/jump-start.log" 2>&1; then
	jv() { (. "$TMP/jump/sshd.env" && eval "printf '%s\n' \"\$$1\""); }
	printf 'Host viajump\n\tHostName 127.0.0.1\n\tPort %s\n\tUser %s\n\tProxyJump jumphost\n' \
		"$SSHD_PORT" "$SSHD_USER" >"$TMP/jump_config"
	printf 'Host jumphost\n\tHostName 127.0.0.1\n\tPort %s\n\tIdentityFile %s\n\tUserKnownHostsFile %s\n' \
		"$(jv SSHD_PORT)" "$(jv SSHD_USER_KEY)" "$(jv SSHD_KNOWN_HOSTS)" >>"$TMP/jump_config"
	CJ=(--chain "$top_srcdir/tests/chains/ssh" --identity "$SSHD_USER_KEY" --known-hosts "$KH"
		--ssh-config "$TMP/jump_config" --profile jump)
	wiz 0 "${CJ[@]}" set work_dir "$work"
	t0=$(date +%s%N)
	ok "through a jump host (ProxyJump): the jump sshd forwards to the target, the check runs there" \
		'wiz 0 "${CJ[@]}" --target viajump check hello && out_has "check over ssh: $SSH_RE" &&
		 grep -qE "server_request_direct_tcpip: originator 127\.0\.0\.1 port [0-9]+, target 127\.0\.0\.1 port $SSHD_PORT([^0-9]|$)" "$(jv SSHD_LOG)"'
	t1=$(date +%s%N)
	wiz 0 "${C[@]}" check hello
	t2=$(date +%s%N)
	echo "# dstack-wizard check hello: $(((t1 - t0) / 1000000)) ms through the jump host, $(((t2 - t1) / 1000000)) ms direct"
	bash "$top_srcdir/tests/lib/sshd.sh" stop "$TMP/jump"
	ok "with the jump sshd stopped the target is not reached, and ssh's own words say why" \
		'wiz 1 "${CJ[@]}" check hello && grep -q "through ProxyJump jumphost, which said: .*Connection refused" "$TMP/out" "$TMP/err" &&
		 wiz 1 "${CJ[@]}" preflight && out_has "fix: check that ssh -J jumphost reaches port $SSHD_PORT of 127\.0\.0\.1" &&
		 wiz 0 "${C[@]}" check hello'
else
	for t in "through a jump host" "jump sshd stopped"; do
		n=$((n + 1))
		echo "ok $n - $t # SKIP no second sshd: $(head -n 1 "$TMP/jump-start.log")"
	done
fi

mkdir -p "$TMP/no-ssh"
ok "without ssh, a config cannot be asked: exit 2, saying so and what to do" \
	'PATH="$TMP/no-ssh" wiz 2 "${CI[@]}" --profile inc --target tdx list && err_has "ssh \(OpenSSH.s client\) is not installed" && err_has "--ssh-config none"'
ok "without ssh, --ssh-config none takes the target as it is written" \
	'PATH="$TMP/no-ssh" wiz 0 "${C[@]}" --profile plain --target "$SSHD_USER@127.0.0.1:$SSHD_PORT" list'

# Headless on a terminal (tmux): the host-key question and the passphrase, on /dev/tty.
if command -v tmux >/dev/null; then
	tm() { tmux -L "dw-ssh-$$" "$@"; }
	screen_has() {
		for _ in $(seq 100); do
			tm capture-pane -p -t q 2>/dev/null | grep -qE -- "$1" && return 0
			sleep 0.1
		done
		tm capture-pane -p -t q 2>/dev/null | sed 's/^/# screen: /'
		return 1
	}
	tty_exit() {
		for _ in $(seq 100); do
			grep -q "^exit" "$TMP/tty.out" && break
			sleep 0.1
		done
		grep -q "^exit 0" "$TMP/tty.out"
	}
	printf '%q ' "$WIZ" "${CH[@]}" --identity "$SSHD_ENC_KEY" --known-hosts "$TMP/kh_tty" \
	    check hello >"$TMP/tty.sh"
	printf '>%q 2>&1; echo "exit $?" >>%q; sleep 60\n' "$TMP/tty.out" "$TMP/tty.out" >>"$TMP/tty.sh"
	tm new-session -d -s q -x 150 -y 40 "bash $TMP/tty.sh"
	ok "on a terminal the host key is asked for on /dev/tty, with type and fingerprint" \
		'screen_has "Trust this host" && screen_has "ssh-ed25519 $fp_re" && tm send-keys -t q y Enter'
	ok "an encrypted key's passphrase is asked for on /dev/tty, masked" \
		'screen_has "Passphrase for .*user_enc \(input hidden\)" && tm send-keys -t q -l "$SSHD_PASSPHRASE" && tm send-keys -t q Enter && tty_exit && grep -q "hello is done" "$TMP/tty.out" && ! tm capture-pane -p -t q | grep -qF "$SSHD_PASSPHRASE" && [ "$(wc -l <"$TMP/kh_tty")" -eq 1 ]'
	tm kill-server 2>/dev/null
else
	for t in "host key asked on a terminal" "passphrase asked, masked"; do
		n=$((n + 1))
		echo "ok $n - $t # SKIP no tmux"
	done
fi

# contract_code: a local Ethereum node (ganache, installed by make check from tests/eth).
G="$top_builddir/tests/eth/node_modules/.bin/ganache"
if [ -x "$G" ] && command -v node >/dev/null; then
	gport=$(free_port)
	"$G" --chain.chainId 1337 --server.host 127.0.0.1 --server.port "$gport" --logging.quiet \
	    --wallet.totalAccounts 2 </dev/null >/dev/null 2>"$TMP/ganache.log" &
	pids+=($!)
	rpc() {
		curl -s -H 'Content-Type: application/json' \
		    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "http://127.0.0.1:$gport"
	}
	field() { python3 -c "import json,sys; r=json.load(sys.stdin)['result']; print($1)"; }
	for _ in $(seq 300); do rpc eth_chainId '[]' 2>/dev/null | grep -q result && break; sleep 0.1; done
	a0=$(rpc eth_accounts '[]' | field 'r[0]')
	tx=$(rpc eth_sendTransaction "[{\"from\":\"$a0\",\"data\":\"0x69602a60005260206000f3600052600a6016f3\",\"gas\":\"0x30000\"}]" | field r)
	contract=$(rpc eth_getTransactionReceipt "[\"$tx\"]" | field "r['contractAddress']")
	export DSTACK_WIZARD_ETH_RPC_URL="http://127.0.0.1:$gport"
	ok "an address without code keeps the gate shut, and why says so" \
		'wiz 0 "${C[@]}" set kms_contract_address 0x000000000000000000000000000000000000dEaD && wiz 3 "${C[@]}" why contract && out_has "kms_contract_address: no contract at this address on chain 1337"'
	ok "run is refused with the same reason" 'wiz 3 "${C[@]}" run contract --yes && err_has "no contract at this address on chain 1337"'
	ok "without the RPC URL the step does not run unchecked: it asks for eth_rpc_url" \
		'(unset DSTACK_WIZARD_ETH_RPC_URL; wiz 0 "${C[@]}" why contract && out_has "it will ask for the secret eth_rpc_url" && wiz 3 "${C[@]}" run contract --yes && err_has "contract needs the secret eth_rpc_url") && ! grep -q "contract at 0x" "$TMP/out"'
	ok "status shows the gate shut" 'wiz 0 "${C[@]}" status --json && out_has "no contract at this address on chain 1337"'
	ok "the deployed contract's address opens the gate" \
		'[ -n "$contract" ] && wiz 0 "${C[@]}" set kms_contract_address "$contract" && wiz 0 "${C[@]}" why contract && out_has "contract can run" && wiz 0 "${C[@]}" run contract --yes && out_has "contract is done"'
	ok "an unreachable RPC endpoint keeps the gate shut too" \
		'DSTACK_WIZARD_ETH_RPC_URL="http://127.0.0.1:$(free_port)" wiz 3 "${C[@]}" why contract && out_has "cannot check for contract code"'
else
	for t in "no code keeps the gate shut" "run refused" "no RPC URL" "status" "code opens the gate" "unreachable RPC"; do
		n=$((n + 1))
		echo "ok $n - contract_code: $t # SKIP ganache is not installed (npm ci of tests/eth)"
	done
fi
done_testing
