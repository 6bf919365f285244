/*
 * state.h: what the wizard remembers about one profile, kept in
 * $XDG_STATE_HOME/dstack-wizard/<profile>/state.json (dir 0700, file 0600) through cJSON.
 * cJSON types never leave steps/state.c. Writes are atomic (temp file, fsync, rename, fsync
 * the directory). Secret input values are never put in a struct state, so never written.
 */
#ifndef DW_STATE_H
#define DW_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define STATE_SCHEMA 1
/* A larger state file is not valid (it is moved aside like a corrupt one). */
#define STATE_MAX_SIZE (16 * 1024 * 1024)

/* Where an input value came from. */
enum value_source {
	SRC_NONE,      /* no value */
	SRC_DEFAULT,   /* the chain's default (never stored, derived at run time) */
	SRC_USER,      /* typed by the operator (set NAME VALUE, or the form) */
	SRC_CAPTURE,   /* captured from an earlier step's output */
	SRC_ENV,       /* a secret from DSTACK_WIZARD_<NAME> (never stored) */
	SRC_FILE,      /* a secret from --secret-file (never stored) */
	SRC_PROMPT,    /* a secret typed at a prompt (never stored) */
};
const char *value_source_name(enum value_source s);   /* "user", "capture", ... */

/* A step's remembered outcome. Runtime states (locked, ready, running) are not stored. */
enum saved_status {
	SAVED_NONE,    /* never ran */
	SAVED_DONE,    /* its check passed */
	SAVED_FAILED,  /* its action or check failed */
	SAVED_STALE,   /* was done, but something it depends on changed since */
	SAVED_CANCELED,/* its last run was canceled (older files say "failed" with exit code 0) */
};
/* "none", "done", "failed", "stale", "canceled" */
const char *saved_status_name(enum saved_status s);

struct state_input {
	char *name;
	char *value;
	enum value_source source;   /* SRC_USER or SRC_CAPTURE */
	char *from_step;            /* for SRC_CAPTURE: the step id; else NULL */
	time_t at;                  /* when it was set */
};

/* The hint shown after a run: the cause in one line, and what to do (may be NULL). */
struct state_hint {
	char *say;
	char *fix;
};

/* One run of a step, kept in its history (the last STATE_MAX_ATTEMPTS, oldest first). */
#define STATE_MAX_ATTEMPTS 20
struct state_attempt {
	char *kind;            /* "check", or "action" (an action and the check after it) */
	time_t started_at;
	long duration_ms;
	char *where;           /* where it ran, in words: "this machine", "ubuntu@host:22" */
	char *outcome;         /* "done", "failed", "canceled", "stale" */
	int exit_code;         /* of the failing command, or 0 */
	char *message;         /* why it failed; may be NULL */
	struct state_hint *hints;
	size_t nhints;
	char *log_path;        /* may be NULL */
};

/*
 * One reason why a stale step is stale: a step it requires re-ran or is no longer done
 * (step), or an input it uses changed (input, with the value stored when the step was done:
 * was, NULL when it had none). A reason goes when what caused it is undone: that step is done
 * again, that input holds that value again; a step with no reason left is done again.
 */
struct state_cause {
	char *step;            /* a step id, or NULL */
	char *input;           /* an input name, or NULL */
	char *was;
	char *why;             /* in words: "vmm-service re-ran", "input base_domain changed" */
};

/* A name and a value. */
struct state_pair {
	char *name;
	char *value;
};

/* A checklist item of a manual step that the operator ticked, and when. */
struct state_tick {
	char *item;            /* the item's text as the step file says it */
	time_t at;
};

struct state_step {
	char *id;
	enum saved_status status;
	time_t done_at;        /* last time its check passed; 0 if never */
	time_t started_at;     /* start of the last run (check or action) */
	time_t finished_at;
	long duration_ms;      /* of the last run */
	int exit_code;         /* of the last failing command, or 0 */
	char *message;         /* why it failed / went stale; may be NULL */
	char *log_path;        /* log file of the last run; may be NULL */
	char *job;             /* an action command supervised on the server, recorded before it
	                          starts and cleared when its run ends: "<index>:<id>", the index
	                          among the action's commands for the release; NULL if none */
	struct state_attempt *attempts;   /* its runs, oldest first (at most STATE_MAX_ATTEMPTS) */
	size_t nattempts;
	/* Why it is stale: empty when it is not, or when an older wizard did not say. */
	struct state_cause *causes;
	size_t ncauses;
	/* The values of its made_from: inputs (chain.h) its action last ran with; empty if none
	 * were recorded. */
	struct state_pair *made;
	size_t nmade;
	struct state_tick *ticks;         /* its checklist items ticked, in the order ticked */
	size_t nticks;
};

struct state {
	int schema;
	char *path;                 /* where it is saved */
	struct state_input *inputs;
	size_t ninputs;
	struct state_step *steps;
	size_t nsteps;
	char *notice;               /* e.g. "state file was corrupt; moved to X" (NULL if none) */
	char *target;               /* the server ("[user@]host[:port]" or "local"), remembered
	                               from --target or the server screen; NULL if never given */
	char *identity;             /* the SSH key file for it, set on the server screen; NULL:
	                               the agent, then ssh's IdentityFiles */
	char *known_hosts;          /* the known_hosts file for it; NULL: ssh's */
};

/*
 * The state directory of a profile: $XDG_STATE_HOME (or ~/.local/state)/dstack-wizard/<profile>,
 * created 0700. A profile name is [A-Za-z0-9._-]+, not starting with '.'.
 */
int state_dir(const char *profile, char **out, char **cause);

/*
 * Load path. A missing file gives an empty state. A file that is not valid state JSON is
 * renamed to "<path>.corrupt-<UTC time>" and an empty state is returned with ->notice set
 * saying so. Returns -1 only when the file cannot be read or moved aside, or when it is from a
 * newer schema (then it is left alone). Temp files left by a killed writer are removed.
 */
int state_load(const char *path, struct state **out, char **cause);
/* Atomically write the state to st->path (0600). */
int state_save(const struct state *st, char **cause);
void state_free(struct state **stp);

struct state *state_new(const char *path);

/*
 * Inputs: get (NULL if unset), set (copies; replaces in place, so the order is that of first
 * setting), unset. Only SRC_USER and SRC_CAPTURE values are held: setting any other source is
 * a caller's bug and is ignored (secrets never reach the file); from_step is kept for
 * SRC_CAPTURE only.
 */
const struct state_input *state_get_input(const struct state *st, const char *name);
void state_set_input(struct state *st, const char *name, const char *value,
    enum value_source source, const char *from_step, time_t at);
void state_unset_input(struct state *st, const char *name);

/*
 * Steps: get (NULL if none), or get-or-create (SAVED_NONE, appended). Creating a step moves
 * the array, so earlier struct state_step pointers are then no longer valid.
 */
struct state_step *state_get_step(const struct state *st, const char *id);
struct state_step *state_step(struct state *st, const char *id);
/* When a checklist item was ticked (0: it is not), and tick (at != 0) or untick it. */
time_t state_ticked(const struct state_step *s, const char *item);
void state_tick(struct state_step *s, const char *item, time_t at);
/* Add a copy of a run to a step's history, dropping the oldest beyond STATE_MAX_ATTEMPTS. */
void state_add_attempt(struct state_step *s, const struct state_attempt *a);
/* Add a copy of a cause of staleness (step or input; was and why may be NULL) unless one for
 * the same step or input is there (the first is kept: it holds the value the step was done
 * with); remove the k-th cause; remove them all. */
void state_add_cause(struct state_step *s, const char *step, const char *input,
    const char *was, const char *why);
void state_remove_cause(struct state_step *s, size_t k);
void state_clear_causes(struct state_step *s);
/* Forget a step's made_from values, and add one (copies). */
void state_clear_made(struct state_step *s);
void state_add_made(struct state_step *s, const char *name, const char *value);

#endif
