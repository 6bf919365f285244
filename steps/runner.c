/*
 * runner.c: runs a list of prepared commands one after the other and owns what becomes of
 * their output.
 *
 * Each stream's bytes are cut into lines: "\n" ends a line, and so does "\r" when text
 * follows it (progress bars redraw with a bare "\r"; "\r\n" and "\r\r\n" end one line). A
 * line longer than RUNNER_MAX_LINE is cut into pieces; while a line is still open, the
 * longest secret's length minus one bytes are held back and a cut is moved before any
 * secret that would straddle it, so no piece carries part of a secret. Every line is
 * redacted before anything sees it; then it goes, in this order, to the ring, the log file,
 * the command's stdout (first 64 KiB, for expect and the result), the captures, the hints
 * and the caller's line callback. The wizard's own lines ("$ command", results) go to the
 * ring and the line callback as STREAM_META.
 *
 * The done callback, and every command start, happen from the loop (a timer or a job's end),
 * never from inside run_start or run_cancel.
 */
#include "config.h"

#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "logbuf.h"
#include "loop.h"
#include "rx.h"
#include "util.h"

#define RUN_OUTPUT_MAX 65536          /* stdout kept per command */
#define RUN_DEFAULT_GRACE_MS 2000
#define RUN_LOG_BUFFER 65536
#define RUN_LOG_MAX ((uint64_t)64 << 20)   /* a log file's size, but for a few lines */
#define RUNNER_EDGE_MAX 4096          /* longer secrets are searched line by line only */

/* One output stream's unfinished line. */
struct run_stream {
	int stream;
	char *buf;           /* line_cap + 1 bytes */
	size_t len;
	bool cr;             /* buf holds a line ended by "\r"; a "\n" may still follow */
	uint64_t start;      /* stream offset of buf[0] */
	uint64_t pos;        /* stream offset of the next byte to arrive */
	uint64_t hit_end;    /* no secret occurrence in the stream ends after this offset */
	char *carry;         /* the last (longest secret - 1) bytes of the stream */
	size_t ncarry;
};

struct run {
	struct loop *loop;
	const struct run_cmd *cmds;
	size_t n;
	struct run_opts opts;
	struct run_cbs cbs;

	const char **secrets;      /* the non-empty ones */
	size_t *seclen;
	size_t nsecrets;
	size_t line_cap;           /* RUNNER_MAX_LINE + longest secret - 1 */

	FILE *log;
	char *log_error;           /* why writing the log failed (the run fails with it) */
	uint64_t log_head;         /* bytes written to the log itself */
	FILE *tail[2];             /* past the head: two chunks taking turns (unlinked files) */
	uint64_t tail_bytes[2], tail_lines[2];
	int tail_cur;
	uint64_t cut_bytes, cut_lines;   /* what was left out between head and tail */
	time_t log_sec;            /* second of log_hms */
	char log_hms[16];

	size_t cur;                /* the command running or next to run */
	struct tjob *job;
	const struct transport_ops *ops;
	uint64_t kick_timer;       /* start the next command, or finish */
	uint64_t timeout_timer;
	uint64_t t0;
	uint64_t cmd_t0;
	bool cmd_timed_out;
	bool cmd_canceled;
	bool failed;               /* a command failed (for stop_on_failure) */
	bool canceled;
	bool finished;

	struct run_stream out;
	struct run_stream err;
	struct strbuf stdout_buf;

	char **cap_values;         /* per capture: the last value */
	bool *cap_off;             /* per capture: its regex gave up on a line */
	bool *hint_seen;
	struct run_result res;
};

static void run_next(struct run *r);

/* Write a line of the wizard's own to the ring and the line callback. */
static void
run_meta(struct run *r, const char *text)
{
	size_t len = strlen(text);
	char *vis = str_visible(text, len, &len);   /* it may quote a server's words */

	if (vis != NULL)
		text = vis;
	if (r->opts.ring != NULL)
		logbuf_push(r->opts.ring, STREAM_META, text, len);
	if (r->cbs.line != NULL)
		r->cbs.line(r->cbs.data, STREAM_META, text, len);
	free(vis);
}

/* Writing the log failed (errno says why): say so once; the run fails with it. */
static void
run_log_failed(struct run *r)
{
	if (r->log_error != NULL)
		return;
	r->log_error = xprintf("cannot write the log file %s: %s", r->opts.log_path,
	    strerror(errno));
	run_meta(r, r->log_error);
}

/* Open an empty chunk for the log's tail: a file beside the log, unlinked at once. */
static FILE *
run_tail_open(struct run *r)
{
	char *path = xprintf("%s.tail", r->opts.log_path);
	FILE *f = NULL;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		unlink(path);
		if ((f = fdopen(fd, "w+")) == NULL)
			close(fd);
		else
			setvbuf(f, NULL, _IOFBF, RUN_LOG_BUFFER);
	}
	free(path);
	return f;
}

/*
 * The file the next n bytes of the log go to (the count of lines grows by one): the log
 * itself until half the cap is written; then chunks of a quarter of the cap, two taking
 * turns, the older emptied when the newer is full. So a log keeps its head and at least a
 * quarter of the cap of its tail; run_log_merge puts the tail after the head. NULL if a
 * chunk cannot be made (the failure is said once).
 */
static FILE *
run_log_to(struct run *r, size_t n)
{
	uint64_t cap = r->opts.log_max != 0 ? r->opts.log_max : RUN_LOG_MAX;
	int c = r->tail_cur;

	if (r->tail[0] == NULL && r->log_head + n <= cap / 2) {
		r->log_head += n;
		return r->log;
	}
	if (r->tail[c] != NULL && r->tail_bytes[c] > 0 && r->tail_bytes[c] + n > cap / 4) {
		c = r->tail_cur ^= 1;
		if (r->tail[c] != NULL) {
			r->cut_bytes += r->tail_bytes[c];
			r->cut_lines += r->tail_lines[c];
			r->tail_bytes[c] = r->tail_lines[c] = 0;
			if (fflush(r->tail[c]) != 0 || ftruncate(fileno(r->tail[c]), 0) != 0)
				run_log_failed(r);
			rewind(r->tail[c]);
		}
	}
	if (r->tail[c] == NULL && (r->tail[c] = run_tail_open(r)) == NULL) {
		run_log_failed(r);
		return NULL;
	}
	r->tail_bytes[c] += n;
	r->tail_lines[c]++;
	return r->tail[c];
}

/* Write a line of the log's own ("# ..."), formatted. */
static void DW_PRINTF(2, 3)
run_logf(struct run *r, const char *fmt, ...)
{
	char buf[512], *big = NULL;
	const char *p = buf;
	va_list ap;
	int n;
	FILE *f;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf) {
		va_start(ap, fmt);
		if (vasprintf(&big, fmt, ap) < 0)
			fatal("out of memory");
		va_end(ap);
		p = big;
	}
	if ((f = run_log_to(r, (size_t)n)) != NULL)
		fwrite_unlocked(p, 1, (size_t)n, f);
	free(big);
}

/* Put the tail's chunks (older, then newer) after the head, with a line saying what was cut. */
static void
run_log_merge(struct run *r)
{
	uint64_t cap = r->opts.log_max != 0 ? r->opts.log_max : RUN_LOG_MAX;
	char buf[65536];
	size_t n;

	if (r->tail[0] == NULL)
		return;
	if (r->cut_lines > 0)
		fprintf(r->log, "# ... %llu lines (%llu bytes) left out here: a log keeps its first "
		    "%llu and its last %llu or more bytes\n", (unsigned long long)r->cut_lines,
		    (unsigned long long)r->cut_bytes, (unsigned long long)(cap / 2),
		    (unsigned long long)(cap / 4));
	for (int k = 1; k >= 0; k--) {
		FILE *f = r->tail[r->tail_cur ^ k];

		if (f == NULL)
			continue;
		if (fflush(f) != 0 || ferror(f))
			run_log_failed(r);
		rewind(f);
		while ((n = fread(buf, 1, sizeof buf, f)) > 0)
			fwrite(buf, 1, n, r->log);
		fclose(f);
		r->tail[r->tail_cur ^ k] = NULL;
	}
}

/* Write one output line to the log file: "HH:MM:SS.mmm O| text". */
static void
run_log_line(struct run *r, int stream, const char *text, size_t len)
{
	FILE *f;
	struct timespec ts;
	char pre[32];
	unsigned ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != r->log_sec || r->log_hms[0] == '\0') {
		struct tm tm;

		gmtime_r(&ts.tv_sec, &tm);
		snprintf(r->log_hms, sizeof r->log_hms, "%02d:%02d:%02d", tm.tm_hour % 100,
		    tm.tm_min % 100, tm.tm_sec % 100);
		r->log_sec = ts.tv_sec;
	}
	ms = (unsigned)(ts.tv_nsec / 1000000) % 1000;
	memcpy(pre, r->log_hms, 8);
	pre[8] = '.';
	pre[9] = (char)('0' + ms / 100);
	pre[10] = (char)('0' + ms / 10 % 10);
	pre[11] = (char)('0' + ms % 10);
	pre[12] = ' ';
	pre[13] = stream == STREAM_ERR ? 'E' : 'O';
	pre[14] = '|';
	pre[15] = ' ';
	if ((f = run_log_to(r, 16 + len + 1)) == NULL)
		return;
	fwrite_unlocked(pre, 1, 16, f);
	fwrite_unlocked(text, 1, len, f);
	putc_unlocked('\n', f);
}

/* Does text hold any secret? */
static bool
run_has_secret(const struct run *r, const char *text, size_t len)
{
	for (size_t i = 0; i < r->nsecrets; i++) {
		if (r->seclen[i] <= len && memmem(text, len, r->secrets[i], r->seclen[i]) != NULL)
			return true;
	}
	return false;
}

/*
 * Look for secrets in a chunk of raw stream (starting at offset st->pos) as it arrives,
 * which is much cheaper than line by line: if one may occur in it, or across the boundary
 * with the previous chunk, push st->hit_end to the end of the chunk. A line that starts at
 * or after hit_end cannot hold a secret and needs no search.
 */
static void
run_scan_chunk(struct run *r, struct run_stream *st, const char *p, size_t n)
{
	size_t keep = r->line_cap - RUNNER_MAX_LINE;   /* longest secret - 1 */

	if (r->nsecrets == 0)
		return;
	if (keep > RUNNER_EDGE_MAX) {
		st->hit_end = UINT64_MAX;   /* search every line */
		return;
	}
	if (st->ncarry > 0 && n > 0) {
		char edge[2 * RUNNER_EDGE_MAX];
		size_t k = n < keep ? n : keep;

		memcpy(edge, st->carry, st->ncarry);
		memcpy(edge + st->ncarry, p, k);
		if (run_has_secret(r, edge, st->ncarry + k))
			st->hit_end = st->pos + n;
	}
	if (run_has_secret(r, p, n))
		st->hit_end = st->pos + n;
	/* Carry the last keep bytes of (carry + chunk). */
	if (n >= keep) {
		memcpy(st->carry, p + n - keep, keep);
		st->ncarry = keep;
	} else {
		size_t old = st->ncarry + n > keep ? st->ncarry + n - keep : 0;

		memmove(st->carry, st->carry + old, st->ncarry - old);
		memcpy(st->carry + st->ncarry - old, p, n);
		st->ncarry = st->ncarry - old + n;
	}
}

/* A capture's or a hint's regex gave up on a line (a match limit): say so; it is off now. */
static void
run_gave_up(struct run *r, const char *what, const char *re)
{
	char *s = xprintf("warning: the %s /%s/ took too long on a line and is not tried again "
	    "in this run", what, re);

	run_meta(r, s);
	free(s);
}

/*
 * Handle one complete line (raw; text[len] is '\0'; it began at stream offset start, or
 * has no stream if st is NULL): redact it, make it visible text (no control sequence of a
 * step's output reaches a terminal, a log, a capture or a hint), then hand it out.
 */
static void
run_line(struct run *r, const struct run_stream *st, int stream, const char *text, size_t len)
{
	char *red = NULL, *vis;

	if ((st == NULL || st->hit_end > st->start) && run_has_secret(r, text, len)) {
		red = str_redact(text, len, r->secrets, r->nsecrets, &len);
		text = red;
	}
	if ((vis = str_visible(text, len, &len)) != NULL) {
		free(red);
		text = red = vis;
	}
	r->res.lines++;
	if (r->opts.ring != NULL)
		logbuf_push(r->opts.ring, stream, text, len);
	if (r->log != NULL)
		run_log_line(r, stream, text, len);
	if (stream == STREAM_OUT && r->stdout_buf.len < RUN_OUTPUT_MAX) {
		size_t room = RUN_OUTPUT_MAX - r->stdout_buf.len;

		sb_add(&r->stdout_buf, text, len < room ? len : room);
		if (len < room)
			sb_addc(&r->stdout_buf, '\n');
	}
	for (size_t i = 0; i < r->opts.ncaptures; i++) {
		const struct capture *cap = &r->opts.captures[i];
		long so, eo;
		int m;

		if (r->cap_off[i] || (m = rx_match(cap->re, text, len, &so, &eo)) == 0)
			continue;
		if (m < 0) {
			r->cap_off[i] = true;
			run_gave_up(r, "capture", cap->regex);
		} else if (so >= 0) {
			free(r->cap_values[i]);
			r->cap_values[i] = xstrndup(text + so, (size_t)(eo - so));
		}
	}
	for (size_t i = 0; i < r->opts.nhints; i++) {
		const struct hint *h = &r->opts.hints[i];
		struct hint_hit *hit;
		int m;

		if (r->hint_seen[i] || (m = rx_match(h->re, text, len, NULL, NULL)) == 0)
			continue;
		if (m < 0) {
			r->hint_seen[i] = true;
			run_gave_up(r, "hint", h->match);
			continue;
		}
		r->hint_seen[i] = true;
		r->res.hints = xreallocarray(r->res.hints, r->res.nhints + 1, sizeof *r->res.hints);
		hit = &r->res.hints[r->res.nhints++];
		hit->hint = h;
		hit->line = xstrndup(text, len);
	}
	if (r->cbs.line != NULL)
		r->cbs.line(r->cbs.data, stream, text, len);
	free(red);
}

/* Hand out st->buf[0..len) as a line; buf[len] is borrowed for the terminating NUL. */
static void
run_line_at(struct run *r, struct run_stream *st, size_t len)
{
	char saved = st->buf[len];

	st->buf[len] = '\0';
	run_line(r, st, st->stream, st->buf, len);
	st->buf[len] = saved;
}

/*
 * Where to cut buf[0..len) near p: at p, unless a secret (found as str_redact scans) starts
 * before p and ends after it; then just before that secret (or after it, if it starts at 0).
 */
static size_t
run_choose_cut(const struct run *r, const char *buf, size_t len, size_t p)
{
	size_t i = 0;

	while (i < p) {
		size_t hit = 0;

		for (size_t k = 0; k < r->nsecrets; k++) {
			size_t sl = r->seclen[k];

			if (sl > hit && sl <= len - i && memcmp(buf + i, r->secrets[k], sl) == 0)
				hit = sl;
		}
		if (hit == 0) {
			i++;
			continue;
		}
		if (i + hit > p)
			return i > 0 ? i : hit;
		i += hit;
	}
	return p;
}

/*
 * Cut pieces off the front of st's line: while it is open, as long as it fills the buffer;
 * at its end (final), down to RUNNER_MAX_LINE, and then the rest.
 */
static void
run_cut(struct run *r, struct run_stream *st, bool final)
{
	while (final ? st->len > RUNNER_MAX_LINE : st->len >= r->line_cap) {
		size_t cut = run_choose_cut(r, st->buf, st->len, RUNNER_MAX_LINE);

		run_line_at(r, st, cut);
		memmove(st->buf, st->buf + cut, st->len - cut);
		st->len -= cut;
		st->start += cut;
	}
	if (final) {
		run_line_at(r, st, st->len);
		st->len = 0;
		st->cr = false;
	}
}

/* Add text without line ends (found at stream offset off) to st's open line. */
static void
run_append(struct run *r, struct run_stream *st, const char *p, size_t n, uint64_t off)
{
	if (st->len == 0)
		st->start = off;
	while (n > 0) {
		size_t room = r->line_cap - st->len, k = n < room ? n : room;

		memcpy(st->buf + st->len, p, k);
		st->len += k;
		p += k;
		n -= k;
		if (n > 0)
			run_cut(r, st, false);
	}
}

/* Cut raw bytes of one stream into lines. */
static void
run_feed(struct run *r, struct run_stream *st, const char *p, size_t n)
{
	const char *base = p, *end = p + n;
	uint64_t pos0 = st->pos;

	run_scan_chunk(r, st, p, n);
	st->pos += n;
	while (p < end) {
		const char *q, *nl;

		if (st->cr) {
			if (*p == '\r') {
				p++;
				continue;
			}
			run_cut(r, st, true);
			if (*p == '\n') {
				p++;
				continue;
			}
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		q = memchr(p, '\r', (size_t)((nl != NULL ? nl : end) - p));
		if (q == NULL)
			q = nl != NULL ? nl : end;
		if (q > p)
			run_append(r, st, p, (size_t)(q - p), pos0 + (uint64_t)(p - base));
		if (q == end)
			break;
		if (*q == '\n')
			run_cut(r, st, true);
		else if (st->len > 0)
			st->cr = true;   /* a bare "\r" at the start of a line is dropped */
		p = q + 1;
	}
}

/* End the open line of a stream (the command is over). */
static void
run_flush_stream(struct run *r, struct run_stream *st)
{
	if (st->cr || st->len > 0)
		run_cut(r, st, true);
	st->len = 0;
	st->cr = false;
}

/* Raw output from the job. */
static void
run_job_output(void *data, int stream, const char *buf, size_t len)
{
	struct run *r = data;

	run_feed(r, stream == STREAM_ERR ? &r->err : &r->out, buf, len);
}

/* The display of command i, or something that stands for it. */
static const char *
run_display(const struct run_cmd *c)
{
	if (c->display != NULL && *c->display != '\0')
		return c->display;
	if (c->label != NULL && *c->label != '\0')
		return c->label;
	return c->tc.script != NULL ? c->tc.script : "";
}

/* Show what runs: META "$ line" (and "> line" for more lines), log "# [n/N] line". */
static void
run_show_command(struct run *r, const struct run_cmd *c)
{
	const char *d = run_display(c), *nl;
	bool first = true;

	if (str_has_prefix(d, "$ "))
		d += 2;
	do {
		size_t len;
		char *s;

		nl = strchr(d, '\n');
		len = nl != NULL ? (size_t)(nl - d) : strlen(d);
		s = xprintf("%s %.*s", first ? "$" : ">", (int)len, d);
		run_meta(r, s);
		free(s);
		if (r->log != NULL) {
			if (first)
				run_logf(r, "# [%zu/%zu] %.*s\n", r->cur + 1, r->n, (int)len, d);
			else
				run_logf(r, "#   %.*s\n", (int)len, d);
		}
		first = false;
		d = nl != NULL ? nl + 1 : NULL;
	} while (d != NULL && *d != '\0');
}

/* Flush the log file; say once if writing it failed. */
static void
run_log_flush(struct run *r)
{
	if (r->log == NULL)
		return;
	if (fflush(r->log) != 0 || ferror(r->log))
		run_log_failed(r);
}

/* Record the end of the current command (log, META line, callback) and move past it. */
static void
run_end_cmd(struct run *r)
{
	struct cmd_result *res = &r->res.cmds[r->cur];
	double secs = (double)res->duration_ms / 1000.0;
	char *s;

	if (!res->ok)
		r->failed = true;
	if (r->log != NULL) {
		if (res->ok)
			run_logf(r, "# [%zu/%zu] ok (%.3f s)\n", r->cur + 1, r->n, secs);
		else
			run_logf(r, "# [%zu/%zu] failed: %s (%.3f s)\n", r->cur + 1, r->n,
			    res->reason, secs);
	}
	run_log_flush(r);
	if (res->ok)
		s = xprintf("-> ok (%.1f s)", secs);
	else
		s = xprintf("-> failed: %s (%.1f s)", res->reason, secs);
	run_meta(r, s);
	free(s);
	if (r->cbs.cmd_end != NULL)
		r->cbs.cmd_end(r->cbs.data, r->cur, res);
	r->cur++;
}

/* Why a command that ended this way is not ok; NULL if it is. */
static char *
run_reason(struct run *r, const struct run_cmd *c, enum tjob_end how, int code,
    const char *message, const char *output)
{
	if (r->cmd_canceled)
		return xstrdup("canceled");
	if (r->cmd_timed_out)
		return xprintf("timed out after %g s", (double)c->timeout_ms / 1000.0);
	switch (how) {
	case TJOB_EXITED:
		if (code != 0)    /* a probe job says why in message */
			return message != NULL ? xstrdup(message) : xprintf("exit status %d", code);
		if (c->expect != NULL) {
			int m = rx_match(c->expect, output, strlen(output), NULL, NULL);

			if (m == 0)
				return xprintf("output did not match /%s/",
				    c->expect_text ? c->expect_text : "");
			if (m < 0)
				return xprintf("matching the output against /%s/ took too long (the "
				    "regex backtracks too much)", c->expect_text ? c->expect_text : "");
		}
		return NULL;
	case TJOB_SIGNALED: {
		const char *abbrev = sigabbrev_np(code);

		if (abbrev != NULL)
			return xprintf("killed by signal %d (SIG%s)", code, abbrev);
		return xprintf("killed by signal %d", code);
	}
	case TJOB_FAILED:
	default:
		return xstrdup(message != NULL ? message : "the command failed");
	}
}

/* The job is over: all its output was delivered and it was reaped. */
static void
run_job_end(void *data, enum tjob_end how, int code, const char *message)
{
	struct run *r = data;
	const struct run_cmd *c = &r->cmds[r->cur];
	struct cmd_result *res = &r->res.cmds[r->cur];

	run_flush_stream(r, &r->out);
	run_flush_stream(r, &r->err);
	if (r->timeout_timer != 0)
		loop_del_timer(r->loop, r->timeout_timer);
	r->timeout_timer = 0;

	res->how = how;
	res->code = code;
	res->timed_out = r->cmd_timed_out;
	res->canceled = r->cmd_canceled;
	res->duration_ms = now_ms() - r->cmd_t0;
	res->output = sb_detach(&r->stdout_buf);
	res->reason = run_reason(r, c, how, code, message, res->output);
	res->ok = res->reason == NULL;

	r->ops->free(r->job);
	r->job = NULL;
	r->ops = NULL;
	run_end_cmd(r);
	run_next(r);   /* may finish the run and call done: nothing after this */
}

/* The running command took too long. */
static void
run_timeout_cb(void *data)
{
	struct run *r = data;

	r->timeout_timer = 0;
	if (r->job == NULL)
		return;
	r->cmd_timed_out = true;
	r->ops->cancel(r->job, r->opts.cancel_grace_ms);
}

/* Mark command i as not run. */
static void
run_skip(struct run *r, size_t i)
{
	struct cmd_result *res = &r->res.cmds[i];

	res->ok = false;
	res->skipped = true;
	res->canceled = r->canceled;
	res->how = TJOB_FAILED;
	res->code = -1;
	res->reason = xstrdup(r->canceled ? "canceled" : "skipped");
	res->output = xstrdup("");
	if (r->log != NULL)
		run_logf(r, "# [%zu/%zu] skipped: %s\n", i + 1, r->n, run_display(&r->cmds[i]));
}

/* The run is over: fill the result and call done (the last thing: done may free r). */
static void
run_finish(struct run *r)
{
	struct run_result *res = &r->res;
	char *s;

	if (r->log != NULL) {
		run_log_merge(r);
		run_log_flush(r);
	}
	res->ok = !r->canceled && r->log_error == NULL;
	for (size_t i = 0; i < r->n; i++)
		res->ok = res->ok && res->cmds[i].ok;
	res->canceled = r->canceled;
	res->duration_ms = now_ms() - r->t0;
	for (size_t i = 0; i < r->opts.ncaptures; i++) {
		struct capture_hit *hit;

		if (r->cap_values[i] == NULL)
			continue;
		res->captures = xreallocarray(res->captures, res->ncaptures + 1, sizeof *res->captures);
		hit = &res->captures[res->ncaptures++];
		hit->capture = &r->opts.captures[i];
		hit->value = r->cap_values[i];
		r->cap_values[i] = NULL;
	}

	if (res->canceled)
		s = xstrdup("canceled");
	else if (res->ok)
		s = xstrdup("ok");
	else
		s = xstrdup("failed");
	if (r->log != NULL) {
		fprintf(r->log, "# result: %s (%zu commands, %llu lines, %.3f s)\n", s, r->n,
		    (unsigned long long)res->lines, (double)res->duration_ms / 1000.0);
		run_log_flush(r);
	}
	if (r->log_error != NULL) {
		res->ok = false;
		res->error = xstrdup(r->log_error);
		free(s);
		s = xstrdup("failed");
	}
	{
		char *m = xprintf("== %s (%.1f s)", s, (double)res->duration_ms / 1000.0);

		run_meta(r, m);
		free(m);
	}
	free(s);
	r->finished = true;
	if (r->cbs.done != NULL)
		r->cbs.done(r->cbs.data, res);
}

/* Start the next command that should run; finish when none is left. */
static void
run_next(struct run *r)
{
	while (r->cur < r->n) {
		const struct run_cmd *c = &r->cmds[r->cur];
		struct cmd_result *res = &r->res.cmds[r->cur];
		struct tjob_cbs jcbs = { run_job_output, run_job_end, r };
		char *cause = NULL;

		if (r->canceled || (r->failed && r->opts.stop_on_failure)) {
			run_skip(r, r->cur);
			r->cur++;
			continue;
		}
		if (r->cbs.cmd_start != NULL)
			r->cbs.cmd_start(r->cbs.data, r->cur, c);
		if (r->canceled)
			continue;   /* canceled from cmd_start */
		run_show_command(r, c);
		r->cmd_t0 = now_ms();
		r->cmd_timed_out = r->cmd_canceled = false;
		sb_reset(&r->stdout_buf);
		if (c->unready != NULL) {
			res->how = TJOB_FAILED;
			res->code = -1;
			res->reason = xstrdup(c->unready);
			res->output = xstrdup("");
			run_end_cmd(r);
			continue;
		}
		r->ops = c->transport != NULL ? c->transport->ops : &transport_local_ops;
		r->job = r->ops->start(c->transport != NULL ? c->transport->data : NULL, r->loop,
		    &c->tc, &jcbs, &cause);
		if (r->job != NULL) {
			if (c->timeout_ms != 0)
				r->timeout_timer = loop_add_timer(r->loop, c->timeout_ms, run_timeout_cb, r);
			return;
		}
		r->ops = NULL;
		res->how = TJOB_FAILED;
		res->code = -1;
		res->reason = xprintf("could not start: %s", cause != NULL ? cause : "unknown error");
		res->output = xstrdup("");
		res->duration_ms = now_ms() - r->cmd_t0;
		free(cause);
		run_end_cmd(r);
	}
	run_finish(r);
}

/* The kick timer: start (or, after a cancel, wind up) from the loop. */
static void
run_kick_cb(void *data)
{
	struct run *r = data;

	r->kick_timer = 0;
	if (r->job == NULL && !r->finished)
		run_next(r);
}

/* Create the log file (0600, must not exist) and write the title. */
static int
run_open_log(struct run *r, char **cause)
{
	int fd;

	fd = open(r->opts.log_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return set_cause(cause, "cannot create log file %s: %s", r->opts.log_path,
		    strerror(errno));
	r->log = fdopen(fd, "w");
	if (r->log == NULL) {
		close(fd);
		return set_cause(cause, "cannot open log file %s: %s", r->opts.log_path,
		    strerror(errno));
	}
	setvbuf(r->log, NULL, _IOFBF, RUN_LOG_BUFFER);
	fprintf(r->log, "%s\n", r->opts.title != NULL ? r->opts.title : "run");
	return 0;
}

/* Return capture i's value so far. */
const char *
run_capture(const struct run *r, size_t i)
{
	return i < r->opts.ncaptures ? r->cap_values[i] : NULL;
}

/* Start running cmds[0..n). */
struct run *
run_start(struct loop *l, const struct run_cmd *cmds, size_t n, const struct run_opts *opts,
    const struct run_cbs *cbs, char **cause)
{
	struct run *r = xcalloc(1, sizeof *r);
	size_t longest = 1;

	r->loop = l;
	r->cmds = cmds;
	r->n = n;
	r->opts = *opts;
	if (r->opts.cancel_grace_ms == 0)
		r->opts.cancel_grace_ms = RUN_DEFAULT_GRACE_MS;
	if (cbs != NULL)
		r->cbs = *cbs;
	if (r->opts.log_path != NULL && run_open_log(r, cause) != 0) {
		free(r);
		return NULL;
	}

	r->secrets = xcalloc(opts->nsecrets + 1, sizeof *r->secrets);
	r->seclen = xcalloc(opts->nsecrets + 1, sizeof *r->seclen);
	for (size_t i = 0; i < opts->nsecrets; i++) {
		const char *s = opts->secrets[i];

		if (s == NULL || *s == '\0')
			continue;
		r->secrets[r->nsecrets] = s;
		r->seclen[r->nsecrets] = strlen(s);
		if (r->seclen[r->nsecrets] > longest)
			longest = r->seclen[r->nsecrets];
		r->nsecrets++;
	}
	r->line_cap = RUNNER_MAX_LINE + longest - 1;
	r->out.stream = STREAM_OUT;
	r->out.buf = xmalloc(r->line_cap + 1);
	r->err.stream = STREAM_ERR;
	r->err.buf = xmalloc(r->line_cap + 1);
	r->out.carry = xmalloc(longest < RUNNER_EDGE_MAX ? longest : RUNNER_EDGE_MAX);
	r->err.carry = xmalloc(longest < RUNNER_EDGE_MAX ? longest : RUNNER_EDGE_MAX);

	r->cap_values = xcalloc(opts->ncaptures + 1, sizeof *r->cap_values);
	r->cap_off = xcalloc(opts->ncaptures + 1, sizeof *r->cap_off);
	r->hint_seen = xcalloc(opts->nhints + 1, sizeof *r->hint_seen);
	r->res.cmds = xcalloc(n + 1, sizeof *r->res.cmds);
	r->res.ncmds = n;
	r->t0 = now_ms();
	r->kick_timer = loop_add_timer(l, 0, run_kick_cb, r);
	return r;
}

/* Cancel: SIGTERM (then SIGKILL) the running command, skip the others. */
void
run_cancel(struct run *r)
{
	if (r->finished || r->canceled)
		return;
	r->canceled = true;
	if (r->job != NULL) {
		r->cmd_canceled = true;
		r->ops->cancel(r->job, r->opts.cancel_grace_ms);
	} else if (r->kick_timer == 0)
		r->kick_timer = loop_add_timer(r->loop, 0, run_kick_cb, r);
}

/* Has the done callback been called? */
bool
run_finished(const struct run *r)
{
	return r->finished;
}

/* The result; NULL until the run is over. */
const struct run_result *
run_result(const struct run *r)
{
	return r->finished ? &r->res : NULL;
}

/* Free a run; a command still running is killed. */
void
run_free(struct run **rp)
{
	struct run *r = *rp;

	if (r == NULL)
		return;
	if (r->job != NULL)
		r->ops->free(r->job);
	if (r->kick_timer != 0)
		loop_del_timer(r->loop, r->kick_timer);
	if (r->timeout_timer != 0)
		loop_del_timer(r->loop, r->timeout_timer);
	if (r->log != NULL)
		fclose(r->log);
	for (int k = 0; k < 2; k++)
		if (r->tail[k] != NULL)
			fclose(r->tail[k]);
	for (size_t i = 0; i < r->res.ncmds; i++) {
		free(r->res.cmds[i].reason);
		free(r->res.cmds[i].output);
	}
	free(r->res.cmds);
	for (size_t i = 0; i < r->res.nhints; i++)
		free(r->res.hints[i].line);
	free(r->res.hints);
	for (size_t i = 0; i < r->res.ncaptures; i++)
		free(r->res.captures[i].value);
	free(r->res.captures);
	free(r->res.error);
	free(r->log_error);
	for (size_t i = 0; i < r->opts.ncaptures; i++)
		free(r->cap_values[i]);
	free(r->cap_values);
	free(r->cap_off);
	free(r->hint_seen);
	free(r->secrets);
	free(r->seclen);
	/* Partial lines may hold secrets that were not redacted yet. */
	explicit_bzero(r->out.buf, r->line_cap + 1);
	explicit_bzero(r->err.buf, r->line_cap + 1);
	explicit_bzero(r->out.carry, r->out.ncarry);
	explicit_bzero(r->err.carry, r->err.ncarry);
	free(r->out.buf);
	free(r->err.buf);
	free(r->out.carry);
	free(r->err.carry);
	sb_free(&r->stdout_buf);
	free(r);
	*rp = NULL;
}

/* Wipe a string that may hold a secret, then free it. */
static void
run_wipe_free(const void *p, size_t len)
{
	void *q = (void *)(uintptr_t)p;

	if (q == NULL)
		return;
	explicit_bzero(q, len);
	free(q);
}

/* Free everything a run_cmd owns; env entries and stdin are wiped first. */
void
run_cmd_clear(struct run_cmd *c)
{
	free(c->display);
	free(c->label);
	rx_free(&c->expect);
	free(c->expect_text);
	free(c->unready);
	free((void *)(uintptr_t)c->tc.script);
	free((void *)(uintptr_t)c->tc.cwd);
	free((void *)(uintptr_t)c->tc.id);
	if (c->tc.env != NULL) {
		for (size_t i = 0; c->tc.env[i] != NULL; i++)
			run_wipe_free(c->tc.env[i], strlen(c->tc.env[i]));
		free((void *)(uintptr_t)c->tc.env);
	}
	if (c->tc.stdin_data != NULL)
		run_wipe_free(c->tc.stdin_data, c->tc.stdin_len);
	memset(c, 0, sizeof *c);
}
