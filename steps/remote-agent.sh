# shellcheck shell=bash
# remote-agent.sh: the program the SSH transport (steps/ssh-job.c) sends to the server on each
# channel's stdin. The build embeds it (steps/remote-agent.c, made by Makefile.am) and
# `dstack-wizard lint` runs shellcheck on it.
#
# The exec request, the only thing in the remote command line, reads a program (its length,
# then exactly that many bytes) from stdin and evals it. That program is the part "common"
# below, then the part of the mode ("dirs" first for every mode but run). The common part
# announces the process group on stderr ("DWPID <pid>", taken out of the stream by the
# transport) and reads the request: mode, script, cwd, id, base dir (fields are "LENGTH\n"
# then exactly LENGTH bytes), stdin flag, two offsets, the environment. "signal" comes before
# the part of kill and killpg. The modes:
#   run     cd, export the environment, exec bash -c SCRIPT with the rest of stdin
#   sup     start SCRIPT under a supervisor in DIR/<id> unless that directory exists, then
#           stream DIR/<id>/out and err from the given offsets until the supervisor is
#           gone, and exit with the recorded status
#   kill    TERM the supervised command's process group, KILL after the grace (SCRIPT = ms)
#   killpg  the same for the process group given as the id
#   rm      remove DIR/<id>
# Names start with dw_ (the transport refuses environment names that do). Only the mode's
# part is sent, so a plain command's program stays short (bash reads it byte by byte).
#
# A line "#@part NAME" starts a part. The build drops empty lines and comment lines from the
# parts it embeds (it keeps shellcheck directives, for lint checks each mode's program as it
# is sent), so no comment may stand inside a quoted string that spans lines. Errors
# of the program itself are one line "dstack-wizard-error: ..." on stderr (SSH_BOOT_ERR).

#@part common
printf 'DWPID %s\n' "$$" >&2
dw_s=${LC_ALL+x}; dw_o=${LC_ALL-}; LC_ALL=C
dw_fail() { printf '\ndstack-wizard-error: %s\n' "$1" >&2; exit "${2:-125}"; }
dw_n() { IFS= read -r dw_v || dw_fail 'truncated request'
	case $dw_v in ''|*[!0-9]*) dw_fail 'bad request';; esac; }
dw_f() { dw_n; if [ "$dw_v" -gt 0 ]; then
	IFS= read -r -N "$dw_v" dw_v || dw_fail 'truncated request'; else dw_v=; fi; }
# shellcheck disable=SC2034 # every mode reads every field, and uses some
{ dw_f; dw_mode=$dw_v; dw_f; dw_script=$dw_v; dw_f; dw_cwd=$dw_v; dw_f; dw_id=$dw_v
dw_f; dw_base=$dw_v; dw_n; dw_in=$dw_v; dw_n; dw_oo=$dw_v; dw_n; dw_eo=$dw_v; }
dw_n; dw_ne=$dw_v; dw_env=()
while [ "$dw_ne" -gt 0 ]; do dw_f; dw_env+=("$dw_v"); dw_ne=$((dw_ne - 1)); done
if [ -n "$dw_s" ]; then LC_ALL=$dw_o; else unset LC_ALL; fi
unset dw_s dw_o n p
# Functions of the common part that some modes do not call (SC2317).
# shellcheck disable=SC2088,SC2317 # the tilde is meant literally: it is expanded here
dw_home() { case $1 in '~') dw_v=$HOME;; '~/'*) dw_v=$HOME/${1#'~/'};; *) dw_v=$1;; esac; }
# shellcheck disable=SC2163,SC2317 # the values are NAME=VALUE
dw_export() { for dw_v in "${dw_env[@]}"; do
	export -- "$dw_v" || dw_fail 'cannot set the environment'; done; unset dw_v dw_env; }

#@part dirs
# shellcheck disable=SC2034,SC2317 # killpg does not call it
dw_dir() {
	case $dw_id in ''|*/*|.|..) dw_fail 'bad id' 255;; esac
	dw_home "${dw_base:-${XDG_CACHE_HOME:-$HOME/.cache}/dstack-wizard}"
	dw_b=$dw_v; dw_d=$dw_b/$dw_id; }

#@part signal
dw_killpg() {
	dw_g=$(( (${dw_script:-0} + 99) / 100 ))
	if [ "$dw_g" -gt 0 ]; then
		kill -TERM -- "-$dw_p" 2>/dev/null || exit 0
		kill -CONT -- "-$dw_p" 2>/dev/null
		while [ "$dw_g" -gt 0 ]; do
			kill -0 -- "-$dw_p" 2>/dev/null || exit 0
			sleep 0.1; dw_g=$((dw_g - 1))
		done
	fi
	kill -KILL -- "-$dw_p" 2>/dev/null; exit 0
}

#@part run
dw_home "${dw_cwd:-~}"; cd -- "$dw_v" 2>/dev/null || dw_fail "cannot change to directory $dw_v"
dw_export
if [ "$dw_in" = 1 ]; then exec bash -c "$dw_script"; else exec bash -c "$dw_script" </dev/null; fi

#@part sup
# shellcheck disable=SC2016 # the supervisor's script, expanded by the bash that runs it
dw_sup='d=$1
echo $$ >"$d/wpid.t" && mv -f "$d/wpid.t" "$d/wpid"
exec 3<&0 </dev/null
setsid bash -c "$2" <&3 3<&- >>"$d/out" 2>>"$d/err" & c=$!
exec 3<&-
echo "$c" >"$d/pid.t" && mv -f "$d/pid.t" "$d/pid"
wait "$c"; r=$?
echo "$r" >"$d/status.t" && mv -f "$d/status.t" "$d/status"'
dw_attach() {
	dw_i=0
	while [ ! -s "$dw_d/wpid" ]; do
		dw_i=$((dw_i + 1))
		[ "$dw_i" -le 200 ] || dw_fail "the supervisor of $dw_id did not start" 255
		sleep 0.05
	done
	dw_w=$(cat "$dw_d/wpid"); dw_fl=-f
	if [ ! -e "$dw_d/status" ] && [ -r /proc/sys/kernel/random/boot_id ] &&
	    [ "$(cat "$dw_d/boot" 2>/dev/null)" != "$(cat /proc/sys/kernel/random/boot_id)" ]; then
		dw_fl=
	fi
	if [ -n "$dw_fl" ]; then
		tail -c +$((dw_oo + 1)) -s 0.2 --pid="$dw_w" -f -- "$dw_d/out" & dw_t1=$!
		tail -c +$((dw_eo + 1)) -s 0.2 --pid="$dw_w" -f -- "$dw_d/err" >&2 & dw_t2=$!
	else
		tail -c +$((dw_oo + 1)) -- "$dw_d/out" & dw_t1=$!
		tail -c +$((dw_eo + 1)) -- "$dw_d/err" >&2 & dw_t2=$!
	fi
	wait "$dw_t1"; wait "$dw_t2"
	if [ -s "$dw_d/status" ]; then exit "$(cat "$dw_d/status")"; fi
	dw_fail "the supervised command $dw_id ended without an exit status (killed, or the server rebooted)" 255
}
dw_dir; umask 077
mkdir -p -- "$dw_b" || dw_fail "cannot create $dw_b" 255
if mkdir -- "$dw_d" 2>/dev/null; then
	if [ "$dw_oo" != 0 ] || [ "$dw_eo" != 0 ]; then
		rmdir -- "$dw_d"
		dw_fail "the supervised command $dw_id is gone from the server ($dw_d was removed)" 255
	fi
	dw_home "${dw_cwd:-~}"
	if ! cd -- "$dw_v" 2>/dev/null; then
		rm -rf -- "$dw_d"; dw_fail "cannot change to directory $dw_v" 255
	fi
	: >"$dw_d/out"; : >"$dw_d/err"
	cat /proc/sys/kernel/random/boot_id >"$dw_d/boot" 2>/dev/null
	if [ "$dw_in" = 1 ]; then exec 3<&0; else exec 3</dev/null; fi
	( dw_export; exec setsid bash -c "$dw_sup" dstack-wizard-supervisor "$dw_d" "$dw_script" \
	    <&3 3<&- >/dev/null 2>&1 ) &
	exec 3<&- </dev/null
else
	exec </dev/null
fi
dw_attach

#@part kill
dw_dir; [ -d "$dw_d" ] || exit 0
dw_i=0
while [ ! -s "$dw_d/pid" ]; do
	[ -e "$dw_d/status" ] && exit 0
	dw_i=$((dw_i + 1)); [ "$dw_i" -le 100 ] || exit 0
	sleep 0.05
done
dw_p=$(cat "$dw_d/pid"); dw_killpg

#@part killpg
dw_p=$dw_id; case $dw_p in ''|*[!0-9]*) exit 1;; esac; dw_killpg

#@part rm
dw_dir; rm -rf -- "$dw_d"
