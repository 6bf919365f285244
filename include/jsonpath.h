/*
 * jsonpath.h: assertions on the fields of a JSON document (HTTP probe bodies, JSON-RPC
 * results), and picking one value out of it (captures).
 *
 * An assertion is a path, an operator and (for most operators) a literal:
 *
 *	.status == "ok"                          .chain_id == 11155111
 *	.vms[name=kms].boot_progress == "done"   .images[].name contains "dstack"
 *	.resources.max_allocable_vcpu >= 2       .ca_cert =~ /BEGIN CERTIFICATE/
 *	.kmsContractAddr =~ /^0xabc0...$/i       .bootstrap_info != null
 *	.repositories contains "dstack-kms"      .is_dev == false         .quote exists
 *
 * Path: "." is the whole document; then fields ".name" (letters, digits, _ - $ @) or
 * ."any key", and brackets: [3] (index; [-1] is the last), [] or [*] (every element of an
 * array, or every value of an object), [key=value] (the elements whose field key equals
 * value; value is bare up to "]" or a "quoted string"). A field of a string that holds JSON
 * text is looked up inside that text (e.g. .tcb_info.compose_hash when tcb_info is a JSON
 * string).
 *
 * Operators: == and != (a "string", a number, true, false or null), > >= < <= (a number),
 * =~ and !~ (/regex/, rx.h, with an optional i flag for case-blind), contains (an array holds
 * an equal element; a string holds the substring; an object has the key), exists (the path
 * selects something, null included). When the path selects several values ([] or a filter
 * matching more than one element), the assertion holds if any one of them satisfies it.
 * A path that selects nothing fails every operator, and says where it stopped.
 *
 * Reasons are one line, e.g.
 *	.vms[name=kms].boot_progress is "booting", wanted "done"
 *	no element of .vms has name=kms
 *	body is not JSON at byte 12
 */
#ifndef DW_JSONPATH_H
#define DW_JSONPATH_H

#include <stdbool.h>
#include <stddef.h>

struct jsonpath;

/* Parse an assertion. Returns NULL and sets *cause ("column 7: expected an operator ...")
 * and *column (1-based; may be NULL) if it is malformed. */
struct jsonpath *jsonpath_parse(const char *expr, size_t *column, char **cause);
/* Parse a bare path (no operator), for jsonpath_get. */
struct jsonpath *jsonpath_parse_path(const char *path, size_t *column, char **cause);
void jsonpath_free(struct jsonpath **jpp);
/* The text the assertion was parsed from. */
const char *jsonpath_text(const struct jsonpath *jp);

/*
 * Evaluate a parsed assertion against the JSON text json[0..len). Returns true if it holds;
 * otherwise false with an allocated one-line reason in *reason (when reason is not NULL).
 */
bool jsonpath_eval(const struct jsonpath *jp, const char *json, size_t len, char **reason);

/*
 * The value the path of jp selects (its first, if several), as text: a string's contents
 * as they are, anything else as compact JSON. Returns 0 and an allocated *value, or -1 with
 * *reason ("body is not JSON at byte 3", ".ca_pubkey is missing").
 */
int jsonpath_value(const struct jsonpath *jp, const char *json, size_t len, char **value,
    char **reason);

/* Check an assertion's syntax only: 0, or -1 with *column and *cause as jsonpath_parse. */
int jsonpath_check(const char *expr, size_t *column, char **cause);

/* Parse and evaluate in one go: 1 if it holds, 0 if not (*reason says why), -1 if expr is
 * malformed (*reason is the parse error). */
int jsonpath_assert(const char *expr, const char *json, size_t len, char **reason);

/* Parse a path and pick its value in one go: as jsonpath_value; a bad path is -1 too. */
int jsonpath_get(const char *path, const char *json, size_t len, char **value, char **reason);

#endif
