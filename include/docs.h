/*
 * docs.h: documents made from a profile and its chain, as Markdown, engine-side (no curses):
 *   report.c    the deployment report: every step's runs, captured values, final status
 *   bundle.c    the support bundle: state, logs, report, versions, secrets taken out
 *   tutorial.c  the chain as a tutorial: one page per step and an index
 *   markdown.c  the Markdown they share (escaping, tables, code blocks)
 * Every text they write goes through engine_redact (secrets never).
 */
#ifndef DW_DOCS_H
#define DW_DOCS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct engine;
struct strbuf;

/* The deployment report (allocated Markdown, secrets taken out). */
char *report_markdown(struct engine *e);

/*
 * Write the support bundle to path (a gzip'd tar): the state, the logs, the report, the
 * pre-flight's last result, the versions; every held secret taken out of each (as given,
 * without its 0x, in lower and upper case) before it is written, in a private temporary
 * directory that is removed after. -1 with *cause on error (path not created).
 */
int bundle_write(struct engine *e, const char *path, char **cause);

/*
 * Write the chain as a tutorial into dir (created if missing): index.md and one <step>.md
 * per step, for the release in use; with values, commands show the profile's values (never
 * a secret's: its ${name} stays). Returns the number of pages, or -1 with *cause.
 */
int tutorial_write(struct engine *e, const char *dir, bool values, char **cause);

/* markdown.c */
void md_text(struct strbuf *sb, const char *s);        /* inline text: | < and newlines */
void md_code(struct strbuf *sb, const char *s, bool cell);   /* an inline code span */
void md_block(struct strbuf *sb, const char *lang, const char *s);   /* a fenced block */
const char *md_time(time_t t, char *buf, size_t len);  /* "2026-12-06 13:40:02 UTC" */
const char *md_duration(long ms, char *buf, size_t len);   /* "0.4 s", "2 min 5 s" */

#endif
