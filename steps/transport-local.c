/*
 * transport-local.c: runs a command on this machine as `bash -c <script>`.
 *
 * The child's stdout is a pty (so programs line-buffer and show progress), its stderr a pipe
 * (so the two streams stay apart) and its stdin a pipe fed with stdin_data then closed (a pty
 * has no reliable EOF), or /dev/null. forkpty makes the child a session leader with the pty
 * as its controlling terminal, so cancel signals the whole process group. The environment is
 * built before fork: the parent's, TERM=dumb, then the command's entries (secrets travel
 * there and on stdin, never in argv). A CLOEXEC status pipe tells start() whether exec
 * worked, so a bad cwd is a start error with a cause.
 *
 * A job ends once both output fds reached EOF and the child was reaped (SIGCHLD through the
 * loop, plus a slow polling timer in case a SIGCHLD went to someone else's handler). An fd at
 * EOF is unwatched but stays open until the job ends: closing the pty master early would hang
 * up the terminal and SIGHUP a child that closed its stdout but is still exiting. If a
 * background grandchild keeps the pty or the stderr pipe open after the child was reaped, the
 * job waits LOCAL_GRACE_MS, drains what is readable and ends anyway. Cancel signals the
 * process group (SIGTERM, SIGKILL after the grace); SIGCHLD is blocked across fork, as are
 * all signals, so no handler of ours runs in the child.
 */
#include "config.h"

#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

#define LOCAL_GRACE_MS 200       /* after the child is reaped, wait this long for EOF */
#define LOCAL_REAP_POLL_MS 250   /* fallback waitpid while the child runs */
#define LOCAL_READ_SIZE 65536
#define LOCAL_READS_PER_WAKE 16  /* then give the loop a turn */
#define LOCAL_DRAIN_MAX (1 << 20)

extern char **environ;

struct tjob {
	struct loop *loop;
	struct tjob_cbs cbs;
	pid_t pid;
	int out_fd;              /* pty master */
	int err_fd;              /* stderr pipe */
	bool out_eof;            /* no more output: unwatched, but kept open until the end */
	bool err_eof;
	int in_fd;               /* stdin pipe; -1 when closed */
	char *in_data;           /* copy of stdin_data, wiped when done */
	size_t in_len;
	size_t in_off;
	bool reaped;
	int status;              /* from waitpid */
	bool lost;               /* the child was reaped elsewhere */
	bool ended;
	uint64_t sig_id;
	uint64_t reap_timer;
	uint64_t grace_timer;
	uint64_t kill_timer;
	char *buf;
};

static void local_check_done(struct tjob *job);

/* Make fd non-blocking and close-on-exec. */
static void
local_set_flags(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
}

/* Does environment entry e define the variable called name (namelen bytes)? */
static bool
local_env_is(const char *e, const char *name, size_t namelen)
{
	return strncmp(e, name, namelen) == 0 && e[namelen] == '=';
}

/* Is e's variable name defined again in extra[from..]? */
static bool
local_env_overridden(const char *e, char *const *extra, size_t from)
{
	const char *eq = strchr(e, '=');
	size_t len = eq != NULL ? (size_t)(eq - e) : strlen(e);

	for (size_t j = from; extra != NULL && extra[j] != NULL; j++) {
		if (local_env_is(extra[j], e, len))
			return true;
	}
	return false;
}

/*
 * Build the child's environment (pointers only, nothing copied): ours, TERM=dumb, then the
 * command's entries; an entry of the command replaces ours, a later one an earlier one.
 */
static char **
local_build_env(char *const *extra)
{
	static char term[] = "TERM=dumb";
	size_t n = 0, nextra = 0, k = 0;
	char **envp;

	for (char **e = environ; e != NULL && *e != NULL; e++)
		n++;
	while (extra != NULL && extra[nextra] != NULL)
		nextra++;
	envp = xcalloc(n + nextra + 2, sizeof *envp);
	for (size_t i = 0; i < n; i++) {
		if (strchr(environ[i], '=') == NULL || local_env_is(environ[i], "TERM", 4))
			continue;
		if (!local_env_overridden(environ[i], extra, 0))
			envp[k++] = environ[i];
	}
	if (!local_env_overridden(term, extra, 0))
		envp[k++] = term;
	for (size_t j = 0; j < nextra; j++) {
		if (strchr(extra[j], '=') == NULL || extra[j][0] == '=')
			continue;
		if (!local_env_overridden(extra[j], extra, j + 1))
			envp[k++] = extra[j];
	}
	envp[k] = NULL;
	return envp;
}

/* In the child: report errno and the failing stage on the status pipe, then exit. */
static void DW_NORETURN
local_child_fail(int fd, int stage)
{
	int msg[2] = { stage, errno };

	if (write(fd, msg, sizeof msg) < 0) {
		/* Nothing more to do. */
	}
	_exit(127);
}

/* In the child: set up fds, signals and cwd, then exec bash. Never returns. */
static void DW_NORETURN
local_child(int in_fd, int err_fd, int status_fd, const char *cwd, char *const argv[],
    char *const envp[])
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* forkpty made the pty fds 0, 1 and 2; stdin and stderr become our pipes. */
	if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0)
		local_child_fail(status_fd, 1);
	if (status_fd != 3) {
		if (dup2(status_fd, 3) < 0)
			local_child_fail(status_fd, 1);
		status_fd = 3;
	}
	fcntl(status_fd, F_SETFD, FD_CLOEXEC);
	if (close_range(4, ~0U, 0) != 0) {
		long max = sysconf(_SC_OPEN_MAX);

		for (long fd = 4; fd < (max > 0 ? max : 1024); fd++)
			close((int)fd);
	}
	if (chdir(cwd) != 0)
		local_child_fail(status_fd, 2);
	execve("/bin/bash", argv, envp);
	if (errno == ENOENT)
		execve("/usr/bin/bash", argv, envp);
	local_child_fail(status_fd, 3);
}

/* Wait for the child's exec (the status pipe closes) or its failure report. */
static int
local_wait_exec(int fd, pid_t pid, const char *cwd, char **cause)
{
	int msg[2];
	ssize_t n;

	do
		n = read(fd, msg, sizeof msg);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof msg)
		return set_cause(cause, "cannot start bash: lost the child");
	switch (msg[0]) {
	case 2:
		return set_cause(cause, "cannot change to directory %s: %s", cwd, strerror(msg[1]));
	case 3:
		return set_cause(cause, "cannot run /bin/bash: %s", strerror(msg[1]));
	default:
		return set_cause(cause, "cannot set up the child: %s", strerror(msg[1]));
	}
}

/* Stop watching and close one of the job's fds. */
static void
local_close(struct tjob *job, int *fdp)
{
	if (*fdp == -1)
		return;
	loop_del_fd(job->loop, *fdp);
	close(*fdp);
	*fdp = -1;
}

/* Wipe and free the stdin copy. */
static void
local_free_stdin(struct tjob *job)
{
	if (job->in_data != NULL) {
		explicit_bzero(job->in_data, job->in_len);
		free(job->in_data);
		job->in_data = NULL;
	}
	local_close(job, &job->in_fd);
}

/* Drop every watch, timer and fd of the job. */
static void
local_release(struct tjob *job)
{
	local_close(job, &job->out_fd);
	local_close(job, &job->err_fd);
	local_free_stdin(job);
	if (job->sig_id != 0)
		loop_del_signal(job->loop, job->sig_id);
	job->sig_id = 0;
	if (job->reap_timer != 0)
		loop_del_timer(job->loop, job->reap_timer);
	job->reap_timer = 0;
	if (job->grace_timer != 0)
		loop_del_timer(job->loop, job->grace_timer);
	job->grace_timer = 0;
	if (job->kill_timer != 0)
		loop_del_timer(job->loop, job->kill_timer);
	job->kill_timer = 0;
}

/* End the job: release everything, then call the end callback (which may free the job). */
static void
local_finish(struct tjob *job)
{
	struct tjob_cbs cbs = job->cbs;

	local_release(job);
	job->ended = true;
	if (job->lost)
		cbs.end(cbs.data, TJOB_FAILED, -1, "lost the process: reaped elsewhere");
	else if (WIFSIGNALED(job->status))
		cbs.end(cbs.data, TJOB_SIGNALED, WTERMSIG(job->status), NULL);
	else
		cbs.end(cbs.data, TJOB_EXITED, WEXITSTATUS(job->status), NULL);
}

/* Reap the child if it has exited. */
static void
local_try_reap(struct tjob *job)
{
	pid_t got;
	int status;

	if (job->reaped)
		return;
	do
		got = waitpid(job->pid, &status, WNOHANG);
	while (got < 0 && errno == EINTR);
	if (got == 0)
		return;
	job->reaped = true;
	if (got < 0)
		job->lost = true;
	else
		job->status = status;
}

/*
 * Read what is there from one output fd (a bounded number of reads); returns true at EOF
 * (for the pty, EIO once no process holds the other side).
 */
static bool
local_read(struct tjob *job, int fd, int stream, size_t limit)
{
	size_t total = 0;

	for (int i = 0; limit == 0 ? i < LOCAL_READS_PER_WAKE : total < limit; i++) {
		ssize_t n = read(fd, job->buf, LOCAL_READ_SIZE);

		if (n > 0) {
			job->cbs.output(job->cbs.data, stream, job->buf, (size_t)n);
			total += (size_t)n;
			continue;
		}
		if (n == 0)
			return true;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return false;
		return true;   /* EIO on the pty master, or a real error */
	}
	return false;
}

/* Output is ready on the pty or the stderr pipe. */
static void
local_output_cb(int fd, short revents, void *data)
{
	struct tjob *job = data;
	bool is_out = fd == job->out_fd;

	if (local_read(job, fd, is_out ? STREAM_OUT : STREAM_ERR, 0)) {
		/*
		 * Stop watching, but keep the fd open until the job ends: closing the pty
		 * master hangs the terminal up, and a SIGHUP would kill a child that closed
		 * its stdout but has not exited yet.
		 */
		loop_del_fd(job->loop, fd);
		if (is_out)
			job->out_eof = true;
		else
			job->err_eof = true;
		local_try_reap(job);
		local_check_done(job);
	}
}

/* The grace after the child was reaped is over: take what is left and end. */
static void
local_grace_cb(void *data)
{
	struct tjob *job = data;

	job->grace_timer = 0;
	if (!job->out_eof)
		local_read(job, job->out_fd, STREAM_OUT, LOCAL_DRAIN_MAX);
	if (!job->err_eof)
		local_read(job, job->err_fd, STREAM_ERR, LOCAL_DRAIN_MAX);
	local_finish(job);
}

/* End the job if it is over; start the grace period if only the fds are still open. */
static void
local_check_done(struct tjob *job)
{
	if (job->ended || !job->reaped)
		return;
	if (job->in_fd != -1)
		local_free_stdin(job);
	if (job->out_eof && job->err_eof) {
		local_finish(job);
		return;
	}
	if (job->grace_timer == 0)
		job->grace_timer = loop_add_timer(job->loop, LOCAL_GRACE_MS, local_grace_cb, job);
}

/* SIGCHLD: was it ours? */
static void
local_sigchld_cb(int sig, void *data)
{
	struct tjob *job = data;

	local_try_reap(job);
	local_check_done(job);
}

/* Fallback for a missed SIGCHLD. */
static void
local_reap_timer_cb(void *data)
{
	struct tjob *job = data;

	job->reap_timer = 0;
	local_try_reap(job);
	if (!job->reaped)
		job->reap_timer = loop_add_timer(job->loop, LOCAL_REAP_POLL_MS, local_reap_timer_cb, job);
	local_check_done(job);
}

/* Feed stdin; close it when all is written or the child stopped reading. */
static void
local_stdin_cb(int fd, short revents, void *data)
{
	struct tjob *job = data;
	sigset_t pipeset, old;
	struct timespec zero = { 0, 0 };
	ssize_t n;

	/* Block SIGPIPE around the write, and swallow one it raises: EPIPE is enough. */
	sigemptyset(&pipeset);
	sigaddset(&pipeset, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipeset, &old);
	do
		n = write(fd, job->in_data + job->in_off, job->in_len - job->in_off);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EPIPE) {
		while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);

	if (n > 0)
		job->in_off += (size_t)n;
	else if (n < 0 && errno == EAGAIN)
		return;
	if (n < 0 || job->in_off == job->in_len)
		local_free_stdin(job);
}

/* Start cmd in a new session on a pty. */
static struct tjob *
local_start(void *tdata, struct loop *l, const struct transport_cmd *cmd,
    const struct tjob_cbs *cbs, char **cause)
{
	struct tjob *job;
	struct termios tio;
	struct winsize ws = { .ws_row = 50, .ws_col = 200 };
	int in_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 }, st_pipe[2] = { -1, -1 };
	int master = -1, saved;
	char *cwd, **envp, *argv[4];
	sigset_t all, old;
	pid_t pid;

	if (cmd->cwd != NULL && *cmd->cwd != '\0')
		cwd = expand_home(cmd->cwd);
	else if (getenv("HOME") != NULL && *getenv("HOME") != '\0')
		cwd = xstrdup(getenv("HOME"));
	else
		cwd = xstrdup("/");

	if (cmd->stdin_data != NULL) {
		if (pipe2(in_pipe, O_CLOEXEC) != 0)
			goto fail_errno;
	} else {
		in_pipe[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (in_pipe[0] < 0)
			goto fail_errno;
	}
	if (pipe2(err_pipe, O_CLOEXEC) != 0 || pipe2(st_pipe, O_CLOEXEC) != 0)
		goto fail_errno;

	/* Echo off; no "\n" -> "\r\n" translation (the runner copes with either). */
	memset(&tio, 0, sizeof tio);
	tio.c_iflag = ICRNL | IXON | IUTF8;
	tio.c_oflag = OPOST;
	tio.c_cflag = CS8 | CREAD;
	tio.c_lflag = ISIG | ICANON | IEXTEN;
	tio.c_cc[VINTR] = 3;
	tio.c_cc[VQUIT] = 28;
	tio.c_cc[VERASE] = 127;
	tio.c_cc[VKILL] = 21;
	tio.c_cc[VEOF] = 4;
	tio.c_cc[VSTART] = 17;
	tio.c_cc[VSTOP] = 19;
	tio.c_cc[VSUSP] = 26;
	tio.c_cc[VMIN] = 1;
	cfsetispeed(&tio, B38400);
	cfsetospeed(&tio, B38400);

	argv[0] = (char *)(uintptr_t)"bash";
	argv[1] = (char *)(uintptr_t)"-c";
	argv[2] = (char *)(uintptr_t)cmd->script;
	argv[3] = NULL;
	envp = local_build_env(cmd->env);

	job = xcalloc(1, sizeof *job);
	job->loop = l;
	job->cbs = *cbs;
	job->out_fd = job->err_fd = job->in_fd = -1;
	/* Watch SIGCHLD before the child exists, so its exit cannot be missed. */
	job->sig_id = loop_on_signal(l, SIGCHLD, local_sigchld_cb, job);

	/* Block every signal across fork: our handlers must not run in the child. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = forkpty(&master, NULL, &tio, &ws);
	if (pid == 0) {
		close(st_pipe[0]);
		local_child(in_pipe[0], err_pipe[1], st_pipe[1], cwd, argv, envp);
	}
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(envp);
	if (pid < 0) {
		errno = saved;
		loop_del_signal(l, job->sig_id);
		free(job);
		goto fail_errno;
	}
	close(st_pipe[1]);
	st_pipe[1] = -1;
	close(in_pipe[0]);
	in_pipe[0] = -1;
	close(err_pipe[1]);
	err_pipe[1] = -1;

	job->pid = pid;
	job->out_fd = master;
	job->err_fd = err_pipe[0];
	job->in_fd = in_pipe[1];
	if (local_wait_exec(st_pipe[0], pid, cwd, cause) != 0) {
		close(st_pipe[0]);
		loop_del_signal(l, job->sig_id);
		close(master);
		close(err_pipe[0]);
		if (in_pipe[1] != -1)
			close(in_pipe[1]);
		free(job);
		free(cwd);
		return NULL;
	}
	close(st_pipe[0]);
	free(cwd);

	job->buf = xmalloc(LOCAL_READ_SIZE);
	local_set_flags(job->out_fd);
	local_set_flags(job->err_fd);
	loop_add_fd(l, job->out_fd, POLLIN, local_output_cb, job);
	loop_add_fd(l, job->err_fd, POLLIN, local_output_cb, job);
	if (job->in_fd != -1) {
		local_set_flags(job->in_fd);
		job->in_len = cmd->stdin_len;
		job->in_data = xmalloc(job->in_len + 1);
		if (job->in_len > 0)
			memcpy(job->in_data, cmd->stdin_data, job->in_len);
		if (job->in_len == 0)
			local_free_stdin(job);
		else
			loop_add_fd(l, job->in_fd, POLLOUT, local_stdin_cb, job);
	}
	job->reap_timer = loop_add_timer(l, LOCAL_REAP_POLL_MS, local_reap_timer_cb, job);
	return job;

fail_errno:
	saved = errno;
	for (int i = 0; i < 2; i++) {
		if (in_pipe[i] != -1)
			close(in_pipe[i]);
		if (err_pipe[i] != -1)
			close(err_pipe[i]);
		if (st_pipe[i] != -1)
			close(st_pipe[i]);
	}
	set_cause(cause, "cannot start a local process: %s", strerror(saved));
	free(cwd);
	return NULL;
}

/* SIGKILL the process group: the grace after SIGTERM is over. */
static void
local_kill_cb(void *data)
{
	struct tjob *job = data;

	job->kill_timer = 0;
	kill(-job->pid, SIGKILL);
	if (!job->reaped)
		kill(job->pid, SIGKILL);
}

/* SIGTERM the process group now, SIGKILL after grace_ms. */
static void
local_cancel(struct tjob *job, unsigned grace_ms)
{
	if (job->ended)
		return;
	if (grace_ms == 0) {
		local_kill_cb(job);
		return;
	}
	kill(-job->pid, SIGTERM);
	if (!job->reaped)
		kill(job->pid, SIGTERM);
	kill(-job->pid, SIGCONT);
	if (job->kill_timer == 0)
		job->kill_timer = loop_add_timer(job->loop, grace_ms, local_kill_cb, job);
}

/* Free a job; one that has not ended is killed and reaped first, without its end callback. */
static void
local_free(struct tjob *job)
{
	if (job == NULL)
		return;
	if (!job->ended) {
		kill(-job->pid, SIGKILL);
		if (!job->reaped) {
			kill(job->pid, SIGKILL);
			while (waitpid(job->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		local_release(job);
	}
	free(job->buf);
	free(job);
}

const struct transport_ops transport_local_ops = {
	.name = "local",
	.start = local_start,
	.cancel = local_cancel,
	.free = local_free,
};
