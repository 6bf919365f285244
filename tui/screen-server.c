/*
 * screen-server.c: the server screen (S in the overview; Enter on the refusal of a server
 * step when no server is set). Five fields say how the wizard reaches the TDX host: host,
 * user, port, the SSH key file (empty: ssh-agent, then ssh's IdentityFiles) and the
 * known_hosts file (empty: ssh's). Save keeps them in the profile (engine_set_server); Test
 * saves, then runs the pre-flight (the one `preflight` and the first server step run) and
 * shows each of its items, with the fix of each that failed. An unknown host key is asked
 * about in the SSH dialog over this screen, as everywhere. The screen also says what the
 * target is for, against server_ip: the public address written into DNS and configurations.
 */
#include "config.h"

#include "ui.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

enum { SRV_HOST, SRV_USER, SRV_PORT, SRV_IDENTITY, SRV_KNOWN_HOSTS, SRV_SAVE, SRV_TEST,
	SRV_N };

static const char *const srv_labels[] = { "Host", "User", "Port", "SSH key file",
	"known_hosts file" };
static const char *const srv_helps[] = {
	"an address, a name, an ssh config Host alias; local: this machine; empty: none",
	"empty: the ssh config's User, else your login name",
	"empty: the ssh config's Port, else 22",
	"empty: ssh-agent, then the IdentityFiles ssh -G gives (ed25519 or ECDSA)",
	"empty: the UserKnownHostsFiles ssh -G gives (~/.ssh/known_hosts)",
};

/* Put text into a field. */
static void
srv_set(struct ui *ui, int f, const char *text)
{
	snprintf(ui->server.buf[f], sizeof ui->server.buf[f], "%s", text != NULL ? text : "");
	ui->server.len[f] = strlen(ui->server.buf[f]);
}

/* Open the server screen on what the profile holds. */
unsigned
server_open(struct ui *ui)
{
	struct engine_server es;
	char *user = NULL, *host = NULL, *cause = NULL, port[16] = "";
	int p = 0;

	engine_server(ui->e, &es);
	for (int f = 0; f < SRV_SAVE; f++)
		srv_set(ui, f, NULL);
	if (es.target != NULL && strcmp(es.target, "local") == 0)
		srv_set(ui, SRV_HOST, "local");
	else if (es.target != NULL && ssh_target_split(es.target, &user, &host, &p, &cause) == 0) {
		srv_set(ui, SRV_HOST, host);
		srv_set(ui, SRV_USER, user);
		if (p > 0)
			snprintf(port, sizeof port, "%d", p);
		srv_set(ui, SRV_PORT, port);
	} else
		srv_set(ui, SRV_HOST, es.target);
	free(cause);
	free(user);
	free(host);
	srv_set(ui, SRV_IDENTITY, es.identity);
	srv_set(ui, SRV_KNOWN_HOSTS, es.known_hosts);
	ui->server.cur = SRV_HOST;
	if (ui->screen != SCREEN_SERVER)
		ui->server.back = ui->screen;
	ui->screen = SCREEN_SERVER;
	ui->modal = MODAL_NONE;
	return UI_REDRAW;
}

/* Forget the last pre-flight (and stop it if it runs). */
void
server_close(struct ui *ui)
{
	remote_preflight_free(&ui->server.pf);
	freep(&ui->server.report);
	ui->server.testing = false;
}

/* The target the fields say: "[user@]host[:port]", "local", or "" for none; allocated. */
static char *
srv_target(struct ui *ui, char **cause)
{
	const char *host = ui->server.buf[SRV_HOST], *user = ui->server.buf[SRV_USER];
	const char *port = ui->server.buf[SRV_PORT];
	bool v6 = strchr(host, ':') != NULL;
	char *end;
	long p;

	if (*host == '\0' || strcmp(host, "local") == 0) {
		if (*user != '\0' || *port != '\0') {
			set_cause(cause, "a user or a port needs a host");
			return NULL;
		}
		return xstrdup(host);
	}
	if (*port != '\0') {
		p = strtol(port, &end, 10);
		if (*end != '\0' || p < 1 || p > 65535) {
			set_cause(cause, "the port is a number from 1 to 65535");
			return NULL;
		}
	}
	return xprintf("%s%s%s%s%s%s%s", user, *user ? "@" : "", v6 && *port ? "[" : "", host,
	    v6 && *port ? "]" : "", *port ? ":" : "", port);
}

/* Save the fields in the profile; the new connection gets the SSH questions. */
static int
srv_save(struct ui *ui)
{
	struct engine_server es;
	char *t, *cause = NULL;

	if (ui->server.testing) {
		ui_message(ui, S_ERROR, "the pre-flight is running: wait for it");
		return -1;
	}
	server_close(ui);
	if ((t = srv_target(ui, &cause)) == NULL) {
		ui_message(ui, S_ERROR, "not saved: %s", cause);
		free(cause);
		return -1;
	}
	es.target = t;
	es.identity = ui->server.buf[SRV_IDENTITY];
	es.known_hosts = ui->server.buf[SRV_KNOWN_HOSTS];
	if (engine_set_server(ui->e, &es, &cause) != 0) {
		ui_message(ui, S_ERROR, "not saved: %s", cause);
		free(cause);
		free(t);
		return -1;
	}
	if (engine_remote(ui->e) != NULL) {
		struct ssh_cbs cbs = { ssh_dialog_hostkey, ssh_dialog_passphrase, NULL, ui };

		remote_set_cbs(engine_remote(ui->e), &cbs);
	}
	engine_server(ui->e, &es);
	ui->target = engine_remote(ui->e) != NULL ? remote_label(engine_remote(ui->e)) :
	    es.target;
	if (*t == '\0')
		ui_message(ui, S_OK, "saved: no server (server steps cannot run)");
	else if (strcmp(t, "local") == 0)
		ui_message(ui, S_OK, "saved: server steps run on this machine");
	else
		ui_message(ui, S_OK, "saved: server %s%s", remote_label(engine_remote(ui->e)),
		    engine_is_demo(ui->e) ? " (for this session: a demo started again takes its "
		    "target from --target only)" : "");
	free(t);
	return 0;
}

/* The pre-flight ended: keep its report for the screen (and for the support bundle). */
static void
srv_preflight_done(void *data, bool ok, const char *report)
{
	struct ui *ui = data;

	engine_note_preflight(ui->e, ok, report);
	free(ui->server.report);
	ui->server.report = xstrdup(report);
	ui->server.testing = false;
	if (!ok && remote_hostkey_refused(engine_remote(ui->e)))
		ui_message(ui, S_ERROR, "the pre-flight failed: the host key was refused");
	else
		ui_message(ui, ok ? S_OK : S_ERROR, "%s", ok ? "the server is ready for the wizard" :
		    "the pre-flight failed: fix the items marked with a cross, then test again");
	ui->dirty |= UI_REDRAW;
}

/* Save, then run the pre-flight. */
static unsigned
srv_test(struct ui *ui)
{
	struct remote *r;

	if (srv_save(ui) != 0)
		return UI_REDRAW;
	if ((r = engine_remote(ui->e)) == NULL) {
		ui_message(ui, S_NORMAL, "%s", ui->target != NULL ? "the server steps run on this "
		    "machine: there is no SSH connection to test" : "no server to test: give a host");
		return UI_REDRAW;
	}
	ui->server.testing = true;
	ui_message(ui, S_NORMAL, "testing %s%s", remote_label(r), ui->g->ellipsis);
	ui->server.pf = remote_preflight(r, srv_preflight_done, ui);
	return UI_REDRAW;
}

/* The screen's text above and below the fields. */
static void
srv_doc_intro(struct ui *ui, struct doc *d)
{
	int idx = chain_input_index(ui->c, ENGINE_SERVER_IP_INPUT);

	doc_newline(d);
	doc_wrap(d, S_NORMAL, 0, "The SSH target: where the wizard runs the server steps, over "
	    "SSH, as this user. ssh -G resolves it as ssh would (your ssh config's Host, Match, "
	    "ProxyJump apply). Its host key is checked against the known_hosts file; an unknown "
	    "one is shown and trusted only after a yes.");
	if (idx < 0)
		return;
	doc_newline(d);
	doc_wrap(d, S_NORMAL, 0, "server_ip, an input of the steps, is another thing: the "
	    "server's public IP address, written into DNS records and configurations. When the "
	    "host here is an IP address and server_ip is not set, server_ip is that address.");
	{
		struct input_value iv;
		char *t;

		engine_input(ui->e, (size_t)idx, &iv);
		t = iv.present ? xprintf("server_ip = %s (%s)", iv.value, iv.source == SRC_DEFAULT ?
		    "from the SSH target" : value_source_name(iv.source)) :
		    xstrdup("server_ip: not set (e edits it on a step that uses it)");
		doc_wrap(d, iv.present ? S_HEADING : S_DIM, 2, t);
		free(t);
		input_value_clear(&iv);
	}
}

/* The pre-flight's items: a mark, the item, and the fix of a failed one. */
static void
srv_doc_report(struct ui *ui, struct doc *d)
{
	const char *p = ui->server.report;

	doc_newline(d);
	doc_newline(d);
	doc_add(d, S_HEADING, "Pre-flight");
	if (ui->server.testing) {
		doc_addf(d, S_DIM, "  running%s", ui->g->ellipsis);
		return;
	}
	if (p == NULL) {
		doc_add(d, S_DIM, "  (Test runs it: the connection, sudo, the OS, the clock, the disk)");
		return;
	}
	while (*p != '\0') {
		size_t n = strcspn(p, "\n");
		char *line = xstrndup(p, n), *t;

		if (str_has_prefix(line, "ok ")) {
			t = xprintf("%s %s", ui->g->ok, line + strspn(line + 2, " ") + 2);
			doc_hang(d, S_DONE, 2, 2, t);
		} else if (str_has_prefix(line, "warn ")) {
			t = xprintf("%s %s", ui->g->warn, line + 5);
			doc_hang(d, S_STALE, 2, 2, t);
		} else if (str_has_prefix(line, "FAIL ")) {
			t = xprintf("%s %s", ui->g->bad, line + 5);
			doc_hang(d, S_FAILED, 2, 2, t);
		} else {
			t = xstrdup(line + strspn(line, " "));
			doc_hang(d, S_NORMAL, 4, 2, t);
		}
		free(t);
		free(line);
		p += n + (p[n] == '\n');
	}
}

/* Draw the server screen. */
void
server_draw(struct ui *ui)
{
	struct doc d;
	int y = 1, lw = 18, fw, x;

	draw_bar(ui, 0, "Server: how the wizard reaches the TDX host", "", S_TITLE);
	doc_init(&d, ui->cols - 2);
	srv_doc_intro(ui, &d);
	doc_draw(ui, &d, y, 1, (int)d.n, ui->cols - 2, 0);
	y += (int)d.n + 1;
	doc_free(&d);
	fw = ui->cols - lw - 6;
	if (fw > 60)
		fw = 60;
	for (int f = 0; f < SRV_SAVE; f++) {
		bool cur = ui->server.cur == f;

		draw_str(ui, y, 1, 1, cur ? ui->g->pointer : " ", S_HEADING);
		draw_str(ui, y, 3, lw, srv_labels[f], cur ? S_HEADING : S_NORMAL);
		draw_fill(ui, y, 3 + lw, fw, S_FIELD);
		draw_str(ui, y, 3 + lw, fw, ui->server.buf[f], S_FIELD);
		draw_str(ui, y + 1, 3 + lw, ui->cols - lw - 4, srv_helps[f], S_DIM);
		y += 2;
	}
	y++;
	x = 3 + lw;
	for (int f = SRV_SAVE; f < SRV_N; f++) {
		bool cur = ui->server.cur == f;
		char *b = xprintf("%s %s ", cur ? ui->g->pointer : " ", f == SRV_SAVE ? "Save" :
		    "Test");

		x += draw_str(ui, y, x, 10, b, cur ? S_SELECTED : S_BAR) + 3;
		free(b);
	}
	y += 1;
	doc_init(&d, ui->cols - 2);
	srv_doc_report(ui, &d);
	doc_draw(ui, &d, y, 1, ui->rows - 2 - y, ui->cols - 2, 0);
	doc_free(&d);
	draw_msgline(ui);
	{
		const char *keys[] = { "Tab", "next", "Enter", ui->server.cur == SRV_TEST ? "test" :
		    "save", "C-t", "save+test", "C-u", "clear", "Esc", "back", "F1", "help", NULL };

		draw_keybar(ui, keys);
	}
}

/* Keys of the server screen. */
unsigned
server_key(struct ui *ui, struct ui_key k)
{
	int f = ui->server.cur;

	if (KEY_IS(k, '\033')) {
		ui->screen = ui->server.back;
		return UI_REDRAW;
	}
	if (KEY_IS(k, '\t') || KEY_FN(k, KEY_DOWN)) {
		ui->server.cur = (f + 1) % SRV_N;
		return UI_REDRAW;
	}
	if (KEY_FN(k, KEY_BTAB) || KEY_FN(k, KEY_UP)) {
		ui->server.cur = (f + SRV_N - 1) % SRV_N;
		return UI_REDRAW;
	}
	if (KEY_IS(k, KEY_CTRL('t')) || (f == SRV_TEST && (KEY_IS(k, '\r') || KEY_IS(k, '\n') ||
	    KEY_FN(k, KEY_ENTER))))
		return srv_test(ui);
	if (KEY_IS(k, '\r') || KEY_IS(k, '\n') || KEY_FN(k, KEY_ENTER)) {
		srv_save(ui);
		return UI_REDRAW;
	}
	if (f >= SRV_SAVE)
		return 0;
	if (KEY_FN(k, KEY_BACKSPACE) || KEY_IS(k, 0x7f) || KEY_IS(k, KEY_CTRL('h'))) {
		while (ui->server.len[f] > 0 &&
		    ((unsigned char)ui->server.buf[f][--ui->server.len[f]] & 0xc0) == 0x80)
			;
		ui->server.buf[f][ui->server.len[f]] = '\0';
		return UI_REDRAW;
	}
	if (KEY_IS(k, KEY_CTRL('u'))) {
		srv_set(ui, f, NULL);
		return UI_REDRAW;
	}
	if (!k.fn && k.c > 0x20 && k.c != 0x7f) {
		char mb[MB_LEN_MAX];
		mbstate_t ps;
		size_t n;

		memset(&ps, 0, sizeof ps);
		n = wcrtomb(mb, (wchar_t)k.c, &ps);
		if (n != (size_t)-1 && ui->server.len[f] + n < sizeof ui->server.buf[f]) {
			memcpy(ui->server.buf[f] + ui->server.len[f], mb, n);
			ui->server.len[f] += n;
			ui->server.buf[f][ui->server.len[f]] = '\0';
		}
		return UI_REDRAW;
	}
	return 0;
}
