/*
 * fuzz-state.c: libFuzzer harness for the state file reader (steps/state.c).
 *
 * Each input is written as a state file and loaded. Whatever loads must save and load back to
 * the same state; a file that is not valid must be moved aside intact with a notice; one that
 * is refused (a newer schema) must be left as it was. Seeds are in tests/fuzz/corpus-state/.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fuzz_dir;
static char *fuzz_path;

/* Compare two possibly NULL strings. */
static int
fuzz_str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Tell whether two step histories are the same. */
static int
fuzz_attempts_equal(const struct state_step *x, const struct state_step *y)
{
	if (x->nattempts != y->nattempts)
		return 0;
	for (size_t i = 0; i < x->nattempts; i++) {
		const struct state_attempt *a = &x->attempts[i], *b = &y->attempts[i];

		if (!fuzz_str_eq(a->kind, b->kind) || a->started_at != b->started_at ||
		    a->duration_ms != b->duration_ms || !fuzz_str_eq(a->where, b->where) ||
		    !fuzz_str_eq(a->outcome, b->outcome) || a->exit_code != b->exit_code ||
		    !fuzz_str_eq(a->message, b->message) || !fuzz_str_eq(a->log_path, b->log_path) ||
		    a->nhints != b->nhints)
			return 0;
		for (size_t k = 0; k < a->nhints; k++)
			if (!fuzz_str_eq(a->hints[k].say, b->hints[k].say) ||
			    !fuzz_str_eq(a->hints[k].fix, b->hints[k].fix))
				return 0;
	}
	return 1;
}

/* Tell whether two states hold the same inputs and steps, in the same order. */
static int
fuzz_state_equal(const struct state *a, const struct state *b)
{
	if (a->schema != b->schema || a->ninputs != b->ninputs || a->nsteps != b->nsteps)
		return 0;
	for (size_t i = 0; i < a->ninputs; i++) {
		const struct state_input *x = &a->inputs[i], *y = &b->inputs[i];

		if (!fuzz_str_eq(x->name, y->name) || !fuzz_str_eq(x->value, y->value) ||
		    x->source != y->source || !fuzz_str_eq(x->from_step, y->from_step) ||
		    x->at != y->at)
			return 0;
	}
	for (size_t i = 0; i < a->nsteps; i++) {
		const struct state_step *x = &a->steps[i], *y = &b->steps[i];

		if (!fuzz_str_eq(x->id, y->id) || x->status != y->status ||
		    x->done_at != y->done_at || x->started_at != y->started_at ||
		    x->finished_at != y->finished_at || x->duration_ms != y->duration_ms ||
		    x->exit_code != y->exit_code || !fuzz_str_eq(x->message, y->message) ||
		    !fuzz_str_eq(x->log_path, y->log_path) || !fuzz_attempts_equal(x, y))
			return 0;
	}
	return 1;
}

/* Stop the fuzzer on a broken promise. */
static void
fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz-state: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

/* Check that path holds exactly data. */
static void
fuzz_check_content(const char *path, const uint8_t *data, size_t size)
{
	char *text = NULL, *cause = NULL;
	size_t len;

	if (read_file(path, size + 1, &text, &len, &cause) != 0)
		fuzz_fail("cannot read back", cause);
	if (len != size || (size > 0 && memcmp(text, data, size) != 0))
		fuzz_fail("file content changed", path);
	free(text);
}

/* Remove everything in the fuzzing directory. */
static void
fuzz_clean(void)
{
	struct dirent *de;
	DIR *d = opendir(fuzz_dir);
	int dfd;

	if (d == NULL)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dfd, de->d_name, 0);
	}
	closedir(d);
}

/* Remove the fuzzing directory at exit. */
static void
fuzz_atexit(void)
{
	fuzz_clean();
	rmdir(fuzz_dir);
}

/* Make a private directory for the state files. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	fuzz_dir = xprintf("%s/fuzz-state-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(fuzz_dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	fuzz_path = xprintf("%s/state.json", fuzz_dir);
	atexit(fuzz_atexit);
	return 0;
}

/* Load one input as a state file; check the promises of state.h. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state *st = NULL, *back = NULL;
	char *cause = NULL, *moved;
	const char *p;
	size_t n;
	FILE *f;

	f = fopen(fuzz_path, "w");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		fuzz_fail("cannot write the input", fuzz_path);

	if (state_load(fuzz_path, &st, &cause) != 0) {
		/* Refused (a newer schema): the file is left as it was. */
		if (st != NULL || cause == NULL)
			fuzz_fail("state_load failed without a cause", NULL);
		fuzz_check_content(fuzz_path, data, size);
		free(cause);
		fuzz_clean();
		return 0;
	}
	if (st == NULL || !fuzz_str_eq(st->path, fuzz_path))
		fuzz_fail("state_load gave no state or the wrong path", NULL);

	if (st->notice != NULL) {
		/* Not valid: moved aside intact, and the state is empty. */
		if (st->ninputs != 0 || st->nsteps != 0 || access(fuzz_path, F_OK) == 0)
			fuzz_fail("a corrupt file left state behind", st->notice);
		/* The last one: names from the file, shown in the reason, may say it too. */
		p = NULL;
		for (const char *q = st->notice; (q = strstr(q, "; moved it to ")) != NULL; q++)
			p = q;
		if (p == NULL || !str_has_suffix(st->notice, " and started afresh"))
			fuzz_fail("notice does not say where the file went", st->notice);
		p += strlen("; moved it to ");
		n = strlen(p) - strlen(" and started afresh");
		moved = xstrndup(p, n);
		fuzz_check_content(moved, data, size);
		free(moved);
	} else {
		/* Valid: what was read is written and read back the same. */
		if (state_save(st, &cause) != 0)
			fuzz_fail("state_save failed", cause);
		if (state_load(fuzz_path, &back, &cause) != 0)
			fuzz_fail("reload failed", cause);
		if (back->notice != NULL)
			fuzz_fail("what was saved does not load", back->notice);
		if (!fuzz_state_equal(st, back))
			fuzz_fail("the state changed through a save", NULL);
		state_free(&back);
	}
	state_free(&st);
	fuzz_clean();
	return 0;
}
