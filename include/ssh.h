/*
 * ssh.h: the SSH transport. One connection (struct ssh_conn) per server, driven by the one
 * loop: libssh2 on a non-blocking socket, a state machine for resolve -> connect ->
 * handshake -> host key -> authentication -> ready, then several commands at once, each on
 * its own channel of the one session. A command runs through `struct transport` with
 * ops = &transport_ssh_ops and data = the connection.
 *
 *   steps/ssh-target.c      targets: [user@]host[:port] resolved by ssh -G
 *   steps/ssh-proxy.c       ProxyJump and ProxyCommand: the proxy process and its socket
 *   steps/ssh-keys.c        known_hosts, fingerprints, key files
 *   steps/ssh-conn.c        the connection: resolve, connect, handshake, reconnects
 *   steps/ssh-auth.c        the host key check and authentication
 *   steps/ssh-job.c         commands on channels, supervised commands
 *   steps/ssh-tunnel.c      tunnels (direct-tcpip bridged to a local listening socket)
 *   steps/ssh-preflight.c   the pre-flight probes and how each failure is fixed
 *
 * How a command reaches the server (nothing secret ever is in an argv):
 *   the exec request (the remote command line, visible in ps) is the fixed reader
 *       exec bash -c 'LC_ALL=C IFS= read -r n && LC_ALL=C IFS= read -r -N "$n" p && eval "$p"'
 *   and the channel's stdin carries, with exact byte counts, a small bash program, then the
 *   mode, the script, the cwd, the environment (NAME=VALUE) and finally the command's own
 *   stdin_data, then EOF. The program exports the environment, changes directory and runs
 *   `bash -c SCRIPT` with the rest of stdin. Bootstrap errors (a bad cwd, ...) are one line
 *   "dstack-wizard-error: ..." on stderr and end the job as TJOB_FAILED.
 *
 * Supervised commands (transport_cmd.supervised, with an id): the program starts
 * `bash -c SCRIPT` in its own session (setsid) under a small supervisor that outlives the SSH
 * connection, with stdout/stderr going to files in REMOTE_DIR/<id>/ (REMOTE_DIR defaults to
 * ${XDG_CACHE_HOME:-~/.cache}/dstack-wizard) and the exit status written to a file at the end;
 * the channel streams those files (tail -f) and ends with the recorded status. When the
 * connection drops, the job stays alive, the connection is re-established (with backoff, up to
 * reconnect_ms) and the job re-attaches from the byte offsets already delivered, so no output
 * is lost or repeated and the command is never started twice: a start whose <id> directory
 * exists attaches to it. After the end the directory is removed. Cancel kills the command's
 * process group through a second exec (TERM, KILL after the grace). The status is the shell's:
 * 128+N is reported as TJOB_SIGNALED N.
 *
 * Callbacks are called from the loop. Do not free the connection from inside one of them.
 */
#ifndef DW_SSH_H
#define DW_SSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "transport.h"
#include "util.h"

struct loop;
struct ssh_conn;

extern const struct transport_ops transport_ssh_ops;

/*
 * Where to connect, as whom, how to trust the host and how to get there: what `ssh -G`
 * says, parsed at the edge (steps/ssh-target.c). All strings allocated.
 */
struct ssh_target {
	char *host;          /* as given: an ssh_config Host alias, a name or an address */
	char *hostname;      /* what to connect to: HostName, else host */
	char *user;          /* from the spec, else User, else the local user */
	int port;            /* from the spec, else Port, else 22 */
	char *identity;      /* --identity: the only key file tried (~ expanded); NULL: the
	                        identity_files */
	struct strvec identity_files;   /* IdentityFile, in order (~ and %-tokens expanded) */
	bool identity_defaults;         /* identity_files are OpenSSH's defaults (~/.ssh/id_*):
	                                   the missing ones are skipped without a word */
	char *known_hosts;   /* --known-hosts: the only known_hosts file; NULL: the
	                        known_hosts_files (none: ~/.ssh/known_hosts) */
	struct strvec known_hosts_files;   /* UserKnownHostsFile; new keys go to the first */
	char *hostkey_alias; /* HostKeyAlias: the name looked up in known_hosts, without a port */
	char *proxy_jump;    /* ProxyJump: "[user@]host[:port]" hops, comma-separated */
	char *proxy_command; /* ProxyCommand, its %-tokens not yet expanded */
	char *config;        /* the ssh config file given (-F), passed on to a jump host's ssh;
	                        NULL: ssh's own (~/.ssh/config, /etc/ssh/ssh_config) */
	bool accept_new;     /* record an unknown host key without asking (accept-new) */
};

/*
 * Fill t from "[user@]host[:port]" ("[::1]:2222" for IPv6) as OpenSSH resolves it: `ssh -G`
 * (with -F config when config is not NULL; "none" reads no file, and is what "" means),
 * which applies the config files with all of ssh's rules (Host, Match, Include,
 * /etc/ssh/ssh_config). The spec's user and port win over the files. Without an ssh program
 * on PATH, config "none" takes the spec as it is; any other is refused, saying so. The
 * caller may then set identity, known_hosts and accept_new (after freeing what is there).
 */
int ssh_target_resolve(const char *spec, const char *config, struct ssh_target *t,
    char **cause);
/*
 * Fill t from the output of `ssh -G host` (text, len bytes): user, hostname, port,
 * identityfile, userknownhostsfile, hostkeyalias, proxyjump, proxycommand; t->host is host.
 */
int ssh_target_parse_config(const char *host, const char *text, size_t len,
    struct ssh_target *t, char **cause);
/* Split "[user@]host[:port]" (allocated; *user NULL and *port 0 when absent). */
int ssh_target_split(const char *spec, char **user, char **host, int *port, char **cause);
void ssh_target_clear(struct ssh_target *t);
/* "user@host:port" for messages; allocated. */
char *ssh_target_string(const struct ssh_target *t);

/*
 * The program the transport sends on a channel's stdin for each mode (steps/remote-agent.sh):
 * the modes (NULL-terminated) and one mode's program (allocated), for lint to check.
 */
extern const char *const ssh_agent_modes[];
char *ssh_agent_program(const char *mode);

/* Connection states, reported through ssh_cbs.state. */
enum ssh_state {
	SSH_STATE_IDLE,          /* not connected and nothing to run (also after an idle drop) */
	SSH_STATE_CONNECTING,
	SSH_STATE_CONNECTED,
	SSH_STATE_RECONNECTING,  /* the connection dropped while commands need it; retrying */
	SSH_STATE_FAILED,        /* message says why and what to do; the next command retries */
};

/* Why the connection failed. */
enum ssh_failure {
	SSH_FAIL_NONE,
	SSH_FAIL_RESOLVE,          /* the name does not resolve */
	SSH_FAIL_CONNECT,          /* refused, unreachable, timed out */
	SSH_FAIL_HANDSHAKE,        /* not an SSH server, or no common algorithm */
	SSH_FAIL_HOSTKEY_UNKNOWN,  /* the host key is not known and was not accepted */
	SSH_FAIL_HOSTKEY_CHANGED,  /* known_hosts holds another key: possible man-in-the-middle */
	SSH_FAIL_HOSTKEY_ERROR,    /* the known_hosts check itself failed */
	SSH_FAIL_AUTH,             /* no key was accepted */
	SSH_FAIL_AUTH_RSA,         /* only RSA keys, which libssh2 1.10 signs with SHA-1 */
	SSH_FAIL_LOST,             /* the connection dropped and could not be re-established */
};

/* An unknown host key, for the question "trust this host?". */
struct ssh_hostkey {
	const char *host;          /* the known_hosts name: "host" or "[host]:port" */
	const char *type;          /* "ssh-ed25519", "ecdsa-sha2-nistp256", ... */
	const char *fingerprint;   /* "SHA256:" + unpadded base64, as OpenSSH shows it */
	const char *known_hosts;   /* the file one line is appended to on yes */
};

struct ssh_cbs {
	/*
	 * The host key is not in known_hosts: ask, then call ssh_conn_answer_hostkey (now or
	 * later). NULL: refused unless the target's accept_new is set.
	 */
	void (*hostkey)(void *data, struct ssh_conn *c, const struct ssh_hostkey *key);
	/*
	 * A key file is encrypted: ask for its passphrase (masked), then call
	 * ssh_conn_answer_passphrase. attempt is 1, 2, 3 (a wrong one asks again). NULL: such
	 * keys are skipped.
	 */
	void (*passphrase)(void *data, struct ssh_conn *c, const char *key_file, unsigned attempt);
	/* The state changed; message says why (failed, reconnecting), else NULL. */
	void (*state)(void *data, struct ssh_conn *c, enum ssh_state state, const char *message);
	void *data;
};

/* Tunables; zero fields take the default. */
struct ssh_opts {
	unsigned connect_timeout_ms;   /* resolve + connect + handshake + auth; default 20000 */
	unsigned keepalive_s;          /* SSH keepalive after authentication; default 15 */
	unsigned reconnect_ms;         /* how long to retry after a drop; default 600000 */
	unsigned max_channels;         /* commands at once on the session; default 8 (sshd's
	                                  MaxSessions is 10 by default) */
	const char *remote_dir;        /* supervised commands' directory on the server
	                                  ("~/" allowed); NULL: ${XDG_CACHE_HOME:-~/.cache}/dstack-wizard */
};

/* Counters, for tests and the bench. */
struct ssh_stats {
	unsigned connects;             /* successful authentications (1 + reconnects) */
	unsigned channels;             /* channels opened */
	unsigned max_parallel;         /* most channels open at once */
	unsigned reattached;           /* supervised jobs re-attached after a reconnect */
};

/* Create a connection (not connected yet: ssh_conn_connect or the first command does). */
struct ssh_conn *ssh_conn_new(struct loop *l, const struct ssh_target *t, const struct ssh_cbs *cbs);
/* Close and free; jobs still alive are detached (their end callbacks never come). */
void ssh_conn_free(struct ssh_conn **cp);
void ssh_conn_set_opts(struct ssh_conn *c, const struct ssh_opts *o);
/* Start connecting if not connected or connecting. */
void ssh_conn_connect(struct ssh_conn *c);
/* Answer the hostkey callback: yes appends one line to known_hosts and goes on. */
void ssh_conn_answer_hostkey(struct ssh_conn *c, bool yes);
/* Answer the passphrase callback; NULL skips this key. The value is copied and wiped later. */
void ssh_conn_answer_passphrase(struct ssh_conn *c, const char *passphrase);
/*
 * Refuse every later command whose script, cwd, environment or stdin contains value (a
 * local-only secret): it ends with TJOB_FAILED "refused: command would send a local-only
 * secret to the server". Empty values are ignored. The value is copied and wiped on free.
 */
void ssh_conn_forbid(struct ssh_conn *c, const char *value);
enum ssh_state ssh_conn_state(const struct ssh_conn *c);
/* Why the last connection attempt failed (SSH_FAIL_NONE if it did not); *message if wanted. */
enum ssh_failure ssh_conn_failure(const struct ssh_conn *c, const char **message);
/* The server's host key fingerprint once known ("SHA256:..."), else NULL. */
const char *ssh_conn_fingerprint(const struct ssh_conn *c);
const struct ssh_target *ssh_conn_target(const struct ssh_conn *c);
struct loop *ssh_conn_loop(const struct ssh_conn *c);
void ssh_conn_stats(const struct ssh_conn *c, struct ssh_stats *st);

/*
 * Tunnels: a listening socket on 127.0.0.1:0 whose every accepted connection is forwarded
 * through the session (a direct-tcpip channel, driven by the loop like the commands) to
 * host:port as the server sees it, e.g. a service bound to the server's loopback. The
 * connection is made when the first client arrives. Free tunnels before their connection
 * (a tunnel outliving it only stops listening).
 */
struct ssh_tunnel;
struct ssh_tunnel *ssh_tunnel_open(struct ssh_conn *c, const char *host, int port,
    char **cause);
int ssh_tunnel_port(const struct ssh_tunnel *tun);
unsigned ssh_tunnel_accepted(const struct ssh_tunnel *tun);
void ssh_tunnel_free(struct ssh_tunnel **tp);

/*
 * Known hosts (steps/ssh-keys.c), usable on their own. The check reads file line by line
 * (lines libssh2 cannot parse, such as @cert-authority, are skipped; @revoked keys are
 * refused), looks up name ("host", or "[host]:port" when port is not 22) and compares the
 * key (raw blob) of the given type (LIBSSH2_HOSTKEY_TYPE_*).
 */
enum ssh_kh_result {
	SSH_KH_MATCH,
	SSH_KH_NOTFOUND,
	SSH_KH_MISMATCH,           /* *line is the line of the other key */
	SSH_KH_REVOKED,            /* *line is the @revoked line */
	SSH_KH_FAILURE,            /* *cause says why */
};
enum ssh_kh_result ssh_known_hosts_check(const char *file, const char *host, int port,
    const unsigned char *key, size_t keylen, int keytype, unsigned *line, char **cause);
/* Which LIBSSH2_HOSTKEY_TYPE_*s file holds for host:port (to prefer them); the count. */
size_t ssh_known_hosts_types(const char *file, const char *host, int port, int *types,
    size_t max);
/* Append one line "name type base64" to file (created 0600, its directory 0700). */
int ssh_known_hosts_add(const char *file, const char *host, int port,
    const unsigned char *key, size_t keylen, int keytype, char **cause);
/* The known_hosts name of host:port: "host" or "[host]:port"; allocated. */
char *ssh_known_hosts_name(const char *host, int port);
/* "SHA256:..." of a key blob; allocated. */
char *ssh_fingerprint(const unsigned char *key, size_t keylen);
/* The SSH name of a LIBSSH2_HOSTKEY_TYPE_* ("ssh-ed25519"); NULL if unknown. */
const char *ssh_key_type_name(int keytype);

/* What a private key file holds (steps/ssh-keys.c). */
struct ssh_keyinfo {
	bool exists;
	bool encrypted;
	char type[32];             /* "ssh-ed25519", "ssh-rsa", "ecdsa", ...; "" if unknown */
	bool is_rsa;
};
int ssh_key_inspect(const char *path, struct ssh_keyinfo *ki, char **cause);

/*
 * Pre-flight (steps/ssh-preflight.c): can the wizard work on this server? Items, in order:
 * reachable, host-key, login, sudo, os, clock, disk. Each result says what was found and, when
 * not ok, how to fix it. The engine may run the probes itself as a chain step (each probe's
 * script through the transport, then ssh_preflight_judge), or call ssh_preflight_start.
 */
enum ssh_pf_status { SSH_PF_OK, SSH_PF_WARN, SSH_PF_FAIL, SSH_PF_SKIPPED };

struct ssh_pf_item {
	const char *id;            /* "reachable", "host-key", "login", "sudo", "os", "clock", "disk" */
	const char *title;
	enum ssh_pf_status status;
	char *detail;              /* what was found */
	char *fix;                 /* how to fix it; NULL when ok */
};

struct ssh_pf_opts {
	unsigned min_free_gib;     /* fail below; default 20 */
	unsigned warn_free_gib;    /* warn below; default 50 */
	unsigned max_skew_s;       /* fail above; default 60 (warn above 5) */
	char *const *env;          /* extra NAME=VALUE for every probe (the demo's), or NULL */
};

/* A probe: a command for the server; its stdout and exit code go to ssh_preflight_judge. */
struct ssh_pf_probe {
	const char *id;
	const char *title;
	const char *script;
};
const struct ssh_pf_probe *ssh_preflight_probes(size_t *n);
/*
 * Judge one probe. For "clock", local_now is the local time when the output arrived. Fills
 * item (detail and fix allocated).
 */
void ssh_preflight_judge(const char *id, int exit_code, const char *output, time_t local_now,
    const struct ssh_pf_opts *o, struct ssh_pf_item *item);
/* The items for a connection failure (reachable / host-key / login), from ssh_conn_failure. */
void ssh_preflight_connection(struct ssh_conn *c, struct ssh_pf_item *items, size_t nitems);
void ssh_pf_item_clear(struct ssh_pf_item *item);

struct ssh_preflight;
typedef void (*ssh_preflight_cb)(void *data, const struct ssh_pf_item *items, size_t n);
/* Connect if needed, run every probe in parallel, then call cb once with all items. */
struct ssh_preflight *ssh_preflight_start(struct ssh_conn *c, const struct ssh_pf_opts *o,
    ssh_preflight_cb cb, void *data);
void ssh_preflight_free(struct ssh_preflight **pp);

#endif
