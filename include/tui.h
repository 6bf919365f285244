/*
 * tui.h: the interactive wizard (ncurses). The program's main calls tui_run() when no
 * headless command is given and stdout is a terminal. Only tui/ draws; steps/ never does.
 */
#ifndef DW_TUI_H
#define DW_TUI_H

#include <stdbool.h>

struct engine;

struct tui_opts {
	bool color;          /* false: --no-color, or NO_COLOR is set */
	bool ascii;          /* ASCII marks and lines only (--ascii, or a non-UTF-8 codeset) */
	const char *step;    /* --step ID: open at this step; NULL: the first step not done */
	const char *target;  /* the --target given, for the title bar; NULL: no server */
	bool presenter;      /* --presenter: the steps' notes in a pane beside (wide terminals) */
};

/*
 * Run the wizard on an open engine until the operator quits. Returns an exit code (cli.h):
 * EXIT_OK, or EXIT_USAGE for an unknown --step (said on stderr before the screen opens).
 */
int tui_run(struct engine *e, const struct tui_opts *o);

/* Is the locale's codeset something other than UTF-8 (so the wizard must draw ASCII)? */
bool tui_need_ascii(void);

#endif
