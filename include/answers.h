/*
 * answers.h: an answers file (--answers FILE), as installers take them (subiquity's
 * autoinstall, debian-installer's preseed): the target and the inputs, given before anything
 * runs. YAML, read with libyaml in steps/answers.c; its types never leave that file.
 *
 *   target: ubuntu@203.0.113.7:22     # or local; optional
 *   inputs:                           # optional; NAME: VALUE, never a secret
 *     base_domain: example.org
 *
 * Every problem is reported as "file:line:column: what", one per line, like a step file's.
 */
#ifndef DW_ANSWERS_H
#define DW_ANSWERS_H

#include <stddef.h>

#define ANSWERS_MAX_SIZE (1024 * 1024)

struct answer {
	char *name;
	char *value;
	int line, col;       /* of the value, 1-based */
};

struct answers {
	char *file;          /* as given, for messages */
	char *target;        /* NULL: not given */
	int target_line, target_col;
	struct answer *inputs;
	size_t ninputs;
};

/* Parse text (len bytes, named file in messages): -1 with every problem in *cause. */
int answers_parse(const char *file, const char *text, size_t len, struct answers **out,
    char **cause);
/* Read and parse the file at path. */
int answers_load(const char *path, struct answers **out, char **cause);
void answers_free(struct answers **ap);

#endif
