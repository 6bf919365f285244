/*
 * cli-docs.h: the headless commands that make documents from a profile and its chain
 * (tui/cli-docs.c): report, bundle, tutorial, and notes (a step's presenter notes, or, with
 * --follow, those of the step the wizard shows, as it moves).
 */
#ifndef DW_CLI_DOCS_H
#define DW_CLI_DOCS_H

#include <stdbool.h>

struct engine;

struct docs_opts {
	const char *output;   /* --output: report's FILE, tutorial's DIR; NULL: stdout, "tutorial" */
	bool values;          /* tutorial --values: the profile's values in the commands */
	bool follow;          /* notes --follow */
};

/* Is name one of these commands? */
bool docs_is_command(const char *name);
/* Check the options go with the command (else say why on stderr): 0 or EXIT_USAGE. */
int docs_check(int argc, char **argv, const struct docs_opts *o);
/* Run one on an open engine; returns an exit code (cli.h). */
int docs_run(struct engine *e, int argc, char **argv, const struct docs_opts *o);
/* notes [STEP] | notes --follow (tui/notes.c). */
int notes_run(struct engine *e, int argc, char **argv, bool follow);

#endif
