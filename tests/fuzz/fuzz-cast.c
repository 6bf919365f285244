/*
 * fuzz-cast.c: libFuzzer harness for the asciicast reader and writer (steps/asciicast.c).
 *
 * An input is read as a recording: its first line as the header, every other line as an
 * event. Properties: what parses has a width and height in range and a time that is a number
 * of seconds; any bytes, written as an event, make a line that parses back, whose data is the
 * bytes themselves when they are valid UTF-8 without NUL; a cut for UTF-8 never cuts more than
 * three bytes, and what it keeps written as an event is the same with or without the cut-off
 * bytes. Seeds are in tests/fuzz/corpus-cast/.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asciicast.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: a property does not hold. */
static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz-cast: %s\n", what);
	abort();
}

/* Is s[0..len) valid UTF-8 without NUL (as the writer passes it through)? */
static int
fuzz_plain(const char *s, size_t len)
{
	char *line = cast_event_line(0, "o", s, len);
	int plain = memchr(s, '\0', len) == NULL && strstr(line, "\\ufffd") == NULL;

	free(line);
	return plain;
}

/* Write bytes as an event and read them back. */
static void
fuzz_roundtrip(const char *s, size_t len)
{
	char *line = cast_event_line(1.5, "o", s, len), *cause = NULL;
	struct cast_event ev;
	size_t cut;

	if (cast_parse_event(line, strlen(line), &ev, &cause) != 0)
		fuzz_fail(cause);
	if (ev.time != 1.5 || strcmp(ev.code, "o") != 0)
		fuzz_fail("time or code changed");
	if (fuzz_plain(s, len) && (ev.len != len || memcmp(ev.data, s, len) != 0))
		fuzz_fail("valid UTF-8 changed on the way");
	cast_event_clear(&ev);
	free(line);
	cut = cast_utf8_cut(s, len);
	if (cut > len || len - cut > 3)
		fuzz_fail("a cut of more than three bytes");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct cast_header h;
	bool first = true;

	fuzz_roundtrip(p, size);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		char *cause = NULL;

		if (first) {
			if (cast_parse_header(p, len, &h, &cause) == 0) {
				if (h.width == 0 || h.height == 0 || h.width > 10000 || h.height > 10000)
					fuzz_fail("a size out of range");
				cast_header_clear(&h);
			}
		} else {
			struct cast_event ev;

			if (cast_parse_event(p, len, &ev, &cause) == 0) {
				if (!(ev.time >= 0) || ev.code == NULL || ev.data == NULL ||
				    strlen(ev.data) != ev.len)
					fuzz_fail("an event out of shape");
				cast_event_clear(&ev);
			}
		}
		free(cause);
		first = false;
		p += len;
	}
	return 0;
}
