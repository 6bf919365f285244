/*
 * transport-ssh.c: commands on a server over one libssh2 session, driven by the loop.
 *
 * A connection walks resolve (getaddrinfo_a, polled from a timer) -> TCP connect
 * (non-blocking, TCP_NODELAY, TCP keepalive) -> SSH handshake (host key types already in
 * known_hosts preferred) -> host key check (MATCH goes on, NOTFOUND asks or refuses, a changed
 * key is refused) -> authentication (ssh-agent, then key files, asking for passphrases) ->
 * ready. Every libssh2 call is non-blocking: EAGAIN and libssh2_session_block_directions()
 * choose the events the loop watches.
 *
 * Jobs are queued, then each gets a channel (at most max_channels at once; one channel
 * open at a time, as libssh2 keeps the open state per session) and an exec of a fixed reader;
 * the job's program, environment and stdin travel on the channel's stdin (see ssh.h). The
 * pump reads stdout and stderr of every channel each turn, since libssh2 buffers packets of
 * all channels whenever any of them reads.
 *
 * libssh2 1.10 sends one packet at a time: when a call leaves a packet half sent (EAGAIN with
 * the OUTBOUND direction), the same call must be repeated before any other call may send,
 * or the other call fails with LIBSSH2_ERROR_BAD_USE. The connection remembers that call as
 * the "owner" and retries it first; everything else waits until it went out.
 *
 * Tunnels (ssh_tunnel_open) are jobs too: each connection accepted on the tunnel's listening
 * socket on 127.0.0.1 becomes a JK_TUNNEL job whose channel is a direct-tcpip one instead of
 * an exec, pumped with the others; its local socket is watched by the loop for what the job
 * can take (POLLIN while its buffer toward the server is empty, POLLOUT while bytes wait).
 *
 * End callbacks and job frees never happen inside the pump: the pump only marks jobs, and
 * settle() (at the end of every loop callback) calls the end callbacks and frees jobs whose
 * channel is gone. A lost connection fails running jobs ("connection lost"), keeps
 * supervised ones for re-attaching, and reconnects with backoff while anything needs it.
 */
#include "config.h"

#include "ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <unistd.h>

#include <libssh2.h>

#include "loop.h"
#include "util.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)				\
	for ((var) = TAILQ_FIRST(head);						\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);		\
	    (var) = (tvar))
#endif

#define SSH_CONNECT_TIMEOUT_MS 20000
#define SSH_KEEPALIVE_S 15
#define SSH_RECONNECT_MS 600000
#define SSH_MAX_CHANNELS 8
#define SSH_INTERNAL_EXTRA 2         /* cancel / cleanup channels beyond max_channels */
#define SSH_RESOLVE_POLL_MS 10
#define SSH_READ_SIZE 65536
#define SSH_READS_PER_STEP 16
#define SSH_WRITE_CHUNK 16384        /* at most one SSH packet per write call */
#define SSH_PUMP_ROUNDS 64
#define SSH_FORCE_CLOSE_MS 3000      /* after the KILL signal, close the channel */
#define SSH_ERRTAIL 1024
#define SSH_MAX_PASS_TRIES 3
#define SSH_BOOT_ERR "dstack-wizard-error: "

/*
 * The exec request, the only thing in the remote command line: read a program (its length,
 * then exactly that many bytes, in the C locale so lengths are bytes) from stdin and run it.
 * A bash login shell runs it itself; any other shell starts bash for it.
 */
#define SSH_READER "LC_ALL=C IFS= read -r n && LC_ALL=C IFS= read -r -N \"$n\" p && eval \"$p\""
static const char ssh_boot_cmd[] =
    "if [ -z \"${BASH_VERSION-}\" ]; then exec bash -c '" SSH_READER "'; fi; " SSH_READER;

/*
 * The program sent on stdin: a common part, then the part of the mode. The common part
 * announces the process group on stderr ("DWPID <pid>", taken out of the stream by the
 * transport) and reads the request: mode, script, cwd, id, base dir (fields are "LENGTH\n"
 * then exactly LENGTH bytes), stdin flag, two offsets, the environment. The modes:
 *   run     cd, export the environment, exec bash -c SCRIPT with the rest of stdin
 *   sup     start SCRIPT under a supervisor in DIR/<id> unless that directory exists, then
 *           stream DIR/<id>/out and err from the given offsets until the supervisor is
 *           gone, and exit with the recorded status
 *   kill    TERM the supervised command's process group, KILL after the grace (SCRIPT = ms)
 *   killpg  the same for the process group given as the id
 *   rm      remove DIR/<id>
 * Names start with dw_ (the transport refuses environment names that do). Only the mode's
 * part is sent, so a plain command's program stays short (bash reads it byte by byte).
 */
static const char ssh_prog_common[] =
"printf 'DWPID %s\\n' \"$$\" >&2\n"
"dw_s=${LC_ALL+x}; dw_o=${LC_ALL-}; LC_ALL=C\n"
"dw_fail() { printf '\\n" SSH_BOOT_ERR "%s\\n' \"$1\" >&2; exit \"${2:-125}\"; }\n"
"dw_n() { IFS= read -r dw_v || dw_fail 'truncated request'\n"
"	case $dw_v in ''|*[!0-9]*) dw_fail 'bad request';; esac; }\n"
"dw_f() { dw_n; if [ \"$dw_v\" -gt 0 ]; then\n"
"	IFS= read -r -N \"$dw_v\" dw_v || dw_fail 'truncated request'; else dw_v=; fi; }\n"
"dw_f; dw_mode=$dw_v; dw_f; dw_script=$dw_v; dw_f; dw_cwd=$dw_v; dw_f; dw_id=$dw_v\n"
"dw_f; dw_base=$dw_v; dw_n; dw_in=$dw_v; dw_n; dw_oo=$dw_v; dw_n; dw_eo=$dw_v\n"
"dw_n; dw_ne=$dw_v; dw_env=()\n"
"while [ \"$dw_ne\" -gt 0 ]; do dw_f; dw_env+=(\"$dw_v\"); dw_ne=$((dw_ne - 1)); done\n"
"if [ -n \"$dw_s\" ]; then LC_ALL=$dw_o; else unset LC_ALL; fi\n"
"unset dw_s dw_o n p\n"
"dw_home() { case $1 in '~') dw_v=$HOME;; '~/'*) dw_v=$HOME/${1#'~/'};; *) dw_v=$1;; esac; }\n"
"dw_export() { for dw_v in \"${dw_env[@]}\"; do\n"
"	export -- \"$dw_v\" || dw_fail 'cannot set the environment'; done; unset dw_v dw_env; }\n";

/* Helpers of every mode but run. */
static const char ssh_prog_dirs[] =
"dw_dir() {\n"
"	case $dw_id in ''|*/*|.|..) dw_fail 'bad id' 255;; esac\n"
"	dw_home \"${dw_base:-${XDG_CACHE_HOME:-$HOME/.cache}/dstack-wizard}\"\n"
"	dw_b=$dw_v; dw_d=$dw_b/$dw_id; }\n"
"dw_killpg() {\n"
"	dw_g=$(( (${dw_script:-0} + 99) / 100 ))\n"
"	if [ \"$dw_g\" -gt 0 ]; then\n"
"		kill -TERM -- \"-$dw_p\" 2>/dev/null || exit 0\n"
"		kill -CONT -- \"-$dw_p\" 2>/dev/null\n"
"		while [ \"$dw_g\" -gt 0 ]; do\n"
"			kill -0 -- \"-$dw_p\" 2>/dev/null || exit 0\n"
"			sleep 0.1; dw_g=$((dw_g - 1))\n"
"		done\n"
"	fi\n"
"	kill -KILL -- \"-$dw_p\" 2>/dev/null; exit 0\n"
"}\n";

static const char ssh_prog_run[] =
"dw_home \"${dw_cwd:-~}\"; cd -- \"$dw_v\" 2>/dev/null || dw_fail \"cannot change to directory $dw_v\"\n"
"dw_export\n"
"if [ \"$dw_in\" = 1 ]; then exec bash -c \"$dw_script\"; fi\n"
"exec bash -c \"$dw_script\" </dev/null\n";

static const char ssh_prog_sup[] =
"dw_sup='d=$1\n"
"echo $$ >\"$d/wpid.t\" && mv -f \"$d/wpid.t\" \"$d/wpid\"\n"
"exec 3<&0 </dev/null\n"
"setsid bash -c \"$2\" <&3 3<&- >>\"$d/out\" 2>>\"$d/err\" & c=$!\n"
"exec 3<&-\n"
"echo \"$c\" >\"$d/pid.t\" && mv -f \"$d/pid.t\" \"$d/pid\"\n"
"wait \"$c\"; r=$?\n"
"echo \"$r\" >\"$d/status.t\" && mv -f \"$d/status.t\" \"$d/status\"'\n"
"dw_attach() {\n"
"	dw_i=0\n"
"	while [ ! -s \"$dw_d/wpid\" ]; do\n"
"		dw_i=$((dw_i + 1))\n"
"		[ \"$dw_i\" -le 200 ] || dw_fail \"the supervisor of $dw_id did not start\" 255\n"
"		sleep 0.05\n"
"	done\n"
"	dw_w=$(cat \"$dw_d/wpid\"); dw_fl=-f\n"
"	if [ ! -e \"$dw_d/status\" ] && [ -r /proc/sys/kernel/random/boot_id ] &&\n"
"	    [ \"$(cat \"$dw_d/boot\" 2>/dev/null)\" != \"$(cat /proc/sys/kernel/random/boot_id)\" ]; then\n"
"		dw_fl=\n"
"	fi\n"
"	if [ -n \"$dw_fl\" ]; then\n"
"		tail -c +$((dw_oo + 1)) -s 0.2 --pid=\"$dw_w\" -f -- \"$dw_d/out\" & dw_t1=$!\n"
"		tail -c +$((dw_eo + 1)) -s 0.2 --pid=\"$dw_w\" -f -- \"$dw_d/err\" >&2 & dw_t2=$!\n"
"	else\n"
"		tail -c +$((dw_oo + 1)) -- \"$dw_d/out\" & dw_t1=$!\n"
"		tail -c +$((dw_eo + 1)) -- \"$dw_d/err\" >&2 & dw_t2=$!\n"
"	fi\n"
"	wait \"$dw_t1\"; wait \"$dw_t2\"\n"
"	if [ -s \"$dw_d/status\" ]; then exit \"$(cat \"$dw_d/status\")\"; fi\n"
"	dw_fail \"the supervised command $dw_id ended without an exit status (killed, or the server rebooted)\" 255\n"
"}\n"
"dw_dir; umask 077\n"
"mkdir -p -- \"$dw_b\" || dw_fail \"cannot create $dw_b\" 255\n"
"if mkdir -- \"$dw_d\" 2>/dev/null; then\n"
"	if [ \"$dw_oo\" != 0 ] || [ \"$dw_eo\" != 0 ]; then\n"
"		rmdir -- \"$dw_d\"\n"
"		dw_fail \"the supervised command $dw_id is gone from the server ($dw_d was removed)\" 255\n"
"	fi\n"
"	dw_home \"${dw_cwd:-~}\"\n"
"	if ! cd -- \"$dw_v\" 2>/dev/null; then\n"
"		rm -rf -- \"$dw_d\"; dw_fail \"cannot change to directory $dw_v\" 255\n"
"	fi\n"
"	: >\"$dw_d/out\"; : >\"$dw_d/err\"\n"
"	cat /proc/sys/kernel/random/boot_id >\"$dw_d/boot\" 2>/dev/null\n"
"	if [ \"$dw_in\" = 1 ]; then exec 3<&0; else exec 3</dev/null; fi\n"
"	( dw_export; exec setsid bash -c \"$dw_sup\" dstack-wizard-supervisor \"$dw_d\" \"$dw_script\" \\\n"
"	    <&3 3<&- >/dev/null 2>&1 ) &\n"
"	exec 3<&- </dev/null\n"
"else\n"
"	exec </dev/null\n"
"fi\n"
"dw_attach\n";

static const char ssh_prog_kill[] =
"dw_dir; [ -d \"$dw_d\" ] || exit 0\n"
"dw_i=0\n"
"while [ ! -s \"$dw_d/pid\" ]; do\n"
"	[ -e \"$dw_d/status\" ] && exit 0\n"
"	dw_i=$((dw_i + 1)); [ \"$dw_i\" -le 100 ] || exit 0\n"
"	sleep 0.05\n"
"done\n"
"dw_p=$(cat \"$dw_d/pid\"); dw_killpg\n";

static const char ssh_prog_killpg[] =
"dw_p=$dw_id; case $dw_p in ''|*[!0-9]*) exit 1;; esac; dw_killpg\n";

static const char ssh_prog_rm[] =
"dw_dir; rm -rf -- \"$dw_d\"\n";

/* Where a connection is. */
enum ssh_phase {
	CP_IDLE,          /* nothing wanted */
	CP_WAIT_RETRY,    /* a reconnect is scheduled */
	CP_RESOLVE,
	CP_CONNECT,
	CP_HANDSHAKE,
	CP_ASK_HOSTKEY,
	CP_AUTH,
	CP_ASK_PASS,
	CP_READY,
	CP_FAILED,
};

/* Where authentication is. */
enum ssh_auth_step {
	AS_LIST,
	AS_AGENT_INIT,
	AS_AGENT_NEXT,
	AS_AGENT_TRY,
	AS_KEY_NEXT,
	AS_KEY_TRY,
};

/* Where a job is. */
enum ssh_jphase {
	J_QUEUED,      /* waiting for the connection or a channel slot */
	J_OPEN,        /* opening its channel */
	J_EXEC,        /* sending the exec request */
	J_IO,          /* feeding stdin, reading output */
	J_CLOSE,       /* output done; waiting for the remote close */
	J_FREE,        /* freeing the channel */
	J_DETACHED,    /* supervised; the connection is down */
	J_DONE,        /* no channel; the end is set */
};

/* One libssh2 call of a job, to be repeated while it owns the outbound packet. */
enum ssh_op {
	OP_NONE,
	OP_OPEN,
	OP_EXEC,
	OP_WRITE,
	OP_EOF,
	OP_READ_OUT,
	OP_READ_ERR,
	OP_WAIT_CLOSED,
	OP_FREE,
};

enum ssh_jkind {
	JK_USER,
	JK_PING,     /* open and free a channel: lets libssh2 read what came while idle */
	JK_KILL,     /* kill a command's process group (TERM, KILL after a grace) */
	JK_CLEAN,    /* remove a finished supervised command's directory */
	JK_TUNNEL,   /* a direct-tcpip channel bridged to one accepted local socket */
};

/* Results of one step. */
enum { R_WAIT, R_PROGRESS, R_STOP };

struct tjob {
	struct ssh_conn *conn;       /* NULL once the connection was freed */
	TAILQ_ENTRY(tjob) entry;
	enum ssh_jkind kind;
	struct tjob_cbs cbs;
	enum ssh_jphase phase;
	LIBSSH2_CHANNEL *ch;

	/* The request, kept until the end (a supervised job sends it again on re-attach). */
	char *script;
	char *cwd;
	struct strvec env;
	char *stdin_data;            /* NULL: none */
	size_t stdin_len;
	bool supervised;
	char *id;

	char *input;                 /* program + request + stdin, being written */
	size_t input_len;
	size_t input_off;
	bool eof_sent;

	uint64_t out_seen;           /* bytes delivered, per stream */
	uint64_t err_seen;
	char errtail[SSH_ERRTAIL];   /* the last stderr bytes, for bootstrap errors */
	size_t errtail_len;

	/* The remote process group, from the program's first stderr line "DWPID <pid>". */
	long pgid;
	char hdr[32];
	size_t hdr_len;
	bool hdr_done;

	/* Cancel. */
	bool canceled;
	bool kill_wanted;            /* kill the process group once its id is known */
	bool kill_sent;              /* the kill job exists */
	bool force;                  /* close the channel now */
	unsigned grace_ms;
	uint64_t cancel_timer;

	/* The end. */
	bool end_set;
	enum tjob_end how;
	int code;
	char *message;
	bool ended;                  /* end callback called */
	bool orphan;                 /* ops->free called */

	/* JK_TUNNEL: the local socket and what is on its way in each direction. */
	struct loop *tloop;
	int tfd;                     /* -1 once closed */
	char *thost;                 /* where the server connects to */
	int tport;
	int tsrcport;                /* the local port, told to the server */
	char *tin;                   /* local -> channel */
	size_t tin_len, tin_off;
	bool tin_eof;                /* the local side stopped sending */
	char *tout;                  /* channel -> local */
	size_t tout_len, tout_off;
};

/* A local listener whose connections are forwarded through the session. */
struct ssh_tunnel {
	struct ssh_conn *conn;       /* NULL once the connection was freed */
	LIST_ENTRY(ssh_tunnel) entry;
	int lfd;
	int lport;
	char *host;
	int port;
	unsigned accepted;
};
LIST_HEAD(ssh_tunnels, ssh_tunnel);

TAILQ_HEAD(ssh_jobs, tjob);

struct ssh_conn {
	struct loop *loop;
	struct ssh_target t;
	char *kh_file;               /* the known_hosts file in use */
	struct ssh_cbs cbs;
	struct ssh_opts o;
	char *remote_dir;
	char *label;                 /* user@host:port */

	enum ssh_state state;
	enum ssh_phase phase;
	enum ssh_failure failure;
	char *fail_msg;

	/* Resolve and connect. */
	struct gaicb *gai;
	struct addrinfo *ai;         /* owned: from getaddrinfo or gai */
	bool ai_from_gai;
	struct addrinfo *ai_cur;
	char *connect_err;
	int fd;
	bool fd_watched;
	uint64_t resolve_timer;
	uint64_t timeout_timer;

	/* Session. */
	LIBSSH2_SESSION *s;
	char *fingerprint;
	unsigned char *hostkey;
	size_t hostkey_len;
	int hostkey_type;
	int hostkey_answer;          /* -1 none yet, 0 no, 1 yes */

	/* Authentication. */
	enum ssh_auth_step as;
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *agent_prev;
	struct libssh2_agent_publickey *agent_cur;
	unsigned agent_tried;
	unsigned agent_rsa;
	struct strvec keys;          /* key files to try */
	size_t key_next;
	char *key_cur;
	struct ssh_keyinfo key_info;
	unsigned pass_attempt;
	char *passphrase;            /* for key_cur; wiped */
	bool pass_answered;
	char *saved_pass_key;        /* the key a passphrase worked for, kept for reconnects */
	char *saved_pass;
	bool rsa_refused;
	bool other_refused;
	struct strbuf auth_notes;

	/* Jobs. */
	struct ssh_jobs jobs;
	struct tjob *opener;         /* the job whose channel is being opened */
	struct tjob *owner;          /* the job whose call must be repeated first */
	enum ssh_op owner_op;
	unsigned active;             /* channels open */
	unsigned max_eff;            /* max_channels, lowered if the server refuses channels */
	char *buf;

	/* Reconnect. */
	bool reconnecting;
	uint64_t lost_at;
	unsigned attempt;
	uint64_t retry_timer;
	uint64_t keepalive_timer;
	uint64_t kick_timer;

	struct strvec forbidden;
	struct ssh_tunnels tunnels;
	struct ssh_stats stats;
	int depth;                   /* inside our own callbacks */
	bool free_pending;
};

static void ssh_begin(struct ssh_conn *c);
static void ssh_fail(struct ssh_conn *c, enum ssh_failure kind, const char *fmt, ...)
    DW_PRINTF(3, 4);
static void ssh_lost(struct ssh_conn *c, const char *why);
static void ssh_settle(struct ssh_conn *c);
static void ssh_kick(struct ssh_conn *c);
static void ssh_auth_begin(struct ssh_conn *c);
static void ssh_really_free(struct ssh_conn *c);
static struct tjob *ssh_job_new(struct ssh_conn *c, enum ssh_jkind kind);
static int ssh_tunnel_io(struct tjob *j);
static void ssh_tunnel_close_fd(struct tjob *j);
static void ssh_tunnel_events(struct ssh_conn *c);

/* Change the state and tell the caller. */
static void
ssh_set_state(struct ssh_conn *c, enum ssh_state st, const char *message)
{
	if (c->state == st && message == NULL)
		return;
	c->state = st;
	if (c->cbs.state != NULL)
		c->cbs.state(c->cbs.data, c, st, message);
}

/* libssh2's last error message. */
static const char *
ssh_errmsg(struct ssh_conn *c)
{
	char *msg = NULL;

	if (c->s == NULL)
		return "no session";
	libssh2_session_last_error(c->s, &msg, NULL, 0);
	return msg != NULL && *msg != '\0' ? msg : "unknown error";
}

/* Does this libssh2 error mean the connection itself is gone? */
static bool
ssh_session_error(int rc)
{
	switch (rc) {
	case LIBSSH2_ERROR_SOCKET_NONE:
	case LIBSSH2_ERROR_BANNER_RECV:
	case LIBSSH2_ERROR_BANNER_SEND:
	case LIBSSH2_ERROR_INVALID_MAC:
	case LIBSSH2_ERROR_KEX_FAILURE:
	case LIBSSH2_ERROR_ALLOC:
	case LIBSSH2_ERROR_SOCKET_SEND:
	case LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE:
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_DECRYPT:
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_PROTO:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_ENCRYPT:
	case LIBSSH2_ERROR_BAD_SOCKET:
		return true;
	default:
		return false;
	}
}

/* Arm (or re-arm) a one-shot timer held in *id. */
static void
ssh_timer(struct ssh_conn *c, uint64_t *id, uint64_t ms, loop_timer_cb cb, void *data)
{
	if (*id != 0)
		loop_del_timer(c->loop, *id);
	*id = loop_add_timer(c->loop, ms, cb, data);
}

/* Delete the timer held in *id. */
static void
ssh_untimer(struct ssh_conn *c, uint64_t *id)
{
	if (*id != 0)
		loop_del_timer(c->loop, *id);
	*id = 0;
}

/* Wipe and free a string that may be secret. */
static void
ssh_wipe(char **p, size_t len)
{
	if (*p == NULL)
		return;
	explicit_bzero(*p, len);
	free(*p);
	*p = NULL;
}

/* ---------------------------------------------------------------- jobs: requests */

/* Append one request field: its length, a newline, the bytes. */
static void
ssh_field(struct strbuf *sb, const char *s, size_t len)
{
	sb_addf(sb, "%zu\n", len);
	if (len > 0)
		sb_add(sb, s, len);
}

/* Build what goes on the job's stdin: the program, the request, the command's stdin. */
static void
ssh_build_input(struct tjob *j)
{
	struct ssh_conn *c = j->conn;
	struct strbuf sb = {0};
	const char *mode, *body;
	bool in = false;

	switch (j->kind) {
	case JK_KILL:
		mode = j->pgid > 0 ? "killpg" : "kill";
		body = j->pgid > 0 ? ssh_prog_killpg : ssh_prog_kill;
		break;
	case JK_CLEAN:
		mode = "rm";
		body = ssh_prog_rm;
		break;
	default:
		mode = j->supervised ? "sup" : "run";
		body = j->supervised ? ssh_prog_sup : ssh_prog_run;
		in = j->stdin_data != NULL;
		break;
	}
	sb_addf(&sb, "%zu\n", strlen(ssh_prog_common) + (body == ssh_prog_run ? 0 :
	    strlen(ssh_prog_dirs)) + strlen(body));
	sb_adds(&sb, ssh_prog_common);
	if (body != ssh_prog_run)
		sb_adds(&sb, ssh_prog_dirs);
	sb_adds(&sb, body);
	ssh_field(&sb, mode, strlen(mode));
	ssh_field(&sb, j->script != NULL ? j->script : "", j->script != NULL ? strlen(j->script) : 0);
	ssh_field(&sb, j->cwd != NULL ? j->cwd : "", j->cwd != NULL ? strlen(j->cwd) : 0);
	if (j->kind == JK_KILL && j->pgid > 0) {
		char pg[32];

		snprintf(pg, sizeof pg, "%ld", j->pgid);
		ssh_field(&sb, pg, strlen(pg));
	} else
		ssh_field(&sb, j->id != NULL ? j->id : "", j->id != NULL ? strlen(j->id) : 0);
	ssh_field(&sb, c->remote_dir != NULL ? c->remote_dir : "",
	    c->remote_dir != NULL ? strlen(c->remote_dir) : 0);
	sb_addf(&sb, "%d\n%llu\n%llu\n%zu\n", in ? 1 : 0, (unsigned long long)j->out_seen,
	    (unsigned long long)j->err_seen, j->env.n);
	for (size_t i = 0; i < j->env.n; i++)
		ssh_field(&sb, j->env.v[i], strlen(j->env.v[i]));
	if (in && j->stdin_len > 0)
		sb_add(&sb, j->stdin_data, j->stdin_len);
	ssh_wipe(&j->input, j->input_len);
	/* Each channel's program announces its own process group. */
	j->hdr_len = 0;
	j->hdr_done = false;
	j->pgid = 0;
	j->input_len = sb.len;
	j->input_off = 0;
	j->input = sb_detach(&sb);
	j->eof_sent = false;
}

/* Drop the input being written (it may hold secrets). */
static void
ssh_drop_input(struct tjob *j)
{
	ssh_wipe(&j->input, j->input_len);
	j->input_len = j->input_off = 0;
}

/* Set how the job ended (first call wins). */
static void
ssh_job_end(struct tjob *j, enum tjob_end how, int code, const char *message)
{
	if (j->end_set)
		return;
	j->end_set = true;
	j->how = how;
	j->code = code;
	j->message = message != NULL ? xstrdup(message) : NULL;
}

/* The channel is gone: the job is done (its end must be set). */
static void
ssh_job_done(struct tjob *j)
{
	struct ssh_conn *c = j->conn;

	j->phase = J_DONE;
	j->ch = NULL;
	ssh_drop_input(j);
	if (c != NULL) {
		if (c->owner == j) {
			c->owner = NULL;
			c->owner_op = OP_NONE;
		}
		if (c->opener == j)
			c->opener = NULL;
		ssh_untimer(c, &j->cancel_timer);
	}
	if (!j->end_set)
		ssh_job_end(j, TJOB_FAILED, -1, "lost the command");
}

/* Free a job's memory. */
static void
ssh_job_destroy(struct tjob *j)
{
	if (j->conn != NULL) {
		TAILQ_REMOVE(&j->conn->jobs, j, entry);
		ssh_untimer(j->conn, &j->cancel_timer);
	}
	ssh_drop_input(j);
	ssh_tunnel_close_fd(j);
	free(j->thost);
	free(j->tin);
	free(j->tout);
	free(j->script);
	free(j->cwd);
	for (size_t i = 0; i < j->env.n; i++)
		explicit_bzero(j->env.v[i], strlen(j->env.v[i]));
	sv_free(&j->env);
	ssh_wipe(&j->stdin_data, j->stdin_len);
	free(j->id);
	free(j->message);
	free(j);
}

/*
 * Queue a job that kills a command's process group on the server through its own exec
 * (libssh2 1.10 has no signal request: a channel takes one exec and no other request).
 * A supervised command is found through its directory, another one by its process group.
 */
static void
ssh_queue_kill(struct tjob *user, unsigned grace_ms)
{
	struct ssh_conn *c = user->conn;
	struct tjob *k;

	if (user->kill_sent)
		return;
	if (!user->supervised && user->pgid <= 0) {
		user->kill_wanted = true;   /* when "DWPID" arrives */
		user->grace_ms = grace_ms;
		return;
	}
	k = ssh_job_new(c, JK_KILL);
	if (user->supervised)
		k->id = xstrdup(user->id);
	else
		k->pgid = user->pgid;
	k->script = xprintf("%u", grace_ms);
	/* Ahead of everything else: a cancel should not wait for a free slot. */
	TAILQ_REMOVE(&c->jobs, k, entry);
	TAILQ_INSERT_HEAD(&c->jobs, k, entry);
	user->kill_sent = true;
}

/* Queue a job that removes a finished supervised command's directory. */
static void
ssh_queue_clean(struct tjob *user)
{
	struct tjob *k = ssh_job_new(user->conn, JK_CLEAN);

	k->id = xstrdup(user->id);
}

/* A new job at the end of the queue. */
static struct tjob *
ssh_job_new(struct ssh_conn *c, enum ssh_jkind kind)
{
	struct tjob *j = xcalloc(1, sizeof *j);

	j->conn = c;
	j->kind = kind;
	j->phase = J_QUEUED;
	j->tfd = -1;
	TAILQ_INSERT_TAIL(&c->jobs, j, entry);
	return j;
}

/* ---------------------------------------------------------------- jobs: running */

/*
 * Handle an EAGAIN (or BAD_USE) from op: the call owns the outbound packet if it left one
 * half sent. Returns R_STOP when nothing else may be called now.
 */
static int
ssh_again(struct tjob *j, enum ssh_op op, int rc)
{
	struct ssh_conn *c = j->conn;

	if (rc == LIBSSH2_ERROR_BAD_USE)
		return R_WAIT;   /* another call's packet is pending: it goes first */
	if (libssh2_session_block_directions(c->s) & LIBSSH2_SESSION_BLOCK_OUTBOUND) {
		c->owner = j;
		c->owner_op = op;
		return R_STOP;
	}
	if (c->owner == j) {
		c->owner = NULL;
		c->owner_op = OP_NONE;
	}
	return R_WAIT;
}

/* A call of op completed (not EAGAIN): it no longer owns anything. */
static void
ssh_op_done(struct tjob *j)
{
	if (j->conn->owner == j) {
		j->conn->owner = NULL;
		j->conn->owner_op = OP_NONE;
	}
}

/*
 * An error rc from a job's call: the connection is lost (R_STOP) or only the job failed
 * (its channel is freed next).
 */
static int
ssh_job_error(struct tjob *j, int rc, const char *what)
{
	struct ssh_conn *c = j->conn;
	char *msg;

	ssh_op_done(j);
	if (ssh_session_error(rc)) {
		msg = xprintf("%s: %s", what, ssh_errmsg(c));
		ssh_lost(c, msg);
		free(msg);
		return R_STOP;
	}
	msg = xprintf("%s: %s", what, ssh_errmsg(c));
	ssh_job_end(j, TJOB_FAILED, -1, msg);
	free(msg);
	ssh_drop_input(j);
	if (j->ch != NULL)
		j->phase = J_FREE;
	else
		ssh_job_done(j);
	return R_PROGRESS;
}

/* Keep the last stderr bytes. */
static void
ssh_errtail(struct tjob *j, const char *buf, size_t len)
{
	if (len >= SSH_ERRTAIL) {
		memcpy(j->errtail, buf + len - SSH_ERRTAIL, SSH_ERRTAIL);
		j->errtail_len = SSH_ERRTAIL;
		return;
	}
	if (j->errtail_len + len > SSH_ERRTAIL) {
		size_t drop = j->errtail_len + len - SSH_ERRTAIL;

		memmove(j->errtail, j->errtail + drop, j->errtail_len - drop);
		j->errtail_len -= drop;
	}
	memcpy(j->errtail + j->errtail_len, buf, len);
	j->errtail_len += len;
}

/* The message of a bootstrap error in the stderr tail; allocated, or NULL. */
static char *
ssh_boot_error(struct tjob *j)
{
	char *found = NULL;
	size_t mlen = sizeof SSH_BOOT_ERR - 1;

	for (size_t i = 0; i + mlen <= j->errtail_len; i++) {
		if (memcmp(j->errtail + i, SSH_BOOT_ERR, mlen) == 0 && (i == 0 || j->errtail[i - 1] == '\n')) {
			const char *s = j->errtail + i + mlen;
			const char *e = memchr(s, '\n', j->errtail_len - i - mlen);

			free(found);
			found = xstrndup(s, e != NULL ? (size_t)(e - s) : j->errtail_len - i - mlen);
		}
	}
	return found;
}

/* The signal number of an SSH signal name ("TERM"); 0 if unknown. */
static int
ssh_signum(const char *name, size_t len)
{
	static const struct {
		const char *name;
		int sig;
	} map[] = {
		{ "ABRT", SIGABRT }, { "ALRM", SIGALRM }, { "FPE", SIGFPE }, { "HUP", SIGHUP },
		{ "ILL", SIGILL }, { "INT", SIGINT }, { "KILL", SIGKILL }, { "PIPE", SIGPIPE },
		{ "QUIT", SIGQUIT }, { "SEGV", SIGSEGV }, { "TERM", SIGTERM }, { "USR1", SIGUSR1 },
		{ "USR2", SIGUSR2 },
	};

	for (size_t i = 0; i < nitems(map); i++) {
		if (strlen(map[i].name) == len && memcmp(map[i].name, name, len) == 0)
			return map[i].sig;
	}
	return 0;
}

/* The channel closed: take the exit status or signal. */
static void
ssh_job_status(struct tjob *j)
{
	struct ssh_conn *c = j->conn;
	char *sig = NULL, *boot;
	size_t siglen = 0;
	int code;

	if (libssh2_channel_get_exit_signal(j->ch, &sig, &siglen, NULL, NULL, NULL, NULL) == 0 &&
	    sig != NULL) {
		int n = ssh_signum(sig, siglen);

		if (n > 0)
			ssh_job_end(j, TJOB_SIGNALED, n, NULL);
		else {
			char *msg = xprintf("killed by signal %.*s", (int)siglen, sig);

			ssh_job_end(j, TJOB_FAILED, -1, msg);
			free(msg);
		}
		libssh2_free(c->s, sig);
		return;
	}
	code = libssh2_channel_get_exit_status(j->ch);
	if (j->kind != JK_USER) {
		ssh_job_end(j, TJOB_EXITED, code, NULL);
		return;
	}
	if ((code == 125 && !j->supervised) || (code == 255 && j->supervised)) {
		boot = ssh_boot_error(j);
		if (boot != NULL) {
			ssh_job_end(j, TJOB_FAILED, -1, boot);
			free(boot);
			return;
		}
	}
	if (j->supervised && code > 128 && code < 128 + 65)
		ssh_job_end(j, TJOB_SIGNALED, code - 128, NULL);
	else
		ssh_job_end(j, TJOB_EXITED, code, NULL);
}

static void ssh_job_output(struct tjob *j, int stream, const char *buf, size_t len);

/*
 * Take the program's first stderr line, "DWPID <pid>\n", out of the stream. Returns how
 * many bytes of buf it used.
 */
static size_t
ssh_job_header(struct tjob *j, const char *buf, size_t len)
{
	size_t used = 0;
	char *nl, *end;
	long pid;

	while (used < len && j->hdr_len < sizeof j->hdr - 1) {
		j->hdr[j->hdr_len++] = buf[used++];
		if (j->hdr[j->hdr_len - 1] == '\n')
			break;
	}
	j->hdr[j->hdr_len] = '\0';
	nl = strchr(j->hdr, '\n');
	if (nl == NULL && j->hdr_len < sizeof j->hdr - 1 &&
	    strncmp(j->hdr, "DWPID ", j->hdr_len < 6 ? j->hdr_len : 6) == 0)
		return used;   /* not all there yet */
	j->hdr_done = true;
	if (nl != NULL && strncmp(j->hdr, "DWPID ", 6) == 0) {
		pid = strtol(j->hdr + 6, &end, 10);
		if (end == nl && pid > 1) {
			j->pgid = pid;
			if (j->kill_wanted && j->conn != NULL)
				ssh_queue_kill(j, j->grace_ms);
			return used;
		}
	}
	/* Not our header (the program never ran): it is real output. */
	ssh_job_output(j, STREAM_ERR, j->hdr, j->hdr_len);
	return used;
}

/* Deliver output to the job's owner. */
static void
ssh_job_output(struct tjob *j, int stream, const char *buf, size_t len)
{
	if (stream == STREAM_ERR && !j->hdr_done) {
		size_t used = ssh_job_header(j, buf, len);

		buf += used;
		len -= used;
		if (len == 0)
			return;
	}
	if (stream == STREAM_OUT)
		j->out_seen += len;
	else {
		j->err_seen += len;
		ssh_errtail(j, buf, len);
	}
	if (j->kind == JK_USER && !j->orphan && j->cbs.output != NULL)
		j->cbs.output(j->cbs.data, stream, buf, len);
}

/* Read what is there on one stream. */
static int
ssh_job_read(struct tjob *j, int stream, bool *progress)
{
	struct ssh_conn *c = j->conn;
	enum ssh_op op = stream == 0 ? OP_READ_OUT : OP_READ_ERR;

	for (int i = 0; i < SSH_READS_PER_STEP; i++) {
		ssize_t n = libssh2_channel_read_ex(j->ch, stream, c->buf, SSH_READ_SIZE);

		if (n > 0) {
			ssh_op_done(j);
			ssh_job_output(j, stream == 0 ? STREAM_OUT : STREAM_ERR, c->buf, (size_t)n);
			*progress = true;
			if (c->free_pending || c->phase != CP_READY)
				return R_STOP;
			continue;
		}
		if (n == 0) {
			ssh_op_done(j);
			return R_WAIT;
		}
		if (n == LIBSSH2_ERROR_EAGAIN || n == LIBSSH2_ERROR_BAD_USE)
			return ssh_again(j, op, (int)n);
		return ssh_job_error(j, (int)n, "reading the command's output");
	}
	return R_PROGRESS;   /* more may be there: come back after the others */
}

/* Feed stdin, send EOF, read both streams, notice the end of output. */
static int
ssh_job_io(struct tjob *j)
{
	bool progress = false;
	int r, rc;

	if (j->force) {
		ssh_job_end(j, TJOB_FAILED, -1, "canceled: the command did not stop, so its channel "
		    "was closed");
		ssh_drop_input(j);
		j->phase = J_FREE;
		return R_PROGRESS;
	}
	while (j->input != NULL && j->input_off < j->input_len) {
		size_t n = j->input_len - j->input_off;
		ssize_t w;

		if (n > SSH_WRITE_CHUNK)
			n = SSH_WRITE_CHUNK;
		w = libssh2_channel_write(j->ch, j->input + j->input_off, n);
		if (w == LIBSSH2_ERROR_EAGAIN || w == LIBSSH2_ERROR_BAD_USE) {
			if (ssh_again(j, OP_WRITE, (int)w) == R_STOP)
				return R_STOP;
			break;
		}
		if (w < 0) {
			if (w == LIBSSH2_ERROR_CHANNEL_EOF_SENT || w == LIBSSH2_ERROR_CHANNEL_CLOSED) {
				ssh_op_done(j);
				ssh_drop_input(j);
				j->eof_sent = true;
				break;
			}
			return ssh_job_error(j, (int)w, "writing the command's input");
		}
		ssh_op_done(j);
		if (w == 0)
			break;   /* the window is full: the server's adjust will wake us */
		j->input_off += (size_t)w;
		progress = true;
	}
	if (!j->eof_sent && (j->input == NULL || j->input_off == j->input_len)) {
		rc = libssh2_channel_send_eof(j->ch);
		if (rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE) {
			if (ssh_again(j, OP_EOF, rc) == R_STOP)
				return R_STOP;
		} else if (rc < 0 && rc != LIBSSH2_ERROR_CHANNEL_EOF_SENT &&
		    rc != LIBSSH2_ERROR_CHANNEL_CLOSED) {
			return ssh_job_error(j, rc, "closing the command's input");
		} else {
			ssh_op_done(j);
			j->eof_sent = true;
			ssh_drop_input(j);
			progress = true;
		}
	}
	r = ssh_job_read(j, 0, &progress);
	if (r == R_STOP || j->phase != J_IO)
		return r == R_STOP ? R_STOP : R_PROGRESS;
	if (r == R_PROGRESS)
		progress = true;
	r = ssh_job_read(j, 1, &progress);
	if (r == R_STOP || j->phase != J_IO)
		return r == R_STOP ? R_STOP : R_PROGRESS;
	if (r == R_PROGRESS)
		progress = true;
	if (libssh2_channel_eof(j->ch) == 1) {
		ssh_drop_input(j);
		j->phase = J_CLOSE;
		return R_PROGRESS;
	}
	return progress ? R_PROGRESS : R_WAIT;
}

/* Move a job forward as far as it goes without waiting. */
static int
ssh_job_step(struct tjob *j)
{
	struct ssh_conn *c = j->conn;
	LIBSSH2_CHANNEL *ch;
	int rc;

	switch (j->phase) {
	case J_OPEN:
		if (j->kind == JK_TUNNEL)
			ch = libssh2_channel_direct_tcpip_ex(c->s, j->thost, j->tport, "127.0.0.1",
			    j->tsrcport);
		else
			ch = libssh2_channel_open_session(c->s);
		if (ch == NULL) {
			rc = libssh2_session_last_errno(c->s);
			if (rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE)
				return ssh_again(j, OP_OPEN, rc);
			ssh_op_done(j);
			c->opener = NULL;
			if (ssh_session_error(rc))
				return ssh_job_error(j, rc, "opening a channel");
			if (j->kind == JK_TUNNEL) {
				/* Nothing listens there on the server: the local side sees a close. */
				ssh_tunnel_close_fd(j);
				return ssh_job_error(j, rc, "opening the tunnel");
			}
			if (c->active > 0) {
				/* The server's MaxSessions: fewer at once, and try again later. */
				c->max_eff = c->active;
				j->phase = J_QUEUED;
				return R_PROGRESS;
			}
			return ssh_job_error(j, rc, "the server refused a channel");
		}
		ssh_op_done(j);
		c->opener = NULL;
		j->ch = ch;
		c->active++;
		c->stats.channels++;
		if (c->active > c->stats.max_parallel)
			c->stats.max_parallel = c->active;
		if (j->kind == JK_PING) {
			ssh_job_end(j, TJOB_FAILED, -1, "canceled before it started");
			j->phase = J_FREE;
			return R_PROGRESS;
		}
		if (j->kind == JK_TUNNEL) {
			j->phase = J_IO;
			return ssh_tunnel_io(j);
		}
		ssh_build_input(j);
		j->phase = J_EXEC;
		/* FALLTHROUGH */
	case J_EXEC:
		rc = libssh2_channel_exec(j->ch, ssh_boot_cmd);
		if (rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE)
			return ssh_again(j, OP_EXEC, rc);
		if (rc != 0)
			return ssh_job_error(j, rc, "the server refused to run the command");
		ssh_op_done(j);
		j->phase = J_IO;
		if (j->canceled && !j->kill_sent)
			ssh_queue_kill(j, j->grace_ms);
		/* FALLTHROUGH */
	case J_IO:
		return j->kind == JK_TUNNEL ? ssh_tunnel_io(j) : ssh_job_io(j);
	case J_CLOSE:
		rc = libssh2_channel_wait_closed(j->ch);
		if (rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE)
			return ssh_again(j, OP_WAIT_CLOSED, rc);
		ssh_op_done(j);
		if (rc != 0 && ssh_session_error(rc))
			return ssh_job_error(j, rc, "waiting for the command to end");
		ssh_job_status(j);
		if (j->supervised && j->kind == JK_USER && j->end_set && j->how != TJOB_FAILED)
			ssh_queue_clean(j);
		j->phase = J_FREE;
		/* FALLTHROUGH */
	case J_FREE:
		rc = libssh2_channel_free(j->ch);
		if (rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE)
			return ssh_again(j, OP_FREE, rc);
		ssh_op_done(j);
		/* Any other error: the channel's memory is gone or lost with the session anyway. */
		c->active--;
		ssh_job_done(j);
		return R_PROGRESS;
	default:
		return R_WAIT;
	}
}

/* May this job take a channel now? */
static bool
ssh_can_open(struct ssh_conn *c, struct tjob *j)
{
	unsigned limit = c->max_eff;

	if (j->kind != JK_USER)
		limit += SSH_INTERNAL_EXTRA;
	return c->active < limit;
}

/* Let the first queued job that fits start opening its channel. */
static void
ssh_start_open(struct ssh_conn *c)
{
	struct tjob *j;

	if (c->opener != NULL)
		return;
	TAILQ_FOREACH(j, &c->jobs, entry) {
		if (j->phase != J_QUEUED || !ssh_can_open(c, j))
			continue;
		j->phase = J_OPEN;
		c->opener = j;
		return;
	}
}

/* Does the job hold or want a channel now? */
static bool
ssh_job_busy(const struct tjob *j)
{
	return j->phase >= J_OPEN && j->phase <= J_FREE;
}

/* Run the owner's pending call first, then every job, until nothing moves. */
static void
ssh_pump_ready(struct ssh_conn *c)
{
	struct tjob *j;
	int rounds;

	for (rounds = 0; rounds < SSH_PUMP_ROUNDS; rounds++) {
		bool progress = false;

		if (c->owner != NULL) {
			int r = ssh_job_step(c->owner);

			if (r == R_STOP || c->phase != CP_READY || c->free_pending)
				return;
			if (r == R_PROGRESS)
				progress = true;
		}
		ssh_start_open(c);
		TAILQ_FOREACH(j, &c->jobs, entry) {
			int r;

			if (!ssh_job_busy(j))
				continue;
			r = ssh_job_step(j);
			if (r == R_STOP || c->phase != CP_READY || c->free_pending)
				return;
			if (r == R_PROGRESS)
				progress = true;
			if (c->opener == NULL)
				ssh_start_open(c);
		}
		if (!progress)
			return;
	}
	/* Still busy: give the rest of the loop a turn, then go on. */
	ssh_kick(c);
}

/* ---------------------------------------------------------------- connection */

/* Close the socket and free the session; channels die with it. */
static void
ssh_teardown(struct ssh_conn *c, bool graceful)
{
	struct tjob *j;

	ssh_untimer(c, &c->keepalive_timer);
	ssh_untimer(c, &c->resolve_timer);
	if (c->agent != NULL) {
		libssh2_agent_disconnect(c->agent);
		libssh2_agent_free(c->agent);
		c->agent = NULL;
	}
	if (c->s != NULL) {
		if (graceful && c->phase == CP_READY)
			libssh2_session_disconnect(c->s, "bye");
		/* With the socket shut down no libssh2 call can wait: sends fail, reads see EOF. */
		if (c->fd != -1)
			shutdown(c->fd, SHUT_RDWR);
		libssh2_session_free(c->s);
		c->s = NULL;
	}
	TAILQ_FOREACH(j, &c->jobs, entry)
		j->ch = NULL;
	if (c->fd != -1) {
		if (c->fd_watched)
			loop_del_fd(c->loop, c->fd);
		close(c->fd);
	}
	c->fd = -1;
	c->fd_watched = false;
	c->owner = NULL;
	c->owner_op = OP_NONE;
	c->opener = NULL;
	c->active = 0;
	free(c->hostkey);
	c->hostkey = NULL;
	c->hostkey_len = 0;
	ssh_wipe(&c->passphrase, c->passphrase != NULL ? strlen(c->passphrase) : 0);
	free(c->key_cur);
	c->key_cur = NULL;
	sv_free(&c->keys);
	sb_free(&c->auth_notes);
}

/* Forget the resolver's state (waiting for a lookup still running, if it must). */
static void
ssh_resolve_clear(struct ssh_conn *c)
{
	ssh_untimer(c, &c->resolve_timer);
	if (c->gai != NULL) {
		if (gai_error(c->gai) == EAI_INPROGRESS && gai_cancel(c->gai) == EAI_NOTCANCELED) {
			const struct gaicb *list[1] = { c->gai };
			struct timespec ts = { 5, 0 };

			gai_suspend(list, 1, &ts);
		}
		if (gai_error(c->gai) == EAI_INPROGRESS) {
			c->gai = NULL;   /* still running: leave it to glibc rather than free it */
		} else {
			if (c->gai->ar_result != NULL)
				freeaddrinfo(c->gai->ar_result);
			free((char *)(uintptr_t)c->gai->ar_name);
			free((char *)(uintptr_t)c->gai->ar_service);
			free((void *)(uintptr_t)c->gai->ar_request);
			free(c->gai);
			c->gai = NULL;
		}
	}
	if (c->ai != NULL && !c->ai_from_gai)
		freeaddrinfo(c->ai);
	c->ai = NULL;
	c->ai_cur = NULL;
	c->ai_from_gai = false;
}

/* May a failure of this kind be retried while reconnecting? */
static bool
ssh_retryable(enum ssh_failure kind)
{
	return kind == SSH_FAIL_RESOLVE || kind == SSH_FAIL_CONNECT ||
	    kind == SSH_FAIL_HANDSHAKE || kind == SSH_FAIL_LOST;
}

/* The reconnect timer fired. */
static void
ssh_retry_cb(void *data)
{
	struct ssh_conn *c = data;

	c->retry_timer = 0;
	c->depth++;
	if (c->phase == CP_WAIT_RETRY)
		ssh_begin(c);
	c->depth--;
	ssh_settle(c);
}

/* Schedule the next reconnect attempt; false if the time is up. */
static bool
ssh_schedule_retry(struct ssh_conn *c, const char *why)
{
	static const unsigned delays[] = { 100, 500, 1000, 2000, 5000 };
	unsigned delay = delays[c->attempt < nitems(delays) ? c->attempt : nitems(delays) - 1];
	uint64_t window = c->o.reconnect_ms;
	char *msg;

	if (now_ms() - c->lost_at + delay > window)
		return false;
	c->attempt++;
	c->phase = CP_WAIT_RETRY;
	ssh_timer(c, &c->retry_timer, delay, ssh_retry_cb, c);
	msg = xprintf("%s; reconnecting to %s (attempt %u)", why, c->label, c->attempt);
	ssh_set_state(c, SSH_STATE_RECONNECTING, msg);
	free(msg);
	return true;
}

/* The connection attempt failed: retry if reconnecting and allowed, else fail every job. */
static void
ssh_fail(struct ssh_conn *c, enum ssh_failure kind, const char *fmt, ...)
{
	struct tjob *j;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvprintf(fmt, ap);
	va_end(ap);
	ssh_untimer(c, &c->timeout_timer);
	ssh_teardown(c, false);
	ssh_resolve_clear(c);
	c->failure = kind;
	free(c->fail_msg);
	c->fail_msg = xstrdup(msg);
	if (c->reconnecting && ssh_retryable(kind) && ssh_schedule_retry(c, msg)) {
		free(msg);
		return;
	}
	if (c->reconnecting) {
		char *m = xprintf("connection to %s lost and not re-established within %u s: %s",
		    c->label, c->o.reconnect_ms / 1000, msg);

		free(msg);
		msg = m;
		free(c->fail_msg);
		c->fail_msg = xstrdup(msg);
	}
	c->reconnecting = false;
	c->phase = CP_FAILED;
	TAILQ_FOREACH(j, &c->jobs, entry) {
		if (j->phase == J_QUEUED || j->phase == J_DETACHED) {
			ssh_job_end(j, TJOB_FAILED, -1, msg);
			ssh_job_done(j);
		}
	}
	ssh_set_state(c, SSH_STATE_FAILED, msg);
	free(msg);
}

/* The ready connection dropped. */
static void
ssh_lost(struct ssh_conn *c, const char *why)
{
	struct tjob *j;
	bool wanted = false;
	char *msg;

	if (c->phase != CP_READY)
		return;
	msg = xprintf("connection to %s lost: %s", c->label, why);
	ssh_teardown(c, false);
	TAILQ_FOREACH(j, &c->jobs, entry) {
		switch (j->phase) {
		case J_QUEUED:
			if (j->kind != JK_PING)
				wanted = true;
			else
				ssh_job_done(j);
			break;
		case J_OPEN:
		case J_EXEC:
		case J_IO:
		case J_CLOSE:
			if (j->kind == JK_USER && j->supervised && !j->end_set) {
				j->phase = J_DETACHED;
				ssh_drop_input(j);
				wanted = true;
			} else if (j->kind == JK_KILL || j->kind == JK_CLEAN) {
				j->phase = J_QUEUED;   /* still to do after the reconnect */
				ssh_drop_input(j);
				wanted = true;
			} else {
				ssh_job_end(j, TJOB_FAILED, -1, msg);
				ssh_job_done(j);
			}
			break;
		case J_FREE:
			ssh_job_done(j);
			break;
		case J_DETACHED:
			wanted = true;
			break;
		default:
			break;
		}
	}
	c->failure = SSH_FAIL_LOST;
	free(c->fail_msg);
	c->fail_msg = xstrdup(msg);
	if (wanted) {
		c->reconnecting = true;
		c->lost_at = now_ms();
		c->attempt = 0;
		if (!ssh_schedule_retry(c, msg))
			ssh_fail(c, SSH_FAIL_LOST, "%s", msg);
	} else {
		c->phase = CP_IDLE;
		ssh_set_state(c, SSH_STATE_IDLE, msg);
	}
	free(msg);
}

/* Connecting took too long. */
static void
ssh_timeout_cb(void *data)
{
	struct ssh_conn *c = data;

	c->timeout_timer = 0;
	c->depth++;
	if (c->phase >= CP_RESOLVE && c->phase <= CP_AUTH && c->phase != CP_ASK_HOSTKEY)
		ssh_fail(c, SSH_FAIL_CONNECT, "timed out after %u s connecting to %s",
		    c->o.connect_timeout_ms / 1000, c->label);
	c->depth--;
	ssh_settle(c);
}

/* Set TCP options on the socket. */
static void
ssh_sockopts(int fd)
{
	int one = 1, idle = 30, intvl = 10, cnt = 3;
	unsigned user_timeout = 60000;

	/* A reused session's exec costs ~12 ms with NODELAY, ~54 ms without (Nagle). */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
}

static void ssh_sock_cb(int fd, short revents, void *data);
static void ssh_session_start(struct ssh_conn *c);

/* Try the next address; fail when none is left. */
static void
ssh_connect_next(struct ssh_conn *c)
{
	for (; c->ai_cur != NULL; c->ai_cur = c->ai_cur->ai_next) {
		struct addrinfo *ai = c->ai_cur;
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);

		if (fd < 0) {
			free(c->connect_err);
			c->connect_err = xstrdup(strerror(errno));
			continue;
		}
		ssh_sockopts(fd);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			c->fd = fd;
			c->phase = CP_CONNECT;
			loop_add_fd(c->loop, fd, POLLOUT, ssh_sock_cb, c);
			c->fd_watched = true;
			return;
		}
		free(c->connect_err);
		c->connect_err = xstrdup(strerror(errno));
		close(fd);
	}
	ssh_fail(c, SSH_FAIL_CONNECT, "cannot connect to %s: %s", c->label,
	    c->connect_err != NULL ? c->connect_err : "no address");
}

/* The addresses are known: connect. */
static void
ssh_resolved(struct ssh_conn *c, struct addrinfo *ai, bool from_gai)
{
	c->ai = ai;
	c->ai_from_gai = from_gai;
	c->ai_cur = ai;
	free(c->connect_err);
	c->connect_err = NULL;
	ssh_connect_next(c);
}

/* Poll the asynchronous lookup. */
static void
ssh_resolve_cb(void *data)
{
	struct ssh_conn *c = data;
	int rc;

	c->resolve_timer = 0;
	c->depth++;
	rc = gai_error(c->gai);
	if (rc == EAI_INPROGRESS) {
		c->resolve_timer = loop_add_timer(c->loop, SSH_RESOLVE_POLL_MS, ssh_resolve_cb, c);
	} else if (rc != 0) {
		ssh_fail(c, SSH_FAIL_RESOLVE, "cannot resolve %s: %s", c->t.hostname, gai_strerror(rc));
	} else
		ssh_resolved(c, c->gai->ar_result, true);
	c->depth--;
	ssh_settle(c);
}

/* Start a connection attempt. */
static void
ssh_begin(struct ssh_conn *c)
{
	struct addrinfo hints, *res = NULL;
	char port[16];
	struct sigevent sev;
	int rc;

	ssh_untimer(c, &c->retry_timer);
	ssh_teardown(c, false);
	ssh_resolve_clear(c);
	c->failure = SSH_FAIL_NONE;
	c->phase = CP_RESOLVE;
	if (!c->reconnecting)
		ssh_set_state(c, SSH_STATE_CONNECTING, NULL);
	ssh_timer(c, &c->timeout_timer, c->o.connect_timeout_ms, ssh_timeout_cb, c);

	snprintf(port, sizeof port, "%d", c->t.port);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(c->t.hostname, port, &hints, &res);
	if (rc == 0) {
		ssh_resolved(c, res, false);
		return;
	}
	/* A name: look it up without blocking the loop. */
	c->gai = xcalloc(1, sizeof *c->gai);
	c->gai->ar_name = xstrdup(c->t.hostname);
	c->gai->ar_service = xstrdup(port);
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	c->gai->ar_request = xmalloc(sizeof hints);
	memcpy((void *)(uintptr_t)c->gai->ar_request, &hints, sizeof hints);
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_NONE;
	rc = getaddrinfo_a(GAI_NOWAIT, &c->gai, 1, &sev);
	if (rc != 0) {
		ssh_fail(c, SSH_FAIL_RESOLVE, "cannot resolve %s: %s", c->t.hostname, gai_strerror(rc));
		return;
	}
	c->resolve_timer = loop_add_timer(c->loop, SSH_RESOLVE_POLL_MS, ssh_resolve_cb, c);
}

/* Put the host key types known_hosts holds for this host first, as OpenSSH does. */
static void
ssh_hostkey_prefs(struct ssh_conn *c)
{
	static const char *const order[] = {
		"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
		"ssh-rsa", "ssh-dss",
	};
	const char **algs = NULL;
	struct strbuf sb = {0};
	int types[8], n, nknown;

	nknown = (int)ssh_known_hosts_types(c->kh_file, c->t.hostname, c->t.port, types,
	    nitems(types));
	n = libssh2_session_supported_algs(c->s, LIBSSH2_METHOD_HOSTKEY, &algs);
	if (n <= 0)
		return;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < nitems(order); i++) {
			bool known = false, supported = false;

			for (int k = 0; k < nknown; k++)
				known |= strcmp(ssh_key_type_name(types[k]), order[i]) == 0;
			for (int k = 0; k < n; k++)
				supported |= strcmp(algs[k], order[i]) == 0;
			if (!supported || known != (pass == 0))
				continue;
			if (sb.len > 0)
				sb_addc(&sb, ',');
			sb_adds(&sb, order[i]);
		}
	}
	libssh2_free(c->s, algs);
	if (sb.len > 0)
		libssh2_session_method_pref(c->s, LIBSSH2_METHOD_HOSTKEY, sb_str(&sb));
	sb_free(&sb);
}

/* TCP is up: create the session and start the handshake. */
static void
ssh_session_start(struct ssh_conn *c)
{
	c->s = libssh2_session_init_ex(NULL, NULL, NULL, c);
	if (c->s == NULL)
		fatal("libssh2_session_init_ex failed");
	libssh2_session_set_blocking(c->s, 0);
	ssh_hostkey_prefs(c);
	c->phase = CP_HANDSHAKE;
}

/* Ask the caller whether to trust the unknown host key. */
static void
ssh_ask_hostkey(struct ssh_conn *c)
{
	struct ssh_hostkey k;
	char *name = ssh_known_hosts_name(c->t.hostname, c->t.port);

	k.host = name;
	k.type = ssh_key_type_name(c->hostkey_type);
	k.fingerprint = c->fingerprint;
	k.known_hosts = c->kh_file;
	c->phase = CP_ASK_HOSTKEY;
	c->hostkey_answer = -1;
	ssh_untimer(c, &c->timeout_timer);   /* a person may take their time */
	c->cbs.hostkey(c->cbs.data, c, &k);
	free(name);
}

/* Record the host key in known_hosts and go on to authentication. */
static void
ssh_hostkey_accepted(struct ssh_conn *c)
{
	char *cause = NULL;

	if (ssh_known_hosts_add(c->kh_file, c->t.hostname, c->t.port, c->hostkey,
	    c->hostkey_len, c->hostkey_type, &cause) != 0) {
		ssh_fail(c, SSH_FAIL_HOSTKEY_ERROR, "cannot record the host key of %s: %s",
		    c->label, cause);
		free(cause);
		return;
	}
	ssh_auth_begin(c);
}

/* The handshake is done: check the host key. */
static void
ssh_check_hostkey(struct ssh_conn *c)
{
	const char *key;
	size_t len = 0;
	int type = 0;
	unsigned line = 0;
	char *cause = NULL, *name;
	const char *tname;
	enum ssh_kh_result res;

	key = libssh2_session_hostkey(c->s, &len, &type);
	if (key == NULL || len == 0) {
		ssh_fail(c, SSH_FAIL_HANDSHAKE, "%s sent no host key", c->label);
		return;
	}
	free(c->hostkey);
	c->hostkey = xmalloc(len);
	memcpy(c->hostkey, key, len);
	c->hostkey_len = len;
	c->hostkey_type = type;
	free(c->fingerprint);
	c->fingerprint = ssh_fingerprint(c->hostkey, len);
	tname = ssh_key_type_name(type);
	name = ssh_known_hosts_name(c->t.hostname, c->t.port);
	res = ssh_known_hosts_check(c->kh_file, c->t.hostname, c->t.port, c->hostkey, len, type,
	    &line, &cause);
	switch (res) {
	case SSH_KH_MATCH:
		ssh_auth_begin(c);
		break;
	case SSH_KH_NOTFOUND:
		if (c->t.accept_new)
			ssh_hostkey_accepted(c);
		else if (c->cbs.hostkey != NULL)
			ssh_ask_hostkey(c);
		else
			ssh_fail(c, SSH_FAIL_HOSTKEY_UNKNOWN, "the host key of %s is not known "
			    "(%s %s): compare the fingerprint with the server's own (ssh-keygen -lf "
			    "/etc/ssh/ssh_host_*_key.pub on it), then accept it (accept the new host "
			    "key, or connect once with ssh -p %d %s@%s)", name, tname != NULL ? tname : "?",
			    c->fingerprint, c->t.port, c->t.user, c->t.hostname);
		break;
	case SSH_KH_MISMATCH:
		ssh_fail(c, SSH_FAIL_HOSTKEY_CHANGED, "the host key of %s has CHANGED: the server "
		    "now shows %s %s, but line %u of %s holds another key. This is a possible "
		    "man-in-the-middle attack (or the server was reinstalled); refusing to connect. "
		    "Remove the old line %u of %s only if you know why it changed",
		    name, tname != NULL ? tname : "?", c->fingerprint, line, c->kh_file, line,
		    c->kh_file);
		break;
	case SSH_KH_REVOKED:
		ssh_fail(c, SSH_FAIL_HOSTKEY_CHANGED, "the host key of %s (%s) is marked @revoked "
		    "in line %u of %s: refusing to connect", name, c->fingerprint, line, c->kh_file);
		break;
	case SSH_KH_FAILURE:
		ssh_fail(c, SSH_FAIL_HOSTKEY_ERROR, "cannot check the host key of %s (%s): %s",
		    name, c->fingerprint, cause != NULL ? cause : "unknown error");
		break;
	}
	free(cause);
	free(name);
}

/* Drive the handshake. */
static void
ssh_step_handshake(struct ssh_conn *c)
{
	int rc = libssh2_session_handshake(c->s, c->fd);

	if (rc == LIBSSH2_ERROR_EAGAIN)
		return;
	if (rc != 0) {
		ssh_fail(c, SSH_FAIL_HANDSHAKE, "SSH handshake with %s failed: %s", c->label,
		    ssh_errmsg(c));
		return;
	}
	ssh_check_hostkey(c);
}

/* Start authenticating. */
static void
ssh_auth_begin(struct ssh_conn *c)
{
	const char *defaults[] = { "~/.ssh/id_ed25519", "~/.ssh/id_ecdsa" };

	c->phase = CP_AUTH;
	c->as = AS_LIST;
	c->agent_tried = c->agent_rsa = 0;
	c->rsa_refused = c->other_refused = false;
	sb_free(&c->auth_notes);
	sv_free(&c->keys);
	if (c->t.identity != NULL)
		sv_push_take(&c->keys, expand_home(c->t.identity));
	else {
		for (size_t i = 0; i < nitems(defaults); i++)
			sv_push_take(&c->keys, expand_home(defaults[i]));
	}
	c->key_next = 0;
	if (c->timeout_timer == 0)
		ssh_timer(c, &c->timeout_timer, c->o.connect_timeout_ms, ssh_timeout_cb, c);
}

/* Add a note for the final "authentication failed" message. */
static void
ssh_auth_note(struct ssh_conn *c, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvprintf(fmt, ap);
	va_end(ap);
	if (c->auth_notes.len > 0)
		sb_adds(&c->auth_notes, "; ");
	sb_adds(&c->auth_notes, s);
	free(s);
}

/* Every key failed. */
static void
ssh_auth_failed(struct ssh_conn *c)
{
	const char *notes = c->auth_notes.len > 0 ? sb_str(&c->auth_notes) : "no key to offer";

	if (c->rsa_refused && !c->other_refused) {
		ssh_fail(c, SSH_FAIL_AUTH_RSA, "%s refused the RSA key (%s). libssh2 1.10 signs RSA "
		    "keys only with ssh-rsa (SHA-1), which OpenSSH 8.8 and later refuse by default. "
		    "Use an ed25519 key instead: ssh-keygen -t ed25519, then add ~/.ssh/id_ed25519.pub "
		    "to ~/.ssh/authorized_keys on the server (ssh-copy-id -i ~/.ssh/id_ed25519.pub "
		    "-p %d %s@%s)", c->label, notes, c->t.port, c->t.user, c->t.hostname);
		return;
	}
	ssh_fail(c, SSH_FAIL_AUTH, "%s accepted none of our keys (%s). Put your public key in "
	    "~/.ssh/authorized_keys of %s on the server (ssh-copy-id -i ~/.ssh/id_ed25519.pub -p %d "
	    "%s@%s), or make a key first with ssh-keygen -t ed25519%s", c->label, notes, c->t.user,
	    c->t.port, c->t.user, c->t.hostname, c->rsa_refused ? "; RSA keys are refused by "
	    "OpenSSH 8.8 and later when libssh2 1.10 signs them (SHA-1): use ed25519" : "");
}

/* Is this agent identity an RSA key (its blob starts with the string "ssh-rsa")? */
static bool
ssh_blob_is_rsa(const unsigned char *blob, size_t len)
{
	return len > 11 && blob[0] == 0 && blob[1] == 0 && blob[2] == 0 && blob[3] == 7 &&
	    memcmp(blob + 4, "ssh-rsa", 7) == 0;
}

/* Authentication succeeded: the connection is ready. */
static void
ssh_ready(struct ssh_conn *c)
{
	struct tjob *j;

	ssh_untimer(c, &c->timeout_timer);
	if (c->agent != NULL) {
		libssh2_agent_disconnect(c->agent);
		libssh2_agent_free(c->agent);
		c->agent = NULL;
	}
	if (c->passphrase != NULL && c->key_cur != NULL) {
		ssh_wipe(&c->saved_pass, c->saved_pass != NULL ? strlen(c->saved_pass) : 0);
		free(c->saved_pass_key);
		c->saved_pass_key = xstrdup(c->key_cur);
		c->saved_pass = xstrdup(c->passphrase);
	}
	ssh_wipe(&c->passphrase, c->passphrase != NULL ? strlen(c->passphrase) : 0);
	c->phase = CP_READY;
	c->stats.connects++;
	c->max_eff = c->o.max_channels;
	/* Only now: before the handshake and authentication, Debian's sshd drops the kex. */
	libssh2_keepalive_config(c->s, 0, c->o.keepalive_s);
	TAILQ_FOREACH(j, &c->jobs, entry) {
		if (j->phase == J_DETACHED) {
			j->phase = J_QUEUED;
			c->stats.reattached++;
		}
	}
	c->reconnecting = false;
	c->attempt = 0;
	c->failure = SSH_FAIL_NONE;
	free(c->fail_msg);
	c->fail_msg = NULL;
	ssh_set_state(c, SSH_STATE_CONNECTED, NULL);
	ssh_kick(c);
}

/* Ask for the passphrase of key_cur. */
static void
ssh_ask_pass(struct ssh_conn *c)
{
	c->phase = CP_ASK_PASS;
	c->pass_answered = false;
	ssh_untimer(c, &c->timeout_timer);
	c->cbs.passphrase(c->cbs.data, c, c->key_cur, c->pass_attempt);
}

/* One authentication move; R_PROGRESS to go on at once. */
static int
ssh_auth_once(struct ssh_conn *c)
{
	const char *user = c->t.user;
	unsigned ulen = (unsigned)strlen(user);
	char *list, *cause = NULL;
	int rc;

	switch (c->as) {
	case AS_LIST:
		list = libssh2_userauth_list(c->s, user, ulen);
		if (list == NULL) {
			if (libssh2_userauth_authenticated(c->s)) {
				ssh_ready(c);
				return R_WAIT;
			}
			rc = libssh2_session_last_errno(c->s);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return R_WAIT;
			ssh_fail(c, SSH_FAIL_AUTH, "authentication with %s failed: %s", c->label,
			    ssh_errmsg(c));
			return R_STOP;
		}
		if (strstr(list, "publickey") == NULL) {
			ssh_fail(c, SSH_FAIL_AUTH, "%s does not accept keys for %s (it offers: %s); the "
			    "wizard logs in with keys only: enable PubkeyAuthentication in its sshd_config",
			    c->label, user, list);
			return R_STOP;
		}
		c->as = AS_AGENT_INIT;
		return R_PROGRESS;
	case AS_AGENT_INIT: {
		const char *sock = getenv("SSH_AUTH_SOCK");

		c->as = AS_KEY_NEXT;
		if (sock == NULL || *sock == '\0')
			return R_PROGRESS;
		/* The agent is a local unix socket: its calls block, briefly. */
		c->agent = libssh2_agent_init(c->s);
		if (c->agent == NULL)
			return R_PROGRESS;
		if (libssh2_agent_connect(c->agent) != 0 ||
		    libssh2_agent_list_identities(c->agent) != 0) {
			ssh_auth_note(c, "ssh-agent at %s did not answer", sock);
			libssh2_agent_free(c->agent);
			c->agent = NULL;
			return R_PROGRESS;
		}
		c->agent_prev = NULL;
		c->as = AS_AGENT_NEXT;
		return R_PROGRESS;
	}
	case AS_AGENT_NEXT:
		rc = libssh2_agent_get_identity(c->agent, &c->agent_cur, c->agent_prev);
		if (rc != 0) {
			if (c->agent_tried > 0)
				ssh_auth_note(c, "ssh-agent's %u key%s refused", c->agent_tried,
				    c->agent_tried == 1 ? " was" : "s were");
			libssh2_agent_disconnect(c->agent);
			libssh2_agent_free(c->agent);
			c->agent = NULL;
			c->as = AS_KEY_NEXT;
			return R_PROGRESS;
		}
		c->as = AS_AGENT_TRY;
		return R_PROGRESS;
	case AS_AGENT_TRY:
		rc = libssh2_agent_userauth(c->agent, user, c->agent_cur);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return R_WAIT;
		if (rc == 0) {
			ssh_ready(c);
			return R_WAIT;
		}
		if (ssh_session_error(rc)) {
			ssh_fail(c, SSH_FAIL_AUTH, "%s closed the connection during authentication "
			    "(%s): too many keys offered? (sshd's MaxAuthTries)", c->label, ssh_errmsg(c));
			return R_STOP;
		}
		c->agent_tried++;
		if (ssh_blob_is_rsa(c->agent_cur->blob, c->agent_cur->blob_len)) {
			c->agent_rsa++;
			c->rsa_refused = true;
		} else
			c->other_refused = true;
		c->agent_prev = c->agent_cur;
		c->as = AS_AGENT_NEXT;
		return R_PROGRESS;
	case AS_KEY_NEXT:
		for (;;) {
			if (c->key_next >= c->keys.n) {
				ssh_auth_failed(c);
				return R_STOP;
			}
			free(c->key_cur);
			c->key_cur = xstrdup(c->keys.v[c->key_next++]);
			if (ssh_key_inspect(c->key_cur, &c->key_info, &cause) != 0) {
				ssh_auth_note(c, "%s", cause);
				free(cause);
				cause = NULL;
				continue;
			}
			if (!c->key_info.exists) {
				if (c->t.identity != NULL)
					ssh_auth_note(c, "%s does not exist", c->key_cur);
				continue;
			}
			break;
		}
		c->pass_attempt = 0;
		ssh_wipe(&c->passphrase, c->passphrase != NULL ? strlen(c->passphrase) : 0);
		if (c->key_info.encrypted) {
			if (c->saved_pass != NULL && c->saved_pass_key != NULL &&
			    strcmp(c->saved_pass_key, c->key_cur) == 0) {
				c->passphrase = xstrdup(c->saved_pass);
			} else if (c->cbs.passphrase == NULL) {
				ssh_auth_note(c, "%s is encrypted and no passphrase can be asked", c->key_cur);
				return R_PROGRESS;
			} else {
				c->pass_attempt = 1;
				ssh_ask_pass(c);
				return R_STOP;
			}
		}
		c->as = AS_KEY_TRY;
		return R_PROGRESS;
	case AS_KEY_TRY:
		/*
		 * No .pub: libssh2 derives the public key from the private one, so a wrong
		 * passphrase fails here (LIBSSH2_ERROR_FILE) instead of costing a server attempt.
		 */
		rc = libssh2_userauth_publickey_fromfile_ex(c->s, user, ulen, NULL, c->key_cur,
		    c->passphrase != NULL ? c->passphrase : "");
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return R_WAIT;
		if (rc == 0) {
			ssh_ready(c);
			return R_WAIT;
		}
		if (ssh_session_error(rc)) {
			ssh_fail(c, SSH_FAIL_AUTH, "%s closed the connection during authentication "
			    "(%s): too many keys offered? (sshd's MaxAuthTries)", c->label, ssh_errmsg(c));
			return R_STOP;
		}
		if (rc == LIBSSH2_ERROR_FILE && c->key_info.encrypted && c->cbs.passphrase != NULL &&
		    c->pass_attempt > 0 && c->pass_attempt < SSH_MAX_PASS_TRIES) {
			/* A wrong passphrase: ask again. */
			c->pass_attempt++;
			ssh_wipe(&c->passphrase, c->passphrase != NULL ? strlen(c->passphrase) : 0);
			ssh_ask_pass(c);
			return R_STOP;
		}
		if (rc == LIBSSH2_ERROR_FILE) {
			ssh_auth_note(c, "%s could not be used (%s%s)", c->key_cur,
			    c->key_info.encrypted ? "wrong passphrase, or " : "", ssh_errmsg(c));
			if (c->saved_pass_key != NULL && strcmp(c->saved_pass_key, c->key_cur) == 0) {
				ssh_wipe(&c->saved_pass, strlen(c->saved_pass));
				free(c->saved_pass_key);
				c->saved_pass_key = NULL;
			}
		} else {
			ssh_auth_note(c, "%s (%s) refused", c->key_cur,
			    c->key_info.type[0] != '\0' ? c->key_info.type : "unknown type");
			if (c->key_info.is_rsa)
				c->rsa_refused = true;
			else
				c->other_refused = true;
		}
		c->as = AS_KEY_NEXT;
		return R_PROGRESS;
	}
	return R_WAIT;
}

/* Drive authentication until it waits. */
static void
ssh_step_auth(struct ssh_conn *c)
{
	while (c->phase == CP_AUTH && ssh_auth_once(c) == R_PROGRESS)
		;
}

/* Idle and the socket is readable: EOF means the server went away. */
static void
ssh_idle_read(struct ssh_conn *c)
{
	struct tjob *j;
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n == 0) {
		ssh_lost(c, "the server closed the connection");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			ssh_lost(c, strerror(errno));
		return;
	}
	/* Something came (a server keepalive, a rekey): a channel open lets libssh2 take it. */
	TAILQ_FOREACH(j, &c->jobs, entry) {
		if (j->kind == JK_PING)
			return;
	}
	ssh_job_new(c, JK_PING);
	ssh_pump_ready(c);
}

/* Are any channels in use? */
static bool
ssh_has_busy(struct ssh_conn *c)
{
	struct tjob *j;

	TAILQ_FOREACH(j, &c->jobs, entry) {
		if (ssh_job_busy(j))
			return true;
	}
	return false;
}

/* Run whatever the current phase needs. */
static void
ssh_pump(struct ssh_conn *c)
{
	switch (c->phase) {
	case CP_HANDSHAKE:
		ssh_step_handshake(c);
		if (c->phase == CP_AUTH)
			ssh_step_auth(c);
		if (c->phase == CP_READY)
			ssh_pump_ready(c);
		break;
	case CP_AUTH:
		ssh_step_auth(c);
		if (c->phase == CP_READY)
			ssh_pump_ready(c);
		break;
	case CP_READY:
		ssh_pump_ready(c);
		break;
	default:
		break;
	}
}

/* The socket is ready. */
static void
ssh_sock_cb(int fd, short revents, void *data)
{
	struct ssh_conn *c = data;

	c->depth++;
	if (c->phase == CP_CONNECT) {
		int err = 0;
		socklen_t len = sizeof err;

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0) {
			free(c->connect_err);
			c->connect_err = xstrdup(strerror(err));
			loop_del_fd(c->loop, fd);
			close(fd);
			c->fd = -1;
			c->fd_watched = false;
			c->ai_cur = c->ai_cur->ai_next;
			ssh_connect_next(c);
		} else {
			ssh_session_start(c);
			ssh_pump(c);
		}
	} else if (c->phase == CP_READY && !ssh_has_busy(c) && (revents & (POLLIN | POLLHUP | POLLERR))) {
		ssh_idle_read(c);
	} else
		ssh_pump(c);
	c->depth--;
	ssh_settle(c);
}

/* The kick timer: go on from the loop. */
static void
ssh_kick_cb(void *data)
{
	struct ssh_conn *c = data;
	struct tjob *j;
	bool want = false;

	c->kick_timer = 0;
	c->depth++;
	TAILQ_FOREACH(j, &c->jobs, entry) {
		if (j->phase == J_QUEUED || j->phase == J_DETACHED)
			want = true;
	}
	switch (c->phase) {
	case CP_IDLE:
	case CP_FAILED:
		if (want) {
			c->reconnecting = false;
			ssh_begin(c);
		}
		break;
	case CP_ASK_HOSTKEY:
		if (c->hostkey_answer == 1)
			ssh_hostkey_accepted(c);
		else if (c->hostkey_answer == 0)
			ssh_fail(c, SSH_FAIL_HOSTKEY_UNKNOWN, "the host key of %s (%s) was not trusted",
			    c->label, c->fingerprint);
		if (c->phase == CP_AUTH)
			ssh_step_auth(c);
		if (c->phase == CP_READY)
			ssh_pump_ready(c);
		break;
	case CP_ASK_PASS:
		if (c->pass_answered) {
			ssh_timer(c, &c->timeout_timer, c->o.connect_timeout_ms, ssh_timeout_cb, c);
			c->phase = CP_AUTH;
			c->as = c->passphrase != NULL ? AS_KEY_TRY : AS_KEY_NEXT;
			if (c->passphrase == NULL)
				ssh_auth_note(c, "%s skipped (no passphrase)", c->key_cur);
			ssh_step_auth(c);
			if (c->phase == CP_READY)
				ssh_pump_ready(c);
		}
		break;
	default:
		ssh_pump(c);
		break;
	}
	c->depth--;
	ssh_settle(c);
}

/* Make the loop come back to this connection soon. */
static void
ssh_kick(struct ssh_conn *c)
{
	if (c->kick_timer == 0)
		c->kick_timer = loop_add_timer(c->loop, 0, ssh_kick_cb, c);
}

/* Send a keepalive when the line is quiet enough that it cannot be cut in half. */
static void
ssh_keepalive_cb(void *data)
{
	struct ssh_conn *c = data;
	int next = (int)c->o.keepalive_s, outq = 1;

	c->keepalive_timer = 0;
	if (c->phase != CP_READY)
		return;
	c->depth++;
	if (c->owner == NULL &&
	    !(libssh2_session_block_directions(c->s) & LIBSSH2_SESSION_BLOCK_OUTBOUND) &&
	    ioctl(c->fd, SIOCOUTQ, &outq) == 0 && outq == 0) {
		if (libssh2_keepalive_send(c->s, &next) != 0 &&
		    libssh2_session_last_errno(c->s) != LIBSSH2_ERROR_EAGAIN)
			ssh_lost(c, "keepalive failed");
	} else
		next = 1;
	if (c->phase == CP_READY)
		c->keepalive_timer = loop_add_timer(c->loop, (uint64_t)(next > 0 ? next : 1) * 1000,
		    ssh_keepalive_cb, c);
	c->depth--;
	ssh_settle(c);
}

/* Watch the socket for what the current phase waits on. */
static void
ssh_update_events(struct ssh_conn *c)
{
	short ev = 0;
	int dirs;

	if (c->fd == -1 || !c->fd_watched)
		return;
	switch (c->phase) {
	case CP_CONNECT:
		ev = POLLOUT;
		break;
	case CP_HANDSHAKE:
	case CP_AUTH:
		dirs = c->s != NULL ? libssh2_session_block_directions(c->s) : 0;
		if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND)
			ev |= POLLIN;
		if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			ev |= POLLOUT;
		if (ev == 0)
			ev = POLLIN;
		break;
	case CP_READY:
		ev = POLLIN;
		if (c->owner != NULL)
			ev |= POLLOUT;
		if (c->keepalive_timer == 0 && c->o.keepalive_s > 0)
			c->keepalive_timer = loop_add_timer(c->loop, (uint64_t)c->o.keepalive_s * 1000,
			    ssh_keepalive_cb, c);
		break;
	default:
		ev = 0;
		break;
	}
	loop_set_events(c->loop, c->fd, ev);
}

/*
 * After a loop callback: call the end callbacks that are due, free finished jobs, update
 * the socket's events, and free the connection if that was asked for meanwhile.
 */
static void
ssh_settle(struct ssh_conn *c)
{
	struct tjob *j, *tmp;
	bool again = true, queued = false;

	if (c->depth > 0)
		return;
	c->depth++;
	while (again && !c->free_pending) {
		again = false;
		TAILQ_FOREACH(j, &c->jobs, entry) {
			if (j->kind == JK_USER && j->end_set && !j->ended && !j->orphan &&
			    (j->phase == J_DONE || j->phase == J_FREE)) {
				struct tjob_cbs cbs = j->cbs;
				enum tjob_end how = j->how;
				int code = j->code;
				char *msg = j->message != NULL ? xstrdup(j->message) : NULL;

				j->ended = true;
				if (cbs.end != NULL)
					cbs.end(cbs.data, how, code, msg);
				free(msg);
				again = true;   /* the callback may have changed the list */
				break;
			}
		}
	}
	c->depth--;
	if (c->free_pending) {
		ssh_really_free(c);
		return;
	}
	TAILQ_FOREACH_SAFE(j, &c->jobs, entry, tmp) {
		if (j->phase == J_QUEUED && (c->phase != CP_READY ||
		    (c->opener == NULL && ssh_can_open(c, j))))
			queued = true;
		if (j->phase != J_DONE || c->owner == j || c->opener == j)
			continue;
		if (j->kind != JK_USER || j->orphan)
			ssh_job_destroy(j);
	}
	if (queued && (c->phase == CP_READY || c->phase == CP_IDLE || c->phase == CP_FAILED))
		ssh_kick(c);
	ssh_update_events(c);
	ssh_tunnel_events(c);
}

/* ---------------------------------------------------------------- public */

/* Create a connection. */
struct ssh_conn *
ssh_conn_new(struct loop *l, const struct ssh_target *t, const struct ssh_cbs *cbs)
{
	struct ssh_conn *c = xcalloc(1, sizeof *c);
	struct ssh_opts none;

	if (libssh2_init(0) != 0)
		fatal("libssh2_init failed");
	c->loop = l;
	c->t.host = xstrdup(t->host);
	c->t.hostname = xstrdup(t->hostname != NULL ? t->hostname : t->host);
	c->t.user = xstrdup(t->user != NULL ? t->user : "root");
	c->t.port = t->port > 0 ? t->port : 22;
	c->t.identity = xstrdup(t->identity);
	c->t.known_hosts = xstrdup(t->known_hosts);
	c->t.accept_new = t->accept_new;
	c->kh_file = expand_home(t->known_hosts != NULL ? t->known_hosts : "~/.ssh/known_hosts");
	c->label = ssh_target_string(&c->t);
	if (cbs != NULL)
		c->cbs = *cbs;
	c->fd = -1;
	c->hostkey_answer = -1;
	TAILQ_INIT(&c->jobs);
	LIST_INIT(&c->tunnels);
	c->buf = xmalloc(SSH_READ_SIZE);
	memset(&none, 0, sizeof none);
	ssh_conn_set_opts(c, &none);
	return c;
}

/* Set the tunables (zero fields take the defaults). */
void
ssh_conn_set_opts(struct ssh_conn *c, const struct ssh_opts *o)
{
	c->o = *o;
	if (c->o.connect_timeout_ms == 0)
		c->o.connect_timeout_ms = SSH_CONNECT_TIMEOUT_MS;
	if (c->o.keepalive_s == 0)
		c->o.keepalive_s = SSH_KEEPALIVE_S;
	if (c->o.reconnect_ms == 0)
		c->o.reconnect_ms = SSH_RECONNECT_MS;
	if (c->o.max_channels == 0)
		c->o.max_channels = SSH_MAX_CHANNELS;
	free(c->remote_dir);
	c->remote_dir = xstrdup(o->remote_dir);
	c->o.remote_dir = c->remote_dir;
	c->max_eff = c->o.max_channels;
}

/* Free everything now. */
static void
ssh_really_free(struct ssh_conn *c)
{
	struct tjob *j;
	struct ssh_tunnel *tun;

	while ((tun = LIST_FIRST(&c->tunnels)) != NULL) {
		LIST_REMOVE(tun, entry);
		loop_del_fd(c->loop, tun->lfd);
		close(tun->lfd);
		tun->lfd = -1;
		tun->conn = NULL;
	}
	ssh_untimer(c, &c->timeout_timer);
	ssh_untimer(c, &c->retry_timer);
	ssh_untimer(c, &c->kick_timer);
	ssh_teardown(c, true);
	ssh_resolve_clear(c);
	while ((j = TAILQ_FIRST(&c->jobs)) != NULL) {
		TAILQ_REMOVE(&c->jobs, j, entry);
		ssh_untimer(c, &j->cancel_timer);
		j->conn = NULL;
		j->ch = NULL;
		if (j->kind != JK_USER || j->orphan)
			ssh_job_destroy(j);
		else
			j->ended = true;   /* detached: its owner frees it, no callback comes */
	}
	for (size_t i = 0; i < c->forbidden.n; i++)
		explicit_bzero(c->forbidden.v[i], strlen(c->forbidden.v[i]));
	sv_free(&c->forbidden);
	ssh_wipe(&c->saved_pass, c->saved_pass != NULL ? strlen(c->saved_pass) : 0);
	free(c->saved_pass_key);
	free(c->fingerprint);
	free(c->fail_msg);
	free(c->connect_err);
	free(c->label);
	free(c->kh_file);
	free(c->remote_dir);
	free(c->buf);
	ssh_target_clear(&c->t);
	free(c);
}

/* Close and free a connection. */
void
ssh_conn_free(struct ssh_conn **cp)
{
	struct ssh_conn *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->depth > 0) {
		c->free_pending = true;
		return;
	}
	ssh_really_free(c);
}

/* Start connecting. */
void
ssh_conn_connect(struct ssh_conn *c)
{
	if (c->phase != CP_IDLE && c->phase != CP_FAILED)
		return;
	c->depth++;
	c->reconnecting = false;
	ssh_begin(c);
	c->depth--;
	ssh_settle(c);
}

/* The answer to the host key question. */
void
ssh_conn_answer_hostkey(struct ssh_conn *c, bool yes)
{
	if (c->phase != CP_ASK_HOSTKEY)
		return;
	c->hostkey_answer = yes ? 1 : 0;
	ssh_kick(c);
}

/* The answer to the passphrase question. */
void
ssh_conn_answer_passphrase(struct ssh_conn *c, const char *passphrase)
{
	if (c->phase != CP_ASK_PASS)
		return;
	ssh_wipe(&c->passphrase, c->passphrase != NULL ? strlen(c->passphrase) : 0);
	c->passphrase = passphrase != NULL ? xstrdup(passphrase) : NULL;
	c->pass_answered = true;
	ssh_kick(c);
}

/* Refuse commands that contain value. */
void
ssh_conn_forbid(struct ssh_conn *c, const char *value)
{
	if (value != NULL && *value != '\0')
		sv_push(&c->forbidden, value);
}

/* The current state. */
enum ssh_state
ssh_conn_state(const struct ssh_conn *c)
{
	return c->state;
}

/* Why the last attempt failed. */
enum ssh_failure
ssh_conn_failure(const struct ssh_conn *c, const char **message)
{
	if (message != NULL)
		*message = c->fail_msg;
	return c->failure;
}

/* The host key fingerprint. */
const char *
ssh_conn_fingerprint(const struct ssh_conn *c)
{
	return c->fingerprint;
}

/* The target. */
const struct ssh_target *
ssh_conn_target(const struct ssh_conn *c)
{
	return &c->t;
}

/* The loop the connection runs in. */
struct loop *
ssh_conn_loop(const struct ssh_conn *c)
{
	return c->loop;
}

/* The counters. */
void
ssh_conn_stats(const struct ssh_conn *c, struct ssh_stats *st)
{
	*st = c->stats;
}

/* ---------------------------------------------------------------- tunnels */

#define SSH_TUNNEL_BUF 65536

/* Close a tunnel job's local socket. */
static void
ssh_tunnel_close_fd(struct tjob *j)
{
	if (j->tfd == -1)
		return;
	if (j->tloop != NULL)
		loop_del_fd(j->tloop, j->tfd);
	close(j->tfd);
	j->tfd = -1;
}

/* The local side is done with (or gone): close the channel gracefully. */
static int
ssh_tunnel_finish(struct tjob *j)
{
	ssh_tunnel_close_fd(j);
	ssh_job_end(j, TJOB_EXITED, 0, NULL);
	j->phase = J_CLOSE;
	return R_PROGRESS;
}

/*
 * Move bytes both ways between the local socket and the channel, without waiting: local ->
 * channel (then EOF when the local side shut its writing half), channel -> local (then the
 * local socket is closed once the server's side ended and everything was delivered).
 */
static int
ssh_tunnel_io(struct tjob *j)
{
	bool progress = false;
	ssize_t n;
	int rc;

	if (j->force || j->tfd == -1)
		return ssh_tunnel_finish(j);
	/* Local -> channel. */
	for (;;) {
		if (j->tin_off == j->tin_len && !j->tin_eof) {
			if (j->tin == NULL)
				j->tin = xmalloc(SSH_TUNNEL_BUF);
			n = recv(j->tfd, j->tin, SSH_TUNNEL_BUF, MSG_DONTWAIT);
			if (n == 0)
				j->tin_eof = true;
			else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				break;
			else if (n < 0)
				return ssh_tunnel_finish(j);
			j->tin_off = 0;
			j->tin_len = n > 0 ? (size_t)n : 0;
			progress = true;
		}
		if (j->tin_off == j->tin_len)
			break;
		n = libssh2_channel_write(j->ch, j->tin + j->tin_off, j->tin_len - j->tin_off);
		if (n == LIBSSH2_ERROR_EAGAIN || n == LIBSSH2_ERROR_BAD_USE) {
			if (ssh_again(j, OP_WRITE, (int)n) == R_STOP)
				return R_STOP;
			break;
		}
		if (n < 0) {
			if (ssh_session_error((int)n))
				return ssh_job_error(j, (int)n, "writing to the tunnel");
			return ssh_tunnel_finish(j);
		}
		ssh_op_done(j);
		if (n == 0)
			break;   /* the window is full */
		j->tin_off += (size_t)n;
		progress = true;
	}
	if (j->tin_eof && j->tin_off == j->tin_len && !j->eof_sent) {
		rc = libssh2_channel_send_eof(j->ch);
		if (rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE) {
			if (ssh_again(j, OP_EOF, rc) == R_STOP)
				return R_STOP;
		} else {
			ssh_op_done(j);
			if (rc < 0 && ssh_session_error(rc))
				return ssh_job_error(j, rc, "closing the tunnel");
			j->eof_sent = true;
			progress = true;
		}
	}
	/* Channel -> local. */
	for (int i = 0; i < SSH_READS_PER_STEP; i++) {
		if (j->tout_off < j->tout_len) {
			n = send(j->tfd, j->tout + j->tout_off, j->tout_len - j->tout_off,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				break;
			if (n < 0)
				return ssh_tunnel_finish(j);
			j->tout_off += (size_t)n;
			progress = true;
			if (j->tout_off < j->tout_len)
				break;
		}
		if (j->tout == NULL)
			j->tout = xmalloc(SSH_TUNNEL_BUF);
		n = libssh2_channel_read(j->ch, j->tout, SSH_TUNNEL_BUF);
		if (n > 0) {
			ssh_op_done(j);
			j->tout_off = 0;
			j->tout_len = (size_t)n;
			progress = true;
			continue;
		}
		j->tout_off = j->tout_len = 0;
		if (n == 0) {
			ssh_op_done(j);
			break;
		}
		if (n == LIBSSH2_ERROR_EAGAIN || n == LIBSSH2_ERROR_BAD_USE) {
			if (ssh_again(j, OP_READ_OUT, (int)n) == R_STOP)
				return R_STOP;
			break;
		}
		if (ssh_session_error((int)n))
			return ssh_job_error(j, (int)n, "reading from the tunnel");
		return ssh_tunnel_finish(j);
	}
	if (j->tout_off == j->tout_len && libssh2_channel_eof(j->ch) == 1) {
		/* The server's side ended and all of it was delivered. */
		if (!j->eof_sent && libssh2_channel_send_eof(j->ch) == LIBSSH2_ERROR_EAGAIN)
			return ssh_again(j, OP_EOF, LIBSSH2_ERROR_EAGAIN);
		ssh_op_done(j);
		j->eof_sent = true;
		return ssh_tunnel_finish(j);
	}
	return progress ? R_PROGRESS : R_WAIT;
}

/* Watch each tunnel socket for what its job can take now. */
static void
ssh_tunnel_events(struct ssh_conn *c)
{
	struct tjob *j;

	TAILQ_FOREACH(j, &c->jobs, entry) {
		short ev = 0;

		if (j->kind != JK_TUNNEL || j->tfd == -1)
			continue;
		if (j->phase == J_IO && c->phase == CP_READY) {
			if (j->tin_off == j->tin_len && !j->tin_eof)
				ev |= POLLIN;
			if (j->tout_off < j->tout_len)
				ev |= POLLOUT;
		}
		loop_set_events(c->loop, j->tfd, ev);
	}
}

/* A tunnel socket is ready: pump the session. */
static void
ssh_tunnel_fd_cb(int fd, short revents, void *data)
{
	struct tjob *j = data;
	struct ssh_conn *c = j->conn;

	(void)fd;
	if (c == NULL)
		return;
	c->depth++;
	/* poll reports these even when nothing is watched: never let them spin the loop. */
	if (revents & (POLLERR | POLLNVAL | POLLHUP)) {
		if (j->phase == J_QUEUED) {
			ssh_tunnel_close_fd(j);
			ssh_job_end(j, TJOB_FAILED, -1, "the local side went away");
			ssh_job_done(j);
		} else if (j->phase == J_IO && ((revents & (POLLERR | POLLNVAL)) ||
		    j->tin_off == j->tin_len))
			j->force = true;
		else if (j->phase != J_IO)
			ssh_tunnel_close_fd(j);
	}
	if (c->phase == CP_READY)
		ssh_pump_ready(c);
	c->depth--;
	ssh_settle(c);
}

/* A connection came to the listener: give it a channel to the destination. */
static void
ssh_tunnel_accept_cb(int fd, short revents, void *data)
{
	struct ssh_tunnel *tun = data;
	struct ssh_conn *c = tun->conn;
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	struct tjob *j;
	int s;

	(void)revents;
	if (c == NULL)
		return;
	s = accept4(fd, (struct sockaddr *)&sin, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (s == -1)
		return;
	ssh_sockopts(s);
	tun->accepted++;
	c->depth++;
	j = ssh_job_new(c, JK_TUNNEL);
	j->tloop = c->loop;
	j->tfd = s;
	j->thost = xstrdup(tun->host);
	j->tport = tun->port;
	j->tsrcport = ntohs(sin.sin_port);
	loop_add_fd(c->loop, s, 0, ssh_tunnel_fd_cb, j);
	if (c->phase == CP_READY)
		ssh_pump_ready(c);
	c->depth--;
	ssh_settle(c);
}

/* Listen on 127.0.0.1:0 for connections forwarded to host:port from the server. */
struct ssh_tunnel *
ssh_tunnel_open(struct ssh_conn *c, const char *host, int port, char **cause)
{
	struct ssh_tunnel *tun;
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd;

	if (host == NULL || *host == '\0' || port <= 0 || port > 65535) {
		set_cause(cause, "a tunnel needs a host and a port from 1 to 65535");
		return NULL;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		set_cause(cause, "socket: %s", strerror(errno));
		return NULL;
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		set_cause(cause, "cannot listen on 127.0.0.1 for a tunnel: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	tun = xcalloc(1, sizeof *tun);
	tun->conn = c;
	tun->lfd = fd;
	tun->lport = ntohs(sin.sin_port);
	tun->host = xstrdup(host);
	tun->port = port;
	LIST_INSERT_HEAD(&c->tunnels, tun, entry);
	loop_add_fd(c->loop, fd, POLLIN, ssh_tunnel_accept_cb, tun);
	return tun;
}

/* The local port of a tunnel. */
int
ssh_tunnel_port(const struct ssh_tunnel *tun)
{
	return tun->lport;
}

/* How many connections a tunnel accepted. */
unsigned
ssh_tunnel_accepted(const struct ssh_tunnel *tun)
{
	return tun->accepted;
}

/* Stop listening; forwarded connections still open finish on their own. */
void
ssh_tunnel_free(struct ssh_tunnel **tp)
{
	struct ssh_tunnel *tun = *tp;

	if (tun == NULL)
		return;
	*tp = NULL;
	if (tun->conn != NULL) {
		LIST_REMOVE(tun, entry);
		loop_del_fd(tun->conn->loop, tun->lfd);
		close(tun->lfd);
	}
	free(tun->host);
	free(tun);
}

/* ---------------------------------------------------------------- transport ops */

/* Does [p, p+len) contain any forbidden value? */
static bool
ssh_has_forbidden(struct ssh_conn *c, const char *p, size_t len)
{
	if (p == NULL)
		return false;
	for (size_t i = 0; i < c->forbidden.n; i++) {
		size_t n = strlen(c->forbidden.v[i]);

		if (n > 0 && n <= len && memmem(p, len, c->forbidden.v[i], n) != NULL)
			return true;
	}
	return false;
}

/* Is name a valid environment name that we do not use ourselves? */
static bool
ssh_env_name_ok(const char *e, size_t n)
{
	if (n == 0 || (e[0] >= '0' && e[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = e[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '_'))
			return false;
	}
	return !(n >= 3 && strncmp(e, "dw_", 3) == 0);
}

/* Is id usable as a directory name? */
static bool
ssh_id_ok(const char *id)
{
	size_t n = id != NULL ? strlen(id) : 0;

	if (n == 0 || n > 64 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '_' || ch == '-' || ch == '.'))
			return false;
	}
	return true;
}

/* Start a command: queue it; the connection is made if needed. */
static struct tjob *
ssh_start(void *tdata, struct loop *l, const struct transport_cmd *cmd,
    const struct tjob_cbs *cbs, char **cause)
{
	struct ssh_conn *c = tdata;
	struct tjob *j;
	bool refuse;

	(void)l;
	if (c == NULL) {
		set_cause(cause, "no SSH connection");
		return NULL;
	}
	if (cmd->script == NULL) {
		set_cause(cause, "no command");
		return NULL;
	}
	for (size_t i = 0; cmd->env != NULL && cmd->env[i] != NULL; i++) {
		const char *eq = strchr(cmd->env[i], '=');
		size_t n = eq != NULL ? (size_t)(eq - cmd->env[i]) : strlen(cmd->env[i]);

		if (eq == NULL || !ssh_env_name_ok(cmd->env[i], n)) {
			set_cause(cause, "bad environment entry \"%.*s\" (names are letters, digits and _; "
			    "dw_ is reserved)", (int)(n > 64 ? 64 : n), cmd->env[i]);
			return NULL;
		}
	}
	if (cmd->supervised && !ssh_id_ok(cmd->id)) {
		set_cause(cause, "a supervised command needs an id of 1 to 64 letters, digits, '.', "
		    "'_' or '-'");
		return NULL;
	}
	refuse = ssh_has_forbidden(c, cmd->script, strlen(cmd->script)) ||
	    ssh_has_forbidden(c, cmd->cwd, cmd->cwd != NULL ? strlen(cmd->cwd) : 0) ||
	    ssh_has_forbidden(c, cmd->stdin_data, cmd->stdin_data != NULL ? cmd->stdin_len : 0);
	for (size_t i = 0; !refuse && cmd->env != NULL && cmd->env[i] != NULL; i++)
		refuse = ssh_has_forbidden(c, cmd->env[i], strlen(cmd->env[i]));

	j = ssh_job_new(c, JK_USER);
	j->cbs = *cbs;
	if (refuse) {
		/* The end comes from the loop, never from inside start. */
		ssh_job_end(j, TJOB_FAILED, -1, "refused: command would send a local-only secret "
		    "to the server");
		ssh_job_done(j);
		ssh_kick(c);
		return j;
	}
	j->script = xstrdup(cmd->script);
	j->cwd = xstrdup(cmd->cwd);
	for (size_t i = 0; cmd->env != NULL && cmd->env[i] != NULL; i++)
		sv_push(&j->env, cmd->env[i]);
	if (cmd->stdin_data != NULL) {
		j->stdin_data = xmalloc(cmd->stdin_len + 1);
		memcpy(j->stdin_data, cmd->stdin_data, cmd->stdin_len);
		j->stdin_len = cmd->stdin_len;
	}
	j->supervised = cmd->supervised;
	j->id = xstrdup(cmd->id);
	ssh_kick(c);
	return j;
}

/* The kill did not end the command in time: close its channel. */
static void
ssh_cancel_timer_cb(void *data)
{
	struct tjob *j = data;
	struct ssh_conn *c = j->conn;

	j->cancel_timer = 0;
	if (c == NULL || j->phase == J_DONE)
		return;
	c->depth++;
	if (j->phase == J_OPEN || j->phase == J_EXEC || j->phase == J_IO) {
		j->force = true;
		ssh_kick(c);
	}
	c->depth--;
	ssh_settle(c);
}

/*
 * Cancel: a second exec sends TERM to the command's process group, then KILL after
 * grace_ms; if the channel is still open SSH_FORCE_CLOSE_MS later, it is closed.
 */
static void
ssh_cancel(struct tjob *j, unsigned grace_ms)
{
	struct ssh_conn *c = j->conn;

	if (c == NULL || j->end_set || j->canceled)
		return;
	j->canceled = true;
	j->grace_ms = grace_ms;
	switch (j->phase) {
	case J_QUEUED:
		ssh_job_end(j, TJOB_FAILED, -1, "canceled before it started");
		ssh_job_done(j);
		break;
	case J_DETACHED:
		ssh_queue_kill(j, grace_ms);   /* runs after the reconnect */
		break;
	case J_OPEN:
	case J_EXEC:
	case J_IO:
		/* Before the exec went out, the kill is queued once it has. */
		if (j->phase == J_IO)
			ssh_queue_kill(j, grace_ms);
		if (!j->supervised)
			ssh_timer(c, &j->cancel_timer, (uint64_t)grace_ms + SSH_FORCE_CLOSE_MS,
			    ssh_cancel_timer_cb, j);
		break;
	default:
		break;
	}
	ssh_kick(c);
}

/* Free a job; one still running is killed first, without its end callback. */
static void
ssh_free(struct tjob *j)
{
	struct ssh_conn *c;

	if (j == NULL)
		return;
	c = j->conn;
	if (c == NULL) {
		ssh_job_destroy(j);
		return;
	}
	j->orphan = true;
	if (!j->end_set) {
		if (j->phase == J_QUEUED || j->phase == J_DETACHED) {
			if (j->phase == J_DETACHED)
				ssh_queue_kill(j, 0);
			ssh_job_end(j, TJOB_FAILED, -1, "freed");
			ssh_job_done(j);
		} else {
			j->canceled = true;
			j->grace_ms = 0;
			if (j->phase == J_IO)
				ssh_queue_kill(j, 0);
			j->force = true;
		}
	}
	if (j->phase == J_DONE && c->depth == 0 && c->owner != j && c->opener != j) {
		ssh_job_destroy(j);
		return;
	}
	ssh_kick(c);
}

const struct transport_ops transport_ssh_ops = {
	.name = "ssh",
	.start = ssh_start,
	.cancel = ssh_cancel,
	.free = ssh_free,
};
