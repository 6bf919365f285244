/*
 * state-int.h: what state.c and state-json.c share: the state file's text read into a struct
 * state and written from one, and the helpers both use.
 */
#ifndef DW_STATE_INT_H
#define DW_STATE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "state.h"

/* The largest duration_ms: 2^53, the largest integer a JSON number (a double) holds exactly. */
#define STATE_MAX_DURATION 9007199254740992.0

/* Tell whether a source may be written to the state file (a user's value or a capture). */
bool state_storable(enum value_source s);
/* Free one attempt's strings. */
void state_attempt_clear(struct state_attempt *a);

/*
 * Turn the file's text into st. Returns 0, -1 with *why when the file is not valid state
 * (it is to be moved aside), or -2 with *why when it is from a newer schema.
 */
int state_parse(struct state *st, const char *text, size_t len, char **why);
/* Render the state as JSON text (allocated; ends with a newline). */
char *state_render(const struct state *st);

#endif
