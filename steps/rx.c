/*
 * rx.c: PCRE2 behind a small interface. Every match runs with one shared match context that
 * holds the limits, and with the compiled pattern's own match data (made with it, reused:
 * the wizard is single-threaded), so a match allocates nothing.
 */
#include "config.h"

#include "rx.h"

#include <stdint.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "util.h"

struct rx {
	pcre2_code *code;
	pcre2_match_data *md;
};

/* The match context with the limits, made once. */
static pcre2_match_context *
rx_context(void)
{
	static pcre2_match_context *mc;

	if (mc == NULL) {
		if ((mc = pcre2_match_context_create(NULL)) == NULL)
			fatal("out of memory");
		pcre2_set_match_limit(mc, RX_MATCH_LIMIT);
		pcre2_set_heap_limit(mc, RX_HEAP_LIMIT_KIB);
	}
	return mc;
}

struct rx *
rx_new(const char *pattern, int flags, char **cause)
{
	struct rx *rx;
	uint32_t opts = 0;
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int err;

	if (strlen(pattern) > RX_LEN_MAX) {
		set_cause(cause, "longer than %d characters", RX_LEN_MAX);
		return NULL;
	}
	/* GNU's word edges \< \> would silently be the characters < > here. */
	for (const char *p = pattern; *p != '\0'; p++) {
		if (*p != '\\' || *++p == '\0')
			continue;
		if (*p == '<' || *p == '>') {
			set_cause(cause, "\\%c (a GNU word edge) is not supported: use \\b, or \\%c "
			    "in a bracket [%c] for the character", *p, *p, *p);
			return NULL;
		}
	}
	if (flags & RX_LINES)
		opts |= PCRE2_MULTILINE;
	if (flags & RX_ICASE)
		opts |= PCRE2_CASELESS;
	rx = xcalloc(1, sizeof *rx);
	rx->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &err, &off,
	    NULL);
	if (rx->code == NULL) {
		pcre2_get_error_message(err, msg, sizeof msg);
		set_cause(cause, "%s at offset %zu", (const char *)msg, (size_t)off);
		free(rx);
		return NULL;
	}
	if ((rx->md = pcre2_match_data_create_from_pattern(rx->code, NULL)) == NULL)
		fatal("out of memory");
	return rx;
}

void
rx_free(struct rx **rxp)
{
	struct rx *rx = *rxp;

	if (rx == NULL)
		return;
	pcre2_match_data_free(rx->md);
	pcre2_code_free(rx->code);
	free(rx);
	*rxp = NULL;
}

int
rx_groups(const struct rx *rx)
{
	uint32_t n = 0;

	pcre2_pattern_info(rx->code, PCRE2_INFO_CAPTURECOUNT, &n);
	return (int)n;
}

char *
rx_check(const char *pattern, int flags)
{
	char *cause = NULL;
	struct rx *rx = rx_new(pattern, flags, &cause);

	rx_free(&rx);
	return cause;
}

int
rx_match(const struct rx *rx, const char *subject, size_t len, long *so, long *eo)
{
	PCRE2_SIZE *ov;
	int rc;

	rc = pcre2_match(rx->code, (PCRE2_SPTR)subject, len, 0, 0, rx->md, rx_context());
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0)
		return -1;   /* a limit, or a subject PCRE2 refused: no verdict */
	if (so != NULL && eo != NULL) {
		ov = pcre2_get_ovector_pointer(rx->md);
		*so = *eo = -1;
		if (pcre2_get_ovector_count(rx->md) > 1 && ov[2] != PCRE2_UNSET) {
			*so = (long)ov[2];
			*eo = (long)ov[3];
		}
	}
	return 1;
}

bool
rx_matches(const struct rx *rx, const char *subject)
{
	return rx_match(rx, subject, strlen(subject), NULL, NULL) == 1;
}
