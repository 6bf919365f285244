/*
 * test-export.c: the rules `export ansible` checks again on the chain it writes, whatever the
 * loader let through (tests/chains/export, changed in memory): no command that runs on a
 * server may refer to a local-only input, and a step may not require a later one. A chain
 * that keeps them is written; one that breaks them is refused, and nothing is written.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include "chain.h"
#include "engine.h"
#include "export.h"
#include "util.h"

struct fx {
	char *tmp;
	char *out;
	struct engine *e;
	struct chain *c;      /* the engine's chain, changed by the tests */
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	struct engine_opts o = {0};
	enum engine_err err;
	char *chain, *sdir, *cause = NULL;

	f->tmp = tl_tmpdir();
	f->out = xprintf("%s/project", f->tmp);
	chain = xprintf("%s/tests/chains/export", tl_srcdir());
	sdir = xprintf("%s/state", f->tmp);
	o.chain_dir = chain;
	o.state_dir = sdir;
	if (engine_open(&o, &f->e, &err, &cause) != 0)
		fail_msg("engine_open: %s", cause);
	free(chain);
	free(sdir);
	f->c = (struct chain *)(uintptr_t)engine_chain(f->e);
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
	free(f->out);
	free(f);
	return 0;
}

/* The chain as loaded is written: site.yml, a task file per step, the plugins. */
static void
test_written(void **state)
{
	struct fx *f = *state;
	char *cause = NULL, *p;

	if (export_ansible(f->e, f->out, &cause) != 0)
		fail_msg("export: %s", cause);
	p = xprintf("%s/steps/01-hostile.yml", f->out);
	assert_int_equal(access(p, R_OK), 0);
	free(p);
	p = xprintf("%s/library/dstack_probe.py", f->out);
	assert_int_equal(access(p, R_OK), 0);
	free(p);
}

/* A command that runs on the server and names a local-only input is refused. */
static void
test_scope_refused(void **state)
{
	struct fx *f = *state;
	int st = chain_step_index(f->c, "hostile"), in = chain_input_index(f->c, "out_dir");
	char *cause = NULL;

	assert_true(st >= 0 && in >= 0);
	f->c->inputs[in].scope = SCOPE_LOCAL;
	assert_int_equal(export_ansible(f->e, f->out, &cause), 0);   /* local commands: fine */
	free(cause);
	cause = NULL;
	f->c->steps[st].action[0].on = PLACE_SERVER;
	assert_int_equal(export_ansible(f->e, f->out, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "01-hostile.yaml:"));
	assert_non_null(strstr(cause, "command runs on the server but refers to out_dir, a "
	    "local-only input"));
	free(cause);
}

/* A step that requires a later one is refused, and no directory is made. */
static void
test_order_refused(void **state)
{
	struct fx *f = *state;
	struct step *a = &f->c->steps[0];
	char *cause = NULL;

	assert_string_equal(a->id, "hostile");
	a->requires = xreallocarray(a->requires, 1, sizeof *a->requires);
	a->req = xreallocarray(a->req, 1, sizeof *a->req);
	a->requires[0] = xstrdup("after");
	a->req[0] = 1;
	a->nrequires = 1;
	assert_int_equal(export_ansible(f->e, f->out, &cause), -1);
	assert_non_null(strstr(cause, "hostile requires after, which comes after it"));
	assert_int_equal(access(f->out, F_OK), -1);
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scope_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
