/*
 * engine-values.c: inputs and secrets. An input's value is, in order: a secret held in memory
 * (secrets never reach the state), the value in the state (typed by the operator or captured
 * from a step's output), or the chain's default with its ${name} references resolved
 * (expand). Validity comes from validate.c.
 */
#include "config.h"

#include "engine.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "demo.h"
#include "engine-int.h"
#include "ethkey.h"
#include "util.h"

#define ENV_PREFIX "DSTACK_WIZARD_"

extern char **environ;

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
	if (e->server_ip != NULL && strcmp(d->name, ENGINE_SERVER_IP_INPUT) == 0) {
		*src = SRC_DEFAULT;
		return xstrdup(e->server_ip);
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
		if (d->secret) {
			char *var = engine_secret_var(d->name);

			out->verdict.why = xprintf("not provided (a secret: set %s, use "
			    "--secret-file, or type it when asked)", var);
			free(var);
		} else if (input_default(e, d) != NULL)
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

/*
 * Set an input's stored value (user or capture). When the value changed, the steps that
 * depend on it are stale, and those that were done with this value are no longer stale for it.
 */
int
store_input(struct engine *e, int idx, const char *value, enum value_source src,
    const char *from_step, char **cause)
{
	const struct input_def *d = &e->chain->inputs[idx];
	const struct state_input *old;
	char *why, *was;

	update_begin(e);
	old = state_get_input(e->state, d->name);
	if (old == NULL || strcmp(old->value, value) != 0 || old->source != src) {
		bool changed = old == NULL || strcmp(old->value, value) != 0;

		was = old != NULL ? xstrdup(old->value) : NULL;
		state_set_input(e->state, d->name, value, src, from_step, time(NULL));
		if (changed) {
			why = xprintf("input %s changed", d->name);
			mark_stale(e, -1, idx, was, why);
			free(why);
			clear_stale(e, -1);
		}
		free(was);
	}
	return update_end(e, cause);
}

/*
 * The index of the private key when the chain has it and the wallet it signs for (a secret
 * and a non-secret eth_address), else -1; *wallet gets the wallet's index.
 */
static int
key_wallet(const struct engine *e, int *wallet)
{
	int k = chain_input_index(e->chain, ENGINE_KEY_INPUT);
	int w = chain_input_index(e->chain, ENGINE_WALLET_INPUT);

	if (k < 0 || w < 0 || !e->chain->inputs[k].secret || e->chain->inputs[w].secret ||
	    e->chain->inputs[w].type != IT_ETH_ADDRESS)
		return -1;
	*wallet = w;
	return k;
}

/* Would the non-secret input name take value, as set does? Changes nothing. */
int
engine_check_input(const struct engine *e, const char *name, const char *value,
    enum engine_err *err, char **cause)
{
	int idx = chain_input_index(e->chain, name), k, w;
	const struct input_def *d;
	const char *held;
	struct verdict v;

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
		char *var = engine_secret_var(d->name);

		*err = EERR_REFUSED;
		set_cause(cause, "%s is a secret: secrets are never taken from the command line "
		    "(other users can read it); set %s, use --secret-file %s=FILE, or type it when "
		    "asked", name, var, name);
		free(var);
		return -1;
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
	if (e->demo != NULL) {
		char *why = demo_refusal(e->demo, name, value);

		if (why != NULL) {
			*err = EERR_REFUSED;
			set_cause(cause, "%s: refused: %s", name, why);
			free(why);
			return -1;
		}
	}
	k = key_wallet(e, &w);
	if (k >= 0 && idx == w && e->secrets[k] != NULL) {
		char addr[43];

		if (ethkey_address(e->secrets[k], addr, NULL) == 0 && strcasecmp(addr, value) != 0) {
			*err = EERR_REFUSED;
			return set_cause(cause, "%s: refused: %s is not the account of the %s held, "
			    "whose address is %s (the wallet is the key's account)", name, value,
			    ENGINE_KEY_INPUT, addr);
		}
	}
	*err = EERR_NONE;
	return 0;
}

/* Set a non-secret input the operator gave, once engine_check_input takes it. */
int
engine_set_input(struct engine *e, const char *name, const char *value, enum engine_err *err,
    char **cause)
{
	int rc;

	if (engine_check_input(e, name, value, err, cause) != 0)
		return -1;
	*err = EERR_BAD_FILE;
	rc = store_input(e, chain_input_index(e->chain, name), value, SRC_USER, NULL, cause);
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
		char *was = xstrdup(state_get_input(e->state, name)->value);

		state_unset_input(e->state, name);
		why = xprintf("input %s changed", name);
		mark_stale(e, -1, idx, was, why);
		free(why);
		free(was);
		clear_stale(e, -1);
	}
	return update_end(e, cause);
}

/* Secret s without its 0x when it is 0x and hex digits, else s itself. */
static const char *
secret_bare(const char *s)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && s[2] != '\0' &&
	    s[2 + strspn(s + 2, "0123456789abcdefABCDEF")] == '\0')
		return s + 2;
	return s;
}

/* Push a copy of s in lower (how < 0), upper (how > 0) or its own case, unless out has it. */
static void
secret_form_push(struct strvec *out, const char *s, int how)
{
	char *f = xstrdup(s);

	for (char *p = f; *p != '\0'; p++)
		*p = (char)(how < 0 ? tolower((unsigned char)*p) : how > 0 ?
		    toupper((unsigned char)*p) : *p);
	for (size_t i = 0; i < out->n; i++) {
		if (strcmp(out->v[i], f) == 0) {
			secret_free(&f);
			return;
		}
	}
	sv_push_take(out, f);
}

/* Add the forms in which output may show secret s to out: as given, and without its 0x, each
 * also in lower and upper case. */
void
secret_forms(const char *s, struct strvec *out)
{
	const char *bare = secret_bare(s);

	for (int how = 0; how <= 1; how++) {
		secret_form_push(out, how ? bare : s, 0);
		secret_form_push(out, how ? bare : s, -1);
		secret_form_push(out, how ? bare : s, 1);
	}
}

/* The name of a held secret whose value is within text (any case, with or without 0x). */
const char *
engine_secret_within(const struct engine *e, const char *text)
{
	for (size_t i = 0; i < e->chain->ninputs; i++) {
		if (e->secrets[i] != NULL && e->secrets[i][0] != '\0' &&
		    strcasestr(text, secret_bare(e->secrets[i])) != NULL)
			return e->chain->inputs[i].name;
	}
	return NULL;
}

/*
 * The private key is about to be held: refused when the wallet is another account than the
 * key's; an unset wallet is set to the key's address.
 */
static int
key_to_wallet(struct engine *e, int w, const char *key, char **cause)
{
	const char *wname = e->chain->inputs[w].name;
	enum value_source src;
	char addr[43], *why = NULL, *cur;
	int rc = 0;

	if (ethkey_address(key, addr, &why) != 0) {
		set_cause(cause, "%s: %s", ENGINE_KEY_INPUT, why);
		free(why);
		return -1;
	}
	cur = value_of(e, (size_t)w, &src, 0);
	if (cur == NULL)
		rc = store_input(e, w, addr, SRC_USER, NULL, cause);
	else if (strcasecmp(cur, addr) != 0)
		rc = set_cause(cause, "%s: refused: it is the key of %s, but %s is %s; give the key "
		    "of %s, or unset %s first", ENGINE_KEY_INPUT, addr, wname, cur, cur, wname);
	free(cur);
	return rc;
}

/* Hold a secret in memory. */
int
engine_set_secret(struct engine *e, const char *name, const char *value,
    enum value_source source, char **cause)
{
	int idx = chain_input_index(e->chain, name), w;
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
	if (idx == key_wallet(e, &w) && key_to_wallet(e, w, value, cause) != 0)
		return -1;
	secret_free(&e->secrets[idx]);
	e->secrets[idx] = xstrdup(value);
	e->secret_src[idx] = source;
	return 0;
}

/* The wizard's own settings, which stay in the environment. */
static const char *const env_settings[] = {
	ENV_PREFIX "DATADIR",
	ENV_PREFIX "REMOTE_DIR",
};

/* Is environment entry s a DSTACK_WIZARD_<NAME>=VALUE that is not a setting? */
static bool
env_is_taken(const char *s)
{
	if (!str_has_prefix(s, ENV_PREFIX) || strchr(s, '=') == NULL)
		return false;
	for (size_t i = 0; i < nitems(env_settings); i++) {
		size_t n = strlen(env_settings[i]);

		if (strncmp(s, env_settings[i], n) == 0 && s[n] == '=')
			return false;
	}
	return true;
}

/* Take the DSTACK_WIZARD_<NAME> variables out of the environment. */
void
engine_env_take(struct strvec *out)
{
	for (;;) {
		char **p = environ, *eq, *name;

		while (p != NULL && *p != NULL && !env_is_taken(*p))
			p++;
		if (p == NULL || *p == NULL)
			return;
		sv_push(out, *p);
		eq = strchr(*p, '=');
		name = xstrndup(*p, (size_t)(eq - *p));
		/* Where it was: the process's first stack (also /proc/PID/environ) or the heap. */
		explicit_bzero(eq + 1, strlen(eq + 1));
		unsetenv(name);
		free(name);
	}
}

/* Wipe and free what engine_env_take took. */
void
engine_env_free(struct strvec *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		explicit_bzero(sv->v[i], strlen(sv->v[i]));
	sv_free(sv);
}

/* The variable a secret input is read from. */
char *
engine_secret_var(const char *name)
{
	char *var = xprintf(ENV_PREFIX "%s", name);

	for (char *p = var; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	return var;
}

/* Add a line to the notice. */
static void DW_PRINTF(2, 3)
notice_add(struct engine *e, const char *fmt, ...)
{
	va_list ap;
	char *line, *all;

	va_start(ap, fmt);
	line = xvprintf(fmt, ap);
	va_end(ap);
	if (e->notice == NULL) {
		e->notice = line;
		return;
	}
	all = xprintf("%s; %s", e->notice, line);
	free(e->notice);
	free(line);
	e->notice = all;
}

/* Take a secret from a DSTACK_WIZARD_<NAME>=VALUE entry; why it is not taken goes to the
 * notice (a name in another case than the variable's is not read). */
static void
secret_from_env(struct engine *e, const char *entry)
{
	const char *name = entry + strlen(ENV_PREFIX), *eq = strchr(entry, '=');
	size_t n = (size_t)(eq - name);

	for (size_t i = 0; i < e->chain->ninputs; i++) {
		const struct input_def *d = &e->chain->inputs[i];
		char *var, *why = NULL;

		if (!d->secret || strlen(d->name) != n || strncasecmp(name, d->name, n) != 0)
			continue;
		var = engine_secret_var(d->name);
		if (strncmp(entry, var, (size_t)(eq - entry)) != 0)
			notice_add(e, "%.*s is not read: the variable is %s", (int)(eq - entry), entry,
			    var);
		else if (eq[1] != '\0' && engine_set_secret(e, d->name, eq + 1, SRC_ENV, &why) != 0)
			notice_add(e, "%s: %s", var, why);
		free(var);
		free(why);
		return;
	}
}

/* Read NAME=PATH. */
static int
secret_file(struct engine *e, const char *spec, char **cause)
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

/* Keep a secret input's value given in the environment (NAME=VALUE), taken or not, for
 * engine_redact. */
static void
secret_offered(struct engine *e, const char *entry)
{
	const char *name = entry + strlen(ENV_PREFIX), *eq = strchr(entry, '=');

	if (eq == NULL || eq[1] == '\0')
		return;
	for (size_t i = 0; i < e->chain->ninputs; i++) {
		const struct input_def *d = &e->chain->inputs[i];

		if (d->secret && strlen(d->name) == (size_t)(eq - name) &&
		    strncasecmp(name, d->name, (size_t)(eq - name)) == 0) {
			sv_push(&e->offered, eq + 1);
			return;
		}
	}
}

/* Take the secrets given to engine_open: the environment's, then the files'. */
int
take_secrets(struct engine *e, const struct engine_opts *o, char **cause)
{
	for (size_t i = 0; o->env_secrets != NULL && i < o->env_secrets->n; i++) {
		secret_offered(e, o->env_secrets->v[i]);
		secret_from_env(e, o->env_secrets->v[i]);
	}
	for (size_t i = 0; o->secret_files != NULL && i < o->secret_files->n; i++) {
		if (secret_file(e, o->secret_files->v[i], cause) != 0)
			return -1;
	}
	return 0;
}
