/*
 * engine-values.c: inputs and secrets. An input's value is, in order: a secret held in memory
 * (secrets never reach the state), the value in the state (typed by the operator or captured
 * from a step's output), or the chain's default with its ${name} references resolved
 * (expand). Validity comes from validate.c.
 */
#include "config.h"

#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine-int.h"
#include "util.h"

struct expand_ctx {
	const struct engine *e;
	bool mask_secrets;
	int depth;
	bool missing;
};

/* Append a value to sb, regex metacharacters escaped when asked. */
static void
expand_value(struct strbuf *sb, const char *v, unsigned how)
{
	for (; *v != '\0'; v++) {
		if ((how & EXPAND_REGEX) && strchr("\\.[]()*+?{}|^$", *v) != NULL)
			sb_addc(sb, '\\');
		sb_addc(sb, *v);
	}
}

/* Expand ${name} references in s with input values, as `how` says (EXPAND_*). */
char *
expand(const struct engine *e, const char *s, unsigned how, int depth, bool *missing)
{
	struct strbuf sb = {0};
	const char *p = s;

	if (s == NULL)
		return NULL;
	while (*p != '\0') {
		const char *q = p;
		size_t n = 0;
		int idx;

		if (p[0] == '$' && p[1] == '{' && p[2] >= 'a' && p[2] <= 'z') {
			q = p + 2;
			while ((q[n] >= 'a' && q[n] <= 'z') || (q[n] >= '0' && q[n] <= '9') ||
			    q[n] == '_')
				n++;
			if (q[n] == '}') {
				char *name = xstrndup(q, n), *v;
				enum value_source src;

				idx = chain_input_index(e->chain, name);
				free(name);
				if (idx >= 0) {
					const struct input_def *d = &e->chain->inputs[idx];

					if (d->secret && (how & EXPAND_MASK))
						v = xstrdup("****");
					else
						v = value_of(e, (size_t)idx, &src, depth + 1);
					if (v == NULL && missing)
						*missing = true;
					if (v != NULL)
						expand_value(&sb, v, how);
					if (d->secret && v)
						explicit_bzero(v, strlen(v));
					free(v);
					p = q + n + 1;
					continue;
				}
			}
		}
		sb_addc(&sb, *p++);
	}
	return sb_detach(&sb);
}

/* The release in use: the value of dstack_version, or NULL (allocated). */
char *
engine_version(const struct engine *e)
{
	int idx = chain_input_index(e->chain, VERSION_INPUT);
	enum value_source src;

	return idx < 0 ? NULL : value_of(e, (size_t)idx, &src, 0);
}

/* The default of d that applies to the release in use (its defaults may depend on it). */
static const char *
input_default(const struct engine *e, const struct input_def *d)
{
	const char *def;
	char *version = NULL;

	for (size_t k = 0; k < d->ndefs && version == NULL; k++)
		if (d->defs[k].when != NULL)
			version = engine_version(e);
	def = chain_input_default(d, version);
	free(version);
	return def;
}

char *
value_of(const struct engine *e, size_t i, enum value_source *src, int depth)
{
	const struct input_def *d = &e->chain->inputs[i];
	const struct state_input *si;
	bool missing = false;
	const char *def;
	char *v;

	*src = SRC_NONE;
	if (d->secret) {
		if (e->secrets[i] == NULL)
			return NULL;
		*src = e->secret_src[i];
		return xstrdup(e->secrets[i]);
	}
	si = state_get_input(e->state, d->name);
	if (si != NULL) {
		*src = si->source;
		return xstrdup(si->value);
	}
	if (depth > EXPAND_DEPTH || (def = input_default(e, d)) == NULL)
		return NULL;
	v = expand(e, def, 0, depth, &missing);
	if (missing) {
		free(v);
		return NULL;
	}
	*src = SRC_DEFAULT;
	return v;
}

/* Describe input i's current value and its validity. */
void
engine_input(const struct engine *e, size_t i, struct input_value *out)
{
	const struct input_def *d = &e->chain->inputs[i];
	const struct state_input *si;
	char *v;

	memset(out, 0, sizeof *out);
	v = value_of(e, i, &out->source, 0);
	out->present = v != NULL;
	validate_input(d, v ? v : "", &out->verdict);
	if (v == NULL && !d->optional) {
		verdict_clear(&out->verdict);
		out->verdict.ok = false;
		if (d->secret)
			out->verdict.why = xprintf("not provided (a secret: set DSTACK_WIZARD_%s, use "
			    "--secret-file, or type it when asked)", d->name);
		else if (input_default(e, d) != NULL)
			out->verdict.why = xstrdup("not set, and its default needs inputs that are "
			    "not set");
		else
			out->verdict.why = xstrdup("not set");
	}
	if (d->secret) {
		if (v)
			explicit_bzero(v, strlen(v));
		free(v);
		return;
	}
	si = state_get_input(e->state, d->name);
	if (si != NULL) {
		out->from_step = xstrdup(si->from_step);
		out->at = si->at;
	}
	out->value = v;
}

/* Set an input's stored value (user or capture); marks dependents stale if it changed. */
int
store_input(struct engine *e, int idx, const char *value, enum value_source src,
    const char *from_step, char **cause)
{
	const struct input_def *d = &e->chain->inputs[idx];
	const struct state_input *old;
	char *why;

	update_begin(e);
	old = state_get_input(e->state, d->name);
	if (old == NULL || strcmp(old->value, value) != 0 || old->source != src) {
		state_set_input(e->state, d->name, value, src, from_step, time(NULL));
		why = xprintf("input %s changed", d->name);
		mark_stale(e, -1, idx, why);
		free(why);
	}
	return update_end(e, cause);
}

/* Set a non-secret input typed by the operator. */
int
engine_set_input(struct engine *e, const char *name, const char *value, enum engine_err *err,
    char **cause)
{
	int idx = chain_input_index(e->chain, name);
	const struct input_def *d;
	const char *held;
	struct verdict v;
	int rc;

	*err = EERR_USAGE;
	if (idx < 0) {
		const char *best = NULL;
		size_t bestd = 3;

		for (size_t i = 0; i < e->chain->ninputs; i++) {
			size_t dist = str_distance(name, e->chain->inputs[i].name);

			if (dist < bestd) {
				bestd = dist;
				best = e->chain->inputs[i].name;
			}
		}
		if (best)
			return set_cause(cause, "unknown input '%s' (did you mean '%s'?)", name, best);
		return set_cause(cause, "unknown input '%s' (see 'dstack-wizard inputs')", name);
	}
	d = &e->chain->inputs[idx];
	if (d->secret) {
		*err = EERR_REFUSED;
		return set_cause(cause, "%s is a secret: secrets are never taken from the command line "
		    "(other users can read it); set DSTACK_WIZARD_%s, use --secret-file %s=FILE, or "
		    "type it when asked", name, d->name, name);
	}
	/* Before validating: a verdict or a suggestion could echo the value. */
	if ((held = engine_secret_within(e, value)) != NULL) {
		*err = EERR_REFUSED;
		return set_cause(cause, "%s: refused: the value holds the secret %s, and %s is not a "
		    "secret (it would be saved in the state file and shown in clear)", name, held,
		    name);
	}
	validate_input(d, value, &v);
	if (!v.ok) {
		*err = EERR_REFUSED;
		if (v.suggestion)
			set_cause(cause, "%s: %s (did you mean %s?)", name, v.why, v.suggestion);
		else
			set_cause(cause, "%s: %s", name, v.why);
		verdict_clear(&v);
		return -1;
	}
	verdict_clear(&v);
	*err = EERR_BAD_FILE;
	rc = store_input(e, idx, value, SRC_USER, NULL, cause);
	if (rc == 0)
		*err = EERR_NONE;
	return rc;
}

/* Forget a stored input value. */
int
engine_unset_input(struct engine *e, const char *name, char **cause)
{
	int idx = chain_input_index(e->chain, name);
	char *why;

	if (idx < 0)
		return set_cause(cause, "unknown input '%s'", name);
	update_begin(e);
	if (state_get_input(e->state, name) != NULL) {
		state_unset_input(e->state, name);
		why = xprintf("input %s changed", name);
		mark_stale(e, -1, idx, why);
		free(why);
	}
	return update_end(e, cause);
}

/* The name of a held secret whose value is within text, or NULL. */
const char *
engine_secret_within(const struct engine *e, const char *text)
{
	for (size_t i = 0; i < e->chain->ninputs; i++) {
		if (e->secrets[i] != NULL && e->secrets[i][0] != '\0' &&
		    strstr(text, e->secrets[i]) != NULL)
			return e->chain->inputs[i].name;
	}
	return NULL;
}

/* Hold a secret in memory. */
int
engine_set_secret(struct engine *e, const char *name, const char *value,
    enum value_source source, char **cause)
{
	int idx = chain_input_index(e->chain, name);
	struct verdict v;

	if (idx < 0)
		return set_cause(cause, "unknown input '%s'", name);
	if (!e->chain->inputs[idx].secret)
		return set_cause(cause, "%s is not a secret input", name);
	validate_input(&e->chain->inputs[idx], value, &v);
	if (!v.ok) {
		set_cause(cause, "%s: %s", name, v.why);
		verdict_clear(&v);
		return -1;
	}
	verdict_clear(&v);
	secret_free(&e->secrets[idx]);
	e->secrets[idx] = xstrdup(value);
	e->secret_src[idx] = source;
	return 0;
}

/* Take secrets from DSTACK_WIZARD_<NAME>. */
void
engine_secrets_from_env(struct engine *e)
{
	for (size_t i = 0; i < e->chain->ninputs; i++) {
		const struct input_def *d = &e->chain->inputs[i];
		char var[128], *p;
		const char *v;

		if (!d->secret)
			continue;
		snprintf(var, sizeof var, "DSTACK_WIZARD_%s", d->name);
		for (p = var; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		v = getenv(var);
		if (v != NULL && *v != '\0') {
			char *why = NULL;

			if (engine_set_secret(e, d->name, v, SRC_ENV, &why) != 0) {
				free(e->notice);
				e->notice = xprintf("%s: %s", var, why);
			}
			free(why);
		}
	}
}

/* Read NAME=PATH. */
int
engine_secret_file(struct engine *e, const char *spec, char **cause)
{
	const char *eq = strchr(spec, '=');
	char *name, *text = NULL, *nl;
	struct stat sb;
	size_t len;
	int rc;

	if (eq == NULL || eq == spec || eq[1] == '\0')
		return set_cause(cause, "--secret-file wants NAME=PATH, not '%s'", spec);
	name = xstrndup(spec, (size_t)(eq - spec));
	if (stat(eq + 1, &sb) != 0) {
		rc = set_cause(cause, "--secret-file %s: %s", eq + 1, strerror(errno));
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		rc = set_cause(cause, "--secret-file %s: refused, the file can be read by others "
		    "(mode %03o); chmod 600 it", eq + 1, (unsigned)(sb.st_mode & 0777));
		goto out;
	}
	if (read_file(eq + 1, 65536, &text, &len, cause) != 0) {
		rc = -1;
		goto out;
	}
	nl = strchr(text, '\n');
	if (nl != NULL && nl[strspn(nl, "\r\n")] == '\0')
		*nl = '\0';
	if (nl != NULL && nl > text && nl[-1] == '\r')
		nl[-1] = '\0';
	rc = engine_set_secret(e, name, text, SRC_FILE, cause);
out:
	secret_free(&text);
	free(name);
	return rc;
}
