/*
 * view-log.c: the log pane. It shows a step's log ring (engine_log) while and after it runs
 * in this session, or else the tail of the last run's log file (so a re-entered wizard shows
 * why a step failed, and the hints that matched). Streams are told apart by a mark and a
 * colour: "  " stdout, "! " stderr, "# " the wizard's own lines. The view follows new output
 * until scrolled; gg/G, paging, sideways scrolling, a filter that shows the output only (no
 * echoed commands, no lines of the wizard's own), a case-insensitive search as in less (`/`
 * towards newer lines, `?` towards older, n again the same way, N the other way) with
 * highlighted matches, and `s` writes what the pane shows to a file.
 */
#include "config.h"

#include "rx.h"
#include "ui.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "logbuf.h"
#include "transport.h"

#define LOG_FILE_TAIL   (512 * 1024)    /* bytes of a log file loaded */
#define LOG_FILE_RING   (1024 * 1024)

/* Remember a hint that matched a line of an old log (each hint once). */
static void
file_hint(struct ui_step *us, const struct hint *h, const char *line)
{
	for (size_t i = 0; i < us->nhints; i++)
		if (strcmp(us->hints[i].say, h->say) == 0)
			return;
	us->hints = xreallocarray(us->hints, us->nhints + 1, sizeof *us->hints);
	us->hints[us->nhints].say = xstrdup(h->say);
	us->hints[us->nhints].fix = xstrdup(h->fix);
	us->hints[us->nhints].line = xstrdup(line);
	us->nhints++;
}

/* Load the tail of a step's last log file into a ring (once). */
static struct logbuf *
load_file(struct ui *ui, size_t s)
{
	struct ui_step *us = &ui->steps[s];
	const struct step *st = &ui->c->steps[s];
	const struct state_step *ss;
	bool skip = false, hints = us->nhints == 0 && !us->ran;
	char *line = NULL, *note, *version;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	if (us->file_tried)
		return us->file_log;
	us->file_tried = true;
	ss = engine_step_state(ui->e, s);
	if (ss == NULL || ss->log_path == NULL || (f = fopen(ss->log_path, "re")) == NULL)
		return NULL;
	if (fseeko(f, 0, SEEK_END) == 0) {
		off_t size = ftello(f);

		if (size > LOG_FILE_TAIL) {
			fseeko(f, size - LOG_FILE_TAIL, SEEK_SET);
			skip = true;
		} else
			rewind(f);
	}
	us->file_log = logbuf_new(LOG_FILE_RING);
	note = xprintf("the last run's log: %s", ss->log_path);
	logbuf_push(us->file_log, STREAM_META, note, strlen(note));
	free(note);
	version = engine_version(ui->e);
	while ((n = getline(&line, &cap, f)) >= 0) {
		const char *text = line;
		int stream = STREAM_META;

		if (skip) {
			skip = false;
			continue;
		}
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n >= 16 && line[2] == ':' && line[5] == ':' && line[8] == '.' && line[12] == ' ' &&
		    (line[13] == 'O' || line[13] == 'E') && line[14] == '|' && line[15] == ' ') {
			stream = line[13] == 'E' ? STREAM_ERR : STREAM_OUT;
			text = line + 16;
		} else if (n >= 2 && line[0] == '#' && line[1] == ' ')
			text = line + 2;
		logbuf_push(us->file_log, stream, text, strlen(text));
		if (hints && stream != STREAM_META)
			for (size_t k = 0; k < st->nhints; k++)
				if (vcond_holds(st->hints[k].when, version) &&
				    rx_matches(st->hints[k].re, text))
					file_hint(us, &st->hints[k], text);
	}
	free(line);
	free(version);
	fclose(f);
	return us->file_log;
}

/* The log a step shows: this session's ring, else its last log file. */
struct logbuf *
logview_buf(struct ui *ui, size_t s)
{
	struct logbuf *lb;

	if (s >= ui->c->nsteps)
		return NULL;
	lb = engine_log(ui->e, s);
	return lb != NULL ? lb : load_file(ui, s);
}

/* Point the view at a step's log, following its end. */
void
logview_show(struct ui *ui, size_t s)
{
	struct ui_logview *v = &ui->log;

	v->step = s;
	v->follow = true;
	v->top = 0;
	v->hscroll = 0;
	v->match = UINT64_MAX;
	v->back = false;
	freep(&v->search);
	(void)logview_buf(ui, s);
}

/* Is line seq there and shown (the filter hides the wizard's own lines)? */
static bool
shown(const struct ui_logview *v, const struct logbuf *lb, uint64_t seq, struct logline *ll)
{
	struct logline tmp;

	if (ll == NULL)
		ll = &tmp;
	if (logbuf_get(lb, seq, ll) != 0)
		return false;
	return !v->output_only || ll->stream != STREAM_META;
}

/* The line n shown lines before (n < 0) or after seq, stopping at the ends. */
static uint64_t
step_shown(const struct ui_logview *v, const struct logbuf *lb, uint64_t seq, long n)
{
	uint64_t first = logbuf_first(lb), end = logbuf_end(lb), at = seq;

	for (uint64_t q = seq; n < 0 && q > first; ) {
		if (shown(v, lb, --q, NULL)) {
			at = q;
			n++;
		}
	}
	for (uint64_t q = seq; n > 0 && q + 1 < end; ) {
		if (shown(v, lb, ++q, NULL)) {
			at = q;
			n--;
		}
	}
	return at;
}

/* The first line in view: the one that puts the last shown line at the bottom when
 * following, else the one scrolled to (no further down than that). */
static uint64_t
view_top(const struct ui_logview *v, const struct logbuf *lb, int rows)
{
	uint64_t first = logbuf_first(lb), end = logbuf_end(lb), max = end, top;
	int seen = 0;

	if (rows < 1)
		rows = 1;
	for (uint64_t q = end; q > first && seen < rows; )
		if (shown(v, lb, --q, NULL)) {
			max = q;
			seen++;
		}
	if (max == end)
		max = first;
	top = v->follow ? max : v->top;
	if (top < first)
		top = first;
	if (top > max)
		top = max;
	return top;
}

/* Draw part of a line, skipping what scrolled off to the left. */
static void
piece(struct ui *ui, int y, int *x, int xend, int *skip, const char *s, size_t len, attr_t a)
{
	int pw = text_width(s, len);

	if (*skip >= pw) {
		*skip -= pw;
		return;
	}
	*x += draw_text(ui, y, *x, xend - *x, s, len, a, *skip);
	*skip = 0;
}

/* One log line: its stream mark, then its text with the matches highlighted. */
static void
draw_line(struct ui *ui, int y, const struct logline *ll, bool current)
{
	const char *mark = ll->stream == STREAM_ERR ? "! " : ll->stream == STREAM_META ? "# " :
	    "  ";
	enum ui_style st = ll->stream == STREAM_ERR ? S_STDERR : ll->stream == STREAM_META ?
	    S_META : S_NORMAL;
	const char *pat = ui->log.search, *p = ll->text, *m;
	int x = 2, skip = ui->log.hscroll;
	size_t plen = pat ? strlen(pat) : 0;

	if (current)
		draw_str(ui, y, 0, 1, ui->g->pointer, S_MATCH);
	else
		draw_str(ui, y, 0, 2, mark, st);
	while (plen > 0 && (m = strcasestr(p, pat)) != NULL && x < ui->cols) {
		piece(ui, y, &x, ui->cols, &skip, p, (size_t)(m - p), ui_attr(ui, st));
		piece(ui, y, &x, ui->cols, &skip, m, plen, ui_attr(ui, S_MATCH));
		p = m + plen;
	}
	if (x < ui->cols)
		piece(ui, y, &x, ui->cols, &skip, p, strlen(p), ui_attr(ui, st));
	if (text_width(ll->text, ll->len) - ui->log.hscroll > ui->cols - 2)
		draw_str(ui, y, ui->cols - 1, 1, ui->g->ellipsis, S_DIM);
}

/* Draw the log pane: a header row, then h-1 rows of log. */
void
logview_draw(struct ui *ui, int y, int h)
{
	struct ui_logview *v = &ui->log;
	size_t s = v->step < ui->c->nsteps ? v->step : ui->sel;
	const struct step *st = &ui->c->steps[s];
	struct ui_step *us = &ui->steps[s];
	struct logbuf *lb = logview_buf(ui, s);
	bool focus = ui->pane == 1 || v->full;
	int rows = h - 1;
	char *left, *right;
	const char *kind = us->kind == RUN_CHECK ? "check" : "action";
	uint64_t top = 0, first = 0, end = 0, last = 0;
	struct strbuf sb = {0};
	int r = 0;

	if (h < 2)
		return;
	v->height = rows;
	if (lb != NULL) {
		first = logbuf_first(lb);
		end = logbuf_end(lb);
		top = view_top(v, lb, rows);
	}
	if (ui_running(ui, s))
		left = xprintf("Log %s %s of %s: %s%s", ui->g->dot,
		    engine_status(ui->e, s) == ST_CHECKING ? "check" : kind, st->id,
		    engine_status(ui->e, s) == ST_CHECKING ? "checking" : "running", ui->g->ellipsis);
	else if (us->ran)
		left = xprintf("Log %s %s of %s: %s", ui->g->dot, kind, st->id,
		    us->outcome ? us->outcome : "ended");
	else if (lb != NULL)
		left = xprintf("Log %s last run of %s (from its log file)", ui->g->dot, st->id);
	else
		left = xprintf("Log %s %s", ui->g->dot, st->id);
	if (v->output_only)
		sb_adds(&sb, "output only  ");
	if (v->search != NULL)
		sb_addf(&sb, "%s%s  ", v->back ? "?" : "/", v->search);
	if (lb == NULL || end == first)
		sb_reset(&sb);
	else if (v->follow)
		sb_addf(&sb, "following, %llu lines", (unsigned long long)(end - first));
	else {
		/* The last line in view. */
		int n = 0;

		for (uint64_t seq = top; n < rows && seq < end; seq++)
			if (shown(v, lb, seq, NULL)) {
				last = seq;
				n++;
			}
		sb_addf(&sb, "lines %llu-%llu of %llu", (unsigned long long)(top - first + 1),
		    (unsigned long long)(last - first + 1), (unsigned long long)(end - first));
	}
	right = xstrdup(sb_str(&sb));
	sb_free(&sb);
	draw_fill(ui, y, 0, ui->cols, focus ? S_SELECTED : S_BAR);
	{
		int rw = text_width(right, strlen(right));
		char *l2 = xprintf("%s%s", focus ? ui->g->pointer : " ", left);

		draw_str(ui, y, ui->cols - rw - 1, rw, right, focus ? S_SELECTED : S_BAR);
		draw_str(ui, y, 0, ui->cols - rw - 3, l2, focus ? S_SELECTED : S_BAR);
		free(l2);
	}
	free(left);
	free(right);
	if (lb == NULL || end == first) {
		draw_str(ui, y + 1, 2, ui->cols - 4, "Nothing has run for this step yet: c runs its "
		    "check, r its action.", S_DIM);
		return;
	}
	for (uint64_t seq = top; r < rows && seq < end; seq++) {
		struct logline ll;

		if (!shown(v, lb, seq, &ll))
			continue;
		draw_line(ui, y + 1 + r++, &ll, seq == v->match);
	}
	if (r == 0)
		draw_str(ui, y + 1, 2, ui->cols - 4, "No output yet (o shows the commands too).",
		    S_DIM);
}

/* Scroll by delta shown lines; reaching the end turns following back on. */
static unsigned
scroll_by(struct ui *ui, struct logbuf *lb, long delta)
{
	struct ui_logview *v = &ui->log;
	int rows = v->height > 0 ? v->height : 10;
	uint64_t cur = view_top(v, lb, rows), max;

	v->follow = true;
	max = view_top(v, lb, rows);
	v->top = step_shown(v, lb, cur, delta);
	if (v->top > max)
		v->top = max;
	v->follow = delta > 0 && v->top == max;
	return UI_REDRAW;
}

/* Does a shown line from seq on, one way, contain the pattern? Its seq, or UINT64_MAX. */
static uint64_t
search_from(const struct ui_logview *v, const struct logbuf *lb, uint64_t seq, bool older)
{
	uint64_t first = logbuf_first(lb), end = logbuf_end(lb);
	struct logline ll;

	for (; seq >= first && seq < end; seq = older ? seq - 1 : seq + 1) {
		if (shown(v, lb, seq, &ll) && strcasestr(ll.text, v->search) != NULL)
			return seq;
		if (older && seq == first)
			break;
	}
	return UINT64_MAX;
}

/*
 * Search the log (case-insensitive) as less does: a new pattern towards older lines (?) or
 * newer ones (/), from the lines in view; then again the same way (n) or the other way (N).
 */
unsigned
logview_search(struct ui *ui, const char *pattern, bool older)
{
	struct ui_logview *v = &ui->log;
	struct logbuf *lb = logview_buf(ui, v->step);
	int rows = v->height > 0 ? v->height : 10;
	uint64_t first, end, from, seq;
	const char *way;

	if (pattern != NULL && *pattern != '\0') {
		free(v->search);
		v->search = xstrdup(pattern);
		v->match = UINT64_MAX;
		v->back = older;
	}
	if (v->search == NULL)
		return UI_REDRAW;
	way = v->back ? "?" : "/";
	if (lb == NULL || logbuf_end(lb) == logbuf_first(lb)) {
		ui_message(ui, S_ERROR, "the log is empty");
		return UI_REDRAW;
	}
	first = logbuf_first(lb);
	end = logbuf_end(lb);
	if (v->match != UINT64_MAX && v->match >= first && v->match < end) {
		if ((older && v->match == first) || (!older && v->match + 1 == end))
			seq = UINT64_MAX;
		else
			seq = search_from(v, lb, older ? v->match - 1 : v->match + 1, older);
	} else {
		uint64_t top = view_top(v, lb, rows);

		from = older ? step_shown(v, lb, top, rows - 1) : top;
		seq = search_from(v, lb, from, older);
	}
	if (seq == UINT64_MAX) {
		if (search_from(v, lb, first, false) == UINT64_MAX)
			ui_message(ui, S_ERROR, "%s%s: no match%s", way, v->search, v->output_only ?
			    " in the output (o shows the commands too)" : "");
		else
			ui_message(ui, S_ERROR, "%s%s: no %s match", way, v->search,
			    older ? "older" : "newer");
		return UI_REDRAW;
	}
	v->match = seq;
	v->follow = false;
	v->top = step_shown(v, lb, seq, -(long)rows / 2);
	ui_message(ui, S_NORMAL, "%s%s: line %llu of %llu (n: again, N: the other way, Esc "
	    "clears)", way, v->search, (unsigned long long)(seq - first + 1),
	    (unsigned long long)(end - first));
	return UI_REDRAW;
}

/* The file the log is saved to by default: the step's id in the current directory. */
char *
logview_save_name(struct ui *ui)
{
	size_t s = ui->log.step < ui->c->nsteps ? ui->log.step : ui->sel;

	return xprintf("%s.log", ui->c->steps[s].id);
}

/*
 * Write the lines the pane shows (the filter applies; secrets are already "****" in the
 * ring) to a new file, 0600; an existing file is left alone. "~/" is the home directory.
 */
unsigned
logview_save(struct ui *ui, const char *name)
{
	struct ui_logview *v = &ui->log;
	struct logbuf *lb = logview_buf(ui, v->step);
	const char *home = getenv("HOME");
	struct logline ll;
	uint64_t nlines = 0;
	char *path;
	FILE *f;
	int fd;

	if (lb == NULL || logbuf_end(lb) == logbuf_first(lb)) {
		ui_message(ui, S_ERROR, "the log is empty: nothing to save");
		return UI_REDRAW;
	}
	if (*name == '\0') {
		ui_message(ui, S_ERROR, "not saved: no file name");
		return UI_REDRAW;
	}
	if (str_has_prefix(name, "~/") && home != NULL)
		path = xprintf("%s/%s", home, name + 2);
	else
		path = xstrdup(name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		ui_message(ui, S_ERROR, "not saved: %s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (give another name)" : "");
		if (fd >= 0)
			close(fd);
		free(path);
		return UI_REDRAW;
	}
	for (uint64_t seq = logbuf_first(lb); seq < logbuf_end(lb); seq++) {
		if (!shown(v, lb, seq, &ll))
			continue;
		fprintf(f, "%s%s\n", ll.stream == STREAM_ERR ? "! " : ll.stream == STREAM_META ?
		    "# " : "  ", ll.text);
		nlines++;
	}
	if (fclose(f) != 0)
		ui_message(ui, S_ERROR, "not saved: %s: %s", path, strerror(errno));
	else
		ui_message(ui, S_OK, "saved %llu line%s%s to %s", (unsigned long long)nlines,
		    nlines == 1 ? "" : "s", v->output_only ? " of output" : "", path);
	free(path);
	return UI_REDRAW;
}

/* Keys of the log pane; UI_PASS for the ones it leaves to the screen. */
unsigned
logview_key(struct ui *ui, struct ui_key k)
{
	struct ui_logview *v = &ui->log;
	struct logbuf *lb = logview_buf(ui, v->step);
	int page = v->height > 2 ? v->height - 1 : 1;

	if (KEY_IS(k, 'g')) {
		if (!ui->pending_g) {
			ui->pending_g = true;
			return 0;
		}
		ui->pending_g = false;
		if (lb == NULL)
			return 0;
		v->follow = false;
		v->top = logbuf_first(lb);
		return UI_REDRAW;
	}
	ui->pending_g = false;
	if (KEY_IS(k, '/'))
		return prompt_open(ui, PROMPT_SEARCH);
	if (KEY_IS(k, '?'))
		return prompt_open(ui, PROMPT_SEARCH_BACK);
	if (KEY_IS(k, 's'))
		return prompt_open(ui, PROMPT_SAVE);
	if (KEY_IS(k, 'o')) {
		v->output_only = !v->output_only;
		v->match = UINT64_MAX;
		ui_message(ui, S_NORMAL, v->output_only ? "the log shows the output only (o: the "
		    "commands too)" : "the log shows the commands and the output");
		return UI_REDRAW;
	}
	if (KEY_IS(k, '\033') && v->search != NULL) {
		freep(&v->search);
		v->match = UINT64_MAX;
		freep(&ui->msg);
		return UI_REDRAW;
	}
	if (v->search != NULL && (KEY_IS(k, 'n') || KEY_IS(k, 'N')))
		return logview_search(ui, NULL, KEY_IS(k, 'n') ? v->back : !v->back);
	if (KEY_FN(k, KEY_LEFT)) {
		v->hscroll = v->hscroll > 8 ? v->hscroll - 8 : 0;
		return UI_REDRAW;
	}
	if (KEY_FN(k, KEY_RIGHT)) {
		v->hscroll += 8;
		return UI_REDRAW;
	}
	if (lb == NULL)
		return UI_PASS;
	if (KEY_FN(k, KEY_UP) || KEY_IS(k, 'k') || KEY_IS(k, KEY_CTRL('p')))
		return scroll_by(ui, lb, -1);
	if (KEY_FN(k, KEY_DOWN) || KEY_IS(k, 'j') || KEY_IS(k, KEY_CTRL('n')))
		return scroll_by(ui, lb, 1);
	if (KEY_FN(k, KEY_PPAGE) || KEY_IS(k, KEY_CTRL('b')))
		return scroll_by(ui, lb, -page);
	if (KEY_FN(k, KEY_NPAGE) || KEY_IS(k, KEY_CTRL('f')) || KEY_IS(k, ' '))
		return scroll_by(ui, lb, page);
	if (KEY_FN(k, KEY_HOME)) {
		v->follow = false;
		v->top = logbuf_first(lb);
		return UI_REDRAW;
	}
	if (KEY_FN(k, KEY_END) || KEY_IS(k, 'G')) {
		v->follow = true;
		return UI_REDRAW;
	}
	if (KEY_IS(k, 'f')) {
		if (v->follow)
			v->top = view_top(v, lb, v->height);
		v->follow = !v->follow;
		return UI_REDRAW;
	}
	return UI_PASS;
}

/* Free the view's own memory. */
void
logview_free(struct ui *ui)
{
	freep(&ui->log.search);
}
