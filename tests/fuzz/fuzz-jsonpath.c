/*
 * fuzz-jsonpath.c: libFuzzer harness for the JSON assertions (steps/jsonpath.c) and the URL
 * redaction of steps/http.c.
 *
 * An input is an expression, a newline, and a JSON body. The expression is checked, parsed
 * and evaluated against the body, and its path is used to pick a value; the expression is
 * also redacted as a URL. Properties: check and parse agree; a refusal has a column inside
 * the expression and says "column N: "; every reason is one line; parsing keeps the text.
 * Seeds are in tests/fuzz/corpus-jsonpath/, tokens in tests/fuzz/jsonpath.dict.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "jsonpath.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: a property does not hold. */
static void
fuzz_fail(const char *what, const char *expr)
{
	fprintf(stderr, "fuzz-jsonpath: %s for \"%s\"\n", what, expr);
	abort();
}

/* Check that a reason is a single non-empty line. */
static void
fuzz_one_line(const char *reason, const char *expr)
{
	if (reason == NULL || *reason == '\0')
		fuzz_fail("empty reason", expr);
	if (strchr(reason, '\n') != NULL)
		fuzz_fail("reason of several lines", expr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t elen = nl ? (size_t)(nl - (const char *)data) : size;
	const char *body = nl ? nl + 1 : "";
	size_t blen = nl ? size - elen - 1 : 0;
	char *expr = xstrndup((const char *)data, elen), *cause = NULL, *reason = NULL, *value;
	struct jsonpath *jp;
	struct strvec sv = {0};
	size_t col = 0;
	int rc;

	rc = jsonpath_check(expr, &col, &cause);
	jp = jsonpath_parse(expr, NULL, NULL);
	if ((rc == 0) != (jp != NULL))
		fuzz_fail("check and parse disagree", expr);
	if (rc != 0) {
		char want[32];

		snprintf(want, sizeof want, "column %zu: ", col);
		if (col < 1 || col > strlen(expr) + 1 || cause == NULL ||
		    strncmp(cause, want, strlen(want)) != 0)
			fuzz_fail("bad column", expr);
		fuzz_one_line(cause, expr);
	} else {
		if (strcmp(jsonpath_text(jp), expr) != 0)
			fuzz_fail("text not kept", expr);
		if (!jsonpath_eval(jp, body, blen, &reason))
			fuzz_one_line(reason, expr);
		free(reason);
		reason = NULL;
		if (jsonpath_value(jp, body, blen, &value, &reason) == 0)
			free(value);
		else
			fuzz_one_line(reason, expr);
		free(reason);
		reason = NULL;
	}
	jsonpath_free(&jp);
	free(cause);

	/* The same text as a bare path. */
	if (jsonpath_get(expr, body, blen, &value, &reason) == 0)
		free(value);
	else
		fuzz_one_line(reason, expr);
	free(reason);

	/* And as a URL. */
	value = http_redact_url(expr);
	free(value);
	http_url_secrets(expr, &sv);
	sv_free(&sv);

	free(expr);
	return 0;
}
