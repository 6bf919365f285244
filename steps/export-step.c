/*
 * export-step.c: the task file of one step for `export ansible` (steps/NN-<id>.yml), and
 * the rules a step must keep to be exported (where each command runs, which inputs it may
 * name there).
 */
#include "config.h"

#include "export-int.h"

#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "demo.h"
#include "engine.h"
#include "util.h"

/* A value of the demo's that lies in its sandbox: relative to the host's sandbox. */
void
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
int
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
int
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
