/*
 * engine-build.c: a step's commands made runnable (struct run_cmd): ${name} references filled
 * in, inputs referenced in a script exported to the child under their own names (bash expands
 * them), secrets only through env:/stdin:, probes given their transport, and a display text
 * with every secret masked.
 */
#include "config.h"

#include "engine.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"
#include "engine-int.h"
#include "probe.h"
#include "remote.h"
#include "rx.h"
#include "util.h"

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

/* The step whose action captures input name, or NULL. */
static const char *
captured_by(const struct chain *ch, const char *name)
{
	for (size_t s = 0; s < ch->nsteps; s++)
		for (size_t k = 0; k < ch->steps[s].ncaptures; k++)
			if (strcmp(ch->steps[s].captures[k].name, name) == 0)
				return ch->steps[s].id;
	return NULL;
}

/*
 * Why probe c cannot pass yet: it uses an input that has no value and that an action captures
 * (a contract address before the deployment ran); NULL if it can run.
 */
static char *
probe_unready(const struct engine *e, const struct command *c)
{
	for (size_t i = 0; i < e->chain->ninputs; i++) {
		const struct input_def *d = &e->chain->inputs[i];
		const char *by = captured_by(e->chain, d->name);
		enum value_source src;
		char *v;

		if (by == NULL || d->secret || !command_uses(c, d->name))
			continue;
		if ((v = value_of(e, i, &src, 0)) != NULL) {
			free(v);
			continue;
		}
		return xprintf("%s has no value yet (the action of %s captures it)", d->name, by);
	}
	return NULL;
}

/* Build the run_cmd of a probe: a probe transport over the engine's libcurl handle. */
static int
build_probe(const struct engine *e, const struct command *c, struct run_cmd *rc)
{
	struct probe shown, real;
	char *what;

	rc->unready = probe_unready(e, c);

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
int
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
		char *why = NULL;

		if ((rc->expect = rx_new(re, RX_LINES, &why)) == NULL) {
			set_cause(cause, "expect /%s/ does not compile once its inputs are filled in: "
			    "%s", re, why);
			free(why);
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
	const struct command *cmds = kind == RUN_CHECK ? st->check : kind == RUN_REPLACE ?
	    st->replace : st->action;
	size_t count = kind == RUN_CHECK ? st->ncheck : kind == RUN_REPLACE ? st->nreplace :
	    st->naction, m = 0;
	struct run_cmd *rc = xcalloc(count ? count : 1, sizeof *rc);
	char *version = engine_version(e);

	for (size_t i = 0; i < count; i++) {
		if (!vcond_holds(cmds[i].when, version))
			continue;   /* for another release */
		if (build_cmd(e, st, &cmds[i], kind, &rc[m], cause) != 0) {
			run_cmds_free(&rc, m + 1);
			free(version);
			return -1;
		}
		m++;
	}
	free(version);
	*out = rc;
	*n = m;
	return 0;
}
