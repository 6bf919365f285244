/*
 * cli.h: the headless commands (list, status, why, check, run, set, unset, inputs,
 * preflight). They print plain text (or JSON) to stdout and errors to stderr; never curses.
 */
#ifndef DW_CLI_H
#define DW_CLI_H

#include "engine.h"

/* Exit codes, documented in --help and the man page. */
enum {
	EXIT_OK = 0,          /* done / all checks passed */
	EXIT_FAILED = 1,      /* a check or an action failed */
	EXIT_USAGE = 2,       /* bad command line */
	EXIT_REFUSED = 3,     /* refused by gating or input validation */
	EXIT_BAD_FILE = 4,    /* bad chain file, or a state file that cannot be read or written */
};

struct cli_opts {
	bool json;        /* list, status, inputs: --json */
	bool yes;         /* run --yes: no confirmation */
	bool all;         /* run --all / check --all */
	bool color;       /* colour in text output */
	const char *export_file;   /* inputs --export FILE: write an answers file */
};

/* Run headless command argv[0] with its arguments on an open engine; returns an exit code. */
int cli_run(struct engine *e, int argc, char **argv, const struct cli_opts *o);
/* lint: load the chain in chain_dir and check the rules of a complete chain and every
 * script (bash -n, shellcheck); problems as file:line:column lines. Needs no state. */
int cli_lint(const char *chain_dir);
/* argv[0] takes no arguments and got argc - 1: say so, with usage; returns EXIT_USAGE. */
int cli_extra_args(int argc, char **argv, const char *usage);
/* Is name a headless command? */
bool cli_is_command(const char *name);

#endif
