/*
 * cli-lint.c: `lint`, the step files read as the loader reads them, then every script run
 * through the checks the wizard makes of its own (script-check.h: an input that could become
 * code) and through shellcheck and bash -n when they are installed; the remote agent too.
 */
#include "config.h"

#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chain.h"
#include "script-check.h"
#include "ssh.h"
#include "util.h"

/* Run a lint tool on a script file; its output (stdout and stderr) in *out. Returns its
 * exit status, or -1 if it could not run. */
static int
lint_tool(const char *cmdline, char **out)
{
	struct strbuf sb = {0};
	char buf[4096];
	size_t n;
	FILE *f = popen(cmdline, "r");
	int st;

	if (f == NULL)
		return -1;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		sb_add(&sb, buf, n);
	st = pclose(f);
	*out = sb_detach(&sb);
	return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Lint one run: script with bash -n and (when present) shellcheck. */
/* Must input name stay in double quotes (it is marked quoted: true)? */
static bool
lint_must_quote(const char *name, void *data)
{
	const struct chain *c = data;
	int i = chain_input_index(c, name);

	return i >= 0 && c->inputs[i].quoted;
}

/* Where the script of command k could turn an input's value into code (script-check.h). */
static size_t
lint_values(const struct chain *ch, const struct step *st, const struct command *c,
    const char *what, size_t k)
{
	struct script_risk *r;
	size_t n = script_risks(c->run, lint_must_quote, (void *)(uintptr_t)ch, &r);

	for (size_t i = 0; i < n; i++)
		printf("%s:%d:%d: %s of %s, command %zu, line %d of its script: ${%s} %s\n",
		    c->pos.file, c->pos.line, c->pos.col, what, st->id, k + 1, r[i].line,
		    r[i].name, r[i].why);
	script_risks_free(&r, n);
	return n;
}

static size_t
lint_script(const struct step *st, const struct command *c, const char *what, size_t k,
    const char *tmp, bool shellcheck)
{
	FILE *f = fopen(tmp, "w");
	char *out = NULL, *cmd;
	size_t problems = 0;

	if (f == NULL)
		return 0;
	/* Inputs arrive as environment variables of the same name. */
	fprintf(f, "#!/bin/bash\n%s\n", c->run);
	fclose(f);
	cmd = xprintf("bash -n '%s' 2>&1", tmp);
	if (lint_tool(cmd, &out) != 0) {
		printf("%s:%d:%d: %s of %s, command %zu: bash -n: %s", c->pos.file, c->pos.line,
		    c->pos.col, what, st->id, k + 1, out ? out : "failed\n");
		problems++;
	}
	free(cmd);
	free(out);
	out = NULL;
	if (shellcheck) {
		/* SC2154: inputs are set by the wizard, in the environment; SC1091: sourced
		 * files are on the server, not here. */
		cmd = xprintf("shellcheck -s bash -e SC2154,SC1091 -f gcc '%s' 2>&1", tmp);
		if (lint_tool(cmd, &out) != 0) {
			for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
				const char *msg = strchr(line, ' ');

				printf("%s:%d:%d: %s of %s, command %zu: shellcheck:%s\n", c->pos.file,
				    c->pos.line, c->pos.col, what, st->id, k + 1, msg ? msg : line);
			}
			problems++;
		}
		free(cmd);
		free(out);
	}
	return problems;
}

/* Lint the SSH transport's program (steps/remote-agent.sh) with shellcheck, each mode's as
 * it is sent. */
static size_t
lint_agent(const char *tmp)
{
	size_t problems = 0, i;

	for (i = 0; ssh_agent_modes[i] != NULL; i++) {
		char *prog = ssh_agent_program(ssh_agent_modes[i]), *out = NULL, *cmd;
		FILE *f = fopen(tmp, "w");

		if (f == NULL) {
			free(prog);
			break;
		}
		fputs(prog, f);
		fclose(f);
		free(prog);
		cmd = xprintf("shellcheck -s bash -f gcc '%s' 2>&1", tmp);
		if (lint_tool(cmd, &out) != 0) {
			for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
				const char *msg = strchr(line, ':');

				printf("steps/remote-agent.sh: the program of mode %s, line %s\n",
				    ssh_agent_modes[i], msg ? msg + 1 : line);
			}
			problems++;
		}
		free(cmd);
		free(out);
	}
	printf("steps/remote-agent.sh: the SSH transport's program, %zu modes checked with "
	    "shellcheck\n", i);
	return problems;
}

/* lint: load a chain (every loader check), then the rules of a complete chain and the
 * scripts' syntax. */
int
cli_lint(const char *chain_dir)
{
	struct chain *c = NULL;
	char *cause = NULL, tmp[] = "/tmp/dw-lint-XXXXXX";
	bool shellcheck;
	size_t problems = 0;
	int fd;

	if (chain_load(chain_dir, &c, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return EXIT_BAD_FILE;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		perror("mkstemp");
		chain_free(&c);
		return EXIT_FAILED;
	}
	close(fd);
	shellcheck = system("command -v shellcheck >/dev/null 2>&1") == 0;
	if (!shellcheck)
		fprintf(stderr, "dstack-wizard: shellcheck not found: only bash -n checks the "
		    "scripts (apt-get install shellcheck)\n");
	for (size_t i = 0; i < c->nsteps; i++) {
		const struct step *st = &c->steps[i];
		size_t probes = 0;

		if (st->place != PLACE_MANUAL && st->naction == 0) {
			printf("%s:%d:%d: step %s has no action (only manual steps may lack one)\n",
			    st->pos.file, st->pos.line, st->pos.col, st->id);
			problems++;
		}
		if (st->place == PLACE_MANUAL && st->nchecklist == 0) {
			printf("%s:%d:%d: manual step %s has no checklist\n", st->pos.file,
			    st->pos.line, st->pos.col, st->id);
			problems++;
		}
		for (size_t k = 0; k < st->ncheck; k++) {
			probes++;
			if (st->check[k].run)
				problems += lint_script(st, &st->check[k], "check", k, tmp, shellcheck) +
				    lint_values(c, st, &st->check[k], "check", k);
		}
		if (st->place == PLACE_MANUAL && probes == 0) {
			printf("%s:%d:%d: manual step %s has no probe verifying its effect\n",
			    st->pos.file, st->pos.line, st->pos.col, st->id);
			problems++;
		}
		for (size_t k = 0; k < st->naction; k++)
			if (st->action[k].run)
				problems += lint_script(st, &st->action[k], "action", k, tmp, shellcheck) +
				    lint_values(c, st, &st->action[k], "action", k);
	}
	if (shellcheck)
		problems += lint_agent(tmp);
	unlink(tmp);
	printf("%s: %zu steps, %zu problems\n", chain_dir, c->nsteps, problems);
	chain_free(&c);
	return problems ? EXIT_BAD_FILE : EXIT_OK;
}

