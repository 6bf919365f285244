/* test-logbuf.c: the bounded ring of log lines. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logbuf.h"
#include "transport.h"
#include "util.h"

/* Push the line "line <i>" on stream (i % 2 ? ERR : OUT). */
static void
push_numbered(struct logbuf *lb, uint64_t i)
{
	char text[64];
	int n = snprintf(text, sizeof text, "line %llu", (unsigned long long)i);

	logbuf_push(lb, i % 2 ? STREAM_ERR : STREAM_OUT, text, (size_t)n);
}

/* Lines come back by seq with their text, length, stream and time. */
static void
test_push_get(void **state)
{
	struct logbuf *lb = logbuf_new(64 * 1024);
	struct logline ll;
	uint64_t t0 = now_ms();

	(void)state;
	assert_int_equal(logbuf_first(lb), 0);
	assert_int_equal(logbuf_end(lb), 0);
	assert_int_equal(logbuf_get(lb, 0, &ll), -1);

	logbuf_push(lb, STREAM_OUT, "hello", 5);
	logbuf_push(lb, STREAM_ERR, "", 0);
	logbuf_push(lb, STREAM_META, "$ echo hi", 9);
	assert_int_equal(logbuf_first(lb), 0);
	assert_int_equal(logbuf_end(lb), 3);

	assert_int_equal(logbuf_get(lb, 0, &ll), 0);
	assert_int_equal(ll.seq, 0);
	assert_int_equal(ll.stream, STREAM_OUT);
	assert_int_equal(ll.len, 5);
	assert_string_equal(ll.text, "hello");
	assert_true(ll.at_ms >= t0 && ll.at_ms <= now_ms());

	assert_int_equal(logbuf_get(lb, 1, &ll), 0);
	assert_int_equal(ll.stream, STREAM_ERR);
	assert_int_equal(ll.len, 0);
	assert_string_equal(ll.text, "");

	assert_int_equal(logbuf_get(lb, 2, &ll), 0);
	assert_int_equal(ll.stream, STREAM_META);
	assert_string_equal(ll.text, "$ echo hi");
	assert_int_equal(logbuf_get(lb, 3, &ll), -1);
	logbuf_free(&lb);
	assert_null(lb);
}

/* Text with an embedded NUL keeps its full length, and gets a terminating NUL. */
static void
test_binary_text(void **state)
{
	struct logbuf *lb = logbuf_new(4096);
	struct logline ll;

	(void)state;
	logbuf_push(lb, STREAM_OUT, "a\0b", 3);
	assert_int_equal(logbuf_get(lb, 0, &ll), 0);
	assert_int_equal(ll.len, 3);
	assert_memory_equal(ll.text, "a\0b", 3);
	assert_int_equal(ll.text[3], '\0');
	logbuf_free(&lb);
}

/* Old lines are dropped; seq keeps counting; the kept lines are the newest, intact. */
static void
test_drop_oldest(void **state)
{
	struct logbuf *lb = logbuf_new(8192);
	struct logline ll;
	uint64_t first, end;

	(void)state;
	for (uint64_t i = 0; i < 5000; i++)
		push_numbered(lb, i);
	first = logbuf_first(lb);
	end = logbuf_end(lb);
	assert_int_equal(end, 5000);
	assert_true(first > 0);
	assert_true(end - first > 10);     /* it still holds a fair number of lines */
	assert_int_equal(logbuf_get(lb, first - 1, &ll), -1);
	assert_int_equal(logbuf_get(lb, 0, &ll), -1);
	for (uint64_t s = first; s < end; s++) {
		char want[64];

		snprintf(want, sizeof want, "line %llu", (unsigned long long)s);
		assert_int_equal(logbuf_get(lb, s, &ll), 0);
		assert_int_equal(ll.seq, s);
		assert_string_equal(ll.text, want);
		assert_int_equal(ll.len, strlen(want));
		assert_int_equal(ll.stream, s % 2 ? STREAM_ERR : STREAM_OUT);
	}
	logbuf_free(&lb);
}

/* Lines of mixed lengths wrap around the arena without corrupting each other. */
static void
test_mixed_lengths_wrap(void **state)
{
	struct logbuf *lb = logbuf_new(16384);
	char text[3000];
	struct logline ll;

	(void)state;
	for (uint64_t i = 0; i < 20000; i++) {
		size_t len = (size_t)((i * 7919) % sizeof text);

		memset(text, 'a' + (int)(i % 26), len);
		logbuf_push(lb, STREAM_OUT, text, len);
		assert_true(logbuf_bytes(lb) <= 16384);
		/* The newest line is always there and intact. */
		assert_int_equal(logbuf_get(lb, i, &ll), 0);
		assert_int_equal(ll.len, len);
		for (size_t k = 0; k < len; k++)
			assert_int_equal(ll.text[k], 'a' + (int)(i % 26));
	}
	for (uint64_t s = logbuf_first(lb); s < logbuf_end(lb); s++) {
		size_t len = (size_t)((s * 7919) % sizeof text);

		assert_int_equal(logbuf_get(lb, s, &ll), 0);
		assert_int_equal(ll.len, len);
		if (len > 0) {
			assert_int_equal(ll.text[0], 'a' + (int)(s % 26));
			assert_int_equal(ll.text[len - 1], 'a' + (int)(s % 26));
		}
	}
	logbuf_free(&lb);
}

/* Millions of pushes: the byte count never goes over the limit, yet the ring stays full. */
static void
test_memory_bound(void **state)
{
	const size_t limit = 1 << 20;
	struct logbuf *lb = logbuf_new(limit);
	char text[200];
	size_t peak = 0;

	(void)state;
	memset(text, 'x', sizeof text);
	for (uint64_t i = 0; i < 3000000; i++) {
		size_t b;

		logbuf_push(lb, STREAM_OUT, text, 20 + (size_t)(i % 150));
		b = logbuf_bytes(lb);
		if (b > peak)
			peak = b;
	}
	assert_true(peak <= limit);
	assert_true(logbuf_bytes(lb) > limit / 2);   /* the budget is actually used */
	assert_int_equal(logbuf_end(lb), 3000000);
	assert_true(logbuf_end(lb) - logbuf_first(lb) > 1000);
	logbuf_free(&lb);
}

/* A line longer than the whole budget is truncated, kept alone, and then pushed out. */
static void
test_overlong_line(void **state)
{
	const size_t limit = 4096;
	struct logbuf *lb = logbuf_new(limit);
	size_t big = 100000;
	char *text = xmalloc(big);
	struct logline ll;

	(void)state;
	for (size_t i = 0; i < big; i++)
		text[i] = (char)('0' + i % 10);
	logbuf_push(lb, STREAM_OUT, "before", 6);
	logbuf_push(lb, STREAM_ERR, text, big);
	assert_true(logbuf_bytes(lb) <= limit);
	assert_int_equal(logbuf_end(lb), 2);
	assert_int_equal(logbuf_first(lb), 1);   /* "before" had to go */
	assert_int_equal(logbuf_get(lb, 1, &ll), 0);
	assert_true(ll.len > limit / 2 && ll.len < limit);
	assert_memory_equal(ll.text, text, ll.len);   /* the start is kept */
	assert_int_equal(ll.text[ll.len], '\0');
	logbuf_push(lb, STREAM_OUT, "after", 5);
	assert_int_equal(logbuf_get(lb, 2, &ll), 0);
	assert_string_equal(ll.text, "after");
	assert_true(logbuf_bytes(lb) <= limit);
	free(text);
	logbuf_free(&lb);
}

/* Many empty lines are bounded too (the index, not the text, is the limit). */
static void
test_many_empty_lines(void **state)
{
	const size_t limit = 2048;
	struct logbuf *lb = logbuf_new(limit);
	struct logline ll;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		logbuf_push(lb, STREAM_OUT, "", 0);
		assert_true(logbuf_bytes(lb) <= limit);
	}
	assert_int_equal(logbuf_end(lb), 100000);
	assert_true(logbuf_end(lb) - logbuf_first(lb) >= 8);
	assert_int_equal(logbuf_get(lb, 99999, &ll), 0);
	assert_int_equal(ll.len, 0);
	logbuf_free(&lb);
}

/* clear forgets the lines but not the numbering. */
static void
test_clear(void **state)
{
	struct logbuf *lb = logbuf_new(4096);
	struct logline ll;
	size_t empty;

	(void)state;
	empty = logbuf_bytes(lb);
	for (int i = 0; i < 10; i++)
		push_numbered(lb, (uint64_t)i);
	assert_true(logbuf_bytes(lb) > empty);
	logbuf_clear(lb);
	assert_int_equal(logbuf_bytes(lb), empty);
	assert_int_equal(logbuf_first(lb), 10);
	assert_int_equal(logbuf_end(lb), 10);
	assert_int_equal(logbuf_get(lb, 9, &ll), -1);
	push_numbered(lb, 10);
	assert_int_equal(logbuf_get(lb, 10, &ll), 0);
	assert_string_equal(ll.text, "line 10");
	logbuf_free(&lb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push_get),
		cmocka_unit_test(test_binary_text),
		cmocka_unit_test(test_drop_oldest),
		cmocka_unit_test(test_mixed_lengths_wrap),
		cmocka_unit_test(test_memory_bound),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_many_empty_lines),
		cmocka_unit_test(test_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
