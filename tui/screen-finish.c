/*
 * screen-finish.c: the finish screen. What the chain built and where to reach it
 * (engine_summary: the KMS's RPC and auth-api, the contracts with their explorer pages, the
 * gateway, the hello-world app, the attestation verdict), then what to do next. It opens by
 * itself when the last step becomes done, and with F (or n on the last step) at any time;
 * what is not built yet says so.
 */
#include "config.h"

#include "ui.h"

#include <stdlib.h>
#include <string.h>

/* The screen's text, as a document. */
static void
finish_doc(struct ui *ui, struct doc *d)
{
	struct summary_item *it;
	struct strvec next = {0};
	size_t n = engine_summary(ui->e, &it), done = 0;

	for (size_t s = 0; s < ui->c->nsteps; s++)
		done += engine_status(ui->e, s) == ST_DONE;
	doc_add(d, S_HEADING, done == ui->c->nsteps ? "Every step is done." :
	    "Not every step is done yet: what is below is what there is so far.");
	doc_newline(d);
	doc_newline(d);
	doc_add(d, S_HEADING, "What was built, and where to reach it");
	for (size_t i = 0; i < n; i++) {
		const char *v = it[i].value != NULL ? it[i].value : "not known yet";
		enum ui_style st = it[i].value == NULL ? S_DIM : it[i].done ? S_OK : S_NORMAL;
		char *t = xprintf("%-28s ", it[i].label);

		doc_newline(d);
		doc_add(d, S_NORMAL, "  ");
		doc_add(d, S_NORMAL, t);
		doc_add_or_wrap(d, st, 31, v);
		free(t);
		if (it[i].value != NULL && !it[i].done && strcmp(it[i].key, "attestation") != 0) {
			t = xprintf("(%s is not done)", ui->c->steps[it[i].step].id);
			doc_wrap(d, S_DIM, 31, t);
			free(t);
		}
		if (it[i].note != NULL)
			doc_wrap(d, S_DIM, 31, it[i].note);
		if (it[i].link != NULL)
			doc_wrap(d, S_DIM, 31, it[i].link);
	}
	doc_newline(d);
	doc_newline(d);
	doc_add(d, S_HEADING, "What to do next");
	engine_next_steps(ui->e, &next);
	for (size_t i = 0; i < next.n; i++) {
		char *t = xprintf("%s %s", ui->g->bullet, next.v[i]);

		doc_hang(d, S_NORMAL, 2, 2, t);
		free(t);
	}
	sv_free(&next);
	summary_items_free(&it, n);
}

/* Draw the finish screen. */
void
finish_draw(struct ui *ui)
{
	const char *keys[] = { "Esc", "back", "j/k", "scroll", "?", "help", "q", "quit", NULL };
	char *left = xprintf("dstack-wizard %s profile %s %s the finish", ui->g->dot,
	    engine_profile(ui->e), ui->g->dot);
	struct doc d;
	int h = ui->rows - 3;

	draw_bar(ui, 0, left, NULL, S_TITLE);
	free(left);
	doc_init(&d, ui->cols - 2);
	finish_doc(ui, &d);
	ui->info_scroll = doc_clamp(&d, h, ui->info_scroll);
	doc_draw(ui, &d, 1, 1, h, ui->cols - 2, ui->info_scroll);
	doc_free(&d);
	draw_msgline(ui);
	draw_keybar(ui, keys);
}

/* Keys of the finish screen. */
unsigned
finish_key(struct ui *ui, struct ui_key k)
{
	if (KEY_IS(k, '\033') || KEY_IS(k, '\r') || KEY_IS(k, '\n') || KEY_FN(k, KEY_ENTER) ||
	    KEY_FN(k, KEY_LEFT)) {
		ui->screen = SCREEN_OVERVIEW;
		ui->info_scroll = 0;
		return UI_REDRAW;
	}
	if (KEY_FN(k, KEY_UP) || KEY_IS(k, 'k')) {
		ui->info_scroll--;
		return UI_REDRAW;
	}
	if (KEY_FN(k, KEY_DOWN) || KEY_IS(k, 'j')) {
		ui->info_scroll++;
		return UI_REDRAW;
	}
	if (KEY_IS(k, 'q'))
		return ui_quit(ui);
	if (KEY_IS(k, '?')) {
		ui->help = true;
		ui->help_scroll = 0;
		return UI_REDRAW;
	}
	return 0;
}

/* Open the finish screen. */
unsigned
ui_open_finish(struct ui *ui)
{
	ui->screen = SCREEN_FINISH;
	ui->info_scroll = 0;
	return UI_REDRAW;
}
