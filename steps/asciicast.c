/*
 * asciicast.c: writing and reading asciicast v2 lines (the format is described in
 * asciicast.h). The writer makes valid UTF-8 JSON of whatever bytes a program wrote; the
 * reader takes one line at a time, so a recording of any length is played as it is read.
 */
#include "config.h"

#include "asciicast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util.h"

/* The largest width or height taken from a recording. */
#define CAST_MAX_SIZE 10000

/* The length of the valid UTF-8 character at s[0..n), or 0 when it is not one. */
static size_t
cast_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c;
	size_t k;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	k = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < k)
		return 0;
	c = s[0] & (0x7fu >> k);
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3fu);
	}
	/* Overlong forms, surrogates, and beyond U+10FFFF. */
	if ((k == 3 && c < 0x800) || (k == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return k;
}

void
cast_json_string(struct strbuf *sb, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	sb_addc(sb, '"');
	while (i < len) {
		switch (u[i]) {
		case '"':
			sb_adds(sb, "\\\"");
			break;
		case '\\':
			sb_adds(sb, "\\\\");
			break;
		case '\n':
			sb_adds(sb, "\\n");
			break;
		case '\r':
			sb_adds(sb, "\\r");
			break;
		case '\t':
			sb_adds(sb, "\\t");
			break;
		default:
			if (u[i] < 0x20 || u[i] == 0x7f)
				sb_addf(sb, "\\u%04x", u[i]);
			else if (u[i] < 0x80)
				sb_addc(sb, (char)u[i]);
			else if ((k = cast_utf8_len(u + i, len - i)) > 0) {
				sb_add(sb, s + i, k);
				i += k;
				continue;
			} else
				sb_adds(sb, "\\ufffd");
			break;
		}
		i++;
	}
	sb_addc(sb, '"');
}

size_t
cast_utf8_cut(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	/* A lead byte among the last three whose sequence needs more bytes than follow it. */
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = u[len - back];
		size_t need;

		if ((c & 0xc0) == 0x80)
			continue;
		if (c < 0xc2 || c > 0xf4)
			return len;
		need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		return need > back ? len - back : len;
	}
	return len;
}

char *
cast_header_line(unsigned width, unsigned height, time_t timestamp, const char *title,
    const char *term, const char *shell)
{
	struct strbuf sb = {0};

	sb_addf(&sb, "{\"version\": 2, \"width\": %u, \"height\": %u, \"timestamp\": %lld",
	    width, height, (long long)timestamp);
	if (title != NULL) {
		sb_adds(&sb, ", \"title\": ");
		cast_json_string(&sb, title, strlen(title));
	}
	sb_adds(&sb, ", \"env\": {");
	if (term != NULL) {
		sb_adds(&sb, "\"TERM\": ");
		cast_json_string(&sb, term, strlen(term));
	}
	if (shell != NULL) {
		sb_adds(&sb, term != NULL ? ", \"SHELL\": " : "\"SHELL\": ");
		cast_json_string(&sb, shell, strlen(shell));
	}
	sb_adds(&sb, "}}\n");
	return sb_detach(&sb);
}

char *
cast_event_line(double time, const char *code, const char *data, size_t len)
{
	struct strbuf sb = {0};

	sb_addf(&sb, "[%.6f, ", time);
	cast_json_string(&sb, code, strlen(code));
	sb_adds(&sb, ", ");
	cast_json_string(&sb, data, len);
	sb_adds(&sb, "]\n");
	return sb_detach(&sb);
}

/* Parse one line as a JSON value; NULL with *cause if it is not exactly one. */
static cJSON *
cast_parse(const char *line, size_t len, char **cause)
{
	const char *end = NULL;
	cJSON *v;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0) {
		set_cause(cause, "an empty line");
		return NULL;
	}
	if (memchr(line, '\0', len) != NULL) {
		set_cause(cause, "a NUL byte");
		return NULL;
	}
	v = cJSON_ParseWithLengthOpts(line, len, &end, 0);
	if (v == NULL) {
		set_cause(cause, "not JSON");
		return NULL;
	}
	while (end != NULL && end < line + len && (*end == ' ' || *end == '\t'))
		end++;
	if (end != line + len) {
		cJSON_Delete(v);
		set_cause(cause, "data after the JSON value");
		return NULL;
	}
	return v;
}

/* A whole number in [1, CAST_MAX_SIZE], or 0. */
static unsigned
cast_size(const cJSON *v)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < 1 || v->valuedouble > CAST_MAX_SIZE)
		return 0;
	return (unsigned)v->valuedouble;
}

int
cast_parse_header(const char *line, size_t len, struct cast_header *out, char **cause)
{
	cJSON *h = cast_parse(line, len, cause);
	const cJSON *v;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (h == NULL)
		return -1;
	if (!cJSON_IsObject(h)) {
		set_cause(cause, "the header is not a JSON object");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(h, "version");
	if (!cJSON_IsNumber(v) || v->valuedouble != 2) {
		set_cause(cause, "not an asciicast version 2 recording");
		goto out;
	}
	out->width = cast_size(cJSON_GetObjectItemCaseSensitive(h, "width"));
	out->height = cast_size(cJSON_GetObjectItemCaseSensitive(h, "height"));
	if (out->width == 0 || out->height == 0) {
		set_cause(cause, "the header has no valid width and height");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(h, "idle_time_limit");
	if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble > 0)
		out->idle_time_limit = v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(h, "title");
	if (cJSON_IsString(v) && v->valuestring != NULL)
		out->title = xstrdup(v->valuestring);
	rc = 0;
out:
	cJSON_Delete(h);
	return rc;
}

void
cast_header_clear(struct cast_header *h)
{
	free(h->title);
	memset(h, 0, sizeof *h);
}

int
cast_parse_event(const char *line, size_t len, struct cast_event *out, char **cause)
{
	cJSON *a = cast_parse(line, len, cause);
	const cJSON *t, *c, *d;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (a == NULL)
		return -1;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 3) {
		set_cause(cause, "an event is not an array of three");
		goto out;
	}
	t = cJSON_GetArrayItem(a, 0);
	c = cJSON_GetArrayItem(a, 1);
	d = cJSON_GetArrayItem(a, 2);
	if (!cJSON_IsNumber(t) || !isfinite(t->valuedouble) || t->valuedouble < 0) {
		set_cause(cause, "an event's time is not a number of seconds");
		goto out;
	}
	if (!cJSON_IsString(c) || c->valuestring == NULL || !cJSON_IsString(d) ||
	    d->valuestring == NULL) {
		set_cause(cause, "an event's type or data is not a string");
		goto out;
	}
	out->time = t->valuedouble;
	out->code = xstrdup(c->valuestring);
	out->data = xstrdup(d->valuestring);
	out->len = strlen(out->data);
	rc = 0;
out:
	cJSON_Delete(a);
	return rc;
}

void
cast_event_clear(struct cast_event *ev)
{
	free(ev->code);
	free(ev->data);
	memset(ev, 0, sizeof *ev);
}
