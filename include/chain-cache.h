/*
 * chain-cache.h: the chain loader's node trees, and the file that remembers them between
 * runs (steps/chain-cache.c).
 *
 * libyaml parses the 27 step files of the shipped chain in about 6 ms, and checking their
 * 250 regexes with regcomp takes as long again: most of the wizard's start. The cache keeps,
 * for each file's exact text, the tree libyaml made of it and whether its regexes and JSON
 * assertions passed (with what its regexes cost against the chain's budget). A file whose
 * text is in the cache is not parsed again, and when its checks passed before, its regexes
 * are neither measured nor compiled at load: they compile when first used (struct
 * chain_regex). A file whose stat data (name, inode, size, times) are the ones the cache
 * kept for it is not even read. Everything else the loader checks (fields, references,
 * requires, secrets) is checked whenever a file changed, from the tree, with the same
 * messages and positions; when none did, the chain is the image the cache keeps of the whole
 * chain as last built (chain_cache_get_image).
 *
 * The file is the operator's own (0600 in their cache directory) and trusted as the chain
 * files are: an entry's sum only catches damage, and a checked entry's regexes are not
 * measured again (regex_refusal) before they compile.
 *
 * The file is rebuilt whenever a load parsed something or a file's name or stamp changed; it
 * is keyed by the versions of the wizard, libyaml and glibc and by the locale's character
 * set, and any file that does not hold exactly what the writer wrote (truncated, foreign,
 * corrupt) counts as empty.
 */
#ifndef DW_CHAIN_CACHE_H
#define DW_CHAIN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* One YAML node with its position. A mapping's kids are key, value, key, value ... */
enum ykind { Y_SCALAR, Y_SEQ, Y_MAP };
struct ynode {
	enum ykind kind;
	int line, col;        /* 1-based start */
	int endline;          /* 1-based line of the end mark */
	char *s;              /* scalars: the value, NUL-terminated (NULL for collections) */
	size_t len;
	bool plain;           /* plain scalar: may be null */
	bool literal;         /* literal block scalar (|): lines map 1:1 to the file */
	struct ynode **kids;
	size_t n, cap;
	bool arena;           /* a tree from the cache: this root's one block holds it all */
};
void ynode_free(struct ynode *n);

#define YNODE_MAX_DEPTH  16        /* collections inside collections */
#define YNODE_MAX_NODES  200000    /* per file */

struct chain_cache;

/* Open the cache file at path: never NULL (a missing or unusable file is an empty cache). */
struct chain_cache *chain_cache_open(const char *path);
/* The same over bytes in memory (no file is written back): for tests and the fuzzer. */
struct chain_cache *chain_cache_from(const void *buf, size_t len);

/* What the loader learnt of a file besides its tree. */
struct chain_cache_facts {
	bool checked;         /* its regexes and JSON assertions passed */
	size_t regex_cost;    /* the sum of its regexes' regex_refusal() sizes (when checked) */
};

/* A file's version as its stat data tell it (ns for the times), as git's index keeps it. */
struct chain_cache_stamp {
	uint64_t dev, ino, size, mtime, ctime;
};
void chain_cache_stamp_of(const struct stat *sb, struct chain_cache_stamp *out);

/* A stamp is kept (and trusted) only once its ctime is this old: a file changed twice within
 * one tick of the file system's clock, to the same size, keeps its stamp. Tests lower it. */
#define CHAIN_CACHE_SETTLE_NS (5 * (int64_t)1000000000)
extern int64_t chain_cache_settle_ns;

/*
 * The tree of the file name (relative to the chain's directory) whose stamp is *stamp, without
 * reading it: NULL unless the cache holds a settled stamp for that name and it is this one.
 * *facts gets what was put with it. The tree is the cache's (one block, its strings in the
 * file's bytes): it lasts until the next get or chain_cache_close, and ynode_free leaves it
 * alone.
 */
struct ynode *chain_cache_get_stamped(struct chain_cache *cc, const char *name,
    const struct chain_cache_stamp *stamp, struct chain_cache_facts *facts);
/* The same, found by the file's text text[0..len); the entry takes name and *stamp. */
struct ynode *chain_cache_get(struct chain_cache *cc, const char *name,
    const struct chain_cache_stamp *stamp, const char *text, size_t len,
    struct chain_cache_facts *facts);
/* Remember the tree of file name's text (a copy is kept), its stamp and facts; replaces what
 * the cache held for that text. */
void chain_cache_put(struct chain_cache *cc, const char *name,
    const struct chain_cache_stamp *stamp, const char *text, size_t len,
    const struct ynode *root, const struct chain_cache_facts *facts);
/* How many files the cache answered (get found them). */
size_t chain_cache_hits(const struct chain_cache *cc);

/* Is the stamp old enough to be kept (CHAIN_CACHE_SETTLE_NS, from when the cache opened)? */
bool chain_cache_settled(const struct chain_cache *cc, const struct chain_cache_stamp *stamp);

/*
 * The whole chain, as chain_image_pack() made it, kept under key (the loader's account of the
 * files it was built from: names and stamps). get: a copy of the image's bytes (the caller's
 * to free) if the key is the one kept and the image is whole, else NULL. put: keep a copy of
 * image under key (the file is written again). Only an image got or put since the cache
 * opened is written back.
 */
char *chain_cache_get_image(struct chain_cache *cc, const void *key, size_t keylen,
    size_t *len);
void chain_cache_put_image(struct chain_cache *cc, const void *key, size_t keylen,
    const char *image, size_t len);
/*
 * Close: when a put changed something, the file is written again (atomically, 0600) with
 * the entries this run used; entries not used are dropped. Failing to write is not an error
 * of the load: the next run parses again.
 */
void chain_cache_close(struct chain_cache **ccp);

/* The cache file for the chain in dir: cache_dir/chain-HASH.cache (HASH: of dir's path). */
char *chain_cache_path(const char *cache_dir, const char *dir);

#endif
