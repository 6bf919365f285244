/*
 * ssh-tunnel.c: tunnels (ssh_tunnel_open) are jobs too: each connection accepted on the
 * tunnel's listening socket on 127.0.0.1 becomes a JK_TUNNEL job whose channel is a
 * direct-tcpip one instead of an exec, pumped with the others (ssh-job.c); its local socket
 * is watched by the loop for what the job can take (POLLIN while its buffer toward the server
 * is empty, POLLOUT while bytes wait).
 */
#include "config.h"

#include "ssh.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh2.h>

#include "loop.h"
#include "util.h"

#include "ssh-int.h"

#define SSH_TUNNEL_BUF 65536

/* Close a tunnel job's local socket. */
void
ssh_tunnel_close_fd(struct tjob *j)
{
	if (j->tfd == -1)
		return;
	if (j->tloop != NULL)
		loop_del_fd(j->tloop, j->tfd);
	close(j->tfd);
	j->tfd = -1;
}

/* The local side is done with (or gone): close the channel gracefully. */
static int
ssh_tunnel_finish(struct tjob *j)
{
	ssh_tunnel_close_fd(j);
	ssh_job_end(j, TJOB_EXITED, 0, NULL);
	j->phase = J_CLOSE;
	return R_PROGRESS;
}

/*
 * Move bytes both ways between the local socket and the channel, without waiting: local ->
 * channel (then EOF when the local side shut its writing half), channel -> local (then the
 * local socket is closed once the server's side ended and everything was delivered).
 */
int
ssh_tunnel_io(struct tjob *j)
{
	bool progress = false;
	ssize_t n;
	int rc;

	if (j->force || j->tfd == -1)
		return ssh_tunnel_finish(j);
	/* Local -> channel. */
	for (;;) {
		if (j->tin_off == j->tin_len && !j->tin_eof) {
			if (j->tin == NULL)
				j->tin = xmalloc(SSH_TUNNEL_BUF);
			n = recv(j->tfd, j->tin, SSH_TUNNEL_BUF, MSG_DONTWAIT);
			if (n == 0)
				j->tin_eof = true;
			else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				break;
			else if (n < 0)
				return ssh_tunnel_finish(j);
			j->tin_off = 0;
			j->tin_len = n > 0 ? (size_t)n : 0;
			progress = true;
		}
		if (j->tin_off == j->tin_len)
			break;
		n = libssh2_channel_write(j->ch, j->tin + j->tin_off, j->tin_len - j->tin_off);
		if (n == LIBSSH2_ERROR_EAGAIN || n == LIBSSH2_ERROR_BAD_USE) {
			if (ssh_again(j, OP_WRITE, (int)n) == R_STOP)
				return R_STOP;
			break;
		}
		if (n < 0) {
			if (ssh_session_error((int)n))
				return ssh_job_error(j, (int)n, "writing to the tunnel");
			return ssh_tunnel_finish(j);
		}
		ssh_op_done(j);
		if (n == 0)
			break;   /* the window is full */
		j->tin_off += (size_t)n;
		progress = true;
	}
	if (j->tin_eof && j->tin_off == j->tin_len && !j->eof_sent) {
		rc = libssh2_channel_send_eof(j->ch);
		if (rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE) {
			if (ssh_again(j, OP_EOF, rc) == R_STOP)
				return R_STOP;
		} else {
			ssh_op_done(j);
			if (rc < 0 && ssh_session_error(rc))
				return ssh_job_error(j, rc, "closing the tunnel");
			j->eof_sent = true;
			progress = true;
		}
	}
	/* Channel -> local. */
	for (int i = 0; i < SSH_READS_PER_STEP; i++) {
		if (j->tout_off < j->tout_len) {
			n = send(j->tfd, j->tout + j->tout_off, j->tout_len - j->tout_off,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				break;
			if (n < 0)
				return ssh_tunnel_finish(j);
			j->tout_off += (size_t)n;
			progress = true;
			if (j->tout_off < j->tout_len)
				break;
		}
		if (j->tout == NULL)
			j->tout = xmalloc(SSH_TUNNEL_BUF);
		n = libssh2_channel_read(j->ch, j->tout, SSH_TUNNEL_BUF);
		if (n > 0) {
			ssh_op_done(j);
			j->tout_off = 0;
			j->tout_len = (size_t)n;
			progress = true;
			continue;
		}
		j->tout_off = j->tout_len = 0;
		if (n == 0) {
			ssh_op_done(j);
			break;
		}
		if (n == LIBSSH2_ERROR_EAGAIN || n == LIBSSH2_ERROR_BAD_USE) {
			if (ssh_again(j, OP_READ_OUT, (int)n) == R_STOP)
				return R_STOP;
			break;
		}
		if (ssh_session_error((int)n))
			return ssh_job_error(j, (int)n, "reading from the tunnel");
		return ssh_tunnel_finish(j);
	}
	if (j->tout_off == j->tout_len && libssh2_channel_eof(j->ch) == 1) {
		/* The server's side ended and all of it was delivered. */
		if (!j->eof_sent && libssh2_channel_send_eof(j->ch) == LIBSSH2_ERROR_EAGAIN)
			return ssh_again(j, OP_EOF, LIBSSH2_ERROR_EAGAIN);
		ssh_op_done(j);
		j->eof_sent = true;
		return ssh_tunnel_finish(j);
	}
	return progress ? R_PROGRESS : R_WAIT;
}

/* Watch each tunnel socket for what its job can take now. */
void
ssh_tunnel_events(struct ssh_conn *c)
{
	struct tjob *j;

	TAILQ_FOREACH(j, &c->jobs, entry) {
		short ev = 0;

		if (j->kind != JK_TUNNEL || j->tfd == -1)
			continue;
		if (j->phase == J_IO && c->phase == CP_READY) {
			if (j->tin_off == j->tin_len && !j->tin_eof)
				ev |= POLLIN;
			if (j->tout_off < j->tout_len)
				ev |= POLLOUT;
		}
		loop_set_events(c->loop, j->tfd, ev);
	}
}

/* A tunnel socket is ready: pump the session. */
static void
ssh_tunnel_fd_cb(int fd, short revents, void *data)
{
	struct tjob *j = data;
	struct ssh_conn *c = j->conn;

	(void)fd;
	if (c == NULL)
		return;
	c->depth++;
	/* poll reports these even when nothing is watched: never let them spin the loop. */
	if (revents & (POLLERR | POLLNVAL | POLLHUP)) {
		if (j->phase == J_QUEUED) {
			ssh_tunnel_close_fd(j);
			ssh_job_end(j, TJOB_FAILED, -1, "the local side went away");
			ssh_job_done(j);
		} else if (j->phase == J_IO && ((revents & (POLLERR | POLLNVAL)) ||
		    j->tin_off == j->tin_len))
			j->force = true;
		else if (j->phase != J_IO)
			ssh_tunnel_close_fd(j);
	}
	if (c->phase == CP_READY)
		ssh_pump_ready(c);
	c->depth--;
	ssh_settle(c);
}

/* A connection came to the listener: give it a channel to the destination. */
static void
ssh_tunnel_accept_cb(int fd, short revents, void *data)
{
	struct ssh_tunnel *tun = data;
	struct ssh_conn *c = tun->conn;
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	struct tjob *j;
	int s;

	(void)revents;
	if (c == NULL)
		return;
	s = accept4(fd, (struct sockaddr *)&sin, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (s == -1)
		return;
	ssh_sockopts(s);
	tun->accepted++;
	c->depth++;
	j = ssh_job_new(c, JK_TUNNEL);
	j->tloop = c->loop;
	j->tfd = s;
	j->thost = xstrdup(tun->host);
	j->tport = tun->port;
	j->tsrcport = ntohs(sin.sin_port);
	loop_add_fd(c->loop, s, 0, ssh_tunnel_fd_cb, j);
	if (c->phase == CP_READY)
		ssh_pump_ready(c);
	c->depth--;
	ssh_settle(c);
}

/* Listen on 127.0.0.1:0 for connections forwarded to host:port from the server. */
struct ssh_tunnel *
ssh_tunnel_open(struct ssh_conn *c, const char *host, int port, char **cause)
{
	struct ssh_tunnel *tun;
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd;

	if (host == NULL || *host == '\0' || port <= 0 || port > 65535) {
		set_cause(cause, "a tunnel needs a host and a port from 1 to 65535");
		return NULL;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		set_cause(cause, "socket: %s", strerror(errno));
		return NULL;
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		set_cause(cause, "cannot listen on 127.0.0.1 for a tunnel: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	tun = xcalloc(1, sizeof *tun);
	tun->conn = c;
	tun->lfd = fd;
	tun->lport = ntohs(sin.sin_port);
	tun->host = xstrdup(host);
	tun->port = port;
	LIST_INSERT_HEAD(&c->tunnels, tun, entry);
	loop_add_fd(c->loop, fd, POLLIN, ssh_tunnel_accept_cb, tun);
	return tun;
}

/* The local port of a tunnel. */
int
ssh_tunnel_port(const struct ssh_tunnel *tun)
{
	return tun->lport;
}

/* How many connections a tunnel accepted. */
unsigned
ssh_tunnel_accepted(const struct ssh_tunnel *tun)
{
	return tun->accepted;
}

/* Stop listening; forwarded connections still open finish on their own. */
void
ssh_tunnel_free(struct ssh_tunnel **tp)
{
	struct ssh_tunnel *tun = *tp;

	if (tun == NULL)
		return;
	*tp = NULL;
	if (tun->conn != NULL) {
		LIST_REMOVE(tun, entry);
		loop_del_fd(tun->conn->loop, tun->lfd);
		close(tun->lfd);
	}
	free(tun->host);
	free(tun);
}
