/*
 * engine.c: the chain, the profile's state and the running steps, together.
 *
 * Values. An input's value is, in order: a secret held in memory (secrets never reach the
 * state), the value in the state (typed by the operator or captured from a step's output), or
 * the chain's default with its ${name} references resolved. Validity comes from validate.c.
 *
 * Gating. A step may run (check or action) only when every step it requires is done, every
 * input it uses is present and valid, and a place to run its commands exists. The displayed
 * status keeps a step's history (done, failed, stale) and shows locked/ready otherwise.
 *
 * Staleness. When an action starts, when a done step's check fails, or when an input changes,
 * every done step that depends on it (through requires, or by using the input) becomes stale.
 *
 * Runs. A check is one runner pass over the probes; an action is a runner pass over the
 * action's commands, its captures applied, then a check pass. Inputs referenced in a command's
 * script are exported to the child under their own names (bash expands them); secrets reach a
 * child only through env:/stdin:, and every held secret is redacted from all output.
 */
#include "config.h"

#include "engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain-cache.h"
#include "demo.h"
#include "http.h"
#include "logbuf.h"
#include "loop.h"
#include "probe.h"
#include "remote.h"
#include "runner.h"
#include "util.h"
#include "verify.h"

#define CHECK_TIMEOUT_S   60
#define ACTION_TIMEOUT_S  3600
#define LOG_RING_BYTES    (1024 * 1024)
#define EXPAND_DEPTH      8

struct step_rt {
	struct engine *e;
	size_t index;
	struct run *run;
	enum run_kind kind;          /* what the caller asked for */
	bool in_check;               /* the current pass is the check */
	struct run_cmd *cmds;
	size_t ncmds;
	struct logbuf *log;
	struct engine_cbs cbs;
	char **secrets;              /* copies of the held secrets, for redaction */
	size_t nsecrets;
	time_t started;
	uint64_t t0;
	bool failed_action;
	struct remote_pf *pf;        /* the pre-flight before a server step (freed later) */
	bool waiting;                /* the pre-flight runs; the pass starts after it */
};

struct engine {
	struct chain *chain;
	struct state *state;
	char *profile;
	char *dir;                   /* the profile's state directory */
	struct loop *loop;
	char **secrets;              /* per input, NULL if not held */
	enum value_source *secret_src;
	struct step_rt *rt;          /* per step */
	bool target_local;
	struct transport *local;
	struct http *http;           /* libcurl multi for probes, in the loop */
	char *notice;
	struct remote *remote;       /* --target [user@]host[:port]: the server over SSH */
	struct verify *verify;       /* verdicts of `verify: contract_code` inputs */
	struct demo *demo;            /* --demo: the simulated host, or NULL */
};

static void engine_run_done(void *data, const struct run_result *res);
static int save(struct engine *e, char **cause);

/* Name of a step status. */
const char *
step_status_name(enum step_status s)
{
	static const char *names[] = { "locked", "ready", "checking", "running", "done", "failed",
	    "stale" };

	return (size_t)s < nitems(names) ? names[s] : "?";
}

/* Free what an input_value holds. */
void
input_value_clear(struct input_value *iv)
{
	verdict_clear(&iv->verdict);
	free(iv->value);
	free(iv->from_step);
	memset(iv, 0, sizeof *iv);
}

/* Where the assets are. */
const char *
engine_datadir(void)
{
	static char *dir;
	char exe[4096], *slash;
	ssize_t n;

	if (dir != NULL)
		return dir;
	if (getenv("DSTACK_WIZARD_DATADIR") && *getenv("DSTACK_WIZARD_DATADIR")) {
		dir = xstrdup(getenv("DSTACK_WIZARD_DATADIR"));
		return dir;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			/* Run from the build tree (the binary, or a test under tests/...). */
			if (strcmp(exe, ABS_TOP_BUILDDIR) == 0 ||
			    str_has_prefix(exe, ABS_TOP_BUILDDIR "/tests")) {
				dir = xstrdup(ABS_TOP_SRCDIR "/assets");
				return dir;
			}
			/* Installed anywhere: <bindir>/../share/dstack-wizard, if there. */
			slash = strrchr(exe, '/');
			if (slash != NULL) {
				struct stat sb;

				*slash = '\0';
				dir = xprintf("%s/share/" PACKAGE, exe);
				if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
					return dir;
				free(dir);
			}
		}
	}
	dir = xstrdup(PKGDATADIR);
	return dir;
}

/*
 * The demo host: server steps run on this machine, in the sandbox (directly, or through a
 * loopback sshd with --target, see engine_demo_remote); the demo's public test
 * values fill the inputs that are not set (root always points into the sandbox), and its
 * throwaway keys are held like secrets from the environment.
 */
static int
engine_demo_open(struct engine *e, const struct engine_opts *o, char **cause)
{
	struct demo_opts dopt = { NULL, e->dir, o->demo_speed, o->demo_fail };
	char *assets = xprintf("%s/demo", engine_datadir());
	int rc;

	dopt.assets = assets;
	rc = demo_open(&dopt, &e->demo, cause);
	free(assets);
	if (rc != 0)
		return -1;
	e->target_local = true;
	/* Over SSH the pre-flight asks the simulated host too (its sudo, OS and disk). */
	if (e->remote != NULL)
		remote_set_preflight_env(e->remote, demo_env(e->demo, "preflight"));
	for (unsigned k = 0; k < demo_npresets; k++) {
		const struct demo_preset *p = &demo_presets[k];
		const char *v = p->value ? p->value : demo_root(e->demo);
		int idx = chain_input_index(e->chain, p->name);

		if (idx < 0)
			continue;
		if (e->chain->inputs[idx].secret) {
			if (e->secrets[idx] == NULL)
				engine_set_secret(e, p->name, v, SRC_ENV, NULL);
		} else if (p->force || state_get_input(e->state, p->name) == NULL)
			state_set_input(e->state, p->name, v, SRC_USER, NULL, time(NULL));
	}
	return save(e, cause);
}

/* Is this the demo host? */
bool
engine_is_demo(const struct engine *e)
{
	return e->demo != NULL;
}

/* Is host a loopback address (127.0.0.0/8, ::1, or 127.0.0.0/8 mapped into IPv6)? */
static bool
is_loopback_address(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) != 1)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&a6))
		return true;
	return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

/*
 * The demo host behind an SSH target: the sandbox and the demo server are on this machine,
 * so the target must be this machine's loopback (the address it connects to, after the ssh
 * config's HostName). Supervised commands keep their files in the sandbox.
 */
static int
engine_demo_remote(struct engine *e, const char *t, char **cause)
{
	const struct ssh_target *st = ssh_conn_target(remote_conn(e->remote));
	const char *host = st->hostname != NULL ? st->hostname : st->host;
	const char *dir = getenv("DSTACK_WIZARD_REMOTE_DIR");
	struct ssh_opts so = {0};
	char *remote_dir;

	if (host == NULL || !is_loopback_address(host)) {
		set_cause(cause, "--demo --target %s: the demo host is simulated on this machine, "
		    "so its SSH target must be a loopback address (127.0.0.0/8 or ::1), not %s", t,
		    host != NULL ? host : "(none)");
		remote_free(&e->remote);
		return -1;
	}
	remote_dir = dir != NULL && *dir != '\0' ? xstrdup(dir) : xprintf("%s/sandbox/remote",
	    e->dir);
	so.remote_dir = remote_dir;
	ssh_conn_set_opts(remote_conn(e->remote), &so);
	free(remote_dir);
	return 0;
}

/*
 * The target: --target, else the one remembered in the profile's state. "local" runs server
 * commands on this machine; anything else is an SSH target, remembered for next time. With
 * --demo, only an SSH target on the loopback goes (not remembered): the demo's server
 * commands then run through sshd, in the same sandbox.
 */
static int
engine_remote_open(struct engine *e, const struct engine_opts *o, char **cause)
{
	struct remote_opts ro = {0};
	const char *t = o->target;

	if (t == NULL && !o->demo)
		t = e->state->target;
	if (t == NULL)
		return 0;
	if (o->demo && strcmp(t, "local") == 0)
		return set_cause(cause, "--demo runs the server steps on its simulated host; it does "
		    "not go with --target local (an SSH target on the loopback is allowed)");
	if (strcmp(t, "local") == 0) {
		e->target_local = true;   /* for this run only: not remembered */
		return 0;
	}
	ro.target = t;
	ro.identity = o->identity;
	ro.known_hosts = o->known_hosts;
	ro.ssh_config = o->ssh_config;
	ro.accept_new = o->accept_new_host_key;
	if (remote_new(e->loop, &ro, &e->remote, cause) != 0) {
		char *why = *cause;

		*cause = xprintf("--target %s: %s", t, why);
		free(why);
		return -1;
	}
	if (o->demo)
		return engine_demo_remote(e, t, cause);
	if (o->target != NULL && (e->state->target == NULL ||
	    strcmp(e->state->target, o->target) != 0)) {
		free(e->state->target);
		e->state->target = xstrdup(o->target);
		if (save(e, cause) != 0)
			return -1;
	}
	return 0;
}

/* The SSH side of the server, or NULL (no target, or --target local). */
struct remote *
engine_remote(struct engine *e)
{
	return e->remote;
}

/* Start a check of every `verify: contract_code` input whose value and RPC URL are there. */
static void
verify_kick(const struct engine *e)
{
	for (size_t s = 0; s < e->chain->nsteps; s++) {
		struct blocker *b;
		size_t n = engine_blockers(e, s, &b);

		blockers_free(&b, n);
	}
}

/* Wait (in the loop, at most timeout_ms) until no verification is running. */
void
engine_wait_verified(struct engine *e, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	verify_kick(e);
	while (verify_pending(e->verify) && now_ms() < end)
		loop_run_once(e->loop, (int)(end - now_ms()));
}

char *
engine_cache_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	/* The XDG spec says a relative path is invalid and must be ignored. */
	if (xdg != NULL && xdg[0] == '/')
		return xprintf("%s/dstack-wizard", xdg);
	if (home != NULL && home[0] == '/')
		return xprintf("%s/.cache/dstack-wizard", home);
	return NULL;
}

/* Open the engine: load the chain and the profile's state. */
int
engine_open(const struct engine_opts *o, struct engine **out, enum engine_err *err,
    char **cause)
{
	struct engine *e;
	char *chain_dir = NULL, *cache = NULL, *path;
	int rc;

	*out = NULL;
	*err = EERR_USAGE;
	e = xcalloc(1, sizeof *e);
	e->profile = xstrdup(o->profile ? o->profile : "default");
	if (o->chain_dir)
		chain_dir = xstrdup(o->chain_dir);
	else
		chain_dir = xprintf("%s/chain", engine_datadir());
	*err = EERR_BAD_FILE;
	if (o->cache_dir != NULL)
		cache = chain_cache_path(o->cache_dir, chain_dir);
	rc = chain_load(chain_dir, cache, &e->chain, cause);
	free(cache);
	free(chain_dir);
	if (rc != 0)
		goto fail;
	*err = EERR_USAGE;
	if (o->state_dir) {
		if (mkdir_p(o->state_dir, 0700, cause) != 0)
			goto fail;
		e->dir = xstrdup(o->state_dir);
	} else if (state_dir(e->profile, &e->dir, cause) != 0)
		goto fail;
	*err = EERR_BAD_FILE;
	path = xprintf("%s/state.json", e->dir);
	rc = state_load(path, &e->state, cause);
	free(path);
	if (rc != 0)
		goto fail;
	if (e->state->notice)
		e->notice = xstrdup(e->state->notice);
	e->loop = loop_new();
	e->http = http_new(e->loop);
	e->secrets = xcalloc(e->chain->ninputs, sizeof *e->secrets);
	e->secret_src = xcalloc(e->chain->ninputs, sizeof *e->secret_src);
	e->rt = xcalloc(e->chain->nsteps, sizeof *e->rt);
	e->local = xcalloc(1, sizeof *e->local);
	e->local->ops = &transport_local_ops;
	e->verify = verify_new(e->http);
	if (engine_remote_open(e, o, cause) != 0) {
		*err = EERR_USAGE;
		goto fail;
	}
	if (o->demo && engine_demo_open(e, o, cause) != 0) {
		*err = EERR_USAGE;
		goto fail;
	}
	*err = EERR_NONE;
	*out = e;
	return 0;
fail:
	engine_close(&e);
	return -1;
}

/* Close the engine: cancel runs, wipe secrets, free everything. */
void
engine_close(struct engine **ep)
{
	struct engine *e = *ep;

	if (e == NULL)
		return;
	if (e->rt != NULL) {
		for (size_t i = 0; i < e->chain->nsteps; i++) {
			struct step_rt *rt = &e->rt[i];

			remote_preflight_free(&rt->pf);
			if (rt->run)
				run_free(&rt->run);
			run_cmds_free(&rt->cmds, rt->ncmds);
			logbuf_free(&rt->log);
			free(rt->secrets);
		}
		free(e->rt);
	}
	if (e->secrets != NULL) {
		for (size_t i = 0; i < e->chain->ninputs; i++)
			secret_free(&e->secrets[i]);
		free(e->secrets);
	}
	free(e->secret_src);
	free(e->local);
	demo_close(&e->demo);
	verify_free(&e->verify);
	remote_free(&e->remote);
	http_free(&e->http);
	loop_free(&e->loop);
	state_free(&e->state);
	chain_free(&e->chain);
	free(e->profile);
	free(e->dir);
	free(e->notice);
	free(e);
	*ep = NULL;
}

const struct chain *
engine_chain(const struct engine *e)
{
	return e->chain;
}

struct loop *
engine_loop(struct engine *e)
{
	return e->loop;
}

void
engine_on_verdict(struct engine *e, void (*fn)(void *data), void *data)
{
	verify_on_verdict(e->verify, fn, data);
}

const char *
engine_state_path(const struct engine *e)
{
	return e->state->path;
}

const char *
engine_profile(const struct engine *e)
{
	return e->profile;
}

const char *
engine_notice(const struct engine *e)
{
	return e->notice;
}

/* The raw value of input i and where it came from (NULL if none). depth bounds defaults. */
static char *
value_of(const struct engine *e, size_t i, enum value_source *src, int depth);

struct expand_ctx {
	const struct engine *e;
	bool mask_secrets;
	int depth;
	bool missing;
};

enum {
	EXPAND_MASK = 1,        /* secrets as **** */
	EXPAND_REGEX = 2,       /* values as literal text in a regex */
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
static char *
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

static char *
value_of(const struct engine *e, size_t i, enum value_source *src, int depth)
{
	const struct input_def *d = &e->chain->inputs[i];
	const struct state_input *si;
	bool missing = false;
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
	if (d->def == NULL || depth > EXPAND_DEPTH)
		return NULL;
	v = expand(e, d->def, 0, depth, &missing);
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
		else if (d->def != NULL)
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

/* Does step s use input i (listed or referenced)? */
static bool
step_uses_input(const struct step *s, size_t i)
{
	for (size_t k = 0; k < s->ninputs; k++)
		if (s->inputs[k] == i)
			return true;
	return false;
}

/* Does any command of step s (check or action) run on the server? */
static bool
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

/* Mark every done step that depends on step `from` (or uses input `input`) stale. */
static void
mark_stale(struct engine *e, int from, int input, const char *why)
{
	const struct chain *c = e->chain;

	for (size_t k = 0; k < c->nsteps; k++) {
		bool hit = false;
		struct state_step *ss;

		if (from >= 0 && (size_t)from != k && chain_depends_on(c, k, (size_t)from))
			hit = true;
		if (input >= 0) {
			if (step_uses_input(&c->steps[k], (size_t)input))
				hit = true;
			for (size_t j = 0; j < c->nsteps && !hit; j++)
				if (step_uses_input(&c->steps[j], (size_t)input) &&
				    chain_depends_on(c, k, j))
					hit = true;
		}
		ss = state_get_step(e->state, c->steps[k].id);
		if (hit && ss != NULL && ss->status == SAVED_DONE) {
			ss->status = SAVED_STALE;
			free(ss->message);
			ss->message = xstrdup(why);
		}
	}
}

/* Save the state; a failure goes to the notice (and the caller's cause if given). */
static int
save(struct engine *e, char **cause)
{
	char *why = NULL;

	if (state_save(e->state, &why) != 0) {
		free(e->notice);
		e->notice = xprintf("could not save the state: %s", why);
		if (cause)
			set_cause(cause, "%s", why);
		free(why);
		return -1;
	}
	return 0;
}

/* Set an input's stored value (user or capture); marks dependents stale if it changed. */
static int
store_input(struct engine *e, int idx, const char *value, enum value_source src,
    const char *from_step, char **cause)
{
	const struct input_def *d = &e->chain->inputs[idx];
	const struct state_input *old = state_get_input(e->state, d->name);
	char *why;

	if (old != NULL && strcmp(old->value, value) == 0 && old->source == src)
		return 0;
	state_set_input(e->state, d->name, value, src, from_step, time(NULL));
	why = xprintf("input %s changed", d->name);
	mark_stale(e, -1, idx, why);
	free(why);
	return save(e, cause);
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
	if (state_get_input(e->state, name) == NULL)
		return 0;
	state_unset_input(e->state, name);
	why = xprintf("input %s changed", name);
	mark_stale(e, -1, idx, why);
	free(why);
	return save(e, cause);
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

/* The saved record of a step, or NULL. */
const struct state_step *
engine_step_state(const struct engine *e, size_t step)
{
	return state_get_step(e->state, e->chain->steps[step].id);
}

/* Is step s running (check or action)? */
static bool
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

/* Is step s done (and not running again)? */
static bool
step_done(const struct engine *e, size_t s)
{
	const struct state_step *ss = engine_step_state(e, s);

	return !running(e, s) && ss != NULL && ss->status == SAVED_DONE;
}

/*
 * The unmet requirements of step s, each with why, into *out; with out NULL, only whether
 * there is one (it stops at the first and builds no text). A required step's status is
 * looked at one level down only: whether it is done does not depend on its own blockers.
 */
static size_t
blockers(const struct engine *e, size_t s, struct blocker **out)
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

		if (d->secret && e->secrets[i] == NULL)
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

struct logbuf *
engine_log(struct engine *e, size_t s)
{
	return e->rt[s].log;
}

void
run_cmds_free(struct run_cmd **cmds, size_t n)
{
	if (*cmds == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		if (transport_is_probe((*cmds)[i].transport))
			probe_transport_free(&(*cmds)[i].transport);
		run_cmd_clear(&(*cmds)[i]);
	}
	free(*cmds);
	*cmds = NULL;
}

struct env_ctx {
	const struct engine *e;
	struct strvec *env;
};

/* Export a referenced non-secret input to the child's environment under its own name. */
static void
export_ref(const char *name, size_t len, void *data)
{
	struct env_ctx *ctx = data;
	char *n = xstrndup(name, len), *v;
	int idx = chain_input_index(ctx->e->chain, n);
	enum value_source src;
	size_t k;

	if (idx < 0 || ctx->e->chain->inputs[idx].secret) {
		free(n);
		return;
	}
	for (k = 0; k < ctx->env->n; k++)
		if (str_has_prefix(ctx->env->v[k], n) && ctx->env->v[k][len] == '=')
			break;
	if (k == ctx->env->n) {
		v = value_of(ctx->e, (size_t)idx, &src, 0);
		sv_push_take(ctx->env, xprintf("%s=%s", n, v ? v : ""));
		free(v);
	}
	free(n);
}

/* Copy a probe with every ${name} resolved (secrets masked when mask is set). */
static void
expand_probe(const struct engine *e, const struct probe *in, struct probe *out, bool mask)
{
	unsigned how = mask ? EXPAND_MASK : 0;
#define X(f) out->f = expand(e, in->f, how, 0, NULL)
#define XV(f, n) do { \
	out->n = in->n; \
	out->f = in->n ? xcalloc(in->n, sizeof *out->f) : NULL; \
	for (size_t k = 0; k < in->n; k++) \
		out->f[k] = expand(e, in->f[k], how, 0, NULL); \
} while (0)
	memset(out, 0, sizeof *out);
	out->kind = in->kind;
	out->status = in->status;
	out->insecure = in->insecure;
	X(url); X(method); X(body); X(target); X(call); X(chain_id);
	X(address); X(min_eth); X(data);
	out->body_match = expand(e, in->body_match, how | EXPAND_REGEX, 0, NULL);
	XV(headers, nheaders);
	XV(resolve, nresolve);
	XV(json, njson);
	XV(capture_headers, ncapture_headers);
#undef X
#undef XV
}

/* Build the run_cmd of a probe: a probe transport over the engine's libcurl handle. */
static int
build_probe(const struct engine *e, const struct command *c, struct run_cmd *rc)
{
	struct probe shown, real;
	char *what;

	expand_probe(e, c->probe, &shown, true);
	what = probe_describe(&shown);
	probe_clear(&shown);
	rc->display = xprintf("[%s] %s", place_name(c->on), what);
	free(what);
	expand_probe(e, c->probe, &real, false);
	/* Server ports: with --target local the server's loopback is this machine's. */
	if (e->demo != NULL) {
		char *ct = NULL, *ca = NULL, *why = NULL;

		if (demo_probe(e->demo, &real, &ct, &ca, &why) != 0) {
			/* Shown as the probe's failure: the demo server did not start. */
			free(real.url);
			real.url = xprintf("http://127.0.0.1:9/%s", why);
		}
		rc->transport = probe_transport_new(&real, e->http, ct, ca);
		free(ct);
		free(ca);
		free(why);
	} else if (e->remote != NULL && c->on == PLACE_SERVER) {
		/* The server's loopback: a tunnel (http), or a command on the server (tcp). */
		char *ct = NULL, *why = NULL;
		int r = remote_probe(e->remote, &real, rc, &ct, &why);

		if (r < 0) {
			free(real.url);
			real.url = xprintf("http://127.0.0.1:9/no-tunnel: %s", why);
		}
		if (r == 1 && rc->transport != NULL) {
			probe_clear(&real);
			free(why);
			return 0;
		}
		rc->transport = probe_transport_new(&real, e->http, ct, NULL);
		free(ct);
		free(why);
	} else
		rc->transport = probe_transport_new(&real, e->http, NULL, NULL);
	rc->tc.script = xstrdup("");
	return 0;
}

/* Build one run_cmd from a chain command. */
static int
build_cmd(const struct engine *e, const struct step *st, const struct command *c, enum run_kind kind,
    struct run_cmd *rc, char **cause)
{
	struct strvec env = {0};
	struct env_ctx ctx = { e, &env };
	struct strbuf disp = {0};
	char *body;

	memset(rc, 0, sizeof *rc);
	if (c->on == PLACE_SERVER && !e->target_local && e->remote == NULL)
		return set_cause(cause, "this command runs on the server, and no server is configured");
	rc->timeout_ms = 1000u * (unsigned)(c->timeout > 0 ? c->timeout :
	    kind == RUN_CHECK ? CHECK_TIMEOUT_S : ACTION_TIMEOUT_S);
	rc->label = xstrdup(c->name);
	if (c->probe != NULL)
		return build_probe(e, c, rc);
	rc->transport = e->local;
	if (c->on == PLACE_SERVER && e->remote != NULL) {
		rc->transport = remote_transport(e->remote);
		/* Long actions outlive a dropped connection: supervised, re-attached. */
		if (kind == RUN_ACTION && c >= st->action && c < st->action + st->naction &&
		    ((st->effects & EFFECT_LONG) || c->timeout > 300)) {
			static unsigned serial;
			char stamp[32];
			time_t now = time(NULL);
			struct tm tm;

			gmtime_r(&now, &tm);
			strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
			rc->tc.supervised = true;
			rc->tc.id = xprintf("%.32s-%s-%d-%u", st->id, stamp, (int)getpid() % 100000,
			    serial++ % 100000);
		}
	}
	rc->tc.script = xstrdup(c->run);
	if (c->cwd)
		rc->tc.cwd = expand(e, c->cwd, 0, 0, NULL);
	chain_refs(c->run, export_ref, &ctx);
	for (size_t k = 0; k < c->nenv; k++) {
		char *v = expand(e, c->env[k].value, 0, 0, NULL);

		sv_push_take(&env, xprintf("%s=%s", c->env[k].name, v));
		explicit_bzero(v, strlen(v));
		free(v);
	}
	rc->tc.env = env.v;    /* owned by rc now (NULL when empty) */
	if (c->stdin_text) {
		char *in = expand(e, c->stdin_text, 0, 0, NULL);
		size_t len = strlen(in);

		if (len == 0 || in[len - 1] != '\n') {
			char *t = xprintf("%s\n", in);

			explicit_bzero(in, len);
			free(in);
			in = t;
		}
		rc->tc.stdin_data = in;
		rc->tc.stdin_len = strlen(in);
	}
	if (c->expect) {
		char *re = expand(e, c->expect, EXPAND_MASK | EXPAND_REGEX, 0, NULL);
		const char *why = regex_refusal(re, NULL);

		rc->expect = xmalloc(sizeof *rc->expect);
		if (why != NULL ||
		    regcomp(rc->expect, re, REG_EXTENDED | REG_NEWLINE | REG_NOSUB) != 0) {
			free(rc->expect);
			rc->expect = NULL;
			set_cause(cause, "expect /%s/ does not compile once its inputs are filled in%s%s",
			    re, why ? ": " : "", why ? why : "");
			free(re);
			return -1;
		}
		rc->expect_text = re;
	}
	body = expand(e, c->run, EXPAND_MASK, 0, NULL);
	sb_addf(&disp, "[%s] ", place_name(c->on));
	if (rc->tc.cwd)
		sb_addf(&disp, "(cd %s) ", rc->tc.cwd);
	sb_adds(&disp, body);
	free(body);
	rc->display = sb_detach(&disp);
	/*
	 * The demo host: its environment (stand-ins, sandbox home) for every command, local or
	 * through the SSH transport (which exports it on the server side, and refuses a command
	 * whose environment holds a local-only secret; the demo's own variables hold none).
	 */
	if (e->demo != NULL)
		return demo_cmd(e->demo, st->id, rc, cause);
	return 0;
}

/* Build the commands of a step's check or action. */
int
engine_commands(const struct engine *e, size_t s, enum run_kind kind, struct run_cmd **out,
    size_t *n, char **cause)
{
	const struct step *st = &e->chain->steps[s];
	const struct command *cmds = kind == RUN_CHECK ? st->check : st->action;
	size_t count = kind == RUN_CHECK ? st->ncheck : st->naction;
	struct run_cmd *rc = xcalloc(count ? count : 1, sizeof *rc);

	for (size_t i = 0; i < count; i++) {
		if (build_cmd(e, st, &cmds[i], kind, &rc[i], cause) != 0) {
			run_cmds_free(&rc, i + 1);
			return -1;
		}
	}
	*out = rc;
	*n = count;
	return 0;
}

/* The first failing command's label and reason, plus the first hint. */
static char *
failure_message(const struct run_result *res, const struct run_cmd *cmds, bool check, int *code)
{
	struct strbuf sb = {0};

	*code = 0;
	if (res->canceled)
		sb_adds(&sb, "canceled");
	for (size_t i = 0; i < res->ncmds && sb.len == 0; i++) {
		const struct cmd_result *cr = &res->cmds[i];

		if (cr->ok || cr->skipped)
			continue;
		*code = cr->how == TJOB_EXITED ? cr->code : -1;
		if (cmds[i].label)
			sb_addf(&sb, "%s failed: %s: ", check ? "check" : "action", cmds[i].label);
		else {
			/* The first line of the command, for a one-line message. */
			size_t n = strcspn(cmds[i].display, "\n");

			sb_addf(&sb, "%s failed: %.*s%s: ", check ? "check" : "action", (int)n,
			    cmds[i].display, cmds[i].display[n] ? " ..." : "");
		}
		sb_adds(&sb, cr->reason ? cr->reason : "failed");
	}
	if (sb.len == 0)
		sb_adds(&sb, check ? "check failed" : "action failed");
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

static int start_pass(struct engine *e, size_t s, bool check, char **cause);

/* Apply an action's captures: each becomes the value of its input (when valid). */
/* Store a captured value as its input (if valid and new) and say so in the log; returns
 * whether the input changed. */
static bool
apply_capture(struct engine *e, struct step_rt *rt, const struct capture *c, const char *value)
{
	const struct step *st = &e->chain->steps[rt->index];
	int idx = chain_input_index(e->chain, c->name);
	const struct state_input *old;
	struct verdict v;
	char *line;
	bool stored = false;

	if (idx < 0 || e->chain->inputs[idx].secret)
		return false;
	old = state_get_input(e->state, c->name);
	if (old != NULL && old->source == SRC_CAPTURE && strcmp(old->value, value) == 0 &&
	    old->from_step != NULL && strcmp(old->from_step, st->id) == 0)
		return false;
	validate_input(&e->chain->inputs[idx], value, &v);
	if (v.ok) {
		store_input(e, idx, value, SRC_CAPTURE, st->id, NULL);
		line = xprintf("captured %s = %s", c->name, value);
		stored = true;
	} else
		line = xprintf("captured %s = %s, which is not valid (%s): not used", c->name,
		    value, v.why);
	logbuf_push(rt->log, STREAM_META, line, strlen(line));
	if (rt->cbs.line)
		rt->cbs.line(rt->cbs.data, rt->index, STREAM_META, line, strlen(line));
	free(line);
	verdict_clear(&v);
	return stored;
}

/* Apply every capture of the finished run. */
static void
apply_captures(struct engine *e, struct step_rt *rt, const struct run_result *res)
{
	for (size_t i = 0; i < res->ncaptures; i++)
		apply_capture(e, rt, res->captures[i].capture, res->captures[i].value);
}

/* A pass ended: record it, and go on to the check after a successful action. */
static void
engine_run_done(void *data, const struct run_result *res)
{
	struct step_rt *rt = data;
	struct engine *e = rt->e;
	const struct step *st = &e->chain->steps[rt->index];
	struct state_step *ss = state_step(e->state, st->id);
	bool was_done = ss->status == SAVED_DONE, check = rt->in_check;
	struct run *finished = rt->run;    /* freed at the end: res belongs to it */
	char *cause = NULL;

	rt->run = NULL;
	if (!check) {
		apply_captures(e, rt, res);
		ss = state_step(e->state, st->id);
		if (res->ok && !res->canceled) {
			if (start_pass(e, rt->index, true, &cause) == 0) {
				free(cause);
				run_free(&finished);
				return;
			}
			logbuf_push(rt->log, STREAM_META, cause, strlen(cause));
		}
	}
	ss = state_step(e->state, st->id);
	ss->finished_at = time(NULL);
	ss->duration_ms = (long)(now_ms() - rt->t0);
	free(ss->message);
	ss->message = NULL;
	if (cause != NULL) {
		ss->status = SAVED_FAILED;
		ss->message = cause;
		ss->exit_code = -1;
		cause = NULL;
	} else if (check && res->ok && !res->canceled) {
		ss->status = SAVED_DONE;
		ss->done_at = ss->finished_at;
		ss->exit_code = 0;
	} else {
		ss->status = SAVED_FAILED;
		ss->message = failure_message(res, rt->cmds, check, &ss->exit_code);
		if (was_done) {
			char *why = xprintf("%s is no longer done", st->id);

			mark_stale(e, (int)rt->index, -1, why);
			free(why);
		}
	}
	save(e, NULL);
	rt_drop_secrets(rt);
	if (rt->cbs.done)
		rt->cbs.done(rt->cbs.data, rt->index, rt->kind, res);
	run_free(&finished);    /* the runner allows this from its done callback */
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

	if (rt->cbs.cmd_start)
		rt->cbs.cmd_start(rt->cbs.data, rt->index, rt->in_check ? RUN_CHECK : RUN_ACTION,
		    index, cmd);
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
	if (!rt->in_check && res->ok && index + 1 < rt->ncmds && rt->run != NULL) {
		for (size_t i = 0; i < st->ncaptures; i++) {
			const char *v = run_capture(rt->run, i);

			if (v != NULL && apply_capture(e, rt, &st->captures[i], v))
				changed = true;
		}
		for (size_t j = index + 1; changed && j < rt->ncmds; j++) {
			struct run_cmd rc;
			char *cause = NULL;

			if (build_cmd(e, st, &st->action[j], RUN_ACTION, &rc, &cause) != 0) {
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
		rt->cbs.cmd_end(rt->cbs.data, rt->index, rt->in_check ? RUN_CHECK : RUN_ACTION,
		    index, res);
}

/* Start one pass (action or check) of a step. */
static int
start_pass(struct engine *e, size_t s, bool check, char **cause)
{
	const struct step *st = &e->chain->steps[s];
	struct step_rt *rt = &e->rt[s];
	struct run_opts ro = {0};
	struct run_cbs cbs = {0};
	struct state_step *ss;
	char *logdir, *logpath, stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	static unsigned serial;

	run_cmds_free(&rt->cmds, rt->ncmds);
	rt->ncmds = 0;
	if (engine_commands(e, s, check ? RUN_CHECK : RUN_ACTION, &rt->cmds, &rt->ncmds,
	    cause) != 0)
		return -1;
	logdir = xprintf("%s/logs", e->dir);
	if (mkdir_p(logdir, 0700, cause) != 0) {
		free(logdir);
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	logpath = xprintf("%s/%s-%s-%s-%d-%u.log", logdir, st->id, check ? "check" : "action",
	    stamp, (int)getpid(), serial++);
	free(logdir);

	rt->in_check = check;
	ro.log_path = logpath;
	ro.title = check ? "check" : "action";
	ro.secrets = (const char *const *)rt->secrets;
	ro.nsecrets = rt->nsecrets;
	if (!check) {
		ro.captures = st->captures;
		ro.ncaptures = st->ncaptures;
	}
	ro.hints = st->hints;
	ro.nhints = st->nhints;
	ro.ring = rt->log;
	ro.stop_on_failure = !check;
	cbs.line = rt_line;
	cbs.cmd_start = rt_cmd_start;
	cbs.cmd_end = rt_cmd_end;
	cbs.done = engine_run_done;
	cbs.data = rt;
	ss = state_step(e->state, st->id);
	free(ss->log_path);
	ss->log_path = logpath;
	rt->run = run_start(e->loop, rt->cmds, rt->ncmds, &ro, &cbs, cause);
	return rt->run != NULL ? 0 : -1;
}

/* A step's run could not start: record why, and end it. */
static void
rt_fail_early(struct engine *e, struct step_rt *rt, char *why)
{
	struct state_step *ss = state_step(e->state, e->chain->steps[rt->index].id);
	struct run_result res;

	memset(&res, 0, sizeof res);
	ss->status = SAVED_FAILED;
	ss->finished_at = time(NULL);
	ss->duration_ms = (long)(now_ms() - rt->t0);
	ss->exit_code = -1;
	free(ss->message);
	ss->message = why;
	save(e, NULL);
	rt_drop_secrets(rt);
	if (rt->cbs.done)
		rt->cbs.done(rt->cbs.data, rt->index, rt->kind, &res);
}

/* The pre-flight before a server step is over: its report goes to the log; then the pass. */
static void
rt_preflight_done(void *data, bool ok, const char *report)
{
	struct step_rt *rt = data;
	struct engine *e = rt->e;
	const char *p = report, *fail = NULL;
	char *cause = NULL;

	if (rt->log == NULL)
		rt->log = logbuf_new(LOG_RING_BYTES);
	while (*p != '\0') {
		size_t n = strcspn(p, "\n");
		char *line = xprintf("pre-flight: %.*s", (int)n, p);

		if (fail == NULL && str_has_prefix(p, "FAIL "))
			fail = p;
		logbuf_push(rt->log, STREAM_META, line, strlen(line));
		if (rt->cbs.line)
			rt->cbs.line(rt->cbs.data, rt->index, STREAM_META, line, strlen(line));
		free(line);
		p += n;
		if (*p == '\n')
			p++;
	}
	rt->waiting = false;
	if (!ok) {
		size_t n = fail != NULL ? strcspn(fail + 5, "\n") : 0;

		rt_fail_early(e, rt, xprintf("the pre-flight of %s failed: %.*s",
		    remote_label(e->remote), (int)n, fail != NULL ? fail + 5 : "?"));
		return;
	}
	if (start_pass(e, rt->index, rt->in_check, &cause) != 0)
		rt_fail_early(e, rt, cause);
}

/* Start a check or an action of a step, if the gate allows it. */
int
engine_start(struct engine *e, size_t s, enum run_kind kind, const struct engine_cbs *cbs,
    enum engine_err *err, char **cause)
{
	const struct step *st = &e->chain->steps[s];
	struct step_rt *rt = &e->rt[s];
	struct blocker *b;
	size_t nb, *miss, nmiss;
	struct state_step *ss;
	bool check;

	*err = EERR_REFUSED;
	if (running(e, s))
		return set_cause(cause, "%s is already running", st->id);
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
		for (size_t i = 0; i < nmiss; i++)
			sb_addf(&sb, "\n  - %s (set DSTACK_WIZARD_%s, use --secret-file, or type it "
			    "when asked)", e->chain->inputs[miss[i]].name, e->chain->inputs[miss[i]].name);
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
	rt->secrets = xcalloc(e->chain->ninputs ? e->chain->ninputs : 1, sizeof *rt->secrets);
	for (size_t i = 0; i < e->chain->ninputs; i++)
		if (e->secrets[i] != NULL)
			rt->secrets[rt->nsecrets++] = xstrdup(e->secrets[i]);
	rt->started = time(NULL);
	rt->t0 = now_ms();
	ss = state_step(e->state, st->id);
	ss->started_at = rt->started;
	check = kind == RUN_CHECK || st->naction == 0;
	if (!check) {
		char *why = xprintf("%s re-ran", st->id);

		mark_stale(e, (int)s, -1, why);
		free(why);
	}
	if (e->remote != NULL) {
		/* Second line behind the loader: the transport refuses local-only secrets. */
		for (size_t i = 0; i < e->chain->ninputs; i++)
			if (e->secrets[i] != NULL && e->chain->inputs[i].scope == SCOPE_LOCAL)
				remote_forbid(e->remote, e->secrets[i]);
		if (step_needs_server(st) && !remote_checked(e->remote)) {
			rt->in_check = check;
			rt->waiting = true;
			remote_preflight_free(&rt->pf);
			rt->pf = remote_preflight(e->remote, rt_preflight_done, rt);
			*err = EERR_NONE;
			return 0;
		}
	}
	if (start_pass(e, s, check, cause) != 0) {
		*err = EERR_FAILED;
		rt_drop_secrets(rt);
		ss = state_step(e->state, st->id);
		ss->status = SAVED_FAILED;
		free(ss->message);
		ss->message = xstrdup(*cause);
		save(e, NULL);
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
		remote_preflight_free(&e->rt[s].pf);
		e->rt[s].waiting = false;
		rt_fail_early(e, &e->rt[s], xstrdup("canceled during the pre-flight"));
		return;
	}
	if (running(e, s))
		run_cancel(e->rt[s].run);
}
