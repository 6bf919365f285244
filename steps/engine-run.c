/*
 * engine-run.c: running a step. A check is one runner pass over the probes; an action is a
 * runner pass over the action's commands, its captures applied, then a check pass. A server
 * step's first run is preceded by the pre-flight. Every held secret is redacted from all
 * output.
 */
#include "config.h"

#include "engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine-int.h"
#include "logbuf.h"
#include "loop.h"
#include "probe.h"
#include "remote.h"
#include "runner.h"
#include "util.h"

struct logbuf *
engine_log(struct engine *e, size_t s)
{
	return e->rt[s].log;
}

/* The first failing command's label and reason, plus the first hint. */
static char *
failure_message(const struct run_result *res, const struct run_cmd *cmds, const char *what,
    int *code)
{
	struct strbuf sb = {0};

	*code = 0;
	if (res->canceled)
		sb_adds(&sb, "canceled");
	else if (res->error != NULL)
		sb_adds(&sb, res->error);
	for (size_t i = 0; i < res->ncmds && sb.len == 0; i++) {
		const struct cmd_result *cr = &res->cmds[i];

		if (cr->ok || cr->skipped)
			continue;
		*code = cr->how == TJOB_EXITED ? cr->code : -1;
		if (cmds[i].label)
			sb_addf(&sb, "%s failed: %s: ", what, cmds[i].label);
		else {
			/* The first line of the command, for a one-line message. */
			size_t n = strcspn(cmds[i].display, "\n");

			sb_addf(&sb, "%s failed: %.*s%s: ", what, (int)n,
			    cmds[i].display, cmds[i].display[n] ? " ..." : "");
		}
		sb_adds(&sb, cr->reason ? cr->reason : "failed");
	}
	if (sb.len == 0)
		sb_addf(&sb, "%s failed", what);
	if (res->nhints > 0)
		sb_addf(&sb, "; hint: %s", res->hints[0].hint->say);
	return sb_detach(&sb);
}

/* Wipe the step_rt's secret copies. */
static void
rt_drop_secrets(struct step_rt *rt)
{
	for (size_t i = 0; i < rt->nsecrets; i++) {
		secret_free(&rt->secrets[i]);
	}
	free(rt->secrets);
	rt->secrets = NULL;
	rt->nsecrets = 0;
}

static int start_pass(struct engine *e, size_t s, enum run_kind pass, char **cause);

/* Store a captured value as its input (if valid and new) and say so in the log; returns
 * whether the input changed. A value that could not be saved fails the run (rt->unsaved). */
static bool
apply_capture(struct engine *e, struct step_rt *rt, const struct capture *c, const char *value)
{
	const struct step *st = &e->chain->steps[rt->index];
	int idx = chain_input_index(e->chain, c->name);
	const struct state_input *old;
	struct verdict v;
	char *line = NULL, *why = NULL;
	bool stored = false;

	if (idx < 0 || e->chain->inputs[idx].secret)
		return false;
	update_begin(e);
	old = state_get_input(e->state, c->name);
	if (old == NULL || old->source != SRC_CAPTURE || strcmp(old->value, value) != 0 ||
	    old->from_step == NULL || strcmp(old->from_step, st->id) != 0) {
		validate_input(&e->chain->inputs[idx], value, &v);
		if (v.ok) {
			store_input(e, idx, value, SRC_CAPTURE, st->id, NULL);
			line = xprintf("captured %s = %s", c->name, value);
			stored = true;
		} else
			line = xprintf("captured %s = %s, which is not valid (%s): not used", c->name,
			    value, v.why);
		verdict_clear(&v);
	}
	if (update_end(e, &why) != 0) {
		free(line);
		line = xprintf("captured %s = %s, which could not be saved: %s", c->name, value, why);
		if (rt->unsaved == NULL)
			rt->unsaved = xstrdup(why);
		free(why);
		stored = false;
	}
	if (line != NULL) {
		logbuf_push(rt->log, STREAM_META, line, strlen(line));
		if (rt->cbs.line)
			rt->cbs.line(rt->cbs.data, rt->index, STREAM_META, line, strlen(line));
	}
	free(line);
	return stored;
}

/* Apply every capture of the finished run. */
static void
apply_captures(struct engine *e, struct step_rt *rt, const struct run_result *res)
{
	for (size_t i = 0; i < res->ncaptures; i++)
		apply_capture(e, rt, res->captures[i].capture, res->captures[i].value);
}

/* The first step st requires whose saved status is not done, or NULL. */
static const char *
undone_requirement(const struct engine *e, const struct step *st)
{
	for (size_t k = 0; k < st->nrequires; k++) {
		const struct step *r = &e->chain->steps[st->req[k]];
		const struct state_step *rs = state_get_step(e->state, r->id);

		if (rs == NULL || rs->status != SAVED_DONE)
			return r->id;
	}
	return NULL;
}

/* The run is over: tell the caller (with why its outcome is not saved, if it is not). */
static void
rt_finish(struct step_rt *rt, const struct run_result *res)
{
	rt_drop_secrets(rt);
	if (rt->cbs.done)
		rt->cbs.done(rt->cbs.data, rt->index, rt->kind, res, rt->unsaved);
	freep(&rt->unsaved);
}

/* Save the update going on; a failure is kept as why the run's outcome is not saved. */
static void
rt_update_end(struct step_rt *rt)
{
	char *why = NULL;

	if (update_end(rt->e, &why) != 0 && rt->unsaved == NULL)
		rt->unsaved = why;
	else
		free(why);
}

/*
 * A pass ended: record it, and go on to the check after a successful action. A passing check
 * makes the step done only while the steps it requires are done (checks run side by side: a
 * required step's check may have failed meanwhile); else it is stale.
 */
static void
engine_run_done(void *data, const struct run_result *res)
{
	struct step_rt *rt = data;
	struct engine *e = rt->e;
	const struct step *st = &e->chain->steps[rt->index];
	struct state_step *ss;
	bool was_done, check = rt->in_check;
	struct run *finished = rt->run;    /* freed at the end: res belongs to it */
	const char *gone;
	char *cause = NULL;

	rt->run = NULL;
	if (rt->in_replace) {
		/* What the action deployed is removed: the action now deploys it anew. */
		if (res->ok && !res->canceled) {
			if (start_pass(e, rt->index, RUN_ACTION, &cause) == 0) {
				run_free(&finished);
				return;
			}
			logbuf_push(rt->log, STREAM_META, cause, strlen(cause));
		}
	} else if (!check) {
		/* The action's supervised command, if any, is over (however it ended). */
		update_begin(e);
		freep(&state_step(e->state, st->id)->job);
		rt_update_end(rt);
		apply_captures(e, rt, res);
		if (res->ok && !res->canceled && rt->unsaved == NULL) {
			if (start_pass(e, rt->index, RUN_CHECK, &cause) == 0) {
				run_free(&finished);
				return;
			}
			logbuf_push(rt->log, STREAM_META, cause, strlen(cause));
		}
	}
	update_begin(e);
	ss = state_step(e->state, st->id);
	was_done = ss->status == SAVED_DONE;
	ss->started_at = rt->started;
	ss->finished_at = time(NULL);
	ss->duration_ms = (long)(now_ms() - rt->t0);
	free(ss->log_path);
	ss->log_path = xstrdup(rt->log_path);
	free(ss->message);
	ss->message = NULL;
	state_clear_causes(ss);
	if (cause != NULL) {
		ss->status = SAVED_FAILED;
		ss->message = cause;
		ss->exit_code = -1;
		cause = NULL;
	} else if (check && res->ok && !res->canceled) {
		char *other = engine_mismatch(e, rt->index);

		gone = undone_requirement(e, st);
		ss->status = gone == NULL && other == NULL ? SAVED_DONE : SAVED_STALE;
		if (gone != NULL) {
			ss->message = xprintf("%s is no longer done", gone);
			state_add_cause(ss, gone, NULL, NULL, ss->message);
		} else if (other != NULL)
			ss->message = xprintf("it was %s: replace it (run %s --replace)", other,
			    st->id);
		free(other);
		ss->done_at = ss->finished_at;
		ss->exit_code = 0;
		if (ss->status == SAVED_DONE)
			clear_stale(e, (int)rt->index);
	} else {
		ss->status = res->canceled ? SAVED_CANCELED : SAVED_FAILED;
		ss->message = failure_message(res, rt->cmds, check ? "check" : rt->in_replace ?
		    "replace" : "action", &ss->exit_code);
		if (was_done) {
			char *why = xprintf("%s is no longer done", st->id);

			mark_stale(e, (int)rt->index, -1, NULL, why);
			free(why);
		}
	}
	note_attempt(e, rt, state_step(e->state, st->id), res);
	rt_update_end(rt);
	rt_finish(rt, res);
	run_free(&finished);    /* the runner allows this from its done callback */
}

/* The j-th action command of st for the release in use (as engine_commands counts), or NULL. */
static const struct command *
nth_action(const struct engine *e, const struct step *st, size_t j)
{
	char *version = engine_version(e);
	const struct command *c = NULL;

	for (size_t i = 0; i < st->naction && c == NULL; i++)
		if (vcond_holds(st->action[i].when, version) && j-- == 0)
			c = &st->action[i];
	free(version);
	return c;
}

static void
rt_line(void *data, int stream, const char *text, size_t len)
{
	struct step_rt *rt = data;

	if (rt->cbs.line)
		rt->cbs.line(rt->cbs.data, rt->index, stream, text, len);
}

static void
rt_cmd_start(void *data, size_t index, const struct run_cmd *cmd)
{
	struct step_rt *rt = data;

	/* A command that outlives this wizard is recorded first: a later run re-attaches. */
	if (!rt->in_check && !rt->in_replace && cmd->tc.supervised) {
		struct state_step *ss;

		update_begin(rt->e);
		ss = state_step(rt->e->state, rt->e->chain->steps[rt->index].id);
		free(ss->job);
		ss->job = xprintf("%zu:%s", rt->skip + index, cmd->tc.id);
		rt_update_end(rt);
	}
	if (rt->cbs.cmd_start)
		rt->cbs.cmd_start(rt->cbs.data, rt->index, rt->in_check ? RUN_CHECK :
		    rt->in_replace ? RUN_REPLACE : RUN_ACTION, index, cmd);
}

static void
rt_cmd_end(void *data, size_t index, const struct cmd_result *res)
{
	struct step_rt *rt = data;
	struct engine *e = rt->e;
	const struct step *st = &e->chain->steps[rt->index];
	bool changed = false;

	/*
	 * A value captured by one action command is used by the commands after it (a contract
	 * address, an app id): store it now and prepare the remaining commands again.
	 */
	if (!rt->in_check && !rt->in_replace && res->ok && index + 1 < rt->ncmds &&
	    rt->run != NULL) {
		for (size_t i = 0; i < rt->ncaps; i++) {
			const char *v = run_capture(rt->run, i);

			if (v != NULL && apply_capture(e, rt, &rt->caps[i], v))
				changed = true;
		}
		for (size_t j = index + 1; changed && j < rt->ncmds; j++) {
			const struct command *c = nth_action(e, st, rt->skip + j);
			struct run_cmd rc;
			char *cause = NULL;

			if (c == NULL || build_cmd(e, st, c, RUN_ACTION, &rc, &cause) != 0) {
				free(cause);
				continue;   /* keep the command as prepared at the start */
			}
			if (transport_is_probe(rt->cmds[j].transport))
				probe_transport_free(&rt->cmds[j].transport);
			run_cmd_clear(&rt->cmds[j]);
			rt->cmds[j] = rc;
		}
	}
	if (rt->cbs.cmd_end)
		rt->cbs.cmd_end(rt->cbs.data, rt->index, rt->in_check ? RUN_CHECK :
		    rt->in_replace ? RUN_REPLACE : RUN_ACTION, index, res);
}

/* Keep the step's captures and hints that are for the release in use. */
static void
rt_select(struct engine *e, struct step_rt *rt, const struct step *st)
{
	char *version = engine_version(e);

	free(rt->caps);
	free(rt->hints);
	rt->caps = xcalloc(st->ncaptures + 1, sizeof *rt->caps);
	rt->hints = xcalloc(st->nhints + 1, sizeof *rt->hints);
	rt->ncaps = rt->nhints = 0;
	for (size_t i = 0; i < st->ncaptures; i++)
		if (vcond_holds(st->captures[i].when, version))
			rt->caps[rt->ncaps++] = st->captures[i];
	for (size_t i = 0; i < st->nhints; i++)
		if (vcond_holds(st->hints[i].when, version))
			rt->hints[rt->nhints++] = st->hints[i];
	free(version);
}

/*
 * An action of this step still runs under its supervisor on the server (a wizard that ran it
 * was killed or lost its terminal): take that command's id, so the transport attaches to it
 * instead of starting it again, and leave out the commands before it, which had ended.
 */
static void
reattach(struct engine *e, struct step_rt *rt, const struct step *st)
{
	const struct state_step *ss = state_get_step(e->state, st->id);
	const char *id;
	char *end, *note;
	unsigned long k;

	if (ss == NULL || ss->job == NULL)
		return;
	k = strtoul(ss->job, &end, 10);
	id = end + 1;
	if (end == ss->job || *end != ':' || *id == '\0' || k >= rt->ncmds ||
	    !rt->cmds[k].tc.supervised)
		return;   /* not this release's, or not supervised here any more: run anew */
	free((void *)(uintptr_t)rt->cmds[k].tc.id);
	rt->cmds[k].tc.id = xstrdup(id);
	for (size_t i = 0; i < k; i++) {
		if (transport_is_probe(rt->cmds[i].transport))
			probe_transport_free(&rt->cmds[i].transport);
		run_cmd_clear(&rt->cmds[i]);
	}
	memmove(rt->cmds, rt->cmds + k, (rt->ncmds - k) * sizeof *rt->cmds);
	rt->ncmds -= k;
	rt->skip = k;
	note = xprintf("command %lu of the action was still running on the server when a wizard "
	    "let go of it (job %s): attaching to it, not starting it again", k + 1, id);
	logbuf_push(rt->log, STREAM_META, note, strlen(note));
	if (rt->cbs.line)
		rt->cbs.line(rt->cbs.data, rt->index, STREAM_META, note, strlen(note));
	free(note);
}

/* Record the values of a step's made_from: inputs, as its action starts. */
static void
record_made(struct engine *e, struct step_rt *rt, const struct step *st)
{
	struct state_step *ss;

	if (st->nmade_from == 0)
		return;
	update_begin(e);
	ss = state_step(e->state, st->id);
	state_clear_made(ss);
	for (size_t k = 0; k < st->nmade_from; k++) {
		enum value_source src;
		char *v = value_of(e, st->made_from[k], &src, 0);

		if (v != NULL)
			state_add_made(ss, e->chain->inputs[st->made_from[k]].name, v);
		free(v);
	}
	rt_update_end(rt);
}

/* Start one pass (replace, action or check) of a step. */
static int
start_pass(struct engine *e, size_t s, enum run_kind pass, char **cause)
{
	bool check = pass == RUN_CHECK;
	const char *title = check ? "check" : pass == RUN_REPLACE ? "replace" : "action";
	const struct step *st = &e->chain->steps[s];
	struct step_rt *rt = &e->rt[s];
	struct run_opts ro = {0};
	struct run_cbs cbs = {0};
	char *logdir, *logpath, stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	static unsigned serial;

	run_cmds_free(&rt->cmds, rt->ncmds);
	rt->ncmds = 0;
	rt->skip = 0;
	if (engine_commands(e, s, pass, &rt->cmds, &rt->ncmds, cause) != 0)
		return -1;
	if (pass == RUN_ACTION)
		reattach(e, rt, st);
	logdir = xprintf("%s/logs", e->dir);
	if (mkdir_p(logdir, 0700, cause) != 0) {
		free(logdir);
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	logpath = xprintf("%s/%s-%s-%s-%d-%u.log", logdir, st->id, title, stamp, (int)getpid(),
	    serial++);
	free(logdir);

	rt->in_check = check;
	rt->in_replace = pass == RUN_REPLACE;
	if (pass == RUN_ACTION)
		record_made(e, rt, st);
	ro.log_path = logpath;
	ro.title = title;
	ro.secrets = (const char *const *)rt->secrets;
	ro.nsecrets = rt->nsecrets;
	if (pass == RUN_ACTION) {
		ro.captures = rt->caps;
		ro.ncaptures = rt->ncaps;
	}
	ro.hints = rt->hints;
	ro.nhints = rt->nhints;
	ro.ring = rt->log;
	ro.stop_on_failure = !check;
	cbs.line = rt_line;
	cbs.cmd_start = rt_cmd_start;
	cbs.cmd_end = rt_cmd_end;
	cbs.done = engine_run_done;
	cbs.data = rt;
	free(rt->log_path);
	rt->log_path = logpath;
	rt->run = run_start(e->loop, rt->cmds, rt->ncmds, &ro, &cbs, cause);
	return rt->run != NULL ? 0 : -1;
}

/* A step's run could not start: record why, and end it. */
static void
rt_fail_early(struct engine *e, struct step_rt *rt, enum saved_status status, char *why)
{
	struct state_step *ss;
	struct run_result res;

	memset(&res, 0, sizeof res);
	update_begin(e);
	ss = state_step(e->state, e->chain->steps[rt->index].id);
	ss->status = status;
	state_clear_causes(ss);
	ss->started_at = rt->started;
	ss->finished_at = time(NULL);
	ss->duration_ms = (long)(now_ms() - rt->t0);
	ss->exit_code = -1;
	free(ss->message);
	ss->message = why;
	note_attempt(e, rt, ss, &res);
	rt_update_end(rt);
	rt_finish(rt, &res);
}

/* Add one of the wizard's own lines to a step's log. */
static void
rt_meta(struct step_rt *rt, const char *line)
{
	logbuf_push(rt->log, STREAM_META, line, strlen(line));
	if (rt->cbs.line)
		rt->cbs.line(rt->cbs.data, rt->index, STREAM_META, line, strlen(line));
}

/*
 * The pre-flight's report goes to a waiting step's log (whole to the first waiting step in
 * chain order; to the others a line saying where it is); then its pass starts.
 */
static void
rt_preflight_over(struct engine *e, struct step_rt *rt, bool ok, const char *report,
    const char *first)
{
	const char *p = report, *fail = NULL;
	char *cause = NULL, *line;

	if (rt->log == NULL)
		rt->log = logbuf_new(LOG_RING_BYTES);
	while (*p != '\0') {
		size_t n = strcspn(p, "\n");

		if (fail == NULL && str_has_prefix(p, "FAIL "))
			fail = p;
		if (first == NULL) {
			line = xprintf("pre-flight: %.*s", (int)n, p);
			rt_meta(rt, line);
			free(line);
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	if (first != NULL) {
		line = xprintf("pre-flight of %s: %s (its report is in the log of %s)",
		    remote_label(e->remote), ok ? "passed" : "failed", first);
		rt_meta(rt, line);
		free(line);
	}
	if (!ok) {
		size_t n = fail != NULL ? strcspn(fail + 5, "\n") : 0;

		rt_fail_early(e, rt, SAVED_FAILED, xprintf("the pre-flight of %s failed: %.*s",
		    remote_label(e->remote), (int)n, fail != NULL ? fail + 5 : "?"));
		return;
	}
	if (start_pass(e, rt->index, rt->in_check ? RUN_CHECK : rt->in_replace ? RUN_REPLACE :
	    RUN_ACTION, &cause) != 0)
		rt_fail_early(e, rt, SAVED_FAILED, cause);
}

/* The pre-flight is over (called from the loop, not from the pre-flight's own callback, so
 * that a step started meanwhile may start another): every step waiting for it goes on. */
static void
engine_preflight_over(void *data)
{
	struct engine *e = data;
	char *report = e->pf_report;
	const char *first = NULL;
	bool ok = e->pf_ok;

	e->pf_timer = 0;
	e->pf_report = NULL;
	remote_preflight_free(&e->pf);
	for (size_t s = 0; s < e->chain->nsteps; s++) {
		struct step_rt *rt = &e->rt[s];

		if (!rt->waiting)
			continue;
		rt->waiting = false;
		rt_preflight_over(e, rt, ok, report != NULL ? report : "", first);
		if (first == NULL)
			first = e->chain->steps[s].id;
	}
	free(report);
}

/* The pre-flight before the first server step ended. */
static void
engine_preflight_done(void *data, bool ok, const char *report)
{
	struct engine *e = data;

	engine_note_preflight(e, ok, report);
	e->pf_ok = ok;
	free(e->pf_report);
	e->pf_report = xstrdup(report);
	if (e->pf_timer == 0)
		e->pf_timer = loop_add_timer(e->loop, 0, engine_preflight_over, e);
}

/*
 * Refuse an action whose step deployed a thing made from other values than its inputs hold
 * now (the action would keep it), and a replacement for a step without replace: commands.
 */
static int
replace_gate(struct engine *e, size_t s, enum run_kind kind, char **cause)
{
	const struct step *st = &e->chain->steps[s];
	char *other;

	if (kind == RUN_REPLACE && st->nreplace == 0)
		return set_cause(cause, "%s has no replace: commands (only a step whose action "
		    "deploys a thing made from its inputs has them)", st->id);
	if (kind != RUN_ACTION || (other = engine_mismatch(e, s)) == NULL)
		return 0;
	set_cause(cause, "%s was %s: its action would keep what is deployed. Replace it "
	    "(headless: run %s --replace; interactive: r, then Replace): its replace commands "
	    "remove it, then the action deploys it again", st->id, other, st->id);
	free(other);
	return -1;
}

/* Start a check, an action or a replacement of a step, if the gate allows it. */
int
engine_start(struct engine *e, size_t s, enum run_kind kind, const struct engine_cbs *cbs,
    enum engine_err *err, char **cause)
{
	const struct step *st = &e->chain->steps[s];
	struct step_rt *rt = &e->rt[s];
	struct strvec forms = {0};
	struct blocker *b;
	size_t nb, *miss, nmiss;
	struct state_step *ss;
	enum run_kind pass;
	bool check;

	*err = EERR_REFUSED;
	if (e->readonly != NULL)
		return set_cause(cause, "%s", e->readonly);
	if (running(e, s))
		return set_cause(cause, "%s is already running", st->id);
	if (replace_gate(e, s, kind, cause) != 0)
		return -1;
	nb = engine_blockers(e, s, &b);
	if (nb > 0) {
		struct strbuf sb = {0};

		sb_addf(&sb, "%s cannot run yet:", st->id);
		for (size_t i = 0; i < nb; i++)
			sb_addf(&sb, "\n  - %s", b[i].why);
		blockers_free(&b, nb);
		free(*cause);
		*cause = sb_detach(&sb);
		return -1;
	}
	nmiss = engine_missing_secrets(e, s, &miss);
	if (nmiss > 0) {
		struct strbuf sb = {0};

		sb_addf(&sb, "%s needs secrets that are not provided:", st->id);
		for (size_t i = 0; i < nmiss; i++) {
			char *var = engine_secret_var(e->chain->inputs[miss[i]].name);

			sb_addf(&sb, "\n  - %s (set %s, use --secret-file, or type it when asked)",
			    e->chain->inputs[miss[i]].name, var);
			free(var);
		}
		free(miss);
		free(*cause);
		*cause = sb_detach(&sb);
		return -1;
	}
	rt->e = e;
	rt->index = s;
	rt->kind = kind;
	memset(&rt->cbs, 0, sizeof rt->cbs);
	if (cbs)
		rt->cbs = *cbs;
	if (rt->log == NULL)
		rt->log = logbuf_new(LOG_RING_BYTES);
	else
		logbuf_clear(rt->log);
	rt_drop_secrets(rt);
	for (size_t i = 0; i < e->chain->ninputs; i++)
		if (e->secrets[i] != NULL)
			secret_forms(e->secrets[i], &forms);
	rt->secrets = forms.v;
	rt->nsecrets = forms.n;
	rt->started = time(NULL);
	rt->t0 = now_ms();
	rt_select(e, rt, st);
	check = kind == RUN_CHECK || (kind == RUN_ACTION && nth_action(e, st, 0) == NULL);
	pass = check ? RUN_CHECK : kind;
	if (!check) {
		/* An action changes what the steps after it found: they are stale from now. */
		char *why = xprintf("%s re-ran", st->id);

		update_begin(e);
		ss = state_step(e->state, st->id);
		ss->started_at = rt->started;
		mark_stale(e, (int)s, -1, NULL, why);
		free(why);
		if (update_end(e, cause) != 0) {
			*err = EERR_BAD_FILE;
			rt_drop_secrets(rt);
			return -1;
		}
	}
	if (e->remote != NULL) {
		/* Second line behind the loader: the transport refuses local-only secrets. */
		for (size_t i = 0; i < e->chain->ninputs; i++) {
			struct strvec local = {0};

			if (e->secrets[i] == NULL || e->chain->inputs[i].scope != SCOPE_LOCAL)
				continue;
			secret_forms(e->secrets[i], &local);
			for (size_t k = 0; k < local.n; k++)
				remote_forbid(e->remote, local.v[k]);
			for (size_t k = 0; k < local.n; k++)
				secret_free(&local.v[k]);
			sv_free(&local);
		}
		if (step_needs_server(st) && !remote_checked(e->remote)) {
			rt->in_check = check;
			rt->in_replace = pass == RUN_REPLACE;
			rt->waiting = true;
			if (e->pf == NULL)
				e->pf = remote_preflight(e->remote, engine_preflight_done, e);
			*err = EERR_NONE;
			return 0;
		}
	}
	if (start_pass(e, s, pass, cause) != 0) {
		*err = EERR_FAILED;
		rt_drop_secrets(rt);
		update_begin(e);
		ss = state_step(e->state, st->id);
		ss->status = SAVED_FAILED;
		state_clear_causes(ss);
		free(ss->message);
		ss->message = xstrdup(*cause);
		update_end(e, NULL);
		return -1;
	}
	*err = EERR_NONE;
	return 0;
}

/* Cancel a running step. */
void
engine_cancel(struct engine *e, size_t s)
{
	if (e->rt[s].waiting) {
		bool others = false;

		e->rt[s].waiting = false;
		for (size_t k = 0; k < e->chain->nsteps; k++)
			others |= e->rt[k].waiting;
		if (!others && e->pf_timer == 0)
			remote_preflight_free(&e->pf);
		rt_fail_early(e, &e->rt[s], SAVED_CANCELED,
		    xstrdup("canceled during the pre-flight"));
		return;
	}
	if (running(e, s))
		run_cancel(e->rt[s].run);
}

/*
 * The wizard is going away (SIGTERM, SIGHUP): say so on every step whose run it leaves. An
 * action command supervised on the server goes on there, recorded in the state, and the next
 * run of the step attaches to it; the caller then exits without cancelling anything.
 */
void
engine_interrupt(struct engine *e, int sig)
{
	const char *name = sigabbrev_np(sig);

	update_begin(e);
	for (size_t s = 0; s < e->chain->nsteps; s++) {
		struct state_step *ss;

		if (!running(e, s))
			continue;
		ss = state_step(e->state, e->chain->steps[s].id);
		free(ss->message);
		if (ss->job != NULL)
			ss->message = xprintf("the wizard was stopped (SIG%s) while the action ran; "
			    "it goes on on the server: run the step again to follow it to its end",
			    name != NULL ? name : "?");
		else
			ss->message = xprintf("the wizard was stopped (SIG%s) while it ran",
			    name != NULL ? name : "?");
		if (ss->status == SAVED_DONE)
			ss->status = SAVED_STALE;
	}
	update_end(e, NULL);
}
