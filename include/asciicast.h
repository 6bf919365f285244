/*
 * asciicast.h: the asciicast v2 format of terminal recordings (asciinema's), written by
 * --record and read by `replay`. A recording is one JSON object per line: first the header,
 *
 *	{"version": 2, "width": 120, "height": 40, "timestamp": 1765000000,
 *	 "title": "dstack-wizard", "env": {"TERM": "xterm-256color", "SHELL": "/bin/bash"}}
 *
 * then one event per line, its time in seconds since the start (never decreasing):
 *
 *	[0.125012, "o", "text the program wrote"]     output
 *	[3.500000, "r", "100x30"]                     the terminal was resized (COLSxROWS)
 *
 * Strings are JSON strings of valid UTF-8: a byte that is not part of valid UTF-8 is written
 * as U+FFFD, as asciinema does. cJSON types stay in asciicast.c.
 */
#ifndef DW_ASCIICAST_H
#define DW_ASCIICAST_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct strbuf;

/* The largest line `replay` reads (an event of a recorder's read is far smaller). */
#define CAST_MAX_LINE (16 * 1024 * 1024)

struct cast_header {
	unsigned width, height;
	double idle_time_limit;      /* 0: none */
	char *title;                 /* NULL if none */
};

struct cast_event {
	double time;                 /* seconds since the start */
	char *code;                  /* "o", "i", "r", "m", ... */
	char *data;                  /* UTF-8, NUL-terminated */
	size_t len;
};

/* Append s[0..len) to sb as a JSON string (with its quotes). */
void cast_json_string(struct strbuf *sb, const char *s, size_t len);
/* The length of the longest prefix of s[0..len) that does not end inside a UTF-8 sequence
 * still incomplete (whose rest may come with the next read). */
size_t cast_utf8_cut(const char *s, size_t len);

/* The header line (allocated, ending in a newline). title, term and shell may be NULL. */
char *cast_header_line(unsigned width, unsigned height, time_t timestamp, const char *title,
    const char *term, const char *shell);
/* An event line (allocated, ending in a newline). */
char *cast_event_line(double time, const char *code, const char *data, size_t len);

/* Parse the header line: version 2, a positive width and height. -1 with *cause if not. */
int cast_parse_header(const char *line, size_t len, struct cast_header *out, char **cause);
void cast_header_clear(struct cast_header *h);
/* Parse an event line: [time >= 0, "code", "data"]. -1 with *cause if not. */
int cast_parse_event(const char *line, size_t len, struct cast_event *out, char **cause);
void cast_event_clear(struct cast_event *ev);

#endif
