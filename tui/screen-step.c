/*
 * screen-step.c: one step. The upper pane is the step's page: summary, status and history,
 * what is missing when it is locked, the guide, the steps it requires and the inputs it uses
 * (each with its status), the manual checklist, and the exact commands of its check and of
 * its action (engine_commands) shown before anything runs. A banner shows the hints matched
 * by the last run (cause and fix). The lower pane is the live log (view-log.c); Tab moves
 * between the panes and `l` gives the log the whole screen.
 */
#include "config.h"

#include "ui.h"

#include <stdlib.h>
#include <string.h>

#include "logbuf.h"
#include "runner.h"

/* Add a step's commands of one kind to the document. */
static void
info_commands(struct ui *ui, struct doc *d, size_t s, enum run_kind kind)
{
	struct run_cmd *cmds;
	size_t n;
	char *cause = NULL;

	if (engine_commands(ui->e, s, kind, &cmds, &n, &cause) != 0) {
		/* Show them as written, with their ${inputs} unfilled, and say why. */
		const struct step *st = &ui->c->steps[s];
		const struct command *raw = kind == RUN_CHECK ? st->check : st->action;
		size_t nraw = kind == RUN_CHECK ? st->ncheck : st->naction;
		char *t = xprintf("(as written: %s)", cause ? cause : "cannot fill them in");

		doc_wrap(d, S_DIM, 2, t);
		free(t);
		free(cause);
		for (size_t i = 0; i < nraw; i++) {
			t = xprintf("$ [%s] %s", place_name(raw[i].on), raw[i].run);
			doc_hang(d, S_CMD, 2, 2, t);
			free(t);
		}
		return;
	}
	if (n == 0)
		doc_wrap(d, S_DIM, 2, kind == RUN_ACTION ? "(none: you do it; r then runs the check)" :
		    "(none)");
	for (size_t i = 0; i < n; i++) {
		const char *p = cmds[i].display;
		bool first = true;

		if (cmds[i].label != NULL) {
			char *t = xprintf("%s:", cmds[i].label);

			doc_wrap(d, S_DIM, 2, t);
			free(t);
		}
		while (p != NULL) {
			const char *nl = strchr(p, '\n');
			char *t = xprintf("%s%.*s", first ? "$ " : "  ",
			    (int)(nl ? (size_t)(nl - p) : strlen(p)), p);

			doc_hang(d, S_CMD, 2, 2, t);
			free(t);
			first = false;
			p = nl ? nl + 1 : NULL;
		}
	}
	run_cmds_free(&cmds, n);
}

/* Add the inputs a step uses, each with its value, provenance and validity. */
static void
info_inputs(struct ui *ui, struct doc *d, size_t s)
{
	const struct step *st = &ui->c->steps[s];

	for (size_t k = 0; k < st->ninputs; k++) {
		const struct input_def *def = &ui->c->inputs[st->inputs[k]];
		struct input_value iv;
		char *prov, *line;
		const char *shown;

		if (!engine_step_uses(ui->e, s, k))
			continue;   /* only for another release */
		engine_input(ui->e, st->inputs[k], &iv);
		prov = provenance(&iv);
		if (def->secret)
			shown = iv.present ? "****" : "not provided (asked for when it runs)";
		else if (!iv.present && iv.verdict.ok)
			shown = "not set (optional)";
		else
			shown = iv.present ? iv.value : iv.verdict.why ? iv.verdict.why : "not set";
		doc_newline(d);
		doc_add(d, S_NORMAL, "  ");
		if (!iv.present && (def->secret || iv.verdict.ok))
			doc_add(d, S_DIM, ui->g->dot);
		else
			doc_add(d, iv.verdict.ok ? S_DONE : S_FAILED, iv.verdict.ok ? ui->g->ok :
			    ui->g->bad);
		line = xprintf(" %s%s", def->name, iv.present ? " = " : ": ");
		doc_add(d, S_NORMAL, line);
		free(line);
		doc_add(d, iv.present ? S_HEADING : def->secret || iv.verdict.ok ? S_DIM : S_ERROR,
		    shown);
		if (iv.present) {
			line = xprintf("  (%s)", prov);
			doc_add_or_wrap(d, S_DIM, 6, line);
			free(line);
		}
		if (!iv.verdict.ok && iv.verdict.why != NULL && iv.present) {
			line = iv.verdict.suggestion ? xprintf("%s (did you mean %s?)", iv.verdict.why,
			    iv.verdict.suggestion) : xstrdup(iv.verdict.why);
			doc_wrap(d, S_ERROR, 6, line);
			free(line);
		}
		free(prov);
		input_value_clear(&iv);
	}
}

/* The step's page. */
static void
info_doc(struct ui *ui, struct doc *d, size_t s)
{
	const struct step *st = &ui->c->steps[s];
	struct blocker *b;
	size_t nb, *miss, nmiss;

	if (st->summary != NULL)
		doc_prose(d, S_NORMAL, 0, st->summary);
	doc_newline(d);
	doc_add(d, S_NORMAL, "Status ");
	ui_doc_status(ui, d, s, "  ");
	nb = engine_blockers(ui->e, s, &b);
	if (nb > 0) {
		doc_newline(d);
		doc_add(d, S_HEADING, "Locked: what is missing");
		for (size_t i = 0; i < nb; i++) {
			char *t = xprintf("%s %s", ui->g->bullet, b[i].why);

			doc_hang(d, S_NORMAL, 2, 2, t);
			free(t);
		}
	}
	blockers_free(&b, nb);
	nmiss = engine_missing_secrets(ui->e, s, &miss);
	for (size_t i = 0; i < nmiss; i++) {
		char *t = xprintf("%s the secret %s is asked for when it runs", ui->g->bullet,
		    ui->c->inputs[miss[i]].name);

		doc_hang(d, S_DIM, 2, 2, t);
		free(t);
	}
	free(miss);
	if (st->guide != NULL) {
		doc_newline(d);
		doc_newline(d);
		doc_add(d, S_HEADING, "Guide");
		doc_prose(d, S_NORMAL, 2, st->guide);
	}
	if (st->nrequires > 0) {
		doc_newline(d);
		doc_newline(d);
		doc_add(d, S_HEADING, "Requires");
		for (size_t k = 0; k < st->nrequires; k++) {
			size_t r = st->req[k];
			enum step_status rs = engine_status(ui->e, r);
			char *t = xprintf(" %s ", ui->c->steps[r].id);

			doc_newline(d);
			doc_add(d, S_NORMAL, "  ");
			doc_add(d, style_of_status(rs), ui->g->mark[rs]);
			doc_add(d, S_NORMAL, t);
			doc_add(d, style_of_status(rs), step_status_name(rs));
			free(t);
			t = xprintf("  %s", ui->c->steps[r].title);
			doc_add(d, S_DIM, t);
			free(t);
		}
	}
	if (st->ninputs > 0) {
		doc_newline(d);
		doc_newline(d);
		doc_add(d, S_HEADING, "Inputs");
		doc_add(d, S_DIM, "  (e edits them)");
		info_inputs(ui, d, s);
	}
	if (st->nchecklist > 0) {
		doc_newline(d);
		doc_newline(d);
		doc_add(d, S_HEADING, "Checklist");
		doc_add(d, S_DIM, "  (yours to do; r shows it, space ticks an item there)");
		for (size_t k = 0; k < st->nchecklist; k++) {
			time_t at = engine_ticked(ui->e, s, k);
			char when[32], *t;

			t = xprintf("[%s] %s%s%s%s", at ? "x" : " ", st->checklist[k],
			    at ? "  (ticked " : "", at ? fmt_time(at, when, sizeof when) : "",
			    at ? ")" : "");
			doc_hang(d, S_NORMAL, 2, 4, t);
			free(t);
		}
	}
	doc_newline(d);
	doc_newline(d);
	doc_add(d, S_HEADING, "Check");
	doc_add(d, S_DIM, "  (c runs it: is the step done?)");
	info_commands(ui, d, s, RUN_CHECK);
	doc_newline(d);
	doc_newline(d);
	doc_add(d, S_HEADING, "Action");
	doc_add(d, S_DIM, "  (r runs it, then the check)");
	info_commands(ui, d, s, RUN_ACTION);
	if (st->effects & EFFECT_SUDO)
		doc_wrap(d, S_STALE, 2, "! runs commands as root (sudo)");
	if (st->effects & EFFECT_TRANSACTION)
		doc_wrap(d, S_STALE, 2, "! sends blockchain transactions (costs gas)");
	if (st->effects & EFFECT_REBOOT)
		doc_wrap(d, S_STALE, 2, "! reboots the server");
	if (st->effects & EFFECT_LONG)
		doc_wrap(d, S_STALE, 2, "! takes many minutes");
}

/* The banner of matched hints: cause, then fix and the line that matched. */
static void
hint_banner(struct ui *ui, int y, int rows)
{
	struct ui_step *us = &ui->steps[ui->sel];

	for (size_t i = 0; i < us->nhints && (int)(2 * i + 1) < rows; i++) {
		const struct ui_hint *h = &us->hints[i];

		draw_fill(ui, y, 0, ui->cols, S_HINT);
		draw_strf(ui, y, 1, ui->cols - 2, S_HINT, "%s Hint: %s", ui->g->warn, h->say);
		draw_fill(ui, y + 1, 0, ui->cols, S_HINT);
		if (h->fix != NULL)
			draw_strf(ui, y + 1, 3, ui->cols - 4, S_HINT, "Fix: %s  (matched: %s)", h->fix,
			    h->line ? h->line : "");
		else
			draw_strf(ui, y + 1, 3, ui->cols - 4, S_HINT, "(matched: %s)",
			    h->line ? h->line : "");
		y += 2;
	}
}

/* Draw the step screen. */
void
step_draw(struct ui *ui)
{
	const struct step *st = &ui->c->steps[ui->sel];
	enum step_status status = engine_status(ui->e, ui->sel);
	int avail = ui->rows - 3, banner, info_h;
	struct logbuf *lb;
	char *left, *right;
	struct doc d;

	left = xprintf("%s%s %s %s", engine_is_demo(ui->e) ? "DEMO (simulated host) " : "",
	    st->id, ui->g->dot, st->title);
	right = xprintf("%s %s %s %s", badge_of(st->place), ui->g->dot, ui->g->mark[status],
	    step_status_name(status));
	draw_bar(ui, 0, left, right, S_TITLE);
	free(left);
	free(right);

	if (ui->log.full) {
		logview_draw(ui, 1, avail);
	} else {
		banner = (int)ui->steps[ui->sel].nhints * 2;
		if (banner > 4)
			banner = 4;
		/* The page gets most of the screen until there is a log to show. */
		lb = logview_buf(ui, ui->sel);
		if (lb == NULL || logbuf_end(lb) == logbuf_first(lb))
			info_h = (avail - banner) * 2 / 3;
		else
			info_h = (avail - banner) * 9 / 20;
		if (info_h < 4)
			info_h = 4;
		ui->info_height = info_h;
		doc_init(&d, ui->cols - 2);
		info_doc(ui, &d, ui->sel);
		ui->info_scroll = doc_clamp(&d, info_h, ui->info_scroll);
		doc_draw(ui, &d, 1, 1, info_h, ui->cols - 2, ui->info_scroll);
		doc_free(&d);
		hint_banner(ui, 1 + info_h, banner);
		logview_draw(ui, 1 + info_h + banner, avail - info_h - banner);
	}
	draw_msgline(ui);
	if (ui->pane == 1 || ui->log.full) {
		const char *keys[] = { "Tab", "info", "/?", "search", ui->log.search ? "n/N" :
		    "f", ui->log.search ? "match" : "follow", "o", ui->log.output_only ? "all" :
		    "output", "s", "save", "l", ui->log.full ? "split" : "full", "x", "cancel",
		    "Esc", "back", "F1", "help", NULL };

		draw_keybar(ui, keys);
	} else {
		const char *keys[] = { "Tab", "log", "r", "run", "c", "check", "x", "cancel", "e",
		    "inputs", "n/p", "step", "l", "log", "Esc", "back", "?", "help", NULL };

		draw_keybar(ui, keys);
	}
}

/* Keys of the step screen. */
unsigned
step_key(struct ui *ui, struct ui_key k)
{
	int page = ui->info_height > 2 ? ui->info_height - 1 : 1;

	if (ui->pane == 1 || ui->log.full) {
		unsigned r = logview_key(ui, k);

		if (!(r & UI_PASS))
			return r;
	} else
		ui->pending_g = false;
	if (KEY_IS(k, '\t') || KEY_FN(k, KEY_BTAB)) {
		if (ui->log.full)
			ui->log.full = false;
		ui->pane ^= 1;
		return UI_REDRAW;
	}
	if (KEY_IS(k, '\033') || KEY_FN(k, KEY_BACKSPACE) || KEY_IS(k, 0x7f) ||
	    KEY_IS(k, KEY_CTRL('h'))) {
		if (ui->log.full)
			ui->log.full = false;
		else {
			ui->screen = SCREEN_OVERVIEW;
			ui->pane = 0;
		}
		return UI_REDRAW;
	}
	if (KEY_IS(k, '/'))
		return prompt_open(ui, PROMPT_SEARCH);
	if (ui->pane == 0 && !ui->log.full) {
		if (KEY_FN(k, KEY_UP) || KEY_IS(k, 'k') || KEY_IS(k, KEY_CTRL('p')))
			ui->info_scroll--;
		else if (KEY_FN(k, KEY_DOWN) || KEY_IS(k, 'j') || KEY_IS(k, KEY_CTRL('n')))
			ui->info_scroll++;
		else if (KEY_FN(k, KEY_PPAGE) || KEY_IS(k, KEY_CTRL('b')))
			ui->info_scroll -= page;
		else if (KEY_FN(k, KEY_NPAGE) || KEY_IS(k, KEY_CTRL('f')) || KEY_IS(k, ' '))
			ui->info_scroll += page;
		else if (KEY_FN(k, KEY_HOME))
			ui->info_scroll = 0;
		else if (KEY_FN(k, KEY_END) || KEY_IS(k, 'G'))
			ui->info_scroll = 1 << 20;
		else
			return ui_common_key(ui, k);
		return UI_REDRAW;
	}
	return ui_common_key(ui, k);
}
