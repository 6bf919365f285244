/*
 * ssh-conn.c: one connection to a server, driven by the loop (see ssh-int.h for its data
 * model). A connection walks resolve (getaddrinfo_a, polled from a timer) -> TCP connect
 * (non-blocking, TCP_NODELAY, TCP keepalive) -> SSH handshake -> host key check ->
 * authentication (ssh-auth.c) -> ready, then pumps its jobs (ssh-job.c). Every libssh2 call
 * is non-blocking: EAGAIN and libssh2_session_block_directions() choose the events the loop
 * watches.
 *
 * End callbacks and job frees never happen inside the pump: the pump only marks jobs, and
 * settle() (at the end of every loop callback) calls the end callbacks and frees jobs whose
 * channel is gone. A lost connection fails running jobs ("connection lost"), keeps
 * supervised ones for re-attaching, and reconnects with backoff while anything needs it.
 */
#include "config.h"

#include "ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <unistd.h>

#include <libssh2.h>

#include "loop.h"
#include "util.h"

#include "ssh-int.h"

static void ssh_begin(struct ssh_conn *c);
static void ssh_sock_cb(int fd, short revents, void *data);
static void ssh_session_start(struct ssh_conn *c);
static void ssh_really_free(struct ssh_conn *c);

/* Change the state and tell the caller. */
void
ssh_set_state(struct ssh_conn *c, enum ssh_state st, const char *message)
{
	if (c->state == st && message == NULL)
		return;
	c->state = st;
	if (c->cbs.state != NULL)
		c->cbs.state(c->cbs.data, c, st, message);
}

/* libssh2's last error message. */
const char *
ssh_errmsg(struct ssh_conn *c)
{
	char *msg = NULL;

	if (c->s == NULL)
		return "no session";
	libssh2_session_last_error(c->s, &msg, NULL, 0);
	return msg != NULL && *msg != '\0' ? msg : "unknown error";
}

/* Does this libssh2 error mean the connection itself is gone? */
bool
ssh_session_error(int rc)
{
	switch (rc) {
	case LIBSSH2_ERROR_SOCKET_NONE:
	case LIBSSH2_ERROR_BANNER_RECV:
	case LIBSSH2_ERROR_BANNER_SEND:
	case LIBSSH2_ERROR_INVALID_MAC:
	case LIBSSH2_ERROR_KEX_FAILURE:
	case LIBSSH2_ERROR_ALLOC:
	case LIBSSH2_ERROR_SOCKET_SEND:
	case LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE:
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_DECRYPT:
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_PROTO:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_ENCRYPT:
	case LIBSSH2_ERROR_BAD_SOCKET:
		return true;
	default:
		return false;
	}
}

/* Arm (or re-arm) a one-shot timer held in *id. */
void
ssh_timer(struct ssh_conn *c, uint64_t *id, uint64_t ms, loop_timer_cb cb, void *data)
{
	if (*id != 0)
		loop_del_timer(c->loop, *id);
	*id = loop_add_timer(c->loop, ms, cb, data);
}

/* Delete the timer held in *id. */
void
ssh_untimer(struct ssh_conn *c, uint64_t *id)
{
	if (*id != 0)
		loop_del_timer(c->loop, *id);
	*id = 0;
}

/* Wipe and free a string that may be secret. */
void
ssh_wipe(char **p, size_t len)
{
	if (*p == NULL)
		return;
	explicit_bzero(*p, len);
	free(*p);
	*p = NULL;
}

/*
 * For a failure message: " (through PROXY, which said: ...)", or "" without a proxy;
 * allocated. Call it before the teardown, which stops the proxy.
 */
static char *
ssh_proxy_note(struct ssh_conn *c)
{
	char *err, *note;

	if (c->proxy == NULL)
		return xstrdup("");
	err = ssh_proxy_stderr(c->proxy);
	if (*err != '\0')
		note = xprintf(" (through %s, which said: %s)", ssh_proxy_what(c->proxy), err);
	else
		note = xprintf(" (through %s)", ssh_proxy_what(c->proxy));
	free(err);
	return note;
}

/* ---------------------------------------------------------------- connection */

/* Close the socket and free the session; channels die with it. */
static void
ssh_teardown(struct ssh_conn *c, bool graceful)
{
	struct tjob *j;

	ssh_untimer(c, &c->keepalive_timer);
	ssh_untimer(c, &c->resolve_timer);
	if (c->agent != NULL) {
		libssh2_agent_disconnect(c->agent);
		libssh2_agent_free(c->agent);
		c->agent = NULL;
	}
	if (c->s != NULL) {
		if (graceful && c->phase == CP_READY)
			libssh2_session_disconnect(c->s, "bye");
		/* With the socket shut down no libssh2 call can wait: sends fail, reads see EOF. */
		if (c->fd != -1)
			shutdown(c->fd, SHUT_RDWR);
		libssh2_session_free(c->s);
		c->s = NULL;
	}
	TAILQ_FOREACH(j, &c->jobs, entry)
		j->ch = NULL;
	if (c->fd != -1) {
		if (c->fd_watched)
			loop_del_fd(c->loop, c->fd);
		close(c->fd);
	}
	c->fd = -1;
	c->fd_watched = false;
	ssh_proxy_stop(&c->proxy);
	c->owner = NULL;
	c->owner_op = OP_NONE;
	c->opener = NULL;
	c->active = 0;
	free(c->hostkey);
	c->hostkey = NULL;
	c->hostkey_len = 0;
	ssh_wipe(&c->passphrase, c->passphrase != NULL ? strlen(c->passphrase) : 0);
	free(c->key_cur);
	c->key_cur = NULL;
	sv_free(&c->keys);
	sb_free(&c->auth_notes);
}

/* Forget the resolver's state (waiting for a lookup still running, if it must). */
static void
ssh_resolve_clear(struct ssh_conn *c)
{
	ssh_untimer(c, &c->resolve_timer);
	if (c->gai != NULL) {
		if (gai_error(c->gai) == EAI_INPROGRESS && gai_cancel(c->gai) == EAI_NOTCANCELED) {
			const struct gaicb *list[1] = { c->gai };
			struct timespec ts = { 5, 0 };

			gai_suspend(list, 1, &ts);
		}
		if (gai_error(c->gai) == EAI_INPROGRESS) {
			c->gai = NULL;   /* still running: leave it to glibc rather than free it */
		} else {
			if (c->gai->ar_result != NULL)
				freeaddrinfo(c->gai->ar_result);
			free((char *)(uintptr_t)c->gai->ar_name);
			free((char *)(uintptr_t)c->gai->ar_service);
			free((void *)(uintptr_t)c->gai->ar_request);
			free(c->gai);
			c->gai = NULL;
		}
	}
	if (c->ai != NULL && !c->ai_from_gai)
		freeaddrinfo(c->ai);
	c->ai = NULL;
	c->ai_cur = NULL;
	c->ai_from_gai = false;
}

/* May a failure of this kind be retried while reconnecting? */
static bool
ssh_retryable(enum ssh_failure kind)
{
	return kind == SSH_FAIL_RESOLVE || kind == SSH_FAIL_CONNECT ||
	    kind == SSH_FAIL_HANDSHAKE || kind == SSH_FAIL_LOST;
}

/* The reconnect timer fired. */
static void
ssh_retry_cb(void *data)
{
	struct ssh_conn *c = data;

	c->retry_timer = 0;
	c->depth++;
	if (c->phase == CP_WAIT_RETRY)
		ssh_begin(c);
	c->depth--;
	ssh_settle(c);
}

/* Schedule the next reconnect attempt; false if the time is up. */
static bool
ssh_schedule_retry(struct ssh_conn *c, const char *why)
{
	static const unsigned delays[] = { 100, 500, 1000, 2000, 5000 };
	unsigned delay = delays[c->attempt < nitems(delays) ? c->attempt : nitems(delays) - 1];
	uint64_t window = c->o.reconnect_ms;
	char *msg;

	if (now_ms() - c->lost_at + delay > window)
		return false;
	c->attempt++;
	c->phase = CP_WAIT_RETRY;
	ssh_timer(c, &c->retry_timer, delay, ssh_retry_cb, c);
	msg = xprintf("%s; reconnecting to %s (attempt %u)", why, c->label, c->attempt);
	ssh_set_state(c, SSH_STATE_RECONNECTING, msg);
	free(msg);
	return true;
}

/* The connection attempt failed: retry if reconnecting and allowed, else fail every job. */
void
ssh_fail(struct ssh_conn *c, enum ssh_failure kind, const char *fmt, ...)
{
	struct tjob *j;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvprintf(fmt, ap);
	va_end(ap);
	ssh_untimer(c, &c->timeout_timer);
	ssh_teardown(c, false);
	ssh_resolve_clear(c);
	c->failure = kind;
	free(c->fail_msg);
	c->fail_msg = xstrdup(msg);
	if (c->reconnecting && ssh_retryable(kind) && ssh_schedule_retry(c, msg)) {
		free(msg);
		return;
	}
	if (c->reconnecting) {
		char *m = xprintf("connection to %s lost and not re-established within %u s: %s",
		    c->label, c->o.reconnect_ms / 1000, msg);

		free(msg);
		msg = m;
		free(c->fail_msg);
		c->fail_msg = xstrdup(msg);
	}
	c->reconnecting = false;
	c->phase = CP_FAILED;
	TAILQ_FOREACH(j, &c->jobs, entry) {
		if (j->phase == J_QUEUED || j->phase == J_DETACHED) {
			ssh_job_end(j, TJOB_FAILED, -1, msg);
			ssh_job_done(j);
		}
	}
	ssh_set_state(c, SSH_STATE_FAILED, msg);
	free(msg);
}

/* The ready connection dropped. */
void
ssh_lost(struct ssh_conn *c, const char *why)
{
	struct tjob *j;
	bool wanted = false;
	char *msg, *note;

	if (c->phase != CP_READY)
		return;
	note = ssh_proxy_note(c);
	msg = xprintf("connection to %s lost%s: %s", c->label, note, why);
	free(note);
	ssh_teardown(c, false);
	TAILQ_FOREACH(j, &c->jobs, entry) {
		switch (j->phase) {
		case J_QUEUED:
			if (j->kind != JK_PING)
				wanted = true;
			else
				ssh_job_done(j);
			break;
		case J_OPEN:
		case J_EXEC:
		case J_IO:
		case J_CLOSE:
			if (j->kind == JK_USER && j->supervised && !j->end_set) {
				j->phase = J_DETACHED;
				ssh_drop_input(j);
				wanted = true;
			} else if (j->kind == JK_KILL || j->kind == JK_CLEAN) {
				j->phase = J_QUEUED;   /* still to do after the reconnect */
				ssh_drop_input(j);
				wanted = true;
			} else {
				ssh_job_end(j, TJOB_FAILED, -1, msg);
				ssh_job_done(j);
			}
			break;
		case J_FREE:
			ssh_job_done(j);
			break;
		case J_DETACHED:
			wanted = true;
			break;
		default:
			break;
		}
	}
	c->failure = SSH_FAIL_LOST;
	free(c->fail_msg);
	c->fail_msg = xstrdup(msg);
	if (wanted) {
		c->reconnecting = true;
		c->lost_at = now_ms();
		c->attempt = 0;
		if (!ssh_schedule_retry(c, msg))
			ssh_fail(c, SSH_FAIL_LOST, "%s", msg);
	} else {
		c->phase = CP_IDLE;
		ssh_set_state(c, SSH_STATE_IDLE, msg);
	}
	free(msg);
}

/* Connecting took too long. */
void
ssh_timeout_cb(void *data)
{
	struct ssh_conn *c = data;

	c->timeout_timer = 0;
	c->depth++;
	if (c->phase >= CP_RESOLVE && c->phase <= CP_AUTH && c->phase != CP_ASK_HOSTKEY) {
		char *note = ssh_proxy_note(c);

		ssh_fail(c, SSH_FAIL_CONNECT, "timed out after %u s connecting to %s%s",
		    c->o.connect_timeout_ms / 1000, c->label, note);
		free(note);
	}
	c->depth--;
	ssh_settle(c);
}

/* Set TCP options on the socket. */
void
ssh_sockopts(int fd)
{
	int one = 1, idle = 30, intvl = 10, cnt = 3;
	unsigned user_timeout = 60000;

	/* A reused session's exec costs ~12 ms with NODELAY, ~54 ms without (Nagle). */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
}

/* Try the next address; fail when none is left. */
static void
ssh_connect_next(struct ssh_conn *c)
{
	for (; c->ai_cur != NULL; c->ai_cur = c->ai_cur->ai_next) {
		struct addrinfo *ai = c->ai_cur;
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);

		if (fd < 0) {
			free(c->connect_err);
			c->connect_err = xstrdup(strerror(errno));
			continue;
		}
		ssh_sockopts(fd);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			c->fd = fd;
			c->phase = CP_CONNECT;
			loop_add_fd(c->loop, fd, POLLOUT, ssh_sock_cb, c);
			c->fd_watched = true;
			return;
		}
		free(c->connect_err);
		c->connect_err = xstrdup(strerror(errno));
		close(fd);
	}
	ssh_fail(c, SSH_FAIL_CONNECT, "cannot connect to %s: %s", c->label,
	    c->connect_err != NULL ? c->connect_err : "no address");
}

/* The addresses are known: connect. */
static void
ssh_resolved(struct ssh_conn *c, struct addrinfo *ai, bool from_gai)
{
	c->ai = ai;
	c->ai_from_gai = from_gai;
	c->ai_cur = ai;
	free(c->connect_err);
	c->connect_err = NULL;
	ssh_connect_next(c);
}

/* Poll the asynchronous lookup. */
static void
ssh_resolve_cb(void *data)
{
	struct ssh_conn *c = data;
	int rc;

	c->resolve_timer = 0;
	c->depth++;
	rc = gai_error(c->gai);
	if (rc == EAI_INPROGRESS) {
		c->resolve_timer = loop_add_timer(c->loop, SSH_RESOLVE_POLL_MS, ssh_resolve_cb, c);
	} else if (rc != 0) {
		ssh_fail(c, SSH_FAIL_RESOLVE, "cannot resolve %s: %s", c->t.hostname, gai_strerror(rc));
	} else
		ssh_resolved(c, c->gai->ar_result, true);
	c->depth--;
	ssh_settle(c);
}

/* Start the proxy; its end of the socketpair stands for the TCP connection. */
static void
ssh_proxy_begin(struct ssh_conn *c)
{
	char *cause = NULL;

	if (ssh_proxy_start(c->loop, &c->t, &c->proxy, &c->fd, &cause) != 0) {
		ssh_fail(c, SSH_FAIL_CONNECT, "cannot reach %s: %s", c->label, cause);
		free(cause);
		return;
	}
	loop_add_fd(c->loop, c->fd, POLLIN, ssh_sock_cb, c);
	c->fd_watched = true;
	ssh_session_start(c);
	ssh_kick(c);
}

/* Start a connection attempt. */
static void
ssh_begin(struct ssh_conn *c)
{
	struct addrinfo hints, *res = NULL;
	char port[16];
	struct sigevent sev;
	int rc;

	ssh_untimer(c, &c->retry_timer);
	ssh_teardown(c, false);
	ssh_resolve_clear(c);
	c->failure = SSH_FAIL_NONE;
	c->phase = CP_RESOLVE;
	if (!c->reconnecting)
		ssh_set_state(c, SSH_STATE_CONNECTING, NULL);
	ssh_timer(c, &c->timeout_timer, c->o.connect_timeout_ms, ssh_timeout_cb, c);

	if (c->t.proxy_jump != NULL || c->t.proxy_command != NULL) {
		ssh_proxy_begin(c);
		return;
	}
	snprintf(port, sizeof port, "%d", c->t.port);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(c->t.hostname, port, &hints, &res);
	if (rc == 0) {
		ssh_resolved(c, res, false);
		return;
	}
	/* A name: look it up without blocking the loop. */
	c->gai = xcalloc(1, sizeof *c->gai);
	c->gai->ar_name = xstrdup(c->t.hostname);
	c->gai->ar_service = xstrdup(port);
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	c->gai->ar_request = xmalloc(sizeof hints);
	memcpy((void *)(uintptr_t)c->gai->ar_request, &hints, sizeof hints);
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_NONE;
	rc = getaddrinfo_a(GAI_NOWAIT, &c->gai, 1, &sev);
	if (rc != 0) {
		ssh_fail(c, SSH_FAIL_RESOLVE, "cannot resolve %s: %s", c->t.hostname, gai_strerror(rc));
		return;
	}
	c->resolve_timer = loop_add_timer(c->loop, SSH_RESOLVE_POLL_MS, ssh_resolve_cb, c);
}


/* TCP is up: create the session and start the handshake. */
static void
ssh_session_start(struct ssh_conn *c)
{
	c->s = libssh2_session_init_ex(NULL, NULL, NULL, c);
	if (c->s == NULL)
		fatal("libssh2_session_init_ex failed");
	libssh2_session_set_blocking(c->s, 0);
	ssh_hostkey_prefs(c);
	c->phase = CP_HANDSHAKE;
}

/* Drive the handshake. */
static void
ssh_step_handshake(struct ssh_conn *c)
{
	int rc = libssh2_session_handshake(c->s, c->fd);
	char *note;

	if (rc == LIBSSH2_ERROR_EAGAIN)
		return;
	if (rc != 0 && c->proxy != NULL) {
		/* Most likely the proxy did not get through: that is its failure, not sshd's. */
		note = ssh_proxy_note(c);
		ssh_fail(c, SSH_FAIL_CONNECT, "cannot reach %s%s: %s", c->label, note,
		    ssh_errmsg(c));
		free(note);
		return;
	}
	if (rc != 0) {
		ssh_fail(c, SSH_FAIL_HANDSHAKE, "SSH handshake with %s failed: %s", c->label,
		    ssh_errmsg(c));
		return;
	}
	ssh_check_hostkey(c);
}

/* Authentication succeeded: the connection is ready. */
void
ssh_ready(struct ssh_conn *c)
{
	struct tjob *j;

	ssh_untimer(c, &c->timeout_timer);
	if (c->agent != NULL) {
		libssh2_agent_disconnect(c->agent);
		libssh2_agent_free(c->agent);
		c->agent = NULL;
	}
	if (c->passphrase != NULL && c->key_cur != NULL) {
		ssh_wipe(&c->saved_pass, c->saved_pass != NULL ? strlen(c->saved_pass) : 0);
		free(c->saved_pass_key);
		c->saved_pass_key = xstrdup(c->key_cur);
		c->saved_pass = xstrdup(c->passphrase);
	}
	ssh_wipe(&c->passphrase, c->passphrase != NULL ? strlen(c->passphrase) : 0);
	c->phase = CP_READY;
	c->stats.connects++;
	c->max_eff = c->o.max_channels;
	/* Only now: before the handshake and authentication, Debian's sshd drops the kex. */
	libssh2_keepalive_config(c->s, 0, c->o.keepalive_s);
	TAILQ_FOREACH(j, &c->jobs, entry) {
		if (j->phase == J_DETACHED) {
			j->phase = J_QUEUED;
			c->stats.reattached++;
		}
	}
	c->reconnecting = false;
	c->attempt = 0;
	c->failure = SSH_FAIL_NONE;
	free(c->fail_msg);
	c->fail_msg = NULL;
	ssh_set_state(c, SSH_STATE_CONNECTED, NULL);
	ssh_kick(c);
}

/* Idle and the socket is readable: EOF means the server went away. */
static void
ssh_idle_read(struct ssh_conn *c)
{
	struct tjob *j;
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n == 0) {
		ssh_lost(c, "the server closed the connection");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			ssh_lost(c, strerror(errno));
		return;
	}
	/* Something came (a server keepalive, a rekey): a channel open lets libssh2 take it. */
	TAILQ_FOREACH(j, &c->jobs, entry) {
		if (j->kind == JK_PING)
			return;
	}
	ssh_job_new(c, JK_PING);
	ssh_pump_ready(c);
}

/* Are any channels in use? */
static bool
ssh_has_busy(struct ssh_conn *c)
{
	struct tjob *j;

	TAILQ_FOREACH(j, &c->jobs, entry) {
		if (ssh_job_busy(j))
			return true;
	}
	return false;
}

/* Run whatever the current phase needs. */
static void
ssh_pump(struct ssh_conn *c)
{
	switch (c->phase) {
	case CP_HANDSHAKE:
		ssh_step_handshake(c);
		if (c->phase == CP_AUTH)
			ssh_step_auth(c);
		if (c->phase == CP_READY)
			ssh_pump_ready(c);
		break;
	case CP_AUTH:
		ssh_step_auth(c);
		if (c->phase == CP_READY)
			ssh_pump_ready(c);
		break;
	case CP_READY:
		ssh_pump_ready(c);
		break;
	default:
		break;
	}
}

/* The socket is ready. */
static void
ssh_sock_cb(int fd, short revents, void *data)
{
	struct ssh_conn *c = data;

	c->depth++;
	if (c->phase == CP_CONNECT) {
		int err = 0;
		socklen_t len = sizeof err;

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0) {
			free(c->connect_err);
			c->connect_err = xstrdup(strerror(err));
			loop_del_fd(c->loop, fd);
			close(fd);
			c->fd = -1;
			c->fd_watched = false;
			c->ai_cur = c->ai_cur->ai_next;
			ssh_connect_next(c);
		} else {
			ssh_session_start(c);
			ssh_pump(c);
		}
	} else if (c->phase == CP_READY && !ssh_has_busy(c) && (revents & (POLLIN | POLLHUP | POLLERR))) {
		ssh_idle_read(c);
	} else
		ssh_pump(c);
	c->depth--;
	ssh_settle(c);
}

/* The kick timer: go on from the loop. */
static void
ssh_kick_cb(void *data)
{
	struct ssh_conn *c = data;
	struct tjob *j;
	bool want = false;

	c->kick_timer = 0;
	c->depth++;
	TAILQ_FOREACH(j, &c->jobs, entry) {
		if (j->phase == J_QUEUED || j->phase == J_DETACHED)
			want = true;
	}
	switch (c->phase) {
	case CP_IDLE:
	case CP_FAILED:
		if (want) {
			c->reconnecting = false;
			ssh_begin(c);
		}
		break;
	case CP_ASK_HOSTKEY:
		if (c->hostkey_answer == 1)
			ssh_hostkey_accepted(c);
		else if (c->hostkey_answer == 0)
			ssh_fail(c, SSH_FAIL_HOSTKEY_UNKNOWN, "the host key of %s (%s) was not trusted",
			    c->label, c->fingerprint);
		if (c->phase == CP_AUTH)
			ssh_step_auth(c);
		if (c->phase == CP_READY)
			ssh_pump_ready(c);
		break;
	case CP_ASK_PASS:
		if (c->pass_answered) {
			ssh_timer(c, &c->timeout_timer, c->o.connect_timeout_ms, ssh_timeout_cb, c);
			c->phase = CP_AUTH;
			c->as = c->passphrase != NULL ? AS_KEY_TRY : AS_KEY_NEXT;
			if (c->passphrase == NULL)
				ssh_auth_note(c, "%s skipped (no passphrase)", c->key_cur);
			ssh_step_auth(c);
			if (c->phase == CP_READY)
				ssh_pump_ready(c);
		}
		break;
	default:
		ssh_pump(c);
		break;
	}
	c->depth--;
	ssh_settle(c);
}

/* Make the loop come back to this connection soon. */
void
ssh_kick(struct ssh_conn *c)
{
	if (c->kick_timer == 0)
		c->kick_timer = loop_add_timer(c->loop, 0, ssh_kick_cb, c);
}

/* Send a keepalive when the line is quiet enough that it cannot be cut in half. */
static void
ssh_keepalive_cb(void *data)
{
	struct ssh_conn *c = data;
	int next = (int)c->o.keepalive_s, outq = 1;

	c->keepalive_timer = 0;
	if (c->phase != CP_READY)
		return;
	c->depth++;
	if (c->owner == NULL &&
	    !(libssh2_session_block_directions(c->s) & LIBSSH2_SESSION_BLOCK_OUTBOUND) &&
	    ioctl(c->fd, SIOCOUTQ, &outq) == 0 && outq == 0) {
		if (libssh2_keepalive_send(c->s, &next) != 0 &&
		    libssh2_session_last_errno(c->s) != LIBSSH2_ERROR_EAGAIN)
			ssh_lost(c, "keepalive failed");
	} else
		next = 1;
	if (c->phase == CP_READY)
		c->keepalive_timer = loop_add_timer(c->loop, (uint64_t)(next > 0 ? next : 1) * 1000,
		    ssh_keepalive_cb, c);
	c->depth--;
	ssh_settle(c);
}

/* Watch the socket for what the current phase waits on. */
static void
ssh_update_events(struct ssh_conn *c)
{
	short ev = 0;
	int dirs;

	if (c->fd == -1 || !c->fd_watched)
		return;
	switch (c->phase) {
	case CP_CONNECT:
		ev = POLLOUT;
		break;
	case CP_HANDSHAKE:
	case CP_AUTH:
		dirs = c->s != NULL ? libssh2_session_block_directions(c->s) : 0;
		if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND)
			ev |= POLLIN;
		if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			ev |= POLLOUT;
		if (ev == 0)
			ev = POLLIN;
		break;
	case CP_READY:
		ev = POLLIN;
		if (c->owner != NULL)
			ev |= POLLOUT;
		if (c->keepalive_timer == 0 && c->o.keepalive_s > 0)
			c->keepalive_timer = loop_add_timer(c->loop, (uint64_t)c->o.keepalive_s * 1000,
			    ssh_keepalive_cb, c);
		break;
	default:
		ev = 0;
		break;
	}
	loop_set_events(c->loop, c->fd, ev);
}

/*
 * After a loop callback: call the end callbacks that are due, free finished jobs, update
 * the socket's events, and free the connection if that was asked for meanwhile.
 */
void
ssh_settle(struct ssh_conn *c)
{
	struct tjob *j, *tmp;
	bool again = true, queued = false;

	if (c->depth > 0)
		return;
	c->depth++;
	while (again && !c->free_pending) {
		again = false;
		TAILQ_FOREACH(j, &c->jobs, entry) {
			if (j->kind == JK_USER && j->end_set && !j->ended && !j->orphan &&
			    (j->phase == J_DONE || j->phase == J_FREE)) {
				struct tjob_cbs cbs = j->cbs;
				enum tjob_end how = j->how;
				int code = j->code;
				char *msg = j->message != NULL ? xstrdup(j->message) : NULL;

				j->ended = true;
				if (cbs.end != NULL)
					cbs.end(cbs.data, how, code, msg);
				free(msg);
				again = true;   /* the callback may have changed the list */
				break;
			}
		}
	}
	c->depth--;
	if (c->free_pending) {
		ssh_really_free(c);
		return;
	}
	TAILQ_FOREACH_SAFE(j, &c->jobs, entry, tmp) {
		if (j->phase == J_QUEUED && (c->phase != CP_READY ||
		    (c->opener == NULL && ssh_can_open(c, j))))
			queued = true;
		if (j->phase != J_DONE || c->owner == j || c->opener == j)
			continue;
		if (j->kind != JK_USER || j->orphan)
			ssh_job_destroy(j);
	}
	if (queued && (c->phase == CP_READY || c->phase == CP_IDLE || c->phase == CP_FAILED))
		ssh_kick(c);
	ssh_update_events(c);
	ssh_tunnel_events(c);
}

/* ---------------------------------------------------------------- public */

/* Create a connection. */
struct ssh_conn *
ssh_conn_new(struct loop *l, const struct ssh_target *t, const struct ssh_cbs *cbs)
{
	struct ssh_conn *c = xcalloc(1, sizeof *c);
	struct ssh_opts none;

	if (libssh2_init(0) != 0)
		fatal("libssh2_init failed");
	c->loop = l;
	ssh_target_copy(&c->t, t);
	if (c->t.hostname == NULL)
		c->t.hostname = xstrdup(t->host);
	if (c->t.user == NULL)
		c->t.user = xstrdup("root");
	if (c->t.port <= 0)
		c->t.port = 22;
	if (t->known_hosts != NULL)
		sv_push_take(&c->kh_files, expand_home(t->known_hosts));
	for (size_t i = 0; t->known_hosts == NULL && i < t->known_hosts_files.n; i++)
		sv_push_take(&c->kh_files, expand_home(t->known_hosts_files.v[i]));
	if (c->kh_files.n == 0)
		sv_push_take(&c->kh_files, expand_home("~/.ssh/known_hosts"));
	c->kh_host = c->t.hostkey_alias != NULL ? c->t.hostkey_alias : c->t.hostname;
	c->kh_port = c->t.hostkey_alias != NULL ? 0 : c->t.port;
	c->label = ssh_target_string(&c->t);
	if (cbs != NULL)
		c->cbs = *cbs;
	c->fd = -1;
	c->hostkey_answer = -1;
	TAILQ_INIT(&c->jobs);
	LIST_INIT(&c->tunnels);
	c->buf = xmalloc(SSH_READ_SIZE);
	memset(&none, 0, sizeof none);
	ssh_conn_set_opts(c, &none);
	return c;
}

/* Set the tunables (zero fields take the defaults). */
void
ssh_conn_set_opts(struct ssh_conn *c, const struct ssh_opts *o)
{
	c->o = *o;
	if (c->o.connect_timeout_ms == 0)
		c->o.connect_timeout_ms = SSH_CONNECT_TIMEOUT_MS;
	if (c->o.keepalive_s == 0)
		c->o.keepalive_s = SSH_KEEPALIVE_S;
	if (c->o.reconnect_ms == 0)
		c->o.reconnect_ms = SSH_RECONNECT_MS;
	if (c->o.max_channels == 0)
		c->o.max_channels = SSH_MAX_CHANNELS;
	free(c->remote_dir);
	c->remote_dir = xstrdup(o->remote_dir);
	c->o.remote_dir = c->remote_dir;
	c->max_eff = c->o.max_channels;
}

/* Free everything now. */
static void
ssh_really_free(struct ssh_conn *c)
{
	struct tjob *j;
	struct ssh_tunnel *tun;

	while ((tun = LIST_FIRST(&c->tunnels)) != NULL) {
		LIST_REMOVE(tun, entry);
		loop_del_fd(c->loop, tun->lfd);
		close(tun->lfd);
		tun->lfd = -1;
		tun->conn = NULL;
	}
	ssh_untimer(c, &c->timeout_timer);
	ssh_untimer(c, &c->retry_timer);
	ssh_untimer(c, &c->kick_timer);
	ssh_teardown(c, true);
	ssh_resolve_clear(c);
	while ((j = TAILQ_FIRST(&c->jobs)) != NULL) {
		TAILQ_REMOVE(&c->jobs, j, entry);
		ssh_untimer(c, &j->cancel_timer);
		j->conn = NULL;
		j->ch = NULL;
		if (j->kind != JK_USER || j->orphan)
			ssh_job_destroy(j);
		else
			j->ended = true;   /* detached: its owner frees it, no callback comes */
	}
	for (size_t i = 0; i < c->forbidden.n; i++)
		explicit_bzero(c->forbidden.v[i], strlen(c->forbidden.v[i]));
	sv_free(&c->forbidden);
	ssh_wipe(&c->saved_pass, c->saved_pass != NULL ? strlen(c->saved_pass) : 0);
	free(c->saved_pass_key);
	free(c->fingerprint);
	free(c->fail_msg);
	free(c->connect_err);
	free(c->label);
	sv_free(&c->kh_files);
	free(c->remote_dir);
	free(c->buf);
	ssh_target_clear(&c->t);
	free(c);
}

/* Close and free a connection. */
void
ssh_conn_free(struct ssh_conn **cp)
{
	struct ssh_conn *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->depth > 0) {
		c->free_pending = true;
		return;
	}
	ssh_really_free(c);
}

/* Start connecting. */
void
ssh_conn_connect(struct ssh_conn *c)
{
	if (c->phase != CP_IDLE && c->phase != CP_FAILED)
		return;
	c->depth++;
	c->reconnecting = false;
	ssh_begin(c);
	c->depth--;
	ssh_settle(c);
}

/* The answer to the host key question. */
void
ssh_conn_answer_hostkey(struct ssh_conn *c, bool yes)
{
	if (c->phase != CP_ASK_HOSTKEY)
		return;
	c->hostkey_answer = yes ? 1 : 0;
	ssh_kick(c);
}

/* The answer to the passphrase question. */
void
ssh_conn_answer_passphrase(struct ssh_conn *c, const char *passphrase)
{
	if (c->phase != CP_ASK_PASS)
		return;
	ssh_wipe(&c->passphrase, c->passphrase != NULL ? strlen(c->passphrase) : 0);
	c->passphrase = passphrase != NULL ? xstrdup(passphrase) : NULL;
	c->pass_answered = true;
	ssh_kick(c);
}

/* Refuse commands that contain value. */
void
ssh_conn_forbid(struct ssh_conn *c, const char *value)
{
	if (value != NULL && *value != '\0')
		sv_push(&c->forbidden, value);
}

/* The current state. */
enum ssh_state
ssh_conn_state(const struct ssh_conn *c)
{
	return c->state;
}

/* Why the last attempt failed. */
enum ssh_failure
ssh_conn_failure(const struct ssh_conn *c, const char **message)
{
	if (message != NULL)
		*message = c->fail_msg;
	return c->failure;
}

/* The host key fingerprint. */
const char *
ssh_conn_fingerprint(const struct ssh_conn *c)
{
	return c->fingerprint;
}

/* The target. */
const struct ssh_target *
ssh_conn_target(const struct ssh_conn *c)
{
	return &c->t;
}

/* The loop the connection runs in. */
struct loop *
ssh_conn_loop(const struct ssh_conn *c)
{
	return c->loop;
}

/* The counters. */
void
ssh_conn_stats(const struct ssh_conn *c, struct ssh_stats *st)
{
	*st = c->stats;
}
