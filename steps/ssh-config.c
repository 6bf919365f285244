/*
 * ssh-config.c: the target: [user@]host[:port] plus the common subset of ~/.ssh/config.
 */
#include "config.h"

#include "ssh.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh2.h>
#include <nettle/base64.h>
#include <nettle/sha2.h>

#include "util.h"

#define SSHC_MAX_FILE (16 << 20)   /* known_hosts, config */
#define SSHC_MAX_KEY (1 << 20)     /* a private key file */

/* The local user's name. */
static char *
sshc_local_user(void)
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
	free(t->known_hosts);
	memset(t, 0, sizeof *t);
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
sshc_port(const char *s)
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

/* Split "[user@]host[:port]" into its parts (allocated; port 0 if absent). */
static int
sshc_split_spec(const char *spec, char **user, char **host, int *port, char **cause)
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
			*port = sshc_port(close + 2);
		} else if (close[1] != '\0')
			*port = -1;
	} else {
		colon = strchr(h, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			hostpart = xstrdup(h);   /* a bare IPv6 address */
		} else if (colon != NULL) {
			hostpart = xstrndup(h, (size_t)(colon - h));
			*port = sshc_port(colon + 1);
		} else
			hostpart = xstrdup(h);
	}
	if (*port < 0 || *hostpart == '\0') {
		free(hostpart);
		free(*user);
		*user = NULL;
		return set_cause(cause, "bad SSH target \"%s\": expected [user@]host[:port] with a port "
		    "from 1 to 65535", spec);
	}
	*host = hostpart;
	return 0;
}

/* Does pattern (with * and ?) match s, ignoring case? */
static bool
sshc_match(const char *pat, const char *s)
{
	for (;;) {
		if (*pat == '\0')
			return *s == '\0';
		if (*pat == '*') {
			while (*pat == '*')
				pat++;
			if (*pat == '\0')
				return true;
			for (; *s != '\0'; s++) {
				if (sshc_match(pat, s))
					return true;
			}
			return false;
		}
		if (*s == '\0')
			return false;
		if (*pat != '?' && tolower((unsigned char)*pat) != tolower((unsigned char)*s))
			return false;
		pat++;
		s++;
	}
}

/* Split a config value into words (double quotes group); returns the count. */
static size_t
sshc_words(char *v, char **words, size_t max)
{
	size_t n = 0;

	while (*v != '\0' && n < max) {
		char *w;

		while (isspace((unsigned char)*v))
			v++;
		if (*v == '\0')
			break;
		if (*v == '"') {
			w = ++v;
			while (*v != '\0' && *v != '"')
				v++;
		} else {
			w = v;
			while (*v != '\0' && !isspace((unsigned char)*v))
				v++;
		}
		if (*v != '\0')
			*v++ = '\0';
		words[n++] = w;
	}
	return n;
}

/* Does a Host line's pattern list match host (any positive match, no negated one)? */
static bool
sshc_host_matches(char **pats, size_t n, const char *host)
{
	bool yes = false;

	for (size_t i = 0; i < n; i++) {
		if (pats[i][0] == '!') {
			if (sshc_match(pats[i] + 1, host))
				return false;
		} else if (sshc_match(pats[i], host))
			yes = true;
	}
	return yes;
}

/* Expand %h, %u, %r, %d, %% and a leading ~ in a config value. */
static char *
sshc_expand(const char *v, const char *host, const char *ruser, const char *luser)
{
	struct strbuf sb = {0};
	const char *home = getenv("HOME");

	if (home == NULL)
		home = "";
	if (v[0] == '~' && (v[1] == '/' || v[1] == '\0')) {
		sb_adds(&sb, home);
		v++;
	}
	for (; *v != '\0'; v++) {
		if (*v != '%' || v[1] == '\0') {
			sb_addc(&sb, *v);
			continue;
		}
		v++;
		switch (*v) {
		case 'h':
			sb_adds(&sb, host);
			break;
		case 'u':
			sb_adds(&sb, luser);
			break;
		case 'r':
			sb_adds(&sb, ruser != NULL ? ruser : luser);
			break;
		case 'd':
			sb_adds(&sb, home);
			break;
		case '%':
			sb_addc(&sb, '%');
			break;
		default:
			sb_addc(&sb, '%');
			sb_addc(&sb, *v);
			break;
		}
	}
	return sb_detach(&sb);
}

/* The values found in an ssh config file for one host (first one wins). */
struct sshc_found {
	char *hostname;
	char *user;
	char *port;
	char *identity;
};

/* Free the values found. */
static void
sshc_found_clear(struct sshc_found *f)
{
	free(f->hostname);
	free(f->user);
	free(f->port);
	free(f->identity);
	memset(f, 0, sizeof *f);
}

/* Read the config file text and collect the values that apply to host. */
static int
sshc_read_config(const char *path, const char *text, const char *host, struct sshc_found *f,
    char **cause)
{
	char *copy = xstrdup(text), *line, *next;
	bool applies = true;
	unsigned lineno = 0;

	for (line = copy; line != NULL; line = next) {
		char *key, *val, *words[64];
		size_t nw;

		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		while (isspace((unsigned char)*line))
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		key = line;
		while (*line != '\0' && !isspace((unsigned char)*line) && *line != '=')
			line++;
		if (*line != '\0') {
			*line++ = '\0';
			while (isspace((unsigned char)*line))
				line++;
			if (*line == '=') {
				line++;
				while (isspace((unsigned char)*line))
					line++;
			}
		}
		val = line;
		for (size_t n = strlen(val); n > 0 && isspace((unsigned char)val[n - 1]); n--)
			val[n - 1] = '\0';
		nw = sshc_words(val, words, nitems(words));
		if (strcasecmp(key, "Host") == 0) {
			applies = sshc_host_matches(words, nw, host);
			continue;
		}
		if (strcasecmp(key, "Match") == 0) {
			/* Only "Match all" is understood; other criteria skip the block. */
			applies = nw == 1 && strcasecmp(words[0], "all") == 0;
			continue;
		}
		if (!applies || nw == 0)
			continue;
		/* As ssh does ("Missing argument"): HostName "" would leave no host to reach. */
		if (words[0][0] == '\0' && (strcasecmp(key, "HostName") == 0 ||
		    strcasecmp(key, "User") == 0 || strcasecmp(key, "IdentityFile") == 0)) {
			set_cause(cause, "%s:%u: %s has an empty value", path, lineno, key);
			sshc_found_clear(f);
			free(copy);
			return -1;
		}
		if (strcasecmp(key, "HostName") == 0 && f->hostname == NULL)
			f->hostname = xstrdup(words[0]);
		else if (strcasecmp(key, "User") == 0 && f->user == NULL)
			f->user = xstrdup(words[0]);
		else if (strcasecmp(key, "Port") == 0 && f->port == NULL) {
			if (sshc_port(words[0]) < 0) {
				set_cause(cause, "%s:%u: bad Port \"%s\"", path, lineno, words[0]);
				sshc_found_clear(f);
				free(copy);
				return -1;
			}
			f->port = xstrdup(words[0]);
		} else if (strcasecmp(key, "IdentityFile") == 0 && f->identity == NULL)
			f->identity = xstrdup(words[0]);
	}
	free(copy);
	return 0;
}

/* Fill a target from a spec and an ssh config file. */
int
ssh_target_parse(const char *spec, const char *config, struct ssh_target *t, char **cause)
{
	struct sshc_found f = { NULL, NULL, NULL, NULL };
	char *user, *host, *path = NULL, *text = NULL, *luser;
	int port;

	memset(t, 0, sizeof *t);
	if (sshc_split_spec(spec, &user, &host, &port, cause) != 0)
		return -1;
	if (config == NULL)
		path = expand_home("~/.ssh/config");
	else if (*config != '\0' && strcmp(config, "none") != 0)
		path = expand_home(config);
	if (path != NULL) {
		bool optional = config == NULL;

		if (read_file(path, SSHC_MAX_FILE, &text, NULL, cause) != 0) {
			if (optional && access(path, F_OK) != 0) {
				free(*cause);
				*cause = NULL;
				text = NULL;
			} else {
				free(path);
				free(user);
				free(host);
				return -1;
			}
		}
		if (text != NULL && sshc_read_config(path, text, host, &f, cause) != 0) {
			free(text);
			free(path);
			free(user);
			free(host);
			return -1;
		}
	}
	luser = sshc_local_user();
	t->host = host;
	t->hostname = f.hostname != NULL ? sshc_expand(f.hostname, host, NULL, luser) : xstrdup(host);
	if (user != NULL)
		t->user = user;
	else if (f.user != NULL)
		t->user = xstrdup(f.user);
	else
		t->user = xstrdup(luser);
	t->port = port > 0 ? port : (f.port != NULL ? sshc_port(f.port) : 22);
	if (f.identity != NULL)
		t->identity = sshc_expand(f.identity, t->hostname, t->user, luser);
	free(luser);
	sshc_found_clear(&f);
	free(text);
	free(path);
	return 0;
}
