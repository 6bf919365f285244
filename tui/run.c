/*
 * run.c: the wizard's runs: the gate (a refusal with its reasons), secrets, the review, the
 * engine's callbacks that feed the log and the status lines; R, which runs the rest of the
 * chain by itself until something needs the operator; cancelling; and the re-checks, at
 * start-up of the steps whose saved status is done, and on C of the stale, failed and
 * canceled ones, several at once, to show drift (each step that fails now is named, and the
 * cursor goes to the first).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logbuf.h"
#include "loop.h"
#include "remote.h"
#include "ui.h"
#include "util.h"

/* Forget what the session knew about a step's last run. */
void
ui_forget_run(struct ui_step *us)
{
	for (size_t i = 0; i < us->nhints; i++) {
		free(us->hints[i].say);
		free(us->hints[i].fix);
		free(us->hints[i].line);
	}
	free(us->hints);
	us->hints = NULL;
	us->nhints = 0;
	freep(&us->cmd);
	freep(&us->outcome);
}

/* Output arrived: draw soon. */
static void
on_line(void *data, size_t step, int stream, const char *text, size_t len)
{
	struct ui *ui = data;

	(void)step;
	(void)stream;
	(void)text;
	(void)len;
	ui->dirty |= UI_LOG;
}

/* A command started: remember it for the status lines. */
static void
on_cmd_start(void *data, size_t step, enum run_kind kind, size_t index, const struct run_cmd *cmd)
{
	struct ui *ui = data;

	(void)kind;
	(void)index;
	free(ui->steps[step].cmd);
	ui->steps[step].cmd = xstrdup(cmd->label ? cmd->label : cmd->display);
	ui->dirty |= UI_LOG;
}

static void autorun_next(void *data);
static bool all_done(struct ui *ui);
static int start_run(struct ui *ui, size_t s, enum run_kind kind, bool recheck, char **cause);
static void autorun_stop(struct ui *ui, enum ui_style st, const char *fmt, ...) DW_PRINTF(3, 4);

/* A run ended: remember its hints and outcome; go on with re-checks. */
static void
on_done(void *data, size_t s, enum run_kind kind, const struct run_result *res,
    const char *unsaved)
{
	struct ui *ui = data;
	struct ui_step *us = &ui->steps[s];
	const struct step *st = &ui->c->steps[s];
	const struct state_step *ss = engine_step_state(ui->e, s);
	enum step_status now = engine_status(ui->e, s);

	freep(&us->cmd);
	for (size_t i = 0; i < us->nhints; i++) {
		free(us->hints[i].say);
		free(us->hints[i].fix);
		free(us->hints[i].line);
	}
	free(us->hints);
	us->nhints = res->nhints;
	us->hints = xcalloc(res->nhints ? res->nhints : 1, sizeof *us->hints);
	for (size_t i = 0; i < res->nhints; i++) {
		us->hints[i].say = xstrdup(res->hints[i].hint->say);
		us->hints[i].fix = xstrdup(res->hints[i].hint->fix);
		us->hints[i].line = xstrdup(res->hints[i].line);
	}
	free(us->outcome);
	if (unsaved != NULL)
		us->outcome = xprintf("its outcome could not be saved: %s", unsaved);
	else if (res->canceled)
		us->outcome = xstrdup("canceled");
	else if (now == ST_DONE)
		us->outcome = xstrdup(kind == RUN_CHECK ? "check passed" : "done");
	else
		us->outcome = xstrdup(ss && ss->message ? ss->message : "failed");
	if (us->recheck) {
		us->recheck = false;
		ui->rechecked++;
		ui->recheck_running--;
		if (!res->ok && !res->canceled) {
			if (ui->recheck_key)
				us->recheck_fail = true;
			else {
				us->drift = true;
				us->drift_done_at = ss ? ss->done_at : 0;
			}
			ui->recheck_fails++;
		}
		if (unsaved != NULL)
			ui_message(ui, S_ERROR, "%s: %s", st->id, us->outcome);
		if (!ui->quitting && ui->recheck_timer == 0)
			ui->recheck_timer = loop_add_timer(ui->loop, 0, ui_recheck_next, ui);
	} else if (unsaved != NULL)
		ui_message(ui, S_ERROR, "%s: %s", st->id, us->outcome);
	else if (res->canceled)
		ui_message(ui, S_ERROR, "%s: %s canceled", st->id,
		    kind == RUN_CHECK ? "check" : "action");
	else if (now == ST_DONE && all_done(ui) && ui->modal == MODAL_NONE) {
		ui_message(ui, S_OK, "%s is done, and with it every step", st->id);
		ui_open_finish(ui);
	} else if (now == ST_DONE)
		ui_message(ui, S_OK, "%s is done", st->id);
	else {
		size_t ticked = 0;
		char *of = xstrdup("");

		for (size_t k = 0; k < st->nchecklist; k++)
			ticked += engine_ticked(ui->e, s, k) != 0;
		if (ticked < st->nchecklist) {
			free(of);
			of = xprintf(" (%zu of %zu checklist items ticked)", ticked, st->nchecklist);
		}
		ui_message(ui, S_ERROR, "%s failed%s: %s", st->id, of, us->outcome);
		free(of);
	}
	if (ui->autorun && s == ui->autorun_step && !us->recheck) {
		if (now == ST_DONE && unsaved == NULL && !ui->quitting) {
			if (ui->autorun_timer == 0)
				ui->autorun_timer = loop_add_timer(ui->loop, 0, autorun_next, ui);
		} else if (res->canceled)
			autorun_stop(ui, S_ERROR, "run the rest stopped: %s was canceled", st->id);
		else
			autorun_stop(ui, S_ERROR, "run the rest stopped: %s failed: %s", st->id,
			    us->outcome);
	}
	if (ui->quitting && !engine_busy(ui->e))
		ui->dirty |= UI_QUIT;
	ui->dirty |= UI_REDRAW;
}

/* Is every step done? */
static bool
all_done(struct ui *ui)
{
	for (size_t s = 0; s < ui->c->nsteps; s++)
		if (engine_status(ui->e, s) != ST_DONE)
			return false;
	return true;
}

/* A second passed while a step runs: redraw its time; again while one runs. */
static void
on_tick(void *data)
{
	struct ui *ui = data;

	ui->tick_timer = 0;
	if (!engine_busy(ui->e))
		return;
	ui->dirty |= UI_REDRAW;
	ui->tick_timer = loop_add_timer(ui->loop, 1000, on_tick, ui);
}

/* Stop running the rest, saying why. */
static void
autorun_stop(struct ui *ui, enum ui_style st, const char *fmt, ...)
{
	va_list ap;
	char *why;

	ui->autorun = false;
	if (ui->autorun_timer != 0) {
		loop_del_timer(ui->loop, ui->autorun_timer);
		ui->autorun_timer = 0;
	}
	va_start(ap, fmt);
	why = xvprintf(fmt, ap);
	va_end(ap);
	ui_message(ui, st, "%s", why);
	free(why);
	ui->dirty |= UI_REDRAW;
}

/*
 * Run the rest: start the next step that needs no one, or stop at the first that does (done
 * by hand, a missing input, a yes to give), select it and say why.
 */
static void
autorun_next(void *data)
{
	struct ui *ui = data;
	enum auto_next an;
	char *why = NULL, *cause = NULL;
	size_t s, left = 0;

	ui->autorun_timer = 0;
	if (!ui->autorun)
		return;
	an = engine_next_auto(ui->e, &s, &why);
	if (an == AUTO_BUSY) {
		/* A re-check of it runs: go on when it ends. */
		ui->autorun_step = s;
		free(why);
		return;
	}
	if (s < ui->c->nsteps)
		ui_select(ui, s);
	if (an == AUTO_ALL_DONE)
		autorun_stop(ui, S_OK, "run the rest: %s", why);
	else if (an != AUTO_GO)
		autorun_stop(ui, S_STALE, "run the rest stopped: %s", why);
	else if (start_run(ui, s, RUN_ACTION, false, &cause) != 0) {
		char *nl = cause != NULL ? strchr(cause, '\n') : NULL;

		if (nl != NULL)
			*nl = '\0';
		autorun_stop(ui, S_ERROR, "run the rest stopped: %s", cause ? cause :
		    "could not start");
	} else {
		for (size_t k = s; k < ui->c->nsteps; k++)
			left += engine_status(ui->e, k) != ST_DONE;
		ui->autorun_step = s;
		ui_message(ui, S_NORMAL, "running the rest: %s (%zu not done; x cancels)",
		    ui->c->steps[s].id, left);
	}
	free(cause);
	free(why);
	ui->dirty |= UI_REDRAW;
}

/* R: go on through the ready steps by themselves, until one needs the operator. */
unsigned
ui_run_rest(struct ui *ui)
{
	if (engine_readonly(ui->e) != NULL) {
		ui_message(ui, S_ERROR, "%s", engine_readonly(ui->e));
		return UI_REDRAW;
	}
	if (ui->autorun) {
		ui_message(ui, S_NORMAL, "the rest is running already; x cancels it");
		return UI_REDRAW;
	}
	ui->autorun = true;
	ui->autorun_step = SIZE_MAX;
	autorun_next(ui);
	return UI_REDRAW;
}

/* Start a run through the engine. */
static int
start_run(struct ui *ui, size_t s, enum run_kind kind, bool recheck, char **cause)
{
	struct engine_cbs cbs = { on_line, on_cmd_start, NULL, on_done, ui };
	struct ui_step *us = &ui->steps[s];
	enum engine_err err;

	if (engine_start(ui->e, s, kind, &cbs, &err, cause) != 0)
		return -1;
	ui_forget_run(us);
	us->ran = true;
	us->kind = kind;
	us->recheck = recheck;
	if (recheck)
		ui->recheck_running++;
	else
		us->drift = false;
	if (ui->log.step == s)
		logview_show(ui, s);
	if (ui->tick_timer == 0)
		ui->tick_timer = loop_add_timer(ui->loop, 1000, on_tick, ui);
	return 0;
}

/* Start a run the operator asked for (after the gate and the confirmation). */
unsigned
ui_start_run(struct ui *ui, size_t s, enum run_kind kind)
{
	char *cause = NULL;

	if (start_run(ui, s, kind, false, &cause) != 0) {
		char *nl = cause ? strchr(cause, '\n') : NULL;

		if (nl != NULL)
			*nl = '\0';
		ui_message(ui, S_ERROR, "%s", cause ? cause : "could not start");
		free(cause);
		return UI_REDRAW;
	}
	ui_message(ui, S_NORMAL, "%s: %s started (x cancels)", ui->c->steps[s].id,
	    kind == RUN_CHECK ? "check" : kind == RUN_REPLACE ? "replacement" : "action");
	return UI_REDRAW;
}

/*
 * The operator asked for a check or an action: refuse a locked step with its blockers, ask
 * for missing secrets, ask before an action; then start.
 */
unsigned
ui_request_run(struct ui *ui, size_t s, enum run_kind kind)
{
	const struct step *st = &ui->c->steps[s];
	struct blocker *b;
	size_t nb, *miss, nmiss;

	if (engine_readonly(ui->e) != NULL) {
		ui_message(ui, S_ERROR, "%s", engine_readonly(ui->e));
		return UI_REDRAW;
	}
	if (ui_running(ui, s)) {
		ui_message(ui, S_ERROR, "%s is %s already; x cancels it", st->id,
		    ui->steps[s].recheck ? "being re-checked" : "running");
		return UI_REDRAW;
	}
	nb = engine_blockers(ui->e, s, &b);
	blockers_free(&b, nb);
	if (nb > 0)
		return refusal_open(ui, s, NULL);
	nmiss = engine_missing_secrets(ui->e, s, &miss);
	if (nmiss > 0) {
		size_t first = miss[0];

		free(miss);
		ui_message(ui, S_NORMAL, "%s needs the secret %s: type it (it stays hidden and is "
		    "never written), then Enter", st->id, ui->c->inputs[first].name);
		return form_open(ui, s, first, true, kind);
	}
	if (kind == RUN_ACTION) {
		/* What it deployed was made from other values: its action would keep it. */
		char *other = engine_mismatch(ui->e, s);

		if (other != NULL && st->nreplace > 0)
			kind = RUN_REPLACE;
		free(other);
		return confirm_open(ui, s, kind);
	}
	return ui_start_run(ui, s, kind);
}

/* Cancel the selected step's run, or else the run the operator started. */
unsigned
ui_cancel(struct ui *ui)
{
	size_t target = SIZE_MAX;

	if (ui_running(ui, ui->sel))
		target = ui->sel;
	for (size_t s = 0; s < ui->c->nsteps && target == SIZE_MAX; s++)
		if (ui_running(ui, s) && !ui->steps[s].recheck)
			target = s;
	if (target == SIZE_MAX && ui->autorun) {
		autorun_stop(ui, S_NORMAL, "run the rest stopped: canceled");
		return UI_REDRAW;
	}
	if (target == SIZE_MAX) {
		ui_message(ui, S_NORMAL, "nothing is running");
		return UI_REDRAW;
	}
	engine_cancel(ui->e, target);
	ui_message(ui, S_NORMAL, "canceling %s%s", ui->c->steps[target].id, ui->g->ellipsis);
	return UI_REDRAW;
}

/* The start-up re-check is over: say how it went, naming each step that fails now; the
 * cursor goes to the first of them. */
static void
recheck_over(struct ui *ui)
{
	struct strbuf names = {0};
	size_t first = SIZE_MAX;
	char of[64] = "";

	ui->rechecking = false;
	if (ui->rechecked < ui->nrechecks)
		snprintf(of, sizeof of, " of %zu", ui->nrechecks);
	for (size_t s = 0; s < ui->c->nsteps; s++) {
		if (!(ui->recheck_key ? ui->steps[s].recheck_fail : ui->steps[s].drift))
			continue;
		sb_addf(&names, "%s%s", first == SIZE_MAX ? "" : ", ", ui->c->steps[s].id);
		if (first == SIZE_MAX)
			first = s;
	}
	if (ui->recheck_key) {
		ui_message(ui, first != SIZE_MAX ? S_ERROR : S_OK, "re-checked %zu%s stale or "
		    "failed step%s: %zu done now%s%s%s", ui->rechecked, of,
		    ui->nrechecks == 1 ? "" : "s", ui->rechecked - ui->recheck_fails,
		    first != SIZE_MAX ? "; still failing: " : "", sb_str(&names),
		    ui->rechecked < ui->nrechecks ? " (the others need a secret, a server, or a "
		    "step before them)" : "");
		if (first != SIZE_MAX)
			ui_select(ui, first);
	} else if (first != SIZE_MAX) {
		ui_message(ui, S_ERROR, "re-checked %zu%s done step%s: %zu fail%s now: %s",
		    ui->rechecked, of, ui->nrechecks == 1 ? "" : "s", ui->recheck_fails,
		    ui->recheck_fails == 1 ? "s" : "", sb_str(&names));
		ui_select(ui, first);
	} else
		ui_message(ui, S_OK, "re-checked %zu%s done step%s: %s", ui->rechecked, of,
		    ui->nrechecks == 1 ? "" : "s", ui->rechecked < ui->nrechecks ?
		    "the others need a secret or a server" : "still done");
	sb_free(&names);
	ui->dirty |= UI_REDRAW;
}

/*
 * Start re-checks of the steps whose saved status is done (at start-up), or stale, failed or
 * canceled (the operator's, C), in chain order, up to UI_RECHECKS_AT_ONCE at a time (checks
 * only read; a step may be checked while the steps it requires are, and one that requires a
 * step not done whose check runs waits for it). Called again as each ends.
 */
void
ui_recheck_next(void *data)
{
	struct ui *ui = data;

	ui->recheck_timer = 0;
	while (ui->recheck_pos < ui->nrechecks && ui->recheck_running < UI_RECHECKS_AT_ONCE) {
		size_t s = ui->rechecks[ui->recheck_pos], nb, *miss, nmiss;
		const struct state_step *ss = engine_step_state(ui->e, s);
		struct blocker *b;
		char *cause = NULL;
		bool wait = false;

		/* The operator's re-check checks each step it named, even one that turned done
		 * meanwhile (a step it requires was done again): C asked for a check. */
		if (ss == NULL || ui_running(ui, s) || (ui->recheck_key ?
		    ss->status == SAVED_NONE : ss->status != SAVED_DONE)) {
			ui->recheck_pos++;
			continue;
		}
		nb = engine_blockers(ui->e, s, &b);
		for (size_t k = 0; k < nb; k++)
			wait |= b[k].kind == BLOCK_STEP && ui_running(ui, b[k].index) &&
			    ui->steps[b[k].index].recheck;
		blockers_free(&b, nb);
		if (wait)
			break;
		ui->recheck_pos++;
		nmiss = engine_missing_secrets(ui->e, s, &miss);
		free(miss);
		if (nb > 0 || nmiss > 0)
			continue;
		if (start_run(ui, s, RUN_CHECK, true, &cause) == 0)
			ui->dirty |= UI_REDRAW;
		free(cause);
	}
	if (ui->rechecking && ui->recheck_pos == ui->nrechecks && ui->recheck_running == 0)
		recheck_over(ui);
}

/* C: re-check every stale, failed or canceled step, several at once, as at start-up. */
unsigned
ui_recheck_bad(struct ui *ui)
{
	if (engine_readonly(ui->e) != NULL) {
		ui_message(ui, S_ERROR, "%s", engine_readonly(ui->e));
		return UI_REDRAW;
	}
	if (ui->rechecking) {
		ui_message(ui, S_NORMAL, "a re-check is going on already");
		return UI_REDRAW;
	}
	ui->nrechecks = ui->recheck_pos = ui->rechecked = ui->recheck_fails = 0;
	for (size_t s = 0; s < ui->c->nsteps; s++) {
		enum step_status st = engine_status(ui->e, s);

		ui->steps[s].recheck_fail = false;
		if (st == ST_STALE || st == ST_FAILED || st == ST_CANCELED)
			ui->rechecks[ui->nrechecks++] = s;
	}
	if (ui->nrechecks == 0) {
		ui_message(ui, S_NORMAL, "no step is stale, failed or canceled");
		return UI_REDRAW;
	}
	ui->recheck_key = ui->rechecking = true;
	ui_message(ui, S_NORMAL, "re-checking %zu stale or failed step%s%s", ui->nrechecks,
	    ui->nrechecks == 1 ? "" : "s", ui->g->ellipsis);
	if (ui->recheck_timer == 0)
		ui->recheck_timer = loop_add_timer(ui->loop, 0, ui_recheck_next, ui);
	return UI_REDRAW;
}
