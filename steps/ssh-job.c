/*
 * ssh-job.c: commands on the session of a connection (ssh-conn.c). Jobs are queued, then
 * each gets a channel (at most max_channels at once; one channel open at a time, as libssh2
 * keeps the open state per session) and an exec of a fixed reader; the job's program,
 * environment and stdin travel on the channel's stdin (see ssh.h). The pump reads stdout and
 * stderr of every channel each turn, since libssh2 buffers packets of all channels whenever
 * any of them reads.
 *
 * libssh2 1.10 sends one packet at a time: when a call leaves a packet half sent (EAGAIN with
 * the OUTBOUND direction), the same call must be repeated before any other call may send,
 * or the other call fails with LIBSSH2_ERROR_BAD_USE. The connection remembers that call as
 * the "owner" and retries it first; everything else waits until it went out.
 */
#include "config.h"

#include "ssh.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <libssh2.h>

#include "loop.h"
#include "util.h"

#include "ssh-int.h"

/*
 * The exec request, the only thing in the remote command line: read a program (its length,
 * then exactly that many bytes, in the C locale so lengths are bytes) from stdin and run it.
 * A bash login shell runs it itself; any other shell starts bash for it. The program is
 * steps/remote-agent.sh: ssh_build_input assembles it, then the request.
 */
#define SSH_READER "LC_ALL=C IFS= read -r n && LC_ALL=C IFS= read -r -N \"$n\" p && eval \"$p\""
static const char ssh_boot_cmd[] =
    "if [ -z \"${BASH_VERSION-}\" ]; then exec bash -c '" SSH_READER "'; fi; " SSH_READER;

/* ---------------------------------------------------------------- jobs: requests */

/* Append one request field: its length, a newline, the bytes. */
static void
ssh_field(struct strbuf *sb, const char *s, size_t len)
{
	sb_addf(sb, "%zu\n", len);
	if (len > 0)
		sb_add(sb, s, len);
}

/* The modes of the program, for lint. */
const char *const ssh_agent_modes[] = { "run", "sup", "kill", "killpg", "rm", NULL };

/* The program of a mode: common, dirs (all but run), signal (kill, killpg), its own part. */
char *
ssh_agent_program(const char *mode)
{
	static const struct {
		const char *mode;
		const char *part;
	} own[] = {
		{ "run", ssh_agent_run }, { "sup", ssh_agent_sup }, { "kill", ssh_agent_kill },
		{ "killpg", ssh_agent_killpg }, { "rm", ssh_agent_rm },
	};
	struct strbuf sb = {0};
	size_t i;

	for (i = 0; i < nitems(own) && strcmp(own[i].mode, mode) != 0; i++)
		;
	if (i == nitems(own))
		fatal("no program for mode %s", mode);
	sb_adds(&sb, ssh_agent_common);
	if (strcmp(mode, "run") != 0)
		sb_adds(&sb, ssh_agent_dirs);
	if (strcmp(mode, "kill") == 0 || strcmp(mode, "killpg") == 0)
		sb_adds(&sb, ssh_agent_signal);
	sb_adds(&sb, own[i].part);
	return sb_detach(&sb);
}

/* Build what goes on the job's stdin: the program, the request, the command's stdin. */
static void
ssh_build_input(struct tjob *j)
{
	struct ssh_conn *c = j->conn;
	struct strbuf sb = {0};
	const char *mode;
	char *prog;
	bool in = false;

	switch (j->kind) {
	case JK_KILL:
		mode = j->pgid > 0 ? "killpg" : "kill";
		break;
	case JK_CLEAN:
		mode = "rm";
		break;
	default:
		mode = j->supervised ? "sup" : "run";
		in = j->stdin_data != NULL;
		break;
	}
	prog = ssh_agent_program(mode);
	sb_addf(&sb, "%zu\n", strlen(prog));
	sb_adds(&sb, prog);
	free(prog);
	ssh_field(&sb, mode, strlen(mode));
	ssh_field(&sb, j->script != NULL ? j->script : "", j->script != NULL ? strlen(j->script) : 0);
	ssh_field(&sb, j->cwd != NULL ? j->cwd : "", j->cwd != NULL ? strlen(j->cwd) : 0);
	if (j->kind == JK_KILL && j->pgid > 0) {
		char pg[32];

		snprintf(pg, sizeof pg, "%ld", j->pgid);
		ssh_field(&sb, pg, strlen(pg));
	} else
		ssh_field(&sb, j->id != NULL ? j->id : "", j->id != NULL ? strlen(j->id) : 0);
	ssh_field(&sb, c->remote_dir != NULL ? c->remote_dir : "",
	    c->remote_dir != NULL ? strlen(c->remote_dir) : 0);
	sb_addf(&sb, "%d\n%llu\n%llu\n%zu\n", in ? 1 : 0, (unsigned long long)j->out_seen,
	    (unsigned long long)j->err_seen, j->env.n);
	for (size_t i = 0; i < j->env.n; i++)
		ssh_field(&sb, j->env.v[i], strlen(j->env.v[i]));
	if (in && j->stdin_len > 0)
		sb_add(&sb, j->stdin_data, j->stdin_len);
	ssh_wipe(&j->input, j->input_len);
	/* Each channel's program announces its own process group. */
	j->hdr_len = 0;
	j->hdr_done = false;
	j->pgid = 0;
	j->input_len = sb.len;
	j->input_off = 0;
	j->input = sb_detach(&sb);
	j->eof_sent = false;
}

/* Drop the input being written (it may hold secrets). */
void
ssh_drop_input(struct tjob *j)
{
	ssh_wipe(&j->input, j->input_len);
	j->input_len = j->input_off = 0;
}

/* Set how the job ended (first call wins). */
void
ssh_job_end(struct tjob *j, enum tjob_end how, int code, const char *message)
{
	if (j->end_set)
		return;
	j->end_set = true;
	j->how = how;
	j->code = code;
	j->message = message != NULL ? xstrdup(message) : NULL;
}

/* The channel is gone: the job is done (its end must be set). */
void
ssh_job_done(struct tjob *j)
{
	struct ssh_conn *c = j->conn;

	j->phase = J_DONE;
	j->ch = NULL;
	ssh_drop_input(j);
	if (c != NULL) {
		if (c->owner == j) {
			c->owner = NULL;
			c->owner_op = OP_NONE;
		}
		if (c->opener == j)
			c->opener = NULL;
		ssh_untimer(c, &j->cancel_timer);
	}
	if (!j->end_set)
		ssh_job_end(j, TJOB_FAILED, -1, "lost the command");
}

/* Free a job's memory. */
void
ssh_job_destroy(struct tjob *j)
{
	if (j->conn != NULL) {
		TAILQ_REMOVE(&j->conn->jobs, j, entry);
		ssh_untimer(j->conn, &j->cancel_timer);
	}
	ssh_drop_input(j);
	ssh_tunnel_close_fd(j);
	free(j->thost);
	free(j->tin);
	free(j->tout);
	free(j->script);
	free(j->cwd);
	for (size_t i = 0; i < j->env.n; i++)
		explicit_bzero(j->env.v[i], strlen(j->env.v[i]));
	sv_free(&j->env);
	ssh_wipe(&j->stdin_data, j->stdin_len);
	free(j->id);
	free(j->message);
	free(j);
}

/*
 * Queue a job that kills a command's process group on the server through its own exec
 * (libssh2 1.10 has no signal request: a channel takes one exec and no other request).
 * A supervised command is found through its directory, another one by its process group.
 */
static void
ssh_queue_kill(struct tjob *user, unsigned grace_ms)
{
	struct ssh_conn *c = user->conn;
	struct tjob *k;

	if (user->kill_sent)
		return;
	if (!user->supervised && user->pgid <= 0) {
		user->kill_wanted = true;   /* when "DWPID" arrives */
		user->grace_ms = grace_ms;
		return;
	}
	k = ssh_job_new(c, JK_KILL);
	if (user->supervised)
		k->id = xstrdup(user->id);
	else
		k->pgid = user->pgid;
	k->script = xprintf("%u", grace_ms);
	/* Ahead of everything else: a cancel should not wait for a free slot. */
	TAILQ_REMOVE(&c->jobs, k, entry);
	TAILQ_INSERT_HEAD(&c->jobs, k, entry);
	user->kill_sent = true;
}

/* Queue a job that removes a finished supervised command's directory. */
static void
ssh_queue_clean(struct tjob *user)
{
	struct tjob *k = ssh_job_new(user->conn, JK_CLEAN);

	k->id = xstrdup(user->id);
}

/* A new job at the end of the queue. */
struct tjob *
ssh_job_new(struct ssh_conn *c, enum ssh_jkind kind)
{
	struct tjob *j = xcalloc(1, sizeof *j);

	j->conn = c;
	j->kind = kind;
	j->phase = J_QUEUED;
	j->tfd = -1;
	TAILQ_INSERT_TAIL(&c->jobs, j, entry);
	return j;
}

/* ---------------------------------------------------------------- jobs: running */

/*
 * Handle an EAGAIN (or BAD_USE) from op: the call owns the outbound packet if it left one
 * half sent. Returns R_STOP when nothing else may be called now.
 */
int
ssh_again(struct tjob *j, enum ssh_op op, int rc)
{
	struct ssh_conn *c = j->conn;

	if (rc == LIBSSH2_ERROR_BAD_USE)
		return R_WAIT;   /* another call's packet is pending: it goes first */
	if (libssh2_session_block_directions(c->s) & LIBSSH2_SESSION_BLOCK_OUTBOUND) {
		c->owner = j;
		c->owner_op = op;
		return R_STOP;
	}
	if (c->owner == j) {
		c->owner = NULL;
		c->owner_op = OP_NONE;
	}
	return R_WAIT;
}

/* A call of op completed (not EAGAIN): it no longer owns anything. */
void
ssh_op_done(struct tjob *j)
{
	if (j->conn->owner == j) {
		j->conn->owner = NULL;
		j->conn->owner_op = OP_NONE;
	}
}

/*
 * An error rc from a job's call: the connection is lost (R_STOP) or only the job failed
 * (its channel is freed next).
 */
int
ssh_job_error(struct tjob *j, int rc, const char *what)
{
	struct ssh_conn *c = j->conn;
	char *msg;

	ssh_op_done(j);
	if (ssh_session_error(rc)) {
		msg = xprintf("%s: %s", what, ssh_errmsg(c));
		ssh_lost(c, msg);
		free(msg);
		return R_STOP;
	}
	msg = xprintf("%s: %s", what, ssh_errmsg(c));
	ssh_job_end(j, TJOB_FAILED, -1, msg);
	free(msg);
	ssh_drop_input(j);
	if (j->ch != NULL)
		j->phase = J_FREE;
	else
		ssh_job_done(j);
	return R_PROGRESS;
}

/* Keep the last stderr bytes. */
static void
ssh_errtail(struct tjob *j, const char *buf, size_t len)
{
	if (len >= SSH_ERRTAIL) {
		memcpy(j->errtail, buf + len - SSH_ERRTAIL, SSH_ERRTAIL);
		j->errtail_len = SSH_ERRTAIL;
		return;
	}
	if (j->errtail_len + len > SSH_ERRTAIL) {
		size_t drop = j->errtail_len + len - SSH_ERRTAIL;

		memmove(j->errtail, j->errtail + drop, j->errtail_len - drop);
		j->errtail_len -= drop;
	}
	memcpy(j->errtail + j->errtail_len, buf, len);
	j->errtail_len += len;
}

/* The message of a bootstrap error in the stderr tail; allocated, or NULL. */
static char *
ssh_boot_error(struct tjob *j)
{
	char *found = NULL;
	size_t mlen = sizeof SSH_BOOT_ERR - 1;

	for (size_t i = 0; i + mlen <= j->errtail_len; i++) {
		if (memcmp(j->errtail + i, SSH_BOOT_ERR, mlen) == 0 && (i == 0 || j->errtail[i - 1] == '\n')) {
			const char *s = j->errtail + i + mlen;
			const char *e = memchr(s, '\n', j->errtail_len - i - mlen);

			free(found);
			found = xstrndup(s, e != NULL ? (size_t)(e - s) : j->errtail_len - i - mlen);
		}
	}
	return found;
}

/* The signal number of an SSH signal name ("TERM"); 0 if unknown. */
static int
ssh_signum(const char *name, size_t len)
{
	static const struct {
		const char *name;
		int sig;
	} map[] = {
		{ "ABRT", SIGABRT }, { "ALRM", SIGALRM }, { "FPE", SIGFPE }, { "HUP", SIGHUP },
		{ "ILL", SIGILL }, { "INT", SIGINT }, { "KILL", SIGKILL }, { "PIPE", SIGPIPE },
		{ "QUIT", SIGQUIT }, { "SEGV", SIGSEGV }, { "TERM", SIGTERM }, { "USR1", SIGUSR1 },
		{ "USR2", SIGUSR2 },
	};

	for (size_t i = 0; i < nitems(map); i++) {
		if (strlen(map[i].name) == len && memcmp(map[i].name, name, len) == 0)
			return map[i].sig;
	}
	return 0;
}

/* The channel closed: take the exit status or signal. */
static void
ssh_job_status(struct tjob *j)
{
	struct ssh_conn *c = j->conn;
	char *sig = NULL, *boot;
	size_t siglen = 0;
	int code;

	if (libssh2_channel_get_exit_signal(j->ch, &sig, &siglen, NULL, NULL, NULL, NULL) == 0 &&
	    sig != NULL) {
		int n = ssh_signum(sig, siglen);

		if (n > 0)
			ssh_job_end(j, TJOB_SIGNALED, n, NULL);
		else {
			char *msg = xprintf("killed by signal %.*s", (int)siglen, sig);

			ssh_job_end(j, TJOB_FAILED, -1, msg);
			free(msg);
		}
		libssh2_free(c->s, sig);
		return;
	}
	code = libssh2_channel_get_exit_status(j->ch);
	if (j->kind != JK_USER) {
		ssh_job_end(j, TJOB_EXITED, code, NULL);
		return;
	}
	if ((code == 125 && !j->supervised) || (code == 255 && j->supervised)) {
		boot = ssh_boot_error(j);
		if (boot != NULL) {
			ssh_job_end(j, TJOB_FAILED, -1, boot);
			free(boot);
			return;
		}
	}
	if (j->supervised && code > 128 && code < 128 + 65)
		ssh_job_end(j, TJOB_SIGNALED, code - 128, NULL);
	else
		ssh_job_end(j, TJOB_EXITED, code, NULL);
}

static void ssh_job_output(struct tjob *j, int stream, const char *buf, size_t len);

/*
 * Take the program's first stderr line, "DWPID <pid>\n", out of the stream. Returns how
 * many bytes of buf it used.
 */
static size_t
ssh_job_header(struct tjob *j, const char *buf, size_t len)
{
	size_t used = 0;
	char *nl, *end;
	long pid;

	while (used < len && j->hdr_len < sizeof j->hdr - 1) {
		j->hdr[j->hdr_len++] = buf[used++];
		if (j->hdr[j->hdr_len - 1] == '\n')
			break;
	}
	j->hdr[j->hdr_len] = '\0';
	nl = strchr(j->hdr, '\n');
	if (nl == NULL && j->hdr_len < sizeof j->hdr - 1 &&
	    strncmp(j->hdr, "DWPID ", j->hdr_len < 6 ? j->hdr_len : 6) == 0)
		return used;   /* not all there yet */
	j->hdr_done = true;
	if (nl != NULL && strncmp(j->hdr, "DWPID ", 6) == 0) {
		pid = strtol(j->hdr + 6, &end, 10);
		if (end == nl && pid > 1) {
			j->pgid = pid;
			if (j->kill_wanted && j->conn != NULL)
				ssh_queue_kill(j, j->grace_ms);
			return used;
		}
	}
	/* Not our header (the program never ran): it is real output. */
	ssh_job_output(j, STREAM_ERR, j->hdr, j->hdr_len);
	return used;
}

/* Deliver output to the job's owner. */
static void
ssh_job_output(struct tjob *j, int stream, const char *buf, size_t len)
{
	if (stream == STREAM_ERR && !j->hdr_done) {
		size_t used = ssh_job_header(j, buf, len);

		buf += used;
		len -= used;
		if (len == 0)
			return;
	}
	if (stream == STREAM_OUT)
		j->out_seen += len;
	else {
		j->err_seen += len;
		ssh_errtail(j, buf, len);
	}
	if (j->kind == JK_USER && !j->orphan && j->cbs.output != NULL)
		j->cbs.output(j->cbs.data, stream, buf, len);
}

/* Read what is there on one stream. */
static int
ssh_job_read(struct tjob *j, int stream, bool *progress)
{
	struct ssh_conn *c = j->conn;
	enum ssh_op op = stream == 0 ? OP_READ_OUT : OP_READ_ERR;

	for (int i = 0; i < SSH_READS_PER_STEP; i++) {
		ssize_t n = libssh2_channel_read_ex(j->ch, stream, c->buf, SSH_READ_SIZE);

		if (n > 0) {
			ssh_op_done(j);
			ssh_job_output(j, stream == 0 ? STREAM_OUT : STREAM_ERR, c->buf, (size_t)n);
			*progress = true;
			if (c->free_pending || c->phase != CP_READY)
				return R_STOP;
			continue;
		}
		if (n == 0) {
			ssh_op_done(j);
			return R_WAIT;
		}
		if (n == LIBSSH2_ERROR_EAGAIN || n == LIBSSH2_ERROR_BAD_USE)
			return ssh_again(j, op, (int)n);
		return ssh_job_error(j, (int)n, "reading the command's output");
	}
	return R_PROGRESS;   /* more may be there: come back after the others */
}

/* Feed stdin, send EOF, read both streams, notice the end of output. */
static int
ssh_job_io(struct tjob *j)
{
	bool progress = false;
	int r, rc;

	if (j->force) {
		ssh_job_end(j, TJOB_FAILED, -1, "canceled: the command did not stop, so its channel "
		    "was closed");
		ssh_drop_input(j);
		j->phase = J_FREE;
		return R_PROGRESS;
	}
	while (j->input != NULL && j->input_off < j->input_len) {
		size_t n = j->input_len - j->input_off;
		ssize_t w;

		if (n > SSH_WRITE_CHUNK)
			n = SSH_WRITE_CHUNK;
		w = libssh2_channel_write(j->ch, j->input + j->input_off, n);
		if (w == LIBSSH2_ERROR_EAGAIN || w == LIBSSH2_ERROR_BAD_USE) {
			if (ssh_again(j, OP_WRITE, (int)w) == R_STOP)
				return R_STOP;
			break;
		}
		if (w < 0) {
			if (w == LIBSSH2_ERROR_CHANNEL_EOF_SENT || w == LIBSSH2_ERROR_CHANNEL_CLOSED) {
				ssh_op_done(j);
				ssh_drop_input(j);
				j->eof_sent = true;
				break;
			}
			return ssh_job_error(j, (int)w, "writing the command's input");
		}
		ssh_op_done(j);
		if (w == 0)
			break;   /* the window is full: the server's adjust will wake us */
		j->input_off += (size_t)w;
		progress = true;
	}
	if (!j->eof_sent && (j->input == NULL || j->input_off == j->input_len)) {
		rc = libssh2_channel_send_eof(j->ch);
		if (rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE) {
			if (ssh_again(j, OP_EOF, rc) == R_STOP)
				return R_STOP;
		} else if (rc < 0 && rc != LIBSSH2_ERROR_CHANNEL_EOF_SENT &&
		    rc != LIBSSH2_ERROR_CHANNEL_CLOSED) {
			return ssh_job_error(j, rc, "closing the command's input");
		} else {
			ssh_op_done(j);
			j->eof_sent = true;
			ssh_drop_input(j);
			progress = true;
		}
	}
	r = ssh_job_read(j, 0, &progress);
	if (r == R_STOP || j->phase != J_IO)
		return r == R_STOP ? R_STOP : R_PROGRESS;
	if (r == R_PROGRESS)
		progress = true;
	r = ssh_job_read(j, 1, &progress);
	if (r == R_STOP || j->phase != J_IO)
		return r == R_STOP ? R_STOP : R_PROGRESS;
	if (r == R_PROGRESS)
		progress = true;
	if (libssh2_channel_eof(j->ch) == 1) {
		ssh_drop_input(j);
		j->phase = J_CLOSE;
		return R_PROGRESS;
	}
	return progress ? R_PROGRESS : R_WAIT;
}

/* Move a job forward as far as it goes without waiting. */
static int
ssh_job_step(struct tjob *j)
{
	struct ssh_conn *c = j->conn;
	LIBSSH2_CHANNEL *ch;
	int rc;

	switch (j->phase) {
	case J_OPEN:
		if (j->kind == JK_TUNNEL)
			ch = libssh2_channel_direct_tcpip_ex(c->s, j->thost, j->tport, "127.0.0.1",
			    j->tsrcport);
		else
			ch = libssh2_channel_open_session(c->s);
		if (ch == NULL) {
			rc = libssh2_session_last_errno(c->s);
			if (rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE)
				return ssh_again(j, OP_OPEN, rc);
			ssh_op_done(j);
			c->opener = NULL;
			if (ssh_session_error(rc))
				return ssh_job_error(j, rc, "opening a channel");
			if (j->kind == JK_TUNNEL) {
				/* Nothing listens there on the server: the local side sees a close. */
				ssh_tunnel_close_fd(j);
				return ssh_job_error(j, rc, "opening the tunnel");
			}
			if (c->active > 0) {
				/* The server's MaxSessions: fewer at once, and try again later. */
				c->max_eff = c->active;
				j->phase = J_QUEUED;
				return R_PROGRESS;
			}
			return ssh_job_error(j, rc, "the server refused a channel");
		}
		ssh_op_done(j);
		c->opener = NULL;
		j->ch = ch;
		c->active++;
		c->stats.channels++;
		if (c->active > c->stats.max_parallel)
			c->stats.max_parallel = c->active;
		if (j->kind == JK_PING) {
			ssh_job_end(j, TJOB_FAILED, -1, "canceled before it started");
			j->phase = J_FREE;
			return R_PROGRESS;
		}
		if (j->kind == JK_TUNNEL) {
			j->phase = J_IO;
			return ssh_tunnel_io(j);
		}
		ssh_build_input(j);
		j->phase = J_EXEC;
		/* FALLTHROUGH */
	case J_EXEC:
		rc = libssh2_channel_exec(j->ch, ssh_boot_cmd);
		if (rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE)
			return ssh_again(j, OP_EXEC, rc);
		if (rc != 0)
			return ssh_job_error(j, rc, "the server refused to run the command");
		ssh_op_done(j);
		j->phase = J_IO;
		if (j->canceled && !j->kill_sent)
			ssh_queue_kill(j, j->grace_ms);
		/* FALLTHROUGH */
	case J_IO:
		return j->kind == JK_TUNNEL ? ssh_tunnel_io(j) : ssh_job_io(j);
	case J_CLOSE:
		rc = libssh2_channel_wait_closed(j->ch);
		if (rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE)
			return ssh_again(j, OP_WAIT_CLOSED, rc);
		ssh_op_done(j);
		if (rc != 0 && ssh_session_error(rc))
			return ssh_job_error(j, rc, "waiting for the command to end");
		ssh_job_status(j);
		if (j->supervised && j->kind == JK_USER && j->end_set && j->how != TJOB_FAILED)
			ssh_queue_clean(j);
		j->phase = J_FREE;
		/* FALLTHROUGH */
	case J_FREE:
		rc = libssh2_channel_free(j->ch);
		if (rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE)
			return ssh_again(j, OP_FREE, rc);
		ssh_op_done(j);
		/* Any other error: the channel's memory is gone or lost with the session anyway. */
		c->active--;
		ssh_job_done(j);
		return R_PROGRESS;
	default:
		return R_WAIT;
	}
}

/* May this job take a channel now? */
bool
ssh_can_open(struct ssh_conn *c, struct tjob *j)
{
	unsigned limit = c->max_eff;

	if (j->kind != JK_USER)
		limit += SSH_INTERNAL_EXTRA;
	return c->active < limit;
}

/* Let the first queued job that fits start opening its channel. */
static void
ssh_start_open(struct ssh_conn *c)
{
	struct tjob *j;

	if (c->opener != NULL)
		return;
	TAILQ_FOREACH(j, &c->jobs, entry) {
		if (j->phase != J_QUEUED || !ssh_can_open(c, j))
			continue;
		j->phase = J_OPEN;
		c->opener = j;
		return;
	}
}

/* Does the job hold or want a channel now? */
bool
ssh_job_busy(const struct tjob *j)
{
	return j->phase >= J_OPEN && j->phase <= J_FREE;
}

/* Run the owner's pending call first, then every job, until nothing moves. */
void
ssh_pump_ready(struct ssh_conn *c)
{
	struct tjob *j;
	int rounds;

	for (rounds = 0; rounds < SSH_PUMP_ROUNDS; rounds++) {
		bool progress = false;

		if (c->owner != NULL) {
			int r = ssh_job_step(c->owner);

			if (r == R_STOP || c->phase != CP_READY || c->free_pending)
				return;
			if (r == R_PROGRESS)
				progress = true;
		}
		ssh_start_open(c);
		TAILQ_FOREACH(j, &c->jobs, entry) {
			int r;

			if (!ssh_job_busy(j))
				continue;
			r = ssh_job_step(j);
			if (r == R_STOP || c->phase != CP_READY || c->free_pending)
				return;
			if (r == R_PROGRESS)
				progress = true;
			if (c->opener == NULL)
				ssh_start_open(c);
		}
		if (!progress)
			return;
	}
	/* Still busy: give the rest of the loop a turn, then go on. */
	ssh_kick(c);
}

/* ---------------------------------------------------------------- transport ops */

/* Does [p, p+len) contain any forbidden value? */
static bool
ssh_has_forbidden(struct ssh_conn *c, const char *p, size_t len)
{
	if (p == NULL)
		return false;
	for (size_t i = 0; i < c->forbidden.n; i++) {
		size_t n = strlen(c->forbidden.v[i]);

		if (n > 0 && n <= len && memmem(p, len, c->forbidden.v[i], n) != NULL)
			return true;
	}
	return false;
}

/* Is name a valid environment name that we do not use ourselves? */
static bool
ssh_env_name_ok(const char *e, size_t n)
{
	if (n == 0 || (e[0] >= '0' && e[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = e[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '_'))
			return false;
	}
	return !(n >= 3 && strncmp(e, "dw_", 3) == 0);
}

/* Is id usable as a directory name? */
static bool
ssh_id_ok(const char *id)
{
	size_t n = id != NULL ? strlen(id) : 0;

	if (n == 0 || n > 64 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '_' || ch == '-' || ch == '.'))
			return false;
	}
	return true;
}

/* Start a command: queue it; the connection is made if needed. */
static struct tjob *
ssh_start(void *tdata, struct loop *l, const struct transport_cmd *cmd,
    const struct tjob_cbs *cbs, char **cause)
{
	struct ssh_conn *c = tdata;
	struct tjob *j;
	bool refuse;

	(void)l;
	if (c == NULL) {
		set_cause(cause, "no SSH connection");
		return NULL;
	}
	if (cmd->script == NULL) {
		set_cause(cause, "no command");
		return NULL;
	}
	for (size_t i = 0; cmd->env != NULL && cmd->env[i] != NULL; i++) {
		const char *eq = strchr(cmd->env[i], '=');
		size_t n = eq != NULL ? (size_t)(eq - cmd->env[i]) : strlen(cmd->env[i]);

		if (eq == NULL || !ssh_env_name_ok(cmd->env[i], n)) {
			set_cause(cause, "bad environment entry \"%.*s\" (names are letters, digits and _; "
			    "dw_ is reserved)", (int)(n > 64 ? 64 : n), cmd->env[i]);
			return NULL;
		}
	}
	if (cmd->supervised && !ssh_id_ok(cmd->id)) {
		set_cause(cause, "a supervised command needs an id of 1 to 64 letters, digits, '.', "
		    "'_' or '-'");
		return NULL;
	}
	refuse = ssh_has_forbidden(c, cmd->script, strlen(cmd->script)) ||
	    ssh_has_forbidden(c, cmd->cwd, cmd->cwd != NULL ? strlen(cmd->cwd) : 0) ||
	    ssh_has_forbidden(c, cmd->stdin_data, cmd->stdin_data != NULL ? cmd->stdin_len : 0);
	for (size_t i = 0; !refuse && cmd->env != NULL && cmd->env[i] != NULL; i++)
		refuse = ssh_has_forbidden(c, cmd->env[i], strlen(cmd->env[i]));

	j = ssh_job_new(c, JK_USER);
	j->cbs = *cbs;
	if (refuse) {
		/* The end comes from the loop, never from inside start. */
		ssh_job_end(j, TJOB_FAILED, -1, "refused: command would send a local-only secret "
		    "to the server");
		ssh_job_done(j);
		ssh_kick(c);
		return j;
	}
	j->script = xstrdup(cmd->script);
	j->cwd = xstrdup(cmd->cwd);
	for (size_t i = 0; cmd->env != NULL && cmd->env[i] != NULL; i++)
		sv_push(&j->env, cmd->env[i]);
	if (cmd->stdin_data != NULL) {
		j->stdin_data = xmalloc(cmd->stdin_len + 1);
		memcpy(j->stdin_data, cmd->stdin_data, cmd->stdin_len);
		j->stdin_len = cmd->stdin_len;
	}
	j->supervised = cmd->supervised;
	j->id = xstrdup(cmd->id);
	ssh_kick(c);
	return j;
}

/* The kill did not end the command in time: close its channel. */
static void
ssh_cancel_timer_cb(void *data)
{
	struct tjob *j = data;
	struct ssh_conn *c = j->conn;

	j->cancel_timer = 0;
	if (c == NULL || j->phase == J_DONE)
		return;
	c->depth++;
	if (j->phase == J_OPEN || j->phase == J_EXEC || j->phase == J_IO) {
		j->force = true;
		ssh_kick(c);
	}
	c->depth--;
	ssh_settle(c);
}

/*
 * Cancel: a second exec sends TERM to the command's process group, then KILL after
 * grace_ms; if the channel is still open SSH_FORCE_CLOSE_MS later, it is closed.
 */
static void
ssh_cancel(struct tjob *j, unsigned grace_ms)
{
	struct ssh_conn *c = j->conn;

	if (c == NULL || j->end_set || j->canceled)
		return;
	j->canceled = true;
	j->grace_ms = grace_ms;
	switch (j->phase) {
	case J_QUEUED:
		ssh_job_end(j, TJOB_FAILED, -1, "canceled before it started");
		ssh_job_done(j);
		break;
	case J_DETACHED:
		ssh_queue_kill(j, grace_ms);   /* runs after the reconnect */
		break;
	case J_OPEN:
	case J_EXEC:
	case J_IO:
		/* Before the exec went out, the kill is queued once it has. */
		if (j->phase == J_IO)
			ssh_queue_kill(j, grace_ms);
		if (!j->supervised)
			ssh_timer(c, &j->cancel_timer, (uint64_t)grace_ms + SSH_FORCE_CLOSE_MS,
			    ssh_cancel_timer_cb, j);
		break;
	default:
		break;
	}
	ssh_kick(c);
}

/* Free a job; one still running is killed first, without its end callback. */
static void
ssh_free(struct tjob *j)
{
	struct ssh_conn *c;

	if (j == NULL)
		return;
	c = j->conn;
	if (c == NULL) {
		ssh_job_destroy(j);
		return;
	}
	j->orphan = true;
	if (!j->end_set) {
		if (j->phase == J_QUEUED || j->phase == J_DETACHED) {
			if (j->phase == J_DETACHED)
				ssh_queue_kill(j, 0);
			ssh_job_end(j, TJOB_FAILED, -1, "freed");
			ssh_job_done(j);
		} else {
			j->canceled = true;
			j->grace_ms = 0;
			if (j->phase == J_IO)
				ssh_queue_kill(j, 0);
			j->force = true;
		}
	}
	if (j->phase == J_DONE && c->depth == 0 && c->owner != j && c->opener != j) {
		ssh_job_destroy(j);
		return;
	}
	ssh_kick(c);
}

const struct transport_ops transport_ssh_ops = {
	.name = "ssh",
	.start = ssh_start,
	.cancel = ssh_cancel,
	.free = ssh_free,
};
