/* util.c: allocation, strings, time and error-cause helpers. */
#include "config.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Print a message and abort. */
void
fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("dstack-wizard: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		fatal("out of memory (%zu bytes)", size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *
xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);

	if (q == NULL)
		fatal("out of memory (%zu bytes)", size);
	return q;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		fatal("allocation overflow (%zu x %zu)", n, size);
	return xrealloc(p, n * size);
}

char *
xstrdup(const char *s)
{
	return s == NULL ? NULL : xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if (s == NULL)
		return NULL;
	n = strnlen(s, n);
	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xvprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		fatal("out of memory (vasprintf)");
	return s;
}

char *
xprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvprintf(fmt, ap);
	va_end(ap);
	return s;
}

/* Fill *cause with a formatted message and return -1. */
int
set_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return -1;
	free(*cause);
	va_start(ap, fmt);
	*cause = xvprintf(fmt, ap);
	va_end(ap);
	return -1;
}

void
freep(void *pp)
{
	void **p = pp;

	free(*p);
	*p = NULL;
}

static void
sb_grow(struct strbuf *sb, size_t more)
{
	size_t need = sb->len + more + 1;

	if (need <= sb->cap)
		return;
	if (sb->cap == 0)
		sb->cap = 64;
	while (sb->cap < need)
		sb->cap *= 2;
	sb->s = xrealloc(sb->s, sb->cap);
}

void
sb_add(struct strbuf *sb, const char *s, size_t len)
{
	sb_grow(sb, len);
	if (len)
		memcpy(sb->s + sb->len, s, len);
	sb->len += len;
	sb->s[sb->len] = '\0';
}

void
sb_adds(struct strbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void
sb_addc(struct strbuf *sb, char c)
{
	sb_add(sb, &c, 1);
}

void
sb_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvprintf(fmt, ap);
	va_end(ap);
	sb_adds(sb, s);
	free(s);
}

const char *
sb_str(struct strbuf *sb)
{
	return sb->s ? sb->s : "";
}

char *
sb_detach(struct strbuf *sb)
{
	char *s = sb->s ? sb->s : xstrdup("");

	sb->s = NULL;
	sb->len = sb->cap = 0;
	return s;
}

void
sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->s)
		sb->s[0] = '\0';
}

void
sb_free(struct strbuf *sb)
{
	free(sb->s);
	sb->s = NULL;
	sb->len = sb->cap = 0;
}

void
sv_push_take(struct strvec *sv, char *s)
{
	if (sv->n + 2 > sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		sv->v = xreallocarray(sv->v, sv->cap, sizeof *sv->v);
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void
sv_push(struct strvec *sv, const char *s)
{
	sv_push_take(sv, xstrdup(s));
}

void
sv_free(struct strvec *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

bool
str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool
str_has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* Replace every occurrence of each needle with "****". */
char *
str_redact(const char *s, size_t len, const char *const *needles, size_t nneedles, size_t *outlen)
{
	struct strbuf sb = {0};
	size_t i = 0;

	while (i < len) {
		size_t hit = 0;

		for (size_t k = 0; k < nneedles; k++) {
			size_t nl = needles[k] ? strlen(needles[k]) : 0;

			if (nl > 0 && nl <= len - i && memcmp(s + i, needles[k], nl) == 0 && nl > hit)
				hit = nl;
		}
		if (hit) {
			sb_add(&sb, "****", 4);
			i += hit;
		} else
			sb_addc(&sb, s[i++]);
	}
	if (outlen)
		*outlen = sb.len;
	return sb_detach(&sb);
}

/* The length of the valid UTF-8 character at s[0..n) that is not a C1 control; 0 if none. */
static size_t
utf8_shown_len(const unsigned char *s, size_t n)
{
	size_t k, i;
	uint32_t c;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	k = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < k)
		return 0;
	c = s[0] & (0x7f >> k);
	for (i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond U+10FFFF, and the C1 controls. */
	if ((k == 3 && c < 0x800) || (k == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff) || (c >= 0x80 && c <= 0x9f))
		return 0;
	return k;
}

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
str_visible(const char *s, size_t len, size_t *outlen)
{
	const unsigned char *u = (const unsigned char *)s;
	struct strbuf sb = {0};
	size_t i = 0, done = 0, k;

	while (i < len) {
		if ((u[i] >= 0x20 && u[i] < 0x7f) || u[i] == '\t') {
			i++;
			continue;
		}
		if (u[i] >= 0x80 && (k = utf8_shown_len(u + i, len - i)) > 0) {
			i += k;
			continue;
		}
		sb_add(&sb, s + done, i - done);
		sb_addf(&sb, "\\x%02x", u[i]);
		done = ++i;
	}
	if (done == 0 && sb.len == 0)
		return NULL;
	sb_add(&sb, s + done, len - done);
	if (outlen != NULL)
		*outlen = sb.len;
	return sb_detach(&sb);
}

/* Wipe and free a secret string. */
void
secret_free(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

size_t
str_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xcalloc(lb + 1, sizeof *row), d;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	d = row[lb];
	free(row);
	return d;
}

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *
iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

int
parse_iso_time(const char *s, time_t *out)
{
	struct tm tm = {0};
	const char *end;

	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*out = timegm(&tm);
	return 0;
}

/* mkdir -p. */
int
mkdir_p(const char *path, unsigned mode, char **cause)
{
	char *copy = xstrdup(path);

	for (char *p = copy + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(copy, mode) != 0 && errno != EEXIST) {
				set_cause(cause, "cannot create directory %s: %s", copy, strerror(errno));
				free(copy);
				return -1;
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	free(copy);
	return 0;
}

/* Read a whole file. */
int
read_file(const char *path, size_t max, char **out, size_t *len, char **cause)
{
	struct strbuf sb = {0};
	char buf[8192];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return set_cause(cause, "cannot open %s: %s", path, strerror(errno));
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			set_cause(cause, "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (sb.len + (size_t)n > max) {
			set_cause(cause, "%s: file is larger than %zu bytes", path, max);
			goto fail;
		}
		sb_add(&sb, buf, (size_t)n);
	}
	close(fd);
	if (len)
		*len = sb.len;
	*out = sb_detach(&sb);
	return 0;
fail:
	close(fd);
	sb_free(&sb);
	return -1;
}

char *
expand_home(const char *path)
{
	const char *home = getenv("HOME");

	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0') && home && *home)
		return xprintf("%s%s", home, path + 1);
	return xstrdup(path);
}

