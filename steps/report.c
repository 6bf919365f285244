/*
 * report.c: the deployment report, in Markdown: what the profile is (the chain, the dstack
 * release, the target), a table of the steps with their final status, then for each step
 * every run kept in its history (when, how long, where, how it ended, the hints shown) and
 * the values it captured, and the inputs with where each came from. Values are those of the
 * state; a secret's never (its row says it is one), and the whole text goes through
 * engine_redact before it is handed out.
 */
#include "config.h"

#include "docs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "util.h"

/* The head: what, where, when, and how far. */
static void
report_head(struct engine *e, struct strbuf *sb)
{
	const struct chain *c = engine_chain(e);
	char *version = engine_version(e), *server = engine_server_words(e), t[64];
	size_t count[ST_CANCELED + 1] = {0};

	for (size_t i = 0; i < c->nsteps; i++)
		count[engine_status(e, i)]++;
	sb_adds(sb, "# Deployment report\n\n| | |\n|---|---|\n| Chain | ");
	md_text(sb, c->title != NULL ? c->title : "(untitled)");
	sb_adds(sb, " |\n| dstack release | ");
	md_text(sb, version != NULL ? version : "(not set)");
	sb_adds(sb, " |\n| Profile | ");
	md_text(sb, engine_profile(e));
	sb_adds(sb, " |\n| Server | ");
	md_text(sb, server);
	sb_addf(sb, " |\n| Written | %s, by %s %s |\n", md_time(time(NULL), t, sizeof t),
	    PACKAGE_NAME, PACKAGE_VERSION);
	sb_addf(sb, "| Status | %zu of %zu steps done", count[ST_DONE], c->nsteps);
	for (int s = ST_LOCKED; s <= ST_CANCELED; s++)
		if (s != ST_DONE && count[s] > 0)
			sb_addf(sb, ", %zu %s", count[s], step_status_name((enum step_status)s));
	sb_adds(sb, " |\n\n");
	free(server);
	free(version);
}

/* The table of steps. */
static void
report_table(struct engine *e, struct strbuf *sb)
{
	const struct chain *c = engine_chain(e);
	char t[64];

	sb_adds(sb, "## Steps\n\n| # | Step | Where | Status | Runs | Last run |\n"
	    "|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < c->nsteps; i++) {
		const struct state_step *ss = engine_step_state(e, i);
		char *where = engine_where(e, i);

		sb_addf(sb, "| %zu | ", i + 1);
		md_code(sb, c->steps[i].id, true);
		sb_adds(sb, " ");
		md_text(sb, c->steps[i].title);
		sb_adds(sb, " | ");
		md_text(sb, where);
		sb_addf(sb, " | %s | %zu | %s |\n", step_status_name(engine_status(e, i)),
		    ss != NULL ? ss->nattempts : 0, ss != NULL && ss->started_at != 0 ?
		    md_time(ss->started_at, t, sizeof t) : "never");
		free(where);
	}
	sb_adds(sb, "\n");
}

/* One run of a step: a table row. */
static void
report_attempt_row(struct strbuf *sb, size_t n, const struct state_attempt *a)
{
	char t[64], d[64];

	sb_addf(sb, "| %zu | %s | %s | ", n, a->started_at != 0 ?
	    md_time(a->started_at, t, sizeof t) : "?", md_duration(a->duration_ms, d, sizeof d));
	md_text(sb, a->kind);
	sb_adds(sb, " | ");
	md_text(sb, a->where != NULL ? a->where : "?");
	sb_adds(sb, " | ");
	md_text(sb, a->outcome);
	sb_addf(sb, " | %d |\n", a->exit_code);
}

/* What a run said: its failure, its hints, its log. */
static void
report_attempt_notes(struct strbuf *sb, size_t n, const struct state_attempt *a)
{
	if (a->message == NULL && a->nhints == 0 && a->log_path == NULL)
		return;
	sb_addf(sb, "- Run %zu", n);
	if (a->message != NULL) {
		sb_adds(sb, ": ");
		md_text(sb, a->message);
	}
	sb_adds(sb, "\n");
	for (size_t k = 0; k < a->nhints; k++) {
		sb_adds(sb, "  - Hint shown: ");
		md_text(sb, a->hints[k].say);
		if (a->hints[k].fix != NULL) {
			sb_adds(sb, " Fix: ");
			md_text(sb, a->hints[k].fix);
		}
		sb_adds(sb, "\n");
	}
	if (a->log_path != NULL) {
		sb_adds(sb, "  - Log: ");
		md_code(sb, a->log_path, false);
		sb_adds(sb, "\n");
	}
}

/* The values step i captured, as the state holds them. */
static void
report_captures(struct engine *e, struct strbuf *sb, size_t i)
{
	const struct chain *c = engine_chain(e);
	bool any = false;
	char t[64];

	for (size_t k = 0; k < c->ninputs; k++) {
		struct input_value iv;

		if (c->inputs[k].secret)
			continue;
		engine_input(e, k, &iv);
		if (iv.source == SRC_CAPTURE && iv.value != NULL && iv.from_step != NULL &&
		    strcmp(iv.from_step, c->steps[i].id) == 0) {
			if (!any)
				sb_adds(sb, "Captured values:\n\n");
			any = true;
			sb_adds(sb, "- ");
			md_code(sb, c->inputs[k].name, false);
			sb_adds(sb, " = ");
			md_code(sb, iv.value, false);
			if (iv.at != 0)
				sb_addf(sb, " (%s)", md_time(iv.at, t, sizeof t));
			sb_adds(sb, "\n");
		}
		input_value_clear(&iv);
	}
	if (any)
		sb_adds(sb, "\n");
}

/* One step: its status, its runs, its captures. */
static void
report_step(struct engine *e, struct strbuf *sb, size_t i)
{
	const struct chain *c = engine_chain(e);
	const struct step *st = &c->steps[i];
	const struct state_step *ss = engine_step_state(e, i);
	enum step_status status = engine_status(e, i);
	char t[64], d[64];

	sb_addf(sb, "### %zu. %s: ", i + 1, st->id);
	md_text(sb, st->title);
	sb_adds(sb, "\n\nSection ");
	md_text(sb, c->sections[st->section].title);
	sb_addf(sb, ". Status: **%s**", step_status_name(status));
	if (status == ST_DONE && ss != NULL && ss->done_at != 0)
		sb_addf(sb, " (its check passed %s)", md_time(ss->done_at, t, sizeof t));
	else if (ss != NULL && ss->message != NULL && (status == ST_FAILED || status == ST_STALE ||
	    status == ST_CANCELED)) {
		sb_adds(sb, ": ");
		md_text(sb, ss->message);
	}
	sb_adds(sb, ".\n\n");
	if (ss != NULL && ss->nattempts > 0) {
		sb_adds(sb, "| Run | When | Took | What | Where | Outcome | Exit |\n"
		    "|---|---|---|---|---|---|---|\n");
		for (size_t k = 0; k < ss->nattempts; k++)
			report_attempt_row(sb, k + 1, &ss->attempts[k]);
		sb_adds(sb, "\n");
		for (size_t k = 0; k < ss->nattempts; k++)
			report_attempt_notes(sb, k + 1, &ss->attempts[k]);
		if (ss->nattempts == STATE_MAX_ATTEMPTS)
			sb_addf(sb, "- (only the last %d runs are kept)\n", STATE_MAX_ATTEMPTS);
		sb_adds(sb, "\n");
	} else if (ss != NULL && ss->started_at != 0) {
		/* A run from before the wizard kept each one. */
		sb_addf(sb, "Last run: %s, took %s", md_time(ss->started_at, t, sizeof t),
		    md_duration(ss->duration_ms, d, sizeof d));
		if (ss->exit_code != 0)
			sb_addf(sb, ", exit status %d", ss->exit_code);
		sb_adds(sb, " (earlier runs were not kept).\n\n");
	} else
		sb_adds(sb, "Never run.\n\n");
	report_captures(e, sb, i);
}

/* Every input: its value (never a secret's) and where it came from. */
static void
report_inputs(struct engine *e, struct strbuf *sb)
{
	const struct chain *c = engine_chain(e);

	sb_adds(sb, "## Inputs\n\n| Input | Value | From |\n|---|---|---|\n");
	for (size_t k = 0; k < c->ninputs; k++) {
		const struct input_def *d = &c->inputs[k];
		struct input_value iv;

		engine_input(e, k, &iv);
		sb_adds(sb, "| ");
		md_code(sb, d->name, true);
		sb_adds(sb, " | ");
		if (d->secret)
			sb_adds(sb, iv.present ? "(a secret: never recorded)" : "(a secret: not given)");
		else if (iv.value != NULL)
			md_code(sb, iv.value, true);
		else
			sb_adds(sb, "(not set)");
		sb_adds(sb, " | ");
		if (iv.source == SRC_CAPTURE && iv.from_step != NULL) {
			sb_adds(sb, "captured by ");
			md_code(sb, iv.from_step, true);
		} else if (!d->secret || iv.present)
			md_text(sb, iv.present ? value_source_name(iv.source) : "");
		sb_adds(sb, " |\n");
		input_value_clear(&iv);
	}
	sb_adds(sb, "\n");
}

/* The deployment report. */
char *
report_markdown(struct engine *e)
{
	const struct chain *c = engine_chain(e);
	struct strbuf sb = {0};
	char *out;

	report_head(e, &sb);
	report_table(e, &sb);
	sb_adds(&sb, "## Each step\n\n");
	for (size_t i = 0; i < c->nsteps; i++)
		report_step(e, &sb, i);
	report_inputs(e, &sb);
	out = engine_redact(e, sb_str(&sb), sb.len, NULL);
	sb_free(&sb);
	return out;
}
