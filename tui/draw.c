/*
 * draw.c: the widgets every screen draws with: text (UTF-8 decoded to wide characters,
 * measured by wcwidth, cleaned of control characters and terminal escape sequences, so a
 * child's output can never move the cursor or change the terminal), filled rows, lines and
 * boxes of cchar_t, the title and key bars, and documents (styled lines wrapped to a width).
 */
#include "config.h"

#include "ui.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Walks UTF-8 text one displayable character at a time. */
struct text_iter {
	const char *p, *end;
	mbstate_t ps;
};

/* Skip a terminal escape sequence starting at p (*p == ESC); return where it ends. */
static const char *
skip_escape(const char *p, const char *end)
{
	p++;
	if (p >= end)
		return p;
	if (*p == '[') {
		for (p++; p < end; p++)
			if (*p >= 0x40 && *p <= 0x7e)
				return p + 1;
		return p;
	}
	if (*p == ']' || *p == 'P' || *p == 'X' || *p == '^' || *p == '_') {
		for (p++; p < end; p++) {
			if (*p == '\a')
				return p + 1;
			if (*p == '\033' && p + 1 < end && p[1] == '\\')
				return p + 2;
		}
		return p;
	}
	return p + 1;
}

/* The next character to show and its width (a tab is returned as is, width 0). */
static bool
text_next(struct text_iter *it, wchar_t *wc, int *width)
{
	while (it->p < it->end) {
		unsigned char b = (unsigned char)*it->p;
		size_t n;

		if (b == '\033') {
			it->p = skip_escape(it->p, it->end);
			continue;
		}
		if (b == '\t') {
			it->p++;
			*wc = L'\t';
			*width = 0;
			return true;
		}
		if (b < 0x20 || b == 0x7f) {
			it->p++;
			continue;
		}
		if (b < 0x80) {
			it->p++;
			*wc = (wchar_t)b;
			*width = 1;
			return true;
		}
		n = mbrtowc(wc, it->p, (size_t)(it->end - it->p), &it->ps);
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			memset(&it->ps, 0, sizeof it->ps);
			it->p++;
			*wc = L'?';
			*width = 1;
			return true;
		}
		it->p += n;
		if ((*wc >= 0x80 && *wc < 0xa0) || *wc == 0x2028 || *wc == 0x2029)
			continue;
		*width = wcwidth(*wc);
		if (*width < 0) {
			*wc = L'?';
			*width = 1;
		}
		return true;
	}
	return false;
}

/* Columns text takes on the screen (tabs count to the next multiple of 8). */
int
text_width(const char *s, size_t len)
{
	struct text_iter it = { s, s + len, {0} };
	wchar_t wc;
	int w, col = 0;

	while (text_next(&it, &wc, &w))
		col += wc == L'\t' ? 8 - col % 8 : w;
	return col;
}

/* How many bytes of s fit in w columns. */
static size_t
text_fit(const char *s, size_t len, int w)
{
	struct text_iter it = { s, s + len, {0} };
	const char *last = s;
	wchar_t wc;
	int cw, col = 0;

	while (text_next(&it, &wc, &cw)) {
		if (wc == L'\t')
			cw = 8 - col % 8;
		if (col + cw > w)
			break;
		col += cw;
		last = it.p;
	}
	return (size_t)(last - s);
}

/*
 * Draw text at (y, x) in at most w columns, after skipping its first `skip` columns. Returns
 * the columns drawn.
 */
int
draw_text(struct ui *ui, int y, int x, int w, const char *s, size_t len, attr_t a, int skip)
{
	struct text_iter it = { s, s + len, {0} };
	wchar_t buf[512], wc;
	size_t nb = 0, cap = nitems(buf) - 1;
	int cw, col = 0, out = 0;

	(void)ui;
	if (w <= 0 || s == NULL)
		return 0;
	while (nb < cap && text_next(&it, &wc, &cw)) {
		if (wc == L'\t') {
			int n = 8 - col % 8;

			for (int i = 0; i < n && nb < cap; i++, col++)
				if (col >= skip && out < w) {
					buf[nb++] = L' ';
					out++;
				}
			if (out >= w)
				break;
			continue;
		}
		if (cw == 0) {
			if (nb > 0 && col > skip)
				buf[nb++] = wc;
			continue;
		}
		if (col < skip) {
			col += cw;
			/* A wide character cut by the left edge leaves blanks. */
			for (int i = skip; i < col && out < w && nb < cap; i++, out++)
				buf[nb++] = L' ';
			continue;
		}
		if (out + cw > w)
			break;
		buf[nb++] = wc;
		out += cw;
		col += cw;
	}
	if (nb == 0)
		return 0;
	attrset(a);
	mvaddnwstr(y, x, buf, (int)nb);
	attrset(A_NORMAL);
	return out;
}

/* Draw a NUL-terminated string in a style. */
int
draw_str(struct ui *ui, int y, int x, int w, const char *s, enum ui_style st)
{
	if (s == NULL)
		return 0;
	return draw_text(ui, y, x, w, s, strlen(s), ui_attr(ui, st), 0);
}

/* Draw a string in at most w columns, ending with an ellipsis when it is cut. */
int
draw_clip(struct ui *ui, int y, int x, int w, const char *s, enum ui_style st)
{
	int n;

	if (s == NULL || w <= 0)
		return 0;
	if (text_width(s, strlen(s)) <= w)
		return draw_str(ui, y, x, w, s, st);
	n = draw_str(ui, y, x, w - 1, s, st);
	return n + draw_str(ui, y, x + n, 1, ui->g->ellipsis, st);
}

/* Draw formatted text in a style. */
int
draw_strf(struct ui *ui, int y, int x, int w, enum ui_style st, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	s = xvprintf(fmt, ap);
	va_end(ap);
	n = draw_str(ui, y, x, w, s, st);
	free(s);
	return n;
}

/* Fill w columns of a row with blanks in a style. */
void
draw_fill(struct ui *ui, int y, int x, int w, enum ui_style st)
{
	if (w > 0)
		mvhline(y, x, (chtype)' ' | ui_attr(ui, st), w);
}

/* Set cc to glyph wc in a style. */
static void
glyph(struct ui *ui, cchar_t *cc, wchar_t wc, enum ui_style st)
{
	wchar_t w[2] = { wc, L'\0' };
	attr_t a = ui_attr(ui, st);

	setcchar(cc, w, a & ~A_COLOR, (short)PAIR_NUMBER(a), NULL);
}

/* A horizontal line. */
void
draw_hline(struct ui *ui, int y, int x, int w, enum ui_style st)
{
	cchar_t cc;

	if (w <= 0)
		return;
	glyph(ui, &cc, ui->g->hline, st);
	mvhline_set(y, x, &cc, w);
}

/* A box with a blank inside and an optional title on its top line. */
void
draw_box(struct ui *ui, int y, int x, int h, int w, const char *title)
{
	cchar_t cc;

	if (h < 2 || w < 2)
		return;
	for (int r = y + 1; r < y + h - 1; r++)
		draw_fill(ui, r, x + 1, w - 2, S_NORMAL);
	draw_hline(ui, y, x + 1, w - 2, S_BORDER);
	draw_hline(ui, y + h - 1, x + 1, w - 2, S_BORDER);
	glyph(ui, &cc, ui->g->vline, S_BORDER);
	mvvline_set(y + 1, x, &cc, h - 2);
	mvvline_set(y + 1, x + w - 1, &cc, h - 2);
	glyph(ui, &cc, ui->g->ul, S_BORDER);
	mvadd_wch(y, x, &cc);
	glyph(ui, &cc, ui->g->ur, S_BORDER);
	mvadd_wch(y, x + w - 1, &cc);
	glyph(ui, &cc, ui->g->ll, S_BORDER);
	mvadd_wch(y + h - 1, x, &cc);
	glyph(ui, &cc, ui->g->lr, S_BORDER);
	mvadd_wch(y + h - 1, x + w - 1, &cc);
	if (title != NULL && *title != '\0' && w > 6) {
		int n;

		draw_str(ui, y, x + 2, 1, " ", S_HEADING);
		n = draw_str(ui, y, x + 3, w - 6, title, S_HEADING);
		draw_str(ui, y, x + 3 + n, 1, " ", S_HEADING);
	}
}

/* A full-width bar: left text, and right text aligned to the right edge. */
void
draw_bar(struct ui *ui, int y, const char *left, const char *right, enum ui_style st)
{
	int rw = right ? text_width(right, strlen(right)) : 0;

	draw_fill(ui, y, 0, ui->cols, st);
	if (right != NULL && rw + 2 < ui->cols)
		draw_str(ui, y, ui->cols - rw - 1, rw, right, st);
	else
		rw = -1;
	draw_str(ui, y, 1, ui->cols - rw - 3, left, st);
}

/* The bottom bar: pairs of key and what it does, as many as fit. */
void
draw_keybar(struct ui *ui, const char *const *keys)
{
	int y = ui->rows - 1, x = 0;

	draw_fill(ui, y, 0, ui->cols, S_BAR);
	for (size_t i = 0; keys[i] != NULL && keys[i + 1] != NULL; i += 2) {
		int kw = text_width(keys[i], strlen(keys[i]));
		int lw = text_width(keys[i + 1], strlen(keys[i + 1]));

		if (x + kw + lw + 2 > ui->cols)
			break;
		draw_str(ui, y, x, kw, keys[i], S_KEY);
		draw_str(ui, y, x + kw + 1, lw, keys[i + 1], S_BAR);
		x += kw + lw + 3;
	}
}

/* A local time as "2026-11-24 10:02". */
const char *
fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == 0) {
		snprintf(buf, len, "never");
		return buf;
	}
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
	return buf;
}

/* Where an input's value came from, for people: "captured from alpha, 2026-11-24 10:02". */
char *
provenance(const struct input_value *iv)
{
	char buf[32];

	switch (iv->source) {
	case SRC_NONE:
		return xstrdup("not set");
	case SRC_DEFAULT:
		return xstrdup("the default");
	case SRC_USER:
		return xprintf("set %s", fmt_time(iv->at, buf, sizeof buf));
	case SRC_CAPTURE:
		return xprintf("captured from %s, %s", iv->from_step ? iv->from_step : "?",
		    fmt_time(iv->at, buf, sizeof buf));
	case SRC_ENV:
		return xstrdup("from the environment, held in memory");
	case SRC_FILE:
		return xstrdup("from --secret-file, held in memory");
	case SRC_PROMPT:
		return xstrdup("typed in this session, held in memory");
	}
	return xstrdup("?");
}

/* Start an empty document for a width. */
void
doc_init(struct doc *d, int width)
{
	memset(d, 0, sizeof *d);
	d->width = width > 1 ? width : 1;
}

/* Free a document's lines. */
void
doc_free(struct doc *d)
{
	for (size_t i = 0; i < d->n; i++) {
		for (size_t k = 0; k < d->lines[i].nsegs; k++)
			free(d->lines[i].segs[k].text);
		free(d->lines[i].segs);
	}
	free(d->lines);
	d->lines = NULL;
	d->n = 0;
}

/* Begin a new line. */
void
doc_newline(struct doc *d)
{
	d->lines = xreallocarray(d->lines, d->n + 1, sizeof *d->lines);
	memset(&d->lines[d->n], 0, sizeof d->lines[d->n]);
	d->lines[d->n].tag = -1;
	d->n++;
}

/* Append text to the current line (no wrapping). */
void
doc_add(struct doc *d, enum ui_style st, const char *text)
{
	struct doc_line *l;

	if (d->n == 0)
		doc_newline(d);
	l = &d->lines[d->n - 1];
	l->segs = xreallocarray(l->segs, l->nsegs + 1, sizeof *l->segs);
	l->segs[l->nsegs].st = st;
	l->segs[l->nsegs].text = xstrdup(text);
	l->nsegs++;
}

/* Append formatted text to the current line. */
void
doc_addf(struct doc *d, enum ui_style st, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvprintf(fmt, ap);
	va_end(ap);
	doc_add(d, st, s);
	free(s);
}

/* Add one wrapped line of text: indent, then the text's bytes [s, s+len). */
static void
doc_wrapped_line(struct doc *d, enum ui_style st, int indent, const char *s, size_t len)
{
	char *t = xprintf("%*s%.*s", indent, "", (int)len, s);

	doc_newline(d);
	doc_add(d, st, t);
	free(t);
}

/* Add text on new lines, wrapped at word boundaries to the width, each line indented. */
void
doc_wrap(struct doc *d, enum ui_style st, int indent, const char *text)
{
	doc_hang(d, st, indent, 0, text);
}

/* Like doc_wrap, but lines after the first of each paragraph are indented hang more. */
void
doc_hang(struct doc *d, enum ui_style st, int indent, int hang, const char *text)
{
	int first_indent = indent, avail;
	const char *p = text;

	if (d->width - indent - hang < 8)
		first_indent = indent = hang = 0;
	if (text == NULL)
		return;
	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t plen = nl ? (size_t)(nl - p) : strlen(p);
		const char *q = p, *end = p + plen;

		if (plen == 0)
			doc_newline(d);
		indent = first_indent;
		while (q < end) {
			const char *line = q, *brk = NULL, *r = q;
			int col = 0;

			avail = d->width - indent;

			/* Take words while they fit. */
			while (r < end) {
				const char *ws = r, *we;

				while (ws < end && *ws == ' ')
					ws++;
				we = ws;
				while (we < end && *we != ' ')
					we++;
				if (col + text_width(r, (size_t)(we - r)) > avail)
					break;
				col += text_width(r, (size_t)(we - r));
				brk = we;
				r = we;
			}
			if (brk == NULL) {
				/* One word longer than the line: cut it. */
				size_t fit = text_fit(q, (size_t)(end - q), avail);

				if (fit == 0)
					fit = 1;
				brk = q + fit;
			}
			doc_wrapped_line(d, st, indent, line, (size_t)(brk - line));
			indent = first_indent + hang;
			q = brk;
			while (q < end && *q == ' ')
				q++;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

/* The first line to show so that a scroll stays in range. */
int
doc_clamp(const struct doc *d, int h, int scroll)
{
	int max = (int)d->n - h;

	if (max < 0)
		max = 0;
	if (scroll > max)
		scroll = max;
	return scroll < 0 ? 0 : scroll;
}

/* Draw rows [scroll, scroll+h) of a document in a rectangle, with more-above/below marks. */
void
doc_draw(struct ui *ui, const struct doc *d, int y, int x, int h, int w, int scroll)
{
	for (int r = 0; r < h; r++) {
		size_t i = (size_t)(scroll + r);
		int col = 0;

		if (scroll + r < 0 || i >= d->n)
			continue;
		for (size_t k = 0; k < d->lines[i].nsegs && col < w; k++) {
			const struct doc_seg *sg = &d->lines[i].segs[k];

			col += draw_text(ui, y + r, x + col, w - col, sg->text, strlen(sg->text),
			    ui_attr(ui, sg->st), 0);
		}
	}
	if (scroll > 0 && h > 0)
		draw_str(ui, y, x + w - 1, 1, ui->g->more_up, S_DIM);
	if ((size_t)(scroll + h) < d->n && h > 0)
		draw_str(ui, y + h - 1, x + w - 1, 1, ui->g->more_down, S_DIM);
}

/* The message line above the key bar, with the re-check progress on its right. */
void
draw_msgline(struct ui *ui)
{
	int y = ui->rows - 2, rw = 0;

	draw_fill(ui, y, 0, ui->cols, S_NORMAL);
	if (ui->rechecking) {
		char *t = xprintf("re-checking %zu/%zu", ui->recheck_pos, ui->nrechecks);

		rw = text_width(t, strlen(t));
		draw_str(ui, y, ui->cols - rw - 1, rw, t, S_DIM);
		free(t);
	}
	if (ui->msg != NULL)
		draw_str(ui, y, 1, ui->cols - rw - 3, ui->msg, ui->msg_style);
}

/* Columns used so far on the document's last line. */
int
doc_col(const struct doc *d)
{
	int col = 0;

	if (d->n == 0)
		return 0;
	for (size_t k = 0; k < d->lines[d->n - 1].nsegs; k++)
		col += text_width(d->lines[d->n - 1].segs[k].text,
		    strlen(d->lines[d->n - 1].segs[k].text));
	return col;
}

/* Append text to the last line, as many words as fit there; wrap the rest at indent. */
void
doc_add_or_wrap(struct doc *d, enum ui_style st, int indent, const char *text)
{
	int room = d->width - doc_col(d);
	const char *p = text, *fit = text;

	while (*p != '\0') {
		const char *we = p;

		while (*we == ' ')
			we++;
		while (*we != '\0' && *we != ' ' && *we != '\n')
			we++;
		if (text_width(text, (size_t)(we - text)) > room)
			break;
		fit = p = we;
		if (*p == '\n')
			break;
	}
	if (fit > text) {
		char *head = xstrndup(text, (size_t)(fit - text));

		doc_add(d, st, head);
		free(head);
	}
	while (*fit == ' ' || *fit == '\n')
		fit++;
	if (*fit != '\0')
		doc_wrap(d, st, indent, fit);
}

/* Is this line of prose one that keeps its own line (a list item, code, a heading)? */
static bool
prose_keeps_line(const char *s, size_t len)
{
	if (len == 0)
		return false;
	if (s[0] == ' ' || s[0] == '\t' || s[0] == '#' || s[0] == '|' || s[0] == '$')
		return true;
	if (len >= 2 && (s[0] == '-' || s[0] == '*' || s[0] == '+') && s[1] == ' ')
		return true;
	for (size_t i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		if (i + 1 < len && (s[i + 1] == '.' || s[i + 1] == ')'))
			return true;
	return false;
}

/*
 * Add prose (a guide): lines of a paragraph are joined and wrapped to the width; a blank
 * line separates paragraphs; list items, indented lines and code keep their own lines
 * (list items wrap with a hanging indent).
 */
void
doc_prose(struct doc *d, enum ui_style st, int indent, const char *text)
{
	struct strbuf para = {0};
	const char *p = text;

	if (text == NULL)
		return;
	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		bool blank = true, keep = prose_keeps_line(p, len);

		for (size_t i = 0; i < len; i++)
			if (p[i] != ' ' && p[i] != '\t')
				blank = false;
		if ((blank || keep) && para.len > 0) {
			doc_wrap(d, st, indent, sb_str(&para));
			sb_reset(&para);
		}
		if (blank) {
			if (nl != NULL && d->n > 0)
				doc_newline(d);
		} else if (keep) {
			char *line = xstrndup(p, len);
			int hang = 0;

			if (len >= 2 && (p[0] == '-' || p[0] == '*' || p[0] == '+') && p[1] == ' ')
				hang = 2;
			doc_hang(d, st, indent, hang, line);
			free(line);
		} else {
			if (para.len > 0)
				sb_addc(&para, ' ');
			sb_add(&para, p, len);
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (para.len > 0)
		doc_wrap(d, st, indent, sb_str(&para));
	sb_free(&para);
}
