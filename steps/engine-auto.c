/*
 * engine-auto.c: "run the rest". The wizard goes on by itself through the steps that need no
 * one: in walking order, the first step that is not done runs next, unless it is done by hand
 * (MANUAL), cannot run yet (a missing input, a step it requires, no server), needs a secret
 * typed, or needs the operator's yes (it reboots the server or spends gas). Then it stops
 * there and says why. A failure stops it too; that is the caller's to see, when a run ends.
 */
#include "config.h"

#include "engine.h"

#include <stdlib.h>

#include "engine-int.h"
#include "util.h"

/* What running the rest would do next: run *step (AUTO_GO), or stop at it, saying why. */
enum auto_next
engine_next_auto(const struct engine *e, size_t *step, char **why)
{
	const struct chain *c = e->chain;
	struct blocker *b;
	size_t nb, *miss, nmiss, s;

	*why = NULL;
	for (s = 0; s < c->nsteps; s++)
		if (engine_status(e, s) != ST_DONE)
			break;
	*step = s;
	if (s == c->nsteps) {
		*why = xstrdup("every step is done");
		return AUTO_ALL_DONE;
	}
	if (running(e, s)) {
		*why = xprintf("%s is running", c->steps[s].id);
		return AUTO_BUSY;
	}
	if (c->steps[s].place == PLACE_MANUAL) {
		*why = xprintf("%s is done by hand; then c checks it",
		    c->steps[s].id);
		return AUTO_MANUAL;
	}
	nb = engine_blockers(e, s, &b);
	if (nb > 0) {
		enum auto_next r = AUTO_LOCKED;

		for (size_t k = 0; k < nb; k++)
			if (b[k].kind == BLOCK_INPUT) {
				r = AUTO_INPUT;
				*why = xprintf("%s: %s", c->steps[s].id, b[k].why);
				break;
			}
		if (*why == NULL)
			*why = xprintf("%s cannot run yet: %s", c->steps[s].id, b[0].why);
		blockers_free(&b, nb);
		return r;
	}
	nmiss = engine_missing_secrets(e, s, &miss);
	if (nmiss > 0) {
		*why = xprintf("%s needs the secret %s", c->steps[s].id, c->inputs[miss[0]].name);
		free(miss);
		return AUTO_INPUT;
	}
	if (c->steps[s].effects & (EFFECT_REBOOT | EFFECT_TRANSACTION)) {
		bool reboot = (c->steps[s].effects & EFFECT_REBOOT) != 0;
		bool gas = (c->steps[s].effects & EFFECT_TRANSACTION) != 0;

		*why = xprintf("%s needs your yes: it %s%s%s", c->steps[s].id,
		    reboot ? "reboots the server" : "", reboot && gas ? " and " : "",
		    gas ? "spends gas" : "");
		return AUTO_CONFIRM;
	}
	return AUTO_GO;
}
