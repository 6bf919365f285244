/*
 * script-check.h: where, in a step's bash script, an input's value could become code. The
 * engine exports every input a script names into its environment, so "${name}" is only ever
 * data, unless the script splices it into something that is read as code again:
 *   - a sed or awk program, an eval, or the code argument of bash/sh -c or python3 -c, when
 *     the reference is expanded there (double quotes or none; single quotes leave it alone);
 *   - the body of a here-document whose delimiter is not quoted (<<EOF, not <<'EOF'), which
 *     is how files for a shell to source (.env) get written with a value in them;
 *   - and, for inputs whose values may hold shell metacharacters (marked quoted: true), any
 *     reference outside double quotes, where the shell would split and glob it.
 * `lint` reports each as a problem. The scan is a small bash lexer (quotes, $( ), backquotes,
 * here-documents, simple commands), enough for the scripts step files hold, not a parser.
 */
#ifndef DW_SCRIPT_CHECK_H
#define DW_SCRIPT_CHECK_H

#include <stdbool.h>
#include <stddef.h>

struct script_risk {
	int line;          /* 1-based line of the script */
	char *name;        /* the input */
	char *why;         /* "is spliced into a sed program", ... */
};

/*
 * The risks in script; must_quote(name, data) says whether an input must stay in double
 * quotes (may be NULL: none must). Returns their number; *out is an allocated array.
 */
size_t script_risks(const char *script, bool (*must_quote)(const char *name, void *data),
    void *data, struct script_risk **out);
void script_risks_free(struct script_risk **risks, size_t n);

#endif
