/*
 * chain.c: the loaded chain's small helpers: names of places and input types, look-ups by
 * id or name, the requires graph (transitive dependency), ${name} reference scanning, and the
 * destructor. Loading and checking live in chain-yaml.c, chain-inputs.c, chain-step.c and
 * chain-link.c (chain-int.h).
 */
#include "config.h"

#include "chain.h"

#include <stdlib.h>
#include <string.h>

#include "rx.h"
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

/* Parse "x.y.z" (each a decimal number) into v; -1 if it is not that. */
int
version_parse(const char *s, unsigned v[3])
{
	for (int i = 0; i < 3; i++) {
		unsigned long n = 0;
		const char *start = s;

		while (*s >= '0' && *s <= '9' && n <= 99999)
			n = n * 10 + (unsigned long)(*s++ - '0');
		if (s == start || n > 99999 || *s != (i < 2 ? '.' : '\0'))
			return -1;
		v[i] = (unsigned)n;
		if (i < 2)
			s++;
	}
	return 0;
}

int
vcond_parse(const char *text, struct vcond *out, const char **why)
{
	static const struct { const char *op; int code; } ops[] = {
		{ ">=", VC_GE }, { "<=", VC_LE }, { "==", VC_EQ }, { "!=", VC_NE },
		{ ">", VC_GT }, { "<", VC_LT },
	};
	const char *p = text;
	char num[32];

	memset(out, 0, sizeof *out);
	for (;;) {
		size_t k, len;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (k = 0; k < nitems(ops); k++)
			if (strncmp(p, ops[k].op, strlen(ops[k].op)) == 0)
				break;
		if (k == nitems(ops)) {
			*why = "each part is a comparison (>=, >, <=, <, == or !=) and a version, "
			    "like '>= 0.5.6 < 0.5.9'";
			return -1;
		}
		if (out->n == VCOND_MAX) {
			*why = "at most four comparisons";
			return -1;
		}
		p += strlen(ops[k].op);
		while (*p == ' ')
			p++;
		len = strspn(p, "0123456789.");
		if (len == 0 || len >= sizeof num) {
			*why = "a comparison needs a version after it, like 0.5.9";
			return -1;
		}
		memcpy(num, p, len);
		num[len] = '\0';
		if (version_parse(num, out->terms[out->n].v) != 0) {
			*why = "a version is three numbers, like 0.5.9";
			return -1;
		}
		out->terms[out->n++].op = ops[k].code;
		p += len;
	}
	if (out->n == 0) {
		*why = "it is empty; write a comparison like '>= 0.5.9'";
		return -1;
	}
	out->text = xstrdup(text);
	return 0;
}

bool
vcond_holds(const struct vcond *c, const char *version)
{
	unsigned v[3];

	if (c == NULL)
		return true;
	if (version == NULL || version_parse(version, v) != 0)
		return false;
	for (size_t i = 0; i < c->n; i++) {
		const unsigned *w = c->terms[i].v;
		int cmp = 0;

		for (int k = 0; k < 3 && cmp == 0; k++)
			cmp = v[k] < w[k] ? -1 : v[k] > w[k];
		switch (c->terms[i].op) {
		case VC_LT: if (!(cmp < 0)) return false; break;
		case VC_LE: if (!(cmp <= 0)) return false; break;
		case VC_EQ: if (cmp != 0) return false; break;
		case VC_NE: if (cmp == 0) return false; break;
		case VC_GE: if (!(cmp >= 0)) return false; break;
		case VC_GT: if (!(cmp > 0)) return false; break;
		}
	}
	return true;
}

void
vcond_free(struct vcond **cp)
{
	if (*cp == NULL)
		return;
	free((*cp)->text);
	free(*cp);
	*cp = NULL;
}

/* Return the default that applies for a release; NULL when none does. */
const char *
chain_input_default(const struct input_def *d, const char *version)
{
	for (size_t i = 0; i < d->ndefs; i++)
		if (vcond_holds(d->defs[i].when, version))
			return d->defs[i].value;
	return NULL;
}

/* chain_refs callback: does this reference name the input sought? */
static void
uses_cb(const char *name, size_t len, void *data)
{
	const char **want = data;

	if (*want != NULL && strlen(*want) == len && memcmp(name, *want, len) == 0)
		*want = NULL;
}

/* Is name referenced in s? */
static bool
refers(const char *s, const char *name)
{
	const char *want = name;

	if (s != NULL)
		chain_refs(s, uses_cb, &want);
	return want == NULL;
}

/* Is name referenced in one of the strings v[0..n)? */
static bool
refers_any(char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (refers(v[i], name))
			return true;
	return false;
}

bool
command_uses(const struct command *c, const char *name)
{
	const struct probe *p = c->probe;

	if (refers(c->run, name) || refers(c->cwd, name) || refers(c->stdin_text, name) ||
	    refers(c->expect, name))
		return true;
	for (size_t i = 0; i < c->nenv; i++)
		if (refers(c->env[i].value, name))
			return true;
	if (p == NULL)
		return false;
	return refers(p->url, name) || refers(p->method, name) || refers(p->body, name) ||
	    refers_any(p->headers, p->nheaders, name) || refers_any(p->resolve, p->nresolve, name) ||
	    refers_any(p->json, p->njson, name) || refers(p->body_match, name) ||
	    refers_any(p->capture_headers, p->ncapture_headers, name) ||
	    refers(p->target, name) || refers(p->call, name) || refers(p->chain_id, name) ||
	    refers(p->address, name) || refers(p->min_eth, name) || refers(p->data, name);
}

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

/* Free what an input definition holds, and zero it. */
void
input_def_clear(struct input_def *in)
{
	free(in->name);
	free(in->label);
	free(in->help);
	for (size_t i = 0; i < in->ndefs; i++) {
		free(in->defs[i].value);
		vcond_free(&in->defs[i].when);
	}
	free(in->defs);
	strs_free(in->choices, in->nchoices);
	rx_free(&in->pattern_re);
	free(in->pattern);
	free(in->verify);
	memset(in, 0, sizeof *in);
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
	vcond_free(&cmd->when);
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

/* Free one step. */
static void
step_clear(struct step *st)
{
	free(st->id);
	free(st->title);
	free(st->summary);
	free(st->guide);
	free(st->notes);
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
	commands_free(st->replace, st->nreplace);
	free(st->made_from);
	for (size_t i = 0; i < st->ncaptures; i++) {
		free(st->captures[i].name);
		rx_free(&st->captures[i].re);
		vcond_free(&st->captures[i].when);
		free(st->captures[i].regex);
	}
	free(st->captures);
	for (size_t i = 0; i < st->nhints; i++) {
		rx_free(&st->hints[i].re);
		vcond_free(&st->hints[i].when);
		free(st->hints[i].match);
		free(st->hints[i].say);
		free(st->hints[i].fix);
	}
	free(st->hints);
	free(st->file);
}

/* Free a chain and everything it owns. */
void
chain_free(struct chain **chainp)
{
	struct chain *c;

	if (chainp == NULL || *chainp == NULL)
		return;
	c = *chainp;
	free(c->dir);
	free(c->title);
	for (size_t i = 0; i < c->nsections; i++) {
		free(c->sections[i].id);
		free(c->sections[i].title);
	}
	free(c->sections);
	for (size_t i = 0; i < c->ninputs; i++)
		input_def_clear(&c->inputs[i]);
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
