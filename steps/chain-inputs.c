/*
 * chain-inputs.c: chain.yaml (the title, the sections in order, the input definitions and
 * their defaults), and the ${name} references to inputs that every other part scans for:
 * resolved against the inputs, reported at their exact position.
 */
#include "config.h"

#include "chain-int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "verify.h"

/* -------------------------------------------------------------------------------------- */
/* chain.yaml: sections and inputs. */

enum { CK_TITLE, CK_SECTIONS, CK_INPUTS, CK__N };
static const char *const chain_keys[] = { "title", "sections", "inputs" };

enum { SK_ID, SK_TITLE, SK__N };
static const char *const section_keys[] = { "id", "title" };

enum {
	IK_NAME, IK_LABEL, IK_TYPE, IK_SECRET, IK_SCOPE, IK_OPTIONAL, IK_DEFAULT, IK_CHOICES,
	IK_PATTERN, IK_QUOTED, IK_VERIFY, IK_HELP, IK__N
};
static const char *const input_keys[] = {
	"name", "label", "type", "secret", "scope", "optional", "default", "choices", "pattern",
	"quoted", "verify", "help"
};

enum { DK_VALUE, DK_VERSION, DK__N };
static const char *const default_keys[] = { "value", "version" };

static const char *const scope_names[] = { [SCOPE_ANY] = "any", [SCOPE_LOCAL] = "local" };

/* Is s an input name: [a-z][a-z0-9_]* ? */
static bool
valid_input_name(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	}
	return true;
}

/* Decode the sections list. */
static void
load_sections(struct loader *ld, const struct ynode *list)
{
	struct chain *c = ld->c;

	c->sections = xcalloc(list->n, sizeof *c->sections);
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *item = list->kids[i];
		struct field f[SK__N];
		char *id, *title;
		int dup;

		if (item->kind != Y_MAP) {
			err_node(ld, item, "expected a section (a mapping with id and title), got %s",
			    ykind_name(item));
			continue;
		}
		ymap_fields(ld, item, section_keys, SK__N, f);
		id = ystr_req(ld, item, &f[SK_ID], "section", "id");
		title = ystr_req(ld, item, &f[SK_TITLE], "section", "title");
		if (id == NULL) {
			free(title);
			continue;
		}
		if (!valid_id(id)) {
			err_node(ld, f[SK_ID].val, "section id '%s' must be lowercase letters, digits "
			    "and '-'", q(ld, id));
		}
		dup = chain_section_index(c, id);
		if (dup >= 0) {
			err_node(ld, f[SK_ID].val, "duplicate section '%s' (first at line %d)",
			    q(ld, id), c->sections[dup].pos.line);
			free(id);
			free(title);
			continue;
		}
		c->sections[c->nsections].id = id;
		c->sections[c->nsections].title = title ? title : xstrdup(id);
		c->sections[c->nsections].pos = (struct srcpos){ ld->file, item->line, item->col };
		c->nsections++;
	}
}

/*
 * Decode an input's default: a scalar (for every release), or a list of alternatives, each
 * { value: ..., version: ... }, the first whose condition holds applying.
 */
static void
load_defaults(struct loader *ld, const struct ynode *n, struct input_def *in)
{
	if (n == NULL || ynull(n))
		return;
	if (n->kind == Y_SCALAR) {
		in->defs = xcalloc(1, sizeof *in->defs);
		in->defs[0].value = ystr(ld, n);
		in->ndefs = 1;
		return;
	}
	if (n->kind != Y_SEQ) {
		err_node(ld, n, "default: expected a value, or a list of { value, version }, got %s",
		    ykind_name(n));
		return;
	}
	in->defs = xcalloc(n->n + 1, sizeof *in->defs);
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *item = n->kids[i];
		struct field f[DK__N];
		char *v;

		if (item->kind != Y_MAP) {
			err_node(ld, item, "default: expected { value: ..., version: ... }, got %s",
			    ykind_name(item));
			continue;
		}
		ymap_fields(ld, item, default_keys, DK__N, f);
		if ((v = ystr_req(ld, item, &f[DK_VALUE], "default", "value")) == NULL)
			continue;
		in->defs[in->ndefs].value = v;
		in->defs[in->ndefs].when = load_when(ld, f[DK_VERSION].val, false);
		in->ndefs++;
	}
}

/* Decode choices: the only values an input takes (a list of scalars). */
static void
load_choices(struct loader *ld, const struct ynode *n, struct input_def *in)
{
	if (n == NULL || ynull(n) || !ylist(ld, n, "a list of values"))
		return;
	in->choices = xcalloc(n->n + 1, sizeof *in->choices);
	for (size_t i = 0; i < n->n; i++) {
		if (n->kids[i]->kind != Y_SCALAR) {
			err_node(ld, n->kids[i], "choices: expected a value, got %s",
			    ykind_name(n->kids[i]));
			continue;
		}
		in->choices[in->nchoices++] = ystr(ld, n->kids[i]);
	}
	if (in->nchoices == 0)
		err_node(ld, n, "choices: the list is empty");
}

/* Decode one input definition; returns false when it cannot be kept. */
static bool
load_input(struct loader *ld, const struct ynode *item, struct input_def *in,
    const struct ynode **defnode)
{
	struct field f[IK__N];
	int v, dup;

	memset(in, 0, sizeof *in);
	*defnode = NULL;
	if (item->kind != Y_MAP) {
		err_node(ld, item, "expected an input definition (a mapping), got %s",
		    ykind_name(item));
		return false;
	}
	ymap_fields(ld, item, input_keys, IK__N, f);
	in->pos = (struct srcpos){ ld->file, item->line, item->col };
	in->name = ystr_req(ld, item, &f[IK_NAME], "input", "name");
	in->label = ystr_req(ld, item, &f[IK_LABEL], "input", "label");
	if (in->name != NULL && !valid_input_name(in->name)) {
		err_node(ld, f[IK_NAME].val, "input name '%s' must be lowercase letters, digits "
		    "and '_', starting with a letter", q(ld, in->name));
	}
	in->type = IT_TEXT;
	if (f[IK_TYPE].key != NULL) {
		const char *names[IT_PATH + 1];

		for (int t = 0; t <= IT_PATH; t++)
			names[t] = input_type_name((enum input_type)t);
		if (yenum(ld, f[IK_TYPE].val, "type", names, nitems(names), &v) == 0)
			in->type = (enum input_type)v;
		else if (ynull(f[IK_TYPE].val))
			err_node(ld, f[IK_TYPE].key, "'type' is empty");
	}
	if (ybool(ld, f[IK_SECRET].val, &in->secret) == 0 && in->type == IT_SECRET) {
		if (f[IK_SECRET].key != NULL && !ynull(f[IK_SECRET].val) && !in->secret) {
			err_node(ld, f[IK_SECRET].val, "an input of type secret is always secret; "
			    "drop 'secret: false'");
		}
		in->secret = true;
	}
	if (in->type == IT_SECRET)
		in->secret = true;
	in->scope = SCOPE_ANY;
	if (f[IK_SCOPE].key != NULL) {
		if (yenum(ld, f[IK_SCOPE].val, "scope", scope_names, nitems(scope_names), &v) == 0)
			in->scope = (enum scope)v;
		else if (ynull(f[IK_SCOPE].val))
			err_node(ld, f[IK_SCOPE].key, "'scope' is empty");
	}
	ybool(ld, f[IK_OPTIONAL].val, &in->optional);
	load_defaults(ld, f[IK_DEFAULT].val, in);
	if (in->ndefs > 0) {
		*defnode = f[IK_DEFAULT].val;
		if (in->secret) {
			err_node(ld, f[IK_DEFAULT].val, "secret input '%s' cannot have a default; "
			    "a secret is never written in a file", q(ld, in->name));
			*defnode = NULL;
		}
	}
	load_choices(ld, f[IK_CHOICES].val, in);
	ybool(ld, f[IK_QUOTED].val, &in->quoted);
	in->pattern = ystr(ld, f[IK_PATTERN].val);
	if (in->pattern != NULL &&
	    !load_regex(ld, f[IK_PATTERN].val, "pattern", in->pattern, &in->pattern_re, 0))
		freep(&in->pattern);
	if (f[IK_VERIFY].key != NULL) {
		static const char *const verify_names[] = { "contract_code" };

		if (yenum(ld, f[IK_VERIFY].val, "verify", verify_names, nitems(verify_names),
		    &v) == 0) {
			in->verify = ystr(ld, f[IK_VERIFY].val);
			if (in->type != IT_ETH_ADDRESS)
				err_node(ld, f[IK_VERIFY].val, "verify: contract_code needs an "
				    "input of type eth_address");
		} else if (ynull(f[IK_VERIFY].val)) {
			err_node(ld, f[IK_VERIFY].key, "'verify' is empty");
		}
	}
	in->help = ystr(ld, f[IK_HELP].val);
	if (in->name == NULL)
		return false;
	/* A value that can hold any character must be kept from becoming code: by a pattern,
	 * or by commands that only ever pass it in double quotes. */
	if (!in->secret && f[IK_PATTERN].key == NULL && in->nchoices == 0 && !in->quoted &&
	    (in->type == IT_TEXT || in->type == IT_URL || in->type == IT_PATH))
		err_node(ld, item, "input '%s' of type %s has no pattern: its value could hold "
		    "characters a shell or sed would act on; give it a pattern:, or quoted: true if "
		    "every command passes it only in double quotes (lint checks that)", in->name,
		    input_type_name(in->type));
	dup = chain_input_index(ld->c, in->name);
	if (dup >= 0) {
		const struct srcpos *p = &ld->c->inputs[dup].pos;

		err_node(ld, f[IK_NAME].val, "duplicate input '%s' (first at %s:%d:%d)",
		    q(ld, in->name), p->file, p->line, p->col);
		return false;
	}
	if (in->label == NULL)
		in->label = xstrdup(in->name);
	return true;
}


/*
 * Where, in the file, is the reference tok (toklen bytes) found at byte off of scalar n's
 * value? Exact for single-line and literal (|) scalars; the scalar's start otherwise. Columns
 * count characters, as libyaml's do.
 */
static void
ref_pos(struct loader *ld, const struct ynode *n, size_t off, const char *tok, size_t toklen,
    int *line, int *col)
{
	const char *vline, *src, *hit;
	size_t srclen, nth = 0, from;
	int l;

	*line = n->line;
	*col = n->col;
	if (n->literal) {
		l = n->line + 1;
		vline = n->s;
		for (size_t i = 0; i < off; i++) {
			if (n->s[i] == '\n') {
				l++;
				vline = n->s + i + 1;
			}
		}
		from = 0;
	} else if (n->line == n->endline && memchr(n->s, '\n', n->len) == NULL) {
		l = n->line;
		vline = n->s;
		from = (size_t)n->col - 1;   /* characters, made bytes below */
	} else
		return;
	for (const char *p = vline; p < n->s + off; p += toklen) {
		p = memmem(p, (size_t)(n->s + off - p), tok, toklen);
		if (p == NULL)
			break;
		nth++;
	}
	if (!line_span(ld, l, &src, &srclen))
		return;
	hit = src;
	while (from > 0 && hit < src + srclen) {
		hit++;
		if (hit == src + srclen || utf8_lead(*hit))
			from--;
	}
	for (;;) {
		hit = memmem(hit, srclen - (size_t)(hit - src), tok, toklen);
		if (hit == NULL)
			return;
		if (nth-- == 0)
			break;
		hit += toklen;
	}
	*line = l;
	*col = 1;
	for (const char *p = src; p < hit; p++)
		*col += utf8_lead(*p);
}

/* Report a problem at the current reference (its position is worked out only now). */
void DW_PRINTF(2, 3)
ref_err(struct refscan *rs, const char *fmt, ...)
{
	struct loader *ld = rs->ld;
	va_list ap;
	char *msg;
	int line, col;

	if (!err_open(ld))
		return;
	ref_pos(ld, rs->n, (size_t)(rs->at - rs->n->s), rs->at, rs->len + 3, &line, &col);
	va_start(ap, fmt);
	msg = xvprintf(fmt, ap);
	va_end(ap);
	err_at(ld, ld->file, line, col, "%s", msg);
	free(msg);
}

/* Resolve one reference; report an unknown name. */
static void
refscan_cb(const char *name, size_t len, void *data)
{
	struct refscan *rs = data;
	struct loader *ld = rs->ld;
	char *nm = xstrndup(name, len);
	int idx = chain_input_index(ld->c, nm);

	rs->at = name - 2;
	rs->len = len;
	if (idx < 0) {
		struct suggest sg;

		if (ld->inputs_ok && err_open(ld)) {
			suggest_init(&sg, nm);
			for (size_t i = 0; i < ld->c->ninputs; i++)
				suggest_try(&sg, ld->c->inputs[i].name);
			ref_err(rs, "${%s} is not a defined input%s", q(ld, nm),
			    suggest_text(ld, &sg));
		}
	} else if (rs->fn != NULL)
		rs->fn(rs, idx, nm);
	free(nm);
}

/* Scan scalar n for references, calling fn for each defined one. */
void
scan_refs(struct loader *ld, const struct ynode *n,
    void (*fn)(struct refscan *, int, const char *), void *data)
{
	struct refscan rs = { ld, n, fn, data, NULL, 0 };

	if (n != NULL && n->kind == Y_SCALAR)
		chain_refs(n->s, refscan_cb, &rs);
}

/* State of the default-reference check. */
struct defscan {
	size_t from;          /* the input whose default is scanned */
	size_t **edges;       /* per input: inputs its default references */
	size_t *nedges;
};

/* A default references another input: remember the edge, apply the secret rule. */
static void
default_ref(struct refscan *rs, int idx, const char *name)
{
	struct defscan *ds = rs->data;
	struct loader *ld = rs->ld;
	const struct input_def *from = &ld->c->inputs[ds->from], *to = &ld->c->inputs[idx];

	if (to->secret && !from->secret) {
		ref_err(rs, "the default of '%s' uses secret input '%s'; a secret cannot flow "
		    "into an input that is not secret", from->name, name);
	}
	ds->edges[ds->from] = xreallocarray(ds->edges[ds->from], ds->nedges[ds->from] + 1,
	    sizeof **ds->edges);
	ds->edges[ds->from][ds->nedges[ds->from]++] = (size_t)idx;
}

/* Context of the default-cycle report. */
struct defcycle {
	struct loader *ld;
	struct defscan *ds;
	const struct ynode **defnodes;
};

/* Name of input i. */
static const char *
input_name_at(void *data, size_t i)
{
	struct defcycle *dc = data;

	return dc->ld->c->inputs[i].name;
}

/* Report a cycle among input defaults. */
static void
default_cycle(void *data, size_t from, size_t e, const size_t *stack, size_t depth)
{
	struct defcycle *dc = data;
	char *text = cycle_text(dc->ds->edges[from][e], stack, depth, input_name_at, dc);

	err_node(dc->ld, dc->defnodes[from], "input defaults form a cycle: %s", text);
	free(text);
}

/* Check every default's references: defined, no secret leaks, no cycles. */
static void
check_defaults(struct loader *ld, const struct ynode **defnodes)
{
	struct chain *c = ld->c;
	struct defscan ds;
	struct defcycle dc = { ld, &ds, defnodes };

	ds.edges = xcalloc(c->ninputs, sizeof *ds.edges);
	ds.nedges = xcalloc(c->ninputs, sizeof *ds.nedges);
	for (size_t i = 0; i < c->ninputs; i++) {
		const struct ynode *n = defnodes[i];

		if (n == NULL)
			continue;
		ds.from = i;
		if (n->kind == Y_SCALAR)
			scan_refs(ld, n, default_ref, &ds);
		for (size_t k = 0; n->kind == Y_SEQ && k < n->n; k++) {
			const struct ynode *item = n->kids[k];

			for (size_t j = 0; item->kind == Y_MAP && j + 1 < item->n; j += 2)
				if (strcmp(item->kids[j]->s, "value") == 0)
					scan_refs(ld, item->kids[j + 1], default_ref, &ds);
		}
	}
	find_cycles(c->ninputs, ds.edges, ds.nedges, default_cycle, &dc);
	for (size_t i = 0; i < c->ninputs; i++)
		free(ds.edges[i]);
	free(ds.edges);
	free(ds.nedges);
}

/* Decode the inputs list. */
static void
load_inputs(struct loader *ld, const struct ynode *list)
{
	struct chain *c = ld->c;
	const struct ynode **defnodes = xcalloc(list->n, sizeof *defnodes);

	c->inputs = xcalloc(list->n, sizeof *c->inputs);
	for (size_t i = 0; i < list->n; i++) {
		struct input_def *in = &c->inputs[c->ninputs];

		if (load_input(ld, list->kids[i], in, &defnodes[c->ninputs]))
			c->ninputs++;
		else
			input_def_clear(in);
	}
	check_defaults(ld, defnodes);
	free(defnodes);
	for (size_t i = 0; i < c->ninputs; i++) {
		const struct input_def *in = &c->inputs[i];

		for (size_t k = 0; k < in->ndefs; k++) {
			const char *v = in->defs[k].value;
			size_t j;

			if (in->defs[k].when != NULL && strcmp(in->name, VERSION_INPUT) == 0)
				err_pos(ld, &in->defs[k].when->pos, "the default of %s cannot depend "
				    "on the release: it says which release is in use", VERSION_INPUT);
			else
				check_when(ld, in->defs[k].when);
			if (in->nchoices == 0 || strstr(v, "${") != NULL)
				continue;
			for (j = 0; j < in->nchoices && strcmp(in->choices[j], v) != 0; j++)
				;
			if (j == in->nchoices)
				err_at(ld, in->pos.file, in->pos.line, in->pos.col, "the default '%s' of "
				    "'%s' is not one of its choices", q(ld, v), in->name);
		}

		if (in->verify != NULL && chain_input_index(c, VERIFY_RPC_INPUT) < 0)
			err_at(ld, in->pos.file, in->pos.line, in->pos.col, "input '%s' has verify: "
			    "%s, which asks the chain through an input named %s; there is none",
			    q(ld, in->name), in->verify, VERIFY_RPC_INPUT);
	}
}

/* Load chain.yaml. */
void
load_chain_file(struct loader *ld)
{
	struct ynode *root = NULL;
	struct field f[CK__N];

	ld->file = intern_file(ld, CHAIN_FILE);
	if (read_tree(ld, CHAIN_FILE, &root) != 0)
		goto out;
	if (root == NULL || ynull(root)) {
		err_at(ld, ld->file, 1, 1, "chain.yaml is empty; it needs at least 'sections'");
		goto out;
	}
	if (root->kind != Y_MAP) {
		err_node(ld, root, "expected a mapping (title, sections, inputs), got %s",
		    ykind_name(root));
		goto out;
	}
	ymap_fields(ld, root, chain_keys, CK__N, f);
	ld->c->title = ystr(ld, f[CK_TITLE].val);
	if (f[CK_SECTIONS].key == NULL)
		err_node(ld, root, "chain.yaml has no 'sections'");
	else if (ylist(ld, f[CK_SECTIONS].val, "a list of sections")) {
		load_sections(ld, f[CK_SECTIONS].val);
		ld->sections_ok = true;
	} else if (ynull(f[CK_SECTIONS].val))
		err_node(ld, f[CK_SECTIONS].key, "'sections' is empty");
	if (ylist(ld, f[CK_INPUTS].val, "a list of input definitions")) {
		ld->inputs_ok = true;
		load_inputs(ld, f[CK_INPUTS].val);
	} else if (ynull(f[CK_INPUTS].val))
		ld->inputs_ok = true;   /* a chain without inputs */
out:
	unload_text(ld);
}
