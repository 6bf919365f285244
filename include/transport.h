/*
 * transport.h: where a command runs. Each transport is one file behind one ops table:
 * steps/transport-local.c (fork on a pty), ssh-job.c (a libssh2 channel) and the
 * demo host's. A job is opaque; it reports output and its end through callbacks from the loop.
 */
#ifndef DW_TRANSPORT_H
#define DW_TRANSPORT_H

#include <stddef.h>
#include <stdbool.h>

struct loop;
struct tjob;

enum { STREAM_OUT = 1, STREAM_ERR = 2, STREAM_META = 3 };   /* META: the wizard's own lines */

/* A command, ready to run: every ${input} already resolved by the engine. */
struct transport_cmd {
	const char *script;        /* run as: bash -c <script> (bash's argv holds no secret) */
	const char *cwd;           /* NULL: the home directory; "~/" prefix allowed */
	char *const *env;          /* extra NAME=VALUE strings, NULL-terminated; may be NULL */
	const char *stdin_data;    /* fed to stdin then closed; NULL: stdin is /dev/null */
	size_t stdin_len;
	/*
	 * SSH only (others ignore them): run under a supervisor on the server that outlives a
	 * dropped connection, re-attached after the reconnect (see ssh.h). id names the run:
	 * unique per run of an action, [A-Za-z0-9._-], at most 64 bytes.
	 */
	bool supervised;
	const char *id;
};

/* How a job ended. */
enum tjob_end {
	TJOB_EXITED,     /* code = exit status */
	TJOB_SIGNALED,   /* code = signal number */
	TJOB_FAILED,     /* could not start or lost (message says why); code = -1 */
};

struct tjob_cbs {
	/* Raw bytes as they arrive; stream is STREAM_OUT or STREAM_ERR. */
	void (*output)(void *data, int stream, const char *buf, size_t len);
	/* Called once, after all output was delivered (EOF) and the process was reaped. */
	void (*end)(void *data, enum tjob_end how, int code, const char *message);
	void *data;
};

struct transport_ops {
	const char *name;   /* "local", "ssh", ... */
	/* Start cmd; returns NULL and sets *cause if it cannot start at all. */
	struct tjob *(*start)(void *tdata, struct loop *l, const struct transport_cmd *cmd,
	    const struct tjob_cbs *cbs, char **cause);
	/* Ask the job to stop: SIGTERM to its process group, SIGKILL after grace_ms. The end
	 * callback still comes. */
	void (*cancel)(struct tjob *job, unsigned grace_ms);
	/* Free a job whose end callback has run (or cancel it hard first if it has not). */
	void (*free)(struct tjob *job);
};

struct transport {
	const struct transport_ops *ops;
	void *data;   /* the transport's own state (SSH session, ...); NULL for local */
};

extern const struct transport_ops transport_local_ops;

#endif
