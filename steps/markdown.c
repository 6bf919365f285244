/*
 * markdown.c: the Markdown the documents share. Text from the state or the chain is data:
 * in a table cell or a line it cannot start a new cell or an HTML tag, and code spans and
 * blocks are fenced longer than any run of backticks they hold.
 */
#include "config.h"

#include "docs.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

/* Append inline text: a newline becomes a space, | and < cannot act. */
void
md_text(struct strbuf *sb, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '\n' || *s == '\r')
			sb_addc(sb, ' ');
		else if (*s == '|')
			sb_adds(sb, "\\|");
		else if (*s == '<')
			sb_adds(sb, "&lt;");
		else
			sb_addc(sb, *s);
	}
}

/* The longest run of backticks in s. */
static size_t
md_ticks(const char *s)
{
	size_t run = 0, most = 0;

	for (; *s != '\0'; s++) {
		run = *s == '`' ? run + 1 : 0;
		if (run > most)
			most = run;
	}
	return most;
}

/* Append an inline code span of s, on one line (in a table cell, | escaped). */
void
md_code(struct strbuf *sb, const char *s, bool cell)
{
	size_t n = md_ticks(s) + 1;
	bool pad = *s == '`' || (*s != '\0' && s[strlen(s) - 1] == '`') || *s == '\0';

	for (size_t i = 0; i < n; i++)
		sb_addc(sb, '`');
	if (pad)
		sb_addc(sb, ' ');
	for (; *s != '\0'; s++) {
		if (*s == '\n' || *s == '\r')
			sb_addc(sb, ' ');
		else if (*s == '|' && cell)
			sb_adds(sb, "\\|");
		else
			sb_addc(sb, *s);
	}
	if (pad)
		sb_addc(sb, ' ');
	for (size_t i = 0; i < n; i++)
		sb_addc(sb, '`');
}

/* Append a fenced code block of s, ending with a blank line. */
void
md_block(struct strbuf *sb, const char *lang, const char *s)
{
	size_t n = md_ticks(s) + 1;

	if (n < 3)
		n = 3;
	for (size_t i = 0; i < n; i++)
		sb_addc(sb, '`');
	sb_adds(sb, lang != NULL ? lang : "");
	sb_addc(sb, '\n');
	sb_adds(sb, s);
	if (*s == '\0' || s[strlen(s) - 1] != '\n')
		sb_addc(sb, '\n');
	for (size_t i = 0; i < n; i++)
		sb_addc(sb, '`');
	sb_adds(sb, "\n\n");
}

/* A time in UTC, for people. */
const char *
md_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

/* A duration, for people. */
const char *
md_duration(long ms, char *buf, size_t len)
{
	long s = ms / 1000;

	if (ms < 60000)
		snprintf(buf, len, "%.1f s", (double)ms / 1000);
	else if (s < 3600)
		snprintf(buf, len, "%ld min %ld s", s / 60, s % 60);
	else
		snprintf(buf, len, "%ld h %ld min", s / 3600, s / 60 % 60);
	return buf;
}
