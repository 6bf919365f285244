/*
 * remote.h: the engine's side of the TDX server. One SSH connection (ssh.h) per engine
 * carries every server command of every run; server-side HTTP probes of the server's own
 * loopback ports go through tunnels on that connection; a pre-flight of the connection runs
 * before the first server step; the host-key and passphrase questions go to the front end
 * (the CLI asks on /dev/tty, the TUI in a dialog) through the ssh_cbs it sets.
 */
#ifndef DW_REMOTE_H
#define DW_REMOTE_H

#include <stdbool.h>

#include "ssh.h"

struct loop;
struct probe;
struct remote;
struct run_cmd;

/* Where the server is and how to trust it; strings are copied. */
struct remote_opts {
	const char *target;        /* "[user@]host[:port]" or an ssh_config Host alias */
	const char *identity;      /* NULL: the config's IdentityFile, else the defaults */
	const char *known_hosts;   /* NULL: ~/.ssh/known_hosts */
	const char *ssh_config;    /* for ssh -G -F; NULL: ssh's own; "none": none */
	bool accept_new;           /* record an unknown host key without asking */
};

/* Resolve the target (ssh -G); the connection is made by the first command. */
int remote_new(struct loop *l, const struct remote_opts *o, struct remote **out,
    char **cause);
void remote_free(struct remote **rp);

/* The questions (host key, passphrase) and state changes go to cbs (copied; NULL: none). */
void remote_set_cbs(struct remote *r, const struct ssh_cbs *cbs);
/* Extra NAME=VALUE strings for the pre-flight's probes (taken, freed with r; NULL: none). */
void remote_set_preflight_env(struct remote *r, char **env);
struct ssh_conn *remote_conn(struct remote *r);
/* The transport of server commands (ops = transport_ssh_ops, data = the connection). */
struct transport *remote_transport(struct remote *r);
/* "user@host:port". */
const char *remote_label(const struct remote *r);
/* Refuse every later command that contains value (a local-only secret); copies are kept
 * (wiped on free) so that a value is passed on once. */
void remote_forbid(struct remote *r, const char *value);

/*
 * A probe that runs on the server side (its command says on: server). An http: probe of
 * 127.0.0.1 or localhost gets a tunnel: *connect_to is set to
 * "host:port:127.0.0.1:LOCALPORT" (allocated) for probe_transport_new. A tcp: probe of such a
 * port becomes a command on the server (rc->transport and rc->tc.script set), since a local
 * tunnel end always accepts. Returns 1 when the probe was handled that way, 0 when it goes
 * direct (another host), -1 with *cause on error.
 */
int remote_probe(struct remote *r, const struct probe *p, struct run_cmd *rc,
    char **connect_to, char **cause);

/*
 * The pre-flight: connect if needed, run ssh_preflight_start, then call cb with ok (no
 * item failed) and a report, one item a line ("ok   reachable: ..." / "FAIL sudo: ...",
 * each failure followed by "     fix: ..."). remote_checked says a pre-flight passed on the
 * current connection (the engine runs one before the first server step, and again after a
 * failure).
 */
typedef void (*remote_pf_cb)(void *data, bool ok, const char *report);
struct remote_pf;
struct remote_pf *remote_preflight(struct remote *r, remote_pf_cb cb, void *data);
void remote_preflight_free(struct remote_pf **pp);
bool remote_checked(const struct remote *r);
/* Did the last connection attempt fail on the host key (unknown and refused, or changed)? */
bool remote_hostkey_refused(const struct remote *r);

#endif
