/*
 * export-yaml.c: the YAML of `export ansible`, written through libyaml's emitter, which
 * quotes each scalar, and the Jinja2 expressions the playbook computes values with, made
 * from the chain's text (its literal parts and its ${name} references).
 */
#include "config.h"

#include "export-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "util.h"

/* ---------------------------------------------------------------------------------------
 * YAML through libyaml's emitter.
 */

static int
ey_write(void *data, unsigned char *buf, size_t size)
{
	struct ey *y = data;

	return fwrite(buf, 1, size, y->f) == size;
}

/* Emit one event (the emitter takes it over). */
static void
ey_emit(struct ey *y, yaml_event_t *ev)
{
	if (y->bad) {
		yaml_event_delete(ev);
		return;
	}
	if (!yaml_emitter_emit(&y->em, ev))
		y->bad = true;
}

/* Open path for writing, put the comment lines at its top, and start one document. */
int
ey_open(struct ey *y, const char *path, const char *comment, char **cause)
{
	yaml_event_t ev;

	memset(y, 0, sizeof *y);
	if ((y->f = fopen(path, "w")) == NULL)
		return set_cause(cause, "%s: %s", path, strerror(errno));
	y->path = xstrdup(path);
	fputs(comment, y->f);
	yaml_emitter_initialize(&y->em);
	yaml_emitter_set_output(&y->em, ey_write, y);
	yaml_emitter_set_unicode(&y->em, 1);
	yaml_emitter_set_width(&y->em, 100);
	yaml_emitter_set_indent(&y->em, 2);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	ey_emit(y, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0);
	ey_emit(y, &ev);
	return 0;
}

/* End the document, close; -1 if anything failed. */
int
ey_close(struct ey *y, char **cause)
{
	yaml_event_t ev;
	int rc = 0;

	yaml_document_end_event_initialize(&ev, 1);
	ey_emit(y, &ev);
	yaml_stream_end_event_initialize(&ev);
	ey_emit(y, &ev);
	if (y->bad)
		rc = set_cause(cause, "%s: writing YAML failed: %s", y->path,
		    y->em.problem ? y->em.problem : "write error");
	yaml_emitter_delete(&y->em);
	if (fclose(y->f) != 0 && rc == 0)
		rc = set_cause(cause, "%s: %s", y->path, strerror(errno));
	free(y->path);
	return rc;
}

void
ey_map(struct ey *y)
{
	yaml_event_t ev;

	yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
	ey_emit(y, &ev);
}

void
ey_seq(struct ey *y, bool flow)
{
	yaml_event_t ev;

	yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
	    flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
	ey_emit(y, &ev);
}

void
ey_end_map(struct ey *y)
{
	yaml_event_t ev;

	yaml_mapping_end_event_initialize(&ev);
	ey_emit(y, &ev);
}

void
ey_end_seq(struct ey *y)
{
	yaml_event_t ev;

	yaml_sequence_end_event_initialize(&ev);
	ey_emit(y, &ev);
}

/* A scalar: tagged (tag not NULL) or a string in the given style, or a plain word. */
static void
ey_scalar(struct ey *y, const char *tag, const char *s, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)(uintptr_t)tag,
	    (yaml_char_t *)(uintptr_t)s, (int)strlen(s), tag == NULL, tag == NULL, style);
	ey_emit(y, &ev);
}

/* A key, a tag name, a boolean or a number: a plain scalar. */
void
ey_word(struct ey *y, const char *s)
{
	ey_scalar(y, NULL, s, YAML_PLAIN_SCALAR_STYLE);
}

void
ey_int(struct ey *y, long v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%ld", v);
	ey_word(y, buf);
}

/* Does s hold what starts a Jinja2 construct ({{, {% or {#)? Text without one is never
 * evaluated by Ansible. */
static bool
ey_jinja_start(const char *s)
{
	for (const char *p = strchr(s, '{'); p != NULL; p = strchr(p + 1, '{'))
		if (p[1] == '{' || p[1] == '%' || p[1] == '#')
			return true;
	return false;
}

/*
 * Text from the chain or the profile: a string Jinja2 never evaluates. Text that holds no
 * Jinja2 start is written as it is, other text tagged !unsafe: Ansible evaluates some
 * strings twice (names, environments), so a {% raw %} block is not enough.
 */
void
ey_text(struct ey *y, const char *s)
{
	yaml_scalar_style_t style = strchr(s, '\n') ? YAML_LITERAL_SCALAR_STYLE :
	    YAML_SINGLE_QUOTED_SCALAR_STYLE;

	ey_scalar(y, ey_jinja_start(s) ? "!unsafe" : NULL, s, style);
}

/* A name (of a play or a task), a label only: a Jinja2 start in it is broken with a blank,
 * "{ {", so that the name is plain text to every tool that reads it. */
void
ey_name(struct ey *y, const char *s)
{
	struct strbuf sb = {0};

	for (; *s != '\0'; s++) {
		sb_addc(&sb, *s);
		if (*s == '{' && (s[1] == '{' || s[1] == '%' || s[1] == '#'))
			sb_addc(&sb, ' ');
	}
	ey_word(y, "name");
	ey_scalar(y, NULL, sb_str(&sb), YAML_SINGLE_QUOTED_SCALAR_STYLE);
	sb_free(&sb);
}

/* A Jinja2 expression the exporter generated: "{{ expr }}". */
void
ey_jinja(struct ey *y, const char *expr)
{
	char *s = xprintf("{{ %s }}", expr);

	ey_scalar(y, NULL, s, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
	free(s);
}

/* A Jinja2 expression whose value is a string, kept a string: Ansible reads a template's
 * result that looks like a list, a mapping or a boolean ({"id": ...}) as one, unless its
 * last filter is string. */
void
ey_jstr(struct ey *y, const char *expr)
{
	char *s = xprintf("(%s) | string", expr);

	ey_jinja(y, s);
	free(s);
}

void
ey_kv_word(struct ey *y, const char *k, const char *v)
{
	ey_word(y, k);
	ey_word(y, v);
}

void
ey_kv_text(struct ey *y, const char *k, const char *v)
{
	ey_word(y, k);
	ey_text(y, v);
}

/* ---------------------------------------------------------------------------------------
 * Jinja2 expressions from the chain's text.
 */

/*
 * Append s[0..len) as a Jinja2 expression whose value is that text. Ansible doubles every
 * backslash in a string literal inside {{ }} before Jinja2 reads it, so no escape sequence
 * can be relied on there: text of printable ASCII without ' and \ is a 'literal', any other
 * text its base64, decoded by the b64decode filter.
 */
void
jx_literal(struct strbuf *sb, const char *s, size_t len)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *u = (const unsigned char *)s;
	bool plain = true;

	for (size_t i = 0; i < len && plain; i++)
		plain = u[i] >= 0x20 && u[i] < 0x7f && u[i] != '\'' && u[i] != '\\';
	if (plain) {
		sb_addc(sb, '\'');
		sb_add(sb, s, len);
		sb_addc(sb, '\'');
		return;
	}
	sb_adds(sb, "('");
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)u[i] << 16 | (i + 1 < len ? (unsigned)u[i + 1] << 8 : 0) |
		    (i + 2 < len ? u[i + 2] : 0);

		sb_addc(sb, b64[v >> 18 & 63]);
		sb_addc(sb, b64[v >> 12 & 63]);
		sb_addc(sb, i + 1 < len ? b64[v >> 6 & 63] : '=');
		sb_addc(sb, i + 2 < len ? b64[v & 63] : '=');
	}
	sb_adds(sb, "' | b64decode)");
}

/* The variable of input d: dw_<name>; a secret from the vault or the environment. */
void
jx_input(struct strbuf *sb, const struct input_def *d)
{
	if (!d->secret) {
		sb_addf(sb, "dw_%s", d->name);
		return;
	}
	sb_addf(sb, "(dw_%s | default(lookup('env', 'DSTACK_WIZARD_", d->name);
	for (const char *p = d->name; *p != '\0'; p++)
		sb_addc(sb, (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p));
	sb_adds(sb, "')))");
}

struct jx_ctx {
	const struct chain *c;
	const char *s;
	const char **refs;     /* where each reference's name starts */
	size_t *lens;
	size_t n;
};

static void
jx_ref(const char *name, size_t len, void *data)
{
	struct jx_ctx *j = data;

	j->refs = xreallocarray(j->refs, j->n + 1, sizeof *j->refs);
	j->lens = xreallocarray(j->lens, j->n + 1, sizeof *j->lens);
	j->refs[j->n] = name;
	j->lens[j->n++] = len;
}

/* The Jinja2 expression for text s: its literal parts and its ${name} references joined
 * with ~. Allocated; NULL when s refers to nothing (it is then a literal as it is). */
char *
jx_expr(const struct chain *c, const char *s, unsigned how)
{
	struct jx_ctx j = { c, s, NULL, NULL, 0 };
	struct strbuf sb = {0};
	const char *at = s;

	chain_refs(s, jx_ref, &j);
	if (j.n == 0)
		return NULL;
	for (size_t k = 0; k < j.n; k++) {
		const char *start = j.refs[k] - 2;    /* "${" */
		char *name = xstrndup(j.refs[k], j.lens[k]);
		int idx = chain_input_index(c, name);

		if (start > at) {
			jx_literal(&sb, at, (size_t)(start - at));
			sb_adds(&sb, " ~ ");
		}
		sb_adds(&sb, "(");
		if (idx >= 0)
			jx_input(&sb, &c->inputs[idx]);
		else
			sb_adds(&sb, "''");
		sb_adds(&sb, how & JX_REGEX ? " | string | regex_escape)" : " | string)");
		if (k + 1 < j.n || *(j.refs[k] + j.lens[k] + 1) != '\0')
			sb_adds(&sb, " ~ ");
		at = j.refs[k] + j.lens[k] + 1;       /* after "}" */
		free(name);
	}
	if (*at != '\0')
		jx_literal(&sb, at, strlen(at));
	free(j.refs);
	free(j.lens);
	return sb_detach(&sb);
}

/* Emit s as a value: a literal, or the Jinja2 expression that fills in its references. */
void
ey_value(struct ey *y, const struct chain *c, const char *s, unsigned how)
{
	char *expr = jx_expr(c, s, how);

	if (expr == NULL)
		ey_text(y, s);
	else
		ey_jstr(y, expr);
	free(expr);
}
