/*
 * engine-gate.c: what may run, and each step's status.
 *
 * Gating. A step may run (check or action) only when every step it requires is done (a step
 * being checked counts as done while its saved status says so), every input it uses is
 * present and valid, and a place to run its commands exists. The displayed
 * status keeps a step's history (done, failed, stale) and shows locked/ready otherwise.
 *
 * Staleness. When an action starts, when a done step's check fails, or when an input changes,
 * every done step that depends on it (through requires, or by using the input) becomes stale,
 * and keeps why. It is done again when every cause is undone: each step that re-ran or failed
 * is done again, each input holds the value it was done with again.
 */
#include "config.h"

#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "engine-int.h"
#include "util.h"
#include "verify.h"

/*
 * Is the k-th input of step st used at this release: listed in its inputs:, or referred to by
 * one of its commands that is for this release?
 */
static bool
input_applies(const struct chain *c, const struct step *st, size_t k, const char *version)
{
	const char *name = c->inputs[st->inputs[k]].name;

	if (k < st->nlisted)
		return true;
	for (size_t j = 0; j < st->ncheck; j++)
		if (vcond_holds(st->check[j].when, version) && command_uses(&st->check[j], name))
			return true;
	for (size_t j = 0; j < st->naction; j++)
		if (vcond_holds(st->action[j].when, version) && command_uses(&st->action[j], name))
			return true;
	return false;
}

/* Is the k-th of step s's inputs used at the release in use? */
bool
engine_step_uses(const struct engine *e, size_t s, size_t k)
{
	char *version = engine_version(e);
	bool used = input_applies(e->chain, &e->chain->steps[s], k, version);

	free(version);
	return used;
}

/* Does step s use input i (listed, or referred to at this release)? */
static bool
step_uses_input(const struct chain *c, const struct step *s, size_t i, const char *version)
{
	for (size_t k = 0; k < s->ninputs; k++)
		if (s->inputs[k] == i)
			return input_applies(c, s, k, version);
	return false;
}

/* Does any command of step s (check or action) run on the server? */
bool
step_needs_server(const struct step *s)
{
	for (size_t k = 0; k < s->ncheck; k++)
		if (s->check[k].on == PLACE_SERVER)
			return true;
	for (size_t k = 0; k < s->naction; k++)
		if (s->action[k].on == PLACE_SERVER)
			return true;
	return false;
}

/* Give a stale step that knows why it is stale one more cause; make a done step stale. */
static void
add_cause(struct state_step *ss, const char *step, const char *input, const char *was,
    const char *why)
{
	if (ss->status == SAVED_DONE) {
		ss->status = SAVED_STALE;
		state_clear_causes(ss);
		free(ss->message);
		ss->message = xstrdup(why);
	} else if (ss->status != SAVED_STALE || ss->ncauses == 0)
		return;
	state_add_cause(ss, step, input, was, why);
}

/*
 * Mark every done step that depends on step `from` stale; or every one that uses input
 * `input` (whose stored value was `was` before it changed), and every one that depends on such
 * a step (its cause is that step: it is undone when that step is done again). Each keeps why.
 */
void
mark_stale(struct engine *e, int from, int input, const char *was, const char *why)
{
	const struct chain *c = e->chain;
	char *version = engine_version(e);

	for (size_t k = 0; k < c->nsteps; k++) {
		struct state_step *ss = state_get_step(e->state, c->steps[k].id);

		if (ss == NULL)
			continue;
		if (from >= 0 && (size_t)from != k && chain_depends_on(c, k, (size_t)from))
			add_cause(ss, c->steps[from].id, NULL, NULL, why);
		if (input < 0)
			continue;
		if (step_uses_input(c, &c->steps[k], (size_t)input, version)) {
			add_cause(ss, NULL, c->inputs[input].name, was, why);
			continue;
		}
		for (size_t j = 0; j < c->nsteps; j++)
			if (step_uses_input(c, &c->steps[j], (size_t)input, version) &&
			    chain_depends_on(c, k, j))
				add_cause(ss, c->steps[j].id, NULL, NULL, why);
	}
	free(version);
}

/*
 * Take back the causes of staleness that are undone: step `done` is done again (-1: none),
 * an input holds again the value a step was done with. A stale step with no cause left is
 * done again (and so undoes the causes it was); one with causes left says the first.
 */
void
clear_stale(struct engine *e, int done)
{
	const struct chain *c = e->chain;
	bool *again = xcalloc(c->nsteps + 1, sizeof *again);
	bool more = true;

	if (done >= 0)
		again[done] = true;
	while (more) {
		more = false;
		for (size_t k = 0; k < c->nsteps; k++) {
			struct state_step *ss = state_get_step(e->state, c->steps[k].id);
			size_t before;

			if (ss == NULL || ss->status != SAVED_STALE || ss->ncauses == 0)
				continue;
			before = ss->ncauses;
			for (size_t i = ss->ncauses; i-- > 0;) {
				const struct state_cause *cs = &ss->causes[i];
				const struct state_input *in;
				int r;

				if (cs->step != NULL) {
					r = chain_step_index(c, cs->step);
					if (r >= 0 && again[r])
						state_remove_cause(ss, i);
					continue;
				}
				in = state_get_input(e->state, cs->input);
				if ((in == NULL && cs->was == NULL) || (in != NULL &&
				    cs->was != NULL && strcmp(in->value, cs->was) == 0))
					state_remove_cause(ss, i);
			}
			if (ss->ncauses == before)
				continue;
			free(ss->message);
			ss->message = NULL;
			if (ss->ncauses == 0) {
				state_clear_causes(ss);
				ss->status = SAVED_DONE;
				again[k] = more = true;
			} else if (ss->causes[0].why != NULL)
				ss->message = xstrdup(ss->causes[0].why);
		}
	}
	free(again);
}

/* What step s deployed was made from other values than its made_from: inputs hold now? */
char *
engine_mismatch(const struct engine *e, size_t s)
{
	const struct step *st = &e->chain->steps[s];
	const struct state_step *ss = engine_step_state(e, s);
	struct strbuf sb = {0};

	if (ss == NULL || ss->nmade == 0)
		return NULL;
	for (size_t k = 0; k < st->nmade_from; k++) {
		const char *name = e->chain->inputs[st->made_from[k]].name;
		enum value_source src;
		char *now;

		for (size_t j = 0; j < ss->nmade; j++) {
			if (strcmp(ss->made[j].name, name) != 0)
				continue;
			now = value_of(e, st->made_from[k], &src, 0);
			if (now == NULL || strcmp(now, ss->made[j].value) != 0)
				sb_addf(&sb, "%s%s=%s, now %s", sb.len ? "; " : "deployed for ", name,
				    ss->made[j].value, now != NULL ? now : "(no value)");
			free(now);
		}
	}
	return sb.len ? sb_detach(&sb) : NULL;
}

/* The saved record of a step, or NULL. */
const struct state_step *
engine_step_state(const struct engine *e, size_t step)
{
	return state_get_step(e->state, e->chain->steps[step].id);
}

/* Is step s running (check or action)? */
bool
running(const struct engine *e, size_t s)
{
	return e->rt[s].run != NULL || e->rt[s].waiting;
}

static void
add_blocker(struct blocker **out, size_t *n, enum blocker_kind kind, size_t index, char *why)
{
	*out = xreallocarray(*out, *n + 1, sizeof **out);
	(*out)[*n].kind = kind;
	(*out)[*n].index = index;
	(*out)[*n].why = why;
	(*n)++;
}

/*
 * The verdict of an input's `verify: contract_code`, through the input eth_rpc_url (not
 * checked while that secret is not held: engine_missing_secrets has it asked for when the
 * step runs): NULL when it does not block, else why.
 */
static char *
verify_blocker(const struct engine *e, size_t i, const char *value)
{
	int u = chain_input_index(e->chain, VERIFY_RPC_INPUT);
	enum value_source src;
	const char *why;
	char *url, *say = NULL;

	if (u < 0)
		return NULL;
	if ((url = value_of(e, (size_t)u, &src, 0)) == NULL) {
		if (e->chain->inputs[u].secret)
			return NULL;
		return xprintf("input %s: its contract code cannot be checked: %s is not set",
		    e->chain->inputs[i].name, VERIFY_RPC_INPUT);
	}
	if (e->demo != NULL) {
		char *mapped = demo_url(e->demo, url);

		secret_free(&url);
		url = mapped;
	}
	switch (verify_contract(e->verify, value, url, &why)) {
	case VERIFY_OK:
		break;
	case VERIFY_PENDING:
		say = xprintf("input %s: checking that the address holds a contract (eth_getCode)",
		    e->chain->inputs[i].name);
		break;
	case VERIFY_FAILED:
		say = xprintf("input %s: %s", e->chain->inputs[i].name, why);
		break;
	}
	secret_free(&url);
	return say;
}

/*
 * Is step s done (and not running its action again)? A check only reads, so a step being
 * checked keeps its saved status here: the steps after it may be checked meanwhile (a passing
 * check makes a step done only if the steps it requires still are when it ends).
 */
static bool
step_done(const struct engine *e, size_t s)
{
	const struct state_step *ss = engine_step_state(e, s);

	if (running(e, s) && e->rt[s].kind != RUN_CHECK)
		return false;
	return ss != NULL && ss->status == SAVED_DONE;
}

/*
 * The unmet requirements of step s, each with why, into *out; with out NULL, only whether
 * there is one (it stops at the first and builds no text). A required step's status is
 * looked at one level down only: whether it is done does not depend on its own blockers.
 */
static size_t
blockers_at(const struct engine *e, size_t s, struct blocker **out, const char *version)
{
	const struct step *st = &e->chain->steps[s];
	size_t n = 0;

	for (size_t k = 0; k < st->nrequires; k++) {
		size_t r = st->req[k];

		if (step_done(e, r))
			continue;
		if (out == NULL)
			return 1;
		add_blocker(out, &n, BLOCK_STEP, r, xprintf("requires %s (%s), which is %s",
		    e->chain->steps[r].id, e->chain->steps[r].title,
		    step_status_name(engine_status(e, r))));
	}
	for (size_t k = 0; k < st->ninputs; k++) {
		size_t i = st->inputs[k];
		const struct input_def *d = &e->chain->inputs[i];
		struct input_value iv;
		char *why = NULL;
		bool blocks;

		if ((d->secret && e->secrets[i] == NULL) || !input_applies(e->chain, st, k, version))
			continue;
		engine_input(e, i, &iv);
		if (iv.verdict.ok && iv.value != NULL && d->verify != NULL)
			why = verify_blocker(e, i, iv.value);
		else if (!iv.verdict.ok && out != NULL && iv.verdict.suggestion)
			why = xprintf("input %s: %s (did you mean %s?)", d->name, iv.verdict.why,
			    iv.verdict.suggestion);
		else if (!iv.verdict.ok && out != NULL)
			why = xprintf("input %s: %s", d->name, iv.verdict.why ? iv.verdict.why :
			    "invalid");
		blocks = why != NULL || !iv.verdict.ok;
		input_value_clear(&iv);
		if (blocks && out == NULL) {
			free(why);
			return 1;
		}
		if (why != NULL)
			add_blocker(out, &n, BLOCK_INPUT, i, why);
	}
	if (step_needs_server(st) && !e->target_local && e->remote == NULL) {
		if (out == NULL)
			return 1;
		add_blocker(out, &n, BLOCK_TARGET, 0, xstrdup("its commands run on the TDX server, "
		    "and no server is configured (--target USER@HOST, or --target local to run them "
		    "on this machine)"));
	}
	return n;
}

/* blockers_at, at the release in use. */
static size_t
blockers(const struct engine *e, size_t s, struct blocker **out)
{
	char *version = engine_version(e);
	size_t n = blockers_at(e, s, out, version);

	free(version);
	return n;
}

/* The unmet requirements of a step. Missing secrets are not blockers: they are asked for. */
size_t
engine_blockers(const struct engine *e, size_t s, struct blocker **out)
{
	*out = NULL;
	return blockers(e, s, out);
}

void
blockers_free(struct blocker **bp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((*bp)[i].why);
	free(*bp);
	*bp = NULL;
}

/*
 * The secret inputs a step uses that are not held; with them eth_rpc_url when it is such a
 * secret and the step uses an input with `verify:` (the gate asks the chain through it, though
 * the step's commands do not see it).
 */
size_t
engine_missing_secrets(const struct engine *e, size_t s, size_t **out)
{
	const struct step *st = &e->chain->steps[s];
	int u = chain_input_index(e->chain, VERIFY_RPC_INPUT);
	bool verifies = false;
	size_t n = 0;

	*out = NULL;
	for (size_t k = 0; k < st->ninputs; k++) {
		size_t i = st->inputs[k];

		if (!engine_step_uses(e, s, k))
			continue;
		if ((int)i == u)
			u = -1;
		verifies |= e->chain->inputs[i].verify != NULL;
		if (e->chain->inputs[i].secret && e->secrets[i] == NULL) {
			*out = xreallocarray(*out, n + 1, sizeof **out);
			(*out)[n++] = i;
		}
	}
	if (verifies && u >= 0 && e->chain->inputs[u].secret && e->secrets[u] == NULL) {
		*out = xreallocarray(*out, n + 1, sizeof **out);
		(*out)[n++] = (size_t)u;
	}
	return n;
}

/* The status of a step: running, its history, or whether it could run. */
enum step_status
engine_status(const struct engine *e, size_t s)
{
	const struct state_step *ss;

	if (running(e, s))
		return e->rt[s].in_check ? ST_CHECKING : ST_RUNNING;
	ss = engine_step_state(e, s);
	if (ss != NULL) {
		switch (ss->status) {
		case SAVED_DONE:
			return ST_DONE;
		case SAVED_FAILED:
			return ST_FAILED;
		case SAVED_CANCELED:
			return ST_CANCELED;
		case SAVED_STALE:
			return ST_STALE;
		case SAVED_NONE:
			break;
		}
	}
	return blockers(e, s, NULL) ? ST_LOCKED : ST_READY;
}

bool
engine_busy(const struct engine *e)
{
	for (size_t s = 0; s < e->chain->nsteps; s++)
		if (running(e, s))
			return true;
	return false;
}
