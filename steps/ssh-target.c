/*
 * ssh-target.c: where a target is, as OpenSSH sees it. The wizard splits "[user@]host[:port]"
 * and asks `ssh -G` for the rest: ssh applies its configuration files with all of its rules
 * (Host and Match blocks, Include, /etc/ssh/ssh_config, tokens) and prints the result, one
 * "keyword value" a line. That output is parsed here into struct ssh_target and nothing else
 * reads an ssh config file.
 */
#include "config.h"

#include "ssh.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#include "ssh-int.h"

#define SSHG_MAX_OUT (1 << 20)       /* ssh -G prints a few KiB */
#define SSHG_MAX_ERR 4096
#define SSHG_TIMEOUT_MS 20000        /* Match exec may run commands */

/* The key files OpenSSH tries when no IdentityFile is given, in its order. */
static const char *const sshg_default_keys[] = {
	"~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ecdsa_sk", "~/.ssh/id_ed25519",
	"~/.ssh/id_ed25519_sk", "~/.ssh/id_xmss", "~/.ssh/id_dsa",
};

/* The local user's name. */
static char *
sshg_local_user(void)
{
	struct passwd *pw = getpwuid(getuid());
	const char *u;

	if (pw != NULL && pw->pw_name != NULL && *pw->pw_name != '\0')
		return xstrdup(pw->pw_name);
	u = getenv("USER");
	return xstrdup(u != NULL && *u != '\0' ? u : "root");
}

/* Free a target's strings. */
void
ssh_target_clear(struct ssh_target *t)
{
	free(t->host);
	free(t->hostname);
	free(t->user);
	free(t->identity);
	sv_free(&t->identity_files);
	free(t->known_hosts);
	sv_free(&t->known_hosts_files);
	free(t->hostkey_alias);
	free(t->proxy_jump);
	free(t->proxy_command);
	free(t->config);
	memset(t, 0, sizeof *t);
}

/* Copy a target (to is overwritten). */
void
ssh_target_copy(struct ssh_target *to, const struct ssh_target *from)
{
	memset(to, 0, sizeof *to);
	to->host = xstrdup(from->host);
	to->hostname = xstrdup(from->hostname);
	to->user = xstrdup(from->user);
	to->port = from->port;
	to->identity = xstrdup(from->identity);
	for (size_t i = 0; i < from->identity_files.n; i++)
		sv_push(&to->identity_files, from->identity_files.v[i]);
	to->identity_defaults = from->identity_defaults;
	to->known_hosts = xstrdup(from->known_hosts);
	for (size_t i = 0; i < from->known_hosts_files.n; i++)
		sv_push(&to->known_hosts_files, from->known_hosts_files.v[i]);
	to->hostkey_alias = xstrdup(from->hostkey_alias);
	to->proxy_jump = xstrdup(from->proxy_jump);
	to->proxy_command = xstrdup(from->proxy_command);
	to->config = xstrdup(from->config);
	to->accept_new = from->accept_new;
}

/* "user@host:port" for messages. */
char *
ssh_target_string(const struct ssh_target *t)
{
	const char *h = t->hostname != NULL ? t->hostname : t->host;
	bool v6 = h != NULL && strchr(h, ':') != NULL;

	return xprintf("%s@%s%s%s:%d", t->user != NULL ? t->user : "?", v6 ? "[" : "",
	    h != NULL ? h : "?", v6 ? "]" : "", t->port);
}

/* Parse a port number; -1 if bad. */
static int
sshg_port(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0' || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

/* Split "[user@]host[:port]" into its parts. */
int
ssh_target_split(const char *spec, char **user, char **host, int *port, char **cause)
{
	const char *at, *h, *colon;
	char *hostpart;

	*user = *host = NULL;
	*port = 0;
	if (spec == NULL || *spec == '\0')
		return set_cause(cause, "no SSH target given");
	for (const char *p = spec; *p != '\0'; p++) {
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return set_cause(cause, "bad SSH target \"%s\": no spaces allowed", spec);
	}
	at = strrchr(spec, '@');
	h = spec;
	if (at != NULL) {
		if (at == spec)
			return set_cause(cause, "bad SSH target \"%s\": empty user name", spec);
		*user = xstrndup(spec, (size_t)(at - spec));
		h = at + 1;
	}
	if (*h == '[') {
		const char *close = strchr(h, ']');

		if (close == NULL || close == h + 1) {
			free(*user);
			*user = NULL;
			return set_cause(cause, "bad SSH target \"%s\": unbalanced [ ]", spec);
		}
		hostpart = xstrndup(h + 1, (size_t)(close - h - 1));
		if (close[1] == ':') {
			*port = sshg_port(close + 2);
		} else if (close[1] != '\0')
			*port = -1;
	} else {
		colon = strchr(h, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			hostpart = xstrdup(h);   /* a bare IPv6 address */
		} else if (colon != NULL) {
			hostpart = xstrndup(h, (size_t)(colon - h));
			*port = sshg_port(colon + 1);
		} else
			hostpart = xstrdup(h);
	}
	if (*port < 0 || *hostpart == '\0' || *hostpart == '-') {
		free(hostpart);
		free(*user);
		*user = NULL;
		return set_cause(cause, "bad SSH target \"%s\": expected [user@]host[:port] with a port "
		    "from 1 to 65535", spec);
	}
	*host = hostpart;
	return 0;
}

/* Is s printable ASCII without spaces, and not empty? */
static bool
sshg_word_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s <= ' ' || *s >= 0x7f)
			return false;
	}
	return true;
}

/*
 * Expand an IdentityFile value as ssh does: a leading ~, and the tokens %% %d %h %i %k %L
 * %l %n %p %r %u. NULL (and *cause) for a token ssh knows but the wizard does not.
 */
static char *
sshg_expand_key(const char *v, const struct ssh_target *t, char **cause)
{
	struct strbuf sb = {0};
	const char *home = getenv("HOME");
	char host[256], *luser = sshg_local_user();

	if (home == NULL)
		home = "";
	if (gethostname(host, sizeof host) != 0)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	if (v[0] == '~' && (v[1] == '/' || v[1] == '\0')) {
		sb_adds(&sb, home);
		v++;
	}
	for (; *v != '\0'; v++) {
		if (*v != '%') {
			sb_addc(&sb, *v);
			continue;
		}
		switch (*++v) {
		case '%':
			sb_addc(&sb, '%');
			break;
		case 'd':
			sb_adds(&sb, home);
			break;
		case 'h':
			sb_adds(&sb, t->hostname);
			break;
		case 'i':
			sb_addf(&sb, "%u", (unsigned)getuid());
			break;
		case 'k':
			sb_adds(&sb, t->hostkey_alias != NULL ? t->hostkey_alias : t->hostname);
			break;
		case 'L':
			sb_add(&sb, host, strcspn(host, "."));
			break;
		case 'l':
			sb_adds(&sb, host);
			break;
		case 'n':
			sb_adds(&sb, t->host);
			break;
		case 'p':
			sb_addf(&sb, "%d", t->port);
			break;
		case 'r':
			sb_adds(&sb, t->user);
			break;
		case 'u':
			sb_adds(&sb, luser);
			break;
		default:
			set_cause(cause, "IdentityFile %s: the token %%%.1s is not understood here; give "
			    "the key with --identity", v - 1, *v != '\0' ? v : "");
			sb_free(&sb);
			free(luser);
			return NULL;
		}
	}
	free(luser);
	return sb_detach(&sb);
}

/* Are these OpenSSH's default key files (no IdentityFile was given)? */
static bool
sshg_default_identities(const struct strvec *keys)
{
	if (keys->n != nitems(sshg_default_keys))
		return false;
	for (size_t i = 0; i < keys->n; i++) {
		char *want = expand_home(sshg_default_keys[i]);
		bool same = strcmp(want, keys->v[i]) == 0;

		free(want);
		if (!same)
			return false;
	}
	return true;
}

/* Keep the value of a keyword that appears once; a second one is a bad output. */
static int
sshg_once(char **slot, const char *key, const char *val, char **cause)
{
	if (*slot != NULL)
		return set_cause(cause, "ssh -G printed %s twice", key);
	*slot = xstrdup(val);
	return 0;
}

/* Parse the output of ssh -G. */
int
ssh_target_parse_config(const char *host, const char *text, size_t len, struct ssh_target *t,
    char **cause)
{
	struct strvec keys = {0};
	char *port = NULL, *usefd = NULL, *cmd;
	const char *p = text, *end = text + len;
	int rc = -1;

	memset(t, 0, sizeof *t);
	t->host = xstrdup(host);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = xstrndup(p, n), *val;
		bool bad = false;

		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)p[i];

			bad |= (ch < ' ' && ch != '\t') || ch == 0x7f;   /* NUL too */
		}

		p += n + (nl != NULL);
		val = strchr(line, ' ');
		if (bad || val == NULL) {
			free(line);
			if (bad || n > 0)
				goto malformed;
			continue;
		}
		*val++ = '\0';
		if (strcmp(line, "user") == 0)
			rc = sshg_once(&t->user, line, val, cause);
		else if (strcmp(line, "hostname") == 0)
			rc = sshg_once(&t->hostname, line, val, cause);
		else if (strcmp(line, "port") == 0)
			rc = sshg_once(&port, line, val, cause);
		else if (strcmp(line, "hostkeyalias") == 0)
			rc = sshg_once(&t->hostkey_alias, line, val, cause);
		else if (strcmp(line, "proxyjump") == 0)
			rc = sshg_once(&t->proxy_jump, line, val, cause);
		else if (strcmp(line, "proxycommand") == 0)
			rc = sshg_once(&t->proxy_command, line, val, cause);
		else if (strcmp(line, "proxyusefdpass") == 0)
			rc = sshg_once(&usefd, line, val, cause);
		else if (strcmp(line, "identityfile") == 0) {
			sv_push(&keys, val);
			rc = 0;
		} else if (strcmp(line, "userknownhostsfile") == 0) {
			/* One line, the files separated by spaces (a name with a space is lost). */
			if (t->known_hosts_files.n > 0)
				rc = set_cause(cause, "ssh -G printed %s twice", line);
			else {
				for (char *f = strtok(val, " "); f != NULL; f = strtok(NULL, " "))
					sv_push(&t->known_hosts_files, f);
				rc = 0;
			}
		} else
			rc = 0;
		free(line);
		if (rc != 0)
			goto out;
	}
	rc = -1;
	if (t->user == NULL || t->hostname == NULL || port == NULL) {
		set_cause(cause, "ssh -G did not say the user, host name and port of %s", host);
		goto out;
	}
	if (!sshg_word_ok(t->user) || !sshg_word_ok(t->hostname) ||
	    (t->hostkey_alias != NULL && !sshg_word_ok(t->hostkey_alias))) {
		set_cause(cause, "ssh -G gave %s an unusable user, host name or host key alias", host);
		goto out;
	}
	if ((t->port = sshg_port(port)) < 0) {
		set_cause(cause, "ssh -G gave %s the port \"%s\"", host, port);
		goto out;
	}
	if (usefd != NULL && strcmp(usefd, "no") != 0) {
		set_cause(cause, "%s: ProxyUseFdpass is not supported by dstack-wizard", host);
		goto out;
	}
	if (t->proxy_jump != NULL && t->proxy_command != NULL) {
		set_cause(cause, "%s has both ProxyJump and ProxyCommand", host);
		goto out;
	}
	if (t->proxy_jump != NULL && ssh_proxy_jump_check(t->proxy_jump, cause) != 0)
		goto out;
	if (t->proxy_command != NULL) {
		if ((cmd = ssh_proxy_expand(t->proxy_command, t, cause)) == NULL)
			goto out;
		free(cmd);
	}
	for (size_t i = 0; i < keys.n; i++) {
		char *k;

		if (strcmp(keys.v[i], "none") == 0)
			continue;
		if ((k = sshg_expand_key(keys.v[i], t, cause)) == NULL)
			goto out;
		sv_push_take(&t->identity_files, k);
	}
	t->identity_defaults = sshg_default_identities(&t->identity_files);
	rc = 0;
	goto out;
malformed:
	set_cause(cause, "ssh -G printed a line that is not \"keyword value\" in plain text");
	rc = -1;
out:
	sv_free(&keys);
	free(port);
	free(usefd);
	if (rc != 0)
		ssh_target_clear(t);
	return rc;
}

/* Without ssh and without a config: the spec as it is, with OpenSSH's defaults. */
static void
sshg_literal(const char *host, char *user, int port, struct ssh_target *t)
{
	memset(t, 0, sizeof *t);
	t->host = xstrdup(host);
	t->hostname = xstrdup(host);
	t->user = user != NULL ? xstrdup(user) : sshg_local_user();
	t->port = port > 0 ? port : 22;
	for (size_t i = 0; i < nitems(sshg_default_keys); i++)
		sv_push_take(&t->identity_files, expand_home(sshg_default_keys[i]));
	t->identity_defaults = true;
	sv_push_take(&t->known_hosts_files, expand_home("~/.ssh/known_hosts"));
	sv_push_take(&t->known_hosts_files, expand_home("~/.ssh/known_hosts2"));
	t->config = xstrdup("none");
}

/* Read the child's stdout and stderr to their ends (bounded), then reap it. */
static int
sshg_collect(pid_t pid, int ofd, int efd, struct strbuf *out, struct strbuf *err, int *status)
{
	uint64_t deadline = now_ms() + SSHG_TIMEOUT_MS;
	bool timed_out = false;
	char buf[4096];

	while (ofd != -1 || efd != -1) {
		struct pollfd pfd[2] = { { ofd, POLLIN, 0 }, { efd, POLLIN, 0 } };
		uint64_t now = now_ms();
		int n;

		if (now >= deadline) {
			timed_out = true;
			kill(-pid, SIGKILL);
			break;
		}
		n = poll(pfd, 2, (int)(deadline - now));
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2 && n > 0; i++) {
			int *fdp = i == 0 ? &ofd : &efd;
			struct strbuf *sb = i == 0 ? out : err;
			size_t max = i == 0 ? SSHG_MAX_OUT : SSHG_MAX_ERR;
			ssize_t r;

			if (*fdp == -1 || pfd[i].revents == 0)
				continue;
			r = read(*fdp, buf, sizeof buf);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(*fdp);
				*fdp = -1;
			} else if (sb->len < max)
				sb_add(sb, buf, sb->len + (size_t)r > max ? max - sb->len : (size_t)r);
		}
	}
	if (ofd != -1)
		close(ofd);
	if (efd != -1)
		close(efd);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return timed_out ? -1 : 0;
}

/* Run ssh -G; its output in *out, or -1 and *cause. */
static int
sshg_run(const char *ssh, const char *config, const char *user, int port, const char *host,
    char **out, size_t *outlen, char **cause)
{
	struct strbuf so = {0}, se = {0};
	char portbuf[16], *argv[16], *msg;
	int op[2], ep[2], in, status = 0, k = 0;
	pid_t pid;

	argv[k++] = (char *)(uintptr_t)ssh;
	argv[k++] = (char *)(uintptr_t)"-G";
	argv[k++] = (char *)(uintptr_t)"-T";
	if (config != NULL) {
		argv[k++] = (char *)(uintptr_t)"-F";
		argv[k++] = (char *)(uintptr_t)config;
	}
	if (user != NULL) {
		argv[k++] = (char *)(uintptr_t)"-l";
		argv[k++] = (char *)(uintptr_t)user;
	}
	if (port > 0) {
		snprintf(portbuf, sizeof portbuf, "%d", port);
		argv[k++] = (char *)(uintptr_t)"-p";
		argv[k++] = portbuf;
	}
	argv[k++] = (char *)(uintptr_t)"--";
	argv[k++] = (char *)(uintptr_t)host;
	argv[k] = NULL;
	if (pipe2(op, O_CLOEXEC) != 0)
		return set_cause(cause, "pipe: %s", strerror(errno));
	if (pipe2(ep, O_CLOEXEC) != 0) {
		close(op[0]);
		close(op[1]);
		return set_cause(cause, "pipe: %s", strerror(errno));
	}
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid = ssh_spawn(argv, in, op[1], ep[1]);
	if (in != -1)
		close(in);
	close(op[1]);
	close(ep[1]);
	if (pid < 0) {
		close(op[0]);
		close(ep[0]);
		return set_cause(cause, "cannot run %s: %s", ssh, strerror(errno));
	}
	if (sshg_collect(pid, op[0], ep[0], &so, &se, &status) != 0) {
		sb_free(&so);
		sb_free(&se);
		return set_cause(cause, "ssh -G %s took more than %d s", host, SSHG_TIMEOUT_MS / 1000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		msg = ssh_printable(se.s, se.len);
		set_cause(cause, "ssh -G %s failed: %s", host, *msg != '\0' ? msg : "no message");
		free(msg);
		sb_free(&so);
		sb_free(&se);
		return -1;
	}
	sb_free(&se);
	*outlen = so.len;
	*out = so.len > 0 ? sb_detach(&so) : xstrdup("");
	return 0;
}

/* Fill t from the spec, through ssh -G. */
int
ssh_target_resolve(const char *spec, const char *config, struct ssh_target *t, char **cause)
{
	char *user, *host, *ssh, *cfg = NULL, *out = NULL;
	size_t outlen = 0;
	int port, rc;

	memset(t, 0, sizeof *t);
	if (ssh_target_split(spec, &user, &host, &port, cause) != 0)
		return -1;
	if (config != NULL)
		cfg = *config == '\0' || strcmp(config, "none") == 0 ? xstrdup("none") :
		    expand_home(config);
	ssh = ssh_find_program("ssh");
	if (ssh == NULL && cfg != NULL && strcmp(cfg, "none") == 0) {
		sshg_literal(host, user, port, t);
		rc = 0;
	} else if (ssh == NULL) {
		rc = set_cause(cause, "ssh (OpenSSH's client) is not installed, and the wizard asks it "
		    "where %s is (ssh -G): install openssh-client, or give --ssh-config none to connect "
		    "to %s as it is written", host, spec);
	} else if ((rc = sshg_run(ssh, cfg, user, port, host, &out, &outlen, cause)) == 0 &&
	    (rc = ssh_target_parse_config(host, out, outlen, t, cause)) == 0) {
		t->config = cfg;
		cfg = NULL;
	}
	free(out);
	free(ssh);
	free(cfg);
	free(user);
	free(host);
	return rc;
}
