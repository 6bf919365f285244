/*
 * tui.c: the wizard's core. It owns
 *   - the terminal: set up with newterm, and restored on every way out (the normal end, an
 *     atexit handler, and SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGABRT handlers that call endwin and
 *     hand the signal on);
 *   - the one event loop, which is the engine's: stdin (keys read with wget_wch until ERR),
 *     SIGWINCH, and SIGTERM/SIGHUP/SIGINT (cancel the runs, then leave);
 *   - key dispatch: help, then the open dialog, then the current screen;
 *   - runs and re-checks (run.c);
 *   - the profile shared with other processes: a second wizard on a profile may look
 *     read-only; a change another process saves is read and shown at once;
 *   - frame pacing: handlers return UI_* bits; one draw per loop turn, and while output
 *     streams at most one every UI_FRAME_MS (a timer catches the last lines).
 */
#include "config.h"

#include "tui.h"

#include <errno.h>
#include <langinfo.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "logbuf.h"
#include "loop.h"
#include "remote.h"
#include "ui.h"
#include "util.h"

static bool tui_active;                 /* curses owns the terminal */
static SCREEN *tui_screen;
static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
static struct sigaction fatal_old[nitems(fatal_signals)];

/* Give the terminal back (idempotent). */
static void
tui_restore(void)
{
	if (tui_active) {
		tui_active = false;
		if (!isendwin())
			endwin();
	}
}

/* A fatal signal: restore the terminal, then let the previous handler (or the default) act. */
static void
tui_fatal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	tui_restore();
	for (size_t i = 0; i < nitems(fatal_signals); i++)
		if (fatal_signals[i] == sig)
			sigaction(sig, &fatal_old[i], NULL);
	/* A real fault happens again on return, under the old handler; a sent one is re-sent. */
	if (sig == SIGABRT || si == NULL || si->si_code <= 0)
		raise(sig);
}

/* Install the terminal-restoring handlers (once per process). */
static void
tui_guard(void)
{
	static bool done;
	struct sigaction sa;

	if (done)
		return;
	done = true;
	atexit(tui_restore);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = tui_fatal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < nitems(fatal_signals); i++)
		sigaction(fatal_signals[i], &sa, &fatal_old[i]);
}

/* Is the codeset something other than UTF-8? */
bool
tui_need_ascii(void)
{
	const char *cs = nl_langinfo(CODESET);

	return cs == NULL || (strcmp(cs, "UTF-8") != 0 && strcmp(cs, "utf8") != 0);
}

/* Set the message line. */
void
ui_message(struct ui *ui, enum ui_style st, const char *fmt, ...)
{
	va_list ap;

	free(ui->msg);
	va_start(ap, fmt);
	ui->msg = xvprintf(fmt, ap);
	va_end(ap);
	ui->msg_style = st;
}

/* Is a step's check or action running? */
bool
ui_running(const struct ui *ui, size_t s)
{
	enum step_status st = engine_status(ui->e, s);

	return st == ST_RUNNING || st == ST_CHECKING;
}

/* One line about a step's history: "done 2026-11-24 10:02", the failure, or drift. */
const char *
ui_step_note(struct ui *ui, size_t s, char *buf, size_t len)
{
	const struct state_step *ss = engine_step_state(ui->e, s);
	enum step_status st = engine_status(ui->e, s);
	char t[32];

	buf[0] = '\0';
	if (ui->steps[s].drift && st == ST_FAILED)
		snprintf(buf, len, "done on %s, check fails now",
		    fmt_time(ui->steps[s].drift_done_at, t, sizeof t));
	else if (st == ST_DONE && ss != NULL && ss->done_at != 0)
		snprintf(buf, len, "done %s", fmt_time(ss->done_at, t, sizeof t));
	else if (ss != NULL && ss->message != NULL && (st == ST_FAILED || st == ST_STALE ||
	    (st == ST_CANCELED && strcmp(ss->message, "canceled") != 0)))
		snprintf(buf, len, "%s", ss->message);
	return buf;
}

/*
 * Add a step's time to d: how long its run has been going (and the estimate), or, before it
 * runs, how long it is expected to take and where that figure comes from.
 */
static void
ui_doc_time(struct ui *ui, struct doc *d, size_t s)
{
	enum estimate_source src;
	long est = engine_estimate(ui->e, s, &src), el = engine_elapsed_ms(ui->e, s);
	char *words = src != EST_NONE ? engine_duration_words(est) : NULL, *t;
	bool act;

	if (el >= 0) {
		el /= 1000;
		act = ui->steps[s].kind == RUN_ACTION && words != NULL;
		t = xprintf("time: %ld:%02ld%s%s", el / 60, el % 60, act ? " of about " : "",
		    act ? words : "");
	} else if (words != NULL && engine_status(ui->e, s) != ST_DONE)
		t = xprintf("takes about %s (%s)", words, src == EST_HISTORY ?
		    "from this profile's earlier runs" : "typical on real hardware");
	else
		t = NULL;
	if (t != NULL) {
		doc_newline(d);
		doc_add(d, S_DIM, t);
	}
	free(t);
	free(words);
}

/*
 * Add a step's status to d: its mark and name, then (after sep) its note, and the command
 * running now. Shared by the overview's detail pane and the step screen.
 */
void
ui_doc_status(struct ui *ui, struct doc *d, size_t s, const char *sep)
{
	enum step_status status = engine_status(ui->e, s);
	struct ui_step *us = &ui->steps[s];
	char note[1024];

	doc_add(d, style_of_status(status), ui->g->mark[status]);
	doc_add(d, S_NORMAL, " ");
	doc_add(d, style_of_status(status), step_status_name(status));
	if (*ui_step_note(ui, s, note, sizeof note) != '\0') {
		doc_add(d, S_NORMAL, sep);
		doc_add_or_wrap(d, status == ST_FAILED ? S_ERROR : S_NORMAL, 2, note);
	}
	if (ui_running(ui, s) && us->cmd != NULL) {
		char *t = xprintf("running: %s", us->cmd);

		doc_wrap(d, S_CMD, 2, t);
		free(t);
	}
	ui_doc_time(ui, d, s);
}

/*
 * Leave once the runs are over: cancel the operator's runs; let a start-up re-check finish
 * (cancelling it would record a done step as failed) unless forced.
 */
unsigned
ui_quit_now(struct ui *ui, bool force)
{
	bool waiting = false;

	ui->quitting = true;
	ui->recheck_pos = ui->nrechecks;
	ui->rechecking = false;
	if (ui->recheck_timer != 0) {
		loop_del_timer(ui->loop, ui->recheck_timer);
		ui->recheck_timer = 0;
	}
	for (size_t s = 0; s < ui->c->nsteps; s++) {
		if (!ui_running(ui, s))
			continue;
		if (force || !ui->steps[s].recheck)
			engine_cancel(ui->e, s);
		else
			waiting = true;
	}
	if (!engine_busy(ui->e))
		return UI_QUIT;
	if (waiting)
		ui_message(ui, S_NORMAL, "finishing a re-check; the wizard quits when it ends "
		    "(q again quits at once)");
	else
		ui_message(ui, S_NORMAL, "canceling the running steps; the wizard quits when they "
		    "stop");
	return UI_REDRAW;
}

/* q: leave, asking first when a step the operator started is running; q again forces. */
unsigned
ui_quit(struct ui *ui)
{
	for (size_t s = 0; s < ui->c->nsteps; s++)
		if (ui_running(ui, s) && !ui->steps[s].recheck) {
			ui->modal = MODAL_QUIT;
			return UI_REDRAW;
		}
	return ui_quit_now(ui, ui->quitting);
}

/* Select a step (the overview's cursor and the step screen's subject). */
void
ui_select(struct ui *ui, size_t s)
{
	if (s >= ui->c->nsteps)
		return;
	if (s != ui->sel || ui->log.step != s) {
		ui->sel = s;
		ui->info_scroll = 0;
		ui->detail_scroll = 0;
		logview_show(ui, s);
		notes_follow_write(ui);
	}
	ui->pending_g = false;
}

/* Open the step screen on a step. */
unsigned
ui_open_step(struct ui *ui, size_t s)
{
	ui_select(ui, s);
	ui->screen = SCREEN_STEP;
	return UI_REDRAW;
}

/* n: go on to the next step, unless it is locked (then say why, and offer the blocker). */
unsigned
ui_next(struct ui *ui)
{
	size_t next = ui->sel + 1, nb;
	struct blocker *b;

	if (next >= ui->c->nsteps)
		return ui_open_finish(ui);
	nb = engine_blockers(ui->e, next, &b);
	blockers_free(&b, nb);
	if (nb > 0 && engine_status(ui->e, next) != ST_DONE) {
		char *title = xprintf("Cannot go on to %s yet", ui->c->steps[next].id);
		unsigned r = refusal_open(ui, next, title);

		free(title);
		return r;
	}
	if (ui->screen == SCREEN_STEP)
		return ui_open_step(ui, next);
	ui_select(ui, next);
	return UI_REDRAW;
}

/* p: the previous step. */
unsigned
ui_prev(struct ui *ui)
{
	if (ui->sel == 0) {
		ui_message(ui, S_NORMAL, "%s is the first step", ui->c->steps[0].id);
		return UI_REDRAW;
	}
	ui_select(ui, ui->sel - 1);
	return UI_REDRAW;
}

/* Keys that mean the same on every screen. */
unsigned
ui_common_key(struct ui *ui, struct ui_key k)
{
	if (k.fn)
		return 0;
	switch (k.c) {
	case 'c':
		return ui_request_run(ui, ui->sel, RUN_CHECK);
	case 'r':
		return ui_request_run(ui, ui->sel, RUN_ACTION);
	case 'R':
		return ui_run_rest(ui);
	case 'F':
		return ui_open_finish(ui);
	case 'x':
		return ui_cancel(ui);
	case 'e':
		return form_open(ui, ui->sel, SIZE_MAX, false, RUN_CHECK);
	case 'n':
		return ui_next(ui);
	case 'p':
		return ui_prev(ui);
	case 'g':
		return prompt_open(ui, PROMPT_GOTO);
	case 'l':
		if (ui->screen == SCREEN_OVERVIEW) {
			ui->log.full = true;
			return ui_open_step(ui, ui->sel);
		}
		ui->log.full = !ui->log.full;
		return UI_REDRAW;
	case '?':
		ui->help = true;
		ui->help_scroll = 0;
		return UI_REDRAW;
	case 'q':
		return ui_quit(ui);
	case 'D':
		return demo_menu_open(ui);
	}
	return 0;
}

/* One key, to whoever has it: help, the open dialog, then the screen. */
static unsigned
dispatch_key(struct ui *ui, struct ui_key k)
{
	if (KEY_FN(k, KEY_RESIZE))
		return UI_RELAYOUT;
	if (KEY_IS(k, KEY_CTRL('l'))) {
		clearok(curscr, TRUE);
		return UI_REDRAW;
	}
	if (ui->rows < UI_MIN_ROWS || ui->cols < UI_MIN_COLS) {
		if (ui->modal == MODAL_QUIT)
			return quit_key(ui, k);
		if (KEY_IS(k, 'q') || KEY_IS(k, KEY_CTRL('c')))
			return ui_quit(ui);
		if (KEY_IS(k, 'x'))
			return ui_cancel(ui);
		return 0;
	}
	if (ui->help)
		return help_key(ui, k);
	if (KEY_FN(k, KEY_F(1))) {
		ui->help = true;
		ui->help_scroll = 0;
		return UI_REDRAW;
	}
	switch (ui->modal) {
	case MODAL_FORM:
		return form_key(ui, k);
	case MODAL_CONFIRM:
		return confirm_key(ui, k);
	case MODAL_REFUSAL:
		return refusal_key(ui, k);
	case MODAL_PROMPT:
		return prompt_key(ui, k);
	case MODAL_QUIT:
		return quit_key(ui, k);
	case MODAL_SSH:
		return ssh_dialog_key(ui, k);
	case MODAL_DEMO:
		return demo_menu_key(ui, k);
	case MODAL_NONE:
		break;
	}
	if (KEY_IS(k, KEY_CTRL('c')))
		return ui_quit(ui);
	if (ui->screen == SCREEN_OVERVIEW)
		return overview_key(ui, k);
	if (ui->screen == SCREEN_SERVER)
		return server_key(ui, k);
	if (ui->screen == SCREEN_FINISH)
		return finish_key(ui, k);
	return step_key(ui, k);
}

/* Read every key waiting. */
static void
read_keys(struct ui *ui)
{
	wint_t wc;
	int r;

	while (!(ui->dirty & UI_QUIT) && (r = wget_wch(stdscr, &wc)) != ERR) {
		struct ui_key k = { wc, r == KEY_CODE_YES };

		ui->dirty |= dispatch_key(ui, k);
	}
}

/* stdin is readable (or gone). */
static void
on_stdin(int fd, short revents, void *data)
{
	struct ui *ui = data;

	read_keys(ui);
	if (revents & (POLLHUP | POLLERR | POLLNVAL)) {
		loop_del_fd(ui->loop, fd);
		ui->dirty |= ui_quit_now(ui, true);
	}
}

/* The terminal changed size. */
static void
on_winch(int sig, void *data)
{
	struct ui *ui = data;
	struct winsize ws;

	(void)sig;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
		resize_term(ws.ws_row, ws.ws_col);
	ui->dirty |= UI_RELAYOUT;
	read_keys(ui);
}

/*
 * SIGINT: cancel the runs and leave. SIGTERM, SIGHUP (the terminal is gone, or the system
 * stops): give the terminal back and leave at once; a supervised server action goes on and
 * is recorded, and the next run of its step attaches to it (engine_interrupt).
 */
static void
on_term(int sig, void *data)
{
	struct ui *ui = data;

	if (sig == SIGINT) {
		ui->dirty |= ui_quit_now(ui, true);
		return;
	}
	tui_restore();
	engine_interrupt(ui->e, sig);
	_exit(128 + sig);
}

/* Another process changed the state (it is read again): show what it holds now, and the
 * last log of a step that did not run here (it may have run there). */
static void
on_change(void *data)
{
	struct ui *ui = data;

	for (size_t s = 0; s < ui->c->nsteps; s++) {
		struct ui_step *us = &ui->steps[s];

		if (us->ran || !us->file_tried)
			continue;
		ui_forget_run(us);
		logbuf_free(&us->file_log);
		us->file_tried = false;
		if (ui->log.step == s)
			logview_show(ui, s);
	}
	if (ui->modal == MODAL_FORM)
		form_refresh(ui);
	ui->dirty |= UI_REDRAW;
}

/*
 * A contract verification ended: the gates may have changed. An open refusal is told again
 * (a check that was running has its verdict now), or closed when nothing blocks any more.
 */
static void
on_verdict(void *data)
{
	struct ui *ui = data;

	if (ui->modal == MODAL_REFUSAL) {
		size_t s = ui->refusal.step;
		char *title = xstrdup(ui->refusal.title);

		if (refusal_open(ui, s, title) == 0)
			ui_message(ui, S_OK, "%s can run now: nothing blocks it any more",
			    ui->c->steps[s].id);
		free(title);
	}
	ui->dirty |= UI_REDRAW;
}

/* A frame is due. */
static void
on_draw_timer(void *data)
{
	struct ui *ui = data;

	ui->draw_timer = 0;
}

/* Draw the whole screen once. */
static void
ui_draw(struct ui *ui)
{
	bool cursor = false;

	erase();
	if (ui->rows < UI_MIN_ROWS || ui->cols < UI_MIN_COLS) {
		toosmall_draw(ui);
		if (ui->modal == MODAL_QUIT)
			quit_draw(ui);
	} else {
		if (ui->screen == SCREEN_OVERVIEW)
			overview_draw(ui);
		else if (ui->screen == SCREEN_SERVER)
			server_draw(ui);
		else if (ui->screen == SCREEN_FINISH)
			finish_draw(ui);
		else
			step_draw(ui);
		demo_banner_draw(ui);
		notes_draw(ui);
		switch (ui->modal) {
		case MODAL_FORM:
			form_draw(ui);
			cursor = !ui->help;
			break;
		case MODAL_CONFIRM:
			confirm_draw(ui);
			break;
		case MODAL_REFUSAL:
			refusal_draw(ui);
			break;
		case MODAL_PROMPT:
			prompt_draw(ui);
			cursor = !ui->help;
			break;
		case MODAL_QUIT:
			quit_draw(ui);
			break;
		case MODAL_SSH:
			ssh_dialog_draw(ui);
			cursor = ui->ssh.passphrase && !ui->help;
			break;
		case MODAL_DEMO:
			demo_menu_draw(ui);
			break;
		case MODAL_NONE:
			break;
		}
		if (ui->help)
			help_draw(ui);
	}
	if (cursor) {
		/* The dialog left the cursor where typing goes. */
		int y, x;

		getyx(stdscr, y, x);
		curs_set(1);
		move(y, x);
	} else
		curs_set(0);
	wnoutrefresh(stdscr);
	doupdate();
	ui->last_draw = now_ms();
	ui->dirty &= ~(unsigned)(UI_REDRAW | UI_RELAYOUT | UI_LOG);
	if (ui->draw_timer != 0) {
		loop_del_timer(ui->loop, ui->draw_timer);
		ui->draw_timer = 0;
	}
}

/* Draw what changed: now for keys and events, paced for log output. */
static void
ui_flush(struct ui *ui)
{
	if (ui->dirty & UI_RELAYOUT) {
		getmaxyx(stdscr, ui->rows, ui->cols);
		notes_layout(ui);
		clearok(curscr, TRUE);
	}
	if (ui->dirty & (UI_REDRAW | UI_RELAYOUT))
		ui_draw(ui);
	else if (ui->dirty & UI_LOG) {
		uint64_t now = now_ms(), since = now - ui->last_draw;

		if (since >= UI_FRAME_MS)
			ui_draw(ui);
		else if (ui->draw_timer == 0)
			ui->draw_timer = loop_add_timer(ui->loop, UI_FRAME_MS - since, on_draw_timer, ui);
	}
}

/* The step to open at: --step, else the first that is not done. */
static int
first_step(struct ui *ui, const char *id)
{
	int idx;

	if (id != NULL) {
		const char *best = NULL;
		size_t bestd = 4;

		if ((idx = chain_step_index(ui->c, id)) >= 0)
			return idx;
		for (size_t i = 0; i < ui->c->nsteps; i++) {
			size_t d = str_distance(id, ui->c->steps[i].id);

			if (d < bestd) {
				bestd = d;
				best = ui->c->steps[i].id;
			}
		}
		if (best != NULL)
			fprintf(stderr, "dstack-wizard: no step '%s' (did you mean '%s'?)\n", id, best);
		else
			fprintf(stderr, "dstack-wizard: no step '%s' (see 'dstack-wizard list')\n", id);
		return -1;
	}
	for (size_t i = 0; i < ui->c->nsteps; i++)
		if (engine_status(ui->e, i) != ST_DONE)
			return (int)i;
	return 0;
}

/* Take the terminal. */
static int
term_open(struct ui *ui)
{
	tui_guard();
	tui_screen = newterm(NULL, stdout, stdin);
	if (tui_screen == NULL) {
		fprintf(stderr, "dstack-wizard: cannot use the terminal (TERM=%s); the headless "
		    "commands work anywhere (see --help)\n", getenv("TERM") ? getenv("TERM") : "");
		return -1;
	}
	set_term(tui_screen);
	tui_active = true;
	raw();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	/* No look for typed keys before each line of an update (a poll per line): the loop
	 * reads the keys. */
	typeahead(-1);
	curs_set(0);
	/*
	 * ncurses (6.4) flushes its output at every cursor move until the screen has been left
	 * and resumed once (before that it cannot tell its own moves from a terminfo-level
	 * program's), so a frame went out in some 45 writes, each waking the terminal. Leave
	 * and resume once now, before anything is drawn: a frame goes out in one write per
	 * screenful of bytes (ncurses' buffer).
	 */
	endwin();
	refresh();
	theme_init(ui);
	getmaxyx(stdscr, ui->rows, ui->cols);
	notes_layout(ui);
	return 0;
}

/* Free what the session holds. */
static void
ui_free(struct ui *ui)
{
	modal_close(ui);
	server_close(ui);
	if (engine_remote(ui->e) != NULL)
		remote_set_cbs(engine_remote(ui->e), NULL);
	for (size_t s = 0; s < ui->c->nsteps; s++) {
		ui_forget_run(&ui->steps[s]);
		logbuf_free(&ui->steps[s].file_log);
	}
	free(ui->steps);
	free(ui->rechecks);
	free(ui->msg);
	logview_free(ui);
}

/*
 * Claim the profile for this session. When another wizard holds it, say who and offer to
 * look read-only (on the terminal, before the screen is taken); EXIT_REFUSED if declined.
 */
static int
claim_profile(struct engine *e)
{
	char *holder = NULL, *cause = NULL, *why, line[16];
	int r = engine_claim(e, &holder, &cause);

	if (r < 0) {
		fprintf(stderr, "dstack-wizard: %s\n", cause);
		free(cause);
		return EXIT_BAD_FILE;
	}
	if (r == 0)
		return EXIT_OK;
	fprintf(stderr, "dstack-wizard: profile %s is open in another dstack-wizard (%s).\n"
	    "Open it read-only (look, but run nothing and change no input)? [Y/n] ",
	    engine_profile(e), holder);
	fflush(stderr);
	if (fgets(line, sizeof line, stdin) == NULL || line[0] == 'n' || line[0] == 'N') {
		free(holder);
		return EXIT_REFUSED;
	}
	why = xprintf("read-only: profile %s is open in another dstack-wizard (%s)",
	    engine_profile(e), holder);
	engine_set_readonly(e, why);
	free(why);
	free(holder);
	return EXIT_OK;
}

/* Run the wizard. */
int
tui_run(struct engine *e, const struct tui_opts *o)
{
	struct ui ui;
	uint64_t sigs[4];
	static const int watched[] = { SIGWINCH, SIGTERM, SIGHUP, SIGINT };
	int first, rc;

	memset(&ui, 0, sizeof ui);
	ui.e = e;
	ui.c = engine_chain(e);
	ui.loop = engine_loop(e);
	ui.color = o->color;
	ui.ascii = o->ascii || tui_need_ascii();
	ui.target = o->target;
	ui.presenter = o->presenter;
	ui.log.match = UINT64_MAX;
	ui.log.step = SIZE_MAX;
	if (ui.c->nsteps == 0) {
		fprintf(stderr, "dstack-wizard: the chain has no steps\n");
		return EXIT_BAD_FILE;
	}
	if ((first = first_step(&ui, o->step)) < 0)
		return EXIT_USAGE;
	if ((rc = claim_profile(e)) != EXIT_OK)
		return rc;
	ui.steps = xcalloc(ui.c->nsteps, sizeof *ui.steps);
	ui.rechecks = xcalloc(ui.c->nsteps, sizeof *ui.rechecks);
	for (size_t s = 0; s < ui.c->nsteps && engine_readonly(e) == NULL; s++)
		if (engine_status(e, s) == ST_DONE)
			ui.rechecks[ui.nrechecks++] = s;
	ui.rechecking = ui.nrechecks > 0;
	if (term_open(&ui) != 0) {
		ui_free(&ui);
		return EXIT_USAGE;
	}
	ui_select(&ui, (size_t)first);
	if (o->step != NULL)
		ui.screen = SCREEN_STEP;
	if (engine_notice(e) != NULL)
		ui_message(&ui, S_ERROR, "%s", engine_notice(e));
	else if (engine_readonly(e) != NULL)
		ui_message(&ui, S_NORMAL, "%s", engine_readonly(e));
	else if (ui.rechecking)
		ui_message(&ui, S_NORMAL, "re-checking %zu done step%s%s", ui.nrechecks,
		    ui.nrechecks == 1 ? "" : "s", ui.g->ellipsis);
	else if (ui.notes_narrow)
		notes_say_narrow(&ui);

	if (engine_remote(e) != NULL) {
		struct ssh_cbs cbs = { ssh_dialog_hostkey, ssh_dialog_passphrase, NULL, &ui };

		remote_set_cbs(engine_remote(e), &cbs);
	}
	loop_add_fd(ui.loop, STDIN_FILENO, POLLIN, on_stdin, &ui);
	engine_on_verdict(e, on_verdict, &ui);
	engine_on_change(e, on_change, &ui);
	for (size_t i = 0; i < nitems(watched); i++)
		sigs[i] = loop_on_signal(ui.loop, watched[i], watched[i] == SIGWINCH ? on_winch :
		    on_term, &ui);

	ui_draw(&ui);
	if (ui.rechecking)
		ui.recheck_timer = loop_add_timer(ui.loop, 0, ui_recheck_next, &ui);
	read_keys(&ui);
	while (!(ui.dirty & UI_QUIT)) {
		if (loop_run_once(ui.loop, -1) < 0 && errno != EINTR)
			break;
		if (ui.dirty & UI_QUIT)
			break;
		ui_flush(&ui);
	}

	loop_del_fd(ui.loop, STDIN_FILENO);
	engine_on_verdict(e, NULL, NULL);
	engine_on_change(e, NULL, NULL);
	for (size_t i = 0; i < nitems(watched); i++)
		loop_del_signal(ui.loop, sigs[i]);
	if (ui.draw_timer != 0)
		loop_del_timer(ui.loop, ui.draw_timer);
	if (ui.recheck_timer != 0)
		loop_del_timer(ui.loop, ui.recheck_timer);
	if (ui.tick_timer != 0)
		loop_del_timer(ui.loop, ui.tick_timer);
	if (ui.autorun_timer != 0)
		loop_del_timer(ui.loop, ui.autorun_timer);
	tui_restore();
	delscreen(tui_screen);
	tui_screen = NULL;
	ui_free(&ui);
	return EXIT_OK;
}
