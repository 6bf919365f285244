/*
 * fuzz-chain.c: libFuzzer harness for the chain loader. Each input becomes one step file
 * (s.yaml) in a temporary chain directory whose chain.yaml is fixed; an input that starts
 * with "#chain\n" is used as chain.yaml instead, beside a fixed valid step. chain_load()
 * must never crash, hang or leak, whatever the bytes.
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A small chain with every kind of input the rules look at. */
static const char fixed_chain[] =
	"title: Fuzz chain\n"
	"sections:\n"
	"  - {id: one, title: One}\n"
	"  - {id: two, title: Two}\n"
	"  - {id: first, title: First}\n"
	"  - {id: second, title: Second}\n"
	"  - {id: local, title: Local}\n"
	"  - {id: host, title: Host}\n"
	"inputs:\n"
	"  - {name: a, label: A}\n"
	"  - {name: version, label: V, type: version, default: \"1.0.0\"}\n"
	"  - {name: dstack_version, label: V, type: version, default: \"0.5.5\"}\n"
	"  - {name: local_repo_dir, label: R, type: path, scope: local, default: ~/dstack}\n"
	"  - {name: server_ip, label: IP, type: ip}\n"
	"  - {name: ssh_user, label: U, default: ubuntu}\n"
	"  - {name: ssh_port, label: P, type: port, default: 22}\n"
	"  - {name: base_domain, label: Domain, type: domain}\n"
	"  - {name: kms_domain, label: KMS, default: \"kms.${base_domain}\"}\n"
	"  - {name: token, label: Token, type: secret}\n"
	"  - {name: private_key, label: Key, type: secret, scope: local, "
	"pattern: '^0x[0-9a-f]{64}$'}\n"
	"  - {name: contract, label: C, type: eth_address, optional: true}\n"
	"  - {name: dir, label: Dir, scope: local, optional: true}\n";

/* A valid step, used beside a fuzzed chain.yaml. */
static const char fixed_step[] =
	"id: base\n"
	"section: one\n"
	"title: Base\n"
	"place: server\n"
	"requires: []\n"
	"check:\n"
	"  - run: echo ${a}\n"
	"    env: {T: \"${token}\"}\n"
	"action:\n"
	"  - {run: deploy, on: local, env: {K: \"${private_key}\"}}\n";

static char *dir;
static char *step_path;
static char *chain_path;

/* Remove the temporary chain directory. */
static void
cleanup(void)
{
	unlink(step_path);
	unlink(chain_path);
	rmdir(dir);
}

/* Write len bytes to path, replacing it. */
static void
write_all(const char *path, const void *buf, size_t len)
{
	const char *p = buf;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n <= 0) {
			perror(path);
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

/* Make the temporary chain directory once. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	dir = xprintf("%s/dw-fuzz-chain-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	step_path = xprintf("%s/s.yaml", dir);
	chain_path = xprintf("%s/chain.yaml", dir);
	atexit(cleanup);
	return 0;
}

/* Load one input as a chain file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char marker[] = "#chain\n";
	struct chain *c = NULL;
	char *cause = NULL;

	if (size >= sizeof marker - 1 && memcmp(data, marker, sizeof marker - 1) == 0) {
		write_all(chain_path, data, size);
		write_all(step_path, fixed_step, sizeof fixed_step - 1);
	} else {
		write_all(chain_path, fixed_chain, sizeof fixed_chain - 1);
		write_all(step_path, data, size);
	}
	if (chain_load(dir, &c, &cause) == 0) {
		if (c == NULL || cause != NULL)
			abort();
		/* Exercise the look-ups on what loaded. */
		for (size_t i = 0; i < c->nsteps; i++) {
			if (chain_step_index(c, c->steps[i].id) < 0)
				abort();
			for (size_t r = 0; r < c->steps[i].nrequires; r++)
				(void)chain_depends_on(c, i, c->steps[i].req[r]);
		}
		chain_free(&c);
	} else {
		if (c != NULL || cause == NULL || cause[0] == '\0')
			abort();
		free(cause);
	}
	return 0;
}
