/*
 * screen-overview.c: the overview. The title bar names the chain, the profile and the
 * target; the list shows every section with its progress and every step with its status
 * mark, place badge, title and status word; the line above the pane below ends with the
 * estimated time left for the chain; that pane shows the selected step: its
 * summary, its history (done when, why it failed, drift), and, when it is locked, exactly
 * what is missing (engine_blockers).
 */
#include "config.h"

#include "ui.h"

#include <stdlib.h>
#include <string.h>

#include "runner.h"

/* One row of the list: a section heading or a step. */
struct ov_row {
	bool section;
	size_t index;
};

/* The rows of the list, in order; returns how many. */
static size_t
ov_rows(const struct chain *c, struct ov_row **out)
{
	struct ov_row *rows = xcalloc(c->nsteps + c->nsections + 1, sizeof *rows);
	size_t n = 0, sec = SIZE_MAX;

	for (size_t i = 0; i < c->nsteps; i++) {
		if (c->steps[i].section != sec) {
			sec = c->steps[i].section;
			rows[n].section = true;
			rows[n++].index = sec;
		}
		rows[n].section = false;
		rows[n++].index = i;
	}
	*out = rows;
	return n;
}

/* The title bar: the chain, the profile, the target; progress on the right. */
static void
ov_title(struct ui *ui)
{
	size_t done = 0;
	char *left, *right, *version = engine_version(ui->e), *rel, *where;

	for (size_t i = 0; i < ui->c->nsteps; i++)
		done += engine_status(ui->e, i) == ST_DONE;
	rel = version != NULL ? xprintf(" %s dstack %s", ui->g->dot, version) : xstrdup("");
	/* Where the steps run and the release come before the chain's title, which may be cut. */
	if (engine_is_demo(ui->e))
		where = engine_remote(ui->e) != NULL ? xprintf("DEMO: simulated TDX host over SSH to "
		    "%s", remote_label(engine_remote(ui->e))) : xstrdup("DEMO: simulated TDX host");
	else
		where = ui->target ? xprintf("target %s", ui->target) : xstrdup("no server");
	left = xprintf("dstack-wizard %s %s %s profile %s%s %s %s", ui->g->dot, where, ui->g->dot,
	    engine_profile(ui->e), rel, ui->g->dot, ui->c->title ? ui->c->title : "the dstack chain");
	free(where);
	free(rel);
	free(version);
	if (engine_readonly(ui->e) != NULL)
		right = xprintf("READ-ONLY %s %zu/%zu done", ui->g->dot, done, ui->c->nsteps);
	else
		right = xprintf("%zu/%zu done", done, ui->c->nsteps);
	draw_bar(ui, 0, left, right, S_TITLE);
	free(left);
	free(right);
}

/* A section heading with its progress. */
static void
ov_section(struct ui *ui, int y, size_t sec, int w)
{
	size_t total = 0, done = 0, fill;
	struct strbuf full = {0}, empty = {0};
	char count[64];
	int x;

	for (size_t i = 0; i < ui->c->nsteps; i++)
		if (ui->c->steps[i].section == sec) {
			total++;
			done += engine_status(ui->e, i) == ST_DONE;
		}
	fill = total ? done * 10 / total : 0;
	for (size_t i = 0; i < 10; i++)
		sb_adds(i < fill ? &full : &empty, i < fill ? ui->g->bar_full : ui->g->bar_empty);
	snprintf(count, sizeof count, "%zu/%zu done ", done, total);
	x = w - 11 - (int)strlen(count);
	draw_str(ui, y, 1, x - 2, ui->c->sections[sec].title, S_HEADING);
	draw_str(ui, y, x, (int)strlen(count), count, S_HEADING);
	x += (int)strlen(count);
	x += draw_str(ui, y, x, 10, sb_str(&full), S_DONE);
	draw_str(ui, y, x, 10, sb_str(&empty), S_DIM);
	sb_free(&full);
	sb_free(&empty);
}

/* A step's row: pointer, mark, id, badge, title, status word. */
static void
ov_step(struct ui *ui, int y, size_t s, bool selected, int idw, int w)
{
	const struct step *st = &ui->c->steps[s];
	enum step_status status = engine_status(ui->e, s);
	enum ui_style base = selected ? S_SELECTED : S_NORMAL;
	const char *word = step_status_name(status);
	int x, right = w - 10;

	draw_fill(ui, y, 0, w, base);
	if (selected)
		draw_str(ui, y, 0, 1, ui->g->pointer, base);
	draw_str(ui, y, 2, 1, ui->g->mark[status], style_of_status(status));
	draw_clip(ui, y, 4, idw, st->id, base);
	x = 4 + idw + 2;
	draw_str(ui, y, x, 6, badge_of(st->place), selected ? base : style_of_place(st->place));
	x += 8;
	draw_clip(ui, y, x, right - x - 1, st->title, base);
	draw_str(ui, y, right, 9, word, selected ? base : style_of_status(status));
}

/*
 * The estimated time left for the chain, at the right end of the line from x to end, when
 * some step not done has an estimate ("+" when some have none) and there is room.
 */
static void
ov_time_left(struct ui *ui, int y, int x, int end)
{
	size_t unknown;
	long secs = engine_time_left(ui->e, &unknown);
	char *words, *t;
	int w;

	if (secs <= 0)
		return;
	words = engine_duration_words(secs);
	t = xprintf(" chain: ~%s%s left ", words, unknown > 0 ? "+" : "");
	w = text_width(t, strlen(t));
	if (end - w >= x)
		draw_str(ui, y, end - w, w, t, S_HEADING);
	free(t);
	free(words);
}

/* The selected step's details, as a document. */
static void
ov_detail(struct ui *ui, struct doc *d, size_t s)
{
	const struct step *st = &ui->c->steps[s];
	struct ui_step *us = &ui->steps[s];
	struct blocker *b;
	size_t nb, *miss, nmiss;

	doc_newline(d);
	doc_add(d, S_HEADING, st->title);
	if (st->summary != NULL)
		doc_wrap(d, S_NORMAL, 0, st->summary);
	doc_newline(d);
	ui_doc_status(ui, d, s, ": ");
	for (size_t i = 0; i < us->nhints; i++) {
		char *t = xprintf("%s hint: %s%s%s", ui->g->warn, us->hints[i].say,
		    us->hints[i].fix ? " Fix: " : "", us->hints[i].fix ? us->hints[i].fix : "");

		doc_wrap(d, S_STALE, 2, t);
		free(t);
	}
	if (st->nchecklist > 0) {
		size_t ticked = 0;
		time_t last = 0;
		char when[32], *t;

		for (size_t k = 0; k < st->nchecklist; k++) {
			time_t at = engine_ticked(ui->e, s, k);

			ticked += at != 0;
			if (at > last)
				last = at;
		}
		t = last ? xprintf("Checklist: %zu of %zu ticked, the last %s", ticked,
		    st->nchecklist, fmt_time(last, when, sizeof when)) :
		    xprintf("Checklist: %zu items, none ticked yet", st->nchecklist);
		doc_wrap(d, S_NORMAL, 0, t);
		free(t);
	}
	nb = engine_blockers(ui->e, s, &b);
	nmiss = engine_missing_secrets(ui->e, s, &miss);
	if (nb > 0) {
		doc_newline(d);
		doc_add(d, S_HEADING, "Locked: what is missing");
		for (size_t i = 0; i < nb; i++) {
			char *t = xprintf("%s %s", ui->g->bullet, b[i].why);

			doc_hang(d, S_NORMAL, 2, 2, t);
			free(t);
		}
	}
	for (size_t i = 0; i < nmiss; i++) {
		char *t = xprintf("%s the secret %s is asked for when it runs", ui->g->bullet,
		    ui->c->inputs[miss[i]].name);

		doc_wrap(d, S_DIM, 2, t);
		free(t);
	}
	blockers_free(&b, nb);
	free(miss);
}

/* Draw the overview: the list above the selected step's pane, or beside it when wide. */
void
overview_draw(struct ui *ui)
{
	struct ov_row *rows;
	size_t nrows = ov_rows(ui->c, &rows), selrow = 0;
	bool wide = ui->cols >= 120;
	int detail_h = wide ? ui->rows - 3 : ui->rows >= 40 ? 13 : 8;
	int list_h = wide ? ui->rows - 3 : ui->rows - 3 - detail_h;
	int list_w = ui->cols, dy, dx, dw, idw = 8, titlew = 0, max_top, x;
	struct doc d;
	char *head;

	for (size_t i = 0; i < ui->c->nsteps; i++) {
		int w = (int)strlen(ui->c->steps[i].id);
		int tw = text_width(ui->c->steps[i].title, strlen(ui->c->steps[i].title));

		if (w > idw)
			idw = w;
		if (tw > titlew)
			titlew = tw;
	}
	if (idw > 28)
		idw = 28;
	if (wide) {
		/* As wide as the rows need, between half and three fifths of the screen. */
		list_w = 4 + idw + 2 + 8 + titlew + 11;
		if (list_w < ui->cols / 2)
			list_w = ui->cols / 2;
		if (list_w > ui->cols * 3 / 5)
			list_w = ui->cols * 3 / 5;
	}
	dy = wide ? 1 : 1 + list_h;
	dx = wide ? list_w + 1 : 0;
	dw = ui->cols - dx;
	for (size_t i = 0; i < nrows; i++)
		if (!rows[i].section && rows[i].index == ui->sel)
			selrow = i;
	/* Keep the selected row (and its section heading, when it is first) in view. */
	if ((int)selrow - 1 < ui->list_top)
		ui->list_top = selrow > 0 && rows[selrow - 1].section ? (int)selrow - 1 : (int)selrow;
	if ((int)selrow >= ui->list_top + list_h)
		ui->list_top = (int)selrow - list_h + 1;
	max_top = (int)nrows - list_h;
	if (ui->list_top > max_top)
		ui->list_top = max_top;
	if (ui->list_top < 0)
		ui->list_top = 0;
	ui->info_height = list_h;

	ov_title(ui);
	for (int r = 0; r < list_h && (size_t)(ui->list_top + r) < nrows; r++) {
		const struct ov_row *row = &rows[ui->list_top + r];

		if (row->section)
			ov_section(ui, 1 + r, row->index, list_w);
		else
			ov_step(ui, 1 + r, row->index, row->index == ui->sel && ui->pane == 0, idw,
			    list_w);
	}
	if (ui->list_top > 0)
		draw_str(ui, 1, list_w - 1, 1, ui->g->more_up, S_DIM);
	if ((size_t)(ui->list_top + list_h) < nrows)
		draw_str(ui, list_h, list_w - 1, 1, ui->g->more_down, S_DIM);
	free(rows);

	/* The selected step: a heading line, then its details. */
	if (wide) {
		cchar_t cc;
		wchar_t vl[2] = { ui->g->vline, L'\0' };
		attr_t a = ui_attr(ui, S_BORDER);

		setcchar(&cc, vl, a & ~A_COLOR, (short)PAIR_NUMBER(a), NULL);
		mvvline_set(1, list_w, &cc, ui->rows - 3);
	}
	draw_hline(ui, dy, dx, dw, ui->pane == 1 ? S_HEADING : S_BORDER);
	head = xprintf(" %s%s %s %s %s ", ui->pane == 1 ? ui->g->pointer : "",
	    ui->c->steps[ui->sel].id, ui->g->dot, badge_of(ui->c->steps[ui->sel].place),
	    ui->g->dot);
	draw_str(ui, dy, dx + 2, dw - 4, head, S_HEADING);
	x = dx + 2 + text_width(head, strlen(head));
	x += draw_str(ui, dy, x, 12, step_status_name(engine_status(ui->e, ui->sel)),
	    style_of_status(engine_status(ui->e, ui->sel)));
	draw_str(ui, dy, x, 1, " ", S_NORMAL);
	free(head);
	ov_time_left(ui, dy, x + 2, dx + dw - 2);
	doc_init(&d, dw - 2);
	ov_detail(ui, &d, ui->sel);
	ui->detail_scroll = doc_clamp(&d, detail_h - 1, ui->detail_scroll);
	doc_draw(ui, &d, dy + 1, dx + 1, detail_h - 1, dw - 2, ui->detail_scroll);
	doc_free(&d);

	draw_msgline(ui);
	{
		const char *keys[] = { "Enter", "open", "r", "run", "R", "rest", "c", "check", "e",
		    "inputs", "S", "server", "g", "go to", "?", "help", "q", "quit", NULL };

		draw_keybar(ui, keys);
	}
}

/* Keys of the overview. */
unsigned
overview_key(struct ui *ui, struct ui_key k)
{
	size_t n = ui->c->nsteps, sel = ui->sel;
	size_t page = ui->info_height > 3 ? (size_t)ui->info_height - 2 : 1;

	if (ui->pane == 1) {
		if (KEY_FN(k, KEY_UP) || KEY_IS(k, 'k') || KEY_IS(k, KEY_CTRL('p'))) {
			ui->detail_scroll--;
			return UI_REDRAW;
		}
		if (KEY_FN(k, KEY_DOWN) || KEY_IS(k, 'j') || KEY_IS(k, KEY_CTRL('n'))) {
			ui->detail_scroll++;
			return UI_REDRAW;
		}
	}
	if (KEY_FN(k, KEY_UP) || KEY_IS(k, 'k') || KEY_IS(k, KEY_CTRL('p'))) {
		if (sel > 0)
			ui_select(ui, sel - 1);
		return UI_REDRAW;
	}
	if (KEY_FN(k, KEY_DOWN) || KEY_IS(k, 'j') || KEY_IS(k, KEY_CTRL('n'))) {
		if (sel + 1 < n)
			ui_select(ui, sel + 1);
		return UI_REDRAW;
	}
	if (KEY_FN(k, KEY_PPAGE) || KEY_IS(k, KEY_CTRL('b'))) {
		ui_select(ui, sel > page ? sel - page : 0);
		return UI_REDRAW;
	}
	if (KEY_FN(k, KEY_NPAGE) || KEY_IS(k, KEY_CTRL('f'))) {
		ui_select(ui, sel + page < n ? sel + page : n - 1);
		return UI_REDRAW;
	}
	if (KEY_FN(k, KEY_HOME)) {
		ui_select(ui, 0);
		return UI_REDRAW;
	}
	if (KEY_FN(k, KEY_END) || KEY_IS(k, 'G')) {
		ui_select(ui, n - 1);
		return UI_REDRAW;
	}
	if (KEY_IS(k, '\r') || KEY_IS(k, '\n') || KEY_FN(k, KEY_ENTER) || KEY_FN(k, KEY_RIGHT)) {
		ui->pane = 0;
		return ui_open_step(ui, sel);
	}
	if (KEY_IS(k, '\t') || KEY_FN(k, KEY_BTAB)) {
		ui->pane ^= 1;
		return UI_REDRAW;
	}
	if (KEY_IS(k, '\033')) {
		freep(&ui->msg);
		ui->pane = 0;
		return UI_REDRAW;
	}
	if (KEY_IS(k, 'C'))
		return ui_recheck_bad(ui);
	if (KEY_IS(k, 'S'))
		return server_open(ui);
	return ui_common_key(ui, k);
}
