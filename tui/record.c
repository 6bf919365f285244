/*
 * record.c: --record FILE and `replay FILE`.
 *
 * Recording works as script(1) does: the wizard forks before it opens anything; the child
 * goes on as the wizard on a new pseudo-terminal, and the parent relays between the real
 * terminal and the pty's master, writing every byte the wizard wrote to the terminal into
 * an asciicast v2 file (asciicast.h) as it passes. So the recording holds exactly what the
 * screen showed, and nothing else: not the keys typed (a secret typed at a prompt is never
 * echoed, so it is in no event), not the environment, not the logs. The parent holds no
 * secret: it wipes its copy of those taken from the environment before it relays.
 *
 * Replaying writes each output event to the terminal at its time (scaled by the speed, gaps
 * cut to the idle limit), with keys to pause, go faster or slower, and quit. A recording is
 * a file from elsewhere: the strings a terminal acts on beyond drawing (OSC, DCS, SOS, PM,
 * APC: titles, the clipboard, queries) and C1 controls are dropped on the way.
 */
#include "config.h"

#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "asciicast.h"
#include "cli.h"
#include "util.h"

#define RECORD_CHUNK 65536
#define REPLAY_MAX_SPEED 64.0
#define REPLAY_MIN_SPEED (1.0 / 64)

struct record {
	int fd;                     /* the recording */
	int master;                 /* the pty's master */
	int slave;                  /* a copy of its slave, so that the master never reads EIO
	                               before the wizard opens it or after it ends */
	pid_t child;                /* the wizard */
	double t0;                  /* the start, on the monotonic clock */
	char carry[4];              /* the start of a UTF-8 character the next read ends */
	size_t ncarry;
	struct strbuf input;        /* keys not yet taken by the pty */
	struct termios saved;
	bool raw;
	sigset_t orig;              /* the signal mask before recording */
};

static volatile sig_atomic_t record_winch, record_chld, record_sig;
static const int record_signals[] = { SIGWINCH, SIGCHLD, SIGTERM, SIGHUP, SIGINT };

/* Seconds on the monotonic clock. */
static double
record_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Note a signal for the relay loop. */
static void
record_on_signal(int sig)
{
	if (sig == SIGWINCH)
		record_winch = 1;
	else if (sig == SIGCHLD)
		record_chld = 1;
	else
		record_sig = sig;
}

/* Write all of buf to fd (blocking). */
static int
record_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The terminal's size, or 80x24 when it says none. */
static void
record_size(int fd, struct winsize *ws)
{
	if (ioctl(fd, TIOCGWINSZ, ws) != 0 || ws->ws_col == 0 || ws->ws_row == 0) {
		memset(ws, 0, sizeof *ws);
		ws->ws_col = 80;
		ws->ws_row = 24;
	}
}

/* Append one event to the recording. */
static void
record_event(struct record *r, const char *code, const char *data, size_t len)
{
	char *line = cast_event_line(record_now() - r->t0, code, data, len);

	/* A recording that cannot be written any more does not stop the wizard. */
	if (r->fd >= 0 && record_write_all(r->fd, line, strlen(line)) != 0) {
		close(r->fd);
		r->fd = -1;
	}
	free(line);
}

/* Output from the wizard: to the terminal, and (whole UTF-8 characters) to the recording. */
static void
record_output(struct record *r, const char *buf, size_t len)
{
	struct strbuf sb = {0};
	size_t cut;

	record_write_all(STDOUT_FILENO, buf, len);
	sb_add(&sb, r->carry, r->ncarry);
	sb_add(&sb, buf, len);
	cut = cast_utf8_cut(sb.s, sb.len);
	r->ncarry = sb.len - cut;
	memcpy(r->carry, sb.s + cut, r->ncarry);
	if (cut > 0)
		record_event(r, "o", sb.s, cut);
	sb_free(&sb);
}

/* The terminal changed size: tell the wizard's pty, and the recording. */
static void
record_resize(struct record *r)
{
	struct winsize ws;
	char size[32];

	record_size(STDOUT_FILENO, &ws);
	ioctl(r->master, TIOCSWINSZ, &ws);
	snprintf(size, sizeof size, "%ux%u", ws.ws_col, ws.ws_row);
	record_event(r, "r", size, strlen(size));
}

/* In the child: the pty's slave becomes the controlling terminal and 0, 1 and 2. */
static void
record_child(struct record *r, const char *slave)
{
	struct sigaction sa;
	int fd;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < nitems(record_signals); i++)
		sigaction(record_signals[i], &sa, NULL);
	sigprocmask(SIG_SETMASK, &r->orig, NULL);
	close(r->fd);
	close(r->master);
	close(r->slave);
	if (setsid() < 0 || (fd = open(slave, O_RDWR)) < 0) {
		fprintf(stderr, "dstack-wizard: --record: cannot open %s: %s\n", slave,
		    strerror(errno));
		_exit(EXIT_FAILED);
	}
	ioctl(fd, TIOCSCTTY, 0);
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	sb_free(&r->input);
	free(r);
}

/* Start recording: see record.h. */
pid_t
record_fork(const char *path, const char *title, struct record **out, char **cause)
{
	struct record *r = xcalloc(1, sizeof *r);
	struct sigaction sa;
	struct winsize ws;
	sigset_t block;
	char slave[128], *line;
	pid_t pid;

	*out = NULL;
	r->master = r->slave = -1;
	if (tcgetattr(STDIN_FILENO, &r->saved) != 0 || !isatty(STDOUT_FILENO)) {
		free(r);
		return set_cause(cause, "--record needs a terminal");
	}
	r->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
	if (r->fd < 0) {
		set_cause(cause, "--record: cannot create %s: %s", path, strerror(errno));
		free(r);
		return -1;
	}
	record_size(STDOUT_FILENO, &ws);
	r->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (r->master < 0 || grantpt(r->master) != 0 || unlockpt(r->master) != 0 ||
	    ptsname_r(r->master, slave, sizeof slave) != 0) {
		set_cause(cause, "--record: cannot open a pseudo-terminal: %s", strerror(errno));
		goto fail;
	}
	r->slave = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (r->slave < 0) {
		set_cause(cause, "--record: cannot open %s: %s", slave, strerror(errno));
		goto fail;
	}
	/* The wizard's terminal starts as this one is: its modes and its size. */
	tcsetattr(r->slave, TCSANOW, &r->saved);
	ioctl(r->slave, TIOCSWINSZ, &ws);
	line = cast_header_line(ws.ws_col, ws.ws_row, time(NULL), title, getenv("TERM"),
	    getenv("SHELL"));
	if (record_write_all(r->fd, line, strlen(line)) != 0) {
		set_cause(cause, "--record: cannot write %s: %s", path, strerror(errno));
		free(line);
		goto fail;
	}
	free(line);

	/* Signals wait, blocked, for ppoll; so none is lost between a check and the wait. */
	sigemptyset(&block);
	for (size_t i = 0; i < nitems(record_signals); i++)
		sigaddset(&block, record_signals[i]);
	sigprocmask(SIG_BLOCK, &block, &r->orig);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = record_on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < nitems(record_signals); i++)
		sigaction(record_signals[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	r->t0 = record_now();
	pid = fork();
	if (pid < 0) {
		set_cause(cause, "--record: fork: %s", strerror(errno));
		sigprocmask(SIG_SETMASK, &r->orig, NULL);
		goto fail;
	}
	if (pid == 0) {
		record_child(r, slave);
		return 0;
	}
	r->child = pid;
	*out = r;
	return pid;
fail:
	if (r->slave >= 0)
		close(r->slave);
	if (r->master >= 0)
		close(r->master);
	close(r->fd);
	unlink(path);
	free(r);
	return -1;
}

/* Read what the wizard wrote; -1 when its side is closed. */
static int
record_read_master(struct record *r)
{
	char buf[RECORD_CHUNK];
	ssize_t n = read(r->master, buf, sizeof buf);

	if (n > 0) {
		record_output(r, buf, (size_t)n);
		return 0;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	return -1;
}

/* Relay until the wizard ends; see record.h. */
int
record_relay(struct record **rp)
{
	struct record *r = *rp;
	struct termios raw;
	struct pollfd pfd[2];
	bool in_open = true, exited = false;
	int status = 0, rc;

	*rp = NULL;
	fcntl(r->master, F_SETFL, fcntl(r->master, F_GETFL) | O_NONBLOCK);
	raw = r->saved;
	cfmakeraw(&raw);
	r->raw = tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0;
	for (;;) {
		if (record_winch) {
			record_winch = 0;
			record_resize(r);
		}
		if (record_sig != 0) {
			kill(r->child, record_sig);
			record_sig = 0;
		}
		if (record_chld) {
			record_chld = 0;
			if (waitpid(r->child, &status, WNOHANG) == r->child)
				exited = true;
		}
		if (exited) {
			/* What it wrote last may still be in the pty. */
			struct pollfd m = { r->master, POLLIN, 0 };

			while (poll(&m, 1, 0) > 0 && (m.revents & POLLIN) &&
			    record_read_master(r) == 0)
				;
			break;
		}
		pfd[0].fd = in_open && r->input.len == 0 ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = r->master;
		pfd[1].events = POLLIN | (r->input.len > 0 ? POLLOUT : 0);
		if (ppoll(pfd, 2, NULL, &r->orig) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[4096];
			ssize_t n = read(STDIN_FILENO, buf, sizeof buf);

			if (n > 0)
				sb_add(&r->input, buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				in_open = false;
		}
		if ((pfd[1].revents & POLLOUT) && r->input.len > 0) {
			ssize_t n = write(r->master, r->input.s, r->input.len);

			if (n > 0) {
				memmove(r->input.s, r->input.s + n, r->input.len - (size_t)n);
				r->input.len -= (size_t)n;
			}
		}
		if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) && record_read_master(r) != 0) {
			/* Cannot be while the slave is open here; never spin on it. */
			while (waitpid(r->child, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
	}
	if (r->ncarry > 0)
		record_event(r, "o", r->carry, r->ncarry);
	if (r->raw)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &r->saved);
	if (r->fd < 0 || close(r->fd) != 0)
		fprintf(stderr, "dstack-wizard: --record: the recording could not be written "
		    "whole\n");
	close(r->master);
	close(r->slave);
	sigprocmask(SIG_SETMASK, &r->orig, NULL);
	sb_free(&r->input);
	free(r);
	if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		rc = 128 + WTERMSIG(status);
	else
		rc = EXIT_FAILED;
	return rc;
}

/* ---- Replay. ---- */

enum replay_state { RF_TEXT, RF_ESC, RF_STRING, RF_STRING_ESC };

struct replay {
	FILE *f;
	const char *path;
	double speed;
	double idle;                /* gaps are cut to this; 0: not */
	bool paused, quit;
	double pos;                 /* where the play is, in (cut) recording seconds */
	double mark;                /* when pos was last advanced (monotonic seconds) */
	enum replay_state fst;
	int tty;                    /* the terminal keys come from, or -1 */
};

/* Move pos on to now. */
static void
replay_tick(struct replay *rp)
{
	double now = record_now();

	if (!rp->paused)
		rp->pos += (now - rp->mark) * rp->speed;
	rp->mark = now;
}

/* Act on the keys typed. */
static void
replay_keys(struct replay *rp)
{
	char buf[64];
	ssize_t n = read(rp->tty, buf, sizeof buf);

	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		rp->tty = -1;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		replay_tick(rp);
		switch (buf[i]) {
		case ' ':
			rp->paused = !rp->paused;
			break;
		case '+':
		case '=':
			if (rp->speed < REPLAY_MAX_SPEED)
				rp->speed *= 2;
			break;
		case '-':
		case '_':
			if (rp->speed > REPLAY_MIN_SPEED)
				rp->speed /= 2;
			break;
		case 'q':
		case 'Q':
		case 0x03:     /* C-c */
			rp->quit = true;
			break;
		}
	}
}

/* Wait, taking keys, until the play reaches at (or the operator quits). */
static void
replay_wait(struct replay *rp, double at)
{
	for (;;) {
		struct pollfd p = { rp->tty, POLLIN, 0 };
		int timeout;

		replay_tick(rp);
		if (rp->quit || (!rp->paused && rp->pos >= at))
			return;
		if (rp->tty < 0)
			rp->paused = false;    /* no keys to resume with */
		timeout = rp->paused ? -1 : (int)((at - rp->pos) / rp->speed * 1000) + 1;
		if (poll(&p, rp->tty >= 0 ? 1 : 0, timeout) > 0)
			replay_keys(rp);
	}
}

/* Write an output event's text, without the strings and controls a terminal acts on beyond
 * drawing. */
static void
replay_write(struct replay *rp, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	struct strbuf sb = {0};

	for (size_t i = 0; i < len; i++) {
		unsigned char c = u[i];

		switch (rp->fst) {
		case RF_TEXT:
			if (c == 0x1b)
				rp->fst = RF_ESC;
			else if (c == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
				i++;    /* a C1 control as UTF-8 */
			else
				sb_addc(&sb, (char)c);
			break;
		case RF_ESC:
			/* ESC ] (OSC), P (DCS), X (SOS), ^ (PM), _ (APC) start a string. */
			if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_')
				rp->fst = RF_STRING;
			else {
				sb_addc(&sb, 0x1b);
				if (c == 0x1b)
					break;
				sb_addc(&sb, (char)c);
				rp->fst = RF_TEXT;
			}
			break;
		case RF_STRING:
			if (c == 0x07)
				rp->fst = RF_TEXT;
			else if (c == 0x1b)
				rp->fst = RF_STRING_ESC;
			break;
		case RF_STRING_ESC:
			rp->fst = c == '\\' ? RF_TEXT : c == 0x1b ? RF_STRING_ESC : RF_STRING;
			break;
		}
	}
	if (sb.len > 0)
		record_write_all(STDOUT_FILENO, sb.s, sb.len);
	sb_free(&sb);
}

/* Play the events, one line at a time. Returns an exit code. */
static int
replay_events(struct replay *rp)
{
	char *line = NULL, *cause = NULL;
	size_t cap = 0;
	ssize_t len;
	double last = 0, at = 0;
	unsigned lineno = 1;
	int rc = EXIT_OK;

	while (!rp->quit && (len = getline(&line, &cap, rp->f)) > 0) {
		struct cast_event ev;
		double gap;

		lineno++;
		if ((size_t)len > CAST_MAX_LINE || cast_parse_event(line, (size_t)len, &ev,
		    &cause) != 0) {
			if (cause == NULL)
				cause = xprintf("a line longer than %d MiB", CAST_MAX_LINE >> 20);
			rc = EXIT_BAD_FILE;
			break;
		}
		gap = ev.time > last ? ev.time - last : 0;
		if (rp->idle > 0 && gap > rp->idle)
			gap = rp->idle;
		at += gap;
		last = ev.time > last ? ev.time : last;
		replay_wait(rp, at);
		if (!rp->quit && strcmp(ev.code, "o") == 0)
			replay_write(rp, ev.data, ev.len);
		cast_event_clear(&ev);
	}
	free(line);
	if (cause != NULL) {
		fprintf(stderr, "\r\ndstack-wizard: replay: %s:%u: %s\r\n", rp->path, lineno, cause);
		free(cause);
	}
	return rc;
}

/* replay FILE: see record.h. */
int
record_replay(const char *path, double speed, double idle)
{
	struct replay rp;
	struct cast_header h;
	struct termios saved, raw;
	struct winsize ws;
	char *line = NULL, *cause = NULL;
	size_t cap = 0;
	ssize_t len;
	bool restore = false;
	int rc;

	memset(&rp, 0, sizeof rp);
	rp.path = path;
	rp.speed = speed > 0 ? speed : 1;
	rp.f = fopen(path, "r");
	if (rp.f == NULL) {
		fprintf(stderr, "dstack-wizard: replay: cannot open %s: %s\n", path, strerror(errno));
		return EXIT_FAILED;
	}
	len = getline(&line, &cap, rp.f);
	if (len <= 0 || (size_t)len > CAST_MAX_LINE ||
	    cast_parse_header(line, (size_t)len, &h, &cause) != 0) {
		fprintf(stderr, "dstack-wizard: replay: %s:1: %s\n", path,
		    cause != NULL ? cause : "no header line");
		free(cause);
		free(line);
		fclose(rp.f);
		return EXIT_BAD_FILE;
	}
	free(line);
	rp.idle = idle > 0 ? idle : h.idle_time_limit;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > 0 && (ws.ws_col < h.width || ws.ws_row < h.height))
		fprintf(stderr, "dstack-wizard: replay: the recording is %ux%u, this terminal "
		    "%ux%u: it may not show right\n", h.width, h.height, ws.ws_col, ws.ws_row);
	cast_header_clear(&h);

	/* Keys one at a time, not echoed; output written as recorded (no CR added). */
	rp.tty = isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
	if (tcgetattr(rp.tty >= 0 ? STDIN_FILENO : STDOUT_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		restore = tcsetattr(rp.tty >= 0 ? STDIN_FILENO : STDOUT_FILENO, TCSADRAIN,
		    &raw) == 0;
	}
	rp.mark = record_now();
	rc = replay_events(&rp);
	if (restore)
		tcsetattr(rp.tty >= 0 ? STDIN_FILENO : STDOUT_FILENO, TCSADRAIN, &saved);
	fclose(rp.f);
	return rc;
}
