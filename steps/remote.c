/*
 * remote.c: the engine's side of the TDX server (see remote.h). It owns the one SSH
 * connection of an engine, the tunnels of server-side HTTP probes (one per destination,
 * listening on 127.0.0.1 for as long as the engine is open), the list of local-only secrets
 * the connection must refuse, and the pre-flight that runs before the first server step.
 *
 * DSTACK_WIZARD_REMOTE_DIR, when set, is where supervised commands keep their files on the
 * server (ssh_opts.remote_dir); the tests point it into their temporary directory.
 */
#include "config.h"

#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "runner.h"
#include "util.h"

struct remote_tunnel {
	char *key;                   /* "host:port" as the server sees it */
	struct ssh_tunnel *tun;
};

struct remote {
	struct ssh_conn *conn;
	struct transport tr;
	struct ssh_cbs ui;           /* the front end's callbacks */
	char *label;
	struct remote_tunnel *tunnels;
	size_t ntunnels;
	struct strvec forbidden;     /* wiped on free */
	bool checked;                /* a pre-flight passed on this connection */
	char **pf_env;               /* extra environment of the pre-flight's probes, or NULL */
};

struct remote_pf {
	struct remote *r;
	struct ssh_preflight *pf;
	remote_pf_cb cb;
	void *data;
};

/* Forward a host-key question; without a front end it is refused. */
static void
remote_hostkey_cb(void *data, struct ssh_conn *c, const struct ssh_hostkey *key)
{
	struct remote *r = data;

	if (r->ui.hostkey != NULL)
		r->ui.hostkey(r->ui.data, c, key);
	else
		ssh_conn_answer_hostkey(c, false);
}

/* Forward a passphrase question; without a front end the key is skipped. */
static void
remote_passphrase_cb(void *data, struct ssh_conn *c, const char *key_file, unsigned attempt)
{
	struct remote *r = data;

	if (r->ui.passphrase != NULL)
		r->ui.passphrase(r->ui.data, c, key_file, attempt);
	else
		ssh_conn_answer_passphrase(c, NULL);
}

/* A new connection (or a failed one) needs a new pre-flight. */
static void
remote_state_cb(void *data, struct ssh_conn *c, enum ssh_state st, const char *message)
{
	struct remote *r = data;

	if (st == SSH_STATE_FAILED || st == SSH_STATE_RECONNECTING)
		r->checked = false;
	if (r->ui.state != NULL)
		r->ui.state(r->ui.data, c, st, message);
}

/* Parse the target and create the (not yet connected) connection. */
int
remote_new(struct loop *l, const struct remote_opts *o, struct remote **out, char **cause)
{
	struct ssh_target t;
	struct ssh_cbs cbs = { remote_hostkey_cb, remote_passphrase_cb, remote_state_cb, NULL };
	struct ssh_opts so = {0};
	struct remote *r;

	*out = NULL;
	memset(&t, 0, sizeof t);
	if (ssh_target_resolve(o->target, o->ssh_config, &t, cause) != 0)
		return -1;
	if (o->identity != NULL) {
		free(t.identity);
		t.identity = expand_home(o->identity);
	}
	if (o->known_hosts != NULL) {
		free(t.known_hosts);
		t.known_hosts = expand_home(o->known_hosts);
	}
	t.accept_new = o->accept_new;
	r = xcalloc(1, sizeof *r);
	cbs.data = r;
	r->conn = ssh_conn_new(l, &t, &cbs);
	ssh_target_clear(&t);
	if (getenv("DSTACK_WIZARD_REMOTE_DIR") != NULL && *getenv("DSTACK_WIZARD_REMOTE_DIR"))
		so.remote_dir = getenv("DSTACK_WIZARD_REMOTE_DIR");
	ssh_conn_set_opts(r->conn, &so);
	r->tr.ops = &transport_ssh_ops;
	r->tr.data = r->conn;
	r->label = ssh_target_string(ssh_conn_target(r->conn));
	*out = r;
	return 0;
}

/* Close the tunnels, then the connection. */
void
remote_free(struct remote **rp)
{
	struct remote *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	for (size_t i = 0; i < r->ntunnels; i++) {
		ssh_tunnel_free(&r->tunnels[i].tun);
		free(r->tunnels[i].key);
	}
	free(r->tunnels);
	ssh_conn_free(&r->conn);
	for (size_t i = 0; i < r->forbidden.n; i++)
		explicit_bzero(r->forbidden.v[i], strlen(r->forbidden.v[i]));
	sv_free(&r->forbidden);
	remote_set_preflight_env(r, NULL);
	free(r->label);
	free(r);
}

/* The pre-flight's probes get env too (taken; NULL: none). */
void
remote_set_preflight_env(struct remote *r, char **env)
{
	for (size_t i = 0; r->pf_env != NULL && r->pf_env[i] != NULL; i++)
		free(r->pf_env[i]);
	free(r->pf_env);
	r->pf_env = env;
}

/* Set the front end's callbacks. */
void
remote_set_cbs(struct remote *r, const struct ssh_cbs *cbs)
{
	if (cbs != NULL)
		r->ui = *cbs;
	else
		memset(&r->ui, 0, sizeof r->ui);
}

struct ssh_conn *
remote_conn(struct remote *r)
{
	return r->conn;
}

struct transport *
remote_transport(struct remote *r)
{
	return &r->tr;
}

const char *
remote_label(const struct remote *r)
{
	return r->label;
}

/* Refuse commands that carry value from now on. */
void
remote_forbid(struct remote *r, const char *value)
{
	if (value == NULL || *value == '\0')
		return;
	for (size_t i = 0; i < r->forbidden.n; i++) {
		if (strcmp(r->forbidden.v[i], value) == 0)
			return;
	}
	sv_push(&r->forbidden, value);
	ssh_conn_forbid(r->conn, value);
}

/* Is host the server's loopback, as a URL or a tcp: target names it? */
static bool
remote_is_loopback(const char *host, size_t len)
{
	return (len == 9 && strncmp(host, "127.0.0.1", len) == 0) ||
	    (len == 9 && strncasecmp(host, "localhost", len) == 0);
}

/* Split an http(s) URL into its host and port; -1 if it is not one. */
static int
remote_url_hostport(const char *url, const char **host, size_t *hlen, int *port)
{
	const char *p, *end, *colon, *at;
	bool tls;

	if (strncasecmp(url, "http://", 7) == 0) {
		tls = false;
		p = url + 7;
	} else if (strncasecmp(url, "https://", 8) == 0) {
		tls = true;
		p = url + 8;
	} else
		return -1;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at != NULL)
		p = at + 1;
	if (*p == '[')
		return -1;   /* IPv6: never tunnelled */
	colon = memchr(p, ':', (size_t)(end - p));
	*host = p;
	*hlen = (size_t)((colon != NULL ? colon : end) - p);
	if (colon != NULL) {
		char *e;
		long v = strtol(colon + 1, &e, 10);

		if (e != end || v <= 0 || v > 65535)
			return -1;
		*port = (int)v;
	} else
		*port = tls ? 443 : 80;
	return 0;
}

/* The tunnel to host:port on the server, opened the first time. */
static struct ssh_tunnel *
remote_tunnel(struct remote *r, const char *host, int port, char **cause)
{
	char *key = xprintf("%s:%d", host, port);
	struct ssh_tunnel *tun;

	for (size_t i = 0; i < r->ntunnels; i++) {
		if (strcmp(r->tunnels[i].key, key) == 0) {
			free(key);
			return r->tunnels[i].tun;
		}
	}
	tun = ssh_tunnel_open(r->conn, host, port, cause);
	if (tun == NULL) {
		free(key);
		return NULL;
	}
	r->tunnels = xreallocarray(r->tunnels, r->ntunnels + 1, sizeof *r->tunnels);
	r->tunnels[r->ntunnels].key = key;
	r->tunnels[r->ntunnels].tun = tun;
	r->ntunnels++;
	return tun;
}

/* Quote s for bash, in single quotes. */
static void
remote_quote(struct strbuf *sb, const char *s, size_t len)
{
	sb_addc(sb, '\'');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\'')
			sb_adds(sb, "'\\''");
		else
			sb_addc(sb, s[i]);
	}
	sb_addc(sb, '\'');
}

/* Route a server-side probe: a tunnel for http, a command on the server for tcp. */
int
remote_probe(struct remote *r, const struct probe *p, struct run_cmd *rc, char **connect_to,
    char **cause)
{
	const char *host, *colon;
	size_t hlen;
	int port;

	*connect_to = NULL;
	if (p->kind == PROBE_HTTP && p->url != NULL) {
		struct ssh_tunnel *tun;
		char *h;

		if (remote_url_hostport(p->url, &host, &hlen, &port) != 0 ||
		    !remote_is_loopback(host, hlen))
			return 0;
		h = xstrndup(host, hlen);
		/* The server's sshd connects to its own loopback address. */
		tun = remote_tunnel(r, "127.0.0.1", port, cause);
		if (tun != NULL)
			*connect_to = xprintf("%s:%d:127.0.0.1:%d", h, port, ssh_tunnel_port(tun));
		free(h);
		return tun != NULL ? 1 : -1;
	}
	if (p->kind == PROBE_TCP && p->target != NULL) {
		struct strbuf sb = {0};

		colon = strrchr(p->target, ':');
		if (colon == NULL || !remote_is_loopback(p->target, (size_t)(colon - p->target)))
			return 0;
		sb_adds(&sb, "if timeout 10 bash -c 'exec 3<>\"/dev/tcp/$1/$2\"' _ ");
		remote_quote(&sb, p->target, (size_t)(colon - p->target));
		sb_addc(&sb, ' ');
		remote_quote(&sb, colon + 1, strlen(colon + 1));
		sb_adds(&sb, " 2>/dev/null; then echo ");
		remote_quote(&sb, p->target, strlen(p->target));
		sb_adds(&sb, "' accepts connections (on the server)'; else echo nothing accepts "
		    "connections on ");
		remote_quote(&sb, p->target, strlen(p->target));
		sb_adds(&sb, "' on the server' >&2; exit 1; fi");
		rc->transport = &r->tr;
		rc->tc.script = sb_detach(&sb);
		return 1;
	}
	return 0;
}

/* The pre-flight is over: one report line per item. */
static void
remote_pf_done(void *data, const struct ssh_pf_item *items, size_t n)
{
	struct remote_pf *rp = data;
	struct strbuf sb = {0};
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		const struct ssh_pf_item *it = &items[i];
		const char *word = it->status == SSH_PF_OK ? "ok  " : it->status == SSH_PF_WARN ?
		    "warn" : it->status == SSH_PF_FAIL ? "FAIL" : "skip";

		if (it->status == SSH_PF_FAIL)
			ok = false;
		sb_addf(&sb, "%s %s: %s\n", word, it->id, it->detail != NULL ? it->detail : "");
		if (it->fix != NULL && it->status != SSH_PF_OK)
			sb_addf(&sb, "     fix: %s\n", it->fix);
	}
	rp->r->checked = ok;
	rp->cb(rp->data, ok, sb_str(&sb));
	sb_free(&sb);
}

/* Start the pre-flight. */
struct remote_pf *
remote_preflight(struct remote *r, remote_pf_cb cb, void *data)
{
	struct remote_pf *rp = xcalloc(1, sizeof *rp);
	struct ssh_pf_opts o = { .env = r->pf_env };

	rp->r = r;
	rp->cb = cb;
	rp->data = data;
	rp->pf = ssh_preflight_start(r->conn, &o, remote_pf_done, rp);
	return rp;
}

void
remote_preflight_free(struct remote_pf **pp)
{
	if (*pp == NULL)
		return;
	ssh_preflight_free(&(*pp)->pf);
	free(*pp);
	*pp = NULL;
}

bool
remote_checked(const struct remote *r)
{
	return r->checked;
}

bool
remote_hostkey_refused(const struct remote *r)
{
	enum ssh_failure f = ssh_conn_failure(r->conn, NULL);

	return f == SSH_FAIL_HOSTKEY_UNKNOWN || f == SSH_FAIL_HOSTKEY_CHANGED;
}
