/*
 * cli-docs.c: report, bundle, tutorial and notes on the command line: the engine-side
 * generators (docs.h) write the documents; this says where they went (notes: tui/notes.c).
 */
#include "config.h"

#include "cli-docs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "docs.h"
#include "engine.h"
#include "util.h"

static const char *const docs_commands[] = { "report", "bundle", "tutorial", "notes" };

bool
docs_is_command(const char *name)
{
	for (size_t i = 0; i < nitems(docs_commands); i++)
		if (strcmp(name, docs_commands[i]) == 0)
			return true;
	return false;
}

int
docs_check(int argc, char **argv, const struct docs_opts *o)
{
	const char *cmd = argc > 0 ? argv[0] : "";
	bool report = strcmp(cmd, "report") == 0, tutorial = strcmp(cmd, "tutorial") == 0;

	if (o->output != NULL && !report && !tutorial) {
		fprintf(stderr, "dstack-wizard: --output goes with report or tutorial\n");
		return EXIT_USAGE;
	}
	if (o->follow && strcmp(cmd, "notes") != 0) {
		fprintf(stderr, "dstack-wizard: --follow goes with notes\n");
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "notes") == 0 && (argc > 2 || (argc == 2 && o->follow))) {
		fprintf(stderr, "dstack-wizard: usage: notes [STEP] | notes --follow\n");
		return EXIT_USAGE;
	}
	if (o->values && !tutorial) {
		fprintf(stderr, "dstack-wizard: --values goes with tutorial\n");
		return EXIT_USAGE;
	}
	if ((report || tutorial) && argc != 1) {
		fprintf(stderr, "dstack-wizard: usage: %s [--output %s]%s\n", cmd,
		    report ? "FILE" : "DIR", tutorial ? " [--values]" : "");
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "bundle") == 0 && argc != 2) {
		fprintf(stderr, "dstack-wizard: usage: bundle FILE.tar.gz\n");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* report [--output FILE]. */
static int
docs_report(struct engine *e, const struct docs_opts *o)
{
	char *text = report_markdown(e);
	FILE *f = o->output != NULL ? fopen(o->output, "w") : stdout;
	int rc = EXIT_OK;

	if (f == NULL) {
		fprintf(stderr, "dstack-wizard: cannot create %s: %s\n", o->output, strerror(errno));
		free(text);
		return EXIT_FAILED;
	}
	if (fputs(text, f) == EOF || (f != stdout ? fclose(f) : fflush(f)) != 0) {
		fprintf(stderr, "dstack-wizard: cannot write %s: %s\n",
		    o->output != NULL ? o->output : "the report", strerror(errno));
		rc = EXIT_FAILED;
	}
	free(text);
	return rc;
}

int
docs_run(struct engine *e, int argc, char **argv, const struct docs_opts *o)
{
	char *cause = NULL;
	int n;

	if (strcmp(argv[0], "report") == 0)
		return docs_report(e, o);
	if (strcmp(argv[0], "notes") == 0)
		return notes_run(e, argc, argv, o->follow);
	if (strcmp(argv[0], "bundle") == 0) {
		if (bundle_write(e, argv[1], &cause) != 0) {
			fprintf(stderr, "dstack-wizard: bundle: %s\n", cause);
			free(cause);
			return EXIT_FAILED;
		}
		printf("wrote %s (its MANIFEST says what is inside)\n", argv[1]);
		return EXIT_OK;
	}
	n = tutorial_write(e, o->output != NULL ? o->output : "tutorial", o->values, &cause);
	if (n < 0) {
		fprintf(stderr, "dstack-wizard: tutorial: %s\n", cause);
		free(cause);
		return EXIT_FAILED;
	}
	printf("wrote %d pages into %s (start with index.md)\n", n,
	    o->output != NULL ? o->output : "tutorial");
	return EXIT_OK;
}
