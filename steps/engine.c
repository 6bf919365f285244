/*
 * engine.c: the chain, the profile's state and the running steps, together: opening (the
 * chain, the state, the place server steps run: this machine, a server over SSH, the demo
 * host), closing, and what the engine hands out. engine-int.h has the engine's struct and
 * lists the other files.
 *
 * Runs. A check is one runner pass over the probes; an action is a runner pass over the
 * action's commands, its captures applied, then a check pass. Every held secret is
 * redacted from all output.
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

#include "demo.h"
#include "engine-int.h"
#include "http.h"
#include "logbuf.h"
#include "loop.h"
#include "probe.h"
#include "remote.h"
#include "runner.h"
#include "util.h"
#include "verify.h"

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

/* Save the state; a failure goes to the notice (and the caller's cause if given). */
int
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

struct logbuf *
engine_log(struct engine *e, size_t s)
{
	return e->rt[s].log;
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
