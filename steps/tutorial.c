/*
 * tutorial.c: the chain as a tutorial, from the same step files the wizard walks: index.md
 * (the sections, each step's page, the inputs) and one <step id>.md per step, for the release
 * in use (only the commands, captures and hints whose version: holds for it). A page says
 * what the step is for (its guide), what must be done first (linked), the inputs it uses,
 * each command as it is written (${placeholders}), how to verify it (each check in words and
 * as a command), and every known failure (symptom, cause, fix).
 *
 * With values, the ${name} of each input that has a value in the profile is filled in; a
 * secret's never is (its ${name} stays), and the pages go through engine_redact as well.
 */
#include "config.h"

#include "docs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "probe.h"
#include "util.h"

struct tutorial {
	struct engine *e;
	const struct chain *c;
	char *version;          /* the release in use, or NULL */
	bool values;
	char **shown;           /* per input: the value to fill in, or NULL to keep ${name} */
};

/* s with every ${name} that has a value to show filled in (allocated). */
static char *
tut_fill(const struct tutorial *t, const char *s)
{
	struct strbuf sb = {0};
	const char *p = s;

	if (s == NULL)
		return NULL;
	while (*p != '\0') {
		const char *q = p + 2;
		int idx;

		if (p[0] != '$' || p[1] != '{' || !(*q >= 'a' && *q <= 'z')) {
			sb_addc(&sb, *p++);
			continue;
		}
		while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_')
			q++;
		if (*q == '}') {
			char *name = xstrndup(p + 2, (size_t)(q - p - 2));

			idx = chain_input_index(t->c, name);
			free(name);
			if (idx >= 0 && t->shown[idx] != NULL) {
				sb_adds(&sb, t->shown[idx]);
				p = q + 1;
				continue;
			}
		}
		sb_addc(&sb, *p++);
	}
	return sb_detach(&sb);
}

/* Write text (redacted) as dir/name. */
static int
tut_write(const struct tutorial *t, const char *dir, const char *name, const struct strbuf *sb,
    char **cause)
{
	char *path = xprintf("%s/%s", dir, name), *text;
	size_t len;
	FILE *f;
	int rc = 0;

	text = engine_redact(t->e, sb->s != NULL ? sb->s : "", sb->len, &len);
	f = fopen(path, "w");
	if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		rc = set_cause(cause, "cannot write %s: %s", path, strerror(errno));
		if (f != NULL)
			fclose(f);
	}
	free(text);
	free(path);
	return rc;
}

/* A link to step s's page: [id](id.md). */
static void
tut_link(struct strbuf *sb, const struct step *st)
{
	sb_addf(sb, "[%s](%s.md)", st->id, st->id);
}

/* What a step's effects mean, as a sentence (or nothing). */
static void
tut_effects(struct strbuf *sb, unsigned effects)
{
	static const struct {
		unsigned bit;
		const char *words;
	} list[] = {
		{ EFFECT_SUDO, "runs commands as root (sudo)" },
		{ EFFECT_TRANSACTION, "sends blockchain transactions (it costs gas)" },
		{ EFFECT_REBOOT, "reboots the server" },
		{ EFFECT_LONG, "takes many minutes" },
	};
	bool first = true;

	for (size_t i = 0; i < nitems(list); i++) {
		if (!(effects & list[i].bit))
			continue;
		sb_adds(sb, first ? "Its action " : ", ");
		sb_adds(sb, list[i].words);
		first = false;
	}
	if (!first)
		sb_adds(sb, ".\n\n");
}

/* The inputs a step uses: a table. */
static void
tut_inputs(const struct tutorial *t, struct strbuf *sb, const struct step *st)
{
	if (st->ninputs == 0)
		return;
	sb_addf(sb, "## Inputs\n\n| Input | What it is | Type | %s |\n|---|---|---|---|\n",
	    t->values ? "Value" : "Default");
	for (size_t k = 0; k < st->ninputs; k++) {
		const struct input_def *d = &t->c->inputs[st->inputs[k]];
		const char *def = chain_input_default(d, t->version);

		if (!engine_step_uses(t->e, (size_t)(st - t->c->steps), k))
			continue;
		sb_adds(sb, "| ");
		md_code(sb, d->name, true);
		sb_adds(sb, " | ");
		md_text(sb, d->label);
		if (d->help != NULL) {
			sb_adds(sb, ": ");
			md_text(sb, d->help);
		}
		sb_adds(sb, " | ");
		md_text(sb, input_type_name(d->type));
		if (d->secret && d->type != IT_SECRET)
			sb_adds(sb, ", secret");
		if (d->secret && d->scope == SCOPE_LOCAL)
			sb_adds(sb, ", never leaves this machine");
		if (d->optional)
			sb_adds(sb, ", optional");
		sb_adds(sb, " | ");
		if (t->values && t->shown[st->inputs[k]] != NULL)
			md_code(sb, t->shown[st->inputs[k]], true);
		else if (t->values && d->secret)
			sb_adds(sb, "(secret: give it when asked)");
		else if (!t->values && def != NULL)
			md_code(sb, def, true);
		else
			sb_adds(sb, t->values ? "(not set)" : "");
		sb_adds(sb, " |\n");
	}
	sb_adds(sb, "\n");
}

/* Where a command runs, in words. */
static const char *
tut_on(const struct command *c)
{
	return c->on == PLACE_SERVER ? "on the server" : "on this machine";
}

/* One command of the action: its label, where, how, and the script or probe. */
static void
tut_command(const struct tutorial *t, struct strbuf *sb, size_t n, const struct command *c)
{
	char *v;

	sb_addf(sb, "%zu. ", n);
	if (c->name != NULL) {
		sb_adds(sb, "**");
		md_text(sb, c->name);
		sb_adds(sb, "**, ");
	}
	sb_adds(sb, tut_on(c));
	if (c->cwd != NULL) {
		sb_adds(sb, ", in ");
		v = tut_fill(t, c->cwd);
		md_code(sb, v, false);
		free(v);
	}
	if (c->timeout > 0)
		sb_addf(sb, ", for at most %d s", c->timeout);
	sb_adds(sb, ":\n\n");
	if (c->probe != NULL) {
		char *d = probe_describe(c->probe);

		v = tut_fill(t, d);
		sb_adds(sb, "   The wizard itself: ");
		md_code(sb, v, false);
		sb_adds(sb, "\n\n");
		free(v);
		free(d);
	} else {
		v = tut_fill(t, c->run);
		md_block(sb, "bash", v);
		free(v);
	}
	for (size_t k = 0; k < c->nenv; k++) {
		sb_adds(sb, k == 0 ? "   With the environment " : ", ");
		v = tut_fill(t, c->env[k].value);
		sb_addf(sb, "`%s`=", c->env[k].name);
		md_code(sb, v, false);
		free(v);
	}
	if (c->nenv > 0)
		sb_adds(sb, ".\n\n");
	if (c->stdin_text != NULL) {
		sb_adds(sb, "   Its standard input: ");
		v = tut_fill(t, c->stdin_text);
		md_code(sb, v, false);
		free(v);
		sb_adds(sb, "\n\n");
	}
}

/* One check, in words and as its command. */
static void
tut_check(const struct tutorial *t, struct strbuf *sb, const struct command *c)
{
	char *v;

	sb_adds(sb, "- ");
	if (c->name != NULL) {
		sb_adds(sb, "**");
		md_text(sb, c->name);
		sb_adds(sb, "**: ");
	}
	if (c->probe != NULL) {
		char *d = probe_describe(c->probe);

		v = tut_fill(t, d);
		sb_addf(sb, "the wizard asks, %s, ", tut_on(c));
		md_code(sb, v, false);
		sb_adds(sb, "; it passes when every condition named there holds.\n\n");
		free(v);
		free(d);
		return;
	}
	sb_addf(sb, "run %s; it passes when it exits 0", tut_on(c));
	if (c->expect != NULL) {
		sb_adds(sb, " and its output matches ");
		v = tut_fill(t, c->expect);
		md_code(sb, v, false);
		free(v);
	}
	sb_adds(sb, ":\n\n");
	v = tut_fill(t, c->run);
	md_block(sb, "bash", v);
	free(v);
}

/* A step's page. */
static void
tut_page(const struct tutorial *t, struct strbuf *sb, size_t i)
{
	const struct step *st = &t->c->steps[i];
	char *where = engine_where(t->e, i);
	size_t n;

	sb_addf(sb, "# %s\n\n[Index](index.md) · ", st->title);
	md_text(sb, t->c->sections[st->section].title);
	sb_addf(sb, " · step %zu of %zu", i + 1, t->c->nsteps);
	if (i > 0) {
		sb_adds(sb, " · previous: ");
		tut_link(sb, &t->c->steps[i - 1]);
	}
	if (i + 1 < t->c->nsteps) {
		sb_adds(sb, " · next: ");
		tut_link(sb, &t->c->steps[i + 1]);
	}
	sb_addf(sb, "\n\nStep `%s`, for dstack %s. Where: ", st->id,
	    t->version != NULL ? t->version : "(any release)");
	md_text(sb, where);
	sb_adds(sb, ".\n\n");
	free(where);
	if (st->summary != NULL) {
		md_text(sb, st->summary);
		sb_adds(sb, "\n\n");
	}
	if (st->guide != NULL)
		sb_addf(sb, "## What and why\n\n%s\n", st->guide);
	sb_adds(sb, "## Before you start\n\n");
	if (st->nrequires == 0)
		sb_adds(sb, "Nothing: this step can be done first.\n\n");
	for (size_t k = 0; k < st->nrequires; k++) {
		const struct step *r = &t->c->steps[st->req[k]];

		sb_adds(sb, "- ");
		tut_link(sb, r);
		sb_adds(sb, ": ");
		md_text(sb, r->title);
		sb_adds(sb, "\n");
	}
	if (st->nrequires > 0)
		sb_adds(sb, "\n");
	tut_inputs(t, sb, st);
	if (st->nchecklist > 0) {
		sb_adds(sb, "## By hand\n\n");
		for (size_t k = 0; k < st->nchecklist; k++) {
			sb_adds(sb, "- [ ] ");
			md_text(sb, st->checklist[k]);
			sb_adds(sb, "\n");
		}
		sb_adds(sb, "\n");
	}
	n = 0;
	for (size_t k = 0; k < st->naction; k++) {
		if (!vcond_holds(st->action[k].when, t->version))
			continue;
		if (n == 0) {
			sb_adds(sb, "## What it does\n\n");
			tut_effects(sb, st->effects);
		}
		tut_command(t, sb, ++n, &st->action[k]);
	}
	n = 0;
	for (size_t k = 0; k < st->ncaptures; k++) {
		const struct capture *cp = &st->captures[k];

		if (!vcond_holds(cp->when, t->version))
			continue;
		if (n++ == 0)
			sb_adds(sb, "## What it captures\n\nFrom the action's output, for the steps "
			    "after it:\n\n");
		sb_adds(sb, "- ");
		md_code(sb, cp->name, false);
		sb_adds(sb, ": the first group of ");
		md_code(sb, cp->regex, false);
		sb_adds(sb, " in the last line that matches\n");
	}
	if (n > 0)
		sb_adds(sb, "\n");
	n = 0;
	for (size_t k = 0; k < st->nreplace; k++) {
		if (!vcond_holds(st->replace[k].when, t->version))
			continue;
		if (n == 0) {
			sb_adds(sb, "## Replacing what it deployed\n\nWhat the action deploys is made "
			    "from ");
			for (size_t m = 0; m < st->nmade_from; m++) {
				sb_adds(sb, m == 0 ? "" : m + 1 == st->nmade_from ? " and " : ", ");
				md_code(sb, t->c->inputs[st->made_from[m]].name, false);
			}
			sb_adds(sb, ". When one of them has changed since, the action would keep what "
			    "is deployed; `dstack-wizard run ");
			sb_adds(sb, st->id);
			sb_adds(sb, " --replace` (or `r` in the wizard) first removes it with:\n\n");
		}
		tut_command(t, sb, ++n, &st->replace[k]);
	}
	sb_adds(sb, "## How to verify\n\nThe step is done when every check passes (the wizard "
	    "runs them all, even after one fails):\n\n");
	for (size_t k = 0; k < st->ncheck; k++)
		if (vcond_holds(st->check[k].when, t->version))
			tut_check(t, sb, &st->check[k]);
	n = 0;
	for (size_t k = 0; k < st->nhints; k++) {
		const struct hint *h = &st->hints[k];

		if (!vcond_holds(h->when, t->version))
			continue;
		if (n++ == 0)
			sb_adds(sb, "## Troubleshooting\n\n| Symptom: a line of output matching | "
			    "Cause | Fix |\n|---|---|---|\n");
		sb_adds(sb, "| ");
		md_code(sb, h->match, true);
		sb_adds(sb, " | ");
		md_text(sb, h->say);
		sb_adds(sb, " | ");
		md_text(sb, h->fix != NULL ? h->fix : "");
		sb_adds(sb, " |\n");
	}
	if (n > 0)
		sb_adds(sb, "\n");
}

/* The index: the release, the sections and their steps, the inputs. */
static void
tut_index(const struct tutorial *t, struct strbuf *sb)
{
	size_t sec = (size_t)-1;

	sb_addf(sb, "# %s\n\n", t->c->title != NULL ? t->c->title : "The chain");
	sb_addf(sb, "A tutorial made by %s %s from its step files, for dstack %s: each step's "
	    "page says why it exists, what must be done first, the inputs it uses, every "
	    "command, how to verify it, and what its known failures mean.%s\n",
	    PACKAGE_NAME, PACKAGE_VERSION, t->version != NULL ? t->version : "(any release)",
	    t->values ? " The commands show this profile's values; secrets stay as ${name}." :
	    " Values appear as ${name}: see the inputs at the end.");
	for (size_t i = 0; i < t->c->nsteps; i++) {
		const struct step *st = &t->c->steps[i];

		if (st->section != sec) {
			sec = st->section;
			sb_adds(sb, "\n## ");
			md_text(sb, t->c->sections[sec].title);
			sb_adds(sb, "\n\n");
		}
		sb_addf(sb, "%zu. ", i + 1);
		tut_link(sb, st);
		sb_adds(sb, ": ");
		md_text(sb, st->title);
		if (st->summary != NULL) {
			sb_adds(sb, ". ");
			md_text(sb, st->summary);
		}
		sb_adds(sb, "\n");
	}
	sb_addf(sb, "\n## Inputs\n\n| Input | What it is | Type | %s |\n|---|---|---|---|\n",
	    t->values ? "Value" : "Default");
	for (size_t k = 0; k < t->c->ninputs; k++) {
		const struct input_def *d = &t->c->inputs[k];
		const char *def = chain_input_default(d, t->version);

		sb_adds(sb, "| ");
		md_code(sb, d->name, true);
		sb_adds(sb, " | ");
		md_text(sb, d->label);
		sb_adds(sb, " | ");
		md_text(sb, input_type_name(d->type));
		sb_adds(sb, d->secret && d->type != IT_SECRET ? ", secret | " : " | ");
		if (t->values && t->shown[k] != NULL)
			md_code(sb, t->shown[k], true);
		else if (!t->values && def != NULL)
			md_code(sb, def, true);
		sb_adds(sb, " |\n");
	}
}

/* Write the tutorial. */
int
tutorial_write(struct engine *e, const char *dir, bool values, char **cause)
{
	struct tutorial t = { .e = e, .c = engine_chain(e), .version = engine_version(e),
	    .values = values };
	struct strbuf sb = {0};
	int rc = 0, pages = 0;

	t.shown = xcalloc(t.c->ninputs + 1, sizeof *t.shown);
	for (size_t k = 0; values && k < t.c->ninputs; k++) {
		struct input_value iv;

		engine_input(e, k, &iv);
		if (!t.c->inputs[k].secret && iv.value != NULL)
			t.shown[k] = xstrdup(iv.value);
		input_value_clear(&iv);
	}
	if (mkdir_p(dir, 0755, cause) != 0)
		rc = -1;
	for (size_t i = 0; i < t.c->nsteps && rc == 0; i++) {
		char *name = xprintf("%s.md", t.c->steps[i].id);

		sb_reset(&sb);
		tut_page(&t, &sb, i);
		rc = tut_write(&t, dir, name, &sb, cause);
		pages++;
		free(name);
	}
	if (rc == 0) {
		sb_reset(&sb);
		tut_index(&t, &sb);
		rc = tut_write(&t, dir, "index.md", &sb, cause);
		pages++;
	}
	sb_free(&sb);
	for (size_t k = 0; k < t.c->ninputs; k++)
		free(t.shown[k]);
	free(t.shown);
	free(t.version);
	return rc == 0 ? pages : -1;
}
