/*
 * engine-history.c: what the engine keeps of each run for the record, and what the
 * documents made from a profile (the report, the support bundle, the tutorial) ask of it:
 * where a step runs, in words; each run added to its step's history in the state (the last
 * STATE_MAX_ATTEMPTS: when, how long, where, how it ended, the hints shown); text with every
 * secret taken out: those held, and every value given in the environment, even one refused
 * (a key that is not the wallet's is still a key).
 */
#include "config.h"

#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine-int.h"
#include "remote.h"
#include "util.h"

const char *
engine_dir(const struct engine *e)
{
	return e->dir;
}

/* The server, in words. */
char *
engine_server_words(const struct engine *e)
{
	if (e->demo != NULL && e->remote != NULL)
		return xprintf("the demo host, over SSH to %s", remote_label(e->remote));
	if (e->demo != NULL)
		return xstrdup("the demo host (simulated)");
	if (e->remote != NULL)
		return xstrdup(remote_label(e->remote));
	if (e->target_local)
		return xstrdup("this machine (--target local)");
	return xstrdup("the server");
}

/* Where step s runs, in words: from the places of its commands for the release in use. */
char *
engine_where(const struct engine *e, size_t s)
{
	const struct step *st = &e->chain->steps[s];
	char *version = engine_version(e), *srv, *out;
	bool local = false, server = false;

	for (size_t k = 0; k < st->ncheck + st->naction; k++) {
		const struct command *c = k < st->ncheck ? &st->check[k] :
		    &st->action[k - st->ncheck];

		if (!vcond_holds(c->when, version))
			continue;
		if (c->on == PLACE_SERVER)
			server = true;
		else
			local = true;
	}
	free(version);
	if (!server)
		return xstrdup(st->place == PLACE_MANUAL ? "by hand; checked on this machine" :
		    "this machine");
	srv = engine_server_words(e);
	out = xprintf("%s%s%s", st->place == PLACE_MANUAL ? "by hand; checked on " : "", srv,
	    local ? " and this machine" : "");
	free(srv);
	return out;
}

/* Add the run that just ended (its outcome already in ss) to the step's history. */
void
note_attempt(struct engine *e, const struct step_rt *rt, struct state_step *ss,
    const struct run_result *res)
{
	struct state_attempt a;

	memset(&a, 0, sizeof a);
	a.kind = xstrdup(rt->kind == RUN_CHECK ? "check" : "action");
	a.started_at = rt->started;
	a.duration_ms = ss->duration_ms;
	a.where = engine_where(e, rt->index);
	a.outcome = xstrdup(res->canceled ? "canceled" : saved_status_name(ss->status));
	a.exit_code = ss->exit_code;
	a.message = ss->message;
	a.log_path = ss->log_path;
	a.nhints = res->nhints;
	a.hints = xcalloc(res->nhints + 1, sizeof *a.hints);
	for (size_t i = 0; i < res->nhints; i++) {
		a.hints[i].say = res->hints[i].hint->say;
		a.hints[i].fix = res->hints[i].hint->fix;
	}
	state_add_attempt(ss, &a);
	free(a.hints);
	free(a.where);
	free(a.kind);
	free(a.outcome);
}

/* s[0..len) with every held secret, in every form output may show it, as "****". */
char *
engine_redact(const struct engine *e, const char *s, size_t len, size_t *outlen)
{
	struct strvec forms = {0};
	char *out;

	for (size_t i = 0; i < e->chain->ninputs; i++)
		if (e->secrets[i] != NULL && e->secrets[i][0] != '\0')
			secret_forms(e->secrets[i], &forms);
	for (size_t i = 0; i < e->offered.n; i++)
		secret_forms(e->offered.v[i], &forms);
	out = str_redact(s, len, (const char *const *)forms.v, forms.n, outlen);
	for (size_t i = 0; i < forms.n; i++)
		secret_free(&forms.v[i]);
	sv_free(&forms);
	return out;
}

/* Keep the last pre-flight's result in the profile (preflight.txt, 0600), for the bundle. */
void
engine_note_preflight(struct engine *e, bool ok, const char *report)
{
	char *path = xprintf("%s/preflight.txt", e->dir), *tmp = xprintf("%s.tmp", path), t[32];
	char *text = xprintf("pre-flight of %s, %s: %s\n%s", e->remote != NULL ?
	    remote_label(e->remote) : "the server", iso_time(time(NULL), t, sizeof t),
	    ok ? "passed" : "failed", report);
	size_t len = strlen(text), off = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	bool written = fd >= 0;

	while (written && off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			written = false;
		else
			off += (size_t)n;
	}
	if (fd >= 0 && close(fd) != 0)
		written = false;
	/* A note for support: failing to keep it changes nothing else. */
	if (!written || rename(tmp, path) != 0)
		unlink(tmp);
	free(text);
	free(tmp);
	free(path);
}
