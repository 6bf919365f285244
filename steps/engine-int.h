/*
 * engine-int.h: what the engine's files share; only they include it.
 *   engine.c         opening and closing, what the engine hands out
 *   engine-values.c  inputs and secrets: values, defaults, ${name} expansion
 *   engine-gate.c    gating and staleness: blockers, statuses
 *   engine-build.c   a step's commands made runnable (run_cmd)
 *   engine-run.c     running checks and actions, captures, the pre-flight
 *   engine-auto.c    run the rest: which step runs next by itself, or why it stops
 *   engine-summary.c what the chain built and where to reach it (the finish screen)
 *   engine-time.c    estimates: how long a step will take, the time left for the chain
 *   engine-profile.c the profile shared by several processes: the lock around every change
 *                    of the state, noticing others' changes, the interactive session's claim
 */
#ifndef DW_ENGINE_INT_H
#define DW_ENGINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "engine.h"
#include "util.h"

#define CHECK_TIMEOUT_S   60
#define ACTION_TIMEOUT_S  3600
#define LOG_RING_BYTES    (1024 * 1024)
#define EXPAND_DEPTH      8

struct step_rt {
	struct engine *e;
	size_t index;
	struct run *run;
	enum run_kind kind;          /* what the caller asked for */
	bool in_check;               /* the current pass is the check */
	bool in_replace;             /* the current pass is the replace: commands */
	struct run_cmd *cmds;
	size_t ncmds;
	size_t skip;                 /* action commands left out before cmds[0]: they ran before
	                                the supervised one this run re-attaches to */
	struct capture *caps;        /* the step's captures and hints for this release (shallow */
	size_t ncaps;                /* copies of the chain's, made when a run starts) */
	struct hint *hints;
	size_t nhints;
	struct logbuf *log;
	struct engine_cbs cbs;
	char **secrets;              /* copies of the held secrets, for redaction */
	size_t nsecrets;
	time_t started;
	uint64_t t0;
	bool failed_action;
	bool waiting;                /* the pre-flight runs; the pass starts after it */
	char *log_path;              /* the log file of the current pass */
	char *unsaved;               /* why a change made during the run could not be saved */
};

struct engine {
	struct chain *chain;
	struct state *state;
	char *profile;
	char *dir;                   /* the profile's state directory */
	struct loop *loop;
	char **secrets;              /* per input, NULL if not held */
	enum value_source *secret_src;
	struct step_rt *rt;          /* per step */
	bool target_local;
	struct transport *local;
	struct http *http;           /* libcurl multi for probes, in the loop */
	char *notice;
	struct remote *remote;       /* --target [user@]host[:port]: the server over SSH */
	/* engine-server.c: the server in use, as given (--target, or the profile's), and how
	 * to reach it again when the server screen changes it. */
	char *srv_target, *srv_identity, *srv_known_hosts, *ssh_config;
	bool accept_new;
	char *server_ip;             /* the target's address when it is an IP: server_ip's
	                                default; NULL otherwise */
	struct verify *verify;       /* verdicts of `verify: contract_code` inputs */
	struct demo *demo;            /* --demo: the simulated host, or NULL */
	struct remote_pf *pf;        /* the pre-flight every waiting server step waits for */
	bool pf_ok;                  /* how it ended, */
	char *pf_report;             /* its report, */
	uint64_t pf_timer;           /* and the timer that hands it to the waiting steps */
	/* engine-profile.c */
	int lock_fd;                 /* state.lock, flock'ed during an update */
	bool locked;
	unsigned updating;           /* depth of update_begin calls */
	char *update_error;          /* why the update going on cannot be written */
	struct stat seen;            /* state.json as last read or written */
	int session_fd;              /* session.lock, held by an interactive wizard; or -1 */
	char *readonly;              /* why every write is refused, or NULL */
	int watch_fd;                /* inotify on the profile directory, or -1 */
	void (*on_change)(void *data);
	void *change_data;
	struct strvec offered;       /* every secret value given in the environment, taken or
	                                not (refused: another wallet's key), for engine_redact */
};

/* How expand() fills in a value. */
enum {
	EXPAND_MASK = 1,        /* secrets as **** */
	EXPAND_REGEX = 2,       /* values as literal text in a regex */
};

/* engine-profile.c: every change of e->state goes between these two (they nest). */
/* engine-server.c */
int server_remote_new(struct engine *e, bool demo, const char *t, const char *identity,
    const char *known_hosts, struct remote **out, char **cause);
void server_in_use(struct engine *e, const char *t, const char *identity,
    const char *known_hosts);
void server_free(struct engine *e);
void update_begin(struct engine *e);
int update_end(struct engine *e, char **cause);
int profile_open(struct engine *e, char **cause);
void profile_close(struct engine *e);

/* engine-values.c */
char *expand(const struct engine *e, const char *s, unsigned how, int depth, bool *missing);
char *value_of(const struct engine *e, size_t i, enum value_source *src, int depth);
int store_input(struct engine *e, int idx, const char *value, enum value_source src,
    const char *from_step, char **cause);
void secret_forms(const char *s, struct strvec *out);
int take_secrets(struct engine *e, const struct engine_opts *o, char **cause);

/* engine-gate.c */
bool step_needs_server(const struct step *s);
void mark_stale(struct engine *e, int from, int input, const char *was, const char *why);
void clear_stale(struct engine *e, int done);
bool running(const struct engine *e, size_t s);

/* engine-history.c */
void note_attempt(struct engine *e, const struct step_rt *rt, struct state_step *ss,
    const struct run_result *res);

/* engine-build.c */
int build_cmd(const struct engine *e, const struct step *st, const struct command *c,
    enum run_kind kind, struct run_cmd *rc, char **cause);

#endif
