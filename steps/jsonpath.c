/*
 * jsonpath.c: the assertion language of jsonpath.h: a parser into a small struct, and an
 * evaluator over a cJSON tree. cJSON stays inside this file.
 *
 * Evaluation walks the path one segment at a time over a set of values (a set, because []
 * and filters may select several). When a segment leaves the set empty, the reason names
 * the path up to that segment and what was found there instead. Strings that hold JSON text
 * are parsed when a segment looks inside them; those documents live until the evaluation
 * ends.
 *
 * Nothing here trusts its input: expressions and bodies come from step files and from
 * servers, and the fuzzer (tests/fuzz/fuzz-jsonpath.c) feeds both.
 */
#include "config.h"

#include "jsonpath.h"

#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "rx.h"
#include "util.h"

#define JP_SHOW_MAX 80            /* characters of a value shown in a reason */
#define JP_MAX_INDEX 1000000000L

enum jp_seg_kind { SEG_NAME, SEG_INDEX, SEG_ANY, SEG_FILTER };

struct jp_seg {
	enum jp_seg_kind kind;
	char *name;                   /* SEG_NAME; SEG_FILTER: the key */
	char *value;                  /* SEG_FILTER */
	long index;                   /* SEG_INDEX; negative counts from the end */
	size_t end;                   /* offset in the text just after this segment */
};

enum jp_op { OP_NONE, OP_EQ, OP_NE, OP_GT, OP_GE, OP_LT, OP_LE, OP_MATCH, OP_NOMATCH,
	OP_CONTAINS, OP_EXISTS };

enum jp_lit { LIT_NONE, LIT_STRING, LIT_NUMBER, LIT_TRUE, LIT_FALSE, LIT_NULL, LIT_REGEX };

struct jsonpath {
	char *text;
	size_t path_start, path_end;  /* the path within text */
	struct jp_seg *segs;
	size_t nsegs;
	enum jp_op op;
	enum jp_lit lit;
	char *str;                    /* LIT_STRING */
	double num;                   /* LIT_NUMBER */
	char *littext;                /* the literal as written */
	struct rx *re;                /* LIT_REGEX */
};

struct jp_parser {
	const char *s;
	size_t pos;
	char *err;
	size_t errcol;
};

/* ---------------------------------------------------------------------------------------
 * Parsing.
 */

/* Record a parse error at offset at; returns false. */
static bool DW_PRINTF(3, 4)
jp_error(struct jp_parser *p, size_t at, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (p->err != NULL)
		return false;
	va_start(ap, fmt);
	msg = xvprintf(fmt, ap);
	va_end(ap);
	p->errcol = at + 1;
	p->err = xprintf("column %zu: %s", p->errcol, msg);
	free(msg);
	return false;
}

/* Skip blanks. */
static void
jp_skip(struct jp_parser *p)
{
	while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t')
		p->pos++;
}

/* True if c may be part of a bare field name. */
static bool
jp_namechar(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '$' || c == '@';
}

/* Append code point cp to sb as UTF-8. */
static void
jp_utf8(struct strbuf *sb, unsigned long cp)
{
	if (cp < 0x80)
		sb_addc(sb, (char)cp);
	else if (cp < 0x800) {
		sb_addc(sb, (char)(0xc0 | (cp >> 6)));
		sb_addc(sb, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		sb_addc(sb, (char)(0xe0 | (cp >> 12)));
		sb_addc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sb_addc(sb, (char)(0x80 | (cp & 0x3f)));
	} else {
		sb_addc(sb, (char)(0xf0 | (cp >> 18)));
		sb_addc(sb, (char)(0x80 | ((cp >> 12) & 0x3f)));
		sb_addc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sb_addc(sb, (char)(0x80 | (cp & 0x3f)));
	}
}

/* Read four hex digits at s; -1 if they are not. */
static long
jp_hex4(const char *s)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)s[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Parse a "string" with JSON escapes at p->pos; returns it allocated, or NULL. */
static char *
jp_string(struct jp_parser *p)
{
	struct strbuf sb = {0};
	size_t start = p->pos;
	const char *s = p->s;

	p->pos++;   /* the opening quote */
	for (;;) {
		char c = s[p->pos];
		long cp, lo;

		if (c == '\0') {
			sb_free(&sb);
			jp_error(p, start, "unterminated string");
			return NULL;
		}
		if (c == '"') {
			p->pos++;
			return sb_detach(&sb);
		}
		if (c != '\\') {
			sb_addc(&sb, c);
			p->pos++;
			continue;
		}
		c = s[p->pos + 1];
		switch (c) {
		case '"': case '\\': case '/':
			sb_addc(&sb, c);
			break;
		case 'b': sb_addc(&sb, '\b'); break;
		case 'f': sb_addc(&sb, '\f'); break;
		case 'n': sb_addc(&sb, '\n'); break;
		case 'r': sb_addc(&sb, '\r'); break;
		case 't': sb_addc(&sb, '\t'); break;
		case 'u':
			cp = jp_hex4(s + p->pos + 2);
			if (cp < 0 || cp == 0) {
				sb_free(&sb);
				jp_error(p, p->pos, "bad \\u escape");
				return NULL;
			}
			if (cp >= 0xd800 && cp <= 0xdbff && s[p->pos + 6] == '\\' &&
			    s[p->pos + 7] == 'u' && (lo = jp_hex4(s + p->pos + 8)) >= 0xdc00 &&
			    lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p->pos += 6;
			} else if (cp >= 0xd800 && cp <= 0xdfff) {
				sb_free(&sb);
				jp_error(p, p->pos, "lone surrogate in \\u escape");
				return NULL;
			}
			jp_utf8(&sb, (unsigned long)cp);
			p->pos += 4;
			break;
		default:
			sb_free(&sb);
			jp_error(p, p->pos, "bad escape in string");
			return NULL;
		}
		p->pos += 2;
	}
}

/* Parse a field name: bare or quoted. */
static char *
jp_name(struct jp_parser *p)
{
	size_t start = p->pos;

	if (p->s[p->pos] == '"')
		return jp_string(p);
	while (jp_namechar(p->s[p->pos]))
		p->pos++;
	if (p->pos == start) {
		jp_error(p, start, "expected a field name");
		return NULL;
	}
	return xstrndup(p->s + start, p->pos - start);
}

/* Add a segment to jp. */
static struct jp_seg *
jp_add_seg(struct jsonpath *jp, enum jp_seg_kind kind)
{
	struct jp_seg *sg;

	jp->segs = xreallocarray(jp->segs, jp->nsegs + 1, sizeof *jp->segs);
	sg = &jp->segs[jp->nsegs++];
	memset(sg, 0, sizeof *sg);
	sg->kind = kind;
	return sg;
}

/* Parse a bracket segment at p->pos ("["). */
static bool
jp_bracket(struct jp_parser *p, struct jsonpath *jp)
{
	const char *s = p->s;
	struct jp_seg *sg;
	size_t start = p->pos;

	p->pos++;
	jp_skip(p);
	if (s[p->pos] == ']' || s[p->pos] == '*') {
		if (s[p->pos] == '*') {
			p->pos++;
			jp_skip(p);
		}
		if (s[p->pos] != ']')
			return jp_error(p, p->pos, "expected \"]\"");
		p->pos++;
		jp_add_seg(jp, SEG_ANY)->end = p->pos;
		return true;
	}
	if (s[p->pos] == '-' || isdigit((unsigned char)s[p->pos])) {
		bool neg = s[p->pos] == '-';
		long v = 0;
		size_t digits = p->pos + (neg ? 1 : 0);

		p->pos = digits;
		while (isdigit((unsigned char)s[p->pos])) {
			v = v * 10 + (s[p->pos] - '0');
			if (v > JP_MAX_INDEX)
				return jp_error(p, digits, "index too large");
			p->pos++;
		}
		if (p->pos == digits)
			return jp_error(p, digits, "expected a digit");
		jp_skip(p);
		if (s[p->pos] != ']')
			return jp_error(p, p->pos, "expected \"]\" after the index");
		p->pos++;
		sg = jp_add_seg(jp, SEG_INDEX);
		sg->index = neg ? -v : v;
		sg->end = p->pos;
		if (neg && v == 0)
			return jp_error(p, start, "index -0 (use [0] or [-1])");
		return true;
	}
	if (jp_namechar(s[p->pos]) || s[p->pos] == '"') {
		char *key, *val;

		if ((key = jp_name(p)) == NULL)
			return false;
		jp_skip(p);
		if (s[p->pos] != '=') {
			free(key);
			return jp_error(p, p->pos, "expected \"=\" in [key=value]");
		}
		p->pos++;
		jp_skip(p);
		if (s[p->pos] == '"') {
			if ((val = jp_string(p)) == NULL) {
				free(key);
				return false;
			}
			jp_skip(p);
		} else {
			size_t vs = p->pos, ve;

			while (s[p->pos] != ']' && s[p->pos] != '\0' && s[p->pos] != '[')
				p->pos++;
			ve = p->pos;
			while (ve > vs && (s[ve - 1] == ' ' || s[ve - 1] == '\t'))
				ve--;
			val = xstrndup(s + vs, ve - vs);
		}
		if (s[p->pos] != ']') {
			free(key);
			free(val);
			return jp_error(p, p->pos, "expected \"]\" after [key=value");
		}
		p->pos++;
		sg = jp_add_seg(jp, SEG_FILTER);
		sg->name = key;
		sg->value = val;
		sg->end = p->pos;
		return true;
	}
	return jp_error(p, p->pos, "expected an index, \"*\" or key=value in brackets");
}

/* Parse the path at p->pos. */
static bool
jp_path(struct jp_parser *p, struct jsonpath *jp)
{
	const char *s = p->s;
	bool first = true;

	jp_skip(p);
	jp->path_start = p->pos;
	if (s[p->pos] != '.')
		return jp_error(p, p->pos, "a path starts with \".\" (e.g. .status)");
	p->pos++;
	for (;;) {
		char c = s[p->pos];

		if (c == '[') {
			if (!jp_bracket(p, jp))
				return false;
		} else if (first && (jp_namechar(c) || c == '"')) {
			struct jp_seg *sg;
			char *name = jp_name(p);

			if (name == NULL)
				return false;
			sg = jp_add_seg(jp, SEG_NAME);
			sg->name = name;
			sg->end = p->pos;
		} else if (!first && c == '.') {
			struct jp_seg *sg;
			char *name;

			p->pos++;
			if (!jp_namechar(s[p->pos]) && s[p->pos] != '"')
				return jp_error(p, p->pos, "expected a field name after \".\"");
			if ((name = jp_name(p)) == NULL)
				return false;
			sg = jp_add_seg(jp, SEG_NAME);
			sg->name = name;
			sg->end = p->pos;
		} else
			break;
		first = false;
	}
	jp->path_end = p->pos;
	return true;
}

/* Parse the operator at p->pos. */
static bool
jp_op(struct jp_parser *p, struct jsonpath *jp)
{
	static const struct { const char *text; enum jp_op op; bool word; } ops[] = {
		{ "==", OP_EQ, false }, { "!=", OP_NE, false }, { ">=", OP_GE, false },
		{ "<=", OP_LE, false }, { "=~", OP_MATCH, false }, { "!~", OP_NOMATCH, false },
		{ ">", OP_GT, false }, { "<", OP_LT, false },
		{ "contains", OP_CONTAINS, true }, { "exists", OP_EXISTS, true },
	};
	const char *s = p->s + p->pos;

	for (size_t i = 0; i < nitems(ops); i++) {
		size_t n = strlen(ops[i].text);

		if (strncmp(s, ops[i].text, n) != 0)
			continue;
		if (ops[i].word && jp_namechar(s[n]))
			continue;
		jp->op = ops[i].op;
		p->pos += n;
		return true;
	}
	if (*s == '\0')
		return jp_error(p, p->pos, "expected an operator after the path "
		    "(==, !=, >, >=, <, <=, =~, !~, contains, exists)");
	return jp_error(p, p->pos, "expected an operator "
	    "(==, !=, >, >=, <, <=, =~, !~, contains, exists)");
}

/* Parse a JSON number at p->pos. */
static bool
jp_number(struct jp_parser *p, struct jsonpath *jp)
{
	const char *s = p->s;
	size_t start = p->pos, i = p->pos;
	char *copy;

	if (s[i] == '-')
		i++;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9') {
		while (isdigit((unsigned char)s[i]))
			i++;
	} else
		return jp_error(p, start, "bad number");
	if (s[i] == '.') {
		i++;
		if (!isdigit((unsigned char)s[i]))
			return jp_error(p, i, "bad number: expected a digit after \".\"");
		while (isdigit((unsigned char)s[i]))
			i++;
	}
	if (s[i] == 'e' || s[i] == 'E') {
		i++;
		if (s[i] == '+' || s[i] == '-')
			i++;
		if (!isdigit((unsigned char)s[i]))
			return jp_error(p, i, "bad number: expected a digit in the exponent");
		while (isdigit((unsigned char)s[i]))
			i++;
	}
	if (jp_namechar(s[i]) || s[i] == '.')
		return jp_error(p, start, "bad number");
	copy = xstrndup(s + start, i - start);
	jp->num = strtod(copy, NULL);
	free(copy);
	if (!isfinite(jp->num))
		return jp_error(p, start, "number out of range");
	jp->lit = LIT_NUMBER;
	p->pos = i;
	return true;
}

/* Parse a /regex/ with optional flags at p->pos and compile it. */
static bool
jp_regex(struct jp_parser *p, struct jsonpath *jp)
{
	struct strbuf sb = {0};
	const char *s = p->s;
	char *why = NULL;
	size_t start = p->pos;
	int flags = 0;

	p->pos++;
	for (;;) {
		char c = s[p->pos];

		if (c == '\0') {
			sb_free(&sb);
			return jp_error(p, start, "unterminated regular expression (no closing /)");
		}
		if (c == '/')
			break;
		if (c == '\\' && s[p->pos + 1] == '/') {
			sb_addc(&sb, '/');
			p->pos += 2;
			continue;
		}
		if (c == '\\' && s[p->pos + 1] != '\0') {
			sb_add(&sb, s + p->pos, 2);
			p->pos += 2;
			continue;
		}
		sb_addc(&sb, c);
		p->pos++;
	}
	p->pos++;
	while (isalpha((unsigned char)s[p->pos])) {
		if (s[p->pos] != 'i') {
			sb_free(&sb);
			return jp_error(p, p->pos, "unknown regular expression flag \"%c\" (only i)",
			    s[p->pos]);
		}
		flags |= RX_ICASE;
		p->pos++;
	}
	jp->re = rx_new(sb_str(&sb), flags, &why);
	sb_free(&sb);
	if (jp->re == NULL) {
		bool ok = jp_error(p, start, "bad regular expression: %s", why);

		free(why);
		return ok;
	}
	jp->lit = LIT_REGEX;
	return true;
}

/* Parse the literal after the operator, and check it suits the operator. */
static bool
jp_literal(struct jp_parser *p, struct jsonpath *jp)
{
	const char *s = p->s;
	size_t start;
	char c;

	if (jp->op == OP_EXISTS)
		return true;
	jp_skip(p);
	start = p->pos;
	c = s[p->pos];
	if (c == '\0')
		return jp_error(p, p->pos, "expected a value after the operator");
	if (c == '"') {
		if ((jp->str = jp_string(p)) == NULL)
			return false;
		jp->lit = LIT_STRING;
	} else if (c == '/') {
		if (!jp_regex(p, jp))
			return false;
	} else if (c == '-' || isdigit((unsigned char)c)) {
		if (!jp_number(p, jp))
			return false;
	} else if (jp_namechar(c)) {
		size_t e = p->pos;

		while (jp_namechar(s[e]))
			e++;
		if (e - p->pos == 4 && strncmp(s + p->pos, "true", 4) == 0)
			jp->lit = LIT_TRUE;
		else if (e - p->pos == 5 && strncmp(s + p->pos, "false", 5) == 0)
			jp->lit = LIT_FALSE;
		else if (e - p->pos == 4 && strncmp(s + p->pos, "null", 4) == 0)
			jp->lit = LIT_NULL;
		else
			return jp_error(p, p->pos, "expected a value (\"string\", number, true, "
			    "false or null); strings need double quotes");
		p->pos = e;
	} else
		return jp_error(p, p->pos, "expected a value (\"string\", number, true, false "
		    "or null)");
	jp->littext = xstrndup(s + start, p->pos - start);

	switch (jp->op) {
	case OP_EQ:
	case OP_NE:
		if (jp->lit == LIT_REGEX)
			return jp_error(p, start, "a /regex/ needs =~ or !~");
		break;
	case OP_GT:
	case OP_GE:
	case OP_LT:
	case OP_LE:
		if (jp->lit != LIT_NUMBER)
			return jp_error(p, start, "this comparison needs a number");
		break;
	case OP_MATCH:
	case OP_NOMATCH:
		if (jp->lit != LIT_REGEX)
			return jp_error(p, start, "=~ and !~ need a /regex/");
		break;
	case OP_CONTAINS:
		if (jp->lit == LIT_REGEX)
			return jp_error(p, start, "contains needs a value, not a /regex/");
		break;
	default:
		break;
	}
	return true;
}

/* Free a parsed assertion. */
void
jsonpath_free(struct jsonpath **jpp)
{
	struct jsonpath *jp = *jpp;

	if (jp == NULL)
		return;
	for (size_t i = 0; i < jp->nsegs; i++) {
		free(jp->segs[i].name);
		free(jp->segs[i].value);
	}
	free(jp->segs);
	free(jp->text);
	free(jp->str);
	free(jp->littext);
	rx_free(&jp->re);
	free(jp);
	*jpp = NULL;
}

/* Parse expr: a path, and an operator and literal unless path_only. */
static struct jsonpath *
jp_parse(const char *expr, bool path_only, size_t *column, char **cause)
{
	struct jp_parser p = { .s = expr ? expr : "" };
	struct jsonpath *jp = xcalloc(1, sizeof *jp);

	jp->text = xstrdup(p.s);
	if (!jp_path(&p, jp))
		goto fail;
	jp_skip(&p);
	if (!path_only) {
		if (!jp_op(&p, jp) || !jp_literal(&p, jp))
			goto fail;
		jp_skip(&p);
	}
	if (p.s[p.pos] != '\0') {
		jp_error(&p, p.pos, path_only ? "unexpected text after the path" :
		    "unexpected text after the assertion");
		goto fail;
	}
	return jp;

fail:
	if (column != NULL)
		*column = p.errcol;
	if (cause != NULL) {
		free(*cause);
		*cause = p.err;
	} else
		free(p.err);
	jsonpath_free(&jp);
	return NULL;
}

/* Parse an assertion. */
struct jsonpath *
jsonpath_parse(const char *expr, size_t *column, char **cause)
{
	return jp_parse(expr, false, column, cause);
}

/* Parse a bare path. */
struct jsonpath *
jsonpath_parse_path(const char *path, size_t *column, char **cause)
{
	return jp_parse(path, true, column, cause);
}

/* Return the text an assertion was parsed from. */
const char *
jsonpath_text(const struct jsonpath *jp)
{
	return jp->text;
}

/* Check an assertion's syntax. */
int
jsonpath_check(const char *expr, size_t *column, char **cause)
{
	struct jsonpath *jp = jsonpath_parse(expr, column, cause);

	if (jp == NULL)
		return -1;
	jsonpath_free(&jp);
	return 0;
}

/* ---------------------------------------------------------------------------------------
 * Evaluation.
 */

struct jp_set {
	const cJSON **v;
	size_t n, cap;
};

struct jp_eval {
	const struct jsonpath *jp;
	cJSON *root;
	cJSON **docs;                 /* JSON parsed out of strings */
	size_t ndocs;
	struct jp_set set;
	char *reason;
};

/* Add v to the set. */
static void
jp_set_add(struct jp_set *s, const cJSON *v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = xreallocarray(s->v, s->cap, sizeof *s->v);
	}
	s->v[s->n++] = v;
}

/* The kind of a value, for reasons. */
static const char *
jp_kind(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsTrue(v))
		return "true";
	if (cJSON_IsFalse(v))
		return "false";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsObject(v))
		return "an object";
	if (cJSON_IsArray(v))
		return "an array";
	return "an unknown value";
}

/* A value as compact JSON, cut to JP_SHOW_MAX characters. */
static char *
jp_show(const cJSON *v)
{
	char *t = cJSON_PrintUnformatted(v), *r;
	size_t n;

	if (t == NULL)
		return xstrdup("(unprintable)");
	n = strlen(t);
	if (n <= JP_SHOW_MAX) {
		r = xstrdup(t);
	} else {
		/* Do not cut inside a UTF-8 sequence. */
		n = JP_SHOW_MAX;
		while (n > 0 && ((unsigned char)t[n] & 0xc0) == 0x80)
			n--;
		r = xprintf("%.*s...", (int)n, t);
	}
	cJSON_free(t);
	return r;
}

/* The path's text up to the end of segment i (i == 0: before the first segment). */
static char *
jp_prefix(const struct jsonpath *jp, size_t nseg)
{
	size_t end = nseg == 0 ? jp->path_start + 1 : jp->segs[nseg - 1].end;

	return xstrndup(jp->text + jp->path_start, end - jp->path_start);
}

/* Parse the JSON text a string value holds, if it holds any; the document is kept in e. */
static const cJSON *
jp_inner(struct jp_eval *e, const cJSON *v)
{
	const char *s;
	cJSON *doc;

	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return v;
	s = v->valuestring;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (*s != '{' && *s != '[')
		return v;
	doc = cJSON_Parse(s);
	if (doc == NULL)
		return v;
	e->docs = xreallocarray(e->docs, e->ndocs + 1, sizeof *e->docs);
	e->docs[e->ndocs++] = doc;
	return doc;
}

/* True if v (an element's field) equals the bare or quoted filter text. */
static bool
jp_filter_match(const cJSON *v, const char *want)
{
	if (cJSON_IsString(v))
		return v->valuestring != NULL && strcmp(v->valuestring, want) == 0;
	if (cJSON_IsNumber(v)) {
		char *end;
		double d;

		if (*want == '\0')
			return false;
		d = strtod(want, &end);
		return *end == '\0' && d == v->valuedouble;
	}
	if (cJSON_IsTrue(v))
		return strcmp(want, "true") == 0;
	if (cJSON_IsFalse(v))
		return strcmp(want, "false") == 0;
	if (cJSON_IsNull(v))
		return strcmp(want, "null") == 0;
	return false;
}

/* Apply one segment to v, adding what it selects to out. */
static void
jp_step(struct jp_eval *e, const struct jp_seg *sg, const cJSON *v, struct jp_set *out)
{
	const cJSON *c;
	int n;

	v = jp_inner(e, v);
	switch (sg->kind) {
	case SEG_NAME:
		if (cJSON_IsObject(v) && (c = cJSON_GetObjectItemCaseSensitive(v, sg->name)) != NULL)
			jp_set_add(out, c);
		break;
	case SEG_INDEX:
		if (!cJSON_IsArray(v))
			break;
		n = cJSON_GetArraySize(v);
		if (sg->index >= 0 && sg->index < n)
			jp_set_add(out, cJSON_GetArrayItem(v, (int)sg->index));
		else if (sg->index < 0 && -sg->index <= n)
			jp_set_add(out, cJSON_GetArrayItem(v, (int)(n + sg->index)));
		break;
	case SEG_ANY:
		if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
			for (c = v->child; c != NULL; c = c->next)
				jp_set_add(out, c);
		}
		break;
	case SEG_FILTER:
		if (!cJSON_IsArray(v))
			break;
		for (c = v->child; c != NULL; c = c->next) {
			const cJSON *f;

			if (cJSON_IsObject(c) &&
			    (f = cJSON_GetObjectItemCaseSensitive(c, sg->name)) != NULL &&
			    jp_filter_match(f, sg->value))
				jp_set_add(out, c);
		}
		break;
	}
}

/* Say why segment i selected nothing from the set. */
static char *
jp_why_empty(struct jp_eval *e, size_t i)
{
	const struct jsonpath *jp = e->jp;
	const struct jp_seg *sg = &jp->segs[i];
	char *before = jp_prefix(jp, i), *upto = jp_prefix(jp, i + 1), *r;
	const cJSON *v;

	if (e->set.n != 1) {
		r = xprintf("%s selects nothing (none of the %zu values of %s has it)", upto,
		    e->set.n, before);
		goto out;
	}
	v = jp_inner(e, e->set.v[0]);
	switch (sg->kind) {
	case SEG_NAME:
		if (cJSON_IsObject(v))
			r = xprintf("%s is missing", upto);
		else
			r = xprintf("%s is %s, not an object (looking for %s)", before, jp_kind(v),
			    upto);
		break;
	case SEG_INDEX:
		if (cJSON_IsArray(v))
			r = xprintf("%s has %d element%s, so no [%ld]", before,
			    cJSON_GetArraySize(v), cJSON_GetArraySize(v) == 1 ? "" : "s", sg->index);
		else
			r = xprintf("%s is %s, not an array", before, jp_kind(v));
		break;
	case SEG_ANY:
		if (cJSON_IsArray(v) || cJSON_IsObject(v))
			r = xprintf("%s is empty", before);
		else
			r = xprintf("%s is %s, not an array", before, jp_kind(v));
		break;
	case SEG_FILTER:
	default:
		if (cJSON_IsArray(v))
			r = xprintf("no element of %s has %s=%s", before, sg->name, sg->value);
		else
			r = xprintf("%s is %s, not an array", before, jp_kind(v));
		break;
	}
out:
	free(before);
	free(upto);
	return r;
}

/* Parse the body into e->root; false with e->reason if it is not JSON. */
static bool
jp_load(struct jp_eval *e, const char *json, size_t len)
{
	const char *end = NULL;
	size_t i = 0, off;

	if (json == NULL)
		len = 0;
	while (i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r'))
		i++;
	if (i == len) {
		e->reason = xstrdup("body is empty, not JSON");
		return false;
	}
	e->root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	if (e->root == NULL) {
		off = end != NULL && end >= json && end <= json + len ? (size_t)(end - json) : 0;
		e->reason = xprintf("body is not JSON at byte %zu", off);
		return false;
	}
	off = end != NULL ? (size_t)(end - json) : len;
	while (off < len && (json[off] == ' ' || json[off] == '\t' || json[off] == '\n' ||
	    json[off] == '\r' || json[off] == '\0'))
		off++;
	if (off < len) {
		e->reason = xprintf("body is not JSON at byte %zu (text after the value)", off);
		return false;
	}
	return true;
}

/* Walk the path; false with e->reason if it selects nothing. */
static bool
jp_walk(struct jp_eval *e)
{
	const struct jsonpath *jp = e->jp;

	jp_set_add(&e->set, e->root);
	for (size_t i = 0; i < jp->nsegs; i++) {
		struct jp_set next = {0};

		for (size_t k = 0; k < e->set.n; k++)
			jp_step(e, &jp->segs[i], e->set.v[k], &next);
		if (next.n == 0) {
			e->reason = jp_why_empty(e, i);
			free(next.v);
			return false;
		}
		free(e->set.v);
		e->set = next;
	}
	return true;
}

/* Release an evaluation. */
static void
jp_eval_done(struct jp_eval *e)
{
	cJSON_Delete(e->root);
	for (size_t i = 0; i < e->ndocs; i++)
		cJSON_Delete(e->docs[i]);
	free(e->docs);
	free(e->set.v);
}

/* Compare value and literal for == (true if equal). */
static bool
jp_equal(const struct jsonpath *jp, const cJSON *v)
{
	switch (jp->lit) {
	case LIT_STRING:
		return cJSON_IsString(v) && v->valuestring != NULL &&
		    strcmp(v->valuestring, jp->str) == 0;
	case LIT_NUMBER:
		return cJSON_IsNumber(v) && v->valuedouble == jp->num;
	case LIT_TRUE:
		return cJSON_IsTrue(v);
	case LIT_FALSE:
		return cJSON_IsFalse(v);
	case LIT_NULL:
		return cJSON_IsNull(v);
	default:
		return false;
	}
}

/* True if the regex matches the value's text (strings, numbers, booleans). */
static bool
jp_match(const struct jsonpath *jp, const cJSON *v)
{
	char *t;
	bool m;

	if (cJSON_IsString(v))
		return v->valuestring != NULL && rx_matches(jp->re, v->valuestring);
	if (!cJSON_IsNumber(v) && !cJSON_IsBool(v))
		return false;
	t = cJSON_PrintUnformatted(v);
	if (t == NULL)
		return false;
	m = rx_matches(jp->re, t);
	cJSON_free(t);
	return m;
}

/* True if the value contains the literal. */
static bool
jp_contains(const struct jsonpath *jp, const cJSON *v)
{
	const cJSON *c;

	if (cJSON_IsArray(v)) {
		for (c = v->child; c != NULL; c = c->next) {
			if (jp_equal(jp, c))
				return true;
		}
		return false;
	}
	if (cJSON_IsString(v) && v->valuestring != NULL) {
		if (jp->lit == LIT_STRING)
			return strstr(v->valuestring, jp->str) != NULL;
		if (jp->lit == LIT_NUMBER || jp->lit == LIT_TRUE || jp->lit == LIT_FALSE ||
		    jp->lit == LIT_NULL)
			return strstr(v->valuestring, jp->littext) != NULL;
		return false;
	}
	if (cJSON_IsObject(v) && jp->lit == LIT_STRING)
		return cJSON_GetObjectItemCaseSensitive(v, jp->str) != NULL;
	return false;
}

/* True if v satisfies the operator. */
static bool
jp_holds(const struct jsonpath *jp, const cJSON *v)
{
	switch (jp->op) {
	case OP_EQ:
		return jp_equal(jp, v);
	case OP_NE:
		return !jp_equal(jp, v);
	case OP_GT:
		return cJSON_IsNumber(v) && v->valuedouble > jp->num;
	case OP_GE:
		return cJSON_IsNumber(v) && v->valuedouble >= jp->num;
	case OP_LT:
		return cJSON_IsNumber(v) && v->valuedouble < jp->num;
	case OP_LE:
		return cJSON_IsNumber(v) && v->valuedouble <= jp->num;
	case OP_MATCH:
		return jp_match(jp, v);
	case OP_NOMATCH:
		return (cJSON_IsString(v) || cJSON_IsNumber(v) || cJSON_IsBool(v)) &&
		    !jp_match(jp, v);
	case OP_CONTAINS:
		return jp_contains(jp, v);
	case OP_EXISTS:
		return true;
	default:
		return false;
	}
}

/* What the operator wanted, for reasons: "\"done\"", "anything but null", "> 5". */
static char *
jp_wanted(const struct jsonpath *jp, const cJSON *v)
{
	const char *t = jp->littext ? jp->littext : "";
	bool num_needed = jp->op >= OP_GT && jp->op <= OP_LE;

	switch (jp->op) {
	case OP_EQ:
		return xstrdup(t);
	case OP_NE:
		return xprintf("anything but %s", t);
	case OP_GT:
	case OP_GE:
	case OP_LT:
	case OP_LE:
		return xprintf("%s%s %s", num_needed && !cJSON_IsNumber(v) ? "a number " : "",
		    jp->op == OP_GT ? ">" : jp->op == OP_GE ? ">=" : jp->op == OP_LT ? "<" : "<=",
		    t);
	case OP_MATCH:
		return xprintf("a match of %s", t);
	case OP_NOMATCH:
		return xprintf("no match of %s", t);
	case OP_CONTAINS:
		return xprintf("something that contains %s", t);
	default:
		return xstrdup("it to exist");
	}
}

/* Evaluate an assertion. */
bool
jsonpath_eval(const struct jsonpath *jp, const char *json, size_t len, char **reason)
{
	struct jp_eval e = { .jp = jp };
	char *path, *shown, *wanted;
	bool ok = false;

	if (jp->op == OP_NONE) {
		e.reason = xstrdup("not an assertion (a path without an operator)");
		goto out;
	}
	if (!jp_load(&e, json, len) || !jp_walk(&e))
		goto out;
	for (size_t i = 0; i < e.set.n; i++) {
		if (jp_holds(jp, e.set.v[i])) {
			ok = true;
			goto out;
		}
	}
	path = xstrndup(jp->text + jp->path_start, jp->path_end - jp->path_start);
	shown = jp_show(e.set.v[0]);
	wanted = jp_wanted(jp, e.set.v[0]);
	if (e.set.n == 1)
		e.reason = xprintf("%s is %s, wanted %s", path, shown, wanted);
	else
		e.reason = xprintf("none of the %zu values of %s is %s (the first is %s)",
		    e.set.n, path, wanted, shown);
	free(path);
	free(shown);
	free(wanted);
out:
	jp_eval_done(&e);
	if (ok || reason == NULL)
		free(e.reason);
	else {
		free(*reason);
		*reason = e.reason;
	}
	return ok;
}

/* Pick the value a path selects. */
int
jsonpath_value(const struct jsonpath *jp, const char *json, size_t len, char **value,
    char **reason)
{
	struct jp_eval e = { .jp = jp };
	const cJSON *v;
	int rc = -1;

	*value = NULL;
	if (!jp_load(&e, json, len) || !jp_walk(&e))
		goto out;
	v = e.set.v[0];
	if (cJSON_IsString(v))
		*value = xstrdup(v->valuestring ? v->valuestring : "");
	else {
		char *t = cJSON_PrintUnformatted(v);

		if (t == NULL) {
			e.reason = xstrdup("value cannot be printed");
			goto out;
		}
		*value = xstrdup(t);
		cJSON_free(t);
	}
	rc = 0;
out:
	jp_eval_done(&e);
	if (rc == 0 || reason == NULL)
		free(e.reason);
	else {
		free(*reason);
		*reason = e.reason;
	}
	return rc;
}

/* Parse and evaluate. */
int
jsonpath_assert(const char *expr, const char *json, size_t len, char **reason)
{
	struct jsonpath *jp = jsonpath_parse(expr, NULL, reason);
	bool ok;

	if (jp == NULL)
		return -1;
	ok = jsonpath_eval(jp, json, len, reason);
	jsonpath_free(&jp);
	return ok ? 1 : 0;
}

/* Parse a path and pick its value. */
int
jsonpath_get(const char *path, const char *json, size_t len, char **value, char **reason)
{
	struct jsonpath *jp = jsonpath_parse_path(path, NULL, reason);
	int rc;

	*value = NULL;
	if (jp == NULL)
		return -1;
	rc = jsonpath_value(jp, json, len, value, reason);
	jsonpath_free(&jp);
	return rc;
}
