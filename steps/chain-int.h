/*
 * chain-int.h: what the files of the chain loader share; only they include it.
 *
 * The loader reads a chain directory (chain.yaml plus one YAML file per step) into the plain
 * structs of chain.h, and checks it as a whole:
 *   chain-yaml.c    files, libyaml events to node trees with positions, messages, field helpers
 *   chain-inputs.c  chain.yaml: sections, input definitions, defaults; ${name} references
 *   chain-step.c    a step file: fields, commands and probes, captures, hints, secret rules
 *   chain-link.c    chain_load(): the files in order, then the whole graph and walking order
 *
 * Each file is parsed with libyaml's event API into a small tree of nodes (struct ynode) that
 * remembers every node's position; libyaml types never leave chain-yaml.c. The trees are then
 * decoded field by field. Problems never stop the loader early: every one is recorded as a
 * line "file:line:column: message" and chain_load() fails at the end with all of them, so an
 * author fixes a whole file per round. Limits (file size, nesting, node count, regex size)
 * keep hostile input cheap; aliases are refused outright.
 *
 * Order of work: chain.yaml (sections, inputs, their defaults), then each step file in path
 * order (fields, commands, ${name} references and the secret rules), then the whole graph
 * (duplicate ids, requires, cycles) and the walking order.
 */
#ifndef DW_CHAIN_INT_H
#define DW_CHAIN_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "chain.h"
#include "rx.h"
#include "util.h"

#define CHAIN_FILE        "chain.yaml"
#define MAX_FILE_SIZE     (1024 * 1024)   /* per file */
#define MAX_DEPTH         16              /* collections inside collections */
#define MAX_NODES         200000          /* YAML nodes per file */
#define MAX_STEP_FILES    1000
#define MAX_ERRORS        100             /* then one "too many errors" line */
#define MAX_TIMEOUT       604800          /* a week, in seconds */
#define QUOTE_LEN         48              /* user text echoed in a message */

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
};

struct ychunk;

/* A key/value pair found in a mapping. */
struct field {
	const struct ynode *key;
	const struct ynode *val;
};

/* A step while loading, before the chain is put in walking order. */
struct pstep {
	struct step st;
	bool have_section;          /* st.section is meaningful */
	struct srcpos *reqpos;      /* position of each requires entry */
};

struct loader {
	struct chain *c;
	struct strbuf err;
	size_t nerr;
	int dirfd;                  /* the chain's directory: files are opened relative to it */
	int dir_errno;              /* why it could not be opened (dirfd -1) */

	const char *file;           /* current file (interned) */
	const char *text;           /* current file's text (in buf) */
	size_t len;
	char *buf;                  /* the buffer files are read into */
	size_t bufcap;
	size_t *lines;              /* offsets of line starts, built on demand */
	size_t nlines;
	size_t nodes;               /* nodes made for the current file */
	struct ychunk *chunks;      /* where they are */
	struct ychunk *chunk;       /* the one in use */

	bool sections_ok;           /* sections are known: check 'section' */
	bool inputs_ok;             /* inputs are known: check ${name} */
	bool ids_ok;                /* every step file gave an id: check 'requires' */

	struct pstep **ps;
	size_t nps;

	char qbuf[4][QUOTE_LEN * 4 + 8];
	unsigned qnext;
};

/* Keep the closest of some candidates to a misspelt word. */
struct suggest {
	const char *word;
	const char *best;
	size_t bestd;
	size_t limit;
};

/* The scan of one scalar for ${name} references. */
struct refscan {
	struct loader *ld;
	const struct ynode *n;
	void (*fn)(struct refscan *rs, int idx, const char *name);
	void *data;
	const char *at;       /* the current reference's "${" in n->s */
	size_t len;           /* length of the current name */
};

#define err_node(ld, n, ...) err_at((ld), (ld)->file, (n)->line, (n)->col, __VA_ARGS__)
#define err_pos(ld, p, ...) err_at((ld), (p)->file, (p)->line, (p)->col, __VA_ARGS__)

/* chain-yaml.c */
void err_at(struct loader *ld, const char *file, int line, int col, const char *fmt, ...)
    DW_PRINTF(5, 6);
bool err_open(const struct loader *ld);
const char *q(struct loader *ld, const char *s);
void suggest_init(struct suggest *sg, const char *word);
void suggest_try(struct suggest *sg, const char *cand);
const char *suggest_text(struct loader *ld, const struct suggest *sg);
bool ynull(const struct ynode *n);
const char *ykind_name(const struct ynode *n);
bool line_span(struct loader *ld, int l, const char **start, size_t *len);
bool utf8_lead(char c);
void yalloc_free(struct loader *ld);
int read_tree(struct loader *ld, const char *rel, struct ynode **out);
const char *intern_file(struct loader *ld, const char *rel);
void unload_text(struct loader *ld);
void ymap_fields(struct loader *ld, const struct ynode *map, const char *const *keys,
    size_t nkeys, struct field *out);
char *ystr(struct loader *ld, const struct ynode *n);
char *ystr_req(struct loader *ld, const struct ynode *map, const struct field *f,
    const char *what, const char *key);
int ybool(struct loader *ld, const struct ynode *n, bool *out);
int yenum(struct loader *ld, const struct ynode *n, const char *key, const char *const *names,
    size_t count, int *out);
bool ylist(struct loader *ld, const struct ynode *n, const char *what);
bool valid_id(const char *s);
bool load_regex(struct loader *ld, const struct ynode *n, const char *key, const char *text,
    struct rx **re, int flags);
struct vcond *load_when(struct loader *ld, const struct ynode *n, bool check);
void check_when(struct loader *ld, const struct vcond *w);

/* chain-inputs.c */
void ref_err(struct refscan *rs, const char *fmt, ...) DW_PRINTF(2, 3);
void scan_refs(struct loader *ld, const struct ynode *n,
    void (*fn)(struct refscan *, int, const char *), void *data);
void load_chain_file(struct loader *ld);

/* chain-step.c */
void load_step_file(struct loader *ld, const char *rel);

/* chain-link.c */
void find_cycles(size_t n, size_t *const *edges, const size_t *nedges,
    void (*found)(void *, size_t, size_t, const size_t *, size_t), void *data);
char *cycle_text(size_t w, const size_t *stack, size_t depth,
    const char *(*name)(void *, size_t), void *data);

#endif
