/*
 * chain-yaml.c: the chain loader's reading side: a file's text, libyaml's events made into a
 * tree of nodes that remember their positions (libyaml types never leave this file), the
 * problems found as "file:line:column: message" lines, and the helpers that decode a node
 * into a field (ymap_fields, ystr, ybool, yenum, ylist, load_regex ...).
 */
#include "config.h"

#include "chain-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "util.h"

/* -------------------------------------------------------------------------------------- */
/* Messages. */

/* Record one problem at file:line:col. */
void DW_PRINTF(5, 6)
err_at(struct loader *ld, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;

	if (ld->nerr > MAX_ERRORS)
		return;
	if (ld->err.len > 0)
		sb_addc(&ld->err, '\n');
	if (ld->nerr++ == MAX_ERRORS) {
		sb_addf(&ld->err, "%s:%d:%d: too many errors; the rest are not shown", file, line,
		    col);
		return;
	}
	sb_addf(&ld->err, "%s:%d:%d: ", file, line, col);
	va_start(ap, fmt);
	{
		char *s = xvprintf(fmt, ap);

		sb_adds(&ld->err, s);
		free(s);
	}
	va_end(ap);
}

/* Are more messages still recorded? Used to skip costly work for ignored ones. */
bool
err_open(const struct loader *ld)
{
	return ld->nerr <= MAX_ERRORS;
}

/* Make user text safe to echo in a one-line message: short, no control characters. */
const char *
q(struct loader *ld, const char *s)
{
	char *out = ld->qbuf[ld->qnext++ % nitems(ld->qbuf)];
	size_t i, o = 0;

	if (s == NULL)
		s = "";
	for (i = 0; s[i] != '\0' && i < QUOTE_LEN; i++)
		out[o++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (s[i] != '\0') {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* Start looking for a suggestion for word. */
void
suggest_init(struct suggest *sg, const char *word)
{
	size_t len = strlen(word);

	sg->word = word;
	sg->best = NULL;
	sg->bestd = SIZE_MAX;
	sg->limit = len / 4 > 2 ? len / 4 : 2;
	if (sg->limit >= len)
		sg->limit = len > 0 ? len - 1 : 0;
	if (len > 64)
		sg->limit = 0;   /* not a typo: not worth the cost */
}

/* Consider one candidate. */
void
suggest_try(struct suggest *sg, const char *cand)
{
	size_t d;

	if (sg->limit == 0 || cand == NULL || strlen(cand) > 64)
		return;
	d = str_distance(sg->word, cand);
	if (d > 0 && d <= sg->limit && d < sg->bestd) {
		sg->best = cand;
		sg->bestd = d;
	}
}

/* The " (did you mean 'x'?)" suffix, or "". Valid until the next q() calls. */
const char *
suggest_text(struct loader *ld, const struct suggest *sg)
{
	char *out;

	if (sg->best == NULL)
		return "";
	out = ld->qbuf[ld->qnext++ % nitems(ld->qbuf)];
	snprintf(out, sizeof ld->qbuf[0], " (did you mean '%s'?)", sg->best);
	return out;
}

/* -------------------------------------------------------------------------------------- */
/* Reading files into node trees. */

/* Is n absent or a YAML null (a plain empty, ~, null, Null or NULL)? */
bool
ynull(const struct ynode *n)
{
	if (n == NULL)
		return true;
	if (n->kind != Y_SCALAR || !n->plain)
		return false;
	switch (n->len) {
	case 0:
		return true;
	case 1:
		return n->s[0] == '~';
	case 4:
		return strcmp(n->s, "null") == 0 || strcmp(n->s, "Null") == 0 ||
		    strcmp(n->s, "NULL") == 0;
	}
	return false;
}

/* Describe what a node is, for "expected X, got Y". */
const char *
ykind_name(const struct ynode *n)
{
	if (ynull(n))
		return "nothing";
	switch (n->kind) {
	case Y_SCALAR:
		return "a string";
	case Y_SEQ:
		return "a list";
	case Y_MAP:
		return "a mapping";
	}
	return "?";
}

/* Offset of the start of 1-based line l in the current file; false if there is none. */
bool
line_span(struct loader *ld, int l, const char **start, size_t *len)
{
	size_t end;

	if (ld->lines == NULL) {
		size_t cap = 64;

		ld->lines = xreallocarray(NULL, cap, sizeof *ld->lines);
		ld->lines[ld->nlines++] = 0;
		for (size_t i = 0; i < ld->len; i++) {
			if (ld->text[i] != '\n')
				continue;
			if (ld->nlines == cap) {
				cap *= 2;
				ld->lines = xreallocarray(ld->lines, cap, sizeof *ld->lines);
			}
			ld->lines[ld->nlines++] = i + 1;
		}
	}
	if (l < 1 || (size_t)l > ld->nlines)
		return false;
	*start = ld->text + ld->lines[l - 1];
	end = (size_t)l < ld->nlines ? ld->lines[l] : ld->len;
	*len = end - ld->lines[l - 1];
	return true;
}

/* Is byte c the first byte of a UTF-8 character? (libyaml counts columns in characters.) */
bool
utf8_lead(char c)
{
	return ((unsigned char)c & 0xc0) != 0x80;
}

/* Line and column (in characters) of a byte offset in the current file. */
static void
offset_pos(const struct loader *ld, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < ld->len; i++) {
		if (ld->text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (utf8_lead(ld->text[i]))
			(*col)++;
	}
}

/* Report a libyaml failure. */
static void
yaml_problem(struct loader *ld, const yaml_parser_t *p)
{
	int line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		fatal("out of memory (libyaml)");
	case YAML_READER_ERROR:
		offset_pos(ld, p->problem_offset, &line, &col);
		err_at(ld, ld->file, line, col, "not valid text: %s",
		    p->problem ? p->problem : "unreadable");
		break;
	default:
		line = (int)p->problem_mark.line + 1;
		col = (int)p->problem_mark.column + 1;
		if (p->context != NULL) {
			err_at(ld, ld->file, line, col, "syntax error: %s (%s at line %d, column %d)",
			    p->problem ? p->problem : "unknown", p->context,
			    (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
		} else {
			err_at(ld, ld->file, line, col, "syntax error: %s",
			    p->problem ? p->problem : "unknown");
		}
		break;
	}
}

/*
 * The current file's tree lives in chunks that the next file's tree reuses, freed with the
 * loader: a tree is thousands of small blocks, which malloc and free one by one cost more
 * than building it.
 */
struct ychunk {
	struct ychunk *next;
	size_t size, used;
	max_align_t data[];
};
#define YCHUNK_SIZE (64 * 1024)

/* size bytes for the current file's tree (aligned as malloc's). */
static void *
yalloc(struct loader *ld, size_t size)
{
	struct ychunk *ch = ld->chunk, **tail;
	void *p;

	size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	while (ch != NULL && ch->size - ch->used < size)
		ch = ch->next;
	if (ch == NULL) {
		for (tail = &ld->chunks; *tail != NULL; tail = &(*tail)->next)
			;
		ch = xmalloc(sizeof *ch + (size > YCHUNK_SIZE ? size : YCHUNK_SIZE));
		ch->next = NULL;
		ch->size = size > YCHUNK_SIZE ? size : YCHUNK_SIZE;
		ch->used = 0;
		*tail = ch;
	}
	ld->chunk = ch;
	p = (char *)ch->data + ch->used;
	ch->used += size;
	return p;
}

/* Empty the chunks for the next file's tree. */
static void
yalloc_reset(struct loader *ld)
{
	for (struct ychunk *ch = ld->chunks; ch != NULL; ch = ch->next)
		ch->used = 0;
	ld->chunk = ld->chunks;
}

/* Free the chunks. */
void
yalloc_free(struct loader *ld)
{
	struct ychunk *ch, *next;

	for (ch = ld->chunks; ch != NULL; ch = next) {
		next = ch->next;
		free(ch);
	}
	ld->chunks = ld->chunk = NULL;
}

/* Make a node for an event. */
static struct ynode *
ynode_new(struct loader *ld, enum ykind kind, const yaml_event_t *ev)
{
	struct ynode *n = yalloc(ld, sizeof *n);

	memset(n, 0, sizeof *n);

	ld->nodes++;
	n->kind = kind;
	n->line = (int)ev->start_mark.line + 1;
	n->col = (int)ev->start_mark.column + 1;
	n->endline = (int)ev->end_mark.line + 1;
	if (kind == Y_SCALAR) {
		n->len = ev->data.scalar.length;
		n->s = yalloc(ld, n->len + 1);
		memcpy(n->s, ev->data.scalar.value, n->len);
		n->s[n->len] = '\0';
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->literal = ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE;
		if (memchr(n->s, '\0', n->len) != NULL) {
			err_node(ld, n, "text must not contain NUL characters");
			n->len = strlen(n->s);
		}
	}
	return n;
}

/* Hang node n under the open collection (or make it the root); -1 if not allowed. */
static int
ynode_attach(struct loader *ld, struct ynode **stack, int depth, struct ynode **root,
    struct ynode *n)
{
	struct ynode *parent;

	if (depth == 0) {
		*root = n;
		return 0;
	}
	parent = stack[depth - 1];
	if (parent->kind == Y_MAP && parent->n % 2 == 0 && n->kind != Y_SCALAR) {
		err_node(ld, n, "a key must be a plain string, not %s", ykind_name(n));
		return -1;
	}
	if (parent->n == parent->cap) {
		struct ynode **kids;

		parent->cap = parent->cap ? parent->cap * 2 : 8;
		kids = yalloc(ld, parent->cap * sizeof *kids);
		if (parent->n > 0)
			memcpy(kids, parent->kids, parent->n * sizeof *kids);
		parent->kids = kids;
	}
	parent->kids[parent->n++] = n;
	return 0;
}

/* Parse the current file's text into a tree; *out is NULL for an empty file. */
static int
yparse(struct loader *ld, struct ynode **out)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct ynode *stack[MAX_DEPTH], *root = NULL, *n;
	int depth = 0, ndocs = 0, rc = 0;
	yaml_event_type_t type;
	const yaml_char_t *anchor;

	*out = NULL;
	ld->nodes = 0;
	yalloc_reset(ld);
	if (!yaml_parser_initialize(&p))
		fatal("out of memory (libyaml)");
	yaml_parser_set_input_string(&p, (const unsigned char *)ld->text, ld->len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			yaml_problem(ld, &p);
			rc = -1;
			break;
		}
		type = ev.type;
		anchor = type == YAML_SCALAR_EVENT ? ev.data.scalar.anchor :
		    type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor :
		    type == YAML_MAPPING_START_EVENT ? ev.data.mapping_start.anchor : NULL;
		if (anchor != NULL) {
			err_at(ld, ld->file, (int)ev.start_mark.line + 1,
			    (int)ev.start_mark.column + 1,
			    "anchors (&%s) are not supported; write each value out", q(ld,
			    (const char *)anchor));
			rc = -1;
		}
		switch (type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++ndocs > 1) {
				err_at(ld, ld->file, (int)ev.start_mark.line + 1,
				    (int)ev.start_mark.column + 1,
				    "a second YAML document; a file holds exactly one");
				rc = -1;
			}
			break;
		case YAML_ALIAS_EVENT:
			err_at(ld, ld->file, (int)ev.start_mark.line + 1,
			    (int)ev.start_mark.column + 1,
			    "aliases (*%s) are not supported; write the value out",
			    q(ld, (const char *)ev.data.alias.anchor));
			rc = -1;
			break;
		case YAML_SCALAR_EVENT:
			n = ynode_new(ld, Y_SCALAR, &ev);
			if (ynode_attach(ld, stack, depth, &root, n) != 0)
				rc = -1;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			n = ynode_new(ld, type == YAML_SEQUENCE_START_EVENT ? Y_SEQ : Y_MAP, &ev);
			if (ynode_attach(ld, stack, depth, &root, n) != 0) {
				rc = -1;
				break;
			}
			if (depth == MAX_DEPTH) {
				err_node(ld, n, "nested more than %d levels deep", MAX_DEPTH);
				rc = -1;
				break;
			}
			stack[depth++] = n;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0) {
				stack[depth - 1]->endline = (int)ev.end_mark.line + 1;
				depth--;
			}
			break;
		default:
			break;
		}
		if (rc == 0 && ld->nodes > MAX_NODES) {
			err_at(ld, ld->file, (int)ev.start_mark.line + 1,
			    (int)ev.start_mark.column + 1, "more than %d YAML nodes in one file",
			    MAX_NODES);
			rc = -1;
		}
		yaml_event_delete(&ev);
		if (rc != 0 || type == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	if (rc != 0)
		return -1;
	*out = root;
	return 0;
}

static int load_text(struct loader *ld, const char *rel);

/* Read and parse file rel as the current file; -1 (reported) if it cannot be read or
 * parsed. */
int
read_tree(struct loader *ld, const char *rel, struct ynode **out)
{
	*out = NULL;
	if (load_text(ld, rel) != 0)
		return -1;
	return yparse(ld, out);
}

/* Intern a file name for srcpos. */
const char *
intern_file(struct loader *ld, const char *rel)
{
	struct chain *c = ld->c;

	c->files = xreallocarray(c->files, c->nfiles + 1, sizeof *c->files);
	c->files[c->nfiles] = xstrdup(rel);
	return c->files[c->nfiles++];
}

/*
 * Read dir/rel as the current file (into the loader's one buffer, reused from file to file);
 * -1 (reported) if it cannot be read.
 */
static int
load_text(struct loader *ld, const char *rel)
{
	char *buf;
	struct stat sb;
	size_t got = 0;
	ssize_t r;
	int fd;

	errno = ld->dir_errno;
	fd = ld->dirfd < 0 ? -1 : openat(ld->dirfd, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		err_at(ld, ld->file, 1, 1, "cannot open %s: %s", rel, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		err_at(ld, ld->file, 1, 1, "%s is not a regular file", rel);
		close(fd);
		return -1;
	}
	if (sb.st_size > MAX_FILE_SIZE) {
		err_at(ld, ld->file, 1, 1, "file is larger than %d bytes", MAX_FILE_SIZE);
		close(fd);
		return -1;
	}
	if ((size_t)sb.st_size + 2 > ld->bufcap) {
		free(ld->buf);
		ld->bufcap = (size_t)sb.st_size + 2 > 65536 ? (size_t)sb.st_size + 2 : 65536;
		ld->buf = xmalloc(ld->bufcap);
	}
	buf = ld->buf;
	/* One byte more than the size is asked for, to see a file that grew; a regular file's
	 * read falls short only at its end, so that ends the loop without a read of 0. */
	for (;;) {
		size_t want = (size_t)sb.st_size + 1 - got;

		r = read(fd, buf + got, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_at(ld, ld->file, 1, 1, "cannot read %s: %s", rel, strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > (size_t)sb.st_size) {
			err_at(ld, ld->file, 1, 1, "%s changed while it was read", rel);
			close(fd);
			return -1;
		}
		if ((size_t)r < want)
			break;
	}
	close(fd);
	buf[got] = '\0';
	ld->text = buf;
	ld->len = got;
	free(ld->lines);
	ld->lines = NULL;
	ld->nlines = 0;
	return 0;
}

/* Forget the current file's text. */
void
unload_text(struct loader *ld)
{
	ld->text = NULL;
	ld->len = 0;
	free(ld->lines);
	ld->lines = NULL;
	ld->nlines = 0;
}

/* -------------------------------------------------------------------------------------- */
/* Decoding nodes. */

/*
 * Collect the fields of mapping map: out[i] gets the pair whose key is keys[i]. Unknown and
 * repeated keys are reported.
 */
void
ymap_fields(struct loader *ld, const struct ynode *map, const char *const *keys, size_t nkeys,
    struct field *out)
{
	memset(out, 0, nkeys * sizeof *out);
	for (size_t i = 0; i + 1 < map->n; i += 2) {
		const struct ynode *k = map->kids[i], *v = map->kids[i + 1];
		size_t j;

		for (j = 0; j < nkeys; j++) {
			if (k->s[0] == keys[j][0] && strcmp(k->s, keys[j]) == 0)
				break;
		}
		if (j == nkeys) {
			struct suggest sg;

			suggest_init(&sg, k->s);
			for (j = 0; j < nkeys; j++)
				suggest_try(&sg, keys[j]);
			err_node(ld, k, "unknown key '%s'%s", q(ld, k->s), suggest_text(ld, &sg));
			continue;
		}
		if (out[j].key != NULL) {
			err_node(ld, k, "duplicate key '%s' (first at line %d)", keys[j],
			    out[j].key->line);
			continue;
		}
		out[j].key = k;
		out[j].val = v;
	}
}

/* An optional string field: NULL when absent or null. */
char *
ystr(struct loader *ld, const struct ynode *n)
{
	if (ynull(n))
		return NULL;
	if (n->kind != Y_SCALAR) {
		err_node(ld, n, "expected a string, got %s", ykind_name(n));
		return NULL;
	}
	return xstrndup(n->s, n->len);
}

/* A required string field of the mapping map (what: "step", "input" ...). */
char *
ystr_req(struct loader *ld, const struct ynode *map, const struct field *f, const char *what,
    const char *key)
{
	if (f->key == NULL) {
		err_node(ld, map, "%s has no '%s'", what, key);
		return NULL;
	}
	if (ynull(f->val) || (f->val->kind == Y_SCALAR && f->val->len == 0)) {
		err_node(ld, f->key, "'%s' is empty", key);
		return NULL;
	}
	return ystr(ld, f->val);
}

/* A boolean field; *out is left alone when absent. -1 if malformed (reported). */
int
ybool(struct loader *ld, const struct ynode *n, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO" };

	if (ynull(n))
		return 0;
	if (n->kind == Y_SCALAR) {
		for (size_t i = 0; i < nitems(yes); i++) {
			if (strcmp(n->s, yes[i]) == 0) {
				*out = true;
				return 0;
			}
			if (strcmp(n->s, no[i]) == 0) {
				*out = false;
				return 0;
			}
		}
		err_node(ld, n, "expected true or false, got '%s'", q(ld, n->s));
		return -1;
	}
	err_node(ld, n, "expected true or false, got %s", ykind_name(n));
	return -1;
}

/* One of a fixed set of words; -1 if absent or bad (reported when bad). */
int
yenum(struct loader *ld, const struct ynode *n, const char *key, const char *const *names,
    size_t count, int *out)
{
	struct strbuf allowed = {0};
	struct suggest sg;

	if (ynull(n))
		return -1;
	if (n->kind == Y_SCALAR) {
		for (size_t i = 0; i < count; i++) {
			if (names[i] != NULL && strcmp(n->s, names[i]) == 0) {
				*out = (int)i;
				return 0;
			}
		}
	}
	suggest_init(&sg, n->kind == Y_SCALAR ? n->s : "");
	for (size_t i = 0; i < count; i++) {
		if (names[i] == NULL)
			continue;
		sb_addf(&allowed, "%s%s", allowed.len ? ", " : "", names[i]);
		if (n->kind == Y_SCALAR)
			suggest_try(&sg, names[i]);
	}
	if (n->kind == Y_SCALAR) {
		err_node(ld, n, "%s must be one of %s; got '%s'%s", key, sb_str(&allowed),
		    q(ld, n->s), suggest_text(ld, &sg));
	} else {
		err_node(ld, n, "%s must be one of %s; got %s", key, sb_str(&allowed),
		    ykind_name(n));
	}
	sb_free(&allowed);
	return -1;
}

/* Check that n is a list (null counts as empty); false if not (reported). */
bool
ylist(struct loader *ld, const struct ynode *n, const char *what)
{
	if (ynull(n))
		return false;
	if (n->kind != Y_SEQ) {
		err_node(ld, n, "expected %s, got %s", what, ykind_name(n));
		return false;
	}
	return true;
}

/* Is s an id: [a-z0-9][a-z0-9-]* ? */
bool
valid_id(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	}
	return true;
}

/*
 * Compile the regex text of n (field key) into *re: compiling is the only full check of a
 * regex, so the loader compiles each one and the chain keeps it. False if it is refused
 * (reported; *re is then NULL).
 */
bool
load_regex(struct loader *ld, const struct ynode *n, const char *key, const char *text,
    struct rx **re, int flags)
{
	char *why = NULL;

	if ((*re = rx_new(text, flags, &why)) == NULL) {
		err_node(ld, n, "%s: bad regex '%s': %s", key, q(ld, text), why);
		free(why);
		return false;
	}
	return true;
}

/*
 * Decode a version: condition at n (absent or null: NULL, for every release). A malformed
 * one is reported and taken as NULL. Its versions are checked against the release input's
 * choices (check_when) at once when check is set; chain.yaml's own conditions are checked
 * once all its inputs are known.
 */
struct vcond *
load_when(struct loader *ld, const struct ynode *n, bool check)
{
	struct vcond *w;
	const char *why;

	if (n == NULL || ynull(n))
		return NULL;
	if (n->kind != Y_SCALAR) {
		err_node(ld, n, "version: expected a condition like '>= 0.5.9', got %s",
		    ykind_name(n));
		return NULL;
	}
	w = xcalloc(1, sizeof *w);
	if (vcond_parse(n->s, w, &why) != 0) {
		err_node(ld, n, "version: '%s': %s", q(ld, n->s), why);
		free(w);
		return NULL;
	}
	w->pos = (struct srcpos){ ld->file, n->line, n->col };
	if (check)
		check_when(ld, w);
	return w;
}

/* The release input must exist, and every version a condition names be one of its choices. */
void
check_when(struct loader *ld, const struct vcond *w)
{
	int idx = chain_input_index(ld->c, VERSION_INPUT);
	const struct input_def *d;
	char v[40];

	if (w == NULL)
		return;
	if (idx < 0) {
		err_pos(ld, &w->pos, "version: conditions compare the input %s, which chain.yaml "
		    "does not define", VERSION_INPUT);
		return;
	}
	d = &ld->c->inputs[idx];
	for (size_t i = 0; i < w->n && d->nchoices > 0; i++) {
		size_t k;

		snprintf(v, sizeof v, "%u.%u.%u", w->terms[i].v[0], w->terms[i].v[1],
		    w->terms[i].v[2]);
		for (k = 0; k < d->nchoices && strcmp(d->choices[k], v) != 0; k++)
			;
		if (k == d->nchoices)
			err_pos(ld, &w->pos, "version: %s is not one of the releases %s may be "
			    "(its choices in chain.yaml)", v, VERSION_INPUT);
	}
}
