/*
 * ssh-config.c: everything about an SSH server that needs no network: the target
 * ([user@]host[:port] plus the common subset of ~/.ssh/config), the known_hosts file
 * (checked line by line through libssh2's parser so a MISMATCH can name its line; updated by
 * appending one line, never rewritten), OpenSSH-style fingerprints and what a private key
 * file holds (type, encrypted or not).
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

/* Initialise libssh2 once (its crypto backend). */
static void
sshc_init(void)
{
	static bool done;

	if (!done) {
		if (libssh2_init(0) != 0)
			fatal("libssh2_init failed");
		done = true;
	}
}

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

/* The SSH name of a libssh2 host key type. */
const char *
ssh_key_type_name(int keytype)
{
	switch (keytype) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		return "ssh-rsa";
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		return "ssh-dss";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		return "ecdsa-sha2-nistp256";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		return "ecdsa-sha2-nistp384";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		return "ecdsa-sha2-nistp521";
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		return "ssh-ed25519";
	default:
		return NULL;
	}
}

/* The knownhost typemask bits of a libssh2 host key type; 0 if unknown. */
static int
sshc_kh_keybits(int keytype)
{
	switch (keytype) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default:
		return 0;
	}
}

/* Base64 of len bytes (padded, as in known_hosts); allocated. */
static char *
sshc_base64(const unsigned char *p, size_t len)
{
	char *out = xmalloc(BASE64_ENCODE_RAW_LENGTH(len) + 1);

	base64_encode_raw(out, len, p);
	out[BASE64_ENCODE_RAW_LENGTH(len)] = '\0';
	return out;
}

/* "SHA256:" and the unpadded base64 of the SHA-256 of the key blob. */
char *
ssh_fingerprint(const unsigned char *key, size_t keylen)
{
	struct sha256_ctx ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	char *b64, *fp;
	size_t n;

	sha256_init(&ctx);
	sha256_update(&ctx, keylen, key);
	sha256_digest(&ctx, sizeof digest, digest);
	b64 = sshc_base64(digest, sizeof digest);
	n = strlen(b64);
	while (n > 0 && b64[n - 1] == '=')
		b64[--n] = '\0';
	fp = xprintf("SHA256:%s", b64);
	free(b64);
	return fp;
}

/* The known_hosts name of host:port. */
char *
ssh_known_hosts_name(const char *host, int port)
{
	if (port == 22 || port <= 0)
		return xstrdup(host);
	return xprintf("[%s]:%d", host, port);
}

/* A node libssh2 made from a known_hosts line, and that line's number. */
struct sshc_node {
	struct libssh2_knownhost *node;
	unsigned line;
};

/* A parsed known_hosts file. */
struct sshc_kh {
	LIBSSH2_SESSION *session;
	LIBSSH2_KNOWNHOSTS *hosts;
	struct sshc_node *nodes;
	size_t nnodes;
	char **revoked;          /* base64 keys of @revoked lines */
	unsigned *revoked_line;
	size_t nrevoked;
};

/* Free a parsed known_hosts file. */
static void
sshc_kh_free(struct sshc_kh *kh)
{
	if (kh->hosts != NULL)
		libssh2_knownhost_free(kh->hosts);
	if (kh->session != NULL)
		libssh2_session_free(kh->session);
	for (size_t i = 0; i < kh->nrevoked; i++)
		free(kh->revoked[i]);
	free(kh->revoked);
	free(kh->revoked_line);
	free(kh->nodes);
	memset(kh, 0, sizeof *kh);
}

/* Remember a @revoked line's key. */
static void
sshc_kh_revoked(struct sshc_kh *kh, const char *line, unsigned lineno)
{
	char *copy = xstrdup(line), *words[4];
	size_t n = sshc_words(copy, words, nitems(words));

	/* @revoked hosts type key */
	if (n >= 4) {
		kh->revoked = xreallocarray(kh->revoked, kh->nrevoked + 1, sizeof *kh->revoked);
		kh->revoked_line = xreallocarray(kh->revoked_line, kh->nrevoked + 1,
		    sizeof *kh->revoked_line);
		kh->revoked[kh->nrevoked] = xstrdup(words[3]);
		kh->revoked_line[kh->nrevoked++] = lineno;
	}
	free(copy);
}

/*
 * Load file line by line into a libssh2 collection; *missing is set if the file does not
 * exist (an empty collection then).
 */
static int
sshc_kh_load(const char *file, struct sshc_kh *kh, bool *missing, char **cause)
{
	struct libssh2_knownhost *last = NULL, *n;
	char *text = NULL, *line, *next;
	unsigned lineno = 0;
	struct stat st;

	memset(kh, 0, sizeof *kh);
	*missing = false;
	sshc_init();
	if (stat(file, &st) != 0) {
		if (errno != ENOENT)
			return set_cause(cause, "cannot read %s: %s", file, strerror(errno));
		*missing = true;
	} else if (read_file(file, SSHC_MAX_FILE, &text, NULL, cause) != 0)
		return -1;
	kh->session = libssh2_session_init();
	if (kh->session == NULL)
		fatal("libssh2_session_init failed");
	kh->hosts = libssh2_knownhost_init(kh->session);
	if (kh->hosts == NULL)
		fatal("libssh2_knownhost_init failed");
	for (line = text; line != NULL; line = next) {
		const char *p = line;

		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#' || *p == '\r')
			continue;
		if (strncmp(p, "@revoked", 8) == 0 && isspace((unsigned char)p[8])) {
			sshc_kh_revoked(kh, p, lineno);
			continue;
		}
		if (*p == '@')
			continue;   /* @cert-authority: not for libssh2 */
		if (libssh2_knownhost_readline(kh->hosts, p, strlen(p),
		    LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
			continue;   /* a line libssh2 cannot parse (a newer key type): skip it */
		/* Number every node this line added (a line may name several hosts). */
		while (libssh2_knownhost_get(kh->hosts, &n, last) == 0) {
			kh->nodes = xreallocarray(kh->nodes, kh->nnodes + 1, sizeof *kh->nodes);
			kh->nodes[kh->nnodes].node = n;
			kh->nodes[kh->nnodes++].line = lineno;
			last = n;
		}
	}
	free(text);
	return 0;
}

/* Check a host key against a known_hosts file. */
enum ssh_kh_result
ssh_known_hosts_check(const char *file, const char *host, int port, const unsigned char *key,
    size_t keylen, int keytype, unsigned *line, char **cause)
{
	struct sshc_kh kh;
	struct libssh2_knownhost *ext = NULL;
	bool missing;
	char *name, *b64;
	int bits = sshc_kh_keybits(keytype), rc;
	enum ssh_kh_result res;

	if (line != NULL)
		*line = 0;
	if (bits == 0) {
		set_cause(cause, "unknown host key type %d", keytype);
		return SSH_KH_FAILURE;
	}
	if (sshc_kh_load(file, &kh, &missing, cause) != 0)
		return SSH_KH_FAILURE;
	b64 = sshc_base64(key, keylen);
	for (size_t i = 0; i < kh.nrevoked; i++) {
		if (strcmp(kh.revoked[i], b64) == 0) {
			if (line != NULL)
				*line = kh.revoked_line[i];
			free(b64);
			sshc_kh_free(&kh);
			return SSH_KH_REVOKED;
		}
	}
	free(b64);
	/*
	 * Pass the name as OpenSSH writes it and no port: libssh2 would also accept a plain
	 * "host" line for a non-standard port, which OpenSSH does not.
	 */
	name = ssh_known_hosts_name(host, port);
	rc = libssh2_knownhost_checkp(kh.hosts, name, -1, (const char *)key, keylen,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | bits, &ext);
	switch (rc) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		res = SSH_KH_MATCH;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		res = SSH_KH_NOTFOUND;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		res = SSH_KH_MISMATCH;
		for (size_t i = 0; i < kh.nnodes && line != NULL; i++) {
			if (kh.nodes[i].node == ext)
				*line = kh.nodes[i].line;
		}
		break;
	default: {
		char *msg = NULL;

		libssh2_session_last_error(kh.session, &msg, NULL, 0);
		set_cause(cause, "libssh2 could not check %s in %s: %s", name, file,
		    msg != NULL && *msg != '\0' ? msg : "unknown error");
		res = SSH_KH_FAILURE;
		break;
	}
	}
	free(name);
	sshc_kh_free(&kh);
	return res;
}

/* Which host key types does file hold for host:port? Returns the count put in types. */
size_t
ssh_known_hosts_types(const char *file, const char *host, int port, int *types, size_t max)
{
	static const int all[] = {
		LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_HOSTKEY_TYPE_ECDSA_256,
		LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_HOSTKEY_TYPE_ECDSA_521,
		LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_HOSTKEY_TYPE_DSS,
	};
	static const unsigned char dummy[] = "not a key";
	struct sshc_kh kh;
	bool missing;
	char *name, *cause = NULL;
	size_t n = 0;

	if (sshc_kh_load(file, &kh, &missing, &cause) != 0) {
		free(cause);
		return 0;
	}
	name = ssh_known_hosts_name(host, port);
	for (size_t i = 0; i < nitems(all) && n < max; i++) {
		/* A different key of this type for this host: the type is known. */
		if (libssh2_knownhost_checkp(kh.hosts, name, -1, (const char *)dummy,
		    sizeof dummy - 1, LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
		    sshc_kh_keybits(all[i]), NULL) == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
			types[n++] = all[i];
	}
	free(name);
	sshc_kh_free(&kh);
	return n;
}

/* Append one line for host:port's key to file. */
int
ssh_known_hosts_add(const char *file, const char *host, int port, const unsigned char *key,
    size_t keylen, int keytype, char **cause)
{
	const char *tname = ssh_key_type_name(keytype);
	char *dir, *slash, *name, *b64, *text;
	struct stat st;
	bool need_nl = false;
	ssize_t n;
	int fd;

	if (tname == NULL)
		return set_cause(cause, "unknown host key type %d", keytype);
	dir = xstrdup(file);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir_p(dir, 0700, cause) != 0) {
			free(dir);
			return -1;
		}
	}
	free(dir);
	fd = open(file, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return set_cause(cause, "cannot open %s: %s", file, strerror(errno));
	/* A last line without its newline must not be glued to ours. */
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		char last;

		if (pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
			need_nl = true;
	}
	name = ssh_known_hosts_name(host, port);
	b64 = sshc_base64(key, keylen);
	text = xprintf("%s%s %s %s\n", need_nl ? "\n" : "", name, tname, b64);
	n = write(fd, text, strlen(text));
	if (n != (ssize_t)strlen(text)) {
		set_cause(cause, "cannot write %s: %s", file, n < 0 ? strerror(errno) : "short write");
		close(fd);
		free(text);
		free(b64);
		free(name);
		return -1;
	}
	if (close(fd) != 0) {
		set_cause(cause, "cannot write %s: %s", file, strerror(errno));
		free(text);
		free(b64);
		free(name);
		return -1;
	}
	free(text);
	free(b64);
	free(name);
	return 0;
}

/* Decode base64 text (whitespace skipped); returns the length or -1. */
static ssize_t
sshc_unbase64(const char *text, size_t len, unsigned char **out)
{
	struct base64_decode_ctx ctx;
	char *clean = xmalloc(len + 1);
	size_t n = 0, outlen;

	for (size_t i = 0; i < len; i++) {
		if (!isspace((unsigned char)text[i]))
			clean[n++] = text[i];
	}
	*out = xmalloc(BASE64_DECODE_LENGTH(n) + 1);
	outlen = BASE64_DECODE_LENGTH(n) + 1;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &outlen, *out, n, clean) || !base64_decode_final(&ctx)) {
		free(clean);
		free(*out);
		*out = NULL;
		return -1;
	}
	free(clean);
	return (ssize_t)outlen;
}

/* Read an SSH string at *p (bounded by end); false if truncated. */
static bool
sshc_string(const unsigned char **p, const unsigned char *end, const unsigned char **s,
    uint32_t *len)
{
	uint32_t n;

	if (end - *p < 4)
		return false;
	n = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 | (uint32_t)(*p)[2] << 8 | (*p)[3];
	*p += 4;
	if ((size_t)(end - *p) < n)
		return false;
	*s = *p;
	*len = n;
	*p += n;
	return true;
}

/* Look at an "openssh-key-v1" body: cipher and the public key's type. */
static void
sshc_inspect_openssh(const char *body, size_t len, struct ssh_keyinfo *ki)
{
	static const char magic[] = "openssh-key-v1";
	const unsigned char *p, *end, *s, *q;
	unsigned char *blob;
	uint32_t n, nkeys;
	ssize_t blen = sshc_unbase64(body, len, &blob);

	if (blen < (ssize_t)sizeof magic || memcmp(blob, magic, sizeof magic) != 0) {
		free(blob);
		return;
	}
	p = blob + sizeof magic;
	end = blob + blen;
	if (!sshc_string(&p, end, &s, &n))
		goto out;
	ki->encrypted = !(n == 4 && memcmp(s, "none", 4) == 0);
	if (!sshc_string(&p, end, &s, &n) || !sshc_string(&p, end, &s, &n))   /* kdf, options */
		goto out;
	if (end - p < 4)
		goto out;
	nkeys = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	p += 4;
	if (nkeys < 1 || !sshc_string(&p, end, &s, &n))
		goto out;
	q = s;
	if (sshc_string(&q, s + n, &s, &n) && n < sizeof ki->type) {
		memcpy(ki->type, s, n);
		ki->type[n] = '\0';
	}
out:
	free(blob);
}

/* What does the private key file path hold? */
int
ssh_key_inspect(const char *path, struct ssh_keyinfo *ki, char **cause)
{
	static const char oss_begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
	static const char oss_end[] = "-----END OPENSSH PRIVATE KEY-----";
	char *text = NULL, *b, *e, *pub;
	size_t len;

	memset(ki, 0, sizeof *ki);
	if (access(path, F_OK) != 0)
		return 0;
	ki->exists = true;
	if (read_file(path, SSHC_MAX_KEY, &text, &len, cause) != 0)
		return -1;
	if ((b = strstr(text, oss_begin)) != NULL) {
		b += sizeof oss_begin - 1;
		e = strstr(b, oss_end);
		if (e != NULL)
			sshc_inspect_openssh(b, (size_t)(e - b), ki);
	} else if (strstr(text, "-----BEGIN RSA PRIVATE KEY-----") != NULL) {
		snprintf(ki->type, sizeof ki->type, "ssh-rsa");
		ki->encrypted = strstr(text, "Proc-Type: 4,ENCRYPTED") != NULL;
	} else if (strstr(text, "-----BEGIN EC PRIVATE KEY-----") != NULL) {
		snprintf(ki->type, sizeof ki->type, "ecdsa");
		ki->encrypted = strstr(text, "Proc-Type: 4,ENCRYPTED") != NULL;
	} else if (strstr(text, "-----BEGIN DSA PRIVATE KEY-----") != NULL) {
		snprintf(ki->type, sizeof ki->type, "ssh-dss");
		ki->encrypted = strstr(text, "Proc-Type: 4,ENCRYPTED") != NULL;
	} else if (strstr(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL)
		ki->encrypted = true;
	explicit_bzero(text, len);
	free(text);
	if (ki->type[0] == '\0') {
		/* PKCS#8 hides the type: the .pub beside it tells. */
		char *ptext = NULL, *pcause = NULL;

		pub = xprintf("%s.pub", path);
		if (read_file(pub, SSHC_MAX_KEY, &ptext, NULL, &pcause) == 0) {
			size_t n = strcspn(ptext, " \t\n");

			if (n > 0 && n < sizeof ki->type) {
				memcpy(ki->type, ptext, n);
				ki->type[n] = '\0';
			}
		}
		free(pcause);
		free(ptext);
		free(pub);
	}
	ki->is_rsa = strcmp(ki->type, "ssh-rsa") == 0;
	return 0;
}
