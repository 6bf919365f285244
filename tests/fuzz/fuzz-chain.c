/*
 * fuzz-chain.c: libFuzzer harness for the chain loader and its cache. Each input becomes one
 * step file (s.yaml) in a temporary chain directory whose chain.yaml is fixed; an input that
 * starts with "#chain\n" is used as chain.yaml instead, beside a fixed valid step. chain_load()
 * must never crash, hang or leak, whatever the bytes, and loading through the cache (a miss,
 * then a hit) must give exactly what loading without it gives: the same problems, or the
 * same chain field by field.
 *
 * An input that starts with "#cache\n" is the body of a cache file (what follows the magic
 * and the key, which the harness puts in front) for the fixed chain and step: whatever it
 * holds, the load must give the chain of the files.
 *
 * An input that starts with "#image\n" is a chain image (chain_image_pack), given straight
 * to chain_image_unpack() (in the cache, an image's sum keeps damage from reaching it): it
 * must refuse it, or give a chain whose every pointer, index, enum and bool is sound (the
 * dump reads them all).
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/chaindump.h"
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
static char *cache_path;
static char *fixed_dump;           /* the fixed chain and step, loaded without a cache */
static char *cache_head;           /* a cache file's magic and key */
static size_t cache_head_len;

/* Remove the temporary chain directory. */
static void
cleanup(void)
{
	unlink(step_path);
	unlink(chain_path);
	unlink(cache_path);
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
	/* The cache lives outside the chain directory (it is not a step file). */
	cache_path = xprintf("%s.cache", dir);
	atexit(cleanup);

	/* The reference for "#cache" inputs, and a real cache file's head. */
	{
		struct chain *c = NULL;
		char *cause = NULL, *bytes;
		size_t len;
		uint32_t klen;

		write_all(chain_path, fixed_chain, sizeof fixed_chain - 1);
		write_all(step_path, fixed_step, sizeof fixed_step - 1);
		if (chain_load(dir, cache_path, &c, &cause) != 0 ||
		    read_file(cache_path, 1 << 24, &bytes, &len, NULL) != 0 || len < 12)
			abort();
		fixed_dump = chain_dump(c);
		chain_free(&c);
		memcpy(&klen, bytes + 8, 4);      /* little-endian, as the writer puts it */
		cache_head_len = 12 + (size_t)klen;
		cache_head = xmalloc(cache_head_len);
		memcpy(cache_head, bytes, cache_head_len);
		free(bytes);
	}
	return 0;
}

/* Load the chain through the cache; abort unless it gives what loading without it gave. */
static void
load_same(int want_rc, const char *want)
{
	struct chain *c = NULL;
	char *cause = NULL, *got;
	int rc = chain_load(dir, cache_path, &c, &cause);

	if (rc != want_rc)
		abort();
	got = rc == 0 ? chain_dump(c) : cause;
	if (strcmp(got, want) != 0)
		abort();
	free(got);
	chain_free(&c);
}

/* Load one input as a chain file (or a cache file's body). */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char marker[] = "#chain\n", cache_marker[] = "#cache\n";
	static const char image_marker[] = "#image\n";
	struct chain *c = NULL;
	char *cause = NULL, *want;
	int rc;

	if (size >= sizeof cache_marker - 1 &&
	    memcmp(data, cache_marker, sizeof cache_marker - 1) == 0) {
		char *bytes = xmalloc(cache_head_len + size);

		memcpy(bytes, cache_head, cache_head_len);
		memcpy(bytes + cache_head_len, data + sizeof cache_marker - 1,
		    size - (sizeof cache_marker - 1));
		write_all(chain_path, fixed_chain, sizeof fixed_chain - 1);
		write_all(step_path, fixed_step, sizeof fixed_step - 1);
		write_all(cache_path, bytes, cache_head_len + size - (sizeof cache_marker - 1));
		free(bytes);
		load_same(0, fixed_dump);
		return 0;
	}
	if (size >= sizeof image_marker - 1 &&
	    memcmp(data, image_marker, sizeof image_marker - 1) == 0) {
		size_t n = size - (sizeof image_marker - 1);
		char *bytes = xmalloc(n + 1);

		memcpy(bytes, data + sizeof image_marker - 1, n);
		if ((c = chain_image_unpack(bytes, n, dir)) != NULL) {
			free(chain_dump(c));
			for (size_t i = 0; i < c->nsteps; i++)
				(void)chain_step_index(c, c->steps[i].id);
			chain_free(&c);
		}
		return 0;
	}
	if (size >= sizeof marker - 1 && memcmp(data, marker, sizeof marker - 1) == 0) {
		write_all(chain_path, data, size);
		write_all(step_path, fixed_step, sizeof fixed_step - 1);
	} else {
		write_all(chain_path, fixed_chain, sizeof fixed_chain - 1);
		write_all(step_path, data, size);
	}
	rc = chain_load(dir, NULL, &c, &cause);
	if (rc == 0) {
		if (c == NULL || cause != NULL)
			abort();
		/* Exercise the look-ups on what loaded. */
		for (size_t i = 0; i < c->nsteps; i++) {
			if (chain_step_index(c, c->steps[i].id) < 0)
				abort();
			for (size_t r = 0; r < c->steps[i].nrequires; r++)
				(void)chain_depends_on(c, i, c->steps[i].req[r]);
		}
		want = chain_dump(c);
		chain_free(&c);
	} else {
		if (c != NULL || cause == NULL || cause[0] == '\0')
			abort();
		want = cause;
	}
	/* Through the cache: a miss (which writes it), then a hit. */
	unlink(cache_path);
	load_same(rc, want);
	load_same(rc, want);
	free(want);
	return 0;
}
