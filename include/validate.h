/*
 * validate.h: the input validators. Each answers valid or not, and when not, why (one
 * sentence naming what is wrong) and, where one exists, a suggested correct value (e.g. the
 * EIP-55 checksummed form of an address typed with a wrong checksum).
 */
#ifndef DW_VALIDATE_H
#define DW_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "chain.h"

struct rx;

struct verdict {
	bool ok;
	char *why;          /* allocated when !ok: e.g. "checksum does not match (EIP-55)" */
	char *suggestion;   /* allocated or NULL: e.g. the checksummed address */
	bool unchecksummed; /* eth_address all lower/upper case: accepted, but say so */
};
void verdict_clear(struct verdict *v);

/*
 * Validate value for type t. pattern_re (may be NULL) is an extra regex the value must also
 * match; pattern_text is shown in the message. An empty value is valid only when optional.
 * Secret values never appear in why or suggestion.
 */
void validate_value(enum input_type t, const char *value, bool optional,
    const struct rx *pattern_re, const char *pattern_text, struct verdict *out);

/* Validate an input against its definition (type, optional, pattern). */
void validate_input(const struct input_def *def, const char *value, struct verdict *out);

/* The EIP-55 form of a 0x-prefixed 40-hex-digit address into out (43 bytes); -1 if malformed. */
int eip55_checksum(const char *addr, char out[43]);

/* Individual checks, for tests and callers that need them. */
bool valid_ipv4(const char *s);
bool valid_ipv6(const char *s);
bool valid_domain(const char *s, char **why);
bool valid_port(const char *s);
bool valid_email(const char *s, char **why);
bool valid_url(const char *s, char **why);
bool valid_version(const char *s);

#endif
