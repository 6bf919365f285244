/*
 * test-chain.c: the chain loader and its helpers. A good fixture chain (tests/chains/good)
 * and the real assets/chain must load into the expected structs; every class of error must
 * produce its exact "file:line:column: message" line; hostile input must fail cleanly.
 * Error fixtures are written into a fresh temporary directory per test.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "testlib.h"

#include "chain.h"
#include "rx.h"
#include "util.h"

/* The chain.yaml most error tests share; line numbers are used in expected messages. */
static const char base_chain[] =
	"title: Test chain\n"                    /* 1 */
	"sections:\n"                            /* 2 */
	"  - id: one\n"                          /* 3 */
	"    title: First\n"                     /* 4 */
	"  - id: two\n"                          /* 5 */
	"    title: Second\n"                    /* 6 */
	"inputs:\n"                              /* 7 */
	"  - {name: name_a, quoted: true,\n"     /* 8 */
	"    label: A}\n"                        /* 9 */
	"  - name: base_domain\n"                /* 10 */
	"    label: Base domain\n"               /* 11 */
	"    type: domain\n"                     /* 12 */
	"  - {name: kms_domain, quoted: true,\n" /* 13 */
	"    label: KMS domain,\n"               /* 14 */
	"    default: 'kms.${base_domain}'}\n"   /* 15 */
	"  - name: api_token\n"                  /* 16 */
	"    label: API token\n"                 /* 17 */
	"    type: secret\n"                     /* 18 */
	"  - name: private_key\n"                /* 19 */
	"    label: Private key\n"               /* 20 */
	"    type: secret\n"                     /* 21 */
	"    scope: local\n"                     /* 22 */
	"  - name: local_dir\n"                  /* 23 */
	"    label: Local dir\n"                 /* 24 */
	"    scope: local\n"                     /* 25 */
	"    quoted: true\n";                    /* 26 */

/* A step that is valid against base_chain. */
static const char ok_step[] =
	"id: ok\n"
	"section: one\n"
	"title: OK\n"
	"place: local\n"
	"check:\n"
	"  - \"true\"\n";

/* Per-test temporary directory. */
static int
setup_dir(void **state)
{
	*state = tl_tmpdir();
	return 0;
}

/* Remove the temporary directory. */
static int
teardown_dir(void **state)
{
	tl_rmrf(*state);
	free(*state);
	return 0;
}

/* Write a file into the test directory. */
static void
put(void **state, const char *name, const char *text)
{
	free(tl_write(*state, name, text));
}

/* The default of input name of c that applies to every release. */
static const char *
default_of(const struct chain *c, const char *name)
{
	return chain_input_default(&c->inputs[chain_input_index(c, name)], NULL);
}

/* Load a chain that must fail; return the cause. */
static char *
load_fail(const char *dir)
{
	struct chain *c = NULL;
	char *cause = NULL;

	assert_int_equal(chain_load(dir, &c, &cause), -1);
	assert_null(c);
	assert_non_null(cause);
	return cause;
}

/* Load a chain that must succeed. */
static struct chain *
load_ok(const char *dir)
{
	struct chain *c = NULL;
	char *cause = NULL;

	if (chain_load(dir, &c, &cause) != 0) {
		print_error("unexpected failure loading %s:\n%s\n", dir, cause ? cause : "(null)");
		free(cause);
		fail();
	}
	assert_non_null(c);
	assert_null(cause);
	return c;
}

/* Does cause hold exactly this line? */
static bool
has_line(const char *cause, const char *line)
{
	size_t len = strlen(line);
	const char *p = cause;

	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (l == len && memcmp(p, line, len) == 0)
			return true;
		p = nl ? nl + 1 : NULL;
	}
	return false;
}

/* Assert that cause holds the line (printing the whole cause if not). */
#define assert_line(cause, line) do {						\
	if (!has_line((cause), (line))) {					\
		print_error("missing line: %s\nin:\n%s\n", (line), (cause));	\
		fail();								\
	}									\
} while (0)

/* Number of lines in s. */
static size_t
count_lines(const char *s)
{
	size_t n = *s != '\0';

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* Write base_chain plus one step file; load must fail with exactly one line, want. */
static void
expect_one(void **state, const char *step, const char *want)
{
	char *cause;

	put(state, "chain.yaml", base_chain);
	put(state, "s.yaml", step);
	cause = load_fail(*state);
	if (strcmp(cause, want) != 0) {
		print_error("want: %s\ngot:\n%s\n", want, cause);
		free(cause);
		fail();
	}
	free(cause);
}

/* Collects names given to chain_refs' callback. */
static void
collect_ref(const char *name, size_t len, void *data)
{
	struct strbuf *sb = data;

	sb_add(sb, name, len);
	sb_addc(sb, ',');
}

/* ------------------------------------------------------------------------------------ */

/* ${name} references: only lower-case names in braces count. */
static void
test_refs(void **state)
{
	struct strbuf sb = {0};

	(void)state;
	assert_int_equal(chain_refs("${a} $b ${UPPER} $(cmd) ${a_1}${b2} ${ x} ${a-} ${9x} "
	    "${} $${c} ${d%.*} ${e", collect_ref, &sb), 4);
	assert_string_equal(sb_str(&sb), "a,a_1,b2,c,");
	sb_free(&sb);
	assert_int_equal(chain_refs("", collect_ref, &sb), 0);
	assert_int_equal(chain_refs(NULL, collect_ref, &sb), 0);
	assert_int_equal(chain_refs("x ${kms_domain}:${kms_rpc_port}/y", NULL, NULL), 2);
	assert_int_equal(chain_refs("${Ab} ${aB} ${_a}", NULL, NULL), 0);
	sb_free(&sb);
}

/* Names of places and input types, both ways. */
static void
test_names(void **state)
{
	enum input_type t;

	(void)state;
	assert_string_equal(place_name(PLACE_LOCAL), "local");
	assert_string_equal(place_name(PLACE_SERVER), "server");
	assert_string_equal(place_name(PLACE_MANUAL), "manual");
	for (int i = IT_TEXT; i <= IT_PATH; i++) {
		assert_int_equal(input_type_parse(input_type_name((enum input_type)i), &t), 0);
		assert_int_equal(t, i);
	}
	assert_string_equal(input_type_name(IT_ETH_ADDRESS), "eth_address");
	assert_int_equal(input_type_parse("ipv6", &t), 0);
	assert_int_equal(t, IT_IPV6);
	assert_int_equal(input_type_parse("Text", &t), -1);
	assert_int_equal(input_type_parse("", &t), -1);
	assert_int_equal(input_type_parse(NULL, &t), -1);
}

/* The good fixture: order, indices, inputs, commands, regexes. */
static void
test_good_chain(void **state)
{
	char *dir = xprintf("%s/tests/chains/good", tl_srcdir());
	struct chain *c = load_ok(dir);
	const struct step *prep, *fetch, *dep;
	long so, eo;
	int i;

	(void)state;
	assert_string_equal(c->dir, dir);
	assert_string_equal(c->title, "Good chain");
	assert_int_equal(c->nsections, 2);
	assert_string_equal(c->sections[0].id, "first");
	assert_string_equal(c->sections[1].title, "Second section");
	assert_int_equal(chain_section_index(c, "second"), 1);
	assert_int_equal(chain_section_index(c, "third"), -1);

	/* Walking order: section first (by path), then section second. */
	assert_int_equal(c->nsteps, 3);
	prep = &c->steps[0];
	fetch = &c->steps[1];
	dep = &c->steps[2];
	assert_string_equal(prep->id, "prepare");
	assert_string_equal(fetch->id, "fetch");
	assert_string_equal(dep->id, "deploy");
	assert_string_equal(fetch->file, "sub/05-fetch.yaml");
	assert_int_equal(chain_step_index(c, "deploy"), 2);
	assert_int_equal(chain_step_index(c, "nope"), -1);
	assert_int_equal(prep->section, 0);
	assert_int_equal(dep->section, 1);
	assert_string_equal(dep->pos.file, "10-deploy.yaml");
	assert_int_equal(dep->pos.line, 1);
	assert_int_equal(dep->pos.col, 5);

	/* Inputs. */
	assert_int_equal(c->ninputs, 9);
	i = chain_input_index(c, "private_key");
	assert_int_equal(i, 4);
	assert_true(c->inputs[i].secret);
	assert_int_equal(c->inputs[i].scope, SCOPE_LOCAL);
	assert_int_equal(c->inputs[i].type, IT_SECRET);
	assert_string_equal(c->inputs[i].pattern, "^0x[0-9a-f]{4}$");
	assert_true(rx_matches(c->inputs[i].pattern_re, "0xab12"));
	assert_false(rx_matches(c->inputs[i].pattern_re, "0xab123"));
	assert_string_equal(c->inputs[i].pos.file, "chain.yaml");
	assert_int_equal(c->inputs[i].pos.line, 24);
	assert_int_equal(c->inputs[i].pos.col, 5);
	i = chain_input_index(c, "kms_domain");
	assert_string_equal(chain_input_default(&c->inputs[i], NULL), "kms.${base_domain}");
	assert_false(c->inputs[i].secret);
	assert_int_equal(c->inputs[i].scope, SCOPE_ANY);
	assert_int_equal(c->inputs[i].type, IT_DOMAIN);
	assert_null(c->inputs[i].pattern);
	i = chain_input_index(c, "contract");
	assert_true(c->inputs[i].optional);
	assert_string_equal(c->inputs[i].verify, "contract_code");
	assert_string_equal(c->inputs[i].help, "Filled by the deploy step.");
	assert_string_equal(default_of(c, "port"), "8080");
	assert_string_equal(c->inputs[chain_input_index(c, "token")].label, "Token");
	assert_true(c->inputs[chain_input_index(c, "token")].secret);
	assert_int_equal(chain_input_index(c, "nope"), -1);

	/* prepare: listed input merged with the same one referenced. */
	assert_string_equal(prep->summary, "Get ready.");
	assert_string_equal(prep->guide, "Line one.\nLine two.\n");
	assert_string_equal(prep->notes, "Say what the step is for.\nPoint at the check.\n");
	assert_null(dep->notes);
	assert_int_equal(prep->place, PLACE_LOCAL);
	assert_int_equal(prep->effects, EFFECT_LONG);
	assert_int_equal(prep->nrequires, 0);
	assert_int_equal(prep->ninputs, 1);
	assert_int_equal(prep->inputs[0], chain_input_index(c, "version"));
	assert_int_equal(prep->ncheck, 2);
	assert_string_equal(prep->check[0].run, "test -d \"$HOME\"");
	assert_null(prep->check[0].name);
	assert_string_equal(prep->check[1].name, "version matches");
	assert_string_equal(prep->check[1].expect, "^v${version}$");
	assert_int_equal(prep->check[1].on, PLACE_LOCAL);
	assert_int_equal(prep->check[1].pos.line, 13);
	assert_int_equal(prep->check[1].pos.col, 5);
	assert_int_equal(prep->naction, 1);
	assert_string_equal(prep->action[0].cwd, "~/src/${version}");
	assert_int_equal(prep->action[0].timeout, 120);
	assert_int_equal(prep->check[0].timeout, 0);

	/* fetch: manual; commands default to local, on: server kept. */
	assert_int_equal(fetch->place, PLACE_MANUAL);
	assert_int_equal(fetch->nchecklist, 2);
	assert_string_equal(fetch->checklist[1], "Put it in place.");
	assert_int_equal(fetch->check[0].on, PLACE_SERVER);
	assert_int_equal(fetch->check[1].on, PLACE_LOCAL);
	assert_int_equal(fetch->nrequires, 1);
	assert_string_equal(fetch->requires[0], "prepare");
	assert_int_equal(fetch->req[0], 0);
	assert_int_equal(fetch->ninputs, 0);
	assert_int_equal(fetch->naction, 0);

	/* deploy: inputs in order of first reference; captures are outputs, not inputs. */
	assert_int_equal(dep->place, PLACE_SERVER);
	assert_int_equal(dep->effects, EFFECT_SUDO | EFFECT_TRANSACTION);
	assert_int_equal(dep->nrequires, 2);
	assert_int_equal(dep->req[0], 1);
	assert_int_equal(dep->req[1], 0);
	assert_int_equal(dep->ninputs, 3);
	assert_int_equal(dep->inputs[0], chain_input_index(c, "kms_domain"));
	assert_int_equal(dep->inputs[1], chain_input_index(c, "private_key"));
	assert_int_equal(dep->inputs[2], chain_input_index(c, "token"));
	assert_int_equal(dep->check[0].on, PLACE_SERVER);
	assert_int_equal(dep->check[0].nenv, 1);
	assert_string_equal(dep->check[0].env[0].name, "HOST");
	assert_string_equal(dep->check[0].env[0].value, "${kms_domain}");
	assert_int_equal(dep->action[0].on, PLACE_LOCAL);
	assert_int_equal(dep->action[0].nenv, 2);
	assert_string_equal(dep->action[0].env[1].name, "RPC");
	assert_string_equal(dep->action[0].env[1].value, "http://127.0.0.1:8545");
	assert_int_equal(dep->action[0].timeout, 900);
	assert_int_equal(dep->action[1].on, PLACE_SERVER);
	assert_string_equal(dep->action[1].stdin_text, "${token}");
	assert_int_equal(dep->ncaptures, 1);
	assert_string_equal(dep->captures[0].name, "contract");
	assert_int_equal(rx_match(dep->captures[0].re,
	    "xx deployed to: 0x00000000000000000000000000000000000000aB yy", 63, &so, &eo), 1);
	assert_int_equal(eo - so, 42);
	assert_int_equal(dep->nhints, 2);
	assert_string_equal(dep->hints[0].say, "The user cannot do this.");
	assert_string_equal(dep->hints[0].fix, "Add it to the group.");
	assert_null(dep->hints[1].fix);
	assert_true(rx_matches(dep->hints[0].re, "open: permission denied"));
	assert_false(rx_matches(dep->hints[1].re, "no Error: here"));
	assert_string_equal(dep->hints[1].pos.file, "10-deploy.yaml");
	assert_int_equal(dep->hints[1].pos.line, 31);

	/* The requires graph. */
	assert_true(chain_depends_on(c, 2, 0));
	assert_true(chain_depends_on(c, 2, 1));
	assert_true(chain_depends_on(c, 1, 0));
	assert_false(chain_depends_on(c, 0, 2));
	assert_false(chain_depends_on(c, 0, 0));
	assert_false(chain_depends_on(c, 2, 2));
	assert_false(chain_depends_on(c, 2, 99));

	/* Every position points at an interned file name. */
	for (size_t s = 0; s < c->nsteps; s++) {
		bool found = false;

		for (size_t f = 0; f < c->nfiles; f++)
			found = found || c->steps[s].pos.file == c->files[f];
		assert_true(found);
	}
	chain_free(&c);
	assert_null(c);
	chain_free(&c);
	free(dir);
}

/* A step that requires another transitively, deeper than one level. */
static void
test_depends_chain(void **state)
{
	struct chain *c;
	char name[32], text[256];

	put(state, "chain.yaml", base_chain);
	put(state, "00.yaml", "id: s0\nsection: one\ntitle: T\nplace: local\n"
	    "check: [\"true\"]\n");
	for (int i = 1; i < 6; i++) {
		snprintf(name, sizeof name, "%02d.yaml", i);
		snprintf(text, sizeof text, "id: s%d\nsection: one\ntitle: T\nplace: local\n"
		    "check: [\"true\"]\nrequires: [s%d]\n", i, i - 1);
		put(state, name, text);
	}
	c = load_ok(*state);
	assert_int_equal(c->nsteps, 6);
	assert_true(chain_depends_on(c, 5, 0));
	assert_true(chain_depends_on(c, 3, 2));
	assert_false(chain_depends_on(c, 2, 3));
	assert_false(chain_depends_on(c, 0, 5));
	chain_free(&c);
}

/* The real chain in assets/chain loads and says what CHAIN.md says. */
static void
test_real_chain(void **state)
{
	static const char *const sections[] = {
		"local", "host", "prereq", "dstack", "kms", "gateway", "app"
	};
	char *dir = xprintf("%s/assets/chain", tl_srcdir());
	struct chain *c = load_ok(dir);
	const struct step *st;
	const struct input_def *in;
	struct rx *re;
	int i;

	(void)state;
	assert_int_equal(c->nsections, nitems(sections));
	for (size_t s = 0; s < nitems(sections); s++)
		assert_string_equal(c->sections[s].id, sections[s]);
	assert_true(c->nsteps >= 2);
	assert_string_equal(c->steps[0].id, "local-dev-setup");
	assert_string_equal(c->steps[1].id, "tdx-hardware-verification");

	in = &c->inputs[chain_input_index(c, "dstack_version")];
	assert_string_equal(chain_input_default(in, NULL), "0.5.11");
	assert_int_equal(in->nchoices, 7);
	assert_string_equal(in->choices[0], "0.5.5");
	assert_string_equal(in->choices[6], "0.5.11");
	in = &c->inputs[chain_input_index(c, "hh_net")];
	assert_string_equal(chain_input_default(in, "0.5.6"), "test");
	assert_string_equal(chain_input_default(in, "0.5.7"), "custom");
	assert_string_equal(default_of(c, "local_repo_dir"), "~/dstack");
	assert_string_equal(default_of(c, "ssh_user"), "ubuntu");
	assert_string_equal(default_of(c, "ssh_port"), "22");
	assert_int_equal(c->inputs[chain_input_index(c, "server_ip")].type, IT_IP);
	assert_string_equal(default_of(c, "registry_domain"), "registry.${base_domain}");
	assert_string_equal(default_of(c, "kms_domain"), "kms.${base_domain}");
	assert_true(c->inputs[chain_input_index(c, "eth_rpc_url")].secret);
	in = &c->inputs[chain_input_index(c, "private_key")];
	assert_true(in->secret);
	assert_int_equal(in->scope, SCOPE_LOCAL);
	assert_true(rx_matches(in->pattern_re,
	    "0x0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"));
	assert_false(rx_matches(in->pattern_re, "0x1234"));
	in = &c->inputs[chain_input_index(c, "intel_api_key")];
	assert_true(in->secret);
	assert_true(rx_matches(in->pattern_re, "0123456789abcdef0123456789abcdef"));
	in = &c->inputs[chain_input_index(c, "kms_contract_address")];
	assert_int_equal(in->type, IT_ETH_ADDRESS);
	assert_true(in->optional);
	assert_string_equal(in->verify, "contract_code");
	assert_non_null(c->inputs[chain_input_index(c, "base_domain")].label);
	assert_int_not_equal(chain_input_index(c, "wallet_address"), -1);
	assert_int_not_equal(chain_input_index(c, "acme_email"), -1);

	/* local-dev-setup: local, node >= 18 by expect. */
	st = &c->steps[chain_step_index(c, "local-dev-setup")];
	assert_int_equal(st->place, PLACE_LOCAL);
	assert_true(st->naction >= 3);
	assert_true(st->nhints >= 3);
	assert_non_null(st->guide);
	for (size_t k = 0; k < st->ncheck; k++)
		assert_int_equal(st->check[k].on, PLACE_LOCAL);
	i = -1;
	for (size_t k = 0; k < st->ncheck; k++) {
		if (strcmp(st->check[k].run, "node --version") == 0)
			i = (int)k;
	}
	assert_int_not_equal(i, -1);
	re = rx_new(st->check[i].expect, RX_LINES, NULL);
	assert_non_null(re);
	assert_true(rx_matches(re, "v18.19.0\n"));
	assert_true(rx_matches(re, "v20.11.1\n"));
	assert_false(rx_matches(re, "v16.20.2\n"));
	assert_false(rx_matches(re, "v8.1.0\n"));
	rx_free(&re);
	assert_int_not_equal(chain_input_index(c, "dstack_version"), -1);

	/* tdx-hardware-verification: a read-only server step with a checklist. */
	st = &c->steps[chain_step_index(c, "tdx-hardware-verification")];
	assert_int_equal(st->place, PLACE_SERVER);
	assert_int_equal(st->nrequires, 0);
	assert_true(st->nchecklist >= 2);
	assert_true(st->ncheck >= 4);
	for (size_t k = 0; k < st->ncheck; k++)
		assert_int_equal(st->check[k].on, PLACE_SERVER);
	for (size_t k = 0; k < st->nhints; k++) {
		if (rx_matches(st->hints[k].re, "sudo: a password is required"))
			i = -2;
	}
	assert_int_equal(i, -2);
	chain_free(&c);
	free(dir);
}

/* libyaml syntax errors, at libyaml's position, in every broken file. */
static void
test_syntax_errors(void **state)
{
	char *cause;

	put(state, "chain.yaml", base_chain);
	put(state, "a.yaml", "id: s1\nsection: one\ntitle: [unclosed\nplace: local\n");
	put(state, "b.yaml", "id: s2\n  section: x\n");
	put(state, "c.yaml", "id: s3\n\tsection: x\n");
	cause = load_fail(*state);
	assert_line(cause, "a.yaml:4:6: syntax error: did not find expected ',' or ']' "
	    "(while parsing a flow sequence at line 3, column 8)");
	assert_line(cause, "b.yaml:2:10: syntax error: mapping values are not allowed in this "
	    "context");
	assert_line(cause, "c.yaml:2:1: syntax error: found a tab character that violates "
	    "indentation (while scanning a plain scalar at line 1, column 5)");
	assert_int_equal(count_lines(cause), 3);
	free(cause);
}

/* A broken chain.yaml is reported, and then sections and inputs are not checked. */
static void
test_chain_file_errors(void **state)
{
	char *cause;

	put(state, "chain.yaml", "sections: [\n");
	put(state, "s.yaml", "id: s\nsection: nowhere\ntitle: T\nplace: local\n"
	    "check: [\"echo ${undefined}\"]\n");
	cause = load_fail(*state);
	assert_line(cause, "chain.yaml:2:1: syntax error: did not find expected node content "
	    "(while parsing a flow node at line 2, column 1)");
	assert_int_equal(count_lines(cause), 1);
	free(cause);

	put(state, "chain.yaml", "title: x\n");
	cause = load_fail(*state);
	assert_line(cause, "chain.yaml:1:1: chain.yaml has no 'sections'");
	free(cause);

	put(state, "chain.yaml", "- a\n- b\n");
	cause = load_fail(*state);
	assert_line(cause, "chain.yaml:1:1: expected a mapping (title, sections, inputs), got "
	    "a list");
	free(cause);

	put(state, "chain.yaml",
	    "titel: x\n"
	    "sections:\n"
	    "  - id: one\n"
	    "  - id: one\n"
	    "    title: again\n"
	    "  - Bad_Id\n"
	    "inputs:\n"
	    "  - name: a\n"
	    "    label: A\n"
	    "    type: txt\n"
	    "    scope: global\n"
	    "    secret: maybe\n"
	    "  - name: a\n"
	    "    label: A again\n"
	    "  - name: Bad\n"
	    "    label: B\n"
	    "    lable: typo\n"
	    "  - label: no name\n"
	    "  - name: s\n"
	    "    type: secret\n"
	    "    secret: false\n"
	    "    label: S\n"
	    "    default: hunter2\n");
	put(state, "s.yaml", ok_step);
	cause = load_fail(*state);
	assert_line(cause, "chain.yaml:1:1: unknown key 'titel' (did you mean 'title'?)");
	assert_line(cause, "chain.yaml:3:5: section has no 'title'");
	assert_line(cause, "chain.yaml:4:9: duplicate section 'one' (first at line 3)");
	assert_line(cause, "chain.yaml:6:5: expected a section (a mapping with id and title), "
	    "got a string");
	assert_line(cause, "chain.yaml:10:11: type must be one of text, secret, eth_address, "
	    "ip, ipv4, ipv6, domain, url, port, email, version, path; got 'txt' "
	    "(did you mean 'text'?)");
	assert_line(cause, "chain.yaml:11:12: scope must be one of any, local; got 'global' "
	    "(did you mean 'local'?)");
	assert_line(cause, "chain.yaml:12:13: expected true or false, got 'maybe'");
	assert_line(cause, "chain.yaml:13:11: duplicate input 'a' (first at chain.yaml:8:5)");
	assert_line(cause, "chain.yaml:17:5: unknown key 'lable' (did you mean 'label'?)");
	assert_line(cause, "chain.yaml:15:11: input name 'Bad' must be lowercase letters, "
	    "digits and '_', starting with a letter");
	assert_line(cause, "chain.yaml:18:5: input has no 'name'");
	assert_line(cause, "chain.yaml:21:13: an input of type secret is always secret; drop "
	    "'secret: false'");
	assert_line(cause, "chain.yaml:23:14: secret input 's' cannot have a default; a secret "
	    "is never written in a file");
	/* a, Bad and the input with no name are text with no pattern */
	assert_int_equal(count_lines(cause), 16);
	free(cause);
}

/* verify: a known check, on an eth_address, and the chain has the input it asks through. */
static void
test_verify_field(void **state)
{
	char *cause;

	put(state, "chain.yaml",
	    "sections:\n"
	    "  - {id: one, title: One}\n"
	    "inputs:\n"
	    "  - name: a\n"
	    "    label: A\n"
	    "    type: eth_address\n"
	    "    verify: contract_cod\n"
	    "  - name: b\n"
	    "    label: B\n"
	    "    type: text\n"
	    "    verify: contract_code\n"
	    "  - name: c\n"
	    "    label: C\n"
	    "    type: eth_address\n"
	    "    verify: contract_code\n"
	    "  - name: d\n"
	    "    label: D\n"
	    "    verify:\n");
	put(state, "s.yaml", ok_step);
	cause = load_fail(*state);
	assert_line(cause, "chain.yaml:7:13: verify must be one of contract_code; got "
	    "'contract_cod' (did you mean 'contract_code'?)");
	assert_line(cause, "chain.yaml:11:13: verify: contract_code needs an input of type "
	    "eth_address");
	assert_line(cause, "chain.yaml:18:5: 'verify' is empty");
	assert_line(cause, "chain.yaml:8:5: input 'b' has verify: contract_code, which asks the "
	    "chain through an input named eth_rpc_url; there is none");
	assert_line(cause, "chain.yaml:12:5: input 'c' has verify: contract_code, which asks the "
	    "chain through an input named eth_rpc_url; there is none");
	assert_line(cause, "chain.yaml:8:5: input 'b' of type text has no pattern: its value could "
	    "hold characters a shell or sed would act on; give it a pattern:, or quoted: true if "
	    "every command passes it only in double quotes (lint checks that)");
	assert_int_equal(count_lines(cause), 7);   /* and d */
	free(cause);
}

/* Values of the wrong kind. */
static void
test_wrong_kinds(void **state)
{
	char *cause;

	put(state, "chain.yaml", base_chain);
	put(state, "s.yaml",
	    "id: s\n"                        /* 1 */
	    "section: one\n"                 /* 2 */
	    "title: [a, b]\n"                /* 3 */
	    "place: local\n"                 /* 4 */
	    "requires: {a: b}\n"             /* 5 */
	    "inputs: name_a\n"               /* 6 */
	    "checklist: [[x]]\n"             /* 7 */
	    "check:\n"                       /* 8 */
	    "  - [echo]\n"                   /* 9 */
	    "  - run: x\n"                   /* 10 */
	    "    env: [A]\n"                 /* 11 */
	    "  - run: y\n"                   /* 12 */
	    "    env:\n"                     /* 13 */
	    "      A: \"1\"\n"               /* 14 */
	    "      B: [1]\n"                 /* 15 */
	    "      1BAD: x\n"                /* 16 */
	    "      A: again\n"               /* 17 */
	    "action: run this\n"             /* 18 */
	    "capture: [x]\n"                 /* 19 */
	    "hints: {match: x}\n"            /* 20 */
	    "effects: sudo\n"                /* 21 */
	    "summary: {x: y}\n"              /* 22 */
	    "notes: [say this]\n");          /* 23 */
	cause = load_fail(*state);
	assert_line(cause, "s.yaml:3:8: expected a string, got a list");
	assert_line(cause, "s.yaml:5:11: expected a list of step ids, got a mapping");
	assert_line(cause, "s.yaml:6:9: expected a list of input names, got a string");
	assert_line(cause, "s.yaml:7:13: expected a task (a string), got a list");
	assert_line(cause, "s.yaml:9:5: expected a command (a string or a mapping with run:), "
	    "got a list");
	assert_line(cause, "s.yaml:11:10: expected a mapping of environment variables "
	    "(NAME: value), got a list");
	assert_line(cause, "s.yaml:15:10: expected a string, got a list");
	assert_line(cause, "s.yaml:16:7: '1BAD' is not a valid environment variable name");
	assert_line(cause, "s.yaml:17:7: environment variable 'A' is set twice");
	assert_line(cause, "s.yaml:18:9: expected a list of commands, got a string");
	assert_line(cause, "s.yaml:19:11: expected a capture (a mapping with name and regex), "
	    "got a string");
	assert_line(cause, "s.yaml:20:8: expected a list of hints, got a mapping");
	assert_line(cause, "s.yaml:21:10: expected a list of effects, got a string");
	assert_line(cause, "s.yaml:22:10: expected a string, got a mapping");
	assert_line(cause, "s.yaml:23:8: expected a string, got a list");
	assert_int_equal(count_lines(cause), 15);
	free(cause);
}

/* Required keys that are missing or empty. */
static void
test_missing_keys(void **state)
{
	char *cause;

	put(state, "chain.yaml", base_chain);
	put(state, "s.yaml",
	    "id: s\n"                        /* 1 */
	    "section: one\n"                 /* 2 */
	    "summary: no title, no place\n"  /* 3 */
	    "check:\n"                       /* 4 */
	    "  - name: no run\n"             /* 5 */
	    "    cwd: /tmp\n"                /* 6 */
	    "  - run: \"\"\n"                /* 7 */
	    "capture:\n"                     /* 8 */
	    "  - name: name_a\n"             /* 9 */
	    "hints:\n"                       /* 10 */
	    "  - match: x\n");               /* 11 */
	put(state, "t.yaml", "title: no id\nsection: two\nplace: local\ncheck: []\n");
	put(state, "u.yaml", "id: u\nsection:\ntitle: T\nplace:\ncheck:\n");
	cause = load_fail(*state);
	assert_line(cause, "s.yaml:1:1: step has no 'title'");
	assert_line(cause, "s.yaml:1:1: step has no 'place'");
	assert_line(cause, "s.yaml:5:5: command has no 'run' (or http, tcp, rpc)");
	assert_line(cause, "s.yaml:7:5: 'run' is empty");
	assert_line(cause, "s.yaml:9:5: capture has no 'regex'");
	assert_line(cause, "s.yaml:11:5: hint has no 'say'");
	assert_line(cause, "t.yaml:1:1: step has no 'id'");
	assert_line(cause, "t.yaml:4:1: 'check' is empty; only a passing check marks a step "
	    "done");
	assert_line(cause, "u.yaml:2:1: 'section' is empty");
	assert_line(cause, "u.yaml:4:1: 'place' is empty");
	assert_line(cause, "u.yaml:5:1: 'check' is empty; only a passing check marks a step "
	    "done");
	assert_int_equal(count_lines(cause), 11);
	free(cause);

	for (const char *n = "tu"; *n != '\0'; n++) {
		char *p = xprintf("%s/%c.yaml", (char *)*state, *n);

		assert_int_equal(unlink(p), 0);
		free(p);
	}
	expect_one(state, "id: s\nsection: one\ntitle: T\nplace: local\n",
	    "s.yaml:1:1: step has no 'check'; only a passing check marks a step done");
}

/* Unknown keys, with a suggestion only when a known key is close. */
static void
test_unknown_keys(void **state)
{
	char *cause;

	put(state, "chain.yaml", base_chain);
	put(state, "s.yaml",
	    "id: s\n"                        /* 1 */
	    "section: one\n"                 /* 2 */
	    "title: T\n"                     /* 3 */
	    "place: local\n"                 /* 4 */
	    "requries: []\n"                 /* 5 */
	    "zzzzzz: 1\n"                    /* 6 */
	    "check:\n"                       /* 7 */
	    "  - run: x\n"                   /* 8 */
	    "    timeuot: 5\n"               /* 9 */
	    "    stdn: y\n"                  /* 10 */
	    "hints:\n"                       /* 11 */
	    "  - match: x\n"                 /* 12 */
	    "    say: y\n"                   /* 13 */
	    "    fixx: z\n"                  /* 14 */
	    "title: again\n");               /* 15 */
	cause = load_fail(*state);
	assert_line(cause, "s.yaml:5:1: unknown key 'requries' (did you mean 'requires'?)");
	assert_line(cause, "s.yaml:6:1: unknown key 'zzzzzz'");
	assert_line(cause, "s.yaml:9:5: unknown key 'timeuot' (did you mean 'timeout'?)");
	assert_line(cause, "s.yaml:10:5: unknown key 'stdn' (did you mean 'stdin'?)");
	assert_line(cause, "s.yaml:14:5: unknown key 'fixx' (did you mean 'fix'?)");
	assert_line(cause, "s.yaml:15:1: duplicate key 'title' (first at line 3)");
	assert_int_equal(count_lines(cause), 6);
	free(cause);
}

/* Enumerations list the allowed values. */
static void
test_enums(void **state)
{
	char *cause;

	put(state, "chain.yaml", base_chain);
	put(state, "s.yaml",
	    "id: s\n"                        /* 1 */
	    "section: one\n"                 /* 2 */
	    "title: T\n"                     /* 3 */
	    "place: remote\n"                /* 4 */
	    "effects: [sudo, reboots, {}]\n" /* 5 */
	    "check:\n"                       /* 6 */
	    "  - run: x\n"                   /* 7 */
	    "    on: manual\n"               /* 8 */
	    "  - run: y\n"                   /* 9 */
	    "    on: servr\n");              /* 10 */
	cause = load_fail(*state);
	assert_line(cause, "s.yaml:4:8: place must be one of local, server, manual; got "
	    "'remote'");
	assert_line(cause, "s.yaml:5:17: an effect must be one of sudo, transaction, reboot, "
	    "long; got 'reboots' (did you mean 'reboot'?)");
	assert_line(cause, "s.yaml:5:26: an effect must be one of sudo, transaction, reboot, "
	    "long; got a mapping");
	assert_line(cause, "s.yaml:8:9: on must be one of local, server; got 'manual'");
	assert_line(cause, "s.yaml:10:9: on must be one of local, server; got 'servr' "
	    "(did you mean 'server'?)");
	assert_int_equal(count_lines(cause), 5);
	free(cause);
}

/* Timeouts are positive whole numbers of seconds. */
static void
test_timeouts(void **state)
{
	char *cause;

	put(state, "chain.yaml", base_chain);
	put(state, "s.yaml",
	    "id: s\nsection: one\ntitle: T\nplace: local\n"
	    "check:\n"                       /* 5 */
	    "  - run: a\n"                   /* 6 */
	    "    timeout: 1.5\n"             /* 7 */
	    "  - run: b\n"                   /* 8 */
	    "    timeout: 0\n"               /* 9 */
	    "  - run: c\n"                   /* 10 */
	    "    timeout: -3\n"              /* 11 */
	    "  - run: d\n"                   /* 12 */
	    "    timeout: [1]\n"             /* 13 */
	    "  - run: e\n"                   /* 14 */
	    "    timeout: 99999999999999999999999\n"   /* 15 */
	    "  - run: f\n"                   /* 16 */
	    "    timeout: 604800\n");        /* 17 */
	cause = load_fail(*state);
	assert_line(cause, "s.yaml:7:14: timeout must be a positive whole number of seconds, "
	    "got '1.5'");
	assert_line(cause, "s.yaml:9:14: timeout must be a positive whole number of seconds, "
	    "got '0'");
	assert_line(cause, "s.yaml:11:14: timeout must be a positive whole number of seconds, "
	    "got '-3'");
	assert_line(cause, "s.yaml:13:14: timeout must be a positive whole number of seconds, "
	    "got a list");
	assert_line(cause, "s.yaml:15:14: timeout is more than 604800 seconds (a week)");
	assert_int_equal(count_lines(cause), 5);
	free(cause);
}

/* takes: is a duration with units, largest first; errors name file:line:column. */
static void
test_takes(void **state)
{
	struct chain *c = NULL;
	char *cause = NULL;
	static const char *const bad[][2] = {
		{ "15", "takes must be a duration such as 15m, 1h30m or 90s (hours, minutes, "
		    "seconds, largest first), got '15'" },
		{ "0m", "takes must be a duration such as 15m, 1h30m or 90s (hours, minutes, "
		    "seconds, largest first), got '0m'" },
		{ "5m1h", "takes must be a duration such as 15m, 1h30m or 90s (hours, minutes, "
		    "seconds, largest first), got '5m1h'" },
		{ "m", "takes must be a duration such as 15m, 1h30m or 90s (hours, minutes, "
		    "seconds, largest first), got 'm'" },
		{ "2d", "takes must be a duration such as 15m, 1h30m or 90s (hours, minutes, "
		    "seconds, largest first), got '2d'" },
		{ "[1m]", "takes must be a duration such as 15m, 1h30m or 90s, got a list" },
		{ "169h", "takes is more than a week" },
		{ "99999999999999999999s", "takes is more than a week" },
	};

	put(state, "chain.yaml", base_chain);
	put(state, "s.yaml", "id: s\nsection: one\ntitle: T\nplace: local\n"
	    "takes: 1h30m\ncheck: [\"true\"]\n");
	assert_int_equal(chain_load(*state, &c, &cause), 0);
	assert_int_equal(c->steps[0].takes, 5400);
	chain_free(&c);
	put(state, "s.yaml", "id: s\nsection: one\ntitle: T\nplace: local\n"
	    "takes: 90s\ncheck: [\"true\"]\n");
	assert_int_equal(chain_load(*state, &c, &cause), 0);
	assert_int_equal(c->steps[0].takes, 90);
	chain_free(&c);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *text = xprintf("id: s\nsection: one\ntitle: T\nplace: local\n"
		    "takes: %s\ncheck: [\"true\"]\n", bad[i][0]);
		char *want = xprintf("s.yaml:5:8: %s", bad[i][1]);

		put(state, "s.yaml", text);
		cause = load_fail(*state);
		assert_line(cause, want);
		assert_int_equal(count_lines(cause), 1);
		free(cause);
		free(want);
		free(text);
	}
}

/* Duplicate step ids name both places; duplicate inputs in a step's list. */
static void
test_duplicates(void **state)
{
	char *cause;

	put(state, "chain.yaml", base_chain);
	put(state, "a.yaml", ok_step);
	put(state, "sub/b.yaml", "title: T\nid: ok\nsection: two\nplace: local\n"
	    "check: [\"true\"]\ninputs: [name_a, base_domain, name_a]\n");
	cause = load_fail(*state);
	assert_line(cause, "sub/b.yaml:2:5: duplicate step id 'ok' (first at a.yaml:1:5)");
	assert_line(cause, "sub/b.yaml:6:31: input 'name_a' is listed twice");
	assert_int_equal(count_lines(cause), 2);
	free(cause);
}

/* Unknown sections, requires and ids, with suggestions. */
static void
test_unknown_refs(void **state)
{
	char *cause;

	put(state, "chain.yaml", base_chain);
	put(state, "a.yaml", "id: tdx-hardware-verification\nsection: one\ntitle: T\n"
	    "place: local\ncheck: [\"true\"]\n");
	put(state, "b.yaml",
	    "id: b\n"                                        /* 1 */
	    "section: onw\n"                                 /* 2 */
	    "title: T\n"                                     /* 3 */
	    "place: local\n"                                 /* 4 */
	    "requires:\n"                                    /* 5 */
	    "  - tdx-hardwre-verification\n"                 /* 6 */
	    "  - something-else\n"                           /* 7 */
	    "  - b\n"                                        /* 8 */
	    "  - something-else\n"                           /* 9 */
	    "inputs: [nam_a, zzz]\n"                         /* 10 */
	    "check: [\"true\"]\n");                          /* 11 */
	put(state, "c.yaml", "id: Bad_Id\nsection: three\ntitle: T\nplace: local\n"
	    "check: [\"true\"]\n");
	cause = load_fail(*state);
	assert_line(cause, "b.yaml:2:10: unknown section 'onw' (did you mean 'one'?)");
	assert_line(cause, "b.yaml:6:5: requires unknown step 'tdx-hardwre-verification' "
	    "(did you mean 'tdx-hardware-verification'?)");
	assert_line(cause, "b.yaml:7:5: requires unknown step 'something-else'");
	assert_line(cause, "b.yaml:8:5: requires form a cycle: b -> b");
	assert_line(cause, "b.yaml:9:5: 'something-else' is listed twice in requires");
	assert_line(cause, "b.yaml:10:10: 'nam_a' is not a defined input (did you mean "
	    "'name_a'?)");
	assert_line(cause, "b.yaml:10:17: 'zzz' is not a defined input");
	assert_line(cause, "c.yaml:1:5: step id 'Bad_Id' must be lowercase letters, digits "
	    "and '-'");
	assert_line(cause, "c.yaml:2:10: unknown section 'three'");
	assert_int_equal(count_lines(cause), 9);
	free(cause);
}

/* A cycle in requires prints the whole cycle, once. */
static void
test_cycles(void **state)
{
	char *cause;

	put(state, "chain.yaml", base_chain);
	put(state, "1.yaml", "id: a\nsection: one\ntitle: A\nplace: local\ncheck: [\"true\"]\n"
	    "requires: [b]\n");
	put(state, "2.yaml", "id: b\nsection: one\ntitle: B\nplace: local\ncheck: [\"true\"]\n"
	    "requires: [c, d]\n");
	put(state, "3.yaml", "id: c\nsection: one\ntitle: C\nplace: local\ncheck: [\"true\"]\n"
	    "requires: [d, a]\n");
	put(state, "4.yaml", "id: d\nsection: one\ntitle: D\nplace: local\ncheck: [\"true\"]\n");
	cause = load_fail(*state);
	assert_string_equal(cause, "3.yaml:6:15: requires form a cycle: a -> b -> c -> a");
	free(cause);
}

/* ${name} must name a defined input; positions are exact. */
static void
test_undefined_inputs(void **state)
{
	char *cause;

	put(state, "chain.yaml", base_chain);
	put(state, "s.yaml",
	    "id: s\n"                                        /* 1 */
	    "section: one\n"                                 /* 2 */
	    "title: T\n"                                     /* 3 */
	    "place: local\n"                                 /* 4 */
	    "check:\n"                                       /* 5 */
	    "  - echo ${name_a} ${kms_domian}\n"             /* 6 */
	    "  - run: |\n"                                   /* 7 */
	    "      set -e\n"                                 /* 8 */
	    "      for i in 1 2; do echo ${i}; done\n"       /* 9 */
	    "      echo $HOST ${HOST} ${base_domain%.*}\n"   /* 10 */
	    "    cwd: \"/x/${nope}\"\n"                      /* 11 */
	    "    env:\n"                                     /* 12 */
	    "      A: ${base_domain} and ${base_domian}\n"   /* 13 */
	    "    stdin: >\n"                                 /* 14 */
	    "      folded ${name_a}\n"                       /* 15 */
	    "      ${nop}\n"                                 /* 16 */
	    "    expect: ${i}\n"                             /* 17 */
	    "capture:\n"                                     /* 18 */
	    "  - name: kms_domian\n"                         /* 19 */
	    "    regex: '(x)'\n");                           /* 20 */
	cause = load_fail(*state);
	assert_line(cause, "s.yaml:6:20: ${kms_domian} is not a defined input (did you mean "
	    "'kms_domain'?)");
	assert_line(cause, "s.yaml:9:29: ${i} is not a defined input");
	assert_line(cause, "s.yaml:11:14: ${nope} is not a defined input");
	assert_line(cause, "s.yaml:13:29: ${base_domian} is not a defined input (did you mean "
	    "'base_domain'?)");
	assert_line(cause, "s.yaml:14:12: ${nop} is not a defined input");
	assert_line(cause, "s.yaml:17:13: ${i} is not a defined input");
	assert_line(cause, "s.yaml:19:11: capture names 'kms_domian', which is not a defined "
	    "input (did you mean 'kms_domain'?)");
	assert_int_equal(count_lines(cause), 7);
	free(cause);
}

/* Repeated references and non-ASCII text still get exact columns (in characters). */
static void
test_ref_positions(void **state)
{
	char *cause;

	put(state, "chain.yaml", base_chain);
	put(state, "s.yaml",
	    "id: s\nsection: one\ntitle: T\nplace: local\n"
	    "check:\n"                                       /* 5 */
	    "  - echo ${zz} ${zz}\n"                         /* 6 */
	    "  - \"\xc3\xa9 ${zz}\"\n"                       /* 7 */
	    "  - run: |\n"                                   /* 8 */
	    "      ${zz}; ${zz}\n"                           /* 9 */
	    "  - \"\xc3\xa9\xc3\xa9\\n${zz}\"\n");              /* 10 */
	cause = load_fail(*state);
	assert_line(cause, "s.yaml:6:10: ${zz} is not a defined input");
	assert_line(cause, "s.yaml:6:16: ${zz} is not a defined input");
	assert_line(cause, "s.yaml:7:8: ${zz} is not a defined input");
	assert_line(cause, "s.yaml:9:7: ${zz} is not a defined input");
	assert_line(cause, "s.yaml:9:14: ${zz} is not a defined input");
	assert_line(cause, "s.yaml:10:5: ${zz} is not a defined input");
	assert_int_equal(count_lines(cause), 6);
	free(cause);
}

/* Input defaults: defined references, no cycles, no secret leaks. */
static void
test_defaults(void **state)
{
	char *cause;

	put(state, "chain.yaml",
	    "sections: [{id: one, title: One}]\n"            /* 1 */
	    "inputs:\n"                                      /* 2 */
	    "  - {name: a, label: A, default: \"${b}.x\", quoted: true}\n" /* 3 */
	    "  - {name: b, label: B, default: \"${c}\", quoted: true}\n"   /* 4 */
	    "  - {name: c, label: C, default: \"${a}\", quoted: true}\n"   /* 5 */
	    "  - {name: d, label: D, default: \"${d}\", quoted: true}\n"   /* 6 */
	    "  - {name: e, label: E, default: \"${f}\", quoted: true}\n"   /* 7 */
	    "  - {name: key, label: K, type: secret}\n"      /* 8 */
	    "  - {name: g, label: G, default: \"k=${key}\", quoted: true}\n" /* 9 */
	    "  - {name: h, label: H, default: \"${nope}\", quoted: true}\n"); /* 10 */
	put(state, "s.yaml", ok_step);
	cause = load_fail(*state);
	assert_line(cause, "chain.yaml:5:34: input defaults form a cycle: a -> b -> c -> a");
	assert_line(cause, "chain.yaml:6:34: input defaults form a cycle: d -> d");
	assert_line(cause, "chain.yaml:7:35: ${f} is not a defined input");
	assert_line(cause, "chain.yaml:9:37: the default of 'g' uses secret input 'key'; a "
	    "secret cannot flow into an input that is not secret");
	assert_line(cause, "chain.yaml:10:35: ${nope} is not a defined input");
	assert_int_equal(count_lines(cause), 5);
	free(cause);
}

/* Regexes must compile; captures need a group; absurd repeats are refused. */
static void
test_regexes(void **state)
{
	char *cause;

	put(state, "chain.yaml",
	    "sections: [{id: one, title: One}]\n"            /* 1 */
	    "inputs:\n"                                      /* 2 */
	    "  - name: a\n"                                  /* 3 */
	    "    label: A\n"                                 /* 4 */
	    "    pattern: '^(x'\n");                         /* 5 */
	put(state, "s.yaml",
	    "id: s\nsection: one\ntitle: T\nplace: local\n"
	    "check:\n"                                       /* 5 */
	    "  - run: x\n"                                   /* 6 */
	    "    expect: '[z'\n"                             /* 7 */
	    "  - run: y\n"                                   /* 8 */
	    "    expect: '^v${a}$'\n"                        /* 9 */
	    "  - run: z\n"                                   /* 10 */
	    "    expect: '((a{200}){200}){200}'\n"           /* 11 */
	    "capture:\n"                                     /* 12 */
	    "  - {name: a, regex: 'no group'}\n"             /* 13 */
	    "  - {name: a, regex: '(x'}\n"                   /* 14 */
	    "hints:\n"                                       /* 15 */
	    "  - {match: 'a{2,1}', say: s}\n");              /* 16 */
	cause = load_fail(*state);
	assert_line(cause, "chain.yaml:5:14: pattern: bad regex '^(x': missing closing "
	    "parenthesis at offset 3");
	assert_line(cause, "s.yaml:7:13: expect: bad regex '[z': missing terminating ] for "
	    "character class at offset 2");
	assert_line(cause, "s.yaml:11:13: expect: bad regex '((a{200}){200}){200}': regular "
	    "expression is too large at offset 20");
	assert_line(cause, "s.yaml:13:22: capture regex 'no group' has no group; put ( ) around "
	    "the value to capture");
	assert_line(cause, "s.yaml:14:22: regex: bad regex '(x': missing closing parenthesis at "
	    "offset 2");
	assert_line(cause, "s.yaml:16:13: match: bad regex 'a{2,1}': numbers out of order in {} "
	    "quantifier at offset 5");
	assert_int_equal(count_lines(cause), 6);
	free(cause);
}

/* Regexes that make glibc's regcomp take gigabytes or minutes load at once (PCRE2 neither
 * unrolls them without bound nor backtracks at compile time); one too large to compile, or a
 * GNU word edge, is refused. */
static void
test_regex_sizes(void **state)
{
	struct chain *c;
	char *cause;
	uint64_t t0;

	put(state, "chain.yaml", base_chain);
	put(state, "s.yaml",
	    "id: s\nsection: one\ntitle: T\nplace: local\ncheck:\n"
	    "  - {run: x, expect: '((x{000}){20}){20}'}\n"
	    "  - {run: x, expect: '(x?){600}'}\n"
	    "  - {run: x, expect: '(a|){600}'}\n"
	    "  - {run: x, expect: '(x+){2500}'}\n"
	    "  - {run: x, expect: '(^|$){64}'}\n"
	    "  - {run: x, expect: '(((((((((()))))))))){30}'}\n"
	    "  - {run: x, expect: '(a{98}){100}'}\n"
	    "  - {run: x, expect: '(((((((((((((((:?)?)?)?)?)?)?)?)?)?)+)+)+)+)+)+'}\n");
	t0 = now_ms();
	c = load_ok(*state);
	assert_true(now_ms() - t0 < 2000);
	chain_free(&c);

	put(state, "s.yaml",
	    "id: s\nsection: one\ntitle: T\nplace: local\ncheck:\n"
	    "  - {run: x, expect: '((x{1000}){1000}){1000}'}\n"
	    "  - {run: x, expect: '\\<word\\>'}\n");
	cause = load_fail(*state);
	assert_line(cause, "s.yaml:6:22: expect: bad regex '((x{1000}){1000}){1000}': regular "
	    "expression is too large at offset 23");
	assert_line(cause, "s.yaml:7:22: expect: bad regex '\\<word\\>': \\< (a GNU word edge) "
	    "is not supported: use \\b, or \\< in a bracket [<] for the character");
	assert_int_equal(count_lines(cause), 2);
	free(cause);
}

/* version: on commands, captures, hints and defaults; choices: on inputs; and what is wrong
 * with them, at its position. */
static void
test_versions(void **state)
{
	static const char vchain[] =
	    "sections: [{id: one, title: One}]\n"                       /* 1 */
	    "inputs:\n"                                                 /* 2 */
	    "  - name: dstack_version\n"                                /* 3 */
	    "    label: Release\n"                                      /* 4 */
	    "    default: '0.5.11'\n"                                   /* 5 */
	    "    choices: ['0.5.5', '0.5.9', '0.5.11']\n"               /* 6 */
	    "  - name: net\n"                                           /* 7 */
	    "    label: Net\n"                                          /* 8 */
	    "    quoted: true\n"
	    "    default:\n"
	    "      - {value: custom, version: '>= 0.5.9'}\n"
	    "      - {value: test}\n";
	struct chain *c;
	const struct step *st;
	char *cause;

	put(state, "chain.yaml", vchain);
	put(state, "s.yaml",
	    "id: s\nsection: one\ntitle: T\nplace: local\n"
	    "check:\n"
	    "  - run: 'true'\n"
	    "  - {run: 'echo ${net}', version: '>= 0.5.5 < 0.5.9'}\n"
	    "capture: [{name: net, regex: '(x)', version: '== 0.5.11'}]\n"
	    "hints: [{match: y, say: s, version: '!= 0.5.5'}]\n");
	c = load_ok(*state);
	st = &c->steps[0];
	assert_null(st->check[0].when);
	assert_non_null(st->check[1].when);
	assert_string_equal(st->check[1].when->text, ">= 0.5.5 < 0.5.9");
	assert_true(vcond_holds(st->check[1].when, "0.5.5"));
	assert_false(vcond_holds(st->check[1].when, "0.5.9"));
	assert_false(vcond_holds(st->check[1].when, "0.5"));
	assert_false(vcond_holds(st->check[1].when, NULL));
	assert_true(vcond_holds(st->captures[0].when, "0.5.11"));
	assert_false(vcond_holds(st->hints[0].when, "0.5.5"));
	assert_true(vcond_holds(st->hints[0].when, "0.5.10"));   /* numbers, not text */
	assert_int_equal(st->nlisted, 0);
	assert_int_equal(st->ninputs, 1);
	assert_string_equal(chain_input_default(&c->inputs[1], "0.5.9"), "custom");
	assert_string_equal(chain_input_default(&c->inputs[1], "0.5.5"), "test");
	assert_int_equal(c->inputs[0].nchoices, 3);
	chain_free(&c);

	put(state, "s.yaml",
	    "id: s\nsection: one\ntitle: T\nplace: local\n"     /* 1-4 */
	    "check:\n"                                          /* 5 */
	    "  - {run: x, version: 'about 0.5'}\n"              /* 6 */
	    "  - {run: x, version: '>= 0.5.19'}\n"              /* 7 */
	    "  - {run: x, version: '>= 0.5'}\n"                 /* 8 */
	    "  - {run: x, version: [0.5.5]}\n"                  /* 9 */
	    "  - {run: x, version: '> 0.5.5 > 0.5.5 > 0.5.5 > 0.5.5 > 0.5.5'}\n");   /* 10 */
	cause = load_fail(*state);
	assert_line(cause, "s.yaml:6:23: version: 'about 0.5': each part is a comparison (>=, >, "
	    "<=, <, == or !=) and a version, like '>= 0.5.6 < 0.5.9'");
	assert_line(cause, "s.yaml:7:23: version: 0.5.19 is not one of the releases "
	    "dstack_version may be (its choices in chain.yaml)");
	assert_line(cause, "s.yaml:8:23: version: '>= 0.5': a version is three numbers, like "
	    "0.5.9");
	assert_line(cause, "s.yaml:9:23: version: expected a condition like '>= 0.5.9', got a "
	    "list");
	assert_line(cause, "s.yaml:10:23: version: '> 0.5.5 > 0.5.5 > 0.5.5 > 0.5.5 > 0.5.5': "
	    "at most four comparisons");
	assert_int_equal(count_lines(cause), 5);
	free(cause);

	/* Without a release input, a condition has nothing to compare. */
	put(state, "chain.yaml", base_chain);
	put(state, "s.yaml", "id: s\nsection: one\ntitle: T\nplace: local\n"
	    "check: [{run: x, version: '>= 0.5.9'}]\n");
	cause = load_fail(*state);
	assert_string_equal(cause, "s.yaml:5:27: version: conditions compare the input "
	    "dstack_version, which chain.yaml does not define");
	free(cause);

	/* A default outside the choices; the release's own default cannot depend on it. */
	put(state, "chain.yaml",
	    "sections: [{id: one, title: One}]\n"                       /* 1 */
	    "inputs:\n"                                                 /* 2 */
	    "  - name: dstack_version\n"                                /* 3 */
	    "    label: Release\n"                                      /* 4 */
	    "    default: [{value: '0.5.9', version: '>= 0.5.9'}]\n"    /* 5 */
	    "    choices: ['0.5.5', '0.5.9']\n"                         /* 6 */
	    "  - name: mode\n"                                          /* 7 */
	    "    label: Mode\n"                                         /* 8 */
	    "    default: maybe\n"                                      /* 9 */
	    "    choices: [yes, no]\n"                                  /* 10 */
	    "  - name: empty\n"                                         /* 11 */
	    "    label: Empty\n"                                        /* 12 */
	    "    choices: []\n");                                       /* 13 */
	put(state, "s.yaml", "id: s\nsection: one\ntitle: T\nplace: local\ncheck: [x]\n");
	cause = load_fail(*state);
	assert_line(cause, "chain.yaml:5:41: the default of dstack_version cannot depend on the "
	    "release: it says which release is in use");
	assert_line(cause, "chain.yaml:7:5: the default 'maybe' of 'mode' is not one of its "
	    "choices");
	assert_line(cause, "chain.yaml:13:14: choices: the list is empty");
	assert_int_equal(count_lines(cause), 4);   /* and 'empty' is text with no pattern */
	free(cause);
}

/* Secrets only through env:/stdin:, local-only inputs never on the server. */
static void
test_secrets(void **state)
{
	char *cause;

	put(state, "chain.yaml", base_chain);
	put(state, "02-x.yaml",
	    "id: x\n"                                        /* 1 */
	    "section: one\n"                                 /* 2 */
	    "title: T\n"                                     /* 3 */
	    "place: server\n"                                /* 4 */
	    "check:\n"                                       /* 5 */
	    "  - run: echo ${api_token}\n"                   /* 6 */
	    "    cwd: /x/${api_token}\n"                     /* 7 */
	    "    expect: ${api_token}\n"                     /* 8 */
	    "  - run: ok\n"                                  /* 9 */
	    "    env:\n"                                     /* 10 */
	    "      TOKEN: ${api_token}\n"                    /* 11 */
	    "    stdin: ${api_token}\n"                      /* 12 */
	    "action:\n"                                      /* 13 */
	    "  - run: deploy\n"                              /* 14 */
	    "    env:\n"                                     /* 15 */
	    "      KEY: ${private_key}\n"                    /* 16 */
	    "  - run: deploy\n"                              /* 17 */
	    "    on: local\n"                                /* 18 */
	    "    env:\n"                                     /* 19 */
	    "      KEY: ${private_key}\n"                    /* 20 */
	    "    stdin: ${api_token}\n"                      /* 21 */
	    "  - run: ls ${local_dir}\n"                     /* 22 */
	    "capture:\n"                                     /* 23 */
	    "  - {name: api_token, regex: '(.*)'}\n");       /* 24 */
	put(state, "03-y.yaml",
	    "id: y\nsection: one\ntitle: T\nplace: local\n"
	    "check:\n"                                       /* 5 */
	    "  - run: fine\n"                                /* 6 */
	    "    env: {KEY: \"${private_key}\"}\n"           /* 7 */
	    "  - run: not fine\n"                            /* 8 */
	    "    on: server\n"                               /* 9 */
	    "    stdin: ${private_key}\n");                  /* 10 */
	cause = load_fail(*state);
	assert_line(cause, "02-x.yaml:6:15: secret input 'api_token' must not appear in run: "
	    "text; pass it to the command through env: or stdin:");
	assert_line(cause, "02-x.yaml:7:13: secret input 'api_token' must not appear in cwd: "
	    "text; pass it to the command through env: or stdin:");
	assert_line(cause, "02-x.yaml:8:13: secret input 'api_token' cannot be used in expect: "
	    "(output is redacted before it is matched)");
	assert_line(cause, "02-x.yaml:16:12: command runs on the server but references "
	    "private_key, a local-only secret (chain.yaml:19:5)");
	assert_line(cause, "02-x.yaml:22:13: command runs on the server but references "
	    "local_dir, a local-only input (chain.yaml:23:5)");
	assert_line(cause, "02-x.yaml:24:12: capture cannot fill secret input 'api_token' "
	    "(output is redacted before it is matched)");
	assert_line(cause, "03-y.yaml:10:12: command runs on the server but references "
	    "private_key, a local-only secret (chain.yaml:19:5)");
	assert_int_equal(count_lines(cause), 7);
	free(cause);
}

/* Several files, several errors: all of them, in file order. */
static void
test_many_errors(void **state)
{
	char *cause;
	const char *second;

	put(state, "chain.yaml", base_chain);
	put(state, "a.yaml", "id: a\nsection: one\ntitle: T\nplace: locl\ncheck: [\"true\"]\n"
	    "requires: [zz]\n");
	put(state, "b.yaml", "id: b\nsection: one\ntitle: T\nplace: local\ncheck: [\"${x}\"]\n"
	    "hints: [{match: '(', say: s}]\n");
	cause = load_fail(*state);
	assert_line(cause, "a.yaml:4:8: place must be one of local, server, manual; got 'locl' "
	    "(did you mean 'local'?)");
	assert_line(cause, "a.yaml:6:12: requires unknown step 'zz'");
	assert_line(cause, "b.yaml:5:10: ${x} is not a defined input");
	assert_line(cause, "b.yaml:6:17: match: bad regex '(': missing closing parenthesis at "
	    "offset 1");
	assert_int_equal(count_lines(cause), 4);
	/* File errors come in path order, graph errors at the end. */
	second = strstr(cause, "b.yaml:5:10");
	assert_non_null(second);
	assert_true(strstr(cause, "a.yaml:4:8") < second);
	assert_true(strstr(cause, "a.yaml:6:12") > second);
	free(cause);
}

/* After MAX_ERRORS lines the loader says so and stops adding. */
static void
test_error_cap(void **state)
{
	struct strbuf sb = {0};
	char *cause;

	put(state, "chain.yaml", base_chain);
	sb_adds(&sb, ok_step);
	for (int i = 0; i < 300; i++)
		sb_addf(&sb, "bad%d: x\n", i);
	put(state, "s.yaml", sb_str(&sb));
	sb_free(&sb);
	cause = load_fail(*state);
	assert_int_equal(count_lines(cause), 101);
	assert_line(cause, "s.yaml:7:1: unknown key 'bad0'");
	assert_line(cause, "s.yaml:106:1: unknown key 'bad99'");
	assert_line(cause, "s.yaml:107:1: too many errors; the rest are not shown");
	free(cause);
}

/* Files that are not YAML steps at all fail cleanly, with a position. */
static void
test_nasty_inputs(void **state)
{
	struct strbuf sb = {0};
	char *cause, bin[256];
	FILE *f;
	char *path;

	/* Empty step file, empty chain.yaml. */
	expect_one(state, "", "s.yaml:1:1: the step file is empty");
	expect_one(state, "# only a comment\n", "s.yaml:1:1: the step file is empty");
	expect_one(state, "- a\n- b\n", "s.yaml:1:1: expected a mapping (one step), got a list");
	expect_one(state, "just text\n", "s.yaml:1:1: expected a mapping (one step), got a "
	    "string");

	/* Binary junk. */
	for (size_t i = 0; i < sizeof bin; i++)
		bin[i] = (char)(i * 7 + 3);
	path = xprintf("%s/s.yaml", (char *)*state);
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(bin, 1, sizeof bin, f);
	fclose(f);
	cause = load_fail(*state);
	assert_string_equal(cause, "s.yaml:1:1: not valid text: control characters are not "
	    "allowed");
	free(cause);

	/* Deep nesting, flow and block. */
	for (int i = 0; i < 5000; i++)
		sb_addc(&sb, '[');
	put(state, "s.yaml", sb_str(&sb));
	cause = load_fail(*state);
	assert_string_equal(cause, "s.yaml:1:17: nested more than 16 levels deep");
	free(cause);
	sb_reset(&sb);
	for (int i = 0; i < 40; i++) {
		for (int j = 0; j < i; j++)
			sb_adds(&sb, "  ");
		sb_addf(&sb, "k%d:\n", i);
	}
	put(state, "s.yaml", sb_str(&sb));
	cause = load_fail(*state);
	assert_string_equal(cause, "s.yaml:17:33: nested more than 16 levels deep");
	free(cause);

	/* A huge scalar is fine below the size cap ... */
	sb_reset(&sb);
	sb_adds(&sb, "id: big\nsection: one\nplace: local\ncheck: [x]\ntitle: ");
	for (int i = 0; i < 1000000 - 100; i++)
		sb_addc(&sb, 'a' + i % 26);
	sb_addc(&sb, '\n');
	put(state, "chain.yaml", base_chain);
	put(state, "s.yaml", sb_str(&sb));
	{
		struct chain *c = load_ok(*state);

		assert_int_equal(strlen(c->steps[0].title), 1000000 - 100);
		chain_free(&c);
	}
	/* ... and refused above it. */
	for (int i = 0; i < 100000; i++)
		sb_addc(&sb, '#');
	put(state, "s.yaml", sb_str(&sb));
	cause = load_fail(*state);
	assert_string_equal(cause, "s.yaml:1:1: file is larger than 1048576 bytes");
	free(cause);

	/* Anchors (with or without an alias), aliases, a second document, NUL, invalid
	 * UTF-8, non-scalar keys, control chars. */
	expect_one(state, "a: &x 1\nb: 2\n",
	    "s.yaml:1:4: anchors (&x) are not supported; write each value out");
	expect_one(state, "a: &m {k: v}\n",
	    "s.yaml:1:4: anchors (&m) are not supported; write each value out");
	expect_one(state, "b: *x\n",
	    "s.yaml:1:4: aliases (*x) are not supported; write the value out");
	expect_one(state, "id: x\n---\nid: y\n",
	    "s.yaml:2:1: a second YAML document; a file holds exactly one");
	expect_one(state, "? [a]\n: b\n", "s.yaml:1:3: a key must be a plain string, not a list");
	expect_one(state, "id: \xff\xfe\n", "s.yaml:1:5: not valid text: invalid leading "
	    "UTF-8 octet");
	expect_one(state, "x\x01y: 1\n", "s.yaml:1:2: not valid text: control characters are "
	    "not allowed");
	put(state, "s.yaml", "id: \"a\\0b\"\nsection: one\ntitle: T\nplace: local\n"
	    "check: [x]\n");
	cause = load_fail(*state);
	assert_line(cause, "s.yaml:1:5: text must not contain NUL characters");
	free(cause);

	/* A long unknown key is echoed short and on one line. */
	sb_reset(&sb);
	sb_adds(&sb, ok_step);
	sb_adds(&sb, "\"k\\n");
	for (int i = 0; i < 200; i++)
		sb_addc(&sb, 'z');
	sb_adds(&sb, "\": 1\n");
	put(state, "s.yaml", sb_str(&sb));
	cause = load_fail(*state);
	sb_reset(&sb);
	sb_adds(&sb, "s.yaml:7:1: unknown key 'k?");
	for (int i = 0; i < 46; i++)
		sb_addc(&sb, 'z');
	sb_adds(&sb, "...'");
	assert_string_equal(cause, sb_str(&sb));
	free(cause);

	/* Many small nodes are cheap but capped. */
	sb_reset(&sb);
	sb_adds(&sb, "check: [");
	for (int i = 0; i < 250000; i++)
		sb_adds(&sb, "a,");
	sb_adds(&sb, "a]\n");
	put(state, "s.yaml", sb_str(&sb));
	cause = load_fail(*state);
	assert_true(str_has_suffix(cause, ": more than 200000 YAML nodes in one file"));
	free(cause);

	sb_free(&sb);
	free(path);
}

/* Missing directory, missing chain.yaml, no steps, a directory named like a step. */
static void
test_missing_files(void **state)
{
	char *cause, *dir, *want;

	cause = load_fail(*state);
	assert_line(cause, "chain.yaml:1:1: cannot open chain.yaml: No such file or directory");
	assert_line(cause, "chain.yaml:1:1: the chain has no steps (no other *.yaml file)");
	assert_int_equal(count_lines(cause), 2);
	free(cause);

	dir = xprintf("%s/nope", (char *)*state);
	cause = load_fail(dir);
	assert_line(cause, "chain.yaml:1:1: cannot open chain.yaml: No such file or directory");
	want = xprintf("%s:1:1: cannot read the chain directory: No such file or directory",
	    dir);
	assert_line(cause, want);
	assert_int_equal(count_lines(cause), 2);
	free(want);
	free(cause);
	free(dir);

	put(state, "chain.yaml", "");
	put(state, "s.yaml", ok_step);
	cause = load_fail(*state);
	assert_string_equal(cause, "chain.yaml:1:1: chain.yaml is empty; it needs at least "
	    "'sections'");
	free(cause);

	/* Only *.yaml files count; a directory named x.yaml is looked into, not read. */
	put(state, "chain.yaml", base_chain);
	put(state, "s.yml", "garbage: [");
	put(state, "README.md", "text");
	put(state, "d.yaml/inner.yaml", "id: inner\nsection: one\ntitle: Inner\nplace: local\n"
	    "check: [\"true\"]\n");
	{
		struct chain *c = load_ok(*state);

		assert_int_equal(c->nsteps, 2);
		assert_string_equal(c->steps[0].file, "d.yaml/inner.yaml");
		assert_string_equal(c->steps[1].file, "s.yaml");
		chain_free(&c);
	}

	/* Links count as what they point to (the listing goes by the entries' types, and
	 * stats only links): a linked directory and a linked file are loaded, a dangling link
	 * is passed over. */
	{
		char *other = tl_tmpdir(), *from, *to;
		struct chain *c;

		free(tl_write(other, "r.yaml", "id: r\nsection: one\ntitle: R\nplace: local\n"
		    "check: [\"true\"]\n"));
		free(tl_write(other, "x.txt", "id: x\nsection: one\ntitle: X\nplace: local\n"
		    "check: [\"true\"]\n"));
		from = xprintf("%s/linked", (char *)*state);
		assert_int_equal(symlink(other, from), 0);
		free(from);
		from = xprintf("%s/x.yaml", (char *)*state);
		to = xprintf("%s/x.txt", other);
		assert_int_equal(symlink(to, from), 0);
		free(from);
		free(to);
		from = xprintf("%s/m.yaml", (char *)*state);
		assert_int_equal(symlink("nowhere.yaml", from), 0);
		free(from);
		c = load_ok(*state);
		assert_int_equal(c->nsteps, 4);
		assert_string_equal(c->steps[0].file, "d.yaml/inner.yaml");
		assert_string_equal(c->steps[1].file, "linked/r.yaml");
		assert_string_equal(c->steps[2].file, "s.yaml");
		assert_string_equal(c->steps[3].file, "x.yaml");
		assert_string_equal(c->steps[3].id, "x");
		chain_free(&c);
		tl_rmrf(other);
		free(other);
	}
}

/* A chain without inputs is fine; so is cause == NULL on failure. */
static void
test_minimal(void **state)
{
	struct chain *c = NULL;

	put(state, "chain.yaml", "sections:\n  - {id: only, title: Only}\n");
	put(state, "s.yaml", "id: s\nsection: only\ntitle: T\nplace: server\ncheck: [uptime]\n");
	c = load_ok(*state);
	assert_null(c->title);
	assert_int_equal(c->ninputs, 0);
	assert_int_equal(c->steps[0].check[0].on, PLACE_SERVER);
	assert_string_equal(c->steps[0].check[0].run, "uptime");
	assert_int_equal(c->steps[0].check[0].pos.line, 5);
	assert_int_equal(c->steps[0].check[0].pos.col, 9);
	chain_free(&c);

	put(state, "t.yaml", "id: t\n");
	assert_int_equal(chain_load(*state, &c, NULL), -1);
	assert_null(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_good_chain),
		cmocka_unit_test_setup_teardown(test_depends_chain, setup_dir, teardown_dir),
		cmocka_unit_test(test_real_chain),
		cmocka_unit_test_setup_teardown(test_syntax_errors, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_chain_file_errors, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_verify_field, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_wrong_kinds, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_missing_keys, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_unknown_keys, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_enums, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_timeouts, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_takes, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_duplicates, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_unknown_refs, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_cycles, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_undefined_inputs, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_ref_positions, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_defaults, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_regexes, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_regex_sizes, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_versions, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_secrets, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_many_errors, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_error_cap, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_nasty_inputs, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_missing_files, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_minimal, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
