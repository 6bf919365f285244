/*
 * chain.c: the loaded chain's small helpers: names of places and input types, look-ups by
 * id or name, the requires graph (transitive dependency), ${name} reference scanning, and the
 * destructor. Loading and checking live in chain-load.c.
 */
#include "config.h"

#include "chain.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const place_names[] = {
	[PLACE_LOCAL] = "local",
	[PLACE_SERVER] = "server",
	[PLACE_MANUAL] = "manual",
};

static const char *const input_type_names[] = {
	[IT_TEXT] = "text",
	[IT_SECRET] = "secret",
	[IT_ETH_ADDRESS] = "eth_address",
	[IT_IP] = "ip",
	[IT_IPV4] = "ipv4",
	[IT_IPV6] = "ipv6",
	[IT_DOMAIN] = "domain",
	[IT_URL] = "url",
	[IT_PORT] = "port",
	[IT_EMAIL] = "email",
	[IT_VERSION] = "version",
	[IT_PATH] = "path",
};

/* Return the YAML name of a place. */
const char *
place_name(enum place p)
{
	if ((size_t)p < nitems(place_names))
		return place_names[p];
	return "unknown";
}

/* Return the YAML name of an input type. */
const char *
input_type_name(enum input_type t)
{
	if ((size_t)t < nitems(input_type_names))
		return input_type_names[t];
	return "unknown";
}

/* Parse an input type name; -1 if unknown. */
int
input_type_parse(const char *s, enum input_type *out)
{
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < nitems(input_type_names); i++) {
		if (strcmp(s, input_type_names[i]) == 0) {
			*out = (enum input_type)i;
			return 0;
		}
	}
	return -1;
}

/* Find a step by id. */
int
chain_step_index(const struct chain *c, const char *id)
{
	if (c == NULL || id == NULL)
		return -1;
	for (size_t i = 0; i < c->nsteps; i++) {
		if (strcmp(c->steps[i].id, id) == 0)
			return (int)i;
	}
	return -1;
}

/* Find an input definition by name. */
int
chain_input_index(const struct chain *c, const char *name)
{
	if (c == NULL || name == NULL)
		return -1;
	for (size_t i = 0; i < c->ninputs; i++) {
		/* (The first letters first: the loader asks for every ${name} it meets.) */
		if (c->inputs[i].name[0] == name[0] && strcmp(c->inputs[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

/* Find a section by id. */
int
chain_section_index(const struct chain *c, const char *id)
{
	if (c == NULL || id == NULL)
		return -1;
	for (size_t i = 0; i < c->nsections; i++) {
		if (strcmp(c->sections[i].id, id) == 0)
			return (int)i;
	}
	return -1;
}

/* Does step a require b, directly or through other steps? */
bool
chain_depends_on(const struct chain *c, size_t a, size_t b)
{
	size_t *todo, ntodo = 0;
	bool *seen, found = false;

	if (c == NULL || a >= c->nsteps || b >= c->nsteps)
		return false;
	seen = xcalloc(c->nsteps, sizeof *seen);
	todo = xcalloc(c->nsteps, sizeof *todo);
	todo[ntodo++] = a;
	seen[a] = true;
	while (ntodo > 0 && !found) {
		const struct step *st = &c->steps[todo[--ntodo]];

		for (size_t i = 0; i < st->nrequires; i++) {
			size_t r = st->req[i];

			if (r >= c->nsteps)
				continue;
			if (r == b) {
				found = true;
				break;
			}
			if (!seen[r]) {
				seen[r] = true;
				todo[ntodo++] = r;
			}
		}
	}
	free(todo);
	free(seen);
	return found;
}

/* Is c allowed as the first character of an input name? */
static bool
ref_first(char c)
{
	return c >= 'a' && c <= 'z';
}

/* Is c allowed after the first character of an input name? */
static bool
ref_rest(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Call fn for every ${name} reference in s; return how many there are. */
size_t
chain_refs(const char *s, void (*fn)(const char *name, size_t len, void *data), void *data)
{
	const char *p = s, *q;
	size_t n = 0;

	if (s == NULL)
		return 0;
	while ((p = strstr(p, "${")) != NULL) {
		q = p + 2;
		if (ref_first(*q)) {
			while (ref_rest(*q))
				q++;
			if (*q == '}') {
				if (fn != NULL)
					fn(p + 2, (size_t)(q - (p + 2)), data);
				n++;
				p = q + 1;
				continue;
			}
		}
		p += 2;
	}
	return n;
}

static void
strs_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Free what a probe holds. */
void
probe_clear(struct probe *p)
{
	free(p->url);
	free(p->method);
	free(p->body);
	strs_free(p->headers, p->nheaders);
	strs_free(p->resolve, p->nresolve);
	strs_free(p->json, p->njson);
	free(p->body_match);
	strs_free(p->capture_headers, p->ncapture_headers);
	free(p->target);
	free(p->call);
	free(p->chain_id);
	free(p->address);
	free(p->min_eth);
	free(p->data);
	memset(p, 0, sizeof *p);
}

/* Free one command's strings. */
void
command_clear(struct command *cmd)
{
	if (cmd->probe != NULL) {
		probe_clear(cmd->probe);
		free(cmd->probe);
		cmd->probe = NULL;
	}
	free(cmd->name);
	free(cmd->run);
	free(cmd->cwd);
	for (size_t i = 0; i < cmd->nenv; i++) {
		free(cmd->env[i].name);
		free(cmd->env[i].value);
	}
	free(cmd->env);
	free(cmd->stdin_text);
	free(cmd->expect);
	memset(cmd, 0, sizeof *cmd);
}

/* Free a list of commands. */
static void
commands_free(struct command *cmds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		command_clear(&cmds[i]);
	free(cmds);
}

struct chain_regex_c {
	bool tried;
	int rc;                     /* regcomp's answer */
	regex_t re;
};

void
chain_regex_set(struct chain_regex *r, const char *text, int flags)
{
	r->text = text;
	r->flags = flags;
	r->c = xcalloc(1, sizeof *r->c);
}

int
chain_regex_compile(const struct chain_regex *r, char *why, size_t whylen)
{
	struct chain_regex_c *c = r->c;

	if (r->text == NULL || c == NULL) {
		if (whylen > 0)
			snprintf(why, whylen, "no regex");
		return REG_BADPAT;
	}
	if (!c->tried) {
		c->tried = true;
		c->rc = regcomp(&c->re, r->text, r->flags);
	}
	if (c->rc != 0 && whylen > 0)
		regerror(c->rc, &c->re, why, whylen);
	return c->rc;
}

const regex_t *
chain_regex(const struct chain_regex *r)
{
	return chain_regex_compile(r, NULL, 0) == 0 ? &r->c->re : NULL;
}

void
chain_regex_free(struct chain_regex *r)
{
	if (r->c != NULL && r->c->tried && r->c->rc == 0)
		regfree(&r->c->re);
	free(r->c);
	memset(r, 0, sizeof *r);
}

/* Free one step. */
static void
step_clear(struct step *st)
{
	free(st->id);
	free(st->title);
	free(st->summary);
	free(st->guide);
	for (size_t i = 0; i < st->nrequires; i++)
		free(st->requires[i]);
	free(st->requires);
	free(st->req);
	free(st->inputs);
	for (size_t i = 0; i < st->nchecklist; i++)
		free(st->checklist[i]);
	free(st->checklist);
	commands_free(st->check, st->ncheck);
	commands_free(st->action, st->naction);
	for (size_t i = 0; i < st->ncaptures; i++) {
		free(st->captures[i].name);
		chain_regex_free(&st->captures[i].re);
		free(st->captures[i].regex);
	}
	free(st->captures);
	for (size_t i = 0; i < st->nhints; i++) {
		chain_regex_free(&st->hints[i].re);
		free(st->hints[i].match);
		free(st->hints[i].say);
		free(st->hints[i].fix);
	}
	free(st->hints);
	free(st->file);
}

static void chain_image_free(struct chain *c);

/* Free a chain and everything it owns. */
void
chain_free(struct chain **chainp)
{
	struct chain *c;

	if (chainp == NULL || *chainp == NULL)
		return;
	c = *chainp;
	free(c->dir);
	if (c->block != NULL) {
		chain_image_free(c);
		*chainp = NULL;
		return;
	}
	free(c->title);
	for (size_t i = 0; i < c->nsections; i++) {
		free(c->sections[i].id);
		free(c->sections[i].title);
	}
	free(c->sections);
	for (size_t i = 0; i < c->ninputs; i++) {
		struct input_def *in = &c->inputs[i];

		free(in->name);
		free(in->label);
		free(in->help);
		free(in->def);
		chain_regex_free(&in->pattern_re);
		free(in->pattern);
		free(in->verify);
	}
	free(c->inputs);
	for (size_t i = 0; i < c->nsteps; i++)
		step_clear(&c->steps[i]);
	free(c->steps);
	for (size_t i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	free(c);
	*chainp = NULL;
}

/* -------------------------------------------------------------------------------------- */
/*
 * The chain as one block (chain_image_pack, chain_image_unpack). One walk visits every pointer
 * the chain holds, a parent's before its kids', and reads the kids through the slot after the
 * mode has dealt with it:
 *   SIZE   adds up what a copy takes;
 *   COPY   copies each pointee into the block, one after the other in the walk's order (bump
 *          allocation), and points the slot at it, so the walk goes on in the copy, whose kids
 *          still point at the originals;
 *   OFFSET writes, for each slot of the block, its pointee's offset + 1 (0: NULL) at the
 *          same place in the image, a copy of the block;
 *   RELOC  turns each offset of an image back into a pointer, checking that it is exactly
 *          where COPY put the pointee (so the parts lie one after the other, none overlaps
 *          another, and together they are the whole image) and that a string ends in it.
 * Two kinds of pointer are not owned: a srcpos's file points at one of chain->files, and a
 * regex's text at its holder's field; the copy keeps them so, and RELOC checks that they do.
 */
enum img_mode { IMG_SIZE, IMG_COPY, IMG_OFFSET, IMG_RELOC };

struct img {
	enum img_mode mode;
	char *block;               /* COPY, OFFSET, RELOC: the block */
	size_t size, used;         /* its size; SIZE, COPY, RELOC: what is taken so far */
	char *image;               /* OFFSET: where the offsets go */
	const struct chain *src;   /* COPY: the original (for srcpos files) */
	const struct chain *dst;   /* COPY, RELOC: the chain in the block */
	bool bad;                  /* RELOC: the image is not one COPY could have made */
};

#define IMG_ALIGN 16

/* Where the next part goes (aligned, for an array); after what is taken so far. */
static size_t
img_next(const struct img *m, bool align)
{
	return align ? (m->used + IMG_ALIGN - 1) & ~(size_t)(IMG_ALIGN - 1) : m->used;
}

/* Take n bytes of the block; COPY copies them from src (NULL: zeros). */
static void *
img_take(struct img *m, const void *src, size_t n, bool align)
{
	void *p;

	m->used = img_next(m, align);
	p = m->mode == IMG_COPY ? m->block + m->used : NULL;
	m->used += n;
	if (p != NULL) {
		if (src != NULL)
			memcpy(p, src, n);
		else
			memset(p, 0, n);
	}
	return p;
}

/* RELOC: the pointer an offset stands for, if it is one of the block's (NULL otherwise, or
 * for offset 0). */
static char *
img_at(struct img *m, const void *slot)
{
	uintptr_t off;

	memcpy(&off, slot, sizeof off);
	if (off == 0)
		return NULL;
	if (off - 1 >= m->size) {
		m->bad = true;
		return NULL;
	}
	return m->block + off - 1;
}

/* One pointer slot whose pointee takes n bytes (0: a string), owned. */
static void
img_ptr(struct img *m, void *slotp, size_t n, bool align)
{
	char **slot = slotp, *p, *nul;
	uintptr_t off;
	size_t at;

	switch (m->mode) {
	case IMG_SIZE:
	case IMG_COPY:
		if (*slot != NULL) {
			p = img_take(m, *slot, n > 0 ? n : strlen(*slot) + 1, align);
			if (m->mode == IMG_COPY)
				*slot = p;
		}
		break;
	case IMG_OFFSET:
		off = *slot == NULL ? 0 : (uintptr_t)(*slot - m->block) + 1;
		memcpy(m->image + ((char *)slot - m->block), &off, sizeof off);
		break;
	case IMG_RELOC:
		p = img_at(m, slot);
		*slot = NULL;
		if (p == NULL || m->bad)
			break;
		at = img_next(m, align);
		if ((size_t)(p - m->block) != at || (n > 0 && n > m->size - at) ||
		    (n == 0 && (nul = memchr(p, '\0', m->size - at)) == NULL)) {
			m->bad = true;
			break;
		}
		m->used = at + (n > 0 ? n : (size_t)(nul - p) + 1);
		*slot = p;
		break;
	}
}

static void
img_str(struct img *m, char **slot)
{
	img_ptr(m, slot, 0, false);
}

/* An owned array of n elements of size each: its elements, or NULL when there is nothing to
 * walk into. (The walk goes on through what this returns, never through the slot again.) */
static void *
img_arr(struct img *m, void *slot, size_t n, size_t size)
{
	if (n > 0 && size > SIZE_MAX / n) {
		m->bad = true;
		n = 0;
	}
	img_ptr(m, slot, n * size, true);
	return n > 0 && !m->bad ? *(void **)slot : NULL;
}

static void
img_strs(struct img *m, char ***slot, size_t n)
{
	char **v = img_arr(m, slot, n, sizeof **slot);

	for (size_t i = 0; v != NULL && i < n; i++)
		img_str(m, &v[i]);
}

/* A srcpos: its file is one of chain->files. */
static void
img_pos(struct img *m, struct srcpos *pos)
{
	const char *f;

	switch (m->mode) {
	case IMG_SIZE:
		break;
	case IMG_COPY:
		f = pos->file;
		pos->file = NULL;          /* (never: every position is in a chain file) */
		for (size_t i = 0; i < m->src->nfiles; i++)
			if (f == m->src->files[i])
				pos->file = m->dst->files[i];
		break;
	case IMG_OFFSET:
		img_ptr(m, &pos->file, 0, false);
		break;
	case IMG_RELOC:
		f = img_at(m, &pos->file);
		pos->file = NULL;
		for (size_t i = 0; f != NULL && i < m->dst->nfiles && !m->bad; i++)
			if (f == m->dst->files[i])
				pos->file = f;
		m->bad = m->bad || (f != NULL && pos->file == NULL);
		break;
	}
}

/* A regex: its text is the holder's field; its compiled form starts empty. */
static void
img_regex(struct img *m, struct chain_regex *r, const char *holder)
{
	const char *t;

	switch (m->mode) {
	case IMG_SIZE:
		if (r->c != NULL)
			img_take(m, NULL, sizeof *r->c, true);
		break;
	case IMG_COPY:
		r->text = holder;
		if (r->c != NULL)
			r->c = img_take(m, NULL, sizeof *r->c, true);
		break;
	case IMG_OFFSET:
		img_ptr(m, &r->text, 0, false);
		img_ptr(m, &r->c, sizeof *r->c, true);
		break;
	case IMG_RELOC:
		t = img_at(m, &r->text);
		r->text = NULL;
		if (t != holder)
			m->bad = true;
		else
			r->text = t;
		img_ptr(m, &r->c, sizeof *r->c, true);
		if (r->c != NULL)
			memset(r->c, 0, sizeof *r->c);
		break;
	}
}

/* A command's probe, if it has one. */
static void
img_probe(struct img *m, struct probe **slot)
{
	struct probe *p;

	img_ptr(m, slot, sizeof **slot, true);
	if ((p = *slot) == NULL || m->bad)
		return;
	img_str(m, &p->url);
	img_str(m, &p->method);
	img_str(m, &p->body);
	img_strs(m, &p->headers, p->nheaders);
	img_strs(m, &p->resolve, p->nresolve);
	img_strs(m, &p->json, p->njson);
	img_str(m, &p->body_match);
	img_strs(m, &p->capture_headers, p->ncapture_headers);
	img_str(m, &p->target);
	img_str(m, &p->call);
	img_str(m, &p->chain_id);
	img_str(m, &p->address);
	img_str(m, &p->min_eth);
	img_str(m, &p->data);
}

static void
img_commands(struct img *m, struct command **slot, size_t n)
{
	struct command *v = img_arr(m, slot, n, sizeof **slot);

	for (size_t i = 0; v != NULL && i < n; i++) {
		struct command *cmd = &v[i];
		struct env_var *env;

		img_str(m, &cmd->name);
		img_probe(m, &cmd->probe);
		img_str(m, &cmd->run);
		img_str(m, &cmd->cwd);
		env = img_arr(m, &cmd->env, cmd->nenv, sizeof *cmd->env);
		for (size_t k = 0; env != NULL && k < cmd->nenv; k++) {
			img_str(m, &env[k].name);
			img_str(m, &env[k].value);
		}
		img_str(m, &cmd->stdin_text);
		img_str(m, &cmd->expect);
		img_pos(m, &cmd->pos);
	}
}

static void
img_step(struct img *m, struct step *st)
{
	struct capture *cps;
	struct hint *hs;

	img_str(m, &st->id);
	img_str(m, &st->title);
	img_str(m, &st->summary);
	img_str(m, &st->guide);
	img_strs(m, &st->requires, st->nrequires);
	img_arr(m, &st->req, st->nrequires, sizeof *st->req);
	img_arr(m, &st->inputs, st->ninputs, sizeof *st->inputs);
	img_strs(m, &st->checklist, st->nchecklist);
	img_commands(m, &st->check, st->ncheck);
	img_commands(m, &st->action, st->naction);
	cps = img_arr(m, &st->captures, st->ncaptures, sizeof *st->captures);
	for (size_t i = 0; cps != NULL && i < st->ncaptures; i++) {
		img_str(m, &cps[i].name);
		img_str(m, &cps[i].regex);
		img_regex(m, &cps[i].re, cps[i].regex);
		img_pos(m, &cps[i].pos);
	}
	hs = img_arr(m, &st->hints, st->nhints, sizeof *st->hints);
	for (size_t i = 0; hs != NULL && i < st->nhints; i++) {
		img_str(m, &hs[i].match);
		img_regex(m, &hs[i].re, hs[i].match);
		img_str(m, &hs[i].say);
		img_str(m, &hs[i].fix);
		img_pos(m, &hs[i].pos);
	}
	img_str(m, &st->file);
	img_pos(m, &st->pos);
}

/* Walk chain c (in the block, but in SIZE mode: the original). Files first: positions
 * point at them. */
static void
img_chain(struct img *m, struct chain *c)
{
	struct section *secs;
	struct input_def *ins;
	struct step *sts;

	img_strs(m, &c->files, c->nfiles);
	img_str(m, &c->title);
	secs = img_arr(m, &c->sections, c->nsections, sizeof *c->sections);
	for (size_t i = 0; secs != NULL && i < c->nsections; i++) {
		img_str(m, &secs[i].id);
		img_str(m, &secs[i].title);
		img_pos(m, &secs[i].pos);
	}
	ins = img_arr(m, &c->inputs, c->ninputs, sizeof *c->inputs);
	for (size_t i = 0; ins != NULL && i < c->ninputs; i++) {
		img_str(m, &ins[i].name);
		img_str(m, &ins[i].label);
		img_str(m, &ins[i].help);
		img_str(m, &ins[i].def);
		img_str(m, &ins[i].pattern);
		img_regex(m, &ins[i].pattern_re, ins[i].pattern);
		img_str(m, &ins[i].verify);
		img_pos(m, &ins[i].pos);
	}
	sts = img_arr(m, &c->steps, c->nsteps, sizeof *c->steps);
	for (size_t i = 0; sts != NULL && i < c->nsteps; i++)
		img_step(m, &sts[i]);
}

/* Do an enum's bytes (or a bool's) hold one of its values, 0 .. max? (Read as bytes: a bool
 * or an enum holding another value must not even be loaded as one.) */
static bool
img_enum(const void *p, unsigned max)
{
	unsigned v;

	_Static_assert(sizeof(enum place) == sizeof v && sizeof(enum input_type) == sizeof v &&
	    sizeof(enum scope) == sizeof v && sizeof(enum probe_kind) == sizeof v,
	    "enums are unsigned ints");
	memcpy(&v, p, sizeof v);
	return v <= max;
}

static bool
img_bool(const bool *b)
{
	unsigned char v;

	memcpy(&v, b, 1);
	return v <= 1;
}

static bool
img_commands_valid(const struct command *cmds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct probe *p = cmds[i].probe;

		if (!img_enum(&cmds[i].on, PLACE_SERVER) || (p != NULL &&
		    (!img_enum(&p->kind, PROBE_RPC) || img_enum(&p->kind, PROBE_NONE) ||
		    !img_bool(&p->insecure))))
			return false;
	}
	return true;
}

/* Every index of an unpacked chain is inside its array, every enum and bool a value. */
static bool
img_valid(const struct chain *c)
{
	for (size_t i = 0; i < c->ninputs; i++) {
		const struct input_def *in = &c->inputs[i];

		if (!img_enum(&in->type, IT_PATH) || !img_enum(&in->scope, SCOPE_LOCAL) ||
		    !img_bool(&in->secret) || !img_bool(&in->optional))
			return false;
	}
	for (size_t i = 0; i < c->nsteps; i++) {
		const struct step *st = &c->steps[i];

		if (st->section >= c->nsections || !img_enum(&st->place, PLACE_MANUAL) ||
		    !img_commands_valid(st->check, st->ncheck) ||
		    !img_commands_valid(st->action, st->naction))
			return false;
		for (size_t k = 0; k < st->nrequires; k++)
			if (st->req[k] >= c->nsteps)
				return false;
		for (size_t k = 0; k < st->ninputs; k++)
			if (st->inputs[k] >= c->ninputs)
				return false;
	}
	return true;
}

/* What a regex of an unpacked chain compiled (its compiled form is in the block). */
static void
img_regfree(struct chain_regex *r)
{
	if (r->c != NULL && r->c->tried && r->c->rc == 0)
		regfree(&r->c->re);
}

/* Free an unpacked chain (but its dir): what its regexes compiled, and the block. */
static void
chain_image_free(struct chain *c)
{
	for (size_t i = 0; i < c->ninputs; i++)
		img_regfree(&c->inputs[i].pattern_re);
	for (size_t i = 0; i < c->nsteps; i++) {
		for (size_t k = 0; k < c->steps[i].ncaptures; k++)
			img_regfree(&c->steps[i].captures[k].re);
		for (size_t k = 0; k < c->steps[i].nhints; k++)
			img_regfree(&c->steps[i].hints[k].re);
	}
	free(c->block);
}

const char *
chain_image_layout(void)
{
	static char layout[96];

	if (layout[0] == '\0')
		snprintf(layout, sizeof layout, "%zu %zu %zu %zu %zu %zu %zu %zu %zu %zu",
		    sizeof(struct chain), sizeof(struct section), sizeof(struct input_def),
		    sizeof(struct step), sizeof(struct command), sizeof(struct probe),
		    sizeof(struct env_var), sizeof(struct capture), sizeof(struct hint),
		    sizeof(struct chain_regex_c));
	return layout;
}

char *
chain_image_pack(const struct chain *c, size_t *len)
{
	struct chain top = *c, *copy;
	struct img m = { .mode = IMG_SIZE, .src = c };
	char *image;

	top.dir = NULL;
	top.block = NULL;
	top.cached = top.unread = 0;
	img_take(&m, NULL, sizeof top, true);
	img_chain(&m, &top);
	m.size = m.used;
	m.block = xcalloc(1, m.size);        /* (zeroed: the padding is the same every time) */
	m.mode = IMG_COPY;
	m.used = 0;
	copy = img_take(&m, &top, sizeof top, true);
	m.dst = copy;
	img_chain(&m, copy);
	/* The copy's pointers, as offsets, in a copy of it. */
	image = xmalloc(m.size);
	memcpy(image, m.block, m.size);
	m.mode = IMG_OFFSET;
	m.image = image;
	img_chain(&m, copy);
	free(m.block);
	*len = m.size;
	return image;
}

struct chain *
chain_image_unpack(char *image, size_t len, const char *dir)
{
	struct img m = { .mode = IMG_RELOC, .block = image, .size = len };
	struct chain *c;

	if (len < sizeof *c || ((uintptr_t)image & (IMG_ALIGN - 1)) != 0) {
		free(image);
		return NULL;
	}
	c = (struct chain *)(void *)m.block;
	m.dst = c;
	m.used = sizeof *c;
	img_chain(&m, c);
	if (m.bad || m.used != len || c->nfiles == 0 || c->nsteps == 0 || !img_valid(c)) {
		free(m.block);
		return NULL;
	}
	c->block = m.block;
	c->dir = xstrdup(dir);
	c->cached = c->unread = c->nfiles;
	return c;
}
