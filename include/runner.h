/*
 * runner.h: runs a list of prepared commands (one step's check probes, or its action) one
 * after the other through their transports, in the loop. Output is cut into lines as it
 * arrives; every secret value is replaced by "****" before anything else sees a line; then
 * each line goes to the bounded ring (logbuf), the run's log file, the capture regexes, the
 * hint matcher and the caller's line callback.
 */
#ifndef DW_RUNNER_H
#define DW_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "transport.h"

struct loop;
struct logbuf;
struct run;

#define RUNNER_MAX_LINE 65536   /* a longer line is cut into pieces of this size */

struct run_cmd {
	struct transport *transport;
	struct transport_cmd tc;
	char *display;          /* what the operator is shown ("$ git --version"); no secrets */
	char *label;            /* optional name of the probe; may be NULL */
	struct rx *expect;      /* checks: stdout must match (RX_LINES); may be NULL */
	char *expect_text;      /* shown in the failure reason */
	unsigned timeout_ms;    /* 0: none */
	char *unready;          /* why it cannot run yet (an input it uses has no value): it
	                           fails with this reason, without starting; NULL: it runs */
};

/* The outcome of one command. */
struct cmd_result {
	bool ok;                /* exited 0, and stdout matched expect if any */
	enum tjob_end how;
	int code;               /* exit code or signal */
	bool timed_out;
	bool canceled;
	bool skipped;           /* not run: an earlier command failed and stop_on_failure */
	char *reason;           /* when !ok: "exit status 1", "output did not match /re/",
	                           "timed out after 30 s", "canceled", "killed by signal 9" */
	char *output;           /* stdout of the command (redacted, at most 64 KiB; checks use it) */
	uint64_t duration_ms;
};

struct hint_hit {
	const struct hint *hint;
	char *line;             /* the (redacted) line that matched */
};

struct capture_hit {
	const struct capture *capture;
	char *value;            /* group 1 of the last line that matched */
};

struct run_result {
	bool ok;                /* every command ok, and the log file written */
	bool canceled;
	char *error;            /* why the run failed apart from its commands (its log file
	                           could not be written), or NULL */
	struct cmd_result *cmds;
	size_t ncmds;
	struct hint_hit *hints;          /* each hint at most once, in order of first match */
	size_t nhints;
	struct capture_hit *captures;    /* each capture at most once (its last value) */
	size_t ncaptures;
	uint64_t duration_ms;
	uint64_t lines;                  /* lines of output seen */
};

struct run_opts {
	const char *log_path;            /* created 0600 (directory must exist); NULL: no file */
	const char *title;               /* first line of the log file, e.g. "check of local-dev-setup" */
	const char *const *secrets;      /* values to redact; NULL entries and "" ignored */
	size_t nsecrets;
	const struct capture *captures;
	size_t ncaptures;
	const struct hint *hints;
	size_t nhints;
	struct logbuf *ring;             /* may be NULL */
	bool stop_on_failure;            /* actions: true; checks: false (every probe runs) */
	uint64_t log_max;                /* the log file's size; past it, its head and tail are
	                                    kept (0: 64 MiB) */
	unsigned cancel_grace_ms;        /* SIGTERM -> SIGKILL delay; 0 means 2000 */
};

struct run_cbs {
	void (*line)(void *data, int stream, const char *text, size_t len);   /* redacted */
	void (*cmd_start)(void *data, size_t index, const struct run_cmd *cmd);
	void (*cmd_end)(void *data, size_t index, const struct cmd_result *res);
	/* Called once when the run is over; res stays valid until run_free(). */
	void (*done)(void *data, const struct run_result *res);
	void *data;
};

/*
 * Start running cmds[0..n) in l. The arrays in cmds and opts must stay valid until done.
 * Returns NULL and sets *cause if the log file cannot be created.
 */
struct run *run_start(struct loop *l, const struct run_cmd *cmds, size_t n,
    const struct run_opts *opts, const struct run_cbs *cbs, char **cause);
/* Cancel: the running command gets SIGTERM, then SIGKILL; later ones are skipped. */
void run_cancel(struct run *r);
bool run_finished(const struct run *r);
/* Capture i's value so far (group 1 of the last matching line), or NULL; valid until the
 * next line is read or the run ends. */
const char *run_capture(const struct run *r, size_t i);
const struct run_result *run_result(const struct run *r);   /* NULL until finished */
void run_free(struct run **rp);

/*
 * Free everything a run_cmd owns: display, label, expect (rx_free), expect_text, unready, and
 * the strings of tc (script, cwd, id, every env entry and the env array, stdin_data); env entries
 * and stdin_data are wiped first, as they may hold secrets. Every one of these is allocated.
 */
void run_cmd_clear(struct run_cmd *c);

#endif
