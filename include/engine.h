/*
 * engine.h: the chain, the profile's state and the running steps, together. The TUI and the
 * headless CLI both drive the wizard only through this interface.
 *
 * Status of a step (derived, never stored as such):
 *   locked   a required step is not done, or an input it uses is missing or invalid
 *   ready    can run, never ran (or its record was cleared)
 *   checking its check is running     running  its action is running
 *   done     its last check passed    failed   its last action or check failed
 *   canceled its last run was canceled
 *   stale    was done, but a step it requires re-ran or an input it uses changed since (and
 *            that is not undone yet: that step done again, that input back to its value)
 */
#ifndef DW_ENGINE_H
#define DW_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "chain.h"
#include "runner.h"
#include "state.h"
#include "validate.h"

struct engine;
struct loop;
struct logbuf;
struct strvec;

enum step_status {
	ST_LOCKED,
	ST_READY,
	ST_CHECKING,
	ST_RUNNING,
	ST_DONE,
	ST_FAILED,
	ST_STALE,
	ST_CANCELED,
};
const char *step_status_name(enum step_status s);   /* "locked", "ready", ... */

enum run_kind {
	RUN_CHECK,    /* the step's check probes */
	RUN_ACTION,   /* its action, then (if the action succeeded) its check */
	RUN_REPLACE,  /* its replace: commands (what the action deployed is removed), then its
	                 action and its check */
};

struct engine_opts {
	const char *chain_dir;     /* NULL: the installed (or build-tree) assets/chain */
	const char *profile;       /* NULL: "default" */
	const char *state_dir;     /* NULL: from state_dir(profile); tests point it elsewhere */
	const char *target;        /* "local": server steps run on this machine; "[user@]host[:port]":
	                              on that server over SSH (remembered in the state); NULL: the
	                              remembered one, if any */
	const char *identity;      /* --identity FILE: the SSH key; NULL: ssh config, defaults */
	const char *known_hosts;   /* --known-hosts FILE; NULL: ~/.ssh/known_hosts */
	const char *ssh_config;    /* --ssh-config FILE; NULL: ~/.ssh/config */
	bool accept_new_host_key;  /* record an unknown host key without asking */
	bool verbose;
	/* The demo host (--demo, steps/demo.c): server steps run here, in a sandbox. */
	bool demo;
	double demo_speed;         /* DEMO_SPEED for the stand-ins: 1 realistic, 0 no sleeping */
	bool demo_speed_set;       /* demo_speed was given (else the demo's stays as it is) */
	const char *demo_fail;     /* a step id whose best-known failure is injected, "none" to
	                              clear it, or NULL (the demo's stays as it is) */
	/* Secrets, taken before anything else (a later one replaces an earlier one): the
	 * DSTACK_WIZARD_<NAME>=VALUE entries engine_env_take took, then --secret-file
	 * NAME=PATH specs. NULL: none. */
	const struct strvec *env_secrets;
	const struct strvec *secret_files;
};

/* Why a step cannot run: one entry per unmet requirement. */
enum blocker_kind { BLOCK_STEP, BLOCK_INPUT, BLOCK_TARGET };
struct blocker {
	enum blocker_kind kind;
	size_t index;        /* step or input index */
	char *why;           /* "requires contract-deploy (failed)", "kms_contract_address: ..." */
};

/* What is known about an input's current value. */
struct input_value {
	char *value;               /* a copy, NULL if none; a secret's value is never handed out */
	bool present;              /* a value (or a secret) is there */
	enum value_source source;
	char *from_step;           /* a copy, for SRC_CAPTURE */
	time_t at;                 /* when it was set; 0 for defaults */
	struct verdict verdict;    /* validity of the value (why/suggestion allocated) */
};
void input_value_clear(struct input_value *iv);

/* Callbacks for a run started with engine_start(). All optional. */
struct engine_cbs {
	void (*line)(void *data, size_t step, int stream, const char *text, size_t len);
	void (*cmd_start)(void *data, size_t step, enum run_kind kind, size_t index,
	    const struct run_cmd *cmd);
	void (*cmd_end)(void *data, size_t step, enum run_kind kind, size_t index,
	    const struct cmd_result *res);
	/* The run is over; res is valid during the call only. unsaved is NULL when its outcome
	 * is saved in the state, else why it could not be (then it is not done, whatever res
	 * says: the state in memory is what the file holds). */
	void (*done)(void *data, size_t step, enum run_kind kind, const struct run_result *res,
	    const char *unsaved);
	void *data;
};

/* An Ethereum private key and the wallet it signs for. */
#define ENGINE_KEY_INPUT     "private_key"
#define ENGINE_WALLET_INPUT  "wallet_address"

/* Exit-code classes for errors (the CLI maps them to its exit codes). */
enum engine_err { EERR_NONE, EERR_FAILED = 1, EERR_USAGE = 2, EERR_REFUSED = 3, EERR_BAD_FILE = 4 };

/*
 * Take every DSTACK_WIZARD_<NAME> variable out of the environment, but the wizard's own
 * settings (DSTACK_WIZARD_DATADIR, DSTACK_WIZARD_REMOTE_DIR), into out as NAME=VALUE copies,
 * their values wiped where they were: call it before any child starts, so that a secret given
 * there reaches only the commands that name it. engine_env_free wipes out.
 */
void engine_env_take(struct strvec *out);
void engine_env_free(struct strvec *sv);
/* The variable a secret input is read from: "DSTACK_WIZARD_" and its name in upper case. */
char *engine_secret_var(const char *name);

/*
 * Open: -1 with *err EERR_USAGE (bad profile name or target), EERR_BAD_FILE (chain, state)
 * or EERR_REFUSED (a --secret-file that cannot be taken). A DSTACK_WIZARD_<NAME> value that
 * is not valid is not taken, and the notice says why.
 */
int engine_open(const struct engine_opts *o, struct engine **out, enum engine_err *err,
    char **cause);
void engine_close(struct engine **ep);

const struct chain *engine_chain(const struct engine *e);
struct loop *engine_loop(struct engine *e);
/* Call fn(data) when a contract verification ends: a step's status may have changed. */
void engine_on_verdict(struct engine *e, void (*fn)(void *data), void *data);
const char *engine_state_path(const struct engine *e);
const char *engine_profile(const struct engine *e);
/* A one-time message from loading (e.g. a corrupt state file was moved aside); may be NULL. */
const char *engine_notice(const struct engine *e);
/* The dstack release in use (the value of dstack_version; allocated), or NULL when the chain
 * has no such input or it has no value. Commands, captures, hints and defaults with a
 * version: condition apply only when it holds for this release. */
char *engine_version(const struct engine *e);

/* Inputs. */
void engine_input(const struct engine *e, size_t input, struct input_value *out);
/* Set a non-secret input typed by the operator; validates first (-1 with EERR_REFUSED
 * in *err and why in *cause if invalid or if it holds a held secret's value). Marks
 * dependent done steps stale. Saves. */
int engine_set_input(struct engine *e, const char *name, const char *value,
    enum engine_err *err, char **cause);
int engine_unset_input(struct engine *e, const char *name, char **cause);
/* Check a value as engine_set_input does, changing nothing (0, or -1 with *err and *cause). */
int engine_check_input(const struct engine *e, const char *name, const char *value,
    enum engine_err *err, char **cause);
/* The name of a held secret whose value text contains (as given, without its 0x, in any
 * case), or NULL: such a text is refused as a non-secret value (engine_set_input) and hidden
 * where it is typed. */
const char *engine_secret_within(const struct engine *e, const char *text);
/*
 * Hold a secret in memory only (source: SRC_ENV, SRC_FILE or SRC_PROMPT). Validates. When the
 * chain has both ENGINE_KEY_INPUT and ENGINE_WALLET_INPUT, the key is refused if the wallet
 * has another address than the key's, and an unset wallet is set to the key's address (and
 * engine_set_input refuses a wallet that is not the held key's).
 */
int engine_set_secret(struct engine *e, const char *name, const char *value,
    enum value_source source, char **cause);

/*
 * The checklist of a step done by hand (engine-checklist.c): engine_ticked says when item k
 * was ticked (0: it is not); engine_tick ticks it now (on) or unticks it, and saves. Ticks
 * are the operator's word only: the step's check still decides whether it is done.
 */
time_t engine_ticked(const struct engine *e, size_t step, size_t k);
int engine_tick(struct engine *e, size_t step, size_t k, bool on, char **cause);

/* Status and gating. */
enum step_status engine_status(const struct engine *e, size_t step);
const struct state_step *engine_step_state(const struct engine *e, size_t step);
/* Fill *out with the blockers of step (empty when it may run); returns their number. */
size_t engine_blockers(const struct engine *e, size_t step, struct blocker **out);
void blockers_free(struct blocker **bp, size_t n);
/* The inputs step uses that are secrets and not yet held (for prompting). */
size_t engine_missing_secrets(const struct engine *e, size_t step, size_t **out);
/* Is step's k-th input (chain->steps[step].inputs[k]) used at the release in use: listed in
 * its inputs:, or named by one of its commands for this release? */
bool engine_step_uses(const struct engine *e, size_t step, size_t k);

/*
 * What step s deployed was made from other values of its made_from: inputs than they hold
 * now: says so ("deployed for base_domain=old.example, now new.example"; allocated), else
 * NULL (no made_from:, nothing recorded, or the same values).
 */
char *engine_mismatch(const struct engine *e, size_t s);

/*
 * Start a check, an action or a replacement of step in the engine's loop. Refused (-1, *err
 * EERR_REFUSED, *cause listing every blocker, one per line) when the step is locked or
 * already running; an action also when engine_mismatch says what it deployed was made from
 * other values (its action would keep it: RUN_REPLACE removes it first); RUN_REPLACE when
 * the step has no replace: commands.
 */
int engine_start(struct engine *e, size_t step, enum run_kind kind,
    const struct engine_cbs *cbs, enum engine_err *err, char **cause);
void engine_cancel(struct engine *e, size_t step);
/*
 * The wizard is stopped by signal sig: record it on the steps it leaves running (a supervised
 * server action goes on, and the next run of its step re-attaches); then exit without
 * engine_close, which would cancel them.
 */
void engine_interrupt(struct engine *e, int sig);
bool engine_busy(const struct engine *e);
/* The live log of a step's latest run (NULL if it never ran in this process). */
struct logbuf *engine_log(struct engine *e, size_t step);
/* Build the commands a step would run (for display): caller frees with run_cmds_free. */
int engine_commands(const struct engine *e, size_t step, enum run_kind kind,
    struct run_cmd **out, size_t *n, char **cause);
void run_cmds_free(struct run_cmd **cmds, size_t n);

/* Where the assets are: $DSTACK_WIZARD_DATADIR, the source tree when run from the build
 * tree, <bindir>/../share/dstack-wizard when that directory exists (an installed or
 * unpacked tree, wherever it is), else the configured pkgdatadir. */
const char *engine_datadir(void);
/*
 * The server (engine-server.c): the target ("[user@]host[:port]", an ssh config Host alias,
 * "local", or NULL: none), the SSH key file and the known_hosts file (NULL: ssh's own), as
 * given with --target or set on the server screen; remembered in the profile. The strings
 * engine_server gives are the engine's. engine_set_server connects anew (the first command
 * or pre-flight makes the connection) and saves; refused (-1, *cause) while a step runs.
 * engine_server_ip: the target's address when it is an IP (server_ip's default), or NULL.
 */
struct engine_server {
	const char *target;
	const char *identity;
	const char *known_hosts;
};
void engine_server(const struct engine *e, struct engine_server *out);
int engine_set_server(struct engine *e, const struct engine_server *s, char **cause);
const char *engine_server_ip(const struct engine *e);
#define ENGINE_SERVER_IP_INPUT "server_ip"

/* The SSH side of the server (remote.h), or NULL (no target, or --target local). */
struct remote *engine_remote(struct engine *e);
/* Run the loop (at most timeout_ms) until every input verification (verify: contract_code)
 * has a verdict, so that engine_blockers can answer for good. */
void engine_wait_verified(struct engine *e, unsigned timeout_ms);

/*
 * The profile shared with other processes (engine-profile.c). Every change of the state is
 * made under the profile's lock, to the state as the file holds it then, so that no change
 * of another process is lost.
 *
 * engine_on_change: call fn(data) whenever another process changed the state (it is read
 * again first); the engine watches the profile directory in its loop. NULL stops it.
 * engine_claim: claim the profile for an interactive session, for as long as the engine is
 * open: 0; 1 when another process holds it (*holder says who: "pid 1234, since 2026-12-06
 * 10:02:03"); -1 with *cause on error.
 * engine_set_readonly: refuse every write from now on (runs, inputs), saying why.
 */
void engine_on_change(struct engine *e, void (*fn)(void *data), void *data);
int engine_claim(struct engine *e, char **holder, char **cause);
void engine_set_readonly(struct engine *e, const char *why);
const char *engine_readonly(const struct engine *e);

/* Is this the demo host (--demo)? */
bool engine_is_demo(const struct engine *e);
/* The demo host (demo.h), or NULL. */
struct demo *engine_demo(const struct engine *e);
/*
 * The demo's settings while it runs (engine-demo.c): its speed (0 no waiting, 1 realistic),
 * and the step whose best-known failure is injected (NULL: none). A change applies to the
 * commands started from then on and is kept in the sandbox, as --demo-speed and --demo-fail
 * are. -1 with *cause when this is not the demo, or the value is not one.
 */
double engine_demo_speed(const struct engine *e);
const char *engine_demo_fail(const struct engine *e);
int engine_demo_set_speed(struct engine *e, double speed, char **cause);
int engine_demo_set_fail(struct engine *e, const char *id, char **cause);

/*
 * For the documents made from a profile (report, bundle, tutorial; engine-history.c).
 * engine_dir: the profile's state directory (its state.json, logs/).
 * engine_server_words: the server, in words ("ubuntu@host:22", "the demo host (simulated)").
 * engine_where: where step s runs, in words, from the places of its commands for the release
 * in use ("this machine", "ubuntu@host:22 and this machine", "by hand; checked on ..."). Each
 * run of a step is kept in its state's history (struct state_attempt) with this.
 * engine_redact: s[0..len) with every held secret as "****", in each form output may show it
 * (as given, without its 0x, in lower and upper case); allocated, its length in *outlen.
 */
const char *engine_dir(const struct engine *e);
char *engine_server_words(const struct engine *e);
char *engine_where(const struct engine *e, size_t s);
char *engine_redact(const struct engine *e, const char *s, size_t len, size_t *outlen);
/*
 * Time (engine-time.c). engine_estimate: how long step's action (and the check after it) is
 * expected to take, in seconds: the mean of this profile's successful runs of it, else the
 * step file's takes: figure, else 0 with EST_NONE. engine_elapsed_ms: how long its run has
 * been going, -1 when it is not running. engine_time_left: the estimated seconds left for
 * the chain (the steps not done, less what a running one has taken); *unknown counts the
 * steps not done that have no estimate. engine_duration_words: "45 s", "12 min", "1 h 20
 * min" (allocated).
 */
enum estimate_source { EST_NONE, EST_HISTORY, EST_STEP_FILE };
const char *estimate_source_name(enum estimate_source s);  /* "none", "history", "step-file" */
long engine_estimate(const struct engine *e, size_t step, enum estimate_source *src);
long engine_elapsed_ms(const struct engine *e, size_t step);
long engine_time_left(const struct engine *e, size_t *unknown);
char *engine_duration_words(long secs);

/*
 * Run the rest (engine-auto.c): what the wizard does next when it goes on by itself. The
 * first step not done, in walking order, is *step: AUTO_GO runs its action; any other answer
 * stops there, and *why (allocated) says why: AUTO_ALL_DONE (*step is nsteps), AUTO_BUSY
 * (it runs now), AUTO_MANUAL (done by hand), AUTO_INPUT (an input or a secret is missing or
 * invalid), AUTO_LOCKED (a required step is not done, or no server), AUTO_CONFIRM (it
 * reboots the server or spends gas: it needs the operator's yes). A run that fails stops
 * the caller.
 */
enum auto_next { AUTO_GO, AUTO_ALL_DONE, AUTO_BUSY, AUTO_MANUAL, AUTO_INPUT, AUTO_LOCKED,
	AUTO_CONFIRM };
enum auto_next engine_next_auto(const struct engine *e, size_t *step, char **why);

/*
 * The finish (engine-summary.c): what the chain built and where to reach it, made from the
 * profile's inputs and captured values, never a secret. engine_summary fills *out with the
 * items the chain has (a chain without a step an item comes from leaves it out); value is
 * NULL while an input it needs has no value. engine_next_steps: what to do next, a sentence
 * each, into sv.
 */
struct summary_item {
	const char *key;     /* for JSON: "kms_rpc_url", "kms_contract", "attestation", ... */
	const char *label;   /* "KMS RPC", "DstackKms contract", ... */
	size_t step;         /* the step that builds it */
	bool done;           /* that step is done */
	char *value;         /* the URL, address or verdict; NULL: not known yet */
	char *link;          /* an address's Sepolia explorer page (not on the demo); or NULL */
	const char *note;    /* e.g. "on the server only (loopback)"; or NULL */
};
size_t engine_summary(const struct engine *e, struct summary_item **out);
void summary_items_free(struct summary_item **itp, size_t n);
void engine_next_steps(const struct engine *e, struct strvec *sv);

/*
 * Answers files (engine-answers.c, answers.h). engine_apply_answers: check every input the
 * file gives as engine_set_input does, each problem as "file:line:column: ..." (all of them,
 * -1 with EERR_REFUSED), and set them only when every one is taken. engine_export_answers:
 * write path (0600) with the remembered target and every input the operator set, never a
 * secret (each secret input is named in a comment with where it is given instead).
 */
struct answers;
int engine_apply_answers(struct engine *e, const struct answers *a, enum engine_err *err,
    char **cause);
int engine_export_answers(const struct engine *e, const char *path, char **cause);

/* Keep a pre-flight's result (preflight.txt in the profile directory), for the bundle. */
void engine_note_preflight(struct engine *e, bool ok, const char *report);

#endif
