/*
 * ui.h: what the files of tui/ share: the one picture of the screen's state (struct ui), the
 * theme (styles and glyphs), the drawing widgets, and each screen's draw and key functions.
 *
 * Handlers never draw: they change struct ui and return a mask of UI_* bits; tui.c draws
 * once per loop turn (log output alone is drawn at most every UI_FRAME_MS).
 */
#ifndef DW_TUI_UI_H
#define DW_TUI_UI_H

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <ncurses.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <wchar.h>

#include "engine.h"
#include "remote.h"
#include "ssh.h"
#include "util.h"

/* What a handler changed. */
#define UI_REDRAW    0x1     /* draw now */
#define UI_RELAYOUT  0x2     /* the terminal's size changed */
#define UI_QUIT      0x4     /* leave the wizard */
#define UI_LOG       0x8     /* log output arrived: draw, but at most every UI_FRAME_MS */
#define UI_PASS      0x100   /* the key means nothing here: let the next handler try */

#define UI_FRAME_MS  16
#define UI_RECHECKS_AT_ONCE 8   /* start-up re-checks running at once */
#define UI_MIN_COLS  80
#define UI_MIN_ROWS  24
#define UI_FIELD_MAX 1024    /* bytes an input field holds */

/* Styles: name, foreground, background, attributes with colour, attributes without. */
#define UI_STYLES \
	X(S_NORMAL,   -1,            -1,            A_NORMAL, A_NORMAL) \
	X(S_TITLE,    COLOR_WHITE,   COLOR_BLUE,    A_BOLD,   A_REVERSE | A_BOLD) \
	X(S_BAR,      COLOR_BLACK,   COLOR_WHITE,   A_NORMAL, A_REVERSE) \
	X(S_KEY,      COLOR_BLUE,    COLOR_WHITE,   A_BOLD,   A_REVERSE | A_BOLD) \
	X(S_HEADING,  -1,            -1,            A_BOLD,   A_BOLD) \
	X(S_DIM,      -1,            -1,            A_DIM,    A_DIM) \
	X(S_SELECTED, COLOR_BLACK,   COLOR_CYAN,    A_NORMAL, A_REVERSE) \
	X(S_DONE,     COLOR_GREEN,   -1,            A_BOLD,   A_BOLD) \
	X(S_FAILED,   COLOR_RED,     -1,            A_BOLD,   A_BOLD) \
	X(S_STALE,    COLOR_YELLOW,  -1,            A_BOLD,   A_UNDERLINE) \
	X(S_LOCKED,   -1,            -1,            A_DIM,    A_DIM) \
	X(S_READY,    COLOR_CYAN,    -1,            A_BOLD,   A_NORMAL) \
	X(S_RUNNING,  COLOR_MAGENTA, -1,            A_BOLD,   A_BOLD) \
	X(S_LOCAL,    COLOR_GREEN,   -1,            A_NORMAL, A_NORMAL) \
	X(S_SERVER,   COLOR_MAGENTA, -1,            A_NORMAL, A_NORMAL) \
	X(S_MANUAL,   COLOR_YELLOW,  -1,            A_NORMAL, A_NORMAL) \
	X(S_STDERR,   COLOR_RED,     -1,            A_NORMAL, A_BOLD) \
	X(S_META,     COLOR_CYAN,    -1,            A_NORMAL, A_DIM) \
	X(S_MATCH,    COLOR_BLACK,   COLOR_YELLOW,  A_NORMAL, A_REVERSE) \
	X(S_HINT,     COLOR_BLACK,   COLOR_YELLOW,  A_NORMAL, A_REVERSE) \
	X(S_ERROR,    COLOR_RED,     -1,            A_BOLD,   A_BOLD) \
	X(S_OK,       COLOR_GREEN,   -1,            A_BOLD,   A_BOLD) \
	X(S_CMD,      COLOR_YELLOW,  -1,            A_NORMAL, A_NORMAL) \
	X(S_FIELD,    COLOR_WHITE,   COLOR_BLUE,    A_NORMAL, A_UNDERLINE) \
	X(S_BORDER,   COLOR_BLUE,    -1,            A_NORMAL, A_NORMAL)

enum ui_style {
#define X(name, fg, bg, ca, ma) name,
	UI_STYLES
#undef X
	S_COUNT
};

/* Marks and lines: Unicode, or ASCII for --ascii and non-UTF-8 terminals. */
struct ui_glyphs {
	const char *mark[ST_CANCELED + 1];   /* by enum step_status */
	const char *bar_full, *bar_empty;
	const char *bullet, *ok, *bad, *warn, *ellipsis, *dot, *more_up, *more_down;
	const char *up_down, *left_right, *pointer;
	wchar_t hline, vline, ul, ur, ll, lr;
};

/* A key: a character, or a function key (KEY_*). */
struct ui_key {
	wint_t c;
	bool fn;
};
#define KEY_IS(k, ch) (!(k).fn && (k).c == (wint_t)(ch))
#define KEY_FN(k, code) ((k).fn && (k).c == (wint_t)(code))
#define KEY_CTRL(ch) ((ch) & 0x1f)

enum ui_screen { SCREEN_OVERVIEW, SCREEN_STEP, SCREEN_SERVER, SCREEN_FINISH };
enum ui_modal { MODAL_NONE, MODAL_CONFIRM, MODAL_REFUSAL, MODAL_FORM, MODAL_PROMPT, MODAL_QUIT,
	MODAL_SSH, MODAL_DEMO };
enum ui_prompt { PROMPT_GOTO, PROMPT_SEARCH, PROMPT_SEARCH_BACK, PROMPT_SAVE };

/* One field of the input form. */
struct ui_field {
	size_t input;              /* index into chain->inputs */
	char buf[UI_FIELD_MAX];    /* the text typed (a secret's is wiped when done) */
	size_t len, cur;           /* bytes; cursor byte offset */
	bool dirty;                /* edited since loaded or saved */
	char *error;               /* the last refusal to save */
	char *note;                /* e.g. "saved" */
};

struct ui_form {
	size_t step;
	struct ui_field *fields;
	size_t n, cur;
	int scroll;
	bool then_run;             /* start a run of `kind` once every secret is held */
	enum run_kind kind;
};

/* The log pane's view of one step's log. */
struct ui_logview {
	size_t step;
	bool follow;               /* keep the newest line in view */
	uint64_t top;              /* first line shown when not following */
	int hscroll;
	bool full;                 /* full screen */
	bool output_only;          /* hide the wizard's own lines (echoed commands, results) */
	char *search;              /* current pattern; NULL: none */
	bool back;                 /* it was searched for towards older lines (?) */
	uint64_t match;            /* seq of the current match; UINT64_MAX: none */
	int height;                /* rows at the last draw, for paging */
};

struct ui_hint {
	char *say, *fix, *line;
};

/* What the wizard remembers about a step during this session. */
struct ui_step {
	bool ran;                  /* started in this session */
	enum run_kind kind;        /* of the last run */
	bool recheck;              /* the run going on is the start-up re-check */
	bool drift;                /* was done, and its re-check fails now */
	time_t drift_done_at;
	bool recheck_fail;         /* its check failed in the operator's re-check (C) */
	char *cmd;                 /* the command running now (display form) */
	char *outcome;             /* how the last run ended */
	struct ui_hint *hints;
	size_t nhints;
	struct logbuf *file_log;   /* the last run's log file, loaded for re-entry */
	bool file_tried;
};

struct ui {
	struct engine *e;
	const struct chain *c;
	struct loop *loop;
	bool color, ascii;
	const char *target;
	const struct ui_glyphs *g;
	int rows, cols;
	unsigned dirty;
	uint64_t last_draw;
	uint64_t draw_timer;

	enum ui_screen screen;
	int pane;                  /* 0: upper (list or step info), 1: lower (details or log) */
	size_t sel;                /* the selected step (and the one the step screen shows) */
	int list_top;
	int info_scroll;
	int info_height;
	int detail_scroll;
	struct ui_logview log;
	bool pending_g;            /* "g" typed in the log: waiting for the second g */

	enum ui_modal modal;
	bool help;
	int help_scroll;
	struct ui_form form;
	struct {
		size_t step;
		enum run_kind kind;
		int scroll;
		int height;                /* rows of text at the last draw, for paging */
		bool run_focus;            /* Enter runs (else Enter cancels) */
		size_t item;               /* the marked checklist item */
		bool follow_item;          /* scroll it into view at the next draw */
	} confirm;
	struct {
		size_t step;
		struct blocker *b;
		size_t nb;
		char *title;
	} refusal;
	struct {
		enum ui_prompt kind;
		char buf[256];
		size_t len;
	} prompt;
	struct {
		struct ssh_conn *conn;
		bool passphrase;           /* else the host-key question */
		char *what;                /* "host type fingerprint", or the key file */
		unsigned attempt;
		char buf[256];             /* the passphrase typed (wiped) */
		size_t len;
	} ssh;

	struct {
		char buf[5][256];          /* host, user, port, key file, known_hosts file */
		size_t len[5];
		int cur;                   /* the field or button marked */
		enum ui_screen back;       /* the screen Esc goes back to */
		struct remote_pf *pf;      /* the pre-flight Test started, or NULL */
		bool testing;
		char *report;              /* its report, one item a line; NULL: none yet */
	} server;

	char *msg;
	enum ui_style msg_style;

	struct ui_step *steps;

	size_t *rechecks;
	size_t nrechecks, recheck_pos, rechecked, recheck_fails, recheck_running;
	bool rechecking;
	bool recheck_key;          /* the re-check going on is the operator's (C): of the stale,
	                              failed and canceled steps, not of the done ones */
	uint64_t recheck_timer;
	bool quitting;

	bool autorun;              /* running the rest: each ready step in turn, by itself */
	size_t autorun_step;       /* the step it runs now */
	uint64_t autorun_timer;    /* the next step is due */
	uint64_t tick_timer;       /* a second passed while a step runs: redraw its time */

	bool presenter;            /* --presenter: the notes pane beside the screens */
	int notes_w;               /* its width (cols is what is left), 0: no pane */
	bool notes_narrow;         /* too narrow for it, and said so */
};

/* theme.c */
void theme_init(struct ui *ui);
attr_t ui_attr(const struct ui *ui, enum ui_style s);
enum ui_style style_of_status(enum step_status s);
enum ui_style style_of_place(enum place p);
const char *badge_of(enum place p);

/* draw.c: widgets. Text is UTF-8; control characters and escape sequences are dropped. */
int text_width(const char *s, size_t len);
int draw_text(struct ui *ui, int y, int x, int w, const char *s, size_t len, attr_t a,
    int skip);
int draw_str(struct ui *ui, int y, int x, int w, const char *s, enum ui_style st);
int draw_clip(struct ui *ui, int y, int x, int w, const char *s, enum ui_style st);
int draw_strf(struct ui *ui, int y, int x, int w, enum ui_style st, const char *fmt, ...)
    DW_PRINTF(6, 7);
void draw_fill(struct ui *ui, int y, int x, int w, enum ui_style st);
void draw_hline(struct ui *ui, int y, int x, int w, enum ui_style st);
void draw_box(struct ui *ui, int y, int x, int h, int w, const char *title);
void draw_bar(struct ui *ui, int y, const char *left, const char *right, enum ui_style st);
void draw_keybar(struct ui *ui, const char *const *keys);
void draw_msgline(struct ui *ui);
const char *fmt_time(time_t t, char *buf, size_t len);
char *provenance(const struct input_value *iv);

/* A document: lines of styled segments, wrapped to a width, drawn with a scroll offset. */
struct doc_seg {
	enum ui_style st;
	char *text;
};
struct doc_line {
	struct doc_seg *segs;
	size_t nsegs;
	int tag;                   /* -1, or a caller's mark (e.g. the form's field index) */
};
struct doc {
	struct doc_line *lines;
	size_t n;
	int width;
};
void doc_init(struct doc *d, int width);
void doc_free(struct doc *d);
void doc_newline(struct doc *d);
void doc_add(struct doc *d, enum ui_style st, const char *text);
void doc_addf(struct doc *d, enum ui_style st, const char *fmt, ...) DW_PRINTF(3, 4);
void doc_wrap(struct doc *d, enum ui_style st, int indent, const char *text);
void doc_hang(struct doc *d, enum ui_style st, int indent, int hang, const char *text);
void doc_prose(struct doc *d, enum ui_style st, int indent, const char *text);
int doc_col(const struct doc *d);
void doc_add_or_wrap(struct doc *d, enum ui_style st, int indent, const char *text);
void doc_draw(struct ui *ui, const struct doc *d, int y, int x, int h, int w, int scroll);
int doc_clamp(const struct doc *d, int h, int scroll);

/* tui.c and run.c: actions shared by the screens. */
void ui_message(struct ui *ui, enum ui_style st, const char *fmt, ...) DW_PRINTF(3, 4);
unsigned ui_request_run(struct ui *ui, size_t step, enum run_kind kind);
unsigned ui_recheck_bad(struct ui *ui);
unsigned ui_start_run(struct ui *ui, size_t step, enum run_kind kind);
unsigned ui_cancel(struct ui *ui);
unsigned ui_run_rest(struct ui *ui);
/* run.c: forget what the session knew of a step's last run; the re-check's next step. */
void ui_forget_run(struct ui_step *us);
void ui_recheck_next(void *data);
unsigned ui_quit(struct ui *ui);
unsigned ui_quit_now(struct ui *ui, bool force);
unsigned ui_common_key(struct ui *ui, struct ui_key k);
unsigned ui_open_step(struct ui *ui, size_t step);
void ui_select(struct ui *ui, size_t step);
unsigned ui_next(struct ui *ui);
unsigned ui_prev(struct ui *ui);
bool ui_running(const struct ui *ui, size_t step);
const char *ui_step_note(struct ui *ui, size_t step, char *buf, size_t len);
void ui_doc_status(struct ui *ui, struct doc *d, size_t step, const char *sep);

/* screen-overview.c */
void overview_draw(struct ui *ui);
unsigned overview_key(struct ui *ui, struct ui_key k);

/* screen-server.c */
unsigned server_open(struct ui *ui);
void server_close(struct ui *ui);
void server_draw(struct ui *ui);
unsigned server_key(struct ui *ui, struct ui_key k);

/* screen-step.c */
void step_draw(struct ui *ui);
unsigned step_key(struct ui *ui, struct ui_key k);

/* screen-finish.c */
void finish_draw(struct ui *ui);
unsigned finish_key(struct ui *ui, struct ui_key k);
unsigned ui_open_finish(struct ui *ui);

/* view-log.c */
struct logbuf *logview_buf(struct ui *ui, size_t step);
void logview_show(struct ui *ui, size_t step);
void logview_draw(struct ui *ui, int y, int h);
unsigned logview_key(struct ui *ui, struct ui_key k);
unsigned logview_search(struct ui *ui, const char *pattern, bool older);
char *logview_save_name(struct ui *ui);
unsigned logview_save(struct ui *ui, const char *name);
void logview_free(struct ui *ui);

/* form.c */
unsigned form_open(struct ui *ui, size_t step, size_t focus_input, bool then_run,
    enum run_kind kind);
void form_close(struct ui *ui);
void form_refresh(struct ui *ui);
void form_draw(struct ui *ui);
unsigned form_key(struct ui *ui, struct ui_key k);

/* dialog.c: help, confirmation, refusal, prompt, quit question, too small, SSH questions. */
void ssh_dialog_hostkey(void *data, struct ssh_conn *c, const struct ssh_hostkey *key);
void ssh_dialog_passphrase(void *data, struct ssh_conn *c, const char *key_file,
    unsigned attempt);
void ssh_dialog_close(struct ui *ui);
void modal_close(struct ui *ui);
void ssh_dialog_draw(struct ui *ui);
unsigned ssh_dialog_key(struct ui *ui, struct ui_key k);
void help_draw(struct ui *ui);
unsigned help_key(struct ui *ui, struct ui_key k);
unsigned confirm_open(struct ui *ui, size_t step, enum run_kind kind);
void confirm_draw(struct ui *ui);
unsigned confirm_key(struct ui *ui, struct ui_key k);
unsigned refusal_open(struct ui *ui, size_t step, const char *title);
void refusal_close(struct ui *ui);
void refusal_draw(struct ui *ui);
unsigned refusal_key(struct ui *ui, struct ui_key k);
unsigned prompt_open(struct ui *ui, enum ui_prompt kind);
void prompt_draw(struct ui *ui);
unsigned prompt_key(struct ui *ui, struct ui_key k);
void quit_draw(struct ui *ui);
unsigned quit_key(struct ui *ui, struct ui_key k);
void toosmall_draw(struct ui *ui);

/* notes.c: presenter notes (the pane; the file a follower watches). */
void notes_layout(struct ui *ui);
void notes_say_narrow(struct ui *ui);
void notes_draw(struct ui *ui);
void notes_follow_write(struct ui *ui);

/* demo-menu.c: the demo's controls (D, --demo only), and the banner of an injected failure. */
unsigned demo_menu_open(struct ui *ui);
void demo_menu_draw(struct ui *ui);
unsigned demo_menu_key(struct ui *ui, struct ui_key k);
void demo_banner_draw(struct ui *ui);

#endif
