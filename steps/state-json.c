/*
 * state-json.c: state.json's text, read into a struct state (state_parse) and written from
 * one (state_render). cJSON is seen here and nowhere else in the state's code.
 *
 * The format, version STATE_SCHEMA = 1:
 *
 *	{ "schema": 1, "target": "user@host:port", "identity": "path", "known_hosts": "path",
 *	  "inputs": { "<name>": { "value": "...", "source": "user" | "capture",
 *	                          "from_step": "<id>", "at": "2026-11-24T10:02:00Z" } },
 *	  "steps":  { "<id>": { "status": "done" | "failed" | "canceled" | "stale" | "none",
 *	                        "done_at": T, "started_at": T, "finished_at": T,
 *	                        "duration_ms": N, "exit_code": N, "message": "...", "log": "path",
 *	                        "job": "<index>:<id>",
 *	                        "stale_by": [ { "step": "<id>", "why": "..." } |
 *	                                      { "input": "<name>", "was": "...", "why": "..." } ],
 *	                        "made_from": { "<name>": "<value>" },
 *	                        "attempts": [ { "kind": "check" | "action", "started_at": T,
 *	                                        "duration_ms": N, "where": "...", "outcome": "...",
 *	                                        "exit_code": N, "message": "...",
 *	                                        "hints": [ { "say": "...", "fix": "..." } ],
 *	                                        "log": "path" } ],
 *	                        "checklist": [ { "item": "...", "at": T } ] } } }
 *
 * Times are ISO 8601 UTC as iso_time() writes them; zero times and NULL strings are left out.
 * A step's "checklist" holds the items of its checklist the operator ticked (by their text, so
 * that an item reworded in the step file is no longer ticked), each with the time; "item" and
 * "at" are required.
 * A step's "attempts" are its last STATE_MAX_ATTEMPTS runs, oldest first (a longer list read
 * keeps its last ones); an attempt's "kind" and "outcome" are required. A cause in "stale_by"
 * names a step or an input ("was" left out: the input had no value). A "canceled" step was
 * written as "failed" with exit code 0 by wizards before it, and is read as they wrote it.
 * "schema", an input's "value" and "source" and a step's "status" are required; every other
 * field is optional, and unknown keys are ignored so that a newer wizard of the same schema can
 * add fields.
 */
#include "config.h"

#include "state-int.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "util.h"

/* ---- Reading. ---- */

/* Copy a name from the file for a message: printable ASCII only, at most 64 bytes. */
static char *
state_printable(const char *s)
{
	struct strbuf sb = {0};
	size_t i;

	for (i = 0; s[i] != '\0' && i < 64; i++) {
		unsigned char c = (unsigned char)s[i];

		sb_addc(&sb, c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
	if (s[i] != '\0')
		sb_adds(&sb, "...");
	return sb_detach(&sb);
}

/* Say why a member of the file is wrong: "<what> \"<name>\": <fmt>". */
static int DW_PRINTF(4, 5)
state_bad(char **why, const char *what, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *msg, *p;

	va_start(ap, fmt);
	msg = xvprintf(fmt, ap);
	va_end(ap);
	p = state_printable(name);
	set_cause(why, "%s \"%s\": %s", what, p, msg);
	free(p);
	free(msg);
	return -1;
}

/* Read an optional string member; -1 if present but not a string. */
static int
state_get_string(const cJSON *obj, const char *key, char **out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (item == NULL)
		return 0;
	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return -1;
	*out = xstrdup(item->valuestring);
	return 0;
}

/* Read an optional time member; -1 if present but not a canonical ISO 8601 UTC time. */
static int
state_get_time(const cJSON *obj, const char *key, time_t *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	char buf[64];
	time_t t;

	*out = 0;
	if (item == NULL)
		return 0;
	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return -1;
	if (strlen(item->valuestring) >= sizeof buf || parse_iso_time(item->valuestring, &t) != 0)
		return -1;
	/* Only the form iso_time() writes, so that what is read is written back the same. */
	if (strcmp(iso_time(t, buf, sizeof buf), item->valuestring) != 0)
		return -1;
	*out = t;
	return 0;
}

/* Read an optional integer member within [min, max]; -1 if present but not one. */
static int
state_get_integer(const cJSON *obj, const char *key, double min, double max, double *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	double d;

	*out = 0;
	if (item == NULL)
		return 0;
	if (!cJSON_IsNumber(item))
		return -1;
	d = item->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < min || d > max)
		return -1;
	*out = d;
	return 0;
}

/* Read one input ("name": {...}) into *in. */
static int
state_read_input(const cJSON *item, struct state_input *in, char **why)
{
	const char *name = item->string;
	const cJSON *source;

	if (name == NULL || *name == '\0')
		return set_cause(why, "an input has an empty name");
	in->name = xstrdup(name);
	if (!cJSON_IsObject(item))
		return state_bad(why, "input", name, "not an object");
	if (state_get_string(item, "value", &in->value) != 0 || in->value == NULL)
		return state_bad(why, "input", name, "\"value\" is missing or not a string");

	source = cJSON_GetObjectItemCaseSensitive(item, "source");
	if (!cJSON_IsString(source) || source->valuestring == NULL)
		return state_bad(why, "input", name, "\"source\" is missing or not a string");
	if (strcmp(source->valuestring, "user") == 0)
		in->source = SRC_USER;
	else if (strcmp(source->valuestring, "capture") == 0)
		in->source = SRC_CAPTURE;
	else
		return state_bad(why, "input", name, "\"source\" is not \"user\" or \"capture\"");

	if (state_get_string(item, "from_step", &in->from_step) != 0)
		return state_bad(why, "input", name, "\"from_step\" is not a string");
	if (in->source != SRC_CAPTURE)
		freep(&in->from_step);
	if (state_get_time(item, "at", &in->at) != 0)
		return state_bad(why, "input", name, "\"at\" is not an ISO 8601 UTC time");
	return 0;
}

/* Read one attempt of a step's history into *a; -1 with the reason in *what. */
static int
state_read_attempt(const cJSON *item, struct state_attempt *a, const char **what)
{
	const cJSON *hints, *h;
	double d;
	size_t i;

	if (!cJSON_IsObject(item))
		return *what = "an attempt is not an object", -1;
	if (state_get_string(item, "kind", &a->kind) != 0 || a->kind == NULL)
		return *what = "an attempt's \"kind\" is missing or not a string", -1;
	if (state_get_string(item, "outcome", &a->outcome) != 0 || a->outcome == NULL)
		return *what = "an attempt's \"outcome\" is missing or not a string", -1;
	if (state_get_time(item, "started_at", &a->started_at) != 0)
		return *what = "an attempt's \"started_at\" is not an ISO 8601 UTC time", -1;
	if (state_get_integer(item, "duration_ms", 0, STATE_MAX_DURATION, &d) != 0 ||
	    d > (double)LONG_MAX)
		return *what = "an attempt's \"duration_ms\" is not a whole number", -1;
	a->duration_ms = (long)d;
	if (state_get_integer(item, "exit_code", INT_MIN, INT_MAX, &d) != 0)
		return *what = "an attempt's \"exit_code\" is not an integer", -1;
	a->exit_code = (int)d;
	if (state_get_string(item, "where", &a->where) != 0 ||
	    state_get_string(item, "message", &a->message) != 0 ||
	    state_get_string(item, "log", &a->log_path) != 0)
		return *what = "an attempt's \"where\", \"message\" or \"log\" is not a string", -1;
	hints = cJSON_GetObjectItemCaseSensitive(item, "hints");
	if (hints == NULL)
		return 0;
	if (!cJSON_IsArray(hints))
		return *what = "an attempt's \"hints\" is not a list", -1;
	a->hints = xcalloc((size_t)cJSON_GetArraySize(hints) + 1, sizeof *a->hints);
	i = 0;
	cJSON_ArrayForEach(h, hints) {
		struct state_hint *sh = &a->hints[i];

		a->nhints = ++i;
		if (!cJSON_IsObject(h) || state_get_string(h, "say", &sh->say) != 0 ||
		    sh->say == NULL || state_get_string(h, "fix", &sh->fix) != 0)
			return *what = "a hint of an attempt is not {\"say\": ..., \"fix\": ...}", -1;
	}
	return 0;
}

/* Read a step's "checklist" (optional): the items ticked, each once. */
static int
state_read_ticks(const cJSON *item, struct state_step *s, char **why)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(item, "checklist"), *t;

	if (list == NULL)
		return 0;
	if (!cJSON_IsArray(list))
		return state_bad(why, "step", s->id, "\"checklist\" is not a list");
	cJSON_ArrayForEach(t, list) {
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(t, "item");
		time_t at = 0;

		if (!cJSON_IsObject(t) || !cJSON_IsString(text) || text->valuestring == NULL ||
		    state_get_time(t, "at", &at) != 0 || at == 0)
			return state_bad(why, "step", s->id, "a \"checklist\" entry needs an "
			    "\"item\" string and an \"at\" time");
		if (state_ticked(s, text->valuestring) != 0)
			return state_bad(why, "step", s->id, "a \"checklist\" item is there twice");
		state_tick(s, text->valuestring, at);
	}
	return 0;
}

/* Read a step's "attempts" (optional), keeping the last STATE_MAX_ATTEMPTS. */
static int
state_read_attempts(const cJSON *item, struct state_step *s, char **why)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(item, "attempts"), *a;
	const char *what = NULL;
	size_t n, skip, i = 0;

	if (list == NULL)
		return 0;
	if (!cJSON_IsArray(list))
		return state_bad(why, "step", s->id, "\"attempts\" is not a list");
	n = (size_t)cJSON_GetArraySize(list);
	skip = n > STATE_MAX_ATTEMPTS ? n - STATE_MAX_ATTEMPTS : 0;
	s->attempts = xcalloc(n - skip + 1, sizeof *s->attempts);
	cJSON_ArrayForEach(a, list) {
		struct state_attempt tmp = {0};

		if (state_read_attempt(a, i >= skip ? &s->attempts[i - skip] : &tmp, &what) != 0) {
			state_attempt_clear(&tmp);
			if (i >= skip)
				s->nattempts = i - skip + 1;
			return state_bad(why, "step", s->id, "%s", what);
		}
		state_attempt_clear(&tmp);
		i++;
		if (i > skip)
			s->nattempts = i - skip;
	}
	return 0;
}

/* Read a step's "stale_by" (optional). */
static int
state_read_causes(const cJSON *item, struct state_step *s, char **why)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(item, "stale_by"), *c;

	if (list == NULL)
		return 0;
	if (!cJSON_IsArray(list))
		return state_bad(why, "step", s->id, "\"stale_by\" is not a list");
	cJSON_ArrayForEach(c, list) {
		char *step = NULL, *input = NULL, *was = NULL, *text = NULL;
		int bad;

		bad = !cJSON_IsObject(c) || state_get_string(c, "step", &step) != 0 ||
		    state_get_string(c, "input", &input) != 0 ||
		    state_get_string(c, "was", &was) != 0 || state_get_string(c, "why", &text) != 0 ||
		    (step == NULL) == (input == NULL) || (step != NULL && was != NULL);
		if (!bad)
			state_add_cause(s, step, input, was, text);
		free(step);
		free(input);
		free(was);
		free(text);
		if (bad)
			return state_bad(why, "step", s->id, "a cause in \"stale_by\" is not an "
			    "object naming one step or one input");
	}
	return 0;
}

/* Read a step's "made_from" (optional). */
static int
state_read_made(const cJSON *item, struct state_step *s, char **why)
{
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(item, "made_from"), *v;

	if (obj == NULL)
		return 0;
	if (!cJSON_IsObject(obj))
		return state_bad(why, "step", s->id, "\"made_from\" is not an object");
	cJSON_ArrayForEach(v, obj) {
		if (!cJSON_IsString(v) || v->valuestring == NULL || v->string == NULL)
			return state_bad(why, "step", s->id, "a value in \"made_from\" is not a "
			    "string");
		state_add_made(s, v->string, v->valuestring);
	}
	return 0;
}

/* Read one step ("id": {...}) into *s. */
static int
state_read_step(const cJSON *item, struct state_step *s, char **why)
{
	const char *id = item->string;
	const cJSON *status;
	double d;

	if (id == NULL || *id == '\0')
		return set_cause(why, "a step has an empty id");
	s->id = xstrdup(id);
	if (!cJSON_IsObject(item))
		return state_bad(why, "step", id, "not an object");

	status = cJSON_GetObjectItemCaseSensitive(item, "status");
	if (!cJSON_IsString(status) || status->valuestring == NULL)
		return state_bad(why, "step", id, "\"status\" is missing or not a string");
	if (strcmp(status->valuestring, "none") == 0)
		s->status = SAVED_NONE;
	else if (strcmp(status->valuestring, "done") == 0)
		s->status = SAVED_DONE;
	else if (strcmp(status->valuestring, "failed") == 0)
		s->status = SAVED_FAILED;
	else if (strcmp(status->valuestring, "stale") == 0)
		s->status = SAVED_STALE;
	else if (strcmp(status->valuestring, "canceled") == 0)
		s->status = SAVED_CANCELED;
	else {
		return state_bad(why, "step", id, "\"status\" is not \"none\", \"done\", "
		    "\"failed\", \"canceled\" or \"stale\"");
	}

	if (state_get_time(item, "done_at", &s->done_at) != 0)
		return state_bad(why, "step", id, "\"done_at\" is not an ISO 8601 UTC time");
	if (state_get_time(item, "started_at", &s->started_at) != 0)
		return state_bad(why, "step", id, "\"started_at\" is not an ISO 8601 UTC time");
	if (state_get_time(item, "finished_at", &s->finished_at) != 0)
		return state_bad(why, "step", id, "\"finished_at\" is not an ISO 8601 UTC time");
	if (state_get_integer(item, "duration_ms", 0, STATE_MAX_DURATION, &d) != 0 ||
	    d > (double)LONG_MAX) {
		return state_bad(why, "step", id,
		    "\"duration_ms\" is not a whole number of milliseconds");
	}
	s->duration_ms = (long)d;
	if (state_get_integer(item, "exit_code", INT_MIN, INT_MAX, &d) != 0)
		return state_bad(why, "step", id, "\"exit_code\" is not an integer");
	s->exit_code = (int)d;
	if (state_get_string(item, "message", &s->message) != 0)
		return state_bad(why, "step", id, "\"message\" is not a string");
	if (state_get_string(item, "log", &s->log_path) != 0)
		return state_bad(why, "step", id, "\"log\" is not a string");
	if (state_get_string(item, "job", &s->job) != 0)
		return state_bad(why, "step", id, "\"job\" is not a string");
	if (state_read_causes(item, s, why) != 0 || state_read_made(item, s, why) != 0 ||
	    state_read_ticks(item, s, why) != 0)
		return -1;
	return state_read_attempts(item, s, why);
}

/* Compare two strings through pointers, for qsort. */
static int
state_cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Find a name that occurs twice (NULL if none); names are n strings at stride bytes. */
static const char *
state_find_duplicate(const void *base, size_t n, size_t stride)
{
	const char **names;
	const char *dup = NULL;

	if (n < 2)
		return NULL;
	names = xreallocarray(NULL, n, sizeof *names);
	for (size_t i = 0; i < n; i++)
		names[i] = *(char *const *)((const char *)base + i * stride);
	qsort(names, n, sizeof *names, state_cmp_names);
	for (size_t i = 1; i < n && dup == NULL; i++) {
		if (strcmp(names[i - 1], names[i]) == 0)
			dup = names[i];
	}
	free(names);
	return dup;
}

/*
 * Turn the file's text into st. Returns 0, -1 with *why when the file is not valid state
 * (it is to be moved aside), or -2 with *why when it is from a newer schema.
 */
int
state_parse(struct state *st, const char *text, size_t len, char **why)
{
	const cJSON *schema, *inputs, *steps, *item;
	const char *end = NULL, *dup, *nul;
	cJSON *root;
	size_t i;
	double d;
	int rc = -1;

	if (len == 0)
		return set_cause(why, "the file is empty");
	/* cJSON would take a NUL for white space; a crashed file system leaves runs of them. */
	nul = memchr(text, '\0', len);
	if (nul != NULL)
		return set_cause(why, "a NUL byte, at byte %zu", (size_t)(nul - text));
	/* Nor a \u0000 escape: cJSON would end the string there ("a\u0000b" read as "a"). */
	for (i = 0; i + 5 < len; i++) {
		if (text[i] != '\\')
			continue;
		if (text[i + 1] == 'u' && memcmp(text + i + 2, "0000", 4) == 0)
			return set_cause(why, "a NUL character (\\u0000), at byte %zu", i);
		i++;   /* the escaped character is not the start of another escape */
	}
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (root == NULL) {
		if (end != NULL && end >= text && end <= text + len)
			return set_cause(why, "invalid JSON, at byte %zu", (size_t)(end - text));
		return set_cause(why, "invalid JSON");
	}
	/* cJSON stops after the value; what follows must be only white space. */
	while (end != NULL && end < text + len && (*end == ' ' || *end == '\t' ||
	    *end == '\n' || *end == '\r'))
		end++;
	if (end == NULL || end != text + len) {
		set_cause(why, "unexpected data after the JSON value, at byte %zu",
		    end == NULL ? (size_t)0 : (size_t)(end - text));
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		set_cause(why, "the top level is not a JSON object");
		goto out;
	}

	schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
	if (schema == NULL) {
		set_cause(why, "\"schema\" is missing");
		goto out;
	}
	d = cJSON_IsNumber(schema) ? schema->valuedouble : -1;
	if (!isfinite(d) || d != floor(d) || d < 1 || d > INT_MAX) {
		set_cause(why, "\"schema\" is not a positive integer");
		goto out;
	}
	if (d > STATE_SCHEMA) {
		set_cause(why, "is from a newer dstack-wizard (schema %d)", (int)d);
		rc = -2;
		goto out;
	}
	st->schema = (int)d;
	item = cJSON_GetObjectItemCaseSensitive(root, "target");
	if (item != NULL && cJSON_IsString(item) && item->valuestring[0] != '\0')
		st->target = xstrdup(item->valuestring);
	item = cJSON_GetObjectItemCaseSensitive(root, "identity");
	if (item != NULL && cJSON_IsString(item) && item->valuestring[0] != '\0')
		st->identity = xstrdup(item->valuestring);
	item = cJSON_GetObjectItemCaseSensitive(root, "known_hosts");
	if (item != NULL && cJSON_IsString(item) && item->valuestring[0] != '\0')
		st->known_hosts = xstrdup(item->valuestring);

	inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
	if (inputs != NULL && !cJSON_IsObject(inputs)) {
		set_cause(why, "\"inputs\" is not a JSON object");
		goto out;
	}
	steps = cJSON_GetObjectItemCaseSensitive(root, "steps");
	if (steps != NULL && !cJSON_IsObject(steps)) {
		set_cause(why, "\"steps\" is not a JSON object");
		goto out;
	}

	if (inputs != NULL && inputs->child != NULL) {
		st->inputs = xcalloc((size_t)cJSON_GetArraySize(inputs), sizeof *st->inputs);
		i = 0;
		cJSON_ArrayForEach(item, inputs) {
			st->ninputs = ++i;
			if (state_read_input(item, &st->inputs[i - 1], why) != 0)
				goto out;
		}
		dup = state_find_duplicate(st->inputs, st->ninputs, sizeof *st->inputs);
		if (dup != NULL) {
			state_bad(why, "input", dup, "appears twice");
			goto out;
		}
	}
	if (steps != NULL && steps->child != NULL) {
		st->steps = xcalloc((size_t)cJSON_GetArraySize(steps), sizeof *st->steps);
		i = 0;
		cJSON_ArrayForEach(item, steps) {
			st->nsteps = ++i;
			if (state_read_step(item, &st->steps[i - 1], why) != 0)
				goto out;
		}
		dup = state_find_duplicate(st->steps, st->nsteps, sizeof *st->steps);
		if (dup != NULL) {
			state_bad(why, "step", dup, "appears twice");
			goto out;
		}
	}
	rc = 0;

out:
	cJSON_Delete(root);
	return rc;
}

/* ---- Writing. ---- */

/* Add a time member unless it is zero. */
static void
state_add_time(cJSON *obj, const char *key, time_t t)
{
	char buf[64];

	if (t != 0)
		cJSON_AddStringToObject(obj, key, iso_time(t, buf, sizeof buf));
}

/* Add a string member unless it is NULL. */
static void
state_add_string(cJSON *obj, const char *key, const char *s)
{
	if (s != NULL)
		cJSON_AddStringToObject(obj, key, s);
}

/* Add a step's causes of staleness to its object. */
static void
state_render_causes(cJSON *obj, const struct state_step *s)
{
	cJSON *list, *o;

	if (s->ncauses == 0)
		return;
	if ((list = cJSON_AddArrayToObject(obj, "stale_by")) == NULL)
		fatal("out of memory (cJSON)");
	for (size_t i = 0; i < s->ncauses; i++) {
		const struct state_cause *c = &s->causes[i];

		if ((o = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(list, o))
			fatal("out of memory (cJSON)");
		state_add_string(o, "step", c->step);
		state_add_string(o, "input", c->input);
		state_add_string(o, "was", c->was);
		state_add_string(o, "why", c->why);
	}
}

/* Add a step's history to its object. */
static void
state_render_attempts(cJSON *obj, const struct state_step *s)
{
	cJSON *list = cJSON_AddArrayToObject(obj, "attempts"), *o, *hints, *h;
	char num[32];

	if (list == NULL)
		fatal("out of memory (cJSON)");
	for (size_t i = 0; i < s->nattempts; i++) {
		const struct state_attempt *a = &s->attempts[i];
		long ms = a->duration_ms < 0 ? 0 : a->duration_ms;

		if ((o = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(list, o))
			fatal("out of memory (cJSON)");
		cJSON_AddStringToObject(o, "kind", a->kind != NULL ? a->kind : "check");
		state_add_time(o, "started_at", a->started_at);
		if ((double)ms > STATE_MAX_DURATION)
			ms = (long)STATE_MAX_DURATION;
		snprintf(num, sizeof num, "%ld", ms);
		if (cJSON_AddRawToObject(o, "duration_ms", num) == NULL)
			fatal("out of memory (cJSON)");
		state_add_string(o, "where", a->where);
		cJSON_AddStringToObject(o, "outcome", a->outcome != NULL ? a->outcome : "failed");
		cJSON_AddNumberToObject(o, "exit_code", a->exit_code);
		state_add_string(o, "message", a->message);
		if (a->nhints > 0) {
			if ((hints = cJSON_AddArrayToObject(o, "hints")) == NULL)
				fatal("out of memory (cJSON)");
			for (size_t k = 0; k < a->nhints; k++) {
				if ((h = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(hints, h))
					fatal("out of memory (cJSON)");
				cJSON_AddStringToObject(h, "say", a->hints[k].say != NULL ?
				    a->hints[k].say : "");
				state_add_string(h, "fix", a->hints[k].fix);
			}
		}
		state_add_string(o, "log", a->log_path);
	}
}

/* Render the state as JSON text (allocated; ends with a newline). */
char *
state_render(const struct state *st)
{
	cJSON *root, *inputs, *steps, *obj;
	char *text, *out, num[32];
	long ms;

	root = cJSON_CreateObject();
	if (root == NULL)
		fatal("out of memory (cJSON)");
	cJSON_AddNumberToObject(root, "schema", STATE_SCHEMA);
	if (st->target != NULL)
		cJSON_AddStringToObject(root, "target", st->target);
	state_add_string(root, "identity", st->identity);
	state_add_string(root, "known_hosts", st->known_hosts);
	inputs = cJSON_AddObjectToObject(root, "inputs");
	steps = cJSON_AddObjectToObject(root, "steps");
	if (inputs == NULL || steps == NULL)
		fatal("out of memory (cJSON)");

	for (size_t i = 0; i < st->ninputs; i++) {
		const struct state_input *in = &st->inputs[i];

		if (!state_storable(in->source) || in->name == NULL || in->value == NULL)
			continue;	/* never a secret, whatever ended up in the array */
		obj = cJSON_AddObjectToObject(inputs, in->name);
		if (obj == NULL)
			fatal("out of memory (cJSON)");
		cJSON_AddStringToObject(obj, "value", in->value);
		cJSON_AddStringToObject(obj, "source", value_source_name(in->source));
		if (in->source == SRC_CAPTURE)
			state_add_string(obj, "from_step", in->from_step);
		state_add_time(obj, "at", in->at);
	}
	for (size_t i = 0; i < st->nsteps; i++) {
		const struct state_step *s = &st->steps[i];

		if (s->id == NULL)
			continue;
		obj = cJSON_AddObjectToObject(steps, s->id);
		if (obj == NULL)
			fatal("out of memory (cJSON)");
		cJSON_AddStringToObject(obj, "status", saved_status_name(s->status));
		state_add_time(obj, "done_at", s->done_at);
		state_add_time(obj, "started_at", s->started_at);
		state_add_time(obj, "finished_at", s->finished_at);
		/*
		 * cJSON prints large numbers with 15 significant digits, which can lose the last
		 * ones; a duration is written exactly, within what the reader accepts.
		 */
		ms = s->duration_ms < 0 ? 0 : s->duration_ms;
		if ((double)ms > STATE_MAX_DURATION)
			ms = (long)STATE_MAX_DURATION;
		snprintf(num, sizeof num, "%ld", ms);
		if (cJSON_AddRawToObject(obj, "duration_ms", num) == NULL)
			fatal("out of memory (cJSON)");
		cJSON_AddNumberToObject(obj, "exit_code", s->exit_code);
		state_add_string(obj, "message", s->message);
		state_add_string(obj, "log", s->log_path);
		state_add_string(obj, "job", s->job);
		state_render_causes(obj, s);
		if (s->nmade > 0) {
			cJSON *made = cJSON_AddObjectToObject(obj, "made_from");

			if (made == NULL)
				fatal("out of memory (cJSON)");
			for (size_t k = 0; k < s->nmade; k++)
				cJSON_AddStringToObject(made, s->made[k].name, s->made[k].value);
		}
		if (s->nattempts > 0)
			state_render_attempts(obj, s);
		if (s->nticks > 0) {
			cJSON *list = cJSON_AddArrayToObject(obj, "checklist"), *t;

			if (list == NULL)
				fatal("out of memory (cJSON)");
			for (size_t k = 0; k < s->nticks; k++) {
				if ((t = cJSON_CreateObject()) == NULL)
					fatal("out of memory (cJSON)");
				cJSON_AddItemToArray(list, t);
				cJSON_AddStringToObject(t, "item", s->ticks[k].item);
				state_add_time(t, "at", s->ticks[k].at);
			}
		}
	}

	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (text == NULL)
		fatal("out of memory (cJSON_Print)");
	out = xprintf("%s\n", text);
	cJSON_free(text);
	return out;
}
