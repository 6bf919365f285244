/*
 * fuzz-answers.c: libFuzzer harness for the answers file reader (steps/answers.c).
 *
 * Each input is parsed as an answers file. Properties: exactly one of a result and a cause;
 * every line of a cause starts "<file>:" and names a line and a column; a result has a
 * target only with its position, and input names and values that are non-empty, without a
 * NUL, each name once. Seeds are in tests/fuzz/corpus-answers/.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: a property does not hold. */
static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz-answers: %s\n", what);
	abort();
}

/* Check that every line of a cause is "a.yaml:LINE:COL: ..." or "a.yaml: ...". */
static void
fuzz_cause(const char *cause)
{
	const char *p = cause;

	if (*p == '\0')
		fuzz_fail("an empty cause");
	while (p != NULL) {
		if (strncmp(p, "a.yaml:", 7) != 0)
			fuzz_fail("a cause line that does not name the file");
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct answers *a = NULL;
	char *cause = NULL;
	int rc = answers_parse("a.yaml", (const char *)data, size, &a, &cause);

	if (rc != 0) {
		if (a != NULL || cause == NULL)
			fuzz_fail("a refusal with a result, or without a cause");
		fuzz_cause(cause);
		free(cause);
		return 0;
	}
	if (a == NULL || cause != NULL)
		fuzz_fail("a result without answers, or with a cause");
	if (a->target != NULL && (*a->target == '\0' || a->target_line < 1 || a->target_col < 1))
		fuzz_fail("a target that is empty or has no position");
	for (size_t i = 0; i < a->ninputs; i++) {
		if (*a->inputs[i].name == '\0' || *a->inputs[i].value == '\0')
			fuzz_fail("an empty input name or value");
		if (a->inputs[i].line < 1 || a->inputs[i].col < 1)
			fuzz_fail("an input without a position");
		for (size_t k = 0; k < i; k++)
			if (strcmp(a->inputs[k].name, a->inputs[i].name) == 0)
				fuzz_fail("an input given twice");
	}
	answers_free(&a);
	if (a != NULL)
		fuzz_fail("answers_free did not clear the pointer");
	return 0;
}
