/*
 * engine-time.c: how long a step's action will take, and how long the chain has left.
 *
 * An estimate comes from this profile's earlier runs of the step (the mean of the successful
 * actions kept in its history), else from the step file's takes: figure (a typical duration on
 * real hardware), else there is none. The time left is the sum of the estimates of the steps
 * that are not done; a step with none is counted apart, so that the total never pretends.
 */
#include "config.h"

#include "engine.h"

#include <string.h>

#include "engine-int.h"
#include "util.h"

const char *
estimate_source_name(enum estimate_source s)
{
	switch (s) {
	case EST_HISTORY:
		return "history";
	case EST_STEP_FILE:
		return "step-file";
	case EST_NONE:
		break;
	}
	return "none";
}

/* How long step's action is expected to take, in seconds; 0 and EST_NONE when unknown. */
long
engine_estimate(const struct engine *e, size_t step, enum estimate_source *src)
{
	const struct step *st = &e->chain->steps[step];
	const struct state_step *ss = state_get_step(e->state, st->id);
	long long sum = 0;
	long n = 0;

	for (size_t i = 0; ss != NULL && i < ss->nattempts; i++) {
		const struct state_attempt *a = &ss->attempts[i];

		if (a->kind == NULL || strcmp(a->kind, "action") != 0 || a->outcome == NULL ||
		    strcmp(a->outcome, "done") != 0 || a->duration_ms < 0)
			continue;
		sum += a->duration_ms;
		n++;
	}
	if (n > 0) {
		*src = EST_HISTORY;
		/* Round up to whole seconds: a run of 200 ms is "about a second", never "0". */
		return (long)((sum / n + 999) / 1000);
	}
	if (st->takes > 0) {
		*src = EST_STEP_FILE;
		return st->takes;
	}
	*src = EST_NONE;
	return 0;
}

/* How long step's run has been going, in milliseconds; -1 when it is not running. */
long
engine_elapsed_ms(const struct engine *e, size_t step)
{
	const struct step_rt *rt = &e->rt[step];

	if (!running(e, step))
		return -1;
	return (long)(now_ms() - rt->t0);
}

/*
 * The estimated seconds left for the chain: for each step not done, its estimate, less what
 * a running one has already taken (never below zero). *unknown: how many of those steps
 * have no estimate (they are not in the sum).
 */
long
engine_time_left(const struct engine *e, size_t *unknown)
{
	long total = 0;

	*unknown = 0;
	for (size_t s = 0; s < e->chain->nsteps; s++) {
		enum estimate_source src;
		long est, el;

		if (engine_status(e, s) == ST_DONE)
			continue;
		est = engine_estimate(e, s, &src);
		if (src == EST_NONE) {
			(*unknown)++;
			continue;
		}
		el = engine_elapsed_ms(e, s);
		if (el > 0)
			est = est > el / 1000 ? est - el / 1000 : 0;
		total += est;
	}
	return total;
}

/* A duration in words for the screen: "45 s", "12 min", "1 h 20 min". */
char *
engine_duration_words(long secs)
{
	if (secs < 60)
		return xprintf("%ld s", secs < 1 ? 1 : secs);
	if (secs < 3600)
		return xprintf("%ld min", (secs + 30) / 60);
	secs = (secs + 30) / 60;
	if (secs % 60 == 0)
		return xprintf("%ld h", secs / 60);
	return xprintf("%ld h %ld min", secs / 60, secs % 60);
}
