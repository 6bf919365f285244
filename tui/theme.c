/*
 * theme.c: how things look. The styles are one X-macro table (ui.h): a colour pair and
 * attributes for colour terminals, and attributes alone for --no-color / NO_COLOR, so that
 * nothing is told by colour only (every status also has a mark and a word). The glyphs come
 * in two sets: Unicode, and ASCII for --ascii and terminals whose codeset is not UTF-8.
 */
#include "config.h"

#include "ui.h"

static const struct ui_glyphs glyphs_utf8 = {
	.mark = {
		[ST_LOCKED] = "\xe2\x8a\x98",     /* ⊘ */
		[ST_READY] = "\xe2\x97\x8b",      /* ○ */
		[ST_CHECKING] = "\xe2\x97\x8c",   /* ◌ */
		[ST_RUNNING] = "\xe2\x96\xb6",    /* ▶ */
		[ST_DONE] = "\xe2\x9c\x93",       /* ✓ */
		[ST_FAILED] = "\xe2\x9c\x97",     /* ✗ */
		[ST_STALE] = "\xe2\x86\xbb",      /* ↻ */
		[ST_CANCELED] = "\xe2\x8a\x97",   /* ⊗ */
	},
	.bar_full = "\xe2\x96\x88",           /* █ */
	.bar_empty = "\xe2\x96\x91",          /* ░ */
	.bullet = "\xe2\x80\xa2",             /* • */
	.ok = "\xe2\x9c\x93",                 /* ✓ */
	.bad = "\xe2\x9c\x97",                /* ✗ */
	.warn = "\xe2\x9a\xa0",               /* ⚠ */
	.ellipsis = "\xe2\x80\xa6",           /* … */
	.dot = "\xc2\xb7",                    /* · */
	.more_up = "\xe2\x96\xb2",            /* ▲ */
	.more_down = "\xe2\x96\xbc",          /* ▼ */
	.up_down = "\xe2\x86\x91\xe2\x86\x93",    /* ↑↓ */
	.left_right = "\xe2\x86\x90\xe2\x86\x92", /* ←→ */
	.pointer = "\xe2\x96\xb8",          /* ▸ */
	.hline = L'\x2500', .vline = L'\x2502',
	.ul = L'\x250c', .ur = L'\x2510', .ll = L'\x2514', .lr = L'\x2518',
};

static const struct ui_glyphs glyphs_ascii = {
	.mark = {
		[ST_LOCKED] = "-",
		[ST_READY] = "o",
		[ST_CHECKING] = "?",
		[ST_RUNNING] = ">",
		[ST_DONE] = "+",
		[ST_FAILED] = "x",
		[ST_STALE] = "~",
		[ST_CANCELED] = "c",
	},
	.bar_full = "#",
	.bar_empty = ".",
	.bullet = "*",
	.ok = "+",
	.bad = "x",
	.warn = "!",
	.ellipsis = "~",
	.dot = "-",
	.more_up = "^",
	.more_down = "v",
	.up_down = "Up/Dn",
	.left_right = "Lt/Rt",
	.pointer = ">",
	.hline = L'-', .vline = L'|',
	.ul = L'+', .ur = L'+', .ll = L'+', .lr = L'+',
};

static const struct {
	short fg, bg;
	attr_t color_attr, mono_attr;
} styles[S_COUNT] = {
#define X(name, fg, bg, ca, ma) [name] = { fg, bg, ca, ma },
	UI_STYLES
#undef X
};

/* Pick the glyphs and set up the colour pairs (pair n+1 for style n). */
void
theme_init(struct ui *ui)
{
	ui->g = ui->ascii ? &glyphs_ascii : &glyphs_utf8;
	if (!ui->color)
		return;
	if (!has_colors() || start_color() != OK) {
		ui->color = false;
		return;
	}
	use_default_colors();
	for (int i = 1; i < S_COUNT; i++)
		init_pair((short)(i + 1), styles[i].fg, styles[i].bg);
}

/* The curses attributes of a style. */
attr_t
ui_attr(const struct ui *ui, enum ui_style s)
{
	if ((unsigned)s >= S_COUNT)
		s = S_NORMAL;
	if (!ui->color)
		return styles[s].mono_attr;
	if (s == S_NORMAL)
		return A_NORMAL;
	return styles[s].color_attr | (attr_t)COLOR_PAIR(s + 1);
}

/* The style of a status mark and word. */
enum ui_style
style_of_status(enum step_status s)
{
	switch (s) {
	case ST_LOCKED:
		return S_LOCKED;
	case ST_READY:
		return S_READY;
	case ST_CHECKING:
	case ST_RUNNING:
		return S_RUNNING;
	case ST_DONE:
		return S_DONE;
	case ST_FAILED:
		return S_FAILED;
	case ST_STALE:
	case ST_CANCELED:
		return S_STALE;
	}
	return S_NORMAL;
}

/* The style of a place badge. */
enum ui_style
style_of_place(enum place p)
{
	switch (p) {
	case PLACE_LOCAL:
		return S_LOCAL;
	case PLACE_SERVER:
		return S_SERVER;
	case PLACE_MANUAL:
		return S_MANUAL;
	}
	return S_NORMAL;
}

/* The badge text of a place. */
const char *
badge_of(enum place p)
{
	switch (p) {
	case PLACE_LOCAL:
		return "LOCAL";
	case PLACE_SERVER:
		return "SERVER";
	case PLACE_MANUAL:
		return "MANUAL";
	}
	return "?";
}
