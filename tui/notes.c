/*
 * notes.c: presenter notes, the notes: of each step (what to say, what to point at, the
 * questions that usually come). Three ways to see them:
 *   - --presenter: a pane beside the wizard's screens, on a terminal of at least
 *     NOTES_MIN_COLS columns (the screens keep their UI_MIN_COLS); on a narrower one there is
 *     no pane and the message line says to use a second terminal;
 *   - `notes [STEP]`: printed;
 *   - `notes --follow`: in a second terminal, the notes of the step the wizard shows, as it
 *     moves. The wizard writes the id of its selected step to current-step in the profile's
 *     directory whenever the selection changes; the follower looks at that file five times a
 *     second and prints the step's notes again when it names another step.
 */
#include "config.h"

#include "ui.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "cli-docs.h"

#define NOTES_MIN_COLS  (UI_MIN_COLS + 40)   /* the screens' 80 and a pane of 40 */
#define NOTES_MAX_PANE  64
#define NOTES_FILE      "current-step"
#define NOTES_POLL_MS   200

/* Say why there is no pane, and what to do instead. */
void
notes_say_narrow(struct ui *ui)
{
	ui_message(ui, S_NORMAL, "notes need %d columns: run dstack-wizard notes --follow in "
	    "another terminal", NOTES_MIN_COLS);
}

/* The screens' width with the pane beside them (call when the terminal's size is read). */
void
notes_layout(struct ui *ui)
{
	int total = ui->cols, w;

	ui->notes_w = 0;
	if (!ui->presenter)
		return;
	if (total < NOTES_MIN_COLS) {
		if (!ui->notes_narrow) {
			ui->notes_narrow = true;
			notes_say_narrow(ui);
		}
		return;
	}
	ui->notes_narrow = false;
	w = total / 3;
	if (w > NOTES_MAX_PANE)
		w = NOTES_MAX_PANE;
	if (w < NOTES_MIN_COLS - UI_MIN_COLS)
		w = NOTES_MIN_COLS - UI_MIN_COLS;
	ui->notes_w = w;
	ui->cols = total - w;
}

/* Draw the pane: the selected step's notes, right of the screens. */
void
notes_draw(struct ui *ui)
{
	const struct step *st = &ui->c->steps[ui->sel];
	int x = ui->cols, w = ui->notes_w;
	struct doc d;
	char *t;

	if (w == 0)
		return;
	for (int y = 0; y < ui->rows; y++)
		mvwaddnwstr(stdscr, y, x, &ui->g->vline, 1);
	t = xprintf("Notes %s %s", ui->g->dot, st->id);
	draw_fill(ui, 0, x + 1, w - 1, S_TITLE);
	draw_str(ui, 0, x + 2, w - 3, t, S_TITLE);
	free(t);
	doc_init(&d, w - 4);
	doc_newline(&d);
	doc_add(&d, S_HEADING, st->title);
	doc_newline(&d);
	if (st->notes != NULL)
		doc_prose(&d, S_NORMAL, 0, st->notes);
	else
		doc_add(&d, S_DIM, "(no notes for this step)");
	doc_draw(ui, &d, 1, x + 2, ui->rows - 1, w - 3, 0);
	doc_free(&d);
}

/* Tell a follower which step the wizard shows: PROFILE_DIR/current-step. */
void
notes_follow_write(struct ui *ui)
{
	char *path = xprintf("%s/%s", engine_dir(ui->e), NOTES_FILE);
	char *tmp = xprintf("%s.tmp-%ld", path, (long)getpid());
	char *text = xprintf("%s\n", ui->c->steps[ui->sel].id);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	size_t len = strlen(text);

	/* Only a follower reads it: failing to write it changes nothing else. */
	if (fd >= 0 && write(fd, text, len) == (ssize_t)len && close(fd) == 0)
		rename(tmp, path);
	else {
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	free(text);
	free(tmp);
	free(path);
}

/* ---- The notes command. ---- */

/* Print a paragraph wrapped to width (a list item's lines hang under its text); empty it. */
static void
notes_flush(struct strbuf *para, int width)
{
	const char *s = sb_str(para);
	int hang = s[0] == '-' && s[1] == ' ' ? 2 : 0, col = 0;

	if (para->len == 0)
		return;
	while (*s != '\0') {
		size_t wl = strcspn(s, " ");

		if (col > 0 && col + 1 + (int)wl > width) {
			printf("\n%*s", hang, "");
			col = hang;
		} else if (col > 0) {
			putchar(' ');
			col++;
		}
		printf("%.*s", (int)wl, s);
		col += (int)wl;
		s += wl;
		s += strspn(s, " ");
	}
	putchar('\n');
	sb_reset(para);
}

/* Print text wrapped to width: lines of a paragraph joined, list items ("- ") and blank
 * lines kept. */
static void
notes_print_wrapped(const char *text, int width)
{
	struct strbuf para = {0};
	const char *p = text;

	if (width < 20)
		width = 20;
	while (*p != '\0') {
		size_t n = strcspn(p, "\n"), lead = strspn(p, " \t");

		if (lead >= n) {
			notes_flush(&para, width);
			putchar('\n');
		} else {
			if (n - lead >= 2 && p[lead] == '-' && p[lead + 1] == ' ')
				notes_flush(&para, width);
			if (para.len > 0)
				sb_addc(&para, ' ');
			sb_add(&para, p + lead, n - lead);
		}
		p += n + (p[n] == '\n');
	}
	notes_flush(&para, width);
	sb_free(&para);
}

/* Print one step's notes. */
static void
notes_print(const struct chain *c, size_t s, int width)
{
	const struct step *st = &c->steps[s];

	printf("%s: %s (step %zu of %zu)\n\n", st->id, st->title, s + 1, c->nsteps);
	if (st->notes != NULL)
		notes_print_wrapped(st->notes, width);
	else
		printf("(no notes for this step)\n");
}

static volatile sig_atomic_t notes_stop, notes_winch;

/* Note a signal for the follower's loop. */
static void
notes_on_signal(int sig)
{
	if (sig == SIGWINCH)
		notes_winch = 1;
	else
		notes_stop = 1;
}

/* The terminal's width (80 when it says none). */
static int
notes_width(void)
{
	struct winsize ws;

	return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

/* notes --follow: show the notes of the step the wizard shows, until q or C-c. */
static int
notes_follow(struct engine *e)
{
	const struct chain *c = engine_chain(e);
	char *path = xprintf("%s/%s", engine_dir(e), NOTES_FILE), *shown = NULL;
	struct termios saved, raw;
	struct sigaction sa;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	bool clear = isatty(STDOUT_FILENO), waiting = false;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = notes_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	if (tty) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	while (!notes_stop) {
		struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
		char *id = NULL;
		size_t len;
		int s = -1;

		if (read_file(path, 256, &id, &len, NULL) == 0) {
			id[strcspn(id, "\n")] = '\0';
			s = chain_step_index(c, id);
		}
		if (s >= 0 && (shown == NULL || strcmp(shown, id) != 0 || notes_winch)) {
			notes_winch = 0;
			waiting = false;
			if (clear)
				fputs("\033[H\033[2J", stdout);
			notes_print(c, (size_t)s, notes_width() - 1);
			printf("\n(following the wizard on profile %s: q quits)\n", engine_profile(e));
			fflush(stdout);
			free(shown);
			shown = xstrdup(id);
		} else if (s < 0 && shown == NULL && !waiting) {
			printf("waiting for the wizard on profile %s to show a step (q quits)\n",
			    engine_profile(e));
			fflush(stdout);
			waiting = true;
		}
		free(id);
		if (poll(&p, tty ? 1 : 0, NOTES_POLL_MS) > 0) {
			char k;

			if (read(STDIN_FILENO, &k, 1) != 1 || k == 'q' || k == 'Q')
				break;
		}
	}
	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	free(shown);
	free(path);
	return EXIT_OK;
}

/* notes [STEP] [--follow]. */
int
notes_run(struct engine *e, int argc, char **argv, bool follow)
{
	const struct chain *c = engine_chain(e);
	int s;

	if (follow)
		return notes_follow(e);
	if (argc == 2) {
		if ((s = chain_step_index(c, argv[1])) < 0) {
			fprintf(stderr, "dstack-wizard: no step '%s' (see 'dstack-wizard list')\n",
			    argv[1]);
			return EXIT_USAGE;
		}
		notes_print(c, (size_t)s, isatty(STDOUT_FILENO) ? notes_width() - 1 : 95);
		return EXIT_OK;
	}
	for (size_t i = 0; i < c->nsteps; i++) {
		if (i > 0)
			printf("\n");
		notes_print(c, i, isatty(STDOUT_FILENO) ? notes_width() - 1 : 95);
	}
	return EXIT_OK;
}
