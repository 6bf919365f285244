/*
 * test-state.c: the state file: round trips, corrupt and newer files, permissions, temp files,
 * the state directory, and a writer killed at random moments that must never leave a broken file.
 */
#include "config.h"

#include "state.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "testlib.h"
#include "util.h"

/* Each test gets a fresh directory and the state file path inside it. */
struct fixture {
	char *dir;
	char *path;
};

/* Make the fixture. */
static int
setup(void **ctx)
{
	struct fixture *f = calloc(1, sizeof *f);

	f->dir = tl_tmpdir();
	if (asprintf(&f->path, "%s/state.json", f->dir) < 0)
		abort();
	*ctx = f;
	return 0;
}

/* Remove the fixture. */
static int
teardown(void **ctx)
{
	struct fixture *f = *ctx;

	tl_rmrf(f->dir);
	free(f->dir);
	free(f->path);
	free(f);
	return 0;
}

/* Compare two possibly NULL strings. */
static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Tell whether two states hold the same inputs and steps, in the same order. */
static bool
state_equal(const struct state *a, const struct state *b)
{
	if (a->schema != b->schema || a->ninputs != b->ninputs || a->nsteps != b->nsteps)
		return false;
	for (size_t i = 0; i < a->ninputs; i++) {
		const struct state_input *x = &a->inputs[i], *y = &b->inputs[i];

		if (!str_eq(x->name, y->name) || !str_eq(x->value, y->value) ||
		    x->source != y->source || !str_eq(x->from_step, y->from_step) || x->at != y->at)
			return false;
	}
	for (size_t i = 0; i < a->nsteps; i++) {
		const struct state_step *x = &a->steps[i], *y = &b->steps[i];

		if (!str_eq(x->id, y->id) || x->status != y->status || x->done_at != y->done_at ||
		    x->started_at != y->started_at || x->finished_at != y->finished_at ||
		    x->duration_ms != y->duration_ms || x->exit_code != y->exit_code ||
		    !str_eq(x->message, y->message) || !str_eq(x->log_path, y->log_path))
			return false;
	}
	return true;
}

/* Read a whole file into an allocated buffer (NULL if it cannot be read). */
static char *
slurp(const char *path, size_t *len)
{
	char *text = NULL, *cause = NULL;

	if (read_file(path, 64 << 20, &text, len, &cause) != 0) {
		free(cause);
		return NULL;
	}
	return text;
}

/* Write len bytes to path (replacing it). */
static void
spit(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Count the entries of dir whose name contains needle ("" counts every entry). */
static int
count_files(const char *dir, const char *needle)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strstr(de->d_name, needle) != NULL)
			n++;
	}
	closedir(d);
	return n;
}

/* The permission bits of path. */
static unsigned
mode_of(const char *path)
{
	struct stat sb;

	assert_int_equal(lstat(path, &sb), 0);
	return sb.st_mode & 07777;
}

/* A state with n inputs and a few steps; tag makes its values differ from another's. */
static struct state *
make_state(const char *path, const char *tag, size_t n)
{
	struct state *st = state_new(path);
	struct state_step *s;
	char name[64], value[128], step[32];

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof name, "input_%05zu", i);
		snprintf(value, sizeof value, "%s value %zu: 0x%064zx", tag, i, i * 2654435761u);
		if (i % 3 == 0) {
			snprintf(step, sizeof step, "step-%zu", i % 27);
			state_set_input(st, name, value, SRC_CAPTURE, step, 1795000000 + (time_t)i);
		} else
			state_set_input(st, name, value, SRC_USER, NULL, 1795000000 + (time_t)i);
	}
	for (int i = 0; i < 27; i++) {
		snprintf(step, sizeof step, "step-%d", i);
		s = state_step(st, step);
		s->status = (enum saved_status)(i % 4);
		s->done_at = i % 4 == SAVED_DONE ? 1795000100 + i : 0;
		s->started_at = 1795000200 + i;
		s->finished_at = 1795000300 + i;
		s->duration_ms = 1000L * i + (long)strlen(tag);
		s->exit_code = i % 4 == SAVED_FAILED ? i : 0;
		s->message = i % 2 ? xprintf("%s message %d", tag, i) : NULL;
		s->log_path = xprintf("/var/log/%s/%d.log", tag, i);
	}
	return st;
}

/* Load path, expecting success without a notice. */
static struct state *
load_ok(const char *path)
{
	struct state *st = NULL;
	char *cause = NULL;
	int rc = state_load(path, &st, &cause);

	if (rc != 0)
		fail_msg("state_load %s: %s", path, cause);
	assert_non_null(st);
	if (st->notice != NULL)
		fail_msg("unexpected notice: %s", st->notice);
	return st;
}

/* Save, expecting success. */
static void
save_ok(const struct state *st)
{
	char *cause = NULL;

	if (state_save(st, &cause) != 0)
		fail_msg("state_save: %s", cause);
}

/* Every source and status has its documented name. */
static void
test_names(void **ctx)
{
	(void)ctx;
	assert_string_equal(value_source_name(SRC_NONE), "none");
	assert_string_equal(value_source_name(SRC_DEFAULT), "default");
	assert_string_equal(value_source_name(SRC_USER), "user");
	assert_string_equal(value_source_name(SRC_CAPTURE), "capture");
	assert_string_equal(value_source_name(SRC_ENV), "env");
	assert_string_equal(value_source_name(SRC_FILE), "file");
	assert_string_equal(value_source_name(SRC_PROMPT), "prompt");
	assert_string_equal(saved_status_name(SAVED_NONE), "none");
	assert_string_equal(saved_status_name(SAVED_DONE), "done");
	assert_string_equal(saved_status_name(SAVED_FAILED), "failed");
	assert_string_equal(saved_status_name(SAVED_STALE), "stale");
}

/* Inputs: set copies, replaces in place, keeps insertion order; unset keeps the rest in order. */
static void
test_inputs(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *st = state_new(f->path);
	const struct state_input *in;
	char name[16], value[16];

	assert_string_equal(st->path, f->path);
	assert_int_equal(st->schema, STATE_SCHEMA);
	assert_null(state_get_input(st, "a"));

	strcpy(name, "a");
	strcpy(value, "one");
	state_set_input(st, name, value, SRC_USER, "ignored-for-user", 100);
	state_set_input(st, "b", "two", SRC_CAPTURE, "deploy", 200);
	state_set_input(st, "c", "three", SRC_USER, NULL, 300);
	/* The state holds copies. */
	strcpy(name, "x");
	strcpy(value, "xxx");
	in = state_get_input(st, "a");
	assert_non_null(in);
	assert_string_equal(in->value, "one");
	assert_int_equal(in->source, SRC_USER);
	assert_null(in->from_step);
	assert_int_equal(in->at, 100);
	assert_null(state_get_input(st, "x"));
	in = state_get_input(st, "b");
	assert_string_equal(in->from_step, "deploy");
	assert_int_equal(in->source, SRC_CAPTURE);

	/* Replacing keeps the position; arguments may point into the input being replaced. */
	in = state_get_input(st, "a");
	state_set_input(st, in->name, in->value, SRC_CAPTURE, in->value, 400);
	assert_int_equal(st->ninputs, 3);
	assert_string_equal(st->inputs[0].name, "a");
	assert_string_equal(st->inputs[0].value, "one");
	assert_string_equal(st->inputs[0].from_step, "one");
	assert_int_equal(st->inputs[0].at, 400);
	state_set_input(st, "a", "uno", SRC_USER, NULL, 500);
	assert_string_equal(st->inputs[0].value, "uno");
	assert_null(st->inputs[0].from_step);
	assert_string_equal(st->inputs[1].name, "b");
	assert_string_equal(st->inputs[2].name, "c");

	state_unset_input(st, "b");
	state_unset_input(st, "nope");
	assert_int_equal(st->ninputs, 2);
	assert_string_equal(st->inputs[0].name, "a");
	assert_string_equal(st->inputs[1].name, "c");
	assert_null(state_get_input(st, "b"));
	state_set_input(st, "b", "again", SRC_USER, NULL, 600);
	assert_string_equal(st->inputs[2].name, "b");
	state_unset_input(st, st->inputs[0].name);
	assert_string_equal(st->inputs[0].name, "c");
	assert_int_equal(st->ninputs, 2);
	state_free(&st);
	assert_null(st);
	state_free(&st);
}

/* Secrets (and defaults) are never held, so never written, whatever the caller does. */
static void
test_secret_sources_not_stored(void **ctx)
{
	struct fixture *f = *ctx;
	static const enum value_source bad[] = { SRC_NONE, SRC_DEFAULT, SRC_ENV, SRC_FILE, SRC_PROMPT };
	struct state *st = state_new(f->path), *back;
	char *text;
	size_t len;

	state_set_input(st, "rpc_url", "https://rpc.example", SRC_USER, NULL, 10);
	for (size_t i = 0; i < nitems(bad); i++) {
		state_set_input(st, "private_key", "0xsecretsecret", bad[i], NULL, 20);
		state_set_input(st, "rpc_url", "0xsecretsecret", bad[i], NULL, 20);
	}
	assert_int_equal(st->ninputs, 1);
	assert_null(state_get_input(st, "private_key"));
	assert_string_equal(state_get_input(st, "rpc_url")->value, "https://rpc.example");

	/* Even one put in the array by hand is not written. */
	st->inputs = xreallocarray(st->inputs, 2, sizeof *st->inputs);
	st->inputs[1] = (struct state_input){ xstrdup("api_key"), xstrdup("0xsecretsecret"),
	    SRC_ENV, NULL, 30 };
	st->ninputs = 2;
	save_ok(st);
	text = slurp(f->path, &len);
	assert_non_null(text);
	assert_null(strstr(text, "secretsecret"));
	assert_null(strstr(text, "api_key"));
	assert_non_null(strstr(text, "rpc_url"));
	free(text);
	back = load_ok(f->path);
	assert_int_equal(back->ninputs, 1);
	assert_string_equal(back->inputs[0].name, "rpc_url");
	state_free(&back);
	state_free(&st);
}

/* Steps: get finds only existing ones, state_step creates an empty one at the end. */
static void
test_steps(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *st = state_new(f->path);
	struct state_step *s;

	assert_null(state_get_step(st, "a"));
	s = state_step(st, "a");
	assert_non_null(s);
	assert_string_equal(s->id, "a");
	assert_int_equal(s->status, SAVED_NONE);
	assert_int_equal(s->done_at, 0);
	assert_int_equal(s->duration_ms, 0);
	assert_null(s->message);
	assert_null(s->log_path);
	s->status = SAVED_DONE;
	s = state_step(st, "b");
	s->status = SAVED_FAILED;
	assert_int_equal(st->nsteps, 2);
	assert_ptr_equal(state_step(st, "a"), state_get_step(st, "a"));
	assert_int_equal(state_get_step(st, "a")->status, SAVED_DONE);
	assert_int_equal(state_get_step(st, "b")->status, SAVED_FAILED);
	assert_int_equal(st->nsteps, 2);
	assert_string_equal(st->steps[1].id, "b");
	state_free(&st);
}

/* Everything written is read back the same; zero times and NULL strings are left out. */
static void
test_round_trip(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *st = state_new(f->path), *back;
	struct state_step *s;
	char *text;
	size_t len;

	state_set_input(st, "domain", "kms.example.com", SRC_USER, NULL, 1795000000);
	state_set_input(st, "kms_contract_address", "0x5FbDB2315678afecb367f032d93F642f64180aa3",
	    SRC_CAPTURE, "contract-deployment", 1795000060);
	state_set_input(st, "odd \"name\"\\", "quote \" backslash \\ newline \n tab \t ctl \x01 "
	    "utf-8 \xc3\xa9\xe2\x82\xac \xf0\x9f\x94\x91", SRC_USER, NULL, 0);
	state_set_input(st, "empty", "", SRC_CAPTURE, NULL, 1);
	s = state_step(st, "kms-cvm-deployment");
	s->status = SAVED_FAILED;
	s->started_at = 1795000100;
	s->finished_at = 1795000200;
	s->duration_ms = 100123;
	s->exit_code = -9;
	s->message = xstrdup("Waiting for the system time to be synchronized\n(twice)");
	s->log_path = xstrdup("/home/op/.local/state/dstack-wizard/p/logs/kms.log");
	s = state_step(st, "never");
	s = state_step(st, "stale-one");
	s->status = SAVED_STALE;
	s->done_at = 1795000300;
	s->duration_ms = 9007199254740992L;
	s->exit_code = 255;
	s = state_step(st, "ok");
	s->status = SAVED_DONE;
	s->done_at = -86400;	/* before 1970: still written, still read */
	s->exit_code = INT_MIN;

	save_ok(st);
	back = load_ok(f->path);
	assert_string_equal(back->path, f->path);
	assert_true(state_equal(st, back));
	assert_string_equal(back->inputs[2].name, "odd \"name\"\\");
	assert_int_equal(back->steps[2].duration_ms, 9007199254740992L);
	assert_int_equal(back->steps[3].done_at, -86400);

	/* The file is the documented JSON: times in ISO 8601 UTC, nothing for zeros and NULLs. */
	text = slurp(f->path, &len);
	assert_non_null(strstr(text, "\"schema\":\t1"));
	assert_non_null(strstr(text, "\"at\":\t\"2026-11-18T11:06:40Z\""));
	assert_non_null(strstr(text, "\"source\":\t\"capture\""));
	assert_non_null(strstr(text, "\"from_step\":\t\"contract-deployment\""));
	assert_non_null(strstr(text, "\"log\":\t\"/home/op/"));
	assert_non_null(strstr(text, "\"done_at\":\t\"1969-12-31T00:00:00Z\""));
	assert_non_null(strstr(text, "\"exit_code\":\t-2147483648"));
	{
		/* "never" has no times and no strings at all. */
		const char *p = strstr(text, "\"never\"");
		const char *q = strstr(text, "\"stale-one\"");

		assert_non_null(p);
		assert_non_null(q);
		assert_true(p < q);
		for (const char *k = p; k < q; k++) {
			assert_false(strncmp(k, "_at\"", 4) == 0);
			assert_false(strncmp(k, "\"message\"", 9) == 0);
			assert_false(strncmp(k, "\"log\"", 5) == 0);
		}
	}
	/* The input without a time has no "at". */
	assert_int_equal(back->inputs[2].at, 0);
	free(text);

	/* Durations are written within what a JSON number holds exactly (and never negative). */
	{
		struct state *big;

		state_step(back, "ok")->duration_ms = LONG_MAX;
		state_step(back, "never")->duration_ms = -5;
		save_ok(back);
		big = load_ok(f->path);
		assert_int_equal(state_get_step(big, "ok")->duration_ms, 9007199254740992L);
		assert_int_equal(state_get_step(big, "never")->duration_ms, 0);
		state_step(back, "ok")->duration_ms = 0;
		state_step(back, "never")->duration_ms = 0;
		save_ok(back);
		state_free(&big);
	}

	/* Saving what was loaded gives the same bytes. */
	{
		char *before = slurp(f->path, &len), *after;
		size_t len2;

		save_ok(back);
		after = slurp(f->path, &len2);
		assert_int_equal(len, len2);
		assert_memory_equal(before, after, len);
		free(before);
		free(after);
	}
	state_free(&back);
	state_free(&st);
}

static void expect_moved_aside(const struct fixture *f, const char *text, size_t len,
    const char *why);

/*
 * Why a step is stale, the values its action ran with, and a canceled run are read back the
 * same; a cause is kept once per step or input (the first, with the value the step was done
 * with); a cause that names neither, or both, is not valid.
 */
static void
test_causes_and_made(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *st = state_new(f->path), *back;
	struct state_step *s, *b;
	static const char both[] = "{ \"schema\": 1, \"steps\": { \"a\": { \"status\": "
	    "\"stale\", \"stale_by\": [ { \"step\": \"x\", \"input\": \"y\" } ] } } }";
	static const char made[] = "{ \"schema\": 1, \"steps\": { \"a\": { \"status\": "
	    "\"done\", \"made_from\": { \"d\": 1 } } } }";

	s = state_step(st, "gw");
	s->status = SAVED_STALE;
	state_add_cause(s, "kms", NULL, NULL, "kms re-ran");
	state_add_cause(s, NULL, "base_domain", "old.example", "input base_domain changed");
	state_add_cause(s, NULL, "base_domain", "newer.example", "input base_domain changed");
	state_add_cause(s, NULL, "unset_before", NULL, NULL);
	assert_int_equal(s->ncauses, 3);
	assert_string_equal(s->causes[1].was, "old.example");
	state_add_made(s, "base_domain", "old.example");
	state_add_made(s, "rpc \"domain\"", "a\nb");
	s = state_step(st, "slow");
	s->status = SAVED_CANCELED;
	save_ok(st);
	back = load_ok(f->path);
	b = state_get_step(back, "gw");
	assert_non_null(b);
	assert_int_equal(b->ncauses, 3);
	assert_string_equal(b->causes[0].step, "kms");
	assert_null(b->causes[0].input);
	assert_string_equal(b->causes[1].input, "base_domain");
	assert_string_equal(b->causes[1].was, "old.example");
	assert_string_equal(b->causes[1].why, "input base_domain changed");
	assert_null(b->causes[2].was);
	assert_null(b->causes[2].why);
	assert_int_equal(b->nmade, 2);
	assert_string_equal(b->made[1].name, "rpc \"domain\"");
	assert_string_equal(b->made[1].value, "a\nb");
	assert_int_equal(state_get_step(back, "slow")->status, SAVED_CANCELED);
	assert_string_equal(saved_status_name(SAVED_CANCELED), "canceled");
	state_remove_cause(b, 0);
	assert_string_equal(b->causes[0].input, "base_domain");
	state_clear_causes(b);
	state_clear_made(b);
	assert_int_equal(b->ncauses + b->nmade, 0);
	state_free(&back);
	state_free(&st);
	expect_moved_aside(f, both, sizeof both - 1, "a cause in \"stale_by\"");
	expect_moved_aside(f, made, sizeof made - 1, "a value in \"made_from\" is not a string");
}

/* A missing file is an empty state with its path; loading does not create the file. */
static void
test_missing_file(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *st = load_ok(f->path);

	assert_string_equal(st->path, f->path);
	assert_int_equal(st->schema, STATE_SCHEMA);
	assert_int_equal(st->ninputs, 0);
	assert_int_equal(st->nsteps, 0);
	assert_int_equal(count_files(f->dir, ""), 0);
	state_free(&st);
}

/* Unknown keys are ignored, at every level; optional fields may be missing. */
static void
test_unknown_keys(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *st;
	const char *text =
	    "{\"schema\": 1, \"future\": [1, 2, {\"x\": null}],\n"
	    " \"inputs\": {\"a\": {\"value\": \"v\", \"source\": \"user\", \"hint\": true},\n"
	    "             \"b\": {\"value\": \"w\", \"source\": \"capture\"}},\n"
	    " \"steps\": {\"s\": {\"status\": \"done\", \"retries\": 3, \"done_at\": "
	    "\"2026-11-24T10:02:00Z\"}},\n"
	    " \"more\": \"stuff\"}\n";

	spit(f->path, text, strlen(text));
	st = load_ok(f->path);
	assert_int_equal(st->ninputs, 2);
	assert_string_equal(st->inputs[0].value, "v");
	assert_int_equal(st->inputs[0].at, 0);
	assert_int_equal(st->inputs[1].source, SRC_CAPTURE);
	assert_null(st->inputs[1].from_step);
	assert_int_equal(st->nsteps, 1);
	assert_int_equal(st->steps[0].status, SAVED_DONE);
	assert_int_equal(st->steps[0].done_at, 1795514520);
	assert_int_equal(st->steps[0].duration_ms, 0);
	assert_null(st->steps[0].message);
	/* The file was not touched. */
	assert_int_equal(count_files(f->dir, ""), 1);
	state_free(&st);
}

/* A step's history: the last STATE_MAX_ATTEMPTS runs, with their hints, round-trip. */
static void
test_attempts(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *st = state_new(f->path), *back;
	struct state_step *s = state_step(st, "contract-deploy");
	struct state_hint hints[2] = { { (char *)"npm cannot write", (char *)"npm config set "
	    "prefix ~/.npm-global" }, { (char *)"the RPC refused | twice", NULL } };
	char *text;
	size_t len;

	for (int i = 0; i < STATE_MAX_ATTEMPTS + 5; i++) {
		struct state_attempt a = {0};
		char kind[16], msg[32];

		snprintf(kind, sizeof kind, "%s", i % 2 ? "check" : "action");
		snprintf(msg, sizeof msg, "run %d", i);
		a.kind = kind;
		a.outcome = (char *)(i % 3 ? "done" : "failed");
		a.started_at = 1795000000 + i;
		a.duration_ms = 1000L * i;
		a.where = (char *)"ubuntu@tdx:22 and this machine";
		a.exit_code = i % 3 ? 0 : 1;
		a.message = msg;
		a.hints = hints;
		a.nhints = (size_t)(i % 3);
		a.log_path = i % 2 ? (char *)"/logs/x.log" : NULL;
		state_add_attempt(s, &a);
	}
	assert_int_equal(s->nattempts, STATE_MAX_ATTEMPTS);
	assert_string_equal(s->attempts[0].message, "run 5");
	save_ok(st);
	back = load_ok(f->path);
	assert_int_equal(back->steps[0].nattempts, STATE_MAX_ATTEMPTS);
	for (size_t i = 0; i < STATE_MAX_ATTEMPTS; i++) {
		const struct state_attempt *a = &st->steps[0].attempts[i], *b = &back->steps[0].attempts[i];

		assert_string_equal(a->kind, b->kind);
		assert_string_equal(a->outcome, b->outcome);
		assert_string_equal(a->where, b->where);
		assert_string_equal(a->message, b->message);
		assert_int_equal(a->started_at, b->started_at);
		assert_int_equal(a->duration_ms, b->duration_ms);
		assert_int_equal(a->exit_code, b->exit_code);
		assert_int_equal(a->nhints, b->nhints);
		for (size_t k = 0; k < a->nhints; k++) {
			assert_string_equal(a->hints[k].say, b->hints[k].say);
			if (a->hints[k].fix == NULL)
				assert_null(b->hints[k].fix);
			else
				assert_string_equal(a->hints[k].fix, b->hints[k].fix);
		}
		if (a->log_path == NULL)
			assert_null(b->log_path);
		else
			assert_string_equal(a->log_path, b->log_path);
	}
	state_free(&back);
	state_free(&st);

	/* A longer list read keeps its last ones. */
	text = xstrdup("{\"schema\": 1, \"steps\": {\"s\": {\"status\": \"failed\", \"attempts\": [");
	for (int i = 0; i < STATE_MAX_ATTEMPTS + 2; i++) {
		char *t = xprintf("%s%s{\"kind\": \"check\", \"outcome\": \"failed\", "
		    "\"exit_code\": %d}", text, i ? ", " : "", i);

		free(text);
		text = t;
	}
	len = strlen(text);
	text = xrealloc(text, len + 8);
	strcpy(text + len, "]}}}\n");
	spit(f->path, text, strlen(text));
	back = load_ok(f->path);
	assert_int_equal(back->steps[0].nattempts, STATE_MAX_ATTEMPTS);
	assert_int_equal(back->steps[0].attempts[0].exit_code, 2);
	assert_int_equal(back->steps[0].attempts[STATE_MAX_ATTEMPTS - 1].exit_code,
	    STATE_MAX_ATTEMPTS + 1);
	state_free(&back);
	free(text);
}

/* Load a bad file: expect it moved aside intact, an empty state and a notice with why. */
static void
expect_moved_aside(const struct fixture *f, const char *text, size_t len, const char *why)
{
	struct state *st = NULL;
	char *cause = NULL, *moved, *content, *expect;
	size_t mlen;
	int before = count_files(f->dir, ".corrupt-");

	spit(f->path, text, len);
	if (state_load(f->path, &st, &cause) != 0)
		fail_msg("state_load: %s", cause);
	assert_non_null(st);
	assert_non_null(st->notice);
	assert_string_equal(st->path, f->path);
	assert_int_equal(st->ninputs, 0);
	assert_int_equal(st->nsteps, 0);
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(count_files(f->dir, ".corrupt-"), before + 1);

	/* "state file P was not valid (WHY); moved it to NEW and started afresh" */
	expect = xprintf("state file %s was not valid (", f->path);
	if (!str_has_prefix(st->notice, expect) || strstr(st->notice, why) == NULL)
		fail_msg("notice \"%s\" does not say \"%s\"", st->notice, why);
	free(expect);
	moved = strstr(st->notice, "; moved it to ");
	assert_non_null(moved);
	moved = xstrdup(moved + strlen("; moved it to "));
	assert_true(str_has_suffix(moved, " and started afresh"));
	moved[strlen(moved) - strlen(" and started afresh")] = '\0';
	expect = xprintf("%s.corrupt-", f->path);
	assert_true(str_has_prefix(moved, expect));
	free(expect);

	/* The old file is there, byte for byte. */
	content = slurp(moved, &mlen);
	assert_non_null(content);
	assert_int_equal(mlen, len);
	assert_memory_equal(content, text, len);
	free(content);
	free(moved);

	/* And the state can be saved afresh. */
	save_ok(st);
	state_free(&st);
	unlink(f->path);
}

/* A manual step's ticked checklist items keep their times through a save and a load; an
 * untick removes one; a bad entry makes the file not valid. */
static void
test_checklist(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *st = state_new(f->path), *back;
	struct state_step *s = state_step(st, "tdx-bios-configuration");
	static const char bad[] = "{\"schema\":1,\"steps\":{\"x\":{\"status\":\"none\","
	    "\"checklist\":[{\"item\":\"TDX on\"}]}}}";
	static const char twice[] = "{\"schema\":1,\"steps\":{\"x\":{\"status\":\"none\","
	    "\"checklist\":[{\"item\":\"a\",\"at\":\"2026-12-06T10:00:00Z\"},{\"item\":\"a\","
	    "\"at\":\"2026-12-06T10:00:01Z\"}]}}}";

	state_tick(s, "SGX: enabled", 1795000000);
	state_tick(s, "TDX: enabled", 1795000060);
	state_tick(s, "Save and power-cycle", 1795000120);
	state_tick(s, "TDX: enabled", 0);
	state_tick(s, "never ticked", 0);
	state_tick(s, "SGX: enabled", 1795000180);
	assert_int_equal(s->nticks, 2);
	save_ok(st);
	back = load_ok(f->path);
	assert_int_equal(back->steps[0].nticks, 2);
	assert_string_equal(back->steps[0].ticks[0].item, "SGX: enabled");
	assert_int_equal(state_ticked(&back->steps[0], "SGX: enabled"), 1795000180);
	assert_int_equal(state_ticked(&back->steps[0], "Save and power-cycle"), 1795000120);
	assert_int_equal(state_ticked(&back->steps[0], "TDX: enabled"), 0);
	state_free(&back);
	state_free(&st);
	unlink(f->path);
	expect_moved_aside(f, bad, strlen(bad), "checklist");
	expect_moved_aside(f, twice, strlen(twice), "twice");
}

/* Invalid JSON and wrong types are moved aside with a notice, never dropped. */
static void
test_corrupt(void **ctx)
{
	struct fixture *f = *ctx;
	static const struct {
		const char *text;
		const char *why;
	} cases[] = {
		{ "", "empty" },
		{ "{\"schema\": 1, \"inputs\": {", "invalid JSON, at byte" },
		{ "{\"schema\": 1} {\"schema\": 1}", "after the JSON value, at byte 14" },
		{ "[1, 2]", "not a JSON object" },
		{ "{\"inputs\": {}}", "\"schema\" is missing" },
		{ "{\"schema\": \"1\"}", "\"schema\" is not a positive integer" },
		{ "{\"schema\": 0}", "\"schema\" is not a positive integer" },
		{ "{\"schema\": 1.5}", "\"schema\" is not a positive integer" },
		{ "{\"schema\": 1, \"inputs\": []}", "\"inputs\" is not a JSON object" },
		{ "{\"schema\": 1, \"steps\": \"x\"}", "\"steps\" is not a JSON object" },
		{ "{\"schema\": 1, \"inputs\": {\"a\": \"v\"}}", "input \"a\": not an object" },
		{ "{\"schema\": 1, \"inputs\": {\"a\": {\"value\": 5, \"source\": \"user\"}}}",
		  "input \"a\": \"value\" is missing" },
		{ "{\"schema\": 1, \"inputs\": {\"a\": {\"source\": \"user\"}}}",
		  "input \"a\": \"value\" is missing" },
		{ "{\"schema\": 1, \"inputs\": {\"k\": {\"value\": \"v\", \"source\": \"env\"}}}",
		  "input \"k\": \"source\" is not" },
		{ "{\"schema\": 1, \"inputs\": {\"k\": {\"value\": \"v\"}}}",
		  "input \"k\": \"source\" is missing" },
		{ "{\"schema\": 1, \"inputs\": {\"a\": {\"value\": \"v\", \"source\": \"user\", "
		  "\"at\": \"yesterday\"}}}", "input \"a\": \"at\" is not an ISO 8601" },
		{ "{\"schema\": 1, \"inputs\": {\"a\": {\"value\": \"v\", \"source\": \"user\", "
		  "\"at\": \"2026-11-24T10:02:00+01:00\"}}}", "\"at\" is not an ISO 8601" },
		{ "{\"schema\": 1, \"inputs\": {\"a\": {\"value\": \"v\", \"source\": \"capture\", "
		  "\"from_step\": 3}}}", "\"from_step\" is not a string" },
		{ "{\"schema\": 1, \"inputs\": {\"\": {\"value\": \"v\", \"source\": \"user\"}}}",
		  "empty name" },
		{ "{\"schema\": 1, \"inputs\": {\"a\": {\"value\": \"v\", \"source\": \"user\"}, "
		  "\"a\": {\"value\": \"w\", \"source\": \"user\"}}}", "input \"a\": appears twice" },
		{ "{\"schema\": 1, \"steps\": {\"s\": {\"status\": \"running\"}}}",
		  "step \"s\": \"status\" is not" },
		{ "{\"schema\": 1, \"steps\": {\"s\": {}}}", "step \"s\": \"status\" is missing" },
		{ "{\"schema\": 1, \"steps\": {\"s\": {\"status\": \"done\", \"attempts\": 3}}}",
		  "step \"s\": \"attempts\" is not a list" },
		{ "{\"schema\": 1, \"steps\": {\"s\": {\"status\": \"done\", \"attempts\": "
		  "[{\"outcome\": \"done\"}]}}}", "an attempt's \"kind\" is missing" },
		{ "{\"schema\": 1, \"steps\": {\"s\": {\"status\": \"done\", \"attempts\": "
		  "[{\"kind\": \"check\", \"outcome\": \"done\", \"hints\": [\"x\"]}]}}}",
		  "a hint of an attempt is not" },
		{ "{\"schema\": 1, \"steps\": {\"s\": {\"status\": \"done\", \"duration_ms\": -1}}}",
		  "\"duration_ms\" is not" },
		{ "{\"schema\": 1, \"steps\": {\"s\": {\"status\": \"done\", \"duration_ms\": 1e300}}}",
		  "\"duration_ms\" is not" },
		{ "{\"schema\": 1, \"steps\": {\"s\": {\"status\": \"done\", \"exit_code\": 1.5}}}",
		  "\"exit_code\" is not an integer" },
		{ "{\"schema\": 1, \"steps\": {\"s\": {\"status\": \"done\", \"exit_code\": 3e9}}}",
		  "\"exit_code\" is not an integer" },
		{ "{\"schema\": 1, \"steps\": {\"s\": {\"status\": \"done\", \"started_at\": 5}}}",
		  "\"started_at\" is not an ISO 8601" },
		{ "{\"schema\": 1, \"steps\": {\"s\": {\"status\": \"done\", \"message\": {}}}}",
		  "\"message\" is not a string" },
		{ "{\"schema\": 1, \"steps\": {\"s\": {\"status\": \"done\", \"log\": [\"x\"]}}}",
		  "\"log\" is not a string" },
		{ "{\"schema\": 1, \"steps\": {\"s\": {\"status\": \"done\"}, "
		  "\"s\": {\"status\": \"done\"}}}", "step \"s\": appears twice" },
		/* Names from the file are shown printable only. */
		{ "{\"schema\": 1, \"steps\": {\"\\u001b[2J\": 1}}", "step \"?[2J\": not an object" },
	};

	for (size_t i = 0; i < nitems(cases); i++)
		expect_moved_aside(f, cases[i].text, strlen(cases[i].text), cases[i].why);
	/* Bytes that are not text at all, with a NUL inside. */
	expect_moved_aside(f, "{\"schema\"\0: 1}\xff", 15, "a NUL byte, at byte 9");
	expect_moved_aside(f, "\0\0\0\0\0\0\0\0", 8, "a NUL byte, at byte 0");
	/* UTF-16 (a UTF-8 byte order mark is fine: cJSON skips it). */
	expect_moved_aside(f, "\xff\xfe{\0\"\0", 6, "a NUL byte, at byte 3");
	expect_moved_aside(f, "\xff\xfe{}", 4, "invalid JSON, at byte 0");
	/* A NUL escaped in a string: cJSON would cut "a\u0000b" to "a". */
	expect_moved_aside(f, "{\"schema\": 1, \"inputs\": {\"x\": {\"value\": \"a\\u0000b\"}}}",
	    53, "a NUL character (\\u0000), at byte 42");
}

/* An escaped backslash before "u0000" is text, not a NUL. */
static void
test_backslash_u0000_is_text(void **ctx)
{
	struct fixture *f = *ctx;
	const char *text = "{\"schema\": 1, \"inputs\": {\"x\": {\"value\": \"a\\\\u0000b\", "
	    "\"source\": \"user\"}}}";
	const struct state_input *in;

	struct state *st;

	spit(f->path, text, strlen(text));
	st = load_ok(f->path);
	in = state_get_input(st, "x");
	assert_non_null(in);
	assert_string_equal(in->value, "a\\u0000b");
	state_free(&st);
}

/* The byte offset of a JSON error points at the offending byte. */
static void
test_corrupt_offset(void **ctx)
{
	struct fixture *f = *ctx;
	const char *text = "{\"schema\": 1,\n \"inputs\": {\"a\": tru}}";
	char *why = xprintf("invalid JSON, at byte %zu)", (size_t)(strstr(text, "tru") - text));

	expect_moved_aside(f, text, strlen(text), why);
	free(why);
}

/* Two bad files in the same second get two names; both are kept. */
static void
test_corrupt_twice(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *st;
	char *cause = NULL, *a, *b;
	size_t len;

	for (int i = 0; i < 3; i++) {
		char text[32];

		snprintf(text, sizeof text, "not json %d", i);
		spit(f->path, text, strlen(text));
		assert_int_equal(state_load(f->path, &st, &cause), 0);
		assert_non_null(st->notice);
		state_free(&st);
	}
	assert_int_equal(count_files(f->dir, ".corrupt-"), 3);
	/* Each kept its own content. */
	for (int i = 0; i < 3; i++) {
		char needle[32];
		bool found = false;
		struct dirent *de;
		DIR *d = opendir(f->dir);

		snprintf(needle, sizeof needle, "not json %d", i);
		while ((de = readdir(d)) != NULL) {
			if (strstr(de->d_name, ".corrupt-") == NULL)
				continue;
			a = xprintf("%s/%s", f->dir, de->d_name);
			b = slurp(a, &len);
			if (b != NULL && strcmp(b, needle) == 0)
				found = true;
			free(a);
			free(b);
		}
		closedir(d);
		assert_true(found);
	}
}

/* A file over STATE_MAX_SIZE is moved aside without being parsed. */
static void
test_too_large(void **ctx)
{
	struct fixture *f = *ctx;
	size_t len = STATE_MAX_SIZE + 1;
	char *text = xmalloc(len);

	memset(text, ' ', len);
	memcpy(text, "{\"schema\": 1}", 13);
	expect_moved_aside(f, text, len, "larger than 16 MiB");
	free(text);
}

/* A newer schema is refused and the file is left exactly as it was. */
static void
test_newer_schema(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *st = (struct state *)1;
	const char *text = "{\"schema\": 2, \"inputs\": {\"a\": {\"new\": \"format\"}}}\n";
	char *cause = NULL, *after;
	size_t len;

	spit(f->path, text, strlen(text));
	assert_int_equal(state_load(f->path, &st, &cause), -1);
	assert_null(st);
	assert_non_null(cause);
	if (strstr(cause, "is from a newer dstack-wizard (schema 2)") == NULL ||
	    strstr(cause, f->path) == NULL)
		fail_msg("cause: %s", cause);
	free(cause);
	after = slurp(f->path, &len);
	assert_non_null(after);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(after, text, len);
	assert_int_equal(count_files(f->dir, ""), 1);
	free(after);
}

/* The file is 0600 whatever the umask; the state directory is 0700. */
static void
test_permissions(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *st = make_state(f->path, "p", 3);
	mode_t old = umask(022);
	char *xdg = xprintf("%s/xdg", f->dir), *dir = NULL, *cause = NULL;
	const char *oldxdg = getenv("XDG_STATE_HOME");
	char *savexdg = oldxdg ? xstrdup(oldxdg) : NULL;

	save_ok(st);
	assert_int_equal(mode_of(f->path), 0600);
	/* An existing looser file is replaced by a 0600 one. */
	assert_int_equal(chmod(f->path, 0644), 0);
	save_ok(st);
	assert_int_equal(mode_of(f->path), 0600);
	/* An umask that would take the owner's write bit still gives 0600. */
	umask(0277);
	save_ok(st);
	assert_int_equal(mode_of(f->path), 0600);
	umask(022);

	setenv("XDG_STATE_HOME", xdg, 1);
	assert_int_equal(state_dir("perm", &dir, &cause), 0);
	assert_int_equal(mode_of(dir), 0700);
	/* A directory made looser is made private again. */
	assert_int_equal(chmod(dir, 0755), 0);
	free(dir);
	assert_int_equal(state_dir("perm", &dir, &cause), 0);
	assert_int_equal(mode_of(dir), 0700);
	free(dir);
	/* Made under an odd umask, still 0700. */
	umask(0277);
	assert_int_equal(state_dir("odd", &dir, &cause), 0);
	umask(022);
	assert_int_equal(mode_of(dir), 0700);
	free(dir);

	if (savexdg)
		setenv("XDG_STATE_HOME", savexdg, 1);
	else
		unsetenv("XDG_STATE_HOME");
	free(savexdg);
	umask(old);
	free(xdg);
	state_free(&st);
}

/* Saving leaves no temp file, also when it fails; unreadable paths fail to load. */
static void
test_no_temp_left(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *st = make_state(f->path, "t", 50), *bad;
	char *cause = NULL, *p;

	for (int i = 0; i < 5; i++)
		save_ok(st);
	assert_int_equal(count_files(f->dir, ""), 1);
	assert_int_equal(count_files(f->dir, ".tmp-"), 0);

	/* The directory does not exist. */
	p = xprintf("%s/missing/state.json", f->dir);
	bad = state_new(p);
	assert_int_equal(state_save(bad, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, p));
	freep(&cause);
	state_free(&bad);
	free(p);

	/* The path is a directory: the rename fails and the temp file is removed. */
	p = xprintf("%s/sub", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	bad = make_state(p, "t", 5);
	assert_int_equal(state_save(bad, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "rename"));
	freep(&cause);
	assert_int_equal(count_files(f->dir, ".tmp-"), 0);
	state_free(&bad);

	/* And loading a directory is an error, not a corrupt file. */
	assert_int_equal(state_load(p, &bad, &cause), -1);
	assert_null(bad);
	assert_non_null(cause);
	freep(&cause);
	assert_int_equal(count_files(f->dir, ".corrupt-"), 0);
	free(p);

	/* No path at all. */
	bad = state_new(NULL);
	assert_int_equal(state_save(bad, &cause), -1);
	freep(&cause);
	state_free(&bad);
	state_free(&st);
}

/* The pid of a process that has exited and been reaped (true(1), so valgrind has no child). */
static pid_t
dead_pid(void)
{
	char *argv[] = { (char *)"true", NULL };
	pid_t pid;

	assert_int_equal(posix_spawnp(&pid, "true", NULL, NULL, argv, environ), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

/* Make a file with the given mtime age in seconds; returns its path. */
static char *
touch(const char *dir, const char *name, time_t age)
{
	char *p = tl_write(dir, name, "partial");
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	return p;
}

/* Temp files of writers that are gone are removed by the next load or save; others are kept. */
static void
test_stale_temps(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *st = make_state(f->path, "s", 4);
	char name[64], *dead, *mine, *live, *other1, *other2, *other3;

	save_ok(st);
	snprintf(name, sizeof name, "state.json.tmp-%d", (int)dead_pid());
	dead = touch(f->dir, name, 0);
	snprintf(name, sizeof name, "state.json.tmp-%d", (int)getpid());
	mine = touch(f->dir, name, 0);
	snprintf(name, sizeof name, "state.json.tmp-%d", (int)getppid());
	live = touch(f->dir, name, 0);
	other1 = touch(f->dir, "state.json.tmp-12x", 7200);
	other2 = touch(f->dir, "other.json.tmp-1", 7200);
	other3 = touch(f->dir, "state.json.tmp-", 7200);

	state_free(&st);
	st = load_ok(f->path);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(mine, F_OK), -1);
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(access(other1, F_OK), 0);
	assert_int_equal(access(other2, F_OK), 0);
	assert_int_equal(access(other3, F_OK), 0);

	/* A live pid's temp file that is over an hour old has no writer either: save removes it. */
	free(live);
	live = touch(f->dir, name, 7200);
	free(dead);
	snprintf(name, sizeof name, "state.json.tmp-%d", (int)dead_pid());
	dead = touch(f->dir, name, 0);
	save_ok(st);
	assert_int_equal(access(live, F_OK), -1);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(other1, F_OK), 0);
	assert_int_equal(count_files(f->dir, ".tmp-"), 3);

	free(dead);
	free(mine);
	free(live);
	free(other1);
	free(other2);
	free(other3);
	state_free(&st);
}

/* Set or unset an environment variable. */
static void
set_env(const char *name, const char *value)
{
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

/* The state directory comes from an absolute $XDG_STATE_HOME, else $HOME/.local/state. */
static void
test_state_dir(void **ctx)
{
	struct fixture *f = *ctx;
	char *oldxdg = xstrdup(getenv("XDG_STATE_HOME")), *oldhome = xstrdup(getenv("HOME"));
	char *home = xprintf("%s/home", f->dir), *xdg = xprintf("%s/xdg", f->dir);
	char *dir = NULL, *cause = NULL, *expect;
	struct stat sb;
	static const char *bad[] = {
		"", ".hidden", ".", "..", "a/b", "../x", "a b", "a\tb", "caf\xc3\xa9", "x\n", "a:b",
		"0123456789012345678901234567890123456789012345678901234567890123x",
	};
	static const char *good[] = {
		"default", "a", "kms.prod_2-eu", "A9",
		"0123456789012345678901234567890123456789012345678901234567890123",
	};

	assert_int_equal(mkdir(home, 0755), 0);
	setenv("HOME", home, 1);

	setenv("XDG_STATE_HOME", xdg, 1);
	assert_int_equal(state_dir("p1", &dir, &cause), 0);
	expect = xprintf("%s/dstack-wizard/p1", xdg);
	assert_string_equal(dir, expect);
	assert_int_equal(stat(dir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	free(dir);
	/* A trailing slash does not double. */
	dir = xprintf("%s/", xdg);
	setenv("XDG_STATE_HOME", dir, 1);
	free(dir);
	assert_int_equal(state_dir("p1", &dir, &cause), 0);
	assert_string_equal(dir, expect);
	free(expect);
	free(dir);

	/* Relative, empty or unset: ignored. */
	expect = xprintf("%s/.local/state/dstack-wizard/p2", home);
	setenv("XDG_STATE_HOME", "relative/dir", 1);
	assert_int_equal(state_dir("p2", &dir, &cause), 0);
	assert_string_equal(dir, expect);
	assert_int_equal(access(dir, F_OK), 0);
	free(dir);
	setenv("XDG_STATE_HOME", "", 1);
	assert_int_equal(state_dir("p2", &dir, &cause), 0);
	assert_string_equal(dir, expect);
	free(dir);
	unsetenv("XDG_STATE_HOME");
	assert_int_equal(state_dir("p2", &dir, &cause), 0);
	assert_string_equal(dir, expect);
	free(dir);
	free(expect);
	assert_int_equal(access("relative", F_OK), -1);

	for (size_t i = 0; i < nitems(good); i++) {
		if (state_dir(good[i], &dir, &cause) != 0)
			fail_msg("profile \"%s\": %s", good[i], cause);
		free(dir);
	}
	for (size_t i = 0; i < nitems(bad); i++) {
		dir = NULL;
		if (state_dir(bad[i], &dir, &cause) != -1)
			fail_msg("profile \"%s\" was accepted", bad[i]);
		assert_null(dir);
		assert_non_null(cause);
		assert_non_null(strstr(cause, "profile"));
		freep(&cause);
	}
	assert_int_equal(state_dir(NULL, &dir, &cause), -1);
	freep(&cause);
	/* Nothing was made for the bad names. */
	expect = xprintf("%s/.local/state/dstack-wizard", home);
	assert_int_equal(count_files(expect, ""), 1 + nitems(good));
	free(expect);

	/* A file in the way is an error. */
	expect = xprintf("%s/.local/state/dstack-wizard/blocked", home);
	spit(expect, "x", 1);
	assert_int_equal(state_dir("blocked", &dir, &cause), -1);
	assert_non_null(cause);
	freep(&cause);
	free(expect);

	set_env("XDG_STATE_HOME", oldxdg);
	set_env("HOME", oldhome);
	free(oldxdg);
	free(oldhome);
	free(home);
	free(xdg);
}

/* A small fixed-seed generator, so the crash test is the same every run. */
static uint32_t
rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * 200 kills of a writer of 1,000 inputs (a 170 KB file; a save takes about a millisecond
 * here, most of it building the JSON). Sanitizers and valgrind make a save, and fork and exit,
 * many times slower, so there the states are smaller, to keep the test well under 20 s even on a loaded machine;
 * the number of kills stays.
 */
#define CRASH_KILLS 200
#if defined(__SANITIZE_ADDRESS__)
#define CRASH_INPUTS 200
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRASH_INPUTS 200
#endif
#endif
#if !defined(CRASH_INPUTS) && defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CRASH_INPUTS (RUNNING_ON_VALGRIND ? 100 : 1000)
#endif
#endif
#ifndef CRASH_INPUTS
#define CRASH_INPUTS 1000
#endif

/* How long one save of st takes here, in microseconds (the best of three). */
static uint64_t
save_time_us(const struct state *st)
{
	uint64_t best = UINT64_MAX;
	struct timespec t0, t1;

	for (int i = 0; i < 3; i++) {
		uint64_t us;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		save_ok(st);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		us = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
		    (uint64_t)(t1.tv_nsec - t0.tv_nsec) / 1000;
		if (us < best)
			best = us;
	}
	return best;
}

/* The two states of the crash test: A, and B with other values and fewer inputs. */
static struct state *
crash_state(const char *path, int which, size_t n)
{
	return which == 'A' ? make_state(path, "AAAA", n) : make_state(path, "B", n - 7);
}

/*
 * The crash test's writer, a child: save first, say so on fd, then save second and first in
 * turn until killed.
 */
static void DW_NORETURN
crash_writer(const struct state *first, const struct state *second, int fd)
{
	if (state_save(first, NULL) != 0 || write(fd, "", 1) != 1)
		_exit(2);
	for (;;) {
		if (state_save(second, NULL) != 0 || state_save(first, NULL) != 0)
			_exit(2);
	}
}

/* The fixture on tmpfs (/dev/shm) where there is one. */
static int
setup_shm(void **ctx)
{
	char t[] = "/dev/shm/dw-test-XXXXXX";
	struct fixture *f;

	if (access("/dev/shm", W_OK) != 0 || mkdtemp(t) == NULL)
		return setup(ctx);
	f = calloc(1, sizeof *f);
	f->dir = strdup(t);
	if (asprintf(&f->path, "%s/state.json", f->dir) < 0)
		abort();
	*ctx = f;
	return 0;
}

/*
 * A writer that saves two large states in turn is SIGKILLed at random moments, 200 times.
 * Every time, the file must load without a notice and be exactly one of the two, and the
 * temp file that a kill leaves behind must be gone after that load.
 *
 * The random delay (0-3 ms, fixed seed) starts when the writer says it has finished its first
 * save: each round then changes the file at least once and the kill lands somewhere in the
 * saves that follow. Where one save takes longer than a millisecond (a sanitizer, a loaded
 * machine), the window is three saves long instead, so that kills still land anywhere in them.
 * Building the JSON takes most of a save and the temp file exists only while it is written, so
 * every fourth kill is aimed instead: it comes as soon as the writer's temp file appears.
 *
 * A SIGKILL leaves the page cache alone, so what this tests does not depend on fsync; on tmpfs
 * a save is not a disk flush, so the test stays quick.
 */
static void
test_crash(void **ctx)
{
	struct fixture *f = *ctx;
	struct state *a, *b, *got;
	uint32_t seed = 20261124;
	int seen_a = 0, seen_b = 0, again = 0, leftovers = 0, status, fds[2];
	bool on_disk_is_a = true;
	uint64_t start = now_ms(), window_us;
	char c;

	a = crash_state(f->path, 'A', CRASH_INPUTS);
	b = crash_state(f->path, 'B', CRASH_INPUTS);
	assert_false(state_equal(a, b));
	window_us = 3 * save_time_us(b);
	if (window_us < 3000)
		window_us = 3000;
	save_ok(a);
	for (int kill_no = 0; kill_no < CRASH_KILLS; kill_no++) {
		struct timespec delay;
		uint64_t us = rng_next(&seed) % (window_us + 1);
		pid_t pid;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			/* Start with the state not on disk, so every save changes the file. */
			close(fds[0]);
			if (on_disk_is_a)
				crash_writer(b, a, fds[1]);
			crash_writer(a, b, fds[1]);
		}
		close(fds[1]);
		if (read(fds[0], &c, 1) != 1)
			fail_msg("the writer failed before its first save");
		close(fds[0]);
		if (kill_no % 4 == 3) {
			/* Aim: kill as soon as the writer's temp file is there. */
			char *tmp = xprintf("%s.tmp-%d", f->path, (int)pid);
			uint64_t deadline = now_ms() + 10000;

			while (access(tmp, F_OK) != 0) {
				if (now_ms() > deadline)
					fail_msg("the writer never made %s", tmp);
			}
			free(tmp);
		} else {
			delay.tv_sec = (time_t)(us / 1000000);
			delay.tv_nsec = (long)(us % 1000000) * 1000;
			while (nanosleep(&delay, &delay) != 0 && errno == EINTR)
				;
		}
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		/* Killed, not exited with a save failure. */
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);

		if (count_files(f->dir, ".tmp-") > 0)
			leftovers++;
		got = load_ok(f->path);
		if (state_equal(got, a)) {
			seen_a++;
			again += on_disk_is_a;
			on_disk_is_a = true;
		} else if (state_equal(got, b)) {
			seen_b++;
			again += !on_disk_is_a;
			on_disk_is_a = false;
		} else
			fail_msg("kill %d: the loaded state is neither A nor B", kill_no);
		state_free(&got);
		assert_int_equal(count_files(f->dir, ".tmp-"), 0);
		assert_int_equal(count_files(f->dir, ".corrupt-"), 0);
	}
	/* The writer made progress, and kills did land in the middle of writes. */
	assert_int_equal(seen_a + seen_b, CRASH_KILLS);
	assert_true(seen_a > 0);
	assert_true(seen_b > 0);
	assert_true(leftovers > 0);
	print_message("# crash test: %d kills within %llu us of a save of %d inputs: A %d, B %d "
	    "(%d after a second save), %d left a temp file; %llu ms\n", CRASH_KILLS,
	    (unsigned long long)window_us, CRASH_INPUTS, seen_a, seen_b, again, leftovers,
	    (unsigned long long)(now_ms() - start));
	state_free(&a);
	state_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_sources_not_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attempts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checklist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backslash_u0000_is_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_temp_left, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_temps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_causes_and_made, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup_shm, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
