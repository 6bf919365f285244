/*
 * engine-demo.c: the demo host's settings while the wizard runs (the TUI's demo menu): the
 * speed of the stand-ins and the step whose best-known failure is injected. A change applies
 * to the commands started from then on, and is written to the sandbox as --demo-speed and
 * --demo-fail write it.
 */
#include "config.h"

#include "engine.h"

#include <math.h>

#include "demo.h"
#include "engine-int.h"
#include "util.h"

/* The demo's speed (0 when this is not the demo). */
double
engine_demo_speed(const struct engine *e)
{
	return e->demo != NULL ? demo_speed(e->demo) : 0;
}

/* The step whose failure the demo injects, or NULL. */
const char *
engine_demo_fail(const struct engine *e)
{
	return e->demo != NULL ? demo_fail(e->demo) : NULL;
}

/* Set the demo's speed: a finite number from 0 to 1000. */
int
engine_demo_set_speed(struct engine *e, double speed, char **cause)
{
	if (e->demo == NULL)
		return set_cause(cause, "this is not the demo host");
	if (!isfinite(speed) || speed < 0 || speed > 1000)
		return set_cause(cause, "the demo's speed is a number from 0 to 1000");
	demo_set_speed(e->demo, speed);
	return 0;
}

/* Inject step id's failure (NULL: none). */
int
engine_demo_set_fail(struct engine *e, const char *id, char **cause)
{
	if (e->demo == NULL)
		return set_cause(cause, "this is not the demo host");
	if (id != NULL && chain_step_index(e->chain, id) < 0)
		return set_cause(cause, "there is no step '%s'", id);
	demo_set_fail(e->demo, id);
	return 0;
}
