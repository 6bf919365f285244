/*
 * test-engine.c: gating, staleness, values and their provenance, captures, secrets and
 * failures, driven through the engine on tests/chains/engine with real child processes; the
 * private key and its wallet, on tests/chains/wallet.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "logbuf.h"
#include "loop.h"
#include "util.h"

struct fx {
	char *tmp;
	char *work;
	struct engine *e;
	bool done;
	bool ok;
	struct strbuf lines;
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	struct engine_opts o = {0};
	enum engine_err err;
	char *chain, *sdir, *cause = NULL;

	f->tmp = tl_tmpdir();
	f->work = xprintf("%s/work", f->tmp);
	chain = xprintf("%s/tests/chains/engine", tl_srcdir());
	sdir = xprintf("%s/state", f->tmp);
	o.chain_dir = chain;
	o.state_dir = sdir;
	if (engine_open(&o, &f->e, &err, &cause) != 0)
		fail_msg("engine_open: %s", cause);
	free(chain);
	free(sdir);
	assert_int_equal(engine_set_input(f->e, "work_dir", f->work, &err, &cause), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	engine_close(&f->e);
	tl_rmrf(f->tmp);
	free(f->tmp);
	free(f->work);
	sb_free(&f->lines);
	free(f);
	return 0;
}

static size_t
idx(struct fx *f, const char *id)
{
	int i = chain_step_index(engine_chain(f->e), id);

	assert_true(i >= 0);
	return (size_t)i;
}

static void
on_line(void *data, size_t step, int stream, const char *text, size_t len)
{
	struct fx *f = data;

	sb_add(&f->lines, text, len);
	sb_addc(&f->lines, '\n');
}

static void
on_done(void *data, size_t step, enum run_kind kind, const struct run_result *res,
    const char *unsaved)
{
	struct fx *f = data;

	f->done = true;
	f->ok = res->ok && unsaved == NULL;
}

/* Start a step's check or action and drive the loop until it ends; returns its ok. */
static bool
drive(struct fx *f, const char *id, enum run_kind kind)
{
	struct engine_cbs cbs = { .line = on_line, .done = on_done, .data = f };
	enum engine_err err;
	char *cause = NULL;
	uint64_t t0 = now_ms();

	f->done = f->ok = false;
	if (engine_start(f->e, idx(f, id), kind, &cbs, &err, &cause) != 0)
		fail_msg("engine_start %s: %s", id, cause);
	while (!f->done && now_ms() - t0 < 20000)
		loop_run_once(engine_loop(f->e), 100);
	assert_true(f->done);
	return f->ok;
}

static enum step_status
status(struct fx *f, const char *id)
{
	return engine_status(f->e, idx(f, id));
}

/* A step with unmet requirements is locked and its blockers say why. */
static void
test_locked_until_required_done(void **state)
{
	struct fx *f = *state;
	struct blocker *b;
	size_t n;
	enum engine_err err;
	char *cause = NULL;

	assert_int_equal(status(f, "alpha"), ST_READY);
	assert_int_equal(status(f, "beta"), ST_LOCKED);
	n = engine_blockers(f->e, idx(f, "beta"), &b);
	assert_int_equal(n, 1);
	assert_int_equal(b[0].kind, BLOCK_STEP);
	assert_non_null(strstr(b[0].why, "requires alpha"));
	assert_non_null(strstr(b[0].why, "ready"));
	blockers_free(&b, n);

	/* Refused with every reason listed. */
	assert_int_equal(engine_start(f->e, idx(f, "beta"), RUN_ACTION, NULL, &err, &cause), -1);
	assert_int_equal(err, EERR_REFUSED);
	assert_non_null(strstr(cause, "beta cannot run yet"));
	assert_non_null(strstr(cause, "requires alpha"));
	free(cause);

	assert_false(drive(f, "alpha", RUN_CHECK));
	assert_int_equal(status(f, "alpha"), ST_FAILED);
	assert_int_equal(status(f, "beta"), ST_LOCKED);

	assert_true(drive(f, "alpha", RUN_ACTION));
	assert_int_equal(status(f, "alpha"), ST_DONE);
	assert_int_equal(status(f, "beta"), ST_READY);
}

/* An action's capture becomes an input, with its provenance. */
static void
test_capture_provenance(void **state)
{
	struct fx *f = *state;
	const struct chain *c = engine_chain(f->e);
	struct input_value iv;
	time_t before = time(NULL);

	assert_true(drive(f, "alpha", RUN_ACTION));
	engine_input(f->e, (size_t)chain_input_index(c, "contract"), &iv);
	assert_true(iv.present);
	assert_string_equal(iv.value, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
	assert_int_equal(iv.source, SRC_CAPTURE);
	assert_string_equal(iv.from_step, "alpha");
	assert_true(iv.at >= before && iv.at <= time(NULL));
	assert_true(iv.verdict.ok);
	input_value_clear(&iv);

	/* The check of beta expects the captured value, filled into its regex. */
	assert_true(drive(f, "beta", RUN_ACTION));
	assert_int_equal(status(f, "beta"), ST_DONE);
}

/* A value filled into a regex is literal text: "a+b (c)" matches itself, and a dot only a
 * dot. */
static void
test_values_literal_in_regex(void **state)
{
	struct fx *f = *state;
	enum engine_err err;
	char *cause = NULL;

	assert_int_equal(engine_set_input(f->e, "greeting", "a+b (c) [d] $x", &err, &cause), 0);
	assert_true(drive(f, "alpha", RUN_ACTION));
	assert_int_equal(status(f, "alpha"), ST_DONE);
	assert_true(drive(f, "alpha", RUN_CHECK));

	/* The same greeting with its dot replaced: the dot in the value must not match it. */
	assert_int_equal(engine_set_input(f->e, "greeting", "v1.2", &err, &cause), 0);
	free(tl_write(f->work, "alpha", "v1x2 from alpha\n"));
	assert_false(drive(f, "alpha", RUN_CHECK));
	free(tl_write(f->work, "alpha", "v1.2 from alpha\n"));
	assert_true(drive(f, "alpha", RUN_CHECK));
}

/* Invalid inputs are refused with a reason; an invalid value already set locks the step. */
static void
test_invalid_input(void **state)
{
	struct fx *f = *state;
	enum engine_err err;
	char *cause = NULL;
	struct blocker *b;
	size_t n;

	assert_int_equal(engine_set_input(f->e, "contract",
	    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", &err, &cause), -1);
	assert_int_equal(err, EERR_REFUSED);
	assert_non_null(strstr(cause, "EIP-55"));
	assert_null(strstr(cause, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
	free(cause);
	cause = NULL;

	assert_int_equal(engine_set_input(f->e, "no_such", "x", &err, &cause), -1);
	assert_int_equal(err, EERR_USAGE);
	free(cause);
	cause = NULL;

	/* A secret is never taken through set. */
	assert_int_equal(engine_set_input(f->e, "token", "tok-abcdefgh", &err, &cause), -1);
	assert_int_equal(err, EERR_REFUSED);
	assert_non_null(strstr(cause, "secret"));
	free(cause);
	cause = NULL;

	/* theta needs site = www.${zone}: no zone, no site. */
	assert_true(drive(f, "alpha", RUN_ACTION));
	n = engine_blockers(f->e, idx(f, "theta"), &b);
	assert_int_equal(n, 1);
	assert_int_equal(b[0].kind, BLOCK_INPUT);
	assert_non_null(strstr(b[0].why, "site"));
	blockers_free(&b, n);
	assert_int_equal(engine_set_input(f->e, "zone", "example.org", &err, &cause), 0);
	assert_int_equal(status(f, "theta"), ST_READY);
	assert_true(drive(f, "theta", RUN_CHECK));
	/* A bad zone is refused, and what was saved stays. */
	assert_int_equal(engine_set_input(f->e, "zone", "-bad-.org", &err, &cause), -1);
	assert_int_equal(err, EERR_REFUSED);
	free(cause);
	assert_int_equal(status(f, "theta"), ST_DONE);
}

/* Re-running a step, a done step's check failing, or an input change make dependents stale. */
static void
test_staleness(void **state)
{
	struct fx *f = *state;
	enum engine_err err;
	char *cause = NULL, *path;
	const struct state_step *ss;

	assert_true(drive(f, "alpha", RUN_ACTION));
	assert_true(drive(f, "beta", RUN_ACTION));
	assert_int_equal(status(f, "beta"), ST_DONE);

	/* Re-running alpha's action marks beta stale while it runs, and beta then is not
	 * "done"; once alpha is done again, so is beta. */
	f->done = false;
	assert_int_equal(engine_start(f->e, idx(f, "alpha"), RUN_ACTION, NULL, &err, &cause), 0);
	assert_int_equal(status(f, "beta"), ST_STALE);
	ss = engine_step_state(f->e, idx(f, "beta"));
	assert_non_null(strstr(ss->message, "alpha re-ran"));
	while (engine_busy(f->e))
		loop_run_once(engine_loop(f->e), 100);
	assert_int_equal(status(f, "alpha"), ST_DONE);
	assert_int_equal(status(f, "beta"), ST_DONE);

	/* Changing an input beta uses marks it stale; theta (not using it) stays as it was. */
	assert_int_equal(engine_set_input(f->e, "contract",
	    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", &err, &cause), 0);
	assert_int_equal(status(f, "beta"), ST_STALE);
	assert_int_equal(status(f, "alpha"), ST_DONE);
	assert_false(drive(f, "beta", RUN_CHECK));   /* file holds the old address */
	assert_int_equal(status(f, "beta"), ST_FAILED);
	assert_true(drive(f, "beta", RUN_ACTION));

	/* A done step whose check now fails turns failed, and its dependents stale. */
	assert_true(drive(f, "alpha", RUN_CHECK));
	path = xprintf("%s/alpha", f->work);
	assert_int_equal(unlink(path), 0);
	free(path);
	assert_false(drive(f, "alpha", RUN_CHECK));
	assert_int_equal(status(f, "alpha"), ST_FAILED);
	assert_int_equal(status(f, "beta"), ST_STALE);
}

/* Status and inputs survive a restart (the state file); secrets do not. */
static void
test_state_persists(void **state)
{
	struct fx *f = *state;
	struct engine_opts o = {0};
	enum engine_err err;
	char *chain, *sdir, *cause = NULL, *text = NULL;
	size_t len;

	assert_int_equal(engine_set_secret(f->e, "token", "tok-persisted1", SRC_PROMPT, &cause), 0);
	/* A non-secret input that holds the secret is refused without echoing it, and a value
	 * that does not is taken. */
	assert_int_equal(engine_set_input(f->e, "greeting", "hi tok-persisted1 there", &err,
	    &cause), -1);
	assert_int_equal(err, EERR_REFUSED);
	assert_non_null(strstr(cause, "holds the secret token"));
	assert_null(strstr(cause, "tok-persisted1"));
	free(cause);
	cause = NULL;
	assert_string_equal(engine_secret_within(f->e, "xtok-persisted1x"), "token");
	assert_null(engine_secret_within(f->e, "tok-persisted"));
	assert_int_equal(engine_set_input(f->e, "greeting", "tok-persisted", &err, &cause), 0);
	assert_true(drive(f, "alpha", RUN_ACTION));
	engine_close(&f->e);

	chain = xprintf("%s/tests/chains/engine", tl_srcdir());
	sdir = xprintf("%s/state", f->tmp);
	o.chain_dir = chain;
	o.state_dir = sdir;
	assert_int_equal(engine_open(&o, &f->e, &err, &cause), 0);
	assert_int_equal(status(f, "alpha"), ST_DONE);
	assert_int_equal(status(f, "beta"), ST_READY);
	free(sdir);
	sdir = xprintf("%s/state/state.json", f->tmp);
	assert_int_equal(read_file(sdir, 1 << 20, &text, &len, &cause), 0);
	assert_null(strstr(text, "tok-persisted1"));
	assert_non_null(strstr(text, "\"tok-persisted\""));
	assert_non_null(strstr(text, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
	free(text);
	free(sdir);
	free(chain);
}

/* A secret reaches the child through env and stdin, and is redacted everywhere. */
static void
test_secret_redacted(void **state)
{
	struct fx *f = *state;
	const struct state_step *ss;
	enum engine_err err;
	char *cause = NULL, *log = NULL, *st = NULL, *gamma, *path;
	size_t len, *miss, n;
	struct logbuf *lb;
	struct logline ll;
	const char *secret = "tok-s3cr3tvalue";

	assert_true(drive(f, "alpha", RUN_ACTION));
	assert_true(drive(f, "beta", RUN_ACTION));
	n = engine_missing_secrets(f->e, idx(f, "gamma"), &miss);
	assert_int_equal(n, 1);
	free(miss);
	assert_int_equal(engine_start(f->e, idx(f, "gamma"), RUN_ACTION, NULL, &err, &cause), -1);
	assert_non_null(strstr(cause, "token"));
	free(cause);
	cause = NULL;
	/* A malformed secret is refused without echoing it. */
	assert_int_equal(engine_set_secret(f->e, "token", "nope-value", SRC_ENV, &cause), -1);
	assert_null(strstr(cause, "nope-value"));
	free(cause);
	cause = NULL;
	assert_int_equal(engine_set_secret(f->e, "token", secret, SRC_ENV, &cause), 0);
	assert_true(drive(f, "gamma", RUN_ACTION));

	/* The child got it: gamma holds its length (15 + newline), and stdin was read. */
	path = xprintf("%s/gamma", f->work);
	assert_int_equal(read_file(path, 4096, &gamma, &len, &cause), 0);
	assert_int_equal(atoi(gamma), 16);
	free(gamma);
	free(path);
	assert_non_null(strstr(f->lines.s, "the token is ****"));
	assert_non_null(strstr(f->lines.s, "read 15 characters; echo ****"));
	assert_null(strstr(f->lines.s, secret));

	lb = engine_log(f->e, idx(f, "gamma"));
	assert_non_null(lb);
	for (uint64_t s = logbuf_first(lb); s < logbuf_end(lb); s++)
		if (logbuf_get(lb, s, &ll) == 0)
			assert_null(strstr(ll.text, secret));
	ss = engine_step_state(f->e, idx(f, "gamma"));
	assert_non_null(ss->log_path);
	/* The check's log is the last; the action's log sits beside it. Read every log. */
	{
		char *dir = xprintf("%s/state/logs", f->tmp);
		char *cmd = xprintf("grep -rl '%s' '%s' >/dev/null", secret, dir);

		assert_int_not_equal(system(cmd), 0);
		free(cmd);
		cmd = xprintf("grep -rq 'the token is \\*\\*\\*\\*' '%s'", dir);
		assert_int_equal(system(cmd), 0);
		free(cmd);
		free(dir);
	}
	path = xprintf("%s/state/state.json", f->tmp);
	assert_int_equal(read_file(path, 1 << 20, &st, &len, &cause), 0);
	assert_null(strstr(st, secret));
	free(st);
	free(path);
	free(log);
}

/* A failing action: status failed, exit code, the matching hint in the message. */
static void
test_failure_and_hint(void **state)
{
	struct fx *f = *state;
	const struct state_step *ss;

	assert_false(drive(f, "zeta", RUN_ACTION));
	assert_int_equal(status(f, "zeta"), ST_FAILED);
	ss = engine_step_state(f->e, idx(f, "zeta"));
	assert_int_equal(ss->exit_code, 7);
	assert_non_null(strstr(ss->message, "exit status 7"));
	assert_non_null(strstr(ss->message, "The disk is full."));
	assert_non_null(strstr(f->lines.s, "ERROR: disk full"));
	/* stop_on_failure: the second command did not run. */
	assert_false(drive(f, "zeta", RUN_CHECK));
}

static void
cancel_soon(void *data)
{
	struct fx *f = data;

	engine_cancel(f->e, idx(f, "eta"));
}

/* A running action is cancelled; it shows as running meanwhile and fails as canceled. */
static void
test_cancel(void **state)
{
	struct fx *f = *state;
	struct engine_cbs cbs = { .line = on_line, .done = on_done, .data = f };
	const struct state_step *ss;
	enum engine_err err;
	char *cause = NULL;
	uint64_t t0 = now_ms();

	f->done = false;
	assert_int_equal(engine_start(f->e, idx(f, "eta"), RUN_ACTION, &cbs, &err, &cause), 0);
	assert_int_equal(status(f, "eta"), ST_RUNNING);
	assert_true(engine_busy(f->e));
	/* Starting it twice is refused. */
	assert_int_equal(engine_start(f->e, idx(f, "eta"), RUN_ACTION, &cbs, &err, &cause), -1);
	assert_non_null(strstr(cause, "already running"));
	free(cause);
	loop_add_timer(engine_loop(f->e), 300, cancel_soon, f);
	while (!f->done && now_ms() - t0 < 10000)
		loop_run_once(engine_loop(f->e), 100);
	assert_true(f->done);
	assert_true(now_ms() - t0 < 5000);
	assert_false(engine_busy(f->e));
	assert_int_equal(status(f, "eta"), ST_CANCELED);
	ss = engine_step_state(f->e, idx(f, "eta"));
	assert_non_null(strstr(ss->message, "cancel"));
}

/* Manual and server steps: a server step needs a target; a manual step runs its check. */
static void
test_manual_and_server(void **state)
{
	struct fx *f = *state;
	struct blocker *b;
	size_t n;
	char *path;

	n = engine_blockers(f->e, idx(f, "epsilon"), &b);
	assert_int_equal(n, 1);
	assert_int_equal(b[0].kind, BLOCK_TARGET);
	blockers_free(&b, n);
	assert_int_equal(status(f, "epsilon"), ST_LOCKED);

	assert_false(drive(f, "delta", RUN_ACTION));
	path = xprintf("%s/delta", f->work);
	mkdir(f->work, 0700);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	free(path);
	assert_true(drive(f, "delta", RUN_ACTION));
	assert_int_equal(status(f, "delta"), ST_DONE);
}

/* ------------------------------------------------------------------ the key and its wallet */

/* hardhat/anvil's test accounts #0 and #1 (public test vectors, never for real funds). */
#define KEY0 "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
#define ADDR0 "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
#define KEY1 "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
#define ADDR1 "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

/* Open tests/chains/wallet in f (its state under f->tmp), with these secrets given. */
static int
open_wallet(struct fx *f, const struct strvec *env, const struct strvec *files, char **cause)
{
	struct engine_opts o = {0};
	enum engine_err err;
	char *chain = xprintf("%s/tests/chains/wallet", tl_srcdir());
	char *sdir = xprintf("%s/state", f->tmp);
	int rc;

	o.chain_dir = chain;
	o.state_dir = sdir;
	o.env_secrets = env;
	o.secret_files = files;
	rc = engine_open(&o, &f->e, &err, cause);
	free(chain);
	free(sdir);
	return rc;
}

static int
setup_wallet(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	char *cause = NULL;

	f->tmp = tl_tmpdir();
	if (open_wallet(f, NULL, NULL, &cause) != 0)
		fail_msg("engine_open: %s", cause);
	*state = f;
	return 0;
}

/* The value of a non-secret input (allocated), or NULL. */
static char *
value(struct fx *f, const char *name)
{
	struct input_value iv;
	char *v;

	engine_input(f->e, (size_t)chain_input_index(engine_chain(f->e), name), &iv);
	v = iv.value != NULL ? xstrdup(iv.value) : NULL;
	input_value_clear(&iv);
	return v;
}

/* A key sets the unset wallet to its address; another wallet is then refused, both shown. */
static void
test_key_sets_wallet(void **state)
{
	struct fx *f = *state;
	enum engine_err err;
	char *cause = NULL, *v;

	assert_null(value(f, "wallet_address"));
	assert_int_equal(engine_set_secret(f->e, "private_key", KEY0, SRC_PROMPT, &cause), 0);
	v = value(f, "wallet_address");
	assert_string_equal(v, ADDR0);
	free(v);
	assert_int_equal(engine_set_input(f->e, "wallet_address", ADDR1, &err, &cause), -1);
	assert_int_equal(err, EERR_REFUSED);
	assert_non_null(strstr(cause, ADDR0));
	assert_non_null(strstr(cause, ADDR1));
	assert_null(strstr(cause, KEY0 + 2));
	free(cause);
	cause = NULL;
	/* The same account, written without its checksum, is taken. */
	assert_int_equal(engine_set_input(f->e, "wallet_address",
	    "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", &err, &cause), 0);
	/* Unset, the wallet may be another account only once no key is held (a new engine). */
	engine_close(&f->e);
	assert_int_equal(open_wallet(f, NULL, NULL, &cause), 0);
	assert_int_equal(engine_set_input(f->e, "wallet_address", ADDR1, &err, &cause), 0);
}

/* A key whose account is not the wallet set before is refused with both addresses. */
static void
test_key_refused_for_other_wallet(void **state)
{
	struct fx *f = *state;
	enum engine_err err;
	char *cause = NULL, *v, *path;
	struct strvec env = {0}, files = {0};

	assert_int_equal(engine_set_input(f->e, "wallet_address", ADDR1, &err, &cause), 0);
	assert_int_equal(engine_set_secret(f->e, "private_key", KEY0, SRC_PROMPT, &cause), -1);
	assert_non_null(strstr(cause, ADDR0));
	assert_non_null(strstr(cause, ADDR1));
	assert_null(strstr(cause, KEY0 + 2));
	free(cause);
	cause = NULL;
	assert_null(engine_secret_within(f->e, KEY0));    /* not held */
	v = value(f, "wallet_address");
	assert_string_equal(v, ADDR1);
	free(v);
	assert_int_equal(engine_set_secret(f->e, "private_key", KEY1, SRC_PROMPT, &cause), 0);
	engine_close(&f->e);

	/* From the environment: not taken, and the notice says why. */
	sv_push(&env, "DSTACK_WIZARD_PRIVATE_KEY=" KEY0);
	assert_int_equal(open_wallet(f, &env, NULL, &cause), 0);
	assert_non_null(engine_notice(f->e));
	assert_non_null(strstr(engine_notice(f->e), "DSTACK_WIZARD_PRIVATE_KEY"));
	assert_non_null(strstr(engine_notice(f->e), ADDR0));
	assert_non_null(strstr(engine_notice(f->e), ADDR1));
	assert_null(strstr(engine_notice(f->e), KEY0 + 2));
	assert_null(engine_secret_within(f->e, KEY0));
	engine_close(&f->e);

	/* From a file: engine_open refuses. */
	path = tl_write(f->tmp, "key", KEY0 "\n");
	assert_int_equal(chmod(path, 0600), 0);
	sv_push_take(&files, xprintf("private_key=%s", path));
	assert_int_equal(open_wallet(f, NULL, &files, &cause), -1);
	assert_non_null(strstr(cause, ADDR0));
	assert_non_null(strstr(cause, ADDR1));
	free(cause);
	cause = NULL;
	assert_null(f->e);
	engine_env_free(&env);
	sv_free(&files);
	free(path);
	assert_int_equal(open_wallet(f, NULL, NULL, &cause), 0);
}

/*
 * The key is masked in every form a step may print it in (as given, without 0x, in lower and
 * upper case), and the same forms are refused as a value of a non-secret input.
 */
static void
test_key_forms_masked(void **state)
{
	struct fx *f = *state;
	enum engine_err err;
	char *cause = NULL, *lower, *upper;
	const char *bare = KEY0 + 2;

	assert_int_equal(engine_set_secret(f->e, "private_key", KEY0, SRC_ENV, &cause), 0);
	assert_true(drive(f, "show", RUN_ACTION));
	assert_non_null(strstr(f->lines.s, "given ****\n"));
	assert_non_null(strstr(f->lines.s, "bare ****\n"));
	assert_non_null(strstr(f->lines.s, "upper ****\n"));
	assert_non_null(strstr(f->lines.s, "lower ****\n"));
	assert_non_null(strstr(f->lines.s, "upper0x ****\n"));
	assert_null(strcasestr(f->lines.s, bare));

	lower = xstrdup(bare);
	upper = xstrdup(bare);
	for (size_t i = 0; upper[i] != '\0'; i++)
		upper[i] = (char)toupper((unsigned char)upper[i]);
	upper[3] = (char)tolower((unsigned char)upper[3]);    /* mixed case too */
	assert_string_equal(engine_secret_within(f->e, lower), "private_key");
	assert_string_equal(engine_secret_within(f->e, upper), "private_key");
	assert_int_equal(engine_set_input(f->e, "image", upper, &err, &cause), -1);
	assert_int_equal(err, EERR_REFUSED);
	assert_non_null(strstr(cause, "holds the secret private_key"));
	free(cause);
	cause = NULL;
	assert_int_equal(engine_set_input(f->e, "image", lower, &err, &cause), -1);
	free(cause);
	assert_null(value(f, "image"));
	assert_null(engine_secret_within(f->e, "ac0974bec39a17e3"));
	free(lower);
	free(upper);
}

/*
 * engine_env_take: every DSTACK_WIZARD_<NAME> but the settings leaves the environment, its
 * value wiped where it was; the lower-case name of a secret is not read, and says so.
 */
static void
test_env_take(void **state)
{
	struct fx *f = *state;
	static char entry[] = "DSTACK_WIZARD_PRIVATE_KEY=" KEY0;
	struct strvec env = {0};
	char *cause = NULL, *v;
	size_t n = strlen("DSTACK_WIZARD_PRIVATE_KEY=");

	engine_close(&f->e);
	assert_int_equal(putenv(entry), 0);
	setenv("DSTACK_WIZARD_private_key", KEY1, 1);
	setenv("DSTACK_WIZARD_REMOTE_DIR", "/nowhere", 1);
	engine_env_take(&env);
	assert_null(getenv("DSTACK_WIZARD_PRIVATE_KEY"));
	assert_null(getenv("DSTACK_WIZARD_private_key"));
	assert_string_equal(getenv("DSTACK_WIZARD_REMOTE_DIR"), "/nowhere");
	unsetenv("DSTACK_WIZARD_REMOTE_DIR");
	for (size_t i = n; i < sizeof entry - 1; i++)
		assert_int_equal(entry[i], '\0');
	assert_int_equal(env.n, 2);

	assert_int_equal(open_wallet(f, &env, NULL, &cause), 0);
	engine_env_free(&env);
	v = value(f, "wallet_address");
	assert_string_equal(v, ADDR0);
	free(v);
	assert_string_equal(engine_secret_within(f->e, KEY0), "private_key");
	assert_non_null(strstr(engine_notice(f->e), "DSTACK_WIZARD_private_key is not read: the "
	    "variable is DSTACK_WIZARD_PRIVATE_KEY"));
	/* A secret not given: the message names the variable that is read. */
	engine_close(&f->e);
	tl_rmrf(f->tmp);
	mkdir(f->tmp, 0700);
	assert_int_equal(open_wallet(f, NULL, NULL, &cause), 0);
	{
		struct input_value iv;

		engine_input(f->e, (size_t)chain_input_index(engine_chain(f->e), "private_key"), &iv);
		assert_non_null(strstr(iv.verdict.why, "DSTACK_WIZARD_PRIVATE_KEY"));
		input_value_clear(&iv);
	}
}

/* Open another engine on the fixture's profile (as another process would). */
static struct engine *
open_again(struct fx *f)
{
	struct engine_opts o = {0};
	struct engine *e;
	enum engine_err err;
	char *chain = xprintf("%s/tests/chains/engine", tl_srcdir());
	char *sdir = xprintf("%s/state", f->tmp), *cause = NULL;

	o.chain_dir = chain;
	o.state_dir = sdir;
	if (engine_open(&o, &e, &err, &cause) != 0)
		fail_msg("engine_open: %s", cause);
	free(chain);
	free(sdir);
	return e;
}

/* The value of input name in e (allocated), or NULL. */
static char *
value_in(struct engine *e, const char *name)
{
	struct input_value iv;
	char *v;

	engine_input(e, (size_t)chain_input_index(engine_chain(e), name), &iv);
	v = iv.present ? xstrdup(iv.value) : NULL;
	input_value_clear(&iv);
	return v;
}

/*
 * Two engines on one profile: each change applies to the state as the file holds it (neither
 * writes back its older copy); one that claimed the profile keeps another from claiming it
 * until it is closed; a read-only one refuses to write or run.
 */
static void
test_shared_profile(void **state)
{
	struct fx *f = *state;
	struct engine *e2 = open_again(f), *e3;
	enum engine_err err;
	char *cause = NULL, *holder = NULL, *pid, *v;

	/* f->e still holds work_dir and no greeting when it sets zone. */
	assert_int_equal(engine_set_input(e2, "greeting", "from-two", &err, &cause), 0);
	assert_int_equal(engine_unset_input(e2, "work_dir", &cause), 0);
	assert_int_equal(engine_set_input(f->e, "zone", "example.org", &err, &cause), 0);
	e3 = open_again(f);
	v = value_in(e3, "greeting");
	assert_string_equal(v, "from-two");
	free(v);
	v = value_in(e3, "zone");
	assert_string_equal(v, "example.org");
	free(v);
	assert_null(value_in(e3, "work_dir"));
	assert_null(value_in(f->e, "work_dir"));   /* read again when f->e wrote */

	assert_int_equal(engine_claim(e2, &holder, &cause), 0);
	assert_int_equal(engine_claim(e3, &holder, &cause), 1);
	pid = xprintf("pid %ld, since ", (long)getpid());
	assert_true(str_has_prefix(holder, pid));
	free(pid);
	free(holder);
	engine_close(&e2);
	assert_int_equal(engine_claim(e3, &holder, &cause), 0);

	engine_set_readonly(e3, "read-only: a test");
	assert_int_equal(engine_set_input(e3, "greeting", "from-three", &err, &cause), -1);
	assert_string_equal(cause, "read-only: a test");
	freep(&cause);
	v = value_in(e3, "greeting");
	assert_string_equal(v, "from-two");   /* what was not saved is not kept either */
	free(v);
	assert_int_equal(engine_start(e3, idx(f, "zeta"), RUN_CHECK, NULL, &err, &cause), -1);
	assert_int_equal(err, EERR_REFUSED);
	assert_string_equal(cause, "read-only: a test");
	free(cause);
	engine_close(&e3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_locked_until_required_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capture_provenance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_literal_in_regex, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staleness, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_persists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_redacted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_and_hint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manual_and_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_sets_wallet, setup_wallet, teardown),
		cmocka_unit_test_setup_teardown(test_key_refused_for_other_wallet, setup_wallet,
		    teardown),
		cmocka_unit_test_setup_teardown(test_key_forms_masked, setup_wallet, teardown),
		cmocka_unit_test_setup_teardown(test_env_take, setup_wallet, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
