/*
 * util.h: allocation, strings, time and error-cause helpers shared by every module.
 *
 * Habits (see STYLE.md): x* allocators exit on out-of-memory; recoverable failures return -1
 * and fill an allocated `char **cause` that the caller shows and frees.
 */
#ifndef DW_UTIL_H
#define DW_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DW_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define DW_NORETURN __attribute__((noreturn))
#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* Print a message and abort: only for bugs and out-of-memory. */
void fatal(const char *fmt, ...) DW_PRINTF(1, 2) DW_NORETURN;

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);          /* NULL in, NULL out */
char *xstrndup(const char *s, size_t n);
char *xprintf(const char *fmt, ...) DW_PRINTF(1, 2);
char *xvprintf(const char *fmt, va_list ap);

/* Fill *cause (when cause is not NULL) with a formatted message; return -1. */
int set_cause(char **cause, const char *fmt, ...) DW_PRINTF(2, 3);

/* Free *p and set it to NULL. */
void freep(void *pp);

/* Growable string. Zero-initialise ({0}) before use. */
struct strbuf {
	char *s;
	size_t len;
	size_t cap;
};
void sb_add(struct strbuf *sb, const char *s, size_t len);
void sb_adds(struct strbuf *sb, const char *s);
void sb_addc(struct strbuf *sb, char c);
void sb_addf(struct strbuf *sb, const char *fmt, ...) DW_PRINTF(2, 3);
const char *sb_str(struct strbuf *sb);   /* never NULL */
char *sb_detach(struct strbuf *sb);      /* caller frees; sb is reset */
void sb_reset(struct strbuf *sb);        /* keep the allocation, length 0 */
void sb_free(struct strbuf *sb);

/* NULL-terminated vector of allocated strings. Zero-initialise before use. */
struct strvec {
	char **v;
	size_t n;
	size_t cap;
};
void sv_push(struct strvec *sv, const char *s);      /* copies s */
void sv_push_take(struct strvec *sv, char *s);       /* takes ownership */
void sv_free(struct strvec *sv);

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);

/* Replace every occurrence of each non-empty needle in s with "****"; returns a new string. */
char *str_redact(const char *s, size_t len, const char *const *needles, size_t nneedles, size_t *outlen);

/*
 * Make text from elsewhere (a step's output, a server's answer) safe for a terminal or a log:
 * every byte of a C0 control but tab (ESC, CR, BEL, NUL ...), DEL, a C1 control (U+0080 to
 * U+009F, or a bare 0x80-0x9F byte) and every byte of invalid UTF-8 becomes the visible text
 * \xNN, so no escape sequence can reach the operator's terminal. NULL when s[0..len) is safe
 * as it is; else a new string (its length in *outlen).
 */
char *str_visible(const char *s, size_t len, size_t *outlen);

/* The value of hex digit c (either case), or -1. */
int hex_digit(int c);

/* Wipe and free a secret string. */
void secret_free(char **p);

/* Levenshtein distance, for "did you mean" suggestions. */
size_t str_distance(const char *a, const char *b);

/* Monotonic clock in milliseconds. */
uint64_t now_ms(void);
/* UTC time as "2026-11-24T10:02:03Z" into buf (at least 21 bytes). */
const char *iso_time(time_t t, char *buf, size_t len);
/* Parse iso_time() output; returns -1 if malformed. */
int parse_iso_time(const char *s, time_t *out);

/* mkdir -p with the given mode for created directories. */
int mkdir_p(const char *path, unsigned mode, char **cause);
/* Read a whole file (at most max bytes); NUL-terminated. */
int read_file(const char *path, size_t max, char **out, size_t *len, char **cause);
/* Expand a leading "~/" with $HOME. Returns an allocated string. */
char *expand_home(const char *path);


#endif
