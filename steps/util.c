/* util.c: allocation, strings, time and error-cause helpers. */
#include "config.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
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

/* ---------------------------------------------------------------------------------------
 * How much a regex costs regcomp (chain files and captured values are untrusted input).
 */

/* Saturating arithmetic for the estimates: a hostile regex only ever saturates. */
#define REGEX_SAT (SIZE_MAX / 8)

static size_t
sat_mul(size_t a, size_t b)
{
	if (a != 0 && b > REGEX_SAT / a)
		return REGEX_SAT;
	return a * b;
}

static size_t
sat_add(size_t a, size_t b)
{
	return a > REGEX_SAT - b ? REGEX_SAT : a + b;
}

/* One level of group nesting: nodes and anchors so far, those of the last atom (what a
 * repeat after it multiplies), and what may match nothing: the current alternative before
 * its last atom, the last atom, and an alternative already closed. */
struct regex_level {
	size_t nodes, last_nodes, anchors, last_anchors;
	bool atom, prefix_null, last_null, closed_null;
};

static void
regex_level_start(struct regex_level *lv)
{
	memset(lv, 0, sizeof *lv);
	lv->prefix_null = true;
}

/* Whether what the level holds so far may match nothing. */
static bool
regex_level_null(const struct regex_level *lv)
{
	return lv->closed_null || !lv->atom || (lv->prefix_null && lv->last_null);
}

/* Add an atom to a level. */
static void
regex_atom(struct regex_level *lv, size_t nodes, size_t anchors, bool null)
{
	if (lv->atom)
		lv->prefix_null = lv->prefix_null && lv->last_null;
	lv->atom = true;
	lv->last_null = null;
	lv->nodes = sat_add(lv->nodes, nodes);
	lv->last_nodes = nodes;
	lv->anchors = sat_add(lv->anchors, anchors);
	lv->last_anchors = anchors;
}

/* The last atom of a level is there `count` times. */
static void
regex_repeat(struct regex_level *lv, size_t count)
{
	size_t nodes = sat_mul(lv->last_nodes, count), anchors = sat_mul(lv->last_anchors, count);

	lv->nodes = sat_add(lv->nodes - lv->last_nodes, nodes);
	lv->last_nodes = nodes;
	lv->anchors = sat_add(lv->anchors - lv->last_anchors, anchors);
	lv->last_anchors = anchors;
}

/* A repeat after the last atom of a level: x? x* x+ x{lo,hi}, or x{lo,} when not bounded. */
static void
regex_quantify(struct regex_level *lv, unsigned long lo, unsigned long hi, bool bounded,
    struct regex_size *out)
{
	if (!lv->atom)
		return;               /* nothing to repeat: regcomp takes it as a literal or refuses */
	if (!bounded && lv->last_null)
		out->loop_null = true;
	if (lo == 0) {
		out->empty = true;
		lv->nodes = sat_add(lv->nodes, 1);     /* the ALT or STAR node */
		lv->last_nodes = sat_add(lv->last_nodes, 1);
		lv->last_null = true;
	}
	/* x{2,5} is x x x?x?x?: the atom is there max(lo, hi, 1) times (x{0} still costs
	 * regcomp its x); x* once, x+ (x x*) twice, x{n,} n + 1 times. */
	regex_repeat(lv, bounded ? (hi > lo ? hi : lo > 0 ? lo : 1) : lo == 0 ? 1 : lo + 1);
}

/* Past the bracket expression that starts at re[i] ('['). */
static size_t
regex_skip_bracket(const char *re, size_t i, size_t len)
{
	i++;
	if (i < len && re[i] == '^')
		i++;
	if (i < len && re[i] == ']')
		i++;
	while (i < len && re[i] != ']') {
		if (re[i] == '[' && i + 1 < len &&
		    (re[i + 1] == ':' || re[i + 1] == '.' || re[i + 1] == '=')) {
			char close = re[i + 1];

			i += 2;
			while (i + 1 < len && !(re[i] == close && re[i + 1] == ']'))
				i++;
			i += 2;
			continue;
		}
		i++;
	}
	return i + 1;
}

/*
 * Measure re as regcomp will build it: nodes once counted repeats ({n,m}, and x+ which is
 * x x*) are unrolled, with a group costing its two ends; anchors (^ $ \b \B \< \> \` \')
 * likewise; whether some part may match nothing (x? x* x{0,n} an empty alternative or
 * group); and whether such a part is repeated without bound ((x?)* (a|)+). (x{100}){100}
 * has 10200 nodes.
 */
void
regex_measure(const char *re, struct regex_size *out)
{
	size_t len = strlen(re), depth = 0, i = 0, opens = 0;
	struct regex_level some[16], *lv = some;

	for (const char *p = re; *p != '\0'; p++)
		opens += *p == '(';
	if (opens >= nitems(some))              /* a level per '(' at most */
		lv = xreallocarray(NULL, opens + 1, sizeof *lv);

	out->empty = out->loop_null = false;
	regex_level_start(&lv[0]);
	while (i < len) {
		char ch = re[i];

		if (ch == '(') {
			if (re[i + 1] == ')')
				out->empty = true;
			regex_level_start(&lv[++depth]);
			i++;
		} else if (ch == ')' && depth > 0) {
			depth--;
			regex_atom(&lv[depth], sat_add(lv[depth + 1].nodes, 2), lv[depth + 1].anchors,
			    regex_level_null(&lv[depth + 1]));
			i++;
		} else if (ch == '|') {
			struct regex_level *l = &lv[depth];

			if (!l->atom || re[i + 1] == ')' || re[i + 1] == '|' || re[i + 1] == '\0')
				out->empty = true;
			l->closed_null = regex_level_null(l);
			l->atom = false;
			l->prefix_null = true;
			l->last_nodes = l->last_anchors = 0;
			i++;
		} else if (ch == '?' || ch == '*' || ch == '+') {
			regex_quantify(&lv[depth], ch == '+', ch == '?', ch == '?', out);
			i++;
		} else if (ch == '{' && ((re[i + 1] >= '0' && re[i + 1] <= '9') || re[i + 1] == ',')) {
			unsigned long lo = 0, hi = 0;
			bool bounded = true;
			size_t j = i + 1;

			/* {n} {n,} {n,m}, and {,m} which glibc takes as {0,m} */
			for (; re[j] >= '0' && re[j] <= '9'; j++)
				lo = lo > 0xffff ? lo : lo * 10 + (unsigned long)(re[j] - '0');
			hi = lo;
			if (re[j] == ',') {
				j++;
				if (re[j] < '0' || re[j] > '9')
					bounded = false;
				for (hi = 0; re[j] >= '0' && re[j] <= '9'; j++)
					hi = hi > 0xffff ? hi : hi * 10 + (unsigned long)(re[j] - '0');
			}
			if (re[j] != '}') {
				regex_atom(&lv[depth], 1, 0, false);      /* a literal '{' */
				i++;
				continue;
			}
			regex_quantify(&lv[depth], lo, hi, bounded, out);
			i = j + 1;
		} else if (ch == '[') {
			i = regex_skip_bracket(re, i, len);
			regex_atom(&lv[depth], 1, 0, false);
		} else if (ch == '\\') {
			char e = re[i + 1];
			bool anchor = e != '\0' && strchr("bB<>`'", e) != NULL;

			regex_atom(&lv[depth], 1, anchor, anchor);
			i += e != '\0' ? 2 : 1;
		} else {
			bool anchor = ch == '^' || ch == '$';

			regex_atom(&lv[depth], 1, anchor, anchor);
			i++;
		}
	}
	while (depth > 0) {                   /* unclosed groups: regcomp refuses them anyway */
		lv[depth - 1].nodes = sat_add(lv[depth - 1].nodes, lv[depth].nodes);
		lv[depth - 1].anchors = sat_add(lv[depth - 1].anchors, lv[depth].anchors);
		depth--;
	}
	out->nodes = lv[0].nodes;
	out->anchors = lv[0].anchors;
	if (lv != some)
		free(lv);
}

const char *
regex_refusal(const char *re, size_t *nodes)
{
	struct regex_size sz;

	if (nodes)
		*nodes = 0;
	if (strlen(re) > REGEX_LEN_MAX)
		return "the regex is longer than " STR(REGEX_LEN_MAX) " characters";
	regex_measure(re, &sz);
	if (nodes)
		*nodes = sz.nodes;
	if (sz.loop_null)
		return "the regex repeats without bound something that may match nothing, like "
		    "(x?)* (a|)+ (^)+ x?*: regcomp takes exponential time on those (write x* or "
		    "(a|b)* instead)";
	if (sz.nodes > REGEX_COST_MAX)
		return "the regex repeats too much ({n} counts multiply to more than "
		    STR(REGEX_COST_MAX) ")";
	if (sz.empty && sz.nodes > REGEX_COST_EMPTY_MAX)
		return "the regex repeats too much for one with optional parts ({n} counts "
		    "multiply to more than " STR(REGEX_COST_EMPTY_MAX) ")";
	if (sz.anchors > REGEX_ANCHORS_MAX)
		return "the regex has more than " STR(REGEX_ANCHORS_MAX) " anchors (^ $ \\b \\< "
		    "\\>) once {n} counts are multiplied";
	if (sz.empty && sat_mul(sat_mul(sz.anchors, sz.anchors), sz.nodes) > REGEX_MIXED_MAX)
		return "the regex has too many anchors (^ $ \\b \\< \\>) for one of its size with "
		    "optional parts (anchors squared times nodes is more than " STR(REGEX_MIXED_MAX) ")";
	return NULL;
}

/* Compile pattern in the C locale (util.h). */
int
regcomp_bytes(regex_t *re, const char *pattern, int flags)
{
	static locale_t c_locale;
	locale_t old;
	int rc;

	if (c_locale == (locale_t)0 &&
	    (c_locale = newlocale(LC_CTYPE_MASK, "C", (locale_t)0)) == (locale_t)0)
		fatal("out of memory (newlocale)");
	old = uselocale(c_locale);
	rc = regcomp(re, pattern, flags);
	uselocale(old);
	return rc;
}
