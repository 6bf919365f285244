/*
 * ssh-int.h: what the files of the SSH transport share (ssh-conn.c, ssh-auth.c, ssh-job.c,
 * ssh-tunnel.c); the rest of the program sees ssh.h only. A connection (struct ssh_conn)
 * holds one libssh2 session and a queue of jobs (struct tjob): user commands, internal
 * ones (kill, clean-up, ping) and tunnel connections, each on its own channel.
 */
#ifndef DW_SSH_INT_H
#define DW_SSH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <libssh2.h>

#include "loop.h"
#include "ssh.h"
#include "transport.h"
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
#define SSH_BOOT_ERR "dstack-wizard-error: "   /* as steps/remote-agent.sh prints it */

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
	struct strvec kh_files;      /* the known_hosts files; new keys go to the first */
	const char *kh_host;         /* the name looked up there: HostKeyAlias, else hostname */
	int kh_port;                 /* 0 with HostKeyAlias */
	struct ssh_cbs cbs;
	struct ssh_opts o;
	char *remote_dir;
	char *label;                 /* user@host:port */

	enum ssh_state state;
	enum ssh_phase phase;
	enum ssh_failure failure;
	char *fail_msg;

	/* Resolve and connect, or the proxy (ProxyJump, ProxyCommand) and its socket. */
	struct ssh_proxy *proxy;
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

/*
 * The parts of the program sent on each channel's stdin (steps/remote-agent.sh, made into
 * steps/remote-agent.c by the build), put together by ssh_agent_program.
 */
extern const char ssh_agent_common[], ssh_agent_dirs[], ssh_agent_signal[], ssh_agent_run[],
    ssh_agent_sup[], ssh_agent_kill[], ssh_agent_killpg[], ssh_agent_rm[];

/* ssh-conn.c */
void ssh_set_state(struct ssh_conn *c, enum ssh_state st, const char *message);
const char *ssh_errmsg(struct ssh_conn *c);
bool ssh_session_error(int rc);
void ssh_timer(struct ssh_conn *c, uint64_t *id, uint64_t ms, loop_timer_cb cb, void *data);
void ssh_untimer(struct ssh_conn *c, uint64_t *id);
void ssh_wipe(char **p, size_t len);
void ssh_fail(struct ssh_conn *c, enum ssh_failure kind, const char *fmt, ...) DW_PRINTF(3, 4);
void ssh_lost(struct ssh_conn *c, const char *why);
void ssh_timeout_cb(void *data);
void ssh_sockopts(int fd);
void ssh_ready(struct ssh_conn *c);
void ssh_kick(struct ssh_conn *c);
void ssh_settle(struct ssh_conn *c);

/* ssh-auth.c */
void ssh_hostkey_prefs(struct ssh_conn *c);
void ssh_check_hostkey(struct ssh_conn *c);
void ssh_hostkey_accepted(struct ssh_conn *c);
void ssh_auth_note(struct ssh_conn *c, const char *fmt, ...) DW_PRINTF(2, 3);
void ssh_step_auth(struct ssh_conn *c);

/* ssh-job.c */
struct tjob *ssh_job_new(struct ssh_conn *c, enum ssh_jkind kind);
void ssh_job_end(struct tjob *j, enum tjob_end how, int code, const char *message);
void ssh_job_done(struct tjob *j);
void ssh_job_destroy(struct tjob *j);
void ssh_drop_input(struct tjob *j);
int ssh_again(struct tjob *j, enum ssh_op op, int rc);
void ssh_op_done(struct tjob *j);
int ssh_job_error(struct tjob *j, int rc, const char *what);
bool ssh_job_busy(const struct tjob *j);
bool ssh_can_open(struct ssh_conn *c, struct tjob *j);
void ssh_pump_ready(struct ssh_conn *c);

/* ssh-target.c */
void ssh_target_copy(struct ssh_target *to, const struct ssh_target *from);

/* ssh-proxy.c */
struct ssh_proxy;
char *ssh_find_program(const char *name);
pid_t ssh_spawn(char *const argv[], int in, int out, int err);
char *ssh_printable(const char *s, size_t len);
int ssh_proxy_jump_check(const char *jump, char **cause);
char *ssh_proxy_expand(const char *cmd, const struct ssh_target *t, char **cause);
int ssh_proxy_start(struct loop *l, const struct ssh_target *t, struct ssh_proxy **out,
    int *fd, char **cause);
const char *ssh_proxy_what(const struct ssh_proxy *p);
char *ssh_proxy_stderr(struct ssh_proxy *p);
void ssh_proxy_stop(struct ssh_proxy **pp);

/* ssh-tunnel.c */
int ssh_tunnel_io(struct tjob *j);
void ssh_tunnel_close_fd(struct tjob *j);
void ssh_tunnel_events(struct ssh_conn *c);

#endif
