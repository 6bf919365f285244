/*
 * demo-menu.c: the demo's controls inside the wizard (--demo only). D opens a small window to
 * inject the selected step's best-known failure or clear it, and to change the speed of the
 * simulated host, while the wizard runs: what it sets applies to the commands started from
 * then on. While a failure is injected a banner on the title bar says so, on every screen.
 */
#include "config.h"

#include "ui.h"

#include <stdlib.h>
#include <string.h>

#define DEMO_MENU_W 64
#define DEMO_MENU_H 13

/* D: open the menu (the demo only). */
unsigned
demo_menu_open(struct ui *ui)
{
	if (!engine_is_demo(ui->e))
		return 0;
	ui->modal = MODAL_DEMO;
	return UI_REDRAW;
}

/* The speed, in words. */
static char *
demo_speed_words(double speed)
{
	if (speed == 0)
		return xstrdup("0 (no waiting)");
	if (speed == 1)
		return xstrdup("1 (realistic, compressed)");
	return xprintf("%g (%s)", speed, speed < 1 ? "faster than realistic" :
	    "slower than realistic");
}

/* Draw the menu. */
void
demo_menu_draw(struct ui *ui)
{
	const char *fail = engine_demo_fail(ui->e), *sel = ui->c->steps[ui->sel].id;
	char *speed = demo_speed_words(engine_demo_speed(ui->e));
	int w = DEMO_MENU_W, h = DEMO_MENU_H, y, x;

	if (w > ui->cols - 2)
		w = ui->cols - 2;
	y = (ui->rows - h) / 2;
	x = (ui->cols - w) / 2;
	draw_box(ui, y, x, h, w, "Demo controls");
	draw_str(ui, y + 1, x + 2, w - 4, "The simulated host runs the chain's real commands;",
	    S_NORMAL);
	draw_str(ui, y + 2, x + 2, w - 4, "choose what it gets wrong, and how fast it is.",
	    S_NORMAL);
	draw_strf(ui, y + 4, x + 2, w - 4, fail != NULL ? S_ERROR : S_NORMAL,
	    "Injected failure: %s", fail != NULL ? fail : "none");
	draw_strf(ui, y + 5, x + 2, w - 4, S_NORMAL, "Speed: %s", speed);
	draw_strf(ui, y + 7, x + 2, w - 4, S_HEADING, "f  inject the failure of %s", sel);
	draw_str(ui, y + 8, x + 2, w - 4, "c  clear the injected failure", S_HEADING);
	draw_str(ui, y + 9, x + 2, w - 4, "0  no waiting        1  realistic", S_HEADING);
	draw_str(ui, y + 10, x + 2, w - 4, "-  faster (half)     +  slower (double)", S_HEADING);
	draw_str(ui, y + 11, x + 2, w - 4, "Esc, q or D closes", S_DIM);
	free(speed);
}

/* Set the speed, and say so. */
static unsigned
demo_menu_speed(struct ui *ui, double speed)
{
	char *cause = NULL, *words;

	if (speed > 1000)
		speed = 1000;
	if (engine_demo_set_speed(ui->e, speed, &cause) != 0) {
		ui_message(ui, S_ERROR, "%s", cause);
		free(cause);
		return UI_REDRAW;
	}
	words = demo_speed_words(speed);
	ui_message(ui, S_OK, "demo speed %s, for the commands started from now on", words);
	free(words);
	return UI_REDRAW;
}

/* Keys of the menu. */
unsigned
demo_menu_key(struct ui *ui, struct ui_key k)
{
	const char *sel = ui->c->steps[ui->sel].id;
	double speed = engine_demo_speed(ui->e);
	char *cause = NULL;

	if (KEY_IS(k, '\033') || KEY_IS(k, 'q') || KEY_IS(k, 'D')) {
		ui->modal = MODAL_NONE;
		return UI_REDRAW;
	}
	if (KEY_IS(k, 'f') || KEY_IS(k, 'c')) {
		if (engine_demo_set_fail(ui->e, KEY_IS(k, 'f') ? sel : NULL, &cause) != 0) {
			ui_message(ui, S_ERROR, "%s", cause);
			free(cause);
		} else if (KEY_IS(k, 'f'))
			ui_message(ui, S_ERROR, "%s's best-known failure is injected: its next run "
			    "fails (D, then c clears it)", sel);
		else
			ui_message(ui, S_OK, "no failure is injected any more");
		return UI_REDRAW;
	}
	if (KEY_IS(k, '0') || KEY_IS(k, '1'))
		return demo_menu_speed(ui, KEY_IS(k, '0') ? 0 : 1);
	if (KEY_IS(k, '+') || KEY_IS(k, '='))
		return demo_menu_speed(ui, speed == 0 ? 0.25 : speed * 2);
	if (KEY_IS(k, '-') || KEY_IS(k, '_'))
		return demo_menu_speed(ui, speed / 2 < 0.01 ? 0 : speed / 2);
	return 0;
}

/* The banner while a failure is injected: in place of the title bar. */
void
demo_banner_draw(struct ui *ui)
{
	const char *fail = engine_demo_fail(ui->e);
	char *t;

	if (fail == NULL)
		return;
	t = xprintf("DEMO %s %s's failure is injected: its next run fails", ui->g->dot, fail);
	draw_bar(ui, 0, t, "D changes it", S_HINT);
	free(t);
}
