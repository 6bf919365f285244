/*
 * test-jsonpath.c: the assertion language of jsonpath.h: every operator, paths into objects
 * and arrays, filters, missing fields, bad JSON and bad expressions (with their columns).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"
#include "util.h"

/* A VMM Status answer, as in CHAIN.md. */
static const char status_json[] =
    "{\"vms\":[{\"id\":\"4f7c3c1e-0000-4000-8000-000000000001\",\"name\":\"gateway\","
    "\"status\":\"running\",\"boot_progress\":\"done\",\"boot_error\":\"\"},"
    "{\"id\":\"4f7c3c1e-0000-4000-8000-000000000002\",\"name\":\"kms\",\"status\":\"running\","
    "\"boot_progress\":\"booting\",\"boot_error\":\"\",\"vcpu\":4}],"
    "\"port_mapping_enabled\":true,\"total\":2,"
    "\"resources\":{\"max_allocable_vcpu\":32,\"max_allocable_memory_in_mb\":65536.5},"
    "\"images\":[{\"name\":\"dstack-0.5.5\"},{\"name\":\"dstack-dev-0.5.5\"}],"
    "\"repositories\":[\"dstack-kms\",\"dstack-gateway\"],"
    "\"ca_cert\":\"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\","
    "\"bootstrap_info\":null,\"is_dev\":false,\"chain_id\":11155111,"
    "\"kmsContractAddr\":\"0xAbC0000000000000000000000000000000000001\","
    "\"tcb_info\":\"{\\\"compose_hash\\\":\\\"ab12\\\",\\\"rtmr3\\\":\\\"00\\\"}\","
    "\"map\":{\"a\":1,\"b\":2},\"weird key.x\":\"w\",\"empty\":[],\"neg\":-3.5}";

struct tcase {
	const char *expr;
	int want;                 /* 1 holds, 0 does not, -1 malformed */
	const char *reason;       /* substring of the reason (NULL: not checked) */
};

/* Run a table of assertions against json. */
static void
run_table(const struct tcase *t, size_t n, const char *json)
{
	for (size_t i = 0; i < n; i++) {
		char *reason = NULL;
		int rc = jsonpath_assert(t[i].expr, json, strlen(json), &reason);

		if (rc != t[i].want)
			fail_msg("%s: got %d, wanted %d (%s)", t[i].expr, rc, t[i].want,
			    reason ? reason : "no reason");
		if (rc == 1)
			assert_null(reason);
		else {
			assert_non_null(reason);
			assert_null(strchr(reason, '\n'));
			if (t[i].reason != NULL && strstr(reason, t[i].reason) == NULL)
				fail_msg("%s: reason \"%s\" lacks \"%s\"", t[i].expr, reason,
				    t[i].reason);
		}
		free(reason);
	}
}

/* == and != on strings, numbers, booleans and null. */
static void
test_equality(void **state)
{
	static const struct tcase t[] = {
		{ ".total == 2", 1, NULL },
		{ ".total == 3", 0, ".total is 2, wanted 3" },
		{ ".total == 2.0", 1, NULL },
		{ ".total == \"2\"", 0, ".total is 2, wanted \"2\"" },
		{ ".chain_id == 11155111", 1, NULL },
		{ ".chain_id == 1.1155111e7", 1, NULL },
		{ ".neg == -3.5", 1, NULL },
		{ ".is_dev == false", 1, NULL },
		{ ".is_dev == true", 0, ".is_dev is false, wanted true" },
		{ ".port_mapping_enabled == true", 1, NULL },
		{ ".bootstrap_info == null", 1, NULL },
		{ ".bootstrap_info != null", 0, ".bootstrap_info is null, wanted anything but null" },
		{ ".ca_cert != null", 1, NULL },
		{ ".vms[0].name == \"gateway\"", 1, NULL },
		{ ".vms[0].name != \"gateway\"", 0, "wanted anything but \"gateway\"" },
		{ ".vms[0].name != \"kms\"", 1, NULL },
		{ ".vms[0].boot_error == \"\"", 1, NULL },
		{ ".\"weird key.x\" == \"w\"", 1, NULL },
		{ ".map.a == 1", 1, NULL },
		{ ".vms[0].name==\"gateway\"", 1, NULL },
		{ "  .total   ==   2  ", 1, NULL },
		{ ".is_dev == \"false\"", 0, "is false, wanted \"false\"" },
	};

	(void)state;
	run_table(t, nitems(t), status_json);
}

/* > >= < <= on numbers only. */
static void
test_ordering(void **state)
{
	static const struct tcase t[] = {
		{ ".resources.max_allocable_vcpu > 2", 1, NULL },
		{ ".resources.max_allocable_vcpu >= 32", 1, NULL },
		{ ".resources.max_allocable_vcpu > 32", 0, "is 32, wanted > 32" },
		{ ".resources.max_allocable_vcpu < 32", 0, "wanted < 32" },
		{ ".resources.max_allocable_vcpu <= 32", 1, NULL },
		{ ".resources.max_allocable_memory_in_mb > 65536", 1, NULL },
		{ ".neg < -3", 1, NULL },
		{ ".neg >= -3", 0, NULL },
		{ ".vms[0].name > 1", 0, "wanted a number > 1" },
		{ ".bootstrap_info >= 0", 0, "is null, wanted a number >= 0" },
	};

	(void)state;
	run_table(t, nitems(t), status_json);
}

/* =~ and !~ with POSIX ERE, and the i flag. */
static void
test_regex(void **state)
{
	static const struct tcase t[] = {
		{ ".ca_cert =~ /BEGIN CERTIFICATE/", 1, NULL },
		{ ".ca_cert =~ /^-----BEGIN/", 1, NULL },
		{ ".ca_cert =~ /^BEGIN/", 0, "wanted a match of /^BEGIN/" },
		{ ".ca_cert !~ /PRIVATE KEY/", 1, NULL },
		{ ".ca_cert !~ /CERT/", 0, "wanted no match of /CERT/" },
		{ ".kmsContractAddr =~ /^0xabc0{36}1$/", 0, NULL },
		{ ".kmsContractAddr =~ /^0xabc0{36}1$/i", 1, NULL },
		{ ".chain_id =~ /^111/", 1, NULL },
		{ ".is_dev =~ /^false$/", 1, NULL },
		{ ".bootstrap_info =~ /x/", 0, "is null" },
		{ ".vms =~ /kms/", 0, "is [" },
		{ ".vms[0].id =~ /^[0-9a-f-]{36}$/", 1, NULL },
		{ ".map.a =~ /a\\/b|1/", 1, NULL },
	};

	(void)state;
	run_table(t, nitems(t), status_json);
}

/* contains: arrays, strings and objects. */
static void
test_contains(void **state)
{
	static const struct tcase t[] = {
		{ ".repositories contains \"dstack-kms\"", 1, NULL },
		{ ".repositories contains \"dstack-kms-x\"", 0,
		  "wanted something that contains \"dstack-kms-x\"" },
		{ ".repositories contains \"dstack\"", 0, NULL },
		{ ".ca_cert contains \"CERTIFICATE\"", 1, NULL },
		{ ".map contains \"b\"", 1, NULL },
		{ ".map contains \"c\"", 0, NULL },
		{ ".chain_id contains 1", 0, NULL },
		{ ".kmsContractAddr contains 1", 1, NULL },
		{ ".empty contains \"x\"", 0, ".empty is [], wanted" },
	};

	(void)state;
	run_table(t, nitems(t), status_json);
}

/* exists, and missing paths at every depth. */
static void
test_exists_and_missing(void **state)
{
	static const struct tcase t[] = {
		{ ".bootstrap_info exists", 1, NULL },
		{ ".quote exists", 0, ".quote is missing" },
		{ ". exists", 1, NULL },
		{ ".resources.gpus exists", 0, ".resources.gpus is missing" },
		{ ".resources.gpus.count == 1", 0, ".resources.gpus is missing" },
		{ ".total.x == 1", 0, ".total is a number, not an object" },
		{ ".vms[5].name == \"kms\"", 0, ".vms has 2 elements, so no [5]" },
		{ ".vms[-1].name == \"kms\"", 1, NULL },
		{ ".vms[-3].name == \"kms\"", 0, "no [-3]" },
		{ ".total[0] == 1", 0, ".total is a number, not an array" },
		{ ".empty[] == 1", 0, ".empty is empty" },
		{ ".status == \"ok\"", 0, ".status is missing" },
		{ ".status exists", 0, ".status is missing" },
		{ ".map[] == 2", 1, NULL },
		{ ".map[*] == 3", 0, "none of the 2 values of .map[*] is 3" },
	};

	(void)state;
	run_table(t, nitems(t), status_json);
}

/* Filters and [] (any element). */
static void
test_filters(void **state)
{
	static const struct tcase t[] = {
		{ ".vms[name=kms].boot_progress == \"done\"", 0,
		  ".vms[name=kms].boot_progress is \"booting\", wanted \"done\"" },
		{ ".vms[name=gateway].boot_progress == \"done\"", 1, NULL },
		{ ".vms[name=\"kms\"].status == \"running\"", 1, NULL },
		{ ".vms[ name = kms ].vcpu >= 4", 1, NULL },
		{ ".vms[name=hello].status == \"running\"", 0, "no element of .vms has name=hello" },
		{ ".vms[vcpu=4].name == \"kms\"", 1, NULL },
		{ ".vms[vcpu=4.0].name == \"kms\"", 1, NULL },
		{ ".vms[vcpu=5].name == \"kms\"", 0, "no element of .vms has vcpu=5" },
		{ ".vms[boot_error=].name == \"kms\"", 1, NULL },
		{ ".total[name=kms].x == 1", 0, ".total is a number, not an array" },
		{ ".images[].name == \"dstack-0.5.5\"", 1, NULL },
		{ ".images[].name == \"dstack-0.5.6\"", 0,
		  "none of the 2 values of .images[].name is \"dstack-0.5.6\" (the first is "
		  "\"dstack-0.5.5\")" },
		{ ".images[*].name =~ /^dstack-dev-/", 1, NULL },
		{ ".images[].size exists", 0, "selects nothing" },
		{ ".vms[].status == \"running\"", 1, NULL },
		{ ".vms[status=running][name=kms].vcpu == 4", 0, NULL },
		{ ".vms[status=running].name == \"kms\"", 1, NULL },
	};

	(void)state;
	run_table(t, nitems(t), status_json);
}

/* A string holding JSON text is looked into. */
static void
test_json_in_string(void **state)
{
	static const struct tcase t[] = {
		{ ".tcb_info.compose_hash == \"ab12\"", 1, NULL },
		{ ".tcb_info.rtmr3 =~ /^0+$/", 1, NULL },
		{ ".tcb_info.nope exists", 0, ".tcb_info.nope is missing" },
		{ ".vms[0].name.x exists", 0, ".vms[0].name is a string, not an object" },
	};

	(void)state;
	run_table(t, nitems(t), status_json);
}

/* Bodies that are not JSON, with the byte where they stop being JSON. */
static void
test_bad_json(void **state)
{
	static const struct { const char *json; size_t len; const char *reason; } t[] = {
		{ "", 0, "body is empty" },
		{ "   \n", 4, "body is empty" },
		{ "<html>", 6, "body is not JSON at byte 0" },
		{ "{\"status\": ok}", 14, "body is not JSON at byte 11" },
		{ "{\"a\":1} trailing", 16, "body is not JSON at byte 8 (text after the value)" },
		{ "{\"a\":1}{\"b\":2}", 14, "body is not JSON at byte 7" },
		{ "{\"a\":", 5, "body is not JSON at byte" },
		{ "{\"status\":\"ok\"}", 5, "body is not JSON" },   /* cut by len */
	};

	(void)state;
	for (size_t i = 0; i < nitems(t); i++) {
		char *reason = NULL;

		assert_int_equal(jsonpath_assert(".status exists", t[i].json, t[i].len, &reason), 0);
		assert_non_null(reason);
		if (strstr(reason, t[i].reason) == NULL)
			fail_msg("%zu: \"%s\" lacks \"%s\"", i, reason, t[i].reason);
		free(reason);
	}
	/* A NULL body is empty, and a value may stand at the top. */
	{
		char *reason = NULL;

		assert_int_equal(jsonpath_assert(". exists", NULL, 0, &reason), 0);
		free(reason);
		reason = NULL;
		assert_int_equal(jsonpath_assert(". == 5", " 5 \n", 4, &reason), 1);
		assert_int_equal(jsonpath_assert(". == \"ok\"", "\"ok\"", 4, &reason), 1);
		assert_int_equal(jsonpath_assert(".[1] == 2", "[1,2]", 5, &reason), 1);
		assert_int_equal(jsonpath_assert(".[] == 2", "[1,2]", 5, &reason), 1);
		assert_null(reason);
	}
}

/* Malformed assertions: refused with a column that points at the problem. */
static void
test_bad_expressions(void **state)
{
	static const struct { const char *expr; size_t column; const char *msg; } t[] = {
		{ "", 1, "a path starts with \".\"" },
		{ "status == 1", 1, "a path starts with \".\"" },
		{ ".status", 8, "expected an operator after the path" },
		{ ".status = 1", 9, "expected an operator" },
		{ ".status ==", 11, "expected a value after the operator" },
		{ ".status == ok", 12, "strings need double quotes" },
		{ ".status == \"ok", 12, "unterminated string" },
		{ ".status == \"ok\" x", 17, "unexpected text after the assertion" },
		{ ".n > \"5\"", 6, "this comparison needs a number" },
		{ ".n >= true", 7, "this comparison needs a number" },
		{ ".s =~ \"x\"", 7, "=~ and !~ need a /regex/" },
		{ ".s == /x/", 7, "a /regex/ needs =~ or !~" },
		{ ".s contains /x/", 13, "contains needs a value" },
		{ ".s =~ /x", 7, "unterminated regular expression" },
		{ ".s =~ /(/", 7, "bad regular expression" },
		{ ".s =~ /((x{1000}){1000}){1000}/", 7, "regular expression is too large" },
		{ ".s =~ /x++++++++++++++++++++/", 7, "quantifier does not follow a repeatable item" },
		{ ".s =~ /x?*/", 7, "quantifier does not follow a repeatable item" },
		{ ".s =~ /\\<x/", 7, "a GNU word edge" },
		{ ".s =~ /x/g", 10, "unknown regular expression flag" },
		{ ".vms[name=kms", 14, "expected \"]\" after [key=value" },
		{ ".vms[name kms]", 11, "expected \"=\"" },
		{ ".vms[0", 7, "expected \"]\" after the index" },
		{ ".vms[-]", 7, "expected a digit" },
		{ ".vms[-0] exists", 5, "index -0" },
		{ ".vms[99999999999] exists", 6, "index too large" },
		{ ".vms[?] exists", 6, "expected an index" },
		{ ".vms. == 1", 6, "expected a field name after \".\"" },
		{ ".a..b exists", 4, "expected a field name after \".\"" },
		{ ".n == 01", 7, "bad number" },
		{ ".n == 1.", 9, "expected a digit after \".\"" },
		{ ".n == 1e", 9, "expected a digit in the exponent" },
		{ ".n == 1e999", 7, "number out of range" },
		{ ".n == -", 7, "bad number" },
		{ ".s == \"\\x\"", 8, "bad escape" },
		{ ".s == \"\\u00\"", 8, "bad \\u escape" },
		{ ".s == \"\\u0000\"", 8, "bad \\u escape" },
		{ ".s == \"\\ud800\"", 8, "lone surrogate" },
		{ ".\"k == 1", 2, "unterminated string" },
		{ ".s existsx", 4, "expected an operator" },
		{ ".s exists 1", 11, "unexpected text after the assertion" },
	};

	(void)state;
	for (size_t i = 0; i < nitems(t); i++) {
		char *cause = NULL;
		size_t col = 0;

		if (jsonpath_check(t[i].expr, &col, &cause) != -1)
			fail_msg("\"%s\" was accepted", t[i].expr);
		assert_non_null(cause);
		if (strstr(cause, t[i].msg) == NULL || col != t[i].column)
			fail_msg("\"%s\": \"%s\" at column %zu, wanted \"%s\" at %zu", t[i].expr,
			    cause, col, t[i].msg, t[i].column);
		{
			char want[32];

			snprintf(want, sizeof want, "column %zu: ", t[i].column);
			assert_true(str_has_prefix(cause, want));
		}
		free(cause);
		/* jsonpath_assert gives the same error, as -1. */
		cause = NULL;
		assert_int_equal(jsonpath_assert(t[i].expr, "{}", 2, &cause), -1);
		assert_non_null(cause);
		free(cause);
	}
	/* NULL cause and column are allowed. */
	assert_int_equal(jsonpath_check(".x ==", NULL, NULL), -1);
	assert_int_equal(jsonpath_check(NULL, NULL, NULL), -1);
}

/* Literals: escapes, unicode, and the text kept for messages. */
static void
test_literals(void **state)
{
	static const char json[] = "{\"s\":\"a\\\"b\\\\c/\\n\",\"u\":\"\xc3\xa9\xf0\x9f\x98\x80\","
	    "\"big\":1e300,\"t\":\"tab\\there\"}";
	static const struct tcase t[] = {
		{ ".s == \"a\\\"b\\\\c\\/\\n\"", 1, NULL },
		{ ".u == \"\\u00e9\\ud83d\\ude00\"", 1, NULL },
		{ ".u == \"\xc3\xa9\xf0\x9f\x98\x80\"", 1, NULL },
		{ ".big > 1e299", 1, NULL },
		{ ".big == 1E300", 1, NULL },
		{ ".t == \"tab\\there\"", 1, NULL },
		{ ".t =~ /tab[[:space:]]here/", 1, NULL },
	};
	struct jsonpath *jp;

	(void)state;
	run_table(t, nitems(t), json);
	jp = jsonpath_parse(".s == \"x\"", NULL, NULL);
	assert_non_null(jp);
	assert_string_equal(jsonpath_text(jp), ".s == \"x\"");
	jsonpath_free(&jp);
	assert_null(jp);
	jsonpath_free(&jp);
}

/* A parsed assertion is reusable across bodies. */
static void
test_parse_once_eval_many(void **state)
{
	struct jsonpath *jp = jsonpath_parse(".vms[name=kms].boot_progress == \"done\"", NULL,
	    NULL);
	char *reason = NULL;
	const char *booting = "{\"vms\":[{\"name\":\"kms\",\"boot_progress\":\"booting\"}]}";
	const char *done = "{\"vms\":[{\"name\":\"kms\",\"boot_progress\":\"done\"}]}";
	const char *none = "{\"vms\":[]}";

	(void)state;
	assert_non_null(jp);
	assert_false(jsonpath_eval(jp, booting, strlen(booting), &reason));
	assert_string_equal(reason, ".vms[name=kms].boot_progress is \"booting\", wanted \"done\"");
	assert_true(jsonpath_eval(jp, done, strlen(done), &reason));
	/* On success the old reason is left alone. */
	assert_non_null(reason);
	free(reason);
	reason = NULL;
	assert_false(jsonpath_eval(jp, none, strlen(none), &reason));
	assert_string_equal(reason, "no element of .vms has name=kms");
	free(reason);
	reason = NULL;
	assert_false(jsonpath_eval(jp, none, strlen(none), NULL));
	jsonpath_free(&jp);

	/* A bare path is not an assertion. */
	jp = jsonpath_parse_path(".vms", NULL, NULL);
	assert_non_null(jp);
	assert_false(jsonpath_eval(jp, none, strlen(none), &reason));
	assert_non_null(strstr(reason, "not an assertion"));
	free(reason);
	jsonpath_free(&jp);
}

/* jsonpath_get: strings as they are, everything else as compact JSON. */
static void
test_get(void **state)
{
	static const char bootstrap[] = "{\"ca_pubkey\":\"3059abcd\",\"k256_pubkey\":\"02ff\","
	    "\"n\":42,\"o\":{\"a\":[1,true,null]},\"vms\":[{\"name\":\"kms\",\"id\":\"x1\"}]}";
	char *v = NULL, *reason = NULL;

	(void)state;
	assert_int_equal(jsonpath_get(".ca_pubkey", bootstrap, strlen(bootstrap), &v, &reason), 0);
	assert_string_equal(v, "3059abcd");
	free(v);
	assert_int_equal(jsonpath_get(".n", bootstrap, strlen(bootstrap), &v, &reason), 0);
	assert_string_equal(v, "42");
	free(v);
	assert_int_equal(jsonpath_get(".o", bootstrap, strlen(bootstrap), &v, &reason), 0);
	assert_string_equal(v, "{\"a\":[1,true,null]}");
	free(v);
	assert_int_equal(jsonpath_get(".vms[name=kms].id", bootstrap, strlen(bootstrap), &v,
	    &reason), 0);
	assert_string_equal(v, "x1");
	free(v);
	assert_null(reason);

	assert_int_equal(jsonpath_get(".quote", bootstrap, strlen(bootstrap), &v, &reason), -1);
	assert_null(v);
	assert_string_equal(reason, ".quote is missing");
	free(reason);
	reason = NULL;
	assert_int_equal(jsonpath_get(".x", "nope", 4, &v, &reason), -1);
	assert_string_equal(reason, "body is not JSON at byte 0");
	free(reason);
	reason = NULL;
	assert_int_equal(jsonpath_get(".x == 1", "{}", 2, &v, &reason), -1);
	assert_non_null(strstr(reason, "unexpected text after the path"));
	free(reason);
}

/* Long values are cut in reasons; deep and odd documents do not break anything. */
static void
test_robustness(void **state)
{
	struct strbuf sb = {0};
	char *reason = NULL;

	(void)state;
	sb_adds(&sb, "{\"s\":\"");
	for (int i = 0; i < 1000; i++)
		sb_adds(&sb, "abcdefghij");
	sb_adds(&sb, "\"}");
	assert_int_equal(jsonpath_assert(".s == \"x\"", sb.s, sb.len, &reason), 0);
	assert_true(strlen(reason) < 200);
	assert_non_null(strstr(reason, "..., wanted \"x\""));
	free(reason);
	reason = NULL;
	sb_reset(&sb);

	/* Nesting deeper than cJSON allows is refused, not a crash. */
	for (int i = 0; i < 5000; i++)
		sb_addc(&sb, '[');
	for (int i = 0; i < 5000; i++)
		sb_addc(&sb, ']');
	assert_int_equal(jsonpath_assert(". exists", sb.s, sb.len, &reason), 0);
	assert_non_null(strstr(reason, "not JSON"));
	free(reason);
	reason = NULL;
	sb_free(&sb);

	/* NUL bytes inside the length. */
	assert_int_equal(jsonpath_assert(".a == 1", "{\"a\":1}\0\0", 9, &reason), 1);
	assert_int_equal(jsonpath_assert(".a == 1", "{\"a\":\0}", 7, &reason), 0);
	free(reason);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equality),
		cmocka_unit_test(test_ordering),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_exists_and_missing),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_json_in_string),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_bad_expressions),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_parse_once_eval_many),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_robustness),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
