/*
 * fuzz-ssh.c: libFuzzer harness for what the SSH transport reads from outside: a target spec
 * ([user@]host[:port], steps/ssh-target.c), the output of `ssh -G` (which the wizard parses
 * rather than the ssh config itself), known_hosts and private key files (steps/ssh-keys.c).
 *
 * An input is a target spec, a newline, and a file. The spec is split; the file is written
 * once and read as ssh -G's output (for the spec's host), as a known_hosts file (looked up
 * for the target's known_hosts name) and as a key file. Properties: a refusal always says why
 * in one line; a parsed target has a host name, a user and a port in 1..65535, and no
 * ProxyJump with ProxyCommand; the known_hosts lookup ends in one of its outcomes, with a
 * cause exactly when it failed. Seeds are in tests/fuzz/corpus-ssh/.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh2.h>

#include "ssh.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fuzz_dir;
static char *fuzz_path;

/* Abort with a message: a property does not hold. */
static void
fuzz_fail(const char *what, const char *spec)
{
	fprintf(stderr, "fuzz-ssh: %s (spec \"%s\")\n", what, spec);
	abort();
}

/* Check that a cause is a single non-empty line. */
static void
fuzz_cause(const char *cause, const char *spec)
{
	if (cause == NULL || *cause == '\0')
		fuzz_fail("a refusal without a cause", spec);
	if (strchr(cause, '\n') != NULL)
		fuzz_fail("a cause of several lines", spec);
}

/* Make the scratch directory. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char tmpl[] = "/tmp/dw-fuzz-ssh-XXXXXX";

	(void)argc;
	(void)argv;
	if (mkdtemp(tmpl) == NULL)
		abort();
	fuzz_dir = xstrdup(tmpl);
	fuzz_path = xprintf("%s/file", fuzz_dir);
	/* No ~/.ssh of the machine running the fuzzer is read. */
	setenv("HOME", fuzz_dir, 1);
	return 0;
}

/* Split one spec; read one input as ssh -G output, known_hosts and key file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t speclen = nl != NULL ? (size_t)(nl - data) : 0;
	char *spec = xstrndup((const char *)data, speclen);
	const uint8_t *body = nl != NULL ? nl + 1 : data;
	size_t bodylen = size - (size_t)(body - data);
	static const unsigned char key[32] = { 1, 2, 3 };
	struct ssh_target t = {0};
	struct ssh_keyinfo ki;
	char *user = NULL, *host = NULL;
	int port = 0;
	enum ssh_kh_result kr;
	char *cause = NULL;
	unsigned line = 0;
	int types[8];
	FILE *f;

	if (strlen(spec) != speclen || speclen == 0) {
		free(spec);
		spec = xstrdup("h");
	}
	f = fopen(fuzz_path, "w");
	if (f == NULL)
		abort();
	if (bodylen > 0 && fwrite(body, 1, bodylen, f) != bodylen)
		abort();
	fclose(f);

	if (ssh_target_split(spec, &user, &host, &port, &cause) == 0) {
		if (host == NULL || *host == '\0' || port < 0 || port > 65535)
			fuzz_fail("a split spec without a host, or with a bad port", spec);
	} else
		fuzz_cause(cause, spec);
	free(cause);
	cause = NULL;
	if (ssh_target_parse_config(host != NULL ? host : "h", (const char *)body, bodylen, &t,
	    &cause) == 0) {
		const char *kh = t.hostkey_alias != NULL ? t.hostkey_alias : t.hostname;

		if (t.hostname == NULL || *t.hostname == '\0' || t.user == NULL || *t.user == '\0')
			fuzz_fail("a target without a host name or user", spec);
		if (t.port < 1 || t.port > 65535)
			fuzz_fail("a port out of range", spec);
		if (t.proxy_jump != NULL && t.proxy_command != NULL)
			fuzz_fail("both ProxyJump and ProxyCommand", spec);
		free(ssh_target_string(&t));
		kr = ssh_known_hosts_check(fuzz_path, kh, t.port, key, sizeof key,
		    LIBSSH2_HOSTKEY_TYPE_ED25519, &line, &cause);
		if (kr == SSH_KH_FAILURE)
			fuzz_cause(cause, spec);
		else if (cause != NULL)
			fuzz_fail("a cause without a failure", spec);
		(void)ssh_known_hosts_types(fuzz_path, kh, t.port, types, 8);
	} else {
		fuzz_cause(cause, spec);
		if (t.host != NULL || t.identity_files.n != 0)
			fuzz_fail("a refused target not cleared", spec);
	}
	free(cause);
	cause = NULL;
	ssh_target_clear(&t);
	free(user);
	free(host);

	memset(&ki, 0, sizeof ki);
	if (ssh_key_inspect(fuzz_path, &ki, &cause) != 0)
		fuzz_cause(cause, spec);
	free(cause);
	free(spec);
	return 0;
}
