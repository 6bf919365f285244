/*
 * ssh-keys.c: what the SSH transport knows of keys without the network: the known_hosts
 * file (checked line by line through libssh2's parser so a MISMATCH can name its line;
 * updated by appending one line, never rewritten), OpenSSH-style fingerprints and what a
 * private key file holds (type, encrypted or not).
 */
#include "config.h"

#include "ssh.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh2.h>
#include <nettle/base64.h>
#include <nettle/sha2.h>

#include "util.h"

#define SSHK_MAX_FILE (16 << 20)   /* a known_hosts file */
#define SSHK_MAX_KEY (1 << 20)     /* a private key file */

/* Initialise libssh2 once (its crypto backend). */
static void
sshk_init(void)
{
	static bool done;

	if (!done) {
		if (libssh2_init(0) != 0)
			fatal("libssh2_init failed");
		done = true;
	}
}

/* Split a line into words (double quotes group); returns the count. */
static size_t
sshk_words(char *v, char **words, size_t max)
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
sshk_kh_keybits(int keytype)
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
sshk_base64(const unsigned char *p, size_t len)
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
	b64 = sshk_base64(digest, sizeof digest);
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
struct sshk_node {
	struct libssh2_knownhost *node;
	unsigned line;
};

/* A parsed known_hosts file. */
struct sshk_kh {
	LIBSSH2_SESSION *session;
	LIBSSH2_KNOWNHOSTS *hosts;
	struct sshk_node *nodes;
	size_t nnodes;
	char **revoked;          /* base64 keys of @revoked lines */
	unsigned *revoked_line;
	size_t nrevoked;
};

/* Free a parsed known_hosts file. */
static void
sshk_kh_free(struct sshk_kh *kh)
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
sshk_kh_revoked(struct sshk_kh *kh, const char *line, unsigned lineno)
{
	char *copy = xstrdup(line), *words[4];
	size_t n = sshk_words(copy, words, nitems(words));

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
sshk_kh_load(const char *file, struct sshk_kh *kh, bool *missing, char **cause)
{
	struct libssh2_knownhost *last = NULL, *n;
	char *text = NULL, *line, *next;
	unsigned lineno = 0;
	struct stat st;

	memset(kh, 0, sizeof *kh);
	*missing = false;
	sshk_init();
	if (stat(file, &st) != 0) {
		if (errno != ENOENT)
			return set_cause(cause, "cannot read %s: %s", file, strerror(errno));
		*missing = true;
	} else if (read_file(file, SSHK_MAX_FILE, &text, NULL, cause) != 0)
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
			sshk_kh_revoked(kh, p, lineno);
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
	struct sshk_kh kh;
	struct libssh2_knownhost *ext = NULL;
	bool missing;
	char *name, *b64;
	int bits = sshk_kh_keybits(keytype), rc;
	enum ssh_kh_result res;

	if (line != NULL)
		*line = 0;
	if (bits == 0) {
		set_cause(cause, "unknown host key type %d", keytype);
		return SSH_KH_FAILURE;
	}
	if (sshk_kh_load(file, &kh, &missing, cause) != 0)
		return SSH_KH_FAILURE;
	b64 = sshk_base64(key, keylen);
	for (size_t i = 0; i < kh.nrevoked; i++) {
		if (strcmp(kh.revoked[i], b64) == 0) {
			if (line != NULL)
				*line = kh.revoked_line[i];
			free(b64);
			sshk_kh_free(&kh);
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
	sshk_kh_free(&kh);
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
	struct sshk_kh kh;
	bool missing;
	char *name, *cause = NULL;
	size_t n = 0;

	if (sshk_kh_load(file, &kh, &missing, &cause) != 0) {
		free(cause);
		return 0;
	}
	name = ssh_known_hosts_name(host, port);
	for (size_t i = 0; i < nitems(all) && n < max; i++) {
		/* A different key of this type for this host: the type is known. */
		if (libssh2_knownhost_checkp(kh.hosts, name, -1, (const char *)dummy,
		    sizeof dummy - 1, LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
		    sshk_kh_keybits(all[i]), NULL) == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
			types[n++] = all[i];
	}
	free(name);
	sshk_kh_free(&kh);
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
	b64 = sshk_base64(key, keylen);
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
sshk_unbase64(const char *text, size_t len, unsigned char **out)
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
sshk_string(const unsigned char **p, const unsigned char *end, const unsigned char **s,
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
sshk_inspect_openssh(const char *body, size_t len, struct ssh_keyinfo *ki)
{
	static const char magic[] = "openssh-key-v1";
	const unsigned char *p, *end, *s, *q;
	unsigned char *blob;
	uint32_t n, nkeys;
	ssize_t blen = sshk_unbase64(body, len, &blob);

	if (blen < (ssize_t)sizeof magic || memcmp(blob, magic, sizeof magic) != 0) {
		free(blob);
		return;
	}
	p = blob + sizeof magic;
	end = blob + blen;
	if (!sshk_string(&p, end, &s, &n))
		goto out;
	ki->encrypted = !(n == 4 && memcmp(s, "none", 4) == 0);
	if (!sshk_string(&p, end, &s, &n) || !sshk_string(&p, end, &s, &n))   /* kdf, options */
		goto out;
	if (end - p < 4)
		goto out;
	nkeys = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	p += 4;
	if (nkeys < 1 || !sshk_string(&p, end, &s, &n))
		goto out;
	q = s;
	if (sshk_string(&q, s + n, &s, &n) && n < sizeof ki->type) {
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
	if (read_file(path, SSHK_MAX_KEY, &text, &len, cause) != 0)
		return -1;
	if ((b = strstr(text, oss_begin)) != NULL) {
		b += sizeof oss_begin - 1;
		e = strstr(b, oss_end);
		if (e != NULL)
			sshk_inspect_openssh(b, (size_t)(e - b), ki);
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
		if (read_file(pub, SSHK_MAX_KEY, &ptext, NULL, &pcause) == 0) {
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
