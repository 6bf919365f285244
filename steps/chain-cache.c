/*
 * chain-cache.c: the file that remembers the loader's node trees between runs (the why and
 * the rules are in chain-cache.h).
 *
 * The file, every integer a little-endian u32 (u64: low half, then high):
 *   "DWCHAIN\n" key-length key            key: what the trees and checks depend on
 *   image-key-length image-key image-length image image-sum(u64)   (lengths 0: none)
 *   count, then count heads, one per entry:
 *     name-length text-length tree-length nodes lines regex-cost checked(u8)
 *     stamp(5 u64: dev ino size mtime ctime, in ns; all 0: none) sum(u64)
 *   then every entry's name, then every tree, then every text (each run in the heads' order,
 *   back to back, to the end of the file).
 * A tree is its nodes in preorder, each
 *   tag(u8: kind | plain << 2 | literal << 3) line col endline, then
 *   a scalar: length, bytes, NUL;  a list or mapping: the number of kids.
 * An entry is found two ways. By its file's name and stat data (the stamp), as git's index
 * finds unchanged files: the file is not even read. A stamp is kept only once the file's
 * ctime is CHAIN_CACHE_SETTLE_NS old, since a file changed twice within one tick of the
 * file system's clock, to the same size, would keep its stamp; the second change would be
 * missed. ctime cannot be set back by hand as mtime can. Otherwise by the whole text
 * (memcmp), so no hash can collide; the entry then takes the file's name and stamp. A sum of
 * everything but the name and the text catches an entry damaged on disk, which could
 * otherwise still decode. A tree is decoded only when asked for, into one block the cache
 * reuses, its scalars pointing into the file's bytes; everything the loader relies on is
 * checked while decoding: bounds, depth, node count, kinds, scalar keys, an even number of
 * mapping kids, no NUL in a scalar, positions inside the text. A tree that fails is a miss,
 * and the file is rewritten.
 *
 * The image is the whole chain as the loader built it (chain_image_pack), kept under the
 * names and stamps of the files it was built from: when all of them are unchanged, the chain
 * is the image, and no file is read, decoded or checked. It has its own sum.
 *
 * Speed is the point, and on a virtual machine a page fault costs about 12 us and even the
 * first touch of a page already mapped 1 to 3 us. The file is mapped, all of its pages at
 * once before the first look-up of a file (MADV_POPULATE_READ, 0.1 ms for 400 KB where
 * malloc and read take 1.4 ms), none for a load that takes the image (which is read). The
 * heads come first, together, so finding an entry touches one or two pages, and the texts
 * last, since a file found by its stamp never needs its text (with the heads among the
 * texts, as in format 5, reading the 29 heads of the shipped chain's cache took 0.2 ms).
 * The nodes of every tree go in the same block.
 */
#include "config.h"

#include "chain-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <langinfo.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "util.h"

#define CACHE_MAGIC     "DWCHAIN\n"
#define CACHE_FORMAT    7
#define CACHE_MAX_SIZE  (64 * 1024 * 1024)
#define CACHE_MAX_FILES 1001                    /* the loader reads at most 1000 + chain.yaml */

struct entry {
	const char *name;          /* the file's, relative to the chain; into the bytes, or own */
	size_t nlen;
	struct chain_cache_stamp stamp;  /* all 0: none (found only by text) */
	const char *text;          /* into the file's bytes, or own */
	size_t tlen;
	uint32_t lines;            /* newlines in the text */
	unsigned char *tree;
	size_t trlen;
	uint32_t nodes;
	uint64_t sum;              /* of checked, regex_cost and the tree's bytes */
	bool checked;
	uint32_t regex_cost;       /* of the file's regexes (struct chain_cache_facts) */
	bool used;                 /* get or put this run: kept when the file is written */
	char *own;                 /* a put's text and tree, one allocation */
	char *own_name;            /* the name, when this run gave it */
};

struct chain_cache {
	char *path;                /* NULL: in memory only */
	char *buf;                 /* the file's bytes */
	size_t maplen;             /* > 0: buf is the file, mapped */
	void *pool;                /* the block of the last tree decoded */
	size_t poolsize;
	size_t maxnodes;           /* of the file's entries: the block's size, made once */
	struct entry *e;
	size_t n;
	size_t next;               /* where the next look-up by name starts (files come in order) */
	size_t hits;
	int64_t now;               /* when opened (ns since the epoch): is a stamp settled? */
	bool dirty;
	const char *ikey;          /* the image's key and bytes: into the file's, or own */
	size_t ikeylen;
	const char *image;
	size_t ilen;
	uint64_t isum;
	bool ikeep;                /* got or put this run: written with the file */
	char *own_image;           /* a put's key and image, one allocation */
	int fd;                    /* the file, while mapped (the image is read, not touched) */
	bool populated;            /* the mapping's pages are all there (populate()) */
};

int64_t chain_cache_settle_ns = CHAIN_CACHE_SETTLE_NS;

void
ynode_free(struct ynode *n)
{
	if (n == NULL)
		return;
	if (n->arena)              /* a decoded tree: the cache's block */
		return;
	for (size_t i = 0; i < n->n; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->s);
	free(n);
}

/* What a tree's meaning depends on besides the text: a different key is an empty cache. */
static const char *
cache_key(void)
{
	static char key[256];

	if (key[0] == '\0')
		snprintf(key, sizeof key, "format %d; dstack-wizard %s; libyaml %s; glibc %s; %s; "
		    "image %s", CACHE_FORMAT, PACKAGE_VERSION, YAML_MODVERSION,
		    gnu_get_libc_version(), nl_langinfo(CODESET), chain_image_layout());
	return key;
}

/* A sum of n bytes from seed, four words at a time (four lanes, so the multiplies overlap).
 * It guards against damage, not against an adversary: whoever can write the cache can write
 * the chain's files too. */
static uint64_t
sum64(uint64_t seed, const unsigned char *p, size_t n)
{
	uint64_t h[4] = { seed ^ n, seed + 0x9e3779b97f4a7c15u, ~seed, seed - 0x5bd1e995u }, w;

	for (; n >= 32; p += 32, n -= 32)
		for (int i = 0; i < 4; i++) {
			memcpy(&w, p + 8 * i, 8);
			h[i] = (h[i] ^ w) * 0x100000001b3u;
			h[i] ^= h[i] >> 29;
		}
	for (; n > 0; p += n < 8 ? n : 8, n -= n < 8 ? n : 8) {
		w = 0;
		memcpy(&w, p, n < 8 ? n : 8);
		h[0] = (h[0] ^ w) * 0x100000001b3u;
		h[0] ^= h[0] >> 29;
	}
	for (int i = 1; i < 4; i++)
		h[0] = (h[0] ^ h[i]) * 0x100000001b3u ^ (h[0] >> 32);
	return h[0];
}

/* The sum an entry carries: of its facts, stamp and tree. */
static uint64_t
entry_sum(const struct entry *e)
{
	const uint64_t head[] = { e->checked, e->regex_cost, e->lines, e->nodes, e->stamp.dev,
		e->stamp.ino, e->stamp.size, e->stamp.mtime, e->stamp.ctime };

	return sum64(sum64(0x243f6a8885a308d3u, (const unsigned char *)head, sizeof head),
	    e->tree, e->trlen);
}

/* -------------------------------------------------------------------------------------- */
/* Reading. */

struct rd {
	unsigned char *p, *end;
	bool bad;
};

static uint32_t
rd_u32(struct rd *r)
{
	uint32_t v;

	if (r->bad || r->end - r->p < 4) {
		r->bad = true;
		return 0;
	}
	v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
	    (uint32_t)r->p[3] << 24;
	r->p += 4;
	return v;
}

static uint64_t
rd_u64(struct rd *r)
{
	uint64_t lo = rd_u32(r);

	return lo | (uint64_t)rd_u32(r) << 32;
}

/* n bytes, or NULL (and r bad) if there are fewer. */
static unsigned char *
rd_bytes(struct rd *r, size_t n)
{
	unsigned char *at = r->p;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	return at;
}

/* Decoding one tree: the text's line count bounds the positions; nodes and kid pointers come
 * from one block, sized by the entry's node count. */
struct dec {
	struct rd r;
	uint32_t lines;            /* lines in the text, + 1 for an end mark past the last */
	struct ynode *pool;
	size_t used, total;
	struct ynode **kids;
	size_t kused;              /* kid slots: total - 1 (every node but the root is a kid) */
};

/* A little-endian u32 at p (the caller checked the bounds). */
static inline uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define NODE_HEAD 17          /* tag, line, col, endline, and a scalar's length or a count */

static struct ynode *
dec_node(struct dec *d, int depth)
{
	struct rd *r = &d->r;
	const unsigned char *h = r->p;
	unsigned tag;
	uint32_t line, col, endline, count;
	struct ynode *n;

	/* The head is read at once; a line or column is 1 .. max (v - 1 < max, unsigned). */
	if (r->bad || r->end - r->p < NODE_HEAD || d->used == d->total) {
		r->bad = true;
		return NULL;
	}
	tag = h[0];
	line = le32(h + 1);
	col = le32(h + 5);
	endline = le32(h + 9);
	count = le32(h + 13);
	r->p += NODE_HEAD;
	if ((tag & 3) > Y_MAP || (tag & ~0xfu) != 0 || ((tag & 3) != Y_SCALAR && (tag & 0xc) != 0) ||
	    line - 1 >= d->lines || col - 1 >= UINT32_MAX >> 1 || endline - 1 >= d->lines ||
	    endline < line) {
		r->bad = true;
		return NULL;
	}
	n = &d->pool[d->used++];
	*n = (struct ynode){ .kind = (enum ykind)(tag & 3), .line = (int)line, .col = (int)col,
		.endline = (int)endline, .plain = (tag & 4) != 0, .literal = (tag & 8) != 0 };
	if (n->kind == Y_SCALAR) {
		unsigned char *sc = r->p;

		/* count bytes and a NUL, and no NUL before it */
		if ((size_t)(r->end - r->p) <= count || sc[count] != '\0' ||
		    memchr(sc, '\0', count) != NULL) {
			r->bad = true;
			return NULL;
		}
		r->p += (size_t)count + 1;
		n->s = (char *)sc;
		n->len = count;
		return n;
	}
	if (depth >= YNODE_MAX_DEPTH || count > d->total - 1 - d->kused ||
	    (n->kind == Y_MAP && count % 2 != 0)) {
		r->bad = true;
		return NULL;
	}
	n->kids = count > 0 ? &d->kids[d->kused] : NULL;
	n->cap = count;
	d->kused += count;
	while (n->n < count) {
		struct ynode *k = dec_node(d, depth + 1);

		if (k == NULL)
			return NULL;
		n->kids[n->n++] = k;
		if (n->kind == Y_MAP && n->n % 2 == 1 && k->kind != Y_SCALAR) {
			r->bad = true;
			return NULL;
		}
	}
	return n;
}

/* Decode entry e's tree into the cache's block; NULL if it is not a whole, well-formed tree. */
static struct ynode *
decode(struct chain_cache *cc, const struct entry *e)
{
	struct dec d = { .r = { e->tree, e->tree + e->trlen, false }, .lines = e->lines + 2 };
	struct ynode *root;
	size_t size;

	if (e->nodes == 0 || e->nodes > YNODE_MAX_NODES || e->trlen / NODE_HEAD < e->nodes ||
	    e->lines > e->tlen || entry_sum(e) != e->sum)
		return NULL;      /* (a node takes at least its head) */
	d.total = e->nodes;
	size = (e->nodes > cc->maxnodes ? e->nodes : cc->maxnodes) *
	    (sizeof *d.pool + sizeof *d.kids);
	if (size > cc->poolsize) {
		free(cc->pool);
		cc->pool = xmalloc(size);
		cc->poolsize = size;
	}
	d.pool = cc->pool;
	d.kids = (struct ynode **)(void *)(d.pool + d.total);
	root = dec_node(&d, 0);
	if (root == NULL || d.r.p != d.r.end || d.used != d.total)
		return NULL;
	root->arena = true;
	return root;
}

/* The bytes of one run (names, trees or texts) that an entry's length takes from *at. */
static unsigned char *
take(unsigned char **at, const unsigned char *end, size_t len, bool *bad)
{
	unsigned char *p = *at;

	if (*bad || (size_t)(end - p) < len) {
		*bad = true;
		return NULL;
	}
	*at = p + len;
	return p;
}

/* Parse the file's bytes into entries (trees are decoded later); false if unusable. */
static bool
parse(struct chain_cache *cc, char *buf, size_t len)
{
	struct rd r = { (unsigned char *)buf, (unsigned char *)buf + len, false };
	const char *key = cache_key();
	const unsigned char *got;
	unsigned char *at;
	uint32_t klen, count;

	got = rd_bytes(&r, strlen(CACHE_MAGIC));
	if (got == NULL || memcmp(got, CACHE_MAGIC, strlen(CACHE_MAGIC)) != 0)
		return false;
	klen = rd_u32(&r);
	got = rd_bytes(&r, klen);
	if (got == NULL || klen != strlen(key) || memcmp(got, key, klen) != 0)
		return false;
	cc->ikeylen = rd_u32(&r);
	cc->ikey = (const char *)rd_bytes(&r, cc->ikeylen);
	cc->ilen = rd_u32(&r);
	cc->image = (const char *)rd_bytes(&r, cc->ilen);
	cc->isum = rd_u64(&r);
	count = rd_u32(&r);
	if (r.bad || count > CACHE_MAX_FILES)
		return false;
	cc->e = xcalloc(count ? count : 1, sizeof *cc->e);
	for (uint32_t i = 0; i < count; i++) {
		struct entry *e = &cc->e[i];
		const unsigned char *checked;

		e->nlen = rd_u32(&r);
		e->tlen = rd_u32(&r);
		e->trlen = rd_u32(&r);
		e->nodes = rd_u32(&r);
		e->lines = rd_u32(&r);
		e->regex_cost = rd_u32(&r);
		checked = rd_bytes(&r, 1);
		e->stamp.dev = rd_u64(&r);
		e->stamp.ino = rd_u64(&r);
		e->stamp.size = rd_u64(&r);
		e->stamp.mtime = rd_u64(&r);
		e->stamp.ctime = rd_u64(&r);
		e->sum = rd_u64(&r);
		if (r.bad || *checked > 1)
			return false;
		e->checked = *checked == 1;
		if (e->nodes <= YNODE_MAX_NODES && e->nodes > cc->maxnodes)
			cc->maxnodes = e->nodes;
	}
	/* The runs, in the heads' order; their lengths must add up to the rest of the file. */
	at = r.p;
	for (uint32_t i = 0; i < count; i++)
		cc->e[i].name = (const char *)take(&at, r.end, cc->e[i].nlen, &r.bad);
	for (uint32_t i = 0; i < count; i++)
		cc->e[i].tree = take(&at, r.end, cc->e[i].trlen, &r.bad);
	for (uint32_t i = 0; i < count; i++)
		cc->e[i].text = (const char *)take(&at, r.end, cc->e[i].tlen, &r.bad);
	if (r.bad || at != r.end)
		return false;
	cc->n = count;
	return true;
}

/* A file that did not parse holds nothing. */
static void
forget(struct chain_cache *cc)
{
	free(cc->e);
	cc->e = NULL;
	cc->n = 0;
	cc->ikey = cc->image = NULL;
	cc->ikeylen = cc->ilen = 0;
}

/* Now, in ns since the epoch (the clock file times are told on). */
static int64_t
now_realtime_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

struct chain_cache *
chain_cache_from(const void *buf, size_t len)
{
	struct chain_cache *cc = xcalloc(1, sizeof *cc);

	cc->now = now_realtime_ns();
	cc->fd = -1;
	cc->buf = xmalloc(len + 1);
	if (len > 0)
		memcpy(cc->buf, buf, len);
	if (!parse(cc, cc->buf, len)) {
		forget(cc);
		cc->dirty = true;      /* whatever is there is rewritten */
	}
	return cc;
}

struct chain_cache *
chain_cache_open(const char *path)
{
	struct chain_cache *cc = xcalloc(1, sizeof *cc);
	struct stat sb;
	void *map = MAP_FAILED;
	int fd;

	cc->now = now_realtime_ns();
	cc->fd = -1;
	cc->path = xstrdup(path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	/* Nothing keeps the mapping past chain_load(), and the writer never changes a file in
	 * place (it renames a new one over it). */
	if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
	    sb.st_size <= CACHE_MAX_SIZE)
		map = mmap(NULL, (size_t)sb.st_size, PROT_READ,
		    MAP_PRIVATE, fd, 0);
	if (map != MAP_FAILED) {
		cc->buf = map;
		cc->maplen = (size_t)sb.st_size;
		cc->fd = fd;
	} else if (fd >= 0)
		close(fd);
	if (cc->buf == NULL || !parse(cc, cc->buf, cc->maplen)) {
		forget(cc);
		cc->dirty = true;
	}
	return cc;
}

void
chain_cache_stamp_of(const struct stat *sb, struct chain_cache_stamp *out)
{
	out->dev = (uint64_t)sb->st_dev;
	out->ino = (uint64_t)sb->st_ino;
	out->size = (uint64_t)sb->st_size;
	out->mtime = (uint64_t)sb->st_mtim.tv_sec * 1000000000u + (uint64_t)sb->st_mtim.tv_nsec;
	out->ctime = (uint64_t)sb->st_ctim.tv_sec * 1000000000u + (uint64_t)sb->st_ctim.tv_nsec;
}

static bool
stamp_none(const struct chain_cache_stamp *s)
{
	return (s->dev | s->ino | s->size | s->mtime | s->ctime) == 0;
}

static bool
stamp_eq(const struct chain_cache_stamp *a, const struct chain_cache_stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime == b->mtime && a->ctime == b->ctime;
}

/* Give entry e the file's name and stamp (none while the stamp has not settled). */
static void
label(struct chain_cache *cc, struct entry *e, const char *name,
    const struct chain_cache_stamp *stamp)
{
	static const struct chain_cache_stamp none;
	size_t nlen = strlen(name);
	const struct chain_cache_stamp *keep = chain_cache_settled(cc, stamp) ? stamp : &none;

	if (e->nlen == nlen && memcmp(e->name, name, nlen) == 0 && stamp_eq(&e->stamp, keep))
		return;
	free(e->own_name);
	e->own_name = xstrdup(name);
	e->name = e->own_name;
	e->nlen = nlen;
	e->stamp = *keep;
	e->sum = entry_sum(e);
	cc->dirty = true;
}

/* Decode entry e for a get: its tree, with its facts; NULL (the file to be rewritten) if it
 * does not decode. */
static struct ynode *
hit(struct chain_cache *cc, struct entry *e, struct chain_cache_facts *facts)
{
	struct ynode *root = decode(cc, e);

	if (root == NULL) {
		cc->dirty = true;
		return NULL;
	}
	e->used = true;
	cc->hits++;
	facts->checked = e->checked;
	facts->regex_cost = e->regex_cost;
	return root;
}

/* Before the first look-up of a file: map all of the cache file's pages at once (a load that
 * takes the chain's image touches only the head, and reads the image). */
static void
populate(struct chain_cache *cc)
{
#ifdef MADV_POPULATE_READ
	if (cc->maplen > 0 && !cc->populated)
		(void)madvise(cc->buf, cc->maplen, MADV_POPULATE_READ);
#endif
	cc->populated = true;
}

struct ynode *
chain_cache_get_stamped(struct chain_cache *cc, const char *name,
    const struct chain_cache_stamp *stamp, struct chain_cache_facts *facts)
{
	size_t nlen = strlen(name);

	if (stamp_none(stamp))
		return NULL;
	populate(cc);
	for (size_t k = 0; k < cc->n; k++) {
		size_t i = (cc->next + k) % cc->n;
		struct entry *e = &cc->e[i];

		if (e->nlen != nlen || memcmp(e->name, name, nlen) != 0)
			continue;
		if (!stamp_eq(&e->stamp, stamp))
			return NULL;
		cc->next = i + 1;
		return hit(cc, e, facts);
	}
	return NULL;
}

struct ynode *
chain_cache_get(struct chain_cache *cc, const char *name,
    const struct chain_cache_stamp *stamp, const char *text, size_t len,
    struct chain_cache_facts *facts)
{
	populate(cc);
	for (size_t i = 0; i < cc->n; i++) {
		struct entry *e = &cc->e[i];
		struct ynode *root;

		if (e->tlen != len || memcmp(e->text, text, len) != 0)
			continue;
		if ((root = hit(cc, e, facts)) != NULL)
			label(cc, e, name, stamp);
		return root;
	}
	return NULL;
}

bool
chain_cache_settled(const struct chain_cache *cc, const struct chain_cache_stamp *stamp)
{
	return !stamp_none(stamp) && (int64_t)stamp->ctime + chain_cache_settle_ns <= cc->now;
}

char *
chain_cache_get_image(struct chain_cache *cc, const void *key, size_t keylen, size_t *len)
{
	char *img;
	size_t got = 0;

	if (cc->image == NULL || cc->ikeylen != keylen || memcmp(cc->ikey, key, keylen) != 0)
		return NULL;
	img = xmalloc(cc->ilen + 1);
	/* Read from the file rather than copied from the mapping: on a VM, touching the
	 * mapping's pages costs more than the kernel's copy. */
	if (cc->fd < 0)
		memcpy(img, cc->image, got = cc->ilen);
	else
		while (got < cc->ilen) {
			ssize_t r = pread(cc->fd, img + got, cc->ilen - got,
			    (off_t)(cc->image - cc->buf) + (off_t)got);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
	if (got != cc->ilen ||
	    sum64(0x13198a2e03707344u, (const unsigned char *)img, cc->ilen) != cc->isum) {
		free(img);
		cc->image = NULL;         /* damaged: the file is written again without it */
		cc->dirty = true;
		return NULL;
	}
	cc->ikeep = true;
	*len = cc->ilen;
	return img;
}

void
chain_cache_put_image(struct chain_cache *cc, const void *key, size_t keylen, const char *image,
    size_t len)
{
	if (keylen > UINT32_MAX || len > UINT32_MAX)
		return;
	free(cc->own_image);
	cc->own_image = xmalloc(keylen + len + 1);
	memcpy(cc->own_image, key, keylen);
	memcpy(cc->own_image + keylen, image, len);
	cc->ikey = cc->own_image;
	cc->ikeylen = keylen;
	cc->image = cc->own_image + keylen;
	cc->ilen = len;
	cc->isum = sum64(0x13198a2e03707344u, (const unsigned char *)cc->image, len);
	cc->ikeep = true;
	cc->dirty = true;
}

size_t
chain_cache_hits(const struct chain_cache *cc)
{
	return cc->hits;
}

/* -------------------------------------------------------------------------------------- */
/* Writing. */

static void
put_u32(struct strbuf *sb, size_t v)
{
	char b[4] = { (char)(v & 0xff), (char)(v >> 8 & 0xff), (char)(v >> 16 & 0xff),
		(char)(v >> 24 & 0xff) };

	sb_add(sb, b, 4);
}

static void
put_u64(struct strbuf *sb, uint64_t v)
{
	put_u32(sb, (size_t)(v & 0xffffffffu));
	put_u32(sb, (size_t)(v >> 32));
}

/* Encode n and its kids; the number of nodes written. */
static size_t
enc_node(struct strbuf *sb, const struct ynode *n)
{
	size_t count = 1;


	sb_addc(sb, (char)(n->kind | (n->plain ? 4 : 0) | (n->literal ? 8 : 0)));
	put_u32(sb, (size_t)n->line);
	put_u32(sb, (size_t)n->col);
	put_u32(sb, (size_t)n->endline);
	if (n->kind == Y_SCALAR) {
		put_u32(sb, n->len);
		sb_add(sb, n->s, n->len);
		sb_addc(sb, '\0');
		return count;
	}
	put_u32(sb, n->n);
	for (size_t i = 0; i < n->n; i++)
		count += enc_node(sb, n->kids[i]);
	return count;
}

void
chain_cache_put(struct chain_cache *cc, const char *name,
    const struct chain_cache_stamp *stamp, const char *text, size_t len,
    const struct ynode *root, const struct chain_cache_facts *facts)
{
	struct strbuf sb = {0};
	struct entry *e = NULL;
	size_t trlen, nodes;

	if (len > UINT32_MAX || root == NULL || facts->regex_cost > UINT32_MAX)
		return;
	for (size_t i = 0; i < cc->n && e == NULL; i++)
		if (cc->e[i].tlen == len && memcmp(cc->e[i].text, text, len) == 0)
			e = &cc->e[i];
	if (e == NULL) {
		if (cc->n >= CACHE_MAX_FILES)
			return;
		cc->e = xreallocarray(cc->e, cc->n + 1, sizeof *cc->e);
		e = &cc->e[cc->n++];
	} else {
		free(e->own);
		free(e->own_name);
	}
	memset(e, 0, sizeof *e);
	sb_add(&sb, text, len);
	nodes = enc_node(&sb, root);
	trlen = sb.len - len;
	e->own = sb_detach(&sb);
	e->text = e->own;
	e->tlen = len;
	e->tree = (unsigned char *)e->own + len;
	e->trlen = trlen;
	e->nodes = (uint32_t)nodes;
	for (const char *nl = text; (nl = memchr(nl, '\n', (size_t)(text + len - nl))) != NULL;
	    nl++)
		e->lines++;
	e->checked = facts->checked;
	e->regex_cost = (uint32_t)facts->regex_cost;
	e->used = true;
	e->name = "";
	label(cc, e, name, stamp);
	e->sum = entry_sum(e);
	cc->dirty = true;
}

/* Write the used entries to cc->path (temp file, rename); quietly gives up on failure. */
static void
save(struct chain_cache *cc)
{
	struct strbuf sb = {0};
	const char *key = cache_key();
	char *tmp, *slash;
	size_t count = 0, off = 0;
	int fd;

	sb_adds(&sb, CACHE_MAGIC);
	put_u32(&sb, strlen(key));
	sb_adds(&sb, key);
	if (cc->ikeep && cc->image != NULL) {
		put_u32(&sb, cc->ikeylen);
		sb_add(&sb, cc->ikey, cc->ikeylen);
		put_u32(&sb, cc->ilen);
		sb_add(&sb, cc->image, cc->ilen);
		put_u64(&sb, cc->isum);
	} else {
		put_u32(&sb, 0);
		put_u32(&sb, 0);
		put_u64(&sb, 0);
	}
	for (size_t i = 0; i < cc->n; i++)
		count += cc->e[i].used;
	put_u32(&sb, count);
	for (size_t i = 0; i < cc->n; i++) {
		const struct entry *e = &cc->e[i];

		if (!e->used)
			continue;
		put_u32(&sb, e->nlen);
		put_u32(&sb, e->tlen);
		put_u32(&sb, e->trlen);
		put_u32(&sb, e->nodes);
		put_u32(&sb, e->lines);
		put_u32(&sb, e->regex_cost);
		sb_addc(&sb, e->checked ? 1 : 0);
		put_u64(&sb, e->stamp.dev);
		put_u64(&sb, e->stamp.ino);
		put_u64(&sb, e->stamp.size);
		put_u64(&sb, e->stamp.mtime);
		put_u64(&sb, e->stamp.ctime);
		put_u64(&sb, e->sum);
	}
	for (size_t i = 0; i < cc->n; i++)
		if (cc->e[i].used)
			sb_add(&sb, cc->e[i].name, cc->e[i].nlen);
	for (size_t i = 0; i < cc->n; i++)
		if (cc->e[i].used)
			sb_add(&sb, (const char *)cc->e[i].tree, cc->e[i].trlen);
	for (size_t i = 0; i < cc->n; i++)
		if (cc->e[i].used)
			sb_add(&sb, cc->e[i].text, cc->e[i].tlen);
	if (sb.len > CACHE_MAX_SIZE) {           /* it would not be read back */
		sb_free(&sb);
		return;
	}
	slash = strrchr(cc->path, '/');
	if (slash != NULL && slash != cc->path) {
		char *dir = xstrndup(cc->path, (size_t)(slash - cc->path));

		(void)mkdir_p(dir, 0700, NULL);
		free(dir);
	}
	tmp = xprintf("%s.tmp-%ld", cc->path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		while (off < sb.len) {
			ssize_t w = write(fd, sb.s + off, sb.len - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		if (close(fd) != 0 || off != sb.len || rename(tmp, cc->path) != 0)
			unlink(tmp);
	}
	free(tmp);
	sb_free(&sb);
}

void
chain_cache_close(struct chain_cache **ccp)
{
	struct chain_cache *cc = *ccp;

	if (cc == NULL)
		return;
	*ccp = NULL;
	if (cc->dirty && cc->path != NULL)
		save(cc);
	for (size_t i = 0; i < cc->n; i++) {
		free(cc->e[i].own);
		free(cc->e[i].own_name);
	}
	free(cc->e);
	free(cc->own_image);
	if (cc->fd >= 0)
		close(cc->fd);
	if (cc->maplen > 0)
		munmap(cc->buf, cc->maplen);
	else
		free(cc->buf);
	free(cc->pool);
	free(cc->path);
	free(cc);
}

char *
chain_cache_path(const char *cache_dir, const char *dir)
{
	uint64_t h = 0xcbf29ce484222325u;   /* FNV-1a: a name, not a check */
	char *abs = NULL, cwd[4096];

	if (dir[0] != '/' && getcwd(cwd, sizeof cwd) != NULL)
		dir = abs = xprintf("%s/%s", cwd, dir);
	for (const char *p = dir; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3u;
	}
	free(abs);
	return xprintf("%s/chain-%016llx.cache", cache_dir, (unsigned long long)h);
}
