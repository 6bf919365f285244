# shellcheck shell=bash
# sshd.sh: a throwaway OpenSSH sshd on 127.0.0.1 for tests, the bench and the demo host.
#
# Source it and call the functions:
#     . "$top_srcdir/tests/lib/sshd.sh"
#     sshd_start "$dir" || exit 1      # dir: an empty temporary directory, yours to remove
#     ssh -F /dev/null -p "$SSHD_PORT" -i "$SSHD_USER_KEY" \
#         -o UserKnownHostsFile="$SSHD_KNOWN_HOSTS" "$SSHD_USER@127.0.0.1" true
#     sshd_stop
# or run it as a program (what the C tests do):
#     bash sshd.sh start DIR    start, and write DIR/sshd.env (NAME=VALUE lines, sourceable)
#     bash sshd.sh stop DIR     stop the sshd started in DIR
#     bash sshd.sh drop DIR     kill the sshd processes serving connections (a dropped
#                               connection); the listener stays, so clients can reconnect
# Several run at once, one per DIR, each with its own port and keys (a second one is the jump
# host of the ProxyJump tests: started as a program, its variables read from its sshd.env).
#
# Variables set by sshd_start (and written to DIR/sshd.env):
#   SSHD_DIR          the directory holding everything below
#   SSHD_PORT         the port on 127.0.0.1 (a free high port, found by trying)
#   SSHD_PID          the listening sshd
#   SSHD_USER         the login user: the current user (root in CI)
#   SSHD_LOG          sshd's log (LogLevel VERBOSE)
#   SSHD_HOST_PUB     the host's ed25519 public key file
#   SSHD_KNOWN_HOSTS  a known_hosts file holding that key for [127.0.0.1]:PORT
#   SSHD_USER_KEY     an authorized ed25519 key (OpenSSH format, no passphrase)
#   SSHD_ENC_KEY      an authorized ed25519 key (OpenSSH format) encrypted with SSHD_PASSPHRASE
#   SSHD_PEM_KEY      an authorized ECDSA key in PEM format, encrypted with SSHD_PASSPHRASE
#   SSHD_RSA_KEY      an authorized RSA key (refused by OpenSSH >= 8.8 when signed with SHA-1)
#   SSHD_OTHER_KEY    an ed25519 key that is NOT authorized
#   SSHD_PASSPHRASE   the passphrase of the encrypted keys
#
# Settings (environment, before sshd_start):
#   SSHD_LOGLEVEL     sshd's LogLevel (default VERBOSE; DEBUG3 to see everything)
#   SSHD_WATCH_PID    if set, sshd is stopped as soon as this process is gone (a crashed test
#                     cannot leave a daemon behind)
#
# The login user's ~/.bashrc is not read by the session's shell (SetEnv SHLVL=1: Debian's
# bash reads it for ssh commands otherwise), so a slow rc file does not slow every command.
#
# Works as root (PermitRootLogin prohibit-password; /run/sshd is created for privilege
# separation) and as an ordinary user (who can only log in as themselves). Loopback only.

# The sshd program (absolute: sshd re-executes itself).
sshd_program() {
	local p
	p=$(command -v sshd 2>/dev/null) || p=/usr/sbin/sshd
	case $p in /*) ;; *) p=/usr/sbin/sshd ;; esac
	echo "$p"
}

# Is something listening on 127.0.0.1:$1?
sshd_port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Make the keys, the authorized_keys file and the config for port $2 in directory $1.
sshd_prepare() {
	local dir=$1
	rm -f "$dir"/host_ed25519* "$dir"/user_* "$dir/authorized_keys"
	ssh-keygen -q -t ed25519 -N '' -C sshd-test-host -f "$dir/host_ed25519" || return 1
	ssh-keygen -q -t ed25519 -N '' -C sshd-test-user -f "$dir/user_ed25519" || return 1
	ssh-keygen -q -t ed25519 -N "$SSHD_PASSPHRASE" -C sshd-test-enc -f "$dir/user_enc" || return 1
	ssh-keygen -q -t ecdsa -b 256 -m PEM -N "$SSHD_PASSPHRASE" -C sshd-test-pem \
	    -f "$dir/user_pem" || return 1
	ssh-keygen -q -t rsa -b 2048 -N '' -C sshd-test-rsa -f "$dir/user_rsa" || return 1
	ssh-keygen -q -t ed25519 -N '' -C sshd-test-other -f "$dir/user_other" || return 1
	cat "$dir/user_ed25519.pub" "$dir/user_enc.pub" "$dir/user_pem.pub" "$dir/user_rsa.pub" \
	    >"$dir/authorized_keys"
	chmod 600 "$dir/authorized_keys"
}

# Write the sshd config for port $2 in directory $1.
sshd_config() {
	local dir=$1 port=$2
	cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
LogLevel ${SSHD_LOGLEVEL:-VERBOSE}
PrintMotd no
UseDNS no
MaxStartups 100:30:200
MaxSessions 10
# bash run by sshd reads ~/.bashrc unless SHLVL says it is nested: keep the machine
# user's (possibly slow) rc file out of every test command.
SetEnv SHLVL=1
EOF
}

# Start sshd in directory $1 (created if missing). Sets the SSHD_* variables.
sshd_start() {
	local dir=$1 sshd port try i
	mkdir -p "$dir" || return 1
	SSHD_DIR=$(cd "$dir" && pwd) || return 1
	SSHD_PASSPHRASE=${SSHD_PASSPHRASE:-correct horse battery}
	SSHD_USER=$(id -un)
	SSHD_LOG=$SSHD_DIR/sshd.log
	sshd=$(sshd_program)
	[ -x "$sshd" ] || { echo "sshd_start: no sshd (install openssh-server)" >&2; return 1; }
	if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd && chmod 0755 /run/sshd
	fi
	sshd_prepare "$SSHD_DIR" || { echo "sshd_start: ssh-keygen failed" >&2; return 1; }
	for try in 1 2 3 4 5 6 7 8 9 10; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		sshd_port_busy "$port" && continue
		sshd_config "$SSHD_DIR" "$port"
		: >"$SSHD_LOG"
		"$sshd" -D -f "$SSHD_DIR/sshd_config" -E "$SSHD_LOG" </dev/null >/dev/null 2>&1 &
		SSHD_PID=$!
		for i in $(seq 1 100); do
			if ! kill -0 "$SSHD_PID" 2>/dev/null; then
				break   # exited: the bind failed, or a bad config
			fi
			if sshd_port_busy "$port" && grep -q 'Server listening' "$SSHD_LOG"; then
				SSHD_PORT=$port
				sshd_finish_start
				return 0
			fi
			sleep 0.05
		done
		kill "$SSHD_PID" 2>/dev/null
		wait "$SSHD_PID" 2>/dev/null
		grep -qi 'bind\|address already in use' "$SSHD_LOG" || break
	done
	echo "sshd_start: sshd did not start; its log:" >&2
	sed 's/^/  /' "$SSHD_LOG" >&2
	return 1
}

# Export the variables, write sshd.env and start the watcher.
sshd_finish_start() {
	SSHD_HOST_PUB=$SSHD_DIR/host_ed25519.pub
	SSHD_KNOWN_HOSTS=$SSHD_DIR/known_hosts
	SSHD_USER_KEY=$SSHD_DIR/user_ed25519
	SSHD_ENC_KEY=$SSHD_DIR/user_enc
	SSHD_PEM_KEY=$SSHD_DIR/user_pem
	SSHD_RSA_KEY=$SSHD_DIR/user_rsa
	SSHD_OTHER_KEY=$SSHD_DIR/user_other
	printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$SSHD_HOST_PUB")" \
	    >"$SSHD_KNOWN_HOSTS"
	export SSHD_DIR SSHD_PORT SSHD_PID SSHD_USER SSHD_LOG SSHD_HOST_PUB SSHD_KNOWN_HOSTS \
	    SSHD_USER_KEY SSHD_ENC_KEY SSHD_PEM_KEY SSHD_RSA_KEY SSHD_OTHER_KEY SSHD_PASSPHRASE
	{
		local v
		for v in SSHD_DIR SSHD_PORT SSHD_PID SSHD_USER SSHD_LOG SSHD_HOST_PUB \
		    SSHD_KNOWN_HOSTS SSHD_USER_KEY SSHD_ENC_KEY SSHD_PEM_KEY SSHD_RSA_KEY \
		    SSHD_OTHER_KEY SSHD_PASSPHRASE; do
			printf '%s=%q\n' "$v" "${!v}"
		done
	} >"$SSHD_DIR/sshd.env"
	if [ -n "${SSHD_WATCH_PID:-}" ]; then
		(
			trap '' HUP
			while kill -0 "$SSHD_WATCH_PID" 2>/dev/null && kill -0 "$SSHD_PID" 2>/dev/null; do
				sleep 1
			done
			sshd_drop
			kill "$SSHD_PID" 2>/dev/null
		) </dev/null >/dev/null 2>&1 &
		echo "SSHD_WATCHER=$!" >>"$SSHD_DIR/sshd.env"
	fi
}

# The pids of the sshd processes below the listener (the ones serving connections).
sshd_children() {
	local stat pid ppid comm rest queue=" $SSHD_PID " found=1
	# Walk the process tree breadth-first: a child of a listed pid is listed too.
	while [ "$found" -eq 1 ]; do
		found=0
		for stat in /proc/[0-9]*/stat; do
			read -r pid comm rest 2>/dev/null <"$stat" || continue
			ppid=$(set -- $rest; echo "$2")
			case $queue in *" $pid "*) continue ;; esac
			case $queue in *" $ppid "*) ;; *) continue ;; esac
			[ "$comm" = "(sshd)" ] || continue
			queue="$queue$pid "
			found=1
		done
	done
	for pid in $queue; do
		[ "$pid" = "$SSHD_PID" ] || echo "$pid"
	done
}

# Drop every connection: kill the sshd processes serving them (SIGKILL, by pid). The
# processes started in the sessions keep running (they are not sshd).
sshd_drop() {
	local pid
	[ -n "${SSHD_PID:-}" ] || return 0
	for pid in $(sshd_children); do
		kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

# Stop the sshd started by sshd_start, and its connections.
sshd_stop() {
	[ -n "${SSHD_PID:-}" ] || return 0
	sshd_drop
	kill "$SSHD_PID" 2>/dev/null
	wait "$SSHD_PID" 2>/dev/null
	if kill -0 "$SSHD_PID" 2>/dev/null; then
		sleep 0.2
		kill -KILL "$SSHD_PID" 2>/dev/null
	fi
	if [ -n "${SSHD_WATCHER:-}" ]; then
		kill "$SSHD_WATCHER" 2>/dev/null
	fi
	SSHD_PID=
}

# Run as a program: sshd.sh start|stop|drop DIR.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	start)
		[ -n "${2:-}" ] || { echo "usage: $0 start DIR" >&2; exit 2; }
		sshd_start "$2" || exit 1
		;;
	stop|drop)
		[ -n "${2:-}" ] && [ -r "$2/sshd.env" ] || { echo "$0: no sshd.env in ${2:-?}" >&2; exit 2; }
		# shellcheck disable=SC1091
		. "$2/sshd.env"
		if [ "$1" = stop ]; then
			# Not our child here: wait by polling.
			sshd_drop
			kill "$SSHD_PID" 2>/dev/null
			for _ in $(seq 1 40); do
				kill -0 "$SSHD_PID" 2>/dev/null || break
				sleep 0.05
			done
			kill -KILL "$SSHD_PID" 2>/dev/null
			[ -n "${SSHD_WATCHER:-}" ] && kill "$SSHD_WATCHER" 2>/dev/null
		else
			sshd_drop
		fi
		;;
	*)
		echo "usage: $0 start|stop|drop DIR" >&2
		exit 2
		;;
	esac
	exit 0
fi
