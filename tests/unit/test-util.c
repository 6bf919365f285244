/* test-util.c: the string, time and file helpers. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include "util.h"

/* Every occurrence of every needle becomes ****, the longest needle winning. */
static void
test_redact(void **state)
{
	const char *needles[] = { "abc", "abcdef", "", NULL, "zz" };
	size_t len;
	char *r;

	r = str_redact("xabcdefyabcz zz", 15, needles, nitems(needles), &len);
	assert_string_equal(r, "x****y****z ****");
	assert_int_equal(len, strlen(r));
	free(r);
	r = str_redact("nothing here", 12, needles, nitems(needles), NULL);
	assert_string_equal(r, "nothing here");
	free(r);
	r = str_redact("", 0, needles, nitems(needles), &len);
	assert_string_equal(r, "");
	assert_int_equal(len, 0);
	free(r);
}

static void
test_distance(void **state)
{
	assert_int_equal(str_distance("requires", "requries"), 2);
	assert_int_equal(str_distance("", "abc"), 3);
	assert_int_equal(str_distance("same", "same"), 0);
	assert_int_equal(str_distance("kitten", "sitting"), 3);
}

static void
test_strbuf_strvec(void **state)
{
	struct strbuf sb = {0};
	struct strvec sv = {0};
	char *s;

	assert_string_equal(sb_str(&sb), "");
	for (int i = 0; i < 1000; i++)
		sb_addf(&sb, "%d,", i);
	assert_true(str_has_prefix(sb.s, "0,1,2,"));
	assert_true(str_has_suffix(sb.s, "998,999,"));
	s = sb_detach(&sb);
	assert_null(sb.s);
	free(s);
	for (int i = 0; i < 100; i++)
		sv_push(&sv, "x");
	assert_int_equal(sv.n, 100);
	assert_null(sv.v[100]);
	sv_free(&sv);
}

static void
test_time(void **state)
{
	char buf[32];
	time_t t;

	assert_string_equal(iso_time(1795514520, buf, sizeof buf), "2026-11-24T10:02:00Z");
	assert_int_equal(parse_iso_time("2026-11-24T10:02:00Z", &t), 0);
	assert_int_equal(t, 1795514520);
	assert_int_equal(parse_iso_time("2026-11-24 10:02:00", &t), -1);
	assert_int_equal(parse_iso_time("2026-11-24T10:02:00Zjunk", &t), -1);
}

static void
test_files(void **state)
{
	char *tmp = tl_tmpdir(), *deep = xprintf("%s/a/b/c", tmp), *text, *cause = NULL;
	struct stat sb;
	size_t len;

	assert_int_equal(mkdir_p(deep, 0700, &cause), 0);
	assert_int_equal(stat(deep, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	free(tl_write(deep, "f", "hello\n"));
	free(deep);
	deep = xprintf("%s/a/b/c/f", tmp);
	assert_int_equal(read_file(deep, 100, &text, &len, &cause), 0);
	assert_string_equal(text, "hello\n");
	assert_int_equal(len, 6);
	free(text);
	assert_int_equal(read_file(deep, 3, &text, &len, &cause), -1);
	assert_non_null(strstr(cause, "larger than 3 bytes"));
	free(cause);
	cause = NULL;
	assert_int_equal(read_file("/nonexistent/x", 3, &text, &len, &cause), -1);
	assert_non_null(strstr(cause, "/nonexistent/x"));
	free(cause);
	free(deep);
	setenv("HOME", "/home/op", 1);
	text = expand_home("~/dstack");
	assert_string_equal(text, "/home/op/dstack");
	free(text);
	text = expand_home("/abs/~x");
	assert_string_equal(text, "/abs/~x");
	free(text);
	tl_rmrf(tmp);
	free(tmp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_distance),
		cmocka_unit_test(test_strbuf_strvec),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
