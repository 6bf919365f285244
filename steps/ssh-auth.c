/*
 * ssh-auth.c: the host key and authentication of a connection (ssh-conn.c). Before the
 * handshake the host key types already in known_hosts are preferred; after it the key is
 * checked (MATCH goes on, NOTFOUND asks or refuses, a changed key is refused); then
 * authentication tries ssh-agent, then key files, asking for passphrases.
 */
#include "config.h"

#include "ssh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh2.h>

#include "loop.h"
#include "util.h"

#include "ssh-int.h"

static void ssh_auth_begin(struct ssh_conn *c);

/* Put the host key types known_hosts holds for this host first, as OpenSSH does. */
void
ssh_hostkey_prefs(struct ssh_conn *c)
{
	static const char *const order[] = {
		"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
		"ssh-rsa", "ssh-dss",
	};
	const char **algs = NULL;
	struct strbuf sb = {0};
	int types[8], n, nknown;

	nknown = 0;
	for (size_t f = 0; f < c->kh_files.n; f++) {
		int more[8];
		size_t m = ssh_known_hosts_types(c->kh_files.v[f], c->kh_host, c->kh_port, more,
		    nitems(more));

		for (size_t i = 0; i < m; i++) {
			bool seen = false;

			for (int k = 0; k < nknown; k++)
				seen |= types[k] == more[i];
			if (!seen && nknown < (int)nitems(types))
				types[nknown++] = more[i];
		}
	}
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

/* Ask the caller whether to trust the unknown host key. */
static void
ssh_ask_hostkey(struct ssh_conn *c)
{
	struct ssh_hostkey k;
	char *name = ssh_known_hosts_name(c->kh_host, c->kh_port);

	k.host = name;
	k.type = ssh_key_type_name(c->hostkey_type);
	k.fingerprint = c->fingerprint;
	k.known_hosts = c->kh_files.v[0];
	c->phase = CP_ASK_HOSTKEY;
	c->hostkey_answer = -1;
	ssh_untimer(c, &c->timeout_timer);   /* a person may take their time */
	c->cbs.hostkey(c->cbs.data, c, &k);
	free(name);
}

/* Record the host key in known_hosts and go on to authentication. */
void
ssh_hostkey_accepted(struct ssh_conn *c)
{
	char *cause = NULL;

	if (ssh_known_hosts_add(c->kh_files.v[0], c->kh_host, c->kh_port, c->hostkey,
	    c->hostkey_len, c->hostkey_type, &cause) != 0) {
		ssh_fail(c, SSH_FAIL_HOSTKEY_ERROR, "cannot record the host key of %s: %s",
		    c->label, cause);
		free(cause);
		return;
	}
	ssh_auth_begin(c);
}

/*
 * Check the host key against every known_hosts file, which OpenSSH reads as one: a @revoked
 * line anywhere refuses, else a matching line anywhere passes, else another key for the
 * host is a change. *file and *line name the line that decided.
 */
static enum ssh_kh_result
ssh_kh_check(struct ssh_conn *c, const char **file, unsigned *line, char **cause)
{
	enum ssh_kh_result res = SSH_KH_NOTFOUND, r;

	*file = c->kh_files.v[0];
	for (size_t i = 0; i < c->kh_files.n; i++) {
		unsigned l = 0;

		r = ssh_known_hosts_check(c->kh_files.v[i], c->kh_host, c->kh_port, c->hostkey,
		    c->hostkey_len, c->hostkey_type, &l, cause);
		if (r == SSH_KH_FAILURE || r == SSH_KH_REVOKED ||
		    (r == SSH_KH_MISMATCH && res == SSH_KH_NOTFOUND)) {
			*file = c->kh_files.v[i];
			*line = l;
		}
		if (r == SSH_KH_FAILURE || r == SSH_KH_REVOKED)
			return r;
		if (r == SSH_KH_MATCH || (r == SSH_KH_MISMATCH && res == SSH_KH_NOTFOUND))
			res = r;
	}
	return res;
}

/* The handshake is done: check the host key. */
void
ssh_check_hostkey(struct ssh_conn *c)
{
	const char *key;
	size_t len = 0;
	int type = 0;
	unsigned line = 0;
	char *cause = NULL, *name;
	const char *tname, *file;
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
	name = ssh_known_hosts_name(c->kh_host, c->kh_port);
	res = ssh_kh_check(c, &file, &line, &cause);
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
			    c->fingerprint, c->t.port, c->t.user, c->t.host);
		break;
	case SSH_KH_MISMATCH:
		ssh_fail(c, SSH_FAIL_HOSTKEY_CHANGED, "the host key of %s has CHANGED: the server "
		    "now shows %s %s, but line %u of %s holds another key. This is a possible "
		    "man-in-the-middle attack (or the server was reinstalled); refusing to connect. "
		    "Remove the old line %u of %s only if you know why it changed",
		    name, tname != NULL ? tname : "?", c->fingerprint, line, file, line, file);
		break;
	case SSH_KH_REVOKED:
		ssh_fail(c, SSH_FAIL_HOSTKEY_CHANGED, "the host key of %s (%s) is marked @revoked "
		    "in line %u of %s: refusing to connect", name, c->fingerprint, line, file);
		break;
	case SSH_KH_FAILURE:
		ssh_fail(c, SSH_FAIL_HOSTKEY_ERROR, "cannot check the host key of %s (%s): %s",
		    name, c->fingerprint, cause != NULL ? cause : "unknown error");
		break;
	}
	free(cause);
	free(name);
}

/* Start authenticating. */
static void
ssh_auth_begin(struct ssh_conn *c)
{
	c->phase = CP_AUTH;
	c->as = AS_LIST;
	c->agent_tried = c->agent_rsa = 0;
	c->rsa_refused = c->other_refused = false;
	sb_free(&c->auth_notes);
	sv_free(&c->keys);
	if (c->t.identity != NULL)
		sv_push_take(&c->keys, expand_home(c->t.identity));
	/* libssh2 1.10 signs with RSA keys by SHA-1 only, which OpenSSH 8.8 refuses: RSA last. */
	for (int rsa = 0; c->t.identity == NULL && rsa < 2; rsa++) {
		for (size_t i = 0; i < c->t.identity_files.n; i++) {
			const char *f = c->t.identity_files.v[i];
			struct ssh_keyinfo ki;
			char *why = NULL;
			bool is_rsa = ssh_key_inspect(f, &ki, &why) == 0 && ki.is_rsa;

			free(why);
			if (is_rsa == (rsa == 1))
				sv_push(&c->keys, f);
		}
	}
	c->key_next = 0;
	if (c->timeout_timer == 0)
		ssh_timer(c, &c->timeout_timer, c->o.connect_timeout_ms, ssh_timeout_cb, c);
}

/* Add a note for the final "authentication failed" message. */
void
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
				if (c->t.identity != NULL || !c->t.identity_defaults)
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
void
ssh_step_auth(struct ssh_conn *c)
{
	while (c->phase == CP_AUTH && ssh_auth_once(c) == R_PROGRESS)
		;
}
