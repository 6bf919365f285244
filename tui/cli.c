/*
 * cli.c: the headless commands. Each prints plain text (or JSON) on stdout, errors on stderr,
 * and returns one of the documented exit codes (cli.h). Runs are driven to their end in the
 * engine's loop; Ctrl-C cancels the running step (its process group gets SIGTERM, then SIGKILL).
 */
#include "config.h"

#include "cli.h"

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

/* How long why/run/check/status wait for input verifications (eth_getCode) to answer. */
#define CLI_VERIFY_WAIT_MS 20000
/* How many checks `check` of every step runs at once. */
#define CLI_CHECKS_AT_ONCE 8

/* A step's check in `check` of every step: its output is kept until it is its turn. */
enum cli_job_state { JOB_PENDING, JOB_RUNNING, JOB_OVER };
struct cli_job {
	enum cli_job_state state;
	struct strbuf out;
	int rc;
};

struct cli {
	struct engine *e;
	const struct cli_opts *o;
	bool done;
	bool ok;
	bool interrupted;
	size_t step;
	char *unsaved;               /* why the run's outcome could not be saved */
	struct cli_job *jobs;        /* per step, while checks run side by side; else NULL */
	size_t running;
	char *hostkey_note;          /* an unknown host key refused without asking */
	bool pf_done;
	bool pf_ok;
};

/* ANSI colour for a status, or "" when colour is off. */
static const char *
color_of(const struct cli_opts *o, enum step_status s)
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

static const char *
color_end(const struct cli_opts *o)
{
	return o->color ? "\033[0m" : "";
}

static const char *
place_badge(enum place p)
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
static int
find_step(struct engine *e, const char *id)
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
static void
print_json(cJSON *root)
{
	char *text = cJSON_Print(root);

	puts(text);
	free(text);
	cJSON_Delete(root);
}

/* list [--json]: the steps in walking order. */
static int
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
		print_json(root);
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
		printf("  %-32s %-7s %s\n", st->id, place_badge(st->place), st->title);
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
static int
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
		print_json(root);
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
		printf("  %s%-8s%s %-32s %-7s %s", color_of(cl->o, s), step_status_name(s),
		    color_end(cl->o), st->id, place_badge(st->place), st->title);
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
static int
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
	if ((idx = find_step(cl->e, argv[1])) < 0)
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
		    color_of(cl->o, ST_FAILED), color_end(cl->o), unsaved);
		fprintf(stderr, "dstack-wizard: %s: could not save the state: %s\n", st->id,
		    unsaved);
	} else if (ok && ss != NULL && ss->status == SAVED_STALE)
		out(cl, s, "==> %s is %sstale%s: its check passed, but %s\n", st->id,
		    color_of(cl->o, ST_STALE), color_end(cl->o), ss->message);
	else if (ok)
		out(cl, s, "==> %s is %sdone%s\n", st->id, color_of(cl->o, ST_DONE),
		    color_end(cl->o));
	else if (ss != NULL && ss->status == SAVED_CANCELED)
		out(cl, s, "==> %s %scanceled%s\n", st->id, color_of(cl->o, ST_CANCELED),
		    color_end(cl->o));
	else
		out(cl, s, "==> %s %sfailed%s: %s\n", st->id, color_of(cl->o, ST_FAILED),
		    color_end(cl->o), ss && ss->message ? ss->message : "failed");
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
		if (find_step(cl->e, argv[i]) < 0)
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
	if ((idx = find_step(cl->e, argv[1])) < 0)
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
static int
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
				printf("  %s!! %s%s", color_of(cl->o, ST_FAILED), iv.verdict.why,
				    color_end(cl->o));
			else if (iv.verdict.unchecksummed)
				printf("  (no EIP-55 checksum)");
			putchar('\n');
		}
		free(prov);
		input_value_clear(&iv);
	}
	if (root)
		print_json(root);
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

/* summary [--json]: what the chain built and where to reach it, and what to do next. */
static int
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
		print_json(root);
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
