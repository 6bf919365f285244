/*
 * cli.c: the headless commands. Each prints plain text (or JSON) on stdout, errors on stderr,
 * and returns one of the documented exit codes (cli.h). Runs are driven to their end in the
 * engine's loop; Ctrl-C cancels the running step (its process group gets SIGTERM, then SIGKILL).
 */
#include "config.h"

#include "cli.h"
#include "cli-int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "export.h"
#include "logbuf.h"
#include "loop.h"
#include "remote.h"
#include "util.h"


/* ANSI colour for a status, or "" when colour is off. */
const char *
cli_color(const struct cli_opts *o, enum step_status s)
{
	if (!o->color)
		return "";
	switch (s) {
	case ST_DONE:
		return "\033[32m";
	case ST_FAILED:
		return "\033[31m";
	case ST_STALE:
	case ST_CANCELED:
		return "\033[33m";
	case ST_LOCKED:
		return "\033[2m";
	case ST_RUNNING:
	case ST_CHECKING:
		return "\033[36m";
	case ST_READY:
		return "\033[1m";
	}
	return "";
}

const char *
cli_color_end(const struct cli_opts *o)
{
	return o->color ? "\033[0m" : "";
}

const char *
cli_place_badge(enum place p)
{
	switch (p) {
	case PLACE_LOCAL:
		return "LOCAL";
	case PLACE_SERVER:
		return "SERVER";
	case PLACE_MANUAL:
		return "MANUAL";
	}
	return "?";
}

/* The exit code of an engine error. */
static int
exit_of(enum engine_err err)
{
	switch (err) {
	case EERR_NONE:
		return EXIT_OK;
	case EERR_USAGE:
		return EXIT_USAGE;
	case EERR_REFUSED:
		return EXIT_REFUSED;
	case EERR_BAD_FILE:
		return EXIT_BAD_FILE;
	case EERR_FAILED:
		break;
	}
	return EXIT_FAILED;
}

/* Find a step by id, or say there is none (with a suggestion). */
int
cli_find_step(struct engine *e, const char *id)
{
	const struct chain *c = engine_chain(e);
	int idx = chain_step_index(c, id);
	const char *best = NULL;
	size_t bestd = 4;

	if (idx >= 0)
		return idx;
	for (size_t i = 0; i < c->nsteps; i++) {
		size_t d = str_distance(id, c->steps[i].id);

		if (d < bestd) {
			bestd = d;
			best = c->steps[i].id;
		}
	}
	if (best)
		fprintf(stderr, "dstack-wizard: no step '%s' (did you mean '%s'?)\n", id, best);
	else
		fprintf(stderr, "dstack-wizard: no step '%s' (see 'dstack-wizard list')\n", id);
	return -1;
}

/* A command that takes no arguments got some: say which, and the usage; EXIT_USAGE. */
int
cli_extra_args(int argc, char **argv, const char *usage)
{
	fprintf(stderr, "dstack-wizard: %s: unexpected argument '%s'%s (usage: %s)\n", argv[0],
	    argv[1], argc > 2 ? " and more" : "", usage);
	return EXIT_USAGE;
}

/* Print a JSON document on stdout, and free it. */
void
cli_print_json(cJSON *root)
{
	char *text = cJSON_Print(root);

	puts(text);
	free(text);
	cJSON_Delete(root);
}

/* Read a line from the terminal with echo off. */
static int
prompt_secret(const char *label, char **out)
{
	struct termios old, quiet;
	struct strbuf sb = {0};
	int fd, c;
	char ch;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	dprintf(fd, "%s (input hidden): ", label);
	tcgetattr(fd, &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	tcsetattr(fd, TCSAFLUSH, &quiet);
	while ((c = (int)read(fd, &ch, 1)) == 1 && ch != '\n' && ch != '\r')
		sb_addc(&sb, ch);
	tcsetattr(fd, TCSAFLUSH, &old);
	dprintf(fd, "\n");
	close(fd);
	*out = sb_detach(&sb);
	return c < 0 ? -1 : 0;
}

/* Ask yes/no on the terminal; default no. */
static bool
confirm(const char *question)
{
	char line[16];
	FILE *tty = fopen("/dev/tty", "r+");
	bool yes;

	if (tty == NULL)
		return false;
	fprintf(tty, "%s [y/N] ", question);
	fflush(tty);
	yes = fgets(line, sizeof line, tty) != NULL && (line[0] == 'y' || line[0] == 'Y');
	fclose(tty);
	return yes;
}

/* Get the secrets a step needs: prompt on a terminal, else refuse. */
static int
need_secrets(struct cli *cl, size_t s)
{
	const struct chain *c = engine_chain(cl->e);
	size_t *miss, n = engine_missing_secrets(cl->e, s, &miss);
	int rc = EXIT_OK;

	for (size_t k = 0; k < n && rc == EXIT_OK; k++) {
		const struct input_def *d = &c->inputs[miss[k]];
		char *v = NULL, *why = NULL;

		if (!isatty(STDIN_FILENO) || prompt_secret(d->label ? d->label : d->name, &v) != 0) {
			char *var = engine_secret_var(d->name);

			fprintf(stderr, "dstack-wizard: %s needs the secret %s: set %s or use "
			    "--secret-file %s=FILE (mode 0600)\n", c->steps[s].id, d->name, var,
			    d->name);
			free(var);
			rc = EXIT_REFUSED;
		} else if (engine_set_secret(cl->e, d->name, v, SRC_PROMPT, &why) != 0) {
			fprintf(stderr, "dstack-wizard: %s\n", why);
			rc = EXIT_REFUSED;
		}
		secret_free(&v);
		free(why);
	}
	free(miss);
	/* A secret just given may be the RPC URL a contract check was waiting for. */
	if (n > 0 && rc == EXIT_OK)
		engine_wait_verified(cl->e, CLI_VERIFY_WAIT_MS);
	return rc;
}

/* Print a line of step s's run: at once, or into its block while checks run side by side. */
static void DW_PRINTF(3, 4)
out(struct cli *cl, size_t s, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = xvprintf(fmt, ap);
	va_end(ap);
	if (cl->jobs != NULL)
		sb_adds(&cl->jobs[s].out, text);
	else {
		fputs(text, stdout);
		fflush(stdout);
	}
	free(text);
}

static void
on_line(void *data, size_t step, int stream, const char *text, size_t len)
{
	struct cli *cl = data;

	switch (stream) {
	case STREAM_ERR:
		out(cl, step, "  ! %.*s\n", (int)len, text);
		break;
	case STREAM_META:
		out(cl, step, "  # %.*s\n", (int)len, text);
		break;
	default:
		out(cl, step, "    %.*s\n", (int)len, text);
		break;
	}
}

/* A labelled command gets its label as a heading; the runner's own lines show the command
 * ("$ ...") and its result ("-> ..."). */
static void
on_cmd_start(void *data, size_t step, enum run_kind kind, size_t index, const struct run_cmd *cmd)
{
	struct cli *cl = data;

	(void)kind;
	(void)index;
	if (cmd->label)
		out(cl, step, "  - %s\n", cmd->label);
}

/* How step s's run ended, from its saved record; returns its exit code. */
static int
run_summary(struct cli *cl, size_t s, bool ok, const char *unsaved)
{
	const struct step *st = &engine_chain(cl->e)->steps[s];
	const struct state_step *ss = engine_step_state(cl->e, s);

	if (unsaved != NULL) {
		out(cl, s, "==> %s %sfailed%s: its outcome could not be saved: %s\n", st->id,
		    cli_color(cl->o, ST_FAILED), cli_color_end(cl->o), unsaved);
		fprintf(stderr, "dstack-wizard: %s: could not save the state: %s\n", st->id,
		    unsaved);
	} else if (ok && ss != NULL && ss->status == SAVED_STALE)
		out(cl, s, "==> %s is %sstale%s: its check passed, but %s\n", st->id,
		    cli_color(cl->o, ST_STALE), cli_color_end(cl->o), ss->message);
	else if (ok)
		out(cl, s, "==> %s is %sdone%s\n", st->id, cli_color(cl->o, ST_DONE),
		    cli_color_end(cl->o));
	else if (ss != NULL && ss->status == SAVED_CANCELED)
		out(cl, s, "==> %s %scanceled%s\n", st->id, cli_color(cl->o, ST_CANCELED),
		    cli_color_end(cl->o));
	else
		out(cl, s, "==> %s %sfailed%s: %s\n", st->id, cli_color(cl->o, ST_FAILED),
		    cli_color_end(cl->o), ss && ss->message ? ss->message : "failed");
	if (ss && ss->log_path)
		out(cl, s, "    log: %s\n", ss->log_path);
	if (unsaved != NULL)
		return EXIT_BAD_FILE;
	return ok && ss != NULL && ss->status == SAVED_DONE ? EXIT_OK : EXIT_FAILED;
}

static void
on_done(void *data, size_t step, enum run_kind kind, const struct run_result *res,
    const char *unsaved)
{
	struct cli *cl = data;

	(void)kind;
	for (size_t i = 0; i < res->nhints; i++) {
		out(cl, step, "  hint: %s\n", res->hints[i].hint->say);
		if (res->hints[i].hint->fix)
			out(cl, step, "        fix: %s\n", res->hints[i].hint->fix);
		out(cl, step, "        (matched: %s)\n", res->hints[i].line);
	}
	if (cl->jobs != NULL) {
		cl->jobs[step].rc = run_summary(cl, step, res->ok && !res->canceled && unsaved == NULL,
		    unsaved);
		cl->jobs[step].state = JOB_OVER;
		cl->running--;
		return;
	}
	cl->done = true;
	cl->ok = res->ok && !res->canceled;
	free(cl->unsaved);
	cl->unsaved = xstrdup(unsaved);
}

static void
on_sigint(int sig, void *data)
{
	struct cli *cl = data;

	(void)sig;
	cl->interrupted = true;
	if (cl->jobs != NULL) {
		for (size_t s = 0; s < engine_chain(cl->e)->nsteps; s++)
			if (cl->jobs[s].state == JOB_RUNNING)
				engine_cancel(cl->e, s);
	} else if (!cl->done)
		engine_cancel(cl->e, cl->step);
}

/*
 * SIGTERM, SIGHUP: the wizard leaves at once. A local command dies with it (its terminal is
 * gone), a supervised server action goes on and is recorded; running the step again attaches.
 */
static void
on_sigterm(int sig, void *data)
{
	struct cli *cl = data;

	engine_interrupt(cl->e, sig);
	printf("==> stopped by SIG%s; a server action that was running goes on: run the step "
	    "again to follow it\n", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
	fflush(stdout);
	_exit(128 + sig);
}

/* The server's host key was refused: say why and how to go on; EXIT_REFUSED. */
static int
hostkey_refused(struct cli *cl)
{
	const char *msg = NULL;
	struct ssh_conn *c = remote_conn(engine_remote(cl->e));

	if (ssh_conn_failure(c, &msg) == SSH_FAIL_HOSTKEY_CHANGED || cl->hostkey_note == NULL)
		fprintf(stderr, "dstack-wizard: %s\n", msg != NULL ? msg : "host key refused");
	else
		fprintf(stderr, "dstack-wizard: %s\n", cl->hostkey_note);
	fflush(stdout);
	return EXIT_REFUSED;
}

/* Run a check or an action of step s to its end; returns an exit code. */
static int
drive(struct cli *cl, size_t s, enum run_kind kind)
{
	const struct step *st = &engine_chain(cl->e)->steps[s];
	struct engine_cbs cbs = { on_line, on_cmd_start, NULL, on_done, cl };
	enum engine_err err;
	char *cause = NULL;
	uint64_t sig, term, hup;

	cl->done = cl->ok = false;
	freep(&cl->unsaved);
	cl->step = s;
	printf("==> %s of %s: %s\n", kind == RUN_CHECK ? "check" : kind == RUN_REPLACE ?
	    "replacement" : "action", st->id, st->title);
	fflush(stdout);
	if (engine_start(cl->e, s, kind, &cbs, &err, &cause) != 0) {
		fprintf(stderr, "dstack-wizard: %s\n", cause);
		free(cause);
		return exit_of(err);
	}
	sig = loop_on_signal(engine_loop(cl->e), SIGINT, on_sigint, cl);
	term = loop_on_signal(engine_loop(cl->e), SIGTERM, on_sigterm, cl);
	hup = loop_on_signal(engine_loop(cl->e), SIGHUP, on_sigterm, cl);
	while (!cl->done)
		if (loop_run_once(engine_loop(cl->e), -1) < 0 && errno != EINTR)
			break;
	loop_del_signal(engine_loop(cl->e), sig);
	loop_del_signal(engine_loop(cl->e), term);
	loop_del_signal(engine_loop(cl->e), hup);
	if (!cl->ok && engine_remote(cl->e) != NULL && remote_hostkey_refused(engine_remote(cl->e)))
		return hostkey_refused(cl);
	return run_summary(cl, s, cl->ok, cl->unsaved);
}

/* What to do with step s's check now: start it (0), wait for a step it requires whose own
 * check runs (1), or skip it, saying why (-1). */
static int
check_gate(struct cli *cl, size_t s)
{
	const struct chain *c = engine_chain(cl->e);
	struct blocker *b;
	size_t nb = engine_blockers(cl->e, s, &b), *miss;
	size_t nmiss = engine_missing_secrets(cl->e, s, &miss);
	int r = 0;

	free(miss);
	for (size_t k = 0; k < nb && r == 0; k++)
		if (b[k].kind == BLOCK_STEP && cl->jobs[b[k].index].state == JOB_RUNNING)
			r = 1;
	if (r == 0 && (nb > 0 || nmiss > 0)) {
		out(cl, s, "==> skip %s: %s\n", c->steps[s].id,
		    nb ? b[0].why : "it needs a secret that is not provided");
		r = -1;
	}
	blockers_free(&b, nb);
	return r;
}

/*
 * check with no ids: the check of every step whose gate holds, up to CLI_CHECKS_AT_ONCE at a
 * time (checks only read; server commands share the one SSH connection). Steps start in
 * chain order; one that requires a step whose check still runs, and is not done, waits for
 * it. Each step's lines are printed as one block when it is over, in chain order.
 */
static int
check_all(struct cli *cl)
{
	const struct chain *c = engine_chain(cl->e);
	struct engine_cbs cbs = { on_line, on_cmd_start, NULL, on_done, cl };
	size_t next = 0, shown = 0;
	enum engine_err err;
	uint64_t sig;
	int rc = EXIT_OK;

	cl->jobs = xcalloc(c->nsteps ? c->nsteps : 1, sizeof *cl->jobs);
	cl->running = 0;
	sig = loop_on_signal(engine_loop(cl->e), SIGINT, on_sigint, cl);
	for (;;) {
		while (next < c->nsteps && cl->running < CLI_CHECKS_AT_ONCE && !cl->interrupted) {
			struct cli_job *j = &cl->jobs[next];
			int gate = check_gate(cl, next);
			char *cause = NULL;

			if (gate > 0)
				break;
			j->state = JOB_OVER;
			if (gate == 0) {
				out(cl, next, "==> check of %s: %s\n", c->steps[next].id,
				    c->steps[next].title);
				if (engine_start(cl->e, next, RUN_CHECK, &cbs, &err, &cause) == 0) {
					j->state = JOB_RUNNING;
					cl->running++;
				} else {
					out(cl, next, "dstack-wizard: %s\n", cause);
					j->rc = exit_of(err);
					free(cause);
				}
			}
			next++;
		}
		for (; shown < c->nsteps && cl->jobs[shown].state != JOB_RUNNING; shown++) {
			if (cl->jobs[shown].state == JOB_PENDING && !(cl->interrupted && cl->running == 0))
				break;
			fputs(sb_str(&cl->jobs[shown].out), stdout);
			if (cl->jobs[shown].rc > rc)
				rc = cl->jobs[shown].rc;
		}
		fflush(stdout);
		if (shown == c->nsteps)
			break;
		if (loop_run_once(engine_loop(cl->e), -1) < 0 && errno != EINTR)
			break;
	}
	loop_del_signal(engine_loop(cl->e), sig);
	for (size_t s = 0; s < c->nsteps; s++)
		sb_free(&cl->jobs[s].out);
	freep(&cl->jobs);
	if (rc == EXIT_REFUSED || rc == EXIT_FAILED)
		rc = EXIT_FAILED;
	if (rc != EXIT_OK && engine_remote(cl->e) != NULL &&
	    remote_hostkey_refused(engine_remote(cl->e)))
		return hostkey_refused(cl);
	return rc;
}

/* check [ID...]: run checks; the named steps one after another, or every step whose gate
 * holds (check_all). */
static int
cmd_check(struct cli *cl, int argc, char **argv)
{
	const struct chain *c = engine_chain(cl->e);
	int rc = EXIT_OK;

	engine_wait_verified(cl->e, CLI_VERIFY_WAIT_MS);
	if (argc == 1)
		return check_all(cl);
	for (int i = 1; i < argc; i++)
		if (cli_find_step(cl->e, argv[i]) < 0)
			return EXIT_USAGE;
	for (int i = 1; i < argc && !cl->interrupted; i++) {
		size_t s = (size_t)chain_step_index(c, argv[i]);
		int r = need_secrets(cl, s);

		if (r == EXIT_OK)
			r = drive(cl, s, RUN_CHECK);
		if (r > rc)
			rc = r;
	}
	return rc;
}

/* Show what an action (after a replacement's commands) will run, and ask unless --yes. */
static int
approve(struct cli *cl, size_t s, enum run_kind kind)
{
	const struct step *st = &engine_chain(cl->e)->steps[s];
	struct run_cmd *cmds;
	size_t n, shown = 0;
	char *cause = NULL, *q;
	bool yes;

	for (size_t k = 0; k < st->nchecklist; k++) {
		time_t at = engine_ticked(cl->e, s, k);
		char when[32];

		printf("  [%s] %s%s%s%s\n", at ? "x" : " ", st->checklist[k], at ? "  (ticked " : "",
		    at ? iso_time(at, when, sizeof when) : "", at ? ")" : "");
	}
	for (int pass = kind == RUN_REPLACE ? RUN_REPLACE : RUN_ACTION; pass >= RUN_ACTION;
	    pass--) {
		if (engine_commands(cl->e, s, (enum run_kind)pass, &cmds, &n, &cause) != 0) {
			freep(&cause);
			continue;
		}
		if (n > 0 && shown == 0)
			printf("%s will run:\n", st->id);
		if (n > 0 && pass == RUN_REPLACE)
			printf("  (to remove what it deployed)\n");
		for (size_t k = 0; k < n; k++)
			printf("  %zu. %s\n", ++shown, cmds[k].display);
		run_cmds_free(&cmds, n);
	}
	if (st->effects & EFFECT_SUDO)
		printf("  note: it runs commands as root (sudo)\n");
	if (st->effects & EFFECT_TRANSACTION)
		printf("  note: it sends blockchain transactions (costs gas)\n");
	if (st->effects & EFFECT_REBOOT)
		printf("  note: it reboots the server\n");
	if (cl->o->yes)
		return EXIT_OK;
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "dstack-wizard: not running %s without confirmation: pass --yes\n",
		    st->id);
		return EXIT_USAGE;
	}
	q = xprintf(kind == RUN_REPLACE ? "Remove what %s deployed, and deploy it again?" :
	    st->place == PLACE_MANUAL ? "Have you done the above for %s? Check it now?" :
	    "Run the action of %s?", st->id);
	yes = confirm(q);
	free(q);
	return yes ? EXIT_OK : EXIT_REFUSED;
}

/*
 * Run one step's action then check, after the gate and the operator agree. A step whose
 * deployed thing was made from other input values is refused, naming --replace, unless
 * --replace is given: then its replace: commands run first.
 */
static int
run_one(struct cli *cl, size_t s)
{
	const struct step *st = &engine_chain(cl->e)->steps[s];
	enum run_kind kind = cl->o->replace && !cl->o->all ? RUN_REPLACE : RUN_ACTION;
	struct blocker *b;
	char *other;
	size_t nb;
	int rc;

	engine_wait_verified(cl->e, CLI_VERIFY_WAIT_MS);
	nb = engine_blockers(cl->e, s, &b);
	if (nb > 0) {
		fprintf(stderr, "dstack-wizard: %s cannot run yet:\n", engine_chain(cl->e)->steps[s].id);
		for (size_t k = 0; k < nb; k++)
			fprintf(stderr, "  - %s\n", b[k].why);
		blockers_free(&b, nb);
		return EXIT_REFUSED;
	}
	if (kind == RUN_REPLACE && st->nreplace == 0) {
		fprintf(stderr, "dstack-wizard: %s has no replace: commands (--replace is for a "
		    "step whose action deploys a thing made from its inputs)\n", st->id);
		return EXIT_USAGE;
	}
	if (kind == RUN_ACTION && (other = engine_mismatch(cl->e, s)) != NULL) {
		fprintf(stderr, "dstack-wizard: %s was %s: its action would keep what is "
		    "deployed; run %s --replace to remove it and deploy it again\n", st->id, other,
		    st->id);
		free(other);
		return EXIT_REFUSED;
	}
	if ((rc = need_secrets(cl, s)) != EXIT_OK)
		return rc;
	if ((rc = approve(cl, s, kind)) != EXIT_OK)
		return rc;
	return drive(cl, s, kind);
}

/* run ID | run --all: the action then the check. */
static int
cmd_run(struct cli *cl, int argc, char **argv)
{
	const struct chain *c = engine_chain(cl->e);
	int idx, rc;

	if (cl->o->all) {
		if (argc != 1 || cl->o->replace) {
			fprintf(stderr, "dstack-wizard: usage: run --all (no step ids)\n");
			return EXIT_USAGE;
		}
		for (size_t s = 0; s < c->nsteps; s++) {
			if (engine_status(cl->e, s) == ST_DONE)
				continue;
			if ((rc = run_one(cl, s)) != EXIT_OK)
				return rc;
		}
		printf("every step is done\n");
		return EXIT_OK;
	}
	if (argc != 2) {
		fprintf(stderr, "dstack-wizard: usage: run STEP [--yes] [--replace] | run --all "
		    "[--yes]\n");
		return EXIT_USAGE;
	}
	if ((idx = cli_find_step(cl->e, argv[1])) < 0)
		return EXIT_USAGE;
	return run_one(cl, (size_t)idx);
}

/* set NAME VALUE. */
static int
cmd_set(struct cli *cl, int argc, char **argv)
{
	enum engine_err err;
	char *cause = NULL;

	if (argc != 3) {
		fprintf(stderr, "dstack-wizard: usage: set NAME VALUE\n");
		return EXIT_USAGE;
	}
	if (engine_set_input(cl->e, argv[1], argv[2], &err, &cause) != 0) {
		fprintf(stderr, "dstack-wizard: %s\n", cause);
		free(cause);
		return exit_of(err);
	}
	printf("%s = %s\n", argv[1], argv[2]);
	return EXIT_OK;
}

/* unset NAME. */
static int
cmd_unset(struct cli *cl, int argc, char **argv)
{
	char *cause = NULL;

	if (argc != 2) {
		fprintf(stderr, "dstack-wizard: usage: unset NAME\n");
		return EXIT_USAGE;
	}
	if (engine_unset_input(cl->e, argv[1], &cause) != 0) {
		fprintf(stderr, "dstack-wizard: %s\n", cause);
		free(cause);
		/* An unknown input, or the state could not be written. */
		return chain_input_index(engine_chain(cl->e), argv[1]) < 0 ? EXIT_USAGE :
		    EXIT_BAD_FILE;
	}
	return EXIT_OK;
}

/*
 * An unknown host key: on a terminal ask (on /dev/tty, showing its type and fingerprint);
 * otherwise refuse, and remember what to tell the operator.
 */
static void
cli_hostkey(void *data, struct ssh_conn *c, const struct ssh_hostkey *k)
{
	struct cli *cl = data;
	char *q;
	bool yes = false;
	FILE *tty;

	if (isatty(STDIN_FILENO) && (tty = fopen("/dev/tty", "r+")) != NULL) {
		fprintf(tty, "The host key of %s is not known:\n  %s %s\n(compare it with "
		    "ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the server)\n", k->host, k->type,
		    k->fingerprint);
		fclose(tty);
		q = xprintf("Trust this host and add its key to %s?", k->known_hosts);
		yes = confirm(q);
		free(q);
	} else {
		free(cl->hostkey_note);
		cl->hostkey_note = xprintf("the host key of %s is not known: %s %s; refused, as there "
		    "is no terminal to ask on. Compare the fingerprint with the server's own "
		    "(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on it); if it matches, run again "
		    "with --accept-new-host-key", k->host, k->type, k->fingerprint);
	}
	ssh_conn_answer_hostkey(c, yes);
}

/* A key file is encrypted: ask for its passphrase, masked, on the terminal. */
static void
cli_passphrase(void *data, struct ssh_conn *c, const char *key_file, unsigned attempt)
{
	char *label, *pass = NULL;

	(void)data;
	if (!isatty(STDIN_FILENO)) {
		ssh_conn_answer_passphrase(c, NULL);
		return;
	}
	label = attempt > 1 ? xprintf("Wrong passphrase; passphrase for %s", key_file) :
	    xprintf("Passphrase for %s", key_file);
	if (prompt_secret(label, &pass) != 0)
		secret_free(&pass);
	ssh_conn_answer_passphrase(c, pass);
	secret_free(&pass);
	free(label);
}

static void
on_preflight(void *data, bool ok, const char *report)
{
	struct cli *cl = data;
	const char *p = report;

	while (*p != '\0') {
		size_t n = strcspn(p, "\n");

		printf("  %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
	fflush(stdout);
	engine_note_preflight(cl->e, ok, report);
	cl->pf_done = true;
	cl->pf_ok = ok;
}

/* preflight: can the wizard work on the --target server? */
static int
cmd_preflight(struct cli *cl, int argc, char **argv)
{
	struct remote *r = engine_remote(cl->e);
	struct remote_pf *pf;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "dstack-wizard: usage: preflight\n");
		return EXIT_USAGE;
	}
	if (r == NULL) {
		fprintf(stderr, "dstack-wizard: preflight checks an SSH server: give --target "
		    "[USER@]HOST[:PORT]\n");
		return EXIT_USAGE;
	}
	printf("==> pre-flight of %s\n", remote_label(r));
	fflush(stdout);
	cl->pf_done = false;
	pf = remote_preflight(r, on_preflight, cl);
	while (!cl->pf_done)
		if (loop_run_once(engine_loop(cl->e), -1) < 0 && errno != EINTR)
			break;
	remote_preflight_free(&pf);
	if (!cl->pf_ok && remote_hostkey_refused(r))
		return hostkey_refused(cl);
	printf("==> %s\n", cl->pf_ok ? "the server is ready for the wizard" :
	    "the pre-flight failed: fix the items marked FAIL, then run it again");
	return cl->pf_ok ? EXIT_OK : EXIT_FAILED;
}

/* export ansible DIR: the chain as an Ansible project (steps/export-ansible.c). */
static int
cmd_export(struct cli *cl, int argc, char **argv)
{
	char *cause = NULL;

	if (argc != 3 || strcmp(argv[1], "ansible") != 0) {
		fprintf(stderr, "dstack-wizard: usage: export ansible DIR\n");
		return EXIT_USAGE;
	}
	if (export_ansible(cl->e, argv[2], &cause) != 0) {
		fprintf(stderr, "dstack-wizard: export: %s\n", cause);
		free(cause);
		return EXIT_REFUSED;
	}
	printf("==> wrote the Ansible project %s (see its README.md)\n", argv[2]);
	return EXIT_OK;
}

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
} commands[] = {
	{ "list", cmd_list }, { "status", cmd_status }, { "inputs", cmd_inputs },
	{ "why", cmd_why }, { "check", cmd_check }, { "run", cmd_run },
	{ "set", cmd_set }, { "unset", cmd_unset }, { "preflight", cmd_preflight },
	{ "export", cmd_export }, { "summary", cmd_summary },
};

bool
cli_is_command(const char *name)
{
	for (size_t i = 0; i < nitems(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return true;
	return false;
}

/* Run a headless command. */
int
cli_run(struct engine *e, int argc, char **argv, const struct cli_opts *o)
{
	struct cli cl = { .e = e, .o = o };
	struct ssh_cbs cbs = { cli_hostkey, cli_passphrase, NULL, &cl };
	int rc = -1;

	if (engine_remote(e) != NULL)
		remote_set_cbs(engine_remote(e), &cbs);
	for (size_t i = 0; i < nitems(commands) && rc == -1; i++)
		if (strcmp(commands[i].name, argv[0]) == 0)
			rc = commands[i].fn(&cl, argc, argv);
	if (rc == -1) {
		fprintf(stderr, "dstack-wizard: unknown command '%s' (see --help)\n", argv[0]);
		rc = EXIT_USAGE;
	}
	if (engine_remote(e) != NULL)
		remote_set_cbs(engine_remote(e), NULL);
	free(cl.hostkey_note);
	free(cl.unsaved);
	return rc;
}
