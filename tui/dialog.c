/*
 * dialog.c: the small windows over a screen: the help (F1 or ?) with the key map and the
 * current screen's help; the review before an action (what it does that cannot be taken
 * back and how long it takes first, then its checklist and its commands, with Cancel as the default when it
 * reboots the server or spends gas); the refusal of a locked step, naming every blocker
 * and offering to go to the first; the one-line prompts (go to a step, search the log); the
 * quit question while a step runs; and the "terminal too small" screen.
 */
#include "config.h"

#include "ui.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

/* A centred box of at most w x h; sets its origin. */
static void
centre_box(struct ui *ui, int h, int w, const char *title, int *y, int *x)
{
	if (w > ui->cols - 2)
		w = ui->cols - 2;
	if (h > ui->rows - 2)
		h = ui->rows - 2;
	*y = (ui->rows - h) / 2;
	*x = (ui->cols - w) / 2;
	draw_box(ui, *y, *x, h, w, title);
}

/* Add "key  what it does" to a document. */
static void
help_key_line(struct doc *d, const char *key, const char *what)
{
	char *t = xprintf("  %-18s ", key);

	doc_newline(d);
	doc_add(d, S_HEADING, t);
	doc_add_or_wrap(d, S_NORMAL, 21, what);
	free(t);
}

/* The help's text for the current screen. */
static void
help_doc(struct ui *ui, struct doc *d)
{
	const struct ui_glyphs *g = ui->g;
	char *t;

	doc_newline(d);
	if (ui->modal == MODAL_FORM) {
		doc_add(d, S_HEADING, "The input form");
		doc_wrap(d, S_NORMAL, 0, "Type to change the value: it is checked as you type, and "
		    "a wrong value says why, and offers a fix where one is safe (an address typed all "
		    "in one case, which has no checksum, is offered in its EIP-55 form: C-y takes it; "
		    "a wrong checksum is only refused, as a digit may be wrong). Enter saves the value; an empty value and Enter forget it, so the "
		    "default applies. A secret is shown as stars, held in memory for this session "
		    "only, and never written to the state or the logs.");
		help_key_line(d, "Enter", "save this field");
		help_key_line(d, "Tab Down C-n", "next field");
		help_key_line(d, "S-Tab Up C-p", "previous field");
		help_key_line(d, "Left Right C-b C-f", "move the cursor");
		help_key_line(d, "Home End C-a C-e", "start / end of the field");
		help_key_line(d, "C-u C-k C-w", "delete to the start / to the end / a word");
		help_key_line(d, "C-y", "take the suggested value");
		help_key_line(d, "Esc", "close the form");
		return;
	}
	if (ui->screen == SCREEN_SERVER) {
		doc_add(d, S_HEADING, "The server screen");
		doc_wrap(d, S_NORMAL, 0, "How the wizard reaches the TDX host: the host (an address, "
		    "a name or an ssh config Host alias; local runs the server steps on this machine; "
		    "empty: no server), the user, the port, the SSH key file and the known_hosts file "
		    "(empty: what ssh -G says, and ssh-agent for the key). They are kept in the "
		    "profile. Test saves them, then runs the pre-flight (the connection, the host key, "
		    "the login, sudo, the OS, the clock, the disk) and shows each item, with how to "
		    "fix one that failed. An unknown host key is shown with its fingerprint and "
		    "trusted only after a yes. server_ip is not the SSH target: it is the public "
		    "address written into DNS records and configurations; when the host is an IP "
		    "address and server_ip is not set, server_ip is that address.");
		help_key_line(d, "Tab Down / S-Tab Up", "next / previous field or button");
		help_key_line(d, "Enter", "save (on Test: save and test)");
		help_key_line(d, "C-t", "save and test");
		help_key_line(d, "C-u", "clear the field");
		help_key_line(d, "Esc", "back");
		return;
	}
	if (ui->screen == SCREEN_OVERVIEW) {
		doc_add(d, S_HEADING, "The overview");
		t = xprintf("Every section with its progress, and every step with its status: %s done, "
		    "%s failed, %s ready, %s locked (something it needs is missing), %s stale (it "
		    "needs a re-run: something it depends on changed), %s running, %s checking, "
		    "%s canceled. LOCAL steps run on this machine, SERVER steps on the TDX host, "
		    "MANUAL steps are yours to do: the wizard checks their effect. A step runs only "
		    "when the steps it requires are done and its inputs are valid; the pane below "
		    "says what is missing.", g->mark[ST_DONE], g->mark[ST_FAILED], g->mark[ST_READY],
		    g->mark[ST_LOCKED], g->mark[ST_STALE], g->mark[ST_RUNNING], g->mark[ST_CHECKING],
		    g->mark[ST_CANCELED]);
	} else if (ui->screen == SCREEN_FINISH) {
		doc_add(d, S_HEADING, "The finish");
		t = xstrdup("What the chain built and where to reach it: the KMS's RPC and auth-api, "
		    "the contracts (with their Sepolia explorer pages), the gateway's RPC and app "
		    "URLs, the hello-world app and the attestation verdict, all from the values the "
		    "steps captured; then what to do next. Esc goes back to the overview.");
	} else {
		doc_add(d, S_HEADING, "The step screen");
		t = xstrdup("The step's guide, what it requires, its inputs, and the exact commands of "
		    "its check (c: is it done?) and of its action (r: do it, then check), shown "
		    "before they run. The log below streams the output: '!' marks standard error, "
		    "'#' the wizard's own lines. A hint that matches the output shows its cause and "
		    "fix in a banner. Tab moves between the page and the log; l gives the log the "
		    "whole screen. r shows a review first: what the step does that cannot be "
		    "undone (a reboot, gas spent, root), then its commands with their values (secrets "
		    "as ****); y runs it, and Enter takes the marked button, which is Cancel for a "
		    "step that reboots the server or spends gas. A step done by hand has a "
		    "checklist: r shows it in the review, where space ticks the marked item (and "
		    "unticks it). Each tick is kept with its time, so the list survives the reboot it "
		    "leads to; the check alone decides whether the step is done.");
	}
	doc_wrap(d, S_NORMAL, 0, t);
	free(t);
	doc_newline(d);
	doc_newline(d);
	doc_add(d, S_HEADING, "Keys");
	t = xprintf("%s j k C-n C-p", g->up_down);
	help_key_line(d, t, "move, or scroll the pane that has the focus");
	free(t);
	help_key_line(d, "PgUp PgDn C-b C-f", "a page up / down");
	help_key_line(d, "Enter", "open the selected step");
	help_key_line(d, "Tab", "switch panes (the step's page / its log)");
	help_key_line(d, "Esc", "back to the overview, close a window");
	help_key_line(d, "c", "run the step's check: is it done?");
	if (ui->screen == SCREEN_OVERVIEW)
		help_key_line(d, "C", "re-check every stale, failed or canceled step");
	help_key_line(d, "r", "run the action, then the check (after a review)");
	help_key_line(d, "x", "cancel the running step");
	help_key_line(d, "e", "edit the step's inputs");
	help_key_line(d, "n / p", "next / previous step (next refuses a locked step and says why)");
	help_key_line(d, "g", "go to a step by the start of its id");
	help_key_line(d, "S", "in the overview: the server screen (how the wizard reaches the TDX "
	    "host)");
	help_key_line(d, "l", "the log on the whole screen, or back");
	help_key_line(d, "/ ?", "search the log towards newer / older lines, as in less; then "
	    "n: again the same way, N: the other way (in the log, ? searches: F1 is the help)");
	help_key_line(d, "gg / G", "in the log: the top / the end (G follows new output)");
	help_key_line(d, "f", "in the log: follow new output, or stop");
	help_key_line(d, "o", "in the log: the output only (no echoed commands, no lines of the "
	    "wizard's own), or everything");
	help_key_line(d, "s", "in the log: save what it shows to a new file (0600)");
	t = xprintf("%s", g->left_right);
	help_key_line(d, t, "in the log: scroll sideways");
	free(t);
	if (engine_is_demo(ui->e))
		help_key_line(d, "D", "the demo's controls: inject or clear the selected step's "
		    "failure, change the speed");
	help_key_line(d, "y / Enter", "in the review: run / take the marked button (Cancel for "
	    "a step that reboots or spends gas)");
	help_key_line(d, "space", "in the review of a manual step: tick the marked checklist "
	    "item");
	help_key_line(d, "R", "run the rest: each step that needs no one, in turn; stops at "
	    "a failure, a MANUAL step, a missing input or a step that reboots or spends gas, "
	    "and says why");
	help_key_line(d, "F", "the finish: what was built and where to reach it (n on the "
	    "last step too)");
	help_key_line(d, "C-l", "redraw the screen");
	help_key_line(d, "? F1", "this help");
	help_key_line(d, "q C-c", "quit (asks first when a step is running)");
}

/* Draw the help over everything. */
void
help_draw(struct ui *ui)
{
	int y = 1, x = 2, h = ui->rows - 3, w = ui->cols - 4;
	struct doc d;

	draw_box(ui, y, x, h, w, "Help");
	doc_init(&d, w - 4);
	help_doc(ui, &d);
	ui->help_scroll = doc_clamp(&d, h - 3, ui->help_scroll);
	doc_draw(ui, &d, y + 1, x + 2, h - 3, w - 4, ui->help_scroll);
	doc_free(&d);
	draw_str(ui, y + h - 2, x + 2, w - 4, "Esc, q or ? closes the help; j/k scroll it.",
	    S_DIM);
}

/* Keys of the help. */
unsigned
help_key(struct ui *ui, struct ui_key k)
{
	if (KEY_FN(k, KEY_UP) || KEY_IS(k, 'k') || KEY_IS(k, KEY_CTRL('p')))
		ui->help_scroll--;
	else if (KEY_FN(k, KEY_DOWN) || KEY_IS(k, 'j') || KEY_IS(k, KEY_CTRL('n')))
		ui->help_scroll++;
	else if (KEY_FN(k, KEY_PPAGE) || KEY_IS(k, KEY_CTRL('b')))
		ui->help_scroll -= 10;
	else if (KEY_FN(k, KEY_NPAGE) || KEY_IS(k, KEY_CTRL('f')) || KEY_IS(k, ' '))
		ui->help_scroll += 10;
	else
		ui->help = false;
	return UI_REDRAW;
}

/* Does running the step need a deliberate yes (it reboots the server or spends gas)? */
static bool
confirm_risky(const struct step *st)
{
	return (st->effects & (EFFECT_REBOOT | EFFECT_TRANSACTION)) != 0;
}

/* Ask before an action: the review. Cancel has the focus when the step reboots the server,
 * spends gas or replaces what it deployed. */
unsigned
confirm_open(struct ui *ui, size_t s, enum run_kind kind)
{
	ui->modal = MODAL_CONFIRM;
	ui->confirm.step = s;
	ui->confirm.kind = kind;
	ui->confirm.scroll = 0;
	ui->confirm.run_focus = kind != RUN_REPLACE && !confirm_risky(&ui->c->steps[s]);
	ui->confirm.item = 0;
	ui->confirm.follow_item = false;
	return UI_REDRAW;
}

/*
 * A command as the review shows it: each run of more than CONFIRM_HEX_MAX hex digits (a
 * bytecode, a quote, a key) shortened to its first and last digits, so that the commands
 * stay readable; an address (40 digits) or a 64-digit hash stays whole. Allocated.
 */
#define CONFIRM_HEX_MAX 64
#define CONFIRM_HEX_KEEP 10
static char *
confirm_elide(struct ui *ui, const char *s, bool *elided)
{
	struct strbuf sb = {0};

	while (*s != '\0') {
		size_t n = strspn(s, "0123456789abcdefABCDEF");

		if (n > CONFIRM_HEX_MAX) {
			sb_addf(&sb, "%.*s%s%.*s", CONFIRM_HEX_KEEP, s, ui->g->ellipsis,
			    CONFIRM_HEX_KEEP, s + n - CONFIRM_HEX_KEEP);
			*elided = true;
		} else if (n > 0)
			sb_add(&sb, s, n);
		s += n;
		/* The rest of a word that is not all hex, then what follows it. */
		n = strcspn(s, "0123456789abcdefABCDEF");
		if (n == 0 && *s != '\0')
			n = 1;
		sb_add(&sb, s, n);
		s += n;
	}
	return sb_detach(&sb);
}

/* Add numbered commands to a document. */
static void
confirm_commands(struct ui *ui, struct doc *d, size_t s, enum run_kind kind, bool *elided)
{
	struct run_cmd *cmds;
	size_t n;
	char *cause = NULL;

	if (engine_commands(ui->e, s, kind, &cmds, &n, &cause) != 0) {
		doc_wrap(d, S_ERROR, 2, cause ? cause : "cannot build the commands");
		free(cause);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char *shown = confirm_elide(ui, cmds[i].display, elided), *num, *line, *p;
		int hang;

		/* Every line of a script under the first, after the number. */
		num = xprintf("%zu. ", i + 1);
		hang = (int)strlen(num);
		for (p = shown, line = num; p != NULL; ) {
			char *nl = strchr(p, '\n');
			char *t = xprintf("%s%.*s", line, nl ? (int)(nl - p) : (int)strlen(p), p);

			doc_hang(d, S_CMD, line == num ? 2 : 2 + hang, hang, t);
			free(t);
			line = "";
			p = nl ? nl + 1 : NULL;
		}
		free(num);
		free(shown);
	}
	run_cmds_free(&cmds, n);
}

/* Add one warning. */
static void
confirm_warn(struct ui *ui, struct doc *d, const char *what)
{
	char *t = xprintf("%s %s", ui->g->warn, what);

	doc_hang(d, S_STALE, 2, 2, t);
	free(t);
}

/*
 * The review's text: the warnings first (what the step does that cannot be taken back),
 * then the checklist of a step done by hand, then the commands with their values filled in
 * (secrets as ****), then the check that decides whether it is done.
 */
static void
confirm_doc(struct ui *ui, struct doc *d)
{
	size_t s = ui->confirm.step;
	const struct step *st = &ui->c->steps[s];
	const struct ui_glyphs *g = ui->g;
	enum estimate_source src;
	bool elided = false, replace = ui->confirm.kind == RUN_REPLACE;
	long est;

	est = engine_estimate(ui->e, s, &src);
	doc_newline(d);
	doc_add(d, S_HEADING, st->title);
	if (st->effects != 0 || est > 0 || replace) {
		doc_newline(d);
		doc_newline(d);
		doc_add(d, S_HEADING, "Before it runs:");
	}
	if (replace) {
		char *other = engine_mismatch(ui->e, s);
		char *t = xprintf("it was %s: its action would keep what is deployed, so replacing "
		    "it removes that first", other != NULL ? other : "deployed before");

		confirm_warn(ui, d, t);
		free(t);
		free(other);
	}
	if (st->effects & EFFECT_REBOOT)
		confirm_warn(ui, d, "it reboots the server: the connection drops until it is back");
	if (st->effects & EFFECT_TRANSACTION)
		confirm_warn(ui, d, "it sends blockchain transactions: they spend gas from the wallet");
	if (st->effects & EFFECT_SUDO)
		confirm_warn(ui, d, "it runs commands as root (sudo)");
	if (est > 0) {
		char *words = engine_duration_words(est);
		char *t = xprintf("it takes about %s (%s; x cancels it)", words,
		    src == EST_HISTORY ? "as its earlier runs here did" : "typical on real hardware");

		confirm_warn(ui, d, t);
		free(t);
		free(words);
	} else if (st->effects & EFFECT_LONG)
		confirm_warn(ui, d, "it takes many minutes (x cancels it)");
	for (size_t k = 0; k < st->nchecklist; k++) {
		time_t at = engine_ticked(ui->e, s, k);
		char when[32], *t;
		size_t from = d->n;

		if (k == 0) {
			doc_newline(d);
			doc_newline(d);
			doc_add(d, S_HEADING, "Checklist");
			doc_add(d, S_DIM, "  (yours to do: space ticks the marked item; the check "
			    "decides)");
			from = d->n;
		}
		t = xprintf("%s [%s] %s%s%s%s", k == ui->confirm.item ? g->pointer : " ",
		    at ? "x" : " ", st->checklist[k], at ? "  (ticked " : "",
		    at ? fmt_time(at, when, sizeof when) : "", at ? ")" : "");
		doc_hang(d, k == ui->confirm.item ? S_HEADING : S_NORMAL, 1, 5, t);
		free(t);
		for (size_t i = from; i < d->n; i++)
			d->lines[i].tag = (int)k;
	}
	doc_newline(d);
	if (replace) {
		doc_newline(d);
		doc_add(d, S_HEADING, "It removes what is deployed:");
		confirm_commands(ui, d, s, RUN_REPLACE, &elided);
		doc_newline(d);
	}
	if (st->naction > 0) {
		doc_newline(d);
		doc_add(d, S_HEADING, replace ? "then deploys it again:" : "It runs, in order:");
		confirm_commands(ui, d, s, RUN_ACTION, &elided);
		doc_newline(d);
		doc_add(d, S_HEADING, "then its check:");
	} else {
		doc_newline(d);
		doc_add(d, S_HEADING, "Its check:");
	}
	confirm_commands(ui, d, s, RUN_CHECK, &elided);
	if (elided) {
		char *t = xprintf("Long hex values are shortened here (%s): the step's page shows "
		    "them whole.", ui->g->ellipsis);

		doc_newline(d);
		doc_wrap(d, S_DIM, 0, t);
		free(t);
	}
}

/* Draw the review: its text (scrollable), then the two buttons and the keys. */
void
confirm_draw(struct ui *ui)
{
	const struct step *st = &ui->c->steps[ui->confirm.step];
	int w = ui->cols - 8 > 100 ? 100 : ui->cols - 8, h, y, x, body, bx;
	bool run = ui->confirm.run_focus, replace = ui->confirm.kind == RUN_REPLACE;
	const char *verb = replace ? "Replace" : st->naction > 0 ? "Run" : "Check";
	struct doc d;
	char *title, *b1, *b2;

	doc_init(&d, w - 4);
	confirm_doc(ui, &d);
	h = (int)d.n + 5;
	if (h > ui->rows - 2)
		h = ui->rows - 2;
	body = h - 5;
	if (replace)
		title = xprintf("Replace what %s deployed?", st->id);
	else if (st->naction > 0)
		title = xprintf("Run the action of %s?", st->id);
	else
		title = xprintf("Done by hand? Check %s now?", st->id);
	centre_box(ui, h, w, title, &y, &x);
	free(title);
	ui->confirm.height = body;
	if (ui->confirm.follow_item) {
		/* The marked checklist item in view. */
		for (size_t i = 0; i < d.n; i++) {
			if (d.lines[i].tag != (int)ui->confirm.item)
				continue;
			if ((int)i < ui->confirm.scroll)
				ui->confirm.scroll = (int)i;
			if ((int)i >= ui->confirm.scroll + body)
				ui->confirm.scroll = (int)i - body + 1;
		}
		ui->confirm.follow_item = false;
	}
	ui->confirm.scroll = doc_clamp(&d, body, ui->confirm.scroll);
	doc_draw(ui, &d, y + 1, x + 2, body, w - 4, ui->confirm.scroll);
	doc_free(&d);
	b1 = xprintf("%s %s ", run ? ui->g->pointer : " ", verb);
	b2 = xprintf("%s Cancel ", run ? " " : ui->g->pointer);
	bx = x + 2;
	bx += draw_str(ui, y + h - 3, bx, w - 4, b1, run ? S_SELECTED : S_BAR) + 3;
	draw_str(ui, y + h - 3, bx, w - 4 - (bx - x - 2), b2, run ? S_BAR : S_SELECTED);
	free(b1);
	free(b2);
	draw_strf(ui, y + h - 2, x + 2, w - 4, S_DIM, "y %s  n/Esc cancel  Enter the marked "
	    "button  Tab switch  %s%s PgUp PgDn scroll", replace ? "replace" : st->naction > 0 ?
	    "run" : "check", st->nchecklist > 0 ? "space tick  " : "", ui->g->up_down);
}

/* Tick the marked checklist item, or untick it; saved at once, with the time. */
static unsigned
confirm_tick(struct ui *ui)
{
	size_t s = ui->confirm.step, k = ui->confirm.item;
	bool on = engine_ticked(ui->e, s, k) == 0;
	char *cause = NULL;

	if (engine_tick(ui->e, s, k, on, &cause) != 0) {
		ui_message(ui, S_ERROR, "not saved: %s", cause);
		free(cause);
	} else
		ui_message(ui, S_NORMAL, "%s: %s", on ? "ticked" : "unticked",
		    ui->c->steps[s].checklist[k]);
	ui->confirm.follow_item = true;
	return UI_REDRAW;
}

/* Keys of the review. */
unsigned
confirm_key(struct ui *ui, struct ui_key k)
{
	size_t s = ui->confirm.step;
	const struct step *st = &ui->c->steps[s];
	int page = ui->confirm.height > 2 ? ui->confirm.height - 1 : 1;
	bool enter = KEY_IS(k, '\r') || KEY_IS(k, '\n') || KEY_FN(k, KEY_ENTER);
	bool replace = ui->confirm.kind == RUN_REPLACE;

	if (KEY_IS(k, 'y') || KEY_IS(k, 'Y') || (enter && ui->confirm.run_focus)) {
		size_t ticked = 0;
		unsigned r;

		for (size_t i = 0; i < st->nchecklist; i++)
			ticked += engine_ticked(ui->e, s, i) != 0;
		ui->modal = MODAL_NONE;
		ui->screen = SCREEN_STEP;
		ui_select(ui, s);
		r = ui_start_run(ui, s, ui->confirm.kind);
		/* The run ticks nothing: say how much of the list is ticked, unless it failed to
		 * start (and said why). */
		if (st->nchecklist > 0 && ticked < st->nchecklist && ui_running(ui, s))
			ui_message(ui, S_NORMAL, "%s: %zu of %zu checklist items ticked; its check "
			    "decides whether it is done", st->id, ticked, st->nchecklist);
		return r;
	}
	if (enter || KEY_IS(k, 'n') || KEY_IS(k, 'N') || KEY_IS(k, '\033') || KEY_IS(k, 'q')) {
		ui->modal = MODAL_NONE;
		ui_message(ui, S_NORMAL, "%s: not %s", ui->c->steps[s].id, replace ? "replaced" :
		    "run");
		return UI_REDRAW;
	}
	if (KEY_IS(k, '\t') || KEY_FN(k, KEY_BTAB) || KEY_FN(k, KEY_LEFT) ||
	    KEY_FN(k, KEY_RIGHT) || KEY_IS(k, 'h') || KEY_IS(k, 'l'))
		ui->confirm.run_focus = !ui->confirm.run_focus;
	else if (st->nchecklist > 0 && KEY_IS(k, ' '))
		return confirm_tick(ui);
	else if ((KEY_FN(k, KEY_UP) || KEY_IS(k, 'k') || KEY_IS(k, KEY_CTRL('p'))) &&
	    ui->confirm.item > 0) {
		ui->confirm.item--;
		ui->confirm.follow_item = true;
	} else if ((KEY_FN(k, KEY_DOWN) || KEY_IS(k, 'j') || KEY_IS(k, KEY_CTRL('n'))) &&
	    ui->confirm.item + 1 < st->nchecklist) {
		ui->confirm.item++;
		ui->confirm.follow_item = true;
	} else if (KEY_FN(k, KEY_UP) || KEY_IS(k, 'k') || KEY_IS(k, KEY_CTRL('p')))
		ui->confirm.scroll--;
	else if (KEY_FN(k, KEY_DOWN) || KEY_IS(k, 'j') || KEY_IS(k, KEY_CTRL('n')))
		ui->confirm.scroll++;
	else if (KEY_FN(k, KEY_PPAGE) || KEY_IS(k, KEY_CTRL('b')))
		ui->confirm.scroll -= page;
	else if (KEY_FN(k, KEY_NPAGE) || KEY_IS(k, KEY_CTRL('f')) || KEY_IS(k, ' '))
		ui->confirm.scroll += page;
	else
		return 0;
	return UI_REDRAW;
}

/* Refuse a locked step: list what is missing. */
unsigned
refusal_open(struct ui *ui, size_t s, const char *title)
{
	if (ui->modal == MODAL_REFUSAL)
		refusal_close(ui);
	ui->refusal.nb = engine_blockers(ui->e, s, &ui->refusal.b);
	if (ui->refusal.nb == 0) {
		blockers_free(&ui->refusal.b, 0);
		return 0;
	}
	ui->refusal.step = s;
	ui->refusal.title = title ? xstrdup(title) : xprintf("%s cannot run yet",
	    ui->c->steps[s].id);
	ui->modal = MODAL_REFUSAL;
	ui_message(ui, S_ERROR, "%s: %s", ui->refusal.title, ui->refusal.b[0].why);
	return UI_REDRAW;
}

/* Close the refusal. */
void
refusal_close(struct ui *ui)
{
	blockers_free(&ui->refusal.b, ui->refusal.nb);
	ui->refusal.nb = 0;
	freep(&ui->refusal.title);
	if (ui->modal == MODAL_REFUSAL)
		ui->modal = MODAL_NONE;
}

/* The blocker Enter goes to: no server comes first (setting it may give server_ip its
 * value), else the first one. */
static const struct blocker *
refusal_first(const struct ui *ui)
{
	for (size_t i = 0; i < ui->refusal.nb; i++)
		if (ui->refusal.b[i].kind == BLOCK_TARGET)
			return &ui->refusal.b[i];
	return &ui->refusal.b[0];
}

/* What Enter does in the refusal. */
static char *
refusal_offer(struct ui *ui)
{
	const struct blocker *b = refusal_first(ui);

	switch (b->kind) {
	case BLOCK_STEP:
		return xprintf("Enter: go to %s, the first thing missing     Esc: close",
		    ui->c->steps[b->index].id);
	case BLOCK_INPUT:
		return xprintf("Enter: edit the input %s     Esc: close", ui->c->inputs[b->index].name);
	case BLOCK_TARGET:
		break;
	}
	return xstrdup("Enter: set the server (the server screen)     Esc: close");
}

/* Draw the refusal. */
void
refusal_draw(struct ui *ui)
{
	int w = ui->cols - 8 > 90 ? 90 : ui->cols - 8, h, y, x;
	struct doc d;
	char *offer;

	doc_init(&d, w - 4);
	doc_newline(&d);
	doc_add(&d, S_NORMAL, "What is missing:");
	for (size_t i = 0; i < ui->refusal.nb; i++) {
		char *t = xprintf("%s %s", ui->g->bullet, ui->refusal.b[i].why);

		doc_hang(&d, S_ERROR, 2, 2, t);
		free(t);
	}
	offer = refusal_offer(ui);
	doc_newline(&d);
	doc_wrap(&d, S_HEADING, 0, offer);
	free(offer);
	h = (int)d.n + 2;
	centre_box(ui, h, w, ui->refusal.title, &y, &x);
	doc_draw(ui, &d, y + 1, x + 2, h - 2, w - 4, 0);
	doc_free(&d);
}

/* Keys of the refusal: Enter goes to the first blocker. */
unsigned
refusal_key(struct ui *ui, struct ui_key k)
{
	if (KEY_IS(k, '\r') || KEY_IS(k, '\n') || KEY_FN(k, KEY_ENTER)) {
		struct blocker b = *refusal_first(ui);
		size_t step = ui->refusal.step;

		refusal_close(ui);
		freep(&ui->msg);
		switch (b.kind) {
		case BLOCK_STEP:
			ui->pane = 0;
			return ui_open_step(ui, b.index);
		case BLOCK_INPUT:
			ui_select(ui, step);
			return form_open(ui, step, b.index, false, RUN_CHECK);
		case BLOCK_TARGET:
			ui_select(ui, step);
			return server_open(ui);
		}
		return UI_REDRAW;
	}
	if (KEY_IS(k, '\033') || KEY_IS(k, 'q') || KEY_IS(k, 'n') || KEY_IS(k, ' ')) {
		refusal_close(ui);
		return UI_REDRAW;
	}
	return 0;
}

/* Open a one-line prompt on the message line. */
unsigned
prompt_open(struct ui *ui, enum ui_prompt kind)
{
	ui->modal = MODAL_PROMPT;
	ui->prompt.kind = kind;
	ui->prompt.len = 0;
	ui->prompt.buf[0] = '\0';
	if (kind == PROMPT_SAVE) {
		char *name = logview_save_name(ui);

		snprintf(ui->prompt.buf, sizeof ui->prompt.buf, "%s", name);
		ui->prompt.len = strlen(ui->prompt.buf);
		free(name);
	}
	return UI_REDRAW;
}

/* The steps whose id starts with (else contains) the prompt's text; the best first. */
static int
goto_find(struct ui *ui, const char *text)
{
	int idx = chain_step_index(ui->c, text);

	if (idx >= 0 || *text == '\0')
		return idx;
	for (size_t i = 0; i < ui->c->nsteps; i++)
		if (str_has_prefix(ui->c->steps[i].id, text))
			return (int)i;
	for (size_t i = 0; i < ui->c->nsteps; i++)
		if (strstr(ui->c->steps[i].id, text) != NULL)
			return (int)i;
	return -1;
}

/* Draw the prompt on the message line, with what Enter would pick. */
void
prompt_draw(struct ui *ui)
{
	int y = ui->rows - 2, x;
	static const char *const labels[] = { "Go to step: ", "Search newer lines: /",
		"Search older lines: ?", "Save the log to: " };
	const char *label = labels[ui->prompt.kind];

	draw_fill(ui, y, 0, ui->cols, S_NORMAL);
	x = 1 + draw_str(ui, y, 1, ui->cols - 2, label, S_HEADING);
	x += draw_str(ui, y, x, ui->cols - x - 1, ui->prompt.buf, S_NORMAL);
	if (ui->prompt.kind == PROMPT_GOTO && ui->prompt.len > 0) {
		int idx = goto_find(ui, ui->prompt.buf);

		draw_strf(ui, y, x + 2, ui->cols - x - 3, idx >= 0 ? S_DIM : S_ERROR, "%s",
		    idx >= 0 ? ui->c->steps[idx].id : "no such step");
	}
	move(y, x);
}

/* Keys of the prompt. */
unsigned
prompt_key(struct ui *ui, struct ui_key k)
{
	if (KEY_IS(k, '\033')) {
		ui->modal = MODAL_NONE;
		return UI_REDRAW;
	}
	if (KEY_IS(k, '\r') || KEY_IS(k, '\n') || KEY_FN(k, KEY_ENTER)) {
		ui->modal = MODAL_NONE;
		if (ui->prompt.kind == PROMPT_SEARCH || ui->prompt.kind == PROMPT_SEARCH_BACK)
			return logview_search(ui, ui->prompt.buf,
			    ui->prompt.kind == PROMPT_SEARCH_BACK);
		if (ui->prompt.kind == PROMPT_SAVE)
			return logview_save(ui, ui->prompt.buf);
		if (ui->prompt.len > 0) {
			int idx = goto_find(ui, ui->prompt.buf);

			if (idx < 0) {
				ui_message(ui, S_ERROR, "no step matches '%s'", ui->prompt.buf);
				return UI_REDRAW;
			}
			if (ui->screen == SCREEN_STEP)
				return ui_open_step(ui, (size_t)idx);
			ui_select(ui, (size_t)idx);
		}
		return UI_REDRAW;
	}
	if (KEY_FN(k, KEY_BACKSPACE) || KEY_IS(k, 0x7f) || KEY_IS(k, KEY_CTRL('h'))) {
		while (ui->prompt.len > 0 &&
		    ((unsigned char)ui->prompt.buf[--ui->prompt.len] & 0xc0) == 0x80)
			;
		ui->prompt.buf[ui->prompt.len] = '\0';
		return UI_REDRAW;
	}
	if (KEY_IS(k, KEY_CTRL('u'))) {
		ui->prompt.len = 0;
		ui->prompt.buf[0] = '\0';
		return UI_REDRAW;
	}
	if (!k.fn && k.c >= 0x20 && k.c != 0x7f) {
		char mb[MB_LEN_MAX];
		mbstate_t ps;
		size_t n;

		memset(&ps, 0, sizeof ps);
		n = wcrtomb(mb, (wchar_t)k.c, &ps);
		if (n != (size_t)-1 && ui->prompt.len + n < sizeof ui->prompt.buf) {
			memcpy(ui->prompt.buf + ui->prompt.len, mb, n);
			ui->prompt.len += n;
			ui->prompt.buf[ui->prompt.len] = '\0';
		}
		return UI_REDRAW;
	}
	return 0;
}

/* The question before quitting while a step runs. */
void
quit_draw(struct ui *ui)
{
	struct strbuf sb = {0};
	int y, x, w = 64;

	for (size_t s = 0; s < ui->c->nsteps; s++)
		if (ui_running(ui, s) && !ui->steps[s].recheck)
			sb_addf(&sb, "%s%s (%s)", sb.len ? ", " : "", ui->c->steps[s].id,
			    engine_status(ui->e, s) == ST_CHECKING ? "check" : "action");
	centre_box(ui, 6, w, "Quit?", &y, &x);
	draw_strf(ui, y + 1, x + 2, w - 4, S_NORMAL, "Running: %s", sb_str(&sb));
	draw_str(ui, y + 2, x + 2, w - 4, "Cancel it and quit?", S_NORMAL);
	draw_str(ui, y + 4, x + 2, w - 4, "y: cancel and quit     n or Esc: keep it running",
	    S_HEADING);
	sb_free(&sb);
}

/* Keys of the quit question. */
unsigned
quit_key(struct ui *ui, struct ui_key k)
{
	if (KEY_IS(k, 'y') || KEY_IS(k, 'Y')) {
		ui->modal = MODAL_NONE;
		return ui_quit_now(ui, false);
	}
	if (KEY_IS(k, 'n') || KEY_IS(k, 'N') || KEY_IS(k, '\033') || KEY_IS(k, 'q')) {
		ui->modal = MODAL_NONE;
		return UI_REDRAW;
	}
	return 0;
}

/* The screen is below 80x24: say so, and keep working (q quits, x cancels). */
void
toosmall_draw(struct ui *ui)
{
	char *l1 = xprintf("Terminal too small: %dx%d", ui->cols, ui->rows);
	const char *l2 = "dstack-wizard needs at least 80x24.";
	const char *l3 = "Make the window larger, or press q to quit.";
	int y = ui->rows / 2 - 1;

	if (y < 0)
		y = 0;
	draw_str(ui, y, 0, ui->cols, l1, S_HEADING);
	draw_str(ui, y + 1, 0, ui->cols, l2, S_NORMAL);
	draw_str(ui, y + 2, 0, ui->cols, l3, S_NORMAL);
	if (ui->msg != NULL && y + 4 < ui->rows)
		draw_str(ui, y + 4, 0, ui->cols, ui->msg, ui->msg_style);
	free(l1);
}

/* Close the open modal if it holds memory (the form, the refusal, an SSH question). */
void
modal_close(struct ui *ui)
{
	if (ui->modal == MODAL_FORM)
		form_close(ui);
	if (ui->modal == MODAL_REFUSAL)
		refusal_close(ui);
	if (ui->modal == MODAL_SSH)
		ssh_dialog_close(ui);
}

/* Show an SSH question, closing what it replaces. */
static void
ssh_dialog_open(struct ui *ui, struct ssh_conn *c, bool passphrase, char *what,
    unsigned attempt)
{
	modal_close(ui);
	ui->modal = MODAL_SSH;
	ui->ssh.conn = c;
	ui->ssh.passphrase = passphrase;
	ui->ssh.what = what;
	ui->ssh.attempt = attempt;
	ui->ssh.len = 0;
	ui->dirty |= UI_REDRAW;
}

/* The server's host key is unknown: ask whether to trust it. */
void
ssh_dialog_hostkey(void *data, struct ssh_conn *c, const struct ssh_hostkey *key)
{
	ssh_dialog_open(data, c, false, xprintf("%s\n%s %s\n%s", key->host, key->type,
	    key->fingerprint, key->known_hosts), 0);
}

/* A key file is encrypted: ask for its passphrase (masked). */
void
ssh_dialog_passphrase(void *data, struct ssh_conn *c, const char *key_file, unsigned attempt)
{
	ssh_dialog_open(data, c, true, xstrdup(key_file), attempt);
}

/* Forget the question (and wipe what was typed). */
void
ssh_dialog_close(struct ui *ui)
{
	explicit_bzero(ui->ssh.buf, sizeof ui->ssh.buf);
	ui->ssh.len = 0;
	free(ui->ssh.what);
	ui->ssh.what = NULL;
	ui->ssh.conn = NULL;
	ui->modal = MODAL_NONE;
}

/* Draw the host-key question or the passphrase prompt. */
void
ssh_dialog_draw(struct ui *ui)
{
	int y, x, w = ui->cols - 8 > 76 ? 76 : ui->cols - 8;

	if (ui->ssh.passphrase) {
		centre_box(ui, 6, w, "SSH key passphrase", &y, &x);
		draw_strf(ui, y + 1, x + 2, w - 4, S_NORMAL, "%s %s", ui->ssh.attempt > 1 ?
		    "Wrong passphrase. Passphrase for" : "Passphrase for", ui->ssh.what);
		draw_str(ui, y + 4, x + 2, w - 4, "Enter: use it     Esc: skip this key", S_HEADING);
		draw_fill(ui, y + 2, x + 2, w - 4, S_FIELD);
		for (size_t i = 0; i < ui->ssh.len && (int)i < w - 5; i++)
			mvaddch(y + 2, x + 2 + (int)i, '*' | ui_attr(ui, S_FIELD));
		move(y + 2, x + 2 + (int)(ui->ssh.len < (size_t)(w - 5) ? ui->ssh.len : 0));
		return;
	} else {
		const char *host = ui->ssh.what, *l2 = strchr(host, '\n'), *l3 = strchr(l2 + 1, '\n');

		centre_box(ui, 9, w, "Unknown host key", &y, &x);
		draw_strf(ui, y + 1, x + 2, w - 4, S_NORMAL, "The host key of %.*s is not known:",
		    (int)(l2 - host), host);
		draw_strf(ui, y + 2, x + 4, w - 6, S_HEADING, "%.*s", (int)(l3 - l2 - 1), l2 + 1);
		draw_str(ui, y + 3, x + 2, w - 4, "Compare it with ssh-keygen -lf "
		    "/etc/ssh/ssh_host_*_key.pub on the server.", S_DIM);
		draw_strf(ui, y + 4, x + 2, w - 4, S_NORMAL, "Trust this host? (adds it to %s)",
		    l3 + 1);
		draw_str(ui, y + 7, x + 2, w - 4, "y: trust it     n or Esc: refuse", S_HEADING);
	}
}

/* Keys of the SSH questions. */
unsigned
ssh_dialog_key(struct ui *ui, struct ui_key k)
{
	struct ssh_conn *c = ui->ssh.conn;

	if (!ui->ssh.passphrase) {
		if (KEY_IS(k, 'y') || KEY_IS(k, 'Y')) {
			ssh_dialog_close(ui);
			ssh_conn_answer_hostkey(c, true);
			return UI_REDRAW;
		}
		if (KEY_IS(k, 'n') || KEY_IS(k, 'N') || KEY_IS(k, '\033')) {
			ssh_dialog_close(ui);
			ssh_conn_answer_hostkey(c, false);
			ui_message(ui, S_ERROR, "host key refused: the server's commands cannot run");
			return UI_REDRAW;
		}
		return 0;
	}
	if (KEY_IS(k, '\033')) {
		ssh_dialog_close(ui);
		ssh_conn_answer_passphrase(c, NULL);
		return UI_REDRAW;
	}
	if (KEY_IS(k, '\r') || KEY_IS(k, '\n') || KEY_FN(k, KEY_ENTER)) {
		ui->ssh.buf[ui->ssh.len] = '\0';
		ssh_conn_answer_passphrase(c, ui->ssh.buf);
		ssh_dialog_close(ui);
		return UI_REDRAW;
	}
	if (KEY_FN(k, KEY_BACKSPACE) || KEY_IS(k, 0x7f) || KEY_IS(k, KEY_CTRL('h'))) {
		if (ui->ssh.len > 0)
			ui->ssh.buf[--ui->ssh.len] = '\0';
		return UI_REDRAW;
	}
	if (!k.fn && k.c >= 0x20 && k.c < 0x7f && ui->ssh.len + 1 < sizeof ui->ssh.buf) {
		ui->ssh.buf[ui->ssh.len++] = (char)k.c;
		return UI_REDRAW;
	}
	return 0;
}
