/*
 * engine.c: the chain, the profile's state and the running steps, together: opening (the
 * chain, the state, the place server steps run: this machine, a server over SSH, the demo
 * host), closing, and what the engine hands out. engine-int.h has the engine's struct and
 * lists the other files.
 */
#include "config.h"

#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo.h"
#include "engine-int.h"
#include "http.h"
#include "logbuf.h"
#include "loop.h"
#include "remote.h"
#include "runner.h"
#include "util.h"
#include "verify.h"

/* Name of a step status. */
const char *
step_status_name(enum step_status s)
{
	static const char *names[] = { "locked", "ready", "checking", "running", "done", "failed",
	    "stale", "canceled" };

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
 * throwaway keys are held like secrets from the environment when none was given (its private
 * key then sets the wallet, if unset, to the key's account).
 */
static int
engine_demo_open(struct engine *e, const struct engine_opts *o, char **cause)
{
	struct demo_opts dopt = { NULL, e->dir, o->demo_speed, o->demo_speed_set, o->demo_fail };
	char *assets;
	int rc;

	if (o->demo_fail != NULL && strcmp(o->demo_fail, "none") != 0 &&
	    chain_step_index(e->chain, o->demo_fail) < 0)
		return set_cause(cause, "--demo-fail wants a step id (or none), and there is no "
		    "step '%s' (see 'dstack-wizard list')", o->demo_fail);
	if (o->demo_fail != NULL && strcmp(o->demo_fail, "none") == 0)
		dopt.fail = "";
	assets = xprintf("%s/demo", engine_datadir());
	dopt.assets = assets;
	rc = demo_open(&dopt, &e->demo, cause);
	free(assets);
	if (rc != 0)
		return -1;
	e->target_local = true;
	/* Over SSH the pre-flight asks the simulated host too (its sudo, OS and disk). */
	if (e->remote != NULL)
		remote_set_preflight_env(e->remote, demo_env(e->demo, "preflight"));
	update_begin(e);
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
	return update_end(e, cause);
}

/* Is this the demo host? */
bool
engine_is_demo(const struct engine *e)
{
	return e->demo != NULL;
}

/* Return the demo host, or NULL. */
struct demo *
engine_demo(const struct engine *e)
{
	return e->demo;
}

/*
 * The target: --target, else the one remembered in the profile's state (with the identity
 * and known_hosts file remembered with it, unless given). "local" runs server commands on
 * this machine; anything else is an SSH target, remembered for next time (a new one forgets
 * the identity and known_hosts file remembered for the old one). With --demo, only an SSH
 * target on the loopback goes (not remembered): the demo's server commands then run through
 * sshd, in the same sandbox.
 */
static int
engine_remote_open(struct engine *e, const struct engine_opts *o, char **cause)
{
	const char *t = o->target, *identity = o->identity, *known_hosts = o->known_hosts;
	bool same;

	e->ssh_config = o->ssh_config != NULL ? xstrdup(o->ssh_config) : NULL;
	e->accept_new = o->accept_new_host_key;
	if (t == NULL && !o->demo)
		t = e->state->target;
	if (t == NULL)
		return 0;
	if (o->demo && strcmp(t, "local") == 0)
		return set_cause(cause, "--demo runs the server steps on its simulated host; it does "
		    "not go with --target local (an SSH target on the loopback is allowed)");
	same = e->state->target != NULL && strcmp(e->state->target, t) == 0;
	if (same && identity == NULL)
		identity = e->state->identity;
	if (same && known_hosts == NULL)
		known_hosts = e->state->known_hosts;
	if (strcmp(t, "local") == 0) {
		e->target_local = true;   /* for this run only: not remembered */
		server_in_use(e, t, NULL, NULL);
		return 0;
	}
	if (server_remote_new(e, o->demo, t, identity, known_hosts, &e->remote, cause) != 0) {
		char *why = *cause;

		*cause = xprintf("--target %s: %s", t, why);
		free(why);
		return -1;
	}
	server_in_use(e, t, identity, known_hosts);
	if (o->demo || same)
		return 0;
	update_begin(e);
	free(e->state->target);
	e->state->target = xstrdup(t);
	freep(&e->state->identity);
	freep(&e->state->known_hosts);
	return update_end(e, cause);
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

/* Open the engine: load the chain and the profile's state. */
int
engine_open(const struct engine_opts *o, struct engine **out, enum engine_err *err,
    char **cause)
{
	struct engine *e;
	char *chain_dir = NULL, *path;
	int rc;

	*out = NULL;
	*err = EERR_USAGE;
	e = xcalloc(1, sizeof *e);
	e->lock_fd = e->session_fd = e->watch_fd = -1;
	e->profile = xstrdup(o->profile ? o->profile : "default");
	if (o->chain_dir)
		chain_dir = xstrdup(o->chain_dir);
	else
		chain_dir = xprintf("%s/chain", engine_datadir());
	*err = EERR_BAD_FILE;
	rc = chain_load(chain_dir, &e->chain, cause);
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
	if (profile_open(e, cause) != 0)
		goto fail;
	e->http = http_new(e->loop);
	e->secrets = xcalloc(e->chain->ninputs, sizeof *e->secrets);
	e->secret_src = xcalloc(e->chain->ninputs, sizeof *e->secret_src);
	e->rt = xcalloc(e->chain->nsteps, sizeof *e->rt);
	e->local = xcalloc(1, sizeof *e->local);
	e->local->ops = &transport_local_ops;
	e->verify = verify_new(e->http);
	/* Before the demo's presets: a secret given is not replaced by the demo's. */
	if (take_secrets(e, o, cause) != 0) {
		*err = EERR_REFUSED;
		goto fail;
	}
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

			if (rt->run)
				run_free(&rt->run);
			run_cmds_free(&rt->cmds, rt->ncmds);
			free(rt->caps);
			free(rt->hints);
			logbuf_free(&rt->log);
			free(rt->secrets);
			free(rt->log_path);
			free(rt->unsaved);
		}
		free(e->rt);
	}
	remote_preflight_free(&e->pf);
	if (e->pf_timer != 0)
		loop_del_timer(e->loop, e->pf_timer);
	free(e->pf_report);
	if (e->secrets != NULL) {
		for (size_t i = 0; i < e->chain->ninputs; i++)
			secret_free(&e->secrets[i]);
		free(e->secrets);
	}
	free(e->secret_src);
	for (size_t i = 0; i < e->offered.n; i++)
		secret_free(&e->offered.v[i]);
	sv_free(&e->offered);
	free(e->local);
	demo_close(&e->demo);
	profile_close(e);
	verify_free(&e->verify);
	remote_free(&e->remote);
	server_free(e);
	free(e->ssh_config);
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
