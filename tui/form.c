/*
 * form.c: the input form of a step. Each input the step uses is a field with its label,
 * type, value and where the value came from ("captured from alpha, 2026-11-24 10:02").
 * What is typed is validated on every key (validate_input), so a wrong EIP-55 checksum says
 * so at once; an address in one case (no checksum) is offered checksummed (C-y takes it).
 * Enter saves: engine_set_input
 * for a value (a refusal shows why), engine_set_secret (SRC_PROMPT) for a secret, which is
 * shown only as one '*' per character, kept in a fixed buffer that is wiped once handed to
 * the engine or when the form closes, and never written anywhere.
 */
#include "config.h"

#include "ui.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Load a field's text from the input's current value (a secret starts empty). */
static void
field_load(struct ui *ui, struct ui_field *f)
{
	const struct input_def *d = &ui->c->inputs[f->input];
	struct input_value iv;

	explicit_bzero(f->buf, sizeof f->buf);
	f->len = f->cur = 0;
	f->dirty = false;
	if (d->secret)
		return;
	engine_input(ui->e, f->input, &iv);
	if (iv.value != NULL && strlen(iv.value) < sizeof f->buf) {
		f->len = f->cur = strlen(iv.value);
		memcpy(f->buf, iv.value, f->len);
	}
	input_value_clear(&iv);
}

/* The state changed (another process saved it): fields not being edited show it. */
void
form_refresh(struct ui *ui)
{
	for (size_t i = 0; i < ui->form.n; i++) {
		struct ui_field *f = &ui->form.fields[i];

		if (!f->dirty && !ui->c->inputs[f->input].secret)
			field_load(ui, f);
	}
}

/* Add input to the list unless it is there. */
static void
add_field_input(size_t **list, size_t *n, size_t input)
{
	for (size_t i = 0; i < *n; i++)
		if ((*list)[i] == input)
			return;
	*list = xreallocarray(*list, *n + 1, sizeof **list);
	(*list)[(*n)++] = input;
}

/*
 * Open the form of a step, on focus_input (SIZE_MAX: the first invalid field). Its fields are
 * the step's inputs, then any secret it needs but does not list (the RPC URL its contract
 * check asks through) and focus_input if it is neither.
 */
unsigned
form_open(struct ui *ui, size_t s, size_t focus_input, bool then_run, enum run_kind kind)
{
	const struct step *st = &ui->c->steps[s];
	struct ui_form *fm = &ui->form;
	size_t *list = NULL, n = 0, *miss, nmiss;

	for (size_t i = 0; i < st->ninputs; i++)
		if (engine_step_uses(ui->e, s, i))
			add_field_input(&list, &n, st->inputs[i]);
	nmiss = engine_missing_secrets(ui->e, s, &miss);
	for (size_t i = 0; i < nmiss; i++)
		add_field_input(&list, &n, miss[i]);
	free(miss);
	if (focus_input != SIZE_MAX)
		add_field_input(&list, &n, focus_input);
	if (n == 0) {
		ui_message(ui, S_NORMAL, "%s uses no inputs", st->id);
		return UI_REDRAW;
	}
	if (ui->modal == MODAL_FORM)
		form_close(ui);
	memset(fm, 0, sizeof *fm);
	fm->step = s;
	fm->then_run = then_run;
	fm->kind = kind;
	fm->n = n;
	fm->fields = xcalloc(fm->n, sizeof *fm->fields);
	fm->cur = SIZE_MAX;
	for (size_t i = 0; i < fm->n; i++) {
		struct input_value iv;

		fm->fields[i].input = list[i];
		field_load(ui, &fm->fields[i]);
		if (list[i] == focus_input)
			fm->cur = i;
		engine_input(ui->e, list[i], &iv);
		if (focus_input == SIZE_MAX && fm->cur == SIZE_MAX && !iv.verdict.ok)
			fm->cur = i;
		input_value_clear(&iv);
	}
	free(list);
	if (fm->cur == SIZE_MAX)
		fm->cur = 0;
	ui->modal = MODAL_FORM;
	return UI_REDRAW;
}

/* Close the form, wiping every field. */
void
form_close(struct ui *ui)
{
	struct ui_form *fm = &ui->form;

	for (size_t i = 0; i < fm->n; i++) {
		free(fm->fields[i].error);
		free(fm->fields[i].note);
	}
	if (fm->fields != NULL)
		explicit_bzero(fm->fields, fm->n * sizeof *fm->fields);
	free(fm->fields);
	memset(fm, 0, sizeof *fm);
	if (ui->modal == MODAL_FORM)
		ui->modal = MODAL_NONE;
}

/* The field was edited: forget the last save's result. */
static void
field_touched(struct ui_field *f)
{
	f->dirty = true;
	freep(&f->error);
	freep(&f->note);
}

/* Insert bytes at the cursor. */
static void
field_insert(struct ui_field *f, const char *s, size_t n)
{
	if (f->len + n >= sizeof f->buf)
		return;
	memmove(f->buf + f->cur + n, f->buf + f->cur, f->len - f->cur);
	memcpy(f->buf + f->cur, s, n);
	f->len += n;
	f->cur += n;
	f->buf[f->len] = '\0';
	field_touched(f);
}

/* Delete bytes [a, b). */
static void
field_delete(struct ui_field *f, size_t a, size_t b)
{
	if (a >= b || b > f->len)
		return;
	memmove(f->buf + a, f->buf + b, f->len - b);
	f->len -= b - a;
	explicit_bzero(f->buf + f->len, b - a);
	if (f->cur > b)
		f->cur -= b - a;
	else if (f->cur > a)
		f->cur = a;
	field_touched(f);
}

/* The start of the UTF-8 character before byte i. */
static size_t
char_before(const struct ui_field *f, size_t i)
{
	if (i == 0)
		return 0;
	i--;
	while (i > 0 && ((unsigned char)f->buf[i] & 0xc0) == 0x80)
		i--;
	return i;
}

/* The end of the UTF-8 character at byte i. */
static size_t
char_after(const struct ui_field *f, size_t i)
{
	if (i >= f->len)
		return f->len;
	i++;
	while (i < f->len && ((unsigned char)f->buf[i] & 0xc0) == 0x80)
		i++;
	return i;
}

/* Move to another field (keeping what was typed in this one). */
static unsigned
form_move(struct ui *ui, int delta)
{
	struct ui_form *fm = &ui->form;

	if (delta < 0 && fm->cur > 0)
		fm->cur--;
	else if (delta > 0 && fm->cur + 1 < fm->n)
		fm->cur++;
	return UI_REDRAW;
}

/* Every secret the form's step needs is held, and a run was waiting for that: start it. */
static unsigned
form_then_run(struct ui *ui)
{
	struct ui_form *fm = &ui->form;
	size_t *miss, nmiss, step = fm->step;
	enum run_kind kind = fm->kind;

	if (!fm->then_run)
		return 0;
	nmiss = engine_missing_secrets(ui->e, step, &miss);
	free(miss);
	if (nmiss > 0)
		return 0;
	form_close(ui);
	return ui_request_run(ui, step, kind);
}

/* Enter: save the current field. */
static unsigned
form_save(struct ui *ui)
{
	struct ui_form *fm = &ui->form;
	struct ui_field *f = &fm->fields[fm->cur];
	const struct input_def *d = &ui->c->inputs[f->input];
	char *cause = NULL;
	enum engine_err err;
	unsigned r;

	freep(&f->error);
	freep(&f->note);
	if (d->secret) {
		int rc;

		if (f->len == 0) {
			f->error = xstrdup("type the secret first (what you type stays hidden)");
			return UI_REDRAW;
		}
		rc = engine_set_secret(ui->e, d->name, f->buf, SRC_PROMPT, &cause);
		explicit_bzero(f->buf, sizeof f->buf);
		f->len = f->cur = 0;
		f->dirty = false;
		if (rc != 0) {
			f->error = cause ? cause : xstrdup("refused");
			return UI_REDRAW;
		}
		f->note = xstrdup("held in memory for this session, never written");
		ui_message(ui, S_OK, "the secret %s is held (in memory only)", d->name);
		/* A private key sets an unset wallet: show what the other fields hold now. */
		for (size_t i = 0; i < fm->n; i++)
			if (&fm->fields[i] != f && !fm->fields[i].dirty)
				field_load(ui, &fm->fields[i]);
	} else if (!f->dirty) {
		/* Nothing changed. */
	} else if (f->len == 0) {
		if (engine_unset_input(ui->e, d->name, &cause) != 0) {
			f->error = cause ? cause : xstrdup("could not clear it");
			return UI_REDRAW;
		}
		field_load(ui, f);
		f->note = xstrdup("cleared");
		ui_message(ui, S_OK, "%s cleared", d->name);
	} else {
		if (engine_set_input(ui->e, d->name, f->buf, &err, &cause) != 0) {
			f->error = cause ? cause : xstrdup("refused");
			return UI_REDRAW;
		}
		f->dirty = false;
		f->note = xstrdup("saved");
		ui_message(ui, S_OK, "%s saved", d->name);
	}
	if ((r = form_then_run(ui)) != 0)
		return r;
	return form_move(ui, 1);
}

/* C-y: take the validator's suggestion (e.g. the EIP-55 checksummed address). */
static unsigned
form_take_suggestion(struct ui *ui)
{
	struct ui_field *f = &ui->form.fields[ui->form.cur];
	const struct input_def *d = &ui->c->inputs[f->input];
	struct verdict v;

	if (d->secret || engine_secret_within(ui->e, f->buf) != NULL)
		return 0;
	validate_input(d, f->buf, &v);
	if (v.suggestion != NULL && strlen(v.suggestion) < sizeof f->buf) {
		explicit_bzero(f->buf, sizeof f->buf);
		f->len = f->cur = strlen(v.suggestion);
		memcpy(f->buf, v.suggestion, f->len);
		field_touched(f);
	}
	verdict_clear(&v);
	return UI_REDRAW;
}

/* Keys of the form. */
unsigned
form_key(struct ui *ui, struct ui_key k)
{
	struct ui_form *fm = &ui->form;
	struct ui_field *f = &fm->fields[fm->cur];

	if (KEY_IS(k, '\033')) {
		size_t *miss, nmiss = 0;

		if (fm->then_run) {
			nmiss = engine_missing_secrets(ui->e, fm->step, &miss);
			free(miss);
		}
		if (nmiss > 0)
			ui_message(ui, S_ERROR, "%s was not started: it needs a secret",
			    ui->c->steps[fm->step].id);
		form_close(ui);
		return UI_REDRAW;
	}
	if (KEY_IS(k, '\r') || KEY_IS(k, '\n') || KEY_FN(k, KEY_ENTER))
		return form_save(ui);
	if (KEY_IS(k, '\t') || KEY_FN(k, KEY_DOWN) || KEY_IS(k, KEY_CTRL('n')))
		return form_move(ui, 1);
	if (KEY_FN(k, KEY_BTAB) || KEY_FN(k, KEY_UP) || KEY_IS(k, KEY_CTRL('p')))
		return form_move(ui, -1);
	if (KEY_FN(k, KEY_LEFT) || KEY_IS(k, KEY_CTRL('b')))
		f->cur = char_before(f, f->cur);
	else if (KEY_FN(k, KEY_RIGHT) || KEY_IS(k, KEY_CTRL('f')))
		f->cur = char_after(f, f->cur);
	else if (KEY_FN(k, KEY_HOME) || KEY_IS(k, KEY_CTRL('a')))
		f->cur = 0;
	else if (KEY_FN(k, KEY_END) || KEY_IS(k, KEY_CTRL('e')))
		f->cur = f->len;
	else if (KEY_FN(k, KEY_BACKSPACE) || KEY_IS(k, 0x7f) || KEY_IS(k, KEY_CTRL('h')))
		field_delete(f, char_before(f, f->cur), f->cur);
	else if (KEY_FN(k, KEY_DC) || KEY_IS(k, KEY_CTRL('d')))
		field_delete(f, f->cur, char_after(f, f->cur));
	else if (KEY_IS(k, KEY_CTRL('u')))
		field_delete(f, 0, f->cur);
	else if (KEY_IS(k, KEY_CTRL('k')))
		field_delete(f, f->cur, f->len);
	else if (KEY_IS(k, KEY_CTRL('w'))) {
		size_t a = f->cur;

		while (a > 0 && f->buf[a - 1] == ' ')
			a--;
		while (a > 0 && f->buf[a - 1] != ' ')
			a--;
		field_delete(f, a, f->cur);
	} else if (KEY_IS(k, KEY_CTRL('y')))
		return form_take_suggestion(ui);
	else if (!k.fn && k.c >= 0x20 && k.c != 0x7f) {
		char mb[MB_LEN_MAX];
		mbstate_t ps;
		size_t n;

		memset(&ps, 0, sizeof ps);
		n = wcrtomb(mb, (wchar_t)k.c, &ps);
		if (n != (size_t)-1)
			field_insert(f, mb, n);
		explicit_bzero(mb, sizeof mb);
	} else
		return 0;
	return UI_REDRAW;
}

/* The field's verdict lines: as typed (validated now), or the saved value's. */
static void
field_status(struct ui *ui, struct doc *d, const struct ui_field *f)
{
	const struct input_def *def = &ui->c->inputs[f->input];
	struct input_value iv;
	char *t;

	if (f->error != NULL) {
		t = xprintf("%s %s", ui->g->bad, f->error);
		doc_wrap(d, S_ERROR, 2, t);
		free(t);
		return;
	}
	if (f->dirty && (f->len > 0 || !def->secret)) {
		struct verdict v;
		const char *held = def->secret ? NULL : engine_secret_within(ui->e, f->buf);

		if (held != NULL) {
			/* Neither the verdict nor a suggestion: either could echo the value. */
			t = xprintf("%s this holds the secret %s, so it is hidden here; %s is not a "
			    "secret and would be saved and shown in clear: Enter refuses it", ui->g->bad,
			    held, def->name);
			doc_wrap(d, S_ERROR, 2, t);
			free(t);
			return;
		}
		if (f->len == 0) {
			doc_wrap(d, S_DIM, 2, def->ndefs > 0 ? "empty: Enter forgets the value (the default "
			    "applies)" : "empty: Enter forgets the value");
			return;
		}
		validate_input(def, f->buf, &v);
		if (v.ok) {
			t = xprintf("%s valid%s", ui->g->ok, v.unchecksummed ? ", but it has no EIP-55 "
			    "checksum (C-y adds it)" : ": Enter saves it");
			doc_wrap(d, S_OK, 2, t);
		} else {
			t = xprintf("%s %s", ui->g->bad, v.why ? v.why : "not valid");
			doc_wrap(d, S_ERROR, 2, t);
		}
		free(t);
		if (v.suggestion != NULL && !def->secret) {
			t = xprintf("did you mean %s? C-y takes it", v.suggestion);
			doc_wrap(d, S_STALE, 4, t);
			free(t);
		}
		verdict_clear(&v);
		return;
	}
	engine_input(ui->e, f->input, &iv);
	t = provenance(&iv);
	doc_newline(d);
	doc_add(d, S_NORMAL, "  ");
	if (iv.present && iv.verdict.ok) {
		doc_add(d, S_OK, ui->g->ok);
		doc_add(d, S_NORMAL, " ");
		doc_add(d, S_NORMAL, t);
	} else if (def->secret && !iv.present) {
		doc_add(d, S_DIM, "not provided: type it, then Enter (it is never written)");
	} else if (!iv.present && iv.verdict.ok) {
		doc_add(d, S_DIM, "not set (optional)");
	} else {
		doc_add(d, S_ERROR, ui->g->bad);
		doc_add(d, S_ERROR, " ");
		doc_add(d, S_ERROR, iv.verdict.why ? iv.verdict.why : "not valid");
	}
	if (f->note != NULL) {
		doc_add(d, S_DIM, " ");
		doc_add(d, S_DIM, ui->g->dot);
		doc_add(d, S_DIM, " ");
		doc_add(d, S_DIM, f->note);
	}
	free(t);
	input_value_clear(&iv);
}

/* Draw a field's text box; returns the cursor's column when it is the current field. */
static int
field_box(struct ui *ui, int y, int x, int w, const struct ui_field *f, bool current)
{
	const struct input_def *def = &ui->c->inputs[f->input];
	int cw, skip = 0, curcol;

	draw_str(ui, y, x, 1, current ? ui->g->pointer : " ", S_HEADING);
	draw_str(ui, y, x + 2, 1, "[", S_DIM);
	draw_str(ui, y, x + w - 1, 1, "]", S_DIM);
	x++;
	w -= 2;
	draw_fill(ui, y, x + 2, w - 2, S_FIELD);
	if (def->secret || engine_secret_within(ui->e, f->buf) != NULL) {
		size_t chars = 0;
		char stars[UI_FIELD_MAX];

		for (size_t i = 0; i < f->len; i++)
			chars += ((unsigned char)f->buf[i] & 0xc0) != 0x80;
		if (chars > (size_t)(w - 3))
			chars = (size_t)(w - 3);
		memset(stars, '*', chars);
		stars[chars] = '\0';
		draw_str(ui, y, x + 2, w - 3, stars, S_FIELD);
		return x + 2 + (int)chars;
	}
	cw = w - 3;
	curcol = text_width(f->buf, f->cur);
	if (curcol > cw - 1)
		skip = curcol - (cw - 1);
	draw_text(ui, y, x + 2, cw, f->buf, f->len, ui_attr(ui, S_FIELD), skip);
	return x + 2 + curcol - skip;
}

/* Draw the form over the screen, leaving the cursor in the current field. */
void
form_draw(struct ui *ui)
{
	struct ui_form *fm = &ui->form;
	const struct step *st = &ui->c->steps[fm->step];
	int y = 1, x = 1, h = ui->rows - 3, w = ui->cols - 2, iw = w - 4, body = h - 3;
	int first = 0, last = 0, cury = -1, curx;
	struct doc d;
	char *title;

	title = xprintf("Inputs of %s %s %s", st->id, ui->g->dot, st->title);
	draw_box(ui, y, x, h, w, title);
	free(title);
	doc_init(&d, iw);
	for (size_t i = 0; i < fm->n; i++) {
		const struct ui_field *f = &fm->fields[i];
		const struct input_def *def = &ui->c->inputs[f->input];
		char *t;

		if (i == fm->cur)
			first = (int)d.n;
		doc_newline(&d);
		doc_add(&d, S_HEADING, def->label ? def->label : def->name);
		t = xprintf("  %s %s %s%s%s", def->name, ui->g->dot, input_type_name(def->type),
		    !def->secret ? "" : def->type == IT_SECRET ? " (hidden)" : ", secret (hidden)",
		    def->optional ? ", optional" : "");
		doc_add(&d, S_DIM, t);
		free(t);
		doc_newline(&d);
		d.lines[d.n - 1].tag = (int)i;
		field_status(ui, &d, f);
		if (def->help != NULL)
			doc_wrap(&d, S_DIM, 2, def->help);
		if (i == fm->cur)
			last = (int)d.n;
		doc_newline(&d);
	}
	if (first < fm->scroll)
		fm->scroll = first;
	if (last > fm->scroll + body)
		fm->scroll = last - body;
	fm->scroll = doc_clamp(&d, body, fm->scroll);
	doc_draw(ui, &d, y + 1, x + 2, body, iw, fm->scroll);
	for (int r = 0; r < body; r++) {
		size_t li = (size_t)(fm->scroll + r);
		int tag;

		if (li >= d.n || (tag = d.lines[li].tag) < 0)
			continue;
		field_box(ui, y + 1 + r, x + 2, iw, &fm->fields[tag], (size_t)tag == fm->cur);
		if ((size_t)tag == fm->cur)
			cury = y + 1 + r;
	}
	doc_free(&d);
	draw_fill(ui, y + h - 2, x + 1, w - 2, S_NORMAL);
	draw_strf(ui, y + h - 2, x + 2, iw, S_DIM, "%zu of %zu %s Enter saves %s Tab/%s moves "
	    "%s C-y takes a suggestion %s Esc closes", fm->cur + 1, fm->n, ui->g->dot, ui->g->dot,
	    ui->g->up_down, ui->g->dot, ui->g->dot);
	{
		const char *keys[] = { "Enter", "save", "Tab", "next", "S-Tab", "prev", "C-y",
		    "suggestion", "C-u", "clear", "Esc", "close", "F1", "help", NULL };

		draw_keybar(ui, keys);
	}
	if (cury >= 0) {
		/* Leave the cursor where typing goes (drawing the box again finds the column). */
		curx = field_box(ui, cury, x + 2, iw, &fm->fields[fm->cur], true);
		move(cury, curx);
	} else
		move(ui->rows - 1, ui->cols - 1);
}
