/*
 * answers.c: the answers file's reader (answers.h). libyaml's document API builds the tree;
 * only two levels are read: the top mapping (target, inputs) and the inputs mapping of
 * names to scalar values. Structure is checked here; each value is checked against its
 * input's definition when it is applied (engine_apply_answers), with the same validation
 * `set` uses, and the positions kept here name the line.
 */
#include "config.h"

#include "answers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "ssh.h"
#include "util.h"

/* Up to this many problems are listed; then "and more". */
#define ANSWERS_MAX_ERRORS 50

struct answers_ctx {
	const char *file;
	yaml_document_t *doc;
	struct strbuf errs;
	size_t nerrs;
};

/* Add a problem at a node's position. */
static void DW_PRINTF(3, 4)
answers_err(struct answers_ctx *ax, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (ax->nerrs++ >= ANSWERS_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	msg = xvprintf(fmt, ap);
	va_end(ap);
	sb_addf(&ax->errs, "%s%s:%lu:%lu: %s", ax->errs.len > 0 ? "\n" : "", ax->file,
	    n != NULL ? (unsigned long)n->start_mark.line + 1 : 1UL,
	    n != NULL ? (unsigned long)n->start_mark.column + 1 : 1UL, msg);
	free(msg);
}

/* What kind of node n is, in words. */
static const char *
answers_kind(const yaml_node_t *n)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	return "a value";
}

/* Is n a scalar written as null (~, null, or nothing)? */
static bool
answers_null(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* The scalar text of n, or NULL (with a problem) when it is not a non-empty scalar. */
static const char *
answers_scalar(struct answers_ctx *ax, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		answers_err(ax, n, "%s must be a value, got %s", what, answers_kind(n));
		return NULL;
	}
	if (answers_null(n) || n->data.scalar.length == 0) {
		answers_err(ax, n, "%s has no value (leave an input out to keep it unset)", what);
		return NULL;
	}
	for (size_t i = 0; i < n->data.scalar.length; i++) {
		unsigned char c = n->data.scalar.value[i];

		/* One line each: a problem is reported on one line, and values are one-liners. */
		if (c < 0x20 || c == 0x7f) {
			answers_err(ax, n, "%s holds a control character (a line break, a tab, ...)",
			    what);
			return NULL;
		}
	}
	return (const char *)n->data.scalar.value;
}

/* Read the inputs: mapping. */
static void
answers_inputs(struct answers_ctx *ax, const yaml_node_t *map, struct answers *a)
{
	yaml_node_pair_t *p;

	if (map->type != YAML_MAPPING_NODE) {
		if (!answers_null(map))
			answers_err(ax, map, "inputs must be a mapping of input names to values, "
			    "got %s", answers_kind(map));
		return;
	}
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(ax->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(ax->doc, p->value);
		const char *name, *value;
		char *what;
		bool dup = false;

		if (k == NULL || v == NULL)
			continue;
		if ((name = answers_scalar(ax, k, "an input's name")) == NULL)
			continue;
		for (size_t i = 0; i < a->ninputs; i++)
			dup = dup || strcmp(a->inputs[i].name, name) == 0;
		if (dup) {
			answers_err(ax, k, "input '%s' is given twice", name);
			continue;
		}
		what = xprintf("input '%s'", name);
		value = answers_scalar(ax, v, what);
		free(what);
		if (value == NULL)
			continue;
		a->inputs = xreallocarray(a->inputs, a->ninputs + 1, sizeof *a->inputs);
		a->inputs[a->ninputs].name = xstrdup(name);
		a->inputs[a->ninputs].value = xstrdup(value);
		a->inputs[a->ninputs].line = (int)v->start_mark.line + 1;
		a->inputs[a->ninputs].col = (int)v->start_mark.column + 1;
		a->ninputs++;
	}
}

/* Read the target: local, or [user@]host[:port]. */
static void
answers_target(struct answers_ctx *ax, const yaml_node_t *n, struct answers *a)
{
	const char *t = answers_scalar(ax, n, "target");
	char *user = NULL, *host = NULL, *cause = NULL;
	int port = 0;

	if (t == NULL)
		return;
	if (strcmp(t, "local") != 0 && ssh_target_split(t, &user, &host, &port, &cause) != 0) {
		answers_err(ax, n, "target: %s", cause);
		free(cause);
		return;
	}
	free(user);
	free(host);
	a->target = xstrdup(t);
	a->target_line = (int)n->start_mark.line + 1;
	a->target_col = (int)n->start_mark.column + 1;
}

/* Read the top mapping. */
static void
answers_top(struct answers_ctx *ax, const yaml_node_t *root, struct answers *a)
{
	static const char *const keys[] = { "target", "inputs" };
	bool seen[2] = { false, false };
	yaml_node_pair_t *p;

	if (root->type != YAML_MAPPING_NODE) {
		answers_err(ax, root, "expected a mapping (target:, inputs:), got %s",
		    answers_kind(root));
		return;
	}
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(ax->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(ax->doc, p->value);
		const char *key;
		size_t i;

		if (k == NULL || v == NULL || (key = answers_scalar(ax, k, "a key")) == NULL)
			continue;
		for (i = 0; i < nitems(keys); i++)
			if (strcmp(key, keys[i]) == 0)
				break;
		if (i == nitems(keys)) {
			size_t d0 = str_distance(key, keys[0]), d1 = str_distance(key, keys[1]);
			const char *best = d0 <= d1 ? keys[0] : keys[1];

			if ((d0 <= d1 ? d0 : d1) < 3)
				answers_err(ax, k, "unknown key '%s' (did you mean '%s'?)", key, best);
			else
				answers_err(ax, k, "unknown key '%s' (an answers file has target: and "
				    "inputs:)", key);
			continue;
		}
		if (seen[i]) {
			answers_err(ax, k, "'%s' is given twice", key);
			continue;
		}
		seen[i] = true;
		if (i == 0)
			answers_target(ax, v, a);
		else
			answers_inputs(ax, v, a);
	}
}

int
answers_parse(const char *file, const char *text, size_t len, struct answers **out,
    char **cause)
{
	struct answers_ctx ax = { .file = file };
	struct answers *a = xcalloc(1, sizeof *a);
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root;

	*out = NULL;
	a->file = xstrdup(file);
	if (len > ANSWERS_MAX_SIZE) {
		answers_free(&a);
		*cause = xprintf("%s: larger than %d bytes", file, ANSWERS_MAX_SIZE);
		return -1;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		*cause = xprintf("%s:%lu:%lu: syntax error: %s", file,
		    (unsigned long)parser.problem_mark.line + 1,
		    (unsigned long)parser.problem_mark.column + 1,
		    parser.problem ? parser.problem : "cannot parse");
		yaml_parser_delete(&parser);
		answers_free(&a);
		return -1;
	}
	ax.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root != NULL)
		answers_top(&ax, root, a);
	/* One document only: a second one would be ignored, silently. */
	if (yaml_parser_load(&parser, &extra)) {
		if (yaml_document_get_root_node(&extra) != NULL)
			answers_err(&ax, yaml_document_get_root_node(&extra),
			    "a second document: an answers file holds one");
		yaml_document_delete(&extra);
	} else if (parser.error != YAML_NO_ERROR) {
		sb_addf(&ax.errs, "%s%s:%lu:%lu: syntax error: %s", ax.errs.len > 0 ? "\n" : "",
		    file, (unsigned long)parser.problem_mark.line + 1,
		    (unsigned long)parser.problem_mark.column + 1,
		    parser.problem ? parser.problem : "cannot parse");
		ax.nerrs++;
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (ax.nerrs > ANSWERS_MAX_ERRORS)
		sb_addf(&ax.errs, "\n%s: and %zu more problems", file,
		    ax.nerrs - ANSWERS_MAX_ERRORS);
	if (ax.nerrs > 0) {
		*cause = sb_detach(&ax.errs);
		answers_free(&a);
		return -1;
	}
	sb_free(&ax.errs);
	*out = a;
	return 0;
}

int
answers_load(const char *path, struct answers **out, char **cause)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct strbuf sb = {0};
	char buf[8192];
	ssize_t n;
	int rc;

	*out = NULL;
	if (fd < 0) {
		*cause = xprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || sb.len + (size_t)n > ANSWERS_MAX_SIZE) {
			*cause = n < 0 ? xprintf("%s: %s", path, strerror(errno)) :
			    xprintf("%s: larger than %d bytes", path, ANSWERS_MAX_SIZE);
			close(fd);
			sb_free(&sb);
			return -1;
		}
		sb_add(&sb, buf, (size_t)n);
	}
	close(fd);
	rc = answers_parse(path, sb.len > 0 ? sb_str(&sb) : "", sb.len, out, cause);
	sb_free(&sb);
	return rc;
}

void
answers_free(struct answers **ap)
{
	struct answers *a = *ap;

	if (a == NULL)
		return;
	for (size_t i = 0; i < a->ninputs; i++) {
		free(a->inputs[i].name);
		free(a->inputs[i].value);
	}
	free(a->inputs);
	free(a->target);
	free(a->file);
	free(a);
	*ap = NULL;
}
