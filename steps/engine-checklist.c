/*
 * engine-checklist.c: the checklist of a step done by hand (its checklist: in the step file).
 * The operator ticks each item as it is done; the tick and its time are kept in the state,
 * so that the list survives the reboot it leads to (the BIOS settings) and shows what was
 * done and when. A tick is the operator's word only: the step's check still decides whether
 * the step is done, and a run ticks nothing.
 */
#include "config.h"

#include "engine.h"

#include <time.h>

#include "engine-int.h"
#include "util.h"

/* When item k of a step's checklist was ticked; 0 when it is not. */
time_t
engine_ticked(const struct engine *e, size_t step, size_t k)
{
	const struct step *st = &e->chain->steps[step];
	const struct state_step *ss = state_get_step(e->state, st->id);

	if (ss == NULL || k >= st->nchecklist)
		return 0;
	return state_ticked(ss, st->checklist[k]);
}

/* Tick item k of a step's checklist now, or untick it, and save. */
int
engine_tick(struct engine *e, size_t step, size_t k, bool on, char **cause)
{
	const struct step *st = &e->chain->steps[step];

	if (k >= st->nchecklist)
		return set_cause(cause, "%s has no checklist item %zu", st->id, k + 1);
	update_begin(e);
	state_tick(state_step(e->state, st->id), st->checklist[k], on ? time(NULL) : 0);
	return update_end(e, cause);
}
