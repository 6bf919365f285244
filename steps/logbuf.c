/*
 * logbuf.c: the bounded ring of log lines.
 *
 * All memory is taken once, in logbuf_new, and stays within max_bytes:
 *
 *   struct logbuf | index: icap uint32 offsets | arena: acap bytes
 *
 * The arena is a byte ring of entries, oldest at `head`, next write at `tail`. An entry is a
 * header (time, length, stream), the text and a NUL, padded to 8 bytes; it never wraps: if it
 * does not fit before the end of the arena, the rest of the arena is left unused and the
 * entry goes to offset 0. The index is a ring of entry offsets addressed by seq % icap, which
 * makes logbuf_get O(1). Pushing drops the oldest entries until the new one fits (in the
 * arena and in the index), so a push costs O(1) amortised and never allocates. The index has
 * room for one line per 64 bytes of budget, which bounds the count of very short lines.
 */
#include "config.h"

#include "logbuf.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define LOGBUF_MIN 512          /* smaller budgets are raised to this */
#define LOGBUF_PER_LINE 64      /* index slots: one per this many bytes of budget */

struct logbuf_hdr {
	uint64_t at_ms;
	uint32_t len;
	uint32_t stream;
};

struct logbuf {
	size_t max;
	uint32_t *idx;       /* offsets of entries, by seq & imask */
	size_t imask;        /* icap - 1; icap is a power of two */
	char *arena;
	size_t acap;
	size_t head;         /* offset of the oldest entry */
	size_t tail;         /* where the next entry goes */
	size_t used;         /* bytes of live entries, padding included */
	uint64_t first;      /* seq of the oldest kept line */
	uint64_t end;        /* seq of the next line */
};

/* Bytes an entry of len text bytes takes in the arena. */
static size_t
logbuf_entry_size(size_t len)
{
	return (sizeof(struct logbuf_hdr) + len + 1 + 7) & ~(size_t)7;
}

/* Create a ring that holds at most max_bytes. */
struct logbuf *
logbuf_new(size_t max_bytes)
{
	struct logbuf *lb;
	size_t icap = 8, rest;
	char *mem;

	if (max_bytes < LOGBUF_MIN)
		max_bytes = LOGBUF_MIN;
	if (max_bytes > (size_t)UINT32_MAX)
		max_bytes = (size_t)UINT32_MAX;
	while (icap * 2 <= max_bytes / LOGBUF_PER_LINE)
		icap *= 2;
	rest = max_bytes - sizeof *lb - icap * sizeof *lb->idx;

	mem = xmalloc(max_bytes);
	lb = (struct logbuf *)(void *)mem;
	memset(lb, 0, sizeof *lb);
	lb->max = max_bytes;
	lb->idx = (uint32_t *)(void *)(mem + sizeof *lb);
	lb->imask = icap - 1;
	lb->arena = mem + sizeof *lb + icap * sizeof *lb->idx;
	lb->acap = rest & ~(size_t)7;
	return lb;
}

/* Free the ring. */
void
logbuf_free(struct logbuf **lbp)
{
	free(*lbp);
	*lbp = NULL;
}

/* Forget every line; sequence numbers keep growing. */
void
logbuf_clear(struct logbuf *lb)
{
	lb->first = lb->end;
	lb->head = lb->tail = lb->used = 0;
}

/* Drop the oldest line. */
static void
logbuf_drop(struct logbuf *lb)
{
	const struct logbuf_hdr *h = (const void *)(lb->arena + lb->idx[lb->first & lb->imask]);

	lb->used -= logbuf_entry_size(h->len);
	lb->first++;
	if (lb->first == lb->end)
		lb->head = lb->tail = lb->used = 0;
	else
		lb->head = lb->idx[lb->first & lb->imask];
}

/* Find room for size bytes, dropping old lines as needed; returns the offset. */
static size_t
logbuf_place(struct logbuf *lb, size_t size)
{
	for (;;) {
		if (lb->first == lb->end) {
			lb->head = lb->tail = 0;
			return 0;
		}
		if (lb->tail > lb->head) {
			/* Live data is [head, tail): room after tail, or at the start. */
			if (lb->acap - lb->tail >= size)
				return lb->tail;
			if (lb->head >= size)
				return 0;
		} else {
			/* Wrapped (or full): room is [tail, head). */
			if (lb->head - lb->tail >= size)
				return lb->tail;
		}
		logbuf_drop(lb);
	}
}

/* Add a line, dropping the oldest ones to stay within the budget. */
void
logbuf_push(struct logbuf *lb, int stream, const char *text, size_t len)
{
	struct logbuf_hdr h;
	size_t size, off, maxlen = lb->acap - sizeof h - 1;

	if (len > maxlen)
		len = maxlen;   /* longer than the whole ring: keep its start */
	if (len > UINT32_MAX)
		len = UINT32_MAX;
	size = logbuf_entry_size(len);
	if (lb->end - lb->first > lb->imask)
		logbuf_drop(lb);   /* the index is full */
	off = logbuf_place(lb, size);

	h.at_ms = now_ms();
	h.len = (uint32_t)len;
	h.stream = (uint32_t)stream;
	memcpy(lb->arena + off, &h, sizeof h);
	if (len > 0)
		memcpy(lb->arena + off + sizeof h, text, len);
	lb->arena[off + sizeof h + len] = '\0';
	lb->idx[lb->end & lb->imask] = (uint32_t)off;
	if (lb->first == lb->end)
		lb->head = off;
	lb->end++;
	lb->tail = off + size;
	lb->used += size;
}

/* Sequence number of the oldest kept line. */
uint64_t
logbuf_first(const struct logbuf *lb)
{
	return lb->first;
}

/* One past the sequence number of the newest line. */
uint64_t
logbuf_end(const struct logbuf *lb)
{
	return lb->end;
}

/* Get line seq; -1 if dropped or not pushed yet. */
int
logbuf_get(const struct logbuf *lb, uint64_t seq, struct logline *out)
{
	const char *e;
	struct logbuf_hdr h;

	if (seq < lb->first || seq >= lb->end)
		return -1;
	e = lb->arena + lb->idx[seq & lb->imask];
	memcpy(&h, e, sizeof h);
	out->seq = seq;
	out->stream = (int)h.stream;
	out->at_ms = h.at_ms;
	out->text = e + sizeof h;
	out->len = h.len;
	return 0;
}

/* Bytes held: the live entries (headers and text), their index slots and the ring itself. */
size_t
logbuf_bytes(const struct logbuf *lb)
{
	return sizeof *lb + lb->used + (size_t)(lb->end - lb->first) * sizeof *lb->idx;
}
