/* test-util.c: the string, time and file helpers. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <regex.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#include "rx.h"
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

/* What regcomp will build, as the budget counts it. */
static void
test_regex_measure(void **state)
{
	static const struct { const char *re; size_t nodes, anchors; bool empty; } t[] = {
		{ "abc", 3, 0, false },
		{ "^abc$", 5, 2, false },
		{ "(x{100}){100}", 10200, 0, false },
		{ "[^$(]x", 2, 0, false },               /* ^ $ ( in a bracket are plain */
		{ "[]|?*]", 1, 0, false },
		{ "[[:alpha:]]{2}", 2, 0, false },
		{ "\\$\\^\\(\\?", 4, 0, false },
		{ "a\\bc\\<\\>\\`\\'", 7, 5, false },
		{ "x+", 2, 0, false },
		{ "(x+)+", 8, 0, false },
		{ "a{", 2, 0, false },                   /* not a count: a literal brace */
		{ "(a|)", 3, 0, true },
		{ "(|a)", 3, 0, true },
		{ "()", 2, 0, true },
		{ "x?", 2, 0, true },                   /* x and the ALT node */
		{ "x{0,3}", 6, 0, true },
		{ "x{0}", 2, 0, true },
		{ "x{,3}", 6, 0, true },
		{ "(^|$){8}", 32, 16, false },
		{ "((((((", 0, 0, false },            /* unclosed: a level for each ( */
	};

	(void)state;
	for (size_t i = 0; i < nitems(t); i++) {
		struct regex_size sz;

		regex_measure(t[i].re, &sz);
		if (sz.nodes != t[i].nodes || sz.anchors != t[i].anchors || sz.empty != t[i].empty)
			fail_msg("%s: nodes %zu anchors %zu empty %d, want %zu %zu %d", t[i].re,
			    sz.nodes, sz.anchors, sz.empty, t[i].nodes, t[i].anchors, t[i].empty);
	}
}

/* How many MB regcomp grows a child process by (255 at most), or -1 if it failed. */
static int
regcomp_growth_mb(const char *text)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct rusage before, after;
		regex_t re;
		long mb;

		getrusage(RUSAGE_SELF, &before);
		if (regcomp(&re, text, REG_EXTENDED | REG_NEWLINE) != 0)
			_exit(255);
		getrusage(RUSAGE_SELF, &after);
		mb = (after.ru_maxrss - before.ru_maxrss) / 1024;
		_exit(mb > 254 ? 254 : (int)mb);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 255)
		return -1;
	return WEXITSTATUS(status);
}

/*
 * The budget holds against glibc: the worst shapes it lets through compile in little memory,
 * and the same shapes a step larger are refused (they took from 60 MB to 12 GB, or up to
 * 50 s).
 */
static void
test_regex_budget_holds(void **state)
{
	static const char *const allowed[] = {
		"(x?){125}",
		"(((((((((()))))))))){25}",
		"(\\b|\\B){8}(x){2300}",
		"(\\b\\B){8}",
		"(\\b|\\B){4}(x?){11}",
		"(\\b|\\B){2}(x?){60}",
		"^(x?){124}$",
		"(^|$){8}",
		"(((x?)?)?){50}",
		"x*?(a|b)*(^a)+x??",
		"^dstack-vmm v?0\\.5\\.5([^0-9]|$)",
	};
	static const char *const refused[] = {
		"(x?){126}",
		"(((((((((()))))))))){26}",
		"(\\b|\\B){8}(x){3400}",
		"(\\b\\B){9}",
		"(\\b|\\B){4}(x?){12}",
		"(\\b|\\B){2}(x?){61}",
		":?????????+++++",
		"(((((((((((((((:?)?)?)?)?)?)?)?)?)+)+)+)+)+)",
		"(a|b?)+",
		"(^)+",
		"x?*",
		"()+",
		"(x?){2,}",
		"(^|$){9}",
		"(^|$){64}",
		"x{65536}",
		"){,8150}",
		"x{,20000}",
	};

	(void)state;
	for (size_t i = 0; i < nitems(allowed); i++) {
		const char *why = regex_refusal(allowed[i], NULL);
		int mb;

		if (why != NULL)
			fail_msg("%s refused: %s", allowed[i], why);
		mb = regcomp_growth_mb(allowed[i]);
		if (mb < 0 || mb > 64)
			fail_msg("%s: regcomp grew by %d MB", allowed[i], mb);
	}
	for (size_t i = 0; i < nitems(refused); i++)
		if (regex_refusal(refused[i], NULL) == NULL)
			fail_msg("%s let through", refused[i]);
}

/* regcomp_bytes: a regex matches bytes in a UTF-8 locale too, and the locale is left as it
 * was (plain regcomp there matches characters: the difference is what is tested). */
static void
test_regcomp_bytes(void **state)
{
	const char *e_acute = "\xc3\xa9";     /* one character, two bytes */
	regex_t re;

	(void)state;
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		skip();
	assert_int_equal(regcomp(&re, "^.$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, e_acute, 0, NULL, 0), 0);
	regfree(&re);
	assert_int_equal(regcomp_bytes(&re, "^.$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_not_equal(regexec(&re, e_acute, 0, NULL, 0), 0);
	regfree(&re);
	assert_int_equal(regcomp_bytes(&re, "^..$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, e_acute, 0, NULL, 0), 0);
	regfree(&re);
	assert_int_equal(regcomp_bytes(&re, "a{2,1}", REG_EXTENDED), REG_BADBR);
	assert_string_equal(setlocale(LC_CTYPE, NULL), "C.UTF-8");
	setlocale(LC_CTYPE, "C");
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
		cmocka_unit_test(test_regex_measure),
		cmocka_unit_test(test_regex_budget_holds),
		cmocka_unit_test(test_regcomp_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
