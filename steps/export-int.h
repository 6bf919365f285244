/*
 * export-int.h: what the parts of `export ansible` share: the project being written
 * (struct ex), the YAML emitter over libyaml (struct ey, export-yaml.c) with the Jinja2
 * expressions made from the chain's text, and the task file of one step (export-step.c).
 * export-ansible.c writes the project around them.
 */
#ifndef DW_EXPORT_INT_H
#define DW_EXPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <yaml.h>

struct chain;
struct engine;
struct input_def;
struct strbuf;

struct ex {
	struct engine *e;
	const struct chain *c;
	char *version;          /* the release in use, or NULL */
	char *dir;
	char *sandbox;          /* the demo's sandbox (per-host dstack_demo_sandbox), or NULL */
	char **demo_env;        /* the demo's environment but DEMO_STEP, or NULL */
};

struct ey {
	yaml_emitter_t em;
	FILE *f;
	char *path;
	bool bad;
};

/* A newline, in Jinja2 under Ansible (see jx_literal). */
#define JX_NEWLINE "('%c' | format(10))"

enum { JX_REGEX = 1 };   /* references are regex-escaped (expect:, body_match:) */

/* export-yaml.c */
int ey_open(struct ey *y, const char *path, const char *comment, char **cause);
int ey_close(struct ey *y, char **cause);
void ey_map(struct ey *y);
void ey_seq(struct ey *y, bool flow);
void ey_end_map(struct ey *y);
void ey_end_seq(struct ey *y);
void ey_word(struct ey *y, const char *s);
void ey_int(struct ey *y, long v);
void ey_text(struct ey *y, const char *s);
void ey_name(struct ey *y, const char *s);
void ey_jinja(struct ey *y, const char *expr);
void ey_jstr(struct ey *y, const char *expr);
void ey_kv_word(struct ey *y, const char *k, const char *v);
void ey_kv_text(struct ey *y, const char *k, const char *v);
void jx_literal(struct strbuf *sb, const char *s, size_t len);
void jx_input(struct strbuf *sb, const struct input_def *d);
char *jx_expr(const struct chain *c, const char *s, unsigned how);
void ey_value(struct ey *y, const struct chain *c, const char *s, unsigned how);

/* export-step.c */
void ey_demo_value(struct ex *x, struct ey *y, const char *v);
int ex_check_step(struct ex *x, size_t s, char **cause);
int ex_step_file(struct ex *x, size_t s, char **cause);

#endif
