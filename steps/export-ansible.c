/*
 * export-ansible.c: `export ansible DIR`, the chain for the release in use as an Ansible
 * project (export.h). What it writes:
 *
 *   ansible.cfg, README.md, inventory.example.yml (a tdx_hosts group)
 *   site.yml                          one play per section, in chain order
 *   steps/NN-<id>.yml                 one task file per step, imported with the tags
 *                                     <section> and <id>
 *   group_vars/all/dstack-inputs.yml  the profile's non-secret inputs, as dw_<name>
 *   group_vars/all/dstack-settings.yml
 *   library/, module_utils/, action_plugins/   copied from assets/ansible: the probes,
 *                                     the check's verdict, captures, hints, input checks
 *
 * A step's tasks: its inputs checked; each check command, read-only (changed_when and
 * failed_when false); the verdict; for a manual step the checklist (a pause, tag
 * "checklist"); the action commands only when the check failed, each followed by the
 * captures; the check again, which must pass; on any failure the step's hints.
 *
 * Values never become code. Every file goes through libyaml's emitter, which quotes each
 * scalar; text from the chain or the profile that holds {{, {% or {# is tagged !unsafe, so
 * Jinja2 leaves it alone (names only have the sequence broken, "{ {"); where the playbook
 * must compute a value (a probe's URL, a command's environment), the chain's literal text
 * becomes Jinja2 string literals (or base64, see jx_literal) and each ${name} the variable
 * dw_<name>. A command's environment reaches it on its standard input, base64: Ansible
 * templates its environment keyword twice. A secret is never written: a task reads it with
 * lookup('env', 'DSTACK_WIZARD_<NAME>') (or the operator's vault variable dw_<name>) and
 * has no_log.
 */
#include "config.h"

#include "export.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "chain.h"
#include "demo.h"
#include "engine.h"
#include "util.h"

#define EXPORT_MARKER ".dstack-wizard-export"

/* The files copied from assets/ansible. */
static const char *const export_assets[] = {
	"library/dstack_probe.py",
	"module_utils/dstack_wizard.py",
	"action_plugins/dstack_inputs.py",
	"action_plugins/dstack_verdict.py",
	"action_plugins/dstack_capture.py",
	"action_plugins/dstack_hints.py",
};

struct ex {
	struct engine *e;
	const struct chain *c;
	char *version;          /* the release in use, or NULL */
	char *dir;
	char *sandbox;          /* the demo's sandbox (per-host dstack_demo_sandbox), or NULL */
	char **demo_env;        /* the demo's environment but DEMO_STEP, or NULL */
};

/* ---------------------------------------------------------------------------------------
 * YAML through libyaml's emitter.
 */

struct ey {
	yaml_emitter_t em;
	FILE *f;
	char *path;
	bool bad;
};

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
static int
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
static int
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

static void
ey_map(struct ey *y)
{
	yaml_event_t ev;

	yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
	ey_emit(y, &ev);
}

static void
ey_seq(struct ey *y, bool flow)
{
	yaml_event_t ev;

	yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
	    flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
	ey_emit(y, &ev);
}

static void
ey_end_map(struct ey *y)
{
	yaml_event_t ev;

	yaml_mapping_end_event_initialize(&ev);
	ey_emit(y, &ev);
}

static void
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
static void
ey_word(struct ey *y, const char *s)
{
	ey_scalar(y, NULL, s, YAML_PLAIN_SCALAR_STYLE);
}

static void
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
static void
ey_text(struct ey *y, const char *s)
{
	yaml_scalar_style_t style = strchr(s, '\n') ? YAML_LITERAL_SCALAR_STYLE :
	    YAML_SINGLE_QUOTED_SCALAR_STYLE;

	ey_scalar(y, ey_jinja_start(s) ? "!unsafe" : NULL, s, style);
}

/* A name (of a play or a task), a label only: a Jinja2 start in it is broken with a blank,
 * "{ {", so that the name is plain text to every tool that reads it. */
static void
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
static void
ey_jinja(struct ey *y, const char *expr)
{
	char *s = xprintf("{{ %s }}", expr);

	ey_scalar(y, NULL, s, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
	free(s);
}

/* A Jinja2 expression whose value is a string, kept a string: Ansible reads a template's
 * result that looks like a list, a mapping or a boolean ({"id": ...}) as one, unless its
 * last filter is string. */
static void
ey_jstr(struct ey *y, const char *expr)
{
	char *s = xprintf("(%s) | string", expr);

	ey_jinja(y, s);
	free(s);
}

static void
ey_kv_word(struct ey *y, const char *k, const char *v)
{
	ey_word(y, k);
	ey_word(y, v);
}

static void
ey_kv_text(struct ey *y, const char *k, const char *v)
{
	ey_word(y, k);
	ey_text(y, v);
}

/* ---------------------------------------------------------------------------------------
 * Jinja2 expressions from the chain's text.
 */

enum { JX_REGEX = 1 };   /* references are regex-escaped (expect:, body_match:) */

/* A newline, in Jinja2 under Ansible (see jx_literal). */
#define JX_NEWLINE "('%c' | format(10))"

/*
 * Append s[0..len) as a Jinja2 expression whose value is that text. Ansible doubles every
 * backslash in a string literal inside {{ }} before Jinja2 reads it, so no escape sequence
 * can be relied on there: text of printable ASCII without ' and \ is a 'literal', any other
 * text its base64, decoded by the b64decode filter.
 */
static void
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
static void
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
static char *
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
static void
ey_value(struct ey *y, const struct chain *c, const char *s, unsigned how)
{
	char *expr = jx_expr(c, s, how);

	if (expr == NULL)
		ey_text(y, s);
	else
		ey_jstr(y, expr);
	free(expr);
}

/* A value of the demo's that lies in its sandbox: relative to the host's sandbox. */
static void
ey_demo_value(struct ex *x, struct ey *y, const char *v)
{
	size_t n = x->sandbox ? strlen(x->sandbox) : 0;
	struct strbuf sb = {0};

	if (n == 0 || strncmp(v, x->sandbox, n) != 0 || (v[n] != '\0' && v[n] != '/')) {
		ey_text(y, v);
		return;
	}
	sb_adds(&sb, "dstack_demo_sandbox");
	if (v[n] != '\0') {
		sb_adds(&sb, " ~ ");
		jx_literal(&sb, v + n, strlen(v + n));
	}
	ey_jstr(y, sb_str(&sb));
	sb_free(&sb);
}

/* ---------------------------------------------------------------------------------------
 * Where a command runs, and the rules it must keep.
 */

/* Is host (the text between "//" or the start and the port) a loopback name? */
static bool
ex_loopback(const char *h, size_t n)
{
	return (n >= 4 && strncmp(h, "127.", 4) == 0) || (n == 9 && strncmp(h, "localhost", 9) == 0) ||
	    (n == 5 && strncmp(h, "[::1]", 5) == 0) || (n == 3 && strncmp(h, "::1", 3) == 0);
}

/*
 * Does command c run on the operator's machine? As in the wizard: a script where its on:
 * says; a JSON-RPC probe always here; an http: or tcp: probe of a server command on the
 * server when it names a loopback address (the wizard tunnels to it), else here.
 */
static bool
ex_local(const struct command *c)
{
	const char *t, *h, *e;

	if (c->probe == NULL || c->on == PLACE_LOCAL)
		return c->on == PLACE_LOCAL;
	if (c->probe->kind == PROBE_RPC)
		return true;
	t = c->probe->kind == PROBE_HTTP ? c->probe->url : c->probe->target;
	if (t == NULL)
		return true;
	h = strstr(t, "://");
	h = h ? h + 3 : t;
	e = h[0] == '[' ? strchr(h, ']') : NULL;
	e = e ? e + 1 : h + strcspn(h, ":/?#");
	return !ex_loopback(h, (size_t)(e - h));
}

/* Does command c refer to an input that is a secret (or, local_only, that is local-scoped)? */
static const struct input_def *
ex_uses(const struct chain *ch, const struct command *c, bool local_only)
{
	for (size_t i = 0; i < ch->ninputs; i++) {
		const struct input_def *d = &ch->inputs[i];

		if ((local_only ? d->scope == SCOPE_LOCAL : d->secret) && command_uses(c, d->name))
			return d;
	}
	return NULL;
}

/* Is s a name a shell takes as a variable? */
static bool
ex_env_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' ||
		    (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* The rules a step must keep to be exported; -1 with *cause naming the place. */
static int
ex_check_step(struct ex *x, size_t s, char **cause)
{
	const struct step *st = &x->c->steps[s];

	for (size_t r = 0; r < st->nrequires; r++)
		if (st->req[r] > s)
			return set_cause(cause, "%s:%d:%d: %s requires %s, which comes after it in "
			    "the chain: the playbook runs the steps in chain order",
			    st->pos.file, st->pos.line, st->pos.col, st->id, st->requires[r]);
	for (int pass = 0; pass < 2; pass++) {
		const struct command *cmds = pass ? st->action : st->check;
		size_t n = pass ? st->naction : st->ncheck;

		for (size_t k = 0; k < n; k++) {
			const struct command *c = &cmds[k];
			const struct input_def *d;

			if (!vcond_holds(c->when, x->version))
				continue;
			if (!ex_local(c) && (d = ex_uses(x->c, c, true)) != NULL)
				return set_cause(cause, "%s:%d:%d: command runs on the server but "
				    "refers to %s, a local-only input: not exported", c->pos.file,
				    c->pos.line, c->pos.col, d->name);
			for (size_t v = 0; v < c->nenv; v++)
				if (!ex_env_name(c->env[v].name))
					return set_cause(cause, "%s:%d:%d: '%s' is not a variable "
					    "name", c->pos.file, c->pos.line, c->pos.col,
					    c->env[v].name);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------
 * A step's tasks.
 */

struct ex_step {
	struct ex *x;
	const struct step *st;
	char *sid;              /* the id with _ for - */
	bool once;              /* a local step: once for all hosts */
};

/* The keywords every task of the step shares: where it runs. */
static void
ex_where(struct ex_step *xs, struct ey *y, bool local)
{
	if (local) {
		ey_kv_word(y, "delegate_to", "localhost");
	}
	if (xs->once) {
		ey_word(y, "run_once");
		ey_jinja(y, "dstack_local_once");
	}
}

/* Collect the distinct inputs referenced in a script (its environment). */
static void
ex_run_ref(const char *name, size_t len, void *data)
{
	struct strvec *sv = data;
	char *n = xstrndup(name, len);

	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], n) == 0) {
			free(n);
			return;
		}
	sv_push_take(sv, n);
}

/* Add one variable the script reads from its standard input, base64 on the way. */
static void
ex_stdin_var(struct strbuf *cmd, struct strbuf *in, const char *name, const char *expr)
{
	sb_addf(cmd, "IFS= read -r %s || exit 1\n", name);
	sb_addf(cmd, "%s=$(printf '%%s' \"$%s\" | base64 -d) || exit 1\n", name, name);
	sb_addf(cmd, "export %s\n", name);
	if (in->len)
		sb_adds(in, " ~ ");
	sb_addf(in, "((%s) | b64encode) ~ ", expr);
	sb_adds(in, JX_NEWLINE);
}

/*
 * A script command: the shell module. Its environment (the inputs the script names, under
 * their own names as the wizard exports them; its env: entries; its working directory) comes
 * on its standard input, each value base64, ahead of its own stdin: text. Not through the
 * environment keyword: Ansible templates that twice (a value holding {{ would run as code)
 * and puts it on a command line (where a secret would show).
 */
static void
ex_shell(struct ex_step *xs, struct ey *y, const struct command *c)
{
	const struct chain *ch = xs->x->c;
	struct strbuf cmd = {0}, in = {0};
	struct strvec refs = {0};

	chain_refs(c->run, ex_run_ref, &refs);
	for (size_t i = 0; i < refs.n; i++) {
		int idx = chain_input_index(ch, refs.v[i]);
		bool dup = false;
		char *var;

		for (size_t v = 0; v < c->nenv; v++)
			dup = dup || strcmp(c->env[v].name, refs.v[i]) == 0;
		if (idx < 0 || ch->inputs[idx].secret || dup)
			continue;
		var = xprintf("dw_%s | string", refs.v[i]);
		ex_stdin_var(&cmd, &in, refs.v[i], var);
		free(var);
	}
	sv_free(&refs);
	for (size_t v = 0; v < c->nenv; v++) {
		char *expr = jx_expr(ch, c->env[v].value, 0);
		struct strbuf lit = {0};

		if (expr == NULL)
			jx_literal(&lit, c->env[v].value, strlen(c->env[v].value));
		ex_stdin_var(&cmd, &in, c->env[v].name, expr ? expr : sb_str(&lit));
		sb_free(&lit);
		free(expr);
	}
	if (c->cwd != NULL) {
		char *expr = jx_expr(ch, c->cwd, 0);
		struct strbuf lit = {0};

		if (expr == NULL)
			jx_literal(&lit, c->cwd, strlen(c->cwd));
		ex_stdin_var(&cmd, &in, "DW_CWD", expr ? expr : sb_str(&lit));
		sb_free(&lit);
		free(expr);
		sb_adds(&cmd, "case $DW_CWD in \"~\") DW_CWD=$HOME ;; \"~/\"*) "
		    "DW_CWD=$HOME/${DW_CWD#\"~/\"} ;; esac\n");
		sb_adds(&cmd, "cd -- \"$DW_CWD\" || exit 1\nunset DW_CWD\n");
	} else
		sb_adds(&cmd, "cd -- \"$HOME\" || exit 1\n");
	sb_adds(&cmd, c->run);
	if (c->stdin_text != NULL) {
		char *expr = jx_expr(ch, c->stdin_text, 0);
		size_t n = strlen(c->stdin_text);

		if (in.len)
			sb_adds(&in, " ~ ");
		if (expr != NULL)
			sb_addf(&in, "(%s)", expr);
		else
			jx_literal(&in, c->stdin_text, n);
		if (n == 0 || c->stdin_text[n - 1] != '\n')
			sb_adds(&in, " ~ " JX_NEWLINE);
		free(expr);
	}

	ey_word(y, "ansible.builtin.shell");
	ey_map(y);
	ey_word(y, "cmd");
	ey_text(y, sb_str(&cmd));
	ey_kv_word(y, "executable", "/bin/bash");
	if (in.len) {
		ey_word(y, "stdin");
		ey_jstr(y, sb_str(&in));
		ey_kv_word(y, "stdin_add_newline", "false");
	}
	ey_end_map(y);
	sb_free(&cmd);
	sb_free(&in);
}

/* A probe: the dstack_probe module, every field a value. */
static void
ex_probe(struct ex_step *xs, struct ey *y, const struct command *c)
{
	const struct chain *ch = xs->x->c;
	const struct probe *p = c->probe;
	static const char *const kinds[] = { "", "http", "tcp", "rpc" };

#define PV(f, how) do { if (p->f != NULL) { ey_word(y, #f); ey_value(y, ch, p->f, how); } } \
	while (0)
#define PL(f, n) do { if (p->n > 0) { \
	ey_word(y, #f); \
	ey_seq(y, false); \
	for (size_t k = 0; k < p->n; k++) \
		ey_value(y, ch, p->f[k], 0); \
	ey_end_seq(y); } } while (0)
	ey_word(y, "dstack_probe");
	ey_map(y);
	ey_kv_word(y, "kind", kinds[p->kind]);
	PV(url, 0);
	PV(method, 0);
	PV(body, 0);
	PL(headers, nheaders);
	if (p->status) {
		ey_word(y, "status");
		ey_int(y, p->status);
	}
	if (p->insecure)
		ey_kv_word(y, "insecure", "true");
	PL(resolve, nresolve);
	PL(json, njson);
	PV(body_match, JX_REGEX);
	PL(capture_headers, ncapture_headers);
	PV(target, 0);
	PV(call, 0);
	PV(chain_id, 0);
	PV(address, 0);
	PV(min_eth, 0);
	PV(data, 0);
	ey_word(y, "timeout");
	ey_int(y, c->timeout > 0 ? c->timeout : 60);
	ey_end_map(y);
#undef PV
#undef PL
}

/* The name of a command's task: "<id>: <what>: <label or first line>". */
static char *
ex_task_name(const struct step *st, const char *what, const struct command *c, size_t k)
{
	const char *label = c->name;
	char *line = NULL, *name;

	if (label == NULL && c->run != NULL) {
		line = xstrndup(c->run, strcspn(c->run, "\n"));
		if (strlen(line) > 60)
			line[60] = '\0';
		label = line;
	}
	if (label == NULL)
		label = c->probe->kind == PROBE_HTTP ? "http probe" : c->probe->kind == PROBE_TCP ?
		    "tcp probe" : "rpc probe";
	name = xprintf("%s %zu of %s: %s", what, k + 1, st->id, label);
	free(line);
	return name;
}

/* One command's task. kind: 'c' check, 'v' the check again, 'a' action. */
static void
ex_command(struct ex_step *xs, struct ey *y, const struct command *c, size_t k, char kind)
{
	const struct step *st = xs->st;
	char *name, *reg;
	bool local = ex_local(c);
	long timeout = c->timeout > 0 ? c->timeout : kind == 'a' ? 3600 : 60;

	name = ex_task_name(st, kind == 'c' ? "Check" : kind == 'v' ? "Check again" : "Action",
	    c, k);
	ey_map(y);
	ey_name(y, name);
	if (c->probe != NULL)
		ex_probe(xs, y, c);
	else
		ex_shell(xs, y, c);
	reg = xprintf("dstack_%s_%c%zu", xs->sid, kind, k + 1);
	ey_kv_word(y, "register", reg);
	if (kind == 'a')
		ey_kv_word(y, "changed_when", "true");   /* an action that ran changed the host */
	else {
		ey_kv_word(y, "changed_when", "false");
		ey_kv_word(y, "failed_when", "false");
		ey_kv_word(y, "check_mode", "false");
	}
	if (kind != 'c') {
		char *when = xprintf("not dstack_%s_done.done", xs->sid);

		ey_kv_word(y, "when", when);
		free(when);
	}
	ex_where(xs, y, local);
	ey_word(y, "timeout");
	ey_int(y, timeout);
	if (ex_uses(xs->x->c, c, false) != NULL)
		ey_kv_word(y, "no_log", "true");
	ey_end_map(y);
	free(reg);
	free(name);
}

/* The commands of a list that are for the release in use. */
static size_t
ex_cmds(struct ex_step *xs, const struct command *cmds, size_t n, const struct command **out)
{
	size_t m = 0;

	for (size_t k = 0; k < n; k++)
		if (vcond_holds(cmds[k].when, xs->x->version))
			out[m++] = &cmds[k];
	return m;
}

/* The verdict over a check round ('c' or 'v'); must_pass fails the task unless it passed. */
static void
ex_verdict(struct ex_step *xs, struct ey *y, const struct command **cs, size_t n, char kind,
    bool must_pass)
{
	char *s;

	ey_map(y);
	s = xprintf(must_pass ? "The check of %s passes" : "Is %s done?", xs->st->id);
	ey_name(y, s);
	free(s);
	ey_word(y, "dstack_verdict");
	ey_map(y);
	ey_kv_text(y, "step", xs->st->id);
	ey_word(y, "checks");
	ey_seq(y, false);
	for (size_t k = 0; k < n; k++) {
		char *label = ex_task_name(xs->st, "check", cs[k], k);

		ey_map(y);
		ey_kv_text(y, "name", label);
		s = xprintf("dstack_%s_%c%zu", xs->sid, kind, k + 1);
		ey_word(y, "result");
		ey_jinja(y, s);
		free(s);
		if (cs[k]->probe != NULL)
			ey_kv_word(y, "probe", "true");
		if (cs[k]->expect != NULL) {
			ey_word(y, "expect");
			ey_value(y, xs->x->c, cs[k]->expect, JX_REGEX);
		}
		ey_end_map(y);
		free(label);
	}
	ey_end_seq(y);
	if (must_pass)
		ey_kv_word(y, "must_pass", "true");
	ey_end_map(y);
	if (kind == 'c') {
		s = xprintf("dstack_%s_done", xs->sid);
		ey_kv_word(y, "register", s);
		free(s);
	} else {
		s = xprintf("not dstack_%s_done.done", xs->sid);
		ey_kv_word(y, "when", s);
		free(s);
	}
	ex_where(xs, y, false);
	ey_end_map(y);
}

/* The inputs the step uses must be valid before it runs. */
static void
ex_inputs(struct ex_step *xs, struct ey *y)
{
	struct ex *x = xs->x;
	const struct step *st = xs->st;
	size_t s = (size_t)(st - x->c->steps);
	char *t;

	ey_map(y);
	t = xprintf("Inputs of %s", st->id);
	ey_name(y, t);
	free(t);
	ey_word(y, "dstack_inputs");
	ey_map(y);
	ey_kv_text(y, "step", st->id);
	ey_word(y, "inputs");
	ey_seq(y, false);
	for (size_t k = 0; k < st->ninputs; k++) {
		const struct input_def *d = &x->c->inputs[st->inputs[k]];
		struct strbuf sb = {0};

		if (!engine_step_uses(x->e, s, k))
			continue;
		ey_map(y);
		ey_kv_word(y, "name", d->name);
		if (d->optional)
			ey_kv_word(y, "optional", "true");
		if (d->secret) {
			ey_kv_word(y, "secret", "true");
			ey_word(y, "set");
			jx_input(&sb, d);
			sb_adds(&sb, " | length > 0");
			ey_jinja(y, sb_str(&sb));
		} else {
			ey_word(y, "value");
			sb_addf(&sb, "dw_%s | string", d->name);
			ey_jinja(y, sb_str(&sb));
			if (d->pattern != NULL)
				ey_kv_text(y, "pattern", d->pattern);
			if (strcmp(d->name, VERSION_INPUT) == 0 && x->version != NULL) {
				/* The project holds this release's commands only. */
				ey_word(y, "choices");
				ey_seq(y, true);
				ey_text(y, x->version);
				ey_end_seq(y);
			} else if (d->nchoices > 0) {
				ey_word(y, "choices");
				ey_seq(y, true);
				for (size_t i = 0; i < d->nchoices; i++)
					ey_text(y, d->choices[i]);
				ey_end_seq(y);
			}
		}
		sb_free(&sb);
		ey_end_map(y);
	}
	ey_end_seq(y);
	ey_end_map(y);
	ex_where(xs, y, false);
	ey_end_map(y);
}

/* A manual step's checklist: a pause, for the hosts where the step is not done. */
static void
ex_checklist(struct ex_step *xs, struct ey *y)
{
	const struct step *st = xs->st;
	struct strbuf sb = {0};
	char *t;

	sb_addf(&sb, "Manual step %s: %s\n", st->id, st->title);
	for (size_t k = 0; k < st->nchecklist; k++)
		sb_addf(&sb, "  - %s\n", st->checklist[k]);
	sb_adds(&sb, "Do this on every host where the step is not done, then press Enter "
	    "(Ctrl-C, then A, stops the playbook)");
	ey_map(y);
	t = xprintf("Checklist of %s", st->id);
	ey_name(y, t);
	free(t);
	ey_word(y, "ansible.builtin.pause");
	ey_map(y);
	ey_kv_text(y, "prompt", sb_str(&sb));
	ey_end_map(y);
	t = xprintf("ansible_play_hosts | map('extract', hostvars, 'dstack_%s_done') | "
	    "map(attribute='done') | reject | list | length > 0", xs->sid);
	ey_kv_word(y, "when", t);
	free(t);
	ey_word(y, "tags");
	ey_seq(y, true);
	ey_word(y, "checklist");
	ey_end_seq(y);
	ey_end_map(y);
	sb_free(&sb);
}

/* The captures of the action so far, after action command k. */
static void
ex_capture(struct ex_step *xs, struct ey *y, size_t k)
{
	const struct step *st = xs->st;
	const struct chain *ch = xs->x->c;
	char *t;

	ey_map(y);
	t = xprintf("Capture after action %zu of %s", k + 1, st->id);
	ey_name(y, t);
	free(t);
	ey_word(y, "dstack_capture");
	ey_map(y);
	ey_kv_text(y, "step", st->id);
	ey_word(y, "results");
	ey_seq(y, false);
	for (size_t i = 0; i <= k; i++) {
		t = xprintf("dstack_%s_a%zu", xs->sid, i + 1);
		ey_jinja(y, t);
		free(t);
	}
	ey_end_seq(y);
	ey_word(y, "captures");
	ey_seq(y, false);
	for (size_t i = 0; i < st->ncaptures; i++) {
		const struct capture *cp = &st->captures[i];
		int idx = chain_input_index(ch, cp->name);

		if (!vcond_holds(cp->when, xs->x->version))
			continue;
		ey_map(y);
		ey_kv_word(y, "name", cp->name);
		ey_kv_text(y, "regex", cp->regex);
		if (idx >= 0 && ch->inputs[idx].pattern != NULL)
			ey_kv_text(y, "pattern", ch->inputs[idx].pattern);
		ey_end_map(y);
	}
	ey_end_seq(y);
	ey_end_map(y);
	t = xprintf("not dstack_%s_done.done", xs->sid);
	ey_kv_word(y, "when", t);
	free(t);
	ex_where(xs, y, false);
	ey_end_map(y);
}

/* On any failure: the step's hints that match what the failed task printed. */
static void
ex_hints(struct ex_step *xs, struct ey *y)
{
	const struct step *st = xs->st;
	char *t;

	ey_map(y);
	t = xprintf("Failure of %s", st->id);
	ey_name(y, t);
	free(t);
	ey_word(y, "dstack_hints");
	ey_map(y);
	ey_kv_text(y, "step", st->id);
	ey_word(y, "result");
	ey_jinja(y, "ansible_failed_result");
	ey_word(y, "hints");
	ey_seq(y, false);
	for (size_t i = 0; i < st->nhints; i++) {
		const struct hint *h = &st->hints[i];

		if (!vcond_holds(h->when, xs->x->version))
			continue;
		ey_map(y);
		ey_kv_text(y, "match", h->match);
		ey_kv_text(y, "say", h->say);
		if (h->fix != NULL)
			ey_kv_text(y, "fix", h->fix);
		ey_end_map(y);
	}
	ey_end_seq(y);
	ey_end_map(y);
	ey_end_map(y);
}

/* Write steps/NN-<id>.yml. */
static int
ex_step_file(struct ex *x, size_t s, char **cause)
{
	const struct step *st = &x->c->steps[s];
	const struct command **checks = xcalloc(st->ncheck + 1, sizeof *checks);
	const struct command **acts = xcalloc(st->naction + 1, sizeof *acts);
	struct ex_step xs = { x, st, xstrdup(st->id), st->place == PLACE_LOCAL };
	size_t nc, na, ncap = 0;
	struct ey y;
	char *path, *head, *t;
	int rc;

	for (char *p = xs.sid; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
	for (size_t i = 0; i < st->ncaptures; i++)
		if (vcond_holds(st->captures[i].when, x->version))
			ncap++;
	nc = ex_cmds(&xs, st->check, st->ncheck, checks);
	na = ex_cmds(&xs, st->action, st->naction, acts);
	path = xprintf("%s/steps/%02zu-%s.yml", x->dir, s + 1, st->id);
	head = xprintf("# %s: %s (%s step; from %s, dstack %s). Written by dstack-wizard export "
	    "ansible:\n# edit the step file and export again rather than this file.\n", st->id,
	    st->title, place_name(st->place), st->file, x->version ? x->version : "any");
	rc = ey_open(&y, path, head, cause);
	free(head);
	free(path);
	if (rc != 0)
		goto out;
	ey_seq(&y, false);
	ey_map(&y);
	t = xprintf("Step %s: %s", st->id, st->title);
	ey_name(&y, t);
	free(t);
	if (x->demo_env != NULL) {
		ey_word(&y, "environment");
		ey_map(&y);
		ey_kv_text(&y, "DEMO_STEP", st->id);
		ey_end_map(&y);
	}
	ey_word(&y, "block");
	ey_seq(&y, false);
	ex_inputs(&xs, &y);
	for (size_t k = 0; k < nc; k++)
		ex_command(&xs, &y, checks[k], k, 'c');
	if (na == 0 && st->place != PLACE_MANUAL)
		ex_verdict(&xs, &y, checks, nc, 'c', true);
	else {
		ex_verdict(&xs, &y, checks, nc, 'c', false);
		if (st->place == PLACE_MANUAL)
			ex_checklist(&xs, &y);
		for (size_t k = 0; k < na; k++) {
			ex_command(&xs, &y, acts[k], k, 'a');
			if (ncap > 0)
				ex_capture(&xs, &y, k);
		}
		for (size_t k = 0; k < nc; k++)
			ex_command(&xs, &y, checks[k], k, 'v');
		ex_verdict(&xs, &y, checks, nc, 'v', true);
	}
	ey_end_seq(&y);
	ey_word(&y, "rescue");
	ey_seq(&y, false);
	ex_hints(&xs, &y);
	ey_end_seq(&y);
	ey_end_map(&y);
	ey_end_seq(&y);
	rc = ey_close(&y, cause);
out:
	free(xs.sid);
	free(checks);
	free(acts);
	return rc;
}

/* ---------------------------------------------------------------------------------------
 * The project's other files.
 */

/* Write a text file of the exporter's own. */
static int
ex_write(struct ex *x, const char *rel, const char *text, char **cause)
{
	char *path = xprintf("%s/%s", x->dir, rel);
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (f == NULL || fputs(text, f) == EOF)
		rc = set_cause(cause, "%s: %s", path, strerror(errno));
	if (f != NULL && fclose(f) != 0 && rc == 0)
		rc = set_cause(cause, "%s: %s", path, strerror(errno));
	free(path);
	return rc;
}

/* Copy assets/ansible/<rel> into the project. */
static int
ex_copy(struct ex *x, const char *rel, char **cause)
{
	char *src = xprintf("%s/ansible/%s", engine_datadir(), rel), *text = NULL;
	size_t len;
	int rc;

	if (read_file(src, 1 << 20, &text, &len, cause) != 0) {
		free(src);
		return -1;
	}
	free(src);
	rc = ex_write(x, rel, text, cause);
	free(text);
	return rc;
}

/* site.yml: one play per section, its steps imported in chain order. */
static int
ex_site(struct ex *x, char **cause)
{
	char *path = xprintf("%s/site.yml", x->dir), *t;
	struct ey y;
	bool first = true;
	int rc;

	rc = ey_open(&y, path, "# The chain, one play per section in walking order, one task file "
	    "per step (steps/).\n# Written by dstack-wizard export ansible; see README.md.\n", cause);
	free(path);
	if (rc != 0)
		return -1;
	ey_seq(&y, false);
	for (size_t sec = 0; sec < x->c->nsections; sec++) {
		const struct section *se = &x->c->sections[sec];
		bool any = false;

		for (size_t s = 0; s < x->c->nsteps; s++)
			any = any || x->c->steps[s].section == sec;
		if (!any)
			continue;
		ey_map(&y);
		t = xprintf("Section %s: %s", se->id, se->title);
		ey_name(&y, t);
		free(t);
		ey_kv_word(&y, "hosts", "tdx_hosts");
		ey_kv_word(&y, "gather_facts", "false");
		ey_word(&y, "tags");
		ey_seq(&y, true);
		ey_word(&y, se->id);
		ey_end_seq(&y);
		if (x->demo_env != NULL) {
			ey_word(&y, "environment");
			ey_map(&y);
			for (char **v = x->demo_env; *v != NULL; v++) {
				char *name = xstrndup(*v, strcspn(*v, "="));

				if (strcmp(name, "DEMO_STEP") != 0) {
					ey_word(&y, name);
					ey_demo_value(x, &y, *v + strlen(name) + 1);
				}
				free(name);
			}
			ey_end_map(&y);
		}
		ey_word(&y, "tasks");
		ey_seq(&y, false);
		if (first && x->version != NULL && chain_input_index(x->c, VERSION_INPUT) >= 0) {
			ey_map(&y);
			ey_name(&y, "The project is for this release");
			ey_word(&y, "dstack_inputs");
			ey_map(&y);
			ey_kv_text(&y, "step", "the project");
			ey_word(&y, "inputs");
			ey_seq(&y, false);
			ey_map(&y);
			ey_kv_word(&y, "name", VERSION_INPUT);
			ey_word(&y, "value");
			ey_jinja(&y, "dw_" VERSION_INPUT " | string");
			ey_word(&y, "choices");
			ey_seq(&y, true);
			ey_text(&y, x->version);
			ey_end_seq(&y);
			ey_end_map(&y);
			ey_end_seq(&y);
			ey_end_map(&y);
			ey_word(&y, "tags");
			ey_seq(&y, true);
			ey_word(&y, "always");
			ey_end_seq(&y);
			ey_end_map(&y);
		}
		first = false;
		for (size_t s = 0; s < x->c->nsteps; s++) {
			const struct step *st = &x->c->steps[s];

			if (st->section != sec)
				continue;
			ey_map(&y);
			t = xprintf("Step %s: %s", st->id, st->title);
			ey_name(&y, t);
			free(t);
			t = xprintf("steps/%02zu-%s.yml", s + 1, st->id);
			ey_kv_text(&y, "ansible.builtin.import_tasks", t);
			free(t);
			ey_word(&y, "tags");
			ey_seq(&y, true);
			ey_word(&y, st->id);
			ey_end_seq(&y);
			ey_end_map(&y);
		}
		ey_end_seq(&y);
		ey_end_map(&y);
	}
	ey_end_seq(&y);
	return ey_close(&y, cause);
}

/* group_vars/all/dstack-inputs.yml: every non-secret input, dw_<name>. */
static int
ex_inputs_file(struct ex *x, char **cause)
{
	char *path = xprintf("%s/group_vars/all/dstack-inputs.yml", x->dir);
	struct ey y;
	int rc;

	rc = ey_open(&y, path, "# The inputs of the chain, from the profile the project was "
	    "exported from: a value set\n# or captured there, else the chain's default (which "
	    "follows the inputs it names).\n# Set a host's own values in the inventory (they win "
	    "over these). Secrets are not\n# here: the playbook reads DSTACK_WIZARD_<NAME> from "
	    "its environment, or dw_<name>\n# from a vault file (README.md). Written by "
	    "dstack-wizard export ansible.\n", cause);
	free(path);
	if (rc != 0)
		return -1;
	ey_map(&y);
	for (size_t i = 0; i < x->c->ninputs; i++) {
		const struct input_def *d = &x->c->inputs[i];
		struct input_value iv;
		const char *def;
		char *var;

		if (d->secret)
			continue;
		engine_input(x->e, i, &iv);
		var = xprintf("dw_%s", d->name);
		ey_word(&y, var);
		free(var);
		def = chain_input_default(d, x->version);
		if (iv.source == SRC_DEFAULT || (iv.source == SRC_NONE && def != NULL))
			ey_value(&y, x->c, def, 0);
		else if (iv.value != NULL)
			ey_demo_value(x, &y, iv.value);
		else
			ey_text(&y, "");
		input_value_clear(&iv);
	}
	ey_end_map(&y);
	return ey_close(&y, cause);
}

/* group_vars/all/dstack-settings.yml: how the playbook runs. */
static int
ex_settings(struct ex *x, char **cause)
{
	char *path = xprintf("%s/group_vars/all/dstack-settings.yml", x->dir);
	struct ey y;
	int rc;

	rc = ey_open(&y, path, x->sandbox ? "# How the playbook runs (README.md). A --demo export: "
	    "every demo host is a world of its\n# own (its sandbox, with its own simulated chain and "
	    "operator's home), so the local\n# steps run for each host, in its sandbox. Set "
	    "dstack_demo_sandbox per host in the inventory.\n" : "# How the playbook runs "
	    "(README.md). Written by dstack-wizard export ansible.\n", cause);
	free(path);
	if (rc != 0)
		return -1;
	ey_map(&y);
	/* Modules get their arguments (secrets on stdin among them) through a pipe, never a
	 * file on the host. */
	ey_kv_word(&y, "ansible_pipelining", "true");
	ey_kv_word(&y, "dstack_local_once", x->sandbox ? "false" : "true");
	if (x->sandbox != NULL)
		ey_kv_text(&y, "dstack_demo_sandbox", x->sandbox);
	ey_end_map(&y);
	return ey_close(&y, cause);
}

/* The value of input name in the profile (allocated), or NULL. */
static char *
ex_value(struct ex *x, const char *name)
{
	int idx = chain_input_index(x->c, name);
	struct input_value iv;
	char *v;

	if (idx < 0)
		return NULL;
	engine_input(x->e, (size_t)idx, &iv);
	v = iv.value;
	iv.value = NULL;
	input_value_clear(&iv);
	return v;
}

/* inventory.example.yml: the tdx_hosts group, with the profile's server. */
static int
ex_inventory(struct ex *x, char **cause)
{
	char *path = xprintf("%s/inventory.example.yml", x->dir);
	char *ip = ex_value(x, "server_ip"), *user = ex_value(x, "ssh_user");
	char *port = ex_value(x, "ssh_port");
	struct ey y;
	int rc;

	rc = ey_open(&y, path, "# Copy to inventory.yml and list your TDX hosts under tdx_hosts. "
	    "A host's own inputs\n# (dw_server_ip, dw_base_domain, ...) go with it; see "
	    "group_vars/all/dstack-inputs.yml.\n", cause);
	free(path);
	if (rc == 0) {
		ey_map(&y);
		ey_word(&y, "tdx_hosts");
		ey_map(&y);
		ey_word(&y, "hosts");
		ey_map(&y);
		ey_word(&y, "tdx1");
		ey_map(&y);
		ey_kv_text(&y, "ansible_host", ip && *ip ? ip : "192.0.2.10");
		ey_kv_text(&y, "ansible_user", user && *user ? user : "ubuntu");
		ey_word(&y, "ansible_port");
		ey_int(&y, port && *port ? strtol(port, NULL, 10) : 22);
		if (ip && *ip)
			ey_kv_text(&y, "dw_server_ip", ip);
		if (x->sandbox != NULL)
			ey_kv_text(&y, "dstack_demo_sandbox", x->sandbox);
		ey_end_map(&y);
		ey_end_map(&y);
		ey_end_map(&y);
		ey_end_map(&y);
		rc = ey_close(&y, cause);
	}
	free(ip);
	free(user);
	free(port);
	return rc;
}

static const char ex_cfg[] =
"# Run ansible-playbook from this directory, so that this file applies.\n"
"[defaults]\n"
"library = library\n"
"module_utils = module_utils\n"
"action_plugins = action_plugins\n"
"retry_files_enabled = False\n"
"interpreter_python = auto_silent\n"
"\n"
"[ssh_connection]\n"
"# Module arguments (a secret a command reads on stdin among them) go through a pipe,\n"
"# never into a file on the host.\n"
"pipelining = True\n";

/* The YAML style of the files (libyaml's emitter does not indent a list in a mapping; the
 * scripts keep the chain's lines), for yamllint and ansible-lint. */
static const char ex_yamllint[] =
"# Written by dstack-wizard export ansible: the style of its YAML files.\n"
"extends: default\n"
"rules:\n"
"  indentation:\n"
"    indent-sequences: consistent\n"
"  line-length: disable\n"
"  comments-indentation: disable\n";

/* ansible-lint: the chain's scripts are tagged !unsafe (never templated), but ansible-lint
 * 6 reads them as templates and reports bash's ${#x} as broken Jinja2. */
static const char ex_ansible_lint[] =
"# Written by dstack-wizard export ansible. The scripts from the chain are tagged !unsafe,\n"
"# so Ansible never templates them; ansible-lint does not see the tag and would report\n"
"# bash's ${#x} or {% as broken Jinja2.\n"
"skip_list:\n"
"  - jinja[invalid]\n";

/* README.md of the project. */
static int
ex_readme(struct ex *x, char **cause)
{
	struct strbuf sb = {0};
	int rc;

	sb_addf(&sb, "# %s: the Ansible project\n\n", x->c->title ? x->c->title : "The chain");
	sb_addf(&sb, "Written by `dstack-wizard export ansible` from its chain of steps, for "
	    "dstack %s: only the commands,\ncaptures and hints of that release are here. Do not "
	    "edit the step files; change the\nchain and export again (the files you add, "
	    "`inventory.yml` and `host_vars/`, stay).\n\n", x->version ? x->version : "(any)");
	sb_adds(&sb,
"```sh\n"
"cp inventory.example.yml inventory.yml        # your TDX hosts, under tdx_hosts\n"
"export DSTACK_WIZARD_PRIVATE_KEY=...          # the secrets, from the environment\n"
"ansible-playbook -i inventory.yml site.yml --skip-tags checklist\n"
"```\n\n"
"Run it from this directory (`ansible.cfg` turns pipelining on: module arguments go\n"
"through a pipe, never into a file on a host). `site.yml` has one play per section of the\n"
"chain, in order, and one task file per step under `steps/`. Every step is tagged with its\n"
"section and its id: `--tags kms` runs the KMS section, `--tags kms-cvm-deployment` one\n"
"step, `--limit HOST` one host.\n\n"
"## What a step does\n\n"
"1. Its inputs must be valid (set, one of its choices, matching its pattern).\n"
"2. Its check runs, read-only: every check command (`changed_when: false`,\n"
"   `failed_when: false`), then the verdict (the same as dstack-wizard's: every script\n"
"   exits 0 and matches its expected output, every probe holds).\n"
"3. Only when the check failed: a manual step shows its checklist (a pause, tagged\n"
"   `checklist`; skip it with `--skip-tags checklist` in unattended runs), then the action\n"
"   runs, command by command, stopping at the first failure; what it captures (contract\n"
"   addresses, app and VM ids) becomes the variables `dw_<name>` of the later steps and is\n"
"   kept in `host_vars/<host>/dstack-captured.yml` for the next runs.\n"
"4. The check runs again and must pass. A failure shows the step's known causes (hints).\n\n"
"So a second run changes nothing (`changed=0`), and `dstack-wizard check` agrees with the\n"
"playbook on what is done. Local steps (contracts, the wallet) run on the controller\n"
"(`delegate_to: localhost`), once for all hosts (`dstack_local_once`); a server step's\n"
"commands run on each host. Requirements between steps are kept by the order of the plays.\n\n"
"## Inputs and secrets\n\n"
"`group_vars/all/dstack-inputs.yml` holds the profile's inputs as `dw_<name>`; set a host's\n"
"own (`dw_server_ip`, `dw_base_domain`, ...) in the inventory. Secrets are never in a file of\n"
"this project: a task reads `DSTACK_WIZARD_<NAME>` from the environment of\n"
"ansible-playbook (as dstack-wizard does), or `dw_<name>` from a vault file of yours\n"
"(`ansible-vault create secrets.yml`, then `-e @secrets.yml --ask-vault-pass`). Every task\n"
"that uses one has `no_log: true`, gets it on its standard input (never in its environment\n"
"or command line), and the private key, a local-only input, is used only by tasks on\n"
"localhost.\n\n"
"Secrets of this chain:");
	for (size_t i = 0; i < x->c->ninputs; i++)
		if (x->c->inputs[i].secret)
			sb_addf(&sb, " `DSTACK_WIZARD_%s`%s", x->c->inputs[i].name,
			    x->c->inputs[i].scope == SCOPE_LOCAL ? " (local only)" : "");
	sb_adds(&sb, " (upper case).\n\n"
"## Files\n\n"
"- `library/dstack_probe.py`: the wizard's `http:`, `tcp:` and `rpc:` probes, with its JSON\n"
"  assertions (`module_utils/dstack_wizard.py`, also its regular expressions).\n"
"- `action_plugins/`: `dstack_inputs`, `dstack_verdict`, `dstack_capture`, `dstack_hints`,\n"
"  run on the controller.\n");
	if (x->sandbox != NULL)
		sb_adds(&sb, "\nThis is a `--demo` export: the plays carry the demo host's "
		    "environment, and every host is a\ndemo sandbox of its own "
		    "(`dstack_demo_sandbox`), so the local steps run for each host.\n");
	rc = ex_write(x, "README.md", sb_str(&sb), cause);
	sb_free(&sb);
	return rc;
}

/* Make dir ready: created, or an earlier export (whose step files go); else refused. */
static int
ex_prepare(struct ex *x, char **cause)
{
	char *marker = xprintf("%s/%s", x->dir, EXPORT_MARKER), *steps;
	struct dirent *de;
	bool empty = true;
	DIR *d;
	int rc = 0;

	if ((d = opendir(x->dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				empty = false;
		closedir(d);
		if (!empty && access(marker, F_OK) != 0)
			rc = set_cause(cause, "%s holds files that are not an export of "
			    "dstack-wizard's: give an empty or a new directory", x->dir);
	} else if (errno != ENOENT)
		rc = set_cause(cause, "%s: %s", x->dir, strerror(errno));
	free(marker);
	if (rc != 0)
		return -1;
	steps = xprintf("%s/steps", x->dir);
	if ((d = opendir(steps)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (str_has_suffix(de->d_name, ".yml")) {
				char *p = xprintf("%s/%s", steps, de->d_name);

				unlink(p);
				free(p);
			}
		closedir(d);
	}
	free(steps);
	static const char *const dirs[] = { "", "/steps", "/group_vars/all", "/library",
	    "/module_utils", "/action_plugins" };
	for (size_t i = 0; i < nitems(dirs) && rc == 0; i++) {
		char *p = xprintf("%s%s", x->dir, dirs[i]);

		rc = mkdir_p(p, 0755, cause);
		free(p);
	}
	if (rc == 0)
		rc = ex_write(x, EXPORT_MARKER, "dstack-wizard export ansible\n", cause);
	return rc;
}

/* Export the chain as an Ansible project. */
int
export_ansible(struct engine *e, const char *dir, char **cause)
{
	struct ex x = { .e = e, .c = engine_chain(e) };
	int rc = 0;

	x.version = chain_input_index(x.c, VERSION_INPUT) >= 0 ? engine_version(e) : NULL;
	x.dir = xstrdup(dir);
	if (engine_demo(e) != NULL) {
		x.sandbox = xstrdup(demo_sandbox(engine_demo(e)));
		x.demo_env = demo_env(engine_demo(e), "");
	}
	for (size_t s = 0; s < x.c->nsteps && rc == 0; s++)
		rc = ex_check_step(&x, s, cause);
	if (rc == 0)
		rc = ex_prepare(&x, cause);
	for (size_t s = 0; s < x.c->nsteps && rc == 0; s++)
		rc = ex_step_file(&x, s, cause);
	if (rc == 0)
		rc = ex_site(&x, cause);
	if (rc == 0)
		rc = ex_inputs_file(&x, cause);
	if (rc == 0)
		rc = ex_settings(&x, cause);
	if (rc == 0)
		rc = ex_inventory(&x, cause);
	if (rc == 0)
		rc = ex_write(&x, "ansible.cfg", ex_cfg, cause);
	if (rc == 0)
		rc = ex_write(&x, ".yamllint", ex_yamllint, cause);
	if (rc == 0)
		rc = ex_write(&x, ".ansible-lint", ex_ansible_lint, cause);
	if (rc == 0)
		rc = ex_readme(&x, cause);
	for (size_t i = 0; i < nitems(export_assets) && rc == 0; i++)
		rc = ex_copy(&x, export_assets[i], cause);
	if (x.demo_env != NULL) {
		for (char **v = x.demo_env; *v != NULL; v++)
			free(*v);
		free(x.demo_env);
	}
	free(x.sandbox);
	free(x.version);
	free(x.dir);
	return rc;
}
