/*
 * cli-show.c: the headless commands that print what the profile holds and change nothing
 * but a value: list, status, why, inputs (and inputs --export) and summary.
 */
#include "config.h"

#include "cli-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* list [--json]: the steps in walking order. */
int
cmd_list(struct cli *cl, int argc, char **argv)
{
	const struct chain *c = engine_chain(cl->e);
	size_t sec = (size_t)-1;
	char *version;

	if (argc != 1)
		return cli_extra_args(argc, argv, "list [--json]");
	version = engine_version(cl->e);
	if (cl->o->json) {
		cJSON *root = cJSON_CreateObject(), *steps;

		if (version != NULL)
			cJSON_AddStringToObject(root, "dstack_version", version);
		steps = cJSON_AddArrayToObject(root, "steps");
		for (size_t i = 0; i < c->nsteps; i++) {
			const struct step *st = &c->steps[i];
			cJSON *o = cJSON_CreateObject(), *req;

			cJSON_AddStringToObject(o, "id", st->id);
			cJSON_AddStringToObject(o, "section", c->sections[st->section].id);
			cJSON_AddStringToObject(o, "section_title", c->sections[st->section].title);
			cJSON_AddStringToObject(o, "place", place_name(st->place));
			cJSON_AddStringToObject(o, "title", st->title);
			req = cJSON_AddArrayToObject(o, "requires");
			for (size_t k = 0; k < st->nrequires; k++)
				cJSON_AddItemToArray(req, cJSON_CreateString(c->steps[st->req[k]].id));
			cJSON_AddItemToArray(steps, o);
		}
		cli_print_json(root);
		free(version);
		return EXIT_OK;
	}
	if (version != NULL)
		printf("dstack %s (the release in use: set dstack_version to change it)\n\n", version);
	free(version);
	for (size_t i = 0; i < c->nsteps; i++) {
		const struct step *st = &c->steps[i];

		if (st->section != sec) {
			sec = st->section;
			printf("%s%s: %s\n", i ? "\n" : "", c->sections[sec].id, c->sections[sec].title);
		}
		printf("  %-32s %-7s %s\n", st->id, cli_place_badge(st->place), st->title);
	}
	return EXIT_OK;
}

/* The date of a time, for status lines. */
static const char *
short_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
	return buf;
}

/* status [--json]: every step with its status. */
int
cmd_status(struct cli *cl, int argc, char **argv)
{
	const struct chain *c = engine_chain(cl->e);
	size_t sec = (size_t)-1, unknown;
	char *version, *words;
	long left;

	if (argc != 1)
		return cli_extra_args(argc, argv, "status [--json]");
	engine_wait_verified(cl->e, CLI_VERIFY_WAIT_MS);
	version = engine_version(cl->e);
	if (cl->o->json) {
		cJSON *root = cJSON_CreateObject(), *steps = cJSON_AddArrayToObject(root, "steps");

		cJSON_AddStringToObject(root, "profile", engine_profile(cl->e));
		cJSON_AddStringToObject(root, "state", engine_state_path(cl->e));
		if (version != NULL)
			cJSON_AddStringToObject(root, "dstack_version", version);
		for (size_t i = 0; i < c->nsteps; i++) {
			const struct step *st = &c->steps[i];
			const struct state_step *ss = engine_step_state(cl->e, i);
			cJSON *o = cJSON_CreateObject(), *bl;
			struct blocker *b;
			enum estimate_source src;
			char *other;
			long est, el;
			size_t nb;
			char buf[32];

			cJSON_AddStringToObject(o, "id", st->id);
			cJSON_AddStringToObject(o, "section", c->sections[st->section].id);
			cJSON_AddStringToObject(o, "place", place_name(st->place));
			cJSON_AddStringToObject(o, "title", st->title);
			cJSON_AddStringToObject(o, "status", step_status_name(engine_status(cl->e, i)));
			if (ss && ss->done_at)
				cJSON_AddStringToObject(o, "done_at", iso_time(ss->done_at, buf, sizeof buf));
			if (ss && ss->message)
				cJSON_AddStringToObject(o, "message", ss->message);
			if (ss && ss->log_path)
				cJSON_AddStringToObject(o, "log", ss->log_path);
			if ((other = engine_mismatch(cl->e, i)) != NULL)
				cJSON_AddStringToObject(o, "replace", other);
			free(other);
			est = engine_estimate(cl->e, i, &src);
			if (src != EST_NONE)
				cJSON_AddNumberToObject(o, "estimate_s", (double)est);
			cJSON_AddStringToObject(o, "estimate_from", estimate_source_name(src));
			if ((el = engine_elapsed_ms(cl->e, i)) >= 0)
				cJSON_AddNumberToObject(o, "elapsed_ms", (double)el);
			bl = cJSON_AddArrayToObject(o, "blockers");
			nb = engine_blockers(cl->e, i, &b);
			for (size_t k = 0; k < nb; k++)
				cJSON_AddItemToArray(bl, cJSON_CreateString(b[k].why));
			blockers_free(&b, nb);
			cJSON_AddItemToArray(steps, o);
		}
		left = engine_time_left(cl->e, &unknown);
		cJSON_AddNumberToObject(root, "time_left_s", (double)left);
		cJSON_AddNumberToObject(root, "steps_without_estimate", (double)unknown);
		cli_print_json(root);
		free(version);
		return EXIT_OK;
	}
	printf("profile %s (%s)\n", engine_profile(cl->e), engine_state_path(cl->e));
	if (version != NULL)
		printf("dstack %s\n", version);
	free(version);
	for (size_t i = 0; i < c->nsteps; i++) {
		const struct step *st = &c->steps[i];
		enum step_status s = engine_status(cl->e, i);
		const struct state_step *ss = engine_step_state(cl->e, i);
		char buf[32], *other;

		if (st->section != sec) {
			size_t total = 0, done = 0;

			sec = st->section;
			for (size_t k = 0; k < c->nsteps; k++)
				if (c->steps[k].section == sec) {
					total++;
					done += engine_status(cl->e, k) == ST_DONE;
				}
			printf("\n%s: %s (%zu/%zu done)\n", c->sections[sec].id, c->sections[sec].title,
			    done, total);
		}
		printf("  %s%-8s%s %-32s %-7s %s", cli_color(cl->o, s), step_status_name(s),
		    cli_color_end(cl->o), st->id, cli_place_badge(st->place), st->title);
		if (s == ST_DONE && ss && ss->done_at)
			printf(" (done %s)", short_time(ss->done_at, buf, sizeof buf));
		putchar('\n');
		if ((s == ST_FAILED || s == ST_STALE || s == ST_CANCELED) && ss && ss->message)
			printf("           %s\n", ss->message);
		/* Said once: a passing check says it in the message already. */
		if ((other = engine_mismatch(cl->e, i)) != NULL &&
		    (ss->message == NULL || strstr(ss->message, "--replace") == NULL))
			printf("           %s: replace it (run %s --replace)\n", other, st->id);
		free(other);
	}
	left = engine_time_left(cl->e, &unknown);
	words = engine_duration_words(left);
	if (left > 0 || unknown == 0)
		printf("\nestimated time left: %s", left > 0 ? words : "none");
	else
		printf("\nestimated time left: unknown");
	if (unknown > 0)
		printf(" (%zu step%s without an estimate)", unknown, unknown == 1 ? "" : "s");
	putchar('\n');
	free(words);
	return EXIT_OK;
}

/* why ID: what keeps a step from running. */
int
cmd_why(struct cli *cl, int argc, char **argv)
{
	const struct chain *c = engine_chain(cl->e);
	struct blocker *b;
	size_t nb, *miss, nmiss;
	int idx;

	if (argc != 2) {
		fprintf(stderr, "dstack-wizard: usage: why STEP\n");
		return EXIT_USAGE;
	}
	if ((idx = cli_find_step(cl->e, argv[1])) < 0)
		return EXIT_USAGE;
	engine_wait_verified(cl->e, CLI_VERIFY_WAIT_MS);
	nb = engine_blockers(cl->e, (size_t)idx, &b);
	nmiss = engine_missing_secrets(cl->e, (size_t)idx, &miss);
	if (nb == 0) {
		printf("%s can run: every step it requires is done and every input it uses is valid.\n",
		    argv[1]);
		for (size_t k = 0; k < nmiss; k++)
			printf("  it will ask for the secret %s\n", c->inputs[miss[k]].name);
	} else {
		printf("%s is locked:\n", argv[1]);
		for (size_t k = 0; k < nb; k++)
			printf("  - %s\n", b[k].why);
		for (size_t k = 0; k < nmiss; k++)
			printf("  - input %s: a secret, asked for when the step runs\n",
			    c->inputs[miss[k]].name);
	}
	free(miss);
	blockers_free(&b, nb);
	return nb ? EXIT_REFUSED : EXIT_OK;
}

/* Describe where a value came from: "user, 2026-11-24 10:02". */
static char *
provenance(const struct input_value *iv)
{
	char buf[32];

	switch (iv->source) {
	case SRC_CAPTURE:
		return xprintf("captured from %s, %s", iv->from_step ? iv->from_step : "?",
		    short_time(iv->at, buf, sizeof buf));
	case SRC_USER:
		return xprintf("set %s", short_time(iv->at, buf, sizeof buf));
	default:
		return xstrdup(value_source_name(iv->source));
	}
}

/* inputs [--json]: every input, its value (never a secret's), provenance and validity. */
int
cmd_inputs(struct cli *cl, int argc, char **argv)
{
	const struct chain *c = engine_chain(cl->e);
	cJSON *root;

	if (argc != 1)
		return cli_extra_args(argc, argv, "inputs [--json] | inputs --export FILE");
	if (cl->o->export_file != NULL) {
		char *cause = NULL;

		if (engine_export_answers(cl->e, cl->o->export_file, &cause) != 0) {
			fprintf(stderr, "dstack-wizard: inputs --export: %s\n", cause);
			free(cause);
			return EXIT_BAD_FILE;
		}
		printf("==> wrote the answers file %s (the target and the inputs you set; no "
		    "secret)\n", cl->o->export_file);
		return EXIT_OK;
	}
	root = cl->o->json ? cJSON_CreateArray() : NULL;

	for (size_t i = 0; i < c->ninputs; i++) {
		const struct input_def *d = &c->inputs[i];
		struct input_value iv;
		char *prov;
		const char *shown;

		engine_input(cl->e, i, &iv);
		prov = provenance(&iv);
		shown = d->secret ? (iv.present ? "****" : "") : iv.value ? iv.value : "";
		if (root) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "name", d->name);
			cJSON_AddStringToObject(o, "type", input_type_name(d->type));
			cJSON_AddBoolToObject(o, "secret", d->secret);
			if (iv.present)
				cJSON_AddStringToObject(o, "value", shown);
			cJSON_AddStringToObject(o, "source", value_source_name(iv.source));
			if (iv.from_step)
				cJSON_AddStringToObject(o, "from_step", iv.from_step);
			cJSON_AddBoolToObject(o, "valid", iv.verdict.ok);
			if (!iv.verdict.ok && iv.verdict.why)
				cJSON_AddStringToObject(o, "why", iv.verdict.why);
			cJSON_AddItemToArray(root, o);
		} else {
			printf("%-24s %-12s %s%s", d->name, input_type_name(d->type),
			    iv.present ? shown : "-", d->secret ? " (secret)" : "");
			if (iv.present)
				printf("  [%s]", prov);
			if (!iv.verdict.ok && iv.verdict.why)
				printf("  %s!! %s%s", cli_color(cl->o, ST_FAILED), iv.verdict.why,
				    cli_color_end(cl->o));
			else if (iv.verdict.unchecksummed)
				printf("  (no EIP-55 checksum)");
			putchar('\n');
		}
		free(prov);
		input_value_clear(&iv);
	}
	if (root)
		cli_print_json(root);
	return EXIT_OK;
}

/* summary [--json]: what the chain built and where to reach it, and what to do next. */
int
cmd_summary(struct cli *cl, int argc, char **argv)
{
	const struct chain *c = engine_chain(cl->e);
	struct summary_item *it;
	struct strvec next = {0};
	size_t n;

	if (argc != 1)
		return cli_extra_args(argc, argv, "summary [--json]");
	n = engine_summary(cl->e, &it);
	engine_next_steps(cl->e, &next);
	if (cl->o->json) {
		cJSON *root = cJSON_CreateObject(), *items = cJSON_AddObjectToObject(root, "built");
		cJSON *nx = cJSON_AddArrayToObject(root, "next");
		size_t done = 0;

		for (size_t i = 0; i < c->nsteps; i++)
			done += engine_status(cl->e, i) == ST_DONE;
		cJSON_AddStringToObject(root, "profile", engine_profile(cl->e));
		cJSON_AddNumberToObject(root, "steps", (double)c->nsteps);
		cJSON_AddNumberToObject(root, "done", (double)done);
		for (size_t i = 0; i < n; i++) {
			cJSON *o = cJSON_AddObjectToObject(items, it[i].key);

			cJSON_AddStringToObject(o, "label", it[i].label);
			if (it[i].value != NULL)
				cJSON_AddStringToObject(o, "value", it[i].value);
			else
				cJSON_AddNullToObject(o, "value");
			if (it[i].link != NULL)
				cJSON_AddStringToObject(o, "explorer", it[i].link);
			if (it[i].note != NULL)
				cJSON_AddStringToObject(o, "note", it[i].note);
			cJSON_AddStringToObject(o, "step", c->steps[it[i].step].id);
			cJSON_AddStringToObject(o, "status",
			    step_status_name(engine_status(cl->e, it[i].step)));
		}
		for (size_t i = 0; i < next.n; i++)
			cJSON_AddItemToArray(nx, cJSON_CreateString(next.v[i]));
		cli_print_json(root);
	} else {
		printf("What was built (profile %s):\n", engine_profile(cl->e));
		for (size_t i = 0; i < n; i++) {
			printf("  %-28s %s", it[i].label, it[i].value != NULL ? it[i].value :
			    "(not known yet)");
			if (!it[i].done && it[i].value != NULL && strcmp(it[i].key, "attestation") != 0)
				printf(" (%s is not done)", c->steps[it[i].step].id);
			putchar('\n');
			if (it[i].note != NULL)
				printf("  %-28s %s\n", "", it[i].note);
			if (it[i].link != NULL)
				printf("  %-28s %s\n", "", it[i].link);
		}
		printf("\nNext:\n");
		for (size_t i = 0; i < next.n; i++)
			printf("  - %s\n", next.v[i]);
	}
	summary_items_free(&it, n);
	sv_free(&next);
	return EXIT_OK;
}
