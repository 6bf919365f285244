/* test-util.c: the string, time and file helpers. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#include "rx.h"
#include "script-check.h"
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

/* Control sequences, C1 controls, NUL and invalid UTF-8 become visible \xNN text. */
static void
test_visible(void **state)
{
	static const struct { const char *in; size_t len; const char *out; } t[] = {
		{ "plain text\tand a tab", 0, NULL },
		{ "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x94\x91", 0, NULL },
		{ "\x1b]0;pwned\x07title", 0, "\\x1b]0;pwned\\x07title" },
		{ "\x1b]52;c;cGF5bG9hZA==\x1b\\", 0, "\\x1b]52;c;cGF5bG9hZA==\\x1b\\" },
		{ "\x1b[2J\x1b[6n", 0, "\\x1b[2J\\x1b[6n" },
		{ "\x1bP1$r\x1b\\", 0, "\\x1bP1$r\\x1b\\" },
		{ "a\x9b" "31mred", 0, "a\\x9b31mred" },
		{ "a\xc2\x9b" "31m", 0, "a\\xc2\\x9b31m" },
		{ "a\0b", 3, "a\\x00b" },
		{ "bell\x07 del\x7f cr\r", 0, "bell\\x07 del\\x7f cr\\x0d" },
		{ "bad \xff\xfe utf8 \xc3", 0, "bad \\xff\\xfe utf8 \\xc3" },
		{ "overlong \xc0\xaf \xe0\x80\xaf", 0, "overlong \\xc0\\xaf \\xe0\\x80\\xaf" },
		{ "surrogate \xed\xa0\x80", 0, "surrogate \\xed\\xa0\\x80" },
	};
	size_t i, len, n;
	char *v;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		n = t[i].len ? t[i].len : strlen(t[i].in);
		len = 12345;
		v = str_visible(t[i].in, n, &len);
		if (t[i].out == NULL) {
			assert_null(v);
			continue;
		}
		assert_non_null(v);
		assert_string_equal(v, t[i].out);
		assert_int_equal(len, strlen(t[i].out));
		free(v);
	}
}

/* Regexes: POSIX-style patterns as step files write them, group 1, lines, case. */
static void
test_rx_basics(void **state)
{
	struct rx *rx;
	char *cause = NULL;
	long so, eo;
	const char *out = "Deploying with account: 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\n"
	    "DstackKms Proxy deployed to: 0x5FbDB2315678afecb367f032d93F642f64180aa3\n";

	(void)state;
	rx = rx_new("Proxy deployed to: (0x[0-9a-fA-F]{40})", 0, &cause);
	assert_non_null(rx);
	assert_int_equal(rx_match(rx, out, strlen(out), &so, &eo), 1);
	assert_int_equal(eo - so, 42);
	assert_memory_equal(out + so, "0x5FbDB2315678afecb367f032d93F642f64180aa3", 42);
	rx_free(&rx);
	assert_null(rx);
	rx = rx_new("^DstackKms[[:space:]]+Proxy.*$", RX_LINES, &cause);
	assert_true(rx_matches(rx, out));
	rx_free(&rx);
	rx = rx_new("^DstackKms", 0, &cause);
	assert_false(rx_matches(rx, out));   /* without RX_LINES ^ is the start only */
	rx_free(&rx);
	rx = rx_new("deploying WITH", RX_ICASE, &cause);
	assert_true(rx_matches(rx, out));
	rx_free(&rx);
	rx = rx_new("(a|b", 0, &cause);
	assert_null(rx);
	assert_non_null(strstr(cause, "at offset 4"));
	freep(&cause);
	cause = rx_check("[z-a]", 0);
	assert_non_null(cause);
	freep(&cause);
	assert_null(rx_check("x{2,3}[[:digit:]]", 0));
}

/* Patterns built to take exponential time end within the limits: no match, or gave up. */
static void
test_rx_limits(void **state)
{
	static const struct { const char *re, *tail; } evil[] = {
		{ "(a+)(a+)\\1\\2x", "yx" },   /* glibc: over 30 s on 100 characters */
		{ "(.*a){12}b", "cb" },
		{ "(a|a)+b", "cb" },
		{ "(a*)*b", "cb" },
		{ "((a+)+)+b", "cb" },
	};
	char subject[103];
	uint64_t t0;
	struct rx *rx;
	char *cause = NULL;
	size_t i;

	(void)state;
	/* 100 a's, then a tail that holds the character the pattern needs last, so no shortcut
	 * skips the backtracking. */
	for (i = 0; i < nitems(evil); i++) {
		memset(subject, 'a', 100);
		memcpy(subject + 100, evil[i].tail, 3);
		rx = rx_new(evil[i].re, 0, &cause);
		assert_non_null(rx);
		t0 = now_ms();
		assert_int_not_equal(rx_match(rx, subject, 102, NULL, NULL), 1);
		if (now_ms() - t0 > 2000)
			fail_msg("%s took %llu ms", evil[i].re, (unsigned long long)(now_ms() - t0));
		rx_free(&rx);
	}
	/* Giving up is told apart from not matching. */
	memcpy(subject + 100, "cb", 3);
	rx = rx_new("(.*a){12}b", 0, &cause);
	assert_int_equal(rx_match(rx, subject, 102, NULL, NULL), -1);
	assert_int_equal(rx_match(rx, "aac", 3, NULL, NULL), 0);
	rx_free(&rx);
	/* Over the length cap. */
	{
		char *big = xcalloc(RX_LEN_MAX + 2, 1);

		memset(big, 'a', RX_LEN_MAX + 1);
		assert_null(rx_new(big, 0, &cause));
		assert_non_null(strstr(cause, "longer than"));
		freep(&cause);
		free(big);
	}
}

/* must_quote for the script-check test: only "q" must stay in double quotes. */
static bool
quote_q(const char *name, void *data)
{
	(void)data;
	return strcmp(name, "q") == 0;
}

/* Where a value is spliced into code, and where it is only data. */
static void
test_script_risks(void **state)
{
	static const struct { const char *script; int line; const char *why; } t[] = {
		{ "sed -i \"s#x#${v}#\" f", 1, "sed program" },
		{ "sed -i 's#x#${v}#' f", 0, NULL },
		{ "sed -i -e 's/a/b/' \"${v}/f\"", 0, NULL },
		{ "true\nsudo sed -e 's/a/b/' -e \"s/c/${v}/\" f", 2, "sed program" },
		{ "sed --expression=\"s/c/${v}/\" f", 1, "sed program" },
		{ "sed -f prog.sed \"${v}\"", 0, NULL },
		{ "eval \"x=${v}\"", 1, "eval" },
		{ "sudo bash -c \"echo ${v}\"", 1, "shell's -c" },
		{ "sudo bash -c 'echo \"${v}\"'", 0, NULL },
		{ "python3 -c \"print('${v}')\"", 1, "python -c" },
		{ "awk \"{print \\\"${v}\\\"}\" f", 1, "awk program" },
		{ "awk -v x=\"${v}\" '{print x}' f", 0, NULL },
		{ "cat > .env <<ENV\nA=1\nK=${v}\nENV\necho ${v}", 3, "here-document" },
		{ "cat > .env <<'ENV'\nK=${v}\nENV", 0, NULL },
		{ "cat <<-EOF\n\tK=${v}\n\tEOF\nsed 's/${v}//'", 2, "here-document" },
		{ "echo ${q}", 1, "double quotes" },
		{ "echo \"${q}\" && x=\"$(printf %s \"${q}\")\"", 0, NULL },
		{ "y=$(sed \"s/a/${v}/\" f)", 1, "sed program" },
		{ "# sed \"s/${v}/\"\necho ok", 0, NULL },
		{ "X=1 sed \"s/${v}//\" f", 1, "sed program" },
		{ "grep -q \"${v}\" f | sed 's/a/b/'", 0, NULL },
	};
	struct script_risk *r;
	size_t n;

	(void)state;
	for (size_t i = 0; i < nitems(t); i++) {
		n = script_risks(t[i].script, quote_q, NULL, &r);
		if (t[i].why == NULL) {
			if (n != 0)
				fail_msg("%s: unexpected risk at line %d: %s", t[i].script, r[0].line,
				    r[0].why);
		} else {
			if (n != 1)
				fail_msg("%s: %zu risks, wanted 1", t[i].script, n);
			assert_int_equal(r[0].line, t[i].line);
			if (strstr(r[0].why, t[i].why) == NULL)
				fail_msg("%s: \"%s\" lacks \"%s\"", t[i].script, r[0].why, t[i].why);
		}
		script_risks_free(&r, n);
	}
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
		cmocka_unit_test(test_visible),
		cmocka_unit_test(test_rx_basics),
		cmocka_unit_test(test_rx_limits),
		cmocka_unit_test(test_script_risks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
