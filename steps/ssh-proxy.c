/*
 * ssh-proxy.c: reaching a server through a proxy, as OpenSSH does. ProxyJump runs
 * `ssh [-l USER] [-p PORT] [-J EARLIER,HOPS] [-F CONFIG] -o BatchMode=yes -W [HOST]:PORT LAST`
 * (the last hop connects to the target; the ones before it are its -J); ProxyCommand runs
 * `/bin/sh -c "exec COMMAND"` with %h %p %r %n %% expanded. Either gets one end of a
 * socketpair as its stdin and stdout and libssh2 the other end, which the connection's loop
 * polls like a TCP socket. The proxy runs in a session of its own (no controlling terminal,
 * so it cannot read the operator's; BatchMode keeps the jump host's ssh from asking), its
 * stderr is kept (the last bytes, made printable) for the failure message, and it is reaped
 * when the connection ends; a reconnect starts a new one.
 *
 * ssh_spawn is also how `ssh -G` runs (ssh-target.c). Children get the wizard's environment,
 * which holds no secret: the program took them out of it at start (engine_env_take).
 */
#include "config.h"

#include "ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

#include "ssh-int.h"

#define SSHP_ERRTAIL 2048
#define SSHP_REAP_MS 1000           /* TERM, then KILL after this */

extern char **environ;

struct ssh_proxy {
	struct loop *loop;
	pid_t pid;                   /* -1 once reaped */
	int err_fd;                  /* the proxy's stderr; -1 at its end */
	char *what;                  /* "ProxyJump bastion" / "ProxyCommand ..." */
	char tail[SSHP_ERRTAIL];     /* the last bytes of its stderr */
	size_t tail_len;
};

/* The full path of a program on PATH (or name itself if it has a slash); NULL if none. */
char *
ssh_find_program(const char *name)
{
	const char *path = getenv("PATH"), *p = path != NULL ? path : "/usr/bin:/bin";
	struct stat st;

	if (strchr(name, '/') != NULL)
		return access(name, X_OK) == 0 ? xstrdup(name) : NULL;
	for (;;) {
		size_t n = strcspn(p, ":");
		char *full = n == 0 ? xprintf("./%s", name) : xprintf("%.*s/%s", (int)n, p, name);

		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
			return full;
		free(full);
		if (p[n] == '\0')
			return NULL;
		p += n + 1;
	}
}

/*
 * Start argv[0] (a path) with in, out and err as its fds 0, 1 and 2, in a session of its
 * own, every other fd closed, signals as at birth, and the wizard's environment. Everything
 * it needs is made before fork. Returns the pid, or -1.
 */
pid_t
ssh_spawn(char *const argv[], int in, int out, int err)
{
	char *msg;
	sigset_t all, old;
	pid_t pid;
	int saved;

	msg = xprintf("dstack-wizard: cannot run %s\n", argv[0]);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		sigemptyset(&sa.sa_mask);
		for (int sig = 1; sig < NSIG; sig++)
			sigaction(sig, &sa, NULL);
		if (dup2(err, STDERR_FILENO) < 0 || (in != -1 && dup2(in, STDIN_FILENO) < 0) ||
		    dup2(out, STDOUT_FILENO) < 0)
			_exit(127);
		close_range(3, ~0U, 0);
		setsid();
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execve(argv[0], argv, environ);
		if (write(STDERR_FILENO, msg, strlen(msg)) < 0) {
			/* Nothing more to do. */
		}
		_exit(127);
	}
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(msg);
	errno = saved;
	return pid;
}

/* Bytes from a program, for a message: one line, printable ASCII, others as \xNN. */
char *
ssh_printable(const char *s, size_t len)
{
	struct strbuf sb = {0};
	bool sep = false;

	for (size_t i = 0; s != NULL && i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\n' || ch == '\r') {
			sep = sb.len > 0;
			continue;
		}
		if (sep) {
			sb_adds(&sb, "; ");
			sep = false;
		}
		if (ch == '\t')
			sb_addc(&sb, ' ');
		else if (ch < 0x20 || ch >= 0x7f)
			sb_addf(&sb, "\\x%02x", ch);
		else
			sb_addc(&sb, (char)ch);
	}
	return sb.len > 0 ? sb_detach(&sb) : xstrdup("");
}

/* Split one ProxyJump hop ("[ssh://][user@]host[:port][/]"). */
static int
ssh_proxy_hop(const char *hop, char **user, char **host, int *port, char **cause)
{
	bool uri = str_has_prefix(hop, "ssh://");
	char *h = xstrdup(uri ? hop + 6 : hop);
	size_t n = strlen(h);
	int rc;

	if (uri && n > 0 && h[n - 1] == '/')
		h[n - 1] = '\0';
	rc = ssh_target_split(h, user, host, port, cause);
	free(h);
	return rc;
}

/* Is every hop of a ProxyJump value one ssh would take? */
int
ssh_proxy_jump_check(const char *jump, char **cause)
{
	const char *p = jump;
	char *hop, *user, *host, *why = NULL;
	int port, rc = 0;

	for (;;) {
		size_t n = strcspn(p, ",");

		hop = xstrndup(p, n);
		if (ssh_proxy_hop(hop, &user, &host, &port, &why) != 0) {
			rc = set_cause(cause, "ProxyJump %s: %s", jump, why);
			free(why);
			free(hop);
			return rc;
		}
		free(user);
		free(host);
		free(hop);
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

/* Expand a ProxyCommand's tokens: %h %p %r %n %%. */
char *
ssh_proxy_expand(const char *cmd, const struct ssh_target *t, char **cause)
{
	struct strbuf sb = {0};

	for (const char *p = cmd; *p != '\0'; p++) {
		if (*p != '%') {
			sb_addc(&sb, *p);
			continue;
		}
		switch (*++p) {
		case '%':
			sb_addc(&sb, '%');
			break;
		case 'h':
			sb_adds(&sb, t->hostname);
			break;
		case 'n':
			sb_adds(&sb, t->host);
			break;
		case 'p':
			sb_addf(&sb, "%d", t->port);
			break;
		case 'r':
			sb_adds(&sb, t->user);
			break;
		default:
			set_cause(cause, "ProxyCommand %s: unknown token %%%.1s (ssh knows %%h %%p %%r "
			    "%%n %%%%)", cmd, *p != '\0' ? p : "");
			sb_free(&sb);
			return NULL;
		}
	}
	return sb_detach(&sb);
}

/* Keep the last bytes of the proxy's stderr. */
static void
ssh_proxy_keep(struct ssh_proxy *p, const char *buf, size_t len)
{
	if (len >= SSHP_ERRTAIL) {
		memcpy(p->tail, buf + len - SSHP_ERRTAIL, SSHP_ERRTAIL);
		p->tail_len = SSHP_ERRTAIL;
		return;
	}
	if (p->tail_len + len > SSHP_ERRTAIL) {
		size_t drop = p->tail_len + len - SSHP_ERRTAIL;

		memmove(p->tail, p->tail + drop, p->tail_len - drop);
		p->tail_len -= drop;
	}
	memcpy(p->tail + p->tail_len, buf, len);
	p->tail_len += len;
}

/* Read what the proxy wrote on stderr, without waiting; close it at its end. */
static void
ssh_proxy_drain(struct ssh_proxy *p)
{
	char buf[4096];
	ssize_t n;

	while (p->err_fd != -1) {
		n = read(p->err_fd, buf, sizeof buf);
		if (n > 0) {
			ssh_proxy_keep(p, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		loop_del_fd(p->loop, p->err_fd);
		close(p->err_fd);
		p->err_fd = -1;
	}
}

/* The proxy wrote to stderr. */
static void
ssh_proxy_err_cb(int fd, short revents, void *data)
{
	(void)fd;
	(void)revents;
	ssh_proxy_drain(data);
}

/* Start the proxy of t; *fd is the end for libssh2 (non-blocking, close-on-exec). */
int
ssh_proxy_start(struct loop *l, const struct ssh_target *t, struct ssh_proxy **out, int *fd,
    char **cause)
{
	struct ssh_proxy *p;
	struct strvec argv = {0};
	char *prog = NULL, *cmd = NULL;
	int sp[2], ep[2];

	*out = NULL;
	*fd = -1;
	if (t->proxy_jump != NULL) {
		const char *last = strrchr(t->proxy_jump, ',');
		char *user, *host;
		int port;

		if (ssh_proxy_hop(last != NULL ? last + 1 : t->proxy_jump, &user, &host, &port,
		    cause) != 0)
			return -1;
		prog = ssh_find_program("ssh");
		if (prog == NULL) {
			free(user);
			free(host);
			return set_cause(cause, "ProxyJump %s needs ssh (OpenSSH's client), which is "
			    "not installed (openssh-client)", t->proxy_jump);
		}
		sv_push(&argv, prog);
		if (user != NULL) {
			sv_push(&argv, "-l");
			sv_push(&argv, user);
		}
		if (port > 0) {
			sv_push(&argv, "-p");
			sv_push_take(&argv, xprintf("%d", port));
		}
		if (last != NULL) {
			sv_push(&argv, "-J");
			sv_push_take(&argv, xstrndup(t->proxy_jump, (size_t)(last - t->proxy_jump)));
		}
		if (t->config != NULL) {
			sv_push(&argv, "-F");
			sv_push(&argv, t->config);
		}
		sv_push(&argv, "-o");
		sv_push(&argv, "BatchMode=yes");
		sv_push(&argv, "-W");
		sv_push_take(&argv, xprintf("[%s]:%d", t->hostname, t->port));
		sv_push(&argv, "--");
		sv_push(&argv, host);
		free(user);
		free(host);
	} else {
		if ((cmd = ssh_proxy_expand(t->proxy_command, t, cause)) == NULL)
			return -1;
		prog = xstrdup("/bin/sh");
		sv_push(&argv, prog);
		sv_push(&argv, "-c");
		sv_push_take(&argv, xprintf("exec %s", cmd));
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
		set_cause(cause, "socketpair: %s", strerror(errno));
		goto fail;
	}
	if (pipe2(ep, O_CLOEXEC | O_NONBLOCK) != 0) {
		set_cause(cause, "pipe: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		goto fail;
	}
	p = xcalloc(1, sizeof *p);
	p->loop = l;
	p->what = t->proxy_jump != NULL ? xprintf("ProxyJump %s", t->proxy_jump) :
	    xprintf("ProxyCommand %s", cmd);
	p->pid = ssh_spawn(argv.v, sp[1], sp[1], ep[1]);
	close(sp[1]);
	close(ep[1]);
	if (p->pid < 0) {
		set_cause(cause, "cannot start %s: %s", prog, strerror(errno));
		close(sp[0]);
		close(ep[0]);
		free(p->what);
		free(p);
		goto fail;
	}
	p->err_fd = ep[0];
	loop_add_fd(l, p->err_fd, POLLIN, ssh_proxy_err_cb, p);
	fcntl(sp[0], F_SETFL, fcntl(sp[0], F_GETFL) | O_NONBLOCK);
	*fd = sp[0];
	*out = p;
	sv_free(&argv);
	free(prog);
	free(cmd);
	return 0;
fail:
	sv_free(&argv);
	free(prog);
	free(cmd);
	return -1;
}

/* What the proxy is, for messages: "ProxyJump HOPS" or "ProxyCommand COMMAND". */
const char *
ssh_proxy_what(const struct ssh_proxy *p)
{
	return p->what;
}

/* What the proxy said on stderr so far, on one printable line ("" if nothing). */
char *
ssh_proxy_stderr(struct ssh_proxy *p)
{
	ssh_proxy_drain(p);
	return ssh_printable(p->tail, p->tail_len);
}

/* Stop the proxy: its stderr closed, TERM to its process group, reaped (KILL if it lingers). */
void
ssh_proxy_stop(struct ssh_proxy **pp)
{
	struct ssh_proxy *p = *pp;
	uint64_t until;

	if (p == NULL)
		return;
	*pp = NULL;
	if (p->err_fd != -1) {
		loop_del_fd(p->loop, p->err_fd);
		close(p->err_fd);
	}
	kill(p->pid, SIGTERM);      /* before its setsid, -pid is no group yet */
	kill(-p->pid, SIGTERM);
	until = now_ms() + SSHP_REAP_MS;
	for (;;) {
		pid_t got = waitpid(p->pid, NULL, WNOHANG);

		if (got == p->pid || (got < 0 && errno != EINTR))
			break;
		if (got == 0 && now_ms() >= until) {
			kill(p->pid, SIGKILL);
			kill(-p->pid, SIGKILL);
			while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
				;
			break;
		}
		if (got == 0)
			usleep(1000);
	}
	free(p->what);
	free(p);
}
