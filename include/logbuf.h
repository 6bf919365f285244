/*
 * logbuf.h: a bounded ring of log lines for the live log pane. Memory stays under the byte
 * limit given at creation however much a step prints: the oldest lines are dropped. Lines are
 * numbered by a sequence number that keeps growing, so a view can tell what it has missed.
 */
#ifndef DW_LOGBUF_H
#define DW_LOGBUF_H

#include <stddef.h>
#include <stdint.h>

struct logbuf;

struct logline {
	uint64_t seq;        /* 0 for the first line ever pushed */
	int stream;          /* STREAM_OUT, STREAM_ERR, STREAM_META */
	uint64_t at_ms;      /* now_ms() when pushed */
	const char *text;    /* NUL-terminated, no newline; valid until the next push */
	size_t len;
};

struct logbuf *logbuf_new(size_t max_bytes);
void logbuf_free(struct logbuf **lbp);
void logbuf_push(struct logbuf *lb, int stream, const char *text, size_t len);
void logbuf_clear(struct logbuf *lb);
/* Sequence numbers of the oldest kept line and one past the newest. */
uint64_t logbuf_first(const struct logbuf *lb);
uint64_t logbuf_end(const struct logbuf *lb);
/* Get line seq; returns -1 if it was dropped or is not there yet. */
int logbuf_get(const struct logbuf *lb, uint64_t seq, struct logline *out);
/* Bytes currently held (text and bookkeeping). */
size_t logbuf_bytes(const struct logbuf *lb);

#endif
